package host

import (
	"os"
	"testing"

	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/internal/testplugins"
)

// testCacheDir is a compilation cache directory that the tests' child
// processes share, so that only the first start of a module compiles it.
var testCacheDir string

// TestMain serves a plugin instance when the test binary is started as a
// child process (sandbox.ChildArg); otherwise it runs the tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sandbox.ChildArg {
		os.Exit(sandbox.ServeChild(os.Stdin, os.Stdout))
	}
	os.Exit(testplugins.RunWithCache(m, &testCacheDir))
}
