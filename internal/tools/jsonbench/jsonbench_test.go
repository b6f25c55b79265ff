package jsonbench

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/buger/jsonparser"
	"github.com/valyala/fastjson"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/conn/jsonscan"
)

// frames are Deribit raw-book changes (~270 bytes), trades and tickers, the
// mix of a recording.
func frames() [][]byte {
	var out [][]byte
	for i := 0; i < 64; i++ {
		switch i % 4 {
		case 0, 1:
			out = append(out, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.raw","data":{"type":"change","timestamp":%d,"prev_change_id":%d,"instrument_name":"BTC-PERPETUAL","change_id":%d,"bids":[["new",%d.5,%d]],"asks":[["change",%d.0,%d],["delete",%d.5,0]]}}}`,
				1709251200000+i, 6800000000+i, 6800000001+i, 50000+i, 1000+i, 50010+i, 2000+i, 50020+i)))
		case 2:
			out = append(out, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.raw","data":[{"trade_seq":%d,"trade_id":"%d","timestamp":%d,"tick_direction":0,"price":%d.5,"mark_price":50000.12,"instrument_name":"BTC-PERPETUAL","index_price":50001.3,"direction":"buy","amount":%d}]}}`,
				100+i, 200+i, 1709251200000+i, 50000+i, 10*i+10)))
		default:
			out = append(out, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"timestamp":%d,"stats":{"volume_usd":1.2e8,"volume":2400.5,"price_change":1.2,"low":49000,"high":51000},"state":"open","settlement_price":50000.1,"open_interest":1e9,"min_price":49000.5,"max_price":51000.5,"mark_price":50000.2,"last_price":50000.5,"instrument_name":"BTC-PERPETUAL","index_price":50001.0,"funding_8h":0.0001,"estimated_delivery_price":50001.0,"current_funding":0,"best_bid_price":50000.0,"best_bid_amount":1000,"best_ask_price":50000.5,"best_ask_amount":2000}}}`,
				1709251200000+i)))
		}
	}
	return out
}

var sink int64

// jsonscan: the connection's own path, then the data's timestamp.
func BenchmarkClassifyJsonscan(b *testing.B) {
	fs := frames()
	b.ReportAllocs()
	var s jsonscan.Scanner
	for i := 0; b.Loop(); i++ {
		in := fs[i&63]
		f := conn.Classify(in)
		ch, data, err := conn.ParseNotification(in, f)
		if err != nil || len(ch) == 0 {
			b.Fatal(err)
		}
		s.Reset(data)
		if s.Peek() == jsonscan.Array {
			s.Array()
			s.Elem()
		}
		s.Object()
		for {
			k, ok := s.Key()
			if !ok {
				b.Fatal("no timestamp")
			}
			if string(k) == "timestamp" {
				ts, _ := s.Int()
				sink += ts
				break
			}
			s.Skip()
		}
	}
}

func BenchmarkClassifyJsonparser(b *testing.B) {
	fs := frames()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		in := fs[i&63]
		method, err := jsonparser.GetUnsafeString(in, "method")
		if err != nil || method != "subscription" {
			b.Fatal(err)
		}
		ch, _, _, err := jsonparser.Get(in, "params", "channel")
		if err != nil || len(ch) == 0 {
			b.Fatal(err)
		}
		data, typ, _, err := jsonparser.Get(in, "params", "data")
		if err != nil {
			b.Fatal(err)
		}
		var ts int64
		if typ == jsonparser.Array {
			ts, err = jsonparser.GetInt(data, "[0]", "timestamp")
		} else {
			ts, err = jsonparser.GetInt(data, "timestamp")
		}
		if err != nil {
			b.Fatal(err)
		}
		sink += ts
	}
}

func BenchmarkClassifyFastjson(b *testing.B) {
	fs := frames()
	b.ReportAllocs()
	var p fastjson.Parser
	for i := 0; b.Loop(); i++ {
		in := fs[i&63]
		v, err := p.ParseBytes(in)
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.Equal(v.GetStringBytes("method"), []byte("subscription")) || len(v.GetStringBytes("params", "channel")) == 0 {
			b.Fatal("not a notification")
		}
		data := v.Get("params", "data")
		if data.Type() == fastjson.TypeArray {
			data = data.Get("0")
		}
		sink += data.GetInt64("timestamp")
	}
}
