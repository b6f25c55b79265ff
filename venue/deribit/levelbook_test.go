package deribit

import "testing"

// A book is known from a snapshot on; a change that does not follow the
// one before makes it unknown until the next snapshot; Best is the top of
// a known book with both sides.
func TestLevelBook(t *testing.T) {
	var b LevelBook
	change := func(id, prev int64, bids, asks []Level) *Book {
		return &Book{Type: BookChange, ChangeID: id, PrevChangeID: prev, Bids: bids, Asks: asks}
	}
	if applied, gap := b.Apply(change(2, 1, []Level{{Price: 99, Amount: 1}}, nil)); applied || gap || b.Valid() {
		t.Fatalf("a change before a snapshot: applied %v gap %v", applied, gap)
	}
	b.Apply(&Book{Type: BookSnapshot, ChangeID: 10, Bids: []Level{{Price: 99, Amount: 1}, {Price: 98, Amount: 2}}, Asks: []Level{{Price: 101, Amount: 3}}})
	if bid, ask, ok := b.Best(); !ok || bid != 99 || ask != 101 {
		t.Fatalf("best %v %v %v", bid, ask, ok)
	}
	if applied, _ := b.Apply(change(11, 10, []Level{{Action: ActionDelete, Price: 99}}, []Level{{Action: ActionNew, Price: 100.5, Amount: 1}})); !applied {
		t.Fatal("a change that follows was not applied")
	}
	if bid, ask, _ := b.Best(); bid != 98 || ask != 100.5 {
		t.Fatalf("after the change: best %v %v", bid, ask)
	}
	if applied, gap := b.Apply(change(13, 12, nil, nil)); applied || !gap || b.Valid() {
		t.Fatalf("a gap: applied %v gap %v valid %v", applied, gap, b.Valid())
	}
	if _, _, ok := b.Best(); ok {
		t.Fatal("Best of an unknown book")
	}
	b.Apply(&Book{Type: BookGrouped, ChangeID: 20, Bids: []Level{{Price: 97, Amount: 1}}, Asks: []Level{{Price: 102, Amount: 1}}})
	if bid, ask, ok := b.Best(); !ok || bid != 97 || ask != 102 {
		t.Fatalf("after a grouped snapshot: best %v %v %v", bid, ask, ok)
	}
}
