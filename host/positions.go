package host

// A plugin's positions from its fills, and the order events it is sent.

import (
	"math"
	"time"

	"github.com/stratbox/stratbox/abi"
)

// position is the plugin's own position on one instrument, from its fills.
type position struct {
	size     abi.Fixed
	avg      float64
	realized float64
	fees     float64
	inverse  bool
}

// applyFill books a fill into the plugin's position: average cost, and
// realized PnL on the part that reduces the position (in the quote
// currency, or for inverse instruments in the settlement currency).
func (pl *plugin) applyFill(inst uint32, side abi.Side, price, amount, fee abi.Fixed) *position {
	p := &pl.pos[inst]
	q := amount
	if side == abi.Sell {
		q = -q
	}
	px := price.Float64()
	p.fees += fee.Float64()
	switch {
	case p.size == 0 || (p.size > 0) == (q > 0): // opening or adding
		tot := math.Abs(p.size.Float64()) + math.Abs(q.Float64())
		if p.inverse && px > 0 && p.avg > 0 { // inverse: the average is harmonic
			p.avg = tot / (math.Abs(p.size.Float64())/p.avg + math.Abs(q.Float64())/px)
		} else {
			p.avg = (p.avg*math.Abs(p.size.Float64()) + px*math.Abs(q.Float64())) / tot
		}
		p.size += q
	default: // reducing, maybe flipping
		closed := math.Min(math.Abs(p.size.Float64()), math.Abs(q.Float64()))
		dir := 1.0
		if p.size < 0 {
			dir = -1
		}
		if p.inverse {
			if p.avg > 0 && px > 0 {
				p.realized += dir * closed * (1/p.avg - 1/px)
			}
		} else {
			p.realized += dir * closed * (px - p.avg)
		}
		p.size += q
		switch {
		case p.size == 0:
			p.avg = 0
		case (p.size > 0) != (dir > 0): // flipped: the rest opened at px
			p.avg = px
		}
	}
	return p
}

// positionRecord renders the plugin's position on inst, with unrealized
// PnL at the last mark price.
func (pl *plugin) positionRecord(inst uint32, now time.Time) abi.Position {
	p := &pl.pos[inst]
	out := abi.Position{Instrument: inst, Time: uint64(now.UnixNano()), Size: p.size}
	out.AvgPrice, _ = abi.FixedFromFloat(p.avg)
	out.RealizedPnL, _ = abi.FixedFromFloat(p.realized - p.fees)
	if mark := abi.Fixed(pl.e.marks[pl.global[inst]].Load()).Float64(); mark > 0 && p.avg > 0 {
		var u float64
		if p.inverse {
			u = p.size.Float64() * (1/p.avg - 1/mark)
		} else {
			u = p.size.Float64() * (mark - p.avg)
		}
		out.UnrealizedPnL, _ = abi.FixedFromFloat(u)
	}
	return out
}

// The emit functions push order events to the plugin's inbox; events of an
// earlier instance's orders are not delivered to the live one. Called with
// e.mu held.

func (pl *plugin) emitOrder(o *order, u *abi.OrderUpdate) {
	if o.parent != nil {
		o.parent.legChanged(o, u) // the plugin sees its order, not the legs
		return
	}
	defer pl.e.notify()
	if o.owner() != pl.instance {
		return
	}
	pl.scratch = abi.AppendOrderUpdate(pl.scratch[:0], u)
	pl.inbox.Push(pl.scratch)
}

func (pl *plugin) emitFill(o *order, f *abi.Fill) {
	defer pl.e.notify()
	if o.owner() != pl.instance {
		return
	}
	pl.scratch = abi.AppendFill(pl.scratch[:0], f)
	pl.inbox.Push(pl.scratch)
}

func (pl *plugin) emitPosition(inst uint32, _ *position, now time.Time) {
	p := pl.positionRecord(inst, now)
	pl.scratch = abi.AppendPosition(pl.scratch[:0], &p)
	pl.inbox.Push(pl.scratch)
}

func (pl *plugin) emitRejected(instance uint32, x *abi.IntentRejected) {
	defer pl.e.notify()
	if instance != pl.instance {
		return
	}
	pl.scratch = abi.AppendIntentRejected(pl.scratch[:0], x)
	pl.inbox.Push(pl.scratch)
}
