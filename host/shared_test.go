package host

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/sim"
	"github.com/stratbox/stratbox/venue/deribit"
)

// sharedHost is one engine trading on the simulator's test account
// beside others.
type sharedHost struct {
	sb   *scriptBox
	e    *Engine
	c    *conn.Conn
	stop func()
}

func startSharedHost(t *testing.T, srv *sim.Server, hostID string, start []byte) *sharedHost {
	t.Helper()
	h := &sharedHost{sb: newScriptBox(start)}
	var err error
	h.e, err = New(Config{Plugins: []PluginSpec{{Name: "p", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return h.sb },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}}}, HostID: hostID},
		WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	h.c, err = conn.Dial(context.Background(), testConnConfig(srv.URL()), conn.WithSink(h.e))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.c.Close() })
	h.stop = runEngine(t, h.e, h.c)
	return h
}

// exchangeOrder reads an order's state back from the exchange.
func exchangeOrder(t *testing.T, c *conn.Conn, id string) sim.Order {
	t.Helper()
	raw, err := c.CallRaw(context.Background(), "private/get_order_state", []byte(`{"order_id":`+strconv.Quote(id)+`}`))
	if err != nil {
		t.Fatalf("get_order_state %s: %v", id, err)
	}
	var o sim.Order
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// Two hosts on one account (issue 15, reproduction 2), each with plugin
// instance 1 and the same cids: host B placing and cancelling its cid 1
// leaves host A's cid 1 alone; B stopping cancels B's orders only; a new
// run of B (its start-up reconciliation) cancels none of A's. Throughout,
// A's orders, fills and position are untouched and its view equals the
// exchange's.
func TestTwoHostsOnOneAccount(t *testing.T) {
	srv, err := sim.Start(context.Background(), testSimConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	market := func(seq uint32, cid uint64) []byte {
		return abi.AppendPlace(nil, &abi.Place{Seq: seq, CID: cid, Side: abi.Buy, Type: abi.Market,
			TIF: abi.ImmediateOrCancel, Amount: fx("10")})
	}
	a := startSharedHost(t, srv, "host-a", slices.Concat(place(1, 1, 0, abi.Buy, "1000", "10"), market(2, 2)))
	aOpen := a.sb.waitOrder(t, 1, abi.StateOpen, abi.ReasonNone)
	aFilled := a.sb.waitOrder(t, 2, abi.StateFilled, abi.ReasonNone)

	b := startSharedHost(t, srv, "host-b", slices.Concat(place(1, 1, 0, abi.Buy, "1001", "10"), market(2, 2)))
	b.sb.waitOrder(t, 1, abi.StateOpen, abi.ReasonNone)
	b.sb.waitOrder(t, 2, abi.StateFilled, abi.ReasonNone)
	b.sb.queue(abi.AppendCancel(nil, &abi.Cancel{Seq: 3, CID: 1}), place(4, 3, 0, abi.Buy, "1002", "10"))
	b.sb.waitOrder(t, 1, abi.StateCancelled, abi.ReasonCancelRequested)
	b.sb.waitOrder(t, 3, abi.StateOpen, abi.ReasonNone)
	b.stop() // cancels its cid 3 (checked on the book below)

	// A new run of host B: its reconciliation leaves A's order alone.
	b2 := startSharedHost(t, srv, "host-b", nil)
	b2.sb.waitFor(t, "B's new run trading", func(rec []byte) bool { return abi.ReadHeader(rec).Kind == abi.KindTicker })
	if st := b2.e.Stats(); st.Leftover != 0 || st.Peers != 1 {
		t.Errorf("B's new run: leftover %d, peers %d; want 0 and A's order", st.Leftover, st.Peers)
	}
	b2.stop()

	// A never heard of B's orders: only its own two orders' updates.
	a.sb.mu.Lock()
	events := slices.Clone(a.sb.events)
	a.sb.mu.Unlock()
	for _, rec := range events {
		var u abi.OrderUpdate
		if abi.ReadHeader(rec).Kind == abi.KindOrderUpdate && abi.DecodeOrderUpdate(rec, &u) == nil {
			if u.CID == 1 && !(u.State == abi.StatePending && u.ExchangeOrderID[0] == 0 || u.State == abi.StateOpen && u.ExchangeOrderID == aOpen.ExchangeOrderID) {
				t.Errorf("A's cid 1 saw %v with id %s (its order is %s)", u.State, u.ExchangeOrderID.String(), aOpen.ExchangeOrderID.String())
			}
		}
	}
	// A's view equals the exchange's.
	left := ourOrders(srv)
	if len(left) != 1 || left[0].OrderID != aOpen.ExchangeOrderID.String() {
		t.Fatalf("open orders %+v, want A's cid 1 (%s) only", left, aOpen.ExchangeOrderID.String())
	}
	if l, ok := deribit.ParseLabel([]byte(left[0].Label)); !ok || string(l.Host) != "host-a" || l.CID != 1 {
		t.Fatalf("A's order's label %q", left[0].Label)
	}
	st := a.e.Stats()
	ps := pluginStats(st, "p")
	filled := exchangeOrder(t, a.c, aFilled.ExchangeOrderID.String())
	if ps.OpenOrders != 1 || len(ps.Positions) != 1 || ps.Positions[0].Size.Float64() != filled.FilledAmount ||
		filled.OrderState != "filled" || st.Cancelled != 0 {
		t.Fatalf("A: %+v, stats %+v; the exchange: its fill %+v", ps, st, filled)
	}
	if o := exchangeOrder(t, a.c, aOpen.ExchangeOrderID.String()); o.OrderState != "open" || o.FilledAmount != 0 {
		t.Fatalf("A's cid 1 on the exchange: %+v", o)
	}
	a.stop()
	if left := ourOrders(srv); len(left) != 0 {
		t.Fatalf("orders left after both hosts stopped: %+v", left)
	}
}
