package pool_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
)

// memberLog records every member's state changes (times by the fake clock).
type memberLog struct {
	mu     sync.Mutex
	all    []change
	change chan struct{}
}

type change struct {
	m  int
	ch conn.StateChange
}

func (l *memberLog) add(m int, ch conn.StateChange) {
	l.mu.Lock()
	l.all = append(l.all, change{m, ch})
	if l.change != nil {
		close(l.change)
		l.change = nil
	}
	l.mu.Unlock()
}

// waitFor waits until pred holds over the changes so far.
func (l *memberLog) waitFor(t *testing.T, what string, pred func([]change) bool) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		if pred(l.all) {
			l.mu.Unlock()
			return
		}
		if l.change == nil {
			l.change = make(chan struct{})
		}
		ch := l.change
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (l *memberLog) snapshot() []change {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]change(nil), l.all...)
}

// readyAll: every member's latest change is to Ready, and one changed
// after the first from changes.
func readyAll(n, from int) func([]change) bool {
	return func(cs []change) bool {
		if len(cs) <= from {
			return false
		}
		last := map[int]conn.State{}
		for _, c := range cs {
			last[c.m] = c.ch.To
		}
		for m := range n {
			if last[m] != conn.StateReady {
				return false
			}
		}
		return true
	}
}

// startFakeClockPool starts a pool of 3 whose connections run on a fake
// clock, against a simulator on loopback.
func startFakeClockPool(t *testing.T, b conn.Backoff) (*sim.Server, *pool.Pool, *clock.Fake, *memberLog) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := sim.Start(ctx, sim.Config{Seed: 7, NoMarket: true, RateLimits: sim.RateLimits{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	pc := pool.Config{Size: 3, Limits: pool.Limits{Disabled: true}}
	pc.Conn = conn.DefaultConfig()
	pc.Conn.URL = srv.URL()
	// client_credentials: a signature would carry the fake clock's time.
	pc.Conn.Credentials = conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret, Method: conn.AuthCredentials}
	pc.Conn.RequestTimeout = time.Hour // the fake clock moves by seconds; setup must not time out
	pc.Conn.Backoff = b
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	p, err := pool.New(pc, nil, nil, nil, conn.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	log := &memberLog{}
	p.ObserveMembers(log.add)
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	log.waitFor(t, "the pool to be whole", readyAll(3, 0))
	return srv, p, clk, log
}

// TestPoolRedialsAtOnceAfterCut: a random member cut again and again is
// re-dialled each time without the clock moving (the old schedule waited
// 0.1, 0.2, 0.4 s… for sockets lost within 30 s of their Ready).
func TestPoolRedialsAtOnceAfterCut(t *testing.T) {
	srv, p, clk, log := startFakeClockPool(t, conn.Backoff{Min: time.Hour, Max: time.Hour, Jitter: -1})
	start := clk.Now()
	// 3 attempts at start and 7 re-dials: the default bucket's 10 tokens,
	// so that nothing waits for the clock.
	for i := range 7 {
		from := len(log.snapshot())
		if _, ok := srv.DropRandom(); !ok {
			t.Fatalf("cut %d: no connection", i)
		}
		log.waitFor(t, "a loss", func(cs []change) bool {
			for _, c := range cs[from:] {
				if c.ch.From == conn.StateReady && c.ch.To == conn.StateDegraded {
					return true
				}
			}
			return false
		})
		log.waitFor(t, "the pool whole again", readyAll(3, from))
	}
	if !clk.Now().Equal(start) {
		t.Fatalf("the clock moved: %v", clk.Now().Sub(start))
	}
	if st := p.Stats(); st.Losses != 7 || st.Healthy != 3 {
		t.Fatalf("losses %d healthy %d, want 7 3", st.Losses, st.Healthy)
	}
}

// TestPoolLeadDialsAtMinWhileRefused: the exchange refuses every
// connection for 10 s. The lead member keeps dialling every Backoff.Min,
// the others back off to Backoff.Max; attempts stay within the account's
// cap; when the exchange is back the pool is whole within one Min.
func TestPoolLeadDialsAtMinWhileRefused(t *testing.T) {
	b := conn.Backoff{Min: time.Second, Max: 8 * time.Second, Jitter: -1, AttemptsPerSecond: 3}
	srv, p, clk, log := startFakeClockPool(t, b)
	clk.Advance(time.Second) // the bucket refills after the start's 3 attempts
	from := len(log.snapshot())
	srv.RefuseConnections(true)
	srv.DropAll()
	t0 := clk.Now()
	// Each member re-dials its lost socket at once and is refused.
	log.waitFor(t, "every member refused once", func(cs []change) bool {
		n := 0
		for _, c := range cs[from:] {
			if c.ch.To == conn.StateDegraded && c.ch.Attempt == 1 {
				n++
			}
		}
		return n == 3
	})
	for clk.Now().Sub(t0) < 10*time.Second {
		clk.WaitForTimers(3, nil) // each member waits (backoff or attempt bucket)
		clk.Advance(time.Second)
	}
	clk.WaitForTimers(3, nil)
	srv.RefuseConnections(false)
	back := clk.Now()
	clk.Advance(b.Min)
	log.waitFor(t, "the pool whole again", readyAll(3, from))

	cs := log.snapshot()[from:]
	attempts := map[int][]time.Time{} // Connecting, by member
	maxRefusals := map[int]int{}
	var readyAt []time.Time
	for _, c := range cs {
		switch c.ch.To {
		case conn.StateConnecting:
			attempts[c.m] = append(attempts[c.m], c.ch.At)
		case conn.StateDegraded:
			maxRefusals[c.m] = max(maxRefusals[c.m], c.ch.Attempt)
		case conn.StateReady:
			readyAt = append(readyAt, c.ch.At)
		}
	}
	// The lead (member 0) dialled every second: t0, t0+1s, …, t0+11s.
	if n := len(attempts[0]); n != 12 {
		t.Fatalf("lead attempts %d, want 12: %v", n, attempts[0])
	}
	for i := 1; i < len(attempts[0]); i++ {
		if d := attempts[0][i].Sub(attempts[0][i-1]); d != b.Min {
			t.Fatalf("lead attempt %d after %v, want %v", i, d, b.Min)
		}
	}
	// The others backed off 1, 2, 4, 8 s (to the cap): refused 4 times.
	for m := 1; m < 3; m++ {
		if maxRefusals[m] != 4 {
			t.Fatalf("member %d refused %d times in a row, want 4 (waits 1, 2, 4, then Max 8 s)", m, maxRefusals[m])
		}
	}
	// Whole within one Min of the exchange's return.
	for _, at := range readyAt {
		if d := at.Sub(back); d < 0 || d > b.Min {
			t.Fatalf("ready %v after the exchange came back, want within %v", d, b.Min)
		}
	}
	// Never more attempts in a second than the cap (one bucket for the account).
	var all []time.Time
	for _, a := range attempts {
		all = append(all, a...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Before(all[j]) })
	for i := range all {
		n := 0
		for j := i; j < len(all) && all[j].Sub(all[i]) < time.Second; j++ {
			n++
		}
		if n > 3 {
			t.Fatalf("%d attempts within a second from %v", n, all[i].Sub(t0))
		}
	}
	if st := srv.Stats(); st.Refused == 0 {
		t.Fatal("the simulator refused nothing")
	}
	if taken, _ := p.Attempts(); taken < uint64(len(all)) {
		t.Fatalf("bucket counted %d attempts, saw %d", taken, len(all))
	}
}

// TestPoolAttemptsCapped: the members share one bucket of the account's
// attempts: after a cut of all three connections that finds it empty, they
// re-dial a third of a second apart (3 per second), not together.
func TestPoolAttemptsCapped(t *testing.T) {
	srv, p, clk, log := startFakeClockPool(t, conn.Backoff{Min: time.Second, Max: time.Second, Jitter: -1, AttemptsPerSecond: 3})
	// The start took the 3 tokens at the clock's start: a cut now finds the
	// bucket empty.
	from := len(log.snapshot())
	srv.DropAll()
	t0 := clk.Now()
	count := func(to conn.State, n int) func([]change) bool {
		return func(cs []change) bool {
			k := 0
			for _, c := range cs[from:] {
				if c.ch.To == to {
					k++
				}
			}
			return k >= n
		}
	}
	log.waitFor(t, "three losses", count(conn.StateDegraded, 3))
	clk.WaitForTimers(3, nil) // each member waits for a token
	for i := 1; i <= 3; i++ {
		clk.Set(t0.Add(time.Duration(i) * (time.Second/3 + time.Millisecond)))
		log.waitFor(t, "the next attempt", count(conn.StateConnecting, i))
	}
	log.waitFor(t, "the pool whole again", readyAll(3, from))
	var at []time.Duration
	for _, c := range log.snapshot()[from:] {
		if c.ch.To == conn.StateConnecting {
			at = append(at, c.ch.At.Sub(t0))
		}
	}
	if len(at) != 3 {
		t.Fatalf("attempts %v, want 3", at)
	}
	sort.Slice(at, func(i, j int) bool { return at[i] < at[j] })
	for i, d := range at {
		if d < time.Duration(i+1)*time.Second/3 {
			t.Fatalf("attempt %d at %v: before the bucket allowed it (%v)", i, d, at)
		}
	}
	if taken, waited := p.Attempts(); waited != 3 || taken != 6 {
		t.Fatalf("attempts %d, of which waited for the bucket %d: want 6, 3 (%v)", taken, waited, at)
	}
}
