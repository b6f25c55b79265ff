package main

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/venue/deribit"
)

// exchangeConfig is the [exchange] section: where `host run` trades.
type exchangeConfig struct {
	// URL is the exchange's ws:// or wss:// endpoint. Empty: the built-in
	// simulator (the [sim] section), started in-process.
	URL string `toml:"url"`
	// Auth is "client_signature" (default) or "client_credentials". The key
	// pair comes from DERIBIT_CLIENT_ID and DERIBIT_CLIENT_SECRET, or from
	// client_id and client_secret_file; the secret is never in this file.
	Auth string `toml:"auth"`
	// ClientID is the key's id (default: DERIBIT_CLIENT_ID).
	ClientID string `toml:"client_id"`
	// ClientSecretFile is a file that holds the key's secret (surrounding
	// white space is ignored), readable by its owner only (mode 0600 or
	// 0400): safer than DERIBIT_CLIENT_SECRET, which stays readable in
	// /proc/<pid>/environ for the process's whole life. Relative to the
	// config file's directory.
	ClientSecretFile string `toml:"client_secret_file"`
	// HeartbeatInterval is asked of the exchange with public/set_heartbeat.
	// Default 10s (Deribit's minimum); 1s against the built-in simulator.
	HeartbeatInterval duration `toml:"heartbeat_interval"`
	// AllowInsecure permits ws:// to a host other than loopback.
	AllowInsecure bool `toml:"allow_insecure"`
}

// poolConfig is the [pool] section: the connections to the exchange.
type poolConfig struct {
	// Size is the number of connections (default 3, at most 16).
	Size int `toml:"size"`
	// Policy spreads new orders: "least_loaded" (default), "round_robin",
	// or "split" (least_loaded, and an order above split_above is split
	// into at most split_chunks chunks, each on its own connection).
	Policy      string  `toml:"policy"`
	SplitAbove  float64 `toml:"split_above"`
	SplitChunks int     `toml:"split_chunks"`
	// MinHealthy: fewer ready connections than this is "degraded" (default: size).
	MinHealthy int `toml:"min_healthy"`
	// OrderChannels: on how many connections the order and fill channels
	// are subscribed (default 2).
	OrderChannels int `toml:"order_channels"`
	// Limits is the client-side rate limiter ([pool.limits]); defaults are
	// Deribit's tier 1 (against the built-in simulator: its [sim.rate_limits]).
	Limits poolLimits `toml:"limits"`
	// Reconnect is the connections' reconnect schedule ([pool.reconnect]).
	Reconnect poolReconnect `toml:"reconnect"`
}

// poolReconnect is [pool.reconnect]: conn.Backoff. A lost connection is
// re-dialled at once (after a random stagger below min × jitter); only
// consecutive refused attempts back off, from min doubling to max; while
// the pool is short one connection keeps dialling every min; attempts_per_second
// caps the account's connection attempts.
type poolReconnect struct {
	Min               duration `toml:"min"`                 // default "100ms"
	Max               duration `toml:"max"`                 // default "10s"
	Jitter            float64  `toml:"jitter"`              // default 0.2; negative: none
	AttemptsPerSecond float64  `toml:"attempts_per_second"` // default 10
}

// backoff is the conn.Backoff of [pool.reconnect] (zero fields: conn's defaults).
func (r poolReconnect) backoff() conn.Backoff {
	return conn.Backoff{Min: r.Min.Duration, Max: r.Max.Duration, Jitter: r.Jitter, AttemptsPerSecond: r.AttemptsPerSecond}
}

// poolLimits is [pool.limits].
type poolLimits struct {
	Disabled              bool     `toml:"disabled"`
	MatchingRate          float64  `toml:"matching_rate"`
	MatchingBurst         float64  `toml:"matching_burst"`
	NonMatchingCost       int      `toml:"non_matching_cost"`
	NonMatchingMax        int      `toml:"non_matching_max"`
	NonMatchingRefill     int      `toml:"non_matching_refill"`
	NonMatchingPerAccount bool     `toml:"non_matching_per_account"`
	MaxWait               duration `toml:"max_wait"`
	Margin                float64  `toml:"margin"`
	Reserve               float64  `toml:"reserve"`
	// FromAccount reads the matching and non-matching limits from the
	// account (private/get_account_summary of AccountCurrency, default
	// "BTC") once connected, over what is configured: the exchange knows the
	// account's tier. Default true.
	FromAccount     *bool  `toml:"from_account"`
	AccountCurrency string `toml:"account_currency"`
}

// limits is the pool's limiter configuration: [pool.limits], or, against
// the built-in simulator and where [pool.limits] is silent, the
// simulator's own limits, so that the host never trips them.
func (c fileConfig) limits() pool.Limits {
	l := c.Pool.Limits
	out := pool.Limits{Disabled: l.Disabled, MatchingRate: l.MatchingRate, MatchingBurst: l.MatchingBurst,
		NonMatchingCost: l.NonMatchingCost, NonMatchingMax: l.NonMatchingMax, NonMatchingRefill: l.NonMatchingRefill,
		NonMatchingPerAccount: l.NonMatchingPerAccount, MaxWait: l.MaxWait.Duration, Margin: l.Margin, Reserve: l.Reserve}
	if c.Exchange.URL == "" {
		r := c.Sim.RateLimits
		out.Disabled = out.Disabled || r.Disabled
		if out.MatchingRate == 0 {
			out.MatchingRate = r.MatchingRate
		}
		if out.MatchingBurst == 0 {
			out.MatchingBurst = r.MatchingBurst
		}
		if out.NonMatchingCost == 0 {
			out.NonMatchingCost = r.NonMatchingCost
		}
		if out.NonMatchingMax == 0 {
			out.NonMatchingMax = r.NonMatchingMax
		}
		if out.NonMatchingRefill == 0 {
			out.NonMatchingRefill = r.NonMatchingRefill
		}
	}
	return out
}

// hostConfig is the [host] section.
type hostConfig struct {
	// Isolation is where plugins run: "process" (default: a child process
	// per plugin, so that no plugin can delay a heartbeat) or "none" (in
	// the host's process: trusted plugins and backtests).
	Isolation string `toml:"isolation"`
	// CacheDir holds compiled plugins. Default: the user cache directory
	// (stratbox/wazero); "off" compiles in memory every time.
	CacheDir string `toml:"cache_dir"`
	// MaxRestarts after faults within RestartWindow before a plugin stays
	// stopped. Default 3; 0: never restart (host.Config.MaxRestarts alike).
	MaxRestarts *int `toml:"max_restarts"`
	// RestartWindow: restarts older than it no longer count. Default "10m".
	RestartWindow duration `toml:"restart_window"`
	// RestartBackoff is the wait before the first restart. Default "1s".
	RestartBackoff duration `toml:"restart_backoff"`
	// KeepOrders leaves a stopped or faulted plugin's orders on the book.
	KeepOrders bool `toml:"keep_orders"`
	// MaxReestablish bounds how many times one order is re-placed after
	// losing its connection. Default (0) 100.
	MaxReestablish int `toml:"max_reestablish"`
	// Status is the period of the status line. Default "1s"; "0s": none.
	Status *duration `toml:"status"`
	// ID is this host's id in its orders' labels (1..16 of a-z, 0-9, '-'):
	// every host trading on an account needs its own. Default: the first
	// id of state_dir that no running host holds, or a new one. A
	// configured id that a running host holds is refused.
	ID string `toml:"id"`
	// ChildUID and ChildGID are the user and group the plugin children run
	// as when the host runs as root. Default 65534 (nobody, nogroup);
	// child_uid = 0 keeps them root (not advised). A host that is not root
	// cannot change them: its children run as itself.
	ChildUID *int `toml:"child_uid"`
	ChildGID *int `toml:"child_gid"`
	// StateDir holds the host ids (a lock file each, held while a host
	// runs). Default: $XDG_STATE_HOME/stratbox, or ~/.local/state/stratbox.
	StateDir string `toml:"state_dir"`
}

// stateDir resolves [host] state_dir.
func (h hostConfig) stateDir() string {
	if h.StateDir != "" {
		return h.StateDir
	}
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "stratbox")
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".local", "state", "stratbox")
	}
	return filepath.Join(os.TempDir(), "stratbox-state")
}

// riskConfig is [risk] and [plugin.risk]: the host's limits on a plugin.
// Amounts are in the instrument's amount unit; 0 is no limit.
type riskConfig struct {
	// Unlimited waives the explicit limits host run requires against a
	// real exchange (requiredRiskKeys); the hard ceilings still hold.
	Unlimited        bool    `toml:"unlimited"`
	MaxOrderAmount   float64 `toml:"max_order_amount"`
	MaxOpenOrders    int     `toml:"max_open_orders"`
	MaxPosition      float64 `toml:"max_position"`
	MaxNotional      float64 `toml:"max_notional"`
	PriceBandBps     float64 `toml:"price_band_bps"`
	IntentsPerSecond float64 `toml:"intents_per_second"`
	IntentBurst      int     `toml:"intent_burst"`
	FloodLimit       int     `toml:"flood_limit"`
}

// pluginConfig is one [[plugin]] section.
type pluginConfig struct {
	// Name is the instance's name (default: the file's base name).
	Name string `toml:"name"`
	// Path is the .wasm file (relative to the config file's directory).
	Path string `toml:"path"`
	// Instruments it trades and receives. Default ["BTC-PERPETUAL"].
	Instruments []string `toml:"instruments"`
	// Channels are market channel templates per instrument ({instrument}
	// is replaced). Default book.{instrument}.100ms,
	// ticker.{instrument}.100ms, trades.{instrument}.100ms.
	Channels []string `toml:"channels"`
	// MemoryLimitPages caps the plugin's memory in 64 KiB pages (default 1024).
	MemoryLimitPages uint32 `toml:"memory_limit_pages"`
	// CallBudget is the CPU time one call may use (default "50ms"): a
	// plugin that was only descheduled is not over it.
	CallBudget duration `toml:"call_budget"`
	// CallBackstop is the wall-clock time one call may take whatever CPU it
	// used (default "1s", at least call_budget): the last resort.
	CallBackstop duration `toml:"call_backstop"`
	// InitBudget is the time the start-up calls may take, in which a Go
	// guest's runtime starts (default "2s", never less than call_budget).
	InitBudget duration `toml:"init_budget"`
	// Isolation overrides [host] isolation for this plugin.
	Isolation string `toml:"isolation"`
	// Seed of the plugin's random source (default 1).
	Seed uint64 `toml:"seed"`
	// TimerMin is the plugin's shortest timer (default "2ms", at most "1m"):
	// set_timer raises a shorter one to it, and the plugin is woken for
	// its timers at most once per timer_min after its last call.
	TimerMin duration `toml:"timer_min"`
	// RateWeight is its weight in the division of the account's
	// matching-request rate among the plugins (default 1; [pool.limits]
	// reserve is kept apart for cancels and the host's own requests).
	RateWeight float64 `toml:"rate_weight"`
	// AddressSpaceMiB caps the child process's virtual memory (RLIMIT_AS)
	// in MiB. Default 3072 + 3 × the memory limit; -1: none. A Go guest's
	// child maps ~1.6 GiB at rest.
	AddressSpaceMiB int64 `toml:"address_space_mib"`
	// CPUSeconds caps the child's CPU time over its life (RLIMIT_CPU).
	// Default none (the call budget bounds each call).
	CPUSeconds int64 `toml:"cpu_seconds"`
	// OpenFiles caps the child's descriptors (RLIMIT_NOFILE). Default 64;
	// -1: none.
	OpenFiles int64 `toml:"open_files"`
	// Priority is the child's CPU priority below the host's: "normal",
	// "nice:N", "batch", "batch:N" or "idle" (sandbox.ParsePriority).
	// Default sandbox.DefaultPriority.
	Priority string `toml:"priority"`
	// Risk overrides [risk] for this plugin (keys given replace the global ones).
	Risk *riskConfig `toml:"risk"`
	// Params is a free table that reaches the plugin at start.
	Params map[string]any `toml:"params"`
}

func (r riskConfig) limits(where string) (host.RiskLimits, error) {
	fx := func(key string, v float64) (abi.Fixed, error) {
		x, ok := abi.FixedFromFloat(v)
		if !ok || v < 0 {
			return 0, fmt.Errorf("config: %s.%s: %v is not an amount ≥ 0", where, key, v)
		}
		return x, nil
	}
	var l host.RiskLimits
	var err error
	if l.MaxOrderAmount, err = fx("max_order_amount", r.MaxOrderAmount); err != nil {
		return l, err
	}
	if l.MaxPosition, err = fx("max_position", r.MaxPosition); err != nil {
		return l, err
	}
	l.MaxOpenOrders, l.MaxNotional, l.PriceBandBps = r.MaxOpenOrders, r.MaxNotional, r.PriceBandBps
	l.IntentsPerSecond, l.IntentBurst, l.FloodLimit = r.IntentsPerSecond, r.IntentBurst, r.FloodLimit
	if err := l.Validate(); err != nil {
		return l, fmt.Errorf("config: %s: %w", where, err)
	}
	return l, nil
}

// merge returns r with the keys set in o replacing its own.
func (r riskConfig) merge(o *riskConfig) riskConfig {
	if o == nil {
		return r
	}
	r.Unlimited = r.Unlimited || o.Unlimited
	for _, p := range []struct{ dst, src *float64 }{{&r.MaxOrderAmount, &o.MaxOrderAmount},
		{&r.MaxPosition, &o.MaxPosition}, {&r.MaxNotional, &o.MaxNotional}, {&r.PriceBandBps, &o.PriceBandBps},
		{&r.IntentsPerSecond, &o.IntentsPerSecond}} {
		if *p.src != 0 {
			*p.dst = *p.src
		}
	}
	for _, p := range []struct{ dst, src *int }{{&r.MaxOpenOrders, &o.MaxOpenOrders},
		{&r.IntentBurst, &o.IntentBurst}, {&r.FloodLimit, &o.FloodLimit}} {
		if *p.src != 0 {
			*p.dst = *p.src
		}
	}
	return r
}

// credentials are the key pair: client_id (or DERIBIT_CLIENT_ID) and the
// secret of client_secret_file, or both from the environment.
func (e exchangeConfig) credentials() (conn.Credentials, error) {
	if e.ClientSecretFile == "" {
		cred, err := conn.CredentialsFromEnv()
		if err == nil && e.ClientID != "" && cred.ClientID == "" && cred.ClientSecret != "" {
			cred.ClientID = e.ClientID
		}
		return cred, err
	}
	if os.Getenv(conn.EnvClientSecret) != "" {
		return conn.Credentials{}, fmt.Errorf("config: exchange.client_secret_file is set and so is %s: keep one (the file is safer)", conn.EnvClientSecret)
	}
	id := cmp.Or(e.ClientID, os.Getenv(conn.EnvClientID))
	if id == "" {
		return conn.Credentials{}, fmt.Errorf("config: exchange.client_secret_file needs a client id: set exchange.client_id or %s", conn.EnvClientID)
	}
	secret, err := readSecretFile("exchange.client_secret_file", e.ClientSecretFile)
	if err != nil {
		return conn.Credentials{}, err
	}
	return conn.Credentials{ClientID: id, ClientSecret: secret, Method: conn.AuthSignature}, nil
}

// readSecretFile reads a secret from a file only its owner can read. The
// errors name the file, never its content.
func readSecretFile(key, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("config: %s: %w", key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("config: %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("config: %s %s is not a regular file", key, path)
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return "", fmt.Errorf("config: %s %s is readable or writable by group or others (mode %04o): chmod 600 it", key, path, m)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("config: %s %s: %w", key, path, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" || len(b) >= 4096 {
		return "", fmt.Errorf("config: %s %s: want the secret alone (1 line, under 4 KiB)", key, path)
	}
	return s, nil
}

// requiredRiskKeys are the limits every plugin must have, explicitly,
// before host run trades on a real exchange.
var requiredRiskKeys = []string{"max_order_amount", "max_open_orders", "max_position", "max_notional"}

// missing lists the required limits r leaves at "none".
func (r riskConfig) missing() []string {
	var out []string
	for i, set := range []bool{r.MaxOrderAmount > 0, r.MaxOpenOrders > 0, r.MaxPosition > 0, r.MaxNotional > 0} {
		if !set {
			out = append(out, requiredRiskKeys[i])
		}
	}
	return out
}

// realExchange reports whether host run trades on a real exchange: any
// exchange but the built-in simulator and one on loopback (a simulator of
// `host sim`).
func (c fileConfig) realExchange() bool {
	if c.Exchange.URL == "" {
		return false
	}
	u, err := url.Parse(c.Exchange.URL)
	if err != nil {
		return true
	}
	if h := u.Hostname(); h == "localhost" {
		return false
	} else if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return false
	}
	return true
}

// engineConfig is the engine's configuration of `host run` and `host
// replay`: host.DefaultConfig with the file's [host] and [risk] settings.
func (c fileConfig) engineConfig(specs []host.PluginSpec) (host.Config, error) {
	ecfg := host.DefaultConfig()
	ecfg.Plugins, ecfg.KeepOrders = specs, c.Host.KeepOrders
	if c.Host.MaxReestablish != 0 {
		ecfg.MaxReestablish = c.Host.MaxReestablish
	}
	if d := c.Host.RestartBackoff.Duration; d != 0 {
		ecfg.RestartBackoff = d
	}
	if d := c.Host.RestartWindow.Duration; d != 0 {
		ecfg.RestartWindow = d
	}
	if c.Host.MaxRestarts != nil {
		ecfg.MaxRestarts = *c.Host.MaxRestarts // 0: never restart
	}
	var err error
	ecfg.Risk, err = c.Risk.limits("risk")
	return ecfg, err
}

func validIsolation(s string) bool {
	return s == "" || s == string(sandbox.IsolateProcess) || s == string(sandbox.IsolateNone)
}

// poolConfig is the pool's configuration, its members' connections cc.
func (c fileConfig) poolConfig(cc conn.Config) pool.Config {
	return pool.Config{Conn: cc, Size: c.Pool.Size, MinHealthy: c.Pool.MinHealthy, Policy: pool.Policy(c.Pool.Policy),
		SplitAbove: c.Pool.SplitAbove, SplitChunks: c.Pool.SplitChunks, OrderChannels: c.Pool.OrderChannels,
		Limits: c.limits(), Classify: host.PoolRates}
}

func (c fileConfig) validateRun() error {
	if u := c.Exchange.URL; u != "" && !strings.HasPrefix(u, "ws://") && !strings.HasPrefix(u, "wss://") {
		return fmt.Errorf("config: exchange.url %q: want ws:// or wss://", u)
	}
	switch c.Exchange.Auth {
	case "", "client_signature", "client_credentials":
	default:
		return fmt.Errorf("config: exchange.auth %q: want client_signature or client_credentials", c.Exchange.Auth)
	}
	if err := c.poolConfig(conn.Config{}).Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.Pool.Reconnect.backoff().Validate(); err != nil {
		return fmt.Errorf("config: pool.reconnect: %w", err)
	}
	if err := c.limits().Validate(); err != nil {
		return fmt.Errorf("config: pool.limits: %w", err)
	}
	if c.Host.MaxReestablish < 0 {
		return fmt.Errorf("config: host.max_reestablish %d: want 0 (the default, %d) or more", c.Host.MaxReestablish, host.DefaultMaxReestablish)
	}
	if !validIsolation(c.Host.Isolation) {
		return fmt.Errorf("config: host.isolation %q: want process or none", c.Host.Isolation)
	}
	if _, err := c.Host.childCredential(); err != nil {
		return err
	}
	if id := c.Host.ID; id != "" && !deribit.ValidHostID(id) {
		return fmt.Errorf("config: host.id %q: want 1 to %d characters of a-z, 0-9 and '-', not starting with '-'", id, deribit.MaxHostIDLen)
	}
	if m := c.Host.MaxRestarts; m != nil && *m < 0 {
		return fmt.Errorf("config: host.max_restarts is negative")
	}
	if c.Host.RestartWindow.Duration < 0 {
		return fmt.Errorf("config: host.restart_window is negative")
	}
	if _, err := c.Risk.limits("risk"); err != nil {
		return err
	}
	if err := c.Telemetry.validate(); err != nil {
		return err
	}
	names := map[string]bool{}
	for i, p := range c.Plugins {
		where := fmt.Sprintf("plugin[%d]", i)
		if p.Path == "" {
			return fmt.Errorf("config: %s.path is required", where)
		}
		if !validIsolation(p.Isolation) {
			return fmt.Errorf("config: %s.isolation %q: want process or none", where, p.Isolation)
		}
		if p.AddressSpaceMiB < -1 || p.CPUSeconds < 0 || p.OpenFiles < -1 {
			return fmt.Errorf("config: %s: address_space_mib and open_files must be ≥ -1, cpu_seconds ≥ 0", where)
		}
		if err := p.checkBudget(where); err != nil {
			return err
		}
		if _, err := p.priority(where); err != nil {
			return err
		}
		if iso := cmp.Or(p.Isolation, c.Host.Isolation); p.Priority != "" && iso == string(sandbox.IsolateNone) {
			return fmt.Errorf("config: %s.priority %q: a priority is for a child process, and isolation \"none\" runs the plugin in the host's process", where, p.Priority)
		}
		if p.MemoryLimitPages > 65536 {
			return fmt.Errorf("config: %s.memory_limit_pages %d is above 65536 (4 GiB)", where, p.MemoryLimitPages)
		}
		if d := p.TimerMin.Duration; d < 0 || d > sandbox.MaxTimerMin {
			return fmt.Errorf("config: %s.timer_min %s: want 0 (the default, %s) up to %s", where, d, sandbox.DefaultTimerMin, sandbox.MaxTimerMin)
		}
		if w := p.RateWeight; w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("config: %s.rate_weight %g: want a positive weight (0: the default, 1)", where, w)
		}
		merged := c.Risk.merge(p.Risk)
		if _, err := merged.limits(where + ".risk"); err != nil {
			return err
		}
		if m := merged.missing(); c.realExchange() && !merged.Unlimited && len(m) > 0 {
			return fmt.Errorf("config: plugin %q would trade on %s without risk limits: set %s in [risk] or in its [plugin.risk] (or unlimited = true there to trade without them)",
				p.name(), redactedURL(c.Exchange.URL), strings.Join(m, ", "))
		}
		if _, err := params(p.Params); err != nil {
			return fmt.Errorf("config: %s.params: %w", where, err)
		}
		n := p.name()
		if n == "" {
			return fmt.Errorf("config: %s.path %q gives the plugin no name: set name", where, p.Path)
		}
		if names[n] {
			return fmt.Errorf("config: two plugins are named %q (set name)", n)
		}
		names[n] = true
	}
	return nil
}

// checkBudget refuses a call_backstop below the call's budget.
func (p pluginConfig) checkBudget(where string) error {
	budget := p.CallBudget.Duration
	if budget == 0 {
		budget = sandbox.DefaultCallBudget
	}
	if b := p.CallBackstop.Duration; b != 0 && b < budget {
		return fmt.Errorf("config: %s.call_backstop %s is below call_budget %s: the backstop is the wall-clock last resort after the budget of CPU time; want at least the budget (default %s)",
			where, b, budget, sandbox.DefaultCallBackstop)
	}
	return nil
}

// priority is the child's priority (the zero Priority, the default, when
// the key is not set).
func (p pluginConfig) priority(where string) (sandbox.Priority, error) {
	if p.Priority == "" {
		return sandbox.Priority{}, nil
	}
	prio, err := sandbox.ParsePriority(p.Priority)
	if err != nil {
		return prio, fmt.Errorf("config: %s.priority: %s", where, strings.TrimPrefix(err.Error(), sandbox.ErrConfig.Error()+": "))
	}
	return prio, nil
}

func (p pluginConfig) name() string {
	if p.Name != "" {
		return p.Name
	}
	return strings.TrimSuffix(filepath.Base(p.Path), ".wasm")
}

func (p pluginConfig) instruments() []string {
	if len(p.Instruments) == 0 {
		return []string{"BTC-PERPETUAL"}
	}
	return p.Instruments
}

// params flattens a free TOML table into param records: nested tables
// become dotted keys; strings, integers, floats and booleans keep their
// type; anything else (arrays, dates) is passed as TOML text.
func params(m map[string]any) ([]abi.Param, error) {
	var out []abi.Param
	var walk func(prefix string, m map[string]any) error
	walk = func(prefix string, m map[string]any) error {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			key := prefix + k
			switch v := m[k].(type) {
			case map[string]any:
				if err := walk(key+".", v); err != nil {
					return err
				}
			case string:
				out = append(out, abi.Param{Type: abi.ParamString, Key: key, Text: v})
			case int64:
				out = append(out, abi.Param{Type: abi.ParamInt, Key: key, Int: v})
			case float64:
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("%s: %v is not a finite number", key, v)
				}
				out = append(out, abi.Param{Type: abi.ParamFloat, Key: key, Float: v})
			case bool:
				out = append(out, abi.Param{Type: abi.ParamBool, Key: key, Bool: v})
			default:
				out = append(out, abi.Param{Type: abi.ParamTOML, Key: key, Text: tomlText(v)})
			}
		}
		return nil
	}
	if err := walk("", m); err != nil {
		return nil, err
	}
	for i := range out {
		if _, err := abi.AppendParam(nil, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// tomlText renders a TOML value (array, date, inline table) as TOML text.
func tomlText(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = tomlText(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []map[string]any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = tomlText(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = strconv.Quote(k) + " = " + tomlText(v[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// cacheDir resolves [host] cache_dir.
func (h hostConfig) cacheDir() string {
	switch h.CacheDir {
	case "off":
		return ""
	case "":
		return sandbox.DefaultCacheDir()
	}
	return h.CacheDir
}

// childUserDefault is the user (and group) a root host's plugin children
// run as when [host] child_uid is not set: nobody. The tests, run as root
// from a private build directory nobody can enter, keep root (-1).
var childUserDefault = 65534

// childCredential is the user the plugin children run as (nil: the host's).
func (h hostConfig) childCredential() (*syscall.Credential, error) {
	euid := os.Geteuid()
	if euid != 0 {
		if h.ChildUID != nil && *h.ChildUID != euid || h.ChildGID != nil && *h.ChildGID != os.Getegid() {
			return nil, fmt.Errorf("config: host.child_uid/child_gid: only a host running as root can run its plugins as another user")
		}
		return nil, nil
	}
	uid, gid := childUserDefault, childUserDefault
	if h.ChildUID != nil {
		uid = *h.ChildUID
	}
	if h.ChildGID != nil {
		gid = *h.ChildGID
	}
	if uid < -1 || gid < -1 || uid > math.MaxUint32-1 || gid > math.MaxUint32-1 {
		return nil, fmt.Errorf("config: host.child_uid %d / child_gid %d: not a user and group id", uid, gid)
	}
	if uid == 0 || uid < 0 {
		return nil, nil // root, explicitly (or the tests')
	}
	if gid < 0 {
		gid = uid
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
