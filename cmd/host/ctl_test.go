package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/control"
)

// ctlHost is a control.Host with one plugin, "mm".
type ctlHost struct{ swapped string }

func (h *ctlHost) known(name string) error {
	if name != "mm" {
		return errors.Join(control.ErrUnknownPlugin, errors.New(`unknown plugin "`+name+`" (plugins: mm)`))
	}
	return nil
}
func (h *ctlHost) Status(context.Context) (control.Status, error) {
	return control.Status{Version: "v-test", Exchange: "sim", OpenOrder: 2,
		Plugins: []control.Plugin{{Name: "mm", State: "running", Calls: 12, OpenOrders: 2,
			Positions: []control.Position{{Instrument: "BTC-PERPETUAL", Size: 20, AvgPrice: 60000.5}}}},
		Pool:   control.Pool{Healthy: 3, Size: 3, Connections: []control.Connection{{ID: 1, State: "ready", Answered: 9, AnswerP99: "31µs"}}},
		Limits: []control.Limit{{Key: "risk.max_position", Value: "1000"}}}, nil
}
func (h *ctlHost) Kill(context.Context) (int, error)               { return 2, nil }
func (h *ctlHost) Pause(_ context.Context, n string, _ bool) error { return h.known(n) }
func (h *ctlHost) Resume(_ context.Context, n string) error        { return h.known(n) }
func (h *ctlHost) Reload(context.Context) (control.Reload, error) {
	return control.Reload{}, control.ErrUnsupported
}
func (h *ctlHost) Swap(_ context.Context, n, f string, p map[string]string) (control.Swapped, error) {
	if err := h.known(n); err != nil {
		return control.Swapped{}, err
	}
	h.swapped = f + " " + p["size"]
	return control.Swapped{Adopted: 2, FirstCID: 9}, nil
}

func ctlServe(t *testing.T, h control.Host) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.sock")
	ln, err := control.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- control.Serve(ctx, ln, h) }()
	t.Cleanup(func() { cancel(); <-done })
	return path
}

func ctl(args ...string) (string, error) {
	var out, errb bytes.Buffer
	err := run(context.Background(), append([]string{"ctl"}, args...), &out, &errb)
	return out.String() + errb.String(), err
}

func TestCtlCommands(t *testing.T) {
	h := &ctlHost{}
	sock := ctlServe(t, h)
	wasm := filepath.Join(t.TempDir(), "mm2.wasm")
	if err := os.WriteFile(wasm, []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"status"}, "mm      running  12"},
		{[]string{"status"}, "pool: 3 of 3 connections healthy"},
		{[]string{"status"}, "risk.max_position = 1000"},
		{[]string{"status", "--json"}, `"avg_price": 60000.5`},
		{[]string{"kill"}, "2 orders cancelled"},
		{[]string{"pause", "mm"}, "its orders stay"},
		{[]string{"pause", "--cancel", "mm"}, "its orders cancelled"},
		{[]string{"pause", "mm", "--cancel"}, "its orders cancelled"},
		{[]string{"resume", "mm"}, "mm resumed"},
		{[]string{"swap", "mm", wasm, "--param", "size=20"}, "none cancelled"},
	} {
		out, err := ctl(append([]string{"--socket", sock}, c.args...)...)
		if err != nil || !strings.Contains(out, c.want) {
			t.Errorf("ctl %q: %v\n%s\nwant %q", c.args, err, out, c.want)
		}
	}
	if h.swapped != wasm+" 20" {
		t.Errorf("swap reached the host as %q", h.swapped)
	}
}

// Every failure says what went wrong: no host, an unknown plugin, what the
// host does not support, bad arguments, a token file others can read.
func TestCtlErrors(t *testing.T) {
	sock := ctlServe(t, &ctlHost{})
	dir := t.TempDir()
	loose := filepath.Join(dir, "token")
	if err := os.WriteFile(loose, []byte("0123456789abcdef0123\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"--socket", filepath.Join(dir, "none.sock"), "status"}, false, "no host is listening at " + filepath.Join(dir, "none.sock")},
		{[]string{"--socket", sock, "resume", "nope"}, false, `unknown plugin "nope" (plugins: mm)`},
		{[]string{"--socket", sock, "reload"}, false, "not supported"},
		{[]string{"--socket", sock, "swap", "mm", filepath.Join(dir, "missing.wasm")}, false, "missing.wasm"},
		{[]string{"--socket", sock}, true, "no command"},
		{[]string{"--socket", sock, "frob"}, true, `unknown command "frob"`},
		{[]string{"--socket", sock, "pause"}, true, "takes 1 argument"},
		{[]string{"--socket", sock, "kill", "now"}, true, "takes 0 argument"},
		{[]string{"--socket", sock, "swap", "mm", "x.wasm", "--param", "nokey"}, true, "want k=v"},
		{[]string{"--socket", sock, "--url", "http://127.0.0.1:1", "status"}, true, "not both"},
		{[]string{"--url", "http://127.0.0.1:1", "status"}, true, "needs --token-file"},
		{[]string{"--url", "127.0.0.1:7400", "status"}, true, "want http://"},
		{[]string{"--url", "http://127.0.0.1:1", "--token-file", loose, "status"}, false, "readable or writable by group or others"},
	} {
		out, err := ctl(c.args...)
		if err == nil || errors.Is(err, errUsage) != c.usage || !strings.Contains(err.Error()+out, c.want) {
			t.Errorf("ctl %q: %v (usage error: %v)\n%s\nwant %q", c.args, err, errors.Is(err, errUsage), out, c.want)
		}
	}
}

func TestControlConfig(t *testing.T) {
	for _, c := range []struct{ toml, want string }{
		{"[control]\nhttp = \"0.0.0.0:7000\"\ntoken_file = \"t\"\n", "beyond loopback"},
		{"[control]\nhttp = \"127.0.0.1:7000\"\n", "needs control.token_file"},
		{"[control]\ntoken_file = \"t\"\n", "without control.http"},
		{"[control]\nhttp = \"7000\"\ntoken_file = \"t\"\n", "want host:port"},
		{"[control]\nsockett = \"/x\"\n", "control.sockett"},
	} {
		if _, err := parseConfig("t.toml", []byte(c.toml)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.toml, err, c.want)
		}
	}
	cfg, err := parseConfig("t.toml", []byte("[control]\nsocket = \"/run/me/h.sock\"\nhttp = \"127.0.0.1:7000\"\ntoken_file = \"/etc/tok\"\n"))
	if err != nil || cfg.Control.Socket != "/run/me/h.sock" || cfg.Control.HTTP != "127.0.0.1:7000" {
		t.Errorf("%+v, %v", cfg.Control, err)
	}
}

// lockedBuffer is an io.Writer safe for the run's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// host ctl against a running host run: status names the plugin and the
// pool, pause and resume change its state, swap replaces its module
// (and refuses, saying why, an unknown plugin, a file that is not a
// module, a module that fails at start, a paused plugin), kill throws the
// kill switch; reload says nothing changed; an unknown plugin is
// named.
func TestCtlAgainstHostRun(t *testing.T) {
	wasm := buildExample(t, "marketmaker")
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl.sock")
	cfg := writeSimConfig(t, dir, fmt.Sprintf(`
[exchange]
heartbeat_interval = "100ms"
[host]
cache_dir = %q
status = "0s"
isolation = "none"
[control]
socket = %q
[[plugin]]
name = "mm"
path = %q
call_budget = "10s" # a machine under load (-race) must not fault it: the swaps need it running
init_budget = "60s"
[plugin.params]
half_spread_bps = 0.5
size = 100
`, testCacheDir, sock, wasm))
	notWasm := filepath.Join(dir, "notes.wasm")
	if err := os.WriteFile(notWasm, []byte("not a module"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, out := startHostRun(t, cfg, sock, func(st control.Status) bool {
		return len(st.Plugins) == 1 && st.Plugins[0].Calls > 0 && st.Pool.Healthy == st.Pool.Size
	})
	for _, c := range []struct {
		args []string
		want string
		fail bool
	}{
		{[]string{"status"}, "mm", false},
		{[]string{"status"}, "risk.intents_per_second = 100", false},
		{[]string{"pause", "mm"}, "mm paused", false},
		{[]string{"status"}, "paused", false},
		{[]string{"pause", "mm"}, "paused already", true},
		{[]string{"resume", "mm"}, "mm resumed", false},
		{[]string{"resume", "zz"}, `unknown plugin "zz" (plugins: mm)`, true},
		{[]string{"swap", "mm", wasm, "--param", "size=200"}, "mm now runs " + wasm, false},
		{[]string{"status"}, "SWAPS", false},
		{[]string{"swap", "zz", wasm}, `unknown plugin "zz" (plugins: mm)`, true},
		{[]string{"swap", "mm", notWasm}, "is not a module this host runs (mm keeps running)", true},
		{[]string{"swap", "mm", wasm, "--param", "half_spread_bps=-1"}, "did not start (the old one keeps running)", true},
		{[]string{"pause", "mm"}, "mm paused", false},
		{[]string{"swap", "mm", wasm}, "is paused: resume it first", true},
		{[]string{"resume", "mm"}, "mm resumed", false},
		{[]string{"reload"}, "nothing that can change live changed", false},
		{[]string{"kill"}, "kill switch on", false},
		{[]string{"status", "--json"}, `"killed": true`, false},
	} {
		got, err := ctl(append([]string{"--socket", sock}, c.args...)...)
		if (err != nil) != c.fail || !strings.Contains(got+fmt.Sprint(err), c.want) {
			t.Errorf("ctl %q: %v\n%s\nwant %q", c.args, err, got, c.want)
		}
	}
	if !strings.Contains(out.String(), "control: "+sock) {
		t.Errorf("host run did not say where its control socket is:\n%s", out.String())
	}
}

// startHostRun runs `host run --config cfg` until the test ends (then
// cancels it and checks it ended cleanly) and waits, through the control
// socket sock, until ready accepts the host's status: the module compiles
// first, which takes minutes under -race on a loaded machine.
func startHostRun(t *testing.T, cfg, sock string, ready func(control.Status) bool) (*control.Client, *lockedBuffer) {
	t.Helper()
	c, out, _ := startHostRunArgs(t, []string{"--config", cfg}, sock, ready)
	return c, out
}

// startHostRunArgs is startHostRun with the arguments of run, and a stop
// that ends the run before the test does (cancels it and checks that it
// ended cleanly; the cleanup then does nothing).
func startHostRunArgs(t *testing.T, args []string, sock string, ready func(control.Status) bool) (*control.Client, *lockedBuffer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"run"}, args...), out, out) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v\n%s", err, out.String())
			}
		})
	}
	t.Cleanup(stop)
	c, err := control.NewClient(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Minute) // a failsafe against a hang, not a verdict
	for {
		st, err := c.Status(context.Background())
		if err == nil && ready(st) {
			return c, out, stop
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("the host never answered with a running plugin: %v\n%s", err, out.String())
		case err := <-done:
			done <- nil // for the cleanup's wait
			t.Fatalf("run ended: %v\n%s", err, out.String())
		}
	}
}
