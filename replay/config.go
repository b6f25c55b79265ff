package replay

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/host/sandbox"
)

// Fill is how the in-process exchange fills the plugins' orders.
type Fill string

const (
	// FillNone accepts orders and never fills a limit order (a market or
	// immediate order finds an empty book and is cancelled). The default.
	FillNone Fill = "none"
	// FillSim fills orders with the simulator's matching engine against the
	// recorded book and trades.
	FillSim Fill = "sim"
)

// Config is what a replay runs. The zero value of each field is its
// default; Validate checks it (Run does too).
type Config struct {
	// Plugins are the strategies, at least one.
	Plugins []Plugin
	// Fill is FillNone (default, also "") or FillSim.
	Fill Fill
	// Speed replays at this multiple of the recorded pace; 0 (default): as
	// fast as possible. Pacing sleeps on the wall clock between frames and
	// changes nothing in the output.
	Speed float64
	// PerFrame settles the engine after every frame, so that each reaches
	// the plugins in a call of its own. By default frames that share a
	// recorded time (many do in files with millisecond or microsecond
	// stamps) reach them in one call, up to 64 of them, as they would a
	// live plugin that was busy when they arrived: the inbox conflates
	// them as it does live. Either way the replay is deterministic.
	PerFrame bool
	// Risk is every plugin's default limits (Plugin.Risk overrides them);
	// zero: none.
	Risk host.RiskLimits
	// MaxRestarts, RestartWindow, RestartBackoff, KeepOrders and
	// MaxReestablish are the engine's (host.Config): restarts of a faulted
	// plugin (default 3; negative: never) within the window (on the
	// recording's clock; default 10 min), the wait before the first
	// (default 1s), whether a stopped plugin's orders stay on the book, how
	// often one order is re-placed (default 100).
	MaxRestarts    int
	RestartWindow  time.Duration
	RestartBackoff time.Duration
	KeepOrders     bool
	MaxReestablish int
}

// Plugin is one strategy of a replay.
type Plugin struct {
	// Name is the instance's name in the output, the report and the
	// statistics (required, unique in the Config).
	Name string
	// Wasm is the module; nil: read from Path.
	Wasm []byte
	// Path is the .wasm file, read when Wasm is nil.
	Path string
	// Instruments the plugin trades and receives; default BTC-PERPETUAL.
	Instruments []string
	// Channels are its market channel templates ({instrument} is
	// replaced); default host.DefaultChannels.
	Channels []string
	// Params reach the plugin in its start-up blob.
	Params []abi.Param
	// Risk overrides Config.Risk when not nil.
	Risk *host.RiskLimits
	// MemoryLimitPages caps its memory in 64 KiB pages (default 1024, at
	// most 65536).
	MemoryLimitPages uint32
	// Seed seeds its random source (default 1).
	Seed uint64
	// TimerMin is its shortest timer (default sandbox.DefaultTimerMin, at most
	// sandbox.MaxTimerMin).
	TimerMin time.Duration
}

// DefaultInstrument is what a Plugin without Instruments trades.
const DefaultInstrument = "BTC-PERPETUAL"

// Validate reports the first field of c that a replay cannot run with,
// named in the error (plugin[i] is the index in Plugins).
func (c Config) Validate() error {
	if c.Fill != "" && c.Fill != FillNone && c.Fill != FillSim {
		return fmt.Errorf("replay: fill %q: want %q or %q", c.Fill, FillNone, FillSim)
	}
	if c.Speed < 0 || math.IsNaN(c.Speed) || math.IsInf(c.Speed, 0) {
		return fmt.Errorf("replay: speed %v: want 0 (as fast as possible) or a positive multiple", c.Speed)
	}
	if c.RestartBackoff < 0 {
		return fmt.Errorf("replay: restart backoff %v is negative", c.RestartBackoff)
	}
	if c.RestartWindow < 0 {
		return fmt.Errorf("replay: restart window %v is negative", c.RestartWindow)
	}
	if c.MaxReestablish < 0 {
		return fmt.Errorf("replay: max reestablish %d is negative", c.MaxReestablish)
	}
	if err := c.Risk.Validate(); err != nil {
		return fmt.Errorf("replay: risk: %w", err)
	}
	if len(c.Plugins) == 0 {
		return errors.New("replay: no plugins")
	}
	names := map[string]bool{}
	for i, p := range c.Plugins {
		where := fmt.Sprintf("replay: plugin[%d]", i)
		switch {
		case p.Name == "":
			return fmt.Errorf("%s: name is required", where)
		case names[p.Name]:
			return fmt.Errorf("%s: two plugins are named %q", where, p.Name)
		case p.Wasm == nil && p.Path == "":
			return fmt.Errorf("%s %q: neither wasm nor path", where, p.Name)
		case p.MemoryLimitPages > 65536:
			return fmt.Errorf("%s %q: memory limit %d pages is above 65536 (4 GiB)", where, p.Name, p.MemoryLimitPages)
		case p.TimerMin < 0 || p.TimerMin > sandbox.MaxTimerMin:
			return fmt.Errorf("%s %q: timer min %v: want 0 (the default, %v) up to %v", where, p.Name, p.TimerMin, sandbox.DefaultTimerMin, sandbox.MaxTimerMin)
		}
		names[p.Name] = true
		if p.Risk != nil {
			if err := p.Risk.Validate(); err != nil {
				return fmt.Errorf("%s %q: risk: %w", where, p.Name, err)
			}
		}
		for j := range p.Params {
			if _, err := abi.AppendParam(nil, &p.Params[j]); err != nil {
				return fmt.Errorf("%s %q: params: %w", where, p.Name, err)
			}
		}
	}
	return nil
}

// instruments are the plugin's instruments, defaulted.
func (p Plugin) instruments() []string {
	if len(p.Instruments) == 0 {
		return []string{DefaultInstrument}
	}
	return p.Instruments
}

// Option configures Run with an injected dependency or a sink.
type Option func(*options)

type options struct {
	out      io.Writer
	report   bool
	cache    *sandbox.Cache
	log      *slog.Logger
	progress func(frames uint64)
	channels map[string]uint64
}

// WithOutput writes every intent and order event (order update, fill,
// position, intent rejected) the plugins saw as JSON Lines to w:
// {"t":<recorded ns>,"plugin":"<name>","intent"|"event":<abi JSON>}.
// Run flushes it before it returns; it does not close w.
func WithOutput(w io.Writer) Option { return func(o *options) { o.out = w } }

// WithReport gathers the series of the HTML report (prices, fills,
// positions, PnL) during the replay, for Result.WriteReport.
func WithReport() Option { return func(o *options) { o.report = true } }

// WithCache compiles the plugins through c (default: in memory, every Run).
func WithCache(c *sandbox.Cache) Option { return func(o *options) { o.cache = c } }

// WithLogger receives the engine's and the plugins' logs (default: none).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithProgress calls fn, on Run's goroutine, with the number of frames
// read so far, every 16,384 frames (a progress bar); fn must be quick.
func WithProgress(fn func(frames uint64)) Option { return func(o *options) { o.progress = fn } }

// WithChannels gives Run the channels the recording holds (Channels'
// counts): Run then refuses a recording that serves none of the plugins'
// subscriptions (ErrNothingToReplay) and derives the subscribed channels
// the recording does not hold from the ones it does (PlanChannels), as
// Deribit derives them. Without it every channel is served as recorded.
func WithChannels(counts map[string]uint64) Option {
	return func(o *options) { o.channels = counts }
}
