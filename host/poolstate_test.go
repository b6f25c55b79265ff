package host

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
)

// faultOnce is a scriptBox whose first Deliver after fail is set faults.
type faultOnce struct {
	*scriptBox
	fail bool
}

func (f *faultOnce) Deliver(ctx context.Context, batch []byte, now time.Time) ([]byte, error) {
	out, err := f.scriptBox.Deliver(ctx, batch, now)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		f.fail = false
		return nil, errors.New("told to fault")
	}
	return out, err
}

// A new instance hears of the connections' health when it starts: the
// first, started while the connection is down (the change came before it
// existed), one restarted after a fault and one swapped in, which the
// change their predecessor heard would otherwise never reach.
func TestNewInstanceHearsPoolState(t *testing.T) {
	started := make(chan *faultOnce, 4)
	cfg := Config{MaxRestarts: 3, RestartBackoff: time.Millisecond, Plugins: []PluginSpec{{Name: "script",
		NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox {
			b := &faultOnce{scriptBox: newScriptBox(nil)}
			started <- b
			return b
		}, Instruments: []string{"BTC-PERPETUAL"}}}}
	e, err := New(cfg, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	isState := func(healthy uint16, degraded bool) func([]byte) bool {
		return func(rec []byte) bool {
			var p abi.PoolState
			return abi.ReadHeader(rec).Kind == abi.KindPoolState && abi.DecodePoolState(rec, &p) == nil &&
				p.Healthy == healthy && p.Total == 1 && p.Flags&abi.PoolDegraded != 0 == degraded
		}
	}
	e.ConnState(false, false) // before any instance
	run := runTestEngine(t, e, newBenchExchange())
	first := <-started
	first.waitFor(t, "the first instance told the connection is down", isState(0, true))

	e.ConnState(true, false) // heard by the first instance
	first.waitFor(t, "the first instance told the connection is back", isState(1, false))
	first.mu.Lock()
	first.fail = true
	first.mu.Unlock()
	e.ConnState(true, false) // a delivery, which it faults on
	second := <-started
	second.waitFor(t, "the restarted instance told the connection is up", isState(1, false))
	if st := e.Stats(); pluginStats(st, "script").Faults != 1 {
		t.Fatalf("faults %d, want 1", pluginStats(st, "script").Faults)
	}

	e.ConnState(false, false) // heard by the second instance
	second.waitFor(t, "the restarted instance told the connection is down", isState(0, true))
	// A module swapped in (the test's sandbox stands for it) hears it too.
	if _, err := e.Swap(context.Background(), "script", load(t, "count", fixture(t, "count"), sandbox.PluginConfig{}), nil); err != nil {
		t.Fatal(err)
	}
	third := <-started
	third.waitFor(t, "the swapped-in instance told the connection is down", isState(0, true))
	run()
}

// runTestEngine runs e against ex until the returned stop is called (or
// the test ends).
func runTestEngine(t *testing.T, e *Engine, ex Exchange) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, ex) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
