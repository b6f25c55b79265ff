package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/sim"
)

var (
	benchOnce    sync.Once
	benchMembers []*member
)

// benchCluster is three embedded members on loopback, each with one
// connection to a shared simulator; started once per process (the
// benchmark functions run several times) and left to the process's exit.
func benchCluster(b *testing.B) []*member {
	benchOnce.Do(func() {
		srv, err := sim.Start(context.Background(), sim.Config{Seed: 1, MinHeartbeat: 100 * time.Millisecond, NoMarket: true,
			RateLimits: sim.RateLimits{Disabled: true}})
		if err != nil {
			b.Fatal(err)
		}
		// The members outlive the benchmark function that starts them.
		ms, err := launchMembers(srv.URL(), 1, embeddedConfigs(b, "n1", "n2", "n3"))
		if err != nil {
			b.Fatal(err)
		}
		benchMembers = ms
		for _, m := range benchMembers {
			waitFor(b, m.n, "three nodes with a healthy connection each", 30*time.Second, func() bool {
				return poolHealth(m.n, "main").Healthy == 3
			})
		}
	})
	if benchMembers == nil || benchMembers[0].n == nil {
		b.Fatal("no cluster")
	}
	return benchMembers
}

// An immediate-or-cancel buy far below the market: a real order through
// the matching engine that leaves nothing on the book.
var benchOrder = []byte(`{"instrument_name":"BTC-PERPETUAL","amount":10,"type":"limit","price":1000,"time_in_force":"immediate_or_cancel","label":"bench"}`)

func benchPlace(b *testing.B, node string) {
	ms := benchCluster(b)
	x := ms[0].n.Exchange("main", "")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := x.CallOn(ctx, node, "private/buy", benchOrder); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlaceLocal places an order through the node's own connection
// (the Exchange's local path: no NATS).
func BenchmarkPlaceLocal(b *testing.B) { benchPlace(b, "n1") }

// BenchmarkPlaceRemote places the same order through another node's
// connection, over NATS request/reply across a loopback route.
func BenchmarkPlaceRemote(b *testing.B) { benchPlace(b, "n2") }
