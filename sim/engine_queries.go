package sim

import (
	"cmp"
	"math"
	"slices"
	"strconv"
)

// Queries: open orders, orders by label, order state, book depth and
// ticker (see engine.go).

// OpenOrders returns owner's open orders, in creation order, for which
// match returns true (all when match is nil).
func (e *Engine) OpenOrders(owner string, match func(*Order) bool) []Order {
	a, ok := e.accounts[owner]
	if !ok {
		return nil
	}
	var out []Order
	for lo := a.head; lo != nil; lo = lo.anext {
		if match == nil || match(&lo.ord) {
			out = append(out, lo.ord)
		}
	}
	return out
}

// instrumentMatches applies Deribit's kind and currency filters to the
// instrument name ("any" and "" match everything).
func (e *Engine) instrumentMatches(name, kind, currency string) bool {
	in, ok := e.Instrument(name)
	if !ok {
		return false
	}
	if kind != "" && kind != "any" && in.Kind != kind {
		return false
	}
	return currency == "" || currency == "any" || in.BaseCurrency == currency || in.SettlementCurrency == currency
}

// OrdersByLabel returns owner's orders with label, open or among its last
// 10,000 closed ones, oldest first, for which match returns true (all when
// match is nil).
func (e *Engine) OrdersByLabel(owner, label string, match func(*Order) bool) []Order {
	a, ok := e.accounts[owner]
	if !ok {
		return nil
	}
	var out []Order
	keep := func(o *Order) {
		if o.Label == label && (match == nil || match(o)) {
			out = append(out, *o)
		}
	}
	for _, id := range a.closedRing {
		o := a.closed[id]
		keep(&o)
	}
	for lo := a.head; lo != nil; lo = lo.anext {
		keep(&lo.ord)
	}
	slices.SortStableFunc(out, func(x, y Order) int {
		if c := cmp.Compare(x.CreationTimestamp, y.CreationTimestamp); c != 0 {
			return c
		}
		return cmp.Compare(idSeq(x.OrderID), idSeq(y.OrderID))
	})
	return out
}

// idSeq is the sequence number of an order id (its trailing digits).
func idSeq(id string) uint64 {
	i := len(id)
	for i > 0 && id[i-1] >= '0' && id[i-1] <= '9' {
		i--
	}
	n, _ := strconv.ParseUint(id[i:], 10, 64)
	return n
}

// OrderState returns owner's order, open or among its last 10,000 closed
// ones. Other owners' orders are 10004 order_not_found, as on Deribit.
func (e *Engine) OrderState(owner, orderID string) (Order, *Error) {
	lo, closed := e.lookupOwned(owner, orderID)
	switch {
	case lo != nil:
		return lo.ord, nil
	case closed != nil:
		return *closed, nil
	}
	return Order{}, orderNotFound()
}

// Depth returns the aggregated levels of an instrument's book, best first,
// at most depth per side (all when depth <= 0), and the change id of the
// last BookChange (0 before any).
func (e *Engine) Depth(instrument string, depth int) (bids, asks []Level, changeID int64, ok bool) {
	in, found := e.byName[instrument]
	if !found {
		return nil, nil, 0, false
	}
	return levelsOf(in, &in.bids, depth), levelsOf(in, &in.asks, depth), in.changeID, true
}

func levelsOf(in *instState, s *bookSide, depth int) []Level {
	n := len(s.levels)
	if depth > 0 && depth < n {
		n = depth
	}
	out := make([]Level, 0, n)
	for i := len(s.levels) - 1; i >= 0 && len(out) < n; i-- {
		l := s.levels[i]
		out = append(out, Level{Price: in.price(l.ticks), Amount: in.amount(l.lots)})
	}
	return out
}

// Ticker returns an instrument's ticker. Stats (high, low, volume,
// price_change in % from the first trade) cover all trades since the engine
// started; open_interest is the sum of long positions (amount units);
// min_price/max_price are the band orders are checked against; for
// perpetuals the funding rates are Deribit's damped premium
// max(0.05%, p) + min(−0.05%, p) with p = (mark − index)/index, clamped to
// ±0.5%, and current_funding = funding_8h.
func (e *Engine) Ticker(nowMs int64, instrument string) (Ticker, *Error) {
	e.touchTime(nowMs)
	in, ok := e.byName[instrument]
	if !ok {
		return Ticker{}, badInstrument()
	}
	idx := e.index[in.inst.BaseCurrency]
	m := e.mark(in)
	lo, hi := e.band(in)
	t := Ticker{
		Timestamp:              nowMs,
		State:                  "open",
		IndexPrice:             idx,
		InstrumentName:         in.inst.InstrumentName,
		MinPrice:               in.price(lo),
		MaxPrice:               in.price(hi),
		OpenInterest:           in.amount(in.oiLots),
		MarkPrice:              m,
		EstimatedDeliveryPrice: idx,
		Stats: TickerStats{
			High:           in.high,
			Low:            in.low,
			Volume:         in.volume,
			VolumeUSD:      in.volumeUSD,
			VolumeNotional: in.volNotion,
		},
	}
	if in.hasLast {
		t.LastPrice = in.price(in.lastTicks)
		if in.firstPx > 0 {
			t.Stats.PriceChange = roundDec((t.LastPrice/in.firstPx-1)*100, 4)
		}
	}
	if b := in.bids.best(); b != nil {
		t.BestBidPrice, t.BestBidAmount = in.price(b.ticks), in.amount(b.lots)
	}
	if a := in.asks.best(); a != nil {
		t.BestAskPrice, t.BestAskAmount = in.price(a.ticks), in.amount(a.lots)
	}
	if in.inst.SettlementPeriod == "perpetual" && idx > 0 {
		prem := (m - idx) / idx
		f := math.Max(0.0005, prem) + math.Min(-0.0005, prem)
		f = math.Max(-0.005, math.Min(0.005, f))
		t.CurrentFunding, t.Funding8h = f, f
	}
	return t, nil
}
