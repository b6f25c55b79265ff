package main

import (
	"os"
	"strings"
	"testing"
	"time"
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("test.toml", []byte(tc.toml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
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
