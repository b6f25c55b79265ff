package strategy

import "github.com/stratbox/stratbox/abi"

// OrderBook is one instrument's order book, built from the book records a
// strategy receives in OnBook:
//
//	func (s *MM) OnBook(ctx *strategy.Context, b *abi.Book, snapshot bool) {
//		if b.Instrument != s.inst || !s.book.Apply(b, snapshot) {
//			return // another instrument, or a gap: wait for the next snapshot
//		}
//		bid, _ := s.book.BestBid()
//		...
//
// A snapshot replaces the book; a change sets levels (amount 0 deletes
// one). A change whose prev_change_id is not the change id of the record
// applied before it is a gap (abi/README.md section 14): the book is
// cleared and invalid until the next snapshot. Records split with the
// book_continuation feature are handled.
//
// The zero OrderBook is empty and invalid. It allocates only when it grows
// beyond the most levels it has held. It is not safe for concurrent use.
type OrderBook struct {
	bids     []abi.Level // best (highest) first
	asks     []abi.Level // best (lowest) first
	changeID uint64
	valid    bool
}

// Apply applies a book record (snapshot: a book_snapshot record). It
// returns false when the record does not follow the book, which is then
// invalid until the next snapshot.
func (b *OrderBook) Apply(rec *abi.Book, snapshot bool) bool {
	cont := rec.Flags&abi.BookContinuation != 0
	var follows bool
	switch {
	case snapshot && !cont:
		b.bids, b.asks = b.bids[:0], b.asks[:0]
		b.valid, follows = true, true
	case cont: // more levels of the message applied last
		follows = b.valid && rec.ChangeID == b.changeID
	default:
		follows = b.valid && rec.PrevChangeID == b.changeID
	}
	if !follows {
		b.Reset()
		return false
	}
	for _, l := range rec.Bids {
		b.bids = setLevel(b.bids, l, true)
	}
	for _, l := range rec.Asks {
		b.asks = setLevel(b.asks, l, false)
	}
	b.changeID = rec.ChangeID
	return true
}

// setLevel sets l in levels, sorted best first (descending prices for bids).
func setLevel(levels []abi.Level, l abi.Level, bids bool) []abi.Level {
	lo, hi := 0, len(levels) // first index whose price is not better than l's
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if p := levels[m].Price; (bids && p > l.Price) || (!bids && p < l.Price) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	i := lo
	switch {
	case i < len(levels) && levels[i].Price == l.Price && l.Amount == 0:
		return append(levels[:i], levels[i+1:]...)
	case i < len(levels) && levels[i].Price == l.Price:
		levels[i].Amount = l.Amount
	case l.Amount != 0:
		levels = append(levels, abi.Level{})
		copy(levels[i+1:], levels[i:])
		levels[i] = l
	}
	return levels
}

// Reset empties the book and makes it invalid until the next snapshot.
func (b *OrderBook) Reset() {
	b.bids, b.asks = b.bids[:0], b.asks[:0]
	b.changeID, b.valid = 0, false
}

// Valid reports whether the book holds a snapshot and every change since.
func (b *OrderBook) Valid() bool { return b.valid }

// ChangeID returns the change id of the last record applied.
func (b *OrderBook) ChangeID() uint64 { return b.changeID }

// Bids returns the bid levels, best (highest price) first. The slice is
// the book's: read it before the next Apply.
func (b *OrderBook) Bids() []abi.Level { return b.bids }

// Asks returns the ask levels, best (lowest price) first.
func (b *OrderBook) Asks() []abi.Level { return b.asks }

// BestBid returns the best bid, and false when there is none.
func (b *OrderBook) BestBid() (abi.Level, bool) {
	if len(b.bids) == 0 {
		return abi.Level{}, false
	}
	return b.bids[0], true
}

// BestAsk returns the best ask, and false when there is none.
func (b *OrderBook) BestAsk() (abi.Level, bool) {
	if len(b.asks) == 0 {
		return abi.Level{}, false
	}
	return b.asks[0], true
}

// Mid returns the middle of the best bid and ask, and false unless the
// book is valid with both sides.
func (b *OrderBook) Mid() (abi.Fixed, bool) {
	bid, ok1 := b.BestBid()
	ask, ok2 := b.BestAsk()
	if !b.valid || !ok1 || !ok2 {
		return 0, false
	}
	return Mid(bid.Price, ask.Price), true
}
