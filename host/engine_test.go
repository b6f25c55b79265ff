package host

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/internal/testplugins"
	"github.com/stratbox/stratbox/sim"
)

// example builds plugins/examples/<name> (internal/testplugins).
func example(t testing.TB, name string) []byte { return testplugins.Example(t, name) }

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("sandbox", "testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testSimConfig is the engine tests' simulator: a quick market, a heartbeat
// interval of 100 ms allowed, a test_request every interval, no rate limits.
func testSimConfig() sim.Config {
	// A test_request may stay unanswered for 2 s before the simulator cuts
	// the connection (a test about that sets its own grace): heartbeats every
	// 100 ms keep the tests quick, and a machine busy enough to delay one
	// answer past 100 ms must not cut a connection under a test about
	// something else.
	return sim.Config{Seed: 1, MinHeartbeat: 100 * time.Millisecond, AlwaysTestRequest: true, HeartbeatGrace: 2 * time.Second,
		Tick: 20 * time.Millisecond, RateLimits: sim.RateLimits{Disabled: true}}
}

// testConnConfig is a connection to the simulator at url with its test key
// and a 100 ms heartbeat, stale only after 2 s without a frame (20
// intervals): the simulator's 2 s grace on its side (testSimConfig), so
// that a machine busy enough to stall a frame past 300 ms (the default's 3
// intervals) loses no connection under a test about something else. A
// test about silence sets its own multiple.
func testConnConfig(url string) conn.Config {
	cc := conn.DefaultConfig()
	cc.URL = url
	cc.Credentials = conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret, Method: conn.AuthSignature}
	cc.HeartbeatInterval = 100 * time.Millisecond
	cc.SilenceMultiple = 20
	return cc
}

// rig is an engine trading against an in-process simulator.
type rig struct {
	t      testing.TB
	srv    *sim.Server
	c      *conn.Conn
	e      *Engine
	cancel context.CancelFunc
	done   chan error
}

const simAccount = sim.TestKeyID // the account of the test key

// startRig starts the simulator, an engine with cfg and a connection whose
// Sink is the engine, and runs the engine until the test ends or stop.
func startRig(t *testing.T, cfg Config, mutate func(*sim.Config)) *rig {
	t.Helper()
	return startRigConn(t, cfg, mutate, nil)
}

// startRigConn is startRig with the connection's config changed by
// mutateConn (when not nil).
func startRigConn(t *testing.T, cfg Config, mutate func(*sim.Config), mutateConn func(*conn.Config)) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sc := testSimConfig()
	if mutate != nil {
		mutate(&sc)
	}
	// The simulator outlives the run (srv.Close at cleanup): the engine cancels
	// its orders after the run's context ends, and the test reads the book then.
	srv, err := sim.Start(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	cc := testConnConfig(srv.URL())
	if mutateConn != nil {
		mutateConn(&cc)
	}
	// The connection outlives the run, so that the engine can cancel its
	// orders after the run's context ends.
	obs := conn.ObserverFunc(func(ch conn.StateChange) {
		if ch.To == conn.StateReady || ch.From == conn.StateReady {
			e.ConnState(ch.To == conn.StateReady, false)
		}
	})
	c, err := conn.Dial(context.Background(), cc, conn.WithSink(e), conn.WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, srv: srv, c: c, e: e, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- e.Run(ctx, c) }()
	t.Cleanup(func() {
		r.stop()
		c.Close()
		srv.Close()
	})
	return r
}

// runEngine runs e on ex until the returned stop is called; stop waits for
// Run to return and reports its error.
func runEngine(tb testing.TB, e *Engine, ex Exchange) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, ex) }()
	return func() {
		tb.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			tb.Error("Run did not return")
		}
	}
}

// stop ends the run and waits for Run to return.
func (r *rig) stop() {
	r.t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		r.t.Fatal("Run did not return")
	}
}

func (r *rig) wait(what string, pred func(EngineStats) bool) EngineStats {
	r.t.Helper()
	if !r.e.WaitStats(pred, 60*time.Second) {
		r.t.Fatalf("timed out waiting for %s; stats %+v", what, r.e.Stats())
	}
	return r.e.Stats()
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testCache is the compilation cache of the engine tests (on disk, in
// testCacheDir, which the child processes share).
var testCache = sync.OnceValues(func() (*sandbox.Cache, error) { return sandbox.NewCache(testCacheDir) })

func load(t testing.TB, name string, wasm []byte, cfg sandbox.PluginConfig, opts ...sandbox.Option) *sandbox.Plugin {
	t.Helper()
	cache, err := testCache()
	if err != nil {
		t.Fatal(err)
	}
	p, err := sandbox.Load(context.Background(), name, wasm, cfg, append(opts, sandbox.WithCache(cache))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func ourOrders(srv *sim.Server) []sim.Order {
	var out []sim.Order
	for _, o := range srv.OpenOrders(simAccount) {
		if strings.HasPrefix(o.Label, "sbx:") {
			out = append(out, o)
		}
	}
	return out
}

func pluginStats(s EngineStats, name string) PluginStats {
	for _, p := range s.Plugins {
		if p.Name == name {
			return p
		}
	}
	return PluginStats{}
}

// The example market maker, compiled to wasm, quotes against the simulator
// through the engine: its orders reach the book with the host's labels, it
// gets fills and positions back, and its quotes are cancelled when the run
// ends.
func TestEngineMarketMakerTrades(t *testing.T) {
	mm := load(t, "mm", example(t, "marketmaker"), sandbox.PluginConfig{CallBudget: 2 * time.Second})
	cfg := Config{Plugins: []PluginSpec{{Name: "mm", Plugin: mm, Instruments: []string{"BTC-PERPETUAL"},
		Params: []abi.Param{{Type: abi.ParamFloat, Key: "half_spread_bps", Float: 1}}}}}
	r := startRig(t, cfg, nil)
	st := r.wait("quotes acknowledged", func(s EngineStats) bool { return s.Acked >= 2 })
	if st.Placed < 2 || st.Intents < 2 {
		t.Fatalf("stats %+v", st)
	}
	if n := len(ourOrders(r.srv)); n == 0 {
		t.Fatal("no labelled order on the simulator's book")
	}
	r.stop()
	if left := ourOrders(r.srv); len(left) != 0 {
		t.Fatalf("orders left on the book after the run: %+v", left)
	}
	st = r.e.Stats()
	ps := pluginStats(st, "mm")
	if ps.Starts != 1 || ps.Faults != 0 || ps.Calls == 0 {
		t.Fatalf("plugin stats %+v", ps)
	}
}

// scriptBox is a Sandbox without wasm: the test queues the intents it
// returns and reads every event it was given.
type scriptBox struct {
	start  []byte
	mu     sync.Mutex
	queued []byte
	events [][]byte
	change chan struct{}
	seq    uint32
	desc   abi.Descriptor
}

func newScriptBox(start []byte) *scriptBox {
	return &scriptBox{start: start, change: make(chan struct{}), desc: abi.Descriptor{InboxCap: 1 << 16, OutboxCap: 1 << 16}}
}

// queue makes the next delivery return intents.
func (s *scriptBox) queue(intents ...[]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range intents {
		s.queued = append(s.queued, b...)
	}
}

func (s *scriptBox) Start(_ context.Context, startup []byte, _ time.Time) ([]byte, error) {
	var st abi.Startup
	if err := abi.DecodeStartup(startup, &st); err != nil {
		return nil, err
	}
	return s.start, nil
}

func (s *scriptBox) Deliver(_ context.Context, batch []byte, _ time.Time) ([]byte, error) {
	sandbox.NumberEvents(batch, &s.seq)
	s.mu.Lock()
	defer s.mu.Unlock()
	for rec, err := range abi.Records(batch) {
		if err != nil {
			return nil, err
		}
		s.events = append(s.events, append([]byte(nil), rec.Bytes...))
	}
	close(s.change)
	s.change = make(chan struct{})
	out := s.queued
	s.queued = nil
	return out, nil
}

func (s *scriptBox) NextTimer() (time.Time, bool)                    { return time.Time{}, false }
func (s *scriptBox) Stop(context.Context, time.Time) ([]byte, error) { return nil, nil }
func (s *scriptBox) Close() error                                    { return nil }
func (s *scriptBox) Fault() *sandbox.Fault                           { return nil }
func (s *scriptBox) Stats() sandbox.InstanceStats                    { return sandbox.InstanceStats{} }
func (s *scriptBox) Descriptor() abi.Descriptor                      { return s.desc }

// waitFor waits until an event satisfies pred and returns it.
func (s *scriptBox) waitFor(t testing.TB, what string, pred func(rec []byte) bool) []byte {
	t.Helper()
	return s.waitFrom(t, what, 0, pred)
}

// mark is the number of events delivered so far (for waitFrom).
func (s *scriptBox) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

// waitFrom is waitFor among the events delivered after the first from.
func (s *scriptBox) waitFrom(t testing.TB, what string, from int, pred func(rec []byte) bool) []byte {
	t.Helper()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for _, rec := range s.events[from:] {
			if pred(rec) {
				s.mu.Unlock()
				return rec
			}
		}
		ch := s.change
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitOrder waits for the order_update of cid in state, and checks its
// reason.
func (s *scriptBox) waitOrder(t testing.TB, cid uint64, state abi.OrderState, reason abi.Reason) abi.OrderUpdate {
	t.Helper()
	var u abi.OrderUpdate
	s.waitFor(t, fmt.Sprintf("order %d %v", cid, state), func(rec []byte) bool {
		return abi.ReadHeader(rec).Kind == abi.KindOrderUpdate && abi.DecodeOrderUpdate(rec, &u) == nil &&
			u.CID == cid && u.State == state
	})
	if u.Reason != reason {
		t.Errorf("order %d %v: reason %v, want %v (text %q)", cid, state, u.Reason, reason, u.Text.String())
	}
	return u
}

// waitRejected waits for the intent_rejected of an intent with seq.
func (s *scriptBox) waitRejected(t *testing.T, seq uint32, reason abi.Reason) {
	t.Helper()
	var x abi.IntentRejected
	s.waitFor(t, fmt.Sprintf("intent %d rejected", seq), func(rec []byte) bool {
		return abi.ReadHeader(rec).Kind == abi.KindIntentRejected && abi.DecodeIntentRejected(rec, &x) == nil &&
			x.IntentSeq == seq
	})
	if x.Reason != reason {
		t.Errorf("intent %d: reason %v, want %v", seq, x.Reason, reason)
	}
}

func place(seq uint32, cid uint64, inst uint32, side abi.Side, price, amount string) []byte {
	p := abi.Place{Seq: seq, CID: cid, Instrument: inst, Side: side, Type: abi.Limit, TIF: abi.GoodTilCancelled,
		Price: fx(price), Amount: fx(amount)}
	return abi.AppendPlace(nil, &p)
}

func fx(s string) abi.Fixed {
	x, err := abi.ParseFixed(s)
	if err != nil {
		panic(err)
	}
	return x
}

// Every check of abi/README.md "Validation of intents" and every risk limit
// refuses with its reason and sends nothing; accepted orders go pending,
// open, amended and cancelled; the kill switch cancels what is open and
// refuses what follows.
func TestEngineValidationAndRisk(t *testing.T) {
	market := abi.AppendPlace(nil, &abi.Place{Seq: 8, CID: 7, Side: abi.Buy, Type: abi.Market, TIF: abi.ImmediateOrCancel,
		Price: fx("1000"), Amount: fx("10")})
	sb := newScriptBox(slices.Concat(
		place(1, 1, 0, abi.Buy, "1000", "10"),
		place(2, 1, 0, abi.Buy, "1000", "10"),   // duplicate_cid
		place(3, 2, 0, abi.Buy, "1000", "2000"), // risk_max_order_amount
		place(4, 3, 0, abi.Buy, "1000.1", "10"), // bad_tick
		place(5, 4, 7, abi.Buy, "1000", "10"),   // unknown_instrument
		place(6, 5, 0, abi.Buy, "1000", "15"),   // bad_amount
		place(7, 6, 0, abi.Buy, "1000", "5"),    // below_min_amount
		market,                                  // malformed: a market order with a price
		place(9, 8, 0, abi.Buy, "1000.5", "10"),
		place(10, 9, 0, abi.Buy, "1001", "10"), // risk_max_open_orders
		abi.AppendAmend(nil, &abi.Amend{Seq: 11, CID: 99, Price: fx("1000"), Amount: fx("10")}),
		abi.AppendCancel(nil, &abi.Cancel{Seq: 12, CID: 98}),
		place(13, 10, 0, abi.Sell, "0", "10"), // bad_price
	))
	lim := RiskLimits{MaxOrderAmount: fx("1000"), MaxOpenOrders: 2}
	cfg := Config{Plugins: []PluginSpec{{Name: "script", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return sb },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}, Risk: &lim}}}
	r := startRig(t, cfg, nil)

	sb.waitOrder(t, 1, abi.StatePending, abi.ReasonNone)
	sb.waitOrder(t, 1, abi.StateOpen, abi.ReasonNone)
	sb.waitOrder(t, 8, abi.StateOpen, abi.ReasonNone)
	for cid, reason := range map[uint64]abi.Reason{2: abi.ReasonRiskMaxOrderAmount, 3: abi.ReasonBadTick,
		4: abi.ReasonUnknownInstrument, 5: abi.ReasonBadAmount, 6: abi.ReasonBelowMinAmount, 7: abi.ReasonMalformed,
		9: abi.ReasonRiskMaxOpenOrders, 10: abi.ReasonBadPrice} {
		sb.waitOrder(t, cid, abi.StateRejected, reason)
	}
	// The duplicate: an intent_rejected, not an order_update (which would
	// speak of the order that has the cid).
	sb.waitRejected(t, 2, abi.ReasonDuplicateCID)
	sb.waitRejected(t, 11, abi.ReasonUnknownCID)
	sb.waitRejected(t, 12, abi.ReasonUnknownCID)
	if n := len(ourOrders(r.srv)); n != 2 {
		t.Fatalf("%d orders on the book, want 2", n)
	}

	// Amend one, cancel the other; place and cancel a third in one outbox.
	sb.queue(abi.AppendAmend(nil, &abi.Amend{Seq: 20, CID: 1, Price: fx("1002"), Amount: fx("20")}),
		abi.AppendCancel(nil, &abi.Cancel{Seq: 21, CID: 8}))
	u := sb.waitFor(t, "amended order 1", func(rec []byte) bool {
		var u abi.OrderUpdate
		return abi.DecodeOrderUpdate(rec, &u) == nil && u.CID == 1 && u.State == abi.StateOpen && u.Price == fx("1002")
	})
	var amended abi.OrderUpdate
	_ = abi.DecodeOrderUpdate(u, &amended)
	if amended.Amount != fx("20") {
		t.Errorf("amended amount %v", amended.Amount)
	}
	sb.waitOrder(t, 8, abi.StateCancelled, abi.ReasonCancelRequested)
	sb.queue(place(22, 11, 0, abi.Buy, "999", "10"), abi.AppendCancel(nil, &abi.Cancel{Seq: 23, CID: 11}))
	sb.waitOrder(t, 11, abi.StateCancelled, abi.ReasonCancelRequested)

	// The kill switch.
	if n := r.e.Kill(); n != 1 {
		t.Errorf("Kill cancelled %d orders, want 1", n)
	}
	sb.waitOrder(t, 1, abi.StateCancelled, abi.ReasonKillSwitch)
	sb.queue(place(30, 12, 0, abi.Buy, "1000", "10"))
	sb.waitOrder(t, 12, abi.StateRejected, abi.ReasonRiskKillSwitch)
	if left := ourOrders(r.srv); len(left) != 0 {
		t.Fatalf("orders left after the kill switch: %+v", left)
	}
	st := r.e.Stats()
	if st.Placed != 3 || st.Refused < 12 || !st.Killed {
		t.Errorf("stats %+v", st)
	}
}

// processBox runs each instance in a child process sharing the tests'
// compilation cache.
func processBox(p *sandbox.Plugin) sandbox.Sandbox {
	return sandbox.NewProcess(p, sandbox.ProcessConfig{CacheDir: testCacheDir})
}

// A plugin that spins forever, traps, runs out of memory, writes a garbage
// outbox or floods intents is stopped, restarted once and then left down by
// the circuit breaker, while the example market maker next to it keeps
// trading and every heartbeat of the connection is answered in time.
//
// In time is hbDeadline (the heartbeat interval: an answer later than it
// counts as missed), shorter than the spinning plugin's budget, so that a
// heartbeat that waited for the plugin would be late; but not the rigs'
// 100 ms, which a race-instrumented host on a loaded 2-core machine
// overran now and then without any plugin's help.
func TestEngineContainsHostilePlugins(t *testing.T) {
	const hbDeadline = 500 * time.Millisecond
	mmWasm := example(t, "marketmaker")
	for _, tc := range []struct {
		fixture string
		kind    sandbox.FaultKind
		budget  time.Duration
	}{
		{"spin", sandbox.FaultBudget, 2 * hbDeadline},
		{"trap", sandbox.FaultTrap, 0},
		{"oom", sandbox.FaultTrap, 0},
		{"garbage", sandbox.FaultOutbox, 0},
		{"flood", sandbox.FaultFlood, 0},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			budget := tc.budget
			if budget == 0 {
				budget = 5 * time.Second // generous: the child is a race-instrumented test binary
			}
			mm := load(t, "mm", mmWasm, sandbox.PluginConfig{CallBudget: 5 * time.Second})
			bad := load(t, tc.fixture, fixture(t, tc.fixture), sandbox.PluginConfig{CallBudget: budget, MemoryLimitPages: 16}, sandbox.WithChildProcess())
			cfg := Config{MaxRestarts: 1, RestartBackoff: 10 * time.Millisecond, Plugins: []PluginSpec{
				{Name: "mm", Plugin: mm, Instruments: []string{"BTC-PERPETUAL"},
					Params: []abi.Param{{Type: abi.ParamFloat, Key: "half_spread_bps", Float: 1}}},
				{Name: "bad", Plugin: bad, NewSandbox: processBox, Instruments: []string{"BTC-PERPETUAL"}},
			}}
			r := startRigConn(t, cfg, func(sc *sim.Config) { sc.HeartbeatGrace = 10 * hbDeadline },
				func(cc *conn.Config) { cc.HeartbeatInterval = hbDeadline })
			st := r.wait("the hostile plugin down", func(s EngineStats) bool { return pluginStats(s, "bad").Down })
			b := pluginStats(st, "bad")
			if b.Faults != 2 || b.Starts != 2 || b.LastFault == nil || b.LastFault.Kind != tc.kind {
				t.Fatalf("hostile plugin: %d faults, %d starts, last fault %v; want 2, 2, kind %s", b.Faults, b.Starts, b.LastFault, tc.kind)
			}
			before := pluginStats(st, "mm")
			r.wait("the market maker trading on", func(s EngineStats) bool {
				m := pluginStats(s, "mm")
				return m.Intents >= before.Intents+3 && m.Calls > before.Calls
			})
			m := pluginStats(r.e.Stats(), "mm")
			if m.Faults != 0 {
				t.Fatalf("the market maker faulted: %v", m.LastFault)
			}
			// At least two test_requests answered (the quick faults may all be
			// over before the first one comes).
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for r.c.Heartbeat().Answered < 2 && r.c.Heartbeat().Missed == 0 {
				<-tick.C
			}
			h := r.c.Heartbeat()
			if h.Missed != 0 || r.c.Stats().Reconnects != 0 || r.srv.Stats().HeartbeatKills != 0 {
				t.Fatalf("heartbeats: %d answered, %d missed, %d reconnects, %d kills by the exchange",
					h.Answered, h.Missed, r.c.Stats().Reconnects, r.srv.Stats().HeartbeatKills)
			}
		})
	}
}

// When the connection drops, cancel-on-disconnect cancels the orders it
// carried and the notifications saying so are lost with it; once the
// connection is back, the engine reads each order it believed open back
// from the exchange and, by default, re-places it under the same cid
// (pending with reason cancel_on_disconnect, then open); with
// NoReestablish it tells the plugin the order was cancelled.
func TestEngineResyncAfterReconnect(t *testing.T) {
	for _, relay := range []bool{true, false} {
		t.Run(fmt.Sprintf("reestablish=%v", relay), func(t *testing.T) {
			sb := newScriptBox(place(1, 1, 0, abi.Buy, "1000", "10"))
			cfg := Config{NoReestablish: !relay, Plugins: []PluginSpec{{Name: "script", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return sb },
				Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}}}}
			r := startRig(t, cfg, nil)
			first := sb.waitOrder(t, 1, abi.StateOpen, abi.ReasonNone)
			r.srv.DropAll()
			sb.waitFor(t, "pool down", func(rec []byte) bool {
				var p abi.PoolState
				return abi.DecodePoolState(rec, &p) == nil && p.Healthy == 0 && p.Flags&abi.PoolDegraded != 0
			})
			if !relay {
				sb.waitOrder(t, 1, abi.StateCancelled, abi.ReasonCancelOnDisconnect)
				if left := ourOrders(r.srv); len(left) != 0 {
					t.Fatalf("orders on the book: %+v", left)
				}
				return
			}
			sb.waitFor(t, "order 1 pending again", func(rec []byte) bool {
				var u abi.OrderUpdate
				return abi.DecodeOrderUpdate(rec, &u) == nil && u.CID == 1 && u.State == abi.StatePending &&
					u.Reason == abi.ReasonCancelOnDisconnect
			})
			again := sb.waitFor(t, "order 1 open again", func(rec []byte) bool {
				var u abi.OrderUpdate
				return abi.DecodeOrderUpdate(rec, &u) == nil && u.CID == 1 && u.State == abi.StateOpen &&
					u.ExchangeOrderID != first.ExchangeOrderID
			})
			var u abi.OrderUpdate
			_ = abi.DecodeOrderUpdate(again, &u)
			if left := ourOrders(r.srv); len(left) != 1 || left[0].OrderID != u.ExchangeOrderID.String() {
				t.Fatalf("orders on the book: %+v, want only %s", left, u.ExchangeOrderID.String())
			}
			if st := r.e.Stats(); st.Relocated != 1 {
				t.Fatalf("relocated %d", st.Relocated)
			}
			// Trading goes on over the new connection.
			sb.queue(place(2, 2, 0, abi.Buy, "1000", "10"))
			sb.waitOrder(t, 2, abi.StateOpen, abi.ReasonNone)
		})
	}
}
