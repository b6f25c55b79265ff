package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/venue/deribit"
)

// This file holds the order record and the requests about an order:
// place, amend and cancel, sent on the pool, and what their failures mean.
// What the exchange says back is applied in orders_track.go, read back in
// orders_verify.go, and a lost order re-placed in orders_relocate.go.

// orderKey identifies an order: the plugin instance that placed it, its
// cid, and for a leg of a split order its chunk (together they are the
// Deribit label, deribit.EncodeChunkLabel).
type orderKey struct {
	instance uint32
	cid      uint64
	chunk    uint8 // 0: not a leg of a split order
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
	gen          uint64           // generation of the latest request or wait (begin/end)
	cancelSent   bool             // a cancel was sent: cancel-on-disconnect ends it, nothing re-places it
	conn         int              // the pool member that carries it (0 without a pool)
	relocating   bool             // its connection was lost: being verified, to be re-placed
	replaced     bool             // re-placed after a lost connection: its places are recovery, not the plugin's flow
	replacements int              // times re-placed after a lost connection (at most Config.MaxReestablish)
	base         abi.Fixed        // filled before the exchange order it has now (re-placed orders)
	baseValue    float64          // Σ price × amount of that filled part
	oldIDs       []string         // exchange ids of the orders it had before (their late updates are stale)
	updated      uint64           // exchange time of the last update applied
	value        float64          // Σ price × amount of the fills delivered
	synth        []synthFill      // filled amounts reconstructed after a reconnect, not yet seen as fills
	cancelTries  int              // host-initiated cancels retried
	verifyTries  int              // verifications retried
	placeTries   int              // waits for a connection to re-place on
	absentChecks int              // verifications that did not find an order whose place was not answered
	carried      bool             // counted in its member's load (pool.Carry)
	wantCancel   bool             // cancel once the in-flight request completes
	pendingAmend *abi.Amend       // amend once the in-flight request completes
	hostReason   abi.Reason       // a host-initiated cancel's reason (plugin_stopped, plugin_fault, kill_switch)
	unknown      bool             // a request timed out: the exchange's state is not known
	accounted    abi.Fixed        // filled amount delivered as fill events
	seen         []uint64         // trade_seq of the fills delivered
	deferred     *abi.OrderUpdate // an update whose filled amount is ahead of the fills delivered
	parent       *split           // the plugin order it is a leg of (nil: it is the plugin's order)
	heir         uint32           // the instance that adopted it (0: its own instance's; adopt.go)
	replacing    bool             // a leg re-placed after a lost connection, not open again yet
	tr           *orderTrace      // its trace (telemetry.go); nil: not traced
}

// synthFill is a filled amount of exchange order id that the engine
// reconstructed from the order's state, because the fills were lost; their
// notifications, if they come late, are not counted again.
type synthFill struct {
	id     string
	amount abi.Fixed
}

// sameExchangeOrder reports whether exchange order id (nil: not known) can
// be o's: o's own, one it had before a re-placement, or any while o's is
// not known yet. The label alone is not proof: a label is only as unique as
// the hosts trading on the account make it, and an update applied to the
// wrong order would leave the real one untracked.
func (o *order) sameExchangeOrder(id []byte) bool {
	return len(id) == 0 || o.exchID == "" || string(id) == o.exchID || slices.Contains(o.oldIDs, string(id))
}

// takeSynth returns how much of a late fill of exchange order id (nil: not
// known) of amount was already reconstructed, and forgets it.
func (o *order) takeSynth(id []byte, amount abi.Fixed) abi.Fixed {
	for i := range o.synth {
		s := &o.synth[i]
		if s.amount == 0 || id != nil && string(id) != s.id {
			continue
		}
		take := min(s.amount, amount)
		s.amount -= take
		if s.amount == 0 {
			o.synth = append(o.synth[:i], o.synth[i+1:]...)
		}
		return take
	}
	return 0
}

// begin marks o as having a request (or a wait) in flight and returns its
// generation; end clears the mark only for the latest one, so that an older
// request's late completion never hides a newer one in flight.
func (o *order) begin() uint64 {
	o.inflight = true
	o.gen++
	return o.gen
}

func (o *order) end(gen uint64) {
	if gen == o.gen {
		o.inflight = false
	}
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
	member int          // the pool member to send it on; -1: any
	call   deribit.Call // the venue's request
	what   abi.Kind     // the intent it carries out: place, amend or cancel
	tries  uint64       // the pool members a place could not be sent on (bit i: member i)
	gen    uint64       // the order's request generation (order.begin)
	seq    uint32       // the intent's seq, for intent_rejected
	amend  abi.Amend
}

// placeCall is o's place (of its unfilled rest) on the venue.
func placeCall(o *order) deribit.Call {
	p := deribit.Place{Instrument: o.pl.table[o.local].Name.String(), Side: o.side, Type: o.typ, TIF: o.tif,
		Flags: o.flags, Price: o.price, Amount: o.amount - o.base, Label: o.label}
	return p.Call(nil)
}

// editCall is amend a of o on the venue.
func editCall(o *order, a *abi.Amend) deribit.Call {
	return deribit.Edit(o.exchID, a.Amount-o.base, a.Price, a.Flags)
}

// cancelCall cancels o by its exchange id, or by its label and currency
// before the exchange's id is known.
func cancelCall(o *order) deribit.Call {
	if o.exchID == "" {
		return deribit.CancelByLabel(o.label, o.currency())
	}
	return deribit.Cancel(o.exchID)
}

// stateCall reads o back, by its exchange id or by its label.
func stateCall(o *order) deribit.Call {
	if o.exchID == "" {
		return deribit.GetOrderStateByLabel(o.label, o.currency())
	}
	return deribit.GetOrderState(o.exchID)
}

// currency is the base currency of o's instrument.
func (o *order) currency() string { return o.pl.table[o.local].BaseCurrency.String() }

// send issues req on its own goroutine; the order is marked in flight.
// Called with e.mu held.
func (e *Engine) send(req request) {
	req.gen = req.o.begin()
	req.member = -1
	if e.pool != nil && e.pool.Healthy(req.o.conn) {
		req.member = req.o.conn
	}
	e.stats.requests.Add(1)
	e.spawn(func() { e.do(req) })
}

func (e *Engine) do(req request) {
	ctx, cancel := context.WithTimeout(e.life, e.cfg.RequestTimeout)
	switch {
	case req.o == nil || req.o.pl == nil:
	case req.what == abi.KindPlace && !req.o.replaced || req.what == abi.KindAmend && req.seq != 0:
		// The plugin's own order flow is charged to its rate share.
		ctx = pool.ForShare(ctx, req.o.pl.name)
	default:
		// Cancels, re-placements after a lost connection and rollbacks of
		// its orders: charged to its share too, with the reserve, and never
		// on another plugin's tokens.
		ctx = pool.ForShareReserved(ctx, req.o.pl.name)
	}
	sent := e.tel.clock() // zero when telemetry is off
	raw, err := e.call(ctx, req.member, req.call)
	cancel()
	now := e.clk.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tel != nil {
		defer e.tel.requestDone(req, sent, err) // once the answer is applied
	}
	o := req.o
	o.end(req.gen)
	switch {
	case err != nil && req.what == abi.KindPlace && e.pool != nil && errors.Is(err, conn.ErrNotSent) &&
		!errors.Is(err, pool.ErrRateLimited) && req.member >= 0 && !o.final():
		// Its connection went down before the pool heard of it: nothing was
		// sent, so another connection may carry it.
		e.log.Debug("place not sent: trying another connection", "plugin", o.pl.name, "cid", o.key.cid, "member", req.member, "err", err)
		e.uncarry(o)
		e.sendPlaceTry(o, req.seq, req.tries|1<<uint(o.conn))
		return
	case err != nil:
		e.log.Debug("request failed", "plugin", o.pl.name, "cid", o.key.cid, "method", req.call.Method, "member", req.member, "err", err)
		e.requestFailed(req, err, now)
	case req.what == abi.KindCancel && req.call.ByLabel:
		// The result is a count: 0 means the exchange does not have it.
		if n, perr := strconv.Atoi(string(raw)); perr == nil && n == 0 {
			e.lost(o, now, "not on the exchange")
		}
	default:
		e.applyResult(raw, now)
		e.log.Debug("request answered", "plugin", o.pl.name, "cid", o.key.cid, "method", req.call.Method,
			"id", o.exchID, "state", o.state.String(), "deferred", o.deferred != nil)
	}
	e.followUp(o, now)
}

// call sends a request on a pool member (any healthy one when member is
// -1, or without a pool).
func (e *Engine) call(ctx context.Context, member int, c deribit.Call) (json.RawMessage, error) {
	if e.pool == nil || member < 0 {
		return e.ex.CallRaw(ctx, c.Method, c.Params)
	}
	return e.pool.CallOn(ctx, member, c.Method, c.Params)
}

// sendPlace sends o's place (the first, or a re-placement of its unfilled
// rest after a lost connection) on the member the pool's policy picks.
// Called with e.mu held.
func (e *Engine) sendPlace(o *order, seq uint32) { e.sendPlaceTry(o, seq, 0) }

// sendPlaceTry is sendPlace avoiding the members in tries.
func (e *Engine) sendPlaceTry(o *order, seq uint32, tries uint64) {
	if e.pool != nil {
		id, err := -1, error(nil)
		if o.parent != nil { // a leg: not where its siblings are, if it can be helped
			id, err = e.pool.PickExcept(tries | o.parent.members(o))
		}
		if id < 0 {
			id, err = e.pool.PickExcept(tries)
		}
		if err != nil && o.replaced && o.placeTries < maxPlaceTries && !e.stopping.Load() {
			// A re-placement while no connection is up: wait for one.
			o.placeTries++
			e.later(o, verifyRetryDelay*time.Duration(o.placeTries), func() { e.sendPlaceTry(o, seq, 0) })
			return
		}
		if err != nil {
			e.requestFailed(request{o: o, what: abi.KindPlace, seq: seq}, fmt.Errorf("%w: %w", conn.ErrNotSent, err), e.clk.Now())
			return
		}
		o.conn = id
		o.absentChecks = 0
		e.pool.Carry(id, 1)
		o.carried = true
		e.log.Debug("place", "plugin", o.pl.name, "cid", o.key.cid, "conn", id, "try", tries)
	}
	req := request{o: o, call: placeCall(o), what: abi.KindPlace, seq: seq, tries: tries}
	req.gen = o.begin()
	req.member = -1
	if e.pool != nil {
		req.member = o.conn
	}
	e.stats.requests.Add(1)
	e.spawn(func() { e.do(req) })
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
	e.send(request{o: o, call: editCall(o, a), what: abi.KindAmend, seq: a.Seq, amend: *a})
}

// sendCancel sends a cancel of o. The cancels the plugin or the host
// wants (requestCancel, followUp, retries) mark o as going for good; a
// relocation's own cancel (of an order whose connection is gone) does not.
func (e *Engine) sendCancel(o *order) {
	e.send(request{o: o, call: cancelCall(o), what: abi.KindCancel})
}

// requestCancel cancels o now, or as soon as its in-flight request or its
// acknowledgement allows. Called with e.mu held.
func (e *Engine) requestCancel(o *order) {
	o.cancelSent = true
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
	if o.final() && req.what == abi.KindPlace {
		return // it ended meanwhile (a re-placement's order cancelled): nothing more to say
	}
	var rpc *conn.RPCError
	var rej deribit.Reject
	switch {
	case errors.As(err, &rpc):
		rej = deribit.RejectFromError(rpc.Code, rpc.Message)
	case errors.Is(err, pool.ErrRateLimited):
		// The pool's limiter kept it from tripping the exchange's limits
		// (which would end the session and cancel its orders), or from
		// taking more than the plugin's share of them.
		rej = deribit.Reject{Reason: abi.ReasonRateLimited}
		putStr32(&rej.Text, "rate limit (host)")
		if errors.Is(err, pool.ErrOverShare) {
			putStr32(&rej.Text, "rate share used up (host)")
		}
	case errors.Is(err, conn.ErrNotSent):
		rej = deribit.Reject{Reason: abi.ReasonNoConnection}
		putStr32(&rej.Text, "not sent: no connection")
	default: // perhaps sent, no answer: the order's state is not known
		rej = deribit.Reject{Reason: abi.ReasonTimeout}
		putStr32(&rej.Text, "no answer from the exchange")
		if req.what == abi.KindPlace {
			o.unknown = true
			u := o.update(now, abi.ReasonTimeout)
			u.Text = rej.Text
			o.pl.emitOrder(o, &u)
		}
		e.verify(o) // read its state back once the exchange can be asked
		return
	}
	e.log.Info("order request refused", "plugin", o.pl.name, "cid", o.key.cid, "method", req.call.Method, "err", err,
		"reason", rej.Reason.String(), "code", rej.ExchangeCode, "text", rej.Text.String())
	limited := errors.Is(err, pool.ErrRateLimited)
	if limited && !(req.what == abi.KindCancel && (o.hostReason != 0 || o.cancelTries < maxCancelTries)) {
		// Refused on this side (a cancel that is retried is not, yet).
		e.stats.limited.Add(1)
		o.pl.limited.Add(1)
		e.tel.rateLimited(o, errors.Is(err, pool.ErrOverShare))
	}
	if req.what == abi.KindPlace {
		o.state = abi.StateRejected
		u := o.update(now, rej.Reason)
		u.ExchangeCode, u.Text = rej.ExchangeCode, rej.Text
		e.finish(o)
		if !limited {
			e.stats.rejected.Add(1)
			e.tel.orderRejected(o, rej.ExchangeCode)
		}
		o.pl.emitOrder(o, &u)
		return
	}
	if req.what == abi.KindCancel && o.hostReason != 0 {
		e.retryCancel(o) // the host's own cancel: not the plugin's to hear about, but it must happen
		return
	}
	if req.what == abi.KindCancel && errors.Is(err, pool.ErrRateLimited) && o.cancelTries < maxCancelTries {
		// Taking risk off waits for the client-side limiter rather than
		// failing (a cancel_all of many orders meets it at once); the
		// plugin hears of it only if it still cannot be sent.
		e.retryCancel(o)
		return
	}
	if s := o.parent; s != nil && req.what == abi.KindAmend {
		if req.seq == 0 {
			// A rollback's amend (split.rollback): the plugin did not ask.
			e.log.Warn("split order: a leg could not be amended back", "plugin", o.pl.name, "cid", o.key.cid,
				"chunk", o.key.chunk, "err", err)
			return
		}
		if req.seq == s.rolledBack && o.pendingAmend != nil && o.pendingAmend.Seq == 0 {
			o.pendingAmend = nil // it refused the amend too: it has its old terms
		}
		s.rollback(o, req.seq)
	}
	x := abi.IntentRejected{IntentKind: req.what, CID: o.key.cid, IntentSeq: req.seq, Instrument: o.local,
		Time: uint64(now.UnixNano())}
	if s := o.parent; s != nil && req.seq != 0 {
		if s.rejectedSeq == req.seq {
			return // another leg's refusal of the same intent was told
		}
		s.rejectedSeq = req.seq
	}
	rej.ApplyToIntent(&x)
	if rpc != nil && (rpc.Code == deribit.CodeNotOpenOrder || rpc.Code == deribit.CodeOrderNotFound) {
		x.Reason = abi.ReasonNotOpen
		// The exchange says it is not open while the engine thinks it
		// is: an update was lost (with a connection). Read its state.
		defer e.verify(o)
	}
	o.pl.emitRejected(o.owner(), &x)
}

func putStr32(dst *abi.Str32, s string) { *dst = abi.NewStr32(s) }
