package main

import (
	"os"
	"testing"

	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/internal/testplugins"
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
	os.Exit(testplugins.RunWithCache(m, &testCacheDir))
}

// testCacheDir is the compilation cache every test of the package shares
// (and their plugins' child processes): each example module compiles once,
// not once a test — under -race, compiling the Go examples is most of the
// package's time.
var testCacheDir string
