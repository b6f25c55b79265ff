package host

import (
	"fmt"
	"os"
	"testing"

	"github.com/stratbox/stratbox/host/sandbox"
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
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "stratbox-host-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testCacheDir = dir
	return m.Run()
}
