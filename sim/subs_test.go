package sim_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/sim"
)

type bookMsg struct {
	Type         string          `json:"type"`
	Timestamp    int64           `json:"timestamp"`
	Instrument   string          `json:"instrument_name"`
	ChangeID     int64           `json:"change_id"`
	PrevChangeID *int64          `json:"prev_change_id"`
	Bids         [][]interface{} `json:"bids"`
	Asks         [][]interface{} `json:"asks"`
}

func TestSubscribeRules(t *testing.T) {
	srv := quiet(t, sim.Config{RateLimits: sim.RateLimits{Disabled: true}})
	c := dial(t, srv)
	// raw needs an authenticated connection.
	c.fails("public/subscribe", map[string]any{"channels": []string{"book.BTC-PERPETUAL.raw"}}, sim.CodeRawSubsUnauthorized)
	// Unknown channels and private channels on public/subscribe are left out.
	got := c.subscribe(false, "book.BTC-PERPETUAL.100ms", "book.NOPE.100ms", "user.orders.any.any.raw", "weather.today")
	if !reflect.DeepEqual(got, []string{"book.BTC-PERPETUAL.100ms"}) {
		t.Fatalf("public/subscribe = %v", got)
	}
	c.fails("private/subscribe", map[string]any{"channels": []string{"user.orders.any.any.raw"}}, sim.CodeAuthorizationRequired)
	c.fails("public/subscribe", map[string]any{"channels": []string{}}, sim.CodeInvalidParams)
	c.auth()
	got = c.subscribe(true, "user.orders.any.any.raw", "user.portfolio.btc", "book.BTC-PERPETUAL.none.10.100ms")
	if len(got) != 3 {
		t.Fatalf("private/subscribe = %v", got)
	}
	var un []string
	c.ok("public/unsubscribe", map[string]any{"channels": []string{"book.BTC-PERPETUAL.100ms", "never.subscribed"}}, &un)
	if !reflect.DeepEqual(un, []string{"book.BTC-PERPETUAL.100ms"}) {
		t.Fatalf("unsubscribe = %v", un)
	}
	c.ok("private/unsubscribe_all", nil, nil)
	if chs := srv.Conns()[0].Channels; len(chs) != 0 {
		t.Fatalf("channels after unsubscribe_all: %v", chs)
	}
}

func TestBookChannels(t *testing.T) {
	srv := quiet(t, sim.Config{RateLimits: sim.RateLimits{Disabled: true}})
	c := dial(t, srv)
	c.auth()
	c.subscribe(false, "book.BTC-PERPETUAL.raw", "book.BTC-PERPETUAL.100ms", "book.BTC-PERPETUAL.1.10.100ms")

	snap := decode[bookMsg](t, c.notification("book.BTC-PERPETUAL.raw").Params.Data)
	if snap.Type != "snapshot" || snap.PrevChangeID != nil {
		t.Fatalf("raw snapshot %+v", snap)
	}
	grouped := decode[map[string]json.RawMessage](t, c.notification("book.BTC-PERPETUAL.1.10.100ms").Params.Data)
	if _, ok := grouped["type"]; ok {
		t.Fatalf("grouped book has a type: %v", grouped)
	}
	srv.Step()
	snap100 := decode[bookMsg](t, c.notification("book.BTC-PERPETUAL.100ms").Params.Data)
	if snap100.Type != "snapshot" {
		t.Fatalf("100ms first message %+v", snap100)
	}

	c.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 20, "price": 50000}, nil)
	c.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 30, "price": 50000}, nil)
	ch1 := decode[bookMsg](t, c.notification("book.BTC-PERPETUAL.raw").Params.Data)
	ch2 := decode[bookMsg](t, c.notification("book.BTC-PERPETUAL.raw").Params.Data)
	if ch1.Type != "change" || ch1.PrevChangeID == nil || *ch1.PrevChangeID != snap.ChangeID ||
		*ch2.PrevChangeID != ch1.ChangeID {
		t.Fatalf("raw change ids: snapshot %d, then %+v, %+v", snap.ChangeID, ch1, ch2)
	}
	if len(ch1.Bids) != 1 || ch1.Bids[0][0] != "new" || ch1.Bids[0][1] != 50000.0 || ch1.Bids[0][2] != 20.0 {
		t.Fatalf("first change bids %v", ch1.Bids)
	}
	if len(ch2.Bids) != 1 || ch2.Bids[0][0] != "change" || ch2.Bids[0][2] != 50.0 {
		t.Fatalf("second change bids %v", ch2.Bids)
	}

	srv.Step()
	agg := decode[bookMsg](t, c.notification("book.BTC-PERPETUAL.100ms").Params.Data)
	if agg.Type != "change" || *agg.PrevChangeID != snap100.ChangeID || agg.ChangeID != ch2.ChangeID {
		t.Fatalf("100ms change %+v (snapshot %d, raw %d)", agg, snap100.ChangeID, ch2.ChangeID)
	}
	if len(agg.Bids) != 1 || agg.Bids[0][0] != "new" || agg.Bids[0][2] != 50.0 {
		t.Fatalf("100ms change aggregates two raw changes: %v", agg.Bids)
	}
	c.ok("private/cancel_all", nil, nil)
	del := decode[bookMsg](t, c.notification("book.BTC-PERPETUAL.raw").Params.Data)
	if len(del.Bids) != 1 || del.Bids[0][0] != "delete" || del.Bids[0][2] != 0.0 {
		t.Fatalf("delete change %v", del.Bids)
	}
}

func TestTradeTickerQuoteAndUserChannels(t *testing.T) {
	srv := quiet(t, sim.Config{Keys: twoKeys, RateLimits: sim.RateLimits{Disabled: true}})
	mk, tk := dial(t, srv), dial(t, srv)
	authAs(mk, "maker", "m")
	authAs(tk, "taker", "t")
	mk.subscribe(true, "user.orders.BTC-PERPETUAL.raw", "user.orders.any.any.100ms", "user.trades.BTC-PERPETUAL.raw",
		"user.portfolio.btc")
	mk.notification("user.portfolio.btc") // the current summary on subscribe
	tk.subscribe(false, "trades.BTC-PERPETUAL.raw", "trades.future.BTC.100ms", "quote.BTC-PERPETUAL", "ticker.BTC-PERPETUAL.100ms")
	tk.subscribe(true, "user.orders.BTC-PERPETUAL.raw") // the same channel name as the maker's
	tk.notification("quote.BTC-PERPETUAL")
	tk.notification("ticker.BTC-PERPETUAL.100ms")

	var placed orderResult
	mk.ok("private/sell", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 50, "price": 61000}, &placed)
	single := decode[sim.Order](t, mk.notification("user.orders.BTC-PERPETUAL.raw").Params.Data)
	if single.OrderID != placed.Order.OrderID || single.OrderState != "open" {
		t.Fatalf("raw user.orders is a single object: %+v", single)
	}
	q := decode[sim.Ticker](t, tk.notification("quote.BTC-PERPETUAL").Params.Data)
	if q.BestAskPrice != 61000 || q.BestAskAmount != 50 || q.InstrumentName != "BTC-PERPETUAL" {
		t.Fatalf("quote %v", q)
	}

	tk.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 20, "type": "market"}, nil)
	trades := decode[[]sim.Trade](t, tk.notification("trades.BTC-PERPETUAL.raw").Params.Data)
	if len(trades) != 1 || trades[0].Direction != "buy" || trades[0].Amount != 20 || trades[0].Price != 61000 {
		t.Fatalf("public trades %+v", trades)
	}
	mine := decode[[]sim.Trade](t, mk.notification("user.trades.BTC-PERPETUAL.raw").Params.Data)
	if len(mine) != 1 || mine[0].Direction != "sell" || mine[0].Liquidity != "M" || mine[0].OrderID != placed.Order.OrderID {
		t.Fatalf("maker's user trade %+v", mine)
	}

	srv.Step()
	batch := decode[[]sim.Order](t, mk.notification("user.orders.any.any.100ms").Params.Data)
	if len(batch) != 2 || batch[1].FilledAmount != 20 {
		t.Fatalf("100ms user.orders batch %+v", batch)
	}
	agg := decode[[]sim.Trade](t, tk.notification("trades.future.BTC.100ms").Params.Data)
	if len(agg) != 1 {
		t.Fatalf("100ms trades batch %+v", agg)
	}
	tick := decode[sim.Ticker](t, tk.notification("ticker.BTC-PERPETUAL.100ms").Params.Data)
	if tick.LastPrice != 61000 || tick.InstrumentName != "BTC-PERPETUAL" {
		t.Fatalf("ticker after the trade %+v", tick)
	}
	sum := decode[sim.AccountSummary](t, mk.notification("user.portfolio.btc").Params.Data)
	if sum.Currency != "BTC" {
		t.Fatalf("portfolio %+v", sum)
	}
	// The taker sees its own orders on user.orders, never the maker's.
	tk.ok("public/test", nil, nil) // everything above is queued before this answer
	own := 0
	for _, f := range tk.queue {
		if f.Params.Channel != "user.orders.BTC-PERPETUAL.raw" {
			continue
		}
		o := decode[sim.Order](t, f.Params.Data)
		if o.OrderID == placed.Order.OrderID {
			t.Fatalf("taker received the maker's order: %s", f.Raw)
		}
		own++
	}
	if own == 0 {
		t.Fatal("the taker saw none of its own orders on user.orders")
	}
}

// A synthetic market with the same seed and clock gives the same frames.
func TestMarketIsDeterministic(t *testing.T) {
	record := func() []string {
		fc := clock.NewFake(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
		srv := start(t, sim.Config{Clock: fc, Tick: -1, Seed: 42, RateLimits: sim.RateLimits{Disabled: true}})
		c := dial(t, srv)
		c.auth()
		c.subscribe(false, "book.BTC-PERPETUAL.raw", "trades.any.any.raw", "book.ETH-PERPETUAL.100ms")
		var out []string
		for i := 0; i < 200; i++ {
			fc.Advance(100 * time.Millisecond)
			srv.Step()
		}
		c.ok("public/test", nil, nil) // everything stepped is queued before this answer
		for _, f := range c.queue {
			if f.Method == "subscription" {
				out = append(out, string(f.Raw))
			}
		}
		return out
	}
	a, b := record(), record()
	if len(a) < 100 {
		t.Fatalf("only %d notifications from 200 steps of the market", len(a))
	}
	trades := 0
	for _, s := range a {
		if contains(s, `"trades.any.any.raw"`) {
			trades++
		}
	}
	if trades == 0 {
		t.Fatal("the synthetic market made no trades in 200 steps")
	}
	if !reflect.DeepEqual(a, b) {
		for i := range a {
			if i >= len(b) || a[i] != b[i] {
				t.Fatalf("runs differ at frame %d:\n%s\n%s", i, a[i], b[min(i, len(b)-1)])
			}
		}
		t.Fatalf("runs differ in length: %d vs %d", len(a), len(b))
	}
}

func TestFaults(t *testing.T) {
	srv := quiet(t, sim.Config{RateLimits: sim.RateLimits{Disabled: true}})
	t.Run("raw frames", func(t *testing.T) {
		c := dial(t, srv)
		c.ok("public/test", nil, nil)
		srv.SendRaw(sim.MalformedFrame)
		c.next("malformed frame", func(f frame) bool { return string(f.Raw) == string(sim.MalformedFrame) })
		big := sim.OversizedFrame(2 << 20)
		srv.SendRaw(big)
		f := c.next("oversized frame", func(f frame) bool { return len(f.Raw) == len(big) })
		if f.Params.Channel != "oversized" {
			t.Fatalf("oversized frame is not well-formed JSON: %q…", f.Raw[:100])
		}
	})
	t.Run("silence", func(t *testing.T) {
		c := dial(t, srv)
		c.ok("public/test", nil, nil)
		dropped := srv.Stats().SilentDropped
		srv.Silence(true)
		id := c.send("public/test", nil)
		if !srv.WaitStats(func(st sim.Stats) bool { return st.SilentDropped > dropped }, failsafe) {
			t.Fatal("the silent server never read the request")
		}
		srv.Silence(false)
		c.ok("public/test", nil, nil)
		for _, f := range c.queue {
			if f.ID != nil && *f.ID == id {
				t.Fatal("a silent exchange answered")
			}
		}
	})
	t.Run("publish", func(t *testing.T) {
		c := dial(t, srv)
		c.subscribe(false, "ticker.BTC-PERPETUAL.100ms")
		c.notification("ticker.BTC-PERPETUAL.100ms")
		if n := srv.Publish("ticker.BTC-PERPETUAL.100ms", map[string]int{"x": 1}); n != 1 {
			t.Fatalf("Publish reached %d", n)
		}
		if string(c.notification("ticker.BTC-PERPETUAL.100ms").Params.Data) != `{"x":1}` {
			t.Fatal("published data changed")
		}
	})
	t.Run("drop all", func(t *testing.T) {
		a, b := dial(t, srv), dial(t, srv)
		a.ok("public/test", nil, nil)
		b.ok("public/test", nil, nil)
		srv.DropAll()
		a.waitClosed()
		b.waitClosed()
	})
}

func TestGroupedBookAndUserTradesByKind(t *testing.T) {
	srv := quiet(t, sim.Config{Keys: twoKeys, RateLimits: sim.RateLimits{Disabled: true}})
	mk, tk := dial(t, srv), dial(t, srv)
	authAs(mk, "maker", "m")
	authAs(tk, "taker", "t")
	mk.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 59991.5}, nil)
	mk.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 20, "price": 59990.5}, nil)
	mk.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 40, "price": 59980}, nil)
	mk.ok("private/sell", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 30, "price": 60000.5}, nil)

	tk.subscribe(false, "book.BTC-PERPETUAL.10.1.100ms")
	var g struct {
		ChangeID int64        `json:"change_id"`
		Bids     [][2]float64 `json:"bids"`
		Asks     [][2]float64 `json:"asks"`
	}
	g = decode[struct {
		ChangeID int64        `json:"change_id"`
		Bids     [][2]float64 `json:"bids"`
		Asks     [][2]float64 `json:"asks"`
	}](t, tk.notification("book.BTC-PERPETUAL.10.1.100ms").Params.Data)
	// Group 10, depth 1: bids round down (59991.5 and 59990.5 fall in 59990), asks up (60000.5 → 60010).
	if len(g.Bids) != 1 || g.Bids[0] != [2]float64{59990, 30} || len(g.Asks) != 1 || g.Asks[0] != [2]float64{60010, 30} {
		t.Fatalf("grouped book %+v", g)
	}
	srv.Step()
	mk.ok("private/cancel_all", nil, nil)
	mk.ok("private/sell", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 30, "price": 60000.5}, nil)
	srv.Step() // the book changed: one new grouped snapshot
	g2 := decode[struct {
		ChangeID int64        `json:"change_id"`
		Bids     [][2]float64 `json:"bids"`
	}](t, tk.notification("book.BTC-PERPETUAL.10.1.100ms").Params.Data)
	if g2.ChangeID <= g.ChangeID || len(g2.Bids) != 0 {
		t.Fatalf("grouped book after cancel_all %+v (before %d)", g2, g.ChangeID)
	}

	mk.subscribe(true, "user.trades.future.BTC.raw", "user.trades.any.any.100ms")
	tk.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "market"}, nil)
	raw := decode[[]sim.Trade](t, mk.notification("user.trades.future.BTC.raw").Params.Data)
	if len(raw) != 1 || raw[0].Direction != "sell" || raw[0].Amount != 10 {
		t.Fatalf("user.trades.future.BTC.raw %+v", raw)
	}
	srv.Step()
	batch := decode[[]sim.Trade](t, mk.notification("user.trades.any.any.100ms").Params.Data)
	if len(batch) != 1 || batch[0].TradeID != raw[0].TradeID {
		t.Fatalf("user.trades.any.any.100ms %+v", batch)
	}
}

func TestHeartbeatFramesAreExact(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	srv := quiet(t, sim.Config{Clock: fc, MinHeartbeat: time.Millisecond, AlwaysTestRequest: true})
	c := dial(t, srv)
	base := fc.Timers()
	c.ok("public/set_heartbeat", map[string]any{"interval": 1}, nil)
	waitTimers(t, fc, base+1)
	fc.Advance(time.Second)
	f := c.heartbeat("test_request")
	// docs/deribit.md §0, confirmed by real captures.
	if string(f.Raw) != `{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}` {
		t.Fatalf("test_request frame %s", f.Raw)
	}
}

func TestFrameDelay(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	srv := quiet(t, sim.Config{Clock: fc})
	c := dial(t, srv)
	c.ok("public/test", nil, nil)
	srv.SetFrameDelay(time.Second)
	base := fc.Timers()
	id := c.send("public/test", nil)
	waitTimers(t, fc, base+1) // the writer holds the answer for one second
	select {
	case f := <-c.frames:
		t.Fatalf("a delayed frame arrived early: %s", f.Raw)
	default:
	}
	fc.Advance(time.Second)
	c.response(id)
	srv.SetFrameDelay(0)
}

// Freeze stops the synthetic market (no re-quotes, no synthetic trades),
// and the market goes on when it ends.
func TestFreeze(t *testing.T) {
	srv := start(t, sim.Config{Tick: -1, RateLimits: sim.RateLimits{Disabled: true}})
	c := dial(t, srv)
	changeID := func() int64 {
		var book struct {
			ChangeID int64 `json:"change_id"`
		}
		c.ok("public/get_order_book", map[string]any{"instrument_name": "BTC-PERPETUAL"}, &book)
		return book.ChangeID
	}
	srv.Step()
	srv.Freeze(true)
	before := changeID()
	for range 50 {
		srv.Step()
	}
	if after := changeID(); after != before {
		t.Fatalf("the book changed while frozen: change_id %d → %d", before, after)
	}
	srv.Freeze(false)
	for range 50 {
		srv.Step()
	}
	if after := changeID(); after == before {
		t.Fatalf("the book did not change in 50 steps after the freeze ended (change_id %d)", after)
	}
}
