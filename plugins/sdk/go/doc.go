// Package strategy is the Go SDK for stratbox strategy plugins: a strategy
// is ordinary Go (methods such as OnBook, OnTrade, OnOrder and calls such
// as Place, Amend and Cancel), built to a WebAssembly plugin with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mm.wasm .
//
// The package owns the plugin's side of the ABI (abi/README.md): the
// version marker export stratbox_abi_v1_0, stratbox_buffers and its
// descriptor, stratbox_init, stratbox_on_events, stratbox_on_stop, the
// static inbox (256 KiB) and outbox (64 KiB), and the host functions
// log, now, set_timer and cancel_timer. A plugin is a main package that
// registers its strategy from an init function:
//
//	package main
//
//	type Quoter struct{ strategy.Base }
//
//	func (q *Quoter) OnTicker(ctx *strategy.Context, t *abi.Ticker) { ... ctx.Place(...) ... }
//
//	func init() { strategy.Register(&Quoter{}) }
//	func main() {}
//
// (The import path ends in "go", a keyword, so the package needs a name of
// its own; "strategy" is what a plugin's code reads as: strategy.Register,
// strategy.Context, strategy.Order.)
//
// # Calls
//
// The host calls the plugin from one goroutine at a time, never
// concurrently; each call runs Strategy methods for a batch of events in
// the order the host delivers them and returns the intents they queued.
// Methods must not block, and goroutines started by a strategy make no
// progress between calls: there is no background work in a plugin, only
// timers (Context.SetTimer). Time comes from the host (Context.Now and the
// events' timestamps), so that a replay is deterministic. A panic traps the
// plugin: the host treats it as a fault and applies its policy to the
// instance's orders (by default it cancels them).
//
// # Allocation
//
// After Init the SDK allocates nothing per event: records are decoded into
// values it reuses (so a strategy must copy what it keeps, never keep the
// pointer), and intents are written straight into the outbox. Init, Params
// and Context.Logf allocate. OrderBook allocates only when a book grows
// beyond its largest size so far.
//
// # Speed
//
// Compiled to wasm, a Go function call and a struct copy cost more than
// they do natively (the Go wasm port keeps its stack in linear memory, and
// wazero runs a memory.copy or memory.fill as calls to memmove), so the
// SDK's per-event path makes few calls and copies no struct. The remaining
// calls (decoding a record, the strategy's methods) are what profile-guided
// optimisation inlines: a CPU profile of the strategy run natively (through
// strategytest, or the host's benchmarks), saved as default.pgo in the
// plugin's main package, is used by go build as it is and made the
// benchmark quoter about 25 % faster per event in wasm (BENCHMARKS.md,
// issue 18).
//
// # Errors
//
// A strategy's Init error refuses to start (plugin error -3, "bad
// configuration", with the error in the host's log). An inbox that cannot
// be read ends the call with plugin error -2. A full outbox drops the
// intents that do not fit, keeping room for one CancelAll, and logs a
// warning (see Context). Host function statuses are ErrLimit, ErrNotFound,
// ErrBadArgument and ErrOutOfBounds.
//
// # Testing
//
// The ABI glue (the //go:wasmexport and //go:wasmimport functions) builds
// only for wasip1; everything else is portable, so a strategy is tested
// natively with go test through package strategytest, which drives it with
// the same Runner the exports use and a fake host.
package strategy
