package host

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/host/sandbox"
)

// TestConfigValidate: each invalid field is an ErrConfig whose text names
// the field; DefaultConfig with a plugin is valid, and New refuses what
// Validate refuses.
func TestConfigValidate(t *testing.T) {
	spec := func() PluginSpec {
		return PluginSpec{Name: "p", Instruments: []string{"BTC-PERPETUAL"},
			NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return nil }}
	}
	valid := func() Config {
		c := DefaultConfig()
		c.Plugins = []PluginSpec{spec()}
		return c
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("DefaultConfig with a plugin: %v", err)
	}
	if c := DefaultConfig(); c.MaxRestarts != DefaultMaxRestarts || c.RestartBackoff != DefaultRestartBackoff ||
		c.RequestTimeout != DefaultRequestTimeout || c.StopTimeout != DefaultStopTimeout || c.MaxReestablish != DefaultMaxReestablish ||
		c.Risk.IntentsPerSecond != DefaultIntentsPerSecond {
		t.Fatalf("DefaultConfig lacks a default: %+v", c)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no plugins", func(c *Config) { c.Plugins = nil }, "Plugins"},
		{"negative restarts", func(c *Config) { c.MaxRestarts = -1 }, "MaxRestarts"},
		{"negative backoff", func(c *Config) { c.RestartBackoff = -1 }, "RestartBackoff"},
		{"negative reestablish", func(c *Config) { c.MaxReestablish = -1 }, "MaxReestablish"},
		{"negative request timeout", func(c *Config) { c.RequestTimeout = -1 }, "RequestTimeout"},
		{"negative stop timeout", func(c *Config) { c.StopTimeout = -1 }, "StopTimeout"},
		{"bad host id", func(c *Config) { c.HostID = "-Nope" }, "HostID"},
		{"bad run id", func(c *Config) { c.RunID = "run-1" }, "RunID"},
		{"bad risk", func(c *Config) { c.Risk.MaxOpenOrders = -1 }, "max_open_orders"},
		{"unnamed plugin", func(c *Config) { c.Plugins[0].Name = "" }, "Plugins[0]: host: invalid config: Name"},
		{"long name", func(c *Config) { c.Plugins[0].Name = strings.Repeat("x", 32) }, "Name"},
		{"two names", func(c *Config) { c.Plugins = append(c.Plugins, spec()) }, "Plugins[1].Name"},
		{"no module", func(c *Config) { c.Plugins[0].NewSandbox = nil }, "Plugin: none"},
		{"no instruments", func(c *Config) { c.Plugins[0].Instruments = nil }, "Instruments"},
		{"NaN weight", func(c *Config) { c.Plugins[0].RateWeight = math.NaN() }, "RateWeight"},
		{"negative inbox", func(c *Config) { c.Plugins[0].InboxLimit = -1 }, "InboxLimit"},
		{"plugin risk", func(c *Config) { c.Plugins[0].Risk = &RiskLimits{IntentBurst: -1} }, "Risk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.edit(&c)
			err := c.Validate()
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate: %v; want ErrConfig naming %s", err, tc.field)
			}
			if _, nerr := New(c); nerr == nil || nerr.Error() != err.Error() {
				t.Fatalf("New: %v; want Validate's %v", nerr, err)
			}
		})
	}
}
