// Command hbisolation is the measurement behind RATIONALE.md, "Why are
// plugin calls interruptible, and why will plugins move to a child process?": heartbeat answer latency while a wasm
// plugin spins forever under GC load, for each design considered (in-process
// with and without wazero's CloseOnContextDone, a locked OS thread, a child
// process, instruction fuel), and the dispatch cost of each. It is a
// throwaway harness kept so that the figures can be reproduced; see README.md.
package main

import (
	_ "embed"
	"fmt"
	"os"
)

//go:embed plugin.wasm
var pluginWasm []byte

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: spike run|host|child|bench|closetest|spincal ...")
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "run": // orchestrator + exchange-side pinger; starts `spike host` as a child
		runPinger(args)
	case "host":
		runHost(args)
	case "child":
		runChild(args)
	case "bench":
		runBench(args)
	case "closetest":
		runCloseTest(args)
	default:
		fmt.Fprintln(os.Stderr, "unknown command", cmd)
		os.Exit(2)
	}
}
