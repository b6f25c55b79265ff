package host

import (
	"context"
	"errors"
	"sync"
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
	risk   *risk // under e.mu (SetRisk changes its limits)

	// Guarded by e.mu.
	instance   uint32 // the live instance's id (its orders' labels carry it)
	firstCID   uint64
	maxCID     uint64
	open       map[*order]struct{}
	splits     int // its split orders that are not final (their legs are in open)
	pos        []position
	accountPos []abi.Position      // the account's positions at start-up (flag account)
	adopted    map[uint64]orderKey // the live instance's adopted orders: cid → key (adopt.go)
	scratch    []byte

	// The plugin's goroutine only.
	sb       sandbox.Sandbox
	batch    []byte
	lastCall time.Time // host time of its last events call: timer wake-ups wait TimerMin after it

	starts, faults atomic.Uint64
	lastFault      atomic.Pointer[sandbox.Fault]
	down           atomic.Bool // the circuit breaker tripped
	paused         atomic.Bool // Pause: no event or timer is delivered
	resumed        chan struct{}
	swaps          chan *swapReq // Swap's requests, taken between calls (swap.go)
	gone           chan struct{} // closed when the plugin's goroutine has ended
	swapsN         atomic.Uint64
	callMu         sync.Mutex // held by a call and its intents: Pause waits for the one under way
	calls          atomic.Uint64
	intentsN       atomic.Uint64
	limited        atomic.Uint64
	callNs         atomic.Uint64
	maxCallNs      atomic.Uint64

	tel pluginTel // tracing and metric state (telemetry.go)
}

func newPlugin(e *Engine, spec *PluginSpec, tab *deribit.Table) *plugin {
	pl := &plugin{e: e, spec: spec, name: spec.Name, inbox: inbox.New(spec.InboxLimit),
		open: map[*order]struct{}{}, resumed: make(chan struct{}, 1),
		swaps: make(chan *swapReq), gone: make(chan struct{})}
	pl.risk = newRisk(e.riskFor(spec.Name), &e.killed)
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

func (pl *plugin) newSandbox() sandbox.Sandbox { return pl.sandboxOf(pl.spec.Plugin) }

// sandboxOf makes a sandbox of module p as the plugin makes its own.
func (pl *plugin) sandboxOf(p *sandbox.Plugin) sandbox.Sandbox {
	if pl.spec.NewSandbox != nil {
		return pl.spec.NewSandbox(p)
	}
	return sandbox.NewInProcess(p)
}

// run starts the plugin and restarts it after faults, up to the circuit
// breaker, until ctx ends.
func (pl *plugin) run(ctx context.Context) {
	e := pl.e
	defer close(pl.gone)
	br := newBreaker(e.cfg)
	for {
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
		backoff, restart := br.fault(e.clk.Now())
		if !restart {
			pl.down.Store(true)
			e.notify()
			e.log.Error("plugin stopped for good: too many faults", "plugin", pl.name, "faults", pl.faults.Load(),
				"max_restarts", e.cfg.MaxRestarts, "within", e.cfg.RestartWindow)
			return
		}
		t := e.clk.NewTimer(backoff)
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case req := <-pl.swaps:
				pl.refuseSwap(req, "is restarting after a fault")
			case <-t.C():
				waiting = false
			}
		}
	}
}

// life runs one instance until ctx ends (nil) or it faults (the fault).
func (pl *plugin) life(ctx context.Context) *sandbox.Fault {
	e := pl.e
	sb := pl.newSandbox()
	pl.sb = sb
	defer func() { sb.Close() }() // the live one: a swap replaces it
	now := e.clk.Now()
	startup, err := pl.startup(now)
	if err != nil {
		return &sandbox.Fault{Plugin: pl.name, Call: abi.ExportInit, Kind: sandbox.FaultStartup, Err: err}
	}
	if pl.paused.Load() && !pl.waitResume(ctx) { // a paused plugin restarts when resumed
		return nil
	}
	pl.callMu.Lock()
	out, err := sb.Start(ctx, startup, now)
	pl.starts.Add(1)
	e.notify()
	if err != nil {
		pl.callMu.Unlock()
		return asFault(pl.name, abi.ExportInit, err)
	}
	flooded := pl.intents(out, now)
	pl.callMu.Unlock()
	if flooded {
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
		case req := <-pl.swaps:
			var f *sandbox.Fault
			if sb, f = pl.swap(ctx, sb, req); f != nil {
				return f
			}
			continue
		}
		if pl.paused.Load() {
			if !pl.waitResume(ctx) {
				pl.stop(sb)
				return nil
			}
			if pl.inbox.Len() == 0 {
				continue // nothing gathered: the timers are re-armed above
			}
		}
		for {
			f, more := pl.deliver(ctx, sb)
			if f != nil {
				return f
			}
			if !more {
				break
			}
		}
	}
}

// deliver makes one events call and carries out its intents, holding
// callMu so that Pause can wait for a call under way; more reports
// whether to call again at once (events are waiting, and the plugin is
// neither stopping nor paused).
func (pl *plugin) deliver(ctx context.Context, sb sandbox.Sandbox) (f *sandbox.Fault, more bool) {
	e := pl.e
	pl.callMu.Lock()
	defer pl.callMu.Unlock()
	if pl.paused.Load() {
		return nil, false
	}
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
		return asFault(pl.name, abi.ExportOnEvents, err), false
	}
	if pl.intents(out, now) {
		return pl.flood(), false
	}
	if pl.tel.cur != nil {
		e.tel.batchDone(pl)
	}
	return nil, pl.inbox.Len() > 0 && ctx.Err() == nil && !pl.paused.Load()
}

// waitResume waits while the plugin is paused; false when ctx ended.
func (pl *plugin) waitResume(ctx context.Context) bool {
	for pl.paused.Load() {
		select {
		case <-ctx.Done():
			return false
		case <-pl.resumed:
		case req := <-pl.swaps:
			pl.refuseSwap(req, pausedSwap)
		}
	}
	return true
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

// startup builds the start-up blob of a new instance and makes it the live
// one: a new instance id, the next cids, the plugin's table, its
// parameters and its positions, and with Config.KeepOrders the orders its
// predecessor left open, which it adopts (adopt.go).
func (pl *plugin) startup(now time.Time) ([]byte, error) {
	e := pl.e
	e.mu.Lock()
	defer e.mu.Unlock()
	inst := e.newInstance()
	blob, err := pl.blob(now, inst, pl.spec.Params, e.cfg.KeepOrders)
	pl.handover(inst, e.cfg.KeepOrders, ^uint64(0))
	return blob, err
}

// newInstance returns a new instance id. Called with e.mu held.
func (e *Engine) newInstance() uint32 {
	e.nextInst++
	return e.nextInst
}

// blob builds the start-up blob of instance inst of the plugin: its cids
// start above every cid its predecessors used; with adopt, the orders that
// are not final are in it. Called with e.mu held.
func (pl *plugin) blob(now time.Time, inst uint32, params []abi.Param, adopt bool) ([]byte, error) {
	s := abi.Startup{Start: abi.Start{HostVersion: abi.Current, FirstCID: pl.maxCID + 1, Time: uint64(now.UnixNano()),
		Name: abi.NewStr32(pl.name)}, Instruments: pl.table, Params: params}
	for i := range pl.pos {
		if pl.pos[i].size != 0 || pl.pos[i].realized != 0 {
			s.Positions = append(s.Positions, pl.positionRecord(uint32(i), now))
		}
	}
	s.Positions = append(s.Positions, pl.accountPos...)
	if adopt {
		s.Orders = pl.adoptable(now)
	}
	return abi.AppendStartup(nil, &s)
}

// handover makes instance inst the plugin's live one; with adopt it takes
// over the orders that are not final, and their order events pushed
// before mark leave the inbox (adopt). Called with e.mu held.
func (pl *plugin) handover(inst uint32, adopt bool, mark uint64) int {
	e := pl.e
	if pl.instance != 0 {
		delete(e.instances, pl.instance)
	}
	pl.instance = inst
	e.instances[inst] = pl
	pl.firstCID = pl.maxCID + 1
	pl.adopted = nil
	if !adopt {
		return 0
	}
	return pl.adopt(inst, mark)
}
