package strategy_test

import (
	"slices"
	"testing"

	"github.com/stratbox/stratbox/abi"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
)

func TestOrderBook(t *testing.T) {
	type step struct {
		name       string
		rec        abi.Book
		snapshot   bool
		ok         bool
		bids, asks []abi.Level
	}
	var b strategy.OrderBook
	if b.Valid() {
		t.Fatal("the zero book is valid")
	}
	for _, s := range []step{
		{"change before a snapshot", abi.Book{ChangeID: 5, PrevChangeID: 4, Bids: []abi.Level{L(1, 1)}}, false, false, nil, nil},
		{"snapshot, best first", abi.Book{ChangeID: 10, Bids: []abi.Level{L(100, 1), L(99.5, 2)}, Asks: []abi.Level{L(101, 3)}},
			true, true, []abi.Level{L(100, 1), L(99.5, 2)}, []abi.Level{L(101, 3)}},
		{"change: insert, update, delete", abi.Book{ChangeID: 11, PrevChangeID: 10,
			Bids: []abi.Level{L(100.5, 4), L(99.5, 0), L(100, 7)}, Asks: []abi.Level{L(102, 1), L(100.5, 0), L(101.5, 2)}},
			false, true, []abi.Level{L(100.5, 4), L(100, 7)}, []abi.Level{L(101, 3), L(101.5, 2), L(102, 1)}},
		{"snapshot split, first part", abi.Book{ChangeID: 20, Flags: abi.BookContinues, Bids: []abi.Level{L(90, 1)}},
			true, true, []abi.Level{L(90, 1)}, nil},
		{"snapshot split, second part adds", abi.Book{ChangeID: 20, Flags: abi.BookContinuation, Asks: []abi.Level{L(91, 1)}},
			true, true, []abi.Level{L(90, 1)}, []abi.Level{L(91, 1)}},
		{"change split, continuation of another message", abi.Book{ChangeID: 22, Flags: abi.BookContinuation, Asks: []abi.Level{L(92, 1)}},
			false, false, nil, nil},
		{"snapshot again", abi.Book{ChangeID: 30, Bids: []abi.Level{L(10, 1)}, Asks: []abi.Level{L(11, 1)}},
			true, true, []abi.Level{L(10, 1)}, []abi.Level{L(11, 1)}},
		{"gap", abi.Book{ChangeID: 32, PrevChangeID: 31, Bids: []abi.Level{L(10, 2)}}, false, false, nil, nil},
		{"after a gap, changes wait for a snapshot", abi.Book{ChangeID: 33, PrevChangeID: 32}, false, false, nil, nil},
	} {
		ok := b.Apply(&s.rec, s.snapshot)
		if ok != s.ok || b.Valid() != s.ok || !slices.Equal(b.Bids(), s.bids) || !slices.Equal(b.Asks(), s.asks) {
			t.Errorf("%s: Apply = %v, valid %v, bids %v, asks %v; want %v, %v, %v", s.name, ok, b.Valid(),
				b.Bids(), b.Asks(), s.ok, s.bids, s.asks)
		}
	}
	b.Apply(&abi.Book{ChangeID: 40, Bids: []abi.Level{L(10, 1)}, Asks: []abi.Level{L(11, 1)}}, true)
	bid, _ := b.BestBid()
	ask, _ := b.BestAsk()
	if mid, ok := b.Mid(); !ok || mid != F(10.5) || bid != L(10, 1) || ask != L(11, 1) || b.ChangeID() != 40 {
		t.Errorf("mid %v %v, bid %v, ask %v", mid, ok, bid, ask)
	}
	b.Apply(&abi.Book{ChangeID: 41, PrevChangeID: 40, Asks: []abi.Level{L(11, 0)}}, false)
	if _, ok := b.Mid(); ok {
		t.Error("a mid without asks")
	}
}
