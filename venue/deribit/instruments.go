package deribit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/stratbox/stratbox/abi"
)

// instrumentJSON is the part of public/get_instruments' instrument object
// (deribit.md §7) that the abi instrument record holds. Numbers stay text
// (json.Number) and go through FixedFromText: never through a float64.
type instrumentJSON struct {
	InstrumentName      string      `json:"instrument_name"`
	Kind                string      `json:"kind"`
	InstrumentType      string      `json:"instrument_type"`
	SettlementPeriod    string      `json:"settlement_period"`
	BaseCurrency        string      `json:"base_currency"`
	QuoteCurrency       string      `json:"quote_currency"`
	SettlementCurrency  string      `json:"settlement_currency"`
	TickSize            json.Number `json:"tick_size"`
	TickSizeSteps       []tickStep  `json:"tick_size_steps"`
	ContractSize        json.Number `json:"contract_size"`
	MinTradeAmount      json.Number `json:"min_trade_amount"`
	MakerCommission     json.Number `json:"maker_commission"`
	TakerCommission     json.Number `json:"taker_commission"`
	Strike              json.Number `json:"strike"`
	OptionType          string      `json:"option_type"`
	ExpirationTimestamp *int64      `json:"expiration_timestamp"`
}

type tickStep struct {
	AbovePrice json.Number `json:"above_price"`
	TickSize   json.Number `json:"tick_size"`
}

// Instruments converts the result of public/get_instruments (the JSON array)
// into abi instrument records, indexed 0, 1, 2, … in the array's order:
//
//	instrument_name                → name (at most 64 bytes)
//	kind future + settlement_period perpetual → perpetual; future, option,
//	  spot, future_combo, option_combo → the kind of the same name
//	instrument_type "reversed" on a future or perpetual (and future_combo)
//	                               → flag inverse (amounts in USD); options
//	                                 are never inverse (amounts in coin)
//	tick_size, tick_size_steps     → tick_size, tick_steps (ascending)
//	contract_size, min_trade_amount → contract_size, min_amount
//	maker/taker_commission         → maker_fee, taker_fee (rounded to 10^-8)
//	strike, option_type            → strike, option_type (options)
//	expiration_timestamp (ms)      → expiry (ns); 0 for perpetuals and spot
//	base/quote/settlement_currency → the currencies (at most 8 bytes)
//
// tick_size, contract_size, min_trade_amount, strike and the tick steps
// must convert exactly (FixedFromText); an instrument that cannot be
// represented is an error naming it. Use NewTable to index a selection.
func Instruments(raw []byte) ([]abi.Instrument, error) {
	var list []instrumentJSON
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&list); err != nil {
		return nil, fmt.Errorf("%w instruments: %w", ErrDecode, err)
	}
	out := make([]abi.Instrument, 0, len(list))
	for i := range list {
		in, err := list[i].instrument()
		if err != nil {
			return nil, fmt.Errorf("%w instrument %d %q: %w", ErrDecode, i, list[i].InstrumentName, err)
		}
		in.Index = uint32(len(out))
		out = append(out, in)
	}
	return out, nil
}

func (j *instrumentJSON) instrument() (abi.Instrument, error) {
	var in abi.Instrument
	if j.InstrumentName == "" || len(j.InstrumentName) > len(in.Name) || bytes.IndexByte([]byte(j.InstrumentName), 0) >= 0 {
		return in, fmt.Errorf("instrument_name must be 1 to %d bytes", len(in.Name))
	}
	in.Name = abi.NewStr64(j.InstrumentName)
	switch j.Kind {
	case "future":
		in.Kind = abi.Future
		if j.SettlementPeriod == "perpetual" {
			in.Kind = abi.Perpetual
		}
	case "option":
		in.Kind = abi.Option
	case "spot":
		in.Kind = abi.Spot
	case "future_combo":
		in.Kind = abi.FutureCombo
	case "option_combo":
		in.Kind = abi.OptionCombo
	default:
		return in, fmt.Errorf("unknown kind %q", j.Kind)
	}
	if j.InstrumentType == "reversed" && (in.Kind == abi.Future || in.Kind == abi.Perpetual || in.Kind == abi.FutureCombo) {
		in.Flags |= abi.InstrumentInverse
	}
	var err error
	exact := func(field string, n json.Number, required bool) abi.Fixed {
		if err != nil {
			return 0
		}
		if n == "" {
			if required {
				err = fmt.Errorf("%s is missing", field)
			}
			return 0
		}
		var x abi.Fixed
		if x, err = FixedFromText([]byte(n)); err != nil {
			err = fmt.Errorf("%s %s: %w", field, n, err)
		}
		return x
	}
	rounded := func(field string, n json.Number) abi.Fixed {
		if err != nil || n == "" {
			return 0
		}
		var x abi.Fixed
		if x, err = FixedFromTextRound([]byte(n)); err != nil {
			err = fmt.Errorf("%s %s: %w", field, n, err)
		}
		return x
	}
	in.TickSize = exact("tick_size", j.TickSize, true)
	in.ContractSize = exact("contract_size", j.ContractSize, true)
	in.MinAmount = exact("min_trade_amount", j.MinTradeAmount, true)
	in.MakerFee = rounded("maker_commission", j.MakerCommission)
	in.TakerFee = rounded("taker_commission", j.TakerCommission)
	if in.Kind == abi.Option {
		in.Strike = exact("strike", j.Strike, true)
		switch j.OptionType {
		case "call":
			in.OptionType = abi.Call
		case "put":
			in.OptionType = abi.Put
		default:
			return in, fmt.Errorf("option_type %q", j.OptionType)
		}
	}
	if len(j.TickSizeSteps) > abi.MaxTickSteps {
		return in, fmt.Errorf("%d tick_size_steps, at most %d", len(j.TickSizeSteps), abi.MaxTickSteps)
	}
	for k, s := range j.TickSizeSteps {
		st := abi.TickStep{AbovePrice: exact("tick_size_steps.above_price", s.AbovePrice, true),
			TickSize: exact("tick_size_steps.tick_size", s.TickSize, true)}
		if err == nil && k > 0 && st.AbovePrice <= in.TickSteps[k-1].AbovePrice {
			err = fmt.Errorf("tick_size_steps are not in ascending above_price")
		}
		in.TickSteps = append(in.TickSteps, st)
	}
	if err != nil {
		return in, err
	}
	if in.TickSize <= 0 || in.ContractSize <= 0 || in.MinAmount <= 0 {
		return in, fmt.Errorf("tick_size, contract_size and min_trade_amount must be > 0")
	}
	if in.Kind != abi.Perpetual && in.Kind != abi.Spot && j.ExpirationTimestamp != nil {
		in.Expiry = msToNs(*j.ExpirationTimestamp)
	}
	for _, c := range []struct {
		dst  *abi.Str8
		v    string
		name string
	}{{&in.BaseCurrency, j.BaseCurrency, "base_currency"}, {&in.QuoteCurrency, j.QuoteCurrency, "quote_currency"},
		{&in.SettlementCurrency, j.SettlementCurrency, "settlement_currency"}} {
		if len(c.v) > len(c.dst) || bytes.IndexByte([]byte(c.v), 0) >= 0 {
			return in, fmt.Errorf("%s %q is longer than %d bytes", c.name, c.v, len(c.dst))
		}
		*c.dst = abi.NewStr8(c.v)
	}
	return in, nil
}

// msToNs converts an exchange timestamp in ms to ns; 0 for a negative time
// or one beyond u64 ns (year 2554).
func msToNs(ms int64) uint64 {
	if ms <= 0 || uint64(ms) > math.MaxUint64/1_000_000 {
		return 0
	}
	return uint64(ms) * 1_000_000
}

// Table is the instrument table of a host: abi instrument records indexed
// 0, 1, 2, …, and a lookup from the exchange's name to the index. It is
// immutable once built and safe for concurrent use.
type Table struct {
	list []abi.Instrument
	idx  map[string]uint32
}

// NewTable indexes list (for instance a selection of what Instruments
// returned): each record's Index is set to its position. Names must be
// unique.
func NewTable(list []abi.Instrument) (*Table, error) {
	t := &Table{list: make([]abi.Instrument, len(list)), idx: make(map[string]uint32, len(list))}
	if len(list) >= math.MaxUint32 {
		return nil, fmt.Errorf("deribit: %d instruments is too many", len(list))
	}
	for i, in := range list {
		in.Index = uint32(i)
		in.TickSteps = append([]abi.TickStep(nil), in.TickSteps...)
		t.list[i] = in
		name := in.Name.String()
		if _, dup := t.idx[name]; dup {
			return nil, fmt.Errorf("deribit: instrument %q appears twice", name)
		}
		t.idx[name] = uint32(i)
	}
	return t, nil
}

// Lookup returns the index of the instrument named name (the raw bytes of a
// JSON string or of a channel name). It does not allocate.
func (t *Table) Lookup(name []byte) (uint32, bool) {
	i, ok := t.idx[string(name)]
	return i, ok
}

// Index returns the index of the instrument named name.
func (t *Table) Index(name string) (uint32, bool) {
	i, ok := t.idx[name]
	return i, ok
}

// Len is the number of instruments.
func (t *Table) Len() int { return len(t.list) }

// At returns instrument i (which must be < Len). The caller must not modify
// it.
func (t *Table) At(i uint32) *abi.Instrument { return &t.list[i] }

// Instruments returns the table's records in index order, for the start-up
// blob. The caller must not modify them.
func (t *Table) Instruments() []abi.Instrument { return t.list }
