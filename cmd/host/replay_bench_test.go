package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stratbox/stratbox/record"
)

// syntheticRecording is n frames of a busy BTC-PERPETUAL: a book snapshot,
// then book changes (70 %), tickers (20 %) and trades (10 %), 100 µs
// apart, in the native format.
func syntheticRecording(tb testing.TB, n int) []byte {
	var buf bytes.Buffer
	w, err := record.NewWriter(&buf, record.Header{Source: "benchmark"})
	if err != nil {
		tb.Fatal(err)
	}
	t := int64(1_767_225_600_000_000_000) // 2026-01-01
	frame := func(data string) {
		t += 100_000
		if err := w.Write(record.Frame{Time: t, Conn: 1, Data: []byte(data)}); err != nil {
			tb.Fatal(err)
		}
	}
	var snap bytes.Buffer
	snap.WriteString(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"snapshot","timestamp":1767225600000,"instrument_name":"BTC-PERPETUAL","change_id":1,"bids":[`)
	for i := range 20 {
		if i > 0 {
			snap.WriteByte(',')
		}
		fmt.Fprintf(&snap, `["new",%d.5,%d]`, 59999-i, 10*(i+1))
	}
	snap.WriteString(`],"asks":[`)
	for i := range 20 {
		if i > 0 {
			snap.WriteByte(',')
		}
		fmt.Fprintf(&snap, `["new",%d,%d]`, 60001+i, 10*(i+1))
	}
	snap.WriteString(`]}}}`)
	frame(snap.String())
	change := int64(1)
	for i := 1; i < n; i++ {
		ms := t / 1_000_000
		switch k := i % 10; {
		case k < 7:
			change++
			lvl := i % 20
			frame(fmt.Sprintf(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"change","timestamp":%d,"instrument_name":"BTC-PERPETUAL","change_id":%d,"prev_change_id":%d,"bids":[["change",%d.5,%d]],"asks":[["change",%d,%d]]}}}`,
				ms, change, change-1, 59999-lvl, 10*(1+i%7), 60001+lvl, 10*(1+i%5)))
		case k < 9:
			frame(fmt.Sprintf(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"timestamp":%d,"state":"open","instrument_name":"BTC-PERPETUAL","index_price":60000.12,"mark_price":60000.5,"last_price":60000.5,"best_bid_price":59999.5,"best_bid_amount":10,"best_ask_price":60001,"best_ask_amount":10,"open_interest":1000,"funding_8h":0.0001,"current_funding":0,"min_price":59000,"max_price":61000,"settlement_price":60000,"interest_value":0,"estimated_delivery_price":60000.12,"stats":{"high":61000,"low":59000,"price_change":0.1,"volume":10,"volume_usd":600000}}}}`, ms))
		default:
			dir := "buy"
			if i%20 >= 10 {
				dir = "sell"
			}
			frame(fmt.Sprintf(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.100ms","data":[{"trade_seq":%d,"trade_id":"%d","timestamp":%d,"tick_direction":0,"price":60001,"mark_price":60000.5,"instrument_name":"BTC-PERPETUAL","index_price":60000.12,"direction":"%s","amount":10}]}}`, i, i, ms, dir))
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkReplay is the replay's throughput into the example market maker
// (no fills): frames read, decompressed, parsed, translated, routed to the
// plugin's inbox and delivered to it in lock step, its intents carried out
// by the order manager against the in-process exchange. Run on one core:
//
//	go test -run '^$' -bench BenchmarkReplay -cpu 1 ./cmd/host
func BenchmarkReplay(b *testing.B) {
	const frames = 300_000
	file := syntheticRecording(b, frames)
	wasm := exampleWasm(b, "marketmaker")
	cache, err := compileCache()
	if err != nil {
		b.Fatal(err)
	}
	cfg := fileConfig{Plugins: []pluginConfig{{Path: "mm.wasm", Params: goldenParams["marketmaker"]}}}
	if err := cfg.validate(); err != nil {
		b.Fatal(err)
	}
	run := func() *replayResult {
		rd, err := record.Open(bytes.NewReader(file))
		if err != nil {
			b.Fatal(err)
		}
		res, err := replay(context.Background(), rd, cfg, replayOptions{cache: cache, plugins: map[string][]byte{"mm.wasm": wasm}})
		if err != nil {
			b.Fatal(err)
		}
		if res.Delivered != frames {
			b.Fatalf("%d of %d frames delivered", res.Delivered, frames)
		}
		return res
	}
	run() // compiles the plugin into the cache: the loop measures replays, not the compiler
	b.SetBytes(int64(len(file)))
	var total uint64
	for b.Loop() {
		total += run().Frames
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "frames/s")
}
