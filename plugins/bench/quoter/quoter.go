package quoter

import (
	"errors"

	"github.com/stratbox/stratbox/abi"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
)

// Label is the label of the quoter's orders.
const Label = "quoter"

// Quoter quotes one post-only bid below the market.
type Quoter struct {
	strategy.Base

	// configuration, from the parameters
	inst     uint32
	in       *abi.Instrument
	size     abi.Fixed
	distance int64 // ticks

	// the one order; cid 0 when there is none
	cid   uint64
	price abi.Fixed // the price last asked for
	open  bool      // acknowledged: it can be amended
}

// New returns a Quoter (its parameters come in Init).
func New() *Quoter { return &Quoter{} }

// Init reads the parameters.
func (q *Quoter) Init(ctx *strategy.Context, params *strategy.Params, instruments []abi.Instrument) error {
	if len(instruments) == 0 {
		return errors.New("quoter: no instruments")
	}
	*q = Quoter{}
	if name := params.String("instrument", ""); name != "" {
		i, ok := ctx.Lookup(name)
		if !ok {
			params.Fail("instrument", "names no instrument of the table: "+name)
		}
		q.inst = i
	}
	q.in = ctx.Instrument(q.inst)
	q.size = params.Fixed("size", q.in.MinAmount)
	q.distance = params.Int("distance_ticks", 10)
	if q.size <= 0 || q.in.MinAmount > 0 && q.size%q.in.MinAmount != 0 {
		params.Fail("size", "must be a positive multiple of the instrument's minimum amount")
	}
	if q.distance < 0 {
		params.Fail("distance_ticks", "must be ≥ 0")
	}
	return params.Err()
}

// OnTicker places the order, or amends it once it is open: one intent at
// most per ticker.
func (q *Quoter) OnTicker(ctx *strategy.Context, t *abi.Ticker) {
	if t.Instrument != q.inst || t.BestBidPrice <= 0 || t.Flags&abi.TickerClosed != 0 {
		return
	}
	tick := q.in.TickAt(t.BestBidPrice)
	price := strategy.PriceDown(q.in, t.BestBidPrice-abi.Fixed(q.distance)*tick)
	switch {
	case price <= 0:
	case q.cid == 0:
		cid := ctx.Place(strategy.Order{Instrument: q.inst, Side: abi.Buy, Price: price, Amount: q.size,
			Flags: abi.PostOnly, Label: Label})
		if cid != 0 {
			q.cid, q.price, q.open = cid, price, false
		}
	case !q.open:
		// wait for the acknowledgement
	default:
		if price == q.price {
			price = strategy.PriceDown(q.in, price-q.in.TickAt(price))
		}
		if price > 0 && ctx.Amend(q.cid, price, q.size, abi.PostOnly) {
			q.price = price
		}
	}
}

// OnOrder follows the order's state.
func (q *Quoter) OnOrder(ctx *strategy.Context, o *abi.OrderUpdate) {
	if o.CID == 0 || o.CID != q.cid {
		return
	}
	switch o.State {
	case abi.StateOpen:
		q.open = true
	case abi.StatePending:
		q.open = false
	case abi.StateFilled, abi.StateCancelled, abi.StateRejected:
		q.cid, q.price, q.open = 0, 0, false
	}
}

// OnIntentRejected forgets an order the host does not know.
func (q *Quoter) OnIntentRejected(ctx *strategy.Context, r *abi.IntentRejected) {
	if r.CID == q.cid && r.Reason == abi.ReasonUnknownCID {
		q.cid, q.price, q.open = 0, 0, false
	}
}

// OnStop cancels the order.
func (q *Quoter) OnStop(ctx *strategy.Context) {
	ctx.CancelAll(strategy.AllInstruments, abi.SideNone)
}
