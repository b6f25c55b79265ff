package host

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/internal/hostile"
)

// The hostile-plugin suite: each fixture of internal/hostile is hand-written
// WAT (its .wasm committed beside it, checked by `make plugins`) whose
// header says what it does and what the host must do; hostileChecks holds
// the test of each, and TestHostileSuiteCoversEveryFixture fails when a
// fixture has none, so that no kind of hostility goes untested. The
// fixtures of testdata/ that predate the suite (spin, trap, oom, garbage,
// flood, bigresult, exit, negative, abort, baddesc, envimport, v2) are
// tested by TestFaultsKillTheInstanceOnly, TestProcessFaultsCrossTheBoundary,
// TestEngineContainsHostilePlugins and TestLoadRefusesBadModules.

// procT0 is the fake clock's start in the sandbox-level checks.
var procT0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// never is a timer due at INT64_MAX ns.
var never = time.Unix(0, math.MaxInt64)

// procFixture reads the ABI vectors' plugin name (testdata/abi).
func procFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/abi/" + name + ".wasm")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// procStartup is a start-up blob with nothing in it but the first cid.
func procStartup(t testing.TB) []byte {
	t.Helper()
	b, err := abi.AppendStartup(nil, &abi.Startup{Start: abi.Start{FirstCID: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// procNew returns a child-process sandbox of p (sharing the test binary's
// compilation cache), closed at the end of the test.
func procNew(t testing.TB, p *sandbox.Plugin, pc sandbox.ProcessConfig) sandbox.Sandbox {
	t.Helper()
	if pc.CacheDir == "" {
		pc.CacheDir = testCacheDir
	}
	s := sandbox.NewProcess(p, pc)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// procTrades is n trade events (48 bytes each).
func procTrades(n int) []byte {
	var b []byte
	for i := range n {
		b = abi.AppendTrade(b, &abi.Trade{Instrument: 1, Time: uint64(i), TradeSeq: uint64(i)})
	}
	return b
}

func hostileFixture(t testing.TB, name string) []byte {
	t.Helper()
	b := hostile.Wasm(name)
	if b == nil {
		t.Fatalf("no hostile fixture %q", name)
	}
	return b
}

// hostileChecks maps each fixture to its test.
var hostileChecks = map[string]func(t *testing.T){
	"timer_never":   testTimerNever,
	"timer_zero":    testTimerZero,
	"timer_stagger": testTimerStagger,
	"log_bounds":    testLogBounds,
	"wasi_missing":  testWASIMissing,
	"stop_spin":     testStopSpin,
	"hog":           testHog,
}

func TestHostileSuite(t *testing.T) {
	for name, check := range hostileChecks {
		t.Run(name, check)
	}
}

func TestHostileSuiteCoversEveryFixture(t *testing.T) {
	names := hostile.Names()
	if len(names) == 0 {
		t.Fatal("no fixtures")
	}
	for _, name := range names {
		if hostileChecks[name] == nil {
			t.Errorf("%s has no test in hostileChecks", name)
		}
		src := hostile.Source(name)
		if !strings.HasPrefix(src, ";; does: ") || !strings.Contains(src, "\n;; host must: ") {
			t.Errorf("%s.wat does not start by saying what it does and what the host must do", name)
		}
		if hostile.Wasm(name) == nil {
			t.Errorf("%s.wat is not built", name)
		}
	}
}

// hostileSandboxes are the two isolations every sandbox-level check runs in.
var hostileSandboxes = []struct {
	name string
	new  func(t *testing.T, p *sandbox.Plugin) sandbox.Sandbox
}{
	{"in process", func(t *testing.T, p *sandbox.Plugin) sandbox.Sandbox {
		s := sandbox.NewInProcess(p)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"child process", func(t *testing.T, p *sandbox.Plugin) sandbox.Sandbox { return procNew(t, p, sandbox.ProcessConfig{}) }},
}

// loadHostile loads a fixture on a fake clock at procT0.
func loadHostile(t *testing.T, name string, cfg sandbox.PluginConfig) (*sandbox.Plugin, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(procT0)
	if cfg.CallBudget == 0 {
		cfg.CallBudget = 5 * time.Second // the checks are not about the budget: never a verdict of speed
	}
	p, err := sandbox.Load(context.Background(), name, hostileFixture(t, name), cfg, sandbox.WithClock(clk))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p, clk
}

// A timer at INT64_MAX ns is due "never" (saturated), not in 1677 (an
// overflowed UnixNano), in either isolation.
func testTimerNever(t *testing.T) {
	for _, iso := range hostileSandboxes {
		t.Run(iso.name, func(t *testing.T) {
			p, clk := loadHostile(t, "timer_never", sandbox.PluginConfig{})
			sb := iso.new(t, p)
			if _, err := sb.Start(context.Background(), procStartup(t), clk.Now()); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				due, ok := sb.NextTimer()
				if !ok || !due.Equal(never) {
					t.Fatalf("timer due %v (armed %v), want %v: never", due, ok, never)
				}
				clk.Advance(time.Hour)
				if _, err := sb.Deliver(context.Background(), procTrades(1), clk.Now()); err != nil {
					t.Fatal(err)
				}
			}
			if st := sb.Stats(); st.Calls != 5 { // buffers, init, three batches: no timer call
				t.Fatalf("%d calls", st.Calls)
			}
		})
	}
}

// 256 timers at 0 ns re-armed in every call: raised to TimerMin, and in lock
// step (one code path with live runs) the plugin is woken once per
// TimerMin, not without end.
func testTimerZero(t *testing.T) {
	for _, iso := range hostileSandboxes {
		t.Run(iso.name, func(t *testing.T) {
			calls := lockstepTimerCalls(t, "timer_zero", iso.new, 100*time.Millisecond)
			// Woken once per 2 ms (the default timer_min) for 100 ms: 50 timer calls (±1 at the ends),
			// after the start's 2.
			if calls < 2+49 || calls > 2+51 {
				t.Fatalf("%d calls in 100 ms of 256 timers at 0 ns, want about 50 (one per timer_min)", calls)
			}
		})
	}
	t.Run("timer_min", func(t *testing.T) {
		calls := lockstepTimerCalls(t, "timer_zero", hostileSandboxes[0].new, 100*time.Millisecond, 10*time.Millisecond)
		if calls < 2+9 || calls > 2+11 {
			t.Fatalf("%d calls in 100 ms with timer_min 10ms, want about 10", calls)
		}
	})
	t.Run("full inbox", func(t *testing.T) { testTimersInFullInbox(t) })
}

// Timers 1 µs apart: still one wake-up per TimerMin.
func testTimerStagger(t *testing.T) {
	calls := lockstepTimerCalls(t, "timer_stagger", hostileSandboxes[0].new, 100*time.Millisecond)
	if calls > 2+51 {
		t.Fatalf("%d calls in 100 ms of timers 1 µs apart, want at most one per timer_min (2 ms)", calls)
	}
}

// lockstepTimerCalls runs fixture alone in a lock step for d and returns its
// instance's calls. Settle must return: a plugin woken without end would
// never let it, which the test reports instead of hanging.
func lockstepTimerCalls(t *testing.T, fixture string, newSB func(*testing.T, *sandbox.Plugin) sandbox.Sandbox, d time.Duration, timerMin ...time.Duration) uint64 {
	t.Helper()
	cfg := sandbox.PluginConfig{}
	if len(timerMin) > 0 {
		cfg.TimerMin = timerMin[0]
	}
	p, clk := loadHostile(t, fixture, cfg)
	var sb sandbox.Sandbox
	e, err := New(Config{Plugins: []PluginSpec{{Name: fixture, Plugin: p, Instruments: []string{"BTC-PERPETUAL"},
		NewSandbox: func(p *sandbox.Plugin) sandbox.Sandbox { sb = newSB(t, p); return sb }}}}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	ls := startLockstep(t, e, clk, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ls.AdvanceTo(clk.Now().Add(d))
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute): // a failure detector only: a pass never waits for it
		t.Fatalf("the lock step never settled: the plugin is woken without end (%d calls so far)", sb.Stats().Calls)
	}
	calls := sb.Stats().Calls
	if f := sb.Fault(); f != nil {
		t.Fatalf("faulted: %v", f)
	}
	if err := ls.Stop(); err != nil {
		t.Fatal(err)
	}
	return calls
}

// A batch as large as the inbox with a timer due: the timer waits for the
// next call (it once made the batch larger than the inbox, and the plugin
// was faulted for it); nothing is lost.
func testTimersInFullInbox(t *testing.T) {
	for _, iso := range hostileSandboxes {
		t.Run(iso.name, func(t *testing.T) {
			clk := clock.NewFake(procT0)
			p, err := sandbox.Load(context.Background(), "cancel_on_timer", procFixture(t, "cancel_on_timer"),
				sandbox.PluginConfig{CallBudget: 5 * time.Second}, sandbox.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close(context.Background()) })
			sb := iso.new(t, p)
			if _, err := sb.Start(context.Background(), procStartup(t), clk.Now()); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Second) // its timer 1 is due
			full := procTrades(int(sb.Descriptor().InboxCap) / abi.SizeTrade)
			out, err := sb.Deliver(context.Background(), full, clk.Now())
			if err != nil {
				t.Fatalf("a batch of %d bytes (inbox %d) with a timer due: %v", len(full), sb.Descriptor().InboxCap, err)
			}
			if len(out) != 0 {
				t.Fatal("the timer was delivered in a batch with no room for it")
			}
			if due, ok := sb.NextTimer(); !ok || due.After(clk.Now()) {
				t.Fatalf("timer due %v (armed %v) after a full batch, want still due", due, ok)
			}
			out, err = sb.Deliver(context.Background(), nil, clk.Now())
			if js, _ := abi.BatchJSON(out); err != nil || !strings.Contains(string(js), "cancel_all") {
				t.Fatalf("the next call: intents %s, %v; want the timer's cancel_all", js, err)
			}
		})
	}
}

// log checks the whole 32-bit length before cutting the line.
func testLogBounds(t *testing.T) {
	for _, iso := range hostileSandboxes {
		t.Run(iso.name, func(t *testing.T) {
			p, clk := loadHostile(t, "log_bounds", sandbox.PluginConfig{})
			sb := iso.new(t, p)
			if _, err := sb.Start(context.Background(), procStartup(t), clk.Now()); err != nil {
				t.Fatal(err)
			}
			out, err := sb.Deliver(context.Background(), procTrades(1), clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != 24 {
				t.Fatalf("outbox of %d bytes", len(out))
			}
			status := func(off int) int32 { return int32(binary.LittleEndian.Uint32(out[off:])) }
			for _, c := range []struct {
				off  int
				what string
				want int32
			}{
				{8, "len 0xFFFFFFFF", int32(abi.StatusOutOfBounds)},
				{12, "one byte past the end", int32(abi.StatusOutOfBounds)},
				{16, "up to the last byte", int32(abi.StatusOK)},
				{20, "5000 bytes (cut)", int32(abi.StatusOK)},
			} {
				if got := status(c.off); got != c.want {
					t.Errorf("log of %s: status %d, want %d", c.what, got, c.want)
				}
			}
		})
	}
}

// A WASI import that does not exist is refused at load, with its name.
func testWASIMissing(t *testing.T) {
	_, err := sandbox.Load(context.Background(), "wasi_missing", hostileFixture(t, "wasi_missing"), sandbox.PluginConfig{})
	if !errors.Is(err, sandbox.ErrLoad) || !strings.Contains(err.Error(), "wasi_snapshot_preview1.sock_open") {
		t.Fatalf("load: %v, want ErrLoad naming wasi_snapshot_preview1.sock_open", err)
	}
}

// A fault in stratbox_on_stop counts like any other: live (both
// isolations) and in lock step.
func testStopSpin(t *testing.T) {
	check := func(t *testing.T, st EngineStats) {
		t.Helper()
		ps := pluginStats(st, "stop_spin")
		if ps.Faults != 1 || ps.LastFault == nil || ps.LastFault.Call != abi.ExportOnStop ||
			(ps.LastFault.Kind != sandbox.FaultBudget && ps.LastFault.Kind != sandbox.FaultCanceled) {
			t.Fatalf("after a spin in stratbox_on_stop: %d faults, last %v", ps.Faults, ps.LastFault)
		}
		if strings.ContainsAny(ps.LastFault.Line(), "\n\r") {
			t.Fatalf("Line() spans lines: %q", ps.LastFault.Line())
		}
	}
	for _, iso := range hostileSandboxes {
		t.Run("live "+iso.name, func(t *testing.T) {
			var opts []sandbox.Option
			if iso.name == "child process" {
				opts = append(opts, sandbox.WithChildProcess()) // in process, the budget needs wazero's close-on-context-done
			}
			p := load(t, "stop_spin", hostileFixture(t, "stop_spin"), sandbox.PluginConfig{CallBudget: 200 * time.Millisecond}, opts...)
			cfg := Config{Plugins: []PluginSpec{{Name: "stop_spin", Plugin: p, Instruments: []string{"BTC-PERPETUAL"},
				NewSandbox: func(p *sandbox.Plugin) sandbox.Sandbox { return iso.new(t, p) }}}}
			r := startRig(t, cfg, nil)
			r.wait("the plugin started", func(s EngineStats) bool { return pluginStats(s, "stop_spin").Starts == 1 })
			r.stop()
			check(t, r.e.Stats())
		})
	}
	t.Run("lock step", func(t *testing.T) {
		p, clk := loadHostile(t, "stop_spin", sandbox.PluginConfig{CallBudget: 200 * time.Millisecond})
		e, err := New(Config{Plugins: []PluginSpec{{Name: "stop_spin", Plugin: p, Instruments: []string{"BTC-PERPETUAL"}}}},
			WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		ls := startLockstep(t, e, clk, nil)
		if err := ls.Stop(); err != nil {
			t.Fatal(err)
		}
		check(t, e.Stats())
	})
}
