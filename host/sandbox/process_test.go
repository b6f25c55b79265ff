package sandbox

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox/shm"
)

// Hidden arguments that make the test binary a broken child (TestMain).
const (
	testChildGarbage    = "__stratbox_test_child_garbage"    // writes a panic to stderr, garbage to stdout
	testChildSilent     = "__stratbox_test_child_silent"     // reads its input and never replies
	testChildBadIntents = "__stratbox_test_child_badintents" // replies to start with unframeable intents
	testChildCorrupt    = "__stratbox_test_child_corrupt"    // corrupts its reply ring at the first request on it
)

var procT0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

func procFixture(t testing.TB, name string) []byte {
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

func procLoad(t testing.TB, name string, cfg PluginConfig, opts ...Option) *Plugin {
	t.Helper()
	p, err := Load(context.Background(), name, procFixture(t, name), cfg, opts...)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func procStartup(t testing.TB) []byte {
	t.Helper()
	b, err := abi.AppendStartup(nil, &abi.Startup{Start: abi.Start{FirstCID: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// procNew returns a child-process sandbox of p, closed at the end of the test.
func procNew(t testing.TB, p *Plugin, pc ProcessConfig) *procSandbox {
	t.Helper()
	if pc.CacheDir == "" {
		pc.CacheDir = testCacheDir
	}
	s := NewProcess(p, pc).(*procSandbox)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// procStart starts p in a child process at now.
func procStart(t testing.TB, p *Plugin, now time.Time) *procSandbox {
	t.Helper()
	s := procNew(t, p, ProcessConfig{})
	if _, err := s.Start(context.Background(), procStartup(t), now); err != nil {
		t.Fatalf("start %s: %v", p.Name(), err)
	}
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

// wantFault checks that err is a fault of kind (and call, if not "").
func wantFault(t *testing.T, err error, kind FaultKind, call string) *Fault {
	t.Helper()
	var f *Fault
	if !errors.As(err, &f) || f.Kind != kind || (call != "" && f.Call != call) {
		t.Fatalf("error %v, want a %s fault in %q", err, kind, call)
	}
	return f
}

// wantGone checks that the sandbox is dead, its child reaped, and that
// every call now returns ErrDead.
func wantGone(t *testing.T, s *procSandbox) {
	t.Helper()
	if s.cmd.ProcessState == nil {
		t.Fatal("the child process was not reaped")
	}
	if _, err := s.Deliver(context.Background(), procTrades(1), procT0); !errors.Is(err, ErrDead) {
		t.Fatalf("call after the end: %v", err)
	}
}

func TestProcessDeliverNumbersEvents(t *testing.T) {
	p := procLoad(t, "count", PluginConfig{CallBudget: 2 * time.Second})
	s := procStart(t, p, procT0)
	if d := s.Descriptor(); d.InboxCap != 65536 || d.OutboxCap != 4096 {
		t.Fatalf("descriptor %+v", d)
	}
	for _, tc := range []struct{ n, sum int }{{3, 1 + 2 + 3}, {2, 4 + 5}} {
		out, err := s.Deliver(context.Background(), procTrades(tc.n), procT0)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 16 {
			t.Fatalf("intents %x", out)
		}
		count, sum := binary.LittleEndian.Uint32(out[8:]), binary.LittleEndian.Uint32(out[12:])
		if int(count) != tc.n || int(sum) != tc.sum {
			t.Fatalf("batch of %d: the plugin saw %d records, seq sum %d, want %d", tc.n, count, sum, tc.sum)
		}
	}
	if out, err := s.Deliver(context.Background(), nil, procT0); out != nil || err != nil {
		t.Fatalf("nothing to deliver: %x, %v", out, err)
	}
	st := s.Stats() // buffers, init and two batches
	if st.Calls != 4 || st.MemoryBytes != 3*65536 || st.MaxCallTime <= 0 || st.CallTime < st.MaxCallTime {
		t.Fatalf("stats %+v", st)
	}
	if _, err := s.Deliver(context.Background(), make([]byte, 65536+8), procT0); !errors.Is(err, ErrInboxFull) {
		t.Fatalf("oversized batch: %v", err)
	}
	if out, err := s.Stop(context.Background(), procT0); out != nil || err != nil {
		t.Fatalf("stop: %x, %v", out, err)
	}
	if ps := s.cmd.ProcessState; ps == nil || !ps.Success() {
		t.Fatalf("the stopped child ended with %v", ps)
	}
	wantGone(t, s)
	if s.Fault() != nil || s.Stats().MemoryBytes != 0 {
		t.Fatalf("after stop: fault %v, stats %+v", s.Fault(), s.Stats())
	}
}

func TestProcessTimers(t *testing.T) {
	p := procLoad(t, "cancel_on_timer", PluginConfig{CallBudget: 2 * time.Second})
	s := procStart(t, p, procT0)
	// stratbox_init armed timer 1 for one second from the parent's now.
	if due, ok := s.NextTimer(); !ok || !due.Equal(procT0.Add(time.Second)) {
		t.Fatalf("next timer %v %v", due, ok)
	}
	if out, err := s.Deliver(context.Background(), nil, procT0.Add(time.Second/2)); out != nil || err != nil {
		t.Fatalf("before the timer: %x, %v", out, err)
	}
	if st := s.Stats(); st.Calls != 2 {
		t.Fatalf("a call with nothing due: %+v", st)
	}
	out, err := s.Deliver(context.Background(), nil, procT0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	js, err := abi.BatchJSON(out)
	if err != nil || !strings.Contains(string(js), "cancel_all") {
		t.Fatalf("intents %s (%v)", js, err)
	}
	// The plugin re-armed its timer when it fired.
	if due, ok := s.NextTimer(); !ok || !due.Equal(procT0.Add(2*time.Second)) {
		t.Fatalf("next timer %v %v", due, ok)
	}
	out, err = s.Deliver(context.Background(), abi.AppendPoolState(nil, &abi.PoolState{}), procT0.Add(1500*time.Millisecond))
	if err != nil || len(out) != 0 {
		t.Fatalf("intents %x, %v", out, err)
	}
}

func TestProcessBudgetKillsTheChild(t *testing.T) {
	const budget = 100 * time.Millisecond
	p := procLoad(t, "spin", PluginConfig{CallBudget: budget})
	s := procStart(t, p, procT0)
	began := time.Now()
	_, err := s.Deliver(context.Background(), procTrades(1), procT0)
	took := time.Since(began)
	f := wantFault(t, err, FaultBudget, abi.ExportOnEvents)
	if took < budget || took > 10*time.Second {
		t.Fatalf("the budget fault came after %v, budget %v", took, budget)
	}
	if s.Fault() != f {
		t.Fatalf("Fault() = %v", s.Fault())
	}
	if ps := s.cmd.ProcessState; ps == nil || ps.Success() {
		t.Fatalf("the child ended with %v", ps)
	}
	wantGone(t, s)
	if out, err := s.Stop(context.Background(), procT0); out != nil || err != nil {
		t.Fatalf("stop after a fault: %x, %v", out, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestProcessCallerContextKillsTheChild(t *testing.T) {
	p := procLoad(t, "spin", PluginConfig{CallBudget: -1})
	t.Run("during the call", func(t *testing.T) {
		s := procStart(t, p, procT0)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := s.Deliver(ctx, procTrades(1), procT0)
		f := wantFault(t, err, FaultCanceled, abi.ExportOnEvents)
		if !errors.Is(f, context.DeadlineExceeded) {
			t.Fatalf("fault %v does not carry the context's cause", f)
		}
		wantGone(t, s)
	})
	t.Run("before the call", func(t *testing.T) {
		s := procStart(t, p, procT0)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.Deliver(ctx, procTrades(1), procT0)
		wantFault(t, err, FaultCanceled, abi.ExportOnEvents)
		wantGone(t, s)
	})
}

func TestProcessFaultsCrossTheBoundary(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		kind    FaultKind
		code    int64
		cfg     PluginConfig
	}{
		{"trap", FaultTrap, 0, PluginConfig{}},
		{"oom", FaultTrap, 0, PluginConfig{MemoryLimitPages: 64}},
		{"garbage", FaultOutbox, 0, PluginConfig{}},
		{"negative", FaultError, -3, PluginConfig{}},
		{"bigresult", FaultResult, 0x40000000, PluginConfig{}},
		{"exit", FaultExit, 7, PluginConfig{}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			tc.cfg.CallBudget = 2 * time.Second
			p := procLoad(t, tc.fixture, tc.cfg)
			s := procStart(t, p, procT0)
			_, err := s.Deliver(context.Background(), procTrades(1), procT0)
			f := wantFault(t, err, tc.kind, abi.ExportOnEvents)
			if f.Plugin != tc.fixture || f.Code != tc.code || s.Fault() != f {
				t.Fatalf("fault %+v, Fault() %v", f, s.Fault())
			}
			wantGone(t, s)
		})
	}
	t.Run("baddesc", func(t *testing.T) {
		p := procLoad(t, "baddesc", PluginConfig{CallBudget: 2 * time.Second})
		s := procNew(t, p, ProcessConfig{})
		_, err := s.Start(context.Background(), procStartup(t), procT0)
		f := wantFault(t, err, FaultDescriptor, abi.ExportBuffers)
		if f.Err == nil || !strings.Contains(f.Err.Error(), "descriptor") {
			t.Fatalf("fault %v lost the child's error text", f)
		}
		wantGone(t, s)
	})
}

func TestProcessChildKilledFromOutside(t *testing.T) {
	p := procLoad(t, "count", PluginConfig{CallBudget: 2 * time.Second})
	s := procStart(t, p, procT0)
	if _, err := s.Deliver(context.Background(), procTrades(1), procT0); err != nil {
		t.Fatal(err)
	}
	child, err := os.FindProcess(s.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Kill(); err != nil {
		t.Fatal(err)
	}
	_, err = s.Deliver(context.Background(), procTrades(1), procT0)
	f := wantFault(t, err, FaultProcess, abi.ExportOnEvents)
	if runtime.GOOS != "windows" && !strings.Contains(f.Error(), "killed") {
		t.Fatalf("fault %v does not say the child was killed", f)
	}
	wantGone(t, s)
}

func TestProcessSandboxProbe(t *testing.T) {
	t.Setenv("DERIBIT_CLIENT_SECRET", "hunter2")
	p := procLoad(t, "probe", PluginConfig{CallBudget: 2 * time.Second}) // the parent's clock is the wall clock
	s := procStart(t, p, procT0)
	if s.cmd.Env == nil || len(s.cmd.Env) != 0 {
		t.Fatalf("the child's environment is %q", s.cmd.Env)
	}
	if runtime.GOOS == "linux" {
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", s.cmd.Process.Pid))
		if err != nil || len(env) != 0 {
			t.Fatalf("the child process's environment is %q (%v)", env, err)
		}
	}
	out, err := s.Deliver(context.Background(), procTrades(1), procT0)
	if err != nil {
		t.Fatal(err)
	}
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
	if now := int64(binary.LittleEndian.Uint64(out[24:])); now != procT0.UnixNano() {
		t.Errorf("now() = %d, want the parent's now %d", now, procT0.UnixNano())
	}
	if st, e := u32(32), u32(36); st != 0 || e != 0 {
		t.Errorf("log status %d, random_get errno %d", st, e)
	}
}

// The k-th instance of a plugin draws the same random numbers whatever
// the isolation.
func TestProcessRandomMatchesInProcess(t *testing.T) {
	draw := func(s Sandbox) uint64 {
		t.Helper()
		defer s.Close()
		if _, err := s.Start(context.Background(), procStartup(t), procT0); err != nil {
			t.Fatal(err)
		}
		out, err := s.Deliver(context.Background(), procTrades(1), procT0)
		if err != nil {
			t.Fatal(err)
		}
		return binary.LittleEndian.Uint64(out[40:])
	}
	cfg := PluginConfig{CallBudget: 2 * time.Second, Seed: 42}
	pp, pi := procLoad(t, "probe", cfg), procLoad(t, "probe", cfg)
	p1, p2 := draw(procNew(t, pp, ProcessConfig{})), draw(procNew(t, pp, ProcessConfig{}))
	i1, i2 := draw(NewInProcess(pi)), draw(NewInProcess(pi))
	if p1 != i1 || p2 != i2 || p1 == p2 {
		t.Fatalf("process draws %x %x, in-process %x %x", p1, p2, i1, i2)
	}
}

// procLogs records log lines as "LEVEL message k=v …".
type procLogs struct {
	mu    sync.Mutex
	lines []string
}

func (r *procLogs) Enabled(context.Context, slog.Level) bool { return true }
func (r *procLogs) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
	return nil
}
func (r *procLogs) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *procLogs) WithGroup(string) slog.Handler      { return r }

func (r *procLogs) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

func TestProcessLogLinesReachTheParent(t *testing.T) {
	rec := &procLogs{}
	p := procLoad(t, "probe", PluginConfig{CallBudget: 2 * time.Second}, WithLogger(slog.New(rec)))
	s := procStart(t, p, procT0)
	if _, err := s.Deliver(context.Background(), procTrades(1), procT0); err != nil {
		t.Fatal(err)
	}
	logs := rec.text()
	if !strings.Contains(logs, "INFO hello from the plugin") || !strings.Contains(logs, "INFO to stdout") {
		t.Fatalf("plugin log lines:\n%s", logs)
	}
	t.Run("rate limit on the parent's time", func(t *testing.T) {
		rec := &procLogs{}
		p := procLoad(t, "probe", PluginConfig{CallBudget: 2 * time.Second, LogRate: 1, LogBurst: 2},
			WithLogger(slog.New(rec)))
		s := procStart(t, p, procT0)
		for range 5 { // two lines per call (log and stdout), the same now
			if _, err := s.Deliver(context.Background(), procTrades(1), procT0); err != nil {
				t.Fatal(err)
			}
		}
		if logs := rec.text(); strings.Count(logs, "\n") != 1 {
			t.Fatalf("more than 2 lines passed a limit of burst 2 on a stopped clock:\n%s", logs)
		}
		if st := s.Stats(); st.LogsDropped != 8 {
			t.Fatalf("dropped %d", st.LogsDropped)
		}
	})
}

func TestProcessBrokenChild(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := func(t *testing.T, p *Plugin, pc ProcessConfig) (*procSandbox, error) {
		s := procNew(t, p, pc)
		_, err := s.Start(context.Background(), procStartup(t), procT0)
		return s, err
	}
	t.Run("garbage and a panic", func(t *testing.T) {
		rec := &procLogs{}
		p := procLoad(t, "count", PluginConfig{}, WithLogger(slog.New(rec)))
		s, err := start(t, p, ProcessConfig{Path: exe, Args: []string{testChildGarbage}})
		f := wantFault(t, err, FaultProcess, callLoad)
		if !strings.Contains(f.Error(), "panic: the test child broke down") {
			t.Fatalf("fault %v does not quote the child's stderr", f)
		}
		if !strings.Contains(rec.text(), "line=panic: the test child broke down") {
			t.Fatalf("the child's stderr was not logged:\n%s", rec.text())
		}
		wantGone(t, s)
	})
	t.Run("silent", func(t *testing.T) {
		p := procLoad(t, "count", PluginConfig{})
		s, err := start(t, p, ProcessConfig{Path: exe, Args: []string{testChildSilent}, StartTimeout: 100 * time.Millisecond})
		f := wantFault(t, err, FaultProcess, callLoad)
		if !strings.Contains(f.Error(), "within 100ms") {
			t.Fatalf("fault %v", f)
		}
		wantGone(t, s)
	})
	t.Run("bad intents", func(t *testing.T) {
		p := procLoad(t, "count", PluginConfig{})
		s, err := start(t, p, ProcessConfig{Path: exe, Args: []string{testChildBadIntents}})
		wantFault(t, err, FaultOutbox, abi.ExportInit)
		wantGone(t, s)
	})
	t.Run("no binary", func(t *testing.T) {
		p := procLoad(t, "count", PluginConfig{})
		s := NewProcess(p, ProcessConfig{Path: "/nonexistent/stratbox"})
		_, err := s.Start(context.Background(), procStartup(t), procT0)
		wantFault(t, err, FaultProcess, callLoad)
		if _, err := s.Deliver(context.Background(), procTrades(1), procT0); !errors.Is(err, ErrDead) {
			t.Fatalf("call after a failed start: %v", err)
		}
		_ = s.Close()
	})
}

func TestChildChecksIntentFraming(t *testing.T) {
	good := abi.AppendCancelAll(nil, &abi.CancelAll{Instrument: 1})
	if err := checkIntents(good); err != nil {
		t.Fatal(err)
	}
	bad := binary.LittleEndian.AppendUint64(nil, 0x0000000000030203)
	if err := checkIntents(bad); err == nil {
		t.Fatal("a record of size 3 passed")
	}
}

func TestChildStderrIsCapped(t *testing.T) {
	rec := &procLogs{}
	w := &stderrLog{log: slog.New(rec)}
	line := strings.Repeat("x", 1023) + "\n"
	for range 100 { // 100 KiB
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = w.Write([]byte("panic: the end"))
	w.flush()
	logs := rec.text()
	if n := strings.Count(logs, "child stderr line="); n != stderrCap/1023 {
		t.Errorf("%d lines logged, want the %d that fit %d bytes", n, stderrCap/1023, stderrCap)
	}
	if strings.Count(logs, "the rest is dropped") != 1 || strings.Contains(logs, "panic") {
		t.Errorf("logs after the cap:\n%s", logs[len(logs)-200:])
	}
	if tail := w.tailText(); !strings.HasSuffix(tail, "xx\npanic: the end") || len(tail) > stderrTail {
		t.Errorf("tail %q", tail)
	}
}

// serveBrokenChild plays a child that breaks the protocol in the way its
// argument names; it returns the exit code.
func serveBrokenChild(how string) int {
	switch how {
	case testChildGarbage:
		fmt.Fprintln(os.Stderr, "panic: the test child broke down")
		_, _ = os.Stdout.WriteString("this is not a frame\n")
		return 3
	case testChildSilent:
		_, _ = io.Copy(io.Discard, os.Stdin)
		return 0
	}
	in, out := bufio.NewReader(os.Stdin), bufio.NewWriter(os.Stdout)
	var hdr [frameHeader]byte
	var buf []byte
	var ep *shm.Endpoint // after the load, when the parent gave a region
	var region *shm.Region
	for {
		var typ byte
		var err error
		if ep == nil {
			typ, buf, err = readFrame(in, &hdr, &buf, maxRequest)
		} else {
			typ, buf, err = ep.Recv(buf, farFuture)
		}
		if err != nil {
			return 0
		}
		if ep != nil && how == testChildCorrupt {
			corruptReplyRing(region)
			_, _ = io.Copy(io.Discard, os.Stdin)
			return 0
		}
		desc := abi.Descriptor{Version: abi.Current, InboxPtr: 0x10000, InboxCap: 0x10000, OutboxPtr: 0x20000, OutboxCap: 0x1000}
		b := make([]byte, 48, resultFixed+8)
		var intents []byte
		if typ == reqStart {
			b = append(b, flagCalled, 0, 0, 0, 0, 0, 0, 0)
			intents = binary.LittleEndian.AppendUint64(nil, 0x0000000000030203) // size 3
		} else {
			b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
		}
		b = append(abi.AppendDescriptor(b, &desc), intents...)
		if ep != nil {
			if ep.Send(repResult, farFuture, b) != nil {
				return 0
			}
			continue
		}
		_, _ = out.Write(appendFrameHeader(nil, repResult, len(b)))
		_, _ = out.Write(b)
		if out.Flush() != nil {
			return 0
		}
		if fd := binary.LittleEndian.Uint32(buf[12:]); typ == reqLoad && fd != 0 {
			if region, err = shm.OpenFD(int(fd)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			ep = region.Child()
		}
	}
}

func BenchmarkProcessDeliver(b *testing.B) {
	benchDeliver(b, func(p *Plugin) Sandbox { return procNew(b, p, ProcessConfig{}) })
}

func BenchmarkInProcessDeliver(b *testing.B) {
	benchDeliver(b, NewInProcess)
}

// benchDeliver measures batches of 1 and 64 trades delivered to the count
// plugin (reads every record) with the default call budget.
func benchDeliver(b *testing.B, sandbox func(*Plugin) Sandbox) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			p := procLoad(b, "count", PluginConfig{})
			s := sandbox(p)
			defer s.Close()
			ctx := context.Background()
			if _, err := s.Start(ctx, procStartup(b), procT0); err != nil {
				b.Fatal(err)
			}
			events := procTrades(n)
			b.ReportAllocs()
			child := func() time.Duration { return 0 }
			if ps, ok := s.(*procSandbox); ok && cpuClocks {
				child = func() time.Duration { c, _ := processCPU(ps.cmd.Process.Pid); return c }
			}
			self0, child0 := selfCPU(), child()
			for b.Loop() {
				if _, err := s.Deliver(ctx, events, procT0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
			// CPU time per call: this process (the caller and whatever the
			// test binary runs beside it) and the child, spins included.
			b.ReportMetric(float64((selfCPU()-self0).Nanoseconds())/float64(b.N), "host-cpu-ns/call")
			b.ReportMetric(float64((child()-child0).Nanoseconds())/float64(b.N), "child-cpu-ns/call")
		})
	}
}
