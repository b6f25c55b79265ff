package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/sim"
)

// keyFlags collects repeated --key ID:SECRET flags.
type keyFlags []simKey

func (k *keyFlags) String() string { return fmt.Sprintf("%d key(s)", len(*k)) }

func (k *keyFlags) Set(v string) error {
	id, secret, ok := strings.Cut(v, ":")
	if !ok || id == "" || secret == "" {
		return fmt.Errorf("want ID:SECRET")
	}
	*k = append(*k, simKey{ID: id, Secret: secret})
	return nil
}

type simFlags struct {
	config   string
	listen   string
	keys     keyFlags
	seed     int64
	duration time.Duration
	minHB    time.Duration
	tick     time.Duration
	noMarket bool
	alwaysTR bool
	faults   simFaults
}

func (f *simFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "TOML config file (its [sim] section)")
	fs.StringVar(&f.listen, "listen", "", `listen address (default "127.0.0.1:0")`)
	fs.Var(&f.keys, "key", "accepted API key as ID:SECRET (repeatable; default: the test key pair)")
	fs.Int64Var(&f.seed, "seed", 0, "synthetic market seed (default 1)")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long (default: run until interrupted)")
	fs.DurationVar(&f.minHB, "min-heartbeat", 0, "smallest accepted heartbeat interval (default 10s, Deribit's; lower for tests)")
	fs.DurationVar(&f.tick, "tick", 0, "market step and 100ms-channel period (default 100ms)")
	fs.BoolVar(&f.noMarket, "no-market", false, "no synthetic market: the books hold only clients' orders")
	fs.BoolVar(&f.alwaysTR, "always-test-request", false, "send a test_request every heartbeat interval, not only to quiet clients")
	fs.DurationVar(&f.faults.DropEvery.Duration, "drop-every", 0, "fault: drop every connection this often")
	fs.DurationVar(&f.faults.CutRandomEvery.Duration, "cut-random-every", 0, "fault: cut one connection, picked at random, this often")
	fs.DurationVar(&f.faults.SilenceEvery.Duration, "silence-every", 0, "fault: stop sending and answering this often …")
	fs.DurationVar(&f.faults.SilenceFor.Duration, "silence-for", 0, "… for this long")
	fs.DurationVar(&f.faults.Delay.Duration, "delay", 0, "fault: delay every outbound frame")
	fs.DurationVar(&f.faults.MalformedEvery.Duration, "malformed-every", 0, "fault: send a malformed frame this often")
	fs.DurationVar(&f.faults.OversizedEvery.Duration, "oversized-every", 0, "fault: send a 2 MiB frame this often")
	fs.DurationVar(&f.faults.MaintenanceAt.Duration, "maintenance-at", 0, "fault: start a maintenance window after this long …")
	fs.DurationVar(&f.faults.MaintenanceFor.Duration, "maintenance-for", 0, "… lasting this long")
}

// simConfig merges the config file and the flags (flags win).
func (f *simFlags) simConfig() (simConfig, error) {
	var c simConfig
	if f.config != "" {
		fc, err := loadConfig(f.config)
		if err != nil {
			return c, err
		}
		c = fc.Sim
	}
	if f.listen != "" {
		c.Listen = f.listen
	}
	if len(f.keys) > 0 {
		c.Keys = f.keys
	}
	if f.seed != 0 {
		c.Seed = f.seed
	}
	if f.minHB != 0 {
		c.MinHeartbeat.Duration = f.minHB
	}
	if f.tick != 0 {
		c.Tick.Duration = f.tick
	}
	if f.noMarket {
		c.NoMarket = true
	}
	if f.alwaysTR {
		c.AlwaysTestRequest = true
	}
	ff := f.faults
	for _, p := range []struct{ dst, src *duration }{
		{&c.Faults.DropEvery, &ff.DropEvery}, {&c.Faults.CutRandomEvery, &ff.CutRandomEvery},
		{&c.Faults.SilenceEvery, &ff.SilenceEvery},
		{&c.Faults.SilenceFor, &ff.SilenceFor}, {&c.Faults.Delay, &ff.Delay},
		{&c.Faults.MalformedEvery, &ff.MalformedEvery}, {&c.Faults.OversizedEvery, &ff.OversizedEvery},
		{&c.Faults.MaintenanceAt, &ff.MaintenanceAt}, {&c.Faults.MaintenanceFor, &ff.MaintenanceFor},
	} {
		if p.src.Duration != 0 {
			*p.dst = *p.src
		}
	}
	return c, fileConfig{Sim: c}.validate()
}

func (c simConfig) serverConfig() sim.Config {
	cfg := sim.Config{
		Listen:            c.Listen,
		Seed:              c.Seed,
		MinHeartbeat:      c.MinHeartbeat.Duration,
		HeartbeatGrace:    c.HeartbeatGrace.Duration,
		Tick:              c.Tick.Duration,
		NoMarket:          c.NoMarket,
		AlwaysTestRequest: c.AlwaysTestRequest,
		TokenTTL:          c.TokenTTL.Duration,
		RateLimits: sim.RateLimits{
			Disabled:          c.RateLimits.Disabled,
			NonMatchingCost:   c.RateLimits.NonMatchingCost,
			NonMatchingMax:    c.RateLimits.NonMatchingMax,
			NonMatchingRefill: c.RateLimits.NonMatchingRefill,
			MatchingRate:      c.RateLimits.MatchingRate,
			MatchingBurst:     c.RateLimits.MatchingBurst,
		},
	}
	for _, k := range c.Keys {
		cfg.Keys = append(cfg.Keys, sim.APIKey{ID: k.ID, Secret: k.Secret, Account: k.Account})
	}
	return cfg
}

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("host sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f simFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: host sim takes no arguments, got %q", errUsage, fs.Args())
	}
	c, err := f.simConfig()
	if err != nil {
		return err
	}
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	srv, err := sim.Start(ctx, c.serverConfig())
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "stratbox simulator listening on %s\n", srv.URL())
	if len(c.Keys) == 0 {
		fmt.Fprintf(stdout, "test key: client_id=%s client_secret=%s\n", sim.TestKeyID, sim.TestKeySecret)
	} else {
		ids := make([]string, len(c.Keys))
		for i, k := range c.Keys {
			ids[i] = k.ID
		}
		fmt.Fprintf(stdout, "accepting client ids: %s\n", strings.Join(ids, ", "))
	}
	faults := make(chan struct{})
	go func() { c.Faults.schedule().Run(ctx, clock.Real{}, srv); close(faults) }()
	<-ctx.Done()
	<-faults
	st := srv.Stats()
	fmt.Fprintf(stdout, "simulator stopped: %d connections accepted, %d requests, %d notifications, "+
		"%d heartbeat kills, %d rate-limit kills, %d slow-consumer kills, %d orders cancelled on disconnect\n",
		st.Accepted, st.Requests, st.Notifications, st.HeartbeatKills, st.RateLimitKills, st.SlowConsumerKills, st.CODCancelled)
	return nil
}

// schedule is the sim.FaultSchedule of [sim.faults].
func (f simFaults) schedule() sim.FaultSchedule {
	return sim.FaultSchedule{DropEvery: f.DropEvery.Duration, CutRandomEvery: f.CutRandomEvery.Duration,
		SilenceEvery: f.SilenceEvery.Duration, SilenceFor: f.SilenceFor.Duration, Delay: f.Delay.Duration,
		MalformedEvery: f.MalformedEvery.Duration, OversizedEvery: f.OversizedEvery.Duration,
		MaintenanceAt: f.MaintenanceAt.Duration, MaintenanceFor: f.MaintenanceFor.Duration}
}
