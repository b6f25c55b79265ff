package replay

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stratbox/stratbox/record"
)

// BenchmarkSweep is a sweep of 8 combinations (4 half_spread_bps × 2
// sizes of the market maker) over 100,000 synthetic frames, one job and
// two jobs side by side in one run; the ratio figure of jobs=2 is its
// time over jobs=1's measured just before it (target ≤ 0.6 on 2 cores):
//
//	go test -run '^$' -bench BenchmarkSweep -benchtime 3x ./replay
func BenchmarkSweep(b *testing.B) {
	file, wasm, cache := marketMakerBench(b, 100_000)
	cfg := Config{Plugins: []Plugin{{Name: "mm", Wasm: wasm, Params: goldenParams["marketmaker"]}}}
	params := []SweepParam{{Key: "half_spread_bps", Values: []string{"0.5", "1", "2", "4"}}, {Key: "size", Values: []string{"10", "20"}}}
	open := func() (record.Reader, io.Closer, error) {
		rd, err := record.Open(bytes.NewReader(file))
		return rd, io.NopCloser(nil), err
	}
	sweep := func(jobs int) time.Duration {
		start := time.Now()
		runs, err := Sweep(context.Background(), open, cfg, params, jobs, WithCache(cache))
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range runs {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		return time.Since(start)
	}
	sweep(1) // compiles the plugin into the cache
	var one time.Duration
	for _, jobs := range []int{1, 2} {
		b.Run(fmt.Sprintf("jobs=%d", jobs), func(b *testing.B) {
			var total time.Duration
			n := 0
			for b.Loop() {
				total += sweep(jobs)
				n++
			}
			per := total / time.Duration(n)
			if jobs == 1 {
				one = per
			} else if one > 0 {
				b.ReportMetric(float64(per)/float64(one), "ratio")
			}
			b.ReportMetric(per.Seconds(), "s/sweep")
		})
	}
}
