package host

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
)

// Regression tests of bugs a review found (2026-11-27).

// notSent is an Exchange on which nothing can be sent (no connection).
type notSent struct{}

func (notSent) CallRaw(context.Context, string, []byte) (json.RawMessage, error) {
	return nil, fmt.Errorf("test: %w", conn.ErrNotSent)
}
func (notSent) Subscribe(context.Context, ...string) ([]string, error) { return nil, nil }

func legUpd(cid uint64, state abi.OrderState, filled string, ts uint64, id string, r abi.Reason) *abi.OrderUpdate {
	u := &abi.OrderUpdate{CID: cid, State: state, Side: abi.Buy, Type: abi.Limit, TIF: abi.GoodTilCancelled,
		Price: fx("60000"), Amount: fx("30"), FilledAmount: fx(filled), Time: ts, Reason: r}
	if filled != "0" {
		u.AvgPrice = fx("60000")
	}
	copy(u.ExchangeOrderID[:], id)
	return u
}

// A split order of 60 (two legs of 30): leg 2's connection is lost and its
// re-placement cannot be sent (rejected, nothing filled); leg 1 fills. The
// plugin's order of 60 got 30: it must not be told "filled".
func TestSplitWithARefusedLegIsNotFilled(t *testing.T) {
	e, pl, o0 := omRig(t)
	delete(e.orders, o0.key)
	delete(pl.open, o0)
	e.splits = map[orderKey]*split{}
	e.relay, e.ex, e.life, e.cfg.RequestTimeout = true, notSent{}, context.Background(), time.Second
	s := &split{view: order{pl: pl, key: orderKey{instance: 1, cid: 5}, side: abi.Buy, typ: abi.Limit,
		tif: abi.GoodTilCancelled, price: fx("60000"), amount: fx("60"), state: abi.StatePending}}
	for i := range 2 {
		leg := s.view
		leg.key.chunk = uint8(i + 1)
		leg.amount = fx("30")
		leg.parent = s
		leg.label = testOwner.Label(1, 5, leg.key.chunk)
		o := &leg
		s.legs = append(s.legs, o)
		e.orders[o.key] = o
		pl.open[o] = struct{}{}
	}
	e.splits[s.view.key] = s
	pl.splits++
	l1, l2 := s.legs[0], s.legs[1]
	now := time.Unix(1000, 0)

	e.mu.Lock()
	e.applyUpdate(l1, legUpd(5, abi.StateOpen, "0", 1, "A", 0), now)
	e.applyUpdate(l2, legUpd(5, abi.StateOpen, "0", 1, "B", 0), now)
	// Leg 2's connection is lost: cancel-on-disconnect, re-placed (fails: not sent).
	e.applyUpdate(l2, legUpd(5, abi.StateCancelled, "0", 2, "B", abi.ReasonCancelOnDisconnect), now)
	e.mu.Unlock()
	<-e.reqs.idle()
	e.mu.Lock()
	// Leg 1 fills.
	e.applyFill(l1, &abi.Fill{CID: 5, Side: abi.Buy, TradeSeq: 1, Price: fx("60000"), Amount: fx("30")}, []byte("A"), now)
	e.applyUpdate(l1, legUpd(5, abi.StateFilled, "30", 3, "A", 0), now)
	e.mu.Unlock()

	var last abi.OrderUpdate
	finals := 0
	for _, rec := range ibRecords(t, pl.inbox.Take(nil, 1<<20)) {
		var u abi.OrderUpdate
		if abi.ReadHeader(rec).Kind == abi.KindOrderUpdate && abi.DecodeOrderUpdate(rec, &u) == nil && u.CID == 5 {
			t.Logf("update: state %v reason %v amount %v filled %v text %q", u.State, u.Reason, u.Amount, u.FilledAmount, u.Text.String())
			last = u
			if u.State == abi.StateFilled || u.State == abi.StateCancelled || u.State == abi.StateRejected {
				finals++
			}
		}
	}
	if l2.state != abi.StateRejected {
		t.Fatalf("setup: leg 2 %v", l2.state)
	}
	if finals != 1 || last.State == abi.StateFilled {
		t.Fatalf("split order of 60 with 30 filled and a leg's re-placement rejected reported as %v, amount %v, filled %v (finals %d)",
			last.State, last.Amount, last.FilledAmount, finals)
	}
}

// placeAnswer answers a buy with the re-placed order (6 of the 10 left
// after 4 filled), then nothing.
type placeAnswer struct{}

func (placeAnswer) CallRaw(_ context.Context, method string, _ []byte) (json.RawMessage, error) {
	return json.RawMessage(`{"order":{"order_id":"ETH-2","instrument_name":"BTC-PERPETUAL","direction":"buy","order_type":"limit",
		"time_in_force":"good_til_cancelled","order_state":"open","label":"sbx:h1:r1:1:1","price":60000,"amount":6,"filled_amount":0,
		"average_price":0,"last_update_timestamp":10},"trades":[]}`), nil
}
func (placeAnswer) Subscribe(context.Context, ...string) ([]string, error) { return nil, nil }

// An order re-placed after a lost connection with 4 of 10 filled (base 4);
// its new exchange order (6) fills while notifications are lost (a gap in
// the private channels: Event.Resync). The state read back must
// reconstruct the 6 missed and end the order.
func TestReadBackOfAReplacedOrderCountsItsBase(t *testing.T) {
	e, pl, o := omRig(t)
	e.relay, e.ex, e.life, e.cfg.RequestTimeout = true, placeAnswer{}, context.Background(), time.Second
	e.rtr = newTestTranslator(t)
	o.label = "sbx:h1:r1:1:1"
	now := time.Unix(1000, 0)
	mk := func(state abi.OrderState, filled string, ts uint64, r abi.Reason) *abi.OrderUpdate {
		u := upd(state, filled, ts)
		copy(u.ExchangeOrderID[:], "ETH-1")
		u.Reason = r
		return u
	}
	e.mu.Lock()
	e.applyUpdate(o, mk(abi.StateOpen, "0", 1, 0), now)
	e.applyFill(o, &abi.Fill{CID: 1, Side: abi.Buy, TradeSeq: 1, Price: fx("60000"), Amount: fx("4")}, []byte("ETH-1"), now)
	e.applyUpdate(o, mk(abi.StateOpen, "4", 2, 0), now)
	e.applyUpdate(o, mk(abi.StateCancelled, "4", 3, abi.ReasonCancelOnDisconnect), now) // re-placed
	e.mu.Unlock()
	<-e.reqs.idle()
	e.mu.Lock()
	defer e.mu.Unlock()
	if o.exchID != "ETH-2" || o.base != fx("4") || o.state != abi.StateOpen {
		t.Fatalf("setup: not re-placed: id %q base %v state %v", o.exchID, o.base, o.state)
	}
	raw := []byte(`{"order_id":"ETH-2","instrument_name":"BTC-PERPETUAL","direction":"buy","order_type":"limit",
		"time_in_force":"good_til_cancelled","order_state":"filled","label":"sbx:h1:r1:1:1","price":60000,"amount":6,
		"filled_amount":6,"average_price":60000,"last_update_timestamp":20}`)
	e.applyState(o, raw, now)
	if pl.pos[0].size != fx("10") || o.state != abi.StateFilled {
		t.Fatalf("after the read-back: position %v (want 10), state %v (want filled), filled %v, accounted %v, deferred %v",
			pl.pos[0].size, o.state, o.filled, o.accounted, o.deferred != nil)
	}
}
