package sandbox

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/internal/testplugins"
)

// A Go guest's runtime starts during the start-up calls, which take longer
// than a tight call budget allows: the start-up calls are under
// InitBudget, the calls after them under CallBudget, in-process and in a
// child process.
func TestInitBudget(t *testing.T) {
	wasm := testplugins.Example(t, "marketmaker")
	for _, process := range []bool{false, true} {
		sandbox := func(cfg PluginConfig) Sandbox {
			if process {
				return NewProcess(loadWasm(t, "mm", wasm, cfg, WithChildProcess()), ProcessConfig{CacheDir: testCacheDir})
			}
			return NewInProcess(loadWasm(t, "mm", wasm, cfg))
		}
		now := time.Now()
		// Start-up under the default InitBudget, although CallBudget is
		// far below what the Go runtime needs to start.
		sb := sandbox(PluginConfig{CallBudget: 100 * time.Microsecond})
		if _, err := sb.Start(context.Background(), mmStartup(t, now), now); err != nil {
			t.Fatalf("process %v: start with a 100µs call budget and the default init budget: %v", process, err)
		}
		sb.Close()
		// A start-up longer than a 100µs InitBudget faults: one that never
		// ends, so that the verdict does not depend on how soon the budget's
		// watch runs on a busy machine (the market maker's start-up, a few
		// ms of CPU, could end before it did).
		spinInit, err := os.ReadFile("testdata/spin_init.wasm")
		if err != nil {
			t.Fatal(err)
		}
		if process {
			sb = NewProcess(loadWasm(t, "spin_init", spinInit, PluginConfig{InitBudget: 100 * time.Microsecond}, WithChildProcess()),
				ProcessConfig{CacheDir: testCacheDir})
		} else {
			sb = NewInProcess(loadWasm(t, "spin_init", spinInit, PluginConfig{InitBudget: 100 * time.Microsecond}))
		}
		_, err = sb.Start(context.Background(), mmStartup(t, now), now)
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

// testCache is the compilation cache of testCacheDir, which the tests'
// child processes read: a Go guest compiled here is not compiled again in
// the child (which would take longer than its load deadline under -race).
var testCache = sync.OnceValues(func() (*Cache, error) { return NewCache(testCacheDir) })

// loadWasm loads wasm as name through testCache, closed at the end of the
// test.
func loadWasm(t testing.TB, name string, wasm []byte, cfg PluginConfig, opts ...Option) *Plugin {
	t.Helper()
	cache, err := testCache()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Load(context.Background(), name, wasm, cfg, append(opts, WithCache(cache))...)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// mmStartup is the market maker's start-up blob: BTC-PERPETUAL as Deribit
// lists it, the time now.
func mmStartup(t testing.TB, now time.Time) []byte {
	t.Helper()
	fx := func(s string) abi.Fixed { x, _ := abi.ParseFixed(s); return x }
	b, err := abi.AppendStartup(nil, &abi.Startup{Start: abi.Start{HostVersion: abi.Current, FirstCID: 1,
		Time: uint64(now.UnixNano()), Name: abi.NewStr32("marketmaker")},
		Instruments: []abi.Instrument{{Kind: abi.Perpetual, Flags: abi.InstrumentInverse, TickSize: fx("0.5"),
			ContractSize: fx("10"), MinAmount: fx("10"), TakerFee: fx("0.0005"),
			BaseCurrency: abi.NewStr8("BTC"), QuoteCurrency: abi.NewStr8("USD"), SettlementCurrency: abi.NewStr8("BTC"),
			Name: abi.NewStr64("BTC-PERPETUAL")}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
