package sim

import "math"

// Placing and matching: a new order takes liquidity at price-time priority
// and rests what is left; executions move positions, balances and fees
// (see engine.go).

// Place executes a private/buy or private/sell: it validates the request,
// matches it and rests what remains (limit GTC/GTD). It returns the order
// as it stands afterwards and the taker-side trades of this call.
func (e *Engine) Place(nowMs int64, req OrderRequest) (Order, []Trade, *Error) {
	e.touchTime(nowMs)
	v, err := e.validate(&req)
	if err != nil {
		return Order{}, nil, err
	}
	in := v.in
	a := e.account(req.Owner)
	p := &a.pos[in.idx]
	if req.ReduceOnly {
		r := reducible(p, v.buy)
		if r == 0 {
			return Order{}, nil, NewError(CodeReduceOnlyExceeded, map[string]string{"param": "reduce_only", "reason": "order would not reduce the position"})
		}
		v.lots = min(v.lots, r)
	}
	if req.PostOnly {
		opp := e.sideOf(in, !v.buy)
		if crosses(opp, v.buy, v.ticks) {
			if req.RejectPostOnly {
				return Order{}, nil, NewError(CodePostOnlyReject, map[string]string{"param": "price", "reason": "post-only order would take liquidity"})
			}
			t, ok := postOnlyPrice(in, v.buy, v.ticks)
			if !ok {
				return Order{}, nil, NewError(CodePostOnlyReject, map[string]string{"param": "price", "reason": "no valid price inside the spread"})
			}
			v.ticks = t
		}
	}
	if !req.ReduceOnly {
		if err := e.fundsCheck(a, in, v.buy, v.lots); err != nil {
			return Order{}, nil, err
		}
	}
	if v.tif == "fill_or_kill" && liquidity(in, a, v.buy, v.ticks, v.lots) < v.lots {
		return Order{}, nil, NewError(CodeFillOrKillNotFilled, map[string]string{"reason": "not enough liquidity to fill the whole amount"})
	}

	lo := e.newOrder()
	lo.in, lo.acct, lo.buy, lo.market, lo.ticks, lo.lots = in, a, v.buy, v.market, v.ticks, v.lots
	typ := "limit"
	if v.market {
		typ = "market"
	}
	lo.ord = Order{
		OrderID:           e.nextID(in, &e.orderSeq),
		OrderState:        "open",
		OrderType:         typ,
		OriginalOrderType: typ,
		TimeInForce:       v.tif,
		InstrumentName:    in.inst.InstrumentName,
		Direction:         req.Direction,
		Label:             req.Label,
		CreationTimestamp: nowMs,
		PostOnly:          req.PostOnly,
		RejectPostOnly:    req.RejectPostOnly,
		ReduceOnly:        req.ReduceOnly,
		API:               req.API,
		Owner:             req.Owner,
		ConnID:            req.ConnID,
	}
	lo.refresh(nowMs)

	trades := e.match(nowMs, lo)
	e.settleTaker(nowMs, lo)
	out := lo.ord
	if lo.level == nil {
		e.retire(lo)
	}
	e.finishOp(nowMs)
	return out, trades, nil
}

// settleTaker rests or closes an order after it matched, and reports it.
func (e *Engine) settleTaker(nowMs int64, lo *liveOrder) {
	switch {
	case lo.remaining() == 0:
		lo.ord.OrderState = "filled"
	case lo.market || lo.ord.TimeInForce == "immediate_or_cancel" || lo.ord.TimeInForce == "fill_or_kill":
		lo.ord.OrderState = "cancelled"
	default:
		lo.ord.OrderState = "open"
		e.rest(lo)
	}
	lo.refresh(nowMs)
	e.emitOrder(lo)
}

// rest puts an order on its book and the open-order lists.
func (e *Engine) rest(lo *liveOrder) {
	side := e.sideOf(lo.in, lo.buy)
	l := side.levelFor(lo.ticks, &e.freeLevels)
	e.touch(lo.in, lo.buy, l.ticks, l.lots)
	l.push(lo)
	p := &lo.acct.pos[lo.in.idx]
	if lo.buy {
		p.openBuy += lo.remaining()
	} else {
		p.openSell += lo.remaining()
	}
	if _, ok := e.orders[lo.ord.OrderID]; !ok {
		e.orders[lo.ord.OrderID] = lo
		lo.acct.link(lo)
		lo.gprev, lo.gnext = e.gtail, nil
		if e.gtail != nil {
			e.gtail.gnext = lo
		} else {
			e.ghead = lo
		}
		e.gtail = lo
	}
}

// unrest takes an order off its book level (not off the open-order lists).
func (e *Engine) unrest(lo *liveOrder) {
	l := lo.level
	if l == nil {
		return
	}
	side := e.sideOf(lo.in, lo.buy)
	e.touch(lo.in, lo.buy, l.ticks, l.lots)
	p := &lo.acct.pos[lo.in.idx]
	if lo.buy {
		p.openBuy -= lo.remaining()
	} else {
		p.openSell -= lo.remaining()
	}
	l.unlink(lo)
	if l.head == nil {
		side.drop(l, &e.freeLevels)
	}
}

// closeResting removes a resting order from the book and the open lists
// and records it in its owner's history. The caller retires it afterwards.
func (e *Engine) closeResting(lo *liveOrder) {
	e.unrest(lo)
	if _, ok := e.orders[lo.ord.OrderID]; ok {
		delete(e.orders, lo.ord.OrderID)
		lo.acct.unlink(lo)
		if lo.gprev != nil {
			lo.gprev.gnext = lo.gnext
		} else {
			e.ghead = lo.gnext
		}
		if lo.gnext != nil {
			lo.gnext.gprev = lo.gprev
		} else {
			e.gtail = lo.gprev
		}
		lo.gprev, lo.gnext = nil, nil
	}
}

// retire records a closed order in its owner's history and recycles it.
func (e *Engine) retire(lo *liveOrder) {
	lo.acct.remember(lo.ord)
	e.freeOrders = append(e.freeOrders, lo)
}

// touch records a level's amount before the current operation changes it.
func (e *Engine) touch(in *instState, buy bool, ticks, oldLots int64) {
	e.touched = append(e.touched, levelTouch{in: in, buy: buy, ticks: ticks, oldLots: oldLots, n: len(e.touched)})
}

// match executes taker lo against the opposite side and returns the taker's
// trades.
func (e *Engine) match(nowMs int64, lo *liveOrder) []Trade {
	in := lo.in
	opp := e.sideOf(in, !lo.buy)
	var trades []Trade
	for lo.remaining() > 0 {
		l := opp.best()
		if l == nil || (lo.buy && l.ticks > lo.ticks) || (!lo.buy && l.ticks < lo.ticks) {
			break
		}
		m := l.head
		if m.ord.ReduceOnly {
			// A resting reduce-only order is cut, in place, to what its
			// position still allows when the matching reaches it.
			if r := reducible(&m.acct.pos[in.idx], m.buy); r < m.remaining() {
				d := m.remaining() - r
				e.touch(in, m.buy, l.ticks, l.lots)
				l.lots -= d
				pm := &m.acct.pos[in.idx]
				if m.buy {
					pm.openBuy -= d
				} else {
					pm.openSell -= d
				}
				m.lots -= d
				m.refresh(nowMs)
				if r == 0 {
					m.ord.OrderState = "cancelled"
					m.ord.CancelReason = "reduce_only"
					e.closeResting(m)
					e.emitOrder(m)
					e.retire(m)
				} else {
					e.emitOrder(m)
				}
				continue
			}
		}
		q := min(lo.remaining(), m.remaining())
		trades = append(trades, e.execute(nowMs, lo, m, l, q))
	}
	return trades
}

// execute books one execution of q lots between taker t and maker m (at
// the maker's level l) and returns the taker's trade.
func (e *Engine) execute(nowMs int64, t, m *liveOrder, l *bookLevel, q int64) Trade {
	in := t.in
	ticks := m.ticks
	price := in.price(ticks)

	// book
	e.touch(in, m.buy, l.ticks, l.lots)
	l.lots -= q
	m.filled += q
	t.filled += q
	pm := &m.acct.pos[in.idx]
	if m.buy {
		pm.openBuy -= q
	} else {
		pm.openSell -= q
	}
	for _, o := range [2]*liveOrder{t, m} {
		o.sumInv += float64(q) / price
		o.sumPx += float64(q) * price
	}

	// tick direction
	dir := 0
	if in.hasLast {
		switch {
		case ticks > in.lastTicks:
			dir = 0
		case ticks < in.lastTicks:
			dir = 2
		case in.lastDir == 0 || in.lastDir == 1:
			dir = 1
		default:
			dir = 3
		}
	} else {
		in.firstPx = price
		in.high, in.low = price, price
	}
	in.hasLast, in.lastTicks, in.lastDir = true, ticks, dir
	in.high, in.low = math.Max(in.high, price), math.Min(in.low, price)
	amt := in.amount(q)
	idx := e.index[in.inst.BaseCurrency]
	if in.option {
		in.volume += amt
		in.volumeUSD += amt * price * idx
		in.volNotion += amt * idx
	} else {
		in.volume += amt / price
		in.volumeUSD += amt
		in.volNotion += amt
	}
	in.tradeSeq++

	// money: taker first, then maker
	tPnL, tFee := e.book(t.acct, in, t.buy, q, price, in.inst.TakerCommission)
	mPnL, mFee := e.book(m.acct, in, m.buy, q, price, in.inst.MakerCommission)
	t.ord.Commission += tFee
	m.ord.Commission += mFee

	// order states
	t.ord.OrderState = "open"
	if t.remaining() == 0 {
		t.ord.OrderState = "filled"
	}
	m.ord.OrderState = "open"
	if m.remaining() == 0 {
		m.ord.OrderState = "filled"
	}
	t.refresh(nowMs)
	m.refresh(nowMs)

	mark := e.mark(in)
	pub := Trade{
		TradeID:        e.nextID(in, &e.tradeSeq),
		TradeSeq:       in.tradeSeq,
		InstrumentName: in.inst.InstrumentName,
		Direction:      t.ord.Direction,
		Price:          price,
		Amount:         amt,
		Contracts:      in.contracts(q),
		TickDirection:  dir,
		MarkPrice:      mark,
		IndexPrice:     idx,
		Timestamp:      nowMs,
	}
	userTrade := func(o *liveOrder, fee, pnl float64, liq string) Trade {
		tr := pub
		tr.OrderID = o.ord.OrderID
		tr.OrderType = o.ord.OrderType
		tr.Direction = o.ord.Direction
		tr.Fee = fee
		tr.FeeCurrency = in.inst.SettlementCurrency
		tr.Liquidity = liq
		tr.State = o.ord.OrderState
		tr.Label = o.ord.Label
		tr.ProfitLoss = pnl
		tr.PostOnly = o.ord.PostOnly
		tr.ReduceOnly = o.ord.ReduceOnly
		tr.API = o.ord.API
		tr.Owner = o.ord.Owner
		return tr
	}
	f := Fill{
		Maker:  userTrade(m, mFee, mPnL, "M"),
		Taker:  userTrade(t, tFee, tPnL, "T"),
		Public: pub,
	}
	if e.listener != nil {
		e.listener.Filled(f)
	}

	// the maker leaves the book when filled
	if m.remaining() == 0 {
		e.closeResting(m)
		e.emitOrder(m)
		e.retire(m)
	} else {
		e.emitOrder(m)
	}
	return f.Taker
}

// book applies one fill to an account: position, fee and cash. It returns
// the realized PnL and the fee.
func (e *Engine) book(a *ledger, in *instState, buy bool, q int64, price, rate float64) (pnl, fee float64) {
	p := &a.pos[in.idx]
	oldLots := p.lots
	pnl = p.applyFill(in, buy, q, price)
	amt := float64(q) * in.step
	cur := in.inst.SettlementCurrency
	if in.option {
		contracts := amt / in.inst.ContractSize
		fee = rate * contracts
		if fee > 0 {
			fee = math.Min(fee, 0.125*amt*price)
		}
		premium := amt * price
		if buy {
			a.balance[cur] -= premium
		} else {
			a.balance[cur] += premium
		}
	} else {
		fee = amt / price * rate
		a.balance[cur] += pnl
	}
	a.balance[cur] -= fee
	in.oiLots += max(p.lots, 0) - max(oldLots, 0)
	e.notePosition(a, in)
	return pnl, fee
}

func (e *Engine) notePosition(a *ledger, in *instState) {
	for _, k := range e.posChanged {
		if k.a == a && k.in == in {
			return
		}
	}
	e.posChanged = append(e.posChanged, posKey{a, in})
}
