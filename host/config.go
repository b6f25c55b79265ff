package host

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/venue/deribit"
)

// ErrConfig is wrapped by every error of Config.Validate and New.
var ErrConfig = errors.New("host: invalid config")

// Defaults of Config.
const (
	DefaultMaxRestarts    = 3
	DefaultRestartBackoff = time.Second
	DefaultRestartWindow  = 10 * time.Minute
	DefaultRequestTimeout = 5 * time.Second
	DefaultStopTimeout    = 5 * time.Second
	DefaultMaxReestablish = 100
)

// Config configures an Engine.
type Config struct {
	Plugins []PluginSpec
	// Risk is every plugin's default limits (a spec may override them).
	Risk RiskLimits
	// MaxRestarts is how many times within RestartWindow a faulted plugin
	// is restarted before the circuit breaker leaves it stopped: 0 never
	// restarts it (DefaultConfig: DefaultMaxRestarts, 3). Restarts older
	// than the window no longer count (0: DefaultRestartWindow, 10 min), so
	// a plugin that faults now and then over a long run is not stopped for
	// good by its third fault of the week. RestartBackoff is the wait before
	// a restart (0: 1s), doubled for each restart still within the window
	// (at most 5 min).
	MaxRestarts    int
	RestartWindow  time.Duration
	RestartBackoff time.Duration
	// KeepOrders leaves a stopped or faulted plugin's orders on the book;
	// by default they are cancelled. The instance that restarts after a
	// fault adopts them (abi/README.md §10).
	KeepOrders bool
	// NoReestablish only tells the plugin when cancel-on-disconnect
	// cancelled one of its orders; by default the engine re-places the
	// unfilled rest on a healthy connection under the same cid, after
	// every loss of its connection.
	NoReestablish bool
	// MaxReestablish bounds how many times one order is re-placed after
	// losing its connection (default 100); an order cancelled by
	// cancel-on-disconnect once more ends cancelled, and the plugin is told.
	MaxReestablish int
	// RequestTimeout bounds each order request (default 5s).
	RequestTimeout time.Duration
	// HostID is this host's id in its orders' labels
	// (deribit.Owner.Host: 1..16 of a-z, 0-9, '-'). Every host trading on
	// the account needs its own, and no two live engines may share one:
	// the start-up reconciliation cancels every open order with this
	// host's id as an earlier run's. Default: a random id (whose earlier
	// runs, by definition, had other ids: nothing is cancelled at start).
	// cmd/host persists it and holds a lock on it (internal/hostid).
	HostID string
	// RunID tells this run's orders from the same host's earlier runs'
	// (1..8 of a-z, 0-9); default: a random one.
	RunID string
	// StopTimeout bounds the wind-down after the run's context ends:
	// stratbox_on_stop calls and the cancels of open orders (default 5s).
	StopTimeout time.Duration
}

// PluginSpec is one plugin instance in the engine.
type PluginSpec struct {
	// Name is the instance's name (the start record's name, logs, stats).
	Name   string
	Plugin *sandbox.Plugin
	// NewSandbox makes each instance's sandbox; default: NewInProcess.
	NewSandbox func(*sandbox.Plugin) sandbox.Sandbox
	// Instruments the plugin trades and receives, by exchange name; they
	// become its instrument table in this order.
	Instruments []string
	// Channels are templates of the market channels it receives for each
	// instrument ({instrument} is replaced); default DefaultChannels.
	Channels []string
	// Params reach the plugin in its start-up blob.
	Params []abi.Param
	// Risk overrides Config.Risk when not nil.
	Risk *RiskLimits
	// RateWeight is the plugin's weight in the division of the account's
	// matching-request rate among the plugins (pool.Pool.SetShares: its
	// places and amends are charged to its share, and refused beyond it
	// when the others' unused capacity cannot be borrowed). Default 1.
	RateWeight float64
	// InboxLimit bounds the market data waiting for the plugin, in bytes
	// (default 1 MiB); order events are never dropped.
	InboxLimit int
}

// maxPluginName is the longest plugin name (the start record's name field).
const maxPluginName = 31

// DefaultConfig returns a Config with every default set; add the plugins.
func DefaultConfig() Config {
	return Config{
		Risk:           RiskLimits{}.withDefaults(),
		MaxRestarts:    DefaultMaxRestarts,
		RestartWindow:  DefaultRestartWindow,
		RestartBackoff: DefaultRestartBackoff,
		MaxReestablish: DefaultMaxReestablish,
		RequestTimeout: DefaultRequestTimeout,
		StopTimeout:    DefaultStopTimeout,
	}
}

// Validate reports the first invalid field of c, by its name, wrapping
// ErrConfig. It changes nothing: New applies the defaults of zero fields.
func (c Config) Validate() error {
	if len(c.Plugins) == 0 {
		return fmt.Errorf("%w: Plugins: none", ErrConfig)
	}
	if err := c.Risk.Validate(); err != nil {
		return fmt.Errorf("Risk: %w", err)
	}
	names := map[string]bool{}
	for i, s := range c.Plugins {
		if err := s.validate(); err != nil {
			return fmt.Errorf("Plugins[%d]: %w", i, err)
		}
		if names[s.Name] {
			return fmt.Errorf("%w: Plugins[%d].Name: two plugins are named %q", ErrConfig, i, s.Name)
		}
		names[s.Name] = true
	}
	for _, f := range []struct {
		name string
		bad  bool
	}{
		{"MaxRestarts", c.MaxRestarts < 0},
		{"RestartWindow", c.RestartWindow < 0},
		{"RestartBackoff", c.RestartBackoff < 0},
		{"MaxReestablish", c.MaxReestablish < 0},
		{"RequestTimeout", c.RequestTimeout < 0},
		{"StopTimeout", c.StopTimeout < 0},
	} {
		if f.bad {
			return fmt.Errorf("%w: %s is negative", ErrConfig, f.name)
		}
	}
	if c.HostID != "" && !deribit.ValidHostID(c.HostID) {
		return fmt.Errorf("%w: HostID %q: want 1 to %d of a-z, 0-9 and '-', not starting with '-'", ErrConfig, c.HostID, deribit.MaxHostIDLen)
	}
	if c.RunID != "" {
		if err := (deribit.Owner{Host: "x", Run: c.RunID}).Validate(); err != nil {
			return fmt.Errorf("%w: RunID %q: want 1 to %d of a-z and 0-9", ErrConfig, c.RunID, deribit.MaxRunIDLen)
		}
	}
	return nil
}

// validate checks one plugin's spec (not its name's uniqueness).
func (s PluginSpec) validate() error {
	switch {
	case s.Name == "":
		return fmt.Errorf("%w: Name: empty", ErrConfig)
	case len(s.Name) > maxPluginName:
		return fmt.Errorf("%w: Name %q is longer than %d bytes", ErrConfig, s.Name, maxPluginName)
	case s.Plugin == nil && s.NewSandbox == nil:
		return fmt.Errorf("%w: plugin %q: Plugin: none (and no NewSandbox)", ErrConfig, s.Name)
	case len(s.Instruments) == 0:
		return fmt.Errorf("%w: plugin %q: Instruments: none", ErrConfig, s.Name)
	case s.RateWeight < 0 || math.IsNaN(s.RateWeight) || math.IsInf(s.RateWeight, 0):
		return fmt.Errorf("%w: plugin %q: RateWeight %g: want a finite weight ≥ 0 (0: 1)", ErrConfig, s.Name, s.RateWeight)
	case s.InboxLimit < 0:
		return fmt.Errorf("%w: plugin %q: InboxLimit is negative", ErrConfig, s.Name)
	}
	if s.Risk != nil {
		if err := s.Risk.Validate(); err != nil {
			return fmt.Errorf("plugin %q: Risk: %w", s.Name, err)
		}
	}
	return nil
}
