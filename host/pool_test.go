package host

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
)

// poolRig is an engine trading over a pool of connections to the simulator.
type poolRig struct {
	*rig
	p *pool.Pool
}

func startPoolRig(t *testing.T, cfg Config, pc pool.Config) *poolRig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := sim.Start(ctx, sim.Config{Seed: 1, MinHeartbeat: 100 * time.Millisecond, AlwaysTestRequest: true,
		Tick: 20 * time.Millisecond, RateLimits: sim.RateLimits{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, EngineLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	pc.Conn = conn.DefaultConfig()
	pc.Conn.URL = srv.URL()
	pc.Conn.Credentials = conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret, Method: conn.AuthSignature}
	pc.Conn.HeartbeatInterval = 100 * time.Millisecond
	pc.Conn.Backoff = conn.Backoff{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond}
	p, err := pool.New(pc, e.Sink, func(ev pool.Event) {
		lost := -1
		if ev.Lost {
			lost = ev.Member
		}
		e.PoolEvent(lost, ev.Healthy, ev.Total, ev.Degraded)
	}, nil)
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
		if o.Label == fmt.Sprintf("sbx:1:%d", cid) {
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
	cfg := Config{Plugins: []PluginSpec{{Name: "script", NewSandbox: func(*Plugin) Sandbox { return sb },
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
	// admitted again.
	if !r.e.WaitStats(func(EngineStats) bool { s := r.p.Stats(); return s.Losses == 1 && s.Healthy == 3 }, 30*time.Second) {
		t.Fatalf("pool stats %+v", r.p.Stats())
	}
	if st := r.e.Stats(); st.Relocated != 1 {
		t.Fatalf("relocated %d, want 1", st.Relocated)
	}
}
