package sandbox

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratbox/stratbox/clock"
)

// gateClock is the wall clock, except that the first Now after arm blocks
// its caller, a plugin's call through the now import, until release is
// closed: the call's thread then sleeps, using no CPU, as a descheduled
// plugin's would.
type gateClock struct {
	clock.Real
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func newGateClock() *gateClock {
	return &gateClock{entered: make(chan struct{}), release: make(chan struct{})}
}

func (c *gateClock) Now() time.Time {
	if c.armed.CompareAndSwap(true, false) {
		close(c.entered)
		<-c.release
	}
	return time.Now()
}

// startProbe starts the probe plugin (it calls the now import in every
// call) in process under cfg, reading clk; rechecks receives the wall time
// of the call at each re-arm of its budget's timer.
func startProbe(t *testing.T, cfg PluginConfig, clk clock.Clock) (in *Instance, rechecks chan time.Duration) {
	t.Helper()
	wasm, err := os.ReadFile("testdata/probe.wasm")
	if err != nil {
		t.Fatal(err)
	}
	p := loadWasm(t, "probe", wasm, cfg, WithClock(clk))
	in, _, err = p.Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Close(context.Background()) })
	rechecks = make(chan time.Duration, 1024)
	in.budget.mu.Lock()
	in.budget.onRecheck = func(_, took time.Duration) {
		select {
		case rechecks <- took:
		default:
		}
	}
	in.budget.mu.Unlock()
	return in, rechecks
}

// Issue 18: a call whose thread does not run (descheduled, or asleep in the
// host) for several times its budget of wall time is not over its budget
// of CPU time, and is not stopped.
func TestInProcessBudgetIsCPUTime(t *testing.T) {
	if !threadClocks {
		t.Skip("no thread CPU clock: the in-process budget is wall time here")
	}
	const budget = 5 * time.Millisecond
	clk := newGateClock()
	in, rechecks := startProbe(t, PluginConfig{CallBudget: budget, CallBackstop: time.Hour}, clk)
	clk.armed.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := in.Deliver(context.Background(), nil)
		done <- err
	}()
	<-clk.entered
	for took := time.Duration(0); took < 4*budget; {
		select {
		case took = <-rechecks:
		case err := <-done:
			t.Fatalf("the call ended while its thread slept: %v", err)
		}
	}
	close(clk.release)
	if err := <-done; err != nil {
		t.Fatalf("a call asleep for 4 budgets of wall time: %v, want no fault", err)
	}
	if in.Dead() {
		t.Fatal("instance dead")
	}
	// And the next call runs on as usual.
	if _, err := in.Deliver(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// A call that blocks past the backstop of wall time is stopped with a
// budget fault that names the backstop.
func TestInProcessBackstop(t *testing.T) {
	clk := newGateClock()
	in, _ := startProbe(t, PluginConfig{CallBudget: time.Millisecond, CallBackstop: 20 * time.Millisecond}, clk)
	clk.armed.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := in.Deliver(context.Background(), nil)
		done <- err
	}()
	<-clk.entered
	<-in.budget.ctx.Done() // the backstop: the call ends when it is back in wasm
	close(clk.release)
	err := <-done
	var f *Fault
	var be *budgetError
	if !errors.As(err, &f) || f.Kind != FaultBudget || !errors.As(err, &be) || !be.backstop {
		t.Fatalf("a call blocked past its backstop: %v, want a budget fault of the backstop", err)
	}
	if !strings.Contains(err.Error(), "call backstop of 20ms of wall-clock time exceeded") {
		t.Errorf("fault %q does not name the backstop", err)
	}
	if be.took < 20*time.Millisecond {
		t.Errorf("stopped after %v of wall time, before the backstop", be.took)
	}
	if !in.Dead() {
		t.Error("instance alive after the backstop")
	}
}

// A call that spins is stopped for its CPU time, after the whole budget of
// it since the mark.
func TestInProcessBudgetStopsASpin(t *testing.T) {
	const budget = 20 * time.Millisecond
	wasm, err := os.ReadFile("testdata/spin.wasm")
	if err != nil {
		t.Fatal(err)
	}
	p := loadWasm(t, "spin", wasm, PluginConfig{CallBudget: budget})
	in, _, err := p.Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())
	_, err = in.Deliver(context.Background(), nil)
	var f *Fault
	var be *budgetError
	if !errors.As(err, &f) || f.Kind != FaultBudget || !errors.As(err, &be) || be.backstop {
		t.Fatalf("a spinning call: %v, want a budget fault", err)
	}
	if threadClocks {
		if !be.cpu || be.used < budget || !strings.Contains(err.Error(), "call budget of 20ms of CPU time exceeded") {
			t.Errorf("fault %q: want the CPU-time budget, at least %v used", err, budget)
		}
	}
}
