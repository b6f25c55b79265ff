package abi

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// Enumerations are small unsigned integers; 0 means "not set" unless a type
// says otherwise. A reader must accept values it does not know (a newer host
// may send them only to plugins of its minor version, but an SDK must not
// crash on them). JSON renders a known value as its name and an unknown one
// as a number.

// Side is the side of an order, a fill or the taker of a trade.
type Side uint8

// Sides. SideNone is "both" in CancelAll.
const (
	SideNone Side = 0
	Buy      Side = 1
	Sell     Side = 2
)

// OrderType is the type of an order.
type OrderType uint8

// Order types.
const (
	Limit  OrderType = 1
	Market OrderType = 2
)

// TimeInForce is how long an order rests. Names are Deribit's.
type TimeInForce uint8

// Times in force.
const (
	GoodTilCancelled  TimeInForce = 1 // rests until cancelled
	GoodTilDay        TimeInForce = 2 // Deribit good_til_day: cancelled at the end of the trading day
	ImmediateOrCancel TimeInForce = 3 // fills what it can at once, cancels the rest
	FillOrKill        TimeInForce = 4 // fills completely at once or not at all
)

// OrderState is the host's view of an order's state.
type OrderState uint8

// Order states. Filled, Cancelled and Rejected are final: no OrderUpdate
// for the same cid follows them.
const (
	// StatePending: accepted by the host and sent (or being re-placed), not
	// yet acknowledged by the exchange.
	StatePending OrderState = 1
	// StateOpen: resting on the book (FilledAmount may be > 0).
	StateOpen OrderState = 2
	// StateFilled: completely filled.
	StateFilled OrderState = 3
	// StateCancelled: ended unfilled or partly filled; Reason says why.
	StateCancelled OrderState = 4
	// StateRejected: refused by the host or the exchange; Reason says why.
	StateRejected OrderState = 5
)

// Liquidity says whether a fill added or took liquidity.
type Liquidity uint8

// Liquidity values.
const (
	Maker Liquidity = 1
	Taker Liquidity = 2
)

// InstrumentKind is the kind of an instrument.
type InstrumentKind uint8

// Instrument kinds. A perpetual is a future without expiry (Deribit calls it
// a future with settlement_period "perpetual").
const (
	Future      InstrumentKind = 1
	Perpetual   InstrumentKind = 2
	Option      InstrumentKind = 3
	Spot        InstrumentKind = 4
	FutureCombo InstrumentKind = 5
	OptionCombo InstrumentKind = 6
)

// OptionType is call or put; OptionNone for other instruments.
type OptionType uint8

// Option types.
const (
	OptionNone OptionType = 0
	Call       OptionType = 1
	Put        OptionType = 2
)

// ParamType is the type of a plugin parameter's value.
type ParamType uint8

// Parameter types.
const (
	ParamString ParamType = 1 // Text holds the string
	ParamInt    ParamType = 2 // Int holds the value (i64)
	ParamFloat  ParamType = 3 // Float holds the value (f64)
	ParamBool   ParamType = 4 // Bool holds the value (u64 0 or 1)
	ParamTOML   ParamType = 5 // Text holds any other TOML value (array, inline table, date) as TOML text
)

var (
	sideNames      = []string{"none", "buy", "sell"}
	orderTypeNames = []string{"", "limit", "market"}
	tifNames       = []string{"", "good_til_cancelled", "good_til_day", "immediate_or_cancel", "fill_or_kill"}
	stateNames     = []string{"", "pending", "open", "filled", "cancelled", "rejected"}
	liqNames       = []string{"", "maker", "taker"}
	instKindNames  = []string{"", "future", "perpetual", "option", "spot", "future_combo", "option_combo"}
	optTypeNames   = []string{"none", "call", "put"}
	paramTypeNames = []string{"", "string", "int", "float", "bool", "toml"}
)

type enumInt interface{ ~uint8 | ~uint16 }

func enumString[T enumInt](v T, names []string) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return strconv.FormatUint(uint64(v), 10)
}

func marshalEnum[T enumInt](v T, names []string) ([]byte, error) {
	if int(v) < len(names) && names[v] != "" {
		return strconv.AppendQuote(nil, names[v]), nil
	}
	return strconv.AppendUint(nil, uint64(v), 10), nil
}

func unmarshalEnum[T enumInt](b []byte, v *T, names []string, what string) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		for i, n := range names {
			if n == s && n != "" {
				*v = T(i)
				return nil
			}
		}
		return fmt.Errorf("abi: unknown %s %q", what, s)
	}
	var zero T
	n, err := strconv.ParseUint(string(b), 10, bits.OnesCount64(uint64(^zero)))
	if err != nil {
		return fmt.Errorf("abi: %s %s: %w", what, b, err)
	}
	*v = T(n)
	return nil
}

func (v Side) String() string                    { return enumString(v, sideNames) }
func (v Side) MarshalJSON() ([]byte, error)      { return marshalEnum(v, sideNames) }
func (v *Side) UnmarshalJSON(b []byte) error     { return unmarshalEnum(b, v, sideNames, "side") }
func (v OrderType) String() string               { return enumString(v, orderTypeNames) }
func (v OrderType) MarshalJSON() ([]byte, error) { return marshalEnum(v, orderTypeNames) }
func (v *OrderType) UnmarshalJSON(b []byte) error {
	return unmarshalEnum(b, v, orderTypeNames, "order type")
}
func (v TimeInForce) String() string               { return enumString(v, tifNames) }
func (v TimeInForce) MarshalJSON() ([]byte, error) { return marshalEnum(v, tifNames) }
func (v *TimeInForce) UnmarshalJSON(b []byte) error {
	return unmarshalEnum(b, v, tifNames, "time in force")
}

// Final says whether v ends the order: Filled, Cancelled and Rejected are
// final (no OrderUpdate for the same cid follows one); Pending and Open are
// not, nor is an unknown value.
func (v OrderState) Final() bool {
	return v == StateFilled || v == StateCancelled || v == StateRejected
}

func (v OrderState) String() string               { return enumString(v, stateNames) }
func (v OrderState) MarshalJSON() ([]byte, error) { return marshalEnum(v, stateNames) }
func (v *OrderState) UnmarshalJSON(b []byte) error {
	return unmarshalEnum(b, v, stateNames, "order state")
}
func (v Liquidity) String() string               { return enumString(v, liqNames) }
func (v Liquidity) MarshalJSON() ([]byte, error) { return marshalEnum(v, liqNames) }
func (v *Liquidity) UnmarshalJSON(b []byte) error {
	return unmarshalEnum(b, v, liqNames, "liquidity")
}
func (v InstrumentKind) String() string               { return enumString(v, instKindNames) }
func (v InstrumentKind) MarshalJSON() ([]byte, error) { return marshalEnum(v, instKindNames) }
func (v *InstrumentKind) UnmarshalJSON(b []byte) error {
	return unmarshalEnum(b, v, instKindNames, "instrument kind")
}
func (v OptionType) String() string               { return enumString(v, optTypeNames) }
func (v OptionType) MarshalJSON() ([]byte, error) { return marshalEnum(v, optTypeNames) }
func (v *OptionType) UnmarshalJSON(b []byte) error {
	return unmarshalEnum(b, v, optTypeNames, "option type")
}
func (v ParamType) String() string               { return enumString(v, paramTypeNames) }
func (v ParamType) MarshalJSON() ([]byte, error) { return marshalEnum(v, paramTypeNames) }
func (v *ParamType) UnmarshalJSON(b []byte) error {
	return unmarshalEnum(b, v, paramTypeNames, "param type")
}

// Flag sets render in JSON as an array of names in bit order; a bit this
// version does not name renders as "bit<N>".

// OrderFlags are an order's options (Place, Amend, OrderUpdate).
type OrderFlags uint16

// Order flags (Deribit's parameters of the same names).
const (
	// PostOnly: never take liquidity; if the order would take, the exchange
	// moves its price to just inside the spread. Only with GoodTilCancelled
	// or GoodTilDay.
	PostOnly OrderFlags = 1 << 0
	// RejectPostOnly: with PostOnly, reject the order instead of moving it.
	RejectPostOnly OrderFlags = 1 << 1
	// ReduceOnly: the order may only reduce the position.
	ReduceOnly OrderFlags = 1 << 2
)

// BookFlags qualify a book record.
type BookFlags uint16

// Book flags.
const (
	// BookContinues: the next book record of this instrument (same kind and
	// change_id) continues this one.
	BookContinues BookFlags = 1 << 0
	// BookContinuation: this record continues the previous one; a snapshot
	// continuation adds levels and does not clear the book.
	BookContinuation BookFlags = 1 << 1
	// BookTruncated: levels farthest from the top were left out because the
	// plugin did not ask for FeatureBookContinuation.
	BookTruncated BookFlags = 1 << 2
)

// TickerFlags qualify a ticker record.
type TickerFlags uint32

// Ticker flags.
const (
	// TickerTopOnly: only the best bid and ask fields are set (from a quote
	// or top-of-book source); the other numbers are 0 and mean "unknown".
	TickerTopOnly TickerFlags = 1 << 0
	// TickerClosed: the instrument's book is not open for trading (Deribit
	// state settlement, delivered, inactive, locked, halted, ...).
	TickerClosed TickerFlags = 1 << 1
)

// TradeFlags qualify a public trade.
type TradeFlags uint8

// Trade flags.
const (
	TradeMakerLiquidation TradeFlags = 1 << 0 // the maker side was a liquidation
	TradeTakerLiquidation TradeFlags = 1 << 1 // the taker side was a liquidation
	TradeBlock            TradeFlags = 1 << 2 // a block trade
)

// PositionFlags qualify a position record.
type PositionFlags uint32

// Position flags.
const (
	// PositionAccount: the account's whole position on the instrument, as
	// the exchange reports it. Without it: the plugin's own position (its
	// starting position plus its fills).
	PositionAccount PositionFlags = 1 << 0
)

// PoolFlags qualify a pool state record.
type PoolFlags uint32

// Pool flags.
const (
	// PoolDegraded: fewer connections are healthy than configured.
	PoolDegraded PoolFlags = 1 << 0
	// PoolMaintenance: the exchange announced or is in a maintenance break;
	// intents are refused with ReasonNoConnection or an exchange error.
	PoolMaintenance PoolFlags = 1 << 1
)

// InstrumentFlags qualify an instrument.
type InstrumentFlags uint8

// Instrument flags.
const (
	// InstrumentInverse: amounts are in the quote currency (USD for Deribit's
	// inverse futures and perpetuals); without it, in the base currency.
	InstrumentInverse InstrumentFlags = 1 << 0
)

// Features is a word of optional capabilities (README.md "Feature bits").
type Features uint32

// Feature bits.
const (
	// FeatureBookContinuation: the plugin handles book records split with
	// BookContinues/BookContinuation. Without it the host sends one record
	// per book message, cut to MaxBookLevels and flagged BookTruncated.
	FeatureBookContinuation Features = 1 << 0
)

var (
	orderFlagNames = []string{"post_only", "reject_post_only", "reduce_only"}
	bookFlagNames  = []string{"continues", "continuation", "truncated"}
	tickFlagNames  = []string{"top_only", "closed"}
	tradeFlagNames = []string{"maker_liquidation", "taker_liquidation", "block"}
	posFlagNames   = []string{"account"}
	poolFlagNames  = []string{"degraded", "maintenance"}
	instFlagNames  = []string{"inverse"}
	featureNames   = []string{"book_continuation"}
)

type flagInt interface{ ~uint8 | ~uint16 | ~uint32 }

func flagNames[T flagInt](v T, names []string) []string {
	out := []string{}
	for i := 0; i < bits.Len64(uint64(v)); i++ {
		if uint64(v)&(1<<i) == 0 {
			continue
		}
		if i < len(names) {
			out = append(out, names[i])
		} else {
			out = append(out, "bit"+strconv.Itoa(i))
		}
	}
	return out
}

func flagString[T flagInt](v T, names []string) string {
	if v == 0 {
		return "0"
	}
	return strings.Join(flagNames(v, names), "|")
}

func marshalFlags[T flagInt](v T, names []string) ([]byte, error) {
	return json.Marshal(flagNames(v, names))
}

func unmarshalFlags[T flagInt](b []byte, v *T, names []string) error {
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	var zero T
	width := bits.OnesCount64(uint64(^zero))
	var out T
next:
	for _, s := range ss {
		for i, n := range names {
			if n == s {
				out |= T(1) << i
				continue next
			}
		}
		if n, ok := strings.CutPrefix(s, "bit"); ok {
			if i, err := strconv.Atoi(n); err == nil && i >= 0 && i < width {
				out |= T(1) << i
				continue
			}
		}
		return fmt.Errorf("abi: unknown flag %q", s)
	}
	*v = out
	return nil
}

func (f OrderFlags) String() string                { return flagString(f, orderFlagNames) }
func (f OrderFlags) MarshalJSON() ([]byte, error)  { return marshalFlags(f, orderFlagNames) }
func (f *OrderFlags) UnmarshalJSON(b []byte) error { return unmarshalFlags(b, f, orderFlagNames) }
func (f BookFlags) String() string                 { return flagString(f, bookFlagNames) }
func (f BookFlags) MarshalJSON() ([]byte, error)   { return marshalFlags(f, bookFlagNames) }
func (f *BookFlags) UnmarshalJSON(b []byte) error  { return unmarshalFlags(b, f, bookFlagNames) }
func (f TickerFlags) String() string               { return flagString(f, tickFlagNames) }
func (f TickerFlags) MarshalJSON() ([]byte, error) { return marshalFlags(f, tickFlagNames) }
func (f *TickerFlags) UnmarshalJSON(b []byte) error {
	return unmarshalFlags(b, f, tickFlagNames)
}
func (f TradeFlags) String() string                { return flagString(f, tradeFlagNames) }
func (f TradeFlags) MarshalJSON() ([]byte, error)  { return marshalFlags(f, tradeFlagNames) }
func (f *TradeFlags) UnmarshalJSON(b []byte) error { return unmarshalFlags(b, f, tradeFlagNames) }
func (f PositionFlags) String() string             { return flagString(f, posFlagNames) }
func (f PositionFlags) MarshalJSON() ([]byte, error) {
	return marshalFlags(f, posFlagNames)
}
func (f *PositionFlags) UnmarshalJSON(b []byte) error {
	return unmarshalFlags(b, f, posFlagNames)
}
func (f PoolFlags) String() string                { return flagString(f, poolFlagNames) }
func (f PoolFlags) MarshalJSON() ([]byte, error)  { return marshalFlags(f, poolFlagNames) }
func (f *PoolFlags) UnmarshalJSON(b []byte) error { return unmarshalFlags(b, f, poolFlagNames) }
func (f InstrumentFlags) String() string          { return flagString(f, instFlagNames) }
func (f InstrumentFlags) MarshalJSON() ([]byte, error) {
	return marshalFlags(f, instFlagNames)
}
func (f *InstrumentFlags) UnmarshalJSON(b []byte) error {
	return unmarshalFlags(b, f, instFlagNames)
}
func (f Features) String() string                { return flagString(f, featureNames) }
func (f Features) MarshalJSON() ([]byte, error)  { return marshalFlags(f, featureNames) }
func (f *Features) UnmarshalJSON(b []byte) error { return unmarshalFlags(b, f, featureNames) }
