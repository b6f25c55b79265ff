// Package host is the engine that runs strategy plugins next to an exchange
// connection: the plugin lifecycle (start, restart after a fault, the
// circuit breaker), the router and the plugins' inboxes (package
// host/inbox), the validation of intents and the risk limits, the order
// manager, and the lock step of a replay. The plugins themselves run in
// package host/sandbox, whose Load, Plugin, Sandbox and Fault the engine's
// configuration names (PluginSpec).
//
// Every order's label names its host and run (Config.HostID, RunID): the
// engine trades, verifies and reconciles only its own orders on an account
// other hosts share.
//
// # Faults
//
// A *sandbox.Fault of a plugin's instance, or a flood of intents (far over
// the rate limit), ends the instance. The engine cancels the plugin's orders
// (unless configured to keep them) and starts a fresh instance from the
// compiled module, up to Config.MaxRestarts (the circuit breaker).
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
// Engine's exported methods are safe from any goroutine; each plugin's
// Sandbox is called from that plugin's goroutine only.
package host
