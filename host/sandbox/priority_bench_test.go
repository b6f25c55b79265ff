//go:build linux

package sandbox

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/stratbox/stratbox/internal/testplugins"
)

// BenchmarkChildPriorityBesideBusy measures the calls of the example market
// maker in a child process at each priority while two busy processes (yes)
// keep both cores busy: whether a strategy still gets the CPU at a lower
// priority (RATIONALE.md "Why do plugin processes run at SCHED_BATCH?").
// Each
// iteration is one call with eight trades; it reports the calls' latency
// p50, p99 and max. Run it with a fixed count, e.g.
//
//	go test -run x -bench ChildPriorityBesideBusy -benchtime 2000x ./host/sandbox
func BenchmarkChildPriorityBesideBusy(b *testing.B) {
	yes, err := exec.LookPath("yes")
	if err != nil {
		b.Skip("no yes command")
	}
	wasm := testplugins.Example(b, "marketmaker")
	for _, prio := range []string{"normal", "batch", "nice:10", "nice:19", "batch:10", "idle"} {
		b.Run(prio, func(b *testing.B) {
			pr, err := ParsePriority(prio)
			if err != nil {
				b.Fatal(err)
			}
			p := loadWasm(b, "mm", wasm, PluginConfig{CallBudget: time.Minute}, WithChildProcess())
			s := procNew(b, p, ProcessConfig{Limits: ProcessLimits{Priority: pr}})
			if _, err := s.Start(context.Background(), mmStartup(b, procT0), procT0); err != nil {
				b.Fatal(err)
			}
			for range 2 {
				cmd := exec.Command(yes)
				devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
				if err != nil {
					b.Fatal(err)
				}
				cmd.Stdout = devnull
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); devnull.Close() })
			}
			batch := procTrades(8)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := s.Deliver(context.Background(), batch, procT0.Add(time.Duration(i)*time.Millisecond)); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			q := func(f float64) float64 { return float64(lat[min(len(lat)-1, int(f*float64(len(lat))))].Microseconds()) }
			b.ReportMetric(q(0.5), "p50_µs")
			b.ReportMetric(q(0.99), "p99_µs")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max_µs")
		})
	}
}
