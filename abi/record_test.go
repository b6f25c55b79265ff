package abi

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"unsafe"
)

func TestNextRecordErrors(t *testing.T) {
	good := AppendCancel(nil, &Cancel{Seq: 1, CID: 2})
	tests := []struct {
		name string
		buf  []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"partial header", good[:7], ErrTruncated},
		{"size zero", make([]byte, 16), ErrBadSize},
		{"size 4", rawRecord(KindCancel, 4, 0, make([]byte, 8)...), ErrBadSize},
		{"size 17", rawRecord(KindCancel, 17, 0, make([]byte, 16)...), ErrBadSize},
		{"size past end", good[:15], ErrTruncated},
		{"size 65535", rawRecord(KindCancel, 65535, 0), ErrBadSize},
		{"size 65528 past end", rawRecord(KindCancel, 65528, 0), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rec, rest, err := NextRecord(tt.buf)
			if !errors.Is(err, tt.want) || rec != nil || rest != nil {
				t.Fatalf("NextRecord = %x, %x, %v; want %v", rec, rest, err, tt.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Offset != 0 {
				t.Fatalf("%v is not a *DecodeError at offset 0", err)
			}
			if de.Error() == "" {
				t.Fatal("empty message")
			}
		})
	}
	h, rec, rest, err := NextRecord(append(good, 1, 2, 3))
	if err != nil || h != (Header{KindCancel, SizeCancel, 1}) || !bytes.Equal(rec, good) || !bytes.Equal(rest, []byte{1, 2, 3}) {
		t.Fatalf("NextRecord(good) = %+v %x %x %v", h, rec, rest, err)
	}
}

func TestReaderSkipsUnknownKinds(t *testing.T) {
	var buf []byte
	buf = AppendTimer(buf, &Timer{Seq: 1, ID: 1})
	buf = append(buf, rawRecord(0x00EE, 16, 2, 9, 9, 9, 9, 9, 9, 9, 9)...) // an event from a newer minor
	buf = append(buf, rawRecord(0xF00D, 8, 3)...)                          // experimental, header only
	buf = AppendTimer(buf, &Timer{Seq: 4, ID: 2})
	var ids []uint32
	var kinds []Kind
	r := NewReader(buf)
	for r.Next() {
		rec := r.Record()
		kinds = append(kinds, rec.Kind)
		if rec.Kind == KindTimer {
			var tm Timer
			if err := DecodeTimer(rec.Bytes, &tm); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, tm.ID)
		}
	}
	if r.Err() != nil || r.Offset() != len(buf) {
		t.Fatalf("err %v at %d of %d", r.Err(), r.Offset(), len(buf))
	}
	if len(ids) != 2 || ids[0] != 1 || ids[1] != 2 || len(kinds) != 4 || kinds[1] != 0x00EE {
		t.Fatalf("ids %v kinds %v", ids, kinds)
	}
	if (&Reader{}).Next() {
		t.Fatal("zero Reader has a record")
	}
}

func TestRecordsStopsAtFirstError(t *testing.T) {
	buf := AppendCancel(nil, &Cancel{CID: 1})
	buf = append(buf, rawRecord(KindCancel, 12, 0, make([]byte, 8)...)...)
	buf = AppendCancel(buf, &Cancel{CID: 3})
	var n int
	var gotErr error
	for rec, err := range Records(buf) {
		if err != nil {
			gotErr = err
			if rec.Offset != 16 {
				t.Errorf("error record offset %d", rec.Offset)
			}
			continue
		}
		n++
	}
	var de *DecodeError
	if n != 1 || !errors.As(gotErr, &de) || de.Offset != 16 || !errors.Is(gotErr, ErrBadSize) {
		t.Fatalf("n=%d err=%v", n, gotErr)
	}
	// Breaking out of the loop early is allowed.
	for range Records(buf) {
		break
	}
}

func TestDecodeErrors(t *testing.T) {
	place := AppendPlace(nil, &Place{CID: 1})
	for k, c := range codecs {
		t.Run(k.String(), func(t *testing.T) {
			if _, err := c.decode(nil); !errors.Is(err, ErrTruncated) {
				t.Errorf("nil: %v", err)
			}
			other := place
			if k == KindPlace {
				other = AppendCancel(nil, &Cancel{})
			}
			if _, err := c.decode(other); !errors.Is(err, ErrWrongKind) {
				t.Errorf("wrong kind: %v", err)
			}
			if k.MinSize() > HeaderSize {
				short := rawRecord(k, k.MinSize()-8, 0, make([]byte, k.MinSize()-16)...)
				if _, err := c.decode(short); !errors.Is(err, ErrShortRecord) {
					t.Errorf("short: %v", err)
				}
			}
		})
	}
}

// TestDecodeOverwritesEveryField: a fixed-size record decoded into a value
// that holds something else (a plugin's SDK decodes every event into the
// same value) gives the same value as one decoded into a zero value.
func TestDecodeOverwritesEveryField(t *testing.T) {
	fixed := map[Kind]func(rec []byte, v any) error{
		KindTicker:         func(b []byte, v any) error { return DecodeTicker(b, v.(*Ticker)) },
		KindTrade:          func(b []byte, v any) error { return DecodeTrade(b, v.(*Trade)) },
		KindOrderUpdate:    func(b []byte, v any) error { return DecodeOrderUpdate(b, v.(*OrderUpdate)) },
		KindFill:           func(b []byte, v any) error { return DecodeFill(b, v.(*Fill)) },
		KindPosition:       func(b []byte, v any) error { return DecodePosition(b, v.(*Position)) },
		KindPoolState:      func(b []byte, v any) error { return DecodePoolState(b, v.(*PoolState)) },
		KindTimer:          func(b []byte, v any) error { return DecodeTimer(b, v.(*Timer)) },
		KindIntentRejected: func(b []byte, v any) error { return DecodeIntentRejected(b, v.(*IntentRejected)) },
		KindStart:          func(b []byte, v any) error { return DecodeStart(b, v.(*Start)) },
		KindPlace:          func(b []byte, v any) error { return DecodePlace(b, v.(*Place)) },
		KindAmend:          func(b []byte, v any) error { return DecodeAmend(b, v.(*Amend)) },
		KindCancel:         func(b []byte, v any) error { return DecodeCancel(b, v.(*Cancel)) },
		KindCancelAll:      func(b []byte, v any) error { return DecodeCancelAll(b, v.(*CancelAll)) },
	}
	seen := map[Kind]bool{}
	for _, v := range vectorTable() {
		dec, ok := fixed[v.kind]
		if !ok {
			continue
		}
		seen[v.kind] = true
		b := encodeGo(t, v)
		want := codecs[v.kind].new()
		if err := dec(b, want); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		dirty := codecs[v.kind].new()
		rv := reflect.ValueOf(dirty)
		for i := range unsafe.Slice((*byte)(rv.UnsafePointer()), rv.Elem().Type().Size()) {
			*(*byte)(unsafe.Add(rv.UnsafePointer(), i)) = 0xA5
		}
		if err := dec(b, dirty); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if !reflect.DeepEqual(dirty, want) {
			t.Errorf("%s: decoded over other values\n got %+v\nwant %+v", v.name, dirty, want)
		}
	}
	for k := range fixed {
		if !seen[k] {
			t.Errorf("no vector of %v", k)
		}
	}
}

// TestEncodeOverOldBytes: every record appended where the buffer's backing
// array holds other bytes (a plugin's outbox, reused call after call) is the
// record appended to nil: reserved bytes included, nothing stale is left.
func TestEncodeOverOldBytes(t *testing.T) {
	for _, v := range vectorTable() {
		want := encodeGo(t, v)
		buf := bytes.Repeat([]byte{0xA5}, 8+len(want))
		got, err := codecs[v.kind].encode(buf[:8], v.v)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if &got[0] != &buf[0] {
			t.Fatalf("%s: appended elsewhere with the capacity there", v.name)
		}
		if !bytes.Equal(got[8:], want) {
			t.Errorf("%s: over old bytes\n got %x\nwant %x", v.name, got[8:], want)
		}
	}
}

func TestLongerRecordsDecode(t *testing.T) {
	// A fixed-size record from a newer minor version has fields appended;
	// a reader of this version decodes the fields it knows.
	for _, v := range vectorTable() {
		if v.kind == KindBookSnapshot || v.kind == KindBookChange || v.kind == KindInstrument || v.kind == KindParam {
			continue
		}
		b := encodeGo(t, v)
		longer := append(append([]byte{}, b...), bytes.Repeat([]byte{0xAB}, 24)...)
		put16(longer, OffSize, uint16(len(longer)))
		got, err := codecs[v.kind].decode(longer)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		want, _ := codecs[v.kind].decode(b)
		if js1, js2 := mustJSON(t, got), mustJSON(t, want); !bytes.Equal(js1, js2) {
			t.Errorf("%s: %s != %s", v.name, js1, js2)
		}
	}
}

func TestReservedZero(t *testing.T) {
	p := AppendPlace(nil, &Place{CID: 1, Label: NewStr32("ab")})
	if !ReservedZero(p) {
		t.Fatal("clean place")
	}
	for _, off := range []int{23, 26, 27, 28, 31, 48 + 3} {
		q := append([]byte{}, p...)
		q[off] = 1
		if ReservedZero(q) {
			t.Errorf("byte %d set, ReservedZero true", off)
		}
	}
	prm, _ := AppendParam(nil, &Param{Type: ParamString, Key: "k", Text: "v"})
	if !ReservedZero(prm) {
		t.Fatal("clean param")
	}
	prm[len(prm)-1] = 1
	if ReservedZero(prm) {
		t.Error("param padding set, ReservedZero true")
	}
	if ReservedZero(nil) || ReservedZero(rawRecord(0xF000, 8, 0)) || ReservedZero(p[:40]) {
		t.Error("ReservedZero true on a short or unknown record")
	}
}

func TestKinds(t *testing.T) {
	for k, ki := range kinds {
		if ki.minSize%Align != 0 || ki.minSize < HeaderSize {
			t.Errorf("%v: min size %d", k, ki.minSize)
		}
		if got, ok := KindByName(k.String()); !ok || got != k {
			t.Errorf("KindByName(%v)", k)
		}
		if k.Class() == ClassUnknown {
			t.Errorf("%v has no class", k)
		}
		var back Kind
		js, _ := k.MarshalJSON()
		if err := back.UnmarshalJSON(js); err != nil || back != k {
			t.Errorf("%v: JSON %s -> %v %v", k, js, back, err)
		}
	}
	if Kind(0x02F0).String() != "0x02f0" || Kind(0).Known() || Kind(0xF000).Class() != ClassUnknown {
		t.Error("unknown kinds")
	}
	var k Kind
	if k.UnmarshalJSON([]byte(`"0x02f0"`)) != nil || k != 0x02F0 || k.UnmarshalJSON([]byte(`"nope"`)) == nil {
		t.Error("Kind.UnmarshalJSON")
	}
}
