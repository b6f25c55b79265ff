package host

// A plugin's intents: validation, risk limits, and the order manager's
// place, amend and cancel.

import (
	"math"
	"time"

	"github.com/stratbox/stratbox/abi"
)

// intents carries out a call's intents in outbox order; true means the
// plugin is flooding, and then none of them is carried out (abi/README.md
// §15: a faulted call's outbox is discarded). The engine's lock is taken
// per intent, so that the connection's read goroutine, which applies order
// events under it, never waits for a whole outbox.
func (pl *plugin) intents(out []byte, now time.Time) bool {
	if len(out) == 0 {
		return false
	}
	n := 0
	for _, err := range abi.Records(out) {
		if err != nil {
			break // the sandbox checked the framing; nothing after a bad record
		}
		n++
	}
	e := pl.e
	e.mu.Lock() // SetRisk changes the flood limit
	flooding := pl.risk.flooding(now, n)
	e.mu.Unlock()
	if flooding {
		return true
	}
	e.stats.intents.Add(uint64(n))
	pl.intentsN.Add(uint64(n))
	for rec, err := range abi.Records(out) {
		if err != nil {
			break
		}
		e.mu.Lock()
		if pl.tel.cur != nil {
			e.tel.intentStart(pl, rec)
		}
		pl.intent(rec.Bytes, rec.Kind, rec.Seq, now)
		if pl.tel.cur != nil {
			e.tel.intentEnd(pl)
		}
		e.mu.Unlock()
	}
	return false
}

// intent validates one intent, applies the risk limits and hands it to the
// order manager.
func (pl *plugin) intent(rec []byte, kind abi.Kind, seq uint32, now time.Time) {
	switch kind {
	case abi.KindPlace:
		var p abi.Place
		if abi.DecodePlace(rec, &p) != nil {
			pl.refusePlace(&p, abi.ReasonMalformed, p.CID != 0 && pl.used(p.CID), now)
			return
		}
		pl.place(rec, &p, now)
	case abi.KindAmend:
		var a abi.Amend
		if abi.DecodeAmend(rec, &a) != nil {
			pl.refuse(kind, seq, a.CID, abi.NoInstrument, abi.ReasonMalformed, now)
			return
		}
		pl.amend(rec, &a, now)
	case abi.KindCancel:
		var c abi.Cancel
		if abi.DecodeCancel(rec, &c) != nil || !abi.ReservedZero(rec) || c.CID == 0 {
			pl.refuse(kind, seq, c.CID, abi.NoInstrument, abi.ReasonMalformed, now)
			return
		}
		pl.cancel(&c, now)
	case abi.KindCancelAll:
		var c abi.CancelAll
		if abi.DecodeCancelAll(rec, &c) != nil || !abi.ReservedZero(rec) || c.Side > abi.Sell {
			pl.refuse(kind, seq, 0, abi.NoInstrument, abi.ReasonMalformed, now)
			return
		}
		pl.cancelAll(&c, now)
	default:
		pl.refuse(kind, seq, 0, abi.NoInstrument, abi.ReasonUnsupported, now)
	}
}

func (pl *plugin) place(rec []byte, p *abi.Place, now time.Time) {
	r := validatePlace(rec, p, pl.table)
	if p.CID == math.MaxUint64 {
		r = abi.ReasonMalformed // the next instance's first_cid must not wrap
	}
	wasUsed := pl.used(p.CID)
	if r == 0 || r > abi.ReasonMalformed {
		// cids increase within an instance (abi/README.md §11), so the
		// largest used is the whole record of what was used.
		if wasUsed {
			r = abi.ReasonDuplicateCID
		} else {
			pl.maxCID = p.CID
		}
	}
	if r == 0 {
		r = pl.risk.admit(now)
	}
	var ex exposure
	if r == 0 {
		pl.exposure(p.Instrument, &ex)
		r = pl.risk.checkPlace(p, &pl.table[p.Instrument], &ex)
	}
	if r != 0 {
		pl.refusePlace(p, r, wasUsed, now)
		return
	}
	e := pl.e
	if n := e.splitChunks(&pl.table[p.Instrument], p.Amount); n > 1 && p.TIF != abi.FillOrKill {
		pl.placeSplit(p, n, now)
		return
	}
	o := &order{pl: pl, key: orderKey{instance: pl.instance, cid: p.CID}, global: pl.global[p.Instrument], local: p.Instrument,
		side: p.Side, typ: p.Type, tif: p.TIF, flags: p.Flags, price: p.Price, amount: p.Amount,
		state: abi.StatePending, userText: p.Label}
	o.label = e.owner.Label(o.key.instance, o.key.cid, 0)
	e.orders[o.key] = o
	pl.open[o] = struct{}{}
	e.stats.placed.Add(1)
	u := o.update(now, abi.ReasonNone)
	pl.emitOrder(o, &u)
	if pl.tel.cur != nil {
		e.tel.placed(pl, o)
	}
	e.sendPlace(o, p.Seq)
}

// refusePlace reports a refused place: an order_update in state rejected,
// or, when the cid was used before (wasUsed), an intent_rejected, because an
// order_update would speak of the order that has this cid.
func (pl *plugin) refusePlace(p *abi.Place, r abi.Reason, wasUsed bool, now time.Time) {
	if wasUsed {
		pl.refuse(abi.KindPlace, p.Seq, p.CID, p.Instrument, r, now)
		return
	}
	defer pl.e.notify()
	pl.e.stats.refused.Add(1)
	pl.e.tel.refused(pl, r)
	u := abi.OrderUpdate{CID: p.CID, Instrument: p.Instrument, State: abi.StateRejected, Side: p.Side,
		Type: p.Type, TIF: p.TIF, Flags: p.Flags, Reason: r, Time: uint64(now.UnixNano()), Price: p.Price,
		Amount: p.Amount}
	putStr32(&u.Text, "refused by the host: "+r.String())
	pl.scratch = abi.AppendOrderUpdate(pl.scratch[:0], &u)
	pl.inbox.Push(pl.scratch)
}

// refuse reports a refused amend, cancel, cancel_all or unknown intent.
func (pl *plugin) refuse(kind abi.Kind, seq uint32, cid uint64, inst uint32, r abi.Reason, now time.Time) {
	pl.e.stats.refused.Add(1)
	pl.e.tel.refused(pl, r)
	x := abi.IntentRejected{IntentKind: kind, Reason: r, CID: cid, IntentSeq: seq, Instrument: inst,
		Time: uint64(now.UnixNano())}
	putStr32(&x.Text, "refused by the host: "+r.String())
	pl.emitRejected(pl.instance, &x)
}

func (pl *plugin) amend(rec []byte, a *abi.Amend, now time.Time) {
	key := orderKey{instance: pl.instance, cid: a.CID}
	o := pl.e.orders[key]
	s := pl.e.splits[key]
	if s != nil {
		o = &s.view // validated and checked as the plugin sees it
	}
	var r abi.Reason
	inst := uint32(abi.NoInstrument)
	if o != nil {
		inst = o.local
	}
	switch {
	case !abi.ReservedZero(rec) || a.CID == 0 || a.Flags&^(abi.PostOnly|abi.RejectPostOnly|abi.ReduceOnly) != 0:
		r = abi.ReasonMalformed
	case o == nil && pl.used(a.CID):
		r = abi.ReasonNotOpen // it ended
	case o == nil:
		r = abi.ReasonUnknownCID
	case s != nil && s.amendable() != 0:
		r = s.amendable()
	case o.final() || o.state == abi.StatePending || o.unknown:
		r = abi.ReasonNotOpen
	default:
		r = validateAmend(rec, a, o, &pl.table[o.local])
	}
	if r == 0 {
		r = pl.risk.admit(now)
	}
	if r == 0 {
		var ex exposure
		pl.exposure(o.local, &ex)
		r = pl.risk.checkAmend(a, o, &pl.table[o.local], &ex)
	}
	if r != 0 {
		pl.refuse(abi.KindAmend, a.Seq, a.CID, inst, r, now)
		return
	}
	if s != nil {
		pl.amendSplit(s, a)
		return
	}
	if o.inflight || o.wantCancel {
		// One request per order at a time: the amend follows the one in
		// flight (a later amend replaces it; a cancel drops it).
		cp := *a
		o.pendingAmend = &cp
		return
	}
	pl.e.sendAmend(o, a)
	return
}

// cancel and cancelAll pass no rate limit and no kill switch: taking
// risk off is always allowed.
func (pl *plugin) cancel(c *abi.Cancel, now time.Time) {
	key := orderKey{instance: pl.instance, cid: c.CID}
	if s := pl.e.splits[key]; s != nil {
		for _, o := range s.live() {
			pl.e.requestCancel(o)
		}
		return
	}
	o := pl.e.orders[key]
	var r abi.Reason
	inst := uint32(abi.NoInstrument)
	switch {
	case o == nil && pl.used(c.CID):
		r = abi.ReasonNotOpen
	case o == nil:
		r = abi.ReasonUnknownCID
	case o.final():
		r, inst = abi.ReasonNotOpen, o.local
	}
	if r != 0 {
		pl.refuse(abi.KindCancel, c.Seq, c.CID, inst, r, now)
		return
	}
	pl.e.requestCancel(o)
	return
}

func (pl *plugin) cancelAll(c *abi.CancelAll, now time.Time) {
	if c.Instrument != abi.NoInstrument && int64(c.Instrument) >= int64(len(pl.table)) {
		pl.refuse(abi.KindCancelAll, c.Seq, 0, c.Instrument, abi.ReasonUnknownInstrument, now)
		return
	}
	for o := range pl.open {
		if o.key.instance != pl.instance || o.final() ||
			c.Instrument != abi.NoInstrument && o.local != c.Instrument || c.Side != abi.SideNone && o.side != c.Side {
			continue
		}
		pl.e.requestCancel(o)
	}
	return
}

// used reports whether the live instance has used cid (or may not use it).
func (pl *plugin) used(cid uint64) bool { return cid < pl.firstCID || cid <= pl.maxCID }

// exposure sums the plugin's open orders and position for the risk checks.
func (pl *plugin) exposure(inst uint32, ex *exposure) {
	ex.openOrders = len(pl.open)
	if pl.splits > 0 { // a split order is one order, whatever its legs
		ex.openOrders = pl.splits
		for o := range pl.open {
			if o.parent == nil {
				ex.openOrders++
			}
		}
	}
	ex.position = pl.pos[inst].size
	ex.mark = abi.Fixed(pl.e.marks[pl.global[inst]].Load())
	for o := range pl.open {
		rest := o.rest()
		price := o.price
		if o.typ == abi.Market {
			price = abi.Fixed(pl.e.marks[o.global].Load())
		}
		ex.openNotional += notional(&pl.table[o.local], price, rest)
		if o.local != inst {
			continue
		}
		if o.side == abi.Buy {
			ex.openBuy = satAdd(ex.openBuy, rest)
		} else {
			ex.openSell = satAdd(ex.openSell, rest)
		}
	}
}
