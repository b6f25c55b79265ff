package conn_test

import (
	"testing"
	"time"

	"github.com/stratbox/stratbox/conn"
)

func waitConnecting(t *testing.T, h *harness) conn.StateChange {
	t.Helper()
	return h.obs.waitFor(t, conn.StateConnecting)
}

// TestBackoffNotResetByShortSession: a socket lost right after Ready (as
// when the exchange ends every new session) continues the backoff schedule;
// one that stayed Ready for Backoff.ResetAfter starts it over.
func TestBackoffNotResetByShortSession(t *testing.T) {
	h := start(t, func(c *conn.Config) {
		c.Backoff = conn.Backoff{Min: time.Second, Max: 8 * time.Second, Jitter: -1, ResetAfter: 5 * time.Second}
	})
	// Each short-lived socket doubles the wait: 1s, 2s, 4s.
	for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		h.fc.drop()
		h.obs.waitFor(t, conn.StateDegraded)
		h.clk.WaitForTimers(1, nil) // the backoff
		h.clk.Advance(wait - time.Nanosecond)
		if n := h.clk.Timers(); n != 1 {
			t.Fatalf("round %d: backoff timer fired before %v", i, wait)
		}
		h.clk.Advance(time.Nanosecond)
		if ch := waitConnecting(t, h); ch.Attempt != i+1 {
			t.Fatalf("round %d: attempt %d, want %d", i, ch.Attempt, i+1)
		}
		h.fc = h.srv.next()
		h.obs.waitFor(t, conn.StateReady)
	}
	// Ready for ResetAfter: the next loss starts over at Min.
	h.clk.Advance(5 * time.Second)
	h.fc.drop()
	h.obs.waitFor(t, conn.StateDegraded)
	h.clk.WaitForTimers(1, nil)
	h.clk.Advance(time.Second)
	if ch := waitConnecting(t, h); ch.Attempt != 1 {
		t.Fatalf("attempt %d after a long session, want 1", ch.Attempt)
	}
	h.srv.next()
	h.obs.waitFor(t, conn.StateReady)
}
