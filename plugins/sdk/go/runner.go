package strategy

import (
	"encoding/binary"

	"github.com/stratbox/stratbox/abi"
)

// Runner drives a Strategy through the plugin ABI: it reads the inbox,
// calls the strategy's methods and leaves the intents they queue in the
// outbox. Its three methods are the three calls of abi/README.md section 3
// and return what the exports return: the byte count of the intents, or a
// negative abi.PluginError.
//
// A plugin never sees a Runner: Register hands the strategy to the one the
// SDK's exports use. Runner is exported for tests (package strategytest
// drives a strategy natively through one) and for other embeddings.
//
// After Init, a Runner does not allocate: event records are decoded into
// values it reuses (book levels into slices with room for the largest
// book record) and intents are appended into the outbox in place. A Runner
// is not safe for concurrent use.
type Runner struct {
	s      Strategy
	ctx    Context
	inbox  []byte
	outbox []byte
	ready  bool // Init succeeded

	book   abi.Book
	ticker abi.Ticker
	trade  abi.Trade
	order  abi.OrderUpdate
	fill   abi.Fill
	pos    abi.Position
	pool   abi.PoolState
	timer  abi.Timer
	rej    abi.IntentRejected
}

// NewRunner returns a Runner of s that reads events from inbox, writes
// intents into outbox (from its start, up to its length) and calls h for
// the host functions.
func NewRunner(s Strategy, h Host, inbox, outbox []byte) *Runner {
	r := &Runner{s: s, inbox: inbox, outbox: outbox[:len(outbox):len(outbox)]}
	r.ctx.host = h
	r.ctx.out = r.outbox[:0]
	r.book.Bids = make([]abi.Level, 0, abi.MaxBookLevels)
	r.book.Asks = make([]abi.Level, 0, abi.MaxBookLevels)
	return r
}

// Context returns the strategy's context (for tests).
func (r *Runner) Context() *Context { return &r.ctx }

func (r *Runner) input(n int32) ([]byte, bool) {
	if n < 0 || int(n) > len(r.inbox) {
		r.ctx.Logf(abi.LogError, "strategy: the host says %d bytes; the inbox holds %d", n, len(r.inbox))
		return nil, false
	}
	return r.inbox[:n], true
}

// Init is stratbox_init: the first n bytes of the inbox hold the start-up
// blob. It decodes it, calls Strategy.Init, then OnPosition for each
// starting position and OnOrder for each order kept from an earlier
// instance. It returns abi.PluginBadInput when the blob cannot be read and
// abi.PluginBadConf when Strategy.Init fails (the error is logged).
func (r *Runner) Init(n int32) int32 {
	r.ready = false
	r.ctx.begin(r.outbox)
	blob, ok := r.input(n)
	if !ok {
		return int32(abi.PluginBadInput)
	}
	var su abi.Startup
	if err := abi.DecodeStartup(blob, &su); err != nil {
		r.ctx.Logf(abi.LogError, "strategy: cannot read the start-up blob: %v", err)
		return int32(abi.PluginBadInput)
	}
	r.ctx.start = su.Start
	r.ctx.instruments = su.Instruments
	r.ctx.adopted = su.Orders
	r.ctx.nextCID = max(su.Start.FirstCID, 1)
	if err := r.s.Init(&r.ctx, newParams(su.Params), su.Instruments); err != nil {
		r.ctx.Logf(abi.LogError, "strategy: init: %v", err)
		return int32(abi.PluginBadConf)
	}
	for i := range su.Positions {
		r.s.OnPosition(&r.ctx, &su.Positions[i])
	}
	for i := range su.Orders {
		r.s.OnOrder(&r.ctx, &su.Orders[i])
	}
	r.ready = true
	return r.ctx.finish()
}

// OnEvents is stratbox_on_events: the first n bytes of the inbox hold a
// batch of event records. It calls the strategy once per event, in order,
// and skips kinds it does not know (and start-up or intent kinds). A
// record that cannot be framed or decoded ends the call with
// abi.PluginBadInput (the error is logged); so does a call before a
// successful Init.
func (r *Runner) OnEvents(n int32) int32 {
	r.ctx.begin(r.outbox)
	if !r.ready {
		r.ctx.Log(abi.LogError, "strategy: stratbox_on_events before a successful stratbox_init")
		return int32(abi.PluginFailed)
	}
	batch, ok := r.input(n)
	if !ok {
		return int32(abi.PluginBadInput)
	}
	// The records are framed here as abi.Reader frames them, without its
	// Record values: compiled to wasm, each copy of one is a memory.copy
	// and a memory.fill, which wazero runs as calls to memmove (issue 18).
	for off := 0; off < len(batch); {
		b := batch[off:]
		if len(b) < abi.HeaderSize {
			return r.badFrame(batch)
		}
		size := int(binary.LittleEndian.Uint16(b[abi.OffSize:]))
		if size < abi.HeaderSize || size%abi.Align != 0 || size > len(b) {
			return r.badFrame(batch)
		}
		k := abi.Kind(binary.LittleEndian.Uint16(b[abi.OffKind:]))
		if err := r.dispatch(k, b[:size:size]); err != nil {
			r.ctx.Logf(abi.LogError, "strategy: cannot read the %v record at offset %d: %v", k, off, err)
			return int32(abi.PluginBadInput)
		}
		off += size
	}
	return r.ctx.finish()
}

// badFrame logs why batch cannot be framed (abi.Reader's error, for the
// first record OnEvents could not frame) and returns abi.PluginBadInput.
func (r *Runner) badFrame(batch []byte) int32 {
	rd := abi.NewReader(batch)
	for rd.Next() {
	}
	r.ctx.Logf(abi.LogError, "strategy: cannot frame the batch: %v", rd.Err())
	return int32(abi.PluginBadInput)
}

func (r *Runner) dispatch(k abi.Kind, rec []byte) error {
	s, c := r.s, &r.ctx
	var err error
	switch k {
	case abi.KindBookSnapshot, abi.KindBookChange:
		if err = abi.DecodeBook(rec, &r.book); err == nil {
			s.OnBook(c, &r.book, k == abi.KindBookSnapshot)
		}
	case abi.KindTicker:
		if err = abi.DecodeTicker(rec, &r.ticker); err == nil {
			s.OnTicker(c, &r.ticker)
		}
	case abi.KindTrade:
		if err = abi.DecodeTrade(rec, &r.trade); err == nil {
			s.OnTrade(c, &r.trade)
		}
	case abi.KindOrderUpdate:
		if err = abi.DecodeOrderUpdate(rec, &r.order); err == nil {
			s.OnOrder(c, &r.order)
		}
	case abi.KindFill:
		if err = abi.DecodeFill(rec, &r.fill); err == nil {
			s.OnFill(c, &r.fill)
		}
	case abi.KindPosition:
		if err = abi.DecodePosition(rec, &r.pos); err == nil {
			s.OnPosition(c, &r.pos)
		}
	case abi.KindPoolState:
		if err = abi.DecodePoolState(rec, &r.pool); err == nil {
			s.OnPoolState(c, &r.pool)
		}
	case abi.KindTimer:
		if err = abi.DecodeTimer(rec, &r.timer); err == nil {
			s.OnTimer(c, &r.timer)
		}
	case abi.KindIntentRejected:
		if err = abi.DecodeIntentRejected(rec, &r.rej); err == nil {
			s.OnIntentRejected(c, &r.rej)
		}
	default:
		// A kind this version does not know (a newer minor's event), or one
		// that does not belong in a batch: skipped by its size.
	}
	return err
}

// OnStop is stratbox_on_stop: it calls Strategy.OnStop and returns the
// intents it queued. Before a successful Init it does nothing.
func (r *Runner) OnStop() int32 {
	r.ctx.begin(r.outbox)
	if !r.ready {
		return 0
	}
	r.s.OnStop(&r.ctx)
	r.ready = false
	return r.ctx.finish()
}
