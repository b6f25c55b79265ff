package host

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host/sandbox"
)

// The breaker counts restarts within its window only, and the wait before a
// restart doubles with each restart still within it, up to its cap.
func TestBreaker(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newBreaker(Config{MaxRestarts: 3, RestartWindow: 10 * time.Minute, RestartBackoff: time.Second})
	for i, c := range []struct {
		at      time.Duration
		wait    time.Duration
		restart bool
	}{
		{0, time.Second, true},
		{2 * time.Second, 2 * time.Second, true},
		{5 * time.Second, 4 * time.Second, true},
		{10 * time.Second, 0, false},                            // a fourth within 10 min: tripped
		{10*time.Minute + 3*time.Second, 2 * time.Second, true}, // two of the three are older than the window
		{time.Hour, time.Second, true},                          // all of them
		{time.Hour + time.Second, 2 * time.Second, true},
	} {
		wait, restart := b.fault(t0.Add(c.at))
		if wait != c.wait || restart != c.restart {
			t.Fatalf("fault %d at +%v: wait %v, restart %v; want %v, %v", i, c.at, wait, restart, c.wait, c.restart)
		}
	}
	// The doubling stops at the cap; a longer initial backoff is kept.
	b = newBreaker(Config{MaxRestarts: 100, RestartWindow: time.Hour, RestartBackoff: time.Minute})
	var wait time.Duration
	for i := range 20 {
		wait, _ = b.fault(t0.Add(time.Duration(i) * time.Second))
	}
	if wait != maxRestartBackoff {
		t.Fatalf("wait after 20 restarts: %v, want the cap %v", wait, maxRestartBackoff)
	}
	b = newBreaker(Config{MaxRestarts: 5, RestartWindow: time.Hour, RestartBackoff: time.Hour})
	b.fault(t0)
	if wait, _ := b.fault(t0.Add(time.Second)); wait != time.Hour {
		t.Fatalf("an initial backoff above the cap: %v, want 1h", wait)
	}
	// No restart at all.
	if _, restart := newBreaker(Config{RestartWindow: time.Hour}).fault(t0); restart {
		t.Fatal("MaxRestarts 0 restarted")
	}
}

// faultBox faults in every call after its start.
type faultBox struct{ scriptBox }

func (f *faultBox) Deliver(context.Context, []byte, time.Time) ([]byte, error) {
	return nil, errors.New("plugin broke")
}

// A plugin that faults now and then over a long run keeps being restarted:
// faults older than the restart window no longer count. Faults in quick
// succession still trip the breaker, each restart waiting twice as long as
// the one before. (Lock step, on the replay clock: the same breaker as live
// runs.)
func TestRestartBudgetForgetsOldFaults(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e, err := New(Config{MaxRestarts: 2, RestartWindow: time.Minute, RestartBackoff: time.Second,
		Plugins: []PluginSpec{{Name: "p", Instruments: []string{"BTC-PERPETUAL"},
			NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return &faultBox{*newScriptBox(nil)} }}}}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	ls := startLockstep(t, e, clk, nil)
	defer ls.Stop() //nolint:errcheck // nothing in flight
	tick := func() {
		ls.Deliver(conn.Notification{Channel: []byte("ticker.BTC-PERPETUAL.100ms"), Received: clk.Now(),
			Data: fmt.Appendf(nil, `{"timestamp":%d,"instrument_name":"BTC-PERPETUAL","best_bid_price":59999,"best_bid_amount":10,"best_ask_price":60001,"best_ask_amount":10,"last_price":60000,"mark_price":60000,"index_price":60000}`, clk.Now().UnixMilli())})
		ls.Settle()
	}
	check := func(what string, starts, faults uint64, down bool) {
		t.Helper()
		p := pluginStats(e.Stats(), "p")
		if p.Starts != starts || p.Faults != faults || p.Down != down {
			t.Fatalf("%s: %d starts, %d faults, down %v; want %d, %d, %v", what, p.Starts, p.Faults, p.Down, starts, faults, down)
		}
	}
	check("started", 1, 0, false)
	// Five faults two minutes apart: each restarted after the first backoff.
	for i := range 5 {
		ls.AdvanceTo(clk.Now().Add(2 * time.Minute))
		tick()
		check(fmt.Sprintf("fault %d", i+1), uint64(i+1), uint64(i+1), false)
		ls.AdvanceTo(clk.Now().Add(time.Second))
		check(fmt.Sprintf("restart %d", i+1), uint64(i+2), uint64(i+1), false)
	}
	// In quick succession: the one restart left in the window (the last one
	// counts) comes after 2 s, not 1; the next fault trips the breaker.
	tick()
	check("a fault right after a restart", 6, 6, false)
	ls.AdvanceTo(clk.Now().Add(time.Second))
	check("1 s later", 6, 6, false)
	ls.AdvanceTo(clk.Now().Add(time.Second))
	check("2 s later", 7, 6, false)
	tick()
	check("a third fault within the minute", 7, 7, true)
}
