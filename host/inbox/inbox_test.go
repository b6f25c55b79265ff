package inbox

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"testing"

	"github.com/stratbox/stratbox/abi"
)

// ibOrder returns an order_update record with the given cid.
func ibOrder(cid uint64) []byte {
	return abi.AppendOrderUpdate(nil, &abi.OrderUpdate{CID: cid, Instrument: 1, State: abi.OrderState(2)})
}

// ibFill returns a fill record with the given cid.
func ibFill(cid uint64) []byte {
	return abi.AppendFill(nil, &abi.Fill{CID: cid, Instrument: 1, Price: 100, Amount: 1})
}

// ibTicker returns a ticker record; ts tells tickers apart.
func ibTicker(inst uint32, flags abi.TickerFlags, ts uint64) []byte {
	return abi.AppendTicker(nil, &abi.Ticker{Instrument: inst, Flags: flags, Time: ts, LastPrice: abi.Fixed(ts)})
}

// ibPosition returns a position record; ts tells positions apart.
func ibPosition(inst uint32, flags abi.PositionFlags, ts uint64) []byte {
	return abi.AppendPosition(nil, &abi.Position{Instrument: inst, Flags: flags, Time: ts, Size: abi.Fixed(ts)})
}

// ibTrade returns a trade record with the given trade_seq.
func ibTrade(inst uint32, seq uint64) []byte {
	return abi.AppendTrade(nil, &abi.Trade{Instrument: inst, TradeSeq: seq, Price: 100, Amount: 1})
}

// ibUnknown returns a record of a kind the ABI does not define.
func ibUnknown(tag uint64) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b, 0x00F0)
	binary.LittleEndian.PutUint16(b[2:], 16)
	binary.LittleEndian.PutUint64(b[8:], tag)
	return b
}

// ibLv is a level of integer price and amount.
func ibLv(price, amount int64) abi.Level {
	return abi.Level{Price: abi.Fixed(price), Amount: abi.Fixed(amount)}
}

// ibBook returns a book record of kind k (snapshot or change).
func ibBook(k abi.Kind, inst uint32, flags abi.BookFlags, id, prev uint64, bids, asks []abi.Level) []byte {
	b := &abi.Book{Instrument: inst, Flags: flags, ChangeID: id, PrevChangeID: prev, Time: id * 10, Bids: bids, Asks: asks}
	var rec []byte
	var err error
	if k == abi.KindBookSnapshot {
		rec, err = abi.AppendBookSnapshot(nil, b)
	} else {
		rec, err = abi.AppendBookChange(nil, b)
	}
	if err != nil {
		panic(err)
	}
	return rec
}

// ibSnap returns a book_snapshot record.
func ibSnap(inst uint32, id uint64, bids, asks []abi.Level) []byte {
	return ibBook(abi.KindBookSnapshot, inst, 0, id, 0, bids, asks)
}

// ibChange returns a book_change record.
func ibChange(inst uint32, id, prev uint64, bids, asks []abi.Level) []byte {
	return ibBook(abi.KindBookChange, inst, 0, id, prev, bids, asks)
}

// ibRecords splits a taken buffer into copies of its records.
func ibRecords(t testing.TB, buf []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for r, err := range abi.Records(buf) {
		if err != nil {
			t.Fatalf("take returned a buffer that does not frame: %v", err)
		}
		out = append(out, slices.Clone(r.Bytes))
	}
	return out
}

// ibDrain takes everything pending, max bytes at a time.
func ibDrain(t testing.TB, q *Inbox, max int) [][]byte {
	t.Helper()
	var out [][]byte
	for q.Len() > 0 {
		buf := q.Take(nil, max)
		if len(buf) == 0 {
			t.Fatalf("take returned nothing with %d bytes pending", q.Len())
		}
		if len(buf) > max {
			t.Fatalf("take returned %d bytes, max %d", len(buf), max)
		}
		out = append(out, ibRecords(t, buf)...)
	}
	return out
}

// ibCheckCounts checks that the counters add up.
func ibCheckCounts(t testing.TB, q *Inbox) Stats {
	t.Helper()
	s := q.Stats()
	if s.Pushed != s.Taken+s.Conflated+s.Merged+s.Dropped+uint64(s.Pending) {
		t.Errorf("counts do not add up: %+v", s)
	}
	if s.PendingBytes != q.Len() || s.MaxPendingBytes < s.PendingBytes {
		t.Errorf("byte counts: %+v, len %d", s, q.Len())
	}
	return s
}

// ibDescribe renders a record for failure messages and comparisons.
func ibDescribe(rec []byte) string {
	h := abi.ReadHeader(rec)
	switch h.Kind {
	case abi.KindTicker:
		var x abi.Ticker
		_ = abi.DecodeTicker(rec, &x)
		return fmt.Sprintf("ticker(%d,%d,%d)", x.Instrument, x.Flags, x.Time)
	case abi.KindPosition:
		var x abi.Position
		_ = abi.DecodePosition(rec, &x)
		return fmt.Sprintf("position(%d,%d,%d)", x.Instrument, x.Flags, x.Time)
	case abi.KindTrade:
		var x abi.Trade
		_ = abi.DecodeTrade(rec, &x)
		return fmt.Sprintf("trade(%d,%d)", x.Instrument, x.TradeSeq)
	case abi.KindOrderUpdate:
		var x abi.OrderUpdate
		_ = abi.DecodeOrderUpdate(rec, &x)
		return fmt.Sprintf("order(%d)", x.CID)
	case abi.KindFill:
		var x abi.Fill
		_ = abi.DecodeFill(rec, &x)
		return fmt.Sprintf("fill(%d)", x.CID)
	case abi.KindBookSnapshot, abi.KindBookChange:
		var x abi.Book
		_ = abi.DecodeBook(rec, &x)
		name := "snap"
		if h.Kind == abi.KindBookChange {
			name = "change"
		}
		return fmt.Sprintf("%s(%d,f%d,%d<-%d,ts%d,%v,%v)", name, x.Instrument, x.Flags, x.ChangeID, x.PrevChangeID, x.Time,
			ibLevels(x.Bids), ibLevels(x.Asks))
	}
	return fmt.Sprintf("%v(%x)", h.Kind, rec[8:])
}

// ibLevels renders levels as price:amount in integer units.
func ibLevels(ls []abi.Level) string {
	s := "["
	for i, l := range ls {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%d:%d", int64(l.Price), int64(l.Amount))
	}
	return s + "]"
}

// ibDescribeAll renders records.
func ibDescribeAll(recs [][]byte) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = ibDescribe(r)
	}
	return out
}

func TestInboxOrderEventsSurviveFlood(t *testing.T) {
	q := New(2048)
	var want []string
	rej := abi.AppendIntentRejected(nil, &abi.IntentRejected{IntentKind: abi.KindCancel, CID: 7})
	pool := abi.AppendPoolState(nil, &abi.PoolState{Healthy: 1, Total: 2})
	timer := abi.AppendTimer(nil, &abi.Timer{ID: 3, Due: 5})
	id := uint64(1)
	q.Push(ibSnap(9, id, []abi.Level{ibLv(10, 1)}, []abi.Level{ibLv(11, 1)}))
	for i := range 300 {
		for j := range 20 { // market data flood: far more than the limit
			q.Push(ibTicker(uint32(j%4), 0, uint64(i*100+j)))
			q.Push(ibTrade(uint32(j%4), uint64(i*100+j)))
			q.Push(ibChange(9, id+1, id, []abi.Level{ibLv(int64(j%7+1), int64(i))}, nil))
			id++
		}
		var rec []byte
		switch i % 6 {
		case 0:
			rec = ibOrder(uint64(i))
		case 1:
			rec = ibFill(uint64(i))
		case 2:
			rec = rej
		case 3:
			rec = pool
		case 4:
			rec = timer
		case 5:
			rec = ibUnknown(uint64(i))
		}
		if !q.Push(rec) {
			t.Fatalf("push %d refused", i)
		}
		want = append(want, ibDescribe(rec))
	}
	s := ibCheckCounts(t, q)
	if s.Dropped == 0 || s.Conflated == 0 || s.Merged == 0 {
		t.Errorf("the flood was not conflated: %+v", s)
	}
	var got []string
	for _, r := range ibDrain(t, q, 65536) {
		switch abi.ReadHeader(r).Kind {
		case abi.KindTicker, abi.KindTrade, abi.KindBookSnapshot, abi.KindBookChange:
		default:
			got = append(got, ibDescribe(r))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("order events:\n got %v\nwant %v", got, want)
	}
	ibCheckCounts(t, q)
}

func TestInboxLatestWins(t *testing.T) {
	top := abi.TickerTopOnly
	for _, tc := range []struct {
		name string
		push [][]byte
		want []string
		conf uint64
	}{
		{"one instrument conflates to the latest, in the first's place",
			[][]byte{ibTicker(1, 0, 1), ibOrder(5), ibTicker(1, 0, 2), ibTicker(1, 0, 3)},
			[]string{"ticker(1,0,3)", "order(5)"}, 2},
		{"different instruments do not conflate",
			[][]byte{ibTicker(1, 0, 1), ibTicker(2, 0, 2), ibTicker(1, 0, 3), ibTicker(2, 0, 4)},
			[]string{"ticker(1,0,3)", "ticker(2,0,4)"}, 2},
		{"top_only tickers conflate separately",
			[][]byte{ibTicker(1, 0, 1), ibTicker(1, top, 2), ibTicker(1, 0, 3), ibTicker(1, top, 4)},
			[]string{"ticker(1,0,3)", "ticker(1,1,4)"}, 2},
		{"the closed flag is not part of the key",
			[][]byte{ibTicker(1, 0, 1), ibTicker(1, abi.TickerClosed, 2)},
			[]string{"ticker(1,2,2)"}, 1},
		{"positions conflate per instrument and flags, the latest moving to the end",
			[][]byte{ibPosition(1, 0, 1), ibPosition(1, abi.PositionAccount, 2), ibPosition(2, 0, 3),
				ibPosition(1, 0, 4), ibPosition(1, abi.PositionAccount, 5)},
			[]string{"position(2,0,3)", "position(1,0,4)", "position(1,1,5)"}, 2},
		{"a ticker and a position of one instrument do not conflate",
			[][]byte{ibTicker(1, 0, 1), ibPosition(1, 0, 2), ibTicker(1, 0, 3)},
			[]string{"ticker(1,0,3)", "position(1,0,2)"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := New(0)
			for _, r := range tc.push {
				q.Push(r)
			}
			got := ibDescribeAll(ibDrain(t, q, 1<<16))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if s := ibCheckCounts(t, q); s.Conflated != tc.conf {
				t.Errorf("conflated %d, want %d", s.Conflated, tc.conf)
			}
		})
	}
	t.Run("after take a ticker is pending anew", func(t *testing.T) {
		q := New(0)
		q.Push(ibTicker(1, 0, 1))
		first := ibDescribeAll(ibDrain(t, q, 1<<16))
		q.Push(ibTicker(1, 0, 2))
		q.Push(ibTicker(1, 0, 3))
		second := ibDescribeAll(ibDrain(t, q, 1<<16))
		if !slices.Equal(first, []string{"ticker(1,0,1)"}) || !slices.Equal(second, []string{"ticker(1,0,3)"}) {
			t.Errorf("got %v then %v", first, second)
		}
	})
}

func TestInboxBooks(t *testing.T) {
	L := ibLv
	ls := func(l ...abi.Level) []abi.Level { return l }
	cont, conts := abi.BookContinuation, abi.BookContinues
	many := func(n int, from int64) []abi.Level {
		var out []abi.Level
		for i := range n {
			out = append(out, L(from+int64(i), 1))
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		push          [][]byte
		want          []string
		merged, confl uint64
	}{
		{"snapshot and changes merge into a snapshot",
			[][]byte{
				ibSnap(1, 10, ls(L(100, 1), L(99, 2), L(98, 3)), ls(L(101, 1), L(102, 2))),
				ibChange(1, 11, 10, ls(L(99, 0), L(100, 5), L(97, 4)), ls(L(101, 0), L(103, 1))),
				ibChange(1, 12, 11, ls(L(97, 0), L(96, 0)), ls(L(100, 7))),
			},
			[]string{"snap(1,f0,12<-0,ts120,[100:5 98:3],[100:7 102:2 103:1])"}, 2, 0},
		{"changes merge into one change, amount 0 kept",
			[][]byte{
				ibChange(1, 11, 10, ls(L(99, 0), L(100, 5)), ls(L(101, 1))),
				ibChange(1, 12, 11, ls(L(98, 2), L(100, 6)), ls(L(101, 0), L(102, 0))),
				ibChange(1, 13, 12, nil, ls(L(103, 3))),
			},
			[]string{"change(1,f0,13<-10,ts130,[100:6 99:0 98:2],[101:0 102:0 103:3])"}, 2, 0},
		{"unsorted levels and repeated prices: the last of a price wins",
			[][]byte{
				ibChange(1, 11, 10, ls(L(98, 1), L(100, 1), L(98, 2)), ls(L(105, 1), L(101, 1))),
				ibChange(1, 12, 11, ls(L(99, 1), L(99, 0)), ls(L(104, 3), L(101, 2), L(104, 4))),
			},
			[]string{"change(1,f0,12<-10,ts120,[100:1 99:0 98:2],[101:2 104:4 105:1])"}, 1, 0},
		{"a change that does not chain is appended as is",
			[][]byte{
				ibSnap(1, 10, ls(L(100, 1)), nil),
				ibChange(1, 12, 11, ls(L(99, 1)), nil),
				ibChange(1, 13, 12, ls(L(98, 1)), nil),
			},
			[]string{"snap(1,f0,10<-0,ts100,[100:1],[])", "change(1,f0,13<-11,ts130,[99:1 98:1],[])"}, 1, 0},
		{"a new snapshot supersedes the pending book records of its instrument",
			[][]byte{
				ibSnap(1, 10, ls(L(100, 1)), nil),
				ibChange(2, 5, 4, ls(L(7, 1)), nil),
				ibChange(1, 12, 11, ls(L(99, 1)), nil),
				ibOrder(1),
				ibSnap(1, 20, ls(L(50, 1)), ls(L(51, 1))),
				ibChange(1, 21, 20, nil, ls(L(52, 1))),
			},
			[]string{"change(2,f0,5<-4,ts50,[7:1],[])", "order(1)", "snap(1,f0,21<-0,ts210,[50:1],[51:1 52:1])"}, 1, 2},
		{"instruments do not merge with each other",
			[][]byte{
				ibChange(1, 11, 10, ls(L(100, 1)), nil),
				ibChange(2, 12, 11, ls(L(100, 2)), nil),
			},
			[]string{"change(1,f0,11<-10,ts110,[100:1],[])", "change(2,f0,12<-11,ts120,[100:2],[])"}, 0, 0},
		{"continuation runs are not merged",
			[][]byte{
				ibBook(abi.KindBookSnapshot, 1, conts, 10, 0, ls(L(100, 1)), nil),
				ibBook(abi.KindBookSnapshot, 1, cont, 10, 0, nil, ls(L(101, 1))),
				ibChange(1, 11, 10, ls(L(99, 1)), nil),
				ibBook(abi.KindBookChange, 1, conts, 12, 11, ls(L(98, 1)), nil),
				ibBook(abi.KindBookChange, 1, cont, 12, 11, ls(L(97, 1)), nil),
				ibChange(1, 13, 12, ls(L(96, 1)), nil),
				ibChange(1, 14, 13, ls(L(95, 1)), nil),
			},
			[]string{
				"snap(1,f1,10<-0,ts100,[100:1],[])", "snap(1,f2,10<-0,ts100,[],[101:1])",
				"change(1,f0,11<-10,ts110,[99:1],[])",
				"change(1,f1,12<-11,ts120,[98:1],[])", "change(1,f2,12<-11,ts120,[97:1],[])",
				"change(1,f0,14<-12,ts140,[96:1 95:1],[])",
			}, 1, 0},
		{"a snapshot supersedes continuation runs",
			[][]byte{
				ibBook(abi.KindBookChange, 1, conts, 12, 11, ls(L(98, 1)), nil),
				ibBook(abi.KindBookChange, 1, cont, 12, 11, ls(L(97, 1)), nil),
				ibSnap(1, 20, ls(L(50, 1)), nil),
			},
			[]string{"snap(1,f0,20<-0,ts200,[50:1],[])"}, 0, 2},
		{"the truncated flag is kept",
			[][]byte{
				ibSnap(1, 10, ls(L(100, 1)), nil),
				ibBook(abi.KindBookChange, 1, abi.BookTruncated, 11, 10, ls(L(99, 1)), nil),
			},
			[]string{"snap(1,f4,11<-0,ts110,[100:1 99:1],[])"}, 1, 0},
		{"a merge that would not fit in one record is not made",
			[][]byte{
				ibSnap(1, 10, many(3000, 1000), nil),
				ibChange(1, 11, 10, many(1500, 5000), nil),
			},
			[]string{
				ibDescribe(ibSnap(1, 10, many(3000, 1000), nil)),
				ibDescribe(ibChange(1, 11, 10, many(1500, 5000), nil)),
			}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := New(0)
			for _, r := range tc.push {
				if !q.Push(r) {
					t.Fatalf("refused %s", ibDescribe(r))
				}
			}
			got := ibDescribeAll(ibDrain(t, q, 1<<16))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n%v\nwant\n%v", got, tc.want)
			}
			if s := ibCheckCounts(t, q); s.Merged != tc.merged || s.Conflated != tc.confl {
				t.Errorf("merged %d, conflated %d; want %d, %d", s.Merged, s.Conflated, tc.merged, tc.confl)
			}
		})
	}
}

func TestInboxBookAfterTake(t *testing.T) {
	q := New(0)
	q.Push(ibSnap(1, 10, []abi.Level{ibLv(100, 1)}, nil))
	q.Push(ibChange(1, 11, 10, []abi.Level{ibLv(99, 1)}, nil))
	first := ibDescribeAll(ibDrain(t, q, 1<<16))
	q.Push(ibChange(1, 12, 11, []abi.Level{ibLv(98, 1)}, nil))
	q.Push(ibChange(1, 13, 12, []abi.Level{ibLv(98, 0)}, nil))
	second := ibDescribeAll(ibDrain(t, q, 1<<16))
	if want := []string{"snap(1,f0,11<-0,ts110,[100:1 99:1],[])"}; !slices.Equal(first, want) {
		t.Errorf("first take %v, want %v", first, want)
	}
	if want := []string{"change(1,f0,13<-11,ts130,[98:0],[])"}; !slices.Equal(second, want) {
		t.Errorf("second take %v, want %v", second, want)
	}
}

// ibRefBook is a reference order book: price → amount per side.
type ibRefBook struct{ bids, asks map[abi.Fixed]abi.Fixed }

// apply applies a book record the plain way.
func (b *ibRefBook) apply(rec []byte) {
	var x abi.Book
	if err := abi.DecodeBook(rec, &x); err != nil {
		panic(err)
	}
	if b.bids == nil || abi.ReadHeader(rec).Kind == abi.KindBookSnapshot && x.Flags&abi.BookContinuation == 0 {
		b.bids, b.asks = map[abi.Fixed]abi.Fixed{}, map[abi.Fixed]abi.Fixed{}
	}
	set := func(m map[abi.Fixed]abi.Fixed, ls []abi.Level) {
		for _, l := range ls {
			if l.Amount == 0 {
				delete(m, l.Price)
			} else {
				m[l.Price] = l.Amount
			}
		}
	}
	set(b.bids, x.Bids)
	set(b.asks, x.Asks)
}

// equal compares two reference books.
func (b *ibRefBook) equal(o *ibRefBook) bool {
	eq := func(x, y map[abi.Fixed]abi.Fixed) bool {
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || w != v {
				return false
			}
		}
		return true
	}
	return eq(b.bids, o.bids) && eq(b.asks, o.asks)
}

// TestInboxBookProperty feeds random, correctly chained snapshots and
// changes (some split into continuation runs) of 3 instruments, with
// tickers and trades between them and random takes, and checks that the
// books built from what was delivered equal the books built from what was
// pushed after every full drain, and that every delivered record follows the
// one delivered before it.
func TestInboxBookProperty(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 99))
		q := New(512 + rng.IntN(4096))
		var pushedRef, gotRef [3]ibRefBook
		var last [3]uint64     // change id of the last message pushed per instrument
		var prev [3]abi.Header // header of the last book record delivered per instrument
		var prevBook [3]abi.Book
		var seen [3]bool
		levels := func(n int, zeros bool) []abi.Level {
			var out []abi.Level
			for range rng.IntN(n + 1) {
				a := int64(rng.IntN(4))
				if !zeros && a == 0 {
					a = 1
				}
				out = append(out, ibLv(int64(rng.IntN(20)+1), a))
			}
			return out
		}
		check := func(rec []byte) {
			h := abi.ReadHeader(rec)
			if h.Kind != abi.KindBookSnapshot && h.Kind != abi.KindBookChange {
				return
			}
			var x abi.Book
			if err := abi.DecodeBook(rec, &x); err != nil {
				t.Fatalf("seed %d: delivered %v", seed, err)
			}
			i := x.Instrument
			switch {
			case x.Flags&abi.BookContinuation != 0:
				if !seen[i] || prev[i].Kind != h.Kind || prevBook[i].ChangeID != x.ChangeID || prevBook[i].Flags&abi.BookContinues == 0 {
					t.Fatalf("seed %d: %s does not continue %v %+v", seed, ibDescribe(rec), seen[i], prevBook[i])
				}
			case h.Kind == abi.KindBookChange:
				if !seen[i] || prevBook[i].ChangeID != x.PrevChangeID {
					t.Fatalf("seed %d: %s does not follow change id %d", seed, ibDescribe(rec), prevBook[i].ChangeID)
				}
			}
			seen[i], prev[i], prevBook[i] = true, h, abi.Book{ChangeID: x.ChangeID, Flags: x.Flags}
			gotRef[i].apply(rec)
		}
		var dst []byte
		takeSome := func() {
			dst = q.Take(dst[:0], 700+rng.IntN(3000))
			for r, err := range abi.Records(dst) {
				if err != nil {
					t.Fatal(err)
				}
				check(r.Bytes)
			}
		}
		for step := range 3000 {
			i := uint32(rng.IntN(3))
			switch r := rng.IntN(100); {
			case r < 10:
				q.Push(ibTicker(i, 0, uint64(step)))
			case r < 25:
				q.Push(ibTrade(i, uint64(step)))
			default:
				snapshot := last[i] == 0 || rng.IntN(100) < 12
				id := last[i] + 1 + uint64(rng.IntN(3))
				var p uint64
				k := abi.KindBookSnapshot
				if !snapshot {
					p, k = last[i], abi.KindBookChange
				}
				parts := 1
				if rng.IntN(100) < 15 {
					parts = 2 + rng.IntN(2)
				}
				for j := range parts {
					var f abi.BookFlags
					if j > 0 {
						f |= abi.BookContinuation
					}
					if j < parts-1 {
						f |= abi.BookContinues
					}
					rec := ibBook(k, i, f, id, p, levels(6, !snapshot), levels(6, !snapshot))
					if !q.Push(rec) {
						t.Fatalf("refused %s", ibDescribe(rec))
					}
					pushedRef[i].apply(rec)
					if rng.IntN(100) < 10 {
						takeSome()
					}
				}
				last[i] = id
			}
			if rng.IntN(100) < 8 {
				takeSome()
			}
			if rng.IntN(100) < 3 || step == 2999 {
				for q.Len() > 0 {
					takeSome()
				}
				for i := range 3 {
					if !pushedRef[i].equal(&gotRef[i]) {
						t.Fatalf("seed %d step %d instrument %d: delivered book %v, pushed book %v", seed, step, i, gotRef[i], pushedRef[i])
					}
				}
			}
		}
		if s := ibCheckCounts(t, q); s.Merged == 0 || s.Conflated == 0 {
			t.Errorf("seed %d: nothing merged or superseded: %+v", seed, s)
		}
	}
}

func TestInboxTradeLimit(t *testing.T) {
	const limit = 10 * abi.SizeTrade
	q := New(limit)
	for i := range 10 {
		q.Push(ibTrade(1, uint64(i)))
	}
	if s := q.Stats(); s.Dropped != 0 || s.Pending != 10 {
		t.Fatalf("trades dropped at the limit: %+v", s)
	}
	q.Push(ibOrder(1))
	q.Push(ibTrade(1, 10))
	q.Push(ibOrder(2))
	q.Push(ibTrade(1, 11))
	q.Push(ibTicker(1, 0, 1)) // 104 bytes: three more trades go
	q.Push(ibOrder(3))
	got := ibDescribeAll(ibDrain(t, q, 1<<16))
	want := []string{"trade(1,5)", "trade(1,6)", "trade(1,7)", "trade(1,8)", "trade(1,9)", "order(1)", "trade(1,10)",
		"order(2)", "trade(1,11)", "ticker(1,0,1)", "order(3)"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if s := ibCheckCounts(t, q); s.Dropped != 5 {
		t.Errorf("dropped %d, want 5", s.Dropped)
	}

	// Order events do not count against the limit and are never dropped;
	// books over the limit are kept (they are one record per instrument).
	q = New(abi.SizeTrade)
	for i := range 1000 {
		q.Push(ibOrder(uint64(i)))
	}
	q.Push(ibSnap(1, 1, []abi.Level{ibLv(1, 1), ibLv(2, 1), ibLv(3, 1)}, nil))
	q.Push(ibTrade(1, 1))
	if s := q.Stats(); s.Dropped != 1 || s.Pending != 1001 {
		t.Errorf("%+v", s)
	}
	got = ibDescribeAll(ibDrain(t, q, 1<<16))
	for i := range 1000 {
		if got[i] != fmt.Sprintf("order(%d)", i) {
			t.Fatalf("record %d is %s", i, got[i])
		}
	}
}

func TestInboxTake(t *testing.T) {
	q := New(0)
	q.Push(ibTrade(1, 1))     // 48
	q.Push(ibTicker(1, 0, 1)) // 104
	q.Push(ibOrder(1))        // 136
	if got := q.Take(nil, 0); len(got) != 0 {
		t.Errorf("take with max 0 returned %d bytes", len(got))
	}
	got := q.Take([]byte("x"), 48+103)
	if string(got[:1]) != "x" || len(got) != 1+48 {
		t.Fatalf("take(151) returned %d bytes, want the prefix and one trade", len(got))
	}
	if got := q.Take(nil, 104+136); len(got) != 240 {
		t.Errorf("take(240) returned %d bytes", len(got))
	}
	if q.Len() != 0 || q.Stats().Taken != 3 {
		t.Errorf("after taking: %+v", q.Stats())
	}

	// A record larger than max is dropped; records after it still come.
	q.Push(ibOrder(2))        // 136
	q.Push(ibTrade(1, 2))     // 48
	q.Push(ibTicker(1, 0, 2)) // 104
	recs := ibRecords(t, q.Take(nil, 120))
	if d := ibDescribeAll(recs); !slices.Equal(d, []string{"trade(1,2)"}) {
		t.Errorf("take(120) = %v", d)
	}
	if s := ibCheckCounts(t, q); s.Dropped != 1 || s.Pending != 1 {
		t.Errorf("%+v", s)
	}
}

func TestInboxRefuses(t *testing.T) {
	tick := ibTicker(1, 0, 1)
	badLen := ibSnap(1, 1, []abi.Level{ibLv(1, 1)}, nil)
	binary.LittleEndian.PutUint16(badLen[12:], 2) // 2 bids in a record that holds 1
	shortTicker := slices.Clone(tick[:48])
	binary.LittleEndian.PutUint16(shortTicker[2:], 48)
	zero := make([]byte, 16)
	binary.LittleEndian.PutUint16(zero[2:], 16)
	for _, tc := range []struct {
		name string
		rec  []byte
	}{
		{"empty", nil},
		{"short header", tick[:5]},
		{"size not a multiple of 8", func() []byte { b := slices.Clone(tick); b[2] = 101; return b }()},
		{"size below 8", func() []byte { b := slices.Clone(tick); b[2], b[3] = 4, 0; return b }()},
		{"truncated", tick[:96]},
		{"bytes after the record", append(slices.Clone(tick), make([]byte, 8)...)},
		{"larger than a record can be", func() []byte {
			b := ibUnknown(0)[:8]
			binary.LittleEndian.PutUint16(b[2:], abi.MaxRecordSize)
			return append(b, make([]byte, abi.MaxRecordSize)...)
		}()},
		{"kind 0", zero},
		{"ticker shorter than its layout", shortTicker},
		{"book counts disagree with size", badLen},
	} {
		q := New(0)
		if q.Push(tc.rec) {
			t.Errorf("%s: accepted", tc.name)
		}
		if s := q.Stats(); s.Refused != 1 || s.Pushed != 0 || s.Pending != 0 {
			t.Errorf("%s: %+v", tc.name, s)
		}
	}

	q := New(0)
	var buf []byte
	buf = append(buf, ibOrder(1)...)
	buf = append(buf, tick...)
	buf = append(buf, ibOrder(2)...)
	buf = append(buf, 1, 0, 3, 0) // garbage: a header cut short
	q.PushBatch(buf)
	if s := q.Stats(); s.Pushed != 3 || s.Refused != 1 {
		t.Errorf("pushBatch: %+v", s)
	}
	if d := ibDescribeAll(ibDrain(t, q, 1<<16)); !slices.Equal(d, []string{"order(1)", "ticker(1,0,1)", "order(2)"}) {
		t.Errorf("pushBatch delivered %v", d)
	}
}

func TestInboxReady(t *testing.T) {
	q := New(0)
	select {
	case <-q.Ready():
		t.Fatal("ready before a push")
	default:
	}
	for i := range 5 { // never blocks, however many pushes
		q.Push(ibOrder(uint64(i)))
	}
	select {
	case <-q.Ready():
	default:
		t.Fatal("not ready after a push")
	}
	q.Take(nil, 2*abi.SizeOrderUpdate)
	select {
	case <-q.Ready():
	default:
		t.Fatal("not ready after a take that left records")
	}
	q.Take(nil, 1<<16)
	select {
	case <-q.Ready():
		t.Fatal("ready after a take that left nothing")
	default:
	}
}

func TestInboxConcurrent(t *testing.T) {
	const pushers, n = 4, 3000
	q := New(4096)
	var wg sync.WaitGroup
	for p := range pushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst := uint32(p)
			q.Push(ibSnap(inst, 1, []abi.Level{ibLv(1, 1)}, nil))
			for i := range n {
				q.Push(ibTicker(inst, 0, uint64(i)))
				q.Push(ibTrade(inst, uint64(i)))
				q.Push(ibChange(inst, uint64(i+2), uint64(i+1), []abi.Level{ibLv(int64(i%5+1), int64(i%3))}, nil))
				q.Push(ibOrder(uint64(p)<<32 | uint64(i)))
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var next [pushers]uint64
	var changeID [pushers]uint64
	var dst []byte
	consume := func() {
		dst = q.Take(dst[:0], 4096)
		for r, err := range abi.Records(dst) {
			if err != nil {
				t.Fatal(err)
			}
			switch r.Kind {
			case abi.KindOrderUpdate:
				var o abi.OrderUpdate
				_ = abi.DecodeOrderUpdate(r.Bytes, &o)
				p, i := o.CID>>32, o.CID&0xFFFFFFFF
				if i != next[p] {
					t.Fatalf("pusher %d: order %d after %d", p, i, next[p])
				}
				next[p]++
			case abi.KindBookSnapshot, abi.KindBookChange:
				var b abi.Book
				_ = abi.DecodeBook(r.Bytes, &b)
				if r.Kind == abi.KindBookChange && b.PrevChangeID != changeID[b.Instrument] {
					t.Fatalf("change %d<-%d after %d", b.ChangeID, b.PrevChangeID, changeID[b.Instrument])
				}
				changeID[b.Instrument] = b.ChangeID
			}
		}
	}
	for running := true; running; {
		select {
		case <-q.Ready():
			consume()
		case <-done:
			running = false
		}
	}
	for q.Len() > 0 {
		consume()
	}
	for p := range pushers {
		if next[p] != n {
			t.Errorf("pusher %d: %d orders delivered, want %d", p, next[p], n)
		}
	}
	s := ibCheckCounts(t, q)
	if s.Pushed != pushers*(4*n+1) || s.Pending != 0 {
		t.Errorf("%+v", s)
	}
}

// ibMarketBatch returns 64 records of 10 instruments: tickers, book changes
// that chain per instrument within the batch, and trades.
func ibMarketBatch() [][]byte {
	var out [][]byte
	var ids [10]uint64
	for i := range 64 {
		inst := uint32(i % 10)
		switch i % 3 {
		case 0:
			out = append(out, ibTicker(inst, 0, uint64(i)))
		case 1:
			ids[inst]++
			out = append(out, ibChange(inst, ids[inst]+1, ids[inst], []abi.Level{ibLv(int64(100+i%7), 1), ibLv(99, 2)},
				[]abi.Level{ibLv(int64(101+i%5), 1)}))
		default:
			out = append(out, ibTrade(inst, uint64(i)))
		}
	}
	return out
}

// ibRace reports whether the test binary was built with -race, which makes
// abi's append of zeroed bytes allocate.
func ibRace() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

func TestInboxNoAllocs(t *testing.T) {
	if ibRace() {
		t.Skip("the race detector makes abi.AppendBook* allocate")
	}
	q := New(0)
	recs := ibMarketBatch()
	dst := make([]byte, 0, 1<<16)
	run := func() {
		for _, r := range recs {
			q.Push(r)
		}
		dst = q.Take(dst[:0], 1<<16)
	}
	for range 10 {
		run()
	}
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Errorf("%v allocations per push/take round, want 0", a)
	}
}

func BenchmarkInboxPushTake(b *testing.B) {
	q := New(0)
	recs := ibMarketBatch()
	for _, r := range recs {
		q.Push(r)
	}
	dst := make([]byte, 0, 1<<16)
	dst = q.Take(dst[:0], 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, r := range recs {
			q.Push(r)
		}
		dst = q.Take(dst[:0], 1<<16)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}

// Drop removes only the selected records pushed before the mark, keeps the
// order of the rest, and counts what it removed as conflated.
func TestInboxDrop(t *testing.T) {
	q := New(0)
	q.Push(ibOrder(1))
	q.Push(ibTicker(1, 0, 1))
	q.Push(ibFill(1))
	q.Push(ibOrder(2))
	mark := q.Mark()
	q.Push(ibOrder(1)) // after the mark: kept
	isCID1 := func(rec []byte) bool {
		k := abi.ReadHeader(rec).Kind
		return (k == abi.KindOrderUpdate || k == abi.KindFill) && binary.LittleEndian.Uint64(rec[abi.OffCID:]) == 1
	}
	if n := q.Drop(mark, isCID1); n != 2 {
		t.Fatalf("Drop removed %d records, want 2", n)
	}
	got := q.Take(nil, 1<<20)
	want := slices.Concat(ibTicker(1, 0, 1), ibOrder(2), ibOrder(1))
	if !slices.Equal(got, want) {
		t.Errorf("left %x, want the ticker, cid 2 and the later cid 1", got)
	}
	st := q.Stats()
	if st.Conflated != 2 || st.Pushed != st.Taken+st.Conflated+st.Merged+st.Dropped+uint64(st.Pending) {
		t.Errorf("stats %+v: want 2 conflated, and every record counted once", st)
	}
	q.Push(ibOrder(1))
	if n := q.Drop(^uint64(0), isCID1); n != 1 || q.Len() != 0 {
		t.Errorf("Drop of everything pending removed %d, left %d bytes", n, q.Len())
	}
}
