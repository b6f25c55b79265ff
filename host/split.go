package host

import (
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/venue/deribit"
)

// split is one plugin order that the engine carries as several exchange
// orders, its legs, each on its own connection (pool policy split), so that
// the loss of one connection cancels only part of it. The plugin sees one
// order: its updates are the legs' folded together (fold), and every leg's
// fill is a fill of it. Each leg is an ordinary order of the order manager
// (key.chunk 1..n, label sbx:<host>:<run>:<instance>:<cid>.<chunk>): requests, one at a
// time per leg; verification and re-placement after a lost connection,
// never twice; late fills. Guarded by Engine.mu.
type split struct {
	view order // the plugin's view, as last told: key, instrument, side, type, state, amounts
	legs []*order
	// rejectedSeq is the seq of the last intent refused on one of the
	// legs: the other legs' refusals of the same intent are not repeated.
	rejectedSeq uint32
	// amending is the seq of the amend last spread over the legs, and undo
	// each live leg's terms before it. When one leg refuses it, the others
	// are amended back (rollback): the plugin is told the amend was
	// refused, so its order must keep the terms it had, on every leg.
	amending   uint32
	undo       map[*order]abi.Amend
	rolledBack uint32 // the seq of the amend last rolled back
}

// splitChunks returns into how many legs a place of amount should be split
// (1: not split): by the pool's rule, in multiples of the instrument's
// minimum amount.
func (e *Engine) splitChunks(in *abi.Instrument, amount abi.Fixed) int {
	rule, ok := e.pool.(interface{ SplitRule() (float64, int) })
	if !ok {
		return 1
	}
	above, n := rule.SplitRule()
	if n < 2 || !(above > 0) || amount.Float64() <= above {
		return 1
	}
	n = min(n, deribit.MaxChunks)
	if step := in.MinAmount; step > 0 {
		n = int(min(int64(n), int64(amount/step)))
	}
	return max(n, 1)
}

// shares divides amount into n parts that are multiples of step (when
// positive), as equal as they can be, larger ones first; none is zero
// unless amount is smaller than n steps (then fewer parts are returned).
func shares(amount, step abi.Fixed, n int) []abi.Fixed {
	if step <= 0 {
		step = 1
	}
	units := int64(amount / step)
	if int64(n) > units {
		n = int(max(units, 1))
	}
	out := make([]abi.Fixed, n)
	base, extra := units/int64(n), units%int64(n)
	for i := range out {
		u := base
		if int64(i) < extra {
			u++
		}
		out[i] = abi.Fixed(u) * step
	}
	out[n-1] += amount - abi.Fixed(units)*step // a remainder below one step (validation forbids it)
	return out
}

// placeSplit places p as n legs on different pool members. Called with
// e.mu held.
func (pl *plugin) placeSplit(p *abi.Place, n int, now time.Time) {
	e := pl.e
	in := &pl.table[p.Instrument]
	s := &split{view: order{pl: pl, key: orderKey{instance: pl.instance, cid: p.CID}, global: pl.global[p.Instrument],
		local: p.Instrument, side: p.Side, typ: p.Type, tif: p.TIF, flags: p.Flags, price: p.Price, amount: p.Amount,
		state: abi.StatePending, userText: p.Label}}
	for i, amount := range shares(p.Amount, in.MinAmount, n) {
		leg := s.view
		leg.key.chunk = uint8(i + 1)
		leg.amount = amount
		leg.parent = s
		leg.label = e.owner.Label(leg.key.instance, leg.key.cid, leg.key.chunk)
		o := &leg
		s.legs = append(s.legs, o)
		e.orders[o.key] = o
		pl.open[o] = struct{}{}
	}
	e.splits[s.view.key] = s
	pl.splits++
	e.stats.placed.Add(1)
	e.stats.splits.Add(1)
	u := s.view.update(now, abi.ReasonNone)
	pl.emitOrder(&s.view, &u)
	for _, o := range s.legs {
		e.sendPlace(o, p.Seq)
	}
}

// members returns the pool members that carry o's live siblings (bit i:
// member i), which a leg being placed should avoid.
func (s *split) members(o *order) uint64 {
	var m uint64
	for _, l := range s.legs {
		if l != o && !l.final() && l.conn >= 0 && (l.exchID != "" || l.inflight) {
			m |= 1 << uint(l.conn)
		}
	}
	return m
}

// live returns the legs that are not final.
func (s *split) live() []*order {
	var out []*order
	for _, l := range s.legs {
		if !l.final() {
			out = append(out, l)
		}
	}
	return out
}

// fold computes the plugin's view of the order from its legs. While a leg
// is live, the amount is what is or was working: the live legs' amounts
// and the final legs' filled amounts (a leg cancelled by a lost connection
// and not re-placed, or refused, shrinks it). At the end it is the whole
// order again: rejected if every leg was refused, filled only if every leg
// filled, cancelled otherwise (a refused leg included).
func (s *split) fold() (v order) {
	v = s.view
	var amount, filled, all abi.Fixed
	var value float64
	live, open, rejected := 0, 0, 0
	v.exchID = ""
	for _, l := range s.legs {
		filled += l.filled
		value += l.avg.Float64() * l.filled.Float64()
		all += l.amount
		if l.state == abi.StateRejected && l.filled == 0 {
			rejected++
			continue
		}
		if l.final() {
			amount += l.filled
			continue
		}
		amount += l.amount
		live++
		if l.state == abi.StateOpen {
			open++
		}
		v.price, v.flags = l.price, l.flags
		if v.exchID == "" {
			v.exchID = l.exchID
		}
	}
	v.filled, v.avg = filled, 0
	if filled > 0 {
		v.avg, _ = abi.FixedFromFloat(value / filled.Float64())
	}
	switch {
	case live > 0:
		v.amount = amount
		v.state = abi.StatePending
		if open > 0 || s.view.state == abi.StateOpen { // once open, a leg being (re-)placed does not make it pending again
			v.state = abi.StateOpen
		}
	case rejected == len(s.legs):
		v.amount, v.state = s.view.amount, abi.StateRejected
	default:
		v.amount, v.state = all, abi.StateCancelled
		if filled == all {
			v.state = abi.StateFilled
		}
	}
	if v.exchID == "" && len(s.legs) > 0 {
		v.exchID = s.legs[len(s.legs)-1].exchID
	}
	return v
}

// legChanged tells the plugin what a leg's update u changes in its order:
// an update when the folded view changed, or when a leg lost with its
// connection is being re-placed (the plugin learns why). Called with e.mu
// held.
func (s *split) legChanged(o *order, u *abi.OrderUpdate) {
	v := s.fold()
	was := &s.view
	changed := v.state != was.state || v.amount != was.amount || v.filled != was.filled || v.price != was.price ||
		v.flags != was.flags
	// A leg being re-placed is news even when the folded view is the same:
	// when it goes, and when it is back (or ends).
	lost := u.Reason == abi.ReasonCancelOnDisconnect && u.State == abi.StatePending
	back := o.replacing && u.State != abi.StatePending
	o.replacing = lost || o.replacing && !back
	if !changed && !lost && !back {
		return
	}
	s.view = v
	out := v.update(time.Unix(0, int64(u.Time)), u.Reason)
	out.ExchangeCode, out.Text = u.ExchangeCode, u.Text
	if back && u.State == abi.StateOpen {
		out.ExchangeOrderID = u.ExchangeOrderID
		putStr32(&out.Text, "part re-placed after a lost connection")
	}
	s.view.pl.emitOrder(&s.view, &out)
	if v.final() {
		delete(o.pl.e.splits, s.view.key)
		o.pl.splits--
	}
}

// amendSplit carries out a (validated, admitted) amend of a split order:
// the new price on every live leg, and the new unfilled rest spread over
// them in the same way as a place; a leg whose share is nothing is
// cancelled. Called with e.mu held.
func (pl *plugin) amendSplit(s *split, a *abi.Amend) {
	live := s.live()
	rest := a.Amount - s.view.filled
	parts := shares(rest, pl.table[s.view.local].MinAmount, len(live))
	s.amending, s.undo = a.Seq, make(map[*order]abi.Amend, len(live))
	for _, o := range live {
		s.undo[o] = abi.Amend{CID: a.CID, Price: o.price, Amount: o.amount, Flags: o.flags}
	}
	for i, o := range live {
		if i >= len(parts) {
			pl.e.requestCancel(o)
			continue
		}
		la := *a
		la.Amount = o.filled + parts[i]
		if o.inflight || o.wantCancel {
			o.pendingAmend = &la
			continue
		}
		pl.e.sendAmend(o, &la)
	}
}

// amendable reports why a split order cannot be amended now (0: it can).
func (s *split) amendable() abi.Reason {
	if s.view.final() || s.view.state == abi.StatePending {
		return abi.ReasonNotOpen
	}
	for _, o := range s.live() {
		if o.state == abi.StatePending || o.unknown {
			return abi.ReasonNotOpen // a leg is being placed or re-placed
		}
	}
	return 0
}

// rollback amends back, after leg refused the amend seq, the other legs
// that took it or are taking it; a leg that has not sent it yet drops it.
// A leg the amend cancelled (its share was nothing) stays cancelled: the
// order is then smaller, as the plugin's next update says. Called with
// e.mu held.
func (s *split) rollback(refused *order, seq uint32) {
	if seq == 0 || seq != s.amending {
		return
	}
	s.amending, s.rolledBack = 0, seq
	e := refused.pl.e
	for _, l := range s.legs {
		u, ok := s.undo[l]
		if l == refused || !ok || l.final() || l.cancelSent {
			continue
		}
		switch {
		case l.pendingAmend != nil && l.pendingAmend.Seq == seq:
			l.pendingAmend = nil // not sent: nothing to undo
		case l.inflight:
			l.pendingAmend = &u // after its amend's answer
		default:
			e.sendAmend(l, &u)
		}
	}
	s.undo = nil
	e.log.Info("split order: an amend refused on one leg, the others amended back", "plugin", refused.pl.name,
		"cid", refused.key.cid, "seq", seq)
}
