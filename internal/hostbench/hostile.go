package hostbench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/internal/hostile"
	"github.com/stratbox/stratbox/pool"
)

// The hostile group's settings.
const (
	// hostileFeed is the notifications a second while the market maker
	// trades: 8 tickers (each a new best bid: the quoter amends on each,
	// below its rate share) and 8 trades.
	hostileFeed = 16
	// hostileCPUTarget is the host process's CPU, % of one core, that a
	// hostile plugin beside the market maker may add at most (children
	// excluded: measured against the market maker alone in the same
	// repetition, since the figures' 2-ms heartbeats on two connections
	// already cost the host several %); hostileRatioTarget bounds heartbeat
	// p99 with the hostile plugin at work against the same run's windows
	// with it paused.
	hostileCPUTarget   = 10
	hostileRatioTarget = 1.2
	// hostileSegments is the segments of a run beside a hostile plugin,
	// at work and paused in turn (A B B A A B B A, or B A A B B A A B).
	hostileSegments = 8
)

// hostileNames are the hostile plugins run beside the market maker: the
// suite's fixtures that misbehave for as long as they run (the others fault
// once, or are refused at load), and the spinning plugin.
var hostileNames = []string{"timer_never", "timer_zero", "timer_stagger", "hog", "spin"}

// hostile measures the market maker (the quoter, in a child process) trading
// over a pool of 2 connections with the client-side rate limiter on (so the
// rate shares apply), alone and then beside each hostile plugin (in a child
// process too), side by side in each repetition: heartbeat p99 on the wire
// and its ratio to the same runs' windows with the hostile plugin paused
// (the target) and to the market maker alone, the host process's CPU (children
// excluded), and the market maker's faults and refused order requests.
func (r *runner) hostile(ctx context.Context) error {
	h, err := r.startHelper()
	if err != nil {
		return err
	}
	defer h.close()
	vals := map[string][]float64{}
	// each repetition's answer times on the wire, by scenario: with the
	// hostile plugin at work, and paused in the same run
	samples, paused := map[string][][]time.Duration{}, map[string][][]time.Duration{}
	runsOf := map[string][][]hostilePair{} // each run's pairs of segments, by scenario
	var notes []string
	for rep := -1; rep < r.reps; rep++ { // rep -1: the warm-up, not recorded
		runs := map[string]hostileResult{}
		for _, name := range append([]string{""}, hostileNames...) {
			res, err := r.hostileRun(ctx, h, name, rep < 0, rep%2 != 0)
			who := name
			if name == "" {
				who = "alone"
			}
			if err != nil {
				return fmt.Errorf("%s: %w", who, err)
			}
			if res.note != "" {
				notes = append(notes, who+": "+res.note)
			}
			if alone := runs["alone"].v; name != "" {
				if alone["p99_us"] > 0 {
					res.v["p99_ratio"] = res.v["p99_us"] / alone["p99_us"]
				}
				if c, ok := alone["cpu_pct"]; ok {
					res.v["cpu_extra_pct"] = res.v["cpu_pct"] - c
				}
			}
			runs[who] = res
		}
		if rep < 0 {
			continue
		}
		for name, res := range runs {
			samples[name] = append(samples[name], res.active)
			if res.paused != nil {
				paused[name] = append(paused[name], res.paused)
			}
			if res.pairs != nil {
				runsOf[name] = append(runsOf[name], res.pairs)
			}
			for k, x := range res.v {
				vals[name+"."+k] = append(vals[name+"."+k], x)
			}
		}
	}
	for _, name := range append([]string{"alone"}, hostileNames...) {
		who := "the market maker alone"
		if name != "alone" {
			who = "the market maker beside " + name
		}
		pre := "hostile." + name + "."
		f := r.res.add(pre+"p99_us", "heartbeat answer on the wire p99, "+who, "µs", vals[name+".p99_us"])
		r.progress("%-40s %10.1f µs", pre+"p99_us", f.Median)
		f = r.res.add(pre+"p99_pooled_us", "heartbeat answer on the wire p99 over every repetition's answers together, "+who,
			"µs", []float64{us(pooled(samples[name], 0.99))})
		r.progress("%-40s %10.1f µs", pre+"p99_pooled_us", f.Median)
		if name != "alone" {
			f = r.res.add(pre+"p99_ratio", "heartbeat p99 on the wire / the market maker alone's (same repetition; the target is on p99_paired_ratio), "+who, "×", vals[name+".p99_ratio"])
			r.progress("%-40s %10.2f ×", pre+"p99_ratio", f.Median)
			if f := pooledRatio(r.res, "hostile."+name, "hostile.alone", 0, ""); f != nil {
				r.progress("%-40s %10.2f ×", pre+"p99_pooled_ratio", f.Median)
			}
			pp := pooled(paused[name], 0.99)
			f = r.res.add(pre+"paused.p99_pooled_us", "heartbeat answer on the wire p99 over every repetition's answers together, the market maker beside "+
				name+" loaded but paused (the same runs, in alternate segments)", "µs", []float64{us(pp)})
			r.progress("%-40s %10.1f µs", pre+"paused.p99_pooled_us", f.Median)
			if ratio, lo, hi, ok := pairedRatio(runsOf[name], 0.99); ok {
				f = r.res.add(pre+"p99_paired_ratio", "heartbeat answer p99 on the wire over every repetition's answers, "+name+
					" at work / paused, in alternate segments of the same runs", "×", []float64{ratio})
				f.atMost(hostileRatioTarget, fmt.Sprintf("p99 ≤ %g× the market maker's with the plugin paused", hostileRatioTarget))
				f.Note = fmt.Sprintf("90%% interval %.2f–%.2f over %d runs", lo, hi, len(runsOf[name]))
				r.progress("%-40s %10.2f × (%.2f–%.2f)", pre+"p99_paired_ratio", f.Median, lo, hi)
				r.res.add(pre+"p99_paired_ratio_lo", "the 5th percentile of p99_paired_ratio over the runs resampled with replacement", "×", []float64{lo})
				r.res.add(pre+"p99_paired_ratio_hi", "the 95th percentile of p99_paired_ratio over the runs resampled with replacement", "×", []float64{hi})
			}
		}
		if c, ok := vals[name+".cpu_pct"]; ok {
			f = r.res.add(pre+"cpu_pct", "the host process's CPU (plugin processes excluded; heartbeats every 2 ms on 2 connections), "+who, "% of a core", c)
			r.progress("%-40s %10.1f %%", pre+"cpu_pct", f.Median)
		}
		if c, ok := vals[name+".cpu_extra_pct"]; ok {
			f = r.res.add(pre+"cpu_extra_pct", "the host process's CPU beyond the market maker alone's (same repetition), "+who, "% of a core", c)
			f.atMost(hostileCPUTarget, fmt.Sprintf("≤ %d %% of a core", hostileCPUTarget))
			r.progress("%-40s %10.1f %%", pre+"cpu_extra_pct", f.Median)
		}
		f = r.res.add(pre+"mm_faults", "the market maker's faults in a window, "+who, "faults", vals[name+".mm_faults"])
		f.atMost(0, "the market maker is never faulted")
		f = r.res.add(pre+"mm_refused", "the market maker's order requests refused by the host's rate limiter in a window, "+who, "requests", vals[name+".mm_refused"])
		f.atMost(0, "never refused for another plugin's traffic")
		r.res.add(pre+"mm_calls_per_s", "the market maker's calls a second, "+who, "calls/s", vals[name+".mm_calls_per_s"])
		if name != "alone" {
			r.res.add(pre+"paused.p99_us", "heartbeat answer on the wire p99, the market maker beside "+name+" paused (the same runs)", "µs", vals[name+".paused_p99_us"])
			r.res.add(pre+"calls_per_s", "the hostile plugin's calls a second while at work, "+who, "calls/s", vals[name+".calls_per_s"])
			r.res.add(pre+"faults", "the hostile plugin's faults since it started (flood, budget: the product's limits stop it), "+who, "faults", vals[name+".faults"])
		}
	}
	if len(notes) > 0 {
		r.res.Figures["hostile.alone.p99_us"].Note = notes[0]
	}
	return nil
}

// hostileResult is one run's figures, the heartbeat answer times on the
// wire (sorted) with the hostile plugin at work and paused, and a note.
type hostileResult struct {
	v              map[string]float64
	active, paused []time.Duration
	pairs          []hostilePair // with a hostile plugin: adjacent segments at work and paused
	mmCalls, calls uint64
	note           string
}

// hostilePair is the heartbeat answer times on the wire of two adjacent
// segments of a run, one with the hostile plugin at work, one with it
// paused.
type hostilePair struct{ active, paused []time.Duration }

// hostileRun is one run: the market maker and, unless name is "", the
// hostile plugin name, at work and paused in turn (see below), paused
// first if flip.
func (r *runner) hostileRun(ctx context.Context, h *helper, name string, warm, flip bool) (hostileResult, error) {
	var specs []host.PluginSpec
	defer func() {
		for _, s := range specs {
			s.Plugin.Close(context.Background())
		}
	}()
	add := func(n string, wasm []byte, cfg sandbox.PluginConfig) error {
		p, err := r.load(n, wasm, cfg, sandbox.WithChildProcess())
		if err != nil {
			return err
		}
		pc := r.opt.Child
		specs = append(specs, host.PluginSpec{Name: n, Plugin: p, Instruments: []string{"BTC-PERPETUAL"},
			NewSandbox: func(p *sandbox.Plugin) sandbox.Sandbox { return sandbox.NewProcess(p, pc) }})
		return nil
	}
	if err := add("mm", QuoterWasm(), sandbox.PluginConfig{}); err != nil {
		return hostileResult{}, err
	}
	switch name {
	case "":
	case "spin":
		if err := add(name, spinWasm, sandbox.PluginConfig{CallBudget: spinBudget, MemoryLimitPages: 16}); err != nil {
			return hostileResult{}, err
		}
	default:
		wasm := hostile.Wasm(name)
		if wasm == nil {
			return hostileResult{}, fmt.Errorf("no hostile fixture %q", name)
		}
		if err := add(name, wasm, sandbox.PluginConfig{}); err != nil {
			return hostileResult{}, err
		}
	}
	// The product's restart policy (3 restarts, 1 s backoff doubling): the group measures the host as it
	// runs by default; heartbeat.spin_process keeps a spinner restarting without end.
	e, err := host.New(host.Config{Plugins: specs}, host.WithLogger(r.log))
	if err != nil {
		return hostileResult{}, err
	}
	p, err := pool.New(pool.Config{Conn: relayConn(h), Size: 2, Classify: host.PoolRates}, e.Sink, e.PoolEvent, r.log) // tier-1 limits: shares on
	if err != nil {
		return hostileResult{}, err
	}
	if err := p.Start(ctx); err != nil {
		return hostileResult{}, err
	}
	defer p.Close()
	run := runEngine(e, p)
	defer run.stop()
	if !e.WaitStats(func(s host.EngineStats) bool {
		for _, ps := range s.Plugins {
			if ps.Starts == 0 {
				return false
			}
		}
		return len(s.Plugins) == len(specs)
	}, 60*time.Second) {
		return hostileResult{}, fmt.Errorf("the plugins did not start; stats %+v", e.Stats())
	}
	if _, err := h.do("ok", "flood %d", hostileFeed); err != nil {
		return hostileResult{}, err
	}
	defer h.do("ok", "flood 0") //nolint:errcheck // the next run's flood replaces it anyway
	w := r.window(hbWindow)
	if warm {
		w = r.window(hbWindow / 3)
	}
	if _, _, _, _, _, err := h.report(); err != nil { // from now on
		return hostileResult{}, err
	}
	var res hostileResult
	var cpu, took time.Duration
	cpuOK := true
	mmFirst, _ := hostilePluginStats(e.Stats(), name)
	before := p.Stats()
	// active is one measured window with the hostile plugin at work: its
	// answers, the host's CPU and both plugins' calls are added up.
	active := func(d time.Duration) ([]time.Duration, error) {
		mm0, bad0 := hostilePluginStats(e.Stats(), name)
		c0, ok := selfCPU()
		began := time.Now()
		time.Sleep(d)
		c1, _ := selfCPU()
		took += time.Since(began)
		cpu += c1 - c0
		cpuOK = cpuOK && ok
		l, err := h.samples()
		if err != nil {
			return nil, err
		}
		res.active = append(res.active, l...)
		mm1, bad1 := hostilePluginStats(e.Stats(), name)
		res.mmCalls += mm1.Calls - mm0.Calls
		res.calls += bad1.Calls - bad0.Calls
		return l, nil
	}
	if name == "" {
		if _, err := active(w); err != nil {
			return hostileResult{}, err
		}
	} else {
		// Paired: the hostile plugin at work (A) and paused (B: loaded,
		// its child idle, nothing delivered) in alternate segments of the
		// window, A B B A A B B A (B A A B B A A B in every other
		// repetition, flip), so that both sides see the same engine,
		// processes and stretch of machine weather, a drift in time falls
		// on both alike, and neither side always has the run's first
		// segment (the feed's start). Segments 2k and 2k+1 make a pair.
		seg := w / hostileSegments
		var first []time.Duration
		for i := range hostileSegments {
			working := (i%4 == 0 || i%4 == 3) != flip
			if i%4 == 1 || i%4 == 3 || i == 0 && flip { // the side changes
				var err error
				if working {
					err = e.Resume(name)
				} else {
					_, err = e.Pause(name, false)
				}
				if err != nil {
					return hostileResult{}, err
				}
				if _, err := h.samples(); err != nil { // the change's own answers are neither side's
					return hostileResult{}, err
				}
			}
			var l []time.Duration
			var err error
			if working {
				l, err = active(seg)
			} else {
				time.Sleep(seg)
				l, err = h.samples()
				res.paused = append(res.paused, l...)
			}
			if err != nil {
				return hostileResult{}, err
			}
			if i%2 == 0 {
				first = l
				continue
			}
			pr := hostilePair{active: first, paused: l}
			if working {
				pr = hostilePair{active: l, paused: first}
			}
			res.pairs = append(res.pairs, pr)
		}
	}
	slices.Sort(res.active)
	slices.Sort(res.paused)
	if len(res.active) == 0 || (name != "" && len(res.paused) == 0) {
		return hostileResult{}, fmt.Errorf("no heartbeat answer timed in %v", w)
	}
	mmLast, bad := hostilePluginStats(e.Stats(), name)
	after := p.Stats()
	res.v = map[string]float64{"p99_us": us(quantile(res.active, 0.99)), "mm_faults": float64(mmLast.Faults - mmFirst.Faults),
		"mm_refused": float64(mmLast.Limited - mmFirst.Limited), "mm_calls_per_s": float64(res.mmCalls) / took.Seconds(),
		"calls_per_s": float64(res.calls) / took.Seconds(), "faults": float64(bad.Faults)}
	if len(res.paused) > 0 {
		res.v["paused_p99_us"] = us(quantile(res.paused, 0.99))
	}
	if cpuOK {
		res.v["cpu_pct"] = 100 * float64(cpu) / float64(took)
	}
	if after.Losses != before.Losses {
		res.note = fmt.Sprintf("%d connections lost in a window", after.Losses-before.Losses)
	}
	return res, nil
}

// pairedRounds is the resamplings behind a paired ratio's interval.
const pairedRounds = 400

// pairedRatio is the q-quantile of the answers at work of every run's
// pairs over that of their answers paused, and the 5th and 95th
// percentiles of that ratio over pairedRounds resamplings of the runs with
// replacement. The run is the unit, not the answer nor the pair: answers
// slowed by one burst of machine weather come together, and a run's pairs
// share its processes and their placement on the CPUs (quiet runs of one
// scenario gave per-run ratios from 0.4 to 2.3), so resampling anything
// smaller would make the interval too narrow. The resampling's seed is
// fixed, so the same answers give the same interval. ok is false without
// answers on either side.
func pairedRatio(runs [][]hostilePair, q float64) (ratio, lo, hi float64, ok bool) {
	ratioOf := func(pick func(i int) []hostilePair) (float64, bool) {
		var a, b []time.Duration
		for i := range runs {
			for _, p := range pick(i) {
				a, b = append(a, p.active...), append(b, p.paused...)
			}
		}
		if len(a) == 0 || len(b) == 0 {
			return 0, false
		}
		slices.Sort(a)
		slices.Sort(b)
		qa, qb := quantile(a, q), quantile(b, q)
		if qb <= 0 {
			return 0, false
		}
		return float64(qa) / float64(qb), true
	}
	ratio, ok = ratioOf(func(i int) []hostilePair { return runs[i] })
	if !ok {
		return 0, 0, 0, false
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var rs []float64
	for range pairedRounds {
		if v, ok := ratioOf(func(int) []hostilePair { return runs[rng.IntN(len(runs))] }); ok {
			rs = append(rs, v)
		}
	}
	if len(rs) == 0 {
		return ratio, ratio, ratio, true
	}
	slices.Sort(rs)
	return ratio, rs[len(rs)*5/100], rs[len(rs)*95/100], true
}

// hostilePluginStats picks the market maker's and the hostile plugin's stats.
func hostilePluginStats(s host.EngineStats, name string) (mm, bad host.PluginStats) {
	for _, p := range s.Plugins {
		switch p.Name {
		case "mm":
			mm = p
		case name:
			bad = p
		}
	}
	return mm, bad
}
