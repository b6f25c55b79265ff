package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
)

// placer is a Sandbox that places n resting buy orders at start and
// records the updates it is told of.
type placer struct {
	n      int
	mu     sync.Mutex
	states map[uint64]abi.OrderUpdate
	lost   map[uint64]int // updates with reason cancel_on_disconnect
	upd    chan struct{}  // closed and replaced at every delivery
}

// waitOpen waits until n of the placer's orders are open, as it was told.
// The engine's WaitStats cannot: the plugin hears of an order after the
// engine's last notification about it.
func (p *placer) waitOpen(n int, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		p.mu.Lock()
		if p.upd == nil {
			p.upd = make(chan struct{})
		}
		ch := p.upd
		p.mu.Unlock()
		if p.openCount() == n {
			return true
		}
		select {
		case <-ch:
		case <-t.C:
			return false
		}
	}
}

func (p *placer) Start(context.Context, []byte, time.Time) ([]byte, error) {
	var out []byte
	for i := range p.n {
		price, _ := abi.ParseFixed(fmt.Sprintf("%d", 1000+i))
		amount, _ := abi.ParseFixed("10")
		out = abi.AppendPlace(out, &abi.Place{Seq: uint32(i + 1), CID: uint64(i + 1), Side: abi.Buy, Type: abi.Limit,
			TIF: abi.GoodTilCancelled, Price: price, Amount: amount})
	}
	return out, nil
}

func (p *placer) Deliver(_ context.Context, batch []byte, _ time.Time) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.upd != nil {
		close(p.upd)
		p.upd = nil
	}
	for rec, err := range abi.Records(batch) {
		if err != nil {
			return nil, err
		}
		var u abi.OrderUpdate
		if rec.Kind == abi.KindOrderUpdate && abi.DecodeOrderUpdate(rec.Bytes, &u) == nil {
			p.states[u.CID] = u
			if u.Reason == abi.ReasonCancelOnDisconnect {
				p.lost[u.CID]++
			}
		}
	}
	return nil, nil
}

func (p *placer) NextTimer() (time.Time, bool)                    { return time.Time{}, false }
func (p *placer) Stop(context.Context, time.Time) ([]byte, error) { return nil, nil }
func (p *placer) Close() error                                    { return nil }
func (p *placer) Fault() *host.Fault                              { return nil }
func (p *placer) Stats() host.InstanceStats                       { return host.InstanceStats{} }
func (p *placer) Descriptor() abi.Descriptor {
	return abi.Descriptor{InboxCap: 1 << 16, OutboxCap: 1 << 16}
}

func (p *placer) openCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, u := range p.states {
		if u.State == abi.StateOpen {
			n++
		}
	}
	return n
}

// An engine on n1 places orders over its own connection and, as remote
// members (cluster.Remote), over n2's and n3's: the pool's policy spreads
// them across the nodes. When the exchange drops n2's connection,
// cancel-on-disconnect cancels the orders on it and the engine, their
// owner, re-places them on a healthy member; the cluster's controller,
// which replaces the connection, does not re-establish them too (they were
// placed as owned): every order is live exactly once.
func TestEngineOrdersAcrossNodes(t *testing.T) {
	srv := startSim(t)
	cfgs := embeddedConfigs(t, "n1", "n2", "n3")
	pl := &placer{n: 6, states: map[uint64]abi.OrderUpdate{}, lost: map[uint64]int{}}
	e, err := host.New(host.Config{Plugins: []host.PluginSpec{{Name: "p", NewSandbox: func(*host.Plugin) host.Sandbox { return pl },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}}}})
	if err != nil {
		t.Fatal(err)
	}
	// n2 and n3 admit what they carry with an engine's own remote checks
	// (host.Engine.AdmitRemote, as host run wires them): the engine's
	// orders pass them.
	var admitted atomic.Int64
	for i := 1; i < 3; i++ {
		cfgs[i].Guard = func(o RemoteOrder) error {
			if err := e.AdmitRemote(o.Method, o.Params, o.Instrument); err != nil {
				return err
			}
			admitted.Add(1)
			return nil
		}
	}
	// n1's pool delivers to the engine; n2 and n3 are ordinary members.
	p1, err := pool.New(poolConfig(srv.URL(), 1), e.Sink, e.PoolEvent, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := p1.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer p1.Close()
	h1 := NewPoolHolder()
	defer h1.Close()
	_ = h1.Add("main", p1, func(context.Context) (*pool.Pool, error) { return startPool(context.Background(), srv.URL(), 1, nil) })
	var others []*member
	var othersErr error
	var wg sync.WaitGroup
	wg.Go(func() { others, othersErr = launchMembers(srv.URL(), 1, cfgs[1:]) })
	n1, err := startNode(ctx, cfgs[0], h1, h1)
	wg.Wait()
	t.Cleanup(func() { closeMembers(others) })
	if err != nil || othersErr != nil {
		t.Fatal(err, othersErr)
	}
	defer n1.Close()

	remote := n1.Remote("main", 4, func(slot int, healthy bool) {
		e.PoolEvent(pool.Event{Member: host.RemoteMember(p1.Size(), slot), Ready: healthy, Lost: !healthy,
			Healthy: p1.Stats().Healthy, Total: p1.Size()})
	})
	defer remote.Close()
	e.UseRemote(remote)
	waitFor(t, n1, "two remote members", 30*time.Second, func() bool { return remote.Healthy(0) && remote.Healthy(1) })

	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, p1) }()
	defer func() { cancel(); <-done }()
	labelOn := func() map[string][]sim.Order {
		out := map[string][]sim.Order{}
		for _, o := range srv.OpenOrders(sim.TestKeyID) {
			if strings.HasPrefix(o.Label, "sbx:") {
				out[o.Label] = append(out[o.Label], o)
			}
		}
		return out
	}
	conns := func() map[uint64]bool {
		out := map[uint64]bool{}
		for _, os := range labelOn() {
			for _, o := range os {
				out[o.ConnID] = true
			}
		}
		return out
	}
	waitStats := func(what string, pred func() bool) {
		t.Helper()
		if !e.WaitStats(func(host.EngineStats) bool { return pred() }, 30*time.Second) {
			t.Fatalf("timed out waiting for %s: book %v, plugin %v", what, labelOn(), pl.states)
		}
	}
	// The book changes before the engine hears of it (and notifies); the
	// plugin hears of it after.
	waitStats("six orders on the book", func() bool { return len(labelOn()) == 6 })
	if !pl.waitOpen(6, 30*time.Second) {
		t.Fatalf("the plugin was not told of six open orders: %v", pl.states)
	}
	if c := conns(); len(c) != 3 {
		t.Fatalf("orders on %d connections, want 3 (one per node): %v", len(c), labelOn())
	}
	if admitted.Load() < 2 {
		t.Fatalf("the other nodes' guards admitted %d requests, want one order on each at least", admitted.Load())
	}
	// Drop a remote node's connection (not n1's own: the engine subscribed
	// its channels there).
	var victim uint64
	var moved int
	for _, os := range labelOn() {
		for _, o := range os {
			if victim == 0 && !isOwn(srv, o.ConnID) {
				victim = o.ConnID
			}
		}
	}
	for _, os := range labelOn() {
		for _, o := range os {
			if o.ConnID == victim {
				moved++
			}
		}
	}
	if victim == 0 || moved == 0 {
		t.Fatalf("no order on a remote connection: %v", labelOn())
	}
	srv.DropConn(victim)
	waitStats("the lost orders re-placed", func() bool {
		book := labelOn()
		if len(book) != 6 || e.Stats().Relocated < uint64(moved) {
			return false
		}
		for _, os := range book {
			if os[0].ConnID == victim {
				return false
			}
		}
		return true
	})
	if !pl.waitOpen(6, 30*time.Second) {
		t.Fatalf("the plugin was not told of six open orders again: %v", pl.states)
	}
	// The controller replaces the connection; it must not place anything.
	waitFor(t, n1, "the pool whole again", 30*time.Second, func() bool { return poolHealth(n1, "main").Healthy == 3 })
	for label, os := range labelOn() {
		if len(os) != 1 {
			t.Fatalf("label %s live %d times: %+v", label, len(os), os)
		}
	}
	if n := len(labelOn()); n != 6 {
		t.Fatalf("%d orders on the book, want 6", n)
	}
	if st := e.Stats(); st.Relocated != uint64(moved) {
		t.Fatalf("re-placed %d, want %d (the orders on the lost connection)", st.Relocated, moved)
	}
}

// isOwn reports whether the simulator's connection id is the engine's
// (the only one with subscriptions: the other nodes' pools have none).
func isOwn(srv *sim.Server, id uint64) bool {
	for _, c := range srv.Conns() {
		if c.ID == id {
			return len(c.Channels) > 0
		}
	}
	return false
}
