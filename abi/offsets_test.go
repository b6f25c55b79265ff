package abi

import (
	"encoding/binary"
	"testing"
)

// TestOffsets checks the exported offsets against the encoders: a field
// read at its offset is the value that was encoded.
func TestOffsets(t *testing.T) {
	le := binary.LittleEndian
	tk := AppendTicker(nil, &Ticker{Instrument: 0x01020304, Flags: TickerTopOnly, MarkPrice: 0x0a0b0c0d0e0f})
	pos := AppendPosition(nil, &Position{Instrument: 0x05060708, Flags: 0x3})
	tr := AppendTrade(nil, &Trade{Instrument: 0x090a0b0c})
	ou := AppendOrderUpdate(nil, &OrderUpdate{CID: 0x2122232425})
	fl := AppendFill(nil, &Fill{CID: 0x2627282930})
	bk, err := AppendBookChange(nil, &Book{Instrument: 0x0d0e0f10, Flags: BookContinues,
		ChangeID: 0x1112131415, PrevChangeID: 0x1617181920})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"ticker instrument", uint64(le.Uint32(tk[OffInstrument:])), 0x01020304},
		{"ticker flags", uint64(le.Uint32(tk[OffFlags:])), uint64(TickerTopOnly)},
		{"ticker mark_price", le.Uint64(tk[OffMarkPrice:]), 0x0a0b0c0d0e0f},
		{"position instrument", uint64(le.Uint32(pos[OffInstrument:])), 0x05060708},
		{"position flags", uint64(le.Uint32(pos[OffFlags:])), 0x3},
		{"trade instrument", uint64(le.Uint32(tr[OffInstrument:])), 0x090a0b0c},
		{"book instrument", uint64(le.Uint32(bk[OffInstrument:])), 0x0d0e0f10},
		{"book flags", uint64(le.Uint16(bk[OffBookFlags:])), uint64(BookContinues)},
		{"book change_id", le.Uint64(bk[OffChangeID:]), 0x1112131415},
		{"order_update cid", le.Uint64(ou[OffCID:]), 0x2122232425},
		{"fill cid", le.Uint64(fl[OffCID:]), 0x2627282930},
		{"book prev_change_id", le.Uint64(bk[OffPrevChangeID:]), 0x1617181920},
	} {
		if c.got != c.want {
			t.Errorf("%s: %#x at its offset, want %#x", c.name, c.got, c.want)
		}
	}
}
