package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/record"
)

func TestParseSweep(t *testing.T) {
	p, err := ParseSweep("half_spread_bps=0.5, 1,2")
	if err != nil || p.Plugin != "" || p.Key != "half_spread_bps" || !reflect.DeepEqual(p.Values, []string{"0.5", "1", "2"}) {
		t.Errorf("%+v, %v", p, err)
	}
	p, err = ParseSweep("mm.size=10")
	if err != nil || p.Plugin != "mm" || p.Key != "size" {
		t.Errorf("%+v, %v", p, err)
	}
	for _, bad := range []string{"size", "=1,2", "size=", "size=1,,2", "size=1,1"} {
		if _, err := ParseSweep(bad); err == nil {
			t.Errorf("ParseSweep(%q) accepted", bad)
		}
	}
}

func openFile(path string) func() (record.Reader, io.Closer, error) {
	return func() (record.Reader, io.Closer, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		rd, err := record.Open(f)
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		return rd, f, nil
	}
}

// table is a sweep's figures, as host replay --sweep prints them.
func table(runs []SweepRun) string {
	var b strings.Builder
	for _, r := range runs {
		fmt.Fprintf(&b, "%v pnl=%.10f realized=%.10f fills=%d pos=[%g,%g] dd=%.10f refused=%d rejected=%d faults=%d err=%v\n",
			r.Values, r.PnL, r.Realized, r.Fills, r.MinPosition, r.MaxPosition, r.MaxDrawdown, r.Refused, r.Rejected, r.Faults, r.Err)
	}
	return b.String()
}

// A sweep replays every combination, each as deterministic as one replay:
// the same table twice, with one job or two; the parameters reach the
// plugin (the combinations differ); a combination the plugin refuses fails
// alone.
func TestSweepDeterministic(t *testing.T) {
	cache, err := compileCache()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Fill: FillSim, Plugins: []Plugin{{Name: "marketmaker", Wasm: exampleWasm(t, "marketmaker"), Params: goldenParams["marketmaker"]}}}
	params := []SweepParam{{Key: "half_spread_bps", Values: []string{"0.5", "0.25"}}, {Key: "size", Values: []string{"10", "30", "-5"}}}
	open := openFile(filepath.Join(replayDir, "sim-run.rec"))
	runs, err := Sweep(context.Background(), open, cfg, params, 2, WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	first := table(runs)
	if len(runs) != 6 || !reflect.DeepEqual(runs[0].Values, []string{"0.5", "10"}) || !reflect.DeepEqual(runs[5].Values, []string{"0.25", "-5"}) {
		t.Fatalf("combinations:\n%s", first)
	}
	distinct := map[string]bool{}
	for _, r := range runs {
		if r.Values[1] == "-5" {
			if r.Err != nil || r.Faults == 0 || r.Fills != 0 {
				t.Errorf("%v: %v, %d faults, %d fills; want the plugin's refusal of its size as faults", r.Values, r.Err, r.Faults, r.Fills)
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("%v: %v", r.Values, r.Err)
			continue
		}
		if r.Fills == 0 {
			t.Errorf("%v: no fills", r.Values)
		}
		distinct[fmt.Sprintf("%d %g %g", r.Fills, r.MaxPosition, r.PnL)] = true
	}
	if len(distinct) < 3 {
		t.Errorf("the parameters do not reach the plugin: %d distinct outcomes of 4\n%s", len(distinct), first)
	}
	if cfg.Plugins[0].Params[1].Int != 10 {
		t.Error("the sweep changed the caller's Config")
	}
	again, err := Sweep(context.Background(), open, cfg, params, 1, WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	if second := table(again); second != first {
		t.Errorf("a sweep twice (2 jobs, then 1):\n%s\n%s", first, second)
	}
}

func TestSweepErrors(t *testing.T) {
	open := openFile(filepath.Join(replayDir, "sim-run.rec"))
	one := Config{Plugins: []Plugin{{Name: "mm", Wasm: []byte("x")}}}
	two := Config{Plugins: []Plugin{{Name: "mm", Wasm: []byte("x")}, {Name: "tk", Wasm: []byte("x")}}}
	size := SweepParam{Key: "size", Values: []string{"1"}}
	for _, c := range []struct {
		cfg    Config
		params []SweepParam
		opts   []Option
		want   string
	}{
		{one, nil, nil, "no parameter"},
		{two, []SweepParam{size}, nil, "name the plugin (plugin.size)"},
		{two, []SweepParam{{Plugin: "q", Key: "size", Values: []string{"1"}}}, nil, `no plugin "q" (plugins: mm, tk)`},
		{one, []SweepParam{size, size}, nil, "mm.size is swept twice"},
		{one, []SweepParam{{Key: "size"}}, nil, "no values"},
		{one, []SweepParam{size}, []Option{WithOutput(io.Discard)}, "WithOutput"},
		{Config{}, []SweepParam{size}, nil, "no plugins"},
	} {
		_, err := Sweep(context.Background(), open, c.cfg, c.params, 1, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.params, err, c.want)
		}
	}
	runs, err := Sweep(context.Background(), func() (record.Reader, io.Closer, error) { return nil, nil, errors.New("gone") }, one, []SweepParam{size}, 1)
	if err != nil || len(runs) != 1 || runs[0].Err == nil || runs[0].Err.Error() != "gone" {
		t.Errorf("a recording that cannot be opened: %v %+v", err, runs)
	}
}
