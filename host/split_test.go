package host

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratbox/stratbox/venue/deribit"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
)

func TestShares(t *testing.T) {
	for _, c := range []struct {
		amount, step string
		n            int
		want         []string
	}{
		{"90", "10", 3, []string{"30", "30", "30"}},
		{"100", "10", 3, []string{"40", "30", "30"}},
		{"20", "10", 3, []string{"10", "10"}}, // fewer parts than asked: none is empty
		{"10", "10", 3, []string{"10"}},
		{"0.3", "0.1", 2, []string{"0.2", "0.1"}},
		{"7", "0", 2, []string{"0.000000004", "6.999999996"}}, // no step: the smallest unit (a remainder goes last)
	} {
		var got []string
		var sum abi.Fixed
		for _, s := range shares(fx(c.amount), fx(c.step), c.n) {
			got = append(got, s.String())
			sum += s
		}
		if c.step != "0" && !slices.Equal(got, c.want) || sum != fx(c.amount) {
			t.Errorf("shares(%s, %s, %d) = %v, want %v (sum %s)", c.amount, c.step, c.n, got, c.want, sum)
		}
	}
}

// splitLegs returns the legs of cid on the simulator's book, by chunk.
func splitLegs(srv *sim.Server, cid uint64) map[string]sim.Order {
	out := map[string]sim.Order{}
	for _, o := range ourOrders(srv) {
		if l, ok := deribit.ParseLabel([]byte(o.Label)); ok && l.Instance == 1 && l.CID == cid && l.Chunk != 0 {
			out[strconv.Itoa(int(l.Chunk))] = o
		}
	}
	return out
}

// Policy split: a large order becomes one leg per connection, the plugin
// sees one order; the loss of a connection cancels only its leg, which
// comes back on another connection while the other legs stay; an amend
// spreads the new amount over the legs; a cancel ends them all; a small
// order is not split.
func TestPoolSplit(t *testing.T) {
	sb := newScriptBox(slices.Concat(place(1, 1, 0, abi.Buy, "1000", "90"), place(2, 2, 0, abi.Buy, "999", "10")))
	cfg := Config{Plugins: []PluginSpec{{Name: "script", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return sb },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}}}}
	r := startPoolRig(t, cfg, pool.Config{Size: 3, Policy: pool.Split, SplitAbove: 20})
	if !r.e.WaitStats(func(EngineStats) bool { return r.p.Stats().Healthy == 3 }, 30*time.Second) {
		t.Fatal("pool not whole")
	}
	// The plugin's order is open once a leg is; wait for all three (and
	// the small order) to be acknowledged before reading the book.
	open := sb.waitOrder(t, 1, abi.StateOpen, abi.ReasonNone)
	r.wait("every leg acknowledged", func(s EngineStats) bool { return s.Acked >= 4 })
	if open.Amount != fx("90") || open.Price != fx("1000") || open.FilledAmount != 0 {
		t.Fatalf("split order as the plugin sees it: %+v", open)
	}
	sb.waitOrder(t, 2, abi.StateOpen, abi.ReasonNone)
	small, ok := simOrder(r.srv, 2)
	if !ok {
		t.Fatal("the small order is not on the book under its plain label")
	}
	legs := splitLegs(r.srv, 1)
	conns := map[int64]bool{}
	for chunk, o := range legs {
		conns[int64(o.ConnID)] = true
		if o.Amount != 30 || o.Price != 1000 {
			t.Errorf("leg %s: %+v, want 30 at 1000", chunk, o)
		}
	}
	if len(legs) != 3 || len(conns) != 3 {
		t.Fatalf("legs %+v: want 3 on 3 connections", legs)
	}
	var opens int
	for _, rec := range sb.recorded() {
		var u abi.OrderUpdate
		if abi.DecodeOrderUpdate(rec, &u) == nil && u.CID == 1 && u.State == abi.StateOpen {
			opens++
		}
	}
	if opens != 1 {
		t.Fatalf("%d open updates of the split order, want 1 (the plugin sees one order)", opens)
	}

	// Lose the connection of leg 2.
	victim := legs["2"]
	r.srv.DropConn(victim.ConnID)
	sb.waitFor(t, "the loss of a leg told", func(rec []byte) bool {
		var u abi.OrderUpdate
		return abi.DecodeOrderUpdate(rec, &u) == nil && u.CID == 1 && u.State == abi.StateOpen &&
			u.Reason == abi.ReasonCancelOnDisconnect
	})
	sb.waitFor(t, "the leg re-placed", func(rec []byte) bool {
		var u abi.OrderUpdate
		return abi.DecodeOrderUpdate(rec, &u) == nil && u.CID == 1 && u.State == abi.StateOpen &&
			strings.Contains(u.Text.String(), "re-placed")
	})
	after := splitLegs(r.srv, 1)
	if len(after) != 3 || after["1"].OrderID != legs["1"].OrderID || after["3"].OrderID != legs["3"].OrderID {
		t.Fatalf("legs after the loss: %+v, before %+v: only leg 2 should change", after, legs)
	}
	if a := after["2"]; a.OrderID == victim.OrderID || a.ConnID == victim.ConnID || a.Amount != 30 {
		t.Fatalf("leg 2 after the loss: %+v (was %+v)", a, victim)
	}
	want := uint64(1)
	if small.ConnID == victim.ConnID {
		want++ // the small order was on that connection too
		sb.waitFor(t, "order 2 re-placed", func(rec []byte) bool {
			var u abi.OrderUpdate
			return abi.DecodeOrderUpdate(rec, &u) == nil && u.CID == 2 && u.State == abi.StateOpen &&
				u.ExchangeOrderID.String() != small.OrderID
		})
	}
	if st := r.e.Stats(); st.Relocated != want || st.Split != 1 {
		t.Fatalf("relocated %d, split %d; want %d and 1", st.Relocated, st.Split, want)
	}

	// Amend: 60 at 1000.5, spread 20 a leg.
	sb.queue(abi.AppendAmend(nil, &abi.Amend{Seq: 3, CID: 1, Price: fx("1000.5"), Amount: fx("60")}))
	expectSplit(t, sb, r.srv, "the amend", "60", "1000.5", 20)

	// Cancel: every leg goes, the plugin hears of one cancelled order.
	sb.queue(abi.AppendCancel(nil, &abi.Cancel{Seq: 4, CID: 1}))
	u := sb.waitOrder(t, 1, abi.StateCancelled, abi.ReasonCancelRequested)
	if u.Amount != fx("60") || u.FilledAmount != 0 {
		t.Fatalf("cancelled split order: %+v", u)
	}
	if n := len(splitLegs(r.srv, 1)); n != 0 {
		t.Fatalf("%d legs left on the book", n)
	}
	r.e.mu.Lock()
	left := len(r.e.splits)
	r.e.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d split orders still tracked", left)
	}
	// The members' load counts only the small order (least_loaded and split
	// pick by it): nothing counted twice or left behind by the legs.
	var carried int64
	for _, m := range r.p.Stats().Members {
		carried += m.Carried
	}
	if carried != 1 {
		t.Fatalf("members carry %d orders, want 1 (the small one)", carried)
	}
}

// recorded returns a copy of the events delivered so far.
func (s *scriptBox) recorded() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// An amend of a split order refused on one leg (here: not enough funds on
// leg 2) is refused for the whole order: the legs that took it are amended
// back, so that the plugin's order keeps one set of terms, the one it had.
func TestSplitAmendRefusedOnOneLegRollsBack(t *testing.T) {
	sb := newScriptBox(place(1, 1, 0, abi.Buy, "1000", "90"))
	cfg := Config{Plugins: []PluginSpec{{Name: "script", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return sb },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}}}}
	r := startPoolRig(t, cfg, pool.Config{Size: 3, Policy: pool.Split, SplitAbove: 20})
	sb.waitOrder(t, 1, abi.StateOpen, abi.ReasonNone)
	r.wait("every leg acknowledged", func(s EngineStats) bool { return s.Acked >= 3 })
	legs := splitLegs(r.srv, 1)
	if len(legs) != 3 {
		t.Fatalf("legs %+v", legs)
	}
	refusedID := legs["2"].OrderID
	var refused atomic.Int32
	r.srv.Refuse(func(method string, params json.RawMessage) *sim.Error {
		if method == "private/edit" && strings.Contains(string(params), strconv.Quote(refusedID)) {
			refused.Add(1)
			return sim.NewError(sim.CodeNotEnoughFunds, nil)
		}
		return nil
	})
	sb.queue(abi.AppendAmend(nil, &abi.Amend{Seq: 3, CID: 1, Price: fx("1000.5"), Amount: fx("60")}))
	rec := sb.waitFor(t, "the amend refused", func(rec []byte) bool {
		var x abi.IntentRejected
		return abi.DecodeIntentRejected(rec, &x) == nil && x.CID == 1 && x.IntentSeq == 3
	})
	var x abi.IntentRejected
	_ = abi.DecodeIntentRejected(rec, &x)
	if x.ExchangeCode != sim.CodeNotEnoughFunds {
		t.Fatalf("refusal %+v, want the exchange's code", x)
	}
	// The plugin's order is 90 at 1000 again only once every leg is back
	// at 30 at 1000 (its amount is the legs' sum, its price the last
	// leg's); the book is as new as what the engine was told.
	// The rollback's amends were sent before the plugin was told (same
	// lock); once no request is left the order has settled. (On the way
	// the plugin may be told of mixed terms: the legs answer on their own
	// connections, in any order.)
	select {
	case <-r.e.reqs.idle():
	case <-time.After(60 * time.Second):
		t.Fatal("requests still in flight")
	}
	r.e.mu.Lock()
	v := r.e.splits[orderKey{instance: 1, cid: 1}].view
	r.e.mu.Unlock()
	if v.state != abi.StateOpen || v.amount != fx("90") || v.price != fx("1000") {
		t.Fatalf("after the rollback the plugin's order is %v %v at %v, want open 90 at 1000", v.state, v.amount, v.price)
	}
	for chunk, o := range splitLegs(r.srv, 1) {
		if o.Amount != 30 || o.Price != 1000 {
			t.Errorf("leg %s after the rollback: %+v, want 30 at 1000", chunk, o)
		}
	}
	if n := refused.Load(); n != 1 {
		t.Fatalf("leg 2 was sent %d edits, want 1 (it never took the amend: nothing to undo)", n)
	}
	var rejections int
	for _, rec := range sb.recorded() {
		var x abi.IntentRejected
		if abi.DecodeIntentRejected(rec, &x) == nil {
			rejections++
		}
	}
	if rejections != 1 {
		t.Fatalf("%d intent rejections, want 1", rejections)
	}

	// Without the refusal the same amend goes through on every leg.
	r.srv.Refuse(nil)
	sb.queue(abi.AppendAmend(nil, &abi.Amend{Seq: 4, CID: 1, Price: fx("1000.5"), Amount: fx("60")}))
	expectSplit(t, sb, r.srv, "the second amend", "60", "1000.5", 20)
}

// expectSplit waits for the plugin to be told that split order 1 is open
// at amount and price, then checks that each of its legs is legAmount at
// that price on the book (which is as new as what the engine was told).
// The amount is the legs' sum, the price the last leg's: with legs of equal
// shares, only the end of an amend matches both.
func expectSplit(t *testing.T, sb *scriptBox, srv *sim.Server, what string, amount, price string, legAmount float64) {
	t.Helper()
	sb.waitFor(t, what, func(rec []byte) bool {
		var u abi.OrderUpdate
		return abi.DecodeOrderUpdate(rec, &u) == nil && u.CID == 1 && u.State == abi.StateOpen &&
			u.Amount == fx(amount) && u.Price == fx(price)
	})
	p := fx(price).Float64()
	for chunk, o := range splitLegs(srv, 1) {
		if o.Amount != legAmount || o.Price != p {
			t.Errorf("%s: leg %s is %+v, want %v at %v", what, chunk, o, legAmount, p)
		}
	}
}
