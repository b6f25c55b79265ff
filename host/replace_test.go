package host

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
)

// replaceRig is an engine trading one buy order (cid 1, 100 at 59000) over a
// pool of 3 to a simulator without a synthetic market, and a taker on
// another account of the simulator that fills it.
type replaceRig struct {
	*poolRig
	sb    *scriptBox
	taker *conn.Conn
}

func startReplaceRig(t *testing.T, maxReestablish int) *replaceRig {
	t.Helper()
	sb := newScriptBox(place(1, 1, 0, abi.Buy, "59000", "100"))
	cfg := Config{Plugins: []PluginSpec{{Name: "script", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return sb },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}}},
		MaxReestablish: maxReestablish}
	sc := testSimConfig()
	sc.NoMarket = true // only our order and the taker's on the book
	sc.Keys = []sim.APIKey{{ID: sim.TestKeyID, Secret: sim.TestKeySecret}, {ID: "taker", Secret: "taker-secret"}}
	// The tests drop connections themselves: a 10 s heartbeat keeps a busy
	// machine (the race detector, other packages' tests) from dropping one
	// more, which would re-place the order once more than the test counts.
	hb := conn.Config{HeartbeatInterval: 10 * time.Second}
	r := startPoolRigSim(t, sc, cfg, pool.Config{Size: 3, Policy: pool.LeastLoaded, Conn: hb})
	cc := testConnConfig(r.srv.URL())
	cc.HeartbeatInterval = hb.HeartbeatInterval
	cc.Credentials = conn.Credentials{ClientID: "taker", ClientSecret: "taker-secret", Method: conn.AuthSignature}
	taker, err := conn.Dial(context.Background(), cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taker.Close() })
	return &replaceRig{poolRig: r, sb: sb, taker: taker}
}

// sell has the taker sell amount at 59000: it fills that much of our order.
func (r *replaceRig) sell(t *testing.T, amount int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var res struct {
		Order sim.Order `json:"order"`
	}
	if err := r.taker.Call(ctx, "private/sell", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": amount,
		"type": "limit", "price": 59000, "time_in_force": "immediate_or_cancel"}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Order.FilledAmount != float64(amount) {
		t.Fatalf("the taker's sell of %d filled %v", amount, res.Order.FilledAmount)
	}
}

// waitUpdate waits, among the events after from, for an update of cid 1
// that pred accepts.
func (r *replaceRig) waitUpdate(t *testing.T, from int, what string, pred func(u *abi.OrderUpdate) bool) abi.OrderUpdate {
	t.Helper()
	var u abi.OrderUpdate
	r.sb.waitFrom(t, what, from, func(rec []byte) bool {
		return abi.ReadHeader(rec).Kind == abi.KindOrderUpdate && abi.DecodeOrderUpdate(rec, &u) == nil && u.CID == 1 && pred(&u)
	})
	return u
}

// filledTo waits until the plugin has been told cid 1 filled to filled (of
// 100, at 59000) by an update after from, and checks that the fills it was
// told of before that update sum to as much.
func (r *replaceRig) filledTo(t *testing.T, from int, filled string) {
	t.Helper()
	u := r.waitUpdate(t, from, "update filled "+filled, func(u *abi.OrderUpdate) bool { return u.FilledAmount == fx(filled) })
	if u.State != abi.StateOpen || u.Amount != fx("100") || u.AvgPrice != fx("59000") {
		t.Fatalf("plugin's view at %s filled: %s amount %s avg %s", filled, u.State, u.Amount, u.AvgPrice)
	}
	var sum abi.Fixed
	for _, rec := range r.sb.snapshot() {
		var f abi.Fill
		if abi.ReadHeader(rec).Kind == abi.KindFill && abi.DecodeFill(rec, &f) == nil && f.CID == 1 {
			if f.Price != fx("59000") {
				t.Errorf("fill at %s, want 59000", f.Price)
			}
			sum += f.Amount
		}
		if abi.ReadHeader(rec).Kind == abi.KindOrderUpdate {
			var v abi.OrderUpdate
			if abi.DecodeOrderUpdate(rec, &v) == nil && v.CID == 1 && v.FilledAmount == u.FilledAmount {
				break // the first update that counts them
			}
		}
	}
	if sum != fx(filled) {
		t.Fatalf("fills before the update of %s filled sum to %s", filled, sum)
	}
}

// snapshot is a copy of the events delivered so far.
func (s *scriptBox) snapshot() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.events...)
}

// lose cuts the connection that carries cid 1 and waits for the plugin to
// see it pending (cancel_on_disconnect) and, unless it is not to be
// re-placed, open again with a new exchange id; it returns that id. The
// book never holds it twice, and holds its unfilled rest, of rest.
func (r *replaceRig) lose(t *testing.T, old []string, filled, rest string) string {
	t.Helper()
	victim, ok := simOrder(r.srv, 1)
	if !ok || victim.OrderID != old[len(old)-1] {
		t.Fatalf("order 1 before the loss: %+v (ok %v), want %s", victim, ok, old[len(old)-1])
	}
	from := r.sb.mark()
	if !r.srv.DropConn(victim.ConnID) {
		t.Fatal("no such connection")
	}
	u := r.waitUpdate(t, from, "pending after the loss", func(u *abi.OrderUpdate) bool {
		return u.State == abi.StatePending && u.Reason == abi.ReasonCancelOnDisconnect
	})
	if u.FilledAmount != fx(filled) || u.Amount != fx("100") {
		t.Fatalf("pending after the loss: filled %s amount %s, want %s of 100", u.FilledAmount, u.Amount, filled)
	}
	checkNoTwins(t, r.srv)
	// Open again after the pending: an update of the old order before it
	// (a fill, or a request on the cut connection that ended without an
	// answer: the order's state with reason timeout) is not the
	// re-placement.
	after := from
	for i, rec := range r.sb.snapshot()[from:] {
		var p abi.OrderUpdate
		if abi.ReadHeader(rec).Kind == abi.KindOrderUpdate && abi.DecodeOrderUpdate(rec, &p) == nil && p.CID == 1 &&
			p.State == abi.StatePending && p.Reason == abi.ReasonCancelOnDisconnect {
			after = from + i + 1
			break
		}
	}
	u = r.waitUpdate(t, after, "open again", func(u *abi.OrderUpdate) bool { return u.State == abi.StateOpen })
	id := u.ExchangeOrderID.String()
	for _, o := range old {
		if id == o {
			t.Fatalf("open again under an old exchange id %s (had %v)", id, old)
		}
	}
	if u.FilledAmount != fx(filled) || u.Amount != fx("100") || u.FilledAmount > 0 && u.AvgPrice != fx("59000") {
		t.Fatalf("open again: filled %s amount %s avg %s, want %s of 100 at 59000", u.FilledAmount, u.Amount, u.AvgPrice, filled)
	}
	again, ok := simOrder(r.srv, 1)
	if !ok || again.OrderID != id || again.ConnID == victim.ConnID || again.FilledAmount != 0 ||
		fmt.Sprint(again.Amount) != rest {
		t.Fatalf("order 1 on the book after the loss: %+v, want %s (rest %s) not on connection %d", again, id, rest, victim.ConnID)
	}
	if n := len(ourOrders(r.srv)); n != 1 {
		t.Fatalf("%d orders on the book, want 1", n)
	}
	return id
}

// An order whose connection is lost is re-placed after every loss, not
// only the first: here twice, with fills before each loss and after the
// last re-placement. Each time the plugin sees pending
// (cancel_on_disconnect) and open again under the same cid, with the whole
// order's amount and what filled of it so far (the exchange orders know
// only their rest); the book never holds it twice.
func TestPoolReplacesAfterEveryLoss(t *testing.T) {
	r := startReplaceRig(t, 0)
	first := r.sb.waitOrder(t, 1, abi.StateOpen, abi.ReasonNone)
	ids := []string{first.ExchangeOrderID.String()}

	r.sell(t, 20)
	r.filledTo(t, 0, "20")
	ids = append(ids, r.lose(t, ids, "20", "80"))

	from := r.sb.mark()
	r.sell(t, 30)
	r.filledTo(t, from, "50")
	ids = append(ids, r.lose(t, ids, "50", "50"))

	from = r.sb.mark()
	r.sell(t, 10)
	r.filledTo(t, from, "60")
	if o, ok := simOrder(r.srv, 1); !ok || o.OrderID != ids[2] || o.FilledAmount != 10 || o.Amount != 50 {
		t.Fatalf("order 1 on the book: %+v, want %s with 10 of 50 filled", o, ids[2])
	}
	if st := r.e.Stats(); st.Relocated < 2 {
		t.Fatalf("relocated %d, want 2", st.Relocated)
	}
	checkNoTwins(t, r.srv)
	// Fills the plugin was told of: 60, once each.
	var sum abi.Fixed
	for _, rec := range r.sb.snapshot() {
		var f abi.Fill
		if abi.ReadHeader(rec).Kind == abi.KindFill && abi.DecodeFill(rec, &f) == nil && f.CID == 1 {
			sum += f.Amount
		}
	}
	if sum != fx("60") {
		t.Fatalf("fills delivered sum to %s, want 60", sum)
	}
}

// Config.MaxReestablish bounds the re-placements of one order: with 1, the
// second loss ends it cancelled (cancel_on_disconnect), and the plugin is
// told why; nothing is left on the book.
func TestPoolReplacementsAreBounded(t *testing.T) {
	r := startReplaceRig(t, 1)
	first := r.sb.waitOrder(t, 1, abi.StateOpen, abi.ReasonNone)
	ids := []string{first.ExchangeOrderID.String()}
	r.sell(t, 20)
	r.filledTo(t, 0, "20")
	ids = append(ids, r.lose(t, ids, "20", "80"))

	victim, _ := simOrder(r.srv, 1)
	from := r.sb.mark()
	if !r.srv.DropConn(victim.ConnID) {
		t.Fatal("no such connection")
	}
	u := r.waitUpdate(t, from, "cancelled after the second loss", func(u *abi.OrderUpdate) bool {
		return u.State == abi.StateCancelled
	})
	if u.Reason != abi.ReasonCancelOnDisconnect || !strings.Contains(u.Text.String(), "re-placed 1x") ||
		u.FilledAmount != fx("20") || u.Amount != fx("100") {
		t.Fatalf("cancelled: reason %s text %q filled %s amount %s", u.Reason, u.Text.String(), u.FilledAmount, u.Amount)
	}
	if n := len(ourOrders(r.srv)); n != 0 {
		t.Fatalf("%d orders on the book, want 0", n)
	}
}

// placeAnswers answers each buy with the next of a re-placed order's
// exchange orders (ETH-2: 6 left of 10; ETH-3: 4 left), then nothing.
type placeAnswers struct {
	mu   sync.Mutex
	next int
}

func (p *placeAnswers) CallRaw(_ context.Context, method string, _ []byte) (json.RawMessage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	id, amount := map[int]string{1: "ETH-2", 2: "ETH-3"}[p.next], map[int]int{1: 6, 2: 4}[p.next]
	if id == "" {
		return nil, fmt.Errorf("%s: no more answers", method)
	}
	return json.RawMessage(fmt.Sprintf(`{"order":{"order_id":%q,"instrument_name":"BTC-PERPETUAL","direction":"buy",`+
		`"order_type":"limit","time_in_force":"good_til_cancelled","order_state":"open","label":"sbx:h1:r1:1:1",`+
		`"price":60000,"amount":%d,"filled_amount":0,"average_price":0,"last_update_timestamp":%d},"trades":[]}`,
		id, amount, 10*p.next+5)), nil
}
func (*placeAnswers) Subscribe(context.Context, ...string) ([]string, error) { return nil, nil }

// An order re-placed twice, with fills at three prices on its three
// exchange orders: the plugin's view counts all of them (amount 10, filled
// and average price of the whole order), late updates and fills of the
// earlier exchange orders change nothing, and the position is the sum.
func TestReplacedTwiceKeepsItsBase(t *testing.T) {
	e, pl, o := omRig(t)
	e.relay, e.ex, e.life, e.cfg.RequestTimeout = true, &placeAnswers{}, context.Background(), time.Second
	e.rtr = newTestTranslator(t)
	o.label = "sbx:h1:r1:1:1"
	now := time.Unix(1000, 0)
	mk := func(id string, state abi.OrderState, amount, filled, avg string, ts uint64, r abi.Reason) *abi.OrderUpdate {
		u := &abi.OrderUpdate{CID: 1, State: state, Side: abi.Buy, Type: abi.Limit, TIF: abi.GoodTilCancelled,
			Price: fx("60000"), Amount: fx(amount), FilledAmount: fx(filled), AvgPrice: fx(avg), Time: ts * uint64(time.Second), Reason: r}
		copy(u.ExchangeOrderID[:], id)
		return u
	}
	fill := func(id string, seq uint64, px, amount string) {
		e.applyFill(o, &abi.Fill{CID: 1, Side: abi.Buy, TradeSeq: seq, Price: fx(px), Amount: fx(amount)}, []byte(id), now)
	}
	step := func(f func()) {
		e.mu.Lock()
		f()
		e.mu.Unlock()
		<-e.reqs.idle()
	}
	step(func() {
		e.applyUpdate(o, mk("ETH-1", abi.StateOpen, "10", "0", "0", 1, 0), now)
		fill("ETH-1", 1, "60000", "4")
		e.applyUpdate(o, mk("ETH-1", abi.StateOpen, "10", "4", "60000", 2, 0), now)
		e.applyUpdate(o, mk("ETH-1", abi.StateCancelled, "10", "4", "60000", 3, abi.ReasonCancelOnDisconnect), now)
	})
	e.mu.Lock()
	if o.exchID != "ETH-2" || o.base != fx("4") || o.replacements != 1 || o.state != abi.StateOpen {
		t.Fatalf("first re-placement: id %q base %v replacements %d state %v", o.exchID, o.base, o.replacements, o.state)
	}
	e.mu.Unlock()
	step(func() {
		fill("ETH-2", 2, "59000", "2")
		e.applyUpdate(o, mk("ETH-2", abi.StateOpen, "6", "2", "59000", 20, 0), now)
		// Late news of ETH-1: its fill again, an update.
		fill("ETH-1", 1, "60000", "4")
		e.applyUpdate(o, mk("ETH-1", abi.StateCancelled, "10", "4", "60000", 30, abi.ReasonCancelOnDisconnect), now)
		e.applyUpdate(o, mk("ETH-2", abi.StateCancelled, "6", "2", "59000", 31, abi.ReasonCancelOnDisconnect), now)
	})
	e.mu.Lock()
	if o.exchID != "ETH-3" || o.base != fx("6") || math.Abs(o.baseValue-(4*60000+2*59000)) > 1e-3 /* through the rounded average */ || o.replacements != 2 ||
		!slices.Equal(o.oldIDs, []string{"ETH-1", "ETH-2"}) || o.state != abi.StateOpen {
		t.Fatalf("second re-placement: id %q base %v value %v replacements %d old %v state %v", o.exchID, o.base, o.baseValue,
			o.replacements, o.oldIDs, o.state)
	}
	e.mu.Unlock()
	step(func() {
		fill("ETH-2", 2, "59000", "2") // late, again
		e.applyUpdate(o, mk("ETH-2", abi.StateOpen, "6", "2", "59000", 40, 0), now)
		fill("ETH-3", 3, "58000", "4")
		e.applyUpdate(o, mk("ETH-3", abi.StateFilled, "4", "4", "58000", 41, 0), now)
	})
	e.mu.Lock()
	defer e.mu.Unlock()
	if o.state != abi.StateFilled || pl.pos[0].size != fx("10") {
		t.Fatalf("end: state %v position %v, want filled and 10", o.state, pl.pos[0].size)
	}
	var fills abi.Fixed
	var views []string
	var last abi.OrderUpdate
	for _, rec := range ibRecords(t, pl.inbox.Take(nil, 1<<20)) {
		var f abi.Fill
		var u abi.OrderUpdate
		switch {
		case abi.ReadHeader(rec).Kind == abi.KindFill && abi.DecodeFill(rec, &f) == nil:
			fills += f.Amount
		case abi.ReadHeader(rec).Kind == abi.KindOrderUpdate && abi.DecodeOrderUpdate(rec, &u) == nil:
			views = append(views, fmt.Sprintf("%v %v/%v", u.State, u.FilledAmount, u.Amount))
			last = u
		}
	}
	want := []string{"open 0/10", "open 4/10", "pending 4/10", "open 4/10", "open 6/10", "pending 6/10", "open 6/10", "filled 10/10"}
	if !slices.Equal(views, want) || fills != fx("10") || last.AvgPrice != fx("59000") {
		t.Fatalf("the plugin saw %v, fills %v, last average %v; want %v, 10, 59000", views, fills, last.AvgPrice, want)
	}
}
