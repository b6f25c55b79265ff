package host

import (
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/venue/deribit"
)

// This file applies what the exchange says about orders (notifications
// and responses): updates, fills, and the end of an order.

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
			if o := e.orders[orderKey{rt.Instance, u.CID, rt.Chunk}]; o != nil {
				e.applyUpdate(o, &u, now)
			} else {
				e.stats.unknownOrders.Add(1)
				e.log.Debug("update of an order not open in the engine", "instance", rt.Instance, "cid", u.CID,
					"state", u.State.String(), "filled", u.FilledAmount.String(), "id", u.ExchangeOrderID.String())
			}
		case abi.KindFill:
			var f abi.Fill
			if abi.DecodeFill(rec, &f) != nil {
				continue
			}
			if o := e.orders[orderKey{rt.Instance, f.CID, rt.Chunk}]; o != nil {
				e.applyFill(o, &f, rt.OrderID, now)
			} else if o := e.recent[orderKey{rt.Instance, f.CID, rt.Chunk}]; o != nil {
				e.applyFill(o, &f, rt.OrderID, now) // once per trade, like any fill
			} else {
				e.stats.unknownOrders.Add(1)
				e.log.Debug("fill of an order not open in the engine", "instance", rt.Instance, "cid", f.CID,
					"amount", f.Amount.String(), "seq", f.TradeSeq)
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
	if len(o.oldIDs) > 0 && u != o.deferred {
		id := u.ExchangeOrderID.Bytes()
		for _, old := range o.oldIDs {
			if string(id) == old {
				return // about the order it had before it was re-placed
			}
		}
		if o.base > 0 {
			u = o.pluginView(u)
		}
	}
	if !o.sameExchangeOrder(u.ExchangeOrderID.Bytes()) {
		e.stats.unknownOrders.Add(1)
		e.log.Warn("an update with this order's label is about another exchange order: ignored", "plugin", o.pl.name,
			"cid", o.key.cid, "label", o.label, "id", o.exchID, "other", u.ExchangeOrderID.String())
		return
	}
	// A response applied after newer notifications is stale: it must not
	// undo them (nor drop an update waiting for its fills).
	if u.FilledAmount < o.filled || u.Time < o.updated {
		return
	}
	if d := o.deferred; d != nil && d != u && (u.FilledAmount < d.FilledAmount || u.Time < d.Time) {
		return
	}
	if u.FilledAmount > o.accounted {
		cp := *u
		if o.deferred == nil && !o.inflight {
			// Its fills normally follow at once; if they were lost with a
			// connection, the order's state read back reconstructs them.
			e.retryVerify(o)
		}
		o.deferred = &cp
		return
	}
	o.deferred = nil
	spent := false // cancelled by a lost connection, but re-placed as often as allowed
	if u.State == abi.StateCancelled && (u.Reason == abi.ReasonCancelOnDisconnect || o.relocating) &&
		e.relay && !e.stopping.Load() && o.hostReason == 0 && !o.wantCancel && !o.cancelSent &&
		u.FilledAmount < u.Amount {
		if o.replacements < e.maxReestablish() {
			e.relocate(o, u, now)
			return
		}
		spent = true
	}
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
		e.tel.orderRejected(o, u.ExchangeCode)
	case abi.StateFilled:
		e.stats.filled.Add(1)
	}
	changed := u.State != o.state || u.Price != o.price || u.Amount != o.amount || u.FilledAmount != o.filled || o.unknown
	wasPending := o.state == abi.StatePending
	o.state, o.price, o.amount, o.filled, o.avg, o.unknown = u.State, u.Price, u.Amount, u.FilledAmount, u.AvgPrice, false
	o.flags, o.updated = u.Flags, u.Time
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
	if spent {
		// Its connection's loss ended it, even when the engine cancelled it
		// itself (the exchange had not yet when it looked).
		out.Reason = abi.ReasonCancelOnDisconnect
		e.log.Warn("an order cancelled by a lost connection is not re-placed: re-placed too often", "plugin", o.pl.name,
			"cid", o.key.cid, "replacements", o.replacements)
		putStr32(&out.Text, o.spentText())
	}
	o.pl.emitOrder(o, &out)
	e.followUp(o, now)
}

// applyFill applies one fill of o: once per trade. exchID is the exchange
// order the trade belongs to (nil: not known).
func (e *Engine) applyFill(o *order, f *abi.Fill, exchID []byte, now time.Time) {
	if !o.sameExchangeOrder(exchID) {
		e.stats.unknownOrders.Add(1)
		e.log.Warn("a fill with this order's label is of another exchange order: ignored", "plugin", o.pl.name,
			"cid", o.key.cid, "label", o.label, "id", o.exchID, "other", string(exchID))
		return
	}
	if f.TradeSeq != 0 { // 0: a fill reconstructed after a reconnect
		for _, s := range o.seen {
			if s == f.TradeSeq {
				return
			}
		}
		o.seen = append(o.seen, f.TradeSeq)
		// A late notification of a fill already reconstructed — of the
		// same exchange order: a re-placed order's own fills are new.
		if take := o.takeSynth(exchID, f.Amount); take > 0 {
			if take == f.Amount {
				return
			}
			cp := *f
			cp.Amount -= take
			f = &cp
		}
	}
	o.accounted += f.Amount
	o.value += f.Price.Float64() * f.Amount.Float64()
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

// finish takes a final order out of its plugin's open orders and out of
// the engine's index (later events about it are counted as unknown; an
// amend or cancel of its cid is refused not_open, from the plugin's cid
// high-water mark).
func (e *Engine) finish(o *order) {
	e.log.Debug("order final", "plugin", o.pl.name, "cid", o.key.cid, "state", o.state.String(), "id", o.exchID,
		"filled", o.filled.String())
	e.uncarry(o)
	delete(o.pl.open, o)
	if e.orders[o.key] == o {
		delete(e.orders, o.key)
		// Kept a while for fills that arrive after the final update (an
		// order whose outcome was not known when its connection died).
		if len(e.recentQ) >= maxRecent {
			delete(e.recent, e.recentQ[0])
			e.recentQ = e.recentQ[1:]
		}
		e.recent[o.key] = o
		e.recentQ = append(e.recentQ, o.key)
	}
}

// uncarry tells the pool that o's member no longer carries it (once).
func (e *Engine) uncarry(o *order) {
	if o.carried && e.pool != nil {
		e.pool.Carry(o.conn, -1)
	}
	o.carried = false
}

// maxRecent bounds the final orders kept for late fills.
const maxRecent = 4096

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
