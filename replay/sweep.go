package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/record"
)

// SweepParam is one swept parameter: the values a plugin's parameter takes
// in turn. Values are typed as the configuration file types them: true or
// false a bool, an integer an int, a number a float, anything else a
// string.
type SweepParam struct {
	Plugin string // the plugin's name; "" when the Config has one plugin
	Key    string
	Values []string
}

// ParseSweep reads a --sweep flag: "key=v1,v2,…" or "plugin.key=v1,v2,…".
func ParseSweep(s string) (SweepParam, error) {
	k, vs, ok := strings.Cut(s, "=")
	if !ok || k == "" || vs == "" {
		return SweepParam{}, fmt.Errorf("sweep %q: want key=v1,v2,… or plugin.key=v1,v2,…", s)
	}
	p := SweepParam{Key: k}
	if plugin, key, ok := strings.Cut(k, "."); ok {
		p.Plugin, p.Key = plugin, key
	}
	for _, v := range strings.Split(vs, ",") {
		if v = strings.TrimSpace(v); v == "" {
			return SweepParam{}, fmt.Errorf("sweep %q: an empty value", s)
		}
		if slices.Contains(p.Values, v) {
			return SweepParam{}, fmt.Errorf("sweep %q: %s twice", s, v)
		}
		p.Values = append(p.Values, v)
	}
	return p, nil
}

// SweepRun is one combination of a sweep and what its replay did.
type SweepRun struct {
	// Values are the combination, in the order of the sweep's parameters.
	Values []string
	Result *Result
	Err    error
	// Figures, over all plugins and instruments of the replay (PnL sums
	// each instrument's in its settlement currency: compare runs of one
	// currency).
	PnL         float64 // realized + unrealized at the end, fees included
	Realized    float64
	Fills       uint64
	MinPosition float64 // the lowest and highest position of any instrument
	MaxPosition float64
	MaxDrawdown float64 // the largest fall of PnL from a running peak (≥ 0)
	Refused     uint64  // intents the host refused (validation, risk)
	Rejected    uint64  // orders the exchange refused
	Faults      uint64  // plugin faults (a parameter the plugin refuses is one)
}

// Sweep replays a recording once for every combination of the values of
// params (the first parameter varies slowest), jobs replays at a time (0:
// one per CPU), each as deterministic as Run: the same recording, config
// and combination give the same figures whatever the jobs. open opens the
// recording anew for each replay; opts are Run's (WithCache, WithLogger,
// WithChannels; not the single replay's WithOutput, WithProgress and
// WithReport). A replay that fails has its Err set; Sweep's own error is
// for a sweep that cannot start.
func Sweep(ctx context.Context, open func() (record.Reader, io.Closer, error), cfg Config, params []SweepParam, jobs int, opts ...Option) ([]SweepRun, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(params) == 0 {
		return nil, errors.New("replay: sweep: no parameter to sweep")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.out != nil || o.progress != nil || o.report {
		return nil, errors.New("replay: sweep: WithOutput, WithProgress and WithReport are a single replay's (the runs of a sweep go in parallel)")
	}
	targets := make([]int, len(params))
	seen := map[string]bool{}
	n := 1
	for i, p := range params {
		t, err := sweepTarget(cfg, p)
		if err != nil {
			return nil, err
		}
		if id := cfg.Plugins[t].Name + "." + p.Key; seen[id] {
			return nil, fmt.Errorf("replay: sweep: %s is swept twice", id)
		} else {
			seen[id] = true
		}
		if len(p.Values) == 0 {
			return nil, fmt.Errorf("replay: sweep: %s has no values", p.Key)
		}
		targets[i] = t
		n *= len(p.Values)
		if n > 10000 {
			return nil, fmt.Errorf("replay: sweep: more than 10000 combinations")
		}
	}
	runs := make([]SweepRun, n)
	for i := range runs {
		rest := i
		runs[i].Values = make([]string, len(params))
		for j := len(params) - 1; j >= 0; j-- {
			runs[i].Values[j] = params[j].Values[rest%len(params[j].Values)]
			rest /= len(params[j].Values)
		}
	}
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(jobs, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				runs[i].run(ctx, open, withValues(cfg, params, targets, runs[i].Values), opts)
			}
		}()
	}
	for i := range runs {
		if ctx.Err() != nil {
			runs[i].Err = ctx.Err()
			continue
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return runs, nil
}

// sweepTarget is the index of the plugin a swept parameter belongs to.
func sweepTarget(cfg Config, p SweepParam) (int, error) {
	if p.Key == "" {
		return 0, errors.New("replay: sweep: a parameter without a key")
	}
	if p.Plugin == "" {
		if len(cfg.Plugins) != 1 {
			return 0, fmt.Errorf("replay: sweep %s: %d plugins: name the plugin (plugin.%s)", p.Key, len(cfg.Plugins), p.Key)
		}
		return 0, nil
	}
	var names []string
	for i, pc := range cfg.Plugins {
		if pc.Name == p.Plugin {
			return i, nil
		}
		names = append(names, pc.Name)
	}
	return 0, fmt.Errorf("replay: sweep %s.%s: no plugin %q (plugins: %s)", p.Plugin, p.Key, p.Plugin, strings.Join(names, ", "))
}

// withValues is cfg with one combination's values set (a copy: the
// caller's Config and its plugins' Params are not touched).
func withValues(cfg Config, params []SweepParam, targets []int, values []string) Config {
	c := cfg
	c.Plugins = slices.Clone(cfg.Plugins)
	for i, p := range params {
		pc := &c.Plugins[targets[i]]
		pc.Params = slices.DeleteFunc(slices.Clone(pc.Params), func(x abi.Param) bool { return x.Key == p.Key })
		pc.Params = append(pc.Params, typedParam(p.Key, values[i]))
		slices.SortFunc(pc.Params, func(a, b abi.Param) int { return strings.Compare(a.Key, b.Key) })
	}
	return c
}

// typedParam types a swept value as the configuration file would.
func typedParam(key, v string) abi.Param {
	switch {
	case v == "true" || v == "false":
		return abi.Param{Type: abi.ParamBool, Key: key, Bool: v == "true"}
	}
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return abi.Param{Type: abi.ParamInt, Key: key, Int: i}
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return abi.Param{Type: abi.ParamFloat, Key: key, Float: f}
	}
	return abi.Param{Type: abi.ParamString, Key: key, Text: v}
}

// run replays one combination and computes its figures.
func (r *SweepRun) run(ctx context.Context, open func() (record.Reader, io.Closer, error), cfg Config, opts []Option) {
	rd, closer, err := open()
	if err != nil {
		r.Err = err
		return
	}
	defer closer.Close()
	res, err := Run(ctx, rd, cfg, append(slices.Clone(opts), WithReport())...)
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("replay: sweep: interrupted after %d frames: %w", res.Frames, ctx.Err()) // its figures would be partial
	}
	if err != nil {
		r.Err = err
		return
	}
	r.Result = res
	s := res.Stats
	r.Fills, r.Refused, r.Rejected = s.Fills, s.Refused, s.Rejected
	for _, ps := range s.Plugins {
		r.Faults += ps.Faults
		for _, pos := range ps.Positions {
			r.PnL += pos.RealizedPnL + pos.UnrealizedPnL
			r.Realized += pos.RealizedPnL
		}
	}
	for _, p := range res.report.plugins {
		for _, in := range p.insts {
			for _, pt := range in.pos {
				r.MinPosition = min(r.MinPosition, pt.v)
				r.MaxPosition = max(r.MaxPosition, pt.v)
			}
		}
	}
	r.MaxDrawdown = maxDrawdown(res.report)
}

// maxDrawdown is the largest fall of the plugins' summed PnL from its
// running peak (pnlSeries).
func maxDrawdown(rep *reportData) float64 {
	peak, dd := 0.0, 0.0
	for _, pt := range pnlSeries(rep) {
		peak = max(peak, pt.v)
		dd = max(dd, peak-pt.v)
	}
	return dd
}

// pnlSeries is the plugins' summed PnL over time: one point at each
// position event of any plugin (the report's series).
func pnlSeries(rep *reportData) []point {
	type ev struct {
		t     int64
		p     int
		value float64
	}
	var evs []ev
	for i, p := range rep.plugins {
		for _, pt := range p.pnl {
			evs = append(evs, ev{pt.t, i, pt.v})
		}
	}
	slices.SortStableFunc(evs, func(a, b ev) int {
		switch {
		case a.t < b.t:
			return -1
		case a.t > b.t:
			return 1
		}
		return 0
	})
	last := make([]float64, len(rep.plugins))
	out := make([]point, 0, len(evs))
	for _, e := range evs {
		last[e.p] = e.value
		sum := 0.0
		for _, v := range last {
			sum += v
		}
		out = append(out, point{e.t, sum})
	}
	return out
}
