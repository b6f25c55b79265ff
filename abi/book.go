package abi

import (
	"encoding/json"
	"fmt"
)

// Level is one price level of a book: Amount 0 deletes the level, any other
// amount sets it (Deribit's "new" and "change" are the same operation on a
// book). Its JSON rendering is [price, amount].
type Level struct {
	Price  Fixed
	Amount Fixed
}

// MarshalJSON renders l as [price, amount].
func (l Level) MarshalJSON() ([]byte, error) {
	b := append([]byte{'['}, AppendFixed(nil, l.Price)...)
	b = append(b, ',')
	b = AppendFixed(b, l.Amount)
	return append(b, ']'), nil
}

// UnmarshalJSON reads [price, amount].
func (l *Level) UnmarshalJSON(b []byte) error {
	var v []Fixed
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if len(v) != 2 {
		return fmt.Errorf("abi: level %s is not [price, amount]", b)
	}
	l.Price, l.Amount = v[0], v[1]
	return nil
}

// Book is a BookSnapshot or a BookChange record (README.md "book_snapshot,
// book_change"):
//
//	 0 header (kind 0x0001 snapshot or 0x0002 change)
//	 8 u32 instrument
//	12 u16 n_bids
//	14 u16 n_asks
//	16 u16 flags (BookFlags)
//	18 u16 reserved, 20 u32 reserved
//	24 u64 change_id
//	32 u64 prev_change_id (0 in a snapshot)
//	40 u64 ts (exchange time, ns)
//	48 n_bids levels, then n_asks levels, each {i64 price, i64 amount}
//
// size = 48 + 16 × (n_bids + n_asks), at most MaxBookLevels levels.
type Book struct {
	Seq          uint32    `json:"seq"`
	Instrument   uint32    `json:"instrument"`
	Flags        BookFlags `json:"flags"`
	ChangeID     uint64    `json:"change_id"`
	PrevChangeID uint64    `json:"prev_change_id"`
	Time         uint64    `json:"ts"`
	Bids         []Level   `json:"bids"`
	Asks         []Level   `json:"asks"`
}

// AppendBookSnapshot appends b as a BookSnapshot record. It fails, leaving
// dst unchanged, when b has more than MaxBookLevels levels.
func AppendBookSnapshot(dst []byte, b *Book) ([]byte, error) {
	return appendBook(dst, KindBookSnapshot, b)
}

// AppendBookChange appends b as a BookChange record. It fails, leaving dst
// unchanged, when b has more than MaxBookLevels levels.
func AppendBookChange(dst []byte, b *Book) ([]byte, error) {
	return appendBook(dst, KindBookChange, b)
}

func appendBook(dst []byte, k Kind, b *Book) ([]byte, error) {
	n := len(b.Bids) + len(b.Asks)
	if n > MaxBookLevels {
		return dst, fmt.Errorf("abi: %v with %d levels; a record holds at most %d", k, n, MaxBookLevels)
	}
	size := SizeBookFixed + SizeLevel*n
	dst, r := grow(dst, size)
	putHeader(r, k, size, b.Seq)
	put32(r, 8, b.Instrument)
	put16(r, 12, uint16(len(b.Bids)))
	put16(r, 14, uint16(len(b.Asks)))
	put16(r, 16, uint16(b.Flags))
	put64(r, 24, b.ChangeID)
	put64(r, 32, b.PrevChangeID)
	put64(r, 40, b.Time)
	off := SizeBookFixed
	for _, l := range b.Bids {
		putFx(r, off, l.Price)
		putFx(r, off+8, l.Amount)
		off += SizeLevel
	}
	for _, l := range b.Asks {
		putFx(r, off, l.Price)
		putFx(r, off+8, l.Amount)
		off += SizeLevel
	}
	return dst, nil
}

// DecodeBook decodes a BookSnapshot or BookChange record into b (the
// record's header says which). It reuses b.Bids and b.Asks, so it does not
// allocate once they have the capacity.
func DecodeBook(rec []byte, b *Book) error {
	r, seq, ok := frame(rec, KindBookSnapshot, KindBookChange, SizeBookFixed)
	if !ok {
		return checkErr(rec, KindBookSnapshot, KindBookChange, SizeBookFixed)
	}
	fixed := (*[SizeBookFixed]byte)(r)[:] // constant lengths: no bounds check per field
	nb, na := int(u16(fixed, 12)), int(u16(fixed, 14))
	if len(r) != SizeBookFixed+SizeLevel*(nb+na) {
		return decodeErr(ErrBadLength, Kind(u16(fixed, OffKind)), len(r),
			fmt.Sprintf("%d bids and %d asks need %d bytes", nb, na, SizeBookFixed+SizeLevel*(nb+na)))
	}
	b.Seq = seq
	b.Instrument = u32(fixed, 8)
	b.Flags = BookFlags(u16(fixed, 16))
	b.ChangeID = u64(fixed, 24)
	b.PrevChangeID = u64(fixed, 32)
	b.Time = u64(fixed, 40)
	// The levels, decoded here rather than by a function per side: in a
	// wasm plugin, a call costs more than a level.
	levels := r[SizeBookFixed:]
	if cap(b.Bids) < nb {
		b.Bids = make([]Level, nb)
	}
	if cap(b.Asks) < na {
		b.Asks = make([]Level, na)
	}
	b.Bids, b.Asks = b.Bids[:nb], b.Asks[:na]
	for i := range b.Bids {
		l := (*[SizeLevel]byte)(levels[SizeLevel*i:])[:]
		b.Bids[i] = Level{fx(l, 0), fx(l, 8)}
	}
	levels = levels[SizeLevel*nb:]
	for i := range b.Asks {
		l := (*[SizeLevel]byte)(levels[SizeLevel*i:])[:]
		b.Asks[i] = Level{fx(l, 0), fx(l, 8)}
	}
	return nil
}

// BookLevels returns the number of bids and asks of a BookSnapshot or
// BookChange record and a view of its levels, without copying: level i is
// at levels[16*i:], price then amount (bids first). For plugins that apply a
// book record in place.
func BookLevels(rec []byte) (nBids, nAsks int, levels []byte, err error) {
	h, r, err := check(rec, KindBookSnapshot, KindBookChange, SizeBookFixed)
	if err != nil {
		return 0, 0, nil, err
	}
	nb, na := int(u16(r, 12)), int(u16(r, 14))
	if int(h.Size) != SizeBookFixed+SizeLevel*(nb+na) {
		return 0, 0, nil, decodeErr(ErrBadLength, h.Kind, int(h.Size), "")
	}
	return nb, na, r[SizeBookFixed:], nil
}

// LevelAt returns level i of the levels view BookLevels returns.
func LevelAt(levels []byte, i int) Level {
	off := SizeLevel * i
	return Level{fx(levels, off), fx(levels, off+8)}
}
