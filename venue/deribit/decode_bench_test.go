package deribit

import (
	"encoding/json"
	"testing"
)

// BenchmarkDecodeBookChange10 decodes a 10-level book change (target:
// ≤ 1.5 µs and ≤ 2 allocations per frame).
func BenchmarkDecodeBookChange10(b *testing.B) {
	in := book10()
	var bk Book
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeBook(in, &bk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBookChange10JSON is the encoding/json baseline (~8 µs a frame when the scanner was chosen).
func BenchmarkDecodeBookChange10JSON(b *testing.B) {
	in := book10()
	var v struct {
		Type           string          `json:"type"`
		Timestamp      int64           `json:"timestamp"`
		PrevChangeID   int64           `json:"prev_change_id"`
		InstrumentName string          `json:"instrument_name"`
		ChangeID       int64           `json:"change_id"`
		Bids           [][]interface{} `json:"bids"`
		Asks           [][]interface{} `json:"asks"`
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := json.Unmarshal(in, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeOrder decodes a user.orders raw order update.
func BenchmarkDecodeOrder(b *testing.B) {
	var o Order
	b.SetBytes(int64(len(orderRaw)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeOrder(orderRaw, &o); err != nil {
			b.Fatal(err)
		}
	}
}
