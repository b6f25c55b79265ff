// Package sandbox is the plugin runtime: it loads a strategy's .wasm module,
// runs its instances, and turns whatever they do wrong into a *Fault. The
// engine (package host) uses it through a handful of names: Load, Plugin,
// Sandbox, NewInProcess, NewProcess and Fault.
//
// # Plugins
//
// Load compiles a .wasm module (with a Cache shared between loads, on disk
// if given a directory), checks its ABI version marker, exports and imports
// against package abi before any plugin code runs, and returns a Plugin. A
// Sandbox runs one instance of it: NewInProcess in this process (an Instance
// called directly: the fastest, for trusted plugins and backtests) or
// NewProcess in a child process (the host binary started with ChildArg,
// which its main hands to ServeChild), so that a plugin that spins cannot
// stall the garbage collector of the process that answers the exchange's
// heartbeats. Either way the plugin has no files, sockets, environment or
// arguments, reads the host's clock, draws from a deterministic random
// source, and its stdout and stderr become rate-limited log lines. On Linux
// a child also inherits only its pipes and its shared-memory region (package
// shm: the rings of its requests and replies), sets its ProcessLimits, and runs
// plugin code under no_new_privs and a seccomp allow-list, as
// ProcessConfig.Credential's user if given (RATIONALE.md, "What does the
// plugin sandbox protect against, and what not?").
//
// The files follow the jobs: plugin.go (load and cache), instance.go (one
// instance and its calls), abort.go and sandbox.go (faults, the host
// imports), runtime.go (the in-process Sandbox), process.go (the parent's
// side of a child), transport.go (its rings and pipes), watch.go (the CPU-time
// budget of its calls), wire.go (the frames and records between them),
// childserver.go (the child's side), stderr.go (the child's stderr), floor.go
// (StartFloor: a bare child with no plugin, whose round trip is the floor of
// the transport that host bench measures beside the child's figures), and the
// platform files child_*.go, cpuclock_*.go and harden_*.go.
//
// # Faults
//
// A trap (out-of-memory included), an overrun of the per-call budget (CPU
// time, in process (budget.go) and in a child process, with a wall-clock
// backstop), a
// negative result, a result outside the outbox, an outbox that cannot be
// framed, a proc_exit and a child process that dies are a *Fault (Kind says
// which); the instance is dead after it, and the Plugin starts a fresh one
// from the compiled module on the next Start. See RATIONALE.md, "Why are
// plugin calls interruptible, and why do plugins run in a child process?".
//
// # Concurrency
//
// A Plugin may start instances from any goroutine, one live instance at a
// time. An Instance and a Sandbox must be called from one goroutine at a
// time; their Stats, Fault and Dead methods are safe from any goroutine. A
// Cache is safe for concurrent use.
package sandbox
