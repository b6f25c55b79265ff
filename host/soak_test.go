package host

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/pool"
)

var (
	soakRun      = flag.Bool("soak", false, "run the soak test (make soak)")
	soakDuration = flag.Duration("soak.duration", 2*time.Minute, "how long the soak test trades")
	soakSeed     = flag.Uint64("soak.seed", 1, "seed of the soak test's choices")
	soakReport   = flag.String("soak.report", "", "also write the soak report to this file")
	soakHeap     = flag.String("soak.heapprofile", "", "write a heap profile (pprof) at the end of the soak to this file")
)

// The soak test compresses the day of operation the host must survive into
// minutes: heartbeats every 100 ms instead of Deribit's shortest, 10 s (so
// that a minute holds 100 minutes' worth of test_requests; 14.4 minutes
// hold a day's), a strategy trading at random throughout, a connection of
// the pool dropped every few seconds, now and then all of them at once,
// and a maintenance window (the exchange refuses orders and the market
// stands still). At the end it checks what the chaos test checks (no order
// lost or live twice, fills and positions right), and reports
// test_requests answered and missed, reconnects, failovers, orders
// re-established, and the heap at the start and the end.
//
// Opt-in: make soak (SOAK_FOR, default 2m), or go test -run TestSoak ./host
// -args -soak -soak.duration 15m for a full day of heartbeats.
func TestSoak(t *testing.T) {
	if !*soakRun {
		t.Skip("opt-in: go test -run TestSoak ./host -args -soak (make soak)")
	}
	tr := newChaosTrader(*soakSeed)
	cfg := Config{Plugins: []PluginSpec{{Name: "chaos", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return tr },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}}}}
	r := startPoolRig(t, cfg, pool.Config{Size: 3})
	r.wait("trading", func(s EngineStats) bool { return s.Placed >= 10 })
	heapStart := heapAfterGC()
	rng := rand.New(rand.NewPCG(*soakSeed, 2))

	// The schedule: a drop every 2–5 s (every 5th drops all), and one
	// maintenance window of 3 s at 40% of the run.
	began := time.Now()
	end := began.Add(*soakDuration)
	maintAt, maintFor := began.Add(*soakDuration*2/5), 3*time.Second
	maintDone := false
	var drops, dropAlls, twinChecks, twins int
	for next := began; time.Now().Before(end); {
		now := time.Now()
		switch {
		case !maintDone && !now.Before(maintAt):
			r.srv.Maintenance(true)
			waitFor(maintFor)
			r.srv.Maintenance(false)
			maintDone = true
		case !now.Before(next):
			drops++
			if drops%5 == 0 {
				dropAlls++
				r.srv.DropAll()
			} else if conns := r.srv.Conns(); len(conns) > 0 {
				r.srv.DropConn(conns[rng.IntN(len(conns))].ID)
			}
			next = now.Add(2*time.Second + time.Duration(rng.IntN(3000))*time.Millisecond)
		}
		twins += checkNoTwins(t, r.srv)
		twinChecks++
		waitFor(100 * time.Millisecond)
	}
	ps := r.p.Stats()
	simStats := r.srv.Stats()
	res := settle(t, r, tr)
	heapEnd := heapAfterGC()
	r.e.mu.Lock()
	live, final := len(r.e.orders), len(r.e.recent)
	r.e.mu.Unlock()
	if *soakHeap != "" {
		f, err := os.Create(*soakHeap)
		if err == nil {
			err = pprof.WriteHeapProfile(f)
			f.Close()
		}
		if err != nil {
			t.Error(err)
		}
	}

	var answered, missed, requests, reconnects uint64
	for _, m := range ps.Members {
		requests += m.Heartbeat.TestRequests
		answered += m.Heartbeat.Answered
		missed += m.Heartbeat.Missed
		reconnects += m.Reconnects
	}
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %v of trading (seed %d), heartbeat every 100 ms on %d connections (≈ %.1f h of Deribit's 10 s heartbeats)\n",
		soakDuration.Round(time.Second), *soakSeed, ps.Total, float64(requests)*10/3600/float64(max(ps.Total, 1)))
	fmt.Fprintf(&b, "  test_requests %d, answered %d, missed %d (answer p99 %v, worst connection); connections the exchange killed for a missed heartbeat: %d\n",
		requests, answered, missed, ps.AnswerP99, simStats.HeartbeatKills)
	fmt.Fprintf(&b, "  drops %d (%d of all connections at once), a maintenance window of %v; failovers (connections lost) %d, reconnects %d\n",
		drops, dropAlls, maintFor, ps.Losses, reconnects)
	fmt.Fprintf(&b, "  orders %d, fills %d, re-established %d (the plugin heard of %d); lost %d, duplicated %d (%d checks), fill sums broken %d\n",
		res.orders, res.fills, res.relocated, res.replaced, res.lost, twins, twinChecks, res.finalsBroken)
	fmt.Fprintf(&b, "  heap after GC: %.1f MiB at the start, %.1f MiB at the end (the process holds the simulator too, with its\n"+
		"  history of 10,000 closed orders); the engine holds %d orders not final and %d final ones (kept for late fills, at most %d)\n",
		float64(heapStart)/(1<<20), float64(heapEnd)/(1<<20), live, final, maxRecent)
	t.Log(b.String())
	if *soakReport != "" {
		if err := os.WriteFile(*soakReport, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
	if simStats.HeartbeatKills != 0 {
		t.Errorf("the exchange killed %d connections for a missed heartbeat", simStats.HeartbeatKills)
	}
	// The heap may grow by what a longer history legitimately holds (the
	// order manager's bounded record of final orders), not more.
	if limit := heapStart*3/2 + 16<<20; heapEnd > limit {
		t.Errorf("the heap grew from %d to %d bytes (limit %d)", heapStart, heapEnd, limit)
	}
}

// heapAfterGC returns the live heap after a full collection.
func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// waitFor waits d of wall-clock time: the soak test's schedule is in real
// time by design (the exchange's heartbeats and the reconnect backoff run on
// it); nothing is synchronised on it.
func waitFor(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	<-t.C
}
