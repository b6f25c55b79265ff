package sim

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

func localPlace(t *testing.T, l *Local, method, params string) Order {
	t.Helper()
	raw, err := l.Call(1, method, []byte(params))
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	var r struct {
		Order  Order   `json:"order"`
		Trades []Trade `json:"trades"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r.Order
}

// An order queues behind the recorded liquidity at its price: recorded
// trades fill the book ahead of it first.
func TestLocalQueuePosition(t *testing.T) {
	l := NewLocal(LocalConfig{})
	l.SetIndex("BTC", 60000)
	l.SetLevel(1, "BTC-PERPETUAL", true, 59990, 200)
	o := localPlace(t, l, "private/buy", `{"instrument_name":"BTC-PERPETUAL","amount":100,"type":"limit","price":59990,"label":"x"}`)
	if o.OrderState != "open" {
		t.Fatalf("order %+v", o)
	}
	l.TakeNotes(nil)
	l.Trade(2, "BTC-PERPETUAL", false, 59990, 150)
	if n := l.TakeNotes(nil); len(n) != 0 {
		t.Fatalf("filled ahead of the queue: %+v", n)
	}
	l.Trade(3, "BTC-PERPETUAL", false, 59990, 100) // 50 of the book, then 50 of ours
	notes := l.TakeNotes(nil)
	var trades, orders int
	for _, n := range notes {
		switch {
		case strings.HasPrefix(n.Channel, "user.trades.BTC-PERPETUAL"):
			trades++
			if !strings.Contains(string(n.Data), `"amount":50`) || !strings.Contains(string(n.Data), `"liquidity":"M"`) {
				t.Fatalf("trade %s", n.Data)
			}
		case strings.HasPrefix(n.Channel, "user.orders.BTC-PERPETUAL"):
			orders++
		}
	}
	if trades != 1 || orders != 1 {
		t.Fatalf("notes %+v", notes)
	}
	// The level shrinking to nothing takes the book's orders, not ours.
	l.SetLevel(4, "BTC-PERPETUAL", true, 59990, 0)
	raw, err := l.Call(5, "private/get_open_orders", []byte(`{}`))
	if err != nil || !strings.Contains(string(raw), `"filled_amount":50`) {
		t.Fatalf("open orders %s %v", raw, err)
	}
	// A recorded ask that crosses our bid fills it at our price.
	l.SetLevel(6, "BTC-PERPETUAL", false, 59980, 500)
	raw, _ = l.Call(7, "private/get_positions", []byte(`{"currency":"BTC"}`))
	if !strings.Contains(string(raw), `"size":100`) {
		t.Fatalf("positions %s", raw)
	}
	if l.Rejected() != 0 {
		t.Fatalf("%d rejected", l.Rejected())
	}
}

func TestLocalMethods(t *testing.T) {
	l := NewLocal(LocalConfig{})
	raw, err := l.Call(1, "public/get_instruments", []byte(`{"currency":"any"}`))
	if err != nil || !strings.Contains(string(raw), "BTC-PERPETUAL") {
		t.Fatalf("%s %v", raw, err)
	}
	o := localPlace(t, l, "private/sell", `{"instrument_name":"BTC-PERPETUAL","amount":10,"type":"limit","price":61000,"label":"L1"}`)
	if _, err := l.Call(2, "private/edit", []byte(`{"order_id":"`+o.OrderID+`","amount":20,"price":61010}`)); err != nil {
		t.Fatal(err)
	}
	raw, err = l.Call(3, "private/cancel_by_label", []byte(`{"label":"L1","currency":"BTC"}`))
	if err != nil || string(raw) != "1" {
		t.Fatalf("%s %v", raw, err)
	}
	if _, err := l.Call(4, "private/cancel", []byte(`{"order_id":"`+o.OrderID+`"}`)); err == nil || err.Code != CodeNotOpenOrder {
		t.Fatalf("cancel of a cancelled order: %v", err)
	}
	if _, err := l.Call(5, "private/nope", nil); err == nil || err.Code != CodeMethodNotFound {
		t.Fatalf("unknown method: %v", err)
	}
	if _, err := l.Call(5, "private/buy", []byte(`{"amount":"x"}`)); err == nil || err.Code != CodeInvalidParams {
		t.Fatalf("bad params: %v", err)
	}
	// The server's checks of a place and an edit (shared with it).
	for _, c := range []struct{ method, params string }{
		{"private/buy", `{"amount":10,"price":60000}`},
		{"private/buy", `{"instrument_name":"BTC-PERPETUAL","price":60000}`},
		{"private/sell", `{"instrument_name":"BTC-PERPETUAL","amount":10,"price":60000,"type":"stop_limit"}`},
		{"private/sell", `{"instrument_name":"BTC-PERPETUAL","amount":10,"price":60000,"time_in_force":"forever"}`},
		{"private/edit", `{"amount":10,"price":60000}`},
		{"private/edit", `{"order_id":"` + o.OrderID + `","price":60000}`},
	} {
		if _, err := l.Call(6, c.method, []byte(c.params)); err == nil {
			t.Errorf("%s %s: accepted", c.method, c.params)
		}
	}
}

// A mark set from outside (a replay's recorded ticker) is what the price
// limits follow, as Deribit's follow its mark: 5 % either side for a
// perpetual, whatever the index and the book say; 0 gives the book and the
// index their say back.
func TestLocalSetMarkMovesTheBand(t *testing.T) {
	l := NewLocal(LocalConfig{})
	l.SetIndex("BTC", 60000)
	if !l.SetMark("BTC-PERPETUAL", 30000) || l.SetMark("NOPE", 1) || l.SetMark("BTC-PERPETUAL", -1) {
		t.Fatal("SetMark's verdicts")
	}
	place := func(method string, price int) *Error {
		_, err := l.Call(1, method, []byte(`{"instrument_name":"BTC-PERPETUAL","amount":10,"type":"limit","price":`+strconv.Itoa(price)+`}`))
		return err
	}
	for _, c := range []struct {
		method string
		price  int
		code   int // 0: accepted
	}{
		{"private/sell", 28500, 0},               // 95 % of the mark
		{"private/sell", 28000, CodePriceTooLow}, // below it
		{"private/buy", 31500, 0},                // 105 %
		{"private/buy", 32000, CodePriceTooHigh},
		{"private/buy", 59000, CodePriceTooHigh}, // near the index, far from the mark
	} {
		err := place(c.method, c.price)
		if got := 0; err != nil {
			got = err.Code
			if got != c.code {
				t.Errorf("%s at %d: %v, want code %d", c.method, c.price, err, c.code)
			}
		} else if c.code != 0 {
			t.Errorf("%s at %d accepted, want code %d", c.method, c.price, c.code)
		}
	}
	l.SetMark("BTC-PERPETUAL", 0)
	if err := place("private/buy", 59000); err != nil {
		t.Errorf("after the mark is unset, a buy near the index: %v", err)
	}
}
