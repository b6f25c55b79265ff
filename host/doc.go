// Package host is the engine that runs strategy plugins: the wazero runtime
// and the plugin lifecycle (this slice), and, as the work goes on, the router
// and inboxes, risk limits and the order manager.
//
// # Plugins
//
// Load compiles a .wasm module, checks its ABI version marker, exports and
// imports against package abi before any plugin code runs, and returns a
// Plugin. Plugin.Start instantiates it in a sandbox (no files, sockets,
// environment or arguments; the host's clock; a deterministic random source;
// stdout and stderr as rate-limited log lines), reads its buffer descriptor and
// calls stratbox_init with the start-up blob. Instance.Deliver writes a batch of
// event records into the plugin's inbox, makes one call, and returns the intent
// records the plugin wrote into its outbox.
//
// # Faults
//
// A trap (out-of-memory included), an overrun of the per-call time budget, a
// negative result, a result outside the outbox, an outbox that cannot be
// framed or a proc_exit is a *Fault; the instance is dead after it and every
// later call returns ErrDead. Plugin.Start makes a fresh instance from the
// compiled module. See RATIONALE.md, "Why are plugin calls interruptible, and why
// will plugins move to a child process?".
//
// # Concurrency
//
// A Plugin may start instances from any goroutine, one live instance at a
// time. An Instance must be called from one goroutine at a time (wazero's
// rule); its Stats and Dead methods are safe from any goroutine.
package host
