package abi

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRoundTrip: for every vector, binary → Go → binary and binary → JSON →
// binary give the same bytes, and appending after other records works.
func TestRoundTrip(t *testing.T) {
	for _, v := range vectorTable() {
		t.Run(v.name, func(t *testing.T) {
			b := encodeGo(t, v)
			if len(b)%8 != 0 || len(b) < v.kind.MinSize() {
				t.Fatalf("size %d", len(b))
			}
			got, err := codecs[v.kind].decode(b)
			if err != nil {
				t.Fatal(err)
			}
			b2, _ := codecs[v.kind].encode(nil, got)
			if !bytes.Equal(b, b2) {
				t.Fatalf("re-encode\n got %x\nwant %x", b2, b)
			}
			js, err := RecordJSON(b)
			if err != nil {
				t.Fatal(err)
			}
			b3, err := AppendRecordFromJSON([]byte("prefix!!"), js)
			if err != nil {
				t.Fatalf("%s: %v", js, err)
			}
			if !bytes.Equal(b3[8:], b) || string(b3[:8]) != "prefix!!" {
				t.Fatalf("JSON round trip\n got %x\nwant %x", b3[8:], b)
			}
		})
	}
}

func TestBookDecodeReusesSlices(t *testing.T) {
	b := &Book{Bids: make([]Level, 3), Asks: make([]Level, 2)}
	for i := range b.Bids {
		b.Bids[i] = Level{Fixed(i + 1), Fixed(10 * (i + 1))}
	}
	rec, err := AppendBookChange(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	var dst Book
	if err := DecodeBook(rec, &dst); err != nil {
		t.Fatal(err)
	}
	bids := &dst.Bids[:1][0]
	if err := DecodeBook(rec, &dst); err != nil || &dst.Bids[0] != bids {
		t.Fatal("slices not reused")
	}
	nb, na, lv, err := BookLevels(rec)
	if err != nil || nb != 3 || na != 2 || LevelAt(lv, 2) != b.Bids[2] || LevelAt(lv, 4) != b.Asks[1] {
		t.Fatalf("BookLevels %d %d %v", nb, na, err)
	}
	if _, _, _, err := BookLevels(rec[:40]); err == nil {
		t.Fatal("BookLevels of a cut record")
	}
}

func TestVariableLimits(t *testing.T) {
	big := &Book{Bids: make([]Level, MaxBookLevels)}
	rec, err := AppendBookSnapshot(nil, big)
	if err != nil || len(rec) != SizeBookFixed+SizeLevel*MaxBookLevels || len(rec) > MaxRecordSize {
		t.Fatalf("max book: %d %v", len(rec), err)
	}
	var back Book
	if err := DecodeBook(rec, &back); err != nil || len(back.Bids) != MaxBookLevels {
		t.Fatal(err)
	}
	big.Asks = make([]Level, 1)
	if out, err := AppendBookSnapshot([]byte{1}, big); err == nil || len(out) != 1 {
		t.Fatal("book over the limit encoded")
	}
	in := &Instrument{TickSteps: make([]TickStep, MaxTickSteps)}
	if rec, err := AppendInstrument(nil, in); err != nil || len(rec) > MaxRecordSize {
		t.Fatal(err)
	}
	in.TickSteps = append(in.TickSteps, TickStep{})
	if _, err := AppendInstrument(nil, in); err == nil {
		t.Fatal("too many tick steps encoded")
	}
	p := &Param{Type: ParamString, Key: "k", Text: strings.Repeat("x", MaxParamBytes-1)}
	if rec, err := AppendParam(nil, p); err != nil || len(rec) != MaxRecordSize {
		t.Fatalf("max param: %d %v", len(rec), err)
	}
	p.Text += "x"
	if _, err := AppendParam(nil, p); err == nil {
		t.Fatal("param over the limit encoded")
	}
	if _, err := AppendParam(nil, &Param{Type: ParamInt}); err == nil {
		t.Fatal("param without key encoded")
	}
}

func TestParamValues(t *testing.T) {
	for _, p := range []Param{
		{Type: ParamFloat, Key: "a", Float: math.Inf(1)},
		{Type: ParamFloat, Key: "b", Float: math.Inf(-1)},
		{Type: ParamFloat, Key: "c", Float: 1e300},
		{Type: ParamInt, Key: "d", Int: math.MinInt64},
		{Type: ParamBool, Key: "e"},
		{Type: ParamType(9), Key: "f", Text: "future type"},
	} {
		rec, err := AppendParam(nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		js, err := RecordJSON(rec)
		if err != nil {
			t.Fatal(err)
		}
		back, err := AppendRecordFromJSON(nil, js)
		if err != nil || !bytes.Equal(back, rec) {
			t.Errorf("%s: %x != %x (%v)", js, back, rec, err)
		}
	}
	nan, _ := AppendParam(nil, &Param{Type: ParamFloat, Key: "n", Float: math.NaN()})
	var p Param
	if js, _ := RecordJSON(nan); !bytes.Contains(js, []byte(`"nan"`)) {
		t.Errorf("NaN renders as %s", js)
	} else if err := DecodeParam(nan, &p); err != nil || !math.IsNaN(p.Float) {
		t.Error("NaN param")
	}
	// Text is ignored for typed values.
	rec, _ := AppendParam(nil, &Param{Type: ParamInt, Key: "k", Int: 5, Text: "ignored"})
	if err := DecodeParam(rec, &p); err != nil || p.Text != "" || p.Int != 5 {
		t.Errorf("%+v %v", p, err)
	}
}

func TestJSONErrors(t *testing.T) {
	for _, js := range []string{
		`not json`,
		`{"kind":"nope"}`,
		`{"kind":"0xf00d"}`,
		`{"kind":"place","bogus":1}`,
		`{"kind":"place","price":1.123456789}`,
		`{"kind":"place","side":"up"}`,
		`{"kind":"place","flags":["fast"]}`,
		`{"kind":"place","label":"0123456789abcdef0123456789abcdefX"}`,
		`{"kind":"place","label":"a\u0000b"}`,
		`{"kind":"order_update","reason":"bad_luck"}`,
		`{"kind":"param","key":"k","type":"int","value":"x"}`,
		`{"kind":"param","key":"k","type":"float","value":"fast"}`,
		`{"kind":"param","key":"","type":"int","value":1}`,
		`{"kind":"start","host_version":"1"}`,
		`{"kind":"book_change","bids":[[1]]}`,
	} {
		if b, err := AppendRecordFromJSON(nil, []byte(js)); err == nil {
			t.Errorf("%s: no error (%x)", js, b)
		}
	}
	// Unknown enum values and flag bits survive a JSON round trip.
	rec := AppendPlace(nil, &Place{Side: 7, Type: 9, TIF: 200, Flags: 1 << 9})
	js, err := RecordJSON(rec)
	if err != nil || !bytes.Contains(js, []byte(`"side":7`)) || !bytes.Contains(js, []byte(`"bit9"`)) {
		t.Fatalf("%s %v", js, err)
	}
	back, err := AppendRecordFromJSON(nil, js)
	if err != nil || !bytes.Equal(back, rec) {
		t.Fatalf("%x %v", back, err)
	}
	ou := AppendOrderUpdate(nil, &OrderUpdate{Reason: 999})
	if js, _ := RecordJSON(ou); !bytes.Contains(js, []byte(`"reason":999`)) {
		t.Errorf("%s", js)
	}
	if _, err := RecordJSON(rawRecord(0xF000, 8, 0)); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := EventJSON(AppendCancel(nil, &Cancel{})); !errors.Is(err, ErrWrongKind) {
		t.Errorf("EventJSON(intent): %v", err)
	}
	if _, err := IntentJSON(AppendTimer(nil, &Timer{})); !errors.Is(err, ErrWrongKind) {
		t.Errorf("IntentJSON(event): %v", err)
	}
	if js, err := IntentJSON(AppendCancel(nil, &Cancel{CID: 5})); err != nil || string(js) != `{"kind":"cancel","seq":0,"cid":5}` {
		t.Errorf("IntentJSON: %s %v", js, err)
	}
}

func TestBatchJSON(t *testing.T) {
	buf := AppendTimer(nil, &Timer{Seq: 1, ID: 3})
	buf = append(buf, rawRecord(0x00EE, 16, 2, 1, 2, 3, 4, 5, 6, 7, 8)...)
	js, err := BatchJSON(buf)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	if err := json.Unmarshal(js, &out); err != nil || len(out) != 2 || out[1]["kind"] != "0x00ee" || out[1]["hex"] != "ee00100002000000"+"0102030405060708" {
		t.Fatalf("%s %v", js, err)
	}
	if js, err := BatchJSON(nil); err != nil || string(js) != "[]" {
		t.Fatalf("%s %v", js, err)
	}
	bad := append(buf, rawRecord(KindTimer, 16, 0, make([]byte, 8)...)...) // a timer too short
	if js, err := BatchJSON(bad); !errors.Is(err, ErrShortRecord) || err.(*DecodeError).Offset != len(buf) {
		t.Fatalf("%s %v", js, err)
	}
	if _, err := BatchJSON(buf[:20]); !errors.Is(err, ErrTruncated) {
		t.Fatalf("%v", err)
	}
}

func TestStrings(t *testing.T) {
	s := NewStr32("mm-1")
	if s.String() != "mm-1" || string(s.Bytes()) != "mm-1" {
		t.Fatal(s)
	}
	full := NewStr8("ABCDEFGHIJ")
	if full.String() != "ABCDEFGH" {
		t.Fatal(full.String())
	}
	n := NewStr64("BTC-PERPETUAL")
	if n.String() != "BTC-PERPETUAL" || len(n.Bytes()) != 13 {
		t.Fatal(n)
	}
	var back Str64
	if err := back.UnmarshalJSON(mustJSON(t, n)); err != nil || back != n {
		t.Fatal(err)
	}
}

func TestEnumsAndFlags(t *testing.T) {
	if Buy.String() != "buy" || Side(9).String() != "9" || FillOrKill.String() != "fill_or_kill" ||
		StateRejected.String() != "rejected" || Taker.String() != "taker" || Option.String() != "option" ||
		Put.String() != "put" || ParamTOML.String() != "toml" || Market.String() != "market" {
		t.Error("enum names")
	}
	if (PostOnly|ReduceOnly).String() != "post_only|reduce_only" || OrderFlags(0).String() != "0" ||
		(BookFlags(1<<15)).String() != "bit15" || TickerClosed.String() != "closed" ||
		TradeBlock.String() != "block" || PositionAccount.String() != "account" ||
		PoolMaintenance.String() != "maintenance" || InstrumentInverse.String() != "inverse" ||
		FeatureBookContinuation.String() != "book_continuation" {
		t.Error("flag names")
	}
	if ReasonRiskRate.String() != "risk_rate" || Reason(77).String() != "77" || !ReasonBadTick.IsRefusal() || ReasonUnfilled.IsRefusal() {
		t.Error("reasons")
	}
	var f Features
	if err := f.UnmarshalJSON([]byte(`["book_continuation","bit31"]`)); err != nil || f != 1|1<<31 {
		t.Error(f, err)
	}
	if err := f.UnmarshalJSON([]byte(`["bit32"]`)); err == nil {
		t.Error("bit32 of a u32 accepted")
	}
	var s Side
	if err := s.UnmarshalJSON([]byte(`256`)); err == nil {
		t.Error("side 256 accepted")
	}
	var r Reason
	if err := r.UnmarshalJSON([]byte(`"post_only_reject"`)); err != nil || r != ReasonPostOnlyReject {
		t.Error(r, err)
	}
	// Every reason name is distinct and every code is in a documented range.
	names := map[string]bool{}
	for code, n := range reasonNames {
		if names[n] {
			t.Errorf("duplicate %s", n)
		}
		names[n] = true
		if code > 399 {
			t.Errorf("%v out of range", code)
		}
	}
}

func TestInstrumentTickAt(t *testing.T) {
	in := Instrument{TickSize: fx8("0.0001"), TickSteps: []TickStep{{fx8("0.005"), fx8("0.0005")}, {fx8("1"), fx8("0.01")}}}
	for _, c := range []struct{ p, want string }{{"0.001", "0.0001"}, {"0.005", "0.0001"}, {"0.0055", "0.0005"}, {"2", "0.01"}} {
		if got := in.TickAt(fx8(c.p)); got != fx8(c.want) {
			t.Errorf("TickAt(%s) = %v", c.p, got)
		}
	}
}

func TestDescriptor(t *testing.T) {
	d := descTable()[0]
	b := AppendDescriptor(nil, &d)
	back, err := DecodeDescriptor(b)
	if err != nil || !reflect.DeepEqual(back, d) {
		t.Fatal(back, err)
	}
	if err := d.Check(Version{1, 0}, 1<<20); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		mod  func(*Descriptor)
		mem  uint64
		want string
	}{
		{"version", func(d *Descriptor) { d.Version.Minor = 1 }, 1 << 20, "marker export says 1.0"},
		{"unaligned", func(d *Descriptor) { d.InboxPtr += 4 }, 1 << 20, "not 8-aligned"},
		{"small inbox", func(d *Descriptor) { d.InboxCap = 4096 }, 1 << 20, "below the minimum 65536"},
		{"small outbox", func(d *Descriptor) { d.OutboxCap = 512 }, 1 << 20, "below the minimum 1024"},
		{"zero", func(d *Descriptor) { d.OutboxPtr = 0 }, 1 << 20, "address 0"},
		{"outside", func(d *Descriptor) {}, 0x20000, "outside memory"},
		{"overlap", func(d *Descriptor) { d.OutboxPtr = d.InboxPtr + 8 }, 1 << 20, "overlap"},
	}
	for _, c := range bad {
		d2 := d
		c.mod(&d2)
		if err := d2.Check(Version{1, 0}, c.mem); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	b[30] = 1
	if _, err := DecodeDescriptor(b); err == nil {
		t.Error("reserved bytes accepted")
	}
	if _, err := DecodeDescriptor(b[:31]); err == nil {
		t.Error("short descriptor accepted")
	}
}
