// Command taker is an example stratbox strategy: it watches the flow of
// public trades on one instrument over a sliding window and, when buyers or
// sellers dominate it, crosses the spread with an immediate-or-cancel order
// in their direction, within a position limit.
//
// It has one order in flight at a time and places nothing until that order
// is final. Restarted with keep_orders or hot-swapped (`host ctl swap`), it
// adopts its predecessor's order: the first adopted order on its instrument
// that is not final becomes its order in flight, so it does not take again
// (and double its position) before that order's update says it is final.
//
// Parameters (the params table of its section in the host's configuration):
//
//	instrument   = "BTC-PERPETUAL" # default: the first of the instrument table
//	window       = "10s"           # how far back the trade flow counts
//	threshold    = 0.6             # act when |buy - sell| / (buy + sell) reaches this
//	size         = 100             # per order (default: 10 × the minimum amount)
//	min_volume   = 1000            # act only when buy + sell reaches this (default: 5 × size)
//	max_position = 500             # never take |position| past this (default: 5 × size)
//	slippage_bps = 5               # limit price: this far through the best opposite price
//	cooldown     = "5s"            # at least this long between two orders
//	status_every = "1m"            # log the state this often
//
// Build it with `make plugins` (bin/plugins/taker.wasm).
package main

import (
	"errors"
	"time"

	"github.com/stratbox/stratbox/abi"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
)

func init() { strategy.Register(&Taker{}) }

// main is never called: the plugin is a WASI reactor (see strategy.Register).
func main() {}

const statusTimer = 1

// Taker trades on trade-flow imbalance.
type Taker struct {
	strategy.Base

	// configuration, from the parameters
	inst        uint32
	in          *abi.Instrument
	window      uint64 // ns
	threshold   float64
	minVolume   abi.Fixed
	size        abi.Fixed
	maxPosition abi.Fixed
	slippage    abi.Fixed // bps
	cooldown    uint64    // ns
	every       time.Duration

	// market and own state, from the events
	flow             flow
	bestBid, bestAsk abi.Fixed
	position         abi.Fixed
	inflight         uint64 // cid of the order on its way, 0 when none
	lastOrder        uint64 // host time of the last order, ns
	poolDown, closed bool
}

func (t *Taker) Init(ctx *strategy.Context, params *strategy.Params, instruments []abi.Instrument) error {
	if len(instruments) == 0 {
		return errors.New("taker: no instruments")
	}
	if name := params.String("instrument", ""); name != "" {
		i, ok := ctx.Lookup(name)
		if !ok {
			params.Fail("instrument", "names no instrument of the table: "+name)
		}
		t.inst = i
	}
	t.in = ctx.Instrument(t.inst)
	t.window = uint64(params.Duration("window", 10*time.Second))
	t.threshold = params.Float("threshold", 0.6)
	t.size = params.Fixed("size", 10*t.in.MinAmount)
	t.minVolume = params.Fixed("min_volume", 5*t.size)
	t.maxPosition = params.Fixed("max_position", 5*t.size)
	t.slippage = params.Fixed("slippage_bps", 5*abi.FixedScale)
	t.cooldown = uint64(params.Duration("cooldown", 5*time.Second))
	t.every = params.Duration("status_every", time.Minute)
	if t.threshold <= 0 || t.threshold > 1 {
		params.Fail("threshold", "must be in (0, 1]")
	}
	if t.size <= 0 || t.size%t.in.MinAmount != 0 {
		params.Fail("size", "must be a positive multiple of the instrument's minimum amount")
	}
	if err := params.Err(); err != nil {
		return err
	}
	t.adopt(ctx)
	if t.every > 0 {
		return ctx.SetTimer(statusTimer, t.every)
	}
	return nil
}

// adopt takes over the order an earlier instance left in flight (a restart
// with keep_orders, a hot swap): the first adopted order on the instrument
// that is not final becomes the order in flight, and the taker waits for
// its final update before it places again.
func (t *Taker) adopt(ctx *strategy.Context) {
	for _, o := range ctx.Adopted() {
		if o.Instrument == t.inst && (o.State == abi.StatePending || o.State == abi.StateOpen) {
			t.inflight = o.CID
			return
		}
	}
}

func (t *Taker) OnTicker(ctx *strategy.Context, tk *abi.Ticker) {
	if tk.Instrument == t.inst {
		t.bestBid, t.bestAsk = tk.BestBidPrice, tk.BestAskPrice
		t.closed = tk.Flags&abi.TickerClosed != 0
	}
}

func (t *Taker) OnTrade(ctx *strategy.Context, tr *abi.Trade) {
	if tr.Instrument != t.inst {
		return
	}
	t.flow.add(tr.Time, tr.Side, tr.Amount)
	if tr.Time > t.window {
		t.flow.expire(tr.Time - t.window)
	}
	t.decide(ctx)
}

// decide sends an order when the flow is one-sided enough and nothing
// stands in the way.
func (t *Taker) decide(ctx *strategy.Context) {
	total := t.flow.buy + t.flow.sell
	if total <= 0 || total < t.minVolume {
		return
	}
	imbalance := (t.flow.buy - t.flow.sell).Float64() / total.Float64()
	side := abi.SideNone
	switch {
	case imbalance >= t.threshold:
		side = abi.Buy
	case imbalance <= -t.threshold:
		side = abi.Sell
	default:
		return
	}
	now := ctx.Now()
	if t.inflight != 0 || t.poolDown || t.closed || (t.lastOrder != 0 && now < t.lastOrder+t.cooldown) {
		return
	}
	// Room left under the position limit on that side.
	room := t.maxPosition - t.position
	price := strategy.PriceUp(t.in, t.bestAsk+strategy.Bps(t.bestAsk, t.slippage))
	if side == abi.Sell {
		room = t.maxPosition + t.position
		price = strategy.PriceDown(t.in, t.bestBid-strategy.Bps(t.bestBid, t.slippage))
	}
	amount := strategy.AmountDown(t.in, min(t.size, room))
	if amount <= 0 || t.bestBid <= 0 || t.bestAsk <= 0 || price <= 0 {
		return // at the limit, or no price to cross yet
	}
	cid := ctx.Place(strategy.Order{Instrument: t.inst, Side: side, TIF: abi.ImmediateOrCancel,
		Price: price, Amount: amount, Label: "taker"})
	if cid != 0 {
		t.inflight, t.lastOrder = cid, now
		t.flow.reset() // the next order needs a new burst
	}
}

func (t *Taker) OnOrder(ctx *strategy.Context, o *abi.OrderUpdate) {
	if o.CID != t.inflight {
		return
	}
	switch o.State {
	case abi.StateFilled, abi.StateCancelled: // an IOC's unfilled rest is cancelled (reason unfilled)
		t.inflight = 0
	case abi.StateRejected:
		t.inflight = 0
		ctx.Logf(abi.LogWarn, "taker: order %d rejected: %v %s", o.CID, o.Reason, o.Text.Bytes())
	}
}

// OnFill keeps the position current between position events.
func (t *Taker) OnFill(ctx *strategy.Context, f *abi.Fill) {
	if f.Instrument != t.inst {
		return
	}
	if f.Side == abi.Buy {
		t.position += f.Amount
	} else {
		t.position -= f.Amount
	}
}

// OnPosition takes the host's figure, which includes every fill so far.
func (t *Taker) OnPosition(ctx *strategy.Context, p *abi.Position) {
	if p.Instrument == t.inst && p.Flags&abi.PositionAccount == 0 {
		t.position = p.Size
	}
}

func (t *Taker) OnPoolState(ctx *strategy.Context, p *abi.PoolState) {
	t.poolDown = p.Healthy == 0
}

func (t *Taker) OnTimer(ctx *strategy.Context, tm *abi.Timer) {
	if tm.ID != statusTimer {
		return
	}
	ctx.Logf(abi.LogInfo, "taker: position %v, flow buy %v sell %v over %d trades",
		t.position, t.flow.buy, t.flow.sell, t.flow.n)
	ctx.SetTimer(statusTimer, t.every)
}

// flow is the public trade flow of a sliding window: a ring of the last
// trades with running sums per side. When the ring is full the oldest trade
// leaves early.
type flow struct {
	ring      [1024]flowTrade
	head, n   int
	buy, sell abi.Fixed
}

type flowTrade struct {
	ts     uint64
	side   abi.Side
	amount abi.Fixed
}

func (f *flow) add(ts uint64, side abi.Side, amount abi.Fixed) {
	if side != abi.Buy && side != abi.Sell {
		return
	}
	if f.n == len(f.ring) {
		f.pop()
	}
	f.ring[(f.head+f.n)%len(f.ring)] = flowTrade{ts, side, amount}
	f.n++
	f.sum(side, amount)
}

// expire drops the trades before since.
func (f *flow) expire(since uint64) {
	for f.n > 0 && f.ring[f.head].ts < since {
		f.pop()
	}
}

func (f *flow) pop() {
	t := f.ring[f.head]
	f.head = (f.head + 1) % len(f.ring)
	f.n--
	f.sum(t.side, -t.amount)
}

func (f *flow) sum(side abi.Side, amount abi.Fixed) {
	if side == abi.Buy {
		f.buy += amount
	} else {
		f.sell += amount
	}
}

func (f *flow) reset() { f.head, f.n, f.buy, f.sell = 0, 0, 0, 0 }
