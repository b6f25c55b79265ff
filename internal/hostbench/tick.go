package hostbench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/host/sandbox/shm"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
)

// tickProcessTarget is issue 18's target: tick-to-order p50 of the quoter
// in a child process ≤ 1.1× in the host's process.
const tickProcessTarget = 1.1

// poolConfig is `host run`'s pool (3 connections) to the helper's
// simulator, without the client-side rate limiter (the figures are not
// about it).
func poolConfig(url string) pool.Config {
	cc := conn.DefaultConfig()
	cc.URL = url
	cc.Credentials = conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret, Method: conn.AuthSignature}
	cc.HeartbeatInterval = time.Second
	return pool.Config{Conn: cc, Size: 3, Limits: pool.Limits{Disabled: true}}
}

// tickRig is an engine trading over a pool of 3 connections to the
// helper's simulator.
type tickRig struct {
	e     *host.Engine
	p     *pool.Pool
	run   *engineRun
	acked chan struct{}
}

func (r *runner) startTickRig(ctx context.Context, h *helper, spec host.PluginSpec) (*tickRig, error) {
	g := &tickRig{acked: make(chan struct{}, 16)}
	mk := spec.NewSandbox
	if mk == nil {
		mk = sandbox.NewInProcess
	}
	spec.NewSandbox = func(p *sandbox.Plugin) sandbox.Sandbox { return &ackWatch{Sandbox: mk(p), acked: g.acked} }
	e, err := host.New(host.Config{Plugins: []host.PluginSpec{spec}}, host.WithLogger(r.log))
	if err != nil {
		return nil, err
	}
	p, err := pool.New(poolConfig(h.simURL), e.Sink, e.PoolEvent, r.log)
	if err != nil {
		return nil, err
	}
	if err := p.Start(ctx); err != nil {
		return nil, err
	}
	g.e, g.p = e, p
	g.run = runEngine(e, p)
	if err := started(e, 1); err != nil {
		g.stop()
		return nil, err
	}
	return g, nil
}

func (g *tickRig) stop() {
	_ = g.run.stop()
	g.p.Close()
}

// tick has the simulator publish the i-th ticker and returns the time from
// its publication to the next order request the simulator read (ok false
// when none came within timeout); then it waits (up to ackWait) for the
// plugin to see an order open (generic: for the exchange to have answered
// every request).
func (g *tickRig) tick(h *helper, i int, timeout, ackWait time.Duration, generic bool) (time.Duration, bool, error) {
	f, err := h.do("tick", "tick %d %d", i, timeout.Milliseconds())
	if err != nil {
		return 0, false, err
	}
	if len(f) == 1 && f[0] == "timeout" {
		return 0, false, nil
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("helper process: tick %q", f)
	}
	if generic { // whatever the order became: wait until the exchange has answered
		g.e.WaitStats(func(s host.EngineStats) bool { return s.InFlight == 0 }, ackWait)
		return time.Duration(ns), true, nil
	}
	select {
	case <-g.acked:
	case <-time.After(ackWait):
		return 0, false, fmt.Errorf("the plugin did not see its order open; stats %+v", g.e.Stats())
	}
	return time.Duration(ns), true, nil
}

// tickToOrder measures, over loopback against the simulator (in the helper
// process), the time from a ticker notification the simulator publishes to
// the order request it reads back: the connection's read goroutine, the
// engine, the plugin, the order manager, the pool's connection, the
// simulator's read. The quoter amends its order on every ticker; the
// plugin runs in a child process (`host run`'s default) and in the host's
// process. Each repetition is a run of tickers, one at a time (the next
// once the plugin has seen its order open again); p50 and p99 of the run.
func (r *runner) tickToOrder(ctx context.Context) error {
	h, err := r.startHelper()
	if err != nil {
		return err
	}
	defer h.close()
	type subject struct {
		key, title string
		wasm       []byte
		params     []abi.Param
		iso        sandbox.Isolation
		generic    bool // a user's plugin: it may place no order on a ticker
		floor      bool // in the host's process, each call after a round trip to a bare child
	}
	subjects := []subject{
		{"quoter_process", "quoter wasm in a child process", QuoterWasm(), quoterParams(), sandbox.IsolateProcess, false, false},
		{"quoter_none", "quoter wasm in the host's process", QuoterWasm(), quoterParams(), sandbox.IsolateNone, false, false},
		{"floor", "quoter wasm in the host's process, each call after its batch's round trip to a bare child",
			QuoterWasm(), quoterParams(), sandbox.IsolateNone, false, true},
	}
	if r.opt.Plugin != nil {
		subjects = append(subjects, subject{"plugin", r.opt.PluginName + " in a child process", r.opt.Plugin,
			r.opt.PluginParams, sandbox.IsolateProcess, true, false})
	}
	n := r.count(300)
	p50s := map[string][]float64{}
	for _, s := range subjects {
		var floor *floorRig
		if s.floor {
			// A plugin's child's spin: it adapts, and settles at none when
			// the calls come further apart than it, as the tickers do.
			if floor, err = r.startFloor(shm.DefaultSpin); err != nil {
				return err
			}
			if floor == nil {
				continue // no shared memory here
			}
		}
		var opts []sandbox.Option
		if s.iso == sandbox.IsolateProcess {
			opts = append(opts, sandbox.WithChildProcess())
		}
		p, err := r.load(s.key, s.wasm, sandbox.PluginConfig{}, opts...)
		if err != nil {
			if floor != nil {
				floor.close()
			}
			return err
		}
		spec := host.PluginSpec{Name: s.key, Plugin: p, Instruments: []string{"BTC-PERPETUAL"},
			Channels: []string{"ticker.{instrument}.100ms"}, Params: s.params,
			Risk: &host.RiskLimits{IntentsPerSecond: -1, FloodLimit: 1 << 30}}
		if s.iso == sandbox.IsolateProcess {
			pc := r.opt.Child
			spec.NewSandbox = func(p *sandbox.Plugin) sandbox.Sandbox { return sandbox.NewProcess(p, pc) }
		}
		if floor != nil {
			spec.NewSandbox = func(p *sandbox.Plugin) sandbox.Sandbox {
				return &floorBox{Sandbox: sandbox.NewInProcess(p), g: floor}
			}
		}
		g, err := r.startTickRig(ctx, h, spec)
		if err != nil {
			p.Close(context.Background())
			if floor != nil {
				floor.close()
			}
			return fmt.Errorf("%s: %w", s.key, err)
		}
		stop := func() {
			g.stop()
			p.Close(context.Background())
			if floor != nil {
				floor.close()
			}
		}
		timeout, ackWait := 5*time.Second, 10*time.Second
		if s.generic {
			timeout, ackWait = 500*time.Millisecond, time.Second
		}
		vals := map[string][]float64{}
		i, stopped := 0, 0                                   // stopped: the ticker after which a user's plugin placed no order
		for rep := -1; rep < r.reps && stopped == 0; rep++ { // rep -1: the warm-up
			var lat []time.Duration
			for range n {
				i++
				d, ok, err := g.tick(h, i, timeout, ackWait, s.generic)
				if err != nil {
					stop()
					return fmt.Errorf("%s: %w", s.key, err)
				}
				if !ok {
					if !s.generic {
						stop()
						return fmt.Errorf("%s: no order request within %v of ticker %d", s.key, timeout, i)
					}
					stopped = i // measure what it did until then
					break
				}
				lat = append(lat, d)
			}
			if (rep < 0 && stopped == 0) || len(lat) == 0 {
				continue
			}
			slices.Sort(lat)
			vals["p50_us"] = append(vals["p50_us"], us(quantile(lat, 0.50)))
			vals["p99_us"] = append(vals["p99_us"], us(quantile(lat, 0.99)))
		}
		stop()
		p50s[s.key] = vals["p50_us"]
		for _, q := range []struct{ k, t string }{{"p50_us", "p50"}, {"p99_us", "p99"}} {
			k := "tick." + s.key + "." + q.k
			f := r.res.add(k, "tick-to-order over loopback "+q.t+", "+s.title, "µs", vals[q.k])
			switch {
			case stopped == 1:
				f.Note = "n/a: the plugin placed no order on a ticker"
			case stopped > 1:
				f.Note = fmt.Sprintf("the plugin placed no order on ticker %d: the figure covers the tickers before it", stopped)
			}
			r.progress("%-40s %10.1f µs", k, f.Median)
		}
	}
	// The child process against the host's process (issue 18's target),
	// and how close it comes to its floor, repetition by repetition.
	if ratios := perRepRatio(p50s["quoter_process"], p50s["quoter_none"]); ratios != nil {
		f := r.res.add("tick.quoter_process.p50_over_none", "tick-to-order p50, quoter in a child process / in the host's process", "×", ratios)
		f.atMost(tickProcessTarget, fmt.Sprintf("≤ %g× in the host's process", tickProcessTarget))
	}
	if ratios := perRepRatio(p50s["quoter_process"], p50s["floor"]); ratios != nil {
		r.res.add("tick.quoter_process.p50_over_floor", "tick-to-order p50, quoter in a child process / its floor "+
			"(the quoter in the host's process, each call after a round trip to a bare child)", "×", ratios)
	}
	return nil
}

// perRepRatio is a[i] / b[i] for each repetition; nil unless both have
// the same repetitions.
func perRepRatio(a, b []float64) []float64 {
	if len(a) == 0 || len(a) != len(b) {
		return nil
	}
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] / b[i]
	}
	return out
}

// floorBox is an in-process plugin whose every call first sends its batch
// to a bare child and waits for it back (tick.floor): the tick path of the
// host's process plus what any call to another process costs here.
type floorBox struct {
	sandbox.Sandbox
	g *floorRig
}

func (b *floorBox) Deliver(ctx context.Context, batch []byte, now time.Time) ([]byte, error) {
	if err := b.g.roundTrip(batch); err != nil {
		return nil, err
	}
	return b.Sandbox.Deliver(ctx, batch, now)
}
