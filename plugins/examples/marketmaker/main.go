// Command marketmaker is an example stratbox strategy: it quotes a bid and
// an ask around the mid price of one instrument, skews both quotes against
// its inventory, amends them when the market moves, and pulls them when the
// connection pool is degraded or the book closes. Started by a hot swap
// (`host ctl swap`), it adopts the quotes its predecessor left resting
// and amends them, instead of placing new ones.
//
// Parameters (the params table of its section in the host's configuration):
//
//	instrument      = "BTC-PERPETUAL" # default: the first of the instrument table
//	size            = 10              # per quote, in the amount unit (default: the minimum amount)
//	half_spread_bps = 5               # distance of each quote from the (skewed) mid
//	skew_bps        = 5               # how far the quotes move at max_position of inventory
//	max_position    = 100             # no quote that could take |position| past this (default: 10 × size)
//	requote_bps     = 1               # amend a quote when its price is this far from where it should be
//	post_only       = true            # quotes never take liquidity
//
// Build it with `make plugins` (bin/plugins/marketmaker.wasm).
package main

import (
	"errors"

	"github.com/stratbox/stratbox/abi"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
)

func init() { strategy.Register(&MarketMaker{}) }

// main is never called: the plugin is a WASI reactor (see strategy.Register).
func main() {}

// MarketMaker quotes one instrument.
type MarketMaker struct {
	strategy.Base

	// configuration, from the parameters
	inst        uint32
	in          *abi.Instrument
	size        abi.Fixed
	halfSpread  abi.Fixed // bps
	skew        abi.Fixed // bps at max_position
	maxPosition abi.Fixed
	requote     abi.Fixed // bps
	flags       abi.OrderFlags

	// market and own state, from the events
	book             strategy.OrderBook
	bestBid, bestAsk abi.Fixed
	position         abi.Fixed
	poolDown, closed bool
	bid, ask         quote
}

// quote is one of the two resting orders; cid 0 when there is none.
type quote struct {
	cid       uint64
	price     abi.Fixed
	amount    abi.Fixed
	open      bool // acknowledged by the exchange: it can be amended or cancelled
	canceling bool // a cancel is on its way
}

// Features: the maker applies book messages split over several records.
func (m *MarketMaker) Features() abi.Features { return abi.FeatureBookContinuation }

func (m *MarketMaker) Init(ctx *strategy.Context, params *strategy.Params, instruments []abi.Instrument) error {
	if len(instruments) == 0 {
		return errors.New("marketmaker: no instruments")
	}
	if name := params.String("instrument", ""); name != "" {
		i, ok := ctx.Lookup(name)
		if !ok {
			params.Fail("instrument", "names no instrument of the table: "+name)
		}
		m.inst = i
	}
	m.in = ctx.Instrument(m.inst)
	m.size = params.Fixed("size", m.in.MinAmount)
	m.halfSpread = params.Fixed("half_spread_bps", 5*abi.FixedScale)
	m.skew = params.Fixed("skew_bps", 5*abi.FixedScale)
	m.maxPosition = params.Fixed("max_position", 10*m.size)
	m.requote = params.Fixed("requote_bps", 1*abi.FixedScale)
	if params.Bool("post_only", true) {
		m.flags = abi.PostOnly
	}
	if m.size <= 0 || m.size%m.in.MinAmount != 0 {
		params.Fail("size", "must be a positive multiple of the instrument's minimum amount")
	}
	if m.halfSpread <= 0 || m.maxPosition < m.size {
		params.Fail("half_spread_bps", "must be > 0, and max_position at least size")
	}
	if err := params.Err(); err != nil {
		return err
	}
	m.adopt(ctx)
	return nil
}

// adopt takes over the quotes an earlier instance left resting (a hot
// swap): the first buy and the first sell on the quoted instrument become
// the bid and the ask, amended on the next move like any quote; any other
// adopted order is cancelled, since nothing here would manage it.
func (m *MarketMaker) adopt(ctx *strategy.Context) {
	for _, o := range ctx.Adopted() {
		q := &m.bid
		if o.Side == abi.Sell {
			q = &m.ask
		}
		if o.Instrument != m.inst || q.cid != 0 {
			ctx.Cancel(o.CID)
			continue
		}
		*q = quote{cid: o.CID, price: o.Price, amount: o.Amount, open: o.State == abi.StateOpen}
	}
}

func (m *MarketMaker) OnTicker(ctx *strategy.Context, t *abi.Ticker) {
	if t.Instrument != m.inst {
		return
	}
	m.setClosed(ctx, t.Flags&abi.TickerClosed != 0)
	if !m.book.Valid() { // the book, when subscribed, is the fresher source
		m.bestBid, m.bestAsk = t.BestBidPrice, t.BestAskPrice
		m.quote(ctx)
	}
}

func (m *MarketMaker) OnBook(ctx *strategy.Context, b *abi.Book, snapshot bool) {
	if b.Instrument != m.inst || !m.book.Apply(b, snapshot) || b.Flags&abi.BookContinues != 0 {
		return // another instrument, a gap (wait for a snapshot), or more of this message to come
	}
	bid, ok1 := m.book.BestBid()
	ask, ok2 := m.book.BestAsk()
	if ok1 && ok2 {
		m.bestBid, m.bestAsk = bid.Price, ask.Price
		m.quote(ctx)
	}
}

func (m *MarketMaker) OnPosition(ctx *strategy.Context, p *abi.Position) {
	if p.Instrument == m.inst && p.Flags&abi.PositionAccount == 0 {
		m.position = p.Size
		m.quote(ctx)
	}
}

func (m *MarketMaker) OnPoolState(ctx *strategy.Context, p *abi.PoolState) {
	down := p.Healthy == 0 || p.Healthy < p.Total || p.Flags&(abi.PoolDegraded|abi.PoolMaintenance) != 0
	if down && !m.poolDown {
		ctx.Log(abi.LogWarn, "marketmaker: connection pool degraded, pulling quotes")
		m.cancelAll(ctx)
	}
	m.poolDown = down
	m.quote(ctx)
}

func (m *MarketMaker) setClosed(ctx *strategy.Context, closed bool) {
	if closed && !m.closed {
		ctx.Log(abi.LogWarn, "marketmaker: book closed, pulling quotes")
		m.cancelAll(ctx)
	}
	m.closed = closed
}

func (m *MarketMaker) cancelAll(ctx *strategy.Context) {
	ctx.CancelAll(m.inst, abi.SideNone)
	m.bid.canceling = m.bid.cid != 0
	m.ask.canceling = m.ask.cid != 0
}

// quote moves both quotes to where they should be.
func (m *MarketMaker) quote(ctx *strategy.Context) {
	if m.poolDown || m.closed || m.bestBid <= 0 || m.bestAsk <= m.bestBid {
		return
	}
	mid := strategy.Mid(m.bestBid, m.bestAsk)
	// Long inventory moves both quotes down (sell sooner, buy lower), short
	// moves them up, by up to skew_bps of mid at max_position.
	inventory, _ := abi.FixedFromFloat(m.position.Float64() / m.maxPosition.Float64())
	center := mid - strategy.Mul(strategy.Bps(mid, m.skew), inventory)
	half := strategy.Bps(mid, m.halfSpread)
	bid := strategy.PriceDown(m.in, center-half)
	ask := strategy.PriceUp(m.in, center+half)
	// A post-only quote must not cross the book.
	bid = min(bid, strategy.PriceDown(m.in, m.bestAsk-m.in.TickAt(m.bestAsk)))
	ask = max(ask, strategy.PriceUp(m.in, m.bestBid+m.in.TickAt(m.bestBid)))
	threshold := strategy.Bps(mid, m.requote)
	m.work(ctx, &m.bid, abi.Buy, m.position+m.size <= m.maxPosition, bid, threshold, "mm-bid")
	m.work(ctx, &m.ask, abi.Sell, m.position-m.size >= -m.maxPosition, ask, threshold, "mm-ask")
}

// work places, amends or cancels one quote.
func (m *MarketMaker) work(ctx *strategy.Context, q *quote, side abi.Side, want bool, price, threshold abi.Fixed, label string) {
	switch {
	case q.canceling:
		// wait for the cancel's order update
	case !want:
		if q.open && ctx.Cancel(q.cid) {
			q.canceling = true
		}
	case q.cid == 0:
		cid := ctx.Place(strategy.Order{Instrument: m.inst, Side: side, Price: price, Amount: m.size,
			Flags: m.flags, Label: label})
		*q = quote{cid: cid, price: price, amount: m.size}
	case q.open && strategy.Abs(price-q.price) >= threshold:
		if ctx.Amend(q.cid, price, q.amount, m.flags) {
			q.price = price
		}
	}
}

func (m *MarketMaker) quoteOf(cid uint64) *quote {
	switch cid {
	case 0:
		return nil
	case m.bid.cid:
		return &m.bid
	case m.ask.cid:
		return &m.ask
	}
	return nil
}

func (m *MarketMaker) OnOrder(ctx *strategy.Context, o *abi.OrderUpdate) {
	q := m.quoteOf(o.CID)
	if q == nil {
		return
	}
	switch o.State {
	case abi.StatePending: // also: being re-placed after a dropped connection
		q.open = false
	case abi.StateOpen:
		q.open, q.price, q.amount = true, o.Price, o.Amount
	case abi.StateFilled, abi.StateCancelled, abi.StateRejected:
		*q = quote{}
		if o.State == abi.StateRejected {
			// Not at once: a lasting refusal (a risk limit) would repeat every batch.
			ctx.Logf(abi.LogWarn, "marketmaker: quote %d rejected: %v %s", o.CID, o.Reason, o.Text.Bytes())
			return
		}
		m.quote(ctx) // replace it at once
	}
}

func (m *MarketMaker) OnIntentRejected(ctx *strategy.Context, r *abi.IntentRejected) {
	ctx.Logf(abi.LogWarn, "marketmaker: %v of order %d refused: %v %s", r.IntentKind, r.CID, r.Reason, r.Text.Bytes())
	q := m.quoteOf(r.CID)
	switch {
	case q == nil:
	case r.Reason == abi.ReasonUnknownCID:
		*q = quote{} // the host does not know it: forget it
	case r.IntentKind == abi.KindCancel:
		q.canceling = false // try again on the next move
	}
}

func (m *MarketMaker) OnStop(ctx *strategy.Context) {
	ctx.CancelAll(strategy.AllInstruments, abi.SideNone)
}
