package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/control"
	"github.com/stratbox/stratbox/host"
)

// fakeRisk is a riskEngine that records what it is given.
type fakeRisk struct {
	sets []host.RiskSet
	err  error
}

func (f *fakeRisk) SetRisk(s host.RiskSet) error {
	if f.err != nil {
		return f.err
	}
	f.sets = append(f.sets, s)
	return nil
}

const reloadBase = `
[pool]
size = 2
[risk]
max_order_amount = 100
max_position = 500
[[plugin]]
name = "mm"
path = "mm.wasm"
[plugin.params]
size = 10
[[plugin]]
name = "taker"
path = "taker.wasm"
[plugin.risk]
max_position = 70
`

// newTestReloader starts a reloader on the config text base and returns
// it with the function that replaces the file's text.
func newTestReloader(t *testing.T, base string) (*reloader, *fakeRisk, func(string)) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "host.toml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(base)
	f := &runFlags{config: path}
	c, err := f.load(nil)
	if err != nil {
		t.Fatal(err)
	}
	eng := &fakeRisk{}
	return newReloader(c, func() (fileConfig, error) { return f.load(nil) }, eng), eng, write
}

// A reload applies changed limits to the engine, all in one set, lists
// their keys, and lists the changes that take a restart (a plugin's params,
// the pool, a plugin added) without applying them.
func TestReloadAppliesLimitsAndReportsTheRest(t *testing.T) {
	r, eng, write := newTestReloader(t, reloadBase)
	res, err := r.reload()
	if err != nil || len(res.Applied) != 0 || len(res.Restart) != 0 || len(eng.sets) != 0 {
		t.Fatalf("a reload of the same file: %+v, %v, %d sets", res, err, len(eng.sets))
	}

	next := strings.Replace(reloadBase, "max_order_amount = 100", "max_order_amount = 40", 1)
	next = strings.Replace(next, "max_position = 70", "max_position = 20\nmax_open_orders = 3", 1)
	next = strings.Replace(next, "size = 10", "size = 20", 1)
	next = strings.Replace(next, "size = 2", "size = 3", 1)
	next += "[[plugin]]\nname = \"new\"\npath = \"new.wasm\"\n"
	write(next)
	res, err = r.reload()
	if err != nil {
		t.Fatal(err)
	}
	wantApplied := []string{"plugin[taker].risk.max_open_orders", "plugin[taker].risk.max_position", "risk.max_order_amount"}
	wantRestart := []string{"plugin[mm].params.size", "plugin[new]", "pool.size"}
	if !slices.Equal(res.Applied, wantApplied) || !slices.Equal(res.Restart, wantRestart) {
		t.Fatalf("applied %q, restart %q; want %q and %q", res.Applied, res.Restart, wantApplied, wantRestart)
	}
	if len(eng.sets) != 1 {
		t.Fatalf("%d SetRisk calls, want 1", len(eng.sets))
	}
	s := eng.sets[0]
	fx := func(v int64) abi.Fixed { return abi.Fixed(v) * abi.FixedScale }
	if s.Default.MaxOrderAmount != fx(40) || s.Plugins["mm"].MaxOrderAmount != fx(40) || s.Plugins["mm"].MaxPosition != fx(500) ||
		s.Plugins["taker"].MaxPosition != fx(20) || s.Plugins["taker"].MaxOpenOrders != 3 || s.Plugins["taker"].MaxOrderAmount != fx(40) {
		t.Fatalf("the limits set: %+v", s)
	}
	if _, ok := s.Plugins["new"]; ok {
		t.Fatal("limits set for a plugin that does not run")
	}

	// The same file again: the limits are in force, the rest still waits
	// for a restart.
	res, err = r.reload()
	if err != nil || len(res.Applied) != 0 || !slices.Equal(res.Restart, wantRestart) || len(eng.sets) != 1 {
		t.Fatalf("a second reload: %+v, %v, %d sets", res, err, len(eng.sets))
	}
	// A plugin removed from the file is reported, and keeps its limits
	// until the restart; the others' limits still change.
	write(strings.Replace(reloadBase, "[[plugin]]\nname = \"taker\"\npath = \"taker.wasm\"\n[plugin.risk]\nmax_position = 70\n", "", 1))
	res, err = r.reload()
	if err != nil || !slices.Contains(res.Restart, "plugin[taker]") || !slices.Equal(res.Applied, []string{"risk.max_order_amount"}) {
		t.Fatalf("taker removed: %+v, %v", res, err)
	}
	if s := eng.sets[len(eng.sets)-1]; s.Default.MaxOrderAmount != fx(100) || len(s.Plugins) != 1 {
		t.Fatalf("taker removed: set %+v, want [risk] back to 100 and mm's limits only", s)
	}
}

// A file that does not parse, or that holds an invalid value, refuses the
// reload with an error naming the key, and nothing reaches the engine; a
// later good file is applied.
func TestReloadRefusesABadFile(t *testing.T) {
	r, eng, write := newTestReloader(t, reloadBase)
	for _, tc := range []struct{ text, want string }{
		{strings.Replace(reloadBase, "max_order_amount = 100", "max_order_amount = -5", 1), "risk.max_order_amount"},
		{strings.Replace(reloadBase, "max_position = 70", "max_position = 70\nmax_open_orders = -1", 1), "max_open_orders is negative"},
		{strings.Replace(reloadBase, "max_order_amount = 100", "max_order_amount = 40\nmax_oder_amount = 1", 1), "risk.max_oder_amount"},
		{strings.Replace(reloadBase, "size = 2", "size = -1", 1), "pool"},
		{reloadBase + "[[plugin\n", "toml"},
		{reloadBase + "[[sim.keys]]\nid = \"a\"\nsecret = \"s3cr3t\\q\"\n", "withheld"},
	} {
		write(tc.text)
		_, err := r.reload()
		if !errors.Is(err, control.ErrBadRequest) || !strings.Contains(err.Error(), "nothing changed") || !strings.Contains(err.Error(), tc.want) ||
			strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%q: %v, want a refusal naming %q", tc.want, err, tc.want)
		}
	}
	if len(eng.sets) != 0 {
		t.Fatalf("refused reloads reached the engine: %+v", eng.sets)
	}
	write(strings.Replace(reloadBase, "max_order_amount = 100", "max_order_amount = 40", 1))
	if res, err := r.reload(); err != nil || !slices.Equal(res.Applied, []string{"risk.max_order_amount"}) || len(eng.sets) != 1 {
		t.Fatalf("a good file after bad ones: %+v, %v", res, err)
	}
	// The engine's refusal refuses the reload, and the next one tries again.
	eng.err = errors.New("host: no")
	write(strings.Replace(reloadBase, "max_order_amount = 100", "max_order_amount = 30", 1))
	if _, err := r.reload(); err == nil || !strings.Contains(err.Error(), "host: no") {
		t.Fatalf("the engine refused: %v", err)
	}
	eng.err = nil
	if res, err := r.reload(); err != nil || !slices.Equal(res.Applied, []string{"risk.max_order_amount"}) {
		t.Fatalf("after the engine's refusal: %+v, %v", res, err)
	}
	// Without a configuration file there is nothing to re-read.
	var none *reloader
	if _, err := none.reload(); !errors.Is(err, control.ErrBadRequest) || !strings.Contains(err.Error(), "without --config") {
		t.Fatalf("no file: %v", err)
	}
}

// host ctl reload against a running host run: a lowered [risk] limit is in
// force (status shows it), a change that takes a restart is reported, a
// bad file is refused naming the key and changes nothing.
func TestCtlReloadAgainstHostRun(t *testing.T) {
	wasm := buildExample(t, "marketmaker")
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl.sock")
	body := func(maxOrder, size string) string {
		return fmt.Sprintf(`
[exchange]
heartbeat_interval = "100ms"
[host]
cache_dir = %q
status = "0s"
isolation = "none"
[control]
socket = %q
[risk]
max_order_amount = %s
[[plugin]]
name = "mm"
path = %q
[plugin.params]
half_spread_bps = 0.5
size = %s
`, testCacheDir, sock, maxOrder, wasm, size)
	}
	cfg := writeSimConfig(t, dir, body("1000", "100"))
	startHostRun(t, cfg, sock, func(st control.Status) bool {
		return len(st.Plugins) == 1 && st.Plugins[0].Calls > 0
	})
	rewrite := func(text string) {
		if err := os.WriteFile(cfg, []byte("[sim]\ntick = \"20ms\"\n[sim.rate_limits]\ndisabled = true\n"+text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		text string
		args []string
		want string
		fail bool
	}{
		{"", []string{"status"}, "risk.max_order_amount = 1000", false},
		{"", []string{"reload"}, "nothing that can change live changed", false},
		{body("50", "200"), []string{"reload"}, "reloaded: risk.max_order_amount in force", false},
		{"", []string{"status"}, "risk.max_order_amount = 50", false},
		{"", []string{"reload"}, "host restarts (a plugin's params also with host ctl swap --param): plugin[mm].params.size", false},
		{body("-3", "200"), []string{"reload"}, "risk.max_order_amount: -3 is not an amount", true},
		{"", []string{"status"}, "risk.max_order_amount = 50", false},
	}
	for _, s := range steps {
		if s.text != "" {
			rewrite(s.text)
		}
		got, err := ctl(append([]string{"--socket", sock}, s.args...)...)
		if (err != nil) != s.fail || !strings.Contains(got+fmt.Sprint(err), s.want) {
			t.Errorf("ctl %q: %v\n%s\nwant %q", s.args, err, got, s.want)
		}
	}
}
