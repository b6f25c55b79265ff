package sim

import "slices"

// liveOrder is an order the engine is working on: the Order the API shows,
// plus its integer form and its links into the book level queue, the
// owner's list of open orders and the engine's list of open orders. Only
// resting orders are linked; a taker that does not rest never is.
type liveOrder struct {
	ord    Order
	in     *instState
	acct   *ledger
	buy    bool
	market bool
	ticks  int64 // limit price (for market orders: the band limit)
	lots   int64 // total amount
	filled int64 // filled amount
	sumInv float64
	sumPx  float64

	level        *bookLevel
	prev, next   *liveOrder // level FIFO
	aprev, anext *liveOrder // owner's open orders, creation order
	gprev, gnext *liveOrder // all open orders, creation order
}

func (lo *liveOrder) remaining() int64 { return lo.lots - lo.filled }

// bookLevel is one price of one side: a FIFO of resting orders and their
// total remaining amount.
type bookLevel struct {
	ticks      int64
	lots       int64
	head, tail *liveOrder
}

func (l *bookLevel) push(lo *liveOrder) {
	lo.level = l
	lo.prev, lo.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = lo
	} else {
		l.head = lo
	}
	l.tail = lo
	l.lots += lo.remaining()
}

func (l *bookLevel) unlink(lo *liveOrder) {
	if lo.prev != nil {
		lo.prev.next = lo.next
	} else {
		l.head = lo.next
	}
	if lo.next != nil {
		lo.next.prev = lo.prev
	} else {
		l.tail = lo.prev
	}
	lo.prev, lo.next, lo.level = nil, nil, nil
	l.lots -= lo.remaining()
}

// bookSide is the bids or the asks of one instrument: levels sorted worst
// first, so that the best level is the last element and taking or adding
// at the top of the book moves nothing.
type bookSide struct {
	buy    bool
	levels []*bookLevel
}

// better reports whether price a is more aggressive than b on this side.
func (s *bookSide) better(a, b int64) bool {
	if s.buy {
		return a > b
	}
	return a < b
}

func (s *bookSide) best() *bookLevel {
	if n := len(s.levels); n > 0 {
		return s.levels[n-1]
	}
	return nil
}

// search returns the index of the first level that is not worse than ticks,
// and whether that level is at ticks.
func (s *bookSide) search(ticks int64) (int, bool) {
	lo, hi := 0, len(s.levels)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s.better(ticks, s.levels[mid].ticks) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo < len(s.levels) && s.levels[lo].ticks == ticks
}

func (s *bookSide) find(ticks int64) *bookLevel {
	if i, ok := s.search(ticks); ok {
		return s.levels[i]
	}
	return nil
}

// lotsAt is the total amount resting at ticks.
func (s *bookSide) lotsAt(ticks int64) int64 {
	if l := s.find(ticks); l != nil {
		return l.lots
	}
	return 0
}

// levelFor returns the level at ticks, creating it (from free) if needed.
func (s *bookSide) levelFor(ticks int64, free *[]*bookLevel) *bookLevel {
	i, ok := s.search(ticks)
	if ok {
		return s.levels[i]
	}
	var l *bookLevel
	if n := len(*free); n > 0 {
		l = (*free)[n-1]
		*free = (*free)[:n-1]
	} else {
		l = new(bookLevel)
	}
	*l = bookLevel{ticks: ticks}
	s.levels = slices.Insert(s.levels, i, l)
	return l
}

// drop removes an empty level and returns it to free.
func (s *bookSide) drop(l *bookLevel, free *[]*bookLevel) {
	if n := len(s.levels); n > 0 && s.levels[n-1] == l {
		s.levels[n-1] = nil
		s.levels = s.levels[:n-1]
	} else if i, ok := s.search(l.ticks); ok {
		s.levels = slices.Delete(s.levels, i, i+1)
	}
	*free = append(*free, l)
}

// levelTouch records the amount a level had before the current engine
// operation changed it, so the operation can report one BookChange.
type levelTouch struct {
	in      *instState
	buy     bool
	ticks   int64
	oldLots int64
	n       int // order of recording, to keep the first record of a level
}

// compareTouch orders touches by instrument, side (bids first), price best
// first, then recording order.
func compareTouch(a, b levelTouch) int {
	switch {
	case a.in.idx != b.in.idx:
		return a.in.idx - b.in.idx
	case a.buy != b.buy:
		if a.buy {
			return -1
		}
		return 1
	case a.ticks != b.ticks:
		// best first: descending for bids, ascending for asks
		if (a.ticks > b.ticks) == a.buy {
			return -1
		}
		return 1
	}
	return a.n - b.n
}
