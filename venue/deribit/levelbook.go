package deribit

// LevelBook is one instrument's book as its book messages leave it, level
// by level: a snapshot (or a grouped book, a snapshot every time) replaces
// it; a change applies to it only if it follows the message before it
// (prev_change_id), else the book is unknown until the next snapshot.
// Prices are map keys as decoded (the same text gives the same key). The
// zero value is an empty, unknown book.
type LevelBook struct {
	side       [2]map[float64]float64 // bids, asks
	changeID   int64
	timestamp  int64 // ms, of the last message applied
	valid      bool  // a snapshot was applied and no change was missed since
	instrument string
}

// Apply folds a decoded book message into b. applied is false for a
// change before any snapshot and for one that does not follow the message
// before it; gap is true for the latter (the book waits for a snapshot).
func (b *LevelBook) Apply(m *Book) (applied, gap bool) {
	if b.side[0] == nil {
		b.side = [2]map[float64]float64{{}, {}}
	}
	switch {
	case m.Type != BookChange:
		clear(b.side[0])
		clear(b.side[1])
		b.valid = true
	case !b.valid:
		return false, false
	case m.PrevChangeID != b.changeID:
		b.valid = false
		return false, true
	}
	b.changeID, b.timestamp, b.instrument = m.ChangeID, m.Timestamp, m.Instrument
	for s, levels := range [2][]Level{m.Bids, m.Asks} {
		for _, l := range levels {
			if l.Action == ActionDelete || l.Amount == 0 {
				delete(b.side[s], l.Price)
			} else {
				b.side[s][l.Price] = l.Amount
			}
		}
	}
	return true, false
}

// Valid reports whether the book is known: a snapshot was applied and no
// change was missed since.
func (b *LevelBook) Valid() bool { return b.valid }

// Best returns the best bid and ask prices; ok is false unless the book is
// known and both sides have a level.
func (b *LevelBook) Best() (bid, ask float64, ok bool) {
	if !b.valid {
		return 0, 0, false
	}
	for p := range b.side[0] {
		bid = max(bid, p)
	}
	for p := range b.side[1] {
		if ask == 0 || p < ask {
			ask = p
		}
	}
	return bid, ask, bid > 0 && ask > 0
}
