package sandbox_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/host/sandbox"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	path := "testdata/" + name + ".wasm"
	if name == "cancel_on_timer" {
		path = "../../testdata/abi/cancel_on_timer.wasm"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func load(t testing.TB, name string, cfg sandbox.PluginConfig, opts ...sandbox.Option) *sandbox.Plugin {
	t.Helper()
	p, err := sandbox.Load(context.Background(), name, fixture(t, name), cfg, opts...)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func startup(t testing.TB) []byte {
	t.Helper()
	b, err := abi.AppendStartup(nil, &abi.Startup{Start: abi.Start{FirstCID: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func start(t testing.TB, p *sandbox.Plugin) *sandbox.Instance {
	t.Helper()
	in, _, err := p.Start(context.Background(), startup(t))
	if err != nil {
		t.Fatalf("start %s: %v", p.Name(), err)
	}
	t.Cleanup(func() { _ = in.Close(context.Background()) })
	return in
}

// batch is n timer events with seq 1..n.
func batch(n int) []byte {
	var b []byte
	for i := 1; i <= n; i++ {
		b = abi.AppendTimer(b, &abi.Timer{Seq: uint32(i), ID: uint32(i)})
	}
	return b
}

func TestLoadRefusesBadModules(t *testing.T) {
	for _, tc := range []struct {
		name, fixture string
		want          []string
	}{
		{"another ABI major", "v2", []string{`"v2"`, "2.0", "1.0"}},
		{"an import the host does not provide", "envimport", []string{"env.seed", "stratbox", "wasi_snapshot_preview1", "env.abort"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sandbox.Load(context.Background(), tc.fixture, fixture(t, tc.fixture), sandbox.PluginConfig{})
			if !errors.Is(err, sandbox.ErrLoad) {
				t.Fatalf("error %v is not ErrLoad", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not name %q", err, w)
				}
			}
		})
	}
	t.Run("not wasm", func(t *testing.T) {
		if _, err := sandbox.Load(context.Background(), "junk", []byte("\x00asm junk"), sandbox.PluginConfig{}); !errors.Is(err, sandbox.ErrLoad) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("bad config", func(t *testing.T) {
		if _, err := sandbox.Load(context.Background(), "x", nil, sandbox.PluginConfig{MemoryLimitPages: 1 << 20}); !errors.Is(err, sandbox.ErrConfig) {
			t.Fatalf("error %v", err)
		}
	})
}

func TestDeliverAndTimers(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	p := load(t, "cancel_on_timer", sandbox.PluginConfig{}, sandbox.WithClock(fc))
	in := start(t, p)
	if p.Version() != abi.Current {
		t.Fatalf("version %v", p.Version())
	}
	// stratbox_init armed timer 1 for one second from now.
	if due := in.DueTimers(fc.Now()); len(due) != 0 {
		t.Fatalf("due early: %v", due)
	}
	fc.Advance(time.Second)
	due := in.DueTimers(fc.Now())
	if len(due) != 1 || due[0] != 1 {
		t.Fatalf("due %v", due)
	}
	out, err := in.Deliver(context.Background(), abi.AppendTimer(nil, &abi.Timer{ID: 1}))
	if err != nil {
		t.Fatal(err)
	}
	js, err := abi.BatchJSON(out)
	if err != nil || !bytes.Contains(js, []byte("cancel_all")) {
		t.Fatalf("intents %s (%v)", js, err)
	}
	// An unrelated event brings no intent. Calls so far: buffers, init and two batches.
	out, err = in.Deliver(context.Background(), abi.AppendPoolState(nil, &abi.PoolState{}))
	if err != nil || len(out) != 0 {
		t.Fatalf("intents %x, %v", out, err)
	}
	if st := in.Stats(); st.Calls != 4 || st.MemoryBytes != 3*65536 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := in.Deliver(context.Background(), make([]byte, 65536+8)); !errors.Is(err, sandbox.ErrInboxFull) {
		t.Fatalf("oversized batch: %v", err)
	}
}

func TestCountPluginReadsEveryRecord(t *testing.T) {
	p := load(t, "count", sandbox.PluginConfig{})
	in := start(t, p)
	for _, n := range []int{1, 64, 1000} {
		out, err := in.Deliver(context.Background(), batch(n))
		if err != nil {
			t.Fatal(err)
		}
		count, sum := binary.LittleEndian.Uint32(out[8:]), binary.LittleEndian.Uint32(out[12:])
		if int(count) != n || int(sum) != n*(n+1)/2 {
			t.Fatalf("batch of %d: plugin saw %d records, seq sum %d", n, count, sum)
		}
	}
}

func TestFaultsKillTheInstanceOnly(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		kind    sandbox.FaultKind
		cfg     sandbox.PluginConfig
	}{
		{"trap", sandbox.FaultTrap, sandbox.PluginConfig{}},
		{"spin", sandbox.FaultBudget, sandbox.PluginConfig{CallBudget: 20 * time.Millisecond}},
		{"oom", sandbox.FaultTrap, sandbox.PluginConfig{MemoryLimitPages: 64}},
		{"garbage", sandbox.FaultOutbox, sandbox.PluginConfig{}},
		{"negative", sandbox.FaultError, sandbox.PluginConfig{}},
		{"bigresult", sandbox.FaultResult, sandbox.PluginConfig{}},
		{"exit", sandbox.FaultExit, sandbox.PluginConfig{}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			if tc.kind != sandbox.FaultBudget {
				// A budget is not what this case is about: growing memory, or a race-instrumented
				// binary on a busy machine, can take longer than the default 50 ms (first-touch page
				// faults under a VM: ~30 ms to grow 3 MiB), and the verdict must not depend on speed.
				tc.cfg.CallBudget = 5 * time.Second
			}
			p := load(t, tc.fixture, tc.cfg)
			in := start(t, p)
			_, err := in.Deliver(context.Background(), batch(1))
			var f *sandbox.Fault
			if !errors.As(err, &f) || f.Kind != tc.kind || f.Plugin != tc.fixture || f.Call != abi.ExportOnEvents {
				t.Fatalf("error %v, want a %s fault", err, tc.kind)
			}
			if !in.Dead() || in.Fault() != f {
				t.Fatal("instance alive after a fault")
			}
			if _, err := in.Deliver(context.Background(), batch(1)); !errors.Is(err, sandbox.ErrDead) {
				t.Fatalf("call after fault: %v", err)
			}
			// A fresh instance starts from the compiled module.
			again := start(t, p)
			if again.Dead() {
				t.Fatal("restarted instance is dead")
			}
		})
	}
	t.Run("bad descriptor", func(t *testing.T) {
		p := load(t, "baddesc", sandbox.PluginConfig{})
		_, _, err := p.Start(context.Background(), startup(t))
		var f *sandbox.Fault
		if !errors.As(err, &f) || f.Kind != sandbox.FaultDescriptor {
			t.Fatalf("error %v", err)
		}
	})
}

// logRecorder collects log records.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, rec.Level.String()+" "+rec.Message)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func TestSandbox(t *testing.T) {
	t.Setenv("STRATBOX_SECRET", "hunter2")
	fc := clock.NewFake(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	rec := &logRecorder{}
	p := load(t, "probe", sandbox.PluginConfig{}, sandbox.WithClock(fc), sandbox.WithLogger(slog.New(rec)))
	run := func() []byte {
		in := start(t, p)
		out, err := in.Deliver(context.Background(), batch(1))
		if err != nil {
			t.Fatal(err)
		}
		res := append([]byte(nil), out...)
		_ = in.Close(context.Background())
		return res
	}
	out := run()
	u32 := func(off int) uint32 { return binary.LittleEndian.Uint32(out[off:]) }
	const errnoBadf = 8
	if env := u32(8); env != 0 {
		t.Errorf("the plugin sees %d environment variables", env)
	}
	if e := u32(12); e != errnoBadf {
		t.Errorf("fd_prestat_get(3) errno %d, want EBADF: a directory is pre-opened", e)
	}
	if e := u32(16); e == 0 {
		t.Error("path_open of /etc/passwd succeeded")
	}
	if args := u32(20); args != 0 {
		t.Errorf("the plugin sees %d arguments", args)
	}
	if now := int64(binary.LittleEndian.Uint64(out[24:])); now != fc.Now().UnixNano() {
		t.Errorf("now() = %d, want the host clock %d", now, fc.Now().UnixNano())
	}
	if st := u32(32); st != 0 {
		t.Errorf("log status %d", st)
	}
	if e := u32(36); e != 0 {
		t.Errorf("random_get errno %d", e)
	}
	rec.mu.Lock()
	logs := strings.Join(rec.lines, "\n")
	rec.mu.Unlock()
	if !strings.Contains(logs, "INFO hello from the plugin") || !strings.Contains(logs, "INFO to stdout") {
		t.Errorf("plugin log lines:\n%s", logs)
	}
	// Randomness is deterministic per plugin seed and instance number.
	first := binary.LittleEndian.Uint64(out[40:])
	p2 := load(t, "probe", sandbox.PluginConfig{}, sandbox.WithClock(fc))
	in2 := start(t, p2)
	out2, err := in2.Deliver(context.Background(), batch(1))
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint64(out2[40:]) != first {
		t.Error("random_get differs between two runs of the same plugin and seed")
	}
}

func TestLogRateLimit(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	rec := &logRecorder{}
	p := load(t, "probe", sandbox.PluginConfig{LogRate: 1, LogBurst: 2}, sandbox.WithClock(fc), sandbox.WithLogger(slog.New(rec)))
	in := start(t, p)
	for i := 0; i < 5; i++ { // two lines per call (log and stdout)
		if _, err := in.Deliver(context.Background(), batch(1)); err != nil {
			t.Fatal(err)
		}
	}
	rec.mu.Lock()
	n := len(rec.lines)
	rec.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d lines passed a limit of burst 2 with a stopped clock", n)
	}
	if st := in.Stats(); st.LogsDropped != 8 {
		t.Fatalf("dropped %d", st.LogsDropped)
	}
}

func TestCallerContextStopsACall(t *testing.T) {
	p := load(t, "spin", sandbox.PluginConfig{CallBudget: time.Hour})
	in := start(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := in.Deliver(ctx, batch(1))
	var f *sandbox.Fault
	if !errors.As(err, &f) || f.Kind != sandbox.FaultCanceled {
		t.Fatalf("error %v, want a canceled fault", err)
	}
}
