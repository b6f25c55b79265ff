package main

import (
	"os"
	"testing"

	"github.com/stratbox/stratbox/host"
)

// TestMain serves plugin child processes (host.IsolateProcess starts the
// running binary, here the test binary, with host.ChildArg).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == host.ChildArg {
		os.Exit(host.ServeChild(os.Stdin, os.Stdout))
	}
	childUserDefault = -1 // the test binary's directory is root's alone (see childUserDefault)
	os.Exit(m.Run())
}
