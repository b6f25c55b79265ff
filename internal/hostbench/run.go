package hostbench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
)

// Groups are the figure groups, in the order they run (Options.Only).
var Groups = []string{"memory", "dispatch", "e2e", "heartbeat", "tick", "replay", "hostile", "churn"}

// Options configure Run.
type Options struct {
	// Reps is the number of measured repetitions of each figure, after a
	// warm-up (default 5; with Quick 2).
	Reps int
	// Quick shortens every measurement window (tests; figures are noisier).
	Quick bool
	// Only runs these groups (Groups); empty: all.
	Only []string
	// Plugin is a user's plugin (wasm), measured next to the no-op
	// baseline; PluginName names it, PluginParams reach its start-up blob
	// (its instrument is BTC-PERPETUAL).
	Plugin       []byte
	PluginName   string
	PluginParams []abi.Param
	// Helper makes the command of the helper process (the simulator and the
	// wire relay) with the given arguments appended, to be passed to
	// ServeHelper. Required by the heartbeat, tick and memory groups.
	Helper func(args ...string) *exec.Cmd
	// CacheDir is the compilation cache directory, shared with the plugins'
	// child processes (`host run`'s cache: compiled modules are reused
	// across runs); "": a temporary directory, removed at the end.
	CacheDir string
	// Child configures the plugins' child processes (isolation process);
	// its CacheDir is set by Run.
	Child sandbox.ProcessConfig
	// Progress receives a line per figure as it is measured; nil: none.
	Progress io.Writer
	// Log receives the measured components' log (engine, pool, connections,
	// sandbox: why a connection was lost, why a plugin faulted); nil: none.
	Log *slog.Logger
}

// ErrUsage marks an error in the options (an unknown group, a plugin that is
// not wasm).
var ErrUsage = errors.New("usage")

// CheckOnly checks the names of Options.Only.
func CheckOnly(only []string) error {
	for _, g := range only {
		if !slices.Contains(Groups, g) {
			return fmt.Errorf("%w: unknown figure group %q (want one of %s)", ErrUsage, g, strings.Join(Groups, ", "))
		}
	}
	return nil
}

// runner is one Run.
type runner struct {
	opt      Options
	res      *Result
	cache    *sandbox.Cache
	cacheDir string
	log      *slog.Logger
	reps     int
}

func (r *runner) progress(format string, args ...any) {
	if r.opt.Progress != nil {
		fmt.Fprintf(r.opt.Progress, format+"\n", args...)
	}
}

// window is a measurement window: base, or base/5 with Quick.
func (r *runner) window(base time.Duration) time.Duration {
	if r.opt.Quick {
		return base / 5
	}
	return base
}

// count is a number of samples: base, or base/5 with Quick.
func (r *runner) count(base int) int {
	if r.opt.Quick {
		return max(1, base/5)
	}
	return base
}

func (r *runner) want(group string) bool {
	return len(r.opt.Only) == 0 || slices.Contains(r.opt.Only, group)
}

// Run runs the suite and returns its figures.
func Run(ctx context.Context, opt Options) (*Result, error) {
	if err := CheckOnly(opt.Only); err != nil {
		return nil, err
	}
	if opt.Plugin != nil {
		if len(opt.Plugin) < 8 || string(opt.Plugin[:4]) != "\x00asm" {
			return nil, fmt.Errorf("%w: %s is not a WebAssembly module (no \\0asm magic)", ErrUsage, opt.PluginName)
		}
		if opt.PluginName == "" {
			opt.PluginName = "plugin"
		}
	}
	if opt.Reps <= 0 {
		opt.Reps = 5
		if opt.Quick {
			opt.Reps = 2
		}
	}
	began := time.Now()
	res := &Result{Version: ResultVersion, Time: began.UTC(), Machine: machine(), Reps: opt.Reps, Quick: opt.Quick,
		Plugin: opt.PluginName}
	dir := opt.CacheDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "stratbox-bench-cache-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	cache, err := sandbox.NewCache(dir)
	if err != nil {
		return nil, err
	}
	defer cache.Close(context.Background())
	opt.Child.CacheDir = dir
	r := &runner{opt: opt, res: res, cache: cache, cacheDir: dir, log: opt.Log, reps: opt.Reps}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if opt.Plugin != nil { // fail early on a plugin that does not load
		p, err := r.load(opt.PluginName, opt.Plugin, sandbox.PluginConfig{})
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrUsage, opt.PluginName, err)
		}
		p.Close(ctx)
	}
	steps := []struct {
		group string
		run   func(context.Context) error
	}{
		{"memory", r.memory}, {"dispatch", r.dispatch}, {"e2e", r.endToEnd}, {"heartbeat", r.heartbeat},
		{"tick", r.tickToOrder}, {"replay", r.replay}, {"hostile", r.hostile}, {"churn", r.churn},
	}
	for _, s := range steps {
		if !r.want(s.group) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.run(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", s.group, err)
		}
	}
	res.Seconds = time.Since(began).Seconds()
	res.Machine.Load1End = load1()
	return res, nil
}

// benchBudget is the call budget of the measured plugins: on (wazero's
// interruption checks and the per-call watchdog cost the same whatever its
// length), but long enough that a stall of a loaded machine does not fault
// a plugin in the middle of a measurement.
const benchBudget = 5 * time.Second

// load compiles a plugin with the run's cache (call budget benchBudget
// unless cfg sets one).
func (r *runner) load(name string, wasm []byte, cfg sandbox.PluginConfig, opts ...sandbox.Option) (*sandbox.Plugin, error) {
	if cfg.CallBudget == 0 {
		cfg.CallBudget = benchBudget
	}
	return sandbox.Load(context.Background(), name, wasm, cfg, append(opts, sandbox.WithCache(r.cache), sandbox.WithLogger(r.log))...)
}

// machine describes this machine.
func machine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version(), Load1: load1()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if kb, ok := procStatus("/proc/meminfo", "MemTotal"); ok {
		m.MemTotalB = kb * 1024
	}
	return m
}

// load1 is the 1-minute load average, -1 when unknown.
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// procStatus reads a "Key:   123 kB" line of a /proc file, in kB.
func procStatus(path, key string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != key {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			return 0, false
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		return n, err == nil
	}
	return 0, false
}
