package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// duration is a time.Duration written as "30s" in TOML.
type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("negative duration %q", b)
	}
	d.Duration = v
	return nil
}

func (d duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// fileConfig is host.toml. Unknown keys are errors that name the key.
type fileConfig struct {
	Sim      simConfig      `toml:"sim"`
	Exchange exchangeConfig `toml:"exchange"`
	Host     hostConfig     `toml:"host"`
	Pool     poolConfig     `toml:"pool"`
	Risk     riskConfig     `toml:"risk"`
	Plugins  []pluginConfig `toml:"plugin"`
	Cluster  clusterConfig  `toml:"cluster"`

	Telemetry telemetryConfig `toml:"telemetry"`
	Control   controlConfig   `toml:"control"`
}

// simConfig is the [sim] section: the simulator `host sim` runs, and the one
// `host run` starts when no exchange is configured.
type simConfig struct {
	// Listen is the TCP address. Default "127.0.0.1:0" (a free port).
	Listen string `toml:"listen"`
	// Seed seeds the synthetic market. Default 1.
	Seed int64 `toml:"seed"`
	// Keys are the accepted API keys. Default: the documented test key pair.
	Keys []simKey `toml:"keys"`
	// MinHeartbeat is the smallest interval public/set_heartbeat accepts.
	// Default "10s" (Deribit's minimum); lower only for tests.
	MinHeartbeat duration `toml:"min_heartbeat"`
	// HeartbeatGrace is how long a test_request may go unanswered. Default:
	// one heartbeat interval.
	HeartbeatGrace duration `toml:"heartbeat_grace"`
	// AlwaysTestRequest sends a test_request every heartbeat interval, not
	// only to clients that were quiet. Default false.
	AlwaysTestRequest bool `toml:"always_test_request"`
	// Tick is the market's step and the 100ms channels' period. Default "100ms".
	Tick duration `toml:"tick"`
	// NoMarket turns the synthetic market off. Default false.
	NoMarket bool `toml:"no_market"`
	// TokenTTL is the access tokens' lifetime. Default "15m".
	TokenTTL duration `toml:"token_ttl"`
	// RateLimits is Deribit's credit model; defaults are Deribit's (tier 1).
	RateLimits simRateLimits `toml:"rate_limits"`
	// Faults schedules fault injection; all off by default.
	Faults simFaults `toml:"faults"`
}

type simKey struct {
	ID      string `toml:"id"`
	Secret  string `toml:"secret"`
	Account string `toml:"account"`
}

type simRateLimits struct {
	Disabled          bool    `toml:"disabled"`
	NonMatchingCost   int     `toml:"non_matching_cost"`
	NonMatchingMax    int     `toml:"non_matching_max"`
	NonMatchingRefill int     `toml:"non_matching_refill"`
	MatchingRate      float64 `toml:"matching_rate"`
	MatchingBurst     float64 `toml:"matching_burst"`
}

// simFaults are periodic faults; a zero period disables each.
type simFaults struct {
	DropEvery      duration `toml:"drop_every"`       // drop every connection this often
	CutRandomEvery duration `toml:"cut_random_every"` // cut one random connection this often (churn)
	SilenceEvery   duration `toml:"silence_every"`    // go silent this often …
	SilenceFor     duration `toml:"silence_for"`      // … for this long
	Delay          duration `toml:"delay"`            // delay every outbound frame
	MalformedEvery duration `toml:"malformed_every"`  // send a malformed frame this often
	OversizedEvery duration `toml:"oversized_every"`  // send a 2 MiB frame this often
	MaintenanceAt  duration `toml:"maintenance_at"`   // start a maintenance window after this long …
	MaintenanceFor duration `toml:"maintenance_for"`  // … lasting this long
}

// loadConfig reads a TOML file strictly.
func loadConfig(path string) (fileConfig, error) {
	var cfg fileConfig
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return parseConfig(path, data)
}

func parseConfig(name string, data []byte) (fileConfig, error) {
	var cfg fileConfig
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&cfg)
	if err != nil {
		return cfg, fmt.Errorf("config %s: %w", name, withholdSecret(err, data))
	}
	var keys []string
	for _, k := range md.Undecoded() {
		if len(k) > 2 && k[0] == "plugin" && k[1] == "params" {
			continue // nested tables of a plugin's free parameters
		}
		keys = append(keys, k.String())
	}
	if len(keys) > 0 {
		return cfg, fmt.Errorf("config %s: unknown key(s): %s", name, strings.Join(keys, ", "))
	}
	return cfg, cfg.validate()
}

// withholdSecret returns a TOML syntax error without the parser's message
// when the offending line may hold a secret ([sim] keys' secret, a
// password, a token): the message can quote the value ("invalid datetime:
// \"…\"", "expected value but found …"), and a config error reaches the
// terminal, the log and, for `host ctl reload`, the control client. The line
// and column are kept, so the file can still be mended.
func withholdSecret(err error, data []byte) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	line := ""
	if l := bytes.Split(data, []byte("\n")); pe.Position.Line >= 1 && pe.Position.Line <= len(l) {
		line = string(l[pe.Position.Line-1])
	}
	secretish := func(s string) bool {
		s = strings.ToLower(s)
		for _, w := range []string{"secret", "password", "token", "nkey", "credential"} {
			if strings.Contains(s, w) {
				return true
			}
		}
		return false
	}
	if !secretish(pe.LastKey) && !secretish(line) {
		return err
	}
	return fmt.Errorf("toml: line %d, column %d: not valid TOML (the parser's message is withheld: the line may hold a secret)",
		pe.Position.Line, pe.Position.Col)
}

func (c fileConfig) validate() error {
	if _, err := c.Cluster.config(); err != nil {
		return err
	}
	if err := c.Control.validate(); err != nil {
		return err
	}
	for i, k := range c.Sim.Keys {
		if k.ID == "" || k.Secret == "" {
			return fmt.Errorf("config: sim.keys[%d]: id and secret are both required", i)
		}
	}
	if c.Sim.Faults.SilenceEvery.Duration > 0 && c.Sim.Faults.SilenceFor.Duration == 0 {
		return fmt.Errorf("config: sim.faults.silence_for is required with silence_every")
	}
	if c.Sim.Faults.MaintenanceAt.Duration > 0 && c.Sim.Faults.MaintenanceFor.Duration == 0 {
		return fmt.Errorf("config: sim.faults.maintenance_for is required with maintenance_at")
	}
	return c.validateRun()
}
