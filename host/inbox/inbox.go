package inbox

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"

	"github.com/stratbox/stratbox/abi"
)

// DefaultLimit is the bound, in bytes, on the conflatable market data
// pending in an Inbox when New is given none.
const DefaultLimit = 1 << 20

// Stats are an inbox's counters. Every accepted record is counted once
// in Pushed and ends up in exactly one of Taken, Conflated, Merged, Dropped
// or Pending, so Pushed == Taken + Conflated + Merged + Dropped + Pending.
type Stats struct {
	Pushed    uint64 // records accepted by push
	Taken     uint64 // records handed to the plugin by take
	Conflated uint64 // tickers and positions replaced by a newer one, book records superseded by a snapshot
	Merged    uint64 // book changes merged into the pending book record they follow
	Dropped   uint64 // trades dropped over the limit, and records too large for take's max
	Refused   uint64 // records push refused: they do not frame or their kind's layout rejects them

	Pending         int // records pending
	PendingBytes    int // bytes pending
	MaxPendingBytes int // the most bytes ever pending at once
}

// Inbox is one plugin instance's queue of event records, between the router
// (which pushes, on an exchange connection's read goroutine) and the
// plugin's goroutine (which takes batches). It implements the delivery
// guarantees of abi/README.md §14:
//
//   - order_update, fill, intent_rejected, pool_state, timer and kinds it
//     does not know are never dropped, merged or reordered, and do not count
//     against the limit;
//   - a ticker replaces the pending ticker of the same instrument and
//     top_only flag in place, a position the pending position of the same
//     instrument and flags;
//   - a book snapshot supersedes the pending book records of its instrument,
//     and a book change that follows the last pending book record of its
//     instrument (prev_change_id == its change_id) is merged into it, so that
//     each delivered change still follows the book record delivered before it;
//   - trades are dropped, oldest first, while the conflatable records pending
//     (tickers, positions, books, trades) exceed the limit.
//
// Records live in per-record buffers drawn from free lists by power-of-two
// size class, linked into the queue by slot index; so a push and a take do
// O(record) work under the mutex and allocate nothing once the inbox has
// held its working set. Safe for concurrent use.
type Inbox struct {
	mu    sync.Mutex    // guards everything below; held for O(record) work
	limit int           // bound on conf, in bytes
	sig   chan struct{} // capacity 1: records are pending

	slots     []slot  // every slot ever used; free ones are in freeSlots
	freeSlots []int32 // indices of free slots, reused last in first out
	queue     list    // every pending record, oldest first (prev/next)
	trades    list    // the pending trades, oldest first (lprev/lnext)

	tickerIdx map[uint64]int32 // ticker key (latestKey) → index into latest (never deleted)
	posIdx    map[uint64]int32 // position key (latestKey) → index into latest (never deleted)
	latest    []int32          // the pending slot of each key, or none
	bookIdx   map[uint32]int32 // instrument → index into books (never deleted)
	books     []list           // the pending book records of each instrument (lprev/lnext)

	bufs      [bufClasses][][]byte // free record buffers by size class
	freeBytes int                  // capacity held in bufs
	freeLimit int                  // the most capacity bufs keeps

	count    int // records pending
	bytes    int // bytes pending
	conf     int // bytes of conflatable records pending (tickers, positions, books, trades)
	maxBytes int // high-water mark of bytes

	pushed, taken, conflated, merged, dropped, refused uint64 // the counters of Stats
	added                                              uint64 // slots ever added (their seq)

	// Scratch for merging book records, reused so that a merge does not
	// allocate once the slices have grown.
	mergeA, mergeB, mergeOut abi.Book
	mergeBids, mergeAsks     []abi.Level
}

// slot is one pending record (or, when free, an empty slot).
type slot struct {
	buf          []byte // the record, in a buffer from the inbox's free lists
	prev, next   int32  // neighbours in the queue
	lprev, lnext int32  // neighbours in the trade list or the instrument's book list
	key          int32  // index into Inbox.latest (classLatest) or Inbox.books (classBook)
	class        uint8  // how the record is conflated: classOrdered, classLatest, classBook, classTrade
	seq          uint64 // the order it was added in (Mark, Drop)
}

// list is a doubly linked list of slots, by index.
type list struct{ head, tail int32 }

// latestKey returns the key of a ticker (flags: its top_only flag) or a
// position (flags: all of them) of an instrument, of which only the latest
// pending is kept.
func latestKey(inst, flags uint32) uint64 { return uint64(inst) | uint64(flags)<<32 }

// Slot classes: how a record is conflated.
const (
	classOrdered uint8 = iota // never dropped or merged; not counted against the limit
	classLatest               // ticker or position: the latest of its key wins
	classBook                 // book snapshot or change: superseded or merged per instrument
	classTrade                // trade: dropped oldest first over the limit
)

// none is the nil slot index.
const none int32 = -1

// Record buffers come in bufClasses power-of-two sizes, from
// 1<<minBufShift bytes up to 64 KiB (abi.MaxRecordSize fits).
const (
	minBufShift = 6
	bufClasses  = 17 - minBufShift
)

// unmergeable are the book flags that keep a record out of merging.
const unmergeable = abi.BookContinues | abi.BookContinuation

// New returns an Inbox whose conflatable market data is bounded by
// limit bytes (DefaultLimit if limit <= 0).
func New(limit int) *Inbox {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return &Inbox{
		limit:     limit,
		sig:       make(chan struct{}, 1),
		queue:     list{none, none},
		trades:    list{none, none},
		tickerIdx: make(map[uint64]int32),
		posIdx:    make(map[uint64]int32),
		bookIdx:   make(map[uint32]int32),
		freeLimit: max(4*limit, DefaultLimit),
	}
}

// ready is signalled whenever records are pending after a push (and after
// a take that left some). It has a capacity of 1 and is never closed.
func (q *Inbox) Ready() <-chan struct{} { return q.sig }

// push appends one record (a book message split with the continues and
// continuation flags is pushed one record at a time, in order); rec is
// copied and must be exactly one record. A record that does not frame
// (abi.NextRecord), has bytes after it, is larger than abi.MaxRecordSize, is
// of kind 0, or is of a known kind but shorter than its layout (or a book
// whose level counts disagree with its size) is refused: push returns false
// and counts it. Conflation may drop or replace pending market data, never
// an order event. push does O(len(rec)) work (a book merge: O(levels of the
// two records)) under a mutex that take holds only while copying out.
func (q *Inbox) Push(rec []byte) bool {
	if !acceptable(rec) {
		q.mu.Lock()
		q.refused++
		q.mu.Unlock()
		return false
	}
	q.mu.Lock()
	q.pushed++
	switch k := abi.ReadHeader(rec).Kind; k {
	case abi.KindTicker:
		q.pushLatest(q.tickerIdx, latestKey(u32(rec, abi.OffInstrument), u32(rec, abi.OffFlags)&uint32(abi.TickerTopOnly)), rec, false)
	case abi.KindPosition:
		q.pushLatest(q.posIdx, latestKey(u32(rec, abi.OffInstrument), u32(rec, abi.OffFlags)), rec, true)
	case abi.KindBookSnapshot, abi.KindBookChange:
		q.pushBook(k, rec)
	case abi.KindTrade:
		s := q.add(rec, classTrade)
		q.linkSub(&q.trades, s)
	default:
		q.add(rec, classOrdered)
	}
	for q.conf > q.limit && q.trades.head != none {
		q.remove(q.trades.head)
		q.dropped++
	}
	q.maxBytes = max(q.maxBytes, q.bytes)
	pending := q.count > 0
	q.mu.Unlock()
	if pending {
		q.signal()
	}
	return true
}

// pushBatch pushes every record of buf, a buffer of framed records, in
// order. At the first record that does not frame it counts one refusal and
// stops, since nothing after it can be framed.
func (q *Inbox) PushBatch(buf []byte) {
	r := abi.NewReader(buf)
	for r.Next() {
		q.Push(r.Record().Bytes)
	}
	if r.Err() != nil {
		q.mu.Lock()
		q.refused++
		q.mu.Unlock()
	}
}

// take appends to dst whole records, oldest first, up to max bytes in
// total, removes them and returns dst. It returns at least one record if
// any is pending and fits in max; a pending record larger than max is
// dropped and counted (the plugin's inbox cannot hold it). The mutex is held
// only while copying out.
func (q *Inbox) Take(dst []byte, max int) []byte { return q.TakeRoom(dst, max, max) }

// takeRoom is take with room bytes at most taken (room ≤ max): a record
// larger than max is dropped, as in take, but one that only does not fit in
// room waits for the next take.
func (q *Inbox) TakeRoom(dst []byte, max, room int) []byte {
	if max <= 0 {
		return dst
	}
	q.mu.Lock()
	for s := q.queue.head; s != none; s = q.queue.head {
		n := len(q.slots[s].buf)
		if n > max {
			q.remove(s)
			q.dropped++
			continue
		}
		if n > room {
			break
		}
		dst = append(dst, q.slots[s].buf...)
		room -= n
		q.remove(s)
		q.taken++
	}
	pending := q.count > 0
	q.mu.Unlock()
	if pending {
		q.signal()
	}
	return dst
}

// Mark returns a mark of what is pending now, for Drop: a record pushed
// later is after it.
func (q *Inbox) Mark() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.added
}

// Drop removes the pending records that were pushed before mark (Mark;
// ^uint64(0): every pending record) and that drop selects, and returns how
// many it removed; they count as conflated (a newer state superseded them:
// a hot swap's start-up blob, for the order events of the orders it hands
// over). drop must not call the inbox.
func (q *Inbox) Drop(mark uint64, drop func(rec []byte) bool) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for s := q.queue.head; s != none; {
		next := q.slots[s].next
		if q.slots[s].seq <= mark && drop(q.slots[s].buf) {
			q.remove(s)
			q.conflated++
			n++
		}
		s = next
	}
	return n
}

// len returns the number of bytes pending.
func (q *Inbox) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// stats returns the inbox's counters. Safe from any goroutine.
func (q *Inbox) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Stats{
		Pushed: q.pushed, Taken: q.taken, Conflated: q.conflated, Merged: q.merged,
		Dropped: q.dropped, Refused: q.refused,
		Pending: q.count, PendingBytes: q.bytes, MaxPendingBytes: q.maxBytes,
	}
}

// signal wakes the taker without blocking.
func (q *Inbox) signal() {
	select {
	case q.sig <- struct{}{}:
	default:
	}
}

// acceptable reports whether push takes rec: exactly one framed record, of
// a kind other than 0, not shorter than its kind's layout, and for a book,
// with level counts that match its size.
func acceptable(rec []byte) bool {
	h, r, rest, err := abi.NextRecord(rec)
	if err != nil || len(rest) != 0 || h.Kind == 0 || len(r) < minSize(h.Kind) {
		return false
	}
	if h.Kind == abi.KindBookSnapshot || h.Kind == abi.KindBookChange {
		_, _, _, err := abi.BookLevels(r)
		return err == nil
	}
	return true
}

// minSize returns the smallest valid size of a record of kind k, or 0
// for a kind this version of the ABI does not define; like k.MinSize, but
// without a map lookup for the event kinds.
func minSize(k abi.Kind) int {
	switch k {
	case abi.KindBookSnapshot, abi.KindBookChange:
		return abi.SizeBookFixed
	case abi.KindTicker:
		return abi.SizeTicker
	case abi.KindTrade:
		return abi.SizeTrade
	case abi.KindOrderUpdate:
		return abi.SizeOrderUpdate
	case abi.KindFill:
		return abi.SizeFill
	case abi.KindPosition:
		return abi.SizePosition
	case abi.KindPoolState:
		return abi.SizePoolState
	case abi.KindTimer:
		return abi.SizeTimer
	case abi.KindIntentRejected:
		return abi.SizeIntentRejected
	}
	return k.MinSize()
}

// pushLatest pushes a ticker or position: it replaces the pending record of
// the same key, in place (tickers) or by removing it and appending the new
// one (positions, toEnd: a position counts the fills before it, so it must
// not overtake a fill pushed after the record it replaces), or is appended.
func (q *Inbox) pushLatest(idx map[uint64]int32, k uint64, rec []byte, toEnd bool) {
	ki, ok := idx[k]
	if !ok {
		ki = int32(len(q.latest))
		q.latest = append(q.latest, none)
		idx[k] = ki
	}
	if s := q.latest[ki]; s != none {
		q.conflated++
		if !toEnd {
			copy(q.resize(s, len(rec)), rec)
			return
		}
		q.remove(s)
	}
	s := q.add(rec, classLatest)
	q.slots[s].key = ki
	q.latest[ki] = s
}

// pushBook pushes a book snapshot or change. A snapshot that starts a
// message (no continuation flag) supersedes the pending book records of its
// instrument. A change without continuation flags whose prev_change_id is
// the change_id of the last pending book record of its instrument, itself
// without continuation flags, is merged into it. Anything else is appended.
func (q *Inbox) pushBook(k abi.Kind, rec []byte) {
	inst := u32(rec, abi.OffInstrument)
	bi, ok := q.bookIdx[inst]
	if !ok {
		bi = int32(len(q.books))
		q.books = append(q.books, list{none, none})
		q.bookIdx[inst] = bi
	}
	flags := abi.BookFlags(binary.LittleEndian.Uint16(rec[abi.OffBookFlags:]))
	switch {
	case k == abi.KindBookSnapshot && flags&abi.BookContinuation == 0:
		for s := q.books[bi].head; s != none; s = q.books[bi].head {
			q.remove(s)
			q.conflated++
		}
	case k == abi.KindBookChange && flags&unmergeable == 0:
		if t := q.books[bi].tail; t != none {
			tb := q.slots[t].buf
			tflags := abi.BookFlags(binary.LittleEndian.Uint16(tb[abi.OffBookFlags:]))
			if tflags&unmergeable == 0 && u64(tb, abi.OffChangeID) == u64(rec, abi.OffPrevChangeID) && q.mergeBook(t, rec) {
				q.merged++
				return
			}
		}
	}
	s := q.add(rec, classBook)
	q.slots[s].key = bi
	q.linkSub(&q.books[bi], s)
}

// mergeBook merges the change rec into the pending book record of slot t,
// which it follows: the levels of rec win per price and side; into a
// snapshot an amount 0 deletes the level, into a change it is kept (it
// deletes in the plugin's book); the result keeps t's kind, seq and
// prev_change_id, takes rec's change_id and ts, adds rec's truncated flag,
// and has its bids sorted best (highest) first and its asks lowest first. It
// reports false, changing nothing, when the result would not fit in one
// record.
func (q *Inbox) mergeBook(t int32, rec []byte) bool {
	a, b, out := &q.mergeA, &q.mergeB, &q.mergeOut
	if abi.DecodeBook(q.slots[t].buf, a) != nil || abi.DecodeBook(rec, b) != nil {
		return false // cannot happen: both were checked by acceptable
	}
	snapshot := abi.ReadHeader(q.slots[t].buf).Kind == abi.KindBookSnapshot
	q.mergeBids = mergeLevels(q.mergeBids[:0], sortLevels(a.Bids, true), sortLevels(b.Bids, true), true, snapshot)
	q.mergeAsks = mergeLevels(q.mergeAsks[:0], sortLevels(a.Asks, false), sortLevels(b.Asks, false), false, snapshot)
	n := len(q.mergeBids) + len(q.mergeAsks)
	if n > abi.MaxBookLevels {
		return false
	}
	*out = abi.Book{
		Seq: a.Seq, Instrument: a.Instrument, Flags: a.Flags | b.Flags&abi.BookTruncated,
		ChangeID: b.ChangeID, PrevChangeID: a.PrevChangeID, Time: b.Time,
		Bids: q.mergeBids, Asks: q.mergeAsks,
	}
	buf := q.resize(t, abi.SizeBookFixed+abi.SizeLevel*n)[:0]
	if snapshot {
		buf, _ = abi.AppendBookSnapshot(buf, out) // cannot fail: n <= MaxBookLevels
	} else {
		buf, _ = abi.AppendBookChange(buf, out)
	}
	q.slots[t].buf = buf
	return true
}

// sortLevels sorts the levels of one side best first (bids: highest price
// first) and keeps only the last level of each price, the one that wins
// when the record is applied in order. It works in place.
func sortLevels(ls []abi.Level, bids bool) []abi.Level {
	better := compareAsks
	if bids {
		better = compareBids
	}
	if !slices.IsSortedFunc(ls, better) {
		slices.SortStableFunc(ls, better)
	}
	out := ls[:0]
	for i, l := range ls {
		if i+1 < len(ls) && ls[i+1].Price == l.Price {
			continue
		}
		out = append(out, l)
	}
	return out
}

// compareBids orders bid levels best (highest price) first.
func compareBids(x, y abi.Level) int { return cmp.Compare(y.Price, x.Price) }

// compareAsks orders ask levels best (lowest price) first.
func compareAsks(x, y abi.Level) int { return cmp.Compare(x.Price, y.Price) }

// mergeLevels appends to dst the union of two sides sorted best first with
// one level per price, b's level winning at a price both have. Into a
// snapshot (dropZero) levels of amount 0 are left out.
func mergeLevels(dst, a, b []abi.Level, bids, dropZero bool) []abi.Level {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var l abi.Level
		switch {
		case j == len(b):
			l, i = a[i], i+1
		case i == len(a):
			l, j = b[j], j+1
		case a[i].Price == b[j].Price:
			l, i, j = b[j], i+1, j+1
		case (a[i].Price > b[j].Price) == bids:
			l, i = a[i], i+1
		default:
			l, j = b[j], j+1
		}
		if dropZero && l.Amount == 0 {
			continue
		}
		dst = append(dst, l)
	}
	return dst
}

// add copies rec into a new slot at the end of the queue and returns it.
func (q *Inbox) add(rec []byte, class uint8) int32 {
	var s int32
	if n := len(q.freeSlots); n > 0 {
		s = q.freeSlots[n-1]
		q.freeSlots = q.freeSlots[:n-1]
	} else {
		s = int32(len(q.slots))
		q.slots = append(q.slots, slot{})
	}
	buf := q.getBuf(len(rec))
	copy(buf, rec)
	q.added++
	q.slots[s] = slot{buf: buf, prev: q.queue.tail, next: none, lprev: none, lnext: none, key: none, class: class,
		seq: q.added}
	if q.queue.tail != none {
		q.slots[q.queue.tail].next = s
	} else {
		q.queue.head = s
	}
	q.queue.tail = s
	q.count++
	q.bytes += len(rec)
	if class != classOrdered {
		q.conf += len(rec)
	}
	return s
}

// linkSub appends slot s to l, a trade list or book list (lprev/lnext).
func (q *Inbox) linkSub(l *list, s int32) {
	q.slots[s].lprev = l.tail
	if l.tail != none {
		q.slots[l.tail].lnext = s
	} else {
		l.head = s
	}
	l.tail = s
}

// unlinkSub removes slot s from l.
func (q *Inbox) unlinkSub(l *list, s int32) {
	sl := &q.slots[s]
	if sl.lprev != none {
		q.slots[sl.lprev].lnext = sl.lnext
	} else {
		l.head = sl.lnext
	}
	if sl.lnext != none {
		q.slots[sl.lnext].lprev = sl.lprev
	} else {
		l.tail = sl.lprev
	}
}

// remove takes slot s out of the queue and its class's index, and frees it
// and its buffer.
func (q *Inbox) remove(s int32) {
	sl := &q.slots[s]
	if sl.prev != none {
		q.slots[sl.prev].next = sl.next
	} else {
		q.queue.head = sl.next
	}
	if sl.next != none {
		q.slots[sl.next].prev = sl.prev
	} else {
		q.queue.tail = sl.prev
	}
	switch sl.class {
	case classLatest:
		q.latest[sl.key] = none
	case classBook:
		q.unlinkSub(&q.books[sl.key], s)
	case classTrade:
		q.unlinkSub(&q.trades, s)
	}
	n := len(sl.buf)
	q.count--
	q.bytes -= n
	if sl.class != classOrdered {
		q.conf -= n
	}
	q.putBuf(sl.buf)
	*sl = slot{}
	q.freeSlots = append(q.freeSlots, s)
}

// resize gives slot s a buffer of n bytes (its old contents are lost when
// the buffer is replaced) and returns it, keeping the byte counts.
func (q *Inbox) resize(s int32, n int) []byte {
	sl := &q.slots[s]
	old := len(sl.buf)
	if cap(sl.buf) < n {
		q.putBuf(sl.buf)
		sl.buf = q.getBuf(n)
	} else {
		sl.buf = sl.buf[:n]
	}
	q.bytes += n - old
	if sl.class != classOrdered {
		q.conf += n - old
	}
	return sl.buf
}

// bufClass returns the size class of a buffer of n bytes (n <= 64 KiB).
func bufClass(n int) int {
	if n <= 1<<minBufShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minBufShift
}

// getBuf returns a buffer of n bytes from the free lists, or a new one.
func (q *Inbox) getBuf(n int) []byte {
	c := bufClass(n)
	if l := len(q.bufs[c]); l > 0 {
		b := q.bufs[c][l-1]
		q.bufs[c][l-1] = nil
		q.bufs[c] = q.bufs[c][:l-1]
		q.freeBytes -= cap(b)
		return b[:n]
	}
	return make([]byte, n, 1<<(c+minBufShift))
}

// putBuf returns b to the free lists, unless they hold freeLimit bytes
// already (the garbage collector takes it then).
func (q *Inbox) putBuf(b []byte) {
	c := bufClass(cap(b))
	if cap(b) == 0 || c >= bufClasses || cap(b) != 1<<(c+minBufShift) || q.freeBytes+cap(b) > q.freeLimit {
		return
	}
	q.bufs[c] = append(q.bufs[c], b[:0])
	q.freeBytes += cap(b)
}

// u32 reads the little-endian u32 at off of b.
func u32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

// u64 reads the little-endian u64 at off of b.
func u64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
