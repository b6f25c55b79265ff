package host

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host/sandbox"
)

// Lock-step mode (replay).
//
// Live, the engine is asynchronous: each plugin has a goroutine that takes
// whatever its inbox holds when it wakes, and each order request runs on a
// goroutine of its own. What a plugin sees in one call, and in what order
// request results come back, then depends on timing, which is right for
// trading and wrong for replay: the same recording must give the same
// output, byte for byte, on any machine.
//
// A Lockstep drives the same engine (the same router, inboxes, validation,
// risk limits and order manager: "one code path, two clocks", rule 4 of
// docs/architecture.md) without those goroutines:
// the caller delivers frames (Deliver, the engine's own Sink path), moves
// the fake clock (AdvanceTo) and calls Settle, which runs everything that is
// due on the caller's goroutine in a fixed order until nothing is left: the
// order requests in the order they were made, then each plugin in
// configuration order, one batch each, and again, until no request is
// queued, no inbox holds anything and no timer is due.

// Observer sees what crosses the plugins' boundary in lock-step mode, on
// the goroutine that calls Settle: every batch of events one call
// delivers (the start-up blob of an instance, then each stratbox_on_events
// batch with its timer events and header seqs as the plugin got them) and
// the intents each call returned, before the host carries them out.
// The slices are valid only during the call.
type Observer interface {
	Events(plugin string, now time.Time, batch []byte)
	Intents(plugin string, now time.Time, intents []byte)
}

// Lockstep runs an Engine deterministically (see above). It is not safe for
// concurrent use: one goroutine calls its methods.
type Lockstep struct {
	e       *Engine
	clk     *clock.Fake
	obs     Observer
	pls     []*stepPlugin
	stopped bool

	mu   sync.Mutex
	work []func() // spawned requests, oldest first
}

type stepPlugin struct {
	pl        *plugin
	sb        sandbox.Sandbox // nil: not running (faulted and waiting, or down)
	breaker   *breaker
	restartAt time.Time
}

// NewLockstep puts e in lock-step mode. e must have been made with
// WithClock(clk); its plugins should read the same clock (WithClock) and
// have no wall-clock call budget (PluginConfig.CallBudget < 0), or a slow
// machine could fault a plugin that a fast one does not. obs may be nil.
// Start replaces Engine.Run, which must not be called.
func NewLockstep(e *Engine, clk *clock.Fake, obs Observer) (*Lockstep, error) {
	if c, ok := e.clk.(*clock.Fake); !ok || c != clk {
		return nil, fmt.Errorf("%w: lock step needs the engine's clock to be the fake clock it is given", ErrConfig)
	}
	if e.step != nil {
		return nil, fmt.Errorf("%w: the engine is already in lock step", ErrConfig)
	}
	ls := &Lockstep{e: e, clk: clk, obs: obs}
	e.step = ls
	return ls, nil
}

// queue is Engine.spawn in lock-step mode: f runs in Settle, in order.
func (ls *Lockstep) queue(f func()) {
	ls.mu.Lock()
	ls.work = append(ls.work, func() {
		defer ls.e.done()
		f()
	})
	ls.mu.Unlock()
}

func (ls *Lockstep) pop() func() {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if len(ls.work) == 0 {
		return nil
	}
	f := ls.work[0]
	ls.work[0] = nil
	ls.work = ls.work[1:]
	return f
}

// Start does what Run does before trading — fetches the instruments from
// ex, reconciles, subscribes — then starts every plugin and settles. ex
// is called on this goroutine (and from Settle); it must deliver its
// notifications to Deliver.
func (ls *Lockstep) Start(ctx context.Context, ex Exchange) error {
	e := ls.e
	if _, ok := ex.(spreader); ok {
		return fmt.Errorf("%w: lock step runs over one exchange, not a pool", ErrConfig)
	}
	e.ex = ex
	e.relay = !e.cfg.NoReestablish
	e.life = context.WithoutCancel(ctx)
	if err := e.setup(ctx); err != nil {
		return err
	}
	for _, pl := range e.plugins {
		sp := &stepPlugin{pl: pl, breaker: newBreaker(e.cfg)}
		ls.pls = append(ls.pls, sp)
		ls.start(sp)
	}
	ls.Settle()
	return nil
}

// Deliver routes one notification through the engine (Engine.Deliver); its
// effects happen in the next Settle.
func (ls *Lockstep) Deliver(n conn.Notification) bool { return ls.e.Deliver(n) }

// Now is the engine's time.
func (ls *Lockstep) Now() time.Time { return ls.clk.Now() }

// AdvanceTo moves the clock to t (never back), stopping at every plugin
// timer and restart due before t to settle there, so that each fires at its
// own time. It does not settle at t itself.
func (ls *Lockstep) AdvanceTo(t time.Time) {
	for {
		next, ok := ls.nextDue()
		if !ok || next.After(t) {
			break
		}
		if next.After(ls.clk.Now()) {
			ls.clk.Set(next)
		}
		ls.Settle()
	}
	if t.After(ls.clk.Now()) {
		ls.clk.Set(t)
	}
}

// nextDue is the earliest plugin timer or restart, if any.
func (ls *Lockstep) nextDue() (time.Time, bool) {
	if ls.stopped {
		return time.Time{}, false
	}
	var first time.Time
	found := false
	for _, sp := range ls.pls {
		var at time.Time
		switch {
		case sp.pl.down.Load():
			continue
		case sp.sb == nil:
			at = sp.restartAt
		default:
			var ok bool
			if at, ok = sp.pl.timerWake(sp.sb); !ok {
				continue
			}
		}
		if !found || at.Before(first) {
			first, found = at, true
		}
	}
	return first, found
}

// Settle runs what is due until nothing is: queued order requests (oldest
// first), then one batch for each plugin with pending events or a due
// timer (in configuration order), and again.
func (ls *Lockstep) Settle() {
	for {
		progressed := false
		for f := ls.pop(); f != nil; f = ls.pop() {
			f()
			progressed = true
		}
		for _, sp := range ls.pls {
			if ls.step(sp) {
				progressed = true
			}
		}
		if !progressed {
			return
		}
	}
}

// step gives sp one batch (or restarts it when its backoff is over);
// false means it had nothing to do.
func (ls *Lockstep) step(sp *stepPlugin) bool {
	pl, e := sp.pl, ls.e
	if ls.stopped || pl.down.Load() {
		return false
	}
	now := ls.clk.Now()
	if sp.sb == nil {
		if now.Before(sp.restartAt) {
			return false
		}
		ls.start(sp)
		return true
	}
	wake, armed := pl.timerWake(sp.sb)
	if pl.inbox.Len() == 0 && (!armed || wake.After(now)) {
		return false
	}
	pl.takeBatch(sp.sb, now)
	began := time.Now()
	out, err := sp.sb.Deliver(e.life, pl.batch, now)
	pl.lastCall = now
	pl.account(time.Since(began))
	if ls.obs != nil {
		b := pl.batch
		if r, ok := sp.sb.(sandbox.BatchRecorder); ok {
			b = r.LastBatch() // with the timers and seqs the plugin got
		}
		if len(b) > 0 {
			ls.obs.Events(pl.name, now, b)
		}
	}
	if err != nil {
		ls.fault(sp, asFault(pl.name, abi.ExportOnEvents, err))
		return true
	}
	ls.carry(sp, out, now)
	return true
}

// carry observes and carries out a call's intents.
func (ls *Lockstep) carry(sp *stepPlugin, out []byte, now time.Time) {
	if ls.obs != nil && len(out) > 0 {
		ls.obs.Intents(sp.pl.name, now, out)
	}
	if sp.pl.intents(out, now) {
		ls.fault(sp, sp.pl.flood())
	}
}

// start starts a new instance of sp's plugin (as the runner's life does).
func (ls *Lockstep) start(sp *stepPlugin) {
	pl, e := sp.pl, ls.e
	sb := pl.newSandbox()
	pl.sb, sp.sb = sb, sb
	now := ls.clk.Now()
	startup, err := pl.startup(now)
	if err != nil {
		ls.fault(sp, &sandbox.Fault{Plugin: pl.name, Call: abi.ExportInit, Kind: sandbox.FaultStartup, Err: err})
		return
	}
	if ls.obs != nil {
		ls.obs.Events(pl.name, now, startup)
	}
	out, err := sb.Start(e.life, startup, now)
	pl.starts.Add(1)
	e.notify()
	if err != nil {
		ls.fault(sp, asFault(pl.name, abi.ExportInit, err))
		return
	}
	ls.carry(sp, out, now)
}

// fault handles a faulted instance as the runner does: its orders are
// cancelled (unless KeepOrders) and it restarts after its backoff, on the
// replay clock, until the circuit breaker trips.
func (ls *Lockstep) fault(sp *stepPlugin, f *sandbox.Fault) {
	pl, e := sp.pl, ls.e
	if sp.sb != nil {
		sp.sb.Close()
		sp.sb = nil
	}
	pl.fault(f)
	now := ls.clk.Now()
	if !e.cfg.KeepOrders {
		e.mu.Lock()
		e.cancelOpen(pl, abi.ReasonPluginFault, now)
		e.mu.Unlock()
	}
	backoff, restart := sp.breaker.fault(now)
	if !restart {
		pl.down.Store(true)
		e.notify()
		e.log.Error("plugin stopped for good: too many faults", "plugin", pl.name, "faults", pl.faults.Load(),
			"max_restarts", e.cfg.MaxRestarts, "within", e.cfg.RestartWindow)
		return
	}
	sp.restartAt = now.Add(backoff)
}

// Stop ends the run as Run does when its context ends: each plugin's
// stratbox_on_stop (its intents carried out), then the cancels of what is
// still open (unless KeepOrders), settled. It returns an error when
// requests are still unfinished (a retry waiting on the clock).
func (ls *Lockstep) Stop() error {
	if ls.stopped {
		return nil
	}
	e := ls.e
	ctx, cancel := context.WithTimeout(e.life, e.cfg.StopTimeout)
	defer cancel()
	for _, sp := range ls.pls {
		if sp.sb == nil {
			continue
		}
		now := ls.clk.Now()
		if out, err := sp.sb.Stop(ctx, now); !sp.pl.stopFailed(err) {
			if ls.obs != nil && len(out) > 0 {
				ls.obs.Intents(sp.pl.name, now, out)
			}
			sp.pl.intents(out, now)
		}
		sp.sb.Close()
		sp.sb = nil
	}
	ls.stopped = true
	ls.Settle()
	e.stopping.Store(true)
	if !e.cfg.KeepOrders {
		e.mu.Lock()
		e.cancelOpen(nil, abi.ReasonPluginStopped, ls.clk.Now())
		e.mu.Unlock()
	}
	ls.Settle()
	if n := e.reqs.count(); n > 0 {
		return fmt.Errorf("host: %d order requests still waiting at the end of the replay", n)
	}
	return nil
}
