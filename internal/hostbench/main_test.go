package hostbench

import (
	"os"
	"testing"

	"github.com/stratbox/stratbox/host/sandbox"
)

// TestMain serves plugin child processes and bare children (the floor):
// sandbox.NewProcess and sandbox.StartFloor start the running binary, here
// the test binary, with sandbox.ChildArg.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sandbox.ChildArg {
		os.Exit(sandbox.ServeChild(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}
