package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/host"
)

func TestExampleConfigParses(t *testing.T) {
	cfg, err := loadConfig("../../host.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sim.MinHeartbeat.Duration != 10*time.Second || cfg.Sim.Tick.Duration != 100*time.Millisecond ||
		cfg.Sim.RateLimits.MatchingBurst != 100 {
		t.Fatalf("example config %+v", cfg.Sim)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ name, toml, want string }{
		{"unknown key", "[sim]\nlisten = \"127.0.0.1:0\"\nlisen = 1\n", "sim.lisen"},
		{"unknown section", "[simulator]\nseed = 1\n", "simulator"},
		{"bad duration", "[sim]\ntick = \"fast\"\n", "tick"},
		{"negative duration", "[sim]\ntick = \"-1s\"\n", "negative"},
		{"wrong type", "[sim]\nseed = \"one\"\n", "seed"},
		{"key without secret", "[[sim.keys]]\nid = \"a\"\n", "sim.keys[0]"},
		{"silence without length", "[sim.faults]\nsilence_every = \"1s\"\n", "silence_for"},
		{"bad churn period", "[sim.faults]\ncut_random_every = \"often\"\n", "cut_random_every"},
		{"reconnect max below min", "[pool.reconnect]\nmin = \"2s\"\nmax = \"1s\"\n", "pool.reconnect"},
		{"reconnect jitter above 1", "[pool.reconnect]\njitter = 1.5\n", "pool.reconnect"},
		{"reconnect attempts negative", "[pool.reconnect]\nattempts_per_second = -2\n", "attempts_per_second"},
		{"negative max_reestablish", "[host]\nmax_reestablish = -1\n", "host.max_reestablish"},
		{"negative restart_window", "[host]\nrestart_window = \"-1m\"\n", "restart_window"},
		{"reconnect unknown key", "[pool.reconnect]\nreset_after = \"30s\"\n", "pool.reconnect.reset_after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("test.toml", []byte(tc.toml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}

// TestReconnectAndChurnSettings: [pool.reconnect] reaches the connections'
// Backoff; cut_random_every is read from the file and the flag wins.
func TestReconnectAndChurnSettings(t *testing.T) {
	cfg, err := parseConfig("t.toml", []byte("[pool.reconnect]\nmin = \"50ms\"\nmax = \"5s\"\njitter = 0.1\nattempts_per_second = 4\n"+
		"[sim.faults]\ncut_random_every = \"1s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Pool.Reconnect.backoff()
	if b.Min != 50*time.Millisecond || b.Max != 5*time.Second || b.Jitter != 0.1 || b.AttemptsPerSecond != 4 {
		t.Fatalf("backoff %+v", b)
	}
	if cfg.Sim.Faults.CutRandomEvery.Duration != time.Second {
		t.Fatalf("cut_random_every %v", cfg.Sim.Faults.CutRandomEvery)
	}
	dir := t.TempDir()
	path := dir + "/c.toml"
	if err := os.WriteFile(path, []byte("[sim.faults]\ncut_random_every = \"1s\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := simFlags{config: path}
	f.faults.CutRandomEvery.Duration = 250 * time.Millisecond
	sc, err := f.simConfig()
	if err != nil {
		t.Fatal(err)
	}
	if sc.Faults.CutRandomEvery.Duration != 250*time.Millisecond {
		t.Fatalf("flag did not win: %v", sc.Faults.CutRandomEvery)
	}
}

// A syntax error on a line that may hold a secret gives its line and column
// but not the parser's message, which can quote the value; elsewhere the
// message stays (it says what is wrong).
func TestConfigSyntaxErrorWithholdsSecrets(t *testing.T) {
	for _, tc := range []struct{ name, toml, want string }{
		{"bad escape", "[[sim.keys]]\nid = \"a\"\nsecret = \"s3cr3t\\qS3CR3T\"\n", "line 3"},
		{"bare value", "[[sim.keys]]\nid = \"a\"\nsecret = S3CR3T\n", "line 3"},
		{"datetime", "[sim]\nkeys = [{id = \"a\", secret = 1979-05-27TS3CR3T}]\n", "line 2"},
		{"token in a comment's line", "[sim]\nseed = 0x_S3CR3T # token\n", "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("test.toml", []byte(tc.toml))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "withheld") ||
				strings.Contains(strings.ToUpper(err.Error()), "S3CR3T") {
				t.Fatalf("error %v, want %q without the secret", err, tc.want)
			}
		})
	}
	_, err := parseConfig("test.toml", []byte("[sim]\nseed = 0x_12\n"))
	if err == nil || !strings.Contains(err.Error(), "hexadecimal") || strings.Contains(err.Error(), "withheld") {
		t.Fatalf("error %v, want the parser's message", err)
	}
}

// [host]'s restart settings reach the engine and the replay; unset, they
// are the engine's defaults.
func TestRestartSettings(t *testing.T) {
	cfg, err := parseConfig("t.toml", []byte("[host]\nmax_restarts = 5\nrestart_window = \"1h\"\nrestart_backoff = \"2s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	ec, err := cfg.engineConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if ec.MaxRestarts != 5 || ec.RestartWindow != time.Hour || ec.RestartBackoff != 2*time.Second {
		t.Fatalf("engine: %d restarts in %v, backoff %v", ec.MaxRestarts, ec.RestartWindow, ec.RestartBackoff)
	}
	rc, err := cfg.replayConfig("none", 0)
	if err != nil {
		t.Fatal(err)
	}
	if rc.MaxRestarts != 5 || rc.RestartWindow != time.Hour || rc.RestartBackoff != 2*time.Second {
		t.Fatalf("replay: %d restarts in %v, backoff %v", rc.MaxRestarts, rc.RestartWindow, rc.RestartBackoff)
	}
	cfg, _ = parseConfig("t.toml", nil)
	if ec, _ := cfg.engineConfig(nil); ec.MaxRestarts != host.DefaultMaxRestarts || ec.RestartWindow != host.DefaultRestartWindow {
		t.Fatalf("defaults: %d restarts in %v", ec.MaxRestarts, ec.RestartWindow)
	}
}

func TestConfigFileMissing(t *testing.T) {
	_, err := loadConfig("does-not-exist.toml")
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("error %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
