package abi

import "testing"

func book10() *Book {
	b := &Book{Seq: 1, Instrument: 0, ChangeID: 297218, PrevChangeID: 297217, Time: t0}
	for i := range 5 {
		b.Bids = append(b.Bids, Level{fx8("65000.5") - Fixed(i)*fx8("0.5"), Fixed(1000+10*i) * FixedScale})
		b.Asks = append(b.Asks, Level{fx8("65001") + Fixed(i)*fx8("0.5"), Fixed(200+10*i) * FixedScale})
	}
	return b
}

func BenchmarkAppendBookChange10(b *testing.B) {
	bk := book10()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = AppendBookChange(buf[:0], bk)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeBookChange10(b *testing.B) {
	rec, _ := AppendBookChange(nil, book10())
	var bk Book
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if err := DecodeBook(rec, &bk); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPlace(b *testing.B) {
	p := &Place{Seq: 1, CID: 1001, Side: Buy, Type: Limit, TIF: GoodTilCancelled, Flags: PostOnly,
		Price: fx8("65000"), Amount: fx8("100"), Label: NewStr32("mm-bid-1")}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendPlace(buf[:0], p)
	}
}

func BenchmarkDecodeOrderUpdate(b *testing.B) {
	rec := AppendOrderUpdate(nil, &OrderUpdate{Seq: 12, CID: 1001, State: StateOpen, Side: Buy, Type: Limit,
		TIF: GoodTilCancelled, Price: fx8("65000"), Amount: fx8("100"), FilledAmount: fx8("30"),
		AvgPrice: fx8("65000"), ExchangeOrderID: NewStr32("USDC-104819327443")})
	var o OrderUpdate
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if err := DecodeOrderUpdate(rec, &o); err != nil {
			b.Fatal(err)
		}
	}
}

// batch64 is 64 events of mixed kinds, as one on_events call might carry.
func batch64() []byte {
	var buf []byte
	bk := book10()
	for i := range 64 {
		switch i % 4 {
		case 0:
			buf, _ = AppendBookChange(buf, bk)
		case 1:
			buf = AppendTicker(buf, &Ticker{Seq: uint32(i), BestBidPrice: fx8("65000.5")})
		case 2:
			buf = AppendTrade(buf, &Trade{Seq: uint32(i), Side: Buy, Price: fx8("65001"), Amount: fx8("10")})
		case 3:
			buf = AppendOrderUpdate(buf, &OrderUpdate{Seq: uint32(i), CID: uint64(i), State: StateOpen})
		}
	}
	return buf
}

// BenchmarkRecordsIterate64 frames a 64-record batch with the Records
// iterator (no decoding).
func BenchmarkRecordsIterate64(b *testing.B) {
	buf := batch64()
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		n := 0
		for rec, err := range Records(buf) {
			if err != nil {
				b.Fatal(err)
			}
			n += int(rec.Size)
		}
		if n != len(buf) {
			b.Fatal(n)
		}
	}
}

// BenchmarkDecodeBatch64 frames and decodes every record of a 64-record
// batch into reused values, as a plugin's on_events does.
func BenchmarkDecodeBatch64(b *testing.B) {
	buf := batch64()
	var (
		bk Book
		tk Ticker
		tr Trade
		ou OrderUpdate
	)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		r := NewReader(buf)
		for r.Next() {
			rec := r.Record()
			var err error
			switch rec.Kind {
			case KindBookChange:
				err = DecodeBook(rec.Bytes, &bk)
			case KindTicker:
				err = DecodeTicker(rec.Bytes, &tk)
			case KindTrade:
				err = DecodeTrade(rec.Bytes, &tr)
			case KindOrderUpdate:
				err = DecodeOrderUpdate(rec.Bytes, &ou)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if r.Err() != nil {
			b.Fatal(r.Err())
		}
	}
}

func BenchmarkEventJSON(b *testing.B) {
	rec := AppendOrderUpdate(nil, &OrderUpdate{CID: 1, State: StateOpen, Price: fx8("65000")})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EventJSON(rec); err != nil {
			b.Fatal(err)
		}
	}
}
