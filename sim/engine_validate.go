package sim

import (
	"math"
	"strconv"
)

// Validation of an order request: instrument, amount, price, reduce-only,
// post-only and the funds check, before anything changes (see engine.go).

// validated is an order request in integer form.
type validated struct {
	in     *instState
	buy    bool
	market bool
	tif    string
	lots   int64
	ticks  int64
}

func badInstrument() *Error {
	return NewError(CodeInvalidInstrument, map[string]string{"param": "instrument_name", "reason": "unknown instrument"})
}

// parseAmount turns amount/contracts into lots.
func parseAmount(in *instState, amount, contracts float64) (int64, *Error) {
	if amount == 0 && contracts == 0 {
		return 0, paramError("amount", "amount or contracts is required")
	}
	if math.IsNaN(amount) || math.IsNaN(contracts) || math.IsInf(amount, 0) || math.IsInf(contracts, 0) {
		return 0, NewError(CodeInvalidAmount, map[string]string{"param": "amount", "reason": "not a number"})
	}
	fromContracts := contracts * in.inst.ContractSize
	if amount != 0 && contracts != 0 && math.Abs(amount-fromContracts) > 1e-9*math.Max(1, math.Abs(amount)) {
		return 0, paramError("contracts", "contracts and amount do not match")
	}
	if amount == 0 {
		amount = fromContracts
	}
	if amount < 0 {
		return 0, NewError(CodeInvalidAmount, map[string]string{"param": "amount", "reason": "must be positive"})
	}
	if amount < in.step*(1-1e-9) {
		return 0, NewError(CodeQtyTooLow, map[string]string{"param": "amount", "reason": "below min_trade_amount"})
	}
	if !stepsInRange(amount / in.step) {
		return 0, NewError(CodeInvalidAmount, map[string]string{"param": "amount", "reason": "too large"})
	}
	lots, ok := in.toLots(amount)
	if !ok {
		return 0, NewError(CodeInvalidAmount, map[string]string{"param": "amount", "reason": "must be a multiple of min_trade_amount"})
	}
	return lots, nil
}

// parsePrice validates a limit price and its band for a buy or a sell.
func (e *Engine) parsePrice(in *instState, buy bool, price float64) (int64, *Error) {
	if !(price > 0) || math.IsInf(price, 0) {
		return 0, NewError(CodeInvalidPrice, map[string]string{"param": "price", "reason": "must be positive"})
	}
	if q := price / in.tick; !stepsInRange(q) {
		reason := "below tick_size"
		if q > 1 {
			reason = "too large"
		}
		return 0, NewError(CodeInvalidPrice, map[string]string{"param": "price", "reason": reason})
	}
	ticks, ok := in.toTicks(price)
	if !ok {
		return 0, NewError(CodePriceWrongTick, map[string]string{"param": "price", "reason": "not a multiple of tick_size"})
	}
	lo, hi := e.band(in)
	if buy && ticks > hi {
		return 0, NewError(CodePriceTooHigh, map[string]string{"param": "price", "reason": "above max_price " + strconv.FormatFloat(in.price(hi), 'f', -1, 64)})
	}
	if !buy && ticks < lo {
		return 0, NewError(CodePriceTooLow, map[string]string{"param": "price", "reason": "below min_price " + strconv.FormatFloat(in.price(lo), 'f', -1, 64)})
	}
	return ticks, nil
}

func (e *Engine) validate(req *OrderRequest) (validated, *Error) {
	var v validated
	in, ok := e.byName[req.Instrument]
	if !ok {
		return v, badInstrument()
	}
	v.in = in
	switch req.Direction {
	case "buy":
		v.buy = true
	case "sell":
	default:
		return v, paramError("direction", "must be buy or sell")
	}
	switch req.Type {
	case "", "limit":
	case "market":
		v.market = true
	default:
		return v, paramError("type", "unsupported order type (limit and market only)")
	}
	switch req.TimeInForce {
	case "":
		v.tif = "good_til_cancelled"
	case "good_til_cancelled", "good_til_day", "immediate_or_cancel", "fill_or_kill":
		v.tif = req.TimeInForce
	default:
		return v, paramError("time_in_force", "invalid value")
	}
	if len(req.Label) > 64 {
		return v, paramError("label", "at most 64 characters")
	}
	lots, err := parseAmount(in, req.Amount, req.Contracts)
	if err != nil {
		return v, err
	}
	v.lots = lots
	if req.PostOnly && (v.market || v.tif == "immediate_or_cancel" || v.tif == "fill_or_kill") {
		return v, paramError("post_only", "only allowed with limit good_til_cancelled orders")
	}
	if v.market {
		lo, hi := e.band(in)
		v.ticks = lo
		if v.buy {
			v.ticks = hi
		}
		return v, nil
	}
	if !req.HasPrice {
		return v, paramError("price", "price is required for limit orders")
	}
	v.ticks, err = e.parsePrice(in, v.buy, req.Price)
	return v, err
}

// reducible is how many lots an order in direction buy can reduce a
// position by.
func reducible(p *posState, buy bool) int64 {
	if buy && p.lots < 0 {
		return -p.lots
	}
	if !buy && p.lots > 0 {
		return p.lots
	}
	return 0
}

// crosses reports whether an order at ticks would take from the opposite side.
func crosses(opp *bookSide, buy bool, ticks int64) bool {
	b := opp.best()
	if b == nil {
		return false
	}
	if buy {
		return b.ticks <= ticks
	}
	return b.ticks >= ticks
}

// postOnlyPrice applies post-only to a limit price: unchanged when it does
// not cross, else one tick inside the spread; ok is false when that is not
// a valid price.
func postOnlyPrice(in *instState, buy bool, ticks int64) (int64, bool) {
	if buy {
		if crosses(&in.asks, true, ticks) {
			ticks = in.asks.best().ticks - 1
		}
	} else if crosses(&in.bids, false, ticks) {
		ticks = in.bids.best().ticks + 1
	}
	return ticks, ticks > 0
}

// liquidity is how many lots a taker of account taker, on side buy with
// limit ticks, would fill against the opposite side of in, up to want. It
// walks the book exactly as match does: price-time order, stopping at the
// limit, and a reduce-only maker counts for what match lets it fill, min(its
// remaining, what its owner's position still allows when the walk reaches
// it), with the positions as the earlier fills of this walk (taker's and
// makers', self-trades included) leave them. Self-trades are allowed, so no
// other maker is skipped. Fill-or-kill relies on this equality: the order
// is placed only when liquidity covers it, and then match fills it entirely.
func liquidity(in *instState, taker *ledger, buy bool, limit, want int64) int64 {
	opp := &in.asks
	if !buy {
		opp = &in.bids
	}
	// deltas of positions (in lots, signed) caused by this walk's fills
	type posDelta struct {
		a *ledger
		d int64
	}
	var deltas []posDelta
	add := func(a *ledger, d int64) {
		for i := range deltas {
			if deltas[i].a == a {
				deltas[i].d += d
				return
			}
		}
		deltas = append(deltas, posDelta{a, d})
	}
	posOf := func(a *ledger) posState {
		p := posState{lots: a.pos[in.idx].lots}
		for _, x := range deltas {
			if x.a == a {
				p.lots += x.d
			}
		}
		return p
	}
	sign := int64(1) // the taker's position moves by +q for a buy
	if !buy {
		sign = -1
	}
	var n int64
	for i := len(opp.levels) - 1; i >= 0 && n < want; i-- {
		l := opp.levels[i]
		if (buy && l.ticks > limit) || (!buy && l.ticks < limit) {
			break
		}
		for m := l.head; m != nil && n < want; m = m.next {
			avail := m.remaining()
			if m.ord.ReduceOnly {
				p := posOf(m.acct)
				avail = min(avail, reducible(&p, m.buy))
			}
			q := min(avail, want-n)
			if q <= 0 {
				continue
			}
			n += q
			add(taker, sign*q)
			add(m.acct, -sign*q)
		}
	}
	return n
}

func (e *Engine) sideOf(in *instState, buy bool) *bookSide {
	if buy {
		return &in.bids
	}
	return &in.asks
}

// fundsCheck refuses an order that raises a margin-checked account's
// initial margin above its equity.
func (e *Engine) fundsCheck(a *ledger, in *instState, buy bool, addLots int64) *Error {
	if a.unlimited || addLots <= 0 {
		return nil
	}
	cur := in.inst.SettlementCurrency
	var eb, es int64
	if buy {
		eb = addLots
	} else {
		es = addLots
	}
	before := e.margins(a, cur, nil, 0, 0)
	after := e.margins(a, cur, in, eb, es)
	if after.im > before.im+1e-12 && after.im > after.equity {
		return NewError(CodeNotEnoughFunds, map[string]string{"reason": "initial margin would exceed equity"})
	}
	return nil
}
