package sim_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/sim"
)

// recorder is a FaultTarget that reports each fault on a channel.
type recorder struct{ acts chan string }

func (r recorder) DropAll()                      { r.acts <- "drop" }
func (r recorder) DropRandom() (uint64, bool)    { r.acts <- "cut"; return 1, true }
func (r recorder) Silence(on bool)               { r.acts <- fmt.Sprintf("silence %v", on) }
func (r recorder) SetFrameDelay(d time.Duration) { r.acts <- "delay " + d.String() }
func (r recorder) Maintenance(on bool)           { r.acts <- fmt.Sprintf("maintenance %v", on) }
func (r recorder) SendRaw(data []byte) {
	switch {
	case string(data) == string(sim.MalformedFrame):
		r.acts <- "malformed"
	case len(data) == sim.OversizedBytes:
		r.acts <- "oversized"
	default:
		r.acts <- fmt.Sprintf("raw %d bytes", len(data))
	}
}

// take reads n faults, sorted (faults due at the same instant run on
// their own goroutines, in any order).
func (r recorder) take(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, 0, n)
	for range n {
		select {
		case a := <-r.acts:
			out = append(out, a)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %q, waiting for %d faults", out, n)
		}
	}
	slices.Sort(out)
	return out
}

// The schedule runs each fault at its period on the injected clock; a
// silence and a maintenance window end after their length, or when the run
// ends.
func TestFaultScheduleRun(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	rec := recorder{acts: make(chan string, 64)}
	f := sim.FaultSchedule{DropEvery: 10 * time.Second, CutRandomEvery: 20 * time.Second,
		MalformedEvery: 30 * time.Second, OversizedEvery: 60 * time.Second,
		SilenceEvery: 40 * time.Second, SilenceFor: 5 * time.Second,
		MaintenanceAt: 25 * time.Second, MaintenanceFor: 50 * time.Second, Delay: 3 * time.Millisecond}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { f.Run(ctx, clk, rec); close(done) }()
	if got := rec.take(t, 1); got[0] != "delay 3ms" {
		t.Fatalf("first fault %q, want the frame delay", got)
	}
	// Every 5 s of the clock: the faults due then, and the timers armed
	// afterwards (5 tickers, plus the maintenance timer before and during
	// its window, plus the silence timer during a silence).
	steps := []struct {
		at     int
		faults string
		timers int
	}{
		{5, "", 6}, {10, "drop", 6}, {15, "", 6}, {20, "cut,drop", 6}, {25, "maintenance true", 6},
		{30, "drop,malformed", 6}, {35, "", 6}, {40, "cut,drop,silence true", 7}, {45, "silence false", 6},
		{50, "drop", 6}, {55, "", 6}, {60, "cut,drop,malformed,oversized", 6}, {65, "", 6}, {70, "drop", 6},
		{75, "maintenance false", 5}, {80, "cut,drop,silence true", 6},
	}
	if !clk.WaitForTimers(6, done) {
		t.Fatal("Run returned")
	}
	for _, s := range steps {
		clk.Advance(5 * time.Second)
		var want []string
		if s.faults != "" {
			want = strings.Split(s.faults, ",")
		}
		if got := rec.take(t, len(want)); !slices.Equal(got, want) {
			t.Fatalf("at %ds: faults %q, want %q", s.at, got, want)
		}
		if !clk.WaitForTimers(s.timers, done) {
			t.Fatalf("at %ds: Run returned", s.at)
		}
	}
	cancel()
	<-done
	if got := rec.take(t, 1); got[0] != "silence false" {
		t.Fatalf("at the end %q, want the silence closed", got)
	}
	if len(rec.acts) != 0 {
		t.Fatalf("%d faults more than scheduled, the first %q", len(rec.acts), <-rec.acts)
	}
}

// The zero schedule injects nothing and returns when ctx ends.
func TestFaultScheduleZero(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	rec := recorder{acts: make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.FaultSchedule{}.Run(ctx, clk, rec); close(done) }()
	clk.Advance(time.Hour)
	cancel()
	<-done
	if n := clk.Timers(); n != 0 || len(rec.acts) != 0 {
		t.Fatalf("%d timers, %d faults", n, len(rec.acts))
	}
}

func TestFaultScheduleValidate(t *testing.T) {
	for _, c := range []struct {
		f    sim.FaultSchedule
		want string
	}{
		{sim.FaultSchedule{DropEvery: -1}, "negative"},
		{sim.FaultSchedule{SilenceEvery: time.Second}, "SilenceFor"},
		{sim.FaultSchedule{MaintenanceAt: time.Second}, "MaintenanceFor"},
	} {
		if err := c.f.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %s", c.f, err, c.want)
		}
	}
}
