package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/control"
	"github.com/stratbox/stratbox/host/sandbox"
)

// buildExample writes plugins/examples/<name>, compiled to wasm as `make
// plugins` does (once per test binary, exampleWasm), to a file and returns
// its path.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+".wasm")
	if err := os.WriteFile(out, exampleWasm(t, name), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeSimConfig writes a host.toml into dir for a quick run against the
// built-in simulator (a fast market, no rate limits) followed by body, and
// returns its path.
func writeSimConfig(t *testing.T, dir, body string) string {
	t.Helper()
	cfg := filepath.Join(dir, "host.toml")
	if err := os.WriteFile(cfg, []byte("[sim]\ntick = \"20ms\"\n[sim.rate_limits]\ndisabled = true\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// host run with a config: the market maker, in a child process, trades
// against the built-in simulator, the status line and the summary report
// it, and every heartbeat is answered. The run lasts until the market maker
// has orders open and every connection has answered test_requests (read
// through the control socket), not for a set time: the module compiles
// first, which takes minutes under -race on a loaded machine.
func TestRunTradesAgainstTheSimulator(t *testing.T) {
	wasm := buildExample(t, "marketmaker")
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl.sock")
	cfg := writeSimConfig(t, dir, fmt.Sprintf(`
[exchange]
heartbeat_interval = "500ms"
[host]
cache_dir = %q
status = "200ms"
[control]
socket = %q
[[plugin]]
name = "mm"
path = %q
call_budget = "5s"
[plugin.params]
half_spread_bps = 0.5
size = 100
`, testCacheDir, sock, wasm))
	t.Setenv("DERIBIT_CLIENT_SECRET", "must-not-leak")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errb := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run", "--config", cfg}, out, errb) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Minute) // a failsafe against a hang, not a verdict
	var c *control.Client
	for trading := false; !trading; {
		if c == nil {
			c, _ = control.NewClient(sock, "")
		}
		if c != nil {
			if st, err := c.Status(context.Background()); err == nil && len(st.Plugins) == 1 && len(st.Pool.Connections) == 3 {
				trading = st.Plugins[0].OpenOrders > 0
				for _, cn := range st.Pool.Connections {
					trading = trading && cn.Answered >= 2
				}
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("the market maker never traded:\n%s\n%s", out.String(), errb.String())
		case err := <-done:
			t.Fatalf("run ended: %v\n%s\n%s", err, out.String(), errb.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, out.String(), errb.String())
	}
	s := out.String()
	for _, want := range []string{"built-in simulator on ws://127.0.0.1:", "running mm on BTC-PERPETUAL (isolation process)",
		"summary after", "plugin mm", "no faults", " 0 missed", "connection 0 ready, 0 reconnects", "connection 2 ready", "3 of 3 connections ready"} {
		if !strings.Contains(s, want) {
			t.Fatalf("output lacks %q:\n%s\nstderr:\n%s", want, s, errb.String())
		}
	}
	m := regexp.MustCompile(`orders +(\d+) placed, (\d+) acknowledged`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no orders line:\n%s", s)
	}
	if placed, _ := strconv.Atoi(m[1]); placed == 0 {
		t.Fatalf("the market maker placed nothing:\n%s\n%s", s, errb.String())
	}
	if !regexp.MustCompile(`test_requests answered`).MatchString(s) || !strings.Contains(s, "events ") {
		t.Fatalf("no status line or heartbeat summary:\n%s", s)
	}
	if strings.Contains(s+errb.String(), "must-not-leak") {
		t.Fatal("a secret reached the output")
	}
}

func TestRunRefusesBadPlugins(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no plugin", []string{"run"}, "no strategy"},
		{"missing file", []string{"run", "nope.wasm"}, "nope.wasm"},
		{"abi 2.0", []string{"run", "--isolation", "none", "../../host/sandbox/testdata/v2.wasm"}, "ABI 2.0"},
		{"missing WASI function", []string{"run", "../../internal/hostile/wasi_missing.wasm"}, "wasi_snapshot_preview1.sock_open"},
		{"bad isolation", []string{"run", "--isolation", "vm", "x.wasm"}, "isolation"},
		{"bad exchange url", []string{"run", "--exchange", "http://example.com", "x.wasm"}, "ws://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	// A real exchange needs the key pair from the environment.
	t.Setenv("DERIBIT_CLIENT_ID", "")
	t.Setenv("DERIBIT_CLIENT_SECRET", "")
	err := run(context.Background(), []string{"run", "--exchange", "wss://127.0.0.1:1/ws", "--isolation", "none",
		"../../testdata/abi/cancel_on_timer.wasm"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "DERIBIT_CLIENT_ID") {
		t.Fatalf("error %v, want one naming DERIBIT_CLIENT_ID", err)
	}
	if errors.Is(err, errUsage) {
		t.Fatalf("%v is not a usage error", err)
	}
}

func TestRunConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ name, toml, want string }{
		{"unknown plugin key", "[[plugin]]\npath = \"a.wasm\"\npth = 1\n", "plugin.pth"},
		{"plugin without path", "[[plugin]]\nname = \"a\"\n", "plugin[0].path"},
		{"bad isolation", "[host]\nisolation = \"vm\"\n", "host.isolation"},
		{"bad plugin isolation", "[[plugin]]\npath = \"a.wasm\"\nisolation = \"x\"\n", "plugin[0].isolation"},
		{"negative risk", "[risk]\nmax_position = -1.0\n", "risk.max_position"},
		{"negative plugin risk", "[[plugin]]\npath = \"a.wasm\"\n[plugin.risk]\nmax_open_orders = -2\n", "max_open_orders"},
		{"unknown risk key", "[risk]\nmax_pos = 1\n", "risk.max_pos"},
		{"no name", "[[plugin]]\npath = \"dir/.wasm\"\n", `plugin[0].path "dir/.wasm" gives the plugin no name`},
		{"same name twice", "[[plugin]]\npath = \"a.wasm\"\n[[plugin]]\npath = \"b/a.wasm\"\n", `two plugins are named "a"`},
		{"bad url", "[exchange]\nurl = \"https://x\"\n", "exchange.url"},
		{"bad auth", "[exchange]\nauth = \"password\"\n", "exchange.auth"},
		{"bad budget", "[[plugin]]\npath = \"a.wasm\"\ncall_budget = \"soon\"\n", "call_budget"},
		{"memory over 4 GiB", "[[plugin]]\npath = \"a.wasm\"\nmemory_limit_pages = 70000\n", "memory_limit_pages"},
		{"bad pool size", "[pool]\nsize = 40\n", "size"},
		{"bad pool policy", "[pool]\npolicy = \"random\"\n", "policy"},
		{"split without a size", "[pool]\npolicy = \"split\"\n", "split_above"},
		{"one chunk", "[pool]\npolicy = \"split\"\nsplit_above = 10\nsplit_chunks = 1\n", "split_chunks"},
		{"bad limiter margin", "[pool.limits]\nmargin = 1.5\n", "pool.limits"},
		{"bad limiter reserve", "[pool.limits]\nreserve = 1.0\n", "reserve"},
		{"timer_min over a minute", "[[plugin]]\npath = \"a.wasm\"\ntimer_min = \"2m\"\n", "plugin[0].timer_min"},
		{"negative rate weight", "[[plugin]]\npath = \"a.wasm\"\nrate_weight = -1.0\n", "plugin[0].rate_weight"},
		{"backstop below the budget", "[[plugin]]\npath = \"a.wasm\"\ncall_budget = \"100ms\"\ncall_backstop = \"50ms\"\n",
			"plugin[0].call_backstop 50ms is below call_budget 100ms"},
		{"backstop below the default budget", "[[plugin]]\npath = \"a.wasm\"\ncall_backstop = \"10ms\"\n",
			"plugin[0].call_backstop 10ms is below call_budget 50ms"},
		{"bad backstop", "[[plugin]]\npath = \"a.wasm\"\ncall_backstop = \"later\"\n", "call_backstop"},
		{"negative backstop", "[[plugin]]\npath = \"a.wasm\"\ncall_backstop = \"-1s\"\n", "call_backstop"},
		{"bad priority", "[[plugin]]\npath = \"a.wasm\"\npriority = \"low\"\n", `plugin[0].priority: priority "low": want "normal", "nice:N"`},
		{"niceness out of range", "[[plugin]]\npath = \"a.wasm\"\npriority = \"nice:25\"\n", "plugin[0].priority: priority \"nice:25\": niceness \"25\": want 0 to 19"},
		{"priority in process", "[[plugin]]\npath = \"a.wasm\"\nisolation = \"none\"\npriority = \"idle\"\n", `plugin[0].priority "idle": a priority is for a child process`},
		{"priority in process, host-wide", "[host]\nisolation = \"none\"\n[[plugin]]\npath = \"a.wasm\"\npriority = \"batch\"\n", `plugin[0].priority "batch"`},
		{"unknown limiter key", "[pool.limits]\nrate = 1\n", "pool.limits.rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("test.toml", []byte(tc.toml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}

// A plugin's free params table reaches it as param records: nested tables
// as dotted keys, TOML types kept, anything else as TOML text.
func TestPluginParams(t *testing.T) {
	cfg, err := parseConfig("test.toml", []byte(`
[[plugin]]
path = "a.wasm"
[plugin.params]
name = "x"
size = 10
spread = 2.5
on = true
levels = [1, 2, 3]
[plugin.params.quote]
skew = -1
`))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := params(cfg.Plugins[0].Params)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]abi.Param{}
	for _, p := range ps {
		got[p.Key] = p
	}
	want := map[string]abi.Param{
		"name": {Type: abi.ParamString, Key: "name", Text: "x"}, "size": {Type: abi.ParamInt, Key: "size", Int: 10},
		"spread": {Type: abi.ParamFloat, Key: "spread", Float: 2.5}, "on": {Type: abi.ParamBool, Key: "on", Bool: true},
		"levels": {Type: abi.ParamTOML, Key: "levels", Text: "[1, 2, 3]"}, "quote.skew": {Type: abi.ParamInt, Key: "quote.skew", Int: -1},
	}
	if len(got) != len(want) {
		t.Fatalf("params %+v", ps)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %+v, want %+v", k, got[k], w)
		}
	}
}

// host run reads the account's rate limits once connected (the simulator
// here is a tier-4 account: 5 requests/s, burst 20), unless told not to.
func TestRunReadsAccountLimits(t *testing.T) {
	wasm, err := filepath.Abs("../../plugins/examples/minimal-wat/minimal-wat.wasm")
	if err != nil {
		t.Fatal(err)
	}
	for _, fromAccount := range []bool{true, false} {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "host.toml")
		toml := fmt.Sprintf(`
[sim.rate_limits]
matching_rate = 5
matching_burst = 20
[pool.limits]
from_account = %v
[host]
cache_dir = %q
status = "0s"
[[plugin]]
path = %q
call_budget = "5s"
`, fromAccount, testCacheDir, wasm)
		if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"run", "--config", cfg, "--duration", "500ms"}, &out, &errb); err != nil {
			t.Fatalf("run: %v\n%s\n%s", err, out.String(), errb.String())
		}
		read := strings.Contains(out.String(), "rate limits from the account: matching 5/s (burst 20)")
		if read != fromAccount {
			t.Fatalf("from_account = %v, read %v:\n%s", fromAccount, read, out.String())
		}
	}
}

// call_backstop and priority reach the plugin's config and its child's
// limits; a backstop equal to the budget is accepted.
func TestBudgetAndPriorityKeys(t *testing.T) {
	cfg, err := parseConfig("test.toml", []byte(`
[[plugin]]
path = "a.wasm"
call_budget = "20ms"
call_backstop = "20ms"
priority = "batch:5"

[[plugin]]
path = "b.wasm"
call_backstop = "3s"
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Plugins[0], cfg.Plugins[1]
	if a.CallBackstop.Duration != 20*time.Millisecond || b.CallBackstop.Duration != 3*time.Second {
		t.Errorf("call_backstop %v and %v, want 20ms and 3s", a.CallBackstop, b.CallBackstop)
	}
	if p, err := a.priority("a"); err != nil || p != (sandbox.Priority{Class: sandbox.PriorityBatch, Nice: 5}) {
		t.Errorf("priority %+v, %v; want batch:5", p, err)
	}
	if p, err := b.priority("b"); err != nil || p != (sandbox.Priority{}) {
		t.Errorf("no priority key: %+v, %v; want the zero Priority (the default)", p, err)
	}
}
