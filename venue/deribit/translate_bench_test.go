package deribit

import (
	"testing"
)

// The translator's hot path: a notification's channel and data (as
// conn.ParseNotification returns them) to abi records in a reused buffer.

// BenchmarkTranslateBookChange10 translates a 10-level book change (the
// frame the scanner was chosen on) into a book_change record.
func BenchmarkTranslateBookChange10(b *testing.B) {
	tr := ownedTranslator(testTable(b))
	ch := []byte("book.BTC-PERPETUAL.100ms")
	dst := make([]byte, 0, 4096)
	if _, _, err := tr.AppendNotification(dst, ch, bookMsg("snapshot", 297217, -1, 5, 5), 0); err != nil {
		b.Fatal(err)
	}
	in := bookMsg("change", 297217, 297217, 5, 5) // chains to itself
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tr.AppendNotification(dst[:0], ch, in, recv); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTranslateTicker translates a full perpetual ticker (with the
// stats object to skip) into a ticker record.
func BenchmarkTranslateTicker(b *testing.B) {
	tr := ownedTranslator(testTable(b))
	ch, in := []byte("ticker.BTC-PERPETUAL.100ms"), []byte(tickerPerp)
	dst := make([]byte, 0, 4096)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tr.AppendNotification(dst[:0], ch, in, recv); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTranslateOrder translates a user.orders raw order update of
// ours (label decoded to instance and cid) into an order_update record.
func BenchmarkTranslateOrder(b *testing.B) {
	tr := ownedTranslator(testTable(b))
	ch, in := []byte("user.orders.BTC-PERPETUAL.raw"), []byte(orderOurs)
	dst := make([]byte, 0, 4096)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, cls, err := tr.AppendNotification(dst[:0], ch, in, recv); err != nil || cls.Kind != ClassOrder {
			b.Fatal(err)
		}
	}
}

// BenchmarkTranslateTrades translates a two-trade public trades array.
func BenchmarkTranslateTrades(b *testing.B) {
	tr := ownedTranslator(testTable(b))
	ch, in := []byte("trades.BTC-PERPETUAL.raw"), []byte(tradesBTC)
	dst := make([]byte, 0, 4096)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tr.AppendNotification(dst[:0], ch, in, recv); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFixedFromText converts a typical price.
func BenchmarkFixedFromText(b *testing.B) {
	in := []byte("65000.5")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FixedFromTextRound(in); err != nil {
			b.Fatal(err)
		}
	}
}
