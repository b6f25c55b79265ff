package deribit

import "testing"

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
