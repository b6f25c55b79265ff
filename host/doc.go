// Package host is the engine that runs strategy plugins next to an exchange
// connection: the wazero runtime and the plugin lifecycle, plugins in child
// processes, the router and its conflating inboxes, the validation of
// intents and the risk limits, and the order manager.
//
// # Plugins
//
// Load compiles a .wasm module, checks its ABI version marker, exports and
// imports against package abi before any plugin code runs, and returns a
// Plugin. A Sandbox runs one instance of it: NewInProcess in this process
// (an Instance called directly: the fastest, for trusted plugins and
// backtests) or NewProcess in a child process (the host binary started with
// ChildArg, which its main hands to ServeChild), so that a plugin that spins
// cannot stall the garbage collector of the process that answers the
// exchange's heartbeats. Either way the plugin has no files, sockets,
// environment or arguments, reads the host's clock, draws from a
// deterministic random source, and its stdout and stderr become rate-limited
// log lines. On Linux a child also inherits only its pipes, sets its
// ProcessLimits, and runs plugin code under no_new_privs and a seccomp
// allow-list, as ProcessConfig.Credential's user if given (RATIONALE.md,
// "What does the plugin sandbox protect against, and what not?").
//
// Every order's label names its host and run (Config.HostID, RunID): the
// engine trades, verifies and reconciles only its own orders on an account
// other hosts share.
//
// # Faults
//
// A trap (out-of-memory included), an overrun of the per-call time budget, a
// negative result, a result outside the outbox, an outbox that cannot be
// framed, a proc_exit, a child process that dies and a flood of intents are
// a *Fault; the instance is dead after it. The engine cancels the plugin's
// orders (unless configured to keep them) and starts a fresh instance from
// the compiled module, up to a limit (the circuit breaker). See RATIONALE.md,
// "Why are plugin calls interruptible, and why do plugins run in a child
// process?".
//
// # The engine
//
// Engine is the exchange connection's Sink (conn.WithSink): on the read
// goroutine, after the heartbeat has been answered, it translates each
// notification into abi records (venue/deribit) and routes them without
// blocking: market data to the inboxes of the plugins subscribed to the
// channel (an inbox conflates market data per instrument and channel and
// never drops an order event), order and fill events through the order
// manager to the plugin that owns the order. Each plugin has a goroutine that
// takes batches from its inbox, makes one call per batch and carries out the
// intents in outbox order: validation (abi/README.md "Validation of
// intents"), risk limits (RiskLimits, the kill switch), then the order
// manager, which labels each order with its plugin instance and cid, keeps
// its state machine and sends the exchange requests. See RATIONALE.md "Why
// does the engine turn intents into orders the way it does?".
//
// # Concurrency
//
// A Plugin may start instances from any goroutine, one live instance at a
// time. An Instance and a Sandbox must be called from one goroutine at a
// time; their Stats, Fault and Dead methods are safe from any goroutine.
// Engine's exported methods are safe from any goroutine.
package host
