package abi

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

func addSeeds(f *testing.F) {
	for _, v := range vectorTable() {
		f.Add(encodeGo(f, v))
	}
	for _, b := range batchTable(f) {
		f.Add(b.buf)
	}
	for _, iv := range invalidTable(f) {
		f.Add(iv.buf)
	}
}

// FuzzRecords decodes arbitrary bytes as a batch, as the host does with an
// outbox and a plugin with an inbox: it must never panic or read out of
// bounds, framing must account for every byte up to the error, and every
// record that decodes must re-encode to a record that decodes the same.
func FuzzRecords(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, buf []byte) {
		off := 0
		for rec, err := range Records(buf) {
			if err != nil {
				de := err.(*DecodeError)
				if de.Offset != off || rec.Offset != off {
					t.Fatalf("error at %d, consumed %d", de.Offset, off)
				}
				_ = de.Error()
				return
			}
			if rec.Offset != off || int(rec.Size) != len(rec.Bytes) || rec.Size%8 != 0 || rec.Size < 8 {
				t.Fatalf("record %+v at %d", rec.Header, off)
			}
			off += int(rec.Size)
			checkRecord(t, rec.Bytes)
		}
		if off != len(buf) {
			t.Fatalf("consumed %d of %d", off, len(buf))
		}
		_, _ = BatchJSON(buf)
		var s Startup
		_ = DecodeStartup(buf, &s)
	})
}

// FuzzRoundTrip builds a record of a chosen kind around arbitrary bytes:
// decode → encode → decode must be stable, and so must the JSON rendering.
func FuzzRoundTrip(f *testing.F) {
	for _, v := range vectorTable() {
		b := encodeGo(f, v)
		f.Add(uint16(v.kind), b[8:])
	}
	f.Fuzz(func(t *testing.T, kind uint16, body []byte) {
		size := min(pad8(HeaderSize+len(body)), MaxRecordSize)
		rec := make([]byte, size)
		copy(rec[HeaderSize:], body)
		putHeader(rec, Kind(kind), size, 7)
		// Variable records: make counts agree with the size half the time.
		if len(body) > 0 && body[0]&1 == 1 {
			switch Kind(kind) {
			case KindBookSnapshot, KindBookChange:
				if size >= SizeBookFixed {
					n := (size - SizeBookFixed) / SizeLevel
					put16(rec, 12, uint16(n/2))
					put16(rec, 14, uint16(n-n/2))
					rec = rec[:SizeBookFixed+SizeLevel*n]
					put16(rec, OffSize, uint16(len(rec)))
				}
			case KindInstrument:
				if size >= SizeInstrumentFixed {
					n := min((size-SizeInstrumentFixed)/SizeTickStep, MaxTickSteps)
					rec[15] = uint8(n)
					rec = rec[:SizeInstrumentFixed+SizeTickStep*n]
					put16(rec, OffSize, uint16(len(rec)))
				}
			case KindParam:
				if size > SizeParamFixed {
					n := size - SizeParamFixed
					kl := 1 + int(body[0])%n
					put16(rec, 10, uint16(kl))
					put32(rec, 12, uint32(n-kl))
				}
			}
		}
		checkRecord(t, rec)
	})
}

func checkRecord(t *testing.T, rec []byte) {
	h := ReadHeader(rec)
	_ = ReservedZero(rec)
	_, _, _, _ = BookLevels(rec)
	c, ok := codecs[h.Kind]
	if !ok {
		if _, err := RecordJSON(rec); err == nil {
			t.Fatal("unknown kind rendered")
		}
		return
	}
	v, err := c.decode(rec)
	if err != nil {
		return
	}
	b2, err := c.encode(nil, v)
	if err != nil {
		t.Fatalf("decoded %v does not encode: %v", h.Kind, err)
	}
	if h2 := ReadHeader(b2); h2.Kind != h.Kind || h2.Seq != h.Seq || int(h2.Size) != len(b2) || h2.Size > h.Size {
		t.Fatalf("re-encoded header %+v, was %+v", h2, h)
	}
	v2, err := c.decode(b2)
	if err != nil {
		t.Fatal(err)
	}
	b3, _ := c.encode(nil, v2)
	if !bytes.Equal(b2, b3) {
		t.Fatalf("encode(decode(x)) not stable:\n%x\n%x", b2, b3)
	}
	js, err := RecordJSON(b2)
	if err != nil {
		t.Fatalf("RecordJSON: %v", err)
	}
	if !stringsValid(b2) {
		return
	}
	b4, err := AppendRecordFromJSON(nil, js)
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	js2, _ := RecordJSON(b4)
	if !bytes.Equal(js, js2) {
		t.Fatalf("JSON round trip:\n%s\n%s", js, js2)
	}
}

// stringsValid reports whether every string of rec is valid UTF-8 (JSON can
// carry only those exactly).
func stringsValid(rec []byte) bool {
	h := ReadHeader(rec)
	for _, r := range strFields[h.Kind] {
		f := rec[r[0]:r[1]]
		if !utf8.Valid(f[:strLen(f)]) {
			return false
		}
	}
	if h.Kind == KindParam {
		kl, tl := int(u16(rec, 10)), int(u32(rec, 12))
		k, x := rec[SizeParamFixed:SizeParamFixed+kl], rec[SizeParamFixed+kl:SizeParamFixed+kl+tl]
		if !utf8.Valid(k) || !utf8.Valid(x) {
			return false
		}
	}
	return true
}
