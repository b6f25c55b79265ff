// Package heartbeat owns the exchange heartbeat protocol and the liveness of
// one connection: the public/set_heartbeat parameters, the public/test frame
// that answers a test_request, silent-peer detection, and the measurements
// (answer latency, round trip, answered and missed counts) that become
// metrics.
//
// The package imports only the standard library and knows no other stratbox
// package. It does no I/O, starts no goroutine and reads no clock: the
// connection (package conn) owns the read and write goroutines and the
// injected clock, and calls a Monitor with the times it observes. That keeps
// every decision here a pure function of its inputs, testable without a
// socket or a timer.
//
// # Who calls what
//
// The read goroutine recognises a test_request, takes a fresh JSON-RPC id,
// calls Monitor.TestRequest and queues the answer on the priority write lane
// before it does anything else with the frame; the write goroutine builds the
// frame with AppendAnswer (no allocation), calls AnswerSending, writes it, and
// calls AnswerWritten. A watchdog calls Check with the injected clock and
// tears the socket down when it reports the peer dead.
//
// # Concurrency
//
// All Monitor methods are safe for concurrent use and never block: they are
// atomic operations on the Monitor's own memory. Nothing a strategy, the
// router or any other component can hold is ever taken on the heartbeat path.
//
// # Errors
//
// Only Config.Validate returns errors; they wrap ErrConfig. A dead peer is a
// result of Check, not an error: the connection turns it into its own
// stale-connection error.
package heartbeat
