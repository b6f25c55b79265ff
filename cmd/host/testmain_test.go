package main

import (
	"os"
	"testing"

	"github.com/stratbox/stratbox/host/sandbox"
)

// TestMain serves plugin child processes (sandbox.IsolateProcess starts the
// running binary, here the test binary, with sandbox.ChildArg) and the busy
// process of TestExamplesRunFaultFreeUnderLoad (testBusyArg).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sandbox.ChildArg {
		os.Exit(sandbox.ServeChild(os.Stdin, os.Stdout))
	}
	if len(os.Args) > 1 && os.Args[1] == testBusyArg {
		os.Exit(serveBusy())
	}
	childUserDefault = -1 // the test binary's directory is root's alone (see childUserDefault)
	os.Exit(m.Run())
}
