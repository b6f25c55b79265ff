package sandbox

import (
	"os"
	"testing"

	"github.com/stratbox/stratbox/internal/testplugins"
)

// testCacheDir is a compilation cache directory that the tests' child
// processes share, so that only the first start of a module compiles it.
var testCacheDir string

// TestMain serves a plugin instance when the test binary is started as a
// child process (ChildArg), or plays a broken child for the tests of the
// parent's side (testChild*); otherwise it runs the tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case ChildArg:
			os.Exit(ServeChild(os.Stdin, os.Stdout))
		case testChildGarbage, testChildSilent, testChildBadIntents, testChildCorrupt:
			os.Exit(serveBrokenChild(os.Args[1]))
		case testChildConfined:
			os.Exit(serveConfinedProbe())
		}
	}
	os.Exit(testplugins.RunWithCache(m, &testCacheDir))
}
