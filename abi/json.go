package abi

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// The JSON rendering of records, for logs, traces, golden files and the test
// vectors; never for the hot path (it uses encoding/json and allocates).
//
// A record renders as one JSON object: "kind" (the kind's name), then "seq"
// and the fields of the record's Go type under their json tags, in the Go
// type's field order. Fixed values are JSON numbers written as exact
// decimals; enumerations are names; flag sets are arrays of names; strings
// are JSON strings; u64 fields are JSON numbers (which may exceed 2^53).
// README.md "JSON rendering" has every field name.

type codec struct {
	decode func(rec []byte) (any, error)
	encode func(dst []byte, v any) ([]byte, error)
	new    func() any
}

func fixedCodec[T any](dec func([]byte, *T) error, enc func([]byte, *T) []byte) codec {
	return codec{
		decode: func(b []byte) (any, error) { v := new(T); return v, dec(b, v) },
		encode: func(dst []byte, v any) ([]byte, error) { return enc(dst, v.(*T)), nil },
		new:    func() any { return new(T) },
	}
}

func varCodec[T any](dec func([]byte, *T) error, enc func([]byte, *T) ([]byte, error)) codec {
	return codec{
		decode: func(b []byte) (any, error) { v := new(T); return v, dec(b, v) },
		encode: func(dst []byte, v any) ([]byte, error) { return enc(dst, v.(*T)) },
		new:    func() any { return new(T) },
	}
}

var codecs = map[Kind]codec{
	KindBookSnapshot:   varCodec(decodeBookJSON, AppendBookSnapshot),
	KindBookChange:     varCodec(decodeBookJSON, AppendBookChange),
	KindTicker:         fixedCodec(DecodeTicker, AppendTicker),
	KindTrade:          fixedCodec(DecodeTrade, AppendTrade),
	KindOrderUpdate:    fixedCodec(DecodeOrderUpdate, AppendOrderUpdate),
	KindFill:           fixedCodec(DecodeFill, AppendFill),
	KindPosition:       fixedCodec(DecodePosition, AppendPosition),
	KindPoolState:      fixedCodec(DecodePoolState, AppendPoolState),
	KindTimer:          fixedCodec(DecodeTimer, AppendTimer),
	KindIntentRejected: fixedCodec(DecodeIntentRejected, AppendIntentRejected),
	KindStart:          fixedCodec(DecodeStart, AppendStart),
	KindInstrument:     varCodec(decodeInstrumentJSON, AppendInstrument),
	KindParam:          varCodec(DecodeParam, AppendParam),
	KindPlace:          fixedCodec(DecodePlace, AppendPlace),
	KindAmend:          fixedCodec(DecodeAmend, AppendAmend),
	KindCancel:         fixedCodec(DecodeCancel, AppendCancel),
	KindCancelAll:      fixedCodec(DecodeCancelAll, AppendCancelAll),
}

// decodeBookJSON renders empty sides as [] rather than null.
func decodeBookJSON(rec []byte, b *Book) error {
	err := DecodeBook(rec, b)
	if b.Bids == nil {
		b.Bids = []Level{}
	}
	if b.Asks == nil {
		b.Asks = []Level{}
	}
	return err
}

func decodeInstrumentJSON(rec []byte, in *Instrument) error {
	err := DecodeInstrument(rec, in)
	if in.TickSteps == nil {
		in.TickSteps = []TickStep{}
	}
	return err
}

// RecordJSON renders one record (rec starts with its header) of any kind
// this version defines. A kind it does not define is an error wrapping
// ErrUnknownKind; BatchJSON renders those too.
func RecordJSON(rec []byte) ([]byte, error) {
	h, r, _, err := NextRecord(rec)
	if err != nil {
		return nil, err
	}
	c, ok := codecs[h.Kind]
	if !ok {
		return nil, decodeErr(ErrUnknownKind, h.Kind, int(h.Size), "")
	}
	v, err := c.decode(r)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := append([]byte(`{"kind":`), strconv.Quote(h.Kind.String())...)
	if len(body) > 2 {
		out = append(out, ',')
	}
	return append(out, body[1:]...), nil
}

// EventJSON renders an event record; it refuses records of other classes.
func EventJSON(rec []byte) ([]byte, error) { return classJSON(rec, ClassEvent) }

// IntentJSON renders an intent record; it refuses records of other classes.
func IntentJSON(rec []byte) ([]byte, error) { return classJSON(rec, ClassIntent) }

func classJSON(rec []byte, c Class) ([]byte, error) {
	if len(rec) >= HeaderSize {
		if k := ReadHeader(rec).Kind; k.Class() != c {
			return nil, decodeErr(ErrWrongKind, k, int(ReadHeader(rec).Size), "not of the expected class")
		}
	}
	return RecordJSON(rec)
}

// BatchJSON renders every record of buf as a JSON array, one record per
// line. A record of a kind this version does not define renders as
// {"kind":"0x1234","seq":N,"size":N,"hex":"..."}. A framing error ends the
// array and is returned with what was rendered so far.
func BatchJSON(buf []byte) ([]byte, error) {
	out := []byte{'['}
	n := 0
	for rec, err := range Records(buf) {
		if err != nil {
			return append(out, ']'), err
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, '\n')
		n++
		if !rec.Kind.Known() {
			out = fmt.Appendf(out, `{"kind":%q,"seq":%d,"size":%d,"hex":%q}`,
				rec.Kind.String(), rec.Seq, rec.Size, hex.EncodeToString(rec.Bytes))
			continue
		}
		js, err := RecordJSON(rec.Bytes)
		if err != nil {
			if de, ok := err.(*DecodeError); ok {
				de.Offset = rec.Offset
			}
			return append(out, ']'), err
		}
		out = append(out, js...)
	}
	if n > 0 {
		out = append(out, '\n')
	}
	return append(out, ']'), nil
}

// AppendRecordFromJSON parses one record's JSON rendering (as RecordJSON
// writes it) and appends its binary encoding to dst. Unknown fields are
// errors; absent fields are zero.
func AppendRecordFromJSON(dst []byte, js []byte) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(js, &fields); err != nil {
		return dst, fmt.Errorf("abi: record JSON: %w", err)
	}
	var k Kind
	if err := k.UnmarshalJSON(fields["kind"]); err != nil {
		return dst, fmt.Errorf("abi: record JSON: %w", err)
	}
	c, ok := codecs[k]
	if !ok {
		return dst, fmt.Errorf("%w %v", ErrUnknownKind, k)
	}
	delete(fields, "kind")
	rest, err := json.Marshal(fields)
	if err != nil {
		return dst, err
	}
	v := c.new()
	d := json.NewDecoder(bytes.NewReader(rest))
	d.DisallowUnknownFields()
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return dst, fmt.Errorf("abi: %v JSON: %w", k, err)
	}
	return c.encode(dst, v)
}

// paramJSON is Param's JSON shape.
type paramJSON struct {
	Seq   uint32          `json:"seq"`
	Key   string          `json:"key"`
	Type  ParamType       `json:"type"`
	Value json.RawMessage `json:"value"`
}

// MarshalJSON renders p as {"seq","key","type","value"}. A non-finite float
// renders as the string "inf", "-inf" or "nan".
func (p Param) MarshalJSON() ([]byte, error) {
	var v any
	switch p.Type {
	case ParamInt:
		v = p.Int
	case ParamFloat:
		switch {
		case math.IsNaN(p.Float):
			v = "nan"
		case math.IsInf(p.Float, 1):
			v = "inf"
		case math.IsInf(p.Float, -1):
			v = "-inf"
		default:
			v = json.Number(strconv.FormatFloat(p.Float, 'g', -1, 64))
		}
	case ParamBool:
		v = p.Bool
	default:
		v = p.Text
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(paramJSON{p.Seq, p.Key, p.Type, raw})
}

// UnmarshalJSON reads the shape MarshalJSON writes.
func (p *Param) UnmarshalJSON(b []byte) error {
	var pj paramJSON
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&pj); err != nil {
		return err
	}
	*p = Param{Seq: pj.Seq, Key: pj.Key, Type: pj.Type}
	var err error
	switch p.Type {
	case ParamInt:
		err = json.Unmarshal(pj.Value, &p.Int)
	case ParamFloat:
		var s string
		if json.Unmarshal(pj.Value, &s) == nil {
			switch s {
			case "nan":
				p.Float = math.NaN()
			case "inf":
				p.Float = math.Inf(1)
			case "-inf":
				p.Float = math.Inf(-1)
			default:
				err = fmt.Errorf("abi: param %q: float %q", p.Key, s)
			}
		} else {
			err = json.Unmarshal(pj.Value, &p.Float)
		}
	case ParamBool:
		err = json.Unmarshal(pj.Value, &p.Bool)
	default:
		if len(pj.Value) > 0 {
			err = json.Unmarshal(pj.Value, &p.Text)
		}
	}
	if err != nil {
		return fmt.Errorf("abi: param %q value: %w", p.Key, err)
	}
	return nil
}
