package deribit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
)

// Payloads in Deribit's shapes (deribit.md §4, §5).
var (
	bookSnapshot = []byte(`{"type":"snapshot","timestamp":1700000000000,"instrument_name":"BTC-PERPETUAL","change_id":297217,"bids":[["new",65000.5,1200.0],["new",64999.0,500.0]],"asks":[["new",65001.0,300.0]]}`)
	bookChange   = []byte(`{"type":"change","timestamp":1700000000100,"prev_change_id":297217,"instrument_name":"BTC-PERPETUAL","change_id":297218,"bids":[["change",65000.5,1300.0],["delete",64999.0,0.0]],"asks":[]}`)
	bookGrouped  = []byte(`{"timestamp":1700000000000,"instrument_name":"ETH-PERPETUAL","change_id":5,"bids":[[3400.5,10],[3400,2e3]],"asks":[[3401,1.5]]}`)
	orderRaw     = []byte(`{"web":false,"time_in_force":"good_til_cancelled","risk_reducing":false,"replaced":false,"reject_post_only":false,"reduce_only":false,"price":65000.5,"post_only":true,"order_type":"limit","order_state":"open","order_id":"USDC-104819327443","mmp":false,"max_show":10.0,"last_update_timestamp":1700000000000,"label":"mm-\"1\"","is_liquidation":false,"instrument_name":"BTC-PERPETUAL","filled_amount":0.0,"direction":"buy","creation_timestamp":1700000000000,"contracts":1.0,"average_price":0.0,"api":true,"amount":10.0}`)
	orderMarket  = []byte(`{"order_id":"ETH-SLIS-12","order_state":"untriggered","price":"market_price","trigger_price":3000,"direction":"sell","cancel_reason":null,"label":null,"amount":1}`)
)

// book10 is a 10-level book change like the ones the benchmark targets.
func book10() []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":"change","timestamp":1700000000100,"prev_change_id":297217,"instrument_name":"BTC-PERPETUAL","change_id":297218,"bids":[`)
	for i := 0; i < 5; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `["change",%.1f,%d.0]`, 65000.5-float64(i)*0.5, 1000+i*10)
	}
	b.WriteString(`],"asks":[`)
	for i := 0; i < 5; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `["new",%.1f,%d.0]`, 65001+float64(i)*0.5, 200+i*10)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func TestDecodeBook(t *testing.T) {
	var bk Book
	if err := DecodeBook(bookSnapshot, &bk); err != nil {
		t.Fatal(err)
	}
	if bk.Type != BookSnapshot || bk.Instrument != "BTC-PERPETUAL" || bk.ChangeID != 297217 || bk.PrevChangeID != 0 ||
		len(bk.Bids) != 2 || bk.Bids[0] != (Level{ActionNew, 65000.5, 1200}) || len(bk.Asks) != 1 {
		t.Fatalf("%+v", bk)
	}
	if err := DecodeBook(bookChange, &bk); err != nil {
		t.Fatal(err)
	}
	if bk.Type != BookChange || bk.PrevChangeID != 297217 || bk.Timestamp != 1700000000100 ||
		bk.Bids[1] != (Level{ActionDelete, 64999, 0}) || len(bk.Asks) != 0 {
		t.Fatalf("%+v", bk)
	}
	if err := DecodeBook(bookGrouped, &bk); err != nil {
		t.Fatal(err)
	}
	if bk.Type != BookGrouped || bk.Instrument != "ETH-PERPETUAL" || bk.Bids[1] != (Level{ActionNew, 3400, 2000}) {
		t.Fatalf("%+v", bk)
	}
	b10 := book10()
	if n := testing.AllocsPerRun(100, func() {
		if err := DecodeBook(b10, &bk); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations in steady state", n)
	}
}

func TestDecodeBookErrors(t *testing.T) {
	for _, in := range []string{
		``, `[]`, `{"bids":[["new",1]]}`, `{"bids":[["bogus",1,2]]}`, `{"bids":[["new",1,2,3]]}`,
		`{"type":"weird"}`, `{"bids":[["new","1",2]]}`, `{"change_id":1.5}`, `{"bids":[1]}`, `{} x`,
	} {
		t.Run(in, func(t *testing.T) {
			var bk Book
			if err := DecodeBook([]byte(in), &bk); !errors.Is(err, ErrDecode) {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func TestDecodeOrder(t *testing.T) {
	var o Order
	if err := DecodeOrder(orderRaw, &o); err != nil {
		t.Fatal(err)
	}
	want := Order{OrderID: "USDC-104819327443", Instrument: "BTC-PERPETUAL", Label: `mm-"1"`, State: OrderOpen,
		Direction: Buy, TimeInForce: GoodTilCancelled, OrderType: "limit", Price: 65000.5, Amount: 10, Contracts: 1,
		CreationTimestamp: 1700000000000, LastUpdateTimestamp: 1700000000000, PostOnly: true, API: true}
	if o != want {
		t.Fatalf("got  %+v\nwant %+v", o, want)
	}
	if err := DecodeOrder(orderMarket, &o); err != nil {
		t.Fatal(err)
	}
	if !o.MarketPrice || !math.IsNaN(o.Price) || o.State != OrderUntriggered || o.Direction != Sell || o.Label != "" ||
		o.Instrument != "" || o.TriggerPrice != 3000 {
		t.Fatalf("%+v", o)
	}
	orders, err := DecodeOrders([]byte(`[`+string(orderRaw)+`,`+string(orderMarket)+`]`), nil)
	if err != nil || len(orders) != 2 || orders[0].OrderID != "USDC-104819327443" || !orders[1].MarketPrice {
		t.Fatalf("%+v %v", orders, err)
	}
	orders, err = DecodeOrders(orderRaw, orders)
	if err != nil || len(orders) != 1 || orders[0].Label != `mm-"1"` {
		t.Fatalf("%+v %v", orders, err)
	}
	for _, in := range []string{`{"price":"x"}`, `{"amount":true}`, `{"api":1}`, `[1]`, `{"order_id":1}`, `"x"`} {
		if err := DecodeOrder([]byte(in), &o); !errors.Is(err, ErrDecode) {
			t.Fatalf("%s: err %v", in, err)
		}
	}
}

// refLevels decodes levels with encoding/json, for the fuzz target.
func refLevels(raw json.RawMessage) ([]Level, bool) {
	var ls [][]json.RawMessage
	if json.Unmarshal(raw, &ls) != nil {
		return nil, false
	}
	out := []Level{}
	for _, l := range ls {
		var lv Level
		if len(l) == 3 {
			var a string
			if json.Unmarshal(l[0], &a) != nil {
				return nil, false
			}
			lv.Action = map[string]Action{"new": ActionNew, "change": ActionChange, "delete": ActionDelete}[a]
			l = l[1:]
		}
		if len(l) != 2 || json.Unmarshal(l[0], &lv.Price) != nil || json.Unmarshal(l[1], &lv.Amount) != nil {
			return nil, false
		}
		out = append(out, lv)
	}
	return out, true
}

// FuzzDecodeBook: never panics; whatever it accepts agrees with
// encoding/json on the levels.
func FuzzDecodeBook(f *testing.F) {
	for _, s := range [][]byte{bookSnapshot, bookChange, bookGrouped, book10(), []byte(`{"bids":[],"asks":[]}`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var bk Book
		if DecodeBook(in, &bk) != nil || bytes.IndexByte(in, '\\') >= 0 {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(in, &m) != nil || bytes.Count(in, []byte(`"bids"`)) > 1 || bytes.Count(in, []byte(`"asks"`)) > 1 {
			return
		}
		for _, side := range []struct {
			key string
			got []Level
		}{{"bids", bk.Bids}, {"asks", bk.Asks}} {
			raw, ok := m[side.key]
			if !ok {
				continue
			}
			want, ok := refLevels(raw)
			if !ok || len(want) != len(side.got) {
				t.Fatalf("%s: got %v, reference %v (%v)", side.key, side.got, want, ok)
			}
			for i := range want {
				if want[i] != side.got[i] {
					t.Fatalf("%s[%d]: got %v want %v", side.key, i, side.got[i], want[i])
				}
			}
		}
	})
}

// FuzzDecodeOrder: never panics; accepted orders agree with encoding/json
// on the id and the amounts.
func FuzzDecodeOrder(f *testing.F) {
	for _, s := range [][]byte{orderRaw, orderMarket, []byte(`[` + string(orderRaw) + `]`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orders, err := DecodeOrders(in, nil)
		if err != nil || len(orders) != 1 || in[0] != '{' || bytes.IndexByte(in, '\\') >= 0 {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(in, &m) != nil {
			return
		}
		var id string
		if raw, ok := m["order_id"]; ok && bytes.Count(in, []byte(`"order_id"`)) == 1 && json.Unmarshal(raw, &id) == nil && id != orders[0].OrderID {
			t.Fatalf("order_id %q, reference %q", orders[0].OrderID, id)
		}
		var amount float64
		if raw, ok := m["amount"]; ok && bytes.Count(in, []byte(`"amount"`)) == 1 && json.Unmarshal(raw, &amount) == nil && amount != orders[0].Amount {
			t.Fatalf("amount %v, reference %v", orders[0].Amount, amount)
		}
	})
}
