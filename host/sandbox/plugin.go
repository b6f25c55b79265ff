package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/clock"
)

// Defaults of PluginConfig.
const (
	DefaultMemoryLimitPages = 1024 // 64 MiB
	DefaultCallBudget       = 50 * time.Millisecond
	DefaultInitBudget       = 2 * time.Second
	DefaultCallBackstop     = time.Second
	DefaultLogRate          = 100 // lines per second
	DefaultLogBurst         = 200
	DefaultTimerMin         = 2 * time.Millisecond
	// MaxTimerMin bounds PluginConfig.TimerMin.
	MaxTimerMin = time.Minute
)

// PluginConfig limits one plugin.
type PluginConfig struct {
	// MemoryLimitPages caps the plugin's linear memory, in 64 KiB pages.
	// Default 1024 (64 MiB).
	MemoryLimitPages uint32
	// CallBudget is the CPU time one call may use before the instance is
	// stopped and the call faults: a plugin that was only descheduled is
	// not over it. Default 50ms. Negative: no budget and no backstop
	// (trusted plugins and backtests only: a plugin that never returns then
	// stalls the whole process at its next garbage collection).
	CallBudget time.Duration
	// CallBackstop is the wall-clock time one call may take whatever CPU it
	// used: the last resort against a plugin the CPU clock cannot see (one
	// blocked in the kernel, a child stopped by a signal). Default
	// DefaultCallBackstop (1s), and never less than CallBudget.
	CallBackstop time.Duration
	// InitBudget is the budget of the calls that start an instance
	// (_initialize, the buffers export, stratbox_init): a Go guest's runtime
	// starts in them, which takes tens of milliseconds, more on a loaded
	// machine. Default DefaultInitBudget, and never less than CallBudget
	// (none when CallBudget is negative).
	InitBudget time.Duration
	// LogRate and LogBurst limit the plugin's log lines (log import, stdout,
	// stderr) per second. Defaults 100 and 200.
	LogRate, LogBurst int
	// Seed seeds the deterministic random source the plugin reads through
	// WASI random_get. Default 1.
	Seed uint64
	// TimerMin is the plugin's minimum timer interval: set_timer raises a
	// shorter after_ns to it, and the host wakes the plugin for its timers at
	// most once per TimerMin after its last call, whatever it arms (timers
	// due meanwhile arrive together). Default 2ms; at most MaxTimerMin.
	TimerMin time.Duration
}

func (c PluginConfig) withDefaults() PluginConfig {
	if c.MemoryLimitPages == 0 {
		c.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if c.CallBudget == 0 {
		c.CallBudget = DefaultCallBudget
	}
	if c.InitBudget == 0 {
		c.InitBudget = DefaultInitBudget
	}
	if c.CallBackstop == 0 {
		c.CallBackstop = DefaultCallBackstop
	}
	if c.CallBudget < 0 {
		c.InitBudget = c.CallBudget
		c.CallBackstop = c.CallBudget
	} else {
		c.InitBudget = max(c.InitBudget, c.CallBudget)
		c.CallBackstop = max(c.CallBackstop, c.CallBudget)
	}
	if c.LogRate == 0 {
		c.LogRate = DefaultLogRate
	}
	if c.LogBurst == 0 {
		c.LogBurst = DefaultLogBurst
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.TimerMin == 0 {
		c.TimerMin = DefaultTimerMin
	}
	return c
}

// Validate reports the first invalid field of c.
func (c PluginConfig) Validate() error {
	if c.MemoryLimitPages > 65536 {
		return fmt.Errorf("%w: memory_limit_pages %d is above 65536 (4 GiB)", ErrConfig, c.MemoryLimitPages)
	}
	if c.LogRate < 0 || c.LogBurst < 0 {
		return fmt.Errorf("%w: log rate and burst must not be negative", ErrConfig)
	}
	if c.TimerMin < 0 || c.TimerMin > MaxTimerMin {
		return fmt.Errorf("%w: timer_min %s: want 0 (the default, %s) up to %s", ErrConfig, c.TimerMin, DefaultTimerMin, MaxTimerMin)
	}
	return nil
}

// Errors.
var (
	ErrConfig = errors.New("sandbox: invalid config")
	// ErrLoad wraps every reason a module is refused at load.
	ErrLoad = errors.New("sandbox: plugin refused")
	// ErrDead is returned by every call on an instance after a fault or Close.
	ErrDead = errors.New("sandbox: plugin instance is dead")
	// ErrInboxFull: a batch larger than the plugin's inbox.
	ErrInboxFull = errors.New("sandbox: batch larger than the plugin's inbox")
)

// Cache is a compilation cache shared by the plugins of a process, in memory
// or on disk; compiled code survives across processes in a disk cache.
type Cache struct{ c wazero.CompilationCache }

// NewCache returns a compilation cache in dir, which it creates if needed
// (mode 0755, so that plugin children running as another user can reach
// their own subdirectory: ProcessConfig.CacheDir); dir "" keeps it in
// memory only.
func NewCache(dir string) (*Cache, error) {
	if dir == "" {
		return &Cache{wazero.NewCompilationCache()}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: compilation cache: %w", err)
	}
	c, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sandbox: compilation cache %s: %w", dir, err)
	}
	return &Cache{c}, nil
}

// DefaultCacheDir is the compilation cache directory of a host that names
// none: stratbox/wazero in the user's cache directory, or stratbox-wazero
// in the temporary directory when there is none.
func DefaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "stratbox", "wazero")
	}
	return filepath.Join(os.TempDir(), "stratbox-wazero")
}

// Close releases the cache.
func (c *Cache) Close(ctx context.Context) error { return c.c.Close(ctx) }

// Plugin is a compiled, checked plugin module.
type Plugin struct {
	name     string
	cfg      PluginConfig
	clk      clock.Clock
	log      *slog.Logger
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	version  abi.Version
	size     int
	wasm     []byte // the module, for child processes (IsolateProcess)
	compile  time.Duration

	mu      sync.Mutex                // serialises Start
	current atomic.Pointer[instState] // the live instance's state, read by host functions
	starts  uint64
}

// Option configures Load.
type Option func(*loadOptions)

type loadOptions struct {
	clk     clock.Clock
	log     *slog.Logger
	cache   *Cache
	process bool
}

// WithClock sets the clock plugins read (now, WASI clocks) and time budgets
// use for reporting. Default: the wall clock.
func WithClock(c clock.Clock) Option { return func(o *loadOptions) { o.clk = c } }

// WithLogger sets where plugin log lines go. Default: discarded.
func WithLogger(l *slog.Logger) Option { return func(o *loadOptions) { o.log = l } }

// WithCache shares a compilation cache. Default: a private in-memory cache.
func WithCache(c *Cache) Option { return func(o *loadOptions) { o.cache = c } }

// WithChildProcess compiles the module for child processes (NewProcess): without
// wazero's interruption checks, which a child does not need (the parent
// enforces the call budget by killing it) and which make guest loops
// 13–30× slower. The child compiles the same way, so with a shared disk
// cache it finds the parent's compiled code instead of compiling again.
// Such a Plugin must not run in this process (NewInProcess) with a call
// budget: nothing could interrupt it.
func WithChildProcess() Option { return func(o *loadOptions) { o.process = true } }

// Load compiles wasm and checks it against the ABI before any of its code
// runs: the version marker, the exports' signatures, and that every import is
// one the host provides. name identifies the plugin in errors and logs.
func Load(ctx context.Context, name string, wasm []byte, cfg PluginConfig, opts ...Option) (*Plugin, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	o := loadOptions{clk: clock.Real{}, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithMemoryLimitPages(cfg.MemoryLimitPages).
		WithCloseOnContextDone(cfg.CallBudget > 0 && !o.process)
	if o.cache != nil {
		rc = rc.WithCompilationCache(o.cache.c)
	}
	p := &Plugin{name: name, cfg: cfg, clk: o.clk, log: o.log.With("plugin", name), size: len(wasm), wasm: wasm}
	p.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	began := time.Now()
	compiled, err := p.rt.CompileModule(ctx, wasm)
	if err != nil {
		_ = p.rt.Close(ctx)
		return nil, fmt.Errorf("%w: %s: not a valid wasm module: %w", ErrLoad, name, err)
	}
	p.compile = time.Since(began)
	p.compiled = compiled
	if err := p.check(); err != nil {
		_ = p.rt.Close(ctx)
		return nil, err
	}
	if err := p.instantiateHostModules(ctx); err != nil {
		_ = p.rt.Close(ctx)
		return nil, err
	}
	if err := p.checkWASI(); err != nil {
		_ = p.rt.Close(ctx)
		return nil, err
	}
	return p, nil
}

// checkWASI refuses a WASI import that the host's WASI module does not
// export, or exports with another signature: instantiation would fail at
// every start (and `host inspect`, which starts the plugin, says so), so
// Load, which `host run` and `host inspect` both call, says it first.
func (p *Plugin) checkWASI() error {
	wasi := p.rt.Module(wasiModule)
	if wasi == nil {
		return fmt.Errorf("sandbox: %s module not instantiated", wasiModule)
	}
	have := wasi.ExportedFunctionDefinitions()
	for _, d := range p.compiled.ImportedFunctions() {
		mod, fn, _ := d.Import()
		if mod != wasiModule {
			continue
		}
		h, ok := have[fn]
		if !ok {
			return fmt.Errorf("%w: %s imports %s.%s, which the host's WASI (preview 1) does not provide", ErrLoad, p.name, mod, fn)
		}
		if want, got := sigOf(h), sigOf(d); !want.Equal(got) {
			return fmt.Errorf("%w: %s imports %s.%s as %v, the host provides %v", ErrLoad, p.name, mod, fn, got, want)
		}
	}
	return nil
}

func (p *Plugin) check() error {
	defs := p.compiled.ExportedFunctions()
	names := make([]string, 0, len(defs))
	sigs := make(map[string]abi.Sig, len(defs))
	for name, d := range defs {
		names = append(names, name)
		sigs[name] = sigOf(d)
	}
	v, err := abi.PluginVersion(p.name, names, abi.Current)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrLoad, err)
	}
	p.version = v
	if err := abi.CheckExports(p.name, sigs); err != nil {
		return fmt.Errorf("%w: %w", ErrLoad, err)
	}
	if _, ok := p.compiled.ExportedMemories()["memory"]; !ok {
		return fmt.Errorf("%w: %s exports no memory named \"memory\"", ErrLoad, p.name)
	}
	for _, d := range p.compiled.ImportedFunctions() {
		mod, fn, _ := d.Import()
		switch mod {
		case abi.ImportModule:
			if err := abi.CheckImport(p.name, fn, sigOf(d)); err != nil {
				return fmt.Errorf("%w: %w", ErrLoad, err)
			}
		case wasiModule:
			// Any WASI function: the sandbox (no files, sockets,
			// environment or arguments) is in the module configuration.
		case EnvModule:
			if err := checkEnvImport(p.name, fn, sigOf(d)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: %s imports %s.%s: the host provides only the modules %q and %q (and %s.%s)",
				ErrLoad, p.name, mod, fn, abi.ImportModule, wasiModule, EnvModule, ImportAbort)
		}
	}
	return nil
}

// sigOf converts wazero's signature to the ABI's; both number value types
// as the wasm binary format does.
func sigOf(d api.FunctionDefinition) abi.Sig {
	conv := func(ts []api.ValueType) []abi.ValType {
		if len(ts) == 0 {
			return nil
		}
		out := make([]abi.ValType, len(ts))
		for i, t := range ts {
			out[i] = abi.ValType(t)
		}
		return out
	}
	return abi.Sig{Params: conv(d.ParamTypes()), Results: conv(d.ResultTypes())}
}

// Name is the plugin's name.
func (p *Plugin) Name() string { return p.name }

// Version is the ABI version the plugin was built for.
func (p *Plugin) Version() abi.Version { return p.version }

// CompileTime is how long compilation took (short when it came from a cache).
func (p *Plugin) CompileTime() time.Duration { return p.compile }

// Config is the plugin's limits with the defaults applied.
func (p *Plugin) Config() PluginConfig { return p.cfg }

// Size is the module's size in bytes.
func (p *Plugin) Size() int { return p.size }

// Exports lists the module's exported function names and signatures.
func (p *Plugin) Exports() map[string]string {
	out := map[string]string{}
	for name, d := range p.compiled.ExportedFunctions() {
		out[name] = sigOf(d).String()
	}
	return out
}

// Imports lists the module's imports as "module.name" → signature.
func (p *Plugin) Imports() map[string]string {
	out := map[string]string{}
	for _, d := range p.compiled.ImportedFunctions() {
		mod, fn, _ := d.Import()
		out[mod+"."+fn] = sigOf(d).String()
	}
	return out
}

// Close releases the plugin's runtime and every instance of it.
func (p *Plugin) Close(ctx context.Context) error { return p.rt.Close(ctx) }
