package host

// The benchmarks of issue 4 (targets in BENCHMARKS.md):
//
//   - BenchmarkDispatch (example=…): the cost of one event delivered to a
//     Go-built plugin (the example market maker and taker, and the quoter
//     of plugins/bench/quoter), in this process with the default call
//     budget (none), in a child process (process), and for the quoter also
//     in this process without a budget (trusted) and natively through
//     strategy.Runner (native: the same ABI bytes, no wasm), in batches of
//     1 and 64. (The count.wasm rows of BenchmarkDispatch are in
//     plugin_bench_test.go, package host_test.)
//   - BenchmarkEndToEnd: a ticker notification's bytes handed to the engine
//     (as a connection's read goroutine hands them) → the order request's
//     params bytes handed to the exchange, with the quoter native, in wasm
//     in this process, and in wasm in a child process.
//   - BenchmarkHeartbeatWhileSpinning: the heartbeat answer latency of a
//     connection to the simulator while a plugin spins forever and the
//     process is under garbage-collection pressure, with the plugins in
//     this process and in child processes.
//
// They measure; they never fail on a number.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratbox/stratbox/internal/benchkit"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/internal/testplugins"
	"github.com/stratbox/stratbox/plugins/bench/quoter"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
	"github.com/stratbox/stratbox/sim"
)

const quoterDir = "plugins/bench/quoter/wasm"

// benchWasm returns the module of a benchmarked plugin: an example or the
// quoter.
func benchWasm(tb testing.TB, name string) []byte {
	if name == "quoter" {
		return testplugins.Build(tb, quoterDir)
	}
	return example(tb, name)
}

// benchInstrument is BTC-PERPETUAL as Deribit lists it: inverse, tick 0.5,
// contract size 10, minimum amount 10.
func benchInstrument() abi.Instrument {
	fx := func(s string) abi.Fixed { x, _ := abi.ParseFixed(s); return x }
	return abi.Instrument{Kind: abi.Perpetual, Flags: abi.InstrumentInverse, TickSize: fx("0.5"),
		ContractSize: fx("10"), MinAmount: fx("10"), TakerFee: fx("0.0005"),
		BaseCurrency: abi.NewStr8("BTC"), QuoteCurrency: abi.NewStr8("USD"), SettlementCurrency: abi.NewStr8("BTC"),
		Name: abi.NewStr64("BTC-PERPETUAL")}
}

// benchParams are each benchmarked plugin's parameters: the market maker
// requotes on every tick the market moves (0.05 bps of 60000 is below the
// 0.5 tick), the quoter rests 10 ticks below the best bid.
func benchParams(name string) []abi.Param {
	switch name {
	case "marketmaker":
		return []abi.Param{{Type: abi.ParamFloat, Key: "half_spread_bps", Float: 1},
			{Type: abi.ParamFloat, Key: "requote_bps", Float: 0.05}}
	case "quoter":
		return []abi.Param{{Type: abi.ParamInt, Key: "distance_ticks", Int: 10}}
	}
	return nil
}

// benchStartup is a start-up blob with one instrument, as the engine writes
// it.
func benchStartup(tb testing.TB, name string, now time.Time) []byte {
	tb.Helper()
	b, err := abi.AppendStartup(nil, &abi.Startup{Start: abi.Start{HostVersion: abi.Current, FirstCID: 1,
		Time: uint64(now.UnixNano()), Name: abi.NewStr32(name)},
		Instruments: []abi.Instrument{benchInstrument()}, Params: benchParams(name)})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// nativeBox is a Sandbox that runs a strategy natively through
// strategy.Runner: the same ABI bytes in and out as a plugin, without wasm.
// It is the baseline of the benchmarks. Its strategies set no timers (it
// delivers none).
type nativeBox struct {
	r             *strategy.Runner
	inbox, outbox []byte
	seq           uint32
	now           int64
	calls         uint64
	stopped       bool
}

// newNativeBox returns a native Sandbox of s with the SDK's buffer sizes.
func newNativeBox(s strategy.Strategy) *nativeBox {
	n := &nativeBox{inbox: make([]byte, strategy.InboxSize), outbox: make([]byte, strategy.OutboxSize)}
	n.r = strategy.NewRunner(s, nativeHost{n}, n.inbox, n.outbox)
	return n
}

// nativeHost is the host functions of a nativeBox: the clock is the now of
// the call, logs are dropped, timers are refused (the strategies of the
// benchmarks set none).
type nativeHost struct{ n *nativeBox }

func (nativeHost) Log(abi.LogLevel, []byte) abi.Status { return abi.StatusOK }
func (h nativeHost) Now() int64                        { return h.n.now }
func (nativeHost) SetTimer(uint32, int64) abi.Status   { return abi.StatusLimit }
func (nativeHost) CancelTimer(uint32) abi.Status       { return abi.StatusNotFound }

func (n *nativeBox) result(call string, res int32) ([]byte, error) {
	n.calls++
	if res < 0 || int(res) > len(n.outbox) {
		return nil, &sandbox.Fault{Plugin: "native", Call: call, Kind: sandbox.FaultResult, Code: int64(res)}
	}
	return n.outbox[:res], nil
}

func (n *nativeBox) Start(_ context.Context, startup []byte, now time.Time) ([]byte, error) {
	if len(startup) > len(n.inbox) {
		return nil, fmt.Errorf("%w: start-up blob of %d bytes", sandbox.ErrInboxFull, len(startup))
	}
	n.now = now.UnixNano()
	return n.result(abi.ExportInit, n.r.Init(int32(copy(n.inbox, startup))))
}

func (n *nativeBox) Deliver(_ context.Context, batch []byte, now time.Time) ([]byte, error) {
	if n.stopped {
		return nil, sandbox.ErrDead
	}
	if len(batch) == 0 {
		return nil, nil
	}
	if len(batch) > len(n.inbox) {
		return nil, fmt.Errorf("%w: %d bytes, inbox of %d", sandbox.ErrInboxFull, len(batch), len(n.inbox))
	}
	n.now = now.UnixNano()
	in := n.inbox[:copy(n.inbox, batch)]
	sandbox.NumberEvents(in, &n.seq)
	return n.result(abi.ExportOnEvents, n.r.OnEvents(int32(len(in))))
}

func (n *nativeBox) NextTimer() (time.Time, bool) { return time.Time{}, false }

func (n *nativeBox) Stop(_ context.Context, now time.Time) ([]byte, error) {
	if n.stopped {
		return nil, nil
	}
	n.stopped = true
	n.now = now.UnixNano()
	return n.result(abi.ExportOnStop, n.r.OnStop())
}

func (n *nativeBox) Close() error          { n.stopped = true; return nil }
func (n *nativeBox) Fault() *sandbox.Fault { return nil }
func (n *nativeBox) Stats() sandbox.InstanceStats {
	return sandbox.InstanceStats{Calls: n.calls}
}
func (n *nativeBox) Descriptor() abi.Descriptor {
	return abi.Descriptor{Version: abi.Current, InboxCap: uint32(len(n.inbox)), OutboxCap: uint32(len(n.outbox))}
}

var _ sandbox.Sandbox = (*nativeBox)(nil)

// benchSandbox starts name (an example or the quoter) in a sandbox of the
// isolation: "native" (the quoter only), "none" or "process" with the
// default call budget, or "trusted" (in this process, no call budget). The
// sandbox is closed when the benchmark ends.
func benchSandbox(b *testing.B, name, isolation string, now time.Time) (sandbox.Sandbox, []byte) {
	b.Helper()
	var sb sandbox.Sandbox
	switch isolation {
	case "native":
		sb = newNativeBox(quoter.New())
	case string(sandbox.IsolateNone):
		sb = sandbox.NewInProcess(load(b, name, benchWasm(b, name), sandbox.PluginConfig{}))
	case "trusted": // in this process without a call budget: no interruption checks
		sb = sandbox.NewInProcess(load(b, name, benchWasm(b, name), sandbox.PluginConfig{CallBudget: -1}))
	case string(sandbox.IsolateProcess):
		p := load(b, name, benchWasm(b, name), sandbox.PluginConfig{}, sandbox.WithChildProcess())
		sb = sandbox.NewProcess(p, sandbox.ProcessConfig{CacheDir: testCacheDir})
	default:
		b.Fatalf("isolation %q", isolation)
	}
	b.Cleanup(func() { _ = sb.Close() })
	out, err := sb.Start(context.Background(), benchStartup(b, name, now), now)
	if err != nil {
		b.Fatalf("start %s (%s): %v", name, isolation, err)
	}
	return sb, out
}

// newBenchMarket is benchkit's market cycle (the same as host bench's).
func newBenchMarket(tb testing.TB, now time.Time) *benchkit.Market {
	tb.Helper()
	m, err := benchkit.NewMarket(now)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// acks is benchkit.Acks, failing tb on malformed intents.
func acks(tb testing.TB, intents []byte) []byte {
	tb.Helper()
	out, err := benchkit.Acks(intents)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// BenchmarkDispatch measures one Deliver of a batch of 1 or 64 realistic
// market events (tickers, book changes, trades for BTC-PERPETUAL) to a
// Go-built plugin with the default call budget, in this process (none) or
// in a child process, per event; and the quoter run natively through
// strategy.Runner (the baseline: the same bytes in and out, no wasm). Before
// the timing the plugin receives the book snapshot and a cycle of events,
// and its orders are acknowledged, so that it works on every event:
// the market maker amends its quotes as the book moves, the quoter amends
// its bid on every ticker, the taker counts the trade flow.
func BenchmarkDispatch(b *testing.B) {
	type row struct{ example, isolation string }
	var rows []row
	for _, ex := range []string{"marketmaker", "taker", "quoter"} {
		rows = append(rows, row{ex, string(sandbox.IsolateNone)}, row{ex, string(sandbox.IsolateProcess)})
	}
	rows = append(rows, row{"quoter", "trusted"}, row{"quoter", "native"})
	for _, r := range rows {
		for _, n := range []int{1, benchkit.Cycle} {
			b.Run(fmt.Sprintf("example=%s/isolation=%s/batch=%d", r.example, r.isolation, n), func(b *testing.B) {
				benchDispatch(b, r.example, r.isolation, n)
			})
		}
	}
}

func benchDispatch(b *testing.B, name, isolation string, n int) {
	ctx := context.Background()
	now := time.Now()
	sb, out := benchSandbox(b, name, isolation, now)
	m := newBenchMarket(b, now)
	batches, books := m.Batches(n)
	// Warm up: the book, a cycle, the acknowledgements of the orders placed.
	pending := acks(b, out)
	got, err := sb.Deliver(ctx, m.Snapshot, now)
	if err != nil {
		b.Fatal(err)
	}
	pending = append(pending, acks(b, got)...)
	intents := len(out) + len(got)
	for round := 0; round < 3; round++ {
		for i := range batches {
			m.Chain(batches[i], books[i])
			got, err := sb.Deliver(ctx, batches[i], now)
			if err != nil {
				b.Fatal(err)
			}
			pending = append(pending, acks(b, got)...)
			if round == 2 {
				intents += len(got)
			}
		}
		if len(pending) > 0 {
			got, err := sb.Deliver(ctx, pending, now)
			if err != nil {
				b.Fatal(err)
			}
			pending = append(pending[:0], acks(b, got)...)
		}
	}
	if intents == 0 && name != "taker" {
		b.Fatalf("%s made no intent in the last cycle of the warm-up", name)
	}
	var total int
	i := 0
	before := sb.Stats()
	b.ReportAllocs()
	for b.Loop() {
		m.Chain(batches[i], books[i])
		got, err := sb.Deliver(ctx, batches[i], now)
		if err != nil {
			b.Fatal(err)
		}
		total += len(got)
		if i++; i == len(batches) {
			i = 0
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
	b.ReportMetric(float64(total)/float64(b.N*n), "intent-bytes/event")
	if after := sb.Stats(); after.Calls > before.Calls {
		// The time inside the plugin's wasm call (in the child, for a
		// child process); the rest of ns/event is the boundary.
		b.ReportMetric(float64(after.CallTime-before.CallTime)/float64(b.N*n), "in-plugin-ns/event")
	}
	if f := sb.Fault(); f != nil {
		b.Fatalf("fault: %v", f)
	}
}

// newBenchExchange is benchkit's in-process exchange (host bench's too).
func newBenchExchange() *benchkit.Exchange { return benchkit.NewExchange() }

// ackWatch is a Sandbox that reports every order_update of state open it
// delivers (after the call), so that a benchmark knows when the plugin has
// seen an order acknowledged.
type ackWatch struct {
	sandbox.Sandbox
	acked chan struct{}
}

func (w *ackWatch) Deliver(ctx context.Context, batch []byte, now time.Time) ([]byte, error) {
	out, err := w.Sandbox.Deliver(ctx, batch, now)
	for off := 0; off+abi.HeaderSize <= len(batch); {
		h := abi.ReadHeader(batch[off:])
		if h.Size < abi.HeaderSize {
			break
		}
		if h.Kind == abi.KindOrderUpdate && off+int(h.Size) <= len(batch) {
			var u abi.OrderUpdate
			if abi.DecodeOrderUpdate(batch[off:off+int(h.Size)], &u) == nil && u.State == abi.StateOpen {
				select {
				case w.acked <- struct{}{}:
				default:
				}
			}
		}
		off += int(h.Size)
	}
	return out, err
}

// e2eNative is the native row's ns/op of the last BenchmarkEndToEnd run,
// for the other rows' ratio.
var e2eNative atomic.Int64

// BenchmarkEndToEnd measures, through an Engine with one plugin (the
// quoter), the time from a ticker notification handed to Engine.Deliver
// (as a connection's read goroutine hands it: the frame's channel and data
// bytes) to the order request's params handed to the exchange
// (Exchange.CallRaw): translation, routing, the plugin's goroutine, the
// plugin call, validation and risk, the order manager. Every ticker carries
// a new best bid and makes the quoter amend its order (private/edit); after
// each request the benchmark waits, untimed, until the plugin has seen the
// order open again, so that each ticker meets an idle engine. ns/op is that
// time; x-native is the ratio to the native row of the same run. B/op and
// allocs/op count everything in the loop, the fake exchange's JSON
// included.
func BenchmarkEndToEnd(b *testing.B) {
	for _, mode := range []string{"native", "inprocess", "process"} {
		b.Run("sandbox="+mode, func(b *testing.B) { benchEndToEnd(b, mode) })
	}
}

func benchEndToEnd(b *testing.B, mode string, opts ...Option) {
	acked := make(chan struct{}, 16)
	watch := func(sb sandbox.Sandbox) sandbox.Sandbox { return &ackWatch{Sandbox: sb, acked: acked} }
	spec := PluginSpec{Name: "quoter", Instruments: []string{"BTC-PERPETUAL"},
		Channels: []string{"ticker.{instrument}.100ms"}, Params: benchParams("quoter"),
		Risk: &RiskLimits{IntentsPerSecond: -1, FloodLimit: 1 << 30}}
	switch mode {
	case "native":
		spec.NewSandbox = func(*sandbox.Plugin) sandbox.Sandbox { return watch(newNativeBox(quoter.New())) }
	case "inprocess":
		spec.Plugin = load(b, "quoter", benchWasm(b, "quoter"), sandbox.PluginConfig{})
		spec.NewSandbox = func(p *sandbox.Plugin) sandbox.Sandbox { return watch(sandbox.NewInProcess(p)) }
	case "process":
		spec.Plugin = load(b, "quoter", benchWasm(b, "quoter"), sandbox.PluginConfig{}, sandbox.WithChildProcess())
		spec.NewSandbox = func(p *sandbox.Plugin) sandbox.Sandbox {
			return watch(sandbox.NewProcess(p, sandbox.ProcessConfig{CacheDir: testCacheDir}))
		}
	}
	e, err := New(Config{Plugins: []PluginSpec{spec}}, append([]Option{WithLogger(testLogger(b))}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	ex := newBenchExchange()
	defer runEngine(b, e, ex)()
	if !e.WaitStats(func(s EngineStats) bool {
		return len(s.Plugins) == 1 && (s.Plugins[0].Starts > 0 || s.Plugins[0].Faults > 0)
	}, 60*time.Second) {
		b.Fatal("the plugin did not start")
	}
	if ps := e.Stats().Plugins[0]; ps.Faults > 0 {
		b.Fatalf("the plugin faulted: %v", ps.LastFault)
	}

	channel := []byte("ticker.BTC-PERPETUAL.100ms")
	var data []byte
	const limit = 10 * time.Second
	timeout := time.NewTimer(limit)
	defer timeout.Stop()
	wait := func(ch <-chan struct{}, what string) {
		timeout.Reset(limit)
		select {
		case <-ch:
		case <-timeout.C:
			b.Fatalf("no %s within %v; stats %+v", what, limit, e.Stats())
		}
	}
	// tick hands the engine one ticker and returns the request it made.
	tick := func(i int) (time.Duration, benchkit.Request) {
		bid := abi.Fixed(60000*abi.FixedScale) + abi.Fixed(i%16)*abi.FixedScale/2
		data = benchkit.AppendTicker(data[:0], bid, time.Now())
		t0 := time.Now()
		e.Deliver(conn.Notification{Channel: channel, Data: data, Received: t0})
		var req benchkit.Request
		timeout.Reset(limit)
		select {
		case req = <-ex.Reqs:
		case <-timeout.C:
			b.Fatalf("no order request within %v; stats %+v", limit, e.Stats())
		}
		wait(acked, "acknowledgement seen by the plugin")
		return req.At.Sub(t0), req
	}
	// The first ticker places the order; the timed ones amend it.
	if _, r := tick(0); r.Method != "private/buy" {
		b.Fatalf("first request %s %s, want private/buy", r.Method, r.Params)
	}
	var total time.Duration
	for i := 1; i <= b.N; i++ {
		d, r := tick(i)
		if r.Method != "private/edit" {
			b.Fatalf("request %d: %s %s, want private/edit", i, r.Method, r.Params)
		}
		total += d
	}
	ns := float64(total.Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns, "ns/op")
	if mode == "native" {
		e2eNative.Store(int64(ns))
	} else if nat := e2eNative.Load(); nat > 0 {
		b.ReportMetric(ns/float64(nat), "x-native")
	}
	st := e.Stats()
	if st.Refused != 0 || st.Malformed != 0 || st.Plugins[0].Faults != 0 {
		b.Fatalf("refused %d, malformed %d, faults %d (%v)", st.Refused, st.Malformed, st.Plugins[0].Faults,
			st.Plugins[0].LastFault)
	}
}

// BenchmarkHeartbeatWhileSpinning measures one window of spinWindow,
// whatever b.N, with a test_request every spinHeartbeat (about 150 answers:
// the p99 is the second-largest).
const (
	spinWindow    = 3 * time.Second
	spinHeartbeat = 5 * time.Millisecond
)

// garbageRate is the garbage BenchmarkHeartbeatWhileSpinning allocates, in
// MiB/s: STRATBOX_BENCH_GARBAGE_MIBS, default 200 (four times the isolation
// spike's 50 MB/s); 0 allocates without pause (the two goroutines then keep
// both cores of a 2-core machine busy).
func garbageRate(tb testing.TB) float64 {
	v := os.Getenv("STRATBOX_BENCH_GARBAGE_MIBS")
	if v == "" {
		return 200
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || r < 0 {
		tb.Fatalf("STRATBOX_BENCH_GARBAGE_MIBS=%q: want a number of MiB/s ≥ 0", v)
	}
	return r
}

// BenchmarkHeartbeatWhileSpinning measures the heartbeat answer latency
// (test_request read → public/test written: conn's histogram) of a
// connection to the simulator (a test_request every 20 ms) whose read
// goroutine feeds an engine running the example market maker and the spin
// fixture, which spins forever in every on_events call: its call budget
// (500 ms) stops it, the engine restarts it at once, and it spins again.
// The host is under load: the market maker trades against the simulator
// (a market tick every 10 ms), and two goroutines allocate 1 MiB slices
// (200 MiB/s; STRATBOX_BENCH_GARBAGE_MIBS=0: without pause), so that the
// collector runs several times a second. With isolation=none the spinning
// guest runs in this process, where each collection's stop-the-world has
// to wait for it to reach one of wazero's interruption checks; with
// isolation=process the plugins run in child processes and nothing in the
// host's process spins, but a child keeps one core busy.
//
// Two measures of the answer latency: conn's own histogram (p50-µs, p99-µs,
// max-µs: test_request read → public/test written, on the host's read
// goroutine), and the exchange's view (wire-p50-µs, wire-p99-µs,
// wire-max-µs: test_request forwarded to the host → public/test back, timed
// by a relay in a child process between the host and the simulator; exact
// quantiles, loopback and relay included). Only the second sees a stall of
// the whole host process that holds the test_request in the socket before
// the read (a stop-the-world), which is what a spinning in-process guest
// causes; the target is about that one.
//
// One run is one window of 3 s, whatever b.N, once the spin plugin has
// overrun its budget once. The wire figures cover the window; conn's
// histogram covers the whole connection (its first ~0.6 s are before the
// window, most of them with the plugin spinning). Also reported: the
// answers during the window, the missed heartbeats, the collections during
// the window and their longest stop-the-world pause, and the spin plugin's
// faults.
func BenchmarkHeartbeatWhileSpinning(b *testing.B) {
	for _, iso := range []sandbox.Isolation{sandbox.IsolateProcess, sandbox.IsolateNone} {
		b.Run("isolation="+string(iso), func(b *testing.B) { benchHeartbeatSpinning(b, iso) })
	}
}

func benchHeartbeatSpinning(b *testing.B, iso sandbox.Isolation) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The load: garbage, all the time.
	var loadWG sync.WaitGroup
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer func() { stopLoad(); loadWG.Wait() }()
	rate := garbageRate(b) / 2 // MiB/s per goroutine
	var keep [4]atomic.Pointer[[]byte]
	for g := range 2 {
		loadWG.Add(1)
		go func() {
			defer loadWG.Done()
			t0 := time.Now()
			for i := 0; loadCtx.Err() == nil; i++ {
				s := make([]byte, 1<<20)
				s[i%len(s)] = byte(i)
				keep[(g*2+i)%len(keep)].Store(&s) // a little live heap, so marking has work
				if rate <= 0 {
					runtime.Gosched()
				} else if ahead := time.Duration(float64(i+1)/rate*float64(time.Second)) - time.Since(t0); ahead > 0 {
					time.Sleep(ahead)
				}
			}
		}()
	}

	var opts []sandbox.Option
	var box func(*sandbox.Plugin) sandbox.Sandbox
	if iso == sandbox.IsolateProcess {
		opts = []sandbox.Option{sandbox.WithChildProcess()}
		box = func(p *sandbox.Plugin) sandbox.Sandbox {
			return sandbox.NewProcess(p, sandbox.ProcessConfig{CacheDir: testCacheDir})
		}
	}
	mm := load(b, "mm", example(b, "marketmaker"), sandbox.PluginConfig{CallBudget: 5 * time.Second}, opts...)
	spin := load(b, "spin", fixture(b, "spin"), sandbox.PluginConfig{CallBudget: 500 * time.Millisecond, MemoryLimitPages: 16}, opts...)
	cfg := Config{MaxRestarts: 1000, RestartBackoff: time.Millisecond, Plugins: []PluginSpec{
		{Name: "mm", Plugin: mm, NewSandbox: box, Instruments: []string{"BTC-PERPETUAL"},
			Params: []abi.Param{{Type: abi.ParamFloat, Key: "half_spread_bps", Float: 1}}},
		{Name: "spin", Plugin: spin, NewSandbox: box, Instruments: []string{"BTC-PERPETUAL"}},
	}}
	srv, err := sim.Start(ctx, sim.Config{Seed: 1, MinHeartbeat: spinHeartbeat, AlwaysTestRequest: true,
		HeartbeatGrace: time.Second, Tick: 10 * time.Millisecond, RateLimits: sim.RateLimits{Disabled: true}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	e, err := New(cfg, WithLogger(testLogger(b)))
	if err != nil {
		b.Fatal(err)
	}
	proxy := startHeartbeatProxy(b, srv.Addr().String())
	cc := testConnConfig(strings.Replace(srv.URL(), srv.Addr().String(), proxy.address, 1))
	cc.HeartbeatInterval = spinHeartbeat
	cc.SilenceMultiple = int(time.Second / spinHeartbeat) // a stall is measured, not a reason to reconnect
	c, err := conn.Dial(context.Background(), cc, conn.WithSink(e))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	defer runEngine(b, e, c)()
	if !e.WaitStats(func(s EngineStats) bool { return pluginStats(s, "spin").Faults > 0 }, 60*time.Second) {
		b.Fatalf("the spin plugin never overran its budget; stats %+v", e.Stats())
	}

	b.ResetTimer()
	before := c.Heartbeat()
	proxy.report(b) // from now on
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	time.Sleep(spinWindow)
	runtime.ReadMemStats(&ms1)
	h := c.Heartbeat()
	wire := proxy.report(b)
	b.StopTimer()

	st := e.Stats()
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(us(h.AnswerLatency.P50), "p50-µs")
	b.ReportMetric(us(h.AnswerLatency.P99), "p99-µs")
	b.ReportMetric(us(h.AnswerLatency.Max), "max-µs")
	b.ReportMetric(float64(h.Answered-before.Answered), "answered")
	b.ReportMetric(us(wire.P50), "wire-p50-µs")
	b.ReportMetric(us(wire.P99), "wire-p99-µs")
	b.ReportMetric(us(wire.Max), "wire-max-µs")
	b.ReportMetric(float64(wire.N), "wire-answered")
	b.ReportMetric(float64(h.Missed), "missed")
	b.ReportMetric(float64(ms1.NumGC-ms0.NumGC), "gcs")
	b.ReportMetric(us(maxPause(&ms0, &ms1)), "gc-pause-max-µs")
	b.ReportMetric(float64(pluginStats(st, "spin").Faults), "spin-faults")
	if c.Stats().Reconnects != 0 || srv.Stats().HeartbeatKills != 0 {
		b.Logf("%d reconnects, %d connections closed by the exchange for an unanswered test_request",
			c.Stats().Reconnects, srv.Stats().HeartbeatKills)
	}
	if m := pluginStats(st, "mm"); m.Faults != 0 {
		b.Logf("the market maker faulted: %v", m.LastFault)
	}
}

// maxPause is the longest stop-the-world pause of the collections between
// two MemStats (the last 256 of them at most).
func maxPause(before, after *runtime.MemStats) time.Duration {
	var m uint64
	n := after.NumGC - before.NumGC
	for i := uint32(0); i < n && i < uint32(len(after.PauseNs)); i++ {
		m = max(m, after.PauseNs[(after.NumGC-1-i)%uint32(len(after.PauseNs))])
	}
	return time.Duration(m)
}

// The heartbeat answer as the exchange sees it. conn's histogram starts
// when the read goroutine has read the test_request: a stall of the whole
// host process (a stop-the-world) that holds the frame in the socket before
// the read is not in it, and the simulator of the benchmark shares that
// process. So BenchmarkHeartbeatWhileSpinning also measures on the wire:
// the connection goes through a relay in a child process (the test binary
// running TestHelperHeartbeatProxy), which times each test_request it
// forwards to the host until the public/test it receives back.

// envHeartbeatProxy makes TestHelperHeartbeatProxy run: the address of the
// exchange to relay to.
const envHeartbeatProxy = "STRATBOX_HOST_BENCH_HB_PROXY"

// heartbeatProxy is the parent's handle on the relay.
type heartbeatProxy struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan string
	exited  chan struct{}
	address string
}

// wireLatency is the relay's report: test_request forwarded → public/test
// received, since the previous report.
type wireLatency struct {
	N             int
	P50, P99, Max time.Duration
}

// startHeartbeatProxy starts the relay to upstream (host:port); it ends with
// the benchmark.
func startHeartbeatProxy(b *testing.B, upstream string) *heartbeatProxy {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHelperHeartbeatProxy$", "-test.count=1", "-test.timeout=30m")
	cmd.Env = append(os.Environ(), envHeartbeatProxy+"="+upstream)
	cmd.Stderr = os.Stderr
	p := &heartbeatProxy{cmd: cmd, lines: make(chan string, 16), exited: make(chan struct{})}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = p.stdin.Close() // the relay exits at the end of its input
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-p.exited
		}
		_ = cmd.Wait()
	})
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "addr ") || strings.HasPrefix(line, "report ") {
				p.lines <- line
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	line := p.line(b)
	if !strings.HasPrefix(line, "addr ") {
		b.Fatalf("relay: %q", line)
	}
	p.address = strings.TrimPrefix(line, "addr ")
	return p
}

func (p *heartbeatProxy) line(b *testing.B) string {
	b.Helper()
	select {
	case l := <-p.lines:
		return l
	case <-p.exited:
		b.Fatal("the heartbeat relay exited")
	case <-time.After(30 * time.Second):
		b.Fatal("the heartbeat relay does not answer")
	}
	return ""
}

// report returns the latencies since the last report and starts anew.
func (p *heartbeatProxy) report(b *testing.B) wireLatency {
	b.Helper()
	if _, err := io.WriteString(p.stdin, "report\n"); err != nil {
		b.Fatal(err)
	}
	var w wireLatency
	if _, err := fmt.Sscanf(p.line(b), "report %d %d %d %d", &w.N, &w.P50, &w.P99, &w.Max); err != nil {
		b.Fatal(err)
	}
	return w
}

// TestHelperHeartbeatProxy is the relay of BenchmarkHeartbeatWhileSpinning;
// it is skipped unless envHeartbeatProxy is set. It prints "addr
// host:port", relays every connection to the exchange at envHeartbeatProxy,
// answers each "report" line on its input with "report n p50 p99 max" (ns,
// exact) of the latencies since the previous report, and ends with its
// input.
func TestHelperHeartbeatProxy(t *testing.T) {
	upstream := os.Getenv(envHeartbeatProxy)
	if upstream == "" {
		t.Skip("helper process for BenchmarkHeartbeatWhileSpinning")
	}
	rl, err := benchkit.StartHeartbeatRelay(upstream)
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	fmt.Printf("addr %s\n", rl.Addr())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "report" {
			continue
		}
		l := rl.Take()
		var p50, p99, mx time.Duration
		if n := len(l); n > 0 {
			p50, p99, mx = l[(n-1)/2], l[min(n-1, (n*99+99)/100-1)], l[n-1]
		}
		fmt.Printf("report %d %d %d %d\n", len(l), p50, p99, mx)
	}
}
