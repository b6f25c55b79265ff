package host

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stratbox/stratbox/venue/deribit"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
)

// poolRig is an engine trading over a pool of connections to the simulator.
type poolRig struct {
	*rig
	p *pool.Pool
}

// startPoolRig starts the simulator, a pool of pc over it and an engine of
// cfg (with the test logger and opts) trading over the pool.
func startPoolRig(t testing.TB, cfg Config, pc pool.Config, opts ...Option) *poolRig {
	t.Helper()
	return startPoolRigSim(t, testSimConfig(), cfg, pc, opts...)
}

// startPoolRigSim is startPoolRig over a simulator of sc.
func startPoolRigSim(t testing.TB, sc sim.Config, cfg Config, pc pool.Config, opts ...Option) *poolRig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// The simulator outlives the run (srv.Close at cleanup): the engine cancels
	// its orders after the run's context ends, and the test reads the book then.
	srv, err := sim.Start(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, append([]Option{WithLogger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	hb := pc.Conn.HeartbeatInterval // a rig's own, kept
	pc.Conn = testConnConfig(srv.URL())
	if hb > 0 {
		pc.Conn.HeartbeatInterval = hb
	}
	pc.Conn.Backoff = conn.Backoff{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond}
	pc.Classify = PoolRates
	p, err := pool.New(pc, e.Sink, e.PoolEvent, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, srv: srv, e: e, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- e.Run(ctx, p) }()
	t.Cleanup(func() {
		r.stop()
		p.Close()
		srv.Close()
	})
	return &poolRig{rig: r, p: p}
}

// simOrder finds the order with our label for cid on the simulator's book.
func simOrder(srv *sim.Server, cid uint64) (sim.Order, bool) {
	for _, o := range ourOrders(srv) {
		if l, ok := deribit.ParseLabel([]byte(o.Label)); ok && l.Instance == 1 && l.CID == cid && l.Chunk == 0 {
			return o, true
		}
	}
	return sim.Order{}, false
}

// Three orders over three connections (least_loaded: one each); the loss
// of one connection cancels only its order, which comes back on another
// connection under the same cid; the other two are untouched; nothing is
// ever live twice.
func TestPoolLossCancelsOnlyThatConnectionsOrders(t *testing.T) {
	sb := newScriptBox(append(append(place(1, 1, 0, abi.Buy, "1000", "10"), place(2, 2, 0, abi.Buy, "1000.5", "10")...),
		place(3, 3, 0, abi.Buy, "1001", "10")...))
	cfg := Config{Plugins: []PluginSpec{{Name: "script", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return sb },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}}}}
	r := startPoolRig(t, cfg, pool.Config{Size: 3, Policy: pool.LeastLoaded})
	ids := map[uint64]string{}
	for cid := uint64(1); cid <= 3; cid++ {
		u := sb.waitOrder(t, cid, abi.StateOpen, abi.ReasonNone)
		ids[cid] = u.ExchangeOrderID.String()
	}
	conns := map[uint64]bool{}
	for cid := uint64(1); cid <= 3; cid++ {
		o, ok := simOrder(r.srv, cid)
		if !ok {
			t.Fatalf("order %d not on the book", cid)
		}
		conns[o.ConnID] = true
	}
	if len(conns) != 3 {
		t.Fatalf("three orders on %d connections, want 3 (least_loaded)", len(conns))
	}
	victim, _ := simOrder(r.srv, 2)
	if !r.srv.DropConn(victim.ConnID) {
		t.Fatal("no such connection")
	}
	sb.waitFor(t, "order 2 pending after the loss", func(rec []byte) bool {
		var u abi.OrderUpdate
		return abi.DecodeOrderUpdate(rec, &u) == nil && u.CID == 2 && u.State == abi.StatePending &&
			u.Reason == abi.ReasonCancelOnDisconnect
	})
	sb.waitFor(t, "order 2 open again", func(rec []byte) bool {
		var u abi.OrderUpdate
		return abi.DecodeOrderUpdate(rec, &u) == nil && u.CID == 2 && u.State == abi.StateOpen &&
			u.ExchangeOrderID.String() != ids[2]
	})
	again, ok := simOrder(r.srv, 2)
	if !ok || again.ConnID == victim.ConnID || again.OrderID == ids[2] {
		t.Fatalf("order 2 after the loss: %+v (was %s on connection %d)", again, ids[2], victim.ConnID)
	}
	for _, cid := range []uint64{1, 3} {
		o, ok := simOrder(r.srv, cid)
		if !ok || o.OrderID != ids[cid] {
			t.Fatalf("order %d changed: %+v, want %s", cid, o, ids[cid])
		}
	}
	if n := len(ourOrders(r.srv)); n != 3 {
		t.Fatalf("%d orders on the book, want 3", n)
	}
	// The pool counts the loss, and the lost member comes back and is
	// admitted again. (On a loaded machine a heartbeat may also be late
	// enough for a member to be declared dead: more losses, more orders
	// re-placed, each still exactly once and never live twice.)
	if !r.e.WaitStats(func(EngineStats) bool { s := r.p.Stats(); return s.Losses >= 1 && s.Healthy == 3 }, 30*time.Second) {
		t.Fatalf("pool stats %+v", r.p.Stats())
	}
	if st := r.e.Stats(); st.Relocated < 1 || st.Relocated > r.p.Stats().Losses*3 {
		t.Fatalf("relocated %d after %d losses", st.Relocated, r.p.Stats().Losses)
	}
	checkNoTwins(t, r.srv)
	var carried int64
	for _, m := range r.p.Stats().Members {
		carried += m.Carried
	}
	if carried != 3 {
		t.Fatalf("members carry %d orders, want 3", carried)
	}
}

// Start-up reconciliation: an open order of an earlier run of this host
// (its host id, another run id) is cancelled before any plugin trades;
// another host's order and a foreign order are left alone; and the
// account's position reaches the plugin's start-up blob.
func TestStartupReconciliation(t *testing.T) {
	ctx := context.Background()
	srv, err := sim.Start(ctx, testSimConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cc := testConnConfig(srv.URL())
	earlier := cc
	earlier.CancelOnDisconnect = false // its orders outlive it, as a crashed host's would without cancel-on-disconnect
	c, err := conn.Dial(ctx, earlier)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, params string) {
		t.Helper()
		if _, err := c.CallRaw(ctx, method, []byte(params)); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
	}
	// An earlier run's resting order, another host's, a foreign one, and a
	// position (a market buy against the synthetic market).
	call("private/buy", `{"instrument_name":"BTC-PERPETUAL","amount":10,"type":"limit","price":1000,"label":"sbx:h1:r0:3:7"}`)
	call("private/buy", `{"instrument_name":"BTC-PERPETUAL","amount":10,"type":"limit","price":1000,"label":"sbx:h2:r1:1:7"}`)
	call("private/buy", `{"instrument_name":"BTC-PERPETUAL","amount":10,"type":"limit","price":1000.5,"label":"by-hand"}`)
	call("private/buy", `{"instrument_name":"BTC-PERPETUAL","amount":30,"type":"market","label":"by-hand-2"}`)
	c.Close()

	var blob abi.Startup
	started := make(chan struct{})
	sb := newScriptBox(nil)
	box := func(*sandbox.Plugin) sandbox.Sandbox { return &startupSpy{scriptBox: sb, got: &blob, started: started} }
	e, err := New(Config{Plugins: []PluginSpec{{Name: "p", NewSandbox: box, Instruments: []string{"BTC-PERPETUAL"},
		Channels: []string{"ticker.{instrument}.100ms"}}}, HostID: "h1", RunID: "r1"}, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	c2, err := conn.Dial(ctx, cc, conn.WithSink(e))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx, c2) }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	st := e.Stats()
	left := srv.OpenOrders(simAccount)
	labels := map[string]bool{}
	for _, o := range left {
		labels[o.Label] = true
	}
	if st.Leftover != 1 || st.Peers != 1 || st.Foreign != 1 || len(left) != 2 || !labels["by-hand"] || !labels["sbx:h2:r1:1:7"] {
		t.Fatalf("leftover %d, peers %d, foreign %d, open orders after start-up %+v; want 1, 1, 1 and the other host's and the foreign one",
			st.Leftover, st.Peers, st.Foreign, left)
	}
	if len(blob.Positions) != 1 || blob.Positions[0].Flags&abi.PositionAccount == 0 ||
		blob.Positions[0].Instrument != 0 || blob.Positions[0].Size != fx("30") {
		t.Fatalf("start-up positions %+v, want the account's +30 on instrument 0", blob.Positions)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// startupSpy records the start-up blob.
type startupSpy struct {
	*scriptBox
	got     *abi.Startup
	started chan struct{}
}

func (s *startupSpy) Start(ctx context.Context, startup []byte, now time.Time) ([]byte, error) {
	if err := abi.DecodeStartup(startup, s.got); err != nil {
		return nil, err
	}
	close(s.started)
	return nil, nil
}

// BenchmarkFailover measures the time from a connection's death (the
// exchange drops it) to its order being live again on another connection:
// cancel-on-disconnect, the update on another connection, the re-placement
// and its acknowledgement. Each iteration uses a new order (an order is
// re-placed at most once) and waits, untimed, for the pool to be whole.
func BenchmarkFailover(b *testing.B) {
	sb := newScriptBox(nil)
	cfg := Config{Plugins: []PluginSpec{{Name: "script", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return sb },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}}}}
	r := startPoolRig(b, cfg, pool.Config{Size: 3, Limits: pool.Limits{Disabled: true}})
	// Waits look only at the events of their iteration, so that their cost
	// does not grow with b.N.
	waitState := func(from int, cid uint64, state abi.OrderState) abi.OrderUpdate {
		var u abi.OrderUpdate
		sb.waitFrom(b, fmt.Sprintf("order %d %v", cid, state), from, func(rec []byte) bool {
			return abi.ReadHeader(rec).Kind == abi.KindOrderUpdate && abi.DecodeOrderUpdate(rec, &u) == nil &&
				u.CID == cid && u.State == state
		})
		return u
	}
	var total time.Duration
	for i := range b.N {
		b.StopTimer()
		cid := uint64(i + 1)
		start := sb.mark()
		sb.queue(place(uint32(cid), cid, 0, abi.Buy, "1000", "10"))
		first := waitState(start, cid, abi.StateOpen)
		if !r.e.WaitStats(func(EngineStats) bool { return r.p.Stats().Healthy == 3 }, 30*time.Second) {
			b.Fatal("pool not whole")
		}
		o, ok := simOrder(r.srv, cid)
		if !ok {
			b.Fatalf("order %d not on the book", cid)
		}
		from := sb.mark()
		b.StartTimer()
		began := time.Now()
		r.srv.DropConn(o.ConnID)
		sb.waitFrom(b, fmt.Sprintf("order %d re-placed", cid), from, func(rec []byte) bool {
			var u abi.OrderUpdate
			return abi.DecodeOrderUpdate(rec, &u) == nil && u.CID == cid && u.State == abi.StateOpen &&
				u.ExchangeOrderID != first.ExchangeOrderID
		})
		total += time.Since(began)
		// Untimed: cancel it, so that every iteration starts from the same
		// book however many there are.
		b.StopTimer()
		sb.queue(abi.AppendCancel(nil, &abi.Cancel{Seq: uint32(cid), CID: cid}))
		waitState(from, cid, abi.StateCancelled)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/failover")
}
