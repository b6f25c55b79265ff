package pool_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
)

// sinks records which member delivered which channel.
type sinks struct {
	mu     sync.Mutex
	counts map[int]map[string]int
	change chan struct{}
}

func newSinks() *sinks {
	return &sinks{counts: map[int]map[string]int{}, change: make(chan struct{}, 1)}
}

type memberSink struct {
	s *sinks
	m int
}

func (m memberSink) Deliver(n conn.Notification) bool {
	m.s.mu.Lock()
	if m.s.counts[m.m] == nil {
		m.s.counts[m.m] = map[string]int{}
	}
	m.s.counts[m.m][string(n.Channel)]++
	m.s.mu.Unlock()
	select {
	case m.s.change <- struct{}{}:
	default:
	}
	return true
}

func (s *sinks) count(member int, channel string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[member][channel]
}

// waitFor waits until pred holds, woken by every delivery.
func (s *sinks) waitFor(t *testing.T, what string, pred func() bool) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for !pred() {
		select {
		case <-s.change:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

type events struct {
	mu     sync.Mutex
	got    []pool.Event
	change chan struct{}
}

func (e *events) add(ev pool.Event) {
	e.mu.Lock()
	e.got = append(e.got, ev)
	if e.change != nil {
		close(e.change)
		e.change = nil
	}
	e.mu.Unlock()
}

// waitFor waits until an event satisfies pred.
func (e *events) waitFor(t *testing.T, what string, pred func(pool.Event) bool) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		e.mu.Lock()
		if slices.ContainsFunc(e.got, pred) {
			e.mu.Unlock()
			return
		}
		if e.change == nil {
			e.change = make(chan struct{})
		}
		ch := e.change
		e.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s: %+v", what, e.got)
		}
	}
}

func (e *events) has(pred func(pool.Event) bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.ContainsFunc(e.got, pred)
}

func startPool(t *testing.T, pc pool.Config) (*sim.Server, *pool.Pool, *sinks, *events) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := sim.Start(ctx, sim.Config{Seed: 1, MinHeartbeat: 100 * time.Millisecond, Tick: 20 * time.Millisecond,
		RateLimits: sim.RateLimits{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	pc.Conn = conn.DefaultConfig()
	pc.Conn.URL = srv.URL()
	pc.Conn.Credentials = conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret, Method: conn.AuthSignature}
	pc.Conn.HeartbeatInterval = 100 * time.Millisecond
	pc.Conn.Backoff = conn.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond}
	s, ev := newSinks(), &events{}
	p, err := pool.New(pc, func(m int) conn.Sink { return memberSink{s, m} }, ev.add, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return srv, p, s, ev
}

// simConnsWith lists the simulator's connections subscribed to channel.
func simConnsWith(srv *sim.Server, channel string) []uint64 {
	var out []uint64
	for _, c := range srv.Conns() {
		if slices.Contains(c.Channels, channel) {
			out = append(out, c.ID)
		}
	}
	return out
}

// Market data is subscribed on exactly one member, private channels on
// two; when the member carrying a market channel is lost, the channel moves
// to a healthy member and keeps flowing, and the lost member does not
// restore it when it comes back (no duplicates).
func TestSubscriptionsSurviveALoss(t *testing.T) {
	srv, p, s, ev := startPool(t, pool.Config{Size: 3, MinHealthy: 3})
	const ticker, orders = "ticker.BTC-PERPETUAL.100ms", "user.orders.BTC-PERPETUAL.raw"
	if _, err := p.Subscribe(context.Background(), ticker, orders); err != nil {
		t.Fatal(err)
	}
	if got := simConnsWith(srv, ticker); len(got) != 1 {
		t.Fatalf("ticker on %d connections, want 1", len(got))
	}
	if got := simConnsWith(srv, orders); len(got) != 2 {
		t.Fatalf("user.orders on %d connections, want 2", len(got))
	}
	carrier := -1
	s.waitFor(t, "ticks", func() bool {
		for m := range 3 {
			if s.count(m, ticker) > 0 {
				carrier = m
				return true
			}
		}
		return false
	})
	victim := simConnsWith(srv, ticker)[0]
	srv.DropConn(victim)
	s.waitFor(t, "ticks on another member", func() bool {
		for m := range 3 {
			if m != carrier && s.count(m, ticker) > 0 {
				return true
			}
		}
		return false
	})
	s.waitFor(t, "the lost member back", func() bool { return p.Stats().Healthy == 3 })
	if got := simConnsWith(srv, ticker); len(got) != 1 || got[0] == victim {
		t.Fatalf("ticker on connections %v after the loss (lost %d)", got, victim)
	}
	st := p.Stats()
	if st.Losses != 1 || st.Moved != 1 || st.Members[carrier].Losses != 1 {
		t.Fatalf("stats %+v", st)
	}
	if !ev.has(func(e pool.Event) bool { return e.Lost && e.Member == carrier && e.Degraded && e.Healthy == 2 }) {
		t.Fatalf("no degraded loss event for member %d: %+v", carrier, ev.got)
	}
}

// When every member carrying the private channels is lost at once, the
// channels are subscribed on a healthy member, and once they are received
// again the observer is told to read its orders back (Event.Resync): order
// notifications may have been lost in between.
func TestPrivateChannelGap(t *testing.T) {
	srv, p, _, ev := startPool(t, pool.Config{Size: 3, OrderChannels: 2})
	const orders = "user.orders.BTC-PERPETUAL.raw"
	if _, err := p.Subscribe(context.Background(), orders); err != nil {
		t.Fatal(err)
	}
	carriers := simConnsWith(srv, orders)
	if len(carriers) != 2 {
		t.Fatalf("user.orders on %d connections, want 2", len(carriers))
	}
	if ev.has(func(e pool.Event) bool { return e.Resync }) {
		t.Fatal("a resync before any gap")
	}
	for _, id := range carriers {
		srv.DropConn(id)
	}
	ev.waitFor(t, "a resync after the gap", func(e pool.Event) bool { return e.Resync && e.Member == -1 })
	// The third member took the channels; the lost ones restore theirs
	// when they come back.
	survivor := simConnsWith(srv, orders)
	if !slices.ContainsFunc(survivor, func(id uint64) bool { return !slices.Contains(carriers, id) }) {
		t.Fatalf("user.orders on %v after losing %v: not on the surviving member", survivor, carriers)
	}
	// One loss of one carrier is no gap: the other still receives.
	ev.waitFor(t, "the pool whole again", func(pool.Event) bool { return p.Stats().Healthy == 3 })
	ev.mu.Lock()
	resyncs := 0
	for _, e := range ev.got {
		if e.Resync {
			resyncs++
		}
	}
	ev.mu.Unlock()
	srv.DropConn(simConnsWith(srv, orders)[0])
	ev.waitFor(t, "the loss", func(e pool.Event) bool { return e.Lost && p.Stats().Losses == 3 })
	ev.waitFor(t, "the member back", func(pool.Event) bool { return p.Stats().Healthy == 3 })
	ev.mu.Lock()
	defer ev.mu.Unlock()
	n := 0
	for _, e := range ev.got {
		if e.Resync {
			n++
		}
	}
	if n != resyncs {
		t.Fatalf("%d resyncs after the loss of one carrier of three, want none", n-resyncs)
	}
}

// Round robin takes the healthy members in turn; least loaded the one with
// the fewest orders; a lost member is never picked.
func TestPick(t *testing.T) {
	srv, p, _, _ := startPool(t, pool.Config{Size: 3, Policy: pool.RoundRobin})
	var got []int
	for range 6 {
		id, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
	}
	for m := range 3 {
		if countOf(got, m) != 2 {
			t.Fatalf("round robin picks %v", got)
		}
	}
	if id, err := p.PickExcept(1<<0 | 1<<1); err != nil || id != 2 {
		t.Fatalf("PickExcept: %d %v", id, err)
	}
	srv.DropAll()
	// While every member is down (they reconnect at once, so this is a race
	// the pool may win), a pick either fails or returns a member that is up.
	if id, err := p.Pick(); err == nil && !p.Healthy(id) {
		t.Fatalf("picked member %d, which is down", id)
	}

	_, lp, _, _ := startPool(t, pool.Config{Size: 3, Policy: pool.LeastLoaded})
	lp.Carry(0, 2)
	lp.Carry(2, 1)
	if id, _ := lp.Pick(); id != 1 {
		t.Fatalf("least loaded picked %d, want 1", id)
	}
	lp.Carry(1, 5)
	if id, _ := lp.Pick(); id != 2 {
		t.Fatalf("least loaded picked %d, want 2", id)
	}
}

func countOf(xs []int, x int) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

func TestConfigValidate(t *testing.T) {
	base := conn.DefaultConfig()
	base.URL = "ws://127.0.0.1:1/ws"
	for _, tc := range []struct {
		c    pool.Config
		want string
	}{
		{pool.Config{Conn: base, Size: 17}, "size"},
		{pool.Config{Conn: base, Size: 2, MinHealthy: 3}, "min_healthy"},
		{pool.Config{Conn: base, Policy: "random"}, "policy"},
		{pool.Config{Conn: base, OrderChannels: -1}, "order_channels"},
	} {
		if err := tc.c.Validate(); err == nil || !strings.Contains(strings.ToLower(err.Error()), tc.want) {
			t.Errorf("%+v: error %v, want one mentioning %q", tc.c, err, tc.want)
		}
	}
}
