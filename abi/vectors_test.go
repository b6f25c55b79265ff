package abi

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/abi/vectors.json from the Go tables")

const vectorsPath = "../testdata/abi/vectors.json"

// The format of vectors.json; testdata/abi/README.md documents it for SDK
// authors.
type vectorFile struct {
	ABI         string          `json:"abi"`
	Doc         string          `json:"doc"`
	Records     []recordVector  `json:"records"`
	Batches     []batchVector   `json:"batches"`
	Invalid     []invalidVector `json:"invalid"`
	Fixed       []fixedVector   `json:"fixed"`
	Markers     []markerVector  `json:"markers"`
	Descriptors []descVector    `json:"descriptors"`
}

type recordVector struct {
	Name  string          `json:"name"`
	Kind  string          `json:"kind"`
	Value json.RawMessage `json:"value"`
	Hex   string          `json:"hex"`
}

type batchRecord struct {
	Offset int    `json:"offset"`
	Kind   string `json:"kind"`
	Size   int    `json:"size"`
	Seq    uint32 `json:"seq"`
	Known  bool   `json:"known"`
}

type batchVector struct {
	Name    string        `json:"name"`
	Hex     string        `json:"hex"`
	Records []batchRecord `json:"records"`
	Error   *vectorError  `json:"error"`
}

type vectorError struct {
	Error  string `json:"error"`
	Offset int    `json:"offset"`
}

type invalidVector struct {
	Name     string `json:"name"`
	DecodeAs string `json:"decode_as"`
	Hex      string `json:"hex"`
	Error    string `json:"error"`
}

type fixedVector struct {
	Text  string `json:"text"`
	Units *int64 `json:"units"` // null: ParseFixed refuses the text
}

type markerVector struct {
	Export  string   `json:"export"`
	Version *Version `json:"version"` // null: not a marker
}

type descVector struct {
	Name  string         `json:"name"`
	Value descriptorJSON `json:"value"`
	Hex   string         `json:"hex"`
}

type descriptorJSON struct {
	Version   Version  `json:"version"`
	Features  Features `json:"features"`
	InboxPtr  uint32   `json:"inbox_ptr"`
	InboxCap  uint32   `json:"inbox_cap"`
	OutboxPtr uint32   `json:"outbox_ptr"`
	OutboxCap uint32   `json:"outbox_cap"`
}

// errName is the name vectors.json gives each sentinel error.
func errName(err error) string {
	for _, e := range []struct {
		err  error
		name string
	}{{ErrTruncated, "truncated"}, {ErrBadSize, "bad_size"}, {ErrShortRecord, "short_record"},
		{ErrBadLength, "bad_length"}, {ErrWrongKind, "wrong_kind"}} {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	if err == nil {
		return ""
	}
	return "other: " + err.Error()
}

func encodeGo(t testing.TB, v goVector) []byte {
	t.Helper()
	b, err := codecs[v.kind].encode(nil, v.v)
	if err != nil {
		t.Fatalf("%s: encode: %v", v.name, err)
	}
	return b
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func rawRecord(k Kind, size int, seq uint32, body ...byte) []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(body))
	putHeader(b, k, size, seq)
	return append(b, body...)
}

// startupBlob is the start-up blob of the "startup" batch vector, built from
// the table's start, instrument, param and position vectors.
func startupBlob(t testing.TB) []byte {
	s := Startup{}
	for _, v := range vectorTable() {
		switch x := v.v.(type) {
		case *Start:
			s.Start = *x
		case *Instrument:
			s.Instruments = append(s.Instruments, *x)
		case *Param:
			if len(s.Params) < 2 {
				s.Params = append(s.Params, *x)
			}
		case *Position:
			if len(s.Positions) < 1 {
				s.Positions = append(s.Positions, *x)
			}
		}
	}
	b, err := AppendStartup(nil, &s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func batchTable(t testing.TB) []struct {
	name string
	buf  []byte
} {
	var tk, tr []byte
	for _, v := range vectorTable() {
		switch v.name {
		case "ticker_perpetual":
			tk = encodeGo(t, v)
		case "trade_buy":
			tr = encodeGo(t, v)
		}
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	unknownEvent := rawRecord(0x00F7, 24, 99, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
	experimental := rawRecord(0xF001, 8, 0)
	longerTicker := append(rawRecord(KindTicker, SizeTicker+16, 6), append(append([]byte{}, tk[8:]...), make([]byte, 16)...)...)
	return []struct {
		name string
		buf  []byte
	}{
		{"empty", nil},
		{"ticker_and_trade", cat(tk, tr)},
		{"unknown_kinds_are_skipped", cat(tk, unknownEvent, experimental, tr)},
		{"longer_record_from_a_newer_minor", cat(longerTicker, tr)},
		{"startup", startupBlob(t)},
		{"error_size_not_multiple_of_8", cat(tk, rawRecord(KindTrade, 44, 0, make([]byte, 36)...))},
		{"error_size_below_header", cat(tr, make([]byte, 16))},
		{"error_header_cut", cat(tk, tr[:4])},
		{"error_size_past_end", cat(tk, tr[:40])},
	}
}

func invalidTable(t testing.TB) []struct {
	name, as string
	buf      []byte
} {
	var tk, pl, bk, in []byte
	for _, v := range vectorTable() {
		switch v.name {
		case "ticker_perpetual":
			tk = encodeGo(t, v)
		case "place_limit_post_only":
			pl = encodeGo(t, v)
		case "book_change_delete_and_set":
			bk = encodeGo(t, v)
		case "instrument_btc_perpetual":
			in = encodeGo(t, v)
		}
	}
	shortPlace := append([]byte{}, pl[:72]...)
	put16(shortPlace, OffSize, 72)
	badCount := append([]byte{}, bk...)
	put16(badCount, 14, 1) // one ask more than the size holds
	extraLevel := append(append([]byte{}, bk...), make([]byte, 16)...)
	put16(extraLevel, OffSize, uint16(len(extraLevel))) // size with a level the counts do not claim
	badSteps := append([]byte{}, in...)
	badSteps[15] = 1
	noKey := rawRecord(KindParam, 32, 0, make([]byte, 24)...)
	put32(noKey, 12, 8)
	return []struct {
		name, as string
		buf      []byte
	}{
		{"place_shorter_than_layout", "place", shortPlace},
		{"ticker_decoded_as_place", "place", tk},
		{"book_counts_exceed_size", "book_change", badCount},
		{"book_size_exceeds_counts", "book_change", extraLevel},
		{"instrument_steps_exceed_size", "instrument", badSteps},
		{"param_without_key", "param", noKey},
		{"place_cut_by_buffer", "place", pl[:64]},
		{"cancel_size_not_multiple_of_8", "cancel", rawRecord(KindCancel, 12, 0, make([]byte, 8)...)},
	}
}

var fixedTexts = []string{"0", "1", "-1", "65000.5", "0.0005", "-0.00000046", "0.00000001", "10",
	"92233720368.54775807", "-92233720368.54775808", "1.5",
	"0.000000001", "92233720368.54775808", "1e-5", "+1", ".5", "1.", "", "-", "1.50"}

var markerNames = []string{"stratbox_abi_v1_0", "stratbox_abi_v1_12", "stratbox_abi_v2_0", "stratbox_abi_v1",
	"stratbox_abi_v01_0", "stratbox_abi_v1_0_0", "stratbox_abi_v1.0", "strategy_abi_v1"}

func descTable() []Descriptor {
	return []Descriptor{
		{Version: Version{1, 0}, Features: FeatureBookContinuation, InboxPtr: 0x10000, InboxCap: 0x10000,
			OutboxPtr: 0x20000, OutboxCap: 0x1000},
	}
}

func generateVectors(t testing.TB) []byte {
	f := vectorFile{ABI: Current.String(), Doc: "stratbox ABI test vectors; format in testdata/abi/README.md, layouts in abi/README.md"}
	for _, v := range vectorTable() {
		b := encodeGo(t, v)
		js, err := RecordJSON(b)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		f.Records = append(f.Records, recordVector{v.name, v.kind.String(), js, hex.EncodeToString(b)})
	}
	for _, bt := range batchTable(t) {
		bv := batchVector{Name: bt.name, Hex: hex.EncodeToString(bt.buf), Records: []batchRecord{}}
		for rec, err := range Records(bt.buf) {
			if err != nil {
				bv.Error = &vectorError{errName(err), err.(*DecodeError).Offset}
				break
			}
			bv.Records = append(bv.Records, batchRecord{rec.Offset, rec.Kind.String(), int(rec.Size), rec.Seq, rec.Kind.Known()})
		}
		f.Batches = append(f.Batches, bv)
	}
	for _, iv := range invalidTable(t) {
		k, _ := KindByName(iv.as)
		_, err := codecs[k].decode(iv.buf)
		if err == nil {
			t.Fatalf("invalid vector %s decodes", iv.name)
		}
		f.Invalid = append(f.Invalid, invalidVector{iv.name, iv.as, hex.EncodeToString(iv.buf), errName(err)})
	}
	for _, s := range fixedTexts {
		fv := fixedVector{Text: s}
		if x, err := ParseFixed(s); err == nil {
			u := int64(x)
			fv.Units = &u
		}
		f.Fixed = append(f.Fixed, fv)
	}
	for _, m := range markerNames {
		mv := markerVector{Export: m}
		if v, ok := ParseMarker(m); ok {
			mv.Version = &v
		}
		f.Markers = append(f.Markers, mv)
	}
	for i, d := range descTable() {
		f.Descriptors = append(f.Descriptors, descVector{Name: "descriptor_" + string(rune('a'+i)),
			Value: descriptorJSON{d.Version, d.Features, d.InboxPtr, d.InboxCap, d.OutboxPtr, d.OutboxCap},
			Hex:   hex.EncodeToString(AppendDescriptor(nil, &d))})
	}
	return marshalVectors(t, &f)
}

// marshalVectors writes f with one array element per line, so that a diff
// of vectors.json shows which vectors changed.
func marshalVectors(t testing.TB, f *vectorFile) []byte {
	var b bytes.Buffer
	enc := func(v any) []byte {
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	fmt.Fprintf(&b, "{\n  \"abi\": %s,\n  \"doc\": %s", enc(f.ABI), enc(f.Doc))
	section := func(name string, n int, elem func(i int) any) {
		fmt.Fprintf(&b, ",\n  %q: [", name)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("\n    ")
			b.Write(enc(elem(i)))
		}
		b.WriteString("\n  ]")
	}
	section("records", len(f.Records), func(i int) any { return f.Records[i] })
	section("batches", len(f.Batches), func(i int) any { return f.Batches[i] })
	section("invalid", len(f.Invalid), func(i int) any { return f.Invalid[i] })
	section("fixed", len(f.Fixed), func(i int) any { return f.Fixed[i] })
	section("markers", len(f.Markers), func(i int) any { return f.Markers[i] })
	section("descriptors", len(f.Descriptors), func(i int) any { return f.Descriptors[i] })
	b.WriteString("\n}\n")
	return b.Bytes()
}

// TestVectors checks testdata/abi/vectors.json the way every SDK must, and
// that it is what the Go tables generate (go test ./abi -run TestVectors
// -update rewrites it).
func TestVectors(t *testing.T) {
	want := generateVectors(t)
	if *update {
		if err := os.WriteFile(vectorsPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("%v (run go test ./abi -run TestVectors -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the Go tables generate; run go test ./abi -run TestVectors -update and review the diff", vectorsPath)
	}
	var f vectorFile
	d := json.NewDecoder(bytes.NewReader(got))
	d.DisallowUnknownFields()
	if err := d.Decode(&f); err != nil {
		t.Fatal(err)
	}
	if f.ABI != Current.String() {
		t.Errorf("abi %q, want %q", f.ABI, Current)
	}

	table := map[string]goVector{}
	for _, v := range vectorTable() {
		table[v.name] = v
	}
	seen := map[Kind]bool{}
	for _, rv := range f.Records {
		t.Run("record/"+rv.Name, func(t *testing.T) {
			b := mustHex(rv.Hex)
			// encode(value) == bytes
			enc, err := AppendRecordFromJSON(nil, rv.Value)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, b) {
				t.Errorf("encode(value)\n got %x\nwant %x", enc, b)
			}
			// decode(bytes) == value
			js, err := RecordJSON(b)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, js, rv.Value) {
				t.Errorf("decode(bytes)\n got %s\nwant %s", js, rv.Value)
			}
			h := ReadHeader(b)
			seen[h.Kind] = true
			if h.Kind.String() != rv.Kind || int(h.Size) != len(b) {
				t.Errorf("header %+v, want kind %s size %d", h, rv.Kind, len(b))
			}
			if !ReservedZero(b) {
				t.Error("reserved bytes are not zero")
			}
			// decode(bytes) == the Go value
			gv, ok := table[rv.Name]
			if !ok {
				t.Fatal("not in the Go table")
			}
			v, err := codecs[h.Kind].decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v, gv.v) {
				t.Errorf("decode\n got %+v\nwant %+v", v, gv.v)
			}
		})
	}
	for k := range kinds {
		if !seen[k] {
			t.Errorf("no vector for kind %v", k)
		}
	}
	for _, bv := range f.Batches {
		t.Run("batch/"+bv.Name, func(t *testing.T) {
			var recs []batchRecord
			var verr *vectorError
			for rec, err := range Records(mustHex(bv.Hex)) {
				if err != nil {
					verr = &vectorError{errName(err), err.(*DecodeError).Offset}
					break
				}
				recs = append(recs, batchRecord{rec.Offset, rec.Kind.String(), int(rec.Size), rec.Seq, rec.Kind.Known()})
			}
			if len(recs) != len(bv.Records) || (len(recs) > 0 && !reflect.DeepEqual(recs, bv.Records)) {
				t.Errorf("records %+v, want %+v", recs, bv.Records)
			}
			if !reflect.DeepEqual(verr, bv.Error) {
				t.Errorf("error %+v, want %+v", verr, bv.Error)
			}
		})
	}
	for _, iv := range f.Invalid {
		t.Run("invalid/"+iv.Name, func(t *testing.T) {
			k, ok := KindByName(iv.DecodeAs)
			if !ok {
				t.Fatalf("decode_as %q", iv.DecodeAs)
			}
			_, err := codecs[k].decode(mustHex(iv.Hex))
			if got := errName(err); got != iv.Error {
				t.Errorf("error %q (%v), want %q", got, err, iv.Error)
			}
		})
	}
	for _, fv := range f.Fixed {
		x, err := ParseFixed(fv.Text)
		switch {
		case fv.Units == nil && err == nil:
			t.Errorf("ParseFixed(%q) = %d, want an error", fv.Text, x)
		case fv.Units != nil && (err != nil || int64(x) != *fv.Units):
			t.Errorf("ParseFixed(%q) = %d, %v; want %d", fv.Text, x, err, *fv.Units)
		case fv.Units != nil && fv.Text != "1.50" && x.String() != fv.Text:
			t.Errorf("%d renders as %q, want %q", x, x.String(), fv.Text)
		}
	}
	for _, mv := range f.Markers {
		v, ok := ParseMarker(mv.Export)
		if ok != (mv.Version != nil) || ok && v != *mv.Version {
			t.Errorf("ParseMarker(%q) = %v, %v; want %v", mv.Export, v, ok, mv.Version)
		}
	}
	for _, dv := range f.Descriptors {
		d, err := DecodeDescriptor(mustHex(dv.Hex))
		if err != nil {
			t.Fatal(err)
		}
		w := dv.Value
		if d != (Descriptor{w.Version, w.Features, w.InboxPtr, w.InboxCap, w.OutboxPtr, w.OutboxCap}) {
			t.Errorf("%s: %+v, want %+v", dv.Name, d, w)
		}
	}
}

// jsonEqual compares two JSON texts as values, numbers by their text.
func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	for _, p := range []struct {
		in  []byte
		out *any
	}{{a, &va}, {b, &vb}} {
		d := json.NewDecoder(bytes.NewReader(p.in))
		d.UseNumber()
		if err := d.Decode(p.out); err != nil {
			t.Fatal(err)
		}
	}
	return reflect.DeepEqual(va, vb)
}
