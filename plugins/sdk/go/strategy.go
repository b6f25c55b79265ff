package strategy

import "github.com/stratbox/stratbox/abi"

// Strategy is a trading strategy: the host calls Init once, then one method
// per event, in the order the host delivers them, then OnStop at an orderly
// stop. Embed Base to implement only the methods a strategy needs.
//
// Every method runs inside one call from the host and must return promptly:
// no blocking, no waiting on goroutines (they make no progress between
// calls). The event values (*abi.Book, *abi.Ticker, ...) are reused for the
// next event: copy what you keep, never keep the pointer. Intents are queued
// through ctx and reach the host when the call returns.
type Strategy interface {
	// Init receives the instance's parameters (the params table of its
	// section in the host's configuration) and the instrument table, whose
	// indexes the events and intents use. An error refuses to start: the SDK
	// logs it and returns the plugin error "bad configuration" (-3). After
	// Init, the start-up blob's starting positions arrive through OnPosition
	// and the orders an earlier instance left open, which this one adopts
	// (a hot swap; Context.Adopted lists them already in Init), through
	// OnOrder, in the same call.
	Init(ctx *Context, params *Params, instruments []abi.Instrument) error

	// OnBook receives a book message: a snapshot (snapshot true: replace
	// the book of b.Instrument) or a change (update it). OrderBook applies
	// both and checks change ids.
	OnBook(ctx *Context, b *abi.Book, snapshot bool)
	// OnTicker receives the top of the book and reference prices.
	OnTicker(ctx *Context, t *abi.Ticker)
	// OnTrade receives one public trade.
	OnTrade(ctx *Context, t *abi.Trade)
	// OnOrder receives a change of one of the instance's orders: pending,
	// open (also after an amend), filled, cancelled or rejected, with
	// o.Reason saying why (a refused Place arrives here as StateRejected).
	OnOrder(ctx *Context, o *abi.OrderUpdate)
	// OnFill receives a trade of one of the instance's orders. The
	// OrderUpdate that includes it follows.
	OnFill(ctx *Context, f *abi.Fill)
	// OnPosition receives a position: the instance's own (p.Flags without
	// abi.PositionAccount) or the account's.
	OnPosition(ctx *Context, p *abi.Position)
	// OnPoolState receives a change of health of the connections that carry
	// the instance's orders.
	OnPoolState(ctx *Context, p *abi.PoolState)
	// OnTimer receives a timer set with Context.SetTimer.
	OnTimer(ctx *Context, t *abi.Timer)
	// OnIntentRejected receives the refusal of an Amend, Cancel or
	// CancelAll (or of an intent kind the host does not support).
	OnIntentRejected(ctx *Context, r *abi.IntentRejected)
	// OnStop is called once before an orderly stop; intents queued here
	// (typically CancelAll) are processed before the host applies its
	// policy for a stopped plugin's orders. It is not called after a fault.
	OnStop(ctx *Context)
}

// Base implements every method of Strategy as a no-op (Init accepts any
// parameters), so that a strategy embeds it and overrides what it needs.
type Base struct{}

func (Base) Init(*Context, *Params, []abi.Instrument) error { return nil }
func (Base) OnBook(*Context, *abi.Book, bool)               {}
func (Base) OnTicker(*Context, *abi.Ticker)                 {}
func (Base) OnTrade(*Context, *abi.Trade)                   {}
func (Base) OnOrder(*Context, *abi.OrderUpdate)             {}
func (Base) OnFill(*Context, *abi.Fill)                     {}
func (Base) OnPosition(*Context, *abi.Position)             {}
func (Base) OnPoolState(*Context, *abi.PoolState)           {}
func (Base) OnTimer(*Context, *abi.Timer)                   {}
func (Base) OnIntentRejected(*Context, *abi.IntentRejected) {}
func (Base) OnStop(*Context)                                {}

var _ Strategy = Base{}

// FeatureSet is implemented by a strategy that supports optional ABI
// features (abi.FeatureBookContinuation: it handles a book message split
// over several records). The SDK puts them in the plugin's descriptor; the
// features in effect are Context.Features.
type FeatureSet interface {
	Features() abi.Features
}
