package sim_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/sim"
)

// stringly rewrites every number and boolean of params as a JSON string, the
// way ccxt's Deribit client sends them ("amount": "10").
func stringly(params map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range params {
		switch v := v.(type) {
		case int, int64, float64, bool:
			out[k] = fmt.Sprint(v)
		default:
			out[k] = v
		}
	}
	return out
}

// orderScript is a session of every order method with numeric and boolean
// params; ids refers to the n-th order placed so that both runs name their
// own orders.
type scriptStep struct {
	method string
	params map[string]any
	idOf   int // when > 0, params["order_id"] is the idOf-th placed order's id
}

var orderScript = []scriptStep{
	{"private/sell", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 100, "price": 60000, "post_only": true, "label": "a"}, 0},
	{"private/sell", map[string]any{"instrument_name": "BTC-PERPETUAL", "contracts": 3, "price": 60500, "reduce_only": false}, 0},
	{"private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 40, "price": 60000, "valid_until": 4102444800000}, 0},
	{"private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 59000.5, "post_only": true, "reject_post_only": false}, 0},
	{"private/edit", map[string]any{"amount": 90, "price": 60100, "post_only": true}, 1},
	{"private/get_order_state", map[string]any{}, 1},
	{"private/get_open_orders_by_instrument", map[string]any{"instrument_name": "BTC-PERPETUAL"}, 0},
	{"private/cancel", map[string]any{}, 4},
	{"public/get_order_book", map[string]any{"instrument_name": "BTC-PERPETUAL", "depth": 5}, 0},
	{"private/get_position", map[string]any{"instrument_name": "BTC-PERPETUAL"}, 0},
	{"private/get_account_summary", map[string]any{"currency": "BTC", "extended": true}, 0},
	{"public/get_instruments", map[string]any{"currency": "BTC", "expired": false}, 0},
	{"private/cancel_all_by_instrument", map[string]any{"instrument_name": "BTC-PERPETUAL", "detailed": true}, 0},
	{"private/sell", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 61000, "label": "b"}, 0},
	{"private/cancel_all_by_currency", map[string]any{"currency": "BTC", "detailed": false}, 0},
	{"private/sell", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 61000}, 0},
	{"private/cancel_all", map[string]any{"detailed": true}, 0},
	{"public/set_heartbeat", map[string]any{"interval": 30}, 0},
}

// runScript plays orderScript on a fresh simulator at a fixed time and
// returns every result.
func runScript(t *testing.T, rewrite func(map[string]any) map[string]any) []string {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	srv := quiet(t, sim.Config{Keys: twoKeys, RateLimits: sim.RateLimits{Disabled: true}, Clock: clk})
	c := dial(t, srv)
	authAs(c, "maker", "m")
	var ids []string
	var out []string
	for i, step := range orderScript {
		p := map[string]any{}
		for k, v := range step.params {
			p[k] = v
		}
		if step.idOf > 0 {
			p["order_id"] = ids[step.idOf-1]
		}
		f := c.call(step.method, rewrite(p))
		if f.Error != nil {
			t.Fatalf("step %d %s: error %d %s %s", i, step.method, f.Error.Code, f.Error.Message, f.Error.Data)
		}
		if strings.HasSuffix(step.method, "/buy") || strings.HasSuffix(step.method, "/sell") {
			var r orderResult
			if err := json.Unmarshal(f.Result, &r); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			ids = append(ids, r.Order.OrderID)
		}
		out = append(out, step.method+" "+string(f.Result))
	}
	return out
}

func TestNumbersAndBooleansAsStrings(t *testing.T) {
	numeric := runScript(t, func(p map[string]any) map[string]any { return p })
	stringed := runScript(t, stringly)
	if len(numeric) != len(orderScript) || len(stringed) != len(numeric) {
		t.Fatalf("ran %d and %d steps of %d", len(numeric), len(stringed), len(orderScript))
	}
	for i := range numeric {
		if numeric[i] != stringed[i] {
			t.Errorf("step %d differs:\nnumbers: %s\nstrings: %s", i, numeric[i], stringed[i])
		}
	}
	// The script did trade: a fill and an edit happened, not only refusals.
	if !strings.Contains(numeric[2], `"trades":[{`) || !strings.Contains(numeric[4], `"replaced":true`) {
		t.Fatalf("script did not exercise matching and edit: %s / %s", numeric[2], numeric[4])
	}
}

// TestParamErrorsInDeribitShape: a parameter of the wrong type is -32602
// "Invalid params" with data.reason and data.param, in the client's words.
func TestParamErrorsInDeribitShape(t *testing.T) {
	srv := quiet(t, sim.Config{Keys: twoKeys, RateLimits: sim.RateLimits{Disabled: true}})
	c := dial(t, srv)
	authAs(c, "maker", "m")
	place := map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 60000}
	with := func(k string, v any) map[string]any {
		p := map[string]any{}
		for kk, vv := range place {
			p[kk] = vv
		}
		p[k] = v
		return p
	}
	for _, tc := range []struct {
		name, method string
		params       any
		param        string
	}{
		{"amount not a number", "private/buy", with("amount", "ten"), "amount"},
		{"amount NaN", "private/buy", with("amount", "NaN"), "amount"},
		{"amount an object", "private/buy", with("amount", map[string]any{"v": 1}), "amount"},
		{"price padded", "private/sell", with("price", " 60000"), "price"},
		{"contracts a bool", "private/buy", with("contracts", true), "contracts"},
		{"post_only yes", "private/buy", with("post_only", "yes"), "post_only"},
		{"reduce_only a number", "private/sell", with("reduce_only", 1), "reduce_only"},
		{"valid_until a fraction", "private/buy", with("valid_until", "1.5"), "valid_until"},
		{"instrument a number", "private/buy", with("instrument_name", 7), "instrument_name"},
		{"edit price a word", "private/edit", map[string]any{"order_id": "x", "amount": 10, "price": "high"}, "price"},
		{"detailed a word", "private/cancel_all", map[string]any{"detailed": "maybe"}, "detailed"},
		{"depth a fraction", "public/get_order_book", map[string]any{"instrument_name": "BTC-PERPETUAL", "depth": 2.5}, "depth"},
		{"interval a word", "public/set_heartbeat", map[string]any{"interval": "often"}, "interval"},
		{"channels a string", "public/subscribe", map[string]any{"channels": "book.BTC-PERPETUAL.raw"}, "channels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := c.fails(tc.method, tc.params, sim.CodeInvalidParams)
			if e.Message != "Invalid params" {
				t.Fatalf("message %q", e.Message)
			}
			var data map[string]string
			if err := json.Unmarshal(e.Data, &data); err != nil {
				t.Fatalf("data %s: %v", e.Data, err)
			}
			if data["reason"] != "wrong format" || data["param"] != tc.param {
				t.Fatalf("data %s, want reason \"wrong format\" and param %q", e.Data, tc.param)
			}
			assertNoGoNames(t, e)
		})
	}
	// A request that is not JSON-RPC at all: -32700, still in the client's terms.
	c.sendRaw([]byte(`{"jsonrpc":"2.0","id":1,"method":12}`))
	f := c.next("parse error", func(f frame) bool { return f.Error != nil })
	if f.Error.Code != sim.CodeParseError || !strings.Contains(string(f.Error.Data), "method") {
		t.Fatalf("method as a number: %+v %s", f.Error, f.Error.Data)
	}
	assertNoGoNames(t, *f.Error)
	// Nothing was placed by any of it.
	var open []sim.Order
	c.ok("private/get_open_orders", nil, &open)
	if len(open) != 0 {
		t.Fatalf("refused requests left orders: %+v", open)
	}
}

func assertNoGoNames(t *testing.T, e rpcErr) {
	t.Helper()
	all := e.Message + " " + string(e.Data)
	for _, leak := range []string{"Go ", "struct", "float64", "int64", "bool", "json:", "Params", "unmarshal"} {
		if strings.Contains(all, leak) {
			t.Fatalf("error reply names a Go detail %q: %s", leak, all)
		}
	}
}
