package host

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A Go guest's runtime starts during the start-up calls, which take longer
// than a tight call budget allows: the start-up calls are under
// InitBudget, the calls after them under CallBudget, in-process and in a
// child process.
func TestInitBudget(t *testing.T) {
	wasm := example(t, "marketmaker")
	for _, process := range []bool{false, true} {
		sandbox := func(cfg PluginConfig) Sandbox {
			if process {
				return NewProcess(load(t, "mm", wasm, cfg, ForProcess()), ProcessConfig{CacheDir: testCacheDir})
			}
			return NewInProcess(load(t, "mm", wasm, cfg))
		}
		now := time.Now()
		// Start-up under the default InitBudget, although CallBudget is
		// far below what the Go runtime needs to start.
		sb := sandbox(PluginConfig{CallBudget: 100 * time.Microsecond})
		if _, err := sb.Start(context.Background(), benchStartup(t, "marketmaker", now), now); err != nil {
			t.Fatalf("process %v: start with a 100µs call budget and the default init budget: %v", process, err)
		}
		sb.Close()
		// The same start-up under a 100µs InitBudget faults.
		sb = sandbox(PluginConfig{CallBudget: 100 * time.Microsecond, InitBudget: 100 * time.Microsecond})
		_, err := sb.Start(context.Background(), benchStartup(t, "marketmaker", now), now)
		var f *Fault
		if !errors.As(err, &f) || f.Kind != FaultBudget {
			t.Fatalf("process %v: start with a 100µs init budget: %v, want a budget fault", process, err)
		}
		sb.Close()
	}
	if c := (PluginConfig{CallBudget: 5 * time.Second}).withDefaults(); c.InitBudget != 5*time.Second {
		t.Errorf("init budget %v below the call budget", c.InitBudget)
	}
	if c := (PluginConfig{CallBudget: -1}).withDefaults(); c.InitBudget >= 0 {
		t.Errorf("init budget %v with no call budget", c.InitBudget)
	}
}
