package host

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/inbox"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/venue/deribit"
)

// maxBatch bounds one delivery, whatever the plugin's inbox.
const maxBatch = 256 << 10

// plugin is one configured plugin: its goroutine, inbox, risk state and
// the instances it has run.
type plugin struct {
	e      *Engine
	spec   *PluginSpec
	name   string
	table  []abi.Instrument // the plugin's instrument table
	global []uint32         // its index → the engine's
	local  []uint32         // the engine's index → its, or abi.NoInstrument
	inbox  *inbox.Inbox
	risk   *risk

	// Guarded by e.mu.
	instance   uint32 // the live instance's id (its orders' labels carry it)
	firstCID   uint64
	maxCID     uint64
	open       map[*order]struct{}
	splits     int // its split orders that are not final (their legs are in open)
	pos        []position
	accountPos []abi.Position // the account's positions at start-up (flag account)
	scratch    []byte

	// The plugin's goroutine only.
	sb       sandbox.Sandbox
	batch    []byte
	lastCall time.Time // host time of its last events call: timer wake-ups wait TimerMin after it

	starts, faults atomic.Uint64
	lastFault      atomic.Pointer[sandbox.Fault]
	down           atomic.Bool // the circuit breaker tripped
	calls          atomic.Uint64
	intentsN       atomic.Uint64
	limited        atomic.Uint64
	callNs         atomic.Uint64
	maxCallNs      atomic.Uint64

	tel pluginTel // tracing and metric state (telemetry.go)
}

// position is the plugin's own position on one instrument, from its fills.
type position struct {
	size     abi.Fixed
	avg      float64
	realized float64
	fees     float64
	inverse  bool
}

func newPlugin(e *Engine, spec *PluginSpec, tab *deribit.Table) *plugin {
	pl := &plugin{e: e, spec: spec, name: spec.Name, inbox: inbox.New(spec.InboxLimit),
		open: map[*order]struct{}{}}
	lim := e.cfg.Risk
	if spec.Risk != nil {
		lim = *spec.Risk
	}
	pl.risk = newRisk(lim, &e.killed)
	pl.local = make([]uint32, tab.Len())
	for i := range pl.local {
		pl.local[i] = abi.NoInstrument
	}
	for _, n := range spec.Instruments {
		g, _ := tab.Index(n)
		if pl.local[g] != abi.NoInstrument {
			continue
		}
		pl.local[g] = uint32(len(pl.table))
		in := *tab.At(g)
		in.Index = uint32(len(pl.table))
		pl.table = append(pl.table, in)
		pl.global = append(pl.global, g)
		pl.pos = append(pl.pos, position{inverse: in.Flags&abi.InstrumentInverse != 0})
	}
	return pl
}

func (pl *plugin) channels() []string {
	if len(pl.spec.Channels) > 0 {
		return pl.spec.Channels
	}
	return DefaultChannels
}

func (pl *plugin) newSandbox() sandbox.Sandbox {
	if pl.spec.NewSandbox != nil {
		return pl.spec.NewSandbox(pl.spec.Plugin)
	}
	return sandbox.NewInProcess(pl.spec.Plugin)
}

// run starts the plugin and restarts it after faults, up to the circuit
// breaker, until ctx ends.
func (pl *plugin) run(ctx context.Context) {
	e := pl.e
	backoff := e.cfg.RestartBackoff
	for restarts := 0; ; restarts++ {
		f := pl.life(ctx)
		if f == nil || ctx.Err() != nil {
			return
		}
		pl.fault(f)
		if !e.cfg.KeepOrders {
			e.mu.Lock()
			e.cancelOpen(pl, abi.ReasonPluginFault, e.clk.Now())
			e.mu.Unlock()
		}
		if e.cfg.MaxRestarts < 0 || restarts >= e.cfg.MaxRestarts {
			pl.down.Store(true)
			e.notify()
			e.log.Error("plugin stopped for good: too many faults", "plugin", pl.name, "faults", pl.faults.Load())
			return
		}
		t := e.clk.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		backoff *= 2
	}
}

// life runs one instance until ctx ends (nil) or it faults (the fault).
func (pl *plugin) life(ctx context.Context) *sandbox.Fault {
	e := pl.e
	sb := pl.newSandbox()
	pl.sb = sb
	defer sb.Close()
	now := e.clk.Now()
	startup, err := pl.startup(now)
	if err != nil {
		return &sandbox.Fault{Plugin: pl.name, Call: abi.ExportInit, Kind: sandbox.FaultStartup, Err: err}
	}
	out, err := sb.Start(ctx, startup, now)
	pl.starts.Add(1)
	e.notify()
	if err != nil {
		return asFault(pl.name, abi.ExportInit, err)
	}
	if pl.intents(out, now) {
		return pl.flood()
	}
	timer := e.clk.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		pl.arm(timer, sb)
		select {
		case <-ctx.Done():
			pl.stop(sb)
			return nil
		case <-pl.inbox.Ready():
		case <-timer.C():
		}
		for {
			now := e.clk.Now()
			if e.tel != nil {
				e.tel.take(pl)
			}
			pl.takeBatch(sb, now)
			began := time.Now()
			out, err := sb.Deliver(e.life, pl.batch, now)
			d := time.Since(began)
			pl.lastCall = now
			pl.account(d)
			if e.tel != nil {
				e.tel.called(pl, began, d)
			}
			if err != nil {
				return asFault(pl.name, abi.ExportOnEvents, err)
			}
			if pl.intents(out, now) {
				return pl.flood()
			}
			if pl.tel.cur != nil {
				e.tel.batchDone(pl)
			}
			if pl.inbox.Len() == 0 || ctx.Err() != nil {
				break
			}
		}
	}
}

func (pl *plugin) account(d time.Duration) {
	pl.calls.Add(1)
	pl.callNs.Add(uint64(d))
	for {
		m := pl.maxCallNs.Load()
		if uint64(d) <= m || pl.maxCallNs.CompareAndSwap(m, uint64(d)) {
			return
		}
	}
}

func (pl *plugin) batchCap(sb sandbox.Sandbox) int {
	c := int(sb.Descriptor().InboxCap)
	if c <= 0 || c > maxBatch {
		c = maxBatch
	}
	return c
}

// timerRoom is the room a batch leaves for timer events when timers are
// due: 16 of them (more wait for the next call).
const timerRoom = 16 * abi.SizeTimer

// takeBatch takes the next batch from the inbox into pl.batch: at most the
// plugin's inbox capacity, less timerRoom when timers are due, so that the
// sandbox's timer events fit too (they never make a batch larger than the
// inbox, and a busy feed never starves them).
func (pl *plugin) takeBatch(sb sandbox.Sandbox, now time.Time) {
	c := pl.batchCap(sb)
	room := c
	if due, ok := sb.NextTimer(); ok && !due.After(now) {
		room = max(c-timerRoom, 0)
	}
	pl.batch = pl.inbox.TakeRoom(pl.batch[:0], c, room)
}

// timerWake is when the plugin's timers wake it: its earliest timer, but
// never sooner than TimerMin after its last call, whatever it armed.
func (pl *plugin) timerWake(sb sandbox.Sandbox) (time.Time, bool) {
	due, ok := sb.NextTimer()
	if !ok {
		return time.Time{}, false
	}
	gap := sandbox.DefaultTimerMin
	if p := pl.spec.Plugin; p != nil {
		gap = p.Config().TimerMin
	}
	if gap := pl.lastCall.Add(gap); due.Before(gap) {
		due = gap
	}
	return due, true
}

// arm sets timer to the plugin's next timer wake-up.
func (pl *plugin) arm(t interface {
	Stop() bool
	Reset(time.Duration) bool
}, sb sandbox.Sandbox) {
	t.Stop()
	if at, ok := pl.timerWake(sb); ok {
		t.Reset(max(at.Sub(pl.e.clk.Now()), 0))
	}
}

// fault counts a fault of the plugin's instance, wherever it happened
// (stratbox_on_stop too): stats, metrics and the log.
func (pl *plugin) fault(f *sandbox.Fault) {
	e := pl.e
	pl.faults.Add(1)
	pl.lastFault.Store(f)
	e.tel.fault(pl, f.Kind)
	e.notify()
	e.log.Warn("plugin faulted", "plugin", pl.name, "kind", string(f.Kind), "call", f.Call, "err", f.Error())
}

// stop calls stratbox_on_stop and carries out its intents (cancels, most
// likely) before the engine cancels what is left. A fault in it counts as
// any other (the instance ends anyway: no restart).
func (pl *plugin) stop(sb sandbox.Sandbox) {
	ctx, cancel := context.WithTimeout(pl.e.life, pl.e.cfg.StopTimeout)
	defer cancel()
	now := pl.e.clk.Now()
	out, err := sb.Stop(ctx, now)
	if pl.stopFailed(err) {
		return
	}
	pl.intents(out, now)
}

// stopFailed reports whether stratbox_on_stop failed (its intents are then
// not carried out), counting the fault unless the instance was dead already.
// Live and lock step alike.
func (pl *plugin) stopFailed(err error) bool {
	if err != nil && !errors.Is(err, sandbox.ErrDead) {
		pl.fault(asFault(pl.name, abi.ExportOnStop, err))
	}
	return err != nil
}

func (pl *plugin) flood() *sandbox.Fault {
	return &sandbox.Fault{Plugin: pl.name, Call: abi.ExportOnEvents, Kind: sandbox.FaultFlood,
		Err: errors.New("intents far over the rate limit")}
}

func asFault(name, call string, err error) *sandbox.Fault {
	var f *sandbox.Fault
	if errors.As(err, &f) {
		return f
	}
	return &sandbox.Fault{Plugin: name, Call: call, Kind: sandbox.FaultError, Err: err}
}

// startup builds the start-up blob of a new instance: a new instance id,
// the next cids, the plugin's table, its parameters and its positions.
func (pl *plugin) startup(now time.Time) ([]byte, error) {
	e := pl.e
	e.mu.Lock()
	defer e.mu.Unlock()
	e.nextInst++
	if pl.instance != 0 {
		delete(e.instances, pl.instance)
	}
	pl.instance = e.nextInst
	e.instances[pl.instance] = pl
	pl.firstCID = pl.maxCID + 1
	s := abi.Startup{Start: abi.Start{HostVersion: abi.Current, FirstCID: pl.firstCID, Time: uint64(now.UnixNano()),
		Name: abi.NewStr32(pl.name)}, Instruments: pl.table, Params: pl.spec.Params}
	for i := range pl.pos {
		if pl.pos[i].size != 0 || pl.pos[i].realized != 0 {
			s.Positions = append(s.Positions, pl.positionRecord(uint32(i), now))
		}
	}
	s.Positions = append(s.Positions, pl.accountPos...)
	return abi.AppendStartup(nil, &s)
}

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
	if pl.risk.flooding(now, n) {
		return true
	}
	e := pl.e
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
	if o.key.instance != pl.instance {
		return
	}
	pl.scratch = abi.AppendOrderUpdate(pl.scratch[:0], u)
	pl.inbox.Push(pl.scratch)
}

func (pl *plugin) emitFill(o *order, f *abi.Fill) {
	defer pl.e.notify()
	if o.key.instance != pl.instance {
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
