package host

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/sim"
)

// steadyConn gives a rig's connection a heartbeat that a busy machine
// (-race, the other tests) answers in time: a lost connection would have
// the engine re-place the orders under new exchange ids, which the swap
// tests follow.
func steadyConn(cc *conn.Config) { cc.HeartbeatInterval = 10 * time.Second }

// tapBox is a sandbox that keeps, from what its instance is given (the
// start-up blob's adopted orders, then the order_update events), the
// instance's view of its orders: the last state of each cid.
type tapBox struct {
	sandbox.Sandbox
	mu      sync.Mutex
	started bool
	blob    []abi.OrderUpdate
	view    map[uint64]abi.OrderUpdate
	events  int // order_update events delivered
}

func (b *tapBox) Start(ctx context.Context, blob []byte, now time.Time) ([]byte, error) {
	var su abi.Startup
	if err := abi.DecodeStartup(blob, &su); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.blob, b.view = su.Orders, map[uint64]abi.OrderUpdate{}
	for _, o := range su.Orders {
		b.view[o.CID] = o
	}
	b.mu.Unlock()
	out, err := b.Sandbox.Start(ctx, blob, now)
	b.mu.Lock()
	b.started = err == nil
	b.mu.Unlock()
	return out, err
}

func (b *tapBox) Deliver(ctx context.Context, batch []byte, now time.Time) ([]byte, error) {
	b.mu.Lock()
	for rec, err := range abi.Records(batch) {
		var u abi.OrderUpdate
		if err != nil || rec.Kind != abi.KindOrderUpdate || abi.DecodeOrderUpdate(rec.Bytes, &u) != nil {
			continue
		}
		b.view[u.CID] = u
		b.events++
	}
	b.mu.Unlock()
	return b.Sandbox.Deliver(ctx, batch, now)
}

// open returns the instance's view of its open orders: exchange id → price
// and amount.
func (b *tapBox) open() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]string{}
	for _, u := range b.view {
		if u.State == abi.StateOpen {
			out[u.ExchangeOrderID.String()] = u.Price.String() + " " + u.Amount.String()
		}
	}
	return out
}

// exchangeOpen returns the exchange's open orders of the host: id → price
// and amount.
func exchangeOpen(srv *sim.Server) map[string]string {
	out := map[string]string{}
	for _, o := range ourOrders(srv) {
		p, _ := abi.FixedFromFloat(o.Price)
		a, _ := abi.FixedFromFloat(o.Amount)
		out[o.OrderID] = p.String() + " " + a.String()
	}
	return out
}

// The done-when test: the example market maker, quoting on a
// moving market, is swapped for a new build of itself. The exchange's open
// orders have the same ids before and after; the new instance was handed
// them and amends them; nothing is cancelled; a swap to a module that
// fails at start leaves the running one trading; and once the market stands
// still, the new instance's view of its orders (its start-up blob and the
// events it got) is the exchange's: no order event was lost. In process and
// in a child process.
func TestSwapMarketMakerKeepsItsQuotes(t *testing.T) {
	for _, child := range []bool{false, true} {
		t.Run(map[bool]string{false: "in-process", true: "child-process"}[child], func(t *testing.T) {
			testSwapMarketMaker(t, child)
		})
	}
}

func testSwapMarketMaker(t *testing.T, child bool) {
	wasm := example(t, "marketmaker")
	var opts []sandbox.Option
	if child {
		opts = append(opts, sandbox.WithChildProcess())
	}
	// Budgets a machine under load (-race, other tests) cannot exceed: a
	// fault would cancel the quotes this test follows.
	pcfg := sandbox.PluginConfig{CallBudget: 30 * time.Second, InitBudget: time.Minute}
	mm := load(t, "mm", wasm, pcfg, opts...)
	var mu sync.Mutex
	var taps []*tapBox
	spec := PluginSpec{Name: "mm", Plugin: mm, Instruments: []string{"BTC-PERPETUAL"},
		Channels: []string{"ticker.{instrument}.100ms"},
		Params: []abi.Param{{Type: abi.ParamFloat, Key: "half_spread_bps", Float: 50},
			{Type: abi.ParamFloat, Key: "requote_bps", Float: 0.5}},
		NewSandbox: func(p *sandbox.Plugin) sandbox.Sandbox {
			var sb sandbox.Sandbox = sandbox.NewInProcess(p)
			if child {
				sb = sandbox.NewProcess(p, sandbox.ProcessConfig{CacheDir: testCacheDir})
			}
			tap := &tapBox{Sandbox: sb}
			mu.Lock()
			taps = append(taps, tap)
			mu.Unlock()
			return tap
		}}
	cfg := DefaultConfig()
	cfg.Plugins = []PluginSpec{spec}
	r := startRigConn(t, cfg, func(sc *sim.Config) {
		// A market that moves fast enough for the quotes to follow it every
		// few ticks, without takers: the quotes (50 bps from mid) never fill,
		// so the orders on the book are the same orders throughout.
		sc.Market.Volatility = 2
		sc.Market.FlowProbability = -1
	}, steadyConn)
	tap := func(i int) *tapBox {
		mu.Lock()
		defer mu.Unlock()
		return taps[i]
	}
	r.wait("both quotes resting", func(s EngineStats) bool { return s.Acked >= 2 })
	waitUntil(t, "both quotes on the book", func() bool { return len(ourOrders(r.srv)) == 2 })
	ids := slices.Sorted(maps.Keys(exchangeOpen(r.srv)))
	t0 := r.e.Stats()

	// The new build: the same source, loaded again as a module of its own.
	next := load(t, "mm", wasm, pcfg, opts...)
	res, err := r.e.Swap(context.Background(), "mm", next, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(exchangeOpen(r.srv))); res.Adopted != 2 || !slices.Equal(got, ids) {
		t.Fatalf("swap adopted %d orders; the book has %v, had %v", res.Adopted, got, ids)
	}
	heir := tap(1)
	heir.mu.Lock()
	blob := slices.Clone(heir.blob)
	heir.mu.Unlock()
	var blobIDs []string
	blobPrice := map[uint64]abi.Fixed{}
	for _, o := range blob {
		blobIDs = append(blobIDs, o.ExchangeOrderID.String())
		blobPrice[o.CID] = o.Price
	}
	if slices.Sort(blobIDs); !slices.Equal(blobIDs, ids) {
		t.Errorf("the new instance's start-up blob holds orders %v, the book %v", blobIDs, ids)
	}

	// The market moves: the new instance amends the orders it adopted.
	waitUntil(t, "the new instance amending an adopted quote", func() bool {
		heir.mu.Lock()
		defer heir.mu.Unlock()
		for cid, p := range blobPrice {
			if u, ok := heir.view[cid]; ok && u.State == abi.StateOpen && u.Price != p {
				return true
			}
		}
		return false
	})

	// A module that fails at start: the running instance keeps trading.
	bad := load(t, "mm", wasm, pcfg, opts...)
	_, err = r.e.Swap(context.Background(), "mm", bad, []abi.Param{{Type: abi.ParamFloat, Key: "half_spread_bps", Float: -1}})
	if !errors.Is(err, ErrSwap) || !strings.Contains(err.Error(), "did not start") {
		t.Fatalf("a swap to a module that fails at start: %v", err)
	}
	heir.mu.Lock()
	seen := heir.events
	heir.mu.Unlock()
	waitUntil(t, "the running instance trading after the failed swap", func() bool {
		heir.mu.Lock()
		defer heir.mu.Unlock()
		return heir.events > seen
	})

	// The market stands still: the new instance's view becomes the
	// exchange's, the same orders as before the swap.
	r.srv.Freeze(true)
	var view, book map[string]string
	waitUntil(t, "the strategy's view of its orders equal to the exchange's", func() bool {
		view, book = heir.open(), exchangeOpen(r.srv)
		return maps.Equal(view, book) && r.e.Stats().InFlight == 0
	})
	if got := slices.Sorted(maps.Keys(book)); !slices.Equal(got, ids) {
		t.Errorf("the book has orders %v, had %v before the swap", got, ids)
	}
	st := r.e.Stats()
	ps := pluginStats(st, "mm")
	if st.Cancelled != t0.Cancelled || st.Placed != t0.Placed || ps.Swaps != 1 || ps.Faults != 0 {
		t.Errorf("stats: %d cancelled, %d placed since the swap, plugin %+v; want none, 1 swap, no fault",
			st.Cancelled-t0.Cancelled, st.Placed-t0.Placed, ps)
	}
	if len(taps) != 3 || !tap(1).started || tap(2).started {
		t.Errorf("%d instances; want the old, the new and the one that failed to start", len(taps))
	}
	t.Logf("orders %v; the new instance got %d order updates before the failed swap", ids, seen)
	r.stop() // before the modules loaded after the rig are closed
}
