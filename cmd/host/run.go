package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/cluster"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/internal/hostid"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
	"github.com/stratbox/stratbox/venue/deribit"
)

// runFlags are `host run`'s flags; they override the config file.
type runFlags struct {
	config    string
	exchange  string
	duration  time.Duration
	isolation string
	cacheDir  string
	status    time.Duration
	seed      int64
	logLevel  string
	record    string
	tel       telemetryFlags
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("host run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	fs.StringVar(&f.config, "config", "", "TOML config file (see host.example.toml)")
	fs.StringVar(&f.exchange, "exchange", "", "exchange ws:// or wss:// URL (default: the built-in simulator); keys from DERIBIT_CLIENT_ID / DERIBIT_CLIENT_SECRET")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long (default: until interrupted)")
	fs.StringVar(&f.isolation, "isolation", "", `where plugins run: "process" (default) or "none"`)
	fs.StringVar(&f.cacheDir, "cache-dir", "", `compiled-plugin cache directory ("off": none)`)
	fs.DurationVar(&f.status, "status", -1, "status line period (0: none; default 1s)")
	fs.Int64Var(&f.seed, "seed", 0, "the built-in simulator's market seed (default 1)")
	fs.StringVar(&f.logLevel, "log", "warn", "log level: debug, info, warn or error")
	fs.StringVar(&f.record, "record", "", "record every frame of every connection (secrets redacted) to this file, for host replay")
	f.tel.add(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: host run [flags] [strategy.wasm ...]\n\nRuns strategy plugins against the exchange (default: the built-in simulator).\nSIGUSR1 is the kill switch: every open order is cancelled and every new intent refused.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := f.load(fs.Args())
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: parseLevel(f.logLevel)}))
	var reread func() (fileConfig, error) // host ctl reload
	if f.config != "" {
		paths := fs.Args()
		reread = func() (fileConfig, error) { return f.load(paths) }
	}
	return trade(ctx, cfg, reread, f.duration, log, stdout, f.record)
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if l.UnmarshalText([]byte(s)) != nil {
		return slog.LevelWarn
	}
	return l
}

// load reads the config file and applies the flags and the plugin paths
// given as arguments (each becomes a plugin with default settings unless a
// [[plugin]] of the config has the same path).
func (f *runFlags) load(paths []string) (fileConfig, error) {
	var c fileConfig
	base := "."
	if f.config != "" {
		var err error
		if c, err = loadConfig(f.config); err != nil {
			return c, err
		}
		base = filepath.Dir(f.config)
		for i := range c.Plugins {
			if !filepath.IsAbs(c.Plugins[i].Path) {
				c.Plugins[i].Path = filepath.Join(base, c.Plugins[i].Path)
			}
		}
	}
	for _, p := range paths {
		known := false
		for _, q := range c.Plugins {
			if filepath.Clean(q.Path) == filepath.Clean(p) {
				known = true
			}
		}
		if !known {
			c.Plugins = append(c.Plugins, pluginConfig{Path: p})
		}
	}
	if len(c.Plugins) == 0 {
		return c, fmt.Errorf("%w: no strategy: give a .wasm file or a config with [[plugin]] sections", errUsage)
	}
	if f.exchange != "" {
		c.Exchange.URL = f.exchange
	}
	if p := c.Exchange.ClientSecretFile; p != "" && !filepath.IsAbs(p) {
		c.Exchange.ClientSecretFile = filepath.Join(base, p)
	}
	if f.isolation != "" {
		c.Host.Isolation = f.isolation
	}
	if f.cacheDir != "" {
		c.Host.CacheDir = f.cacheDir
	}
	if f.status >= 0 {
		c.Host.Status = &duration{f.status}
	}
	if f.seed != 0 {
		c.Sim.Seed = f.seed
	}
	f.tel.apply(&c.Telemetry)
	return c, c.validate()
}

// trade runs the engine until ctx ends or, when d > 0, for d from the moment
// the plugins are loaded and the connection is up; then it prints the
// summary. reread reads the configuration again, for host ctl reload (nil:
// there is no file).
func trade(ctx context.Context, c fileConfig, reread func() (fileConfig, error), d time.Duration, log *slog.Logger, stdout io.Writer, recordTo string) error {
	// The exchange and the connection outlive the trading period so that
	// the engine can wind down (cancel its orders) after it.
	life, stopLife := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLife()

	var cache *sandbox.Cache
	var err error
	dir := c.Host.cacheDir()
	if cache, err = sandbox.NewCache(dir); err != nil {
		return err
	}
	defer cache.Close(context.Background())

	specs, err := loadPlugins(ctx, c, cache, dir, log)
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range specs {
			s.Plugin.Close(context.Background())
		}
	}()

	cc, account, srv, err := exchangeConn(life, c, stdout)
	if err != nil {
		return err
	}
	if srv != nil {
		defer srv.Close()
	}
	ecfg, err := c.engineConfig(specs)
	if err != nil {
		return err
	}
	if srv != nil {
		ecfg.HostID = c.Host.ID // the built-in simulator's account is this process's alone: no lock
	} else {
		// A real account: the host id is this process's alone (a lock file
		// held while it runs), and its earlier runs' orders are its own.
		lease, err := hostid.Acquire(c.Host.stateDir(), c.Host.ID)
		if err != nil {
			return err
		}
		defer lease.Close()
		ecfg.HostID, ecfg.RunID = lease.ID, lease.Run
		switch {
		case lease.New && len(lease.Busy) > 0:
			fmt.Fprintf(stdout, "host id %s, run %s: a new id (%s held by running hosts; lock file %s)\n",
				lease.ID, lease.Run, strings.Join(lease.Busy, ", "), lease.Path)
		default:
			fmt.Fprintf(stdout, "host id %s, run %s (lock file %s)\n", lease.ID, lease.Run, lease.Path)
		}
	}
	tel, err := startTelemetry(ctx, c.Telemetry, &stdout) // stdout is shared with stdout exporters from here on
	if err != nil {
		return err
	}
	defer tel.close() // last: after the engine has wound down and the pool closed
	eng, err := host.New(ecfg, host.WithLogger(log), tel.engine())
	if err != nil {
		return err
	}
	pc := c.poolConfig(cc)
	rec, tap, err := openRecording(recordTo, cc.URL, "host run")
	if err != nil {
		return err
	}
	defer rec.close(stdout)
	var node atomic.Pointer[cluster.Node] // set once the cluster node has started
	x, err := pool.New(pc, eng.Sink, func(ev pool.Event) {
		switch {
		case ev.Lost:
			fmt.Fprintf(stdout, "connection %d lost (%v): its orders are verified and re-placed on the others\n", ev.Member, ev.Err)
		case ev.Resync:
			fmt.Fprintln(stdout, "order updates were not received for a while: every order is read back")
		}
		eng.PoolEvent(ev)
		if n := node.Load(); n != nil {
			n.Changed() // the cluster hears of it now, not at its next publish
		}
	}, log, tap...)
	if err != nil {
		return err
	}
	if err := tel.watch(eng, x); err != nil {
		return err
	}
	if err := x.Start(life); err != nil {
		return fmt.Errorf("connect to %s: %w", cc.URL, err)
	}
	defer x.Close()
	if l := c.Pool.Limits; !pc.Limits.Disabled && (l.FromAccount == nil || *l.FromAccount) {
		cur := cmp.Or(l.AccountCurrency, "BTC")
		if al, err := x.UseAccountLimits(life, cur); err != nil {
			fmt.Fprintf(stdout, "rate limits: not read from the account (%v): the configured ones apply\n", err)
		} else {
			fmt.Fprintf(stdout, "rate limits from the account: matching %g/s (burst %g), non-matching %g/s (burst %g), used at %g%%\n",
				al.MatchingRate, al.MatchingBurst, al.NonMatchingRate, al.NonMatchingBurst, x.Limits().Margin*100)
		}
	}
	n, leave, err := startCluster(life, c, pc, x, eng, log, stdout)
	if err != nil {
		return err
	}
	defer leave()
	node.Store(n)
	if c.Cluster.Mode != "" {
		// The other members' connections carry this host's orders too, by
		// the pool's policy; this host re-places its orders when one is lost.
		remote := n.Remote("main", pool.MaxSize, func(slot int, healthy bool) {
			if !healthy {
				fmt.Fprintf(stdout, "cluster: remote member %d lost: its orders of this host are verified and re-placed\n", slot)
			}
			ps := x.Stats()
			eng.PoolEvent(pool.Event{Member: host.RemoteMember(x.Size(), slot), Ready: healthy, Lost: !healthy,
				Healthy: ps.Healthy, Total: ps.Total, Degraded: ps.Degraded, At: time.Now()})
		})
		defer remote.Close()
		eng.UseRemote(remote)
	}
	ctlKills := make(chan int, 4) // the kill switch thrown through the control endpoint, printed below
	sw := newSwapper(eng, c, cache, log)
	defer sw.close()
	stopCtl, err := serveControl(life, c.Control, &controlHost{eng: eng, pool: x, exchange: cc.URL, started: time.Now(),
		swapper: sw, reload: newReloader(c, reread, eng), killed: func(n int) {
			select {
			case ctlKills <- n:
			default:
			}
		}}, log, stdout)
	if err != nil {
		return err
	}
	defer stopCtl()
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = fmt.Sprintf("%s on %s", s.Name, strings.Join(s.Instruments, ","))
	}
	ps := x.Stats()
	fmt.Fprintf(stdout, "connected to %s (account %s): %d of %d connections ready, heartbeat every %v, cancel-on-disconnect on each\n",
		cc.URL, account, ps.Healthy, ps.Total, cc.HeartbeatInterval)
	fmt.Fprintf(stdout, "running %s (isolation %s)\n", strings.Join(names, "; "), isolationOf(c))
	if cred, _ := c.Host.childCredential(); cred != nil && isolationOf(c) == string(sandbox.IsolateProcess) {
		fmt.Fprintf(stdout, "plugin processes run as uid %d, gid %d\n", cred.Uid, cred.Gid)
	}

	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	kill := make(chan os.Signal, 1)
	signal.Notify(kill, syscall.SIGUSR1)
	defer signal.Stop(kill)
	start := time.Now()
	runErr := make(chan error, 1)
	go func() { runErr <- eng.Run(ctx, x) }()
	period := time.Second
	if c.Host.Status != nil {
		period = c.Host.Status.Duration
	}
	var tick <-chan time.Time
	if period > 0 {
		t := time.NewTicker(period)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case err := <-runErr:
			if err != nil {
				return err
			}
			printSummary(stdout, eng.Stats(), x, account, time.Since(start))
			return nil
		case <-kill:
			n := eng.Kill()
			fmt.Fprintf(stdout, "KILL SWITCH: trading halted, cancelling %d open orders\n", n)
		case n := <-ctlKills:
			fmt.Fprintf(stdout, "KILL SWITCH (host ctl kill): trading halted, cancelling %d open orders\n", n)
		case <-tick:
			printStatus(stdout, eng.Stats(), x.Stats(), time.Since(start))
		}
	}
}

func isolationOf(c fileConfig) string {
	if c.Host.Isolation == "" {
		return string(sandbox.IsolateProcess)
	}
	return c.Host.Isolation
}

// loadPlugins compiles and checks every plugin and makes its spec.
func loadPlugins(ctx context.Context, c fileConfig, cache *sandbox.Cache, dir string, log *slog.Logger) ([]host.PluginSpec, error) {
	var specs []host.PluginSpec
	for i, pc := range c.Plugins {
		wasm, err := os.ReadFile(pc.Path)
		if err != nil {
			return nil, fmt.Errorf("plugin[%d]: %w", i, err)
		}
		iso := pluginIsolation(c, pc)
		p, err := loadModule(ctx, c, pc, cache, log, wasm)
		if err != nil {
			return nil, err
		}
		prm, err := params(pc.Params)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: params: %w", pc.name(), err)
		}
		lim, err := c.Risk.merge(pc.Risk).limits("plugin " + pc.name() + " risk")
		if err != nil {
			return nil, err
		}
		spec := host.PluginSpec{Name: pc.name(), Plugin: p, Instruments: pc.instruments(), Channels: pc.Channels,
			Params: prm, Risk: &lim, RateWeight: pc.RateWeight}
		if iso != string(sandbox.IsolateNone) {
			cred, err := c.Host.childCredential()
			if err != nil {
				return nil, err
			}
			cdir, err := sandbox.ChildCacheDir(dir, cred)
			if err != nil {
				return nil, err
			}
			prio, err := pc.priority("plugin " + pc.name())
			if err != nil {
				return nil, err
			}
			lim := sandbox.ProcessLimits{AddressSpace: pc.AddressSpaceMiB << 20, CPUTime: time.Duration(pc.CPUSeconds) * time.Second,
				OpenFiles: pc.OpenFiles, Priority: prio}
			if pc.AddressSpaceMiB < 0 {
				lim.AddressSpace = -1
			}
			pcfg := sandbox.ProcessConfig{CacheDir: cdir, Limits: lim, Credential: cred}
			spec.NewSandbox = func(p *sandbox.Plugin) sandbox.Sandbox { return sandbox.NewProcess(p, pcfg) }
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

// pluginIsolation is a plugin's isolation: its own, else [host]'s.
func pluginIsolation(c fileConfig, pc pluginConfig) string {
	if pc.Isolation != "" {
		return pc.Isolation
	}
	return c.Host.Isolation
}

// loadModule compiles and checks a module of plugin pc with its sandbox
// settings (at start, and for a hot swap).
func loadModule(ctx context.Context, c fileConfig, pc pluginConfig, cache *sandbox.Cache, log *slog.Logger, wasm []byte) (*sandbox.Plugin, error) {
	opts := []sandbox.Option{sandbox.WithCache(cache), sandbox.WithLogger(log)}
	if pluginIsolation(c, pc) != string(sandbox.IsolateNone) {
		opts = append(opts, sandbox.WithChildProcess())
	}
	return sandbox.Load(ctx, pc.name(), wasm, sandbox.PluginConfig{MemoryLimitPages: pc.MemoryLimitPages,
		CallBudget: pc.CallBudget.Duration, CallBackstop: pc.CallBackstop.Duration, InitBudget: pc.InitBudget.Duration,
		Seed: pc.Seed, TimerMin: pc.TimerMin.Duration}, opts...)
}

// exchangeConn returns the connection config: to the configured exchange
// with the keys of the environment, or to a simulator started here.
func exchangeConn(ctx context.Context, c fileConfig, stdout io.Writer) (conn.Config, string, *sim.Server, error) {
	cc := conn.DefaultConfig()
	cc.Backoff = c.Pool.Reconnect.backoff()
	cc.AllowInsecure = c.Exchange.AllowInsecure
	cc.HeartbeatInterval = c.Exchange.HeartbeatInterval.Duration
	method := conn.AuthSignature
	if c.Exchange.Auth == "client_credentials" {
		method = conn.AuthCredentials
	}
	if c.Exchange.URL != "" {
		cred, err := c.Exchange.credentials()
		if err != nil {
			return cc, "", nil, err
		}
		if cred.IsZero() {
			return cc, "", nil, fmt.Errorf("trading on %s needs a key pair: set %s and %s, or [exchange] client_id and client_secret_file",
				redactedURL(c.Exchange.URL), conn.EnvClientID, conn.EnvClientSecret)
		}
		cred.Method = method
		cc.URL, cc.Credentials = c.Exchange.URL, cred
		if cc.HeartbeatInterval == 0 {
			cc.HeartbeatInterval = 10 * time.Second
		}
		return cc, cred.ClientID, nil, cc.Validate()
	}
	sc := c.Sim.serverConfig()
	if cc.HeartbeatInterval == 0 {
		cc.HeartbeatInterval = time.Second
	}
	if sc.MinHeartbeat == 0 || sc.MinHeartbeat > cc.HeartbeatInterval {
		sc.MinHeartbeat = cc.HeartbeatInterval
	}
	srv, err := sim.Start(ctx, sc)
	if err != nil {
		return cc, "", nil, err
	}
	go c.Sim.Faults.schedule().Run(ctx, clock.Real{}, srv)
	id, secret := sim.TestKeyID, sim.TestKeySecret
	if len(c.Sim.Keys) > 0 {
		id, secret = c.Sim.Keys[0].ID, c.Sim.Keys[0].Secret
	}
	cc.URL = srv.URL()
	cc.Credentials = conn.Credentials{ClientID: id, ClientSecret: secret, Method: method}
	fmt.Fprintf(stdout, "built-in simulator on %s (seed %d)\n", srv.URL(), max(c.Sim.Seed, 1))
	return cc, id, srv, cc.Validate()
}

func printStatus(w io.Writer, s host.EngineStats, ps pool.Stats, since time.Duration) {
	var answered uint64
	for _, m := range ps.Members {
		answered += m.Heartbeat.Answered
	}
	var pos []string
	var faults uint64
	for _, p := range s.Plugins {
		faults += p.Faults
		for _, q := range p.Positions {
			if q.Size != 0 {
				pos = append(pos, fmt.Sprintf("%s %s %+g", p.Name, q.Instrument, q.Size.Float64()))
			}
		}
	}
	if len(pos) == 0 {
		pos = []string{"flat"}
	}
	// As the summary: rejected by the exchange, refused by the host.
	fmt.Fprintf(w, "%6.1fs  events %d  intents %d (refused %d)  orders placed %d acked %d filled %d cancelled %d rejected %d  fills %d  %s  connections %d/%d  heartbeats answered %d  faults %d\n",
		since.Seconds(), s.Events, s.Intents, s.Refused, s.Placed, s.Acked, s.Filled, s.Cancelled, s.Rejected, s.Fills,
		strings.Join(pos, ", "), ps.Healthy, ps.Total, answered, faults)
}

func printSummary(w io.Writer, s host.EngineStats, x *pool.Pool, account string, took time.Duration) {
	ps := x.Stats()
	printEngineSummary(w, s, took)
	end, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var positions []struct {
		Instrument string  `json:"instrument_name"`
		Size       float64 `json:"size"`
		PnL        float64 `json:"total_profit_loss"`
	}
	pc := deribit.GetPositions()
	if raw, err := x.CallRaw(end, pc.Method, pc.Params); err == nil && json.Unmarshal(raw, &positions) == nil {
		for _, p := range positions {
			if p.Size != 0 || p.PnL != 0 {
				fmt.Fprintf(w, "  account     %s %s %+g, total PnL %.8f\n", account, p.Instrument, p.Size, p.PnL)
			}
		}
	} else if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(w, "  account     positions not available: %v\n", err)
	}
	fmt.Fprintf(w, "  orders      %d re-placed after a lost connection\n", s.Relocated)
	for _, m := range ps.Members {
		h := m.Heartbeat
		fmt.Fprintf(w, "  connection %d %v, %d reconnects, %d losses; heartbeats: %d frames, %d test_requests answered, %d missed; answer latency p50 %v p99 %v max %v\n",
			m.ID, m.State, m.Reconnects, m.Losses, h.Heartbeats, h.Answered, h.Missed, h.AnswerLatency.P50, h.AnswerLatency.P99, h.AnswerLatency.Max)
	}
	if s.Killed {
		fmt.Fprintf(w, "  kill switch was used\n")
	}
}
