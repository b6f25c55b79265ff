package host

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/venue/deribit"
)

// spreader is what the engine needs of a pool of connections (a
// *pool.Pool): Run detects it and spreads orders over its members.
type spreader interface {
	Exchange
	Size() int
	PickExcept(except uint64) (int, error)
	CallOn(ctx context.Context, member int, method string, params []byte) (json.RawMessage, error)
	Carry(member, delta int)
	Healthy(member int) bool
}

// sharer divides the account's request rate among the plugins (a
// *pool.Pool): Run gives each plugin its share (PluginSpec.RateWeight).
type sharer interface {
	SetShares(weights map[string]float64) error
	Shares() []pool.ShareStats
}

// Exchange is what the engine needs of a connection to the exchange; a
// *conn.Conn is one, and a *pool.Pool (whose members each deliver to
// Engine.Sink(i)). The engine must also be the connection's Sink
// (conn.WithSink) so that it receives the notifications it subscribes to.
type Exchange interface {
	CallRaw(ctx context.Context, method string, params []byte) (json.RawMessage, error)
	Subscribe(ctx context.Context, channels ...string) ([]string, error)
}

// DefaultChannels are the market channels a plugin receives for each of its
// instruments when its spec names none. {instrument} is replaced by the
// instrument's name.
var DefaultChannels = []string{"book.{instrument}.100ms", "ticker.{instrument}.100ms", "trades.{instrument}.100ms"}

// Engine routes exchange events to plugins and carries out their intents:
// validation, risk limits, the order manager, the requests to the exchange.
type Engine struct {
	cfg   Config
	owner deribit.Owner // whose orders are ours: this host's, this run's
	clk   clock.Clock
	log   *slog.Logger
	ex    Exchange
	life  context.Context // requests' parent: outlives the run's context during wind-down

	rt     atomic.Pointer[[]*router] // one per connection; nil until Run has set up the table
	pool   spreader                  // nil: one connection (ex)
	shares atomic.Pointer[sharer]    // nil: no rate shares; set by Run, read by Stats at any time
	remote RemoteMembers             // other hosts' connections, extra pool members (UseRemote)
	relay  bool                      // re-place orders cancelled by a lost connection (Config.Reestablish)

	mu        sync.Mutex // the order manager's state
	orders    map[orderKey]*order
	splits    map[orderKey]*split // split orders not final, by their plugin's key (chunk 0)
	recent    map[orderKey]*order // final orders, for late fills (FIFO, maxRecent)
	recentQ   []orderKey
	instances map[uint32]*plugin
	nextInst  uint32
	rtr       *deribit.Translator // responses (under mu)
	rbuf      []byte
	plugins   []*plugin

	killed   atomic.Bool
	stopping atomic.Bool // winding down: nothing is re-placed any more
	wasDown  atomic.Bool // the connection was lost since it was last healthy
	reqs     tracker     // requests to the exchange and verifications in flight
	stats    engineCounters
	marks    []atomic.Int64 // mark price per global instrument (abi.Fixed)

	remoteGate remoteGate // AdmitRemote's rate limiter

	risks atomic.Pointer[RiskSet] // the limits in force once SetRisk changed them (reload.go); nil: cfg's

	step *Lockstep // replay: spawned work runs in lock step (replay.go); nil live

	tel *telemetry // traces and metrics (telemetry.go); nil: off

	chMu   sync.Mutex
	change chan struct{} // closed by notify; nil when nobody waits
}

// router is the read goroutine's state, published once by Run.
type router struct {
	tr    *deribit.Translator
	tab   *deribit.Table
	chans map[string][]*plugin // market channel → its subscribers
	buf   []byte
	tmp   []byte
}

type engineCounters struct {
	frames, events, malformed, gaps, unknownOrders atomic.Uint64
	intents, refused, placed, acked, filled        atomic.Uint64
	cancelled, rejected, fills, requests, limited  atomic.Uint64
	leftover, foreign                              atomic.Uint64
	relocated, splits, peers                       atomic.Uint64
}

// Option configures New.
type Option func(*Engine)

// WithClock sets the engine's clock (default: the wall clock).
func WithClock(c clock.Clock) Option { return func(e *Engine) { e.clk = c } }

// WithLogger sets the engine's logger (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// New checks cfg (Config.Validate) and returns an Engine; Run starts it.
// Start from DefaultConfig: a zero MaxRestarts never restarts a faulted
// plugin (zero durations and MaxReestablish take their defaults).
func New(cfg Config, opts ...Option) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.HostID == "" {
		cfg.HostID = "x" + randomID(deribit.MaxHostIDLen-1)
	}
	if cfg.RunID == "" {
		cfg.RunID = randomID(deribit.MaxRunIDLen)
	}
	if cfg.RestartBackoff <= 0 {
		cfg.RestartBackoff = DefaultRestartBackoff
	}
	if cfg.RestartWindow <= 0 {
		cfg.RestartWindow = DefaultRestartWindow
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	e := &Engine{cfg: cfg, owner: deribit.Owner{Host: cfg.HostID, Run: cfg.RunID}, clk: clock.Real{}, log: slog.New(slog.DiscardHandler),
		orders: map[orderKey]*order{}, splits: map[orderKey]*split{}, recent: map[orderKey]*order{},
		instances: map[uint32]*plugin{}}
	for _, opt := range opts {
		opt(e)
	}
	return e, nil
}

// Deliver is the engine's conn.Sink: it translates a notification into abi
// records and routes them, without blocking: market data to the inboxes of
// the plugins subscribed to the channel, order events through the order
// manager to the plugin that owns the order.
func (e *Engine) Deliver(n conn.Notification) bool { return e.deliver(0, n) }

// Sink returns the Sink of one connection of a pool (its notifications are
// translated by a translator of their own: each connection has its own read
// goroutine and its own book sequence).
func (e *Engine) Sink(member int) conn.Sink { return memberSink{e, member} }

type memberSink struct {
	e *Engine
	m int
}

func (s memberSink) Deliver(n conn.Notification) bool { return s.e.deliver(s.m, n) }

func (e *Engine) deliver(member int, n conn.Notification) bool {
	rs := e.rt.Load()
	if rs == nil || member < 0 || member >= len(*rs) {
		return true
	}
	r := (*rs)[member]
	e.stats.frames.Add(1)
	now := n.Received.UnixNano()
	buf, cls, err := r.tr.AppendNotification(r.buf[:0], n.Channel, n.Data, now)
	r.buf = buf
	if err != nil {
		if errors.Is(err, deribit.ErrBookGap) {
			e.bookGap(n.Channel)
		} else {
			e.stats.malformed.Add(1)
		}
		return true
	}
	switch cls.Kind {
	case deribit.ClassMarket:
		e.routeMarket(member, r, &n, buf)
	case deribit.ClassOrder:
		e.mu.Lock()
		e.applyRecords(buf, r.tr.Routes(), n.Received)
		e.mu.Unlock()
	}
	return true
}

// bookGap counts a book whose changes skipped one and asks for a fresh
// snapshot.
func (e *Engine) bookGap(channel []byte) {
	e.stats.gaps.Add(1)
	go e.resubscribe(string(channel))
}

// routeMarket routes a market notification's records (buf) to the
// channel's subscribers.
func (e *Engine) routeMarket(member int, r *router, n *conn.Notification, buf []byte) {
	subs := r.chans[string(n.Channel)]
	rt := e.sampleFrame(member, n, subs) // nil unless tracing follows this frame
	e.route(r, subs, buf)
	if rt != nil {
		rt.routed.Store(time.Now().UnixNano())
	}
}

// route pushes market records to the subscribers, each record's instrument
// renumbered into the subscriber's table.
func (e *Engine) route(r *router, subs []*plugin, buf []byte) {
	for off := 0; off+abi.HeaderSize <= len(buf); {
		h := abi.ReadHeader(buf[off:])
		rec := buf[off : off+int(h.Size)]
		off += int(h.Size)
		inst := binary.LittleEndian.Uint32(rec[abi.OffInstrument:])
		if h.Kind == abi.KindTicker && int(inst) < len(e.marks) {
			if m := int64(binary.LittleEndian.Uint64(rec[abi.OffMarkPrice:])); m > 0 {
				e.marks[inst].Store(m)
			}
		}
		for _, pl := range subs {
			if int(inst) >= len(pl.local) || pl.local[inst] == abi.NoInstrument || pl.down.Load() {
				continue
			}
			r.tmp = append(r.tmp[:0], rec...)
			binary.LittleEndian.PutUint32(r.tmp[abi.OffInstrument:], pl.local[inst])
			pl.inbox.Push(r.tmp)
			e.stats.events.Add(1)
		}
	}
}

// resubscribe asks for a fresh snapshot of a book whose changes skipped
// one: Deribit sends a snapshot first on every subscription.
func (e *Engine) resubscribe(channel string) {
	ctx, cancel := context.WithTimeout(e.life, e.cfg.RequestTimeout)
	defer cancel()
	if u, ok := e.ex.(interface {
		Unsubscribe(context.Context, ...string) error
	}); ok {
		_ = u.Unsubscribe(ctx, channel)
	}
	if _, err := e.ex.Subscribe(ctx, channel); err != nil {
		e.log.Warn("resubscribe after a book gap failed", "channel", channel, "err", err)
	}
}

// Run sets up the instrument tables from the exchange, subscribes, starts
// every plugin and trades until ctx ends; then it stops the plugins,
// cancels their open orders (unless Config.KeepOrders) and returns. ex must
// deliver its notifications to e.Deliver.
func (e *Engine) Run(ctx context.Context, ex Exchange) error {
	e.ex = ex
	if p, ok := ex.(spreader); ok {
		e.pool = p
		if e.remote != nil && p.Size()+e.remote.Members() <= 64 {
			e.pool = newSpread(p, e.remote)
		}
	}
	e.relay = !e.cfg.NoReestablish
	life, stopLife := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLife()
	e.life = life
	defer e.tel.finish(e)
	if err := e.setup(ctx); err != nil {
		return err
	}
	if s, ok := ex.(sharer); ok {
		weights := make(map[string]float64, len(e.plugins))
		for _, pl := range e.plugins {
			weights[pl.name] = cmp.Or(pl.spec.RateWeight, 1)
		}
		if err := s.SetShares(weights); err != nil {
			return fmt.Errorf("host: rate shares: %w", err)
		}
		e.shares.Store(&s)
	}
	var wg sync.WaitGroup
	for _, pl := range e.plugins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pl.run(ctx)
		}()
	}
	wg.Wait() // the runners return once ctx has ended and their plugins stopped
	e.stopping.Store(true)
	now := e.clk.Now()
	if !e.cfg.KeepOrders {
		e.mu.Lock()
		e.cancelOpen(nil, abi.ReasonPluginStopped, now)
		e.mu.Unlock()
	}
	t := e.clk.NewTimer(e.cfg.StopTimeout)
	defer t.Stop()
	for {
		select {
		case <-e.reqs.idle():
			if e.reqs.count() == 0 {
				return nil
			}
		case <-t.C():
			stopLife() // what is still in flight fails at once
			for e.reqs.count() > 0 {
				<-e.reqs.idle()
			}
			return nil
		}
	}
}

// tracker counts goroutines that talk to the exchange for the order
// manager, so that Run can wait for them. Unlike a WaitGroup it may be
// added to while someone waits.
type tracker struct {
	mu   sync.Mutex
	n    int
	done chan struct{} // closed when n drops to 0
}

func (t *tracker) add() {
	t.mu.Lock()
	if t.n == 0 {
		t.done = make(chan struct{})
	}
	t.n++
	t.mu.Unlock()
}

func (t *tracker) release() {
	t.mu.Lock()
	t.n--
	if t.n == 0 {
		close(t.done)
	}
	t.mu.Unlock()
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// idle is closed when nothing is in flight (now, or once the current ones
// end; something may start after it).
func (t *tracker) idle() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	return t.done
}

// spawn runs f on its own goroutine, tracked.
func (e *Engine) spawn(f func()) {
	e.reqs.add()
	if e.step != nil {
		e.step.queue(f)
		return
	}
	go func() {
		defer e.done()
		f()
	}()
}

// done releases a tracked request and tells WaitStats (InFlight changed,
// perhaps to 0, and nothing else may say so).
func (e *Engine) done() {
	e.reqs.release()
	e.notify()
}

// setup fetches the instruments, builds the tables and subscribes.
func (e *Engine) setup(ctx context.Context) error {
	var names []string
	for _, s := range e.cfg.Plugins {
		for _, n := range s.Instruments {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	all, err := e.fetchInstruments(ctx)
	if err != nil {
		return err
	}
	byName := map[string]abi.Instrument{}
	for _, in := range all {
		byName[in.Name.String()] = in
	}
	list := make([]abi.Instrument, 0, len(names))
	for _, n := range names {
		in, ok := byName[n]
		if !ok {
			return fmt.Errorf("%w: the exchange has no instrument %q (plugin %s)", ErrConfig, n, e.pluginOf(n))
		}
		in.Index = uint32(len(list))
		list = append(list, in)
	}
	tab, err := deribit.NewTable(list)
	if err != nil {
		return err
	}
	e.marks = make([]atomic.Int64, len(list))
	e.rtr = deribit.NewTranslator(tab)
	e.rtr.Owner = e.owner
	chans := map[string][]*plugin{}
	r := &router{tab: tab, chans: chans}
	var channels []string
	for i := range e.cfg.Plugins {
		pl := newPlugin(e, &e.cfg.Plugins[i], tab)
		e.mu.Lock()
		pl.risk.setLimits(e.riskFor(pl.name)) // a SetRisk since newPlugin read them
		e.plugins = append(e.plugins, pl)
		e.mu.Unlock()
		for _, n := range pl.spec.Instruments {
			for _, tpl := range pl.channels() {
				ch := strings.ReplaceAll(tpl, "{instrument}", n)
				if _, seen := r.chans[ch]; !seen {
					channels = append(channels, ch)
				}
				r.chans[ch] = append(r.chans[ch], pl)
			}
		}
	}
	for _, n := range names {
		channels = append(channels, "user.orders."+n+".raw", "user.trades."+n+".raw")
	}
	n := 1
	if e.pool != nil {
		n = e.pool.Size()
	}
	rs := make([]*router, n)
	for i := range rs {
		tr := deribit.NewTranslator(tab)
		tr.Truncate = true
		tr.Owner = e.owner
		rs[i] = &router{tr: tr, tab: tab, chans: chans}
	}
	if err := e.reconcile(ctx); err != nil {
		return err
	}
	e.rt.Store(&rs)
	if _, err := e.ex.Subscribe(ctx, channels...); err != nil {
		return fmt.Errorf("host: subscribe: %w", err)
	}
	return nil
}

func (e *Engine) pluginOf(instrument string) string {
	var out []string
	for _, s := range e.cfg.Plugins {
		if slices.Contains(s.Instruments, instrument) {
			out = append(out, s.Name)
		}
	}
	return strings.Join(out, ", ")
}

// fetchInstruments reads the exchange's instruments of every currency.
func (e *Engine) fetchInstruments(ctx context.Context) ([]abi.Instrument, error) {
	c := deribit.GetInstruments()
	raw, err := e.ex.CallRaw(ctx, c.Method, c.Params)
	if err != nil {
		return nil, fmt.Errorf("host: %s: %w", c.Method, err)
	}
	list, err := deribit.Instruments(raw)
	if err != nil {
		return nil, fmt.Errorf("host: %s: %w", c.Method, err)
	}
	return list, nil
}

// Kill is the kill switch: every later intent is refused
// (risk_kill_switch) and every open order of every plugin is cancelled
// (reason kill_switch). It returns how many orders it cancels.
func (e *Engine) Kill() int {
	e.killed.Store(true)
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cancelOpen(nil, abi.ReasonKillSwitch, e.clk.Now())
}

// Killed reports whether the kill switch is on.
func (e *Engine) Killed() bool { return e.killed.Load() }

// ConnState tells every plugin the health of the exchange connection (a
// pool_state event); wire it to the connection's Observer (with a pool,
// use PoolEvent instead). When the
// connection is back after a loss, the engine verifies every order it
// believes live against the exchange (cancel-on-disconnect has cancelled
// them, and the notifications sent meanwhile were lost) and reports what it
// finds to the plugins.
func (e *Engine) ConnState(healthy bool, maintenance bool) {
	h := 0
	if healthy {
		h = 1
	}
	e.poolState(h, 1, !healthy, maintenance)
	if !healthy {
		e.wasDown.Store(true)
	} else if e.wasDown.Swap(false) && e.rt.Load() != nil && e.pool == nil {
		// Back after a loss: what happened meanwhile was not heard.
		e.resync()
	}
}

func (e *Engine) pluginList() []*plugin {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.plugins)
}

// poolState tells every live plugin the health of the connections.
func (e *Engine) poolState(healthy, total int, degraded, maintenance bool) {
	ps := abi.PoolState{Healthy: uint16(healthy), Total: uint16(total), Time: uint64(e.clk.Now().UnixNano())}
	if degraded {
		ps.Flags |= abi.PoolDegraded
	}
	if maintenance {
		ps.Flags |= abi.PoolMaintenance
	}
	rec := abi.AppendPoolState(nil, &ps)
	for _, pl := range e.pluginList() {
		if !pl.down.Load() {
			pl.inbox.Push(rec)
		}
	}
}

// PoolEvent is the observer of a pool of connections (pool.New): every
// change of health reaches the plugins as a pool_state event, and when a
// connection is lost the orders it carried — cancelled by the exchange's
// cancel-on-disconnect — are verified over a healthy connection and
// re-placed there (unless Config.NoReestablish). After a gap in the
// private channels (ev.Resync: no connection received order updates for a
// while), every order is read back, and the fills missed are
// reconstructed.
func (e *Engine) PoolEvent(ev pool.Event) {
	if !ev.Resync {
		e.poolState(ev.Healthy, ev.Total, ev.Degraded, false)
	}
	defer e.notify()
	if !ev.Lost && !ev.Resync || e.rt.Load() == nil || e.stopping.Load() {
		return
	}
	if ev.Resync {
		e.resync()
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	fo := e.tel.failover(ev) // nil unless tracing
	for _, pl := range e.plugins {
		for o := range pl.open {
			if o.conn == ev.Member && !o.final() {
				o.relocating = true
				e.tel.add(fo, o)
				e.verify(o)
			}
		}
	}
	e.tel.started(fo)
}

// reconcile is the start-up reconciliation, for a host that crashed or
// restarted: before any plugin trades, open orders that carry this host's
// id (an earlier run's: no live engine shares the id, Config.HostID;
// instance numbers start over, so they cannot be adopted safely) are
// cancelled; other hosts' orders and foreign orders are left alone and
// counted (EngineStats.Peers, Foreign); and the account's positions on the
// plugins' instruments become part of each plugin's start-up blob
// (position records with flag account).
func (e *Engine) reconcile(ctx context.Context) error {
	c := deribit.GetOpenOrders()
	raw, err := e.ex.CallRaw(ctx, c.Method, c.Params)
	if err != nil {
		return fmt.Errorf("host: start-up reconciliation: %s: %w", c.Method, err)
	}
	var open []struct {
		ID         string `json:"order_id"`
		Label      string `json:"label"`
		Instrument string `json:"instrument_name"`
	}
	if err := json.Unmarshal(raw, &open); err != nil {
		return fmt.Errorf("host: start-up reconciliation: open orders: %w", err)
	}
	for _, o := range open {
		l, ours := deribit.ParseLabel([]byte(o.Label))
		if !ours {
			e.stats.foreign.Add(1)
			e.log.Info("start-up: a foreign open order is left alone", "id", o.ID, "instrument", o.Instrument, "label", o.Label)
			continue
		}
		if string(l.Host) != e.owner.Host {
			e.stats.peers.Add(1)
			e.log.Info("start-up: an open order of another host is left alone", "id", o.ID, "label", o.Label)
			continue
		}
		cc := deribit.Cancel(o.ID)
		if _, err := e.ex.CallRaw(ctx, cc.Method, cc.Params); err != nil {
			return fmt.Errorf("host: start-up reconciliation: cancel %s (%s): %w", o.ID, o.Label, err)
		}
		e.stats.leftover.Add(1)
		e.log.Warn("start-up: cancelled an open order of an earlier run of this host", "id", o.ID, "label", o.Label)
	}
	c = deribit.GetPositions()
	raw, err = e.ex.CallRaw(ctx, c.Method, c.Params)
	if err != nil {
		return fmt.Errorf("host: start-up reconciliation: %s: %w", c.Method, err)
	}
	now := e.clk.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	buf, err := e.rtr.AppendPositions(nil, raw, now.UnixNano())
	if err != nil {
		return fmt.Errorf("host: start-up reconciliation: positions: %w", err)
	}
	for rec, err := range abi.Records(buf) {
		var p abi.Position
		if err != nil || abi.DecodePosition(rec.Bytes, &p) != nil || p.Size == 0 {
			continue
		}
		for _, pl := range e.plugins {
			if int(p.Instrument) < len(pl.local) && pl.local[p.Instrument] != abi.NoInstrument {
				q := p
				q.Instrument = pl.local[p.Instrument]
				pl.accountPos = append(pl.accountPos, q)
			}
		}
	}
	return nil
}

// randomID returns n random characters of a-z and 0-9.
func randomID(n int) string {
	const digits = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rand.IntN(len(digits))]
	}
	return string(b)
}

// Owner returns whose orders the engine's labels say they are: its host
// id and run id (Config.HostID, RunID, or their random defaults).
func (e *Engine) Owner() (hostID, runID string) { return e.owner.Host, e.owner.Run }
