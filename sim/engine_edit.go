package sim

// Cancelling and editing orders (see engine.go).

// lookupOwned finds owner's order: the resting one, or nil and whether it
// is in the owner's closed history.
func (e *Engine) lookupOwned(owner, id string) (*liveOrder, *Order) {
	if lo, ok := e.orders[id]; ok {
		if lo.ord.Owner == owner {
			return lo, nil
		}
		return nil, nil
	}
	if a, ok := e.accounts[owner]; ok {
		if o, ok := a.closed[id]; ok {
			return nil, &o
		}
	}
	return nil, nil
}

func orderNotFound() *Error {
	return NewError(CodeOrderNotFound, map[string]string{"param": "order_id", "reason": "order not found"})
}

func notOpen() *Error {
	return NewError(CodeNotOpenOrder, map[string]string{"param": "order_id", "reason": "order is not open"})
}

// Cancel cancels owner's open order. reason becomes cancel_reason (e.g.
// "user_request"). Unknown ids and other owners' orders are 10004; closed
// orders 11044.
func (e *Engine) Cancel(nowMs int64, owner, orderID, reason string) (Order, *Error) {
	e.touchTime(nowMs)
	lo, closed := e.lookupOwned(owner, orderID)
	if lo == nil {
		if closed != nil {
			return Order{}, notOpen()
		}
		return Order{}, orderNotFound()
	}
	out := e.cancel(nowMs, lo, reason)
	e.finishOp(nowMs)
	return out, nil
}

func (e *Engine) cancel(nowMs int64, lo *liveOrder, reason string) Order {
	e.closeResting(lo)
	lo.ord.OrderState = "cancelled"
	lo.ord.CancelReason = reason
	lo.refresh(nowMs)
	e.emitOrder(lo)
	out := lo.ord
	e.retire(lo)
	return out
}

// CancelMatching cancels every open order for which match returns true
// (match must not change the order) and returns them in creation order.
// One BookChanged per instrument follows the OrderChanged calls.
func (e *Engine) CancelMatching(nowMs int64, reason string, match func(*Order) bool) []Order {
	e.touchTime(nowMs)
	var out []Order
	for lo := e.ghead; lo != nil; {
		next := lo.gnext
		if match == nil || match(&lo.ord) {
			out = append(out, e.cancel(nowMs, lo, reason))
		}
		lo = next
	}
	e.finishOp(nowMs)
	return out
}

// Edit changes the amount and/or price of owner's open order (private/edit);
// see the package rules above for priority. The returned order has
// Replaced = true; trades are those the edited order took.
func (e *Engine) Edit(nowMs int64, req EditRequest) (Order, []Trade, *Error) {
	e.touchTime(nowMs)
	lo, closed := e.lookupOwned(req.Owner, req.OrderID)
	if lo == nil {
		if closed != nil {
			return Order{}, nil, notOpen()
		}
		return Order{}, nil, orderNotFound()
	}
	in := lo.in
	lots := lo.lots
	if req.Amount != 0 || req.Contracts != 0 {
		var err *Error
		if lots, err = parseAmount(in, req.Amount, req.Contracts); err != nil {
			return Order{}, nil, err
		}
	}
	if lots <= lo.filled {
		return Order{}, nil, NewError(CodeInvalidAmount, map[string]string{"param": "amount", "reason": "must exceed filled_amount"})
	}
	ticks := lo.ticks
	if req.HasPrice {
		var err *Error
		if ticks, err = e.parsePrice(in, lo.buy, req.Price); err != nil {
			return Order{}, nil, err
		}
	}
	postOnly := lo.ord.PostOnly || req.PostOnly
	rejectPO := lo.ord.RejectPostOnly || req.RejectPostOnly
	reduceOnly := lo.ord.ReduceOnly || req.ReduceOnly
	p := &lo.acct.pos[in.idx]
	if reduceOnly {
		r := reducible(p, lo.buy)
		if r == 0 {
			return Order{}, nil, NewError(CodeReduceOnlyExceeded, map[string]string{"param": "reduce_only", "reason": "order would not reduce the position"})
		}
		lots = min(lots, lo.filled+r)
	}
	if postOnly && crosses(e.sideOf(in, !lo.buy), lo.buy, ticks) {
		if rejectPO {
			lo.ord.Replaced = true
			e.cancel(nowMs, lo, "edit_post_only_reject")
			e.finishOp(nowMs)
			return Order{}, nil, NewError(CodePostOnlyReject, map[string]string{"param": "price", "reason": "post-only order would take liquidity"})
		}
		t, ok := postOnlyPrice(in, lo.buy, ticks)
		if !ok {
			return Order{}, nil, NewError(CodePostOnlyReject, map[string]string{"param": "price", "reason": "no valid price inside the spread"})
		}
		ticks = t
	}
	newRem := lots - lo.filled
	if !reduceOnly {
		if err := e.fundsCheck(lo.acct, in, lo.buy, newRem-lo.remaining()); err != nil {
			return Order{}, nil, err
		}
	}

	lo.ord.PostOnly, lo.ord.RejectPostOnly, lo.ord.ReduceOnly = postOnly, rejectPO, reduceOnly
	lo.ord.Replaced = true
	var trades []Trade
	if ticks == lo.ticks && newRem <= lo.remaining() {
		// Same price, not larger: keeps its queue position.
		l := lo.level
		d := lo.remaining() - newRem
		if d > 0 {
			e.touch(in, lo.buy, l.ticks, l.lots)
			l.lots -= d
			if lo.buy {
				p.openBuy -= d
			} else {
				p.openSell -= d
			}
		}
		lo.lots = lots
		lo.refresh(nowMs)
		e.emitOrder(lo)
	} else {
		e.unrest(lo)
		lo.ticks, lo.lots = ticks, lots
		lo.refresh(nowMs)
		trades = e.match(nowMs, lo)
		if lo.remaining() == 0 {
			lo.ord.OrderState = "filled"
			e.closeResting(lo)
			lo.refresh(nowMs)
			e.emitOrder(lo)
		} else {
			e.rest(lo)
			lo.refresh(nowMs)
			e.emitOrder(lo)
		}
	}
	out := lo.ord
	if lo.level == nil {
		e.retire(lo)
	}
	e.finishOp(nowMs)
	return out, trades, nil
}
