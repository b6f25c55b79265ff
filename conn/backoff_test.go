package conn_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/conn"
)

// refuseSetup makes the fake exchange refuse public/set_heartbeat while
// *on is true (an exchange that accepts sockets but not sessions).
func refuseSetup(h *harness, on *atomic.Bool) {
	h.srv.setRespond(func(fc *fakeConn, r fakeReq) bool {
		if r.Method == "public/set_heartbeat" && on.Load() {
			fc.error(r.ID, 11051, "system_maintenance", nil)
			return true
		}
		return false
	})
}

// TestRedialAtOnceAfterLoss: a socket that reached Ready and is lost is
// re-dialled without waiting for the clock, however often it happens (the
// old schedule backed off 1, 2, 4 s… over sockets lost within ResetAfter).
func TestRedialAtOnceAfterLoss(t *testing.T) {
	h := start(t, func(c *conn.Config) {
		c.Backoff = conn.Backoff{Min: time.Second, Max: 8 * time.Second, Jitter: -1}
	})
	for i := range 6 {
		h.fc.drop()
		h.obs.waitFor(t, conn.StateDegraded)
		if ch := waitConnecting(t, h); ch.Attempt != 1 {
			t.Fatalf("loss %d: attempt %d, want 1", i, ch.Attempt)
		}
		h.fc = h.srv.next()
		h.obs.waitFor(t, conn.StateReady)
	}
	if st := h.c.Stats(); st.Reconnects != 6 {
		t.Fatalf("reconnects %d, want 6", st.Reconnects)
	}
}

// TestRedialJitterBelowMinTimesJitter: with jitter, the wait proposed for
// the re-dial of a lost socket is below Min × Jitter (and varies).
func TestRedialJitterBelowMinTimesJitter(t *testing.T) {
	owns := make(chan time.Duration, 16)
	h := start(t, func(c *conn.Config) {
		c.Backoff = conn.Backoff{Min: 10 * time.Second, Max: 20 * time.Second, Jitter: 0.5}
	}, conn.WithPacer(conn.PacerFunc(func(refusals int, own time.Duration) time.Duration {
		owns <- own
		return 0 // the Backoff's own wait is what is checked; the clock stays
	})))
	seen := map[time.Duration]bool{}
	for i := range 5 {
		h.fc.drop()
		h.obs.waitFor(t, conn.StateDegraded)
		if own := <-owns; own < 0 || own >= 5*time.Second {
			t.Fatalf("loss %d: re-dial wait %v, want below Min × Jitter = 5s", i, own)
		} else {
			seen[own] = true
		}
		h.fc = h.srv.next()
		h.obs.waitFor(t, conn.StateReady)
	}
	if len(seen) < 2 {
		t.Fatalf("the re-dial wait never varied: %v", seen)
	}
}

func waitConnecting(t *testing.T, h *harness) conn.StateChange {
	t.Helper()
	return h.obs.waitFor(t, conn.StateConnecting)
}

// TestBackoffEscalatesOnRefusalResetsOnReady: consecutive refused
// attempts wait Min, 2 Min, 4 Min (capped at Max); the next Ready starts
// the count over, so that the loss after it re-dials at once and a refusal
// after that waits Min again.
func TestBackoffEscalatesOnRefusalResetsOnReady(t *testing.T) {
	h := start(t, func(c *conn.Config) {
		c.Backoff = conn.Backoff{Min: 100 * time.Millisecond, Max: 400 * time.Millisecond, Jitter: -1}
		c.RequestTimeout = time.Hour // the clock moves by seconds here
	})
	var refuse atomic.Bool
	refuseSetup(h, &refuse)
	refused := func(round int, wait time.Duration, attempt int) {
		t.Helper()
		if wait > 0 {
			h.clk.WaitForTimers(1, nil)
			h.clk.Advance(wait - time.Nanosecond)
			select {
			case ch := <-h.obs.ch:
				if ch.To == conn.StateConnecting {
					t.Fatalf("round %d: re-dialled before %v", round, wait)
				}
			default:
			}
			h.clk.Advance(time.Nanosecond)
		}
		if ch := waitConnecting(t, h); ch.Attempt != attempt {
			t.Fatalf("round %d: attempt %d, want %d", round, ch.Attempt, attempt)
		}
		h.srv.next()
		deg := h.obs.waitFor(t, conn.StateDegraded)
		if !errors.Is(deg.Err, &conn.RPCError{Code: 11051}) || deg.Attempt != attempt {
			t.Fatalf("round %d: %+v", round, deg)
		}
	}
	for round := range 2 {
		refuse.Store(true)
		h.fc.drop()
		h.obs.waitFor(t, conn.StateDegraded)
		refused(round, 0, 1)                    // the loss: at once
		refused(round, 100*time.Millisecond, 2) // then Min, 2 Min, 4 Min = Max, Max
		refused(round, 200*time.Millisecond, 3)
		refused(round, 400*time.Millisecond, 4)
		refused(round, 400*time.Millisecond, 5)
		refuse.Store(false)
		h.clk.WaitForTimers(1, nil)
		h.clk.Advance(400 * time.Millisecond)
		h.fc = h.srv.next()
		h.obs.waitFor(t, conn.StateReady) // round 1 starts over at once, then at Min
	}
}

// TestRedialCutsBackoffShort: Redial (a pool telling a member that the
// exchange is up) ends a wait after refusals and starts the count over; it
// does nothing to a ready connection.
func TestRedialCutsBackoffShort(t *testing.T) {
	h := start(t, func(c *conn.Config) {
		c.Backoff = conn.Backoff{Min: time.Hour, Max: time.Hour, Jitter: -1}
	})
	h.c.Redial() // ready: nothing
	var refuse atomic.Bool
	refuse.Store(true)
	refuseSetup(h, &refuse)
	h.fc.drop()
	h.obs.waitFor(t, conn.StateDegraded)
	h.srv.next()
	if deg := h.obs.waitFor(t, conn.StateDegraded); deg.Attempt != 1 {
		t.Fatalf("attempt %d", deg.Attempt)
	}
	h.clk.WaitForTimers(1, nil) // the hour's wait
	refuse.Store(false)
	h.c.Redial()
	if ch := waitConnecting(t, h); ch.Attempt != 1 {
		t.Fatalf("attempt after Redial %d, want 1 (the count starts over)", ch.Attempt)
	}
	h.fc = h.srv.next()
	h.obs.waitFor(t, conn.StateReady)
}

// TestAttemptsCapped: attempts take tokens of Backoff.AttemptsPerSecond;
// losses faster than the cap wait for the bucket, on the clock.
func TestAttemptsCapped(t *testing.T) {
	h := start(t, func(c *conn.Config) {
		c.Backoff = conn.Backoff{Min: time.Second, Max: time.Second, Jitter: -1, AttemptsPerSecond: 1}
	})
	// Start took the only token at t0: the re-dial waits a second for the next.
	for i := range 3 {
		h.fc.drop()
		h.obs.waitFor(t, conn.StateDegraded)
		h.clk.WaitForTimers(1, nil)
		h.clk.Advance(time.Second - time.Nanosecond)
		select {
		case ch := <-h.obs.ch:
			t.Fatalf("loss %d: %v→%v before the bucket refilled", i, ch.From, ch.To)
		default:
		}
		h.clk.Advance(time.Nanosecond)
		waitConnecting(t, h)
		h.fc = h.srv.next()
		h.obs.waitFor(t, conn.StateReady)
	}
}

// TestAttemptLimiterShared: one limiter across connections caps them
// together: a burst of perSecond attempts, then one every 1/perSecond, in
// the order they asked.
func TestAttemptLimiterShared(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	l := conn.NewAttemptLimiter(4, clk)
	for i := range 4 {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatalf("burst attempt %d: %v", i, err)
		}
	}
	var mu sync.Mutex
	var at []time.Duration
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Wait(context.Background()); err != nil {
				t.Error(err)
			}
			mu.Lock()
			at = append(at, clk.Now().Sub(time.Unix(0, 0)))
			mu.Unlock()
		}()
	}
	clk.WaitForTimers(8, nil)
	for range 8 {
		clk.Advance(250 * time.Millisecond)
	}
	wg.Wait()
	// 8 attempts over 2 s: never more than 4 in any second, counting the burst.
	for _, d := range at {
		if d < 250*time.Millisecond || d > 2*time.Second {
			t.Fatalf("attempt at %v", d)
		}
	}
	if taken, waited := l.Stats(); taken != 12 || waited != 8 {
		t.Fatalf("taken %d waited %d, want 12 8", taken, waited)
	}
	// A cancelled wait returns the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

// TestPacerDecidesWait: the Pacer sees refusals and the Backoff's own wait
// and its answer is the wait.
func TestPacerDecidesWait(t *testing.T) {
	type call struct {
		refusals int
		own      time.Duration
	}
	calls := make(chan call, 16)
	var refuse atomic.Bool
	refuse.Store(true)
	h := start(t, func(c *conn.Config) {
		c.Backoff = conn.Backoff{Min: time.Hour, Max: time.Hour, Jitter: -1}
	}, conn.WithPacer(conn.PacerFunc(func(refusals int, own time.Duration) time.Duration {
		calls <- call{refusals, own}
		return time.Second // instead of the hour
	})))
	refuseSetup(h, &refuse)
	h.fc.drop()
	h.obs.waitFor(t, conn.StateDegraded)
	if c := <-calls; c.refusals != 0 || c.own != 0 {
		t.Fatalf("after the loss %+v", c)
	}
	h.clk.WaitForTimers(1, nil)
	h.clk.Advance(time.Second)
	h.srv.next()
	h.obs.waitFor(t, conn.StateDegraded)
	if c := <-calls; c.refusals != 1 || c.own != time.Hour {
		t.Fatalf("after a refusal %+v", c)
	}
	refuse.Store(false)
	h.clk.WaitForTimers(1, nil)
	h.clk.Advance(time.Second)
	h.fc = h.srv.next()
	h.obs.waitFor(t, conn.StateReady)
}

// TestThrottledSessionWaitsMax: a session the exchange ended after a
// too_many_requests (10028) is not re-dialled at once: it waits
// Backoff.Max for the credits to refill, and a Redial does not cut that
// short; the next loss re-dials at once again.
func TestThrottledSessionWaitsMax(t *testing.T) {
	h := start(t, func(c *conn.Config) {
		c.Backoff = conn.Backoff{Min: time.Second, Max: 5 * time.Second, Jitter: -1}
	})
	h.srv.setRespond(func(fc *fakeConn, r fakeReq) bool {
		if r.Method == "public/flood" {
			fc.error(r.ID, 10028, "too_many_requests", nil)
			fc.drop()
			return true
		}
		return false
	})
	if _, err := h.c.CallRaw(context.Background(), "public/flood", nil); !errors.Is(err, &conn.RPCError{Code: 10028}) &&
		!errors.Is(err, conn.ErrDisconnected) {
		t.Fatalf("err %v", err)
	}
	h.obs.waitFor(t, conn.StateDegraded)
	h.clk.WaitForTimers(1, nil)
	h.c.Redial() // not a refusal wait: nothing
	h.clk.Advance(5*time.Second - time.Nanosecond)
	select {
	case ch := <-h.obs.ch:
		t.Fatalf("%v→%v before Backoff.Max", ch.From, ch.To)
	default:
	}
	h.clk.Advance(time.Nanosecond)
	waitConnecting(t, h)
	h.fc = h.srv.next()
	h.obs.waitFor(t, conn.StateReady)
	h.fc.drop()
	h.obs.waitFor(t, conn.StateDegraded)
	waitConnecting(t, h) // an ordinary loss: at once
	h.fc = h.srv.next()
	h.obs.waitFor(t, conn.StateReady)
}
