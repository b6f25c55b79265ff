package sim_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/sim"
)

type orderResult struct {
	Order  sim.Order   `json:"order"`
	Trades []sim.Trade `json:"trades"`
}

var twoKeys = []sim.APIKey{{ID: "maker", Secret: "m"}, {ID: "taker", Secret: "t"}}

func authAs(c *client, id, secret string) {
	c.t.Helper()
	c.ok("public/auth", map[string]any{"grant_type": "client_credentials", "client_id": id, "client_secret": secret}, nil)
}

func TestOrderLifecycle(t *testing.T) {
	srv := quiet(t, sim.Config{Keys: twoKeys, RateLimits: sim.RateLimits{Disabled: true}})
	mk, tk := dial(t, srv), dial(t, srv)
	authAs(mk, "maker", "m")
	authAs(tk, "taker", "t")

	var placed orderResult
	mk.ok("private/sell", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 100, "type": "limit",
		"price": 60000, "label": "q-1"}, &placed)
	o := placed.Order
	if o.OrderState != "open" || o.Direction != "sell" || o.Label != "q-1" || o.Amount != 100 ||
		o.Price != 60000 || !o.API || o.OrderType != "limit" || o.TimeInForce != "good_til_cancelled" || len(placed.Trades) != 0 {
		t.Fatalf("placed order %+v trades %v", o, placed.Trades)
	}
	// The wire shape carries Deribit's required fields and none of ours.
	f := mk.call("private/get_order_state", map[string]any{"order_id": o.OrderID})
	for _, field := range []string{`"order_id"`, `"order_state"`, `"order_type"`, `"time_in_force"`, `"instrument_name"`,
		`"creation_timestamp"`, `"last_update_timestamp"`, `"direction"`, `"price"`, `"label"`, `"post_only"`, `"api"`} {
		if !strings.Contains(string(f.Result), field) {
			t.Errorf("order object lacks %s: %s", field, f.Result)
		}
	}
	for key := range decode[map[string]any](t, f.Result) {
		if strings.Contains(strings.ToLower(key), "owner") || strings.Contains(strings.ToLower(key), "conn") {
			t.Fatalf("order object leaks bookkeeping field %q: %s", key, f.Result)
		}
	}

	var taken orderResult
	tk.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 40, "price": 60000}, &taken)
	if taken.Order.OrderState != "filled" || len(taken.Trades) != 1 || taken.Trades[0].Amount != 40 ||
		taken.Trades[0].Price != 60000 || taken.Trades[0].Liquidity != "T" || taken.Trades[0].OrderID != taken.Order.OrderID {
		t.Fatalf("taker result %+v", taken)
	}
	var st sim.Order
	mk.ok("private/get_order_state", map[string]any{"order_id": o.OrderID}, &st)
	if st.FilledAmount != 40 || st.OrderState != "open" {
		t.Fatalf("maker order after partial fill %+v", st)
	}
	// Another account's order is not found.
	tk.fails("private/get_order_state", map[string]any{"order_id": o.OrderID}, sim.CodeOrderNotFound)

	var edited orderResult
	mk.ok("private/edit", map[string]any{"order_id": o.OrderID, "amount": 100, "price": 60500}, &edited)
	if !edited.Order.Replaced || edited.Order.Price != 60500 {
		t.Fatalf("edited %+v", edited.Order)
	}
	var open []sim.Order
	mk.ok("private/get_open_orders_by_instrument", map[string]any{"instrument_name": "BTC-PERPETUAL"}, &open)
	if len(open) != 1 || open[0].OrderID != o.OrderID {
		t.Fatalf("open orders %+v", open)
	}
	var cancelled sim.Order // private/cancel returns the bare order
	mk.ok("private/cancel", map[string]any{"order_id": o.OrderID}, &cancelled)
	if cancelled.OrderState != "cancelled" || cancelled.CancelReason != "user_request" {
		t.Fatalf("cancelled %+v", cancelled)
	}
	mk.fails("private/cancel", map[string]any{"order_id": o.OrderID}, sim.CodeNotOpenOrder)
	mk.fails("private/edit", map[string]any{"order_id": o.OrderID, "amount": 10, "price": 60000}, sim.CodeNotOpenOrder)
	mk.fails("private/cancel", map[string]any{"order_id": "no-such-order"}, sim.CodeOrderNotFound)

	// By label: get_order_state_by_label gives the recent orders, closed
	// ones too, oldest first; get_open_orders_by_label only the open.
	var again orderResult
	mk.ok("private/sell", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 61000, "label": "q-1"}, &again)
	var byLabel, openByLabel []sim.Order
	mk.ok("private/get_order_state_by_label", map[string]any{"label": "q-1", "currency": "BTC"}, &byLabel)
	if len(byLabel) != 2 || byLabel[0].OrderID != o.OrderID || byLabel[0].OrderState != "cancelled" ||
		byLabel[0].FilledAmount != 40 || byLabel[1].OrderID != again.Order.OrderID || byLabel[1].OrderState != "open" {
		t.Fatalf("get_order_state_by_label: %+v", byLabel)
	}
	mk.ok("private/get_open_orders_by_label", map[string]any{"label": "q-1", "currency": "BTC"}, &openByLabel)
	if len(openByLabel) != 1 || openByLabel[0].OrderID != again.Order.OrderID {
		t.Fatalf("get_open_orders_by_label: %+v", openByLabel)
	}
	tk.ok("private/get_order_state_by_label", map[string]any{"label": "q-1", "currency": "BTC"}, &byLabel)
	if len(byLabel) != 0 {
		t.Fatalf("another account's orders by label: %+v", byLabel)
	}
	mk.ok("private/cancel", map[string]any{"order_id": again.Order.OrderID}, &cancelled)

	var pos sim.Position
	tk.ok("private/get_position", map[string]any{"instrument_name": "BTC-PERPETUAL"}, &pos)
	if pos.Size != 40 || pos.Direction != "buy" || pos.AveragePrice != 60000 {
		t.Fatalf("taker position %+v", pos)
	}
	var positions []sim.Position
	mk.ok("private/get_positions", map[string]any{"currency": "BTC", "kind": "future"}, &positions)
	found := false
	for _, p := range positions {
		if p.InstrumentName == "BTC-PERPETUAL" && p.Size == -40 && p.Direction == "sell" {
			found = true
		}
	}
	if !found {
		t.Fatalf("maker positions %+v", positions)
	}
	var sum map[string]any
	tk.ok("private/get_account_summary", map[string]any{"currency": "BTC"}, &sum)
	for _, k := range []string{"balance", "equity", "available_funds", "initial_margin", "maintenance_margin", "limits"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("account summary lacks %q: %v", k, sum)
		}
	}
	if sum["currency"] != "BTC" {
		t.Fatalf("summary currency %v", sum["currency"])
	}
}

func TestCancelAllForms(t *testing.T) {
	srv := quiet(t, sim.Config{RateLimits: sim.RateLimits{Disabled: true}})
	c := dial(t, srv)
	c.auth()
	place := func(inst string, price float64, label string) {
		c.ok("private/buy", map[string]any{"instrument_name": inst, "amount": 10, "price": price, "label": label}, nil)
	}
	place("BTC-PERPETUAL", 50000, "a")
	place("BTC-PERPETUAL", 50500, "b")
	place("ETH-PERPETUAL", 2500, "a")
	var n int
	c.ok("private/cancel_by_label", map[string]any{"label": "a"}, &n)
	if n != 2 {
		t.Fatalf("cancel_by_label = %d", n)
	}
	place("ETH-PERPETUAL", 2500, "c")
	c.ok("private/cancel_all_by_instrument", map[string]any{"instrument_name": "BTC-PERPETUAL", "type": "stop"}, &n)
	if n != 0 {
		t.Fatalf("cancel_all_by_instrument type stop = %d", n)
	}
	var reports []struct {
		InstrumentName string      `json:"instrument_name"`
		Result         []sim.Order `json:"result"`
	}
	c.ok("private/cancel_all_by_instrument", map[string]any{"instrument_name": "BTC-PERPETUAL", "detailed": true}, &reports)
	if len(reports) != 1 || len(reports[0].Result) != 1 || reports[0].Result[0].Label != "b" {
		t.Fatalf("detailed report %+v", reports)
	}
	place("BTC-PERPETUAL", 50000, "d")
	c.ok("private/cancel_all", nil, &n)
	if n != 2 {
		t.Fatalf("cancel_all = %d", n)
	}
	c.fails("private/cancel_all_by_instrument", map[string]any{"instrument_name": "DOGE-PERPETUAL"}, sim.CodeInvalidInstrument)
}

func TestOrderErrors(t *testing.T) {
	srv := quiet(t, sim.Config{Keys: twoKeys, RateLimits: sim.RateLimits{Disabled: true}})
	mk, c := dial(t, srv), dial(t, srv)
	authAs(mk, "maker", "m")
	authAs(c, "taker", "t")
	mk.ok("private/sell", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 60000}, nil)

	buy := func(extra map[string]any) map[string]any {
		p := map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 59000}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		params map[string]any
		code   int
	}{
		{"unknown instrument", buy(map[string]any{"instrument_name": "BTC-NOPE"}), sim.CodeInvalidInstrument},
		{"missing instrument", map[string]any{"amount": 10, "price": 59000}, sim.CodeInvalidParams},
		{"off tick", buy(map[string]any{"price": 59000.3}), sim.CodePriceWrongTick},
		{"below min amount", buy(map[string]any{"amount": 5}), sim.CodeQtyTooLow},
		{"no amount", map[string]any{"instrument_name": "BTC-PERPETUAL", "price": 59000}, sim.CodeInvalidParams},
		{"limit without price", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10}, sim.CodeInvalidParams},
		{"negative price", buy(map[string]any{"price": -1}), sim.CodeInvalidPrice},
		{"label too long", buy(map[string]any{"label": strings.Repeat("x", 65)}), sim.CodeInvalidParams},
		{"unsupported type", buy(map[string]any{"type": "stop_limit"}), sim.CodeInvalidArguments},
		{"post-only rejected", buy(map[string]any{"price": 60000, "post_only": true, "reject_post_only": true}), sim.CodePostOnlyReject},
		{"not enough funds", buy(map[string]any{"amount": 1e9}), sim.CodeNotEnoughFunds},
		{"amount and contracts disagree", buy(map[string]any{"contracts": 3}), sim.CodeInvalidParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := c.fails("private/buy", tc.params, tc.code)
			if e.Message == "" {
				t.Fatal("error without message")
			}
		})
	}
	// A rejected request leaves nothing behind.
	var open []sim.Order
	c.ok("private/get_open_orders", nil, &open)
	if len(open) != 0 {
		t.Fatalf("rejected requests left orders: %+v", open)
	}
	// Post-only without reject: repriced to rest inside the spread.
	var r orderResult
	c.ok("private/buy", buy(map[string]any{"price": 60000, "post_only": true}), &r)
	if r.Order.OrderState != "open" || r.Order.Price >= 60000 || len(r.Trades) != 0 {
		t.Fatalf("post-only order %+v", r)
	}
	// IOC with nothing to match is cancelled, not rejected.
	c.ok("private/buy", buy(map[string]any{"time_in_force": "immediate_or_cancel", "price": 50000}), &r)
	if r.Order.OrderState != "cancelled" {
		t.Fatalf("IOC order %+v", r.Order)
	}
}

func TestMaintenanceAndPlatformState(t *testing.T) {
	srv := quiet(t, sim.Config{RateLimits: sim.RateLimits{Disabled: true}})
	c := dial(t, srv)
	c.auth()
	c.subscribe(false, "platform_state")
	srv.Maintenance(true)
	n := c.notification("platform_state")
	if !strings.Contains(string(n.Params.Data), `"maintenance":true`) {
		t.Fatalf("platform_state %s", n.Params.Data)
	}
	c.fails("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 50000}, sim.CodeSystemMaintenance)
	var status map[string]any
	c.ok("public/status", nil, &status)
	if status["locked"] != "true" {
		t.Fatalf("status during maintenance %v", status)
	}
	srv.Maintenance(false)
	c.next("unlock", func(f frame) bool {
		return f.Params.Channel == "platform_state" && strings.Contains(string(f.Params.Data), `"locked":false`)
	})
	c.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 50000}, nil)
}

func TestRateLimitTerminatesSession(t *testing.T) {
	srv := quiet(t, sim.Config{RateLimits: sim.RateLimits{MatchingBurst: 3, MatchingRate: 0.001,
		NonMatchingCost: 500, NonMatchingMax: 2000, NonMatchingRefill: 1}})
	t.Run("matching engine", func(t *testing.T) {
		c := dial(t, srv)
		c.auth()
		c.ok("private/enable_cancel_on_disconnect", nil, nil)
		for i := 0; i < 3; i++ {
			c.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 50000}, nil)
		}
		c.fails("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 50000}, sim.CodeTooManyRequests)
		c.waitClosed()
		waitConns(t, srv, 0)
		if n := len(srv.OpenOrders(sim.TestKeyID)); n != 0 {
			t.Fatalf("%d orders survived the terminated session", n)
		}
	})
	t.Run("non-matching, per connection", func(t *testing.T) {
		c := dial(t, srv)
		// 2000 credits at 500 each: the fifth request is refused.
		for i := 0; i < 4; i++ {
			c.ok("public/get_time", nil, nil)
		}
		// public/test, the heartbeat answer, is never charged.
		for i := 0; i < 10; i++ {
			c.ok("public/test", nil, nil)
		}
		c.fails("public/get_time", nil, sim.CodeTooManyRequests)
		c.waitClosed()
		if st := srv.Stats(); st.RateLimitKills != 2 {
			t.Fatalf("rate-limit kills = %d", st.RateLimitKills)
		}
	})
}

func TestInstrumentsAndCurrencies(t *testing.T) {
	srv := quiet(t, sim.Config{})
	c := dial(t, srv)
	var ins []sim.Instrument
	c.ok("public/get_instruments", map[string]any{"currency": "BTC"}, &ins)
	byName := map[string]sim.Instrument{}
	kinds := map[string]int{}
	for _, in := range ins {
		byName[in.InstrumentName] = in
		kinds[in.Kind]++
	}
	perp, ok := byName["BTC-PERPETUAL"]
	if !ok || perp.TickSize != 0.5 || perp.ContractSize != 10 || perp.MinTradeAmount != 10 || perp.ExpirationTimestamp != 32503708800000 {
		t.Fatalf("BTC-PERPETUAL %+v", perp)
	}
	if kinds["future"] < 2 || kinds["option"] < 2 {
		t.Fatalf("want a perpetual, a dated future and options; kinds %v", kinds)
	}
	var opts []sim.Instrument
	c.ok("public/get_instruments", map[string]any{"currency": "BTC", "kind": "option"}, &opts)
	for _, in := range opts {
		if in.Kind != "option" || in.OptionType == "" || in.Strike == 0 {
			t.Fatalf("option %+v", in)
		}
	}
	c.fails("public/get_instruments", map[string]any{}, sim.CodeInvalidParams)
	var curs []map[string]any
	c.ok("public/get_currencies", nil, &curs)
	if len(curs) < 2 {
		t.Fatalf("currencies %v", curs)
	}
	tr := dial(t, srv)
	tr.auth()
	tr.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 30, "price": 59000}, nil)
	var book struct {
		Instrument string       `json:"instrument_name"`
		ChangeID   int64        `json:"change_id"`
		Bids       [][2]float64 `json:"bids"`
		Asks       [][2]float64 `json:"asks"`
		BestBid    float64      `json:"best_bid_price"`
	}
	c.ok("public/get_order_book", map[string]any{"instrument_name": "BTC-PERPETUAL", "depth": 5}, &book)
	if book.Instrument != "BTC-PERPETUAL" || len(book.Bids) != 1 || book.Bids[0] != [2]float64{59000, 30} ||
		len(book.Asks) != 0 || book.BestBid != 59000 || book.ChangeID == 0 {
		t.Fatalf("order book %+v", book)
	}
	c.fails("public/get_order_book", map[string]any{"instrument_name": "NOPE"}, sim.CodeInvalidInstrument)
}

// Refuse answers the requests its hook picks with the hook's error and
// carries none of them out; the others go through; nil removes it.
func TestRefuse(t *testing.T) {
	srv := quiet(t, sim.Config{RateLimits: sim.RateLimits{Disabled: true}})
	c := dial(t, srv)
	c.auth()
	var o struct {
		Order struct {
			ID string `json:"order_id"`
		} `json:"order"`
	}
	c.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 50000, "label": "r"}, &o)
	srv.Refuse(func(method string, params json.RawMessage) *sim.Error {
		if method == "private/edit" && strings.Contains(string(params), o.Order.ID) {
			return sim.NewError(sim.CodeNotEnoughFunds, nil)
		}
		return nil
	})
	c.fails("private/edit", map[string]any{"order_id": o.Order.ID, "amount": 20, "price": 50001}, sim.CodeNotEnoughFunds)
	if os := srv.OpenOrders(sim.TestKeyID); len(os) != 1 || os[0].Amount != 10 || os[0].Price != 50000 {
		t.Fatalf("a refused edit was carried out: %+v", os)
	}
	c.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 49000, "label": "s"}, nil)
	srv.Refuse(nil)
	c.ok("private/edit", map[string]any{"order_id": o.Order.ID, "amount": 20, "price": 50001}, nil)
	if n := len(srv.OpenOrders(sim.TestKeyID)); n != 2 {
		t.Fatalf("%d open orders, want 2", n)
	}
}
