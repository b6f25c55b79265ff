package host

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/venue/deribit"
)

// omRig is an engine's order manager with one plugin and one order, no
// exchange: the test applies exchange records in the order it chooses.
func omRig(t *testing.T) (*Engine, *plugin, *order) {
	t.Helper()
	e := &Engine{owner: testOwner, clk: clock.NewFake(time.Unix(1000, 0)), log: slog.New(slog.DiscardHandler),
		orders: map[orderKey]*order{}, recent: map[orderKey]*order{}, instances: map[uint32]*plugin{}, marks: make([]atomic.Int64, 1)}
	pl := &plugin{e: e, name: "p", inbox: newInbox(0), open: map[*order]struct{}{}, table: []abi.Instrument{btcPerp},
		global: []uint32{0}, local: []uint32{0}, pos: []position{{inverse: true}}, instance: 1, firstCID: 1, maxCID: 1}
	e.plugins = []*plugin{pl}
	o := &order{pl: pl, key: orderKey{instance: 1, cid: 1}, side: abi.Buy, typ: abi.Limit, tif: abi.GoodTilCancelled,
		price: fx("60000"), amount: fx("10"), state: abi.StatePending}
	e.orders[o.key] = o
	pl.open[o] = struct{}{}
	return e, pl, o
}

func upd(state abi.OrderState, filled string, ts uint64) *abi.OrderUpdate {
	u := &abi.OrderUpdate{CID: 1, State: state, Side: abi.Buy, Type: abi.Limit, TIF: abi.GoodTilCancelled,
		Price: fx("60000"), Amount: fx("10"), FilledAmount: fx(filled), Time: ts}
	if filled != "0" {
		u.AvgPrice = fx("60000")
	}
	return u
}

func newTestTranslator(t *testing.T) *deribit.Translator {
	t.Helper()
	tab, err := deribit.NewTable([]abi.Instrument{btcPerp})
	if err != nil {
		t.Fatal(err)
	}
	tr := deribit.NewTranslator(tab)
	tr.Owner = testOwner
	return tr
}

// testOwner owns the orders of the rigs that build an Engine by hand.
var testOwner = deribit.Owner{Host: "h1", Run: "r1"}

// A response applied after newer notifications must not undo them: the
// order reaches filled, after its fill, whatever the order of arrival.
func TestOrderUpdatesNeverGoBack(t *testing.T) {
	e, pl, o := omRig(t)
	now := time.Unix(1000, 0)
	e.mu.Lock()
	e.applyUpdate(o, upd(abi.StateOpen, "0", 1), now)    // notification: open
	e.applyUpdate(o, upd(abi.StateFilled, "10", 3), now) // notification: filled, before its fill: waits
	e.applyUpdate(o, upd(abi.StateOpen, "0", 2), now)    // the buy's response, late: stale
	if o.state != abi.StateOpen || o.deferred == nil {
		t.Fatalf("state %v, deferred %v", o.state, o.deferred)
	}
	e.applyFill(o, &abi.Fill{CID: 1, Side: abi.Buy, TradeSeq: 7, Price: fx("60000"), Amount: fx("10")}, nil, now)
	e.applyFill(o, &abi.Fill{CID: 1, Side: abi.Buy, TradeSeq: 7, Price: fx("60000"), Amount: fx("10")}, nil, now) // again
	e.mu.Unlock()
	if o.state != abi.StateFilled || len(pl.open) != 0 || e.orders[o.key] != nil {
		t.Fatalf("order %+v not final and forgotten", o)
	}
	var kinds []abi.Kind
	for _, rec := range ibRecords(t, pl.inbox.take(nil, 1<<20)) {
		kinds = append(kinds, abi.ReadHeader(rec).Kind)
	}
	want := []abi.Kind{abi.KindOrderUpdate, abi.KindFill, abi.KindPosition, abi.KindOrderUpdate}
	if len(kinds) != len(want) {
		t.Fatalf("delivered %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("delivered %v, want %v", kinds, want)
		}
	}
	if pl.pos[0].size != fx("10") {
		t.Fatalf("position %v", pl.pos[0].size)
	}
}

// After a reconnect, fills the engine did not hear of are reconstructed
// from the order's state, and a late notification of the same fill is not
// counted twice.
func TestReconstructedFills(t *testing.T) {
	e, pl, o := omRig(t)
	now := time.Unix(1000, 0)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.applyUpdate(o, upd(abi.StateOpen, "0", 1), now)
	raw := []byte(`{"order_id":"ETH-1","instrument_name":"BTC-PERPETUAL","direction":"buy","order_type":"limit",
		"time_in_force":"good_til_cancelled","order_state":"cancelled","cancel_reason":"cancel_on_disconnect",
		"label":"sbx:h1:r1:1:1","price":60000,"amount":10,"filled_amount":10,"average_price":60000,"last_update_timestamp":5}`)
	e.rtr = newTestTranslator(t)
	e.applyState(o, raw, now)
	if o.state != abi.StateCancelled || pl.pos[0].size != fx("10") || len(o.synth) != 1 || o.synth[0] != (synthFill{"ETH-1", fx("10")}) {
		t.Fatalf("order %+v position %v", o, pl.pos[0].size)
	}
	// A fill of another exchange order (the one that re-placed it, as
	// relocate and the re-placement's answer leave the order) is new,
	// although a reconstructed amount waits for its late notification.
	o.oldIDs, o.exchID = []string{"ETH-1"}, "ETH-2"
	e.applyFill(o, &abi.Fill{CID: 1, Side: abi.Buy, TradeSeq: 8, Price: fx("60000"), Amount: fx("10")}, []byte("ETH-2"), now)
	if pl.pos[0].size != fx("20") {
		t.Fatalf("a fill of the re-placed order was taken for the late one: position %v", pl.pos[0].size)
	}
	e.applyFill(o, &abi.Fill{CID: 1, Side: abi.Buy, TradeSeq: 9, Price: fx("60000"), Amount: fx("10")}, []byte("ETH-1"), now)
	if pl.pos[0].size != fx("20") || len(o.synth) != 0 {
		t.Fatalf("the late fill was counted twice: position %v, synth %v", pl.pos[0].size, o.synth)
	}
}

// answers is an Exchange that answers each call with the next of its
// answers.
type answers struct {
	mu   sync.Mutex
	next []string
	got  []string
}

func (a *answers) CallRaw(_ context.Context, method string, _ []byte) (json.RawMessage, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, method)
	if len(a.next) == 0 {
		return nil, errors.New("no more answers")
	}
	r := a.next[0]
	a.next = a.next[1:]
	return json.RawMessage(r), nil
}

func (a *answers) Subscribe(context.Context, ...string) ([]string, error) { return nil, nil }

// An order whose place was sent on a connection that died and was not
// answered is not taken as never placed the first time the exchange does
// not list it: the place may be carried out after the query. It is looked
// for again, found filled, and its fill reconstructed.
func TestUnansweredPlaceLookedForAgain(t *testing.T) {
	e, pl, o := omRig(t)
	ex := &answers{next: []string{`[]`, `[{"order_id":"ETH-7","instrument_name":"BTC-PERPETUAL","direction":"buy",
		"order_type":"limit","time_in_force":"good_til_cancelled","order_state":"filled","label":"sbx:h1:r1:1:1","price":60000,
		"amount":10,"filled_amount":10,"average_price":60000,"last_update_timestamp":5}]`}}
	e.ex, e.life, e.cfg.RequestTimeout = ex, context.Background(), time.Second
	e.rtr = newTestTranslator(t)
	fake := e.clk.(*clock.Fake)
	e.mu.Lock()
	o.unknown = true
	e.verify(o)
	e.mu.Unlock()
	failsafe := make(chan struct{})
	defer time.AfterFunc(30*time.Second, func() { close(failsafe) }).Stop()
	if !fake.WaitForTimers(1, failsafe) {
		t.Fatal("no second look scheduled")
	}
	e.mu.Lock()
	if o.final() {
		t.Fatalf("taken as never placed at the first look: %+v", o)
	}
	e.mu.Unlock()
	fake.Advance(absentCheckDelay)
	<-e.reqs.idle()
	e.mu.Lock()
	defer e.mu.Unlock()
	if o.state != abi.StateFilled || pl.pos[0].size != fx("10") || len(ex.got) != 2 {
		t.Fatalf("after the second look: state %v, position %v, calls %v", o.state, pl.pos[0].size, ex.got)
	}
}

// An update or a fill that carries an order's label but another exchange
// order id is not the order's (seen with two hosts on one account: another
// host's order under the same label took this order's id and ended it): it is
// ignored and counted, and the order keeps its id, state and position.
func TestUpdateOfAnotherExchangeOrderIgnored(t *testing.T) {
	e, pl, o := omRig(t)
	now := time.Unix(1000, 0)
	e.mu.Lock()
	defer e.mu.Unlock()
	open := upd(abi.StateOpen, "0", 1)
	open.ExchangeOrderID = abi.NewStr32("BTC-1")
	e.applyUpdate(o, open, now)
	if o.exchID != "BTC-1" || o.state != abi.StateOpen {
		t.Fatalf("order %+v", o)
	}
	other := upd(abi.StateCancelled, "0", 2)
	other.ExchangeOrderID = abi.NewStr32("BTC-99")
	e.applyUpdate(o, other, now)
	e.applyFill(o, &abi.Fill{CID: 1, Side: abi.Buy, TradeSeq: 3, Price: fx("60000"), Amount: fx("10")}, []byte("BTC-99"), now)
	if o.exchID != "BTC-1" || o.state != abi.StateOpen || pl.pos[0].size != 0 || e.orders[o.key] != o {
		t.Fatalf("another exchange order's events were applied: id %s state %v position %v", o.exchID, o.state, pl.pos[0].size)
	}
	if n := e.stats.unknownOrders.Load(); n != 2 {
		t.Fatalf("unknown orders %d, want 2", n)
	}
	// Its own fill still counts.
	e.applyFill(o, &abi.Fill{CID: 1, Side: abi.Buy, TradeSeq: 4, Price: fx("60000"), Amount: fx("10")}, []byte("BTC-1"), now)
	if pl.pos[0].size != fx("10") {
		t.Fatalf("position %v", pl.pos[0].size)
	}
}
