package conformance_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
)

// BenchmarkDispatchLanguages measures the cost per event of one Deliver of
// a batch of 1 or 64 market events (tickers and trades of BTC-PERPETUAL,
// the bid moving a tick at a time, trades on alternating sides) to every
// example, side by side: the Go, Rust and AssemblyScript takers run the same
// strategy, the WAT plugin is the floor (it reads each record's header and
// the ticker fields it needs). In this process with the default call
// budget, as `host run` with isolation "none"; orders are not acknowledged
// (a taker with an order in flight still counts the trade flow).
// BENCHMARKS.md ("Dispatch cost per language") has the figures.
func BenchmarkDispatchLanguages(b *testing.B) {
	for _, ex := range examples(b) {
		for _, n := range []int{1, 64} {
			b.Run(fmt.Sprintf("example=%s/lang=%s/batch=%d", ex.name, ex.lang, n), func(b *testing.B) {
				benchDispatch(b, ex, n)
			})
		}
	}
}

func benchDispatch(b *testing.B, ex example, n int) {
	ctx := context.Background()
	p := load(b, ex.name, ex.wasm, sandbox.IsolateNone)
	sb := sandbox.NewInProcess(p)
	defer sb.Close()
	now := time.Now()
	if _, err := sb.Start(ctx, startup(b, ex.name), now); err != nil {
		b.Fatal(err)
	}
	ts := uint64(now.UnixNano())
	var cycle [][]byte
	for i := range 64 {
		price := fmt.Sprintf("%d.5", 65000+i%8)
		if i%2 == 0 {
			cycle = append(cycle, ticker(ts, price, fmt.Sprintf("%d", 65001+i%8+1)))
		} else {
			side := abi.Buy
			if i%4 == 3 {
				side = abi.Sell
			}
			cycle = append(cycle, trade(ts, uint64(i), side, price, "100"))
		}
	}
	var batches [][]byte
	for i := 0; i < len(cycle); i += n {
		var batch []byte
		for _, ev := range cycle[i : i+n] {
			batch = append(batch, ev...)
		}
		batches = append(batches, batch)
	}
	for _, batch := range batches { // warm up
		if _, err := sb.Deliver(ctx, batch, now); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sb.Deliver(ctx, batches[i], now); err != nil {
			b.Fatal(err)
		}
		i = (i + 1) % len(batches)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}
