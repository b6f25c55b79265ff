package deribit

import (
	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn/jsonscan"
)

// orderView is one order object (deribit.md §4) with strings as raw views
// of the input and numbers as abi.Fixed.
type orderView struct {
	id, instrument, label, cancelReason []byte
	state, direction, tif, otype        []byte
	price, amount, filled, avg          abi.Fixed
	marketPrice                         bool
	updated, created                    int64
	postOnly, rejectPostOnly, reduce    bool
}

func decodeOrderView(s *jsonscan.Scanner, v *orderView) bool {
	*v = orderView{}
	if !s.Object() {
		return false
	}
	for {
		k, ok := s.Key()
		if !ok {
			break
		}
		switch string(k) {
		case "order_id":
			v.id, ok = text(s)
		case "instrument_name":
			v.instrument, ok = text(s)
		case "label":
			v.label, ok = text(s)
		case "cancel_reason":
			v.cancelReason, ok = text(s)
		case "order_state":
			v.state, ok = text(s)
		case "direction":
			v.direction, ok = text(s)
		case "time_in_force":
			v.tif, ok = text(s)
		case "order_type":
			v.otype, ok = text(s)
		case "price":
			if s.Peek() == jsonscan.String {
				var p []byte
				if p, ok = s.String(); ok {
					if string(p) == "market_price" {
						v.marketPrice = true
					} else {
						ok = s.Fail("price is neither a number nor market_price")
					}
				}
			} else {
				v.price, ok = fixed(s)
			}
		case "amount":
			v.amount, ok = fixed(s)
		case "filled_amount":
			v.filled, ok = fixed(s)
		case "average_price":
			v.avg, ok = fixed(s)
		case "last_update_timestamp":
			v.updated, ok = integer(s)
		case "creation_timestamp":
			v.created, ok = integer(s)
		case "post_only":
			v.postOnly, ok = boolean(s)
		case "reject_post_only":
			v.rejectPostOnly, ok = boolean(s)
		case "reduce_only":
			v.reduce, ok = boolean(s)
		default:
			_, ok = s.Skip()
		}
		if !ok {
			return s.Fail("order " + string(k))
		}
	}
	return s.Err() == nil
}

// StateFromText maps Deribit's order_state to an abi state:
//
//	open → open, filled → filled, cancelled → cancelled,
//	rejected → rejected, untriggered → pending, triggered → open
//
// (trigger orders are not part of the ABI; the host never places them, but a
// foreign one may show up). ok is false for a value not in Deribit's list.
func StateFromText(state []byte) (abi.OrderState, bool) {
	switch string(state) {
	case "open", "triggered":
		return abi.StateOpen, true
	case "filled":
		return abi.StateFilled, true
	case "cancelled":
		return abi.StateCancelled, true
	case "rejected":
		return abi.StateRejected, true
	case "untriggered":
		return abi.StatePending, true
	}
	return 0, false
}

// ReasonFromCancel maps a cancelled order's cancel_reason to an abi reason:
//
//	user_request          → cancel_requested (the order manager overrides it
//	                        with plugin_stopped, plugin_fault or kill_switch
//	                        when the host itself asked)
//	cancel_on_disconnect  → cancel_on_disconnect
//	none (empty or null) on an immediate_or_cancel or fill_or_kill or market
//	                        order → unfilled (the rest of the order)
//	anything else (mmp_trigger, settlement, autoliquidation, risk_mitigation,
//	reduce_only, edit_post_only_reject, position_locked, …, or none on a
//	resting order)        → exchange_cancel, with the cancel_reason in text
func ReasonFromCancel(cancelReason []byte, tif abi.TimeInForce, typ abi.OrderType) abi.Reason {
	switch string(cancelReason) {
	case "user_request":
		return abi.ReasonCancelRequested
	case "cancel_on_disconnect":
		return abi.ReasonCancelOnDisconnect
	case "":
		if tif == abi.ImmediateOrCancel || tif == abi.FillOrKill || typ == abi.Market {
			return abi.ReasonUnfilled
		}
	}
	return abi.ReasonExchangeCancel
}

func tifOf(b []byte) abi.TimeInForce {
	switch string(b) {
	case "good_til_cancelled":
		return abi.GoodTilCancelled
	case "good_til_day":
		return abi.GoodTilDay
	case "immediate_or_cancel":
		return abi.ImmediateOrCancel
	case "fill_or_kill":
		return abi.FillOrKill
	}
	return 0
}

// typeOf maps order_type: limit and the limit-priced trigger types to limit,
// the rest (market, stop_market, take_market, market_limit, trailing_stop)
// to market.
func typeOf(b []byte) abi.OrderType {
	switch string(b) {
	case "limit", "stop_limit", "take_limit":
		return abi.Limit
	case "":
		return 0
	}
	return abi.Market
}

// orderUpdate builds the order_update of v. ours is false for a foreign
// order (then cid 0 and instance NoInstance).
func (t *Translator) orderUpdate(v *orderView, recvNs int64) (o abi.OrderUpdate, instance uint32, chunk uint8, ours, ok bool) {
	state, ok := StateFromText(v.state)
	if !ok {
		return o, 0, 0, false, false
	}
	instance, cid, chunk, ours := t.Owner.Decode(v.label)
	if !ours {
		instance = NoInstance
	}
	inst, known := t.tab.Lookup(v.instrument)
	if !known {
		inst = abi.NoInstrument
	}
	o = abi.OrderUpdate{CID: cid, Instrument: inst, State: state, Side: side(v.direction),
		Type: typeOf(v.otype), TIF: tifOf(v.tif), Time: nsOr(v.updated, recvNs),
		Price: v.price, Amount: v.amount, FilledAmount: v.filled, AvgPrice: v.avg}
	if v.marketPrice || o.Type == abi.Market {
		o.Price = 0
	}
	if o.FilledAmount == 0 {
		o.AvgPrice = 0
	}
	if v.postOnly {
		o.Flags |= abi.PostOnly
	}
	if v.rejectPostOnly {
		o.Flags |= abi.RejectPostOnly
	}
	if v.reduce {
		o.Flags |= abi.ReduceOnly
	}
	switch state {
	case abi.StateCancelled:
		o.Reason = ReasonFromCancel(v.cancelReason, o.TIF, o.Type)
		putText(&o.Text, v.cancelReason)
	case abi.StateRejected:
		o.Reason = abi.ReasonExchangeError
		putText(&o.Text, v.cancelReason)
	}
	putText(&o.ExchangeOrderID, v.id)
	return o, instance, chunk, ours, true
}

// appendOrder appends v's order_update unless it is foreign and foreign
// orders are not kept.
func (t *Translator) appendOrder(dst []byte, v *orderView, recvNs int64) ([]byte, bool) {
	o, instance, chunk, ours, ok := t.orderUpdate(v, recvNs)
	if !ok {
		return dst, false
	}
	a := &t.acc
	if !ours {
		a.foreign++
		if !t.KeepForeign {
			return dst, true
		}
	} else {
		a.ours++
		a.owner(instance)
	}
	t.routes = append(t.routes, Route{Offset: len(dst), Instance: instance, Chunk: chunk})
	dst = abi.AppendOrderUpdate(dst, &o)
	a.add(abi.KindOrderUpdate, o.Instrument)
	return dst, true
}

// appendFill appends the fill of a user trade v unless it is foreign and
// foreign fills are not kept.
func (t *Translator) appendFill(dst []byte, v *tradeView, recvNs int64) []byte {
	instance, cid, chunk, ours := t.Owner.Decode(v.label)
	a := &t.acc
	if !ours {
		instance = NoInstance
		a.foreign++
		if !t.KeepForeign {
			return dst
		}
	} else {
		a.ours++
		a.owner(instance)
	}
	inst, known := t.tab.Lookup(v.instrument)
	if !known {
		inst = abi.NoInstrument
	}
	f := abi.Fill{CID: cid, Instrument: inst, Side: side(v.direction), Time: nsOr(v.ts, recvNs),
		TradeSeq: uint64(v.seq), Price: v.price, Amount: v.amount, Fee: v.fee}
	switch string(v.liquidity) {
	case "M":
		f.Liquidity = abi.Maker
	case "T":
		f.Liquidity = abi.Taker
	}
	putStr(f.FeeCurrency[:], v.feeCurrency)
	t.routes = append(t.routes, Route{Offset: len(dst), Instance: instance, Chunk: chunk, OrderID: v.orderID})
	dst = abi.AppendFill(dst, &f)
	a.add(abi.KindFill, inst)
	return dst
}

// positionView is one position object of private/get_positions or
// user.changes.
type positionView struct {
	instrument          []byte
	size, avg, rpl, fpl abi.Fixed
}

func decodePosition(s *jsonscan.Scanner, v *positionView) bool {
	*v = positionView{}
	if !s.Object() {
		return false
	}
	for {
		k, ok := s.Key()
		if !ok {
			break
		}
		switch string(k) {
		case "instrument_name":
			v.instrument, ok = text(s)
		case "size":
			v.size, ok = fixed(s)
		case "average_price":
			v.avg, ok = fixed(s)
		case "realized_profit_loss":
			v.rpl, ok = fixed(s)
		case "floating_profit_loss":
			v.fpl, ok = fixed(s)
		default:
			_, ok = s.Skip()
		}
		if !ok {
			return s.Fail("position " + string(k))
		}
	}
	return s.Err() == nil
}

// appendPosition appends v as an account position (flag account) when its
// instrument is in the table.
func (t *Translator) appendPosition(dst []byte, v *positionView, recvNs int64) []byte {
	inst, known := t.tab.Lookup(v.instrument)
	if !known {
		return dst
	}
	p := abi.Position{Instrument: inst, Flags: abi.PositionAccount, Time: nsOr(0, recvNs),
		Size: v.size, AvgPrice: v.avg, RealizedPnL: v.rpl, UnrealizedPnL: v.fpl}
	t.routes = append(t.routes, Route{Offset: len(dst), Instance: NoInstance})
	dst = abi.AppendPosition(dst, &p)
	t.acc.positions++
	t.acc.add(abi.KindPosition, inst)
	return dst
}

type userKind uint8

const (
	userOrders userKind = iota
	userTrades
	userChanges
)

// finish turns the accumulated counts into the Class of an order-bearing
// call.
func (a *accum) finish() Class {
	c := a.cls
	switch {
	case a.ours > 0:
		c.Kind = ClassOrder
		if a.positions > 0 || a.foreign > 0 && c.N > a.ours {
			c.Instance = NoInstance
		}
	case a.positions > 0:
		c.Kind = ClassPosition
		c.Instance = NoInstance
		c.Key = ConflationKey(StreamPosition, c.Instrument)
	case a.foreign > 0:
		c.Kind = ClassForeign
		c.Instance = NoInstance
	default:
		c.Kind = ClassUnknown
		c.Instance = NoInstance
	}
	return c
}

func orderFail(what string, s *jsonscan.Scanner) (Class, error) {
	return Class{Kind: ClassOrder, Instrument: abi.NoInstrument, Instance: NoInstance}, decodeErr(what, s)
}

// orders appends the order_updates of a single order object or an array of
// them.
func (t *Translator) orders(dst []byte, s *jsonscan.Scanner, recvNs int64) ([]byte, bool) {
	var v orderView
	if s.Peek() == jsonscan.Object {
		if !decodeOrderView(s, &v) {
			return dst, false
		}
		return t.appendOrder(dst, &v, recvNs)
	}
	if !s.Array() {
		return dst, false
	}
	for s.Elem() {
		if !decodeOrderView(s, &v) {
			return dst, false
		}
		var ok bool
		if dst, ok = t.appendOrder(dst, &v, recvNs); !ok {
			return dst, s.Fail("unknown order_state")
		}
	}
	return dst, s.Err() == nil
}

// fills appends the fills of an array of user trades.
func (t *Translator) fills(dst []byte, s *jsonscan.Scanner, recvNs int64) ([]byte, bool) {
	if !s.Array() {
		return dst, false
	}
	var v tradeView
	for s.Elem() {
		if !decodeTrade(s, &v) {
			return dst, false
		}
		dst = t.appendFill(dst, &v, recvNs)
	}
	return dst, s.Err() == nil
}

// positions appends the positions of an array of position objects.
func (t *Translator) positions(dst []byte, s *jsonscan.Scanner, recvNs int64) ([]byte, bool) {
	if !s.Array() {
		return dst, false
	}
	var v positionView
	for s.Elem() {
		if !decodePosition(s, &v) {
			return dst, false
		}
		dst = t.appendPosition(dst, &v, recvNs)
	}
	return dst, s.Err() == nil
}

// userData translates user.orders, user.trades and user.changes.
func (t *Translator) userData(dst, data []byte, recvNs int64, kind userKind) ([]byte, Class, error) {
	var s jsonscan.Scanner
	s.Reset(data)
	t.acc.reset()
	n0 := len(dst)
	var ok bool
	what := "user.orders"
	switch kind {
	case userOrders:
		dst, ok = t.orders(dst, &s, recvNs)
		if ok && s.Err() != nil {
			ok = false
		}
		if !ok && s.Err() == nil {
			s.Fail("unknown order_state")
		}
	case userTrades:
		what = "user.trades"
		dst, ok = t.fills(dst, &s, recvNs)
	case userChanges:
		what = "user.changes"
		dst, ok = t.changes(dst, &s, recvNs)
	}
	if !ok || !s.End() {
		t.routes = t.routes[:0]
		c, err := orderFail(what, &s)
		return dst[:n0], c, err
	}
	return dst, t.acc.finish(), nil
}

// changes translates user.changes data {instrument_name, trades, orders,
// positions}: fills first, then order updates (abi/README.md §12: a fill,
// then the order_update that includes it), then positions.
func (t *Translator) changes(dst []byte, s *jsonscan.Scanner, recvNs int64) ([]byte, bool) {
	if !s.Object() {
		return dst, false
	}
	var trades, orders, positions []byte
	for {
		k, ok := s.Key()
		if !ok {
			break
		}
		switch string(k) {
		case "trades":
			trades, ok = s.Skip()
		case "orders":
			orders, ok = s.Skip()
		case "positions":
			positions, ok = s.Skip()
		default:
			_, ok = s.Skip()
		}
		if !ok {
			return dst, false
		}
	}
	if s.Err() != nil {
		return dst, false
	}
	var sub jsonscan.Scanner
	ok := true
	if trades != nil && ok {
		sub.Reset(trades)
		dst, ok = t.fills(dst, &sub, recvNs)
	}
	if orders != nil && ok {
		sub.Reset(orders)
		dst, ok = t.orders(dst, &sub, recvNs)
	}
	if positions != nil && ok {
		sub.Reset(positions)
		dst, ok = t.positions(dst, &sub, recvNs)
	}
	if !ok {
		if sub.Err() != nil {
			s.Fail(sub.Err().Error())
		} else {
			s.Fail("bad user.changes member")
		}
	}
	return dst, ok
}

// AppendOrderResult translates the result of private/buy, private/sell or
// private/edit ({order, trades}: a fill per trade, then the order's
// order_update) or of private/cancel (the bare order object: one
// order_update), so that the order manager turns a response into the same
// records a notification would give. The Class and Routes are as for
// AppendNotification (ClassForeign when the order has no label of ours).
// On an error dst is returned unchanged; errors wrap ErrDecode.
func (t *Translator) AppendOrderResult(dst, raw []byte, recvNs int64) ([]byte, Class, error) {
	t.routes = t.routes[:0]
	t.acc.reset()
	n0 := len(dst)
	var s jsonscan.Scanner
	s.Reset(raw)
	wrapped := false
	if s.Object() {
		if k, ok := s.Key(); ok && (string(k) == "order" || string(k) == "trades") {
			wrapped = true
		}
	}
	s.Reset(raw)
	ok := true
	if wrapped {
		var order, trades []byte
		s.Object()
		for {
			k, more := s.Key()
			if !more {
				break
			}
			switch string(k) {
			case "order":
				order, ok = s.Skip()
			case "trades":
				trades, ok = s.Skip()
			default:
				_, ok = s.Skip()
			}
			if !ok {
				break
			}
		}
		ok = ok && s.End()
		var sub jsonscan.Scanner
		if ok && trades != nil {
			sub.Reset(trades)
			dst, ok = t.fills(dst, &sub, recvNs)
		}
		if ok && order != nil {
			sub.Reset(order)
			var v orderView
			if ok = decodeOrderView(&sub, &v) && sub.End(); ok {
				if dst, ok = t.appendOrder(dst, &v, recvNs); !ok {
					sub.Fail("unknown order_state")
				}
			}
		}
		if !ok && sub.Err() != nil {
			s.Fail(sub.Err().Error())
		}
	} else {
		var v orderView
		if ok = decodeOrderView(&s, &v) && s.End(); ok {
			if dst, ok = t.appendOrder(dst, &v, recvNs); !ok {
				s.Fail("unknown order_state")
			}
		}
	}
	if !ok {
		t.routes = t.routes[:0]
		c, err := orderFail("order result", &s)
		return dst[:n0], c, err
	}
	return dst, t.acc.finish(), nil
}

// AppendPositions translates the result of private/get_positions (an array
// of position objects) into position records with flag account (the
// account's position as the exchange reports it: size signed in the amount
// unit, average_price, realized_profit_loss, floating_profit_loss as
// unrealized PnL), ts recvNs (Deribit's position has no time). Instruments
// not in the table are skipped. Routes are NoInstance. On an error dst is
// returned unchanged; errors wrap ErrDecode.
func (t *Translator) AppendPositions(dst, raw []byte, recvNs int64) ([]byte, error) {
	t.routes = t.routes[:0]
	t.acc.reset()
	var s jsonscan.Scanner
	s.Reset(raw)
	out, ok := t.positions(dst, &s, recvNs)
	if !ok || !s.End() {
		t.routes = t.routes[:0]
		return dst, decodeErr("positions", &s)
	}
	return out, nil
}
