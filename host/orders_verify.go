package host

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/venue/deribit"
)

// This file reads orders back from the exchange: after a lost connection
// (resync), after a request whose outcome is unknown (verify), and retries
// of both; and ends the orders the exchange does not have (lost).

// resync verifies every order the engine believes live against the
// exchange, after the connection was lost and restored: notifications sent
// while it was down are lost, and cancel-on-disconnect has cancelled the
// orders it carried. Each order is read back (concurrently) and its state
// applied; fills the engine missed are reconstructed so that the plugin's
// position stays right.
func (e *Engine) resync() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, pl := range e.plugins {
		for o := range pl.open {
			e.verify(o)
		}
	}
}

// verify reads o's state back from the exchange, unless a request for it
// is in flight (whose answer will tell). Called with e.mu held.
func (e *Engine) verify(o *order) {
	if o.final() || o.inflight {
		return
	}
	gen := o.begin() // no other request for it meanwhile
	e.log.Debug("verifying an order", "plugin", o.pl.name, "cid", o.key.cid, "id", o.exchID, "relocating", o.relocating)
	c := stateCall(o)
	e.spawn(func() { e.verifyDone(o, c, gen) })
}

func (e *Engine) verifyDone(o *order, c deribit.Call, gen uint64) {
	ctx, cancel := context.WithTimeout(e.life, e.cfg.RequestTimeout)
	raw, err := e.ex.CallRaw(ctx, c.Method, c.Params)
	cancel()
	now := e.clk.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if o.tr != nil {
		defer e.tel.verified(o, err) // a failover follows it
	}
	if gen != o.gen {
		e.log.Debug("verification answered after something newer: ignored", "plugin", o.pl.name, "cid", o.key.cid, "err", err)
		return // something newer was sent for it meanwhile (a re-placement): this answer is stale
	}
	o.end(gen)
	if err == nil && c.ByLabel {
		raw = e.latestByLabel(o, raw)
	}
	var rpc *conn.RPCError
	switch {
	case (err != nil && errors.As(err, &rpc) && rpc.Code == deribit.CodeOrderNotFound || err == nil && raw == nil) &&
		o.unknown && o.exchID == "" && o.absentChecks < maxAbsentChecks && !e.stopping.Load():
		// A place sent on a connection that died may still be carried
		// out after this query on another connection: look again a little
		// later before taking "not there" for an answer.
		o.absentChecks++
		e.later(o, absentCheckDelay, func() { e.verify(o) })
		return
	case err != nil && errors.As(err, &rpc) && rpc.Code == deribit.CodeOrderNotFound, err == nil && raw == nil:
		e.lost(o, now, "not on the exchange")
	case err != nil:
		e.log.Info("order state not verified yet", "plugin", o.pl.name, "cid", o.key.cid, "err", err)
		e.retryVerify(o)
		return
	default:
		e.applyState(o, raw, now)
		e.log.Debug("order state read back", "plugin", o.pl.name, "cid", o.key.cid, "id", o.exchID, "state", o.state.String(),
			"filled", o.filled.String(), "accounted", o.accounted.String(), "deferred", o.deferred != nil, "relocating", o.relocating)
		if o.relocating && !o.final() && o.state == abi.StateOpen {
			// Its connection is gone but the exchange has not cancelled it
			// (yet): cancel it here, then re-place it (relocating).
			e.sendCancel(o)
			return
		}
	}
	e.followUp(o, now)
}

// applyState applies an order object read back from the exchange,
// reconstructing the fills the engine did not hear of (trade_seq 0, at the
// average price of the missing part).
func (e *Engine) applyState(o *order, raw json.RawMessage, now time.Time) {
	buf, _, err := e.rtr.AppendOrderResult(e.rbuf[:0], raw, now.UnixNano())
	e.rbuf = buf
	if err != nil {
		e.stats.malformed.Add(1)
		return
	}
	for _, rt := range e.rtr.Routes() {
		rec := buf[rt.Offset:]
		var u abi.OrderUpdate
		if abi.ReadHeader(rec).Kind != abi.KindOrderUpdate || abi.DecodeOrderUpdate(rec, &u) != nil || u.CID != o.key.cid ||
			rt.Chunk != o.key.chunk {
			continue
		}
		// The exchange order a re-placed order has now knows only the rest:
		// what the plugin has been told counts what filled before (base).
		view := &u
		if o.base > 0 && !slices.Contains(o.oldIDs, u.ExchangeOrderID.String()) {
			view = o.pluginView(&u)
		}
		if missed := view.FilledAmount - o.accounted; missed > 0 {
			px := view.AvgPrice
			if v := view.AvgPrice.Float64()*view.FilledAmount.Float64() - o.value; v > 0 {
				if p, ok := abi.FixedFromFloat(v / missed.Float64()); ok {
					px = p
				}
			}
			o.synth = append(o.synth, synthFill{id: u.ExchangeOrderID.String(), amount: missed})
			e.applyFill(o, &abi.Fill{CID: o.key.cid, Instrument: o.local, Side: o.side, Time: u.Time,
				Price: px, Amount: missed}, nil, now)
		}
		e.applyUpdate(o, &u, now) // converts to the plugin's view itself
	}
}

// retryVerify verifies o again a little later: the exchange could not be
// asked (no healthy connection), and its answer is the only way to learn
// what happened to an order whose connection was lost. Called with e.mu
// held.
func (e *Engine) retryVerify(o *order) {
	if o.final() || e.stopping.Load() {
		return
	}
	o.verifyTries++
	e.later(o, min(time.Duration(o.verifyTries)*verifyRetryDelay, time.Second), func() { e.verify(o) })
}

// later runs f for o after d, with e.mu held, unless o is final by then;
// meanwhile o counts as having a request in flight (nothing else is sent
// for it) and Run waits for it. Called with e.mu held.
func (e *Engine) later(o *order, d time.Duration, f func()) {
	e.log.Debug("retry later", "plugin", o.pl.name, "cid", o.key.cid, "after", d, "inflight", o.inflight)
	gen := o.begin()
	e.reqs.add()
	e.clk.AfterFunc(d, func() {
		defer e.done()
		e.mu.Lock()
		defer e.mu.Unlock()
		o.end(gen)
		if !o.final() {
			f()
		}
	})
}

const (
	// An order whose place was not answered and that the exchange does
	// not list is looked for maxAbsentChecks more times, absentCheckDelay
	// apart, before it is taken as never placed.
	maxAbsentChecks  = 2
	absentCheckDelay = 250 * time.Millisecond
	verifyRetryDelay = 50 * time.Millisecond
	maxPlaceTries    = 40 // a re-placement waits up to ~40 s for a connection
)

// lost ends an order the exchange does not have (never placed, or gone).
func (e *Engine) lost(o *order, now time.Time, why string) {
	if o.final() {
		return
	}
	e.log.Debug("order not on the exchange", "plugin", o.pl.name, "cid", o.key.cid, "why", why, "id", o.exchID,
		"relocating", o.relocating, "replacements", o.replacements, "unknown", o.unknown)
	// Re-placed only when the exchange knew it (its id): an order whose
	// place was sent but never answered and that the exchange does not list
	// by label was most likely never received, but the exchange lists only
	// "recent" orders by label, and an order must never be live twice.
	if o.relocating && o.exchID != "" && e.relay && !e.stopping.Load() && o.hostReason == 0 &&
		!o.wantCancel && !o.cancelSent {
		if o.replacements < e.maxReestablish() {
			u := o.update(now, abi.ReasonCancelOnDisconnect)
			e.relocate(o, &u, now)
			return
		}
		e.log.Warn("an order cancelled by a lost connection is not re-placed: re-placed too often", "plugin", o.pl.name,
			"cid", o.key.cid, "replacements", o.replacements)
		why = o.spentText()
	}
	o.state = abi.StateCancelled
	e.finish(o)
	e.stats.cancelled.Add(1)
	r := abi.ReasonCancelOnDisconnect
	if o.unknown && o.exchID == "" {
		r, why = abi.ReasonTimeout, "outcome unknown: not re-placed"
	}
	if o.hostReason != 0 {
		r = o.hostReason
	} else if o.wantCancel {
		r = abi.ReasonCancelRequested
	}
	u := o.update(now, r)
	putStr32(&u.Text, why)
	o.pl.emitOrder(o, &u)
}

// retryCancel tries a host-initiated cancel again a little later (at most
// a few times): a kill switch or a stopped plugin's orders must not stay
// on the book because one request failed. Called with e.mu held.
func (e *Engine) retryCancel(o *order) {
	if o.final() || o.cancelTries >= maxCancelTries {
		if !o.final() {
			e.log.Error("could not cancel an order", "plugin", o.pl.name, "cid", o.key.cid, "label", o.label)
		}
		return
	}
	o.cancelTries++
	e.later(o, time.Duration(o.cancelTries)*cancelRetryDelay, func() { e.sendCancel(o) })
}

const (
	maxCancelTries   = 5
	cancelRetryDelay = 200 * time.Millisecond
)

// latestByLabel picks, from the orders the exchange has under o's label,
// the latest that is not one o had before a re-placement (nil: none).
func (e *Engine) latestByLabel(o *order, raw json.RawMessage) json.RawMessage {
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) != nil {
		return raw
	}
	for i := len(arr) - 1; i >= 0; i-- {
		var id struct {
			OrderID string `json:"order_id"`
		}
		if json.Unmarshal(arr[i], &id) == nil && !slices.Contains(o.oldIDs, id.OrderID) {
			return arr[i]
		}
	}
	return nil
}
