package abi

import (
	"errors"
	"fmt"
	"math"
)

// Start is the Start record, the first record of the start-up blob the host
// writes into the inbox before it calls stratbox_init (README.md "start"):
//
//	 0 header (kind 0x0100, seq 0), size 80
//	 8 u16 host_major
//	10 u16 host_minor
//	12 u32 features (the features in effect: the plugin's AND the host's)
//	16 u64 first_cid (the smallest cid this instance may use)
//	24 u64 ts (host time at start, ns)
//	32 u32 n_instruments
//	36 u32 n_params
//	40 u32 n_positions
//	44 u32 n_orders
//	48 [32] name (the plugin instance's name from the host's configuration)
type Start struct {
	Seq          uint32   `json:"seq"`
	HostVersion  Version  `json:"host_version"`
	Features     Features `json:"features"`
	FirstCID     uint64   `json:"first_cid"`
	Time         uint64   `json:"ts"`
	NInstruments uint32   `json:"n_instruments"`
	NParams      uint32   `json:"n_params"`
	NPositions   uint32   `json:"n_positions"`
	NOrders      uint32   `json:"n_orders"`
	Name         Str32    `json:"name"`
}

// AppendStart appends s as a Start record.
func AppendStart(dst []byte, s *Start) []byte {
	dst, r := grow(dst, SizeStart)
	putHeader(r, KindStart, SizeStart, s.Seq)
	put16(r, 8, s.HostVersion.Major)
	put16(r, 10, s.HostVersion.Minor)
	put32(r, 12, uint32(s.Features))
	put64(r, 16, s.FirstCID)
	put64(r, 24, s.Time)
	put32(r, 32, s.NInstruments)
	put32(r, 36, s.NParams)
	put32(r, 40, s.NPositions)
	put32(r, 44, s.NOrders)
	copy(r[48:80], s.Name[:])
	return dst
}

// DecodeStart decodes a Start record into s.
func DecodeStart(rec []byte, s *Start) error {
	h, r, err := check(rec, KindStart, 0, SizeStart)
	if err != nil {
		return err
	}
	*s = Start{
		Seq:          h.Seq,
		HostVersion:  Version{u16(r, 8), u16(r, 10)},
		Features:     Features(u32(r, 12)),
		FirstCID:     u64(r, 16),
		Time:         u64(r, 24),
		NInstruments: u32(r, 32),
		NParams:      u32(r, 36),
		NPositions:   u32(r, 40),
		NOrders:      u32(r, 44),
	}
	copy(s.Name[:], r[48:80])
	return nil
}

// TickStep is a tick size that applies from a price up: at prices above
// AbovePrice the tick is TickSize (Deribit's tick_size_steps).
type TickStep struct {
	AbovePrice Fixed `json:"above_price"`
	TickSize   Fixed `json:"tick_size"`
}

// Instrument is an Instrument record, one entry of the instrument table
// (README.md "instrument"). Events and intents name an instrument by its
// index, which is the record's position among the blob's Instrument
// records (0, 1, 2, ...) and is repeated in the record:
//
//	  0 header (kind 0x0101), size 160 + 16 × n_tick_steps
//	  8 u32 index
//	 12 u8  kind (InstrumentKind)
//	 13 u8  option_type (OptionType)
//	 14 u8  flags (InstrumentFlags)
//	 15 u8  n_tick_steps
//	 16 i64 tick_size (the tick below the first step)
//	 24 i64 contract_size
//	 32 i64 min_amount (the minimum amount, and the amount step)
//	 40 i64 strike (options; 0 otherwise)
//	 48 u64 expiry (ns; 0 for perpetuals and spot)
//	 56 i64 maker_fee (a rate: 0.0001 = 1 bp; negative is a rebate)
//	 64 i64 taker_fee
//	 72 [8] base_currency
//	 80 [8] quote_currency
//	 88 [8] settlement_currency
//	 96 [64] name (the exchange's instrument name)
//	160 n_tick_steps × {i64 above_price, i64 tick_size}, ascending above_price
type Instrument struct {
	Seq                uint32          `json:"seq"`
	Index              uint32          `json:"index"`
	Kind               InstrumentKind  `json:"instrument_kind"`
	OptionType         OptionType      `json:"option_type"`
	Flags              InstrumentFlags `json:"flags"`
	TickSize           Fixed           `json:"tick_size"`
	ContractSize       Fixed           `json:"contract_size"`
	MinAmount          Fixed           `json:"min_amount"`
	Strike             Fixed           `json:"strike"`
	Expiry             uint64          `json:"expiry"`
	MakerFee           Fixed           `json:"maker_fee"`
	TakerFee           Fixed           `json:"taker_fee"`
	BaseCurrency       Str8            `json:"base_currency"`
	QuoteCurrency      Str8            `json:"quote_currency"`
	SettlementCurrency Str8            `json:"settlement_currency"`
	Name               Str64           `json:"name"`
	TickSteps          []TickStep      `json:"tick_steps"`
}

// TickAt returns the tick size that applies at price p.
func (in *Instrument) TickAt(p Fixed) Fixed {
	t := in.TickSize
	for _, s := range in.TickSteps {
		if p > s.AbovePrice {
			t = s.TickSize
		}
	}
	return t
}

// AppendInstrument appends in as an Instrument record. It fails, leaving dst
// unchanged, with more than MaxTickSteps tick steps.
func AppendInstrument(dst []byte, in *Instrument) ([]byte, error) {
	if len(in.TickSteps) > MaxTickSteps {
		return dst, fmt.Errorf("abi: instrument %v has %d tick steps; a record holds at most %d",
			in.Name, len(in.TickSteps), MaxTickSteps)
	}
	size := SizeInstrumentFixed + SizeTickStep*len(in.TickSteps)
	dst, r := grow(dst, size)
	putHeader(r, KindInstrument, size, in.Seq)
	put32(r, 8, in.Index)
	r[12] = uint8(in.Kind)
	r[13] = uint8(in.OptionType)
	r[14] = uint8(in.Flags)
	r[15] = uint8(len(in.TickSteps))
	putFx(r, 16, in.TickSize)
	putFx(r, 24, in.ContractSize)
	putFx(r, 32, in.MinAmount)
	putFx(r, 40, in.Strike)
	put64(r, 48, in.Expiry)
	putFx(r, 56, in.MakerFee)
	putFx(r, 64, in.TakerFee)
	copy(r[72:80], in.BaseCurrency[:])
	copy(r[80:88], in.QuoteCurrency[:])
	copy(r[88:96], in.SettlementCurrency[:])
	copy(r[96:160], in.Name[:])
	off := SizeInstrumentFixed
	for _, s := range in.TickSteps {
		putFx(r, off, s.AbovePrice)
		putFx(r, off+8, s.TickSize)
		off += SizeTickStep
	}
	return dst, nil
}

// DecodeInstrument decodes an Instrument record into in, reusing
// in.TickSteps.
func DecodeInstrument(rec []byte, in *Instrument) error {
	h, r, err := check(rec, KindInstrument, 0, SizeInstrumentFixed)
	if err != nil {
		return err
	}
	n := int(r[15])
	if int(h.Size) != SizeInstrumentFixed+SizeTickStep*n {
		return decodeErr(ErrBadLength, h.Kind, int(h.Size),
			fmt.Sprintf("%d tick steps need %d bytes", n, SizeInstrumentFixed+SizeTickStep*n))
	}
	steps := in.TickSteps[:0]
	*in = Instrument{
		Seq:          h.Seq,
		Index:        u32(r, 8),
		Kind:         InstrumentKind(r[12]),
		OptionType:   OptionType(r[13]),
		Flags:        InstrumentFlags(r[14]),
		TickSize:     fx(r, 16),
		ContractSize: fx(r, 24),
		MinAmount:    fx(r, 32),
		Strike:       fx(r, 40),
		Expiry:       u64(r, 48),
		MakerFee:     fx(r, 56),
		TakerFee:     fx(r, 64),
	}
	copy(in.BaseCurrency[:], r[72:80])
	copy(in.QuoteCurrency[:], r[80:88])
	copy(in.SettlementCurrency[:], r[88:96])
	copy(in.Name[:], r[96:160])
	off := SizeInstrumentFixed
	for range n {
		steps = append(steps, TickStep{fx(r, off), fx(r, off+8)})
		off += SizeTickStep
	}
	in.TickSteps = steps
	return nil
}

// Param is a Param record, one of the plugin's free parameters from the
// host's configuration (README.md "param"). Nested TOML tables become dotted
// keys ("quote.spread_bps").
//
//	 0 header (kind 0x0102), size 24 + key_len + text_len rounded up to 8
//	 8 u8  type (ParamType)
//	 9 u8  reserved
//	10 u16 key_len (>= 1)
//	12 u32 text_len (ParamString and ParamTOML; 0 for the others)
//	16 u64 value (ParamInt: i64; ParamFloat: f64 bits; ParamBool: 0 or 1; else 0)
//	24 key bytes, then text bytes, then zero bytes to the end of the record
//
// Its JSON rendering is {"key": ..., "type": ..., "value": ...} with the
// value as a JSON string, number or boolean.
type Param struct {
	Seq   uint32
	Type  ParamType
	Key   string
	Int   int64   // ParamInt
	Float float64 // ParamFloat
	Bool  bool    // ParamBool
	Text  string  // ParamString, ParamTOML
}

// AppendParam appends p as a Param record. It fails, leaving dst unchanged,
// with an empty key or more than MaxParamBytes of key and text.
func AppendParam(dst []byte, p *Param) ([]byte, error) {
	text := p.Text
	if p.Type != ParamString && p.Type != ParamTOML {
		text = ""
	}
	if len(p.Key) == 0 || len(p.Key) > math.MaxUint16 || len(p.Key)+len(text) > MaxParamBytes {
		return dst, fmt.Errorf("abi: param %q: key of %d and text of %d bytes (key 1..65535, key+text at most %d)",
			p.Key, len(p.Key), len(text), MaxParamBytes)
	}
	size := SizeParamFixed + pad8(len(p.Key)+len(text))
	dst, r := grow(dst, size)
	putHeader(r, KindParam, size, p.Seq)
	r[8] = uint8(p.Type)
	put16(r, 10, uint16(len(p.Key)))
	put32(r, 12, uint32(len(text)))
	var v uint64
	switch p.Type {
	case ParamInt:
		v = uint64(p.Int)
	case ParamFloat:
		v = math.Float64bits(p.Float)
	case ParamBool:
		if p.Bool {
			v = 1
		}
	}
	put64(r, 16, v)
	copy(r[SizeParamFixed:], p.Key)
	copy(r[SizeParamFixed+len(p.Key):], text)
	return dst, nil
}

// DecodeParam decodes a Param record into p. It allocates the key and text
// strings (start-up only).
func DecodeParam(rec []byte, p *Param) error {
	h, r, err := check(rec, KindParam, 0, SizeParamFixed)
	if err != nil {
		return err
	}
	kl, tl := int(u16(r, 10)), int(u32(r, 12))
	if kl == 0 || int(h.Size) != SizeParamFixed+pad8(kl+tl) {
		return decodeErr(ErrBadLength, h.Kind, int(h.Size),
			fmt.Sprintf("key of %d and text of %d bytes need %d bytes", kl, tl, SizeParamFixed+pad8(kl+tl)))
	}
	v := u64(r, 16)
	*p = Param{Seq: h.Seq, Type: ParamType(r[8]),
		Key:  string(r[SizeParamFixed : SizeParamFixed+kl]),
		Text: string(r[SizeParamFixed+kl : SizeParamFixed+kl+tl])}
	switch p.Type {
	case ParamInt:
		p.Int = int64(v)
	case ParamFloat:
		p.Float = math.Float64frombits(v)
	case ParamBool:
		p.Bool = v != 0
	}
	return nil
}

// Startup is the whole start-up blob (README.md "Start-up"): a Start record,
// then the instrument table, then the parameters, then the starting
// positions, then the orders an earlier instance left open that the host
// kept for this one. Counts in Start are filled in by AppendStartup.
type Startup struct {
	Start       Start
	Instruments []Instrument
	Params      []Param
	Positions   []Position
	Orders      []OrderUpdate
}

// AppendStartup appends the start-up blob of s. It sets the Start counts
// and each instrument's Index from the slices; it fails, leaving dst
// unchanged, when a record cannot be encoded.
func AppendStartup(dst []byte, s *Startup) ([]byte, error) {
	n := len(dst)
	st := s.Start
	st.NInstruments, st.NParams = uint32(len(s.Instruments)), uint32(len(s.Params))
	st.NPositions, st.NOrders = uint32(len(s.Positions)), uint32(len(s.Orders))
	dst = AppendStart(dst, &st)
	var err error
	for i := range s.Instruments {
		in := s.Instruments[i]
		in.Index = uint32(i)
		if dst, err = AppendInstrument(dst, &in); err != nil {
			return dst[:n], err
		}
	}
	for i := range s.Params {
		if dst, err = AppendParam(dst, &s.Params[i]); err != nil {
			return dst[:n], err
		}
	}
	for i := range s.Positions {
		dst = AppendPosition(dst, &s.Positions[i])
	}
	for i := range s.Orders {
		dst = AppendOrderUpdate(dst, &s.Orders[i])
	}
	return dst, nil
}

// DecodeStartup decodes a start-up blob into s, replacing its contents. It
// checks the rules of README.md "Start-up": the first record is Start;
// instruments, params, positions and orders come in that order, as many as
// Start counts; instrument indexes are 0, 1, 2, ...; records of kinds this
// version does not know are skipped. Errors wrap ErrStartup or are a
// *DecodeError.
func DecodeStartup(blob []byte, s *Startup) error {
	*s = Startup{}
	r := NewReader(blob)
	if !r.Next() {
		if r.Err() != nil {
			return r.Err()
		}
		return fmt.Errorf("%w: empty", ErrStartup)
	}
	if err := DecodeStart(r.Record().Bytes, &s.Start); err != nil {
		return fmt.Errorf("%w: first record: %w", ErrStartup, err)
	}
	stage := 0 // 0 instruments, 1 params, 2 positions, 3 orders
	for r.Next() {
		rec := r.Record()
		var st int
		switch rec.Kind {
		case KindInstrument:
			st = 0
		case KindParam:
			st = 1
		case KindPosition:
			st = 2
		case KindOrderUpdate:
			st = 3
		default:
			if rec.Kind.Known() {
				return fmt.Errorf("%w: a %v record at offset %d", ErrStartup, rec.Kind, rec.Offset)
			}
			continue
		}
		if st < stage {
			return fmt.Errorf("%w: a %v record at offset %d after a later section", ErrStartup, rec.Kind, rec.Offset)
		}
		stage = st
		var err error
		switch st {
		case 0:
			var in Instrument
			if err = DecodeInstrument(rec.Bytes, &in); err == nil && int(in.Index) != len(s.Instruments) {
				err = fmt.Errorf("%w: instrument %d has index %d", ErrStartup, len(s.Instruments), in.Index)
			}
			s.Instruments = append(s.Instruments, in)
		case 1:
			var p Param
			err = DecodeParam(rec.Bytes, &p)
			s.Params = append(s.Params, p)
		case 2:
			var p Position
			err = DecodePosition(rec.Bytes, &p)
			s.Positions = append(s.Positions, p)
		case 3:
			var o OrderUpdate
			err = DecodeOrderUpdate(rec.Bytes, &o)
			s.Orders = append(s.Orders, o)
		}
		if err != nil {
			var de *DecodeError
			if errors.As(err, &de) {
				de.Offset = rec.Offset
			}
			return err
		}
	}
	if r.Err() != nil {
		return r.Err()
	}
	st := &s.Start
	if int(st.NInstruments) != len(s.Instruments) || int(st.NParams) != len(s.Params) ||
		int(st.NPositions) != len(s.Positions) || int(st.NOrders) != len(s.Orders) {
		return fmt.Errorf("%w: start counts %d/%d/%d/%d instruments/params/positions/orders, blob has %d/%d/%d/%d",
			ErrStartup, st.NInstruments, st.NParams, st.NPositions, st.NOrders,
			len(s.Instruments), len(s.Params), len(s.Positions), len(s.Orders))
	}
	return nil
}
