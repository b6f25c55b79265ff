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
