package host

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
)

var (
	chaosSeed  = flag.Uint64("chaos.seed", 7, "seed of the chaos test's choices")
	chaosDrops = flag.Int("chaos.drops", 6, "connections the chaos test drops (make chaos: 25)")
)

// chaosOrder is what the trader knows of one of its orders, from events.
type chaosOrder struct {
	state    abi.OrderState
	price    abi.Fixed
	filled   abi.Fixed // from order updates
	fills    abi.Fixed // Σ fill events
	finals   int       // final updates received
	late     int       // updates after the final one
	exchID   string
	replaced int // pending with reason cancel_on_disconnect
}

// chaosTrader is a Sandbox whose strategy trades at random (seeded) around
// the mid: it places, amends and cancels, and records every event so that
// the test can check what the host promised.
type chaosTrader struct {
	mu       sync.Mutex
	rng      *rand.Rand
	orders   map[uint64]*chaosOrder
	next     uint64
	mid      abi.Fixed
	paused   atomic.Bool
	flatten  atomic.Bool // the next call cancels every order
	position abi.Fixed
	seq      uint32
	change   chan struct{}
}

func newChaosTrader(seed uint64) *chaosTrader {
	return &chaosTrader{rng: rand.New(rand.NewPCG(seed, seed^0x5bd1e995)), orders: map[uint64]*chaosOrder{},
		next: 1, change: make(chan struct{}, 1)}
}

func (c *chaosTrader) Start(context.Context, []byte, time.Time) ([]byte, error) { return nil, nil }

func (c *chaosTrader) Deliver(_ context.Context, batch []byte, _ time.Time) ([]byte, error) {
	sandbox.NumberEvents(batch, &c.seq)
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() {
		select {
		case c.change <- struct{}{}:
		default:
		}
	}()
	for rec, err := range abi.Records(batch) {
		if err != nil {
			return nil, err
		}
		switch rec.Kind {
		case abi.KindTicker:
			var t abi.Ticker
			if abi.DecodeTicker(rec.Bytes, &t) == nil && t.BestBidPrice > 0 && t.BestAskPrice > 0 {
				c.mid = (t.BestBidPrice + t.BestAskPrice) / 2
			}
		case abi.KindOrderUpdate:
			var u abi.OrderUpdate
			if abi.DecodeOrderUpdate(rec.Bytes, &u) != nil {
				continue
			}
			o := c.orders[u.CID]
			if o == nil {
				o = &chaosOrder{}
				c.orders[u.CID] = o
			}
			if o.finals > 0 {
				o.late++
			}
			o.state, o.price, o.filled, o.exchID = u.State, u.Price, u.FilledAmount, u.ExchangeOrderID.String()
			if u.State == abi.StatePending && u.Reason == abi.ReasonCancelOnDisconnect {
				o.replaced++
			}
			if u.State >= abi.StateFilled {
				o.finals++
			}
		case abi.KindFill:
			var f abi.Fill
			if abi.DecodeFill(rec.Bytes, &f) == nil {
				if o := c.orders[f.CID]; o != nil {
					o.fills += f.Amount
				}
			}
		case abi.KindPosition:
			var p abi.Position
			if abi.DecodePosition(rec.Bytes, &p) == nil {
				c.position = p.Size
			}
		}
	}
	if c.flatten.CompareAndSwap(true, false) {
		return abi.AppendCancelAll(nil, &abi.CancelAll{Instrument: abi.NoInstrument}), nil
	}
	if c.paused.Load() || c.mid == 0 {
		return nil, nil
	}
	return c.act(), nil
}

// act chooses this call's intents.
func (c *chaosTrader) act() []byte {
	var out []byte
	var open []uint64
	live := 0
	for cid, o := range c.orders {
		if o.finals == 0 {
			live++
			if o.state == abi.StateOpen {
				open = append(open, cid)
			}
		}
	}
	tick := fx("0.5")
	switch r := c.rng.Float64(); {
	case r < 0.25 && live < 6:
		side, ticks := abi.Buy, abi.Fixed(c.rng.IntN(12)-2) // sometimes through the spread: fills
		price := c.mid/tick*tick - ticks*tick
		if c.rng.IntN(2) == 0 {
			side, price = abi.Sell, c.mid/tick*tick+ticks*tick
		}
		p := abi.Place{Seq: uint32(c.next), CID: c.next, Side: side, Type: abi.Limit, TIF: abi.GoodTilCancelled,
			Price: price, Amount: fx("10") * abi.Fixed(1+c.rng.IntN(3))}
		c.orders[c.next] = &chaosOrder{state: abi.StatePending}
		c.next++
		out = abi.AppendPlace(out, &p)
	case r < 0.35 && len(open) > 0:
		out = abi.AppendCancel(out, &abi.Cancel{CID: open[c.rng.IntN(len(open))]})
	case r < 0.45 && len(open) > 0:
		cid := open[c.rng.IntN(len(open))]
		o := c.orders[cid]
		np := o.price + abi.Fixed(c.rng.IntN(5)-2)*tick
		if np > 0 {
			out = abi.AppendAmend(out, &abi.Amend{CID: cid, Price: np, Amount: max(o.filled+fx("10"), fx("20"))})
		}
	}
	return out
}

func (c *chaosTrader) NextTimer() (time.Time, bool)                    { return time.Time{}, false }
func (c *chaosTrader) Stop(context.Context, time.Time) ([]byte, error) { return nil, nil }
func (c *chaosTrader) Close() error                                    { return nil }
func (c *chaosTrader) Fault() *sandbox.Fault                           { return nil }
func (c *chaosTrader) Stats() sandbox.InstanceStats                    { return sandbox.InstanceStats{} }
func (c *chaosTrader) Descriptor() abi.Descriptor {
	return abi.Descriptor{InboxCap: 1 << 16, OutboxCap: 1 << 16}
}

// waitTrader waits until pred holds for the trader's state.
func (c *chaosTrader) waitTrader(t *testing.T, what string, pred func() bool) {
	t.Helper()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok := pred()
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-c.change:
		case <-deadline.C:
			c.mu.Lock()
			var open []string
			for cid, o := range c.orders {
				if o.finals == 0 {
					open = append(open, fmt.Sprintf("%d:%v/%s", cid, o.state, o.exchID))
				}
			}
			c.mu.Unlock()
			t.Fatalf("timed out waiting for %s; orders not final (cid:state/id): %v", what, open)
		}
	}
}

// The simulator drops connections of the pool (which ones: a seeded
// choice; when: after the strategy has made progress) while a strategy
// trades at random. Afterwards: no order was ever live twice, the live
// orders on the exchange are exactly the host's view, every order ended in
// exactly one final state with no update after it, every order's fills add
// up to its filled amount, and the plugin's position is the account's.
//
// go test runs it with 6 drops (about 3 s); make chaos with 25 and any
// seed (CHAOS_SEED). At 25 drops it passed 100 seeded runs in a row on a
// loaded 2-core machine once the bugs it found were fixed (RATIONALE.md).
func TestChaos(t *testing.T) {
	tr := newChaosTrader(*chaosSeed)
	cfg := Config{Plugins: []PluginSpec{{Name: "chaos", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return tr },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}}}}
	r := startPoolRig(t, cfg, pool.Config{Size: 3})
	rng := rand.New(rand.NewPCG(*chaosSeed, 1))
	placed := func() int { return int(r.e.Stats().Placed) }
	for i := range *chaosDrops {
		target := placed() + 3
		r.wait(fmt.Sprintf("trading before drop %d", i), func(s EngineStats) bool { return int(s.Placed) >= target })
		conns := r.srv.Conns()
		if len(conns) == 0 {
			continue
		}
		victim := conns[rng.IntN(len(conns))].ID
		r.srv.DropConn(victim)
		checkNoTwins(t, r.srv)
	}
	res := settle(t, r, tr)
	t.Logf("chaos: %d drops, %d orders, %d fills, %d re-placed (%d seen by the plugin; %d orders more than once), pool losses %d",
		*chaosDrops, res.orders, res.fills, res.relocated, res.replaced, res.again, r.p.Stats().Losses)
}

// settled is what settle found.
type settled struct {
	orders, replaced   int
	again              int // orders re-placed more than once (each after a loss of its own)
	fills, relocated   uint64
	lost, finalsBroken int // orders whose end the plugin did not hear exactly once; fills not adding up
}

// settle stops the trader and checks what the host promised, failing t
// for every broken promise: no order live twice; once the market is
// frozen and nothing is in flight, the live orders on the exchange are
// exactly the trader's open ones; after a cancel-all every order ended in
// exactly one final state with no update after it; every order's fills
// add up to its filled amount; the plugin's position is the account's.
func settle(t *testing.T, r *poolRig, tr *chaosTrader) settled {
	t.Helper()
	// Quiesce: no new intents, the market frozen (no more fills), every
	// connection back, nothing in flight, and the trader's view settled (no
	// order pending).
	tr.paused.Store(true)
	r.srv.Freeze(true)
	if !r.e.WaitStats(func(s EngineStats) bool { return r.p.Stats().Healthy == r.p.Size() && s.InFlight == 0 }, time.Minute) {
		t.Fatalf("timed out waiting for the pool healthy and nothing in flight: engine %+v, pool %+v", r.e.Stats(), r.p.Stats())
	}
	tr.waitTrader(t, "no order pending", func() bool {
		for _, o := range tr.orders {
			if o.finals == 0 && o.state == abi.StatePending {
				return false
			}
		}
		return true
	})
	checkNoTwins(t, r.srv)
	// The live orders on the exchange are the trader's open ones, once the
	// notifications of the last fills (before the freeze) have arrived.
	tr.waitTrader(t, "the host's view to match the exchange's", func() bool {
		diff := viewDiff(tr, r.srv)
		if len(diff) > 0 {
			t.Logf("not yet: %v", diff)
		}
		return len(diff) == 0
	})
	// The strategy cancels everything, and hears every order end.
	tr.flatten.Store(true)
	tr.waitTrader(t, "every order final", func() bool {
		for _, o := range tr.orders {
			if o.finals == 0 {
				return false
			}
		}
		return true
	})
	r.stop()
	if left := ourOrders(r.srv); len(left) != 0 {
		t.Errorf("orders left after the run: %+v", left)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var res settled
	for cid, o := range tr.orders {
		if o.finals != 1 || o.late != 0 {
			res.lost++
			t.Errorf("order %d: %d final updates, %d after the final one (state %v)", cid, o.finals, o.late, o.state)
		}
		if o.fills != o.filled {
			res.finalsBroken++
			t.Errorf("order %d: fills add up to %v, its filled amount is %v", cid, o.fills, o.filled)
		}
		res.replaced += o.replaced
		if o.replaced > 1 {
			res.again++
		}
	}
	pos, err := r.srv.Position(simAccount, "BTC-PERPETUAL")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := abi.FixedFromFloat(pos.Size)
	if hp := pluginStats(r.e.Stats(), "chaos").Positions[0].Size; hp != want || tr.position != want {
		t.Errorf("the plugin's position %v (the host's attribution %v), the account's %v", tr.position, hp, want)
	}
	st := r.e.Stats()
	res.orders, res.fills, res.relocated = len(tr.orders), st.Fills, st.Relocated
	return res
}

// viewDiff lists the differences between the orders the trader sees open
// and the live orders on the exchange. Called with tr.mu held.
func viewDiff(tr *chaosTrader, srv *sim.Server) []string {
	var diff []string
	host := map[string]uint64{}
	for cid, o := range tr.orders {
		if o.finals == 0 {
			host[o.exchID] = cid
		}
	}
	onBook := map[string]bool{}
	for _, o := range ourOrders(srv) {
		onBook[o.OrderID] = true
		if _, ok := host[o.OrderID]; !ok {
			diff = append(diff, fmt.Sprintf("order %s (%s) is live on the exchange but not in the host's view", o.OrderID, o.Label))
		}
	}
	for id, cid := range host {
		if !onBook[id] {
			diff = append(diff, fmt.Sprintf("order %d (%s) is open in the host's view but not on the exchange", cid, id))
		}
	}
	return diff
}

// checkNoTwins fails if two live orders on the exchange carry one label,
// and returns how many labels are live twice.
func checkNoTwins(t *testing.T, srv *sim.Server) int {
	t.Helper()
	n := 0
	seen := map[string]string{}
	for _, o := range ourOrders(srv) {
		if other, ok := seen[o.Label]; ok {
			n++
			t.Errorf("label %s is live twice: %s and %s", o.Label, other, o.OrderID)
		}
		seen[o.Label] = o.OrderID
	}
	return n
}
