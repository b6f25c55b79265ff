package host

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/venue/deribit"
)

// orderKey identifies an order: the plugin instance that placed it and its
// cid (together they are the Deribit label, deribit.EncodeLabel).
type orderKey struct {
	instance uint32
	cid      uint64
}

// order is the order manager's record of one order. Every field is guarded
// by Engine.mu.
type order struct {
	pl       *plugin
	key      orderKey
	label    string
	global   uint32 // instrument index in the engine's table
	local    uint32 // instrument index in the plugin's table
	side     abi.Side
	typ      abi.OrderType
	tif      abi.TimeInForce
	flags    abi.OrderFlags
	price    abi.Fixed
	amount   abi.Fixed
	filled   abi.Fixed // as the exchange last reported it
	avg      abi.Fixed
	state    abi.OrderState
	reason   abi.Reason // last reason reported
	exchID   string
	userText abi.Str32

	inflight     bool             // a request for this order is on its way
	wantCancel   bool             // cancel once the in-flight request completes
	pendingAmend *abi.Amend       // amend once the in-flight request completes
	hostReason   abi.Reason       // a host-initiated cancel's reason (plugin_stopped, plugin_fault, kill_switch)
	unknown      bool             // a request timed out: the exchange's state is not known
	accounted    abi.Fixed        // filled amount delivered as fill events
	seen         []uint64         // trade_seq of the fills delivered
	deferred     *abi.OrderUpdate // an update whose filled amount is ahead of the fills delivered
}

func (o *order) final() bool {
	return o.state == abi.StateFilled || o.state == abi.StateCancelled || o.state == abi.StateRejected
}

// rest is the unfilled amount.
func (o *order) rest() abi.Fixed { return o.amount - o.filled }

// update renders o as an order_update with reason r.
func (o *order) update(now time.Time, r abi.Reason) abi.OrderUpdate {
	u := abi.OrderUpdate{CID: o.key.cid, Instrument: o.local, State: o.state, Side: o.side, Type: o.typ,
		TIF: o.tif, Flags: o.flags, Reason: r, Time: uint64(now.UnixNano()), Price: o.price, Amount: o.amount,
		FilledAmount: o.filled, AvgPrice: o.avg}
	copy(u.ExchangeOrderID[:], o.exchID)
	return u
}

// request is one call to the exchange about an order.
type request struct {
	o      *order
	method string
	params []byte
	what   abi.Kind // the intent it carries out: place, amend or cancel
	seq    uint32   // the intent's seq, for intent_rejected
	amend  abi.Amend
}

// placeParams renders a place's params for private/buy or private/sell.
func placeParams(dst []byte, name string, o *order) []byte {
	dst = append(dst, `{"instrument_name":`...)
	dst = strconv.AppendQuote(dst, name)
	dst = append(dst, `,"amount":`...)
	dst = abi.AppendFixed(dst, o.amount)
	if o.typ == abi.Market {
		dst = append(dst, `,"type":"market"`...)
	} else {
		dst = append(dst, `,"type":"limit","price":`...)
		dst = abi.AppendFixed(dst, o.price)
	}
	dst = append(dst, `,"label":`...)
	dst = strconv.AppendQuote(dst, o.label)
	dst = append(dst, `,"time_in_force":"`...)
	dst = append(dst, tifNames[o.tif]...)
	dst = append(dst, '"')
	return appendFlags(dst, o.flags, true)
}

var tifNames = [...]string{abi.GoodTilCancelled: "good_til_cancelled", abi.GoodTilDay: "good_til_day",
	abi.ImmediateOrCancel: "immediate_or_cancel", abi.FillOrKill: "fill_or_kill"}

func appendFlags(dst []byte, f abi.OrderFlags, close bool) []byte {
	if f&abi.PostOnly != 0 {
		dst = append(dst, `,"post_only":true`...)
	}
	if f&abi.RejectPostOnly != 0 {
		dst = append(dst, `,"reject_post_only":true`...)
	}
	if f&abi.ReduceOnly != 0 {
		dst = append(dst, `,"reduce_only":true`...)
	}
	if close {
		dst = append(dst, '}')
	}
	return dst
}

func editParams(o *order, a *abi.Amend) []byte {
	dst := append([]byte(nil), `{"order_id":`...)
	dst = strconv.AppendQuote(dst, o.exchID)
	dst = append(dst, `,"amount":`...)
	dst = abi.AppendFixed(dst, a.Amount)
	dst = append(dst, `,"price":`...)
	dst = abi.AppendFixed(dst, a.Price)
	return appendFlags(dst, a.Flags, true)
}

func cancelParams(o *order) (method string, params []byte) {
	if o.exchID == "" {
		p := append([]byte(nil), `{"label":`...)
		return "private/cancel_by_label", append(strconv.AppendQuote(p, o.label), '}')
	}
	p := append([]byte(nil), `{"order_id":`...)
	return "private/cancel", append(strconv.AppendQuote(p, o.exchID), '}')
}

// send issues req on its own goroutine; the order is marked in flight.
// Called with e.mu held.
func (e *Engine) send(req request) {
	req.o.inflight = true
	e.reqs.Add(1)
	e.stats.requests.Add(1)
	go e.do(req)
}

func (e *Engine) do(req request) {
	defer e.reqs.Done()
	ctx, cancel := context.WithTimeout(e.life, e.cfg.RequestTimeout)
	raw, err := e.ex.CallRaw(ctx, req.method, req.params)
	cancel()
	now := e.clk.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	o := req.o
	o.inflight = false
	if err != nil {
		e.requestFailed(req, err, now)
	} else {
		e.applyResult(raw, now)
	}
	e.followUp(o, now)
}

// followUp sends what waited for the order's in-flight request or for its
// acknowledgement: a cancel, or else the latest amend.
func (e *Engine) followUp(o *order, now time.Time) {
	if o.inflight || o.final() || o.state == abi.StatePending && !o.unknown {
		return
	}
	switch {
	case o.wantCancel:
		o.wantCancel, o.pendingAmend = false, nil
		e.sendCancel(o)
	case o.pendingAmend != nil:
		a := o.pendingAmend
		o.pendingAmend = nil
		e.sendAmend(o, a)
	}
}

func (e *Engine) sendAmend(o *order, a *abi.Amend) {
	e.send(request{o: o, method: "private/edit", params: editParams(o, a), what: abi.KindAmend, seq: a.Seq, amend: *a})
}

func (e *Engine) sendCancel(o *order) {
	method, params := cancelParams(o)
	e.send(request{o: o, method: method, params: params, what: abi.KindCancel})
}

// requestCancel cancels o now, or as soon as its in-flight request or its
// acknowledgement allows. Called with e.mu held.
func (e *Engine) requestCancel(o *order) {
	if o.inflight || o.state == abi.StatePending && !o.unknown {
		o.wantCancel = true
		return
	}
	e.sendCancel(o)
}

// applyResult turns a buy/sell/edit/cancel result into the records a
// notification would give and applies them.
func (e *Engine) applyResult(raw json.RawMessage, now time.Time) {
	buf, _, err := e.rtr.AppendOrderResult(e.rbuf[:0], raw, now.UnixNano())
	e.rbuf = buf
	if err != nil {
		e.stats.malformed.Add(1)
		e.log.Warn("order result not understood", "err", err)
		return
	}
	e.applyRecords(buf, e.rtr.Routes(), now)
}

// requestFailed handles an order request that failed.
func (e *Engine) requestFailed(req request, err error, now time.Time) {
	o := req.o
	var rpc *conn.RPCError
	var rej deribit.Reject
	switch {
	case errors.As(err, &rpc):
		rej = deribit.RejectFromError(rpc.Code, rpc.Message)
	case errors.Is(err, conn.ErrNotSent), errors.Is(err, conn.ErrClosed), errors.Is(err, conn.ErrStale):
		rej = deribit.Reject{Reason: abi.ReasonNoConnection}
		putStr32(&rej.Text, "not sent: no connection")
	default: // sent, no answer: the order's state is not known
		rej = deribit.Reject{Reason: abi.ReasonTimeout}
		putStr32(&rej.Text, "no answer from the exchange")
		if req.what == abi.KindPlace {
			o.unknown = true
			u := o.update(now, abi.ReasonTimeout)
			u.Text = rej.Text
			o.pl.emitOrder(o, &u)
			return
		}
	}
	e.log.Info("order request refused", "plugin", o.pl.name, "cid", o.key.cid, "method", req.method, "err", err,
		"reason", rej.Reason.String(), "code", rej.ExchangeCode, "text", rej.Text.String())
	if req.what == abi.KindPlace {
		o.state = abi.StateRejected
		u := o.update(now, rej.Reason)
		u.ExchangeCode, u.Text = rej.ExchangeCode, rej.Text
		e.finish(o)
		e.stats.rejected.Add(1)
		o.pl.emitOrder(o, &u)
		return
	}
	x := abi.IntentRejected{IntentKind: req.what, CID: o.key.cid, IntentSeq: req.seq, Instrument: o.local,
		Time: uint64(now.UnixNano())}
	rej.ApplyToIntent(&x)
	if rpc != nil && (rpc.Code == deribit.CodeNotOpenOrder || rpc.Code == deribit.CodeOrderNotFound) {
		x.Reason = abi.ReasonNotOpen
	}
	o.pl.emitRejected(o.key.instance, &x)
}

func putStr32(dst *abi.Str32, s string) { *dst = abi.NewStr32(s) }

// applyRecords applies order_update and fill records (from a notification
// or a response) to the orders they belong to and forwards them to their
// plugins. routes says which instance owns each record. Called with e.mu
// held.
func (e *Engine) applyRecords(buf []byte, routes []deribit.Route, now time.Time) {
	for _, rt := range routes {
		if rt.Instance == deribit.NoInstance {
			continue // a position or a foreign order
		}
		rec := buf[rt.Offset:]
		h := abi.ReadHeader(rec)
		rec = rec[:h.Size]
		switch h.Kind {
		case abi.KindOrderUpdate:
			var u abi.OrderUpdate
			if abi.DecodeOrderUpdate(rec, &u) != nil {
				continue
			}
			if o := e.orders[orderKey{rt.Instance, u.CID}]; o != nil {
				e.applyUpdate(o, &u, now)
			} else {
				e.stats.unknownOrders.Add(1)
			}
		case abi.KindFill:
			var f abi.Fill
			if abi.DecodeFill(rec, &f) != nil {
				continue
			}
			if o := e.orders[orderKey{rt.Instance, f.CID}]; o != nil {
				e.applyFill(o, &f, now)
			} else {
				e.stats.unknownOrders.Add(1)
			}
		}
	}
}

// applyUpdate applies the exchange's view of an order. An update that
// reports more filled than the fills delivered so far waits for them, so
// that the plugin always sees a fill before the order_update that counts it.
func (e *Engine) applyUpdate(o *order, u *abi.OrderUpdate, now time.Time) {
	if o.final() {
		return
	}
	if u.FilledAmount > o.accounted {
		cp := *u
		o.deferred = &cp
		return
	}
	o.deferred = nil
	if u.ExchangeOrderID[0] != 0 {
		o.exchID = u.ExchangeOrderID.String()
	}
	reason := u.Reason
	switch u.State {
	case abi.StateCancelled:
		if o.hostReason != 0 {
			reason = o.hostReason
		}
	case abi.StateRejected:
		e.stats.rejected.Add(1)
	case abi.StateFilled:
		e.stats.filled.Add(1)
	}
	changed := u.State != o.state || u.Price != o.price || u.Amount != o.amount || u.FilledAmount != o.filled || o.unknown
	wasPending := o.state == abi.StatePending
	o.state, o.price, o.amount, o.filled, o.avg, o.unknown = u.State, u.Price, u.Amount, u.FilledAmount, u.AvgPrice, false
	if u.State == abi.StateCancelled {
		e.stats.cancelled.Add(1)
	}
	if o.final() {
		e.finish(o)
	}
	if !changed {
		return
	}
	if wasPending && o.state == abi.StateOpen {
		e.stats.acked.Add(1)
	}
	out := o.update(now, reason)
	out.Time = u.Time
	out.ExchangeCode, out.Text = u.ExchangeCode, u.Text
	o.pl.emitOrder(o, &out)
	e.followUp(o, now)
}

// applyFill applies one fill of o: once per trade.
func (e *Engine) applyFill(o *order, f *abi.Fill, now time.Time) {
	if f.TradeSeq != 0 { // 0: a fill reconstructed after a reconnect
		for _, s := range o.seen {
			if s == f.TradeSeq {
				return
			}
		}
		o.seen = append(o.seen, f.TradeSeq)
	}
	o.accounted += f.Amount
	e.stats.fills.Add(1)
	pl := o.pl
	out := *f
	out.Instrument = o.local
	pos := pl.applyFill(o.local, o.side, f.Price, f.Amount, f.Fee)
	pl.emitFill(o, &out)
	pl.emitPosition(o.local, pos, now)
	if d := o.deferred; d != nil && o.accounted >= d.FilledAmount {
		e.applyUpdate(o, d, now)
	}
}

// finish takes a final order out of its plugin's open orders.
func (e *Engine) finish(o *order) {
	pl := o.pl
	if _, ok := pl.open[o]; ok {
		delete(pl.open, o)
	}
}

// cancelOpen cancels every order of pl (every plugin when pl is nil) that
// is not final, with a host reason. Called with e.mu held.
func (e *Engine) cancelOpen(pl *plugin, reason abi.Reason, now time.Time) int {
	n := 0
	for _, p := range e.plugins {
		if pl != nil && p != pl {
			continue
		}
		for o := range p.open {
			if o.final() {
				continue
			}
			n++
			o.hostReason = reason
			e.requestCancel(o)
		}
	}
	return n
}

// resync verifies every order the engine believes live against the
// exchange, after the connection was lost and restored: notifications sent
// while it was down are lost, and cancel-on-disconnect has cancelled the
// orders it carried. Each order is read back (private/get_order_state, or by
// label when the exchange's id is not known) and its state applied; fills
// the engine missed are reconstructed (trade_seq 0, at the order's average
// price) so that the plugin's position stays right.
func (e *Engine) resync() {
	e.mu.Lock()
	var list []*order
	for _, pl := range e.plugins {
		for o := range pl.open {
			if !o.final() && !o.inflight {
				o.inflight = true // no other request for it meanwhile
				list = append(list, o)
			}
		}
	}
	e.mu.Unlock()
	for _, o := range list {
		e.resyncOrder(o)
	}
	e.notify()
}

func (e *Engine) resyncOrder(o *order) {
	ctx, cancel := context.WithTimeout(e.life, e.cfg.RequestTimeout)
	defer cancel()
	var raw json.RawMessage
	var err error
	if o.exchID != "" {
		p := append([]byte(`{"order_id":`), strconv.Quote(o.exchID)...)
		raw, err = e.ex.CallRaw(ctx, "private/get_order_state", append(p, '}'))
	} else {
		in := &o.pl.table[o.local]
		p := append([]byte(`{"currency":`), strconv.Quote(in.BaseCurrency.String())...)
		p = append(append(p, `,"label":`...), strconv.Quote(o.label)...)
		raw, err = e.ex.CallRaw(ctx, "private/get_order_state_by_label", append(p, '}'))
		if err == nil {
			var arr []json.RawMessage
			if json.Unmarshal(raw, &arr) == nil {
				raw = nil
				if len(arr) > 0 {
					raw = arr[len(arr)-1]
				}
			}
		}
	}
	now := e.clk.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	o.inflight = false
	switch {
	case err != nil:
		var rpc *conn.RPCError
		if errors.As(err, &rpc) && rpc.Code == deribit.CodeOrderNotFound {
			e.lost(o, now)
		} else {
			e.log.Warn("order state not verified after a reconnect", "plugin", o.pl.name, "cid", o.key.cid, "err", err)
		}
	case raw == nil:
		e.lost(o, now)
	default:
		buf, _, derr := e.rtr.AppendOrderResult(e.rbuf[:0], raw, now.UnixNano())
		e.rbuf = buf
		if derr != nil {
			e.stats.malformed.Add(1)
			break
		}
		for _, rt := range e.rtr.Routes() {
			rec := buf[rt.Offset:]
			var u abi.OrderUpdate
			if abi.ReadHeader(rec).Kind != abi.KindOrderUpdate || abi.DecodeOrderUpdate(rec, &u) != nil || u.CID != o.key.cid {
				continue
			}
			if missed := u.FilledAmount - o.accounted; missed > 0 {
				e.applyFill(o, &abi.Fill{CID: o.key.cid, Instrument: o.local, Side: o.side, Time: u.Time,
					Price: u.AvgPrice, Amount: missed}, now)
			}
			e.applyUpdate(o, &u, now)
		}
	}
	e.followUp(o, now)
}

// lost ends an order the exchange does not know (never placed, or gone).
func (e *Engine) lost(o *order, now time.Time) {
	o.state = abi.StateCancelled
	e.finish(o)
	e.stats.cancelled.Add(1)
	u := o.update(now, abi.ReasonCancelOnDisconnect)
	putStr32(&u.Text, "not on the exchange after a reconnect")
	o.pl.emitOrder(o, &u)
}
