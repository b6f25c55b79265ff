// Package hostbench is `host bench`: the host-level benchmark suite, in
// non-test code so that the CLI runs it on any machine without the Go
// toolchain, and a user can point it at their own strategy.
//
// Each figure is measured on the machine it runs on, after a warm-up, in
// several repetitions, and reported as the median and the spread (min–max)
// of the repetitions, next to its target from BENCHMARKS.md "Targets"
// (met / not met; never asserted). No figure is computed from another one, none is
// hard-coded:
//
//   - dispatch: one Deliver of a batch of 1 or 64 market events into a
//     plugin in this process with the default call budget, per event, for
//     the no-op WAT plugin (the boundary alone), the quoter strategy built
//     to wasm, the quoter built natively (strategy.NewRunner), and a user's
//     plugin; the quoter in a child process, and beside it the floor of
//     that transport (a bare child, sandbox.StartFloor: floor.go);
//   - e2e: a ticker notification's bytes handed to the engine → the order
//     request's params handed to the exchange, with the quoter native and
//     in wasm (in this process and in a child process), and the floor of
//     the child process's figure (one event to a bare child asleep and
//     back);
//   - heartbeat: test_request written to the host → public/test received
//     from it, timed on the wire by a relay in a helper process (which also
//     runs the simulator), while the simulator floods notifications, and
//     while a plugin spins forever (process and in-process isolation);
//   - tick: a ticker sent by the simulator → the order request it causes
//     read by the simulator, over loopback, through the pool, the engine
//     and the plugin (both timestamps taken in the simulator's process);
//   - replay: frames per second of `host replay` (package replay) over a
//     synthetic recording;
//   - memory: Go heap per connection, resident memory per plugin instance,
//     and the host's resident memory with 3 connections and 2 plugins.
//
// The simulator of the heartbeat, tick and memory figures runs in a helper
// process (Options.Helper: the host binary again, `host bench --helper`),
// so that its work and its memory are not counted as the host's and the
// exchange's clock is not stopped when the host's process is.
//
// The embedded plugins (wasm/): noop.wasm and spin.wasm are hand-written
// WAT; quoter.wasm.gz is plugins/bench/quoter built with Go (go generate
// rebuilds it; a test checks that it is current for the Go version it was
// built with).
package hostbench
