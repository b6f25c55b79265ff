package hostbench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
	"github.com/stratbox/stratbox/venue/deribit"
)

// Targets (BENCHMARKS.md "Targets"): with a random connection cut every
// second, a pool of 3 has at least one connection ready 99.5 % of the time and two 95 %.
const (
	churnReady1Target = 99.5
	churnReady2Target = 95
	churnCutEvery     = time.Second
	churnSample       = 2 * time.Millisecond
)

// churnRep is one repetition's measurements.
type churnRep struct {
	ready1, ready2, ready3 float64 // % of samples with ≥ 1, ≥ 2, all 3 connections ready
	cuts                   int64
	attempts               int64 // connection attempts the exchange saw (accepted + refused)
	cod                    int64 // orders cancelled by cancel-on-disconnect
	relocated              uint64
	lost                   int // exchange orders the cuts took (open on a cut connection, or cancelled on disconnect)
	beyond                 int // labels placed more often than once plus once per loss (an exchange order of theirs a cut took)
	again                  int // labels re-established more than once (each after a loss of their own)
	duplicates             int // samples with one label open twice on the book
	missed                 uint64
	missedWhy              string // the connections' misses by kind, and the simulator's kills
}

// churn measures availability under churn: the quoter trades
// through a pool of 3 connections over loopback to a simulator that cuts
// one of them, picked at random, every second (sim.Server.DropRandom, the
// `cut_random_every` fault). Each repetition runs a window of 40 s (8 s
// with Quick: the old reconnect schedule's backoff grew over a run, and
// the figures in BENCHMARKS.md were measured over 40 s) and reports the share of time, sampled every 2 ms, with at least
// one and at least two connections ready (by the connection's own state,
// set at the transition: authenticated, heartbeat set, cancel-on-disconnect
// on, subscriptions restored); the orders that
// cancel-on-disconnect cancelled and the engine re-placed; the labels
// re-established more than once (each time after a loss of their own), the
// labels the exchange saw placed more often than once plus once per
// exchange order of that label a cut took (open on the connection when it
// was cut, or cancelled by its cancel-on-disconnect:
// sim.Server.OnCancelOnDisconnect; more would be an order re-established
// more than once per loss, never allowed) and any
// label open twice on the book (sampled);
// missed heartbeats (the connections' count plus the simulator's
// heartbeat kills); and the connection attempts per cut. The simulator
// runs in this process: the figure is about reconnecting, not latency.
func (r *runner) churn(ctx context.Context) error {
	p, err := r.load("churn", QuoterWasm(), host.PluginConfig{})
	if err != nil {
		return err
	}
	defer p.Close(context.Background())
	var reps []churnRep
	for range r.reps {
		rep, err := r.churnOnce(ctx, p, r.window(40*time.Second))
		if err != nil {
			return err
		}
		reps = append(reps, rep)
		r.progress("churn rep: ready≥1 %.3f %%, ready≥2 %.3f %%, all %.3f %%, %d cuts, %.1f attempts/cut, COD %d, orders cut %d, re-placed %d, re-placed again %d, beyond losses %d, duplicates %d, missed %d (%s)",
			rep.ready1, rep.ready2, rep.ready3, rep.cuts, float64(rep.attempts)/float64(max(rep.cuts, 1)), rep.cod, rep.lost, rep.relocated,
			rep.again, rep.beyond, rep.duplicates, rep.missed, rep.missedWhy)
	}
	col := func(f func(churnRep) float64) []float64 {
		out := make([]float64, len(reps))
		for i, c := range reps {
			out[i] = f(c)
		}
		return out
	}
	r.res.add("churn.ready1_pct", "time with ≥ 1 of 3 connections ready, a random one cut every 1 s", "%",
		col(func(c churnRep) float64 { return c.ready1 })).atLeast(churnReady1Target, "≥ 99.5 %")
	r.res.add("churn.ready2_pct", "time with ≥ 2 of 3 connections ready, a random one cut every 1 s", "%",
		col(func(c churnRep) float64 { return c.ready2 })).atLeast(churnReady2Target, "≥ 95 %")
	r.res.add("churn.ready3_pct", "time with all 3 connections ready, a random one cut every 1 s", "%",
		col(func(c churnRep) float64 { return c.ready3 }))
	r.res.add("churn.attempts_per_cut", "connection attempts per cut", "attempts",
		col(func(c churnRep) float64 { return float64(c.attempts) / float64(max(c.cuts, 1)) }))
	r.res.add("churn.relocated_pct", "orders re-placed per order cancelled on disconnect", "%",
		col(func(c churnRep) float64 { return 100 * float64(c.relocated) / float64(max(c.cod, 1)) }))
	r.res.add("churn.relocated_per_loss_pct", "orders re-placed per exchange order a cut took", "%",
		col(func(c churnRep) float64 { return 100 * float64(c.relocated) / float64(max(c.lost, 1)) }))
	r.res.add("churn.replaced_again", "labels re-established more than once (each after a loss of their own)", "labels",
		col(func(c churnRep) float64 { return float64(c.again) }))
	r.res.add("churn.replaced_beyond_losses", "labels placed more than once plus once per loss (an exchange order of theirs a cut took)", "labels",
		col(func(c churnRep) float64 { return float64(c.beyond) })).atMost(0, "0")
	r.res.add("churn.duplicate_live", "samples with a label open twice on the book", "samples",
		col(func(c churnRep) float64 { return float64(c.duplicates) })).atMost(0, "0")
	r.res.add("churn.missed_heartbeats", "missed heartbeats (connections' count + simulator's kills)", "heartbeats",
		col(func(c churnRep) float64 { return float64(c.missed) })).atMost(0, "0")
	for _, k := range []string{"churn.ready1_pct", "churn.ready2_pct", "churn.ready3_pct", "churn.attempts_per_cut", "churn.relocated_pct",
		"churn.relocated_per_loss_pct", "churn.replaced_again", "churn.replaced_beyond_losses", "churn.duplicate_live", "churn.missed_heartbeats"} {
		r.progress("%-40s %10.2f %s", k, r.res.Figures[k].Median, r.res.Figures[k].Unit)
	}
	return nil
}

func (r *runner) churnOnce(ctx context.Context, p *host.Plugin, window time.Duration) (churnRep, error) {
	var rep churnRep
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv, err := sim.Start(ctx, sim.Config{Seed: 1, MinHeartbeat: time.Second, RateLimits: sim.RateLimits{Disabled: true}})
	if err != nil {
		return rep, err
	}
	defer srv.Close()
	var mu sync.Mutex
	placed := map[string]int{} // label → place requests the exchange read
	// The orders a cut took (exchange order id → label): those open on the
	// connection just before it was cut, and those cancel-on-disconnect
	// cancelled (placed meanwhile). An order the engine found still open
	// after its connection's loss, before the exchange's cancel-on-disconnect
	// ran, is cancelled by the engine: the first set counts it.
	lost := map[string]string{}
	srv.OnCancelOnDisconnect(func(cancelled []sim.Order) {
		mu.Lock()
		for _, o := range cancelled {
			lost[o.OrderID] = o.Label
		}
		mu.Unlock()
	})
	srv.Refuse(func(method string, params json.RawMessage) *sim.Error {
		if deribit.Op(method) != deribit.OpPlace {
			return nil
		}
		var q struct {
			Label string `json:"label"`
		}
		if json.Unmarshal(params, &q) == nil && q.Label != "" {
			mu.Lock()
			placed[q.Label]++
			mu.Unlock()
		}
		return nil
	})
	spec := host.PluginSpec{Name: "churn", Plugin: p, Instruments: []string{"BTC-PERPETUAL"},
		Channels: []string{"ticker.{instrument}.100ms"}, Params: quoterParams(),
		Risk: &host.RiskLimits{IntentsPerSecond: -1, FloodLimit: 1 << 30}}
	e, err := host.New(host.Config{Plugins: []host.PluginSpec{spec}, MaxRestarts: -1}, host.EngineLogger(r.log))
	if err != nil {
		return rep, err
	}
	pl, err := pool.New(poolConfig(srv.URL()), e.Sink, e.PoolEvent, r.log)
	if err != nil {
		return rep, err
	}
	if err := pl.Start(ctx); err != nil {
		return rep, err
	}
	defer pl.Close()
	run := runEngine(e, pl)
	defer run.stop()
	if err := started(e, 1); err != nil {
		return rep, err
	}
	if !e.WaitStats(func(s host.EngineStats) bool { return s.Acked > 0 }, 30*time.Second) {
		return rep, fmt.Errorf("churn: the quoter placed no order: %+v", e.Stats())
	}
	st0, rel0 := srv.Stats(), e.Stats().Relocated
	cut := time.NewTicker(churnCutEvery)
	defer cut.Stop()
	sample := time.NewTicker(churnSample)
	defer sample.Stop()
	end := time.NewTimer(window)
	defer end.Stop()
	var n, ge1, ge2, ge3 int
	for k := 0; ; k++ {
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-end.C:
			goto done
		case <-cut.C:
			open := srv.OpenOrders(sim.TestKeyID)
			if id, ok := srv.DropRandom(); ok {
				mu.Lock()
				for _, o := range open {
					if o.ConnID == id {
						lost[o.OrderID] = o.Label
					}
				}
				mu.Unlock()
			}
		case <-sample.C:
			up := 0
			for id := range pl.Size() { // the connection's own state: set at the transition
				if pl.Conn(id).State() == conn.StateReady {
					up++
				}
			}
			n++
			if up >= 1 {
				ge1++
			}
			if up >= 2 {
				ge2++
			}
			if up >= 3 {
				ge3++
			}
			if k%25 == 0 { // every ~50 ms: is any label open twice?
				seen := map[string]bool{}
				for _, o := range srv.OpenOrders(sim.TestKeyID) {
					if o.Label != "" && seen[o.Label] {
						rep.duplicates++
						break
					}
					seen[o.Label] = true
				}
			}
		}
	}
done:
	st := srv.Stats()
	rep.ready1 = 100 * float64(ge1) / float64(max(n, 1))
	rep.ready2 = 100 * float64(ge2) / float64(max(n, 1))
	rep.ready3 = 100 * float64(ge3) / float64(max(n, 1))
	rep.cuts = st.Cut - st0.Cut
	rep.attempts = (st.Accepted - st0.Accepted) + (st.Refused - st0.Refused)
	rep.cod = st.CODCancelled - st0.CODCancelled
	rep.relocated = e.Stats().Relocated - rel0
	mu.Lock()
	rep.lost = len(lost)
	losses := map[string]int{} // label → its exchange orders a cut took
	for _, label := range lost {
		losses[label]++
	}
	for label, c := range placed {
		if c > 1+losses[label] {
			rep.beyond++
		}
		if c > 2 {
			rep.again++
		}
	}
	mu.Unlock()
	var late, dropped, unanswered, silences uint64
	for _, m := range pl.Stats().Members {
		rep.missed += m.Heartbeat.Missed
		late, dropped, unanswered, silences = late+m.Heartbeat.Late, dropped+m.Heartbeat.Dropped,
			unanswered+m.Heartbeat.Unanswered, silences+m.Heartbeat.Silences
	}
	kills := st.HeartbeatKills - st0.HeartbeatKills
	rep.missed += uint64(kills)
	rep.missedWhy = fmt.Sprintf("late %d, dropped %d, unanswered when cut %d, silences %d, killed %d",
		late, dropped, unanswered, silences, kills)
	return rep, nil
}
