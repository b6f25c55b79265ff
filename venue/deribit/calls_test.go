package deribit

import (
	"encoding/json"
	"testing"

	"github.com/stratbox/stratbox/abi"
)

func TestRateOf(t *testing.T) {
	const matching, cancelAll, none = 1, 2, 0
	for _, tc := range []struct {
		method, params string
		free           bool
		acct           int
		conn           bool
	}{
		{"public/test", "", true, none, false},
		{"/api/v2/public/test", "{}", true, none, false},
		{"private/buy", `{"instrument_name":"BTC-PERPETUAL"}`, false, matching, false},
		{"/api/v2/private/sell", "", false, matching, false},
		{"private/edit", "", false, matching, false},
		{"private/cancel", "", false, matching, false},
		{"private/cancel_all_by_instrument", "", false, matching, false},
		{"private/cancel_all_by_currency", `{"currency":"BTC"}`, false, matching, false},
		// cancel_all and cancel_by_label without a currency: the separate bucket.
		{"private/cancel_all", "", false, cancelAll, false},
		{"private/cancel_all", `{"detailed":false}`, false, cancelAll, false},
		{"private/cancel_all", `{"currency":"BTC"}`, false, matching, false},
		{"private/cancel_by_label", `{"label":"x"}`, false, cancelAll, false},
		{"private/cancel_by_label", `{"label":"x","currency":"BTC"}`, false, matching, false},
		{"private/cancel_by_label", `not json`, false, cancelAll, false},
		// Matching on Deribit, unknown to the simulator: both.
		{"private/close_position", "", false, matching, true},
		{"private/edit_by_label", "", false, matching, true},
		{"private/cancel_all_by_kind_or_type", "", false, matching, true},
		{"private/mass_quote", "", false, matching, true},
		{"private/cancel_quotes", "", false, matching, true},
		{"private/execute_block_trade", "", false, matching, true},
		{"private/verify_block_trade", "", false, matching, true},
		// Everything else: the connection's credits.
		{"public/get_time", "", false, none, true},
		{"public/auth", "", false, none, true},
		{"private/get_open_orders", "", false, none, true},
		{"private/get_order_state", "", false, none, true},
		{"private/subscribe", "", false, none, true},
		{"private/enable_cancel_on_disconnect", "", false, none, true},
		{"private/no_such_method", "", false, none, true},
		{"", "", false, none, true},
	} {
		c := RateOf(tc.method, []byte(tc.params))
		acct := none
		if c.Matching {
			acct = matching
		}
		if c.CancelAll {
			acct = cancelAll
		}
		if c.Free != tc.free || !c.Free && (acct != tc.acct || c.Credits != tc.conn) || c.Matching && c.CancelAll {
			t.Errorf("RateOf(%q, %s) = %+v; want acct %d credits %v free %v", tc.method, tc.params, c, tc.acct, tc.conn, tc.free)
		}
		if want := Op(tc.method).Opens(); c.OrderFlow != want {
			t.Errorf("RateOf(%q).OrderFlow = %v, want %v", tc.method, c.OrderFlow, want)
		}
	}
}

func TestCalls(t *testing.T) {
	fx := func(s string) abi.Fixed {
		x, err := abi.ParseFixed(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	buy := Place{Instrument: "BTC-PERPETUAL", Side: abi.Buy, Type: abi.Limit, TIF: abi.GoodTilCancelled,
		Flags: abi.PostOnly | abi.ReduceOnly, Price: fx("50000.5"), Amount: fx("10"), Label: `h1"x`}
	sell := Place{Instrument: "ETH-PERPETUAL", Side: abi.Sell, Type: abi.Market, TIF: abi.ImmediateOrCancel,
		Price: fx("1"), Amount: fx("0.25"), Label: "l"}
	text, ok := PlaceText("sell", "BTC-PERPETUAL", "limit", "good_til_day", 51000, 20, "lab", true, false)
	if !ok {
		t.Fatal("PlaceText(sell) not ok")
	}
	textMarket, _ := PlaceText("buy", "BTC-PERPETUAL", "market", "", 51000, 20, "lab", false, true)
	for _, tc := range []struct {
		name    string
		c       Call
		method  string
		params  string
		byLabel bool
		op      OrderOp
	}{
		{"buy", buy.Call(nil), "private/buy", `{"instrument_name":"BTC-PERPETUAL","amount":10,"type":"limit","price":50000.5,` +
			`"label":"h1\"x","time_in_force":"good_til_cancelled","post_only":true,"reduce_only":true}`, false, OpPlace},
		{"sell market", sell.Call(make([]byte, 3)), "private/sell", `{"instrument_name":"ETH-PERPETUAL","amount":0.25,` +
			`"type":"market","label":"l","time_in_force":"immediate_or_cancel"}`, false, OpPlace},
		{"place text", text, "private/sell", `{"instrument_name":"BTC-PERPETUAL","amount":20,"label":"lab","type":"limit",` +
			`"price":51000,"time_in_force":"good_til_day","post_only":true}`, false, OpPlace},
		{"place text market", textMarket, "private/buy", `{"instrument_name":"BTC-PERPETUAL","amount":20,"label":"lab",` +
			`"type":"market","reduce_only":true}`, false, OpPlace},
		{"edit", Edit("o-1", fx("5"), fx("49999"), abi.RejectPostOnly), "private/edit",
			`{"order_id":"o-1","amount":5,"price":49999,"reject_post_only":true}`, false, OpEdit},
		{"cancel", Cancel("o-1"), "private/cancel", `{"order_id":"o-1"}`, false, OpCancel},
		{"cancel by label", CancelByLabel("lab", "BTC"), "private/cancel_by_label", `{"label":"lab","currency":"BTC"}`, true, OpCancelByLabel},
		{"state", GetOrderState("o-1"), "private/get_order_state", `{"order_id":"o-1"}`, false, OpOrderState},
		{"state by label", GetOrderStateByLabel("lab", "ETH"), "private/get_order_state_by_label",
			`{"label":"lab","currency":"ETH"}`, true, OpOrderStateByLabel},
		{"open orders", GetOpenOrders(), "private/get_open_orders", `{}`, false, OpOpenOrders},
		{"positions", GetPositions(), "private/get_positions", `{"currency":"any"}`, false, OpPositions},
		{"instruments", GetInstruments(), "public/get_instruments", `{"currency":"any","expired":false}`, false, OpNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.c.Method != tc.method || string(tc.c.Params) != tc.params || tc.c.ByLabel != tc.byLabel {
				t.Errorf("= %s %s byLabel %v\nwant %s %s byLabel %v", tc.c.Method, tc.c.Params, tc.c.ByLabel, tc.method, tc.params, tc.byLabel)
			}
			if !json.Valid(tc.c.Params) {
				t.Errorf("params %s are not JSON", tc.c.Params)
			}
			if op := Op(tc.c.Method); op != tc.op {
				t.Errorf("Op(%s) = %d, want %d", tc.c.Method, op, tc.op)
			}
			if op := Op("/api/v2/" + tc.c.Method); op != tc.op {
				t.Errorf("Op(/api/v2/%s) = %d, want %d", tc.c.Method, op, tc.op)
			}
		})
	}
	for _, d := range []string{"", "Buy", "long", "private/buy"} {
		if c, ok := PlaceText(d, "BTC-PERPETUAL", "", "", 1, 1, "l", false, false); ok || c.Method != "" {
			t.Errorf("PlaceText(%q) = %+v, %v; want refused", d, c, ok)
		}
		if IsDirection(d) {
			t.Errorf("IsDirection(%q)", d)
		}
	}
	if !IsDirection("buy") || !IsDirection("sell") {
		t.Error("IsDirection refuses buy or sell")
	}
}
