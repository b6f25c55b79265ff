package host

import (
	"strconv"
	"time"

	"github.com/stratbox/stratbox/abi"
)

// This file re-establishes an order that cancel-on-disconnect cancelled:
// its unfilled rest is re-placed under the same cid on a healthy
// connection (RATIONALE.md "Why does the pool spread orders this way, and
// why can an order never be live twice?").

// pluginView turns an update of a re-placed order's exchange order (which
// knows only the rest) into the plugin's view of the whole order.
func (o *order) pluginView(u *abi.OrderUpdate) *abi.OrderUpdate {
	cp := *u
	cp.Amount += o.base
	cp.FilledAmount += o.base
	if cp.FilledAmount > 0 {
		if avg, ok := abi.FixedFromFloat((o.baseValue + u.AvgPrice.Float64()*u.FilledAmount.Float64()) / cp.FilledAmount.Float64()); ok {
			cp.AvgPrice = avg
		}
	}
	return &cp
}

// maxReestablish is Config.MaxReestablish, or its default.
func (e *Engine) maxReestablish() int {
	if e.cfg.MaxReestablish <= 0 {
		return DefaultMaxReestablish
	}
	return e.cfg.MaxReestablish
}

// spentText is the text of an order that cancel-on-disconnect cancelled
// once more after it was re-placed Config.MaxReestablish times.
func (o *order) spentText() string {
	return "connection lost: re-placed " + strconv.Itoa(o.replacements) + "x, not again"
}

// relocate re-places the unfilled rest of o, which cancel-on-disconnect
// cancelled (u, in the plugin's view, says so, or the verification after
// its connection's loss did), on a healthy connection under the same cid:
// after every loss (up to Config.MaxReestablish times), each time only now
// that the exchange has confirmed the old order is cancelled, so that the
// order is never live twice. The plugin sees pending with reason
// cancel_on_disconnect, then open again.
func (e *Engine) relocate(o *order, u *abi.OrderUpdate, now time.Time) {
	e.log.Debug("re-placing an order cancelled by a lost connection", "plugin", o.pl.name, "cid", o.key.cid,
		"old", o.exchID, "conn", o.conn, "replacements", o.replacements)
	e.tel.relocate(o) // its failover's trace, if tracing
	o.replaced, o.relocating = true, false
	o.replacements++
	o.placeTries = 0 // each re-placement waits its full time for a connection
	if o.exchID != "" {
		o.oldIDs = append(o.oldIDs, o.exchID)
	}
	if id := string(u.ExchangeOrderID.Bytes()); id != "" && id != o.exchID {
		o.oldIDs = append(o.oldIDs, id)
	}
	o.exchID = ""
	// What filled before the next exchange order: all of it, the earlier
	// exchange orders' too (u is the plugin's view of the whole order).
	o.base, o.baseValue = u.FilledAmount, u.AvgPrice.Float64()*u.FilledAmount.Float64()
	o.filled, o.avg, o.updated = u.FilledAmount, u.AvgPrice, 0
	o.state = abi.StatePending
	e.stats.relocated.Add(1)
	e.uncarry(o)
	out := o.update(now, abi.ReasonCancelOnDisconnect)
	putStr32(&out.Text, "connection lost: re-placing")
	o.pl.emitOrder(o, &out)
	// Not on the connection it was lost with, even if the pool has not
	// heard of the loss yet.
	e.sendPlaceTry(o, 0, 1<<uint(o.conn))
}
