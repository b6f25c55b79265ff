package sandbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/stratbox/stratbox/host/sandbox"
)

// BenchmarkDispatch measures one batch delivered to the count plugin (WAT,
// reads every record): the cost of the boundary per event, with the call
// budget on (the default) and off (trusted plugins).
func BenchmarkDispatchWAT(b *testing.B) {
	for _, bc := range []struct {
		name   string
		budget time.Duration
	}{{"budget", sandbox.DefaultCallBudget}, {"nobudget", -1}} {
		for _, n := range []int{1, 64} {
			b.Run(bc.name+"/batch"+itoa(n), func(b *testing.B) {
				p := load(b, "count", sandbox.PluginConfig{CallBudget: bc.budget})
				in := start(b, p)
				events := batch(n)
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := in.Deliver(ctx, events); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
			})
		}
	}
}

func itoa(n int) string {
	if n == 1 {
		return "1"
	}
	return "64"
}
