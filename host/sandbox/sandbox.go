package sandbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/clock"
)

const wasiModule = wasi_snapshot_preview1.ModuleName

// Limits of the host functions (abi/README.md §16).
const (
	maxTimers  = 256
	maxLogLine = 4096
)

// Host function statuses (abi/README.md §5).
const (
	statusOK          = 0
	statusBadArgument = -1
	statusOutOfBounds = -2
	statusNotFound    = -3
	statusLimit       = -4
)

// instState is what the host functions of one live instance use.
type instState struct {
	clk    clock.Clock
	log    *slog.Logger
	logs   logLimiter
	mu     sync.Mutex
	timers map[uint32]time.Time
	minGap time.Duration // PluginConfig.TimerMin
	last   int64         // last now() returned: never decreases within an instance
	rand   *rand.ChaCha8
}

func newInstState(clk clock.Clock, log *slog.Logger, cfg PluginConfig, instance uint64) *instState {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], cfg.Seed)
	binary.LittleEndian.PutUint64(seed[8:], instance)
	return &instState{
		clk:    clk,
		log:    log,
		logs:   logLimiter{rate: float64(cfg.LogRate), burst: float64(cfg.LogBurst), tokens: float64(cfg.LogBurst)},
		timers: map[uint32]time.Time{},
		minGap: cfg.TimerMin,
		rand:   rand.NewChaCha8(seed),
	}
}

func (st *instState) now() int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := st.clk.Now().UnixNano()
	if n < st.last {
		n = st.last
	}
	st.last = n
	return n
}

// logLine writes one plugin log line, rate limited; false means dropped.
func (st *instState) logLine(level slog.Level, text []byte) bool {
	st.mu.Lock()
	ok := st.logs.allow(st.clk.Now())
	st.mu.Unlock()
	if !ok {
		return false
	}
	if len(text) > maxLogLine {
		text = text[:maxLogLine]
	}
	st.log.Log(context.Background(), level, string(bytes.TrimRight(text, "\n")))
	return true
}

// logLimiter is a token bucket.
type logLimiter struct {
	rate, burst, tokens float64
	last                time.Time
	dropped             uint64
}

func (l *logLimiter) allow(now time.Time) bool {
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens < 1 {
		l.dropped++
		return false
	}
	l.tokens--
	return true
}

// never is the latest time a timer can be due: the last instant whose
// UnixNano is representable (year 2262), where a due time saturates.
var never = time.Unix(0, math.MaxInt64)

// timerDue is when a timer armed at now with after ns fires: after is raised
// to minGap (so 0 and negative values too), and the sum saturates at never
// instead of overflowing (abi/README.md §5, set_timer).
func timerDue(now time.Time, after int64, minGap time.Duration) time.Time {
	after = max(after, int64(minGap))
	if rest := never.Sub(now); time.Duration(after) >= rest {
		return never
	}
	return now.Add(time.Duration(after))
}

// DueTimers removes and returns the ids of the timers due at now, earliest
// first (ties by id).
func (st *instState) dueTimers(now time.Time) []uint32 {
	due := st.dueTimersAt(now, -1)
	if len(due) == 0 {
		return nil
	}
	ids := make([]uint32, len(due))
	for k, d := range due {
		ids[k] = d.id
	}
	return ids
}

type dueTimer struct {
	id uint32
	at time.Time
}

// dueTimersAt removes and returns the timers due at now with the times
// they were due at, earliest first (ties by id): at most limit of them
// (all when limit is negative); the others stay armed, due.
func (st *instState) dueTimersAt(now time.Time, limit int) []dueTimer {
	st.mu.Lock()
	defer st.mu.Unlock()
	var due []dueTimer
	for id, at := range st.timers {
		if !at.After(now) {
			due = append(due, dueTimer{id, at})
		}
	}
	if len(due) == 0 {
		return nil
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].at.Equal(due[j].at) {
			return due[i].at.Before(due[j].at)
		}
		return due[i].id < due[j].id
	})
	if limit >= 0 && len(due) > limit {
		due = due[:limit]
	}
	for _, d := range due {
		delete(st.timers, d.id)
	}
	return due
}

// nextTimer is the earliest armed timer's due time.
func (st *instState) nextTimer() (time.Time, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var first time.Time
	for _, at := range st.timers {
		if first.IsZero() || at.Before(first) {
			first = at
		}
	}
	return first, !first.IsZero()
}

// lineWriter turns a plugin's stdout or stderr into log lines.
type lineWriter struct {
	p     *Plugin
	level slog.Level
	buf   []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if st := w.p.current.Load(); st != nil {
			st.logLine(w.level, w.buf[:i])
		}
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > maxLogLine { // a line without end: cut it
		if st := w.p.current.Load(); st != nil {
			st.logLine(w.level, w.buf)
		}
		w.buf = w.buf[:0]
	}
	return len(b), nil
}

// randReader feeds WASI random_get from the live instance's deterministic source.
type randReader struct{ p *Plugin }

func (r randReader) Read(b []byte) (int, error) {
	st := r.p.current.Load()
	if st == nil {
		return 0, fmt.Errorf("sandbox: no live instance")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.rand.Read(b)
}

// instantiateHostModules provides the stratbox module and a sandboxed WASI
// to the plugin's runtime.
func (p *Plugin) instantiateHostModules(ctx context.Context) error {
	b := p.rt.NewHostModuleBuilder(abi.ImportModule)
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(p.hostLog),
		[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}).Export(abi.ImportLog)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(p.hostNow),
		nil, []api.ValueType{i64}).Export(abi.ImportNow)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(p.hostSetTimer),
		[]api.ValueType{i32, i64}, []api.ValueType{i32}).Export(abi.ImportSetTimer)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(p.hostCancelTimer),
		[]api.ValueType{i32}, []api.ValueType{i32}).Export(abi.ImportCancelTimer)
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("sandbox: instantiate %s module: %w", abi.ImportModule, err)
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.rt); err != nil {
		return fmt.Errorf("sandbox: instantiate WASI: %w", err)
	}
	return p.instantiateEnv(ctx)
}

// moduleConfig is the sandbox: no files, sockets, environment or arguments;
// the host's clock; a deterministic random source; stdout and stderr as log
// lines. _initialize is called by Start, under the time budget.
func (p *Plugin) moduleConfig() wazero.ModuleConfig {
	walltime := func() (int64, int32) {
		t := p.clk.Now()
		return t.Unix(), int32(t.Nanosecond())
	}
	nanotime := func() int64 { return p.clk.Now().UnixNano() }
	return wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithStdout(&lineWriter{p: p, level: slog.LevelInfo}).
		WithStderr(&lineWriter{p: p, level: slog.LevelWarn}).
		WithWalltime(walltime, sys.ClockResolution(1)).
		WithNanotime(nanotime, sys.ClockResolution(1)).
		WithRandSource(randReader{p})
}

func (p *Plugin) hostLog(_ context.Context, mod api.Module, stack []uint64) {
	level, ptr, n := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
	st := p.current.Load()
	switch {
	case st == nil:
		stack[0] = api.EncodeI32(statusBadArgument)
		return
	case level < 0 || level > 3:
		stack[0] = api.EncodeI32(statusBadArgument)
		return
	}
	// The whole range is checked before the line is cut to maxLogLine
	// (abi/README.md §5): a length past the end of memory is out_of_bounds,
	// whatever part of it would have been logged.
	if uint64(ptr)+uint64(n) > uint64(mod.Memory().Size()) {
		stack[0] = api.EncodeI32(statusOutOfBounds)
		return
	}
	text, ok := mod.Memory().Read(ptr, min(n, maxLogLine))
	if !ok {
		stack[0] = api.EncodeI32(statusOutOfBounds)
		return
	}
	levels := [4]slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
	if !st.logLine(levels[level], text) {
		stack[0] = api.EncodeI32(statusLimit)
		return
	}
	stack[0] = api.EncodeI32(statusOK)
}

func (p *Plugin) hostNow(_ context.Context, _ api.Module, stack []uint64) {
	var n int64
	if st := p.current.Load(); st != nil {
		n = st.now()
	}
	stack[0] = api.EncodeI64(n)
}

func (p *Plugin) hostSetTimer(_ context.Context, _ api.Module, stack []uint64) {
	id, after := uint32(stack[0]), int64(stack[1])
	st := p.current.Load()
	if st == nil {
		stack[0] = api.EncodeI32(statusBadArgument)
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, armed := st.timers[id]; !armed && len(st.timers) >= maxTimers {
		stack[0] = api.EncodeI32(statusLimit)
		return
	}
	st.timers[id] = timerDue(st.clk.Now(), after, st.minGap)
	stack[0] = api.EncodeI32(statusOK)
}

func (p *Plugin) hostCancelTimer(_ context.Context, _ api.Module, stack []uint64) {
	id := uint32(stack[0])
	st := p.current.Load()
	if st == nil {
		stack[0] = api.EncodeI32(statusBadArgument)
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, armed := st.timers[id]; !armed {
		stack[0] = api.EncodeI32(statusNotFound)
		return
	}
	delete(st.timers, id)
	stack[0] = api.EncodeI32(statusOK)
}
