package deribit

import (
	"math"

	"github.com/stratbox/stratbox/conn/jsonscan"
)

// OrderState is order_state.
type OrderState uint8

// Order states; OrderStateUnknown for a value this package does not know.
const (
	OrderStateUnknown OrderState = iota
	OrderOpen
	OrderFilled
	OrderRejected
	OrderCancelled
	OrderUntriggered
	OrderTriggered
)

var orderStates = map[string]OrderState{"open": OrderOpen, "filled": OrderFilled, "rejected": OrderRejected,
	"cancelled": OrderCancelled, "untriggered": OrderUntriggered, "triggered": OrderTriggered}

// Direction is buy or sell.
type Direction uint8

// Directions.
const (
	DirectionUnknown Direction = iota
	Buy
	Sell
)

// TimeInForce is time_in_force.
type TimeInForce uint8

// Times in force.
const (
	TIFUnknown TimeInForce = iota
	GoodTilCancelled
	GoodTilDay
	FillOrKill
	ImmediateOrCancel
)

var tifs = map[string]TimeInForce{"good_til_cancelled": GoodTilCancelled, "good_til_day": GoodTilDay,
	"fill_or_kill": FillOrKill, "immediate_or_cancel": ImmediateOrCancel}

// Order is one order object (deribit.md §4) as user.orders sends it. The
// enumerations are decoded to small integers; strings this package does not
// know stay Unknown. Types not modelled here (order_type, cancel_reason) are
// kept as strings, interned when they repeat.
type Order struct {
	OrderID     string
	Instrument  string
	Label       string
	State       OrderState
	Direction   Direction
	TimeInForce TimeInForce
	OrderType   string
	// Price is NaN and MarketPrice true when Deribit sends "market_price".
	Price        float64
	MarketPrice  bool
	Amount       float64
	Contracts    float64
	FilledAmount float64
	AveragePrice float64
	TriggerPrice float64

	CreationTimestamp   int64 // ms
	LastUpdateTimestamp int64 // ms

	PostOnly, RejectPostOnly, ReduceOnly bool
	API, Web, MMP, RiskReducing          bool
	Replaced, IsLiquidation              bool
	CancelReason                         string
}

// DecodeOrder decodes one order object into dst, overwriting every field.
// Strings equal to the ones dst holds are kept without allocating.
func DecodeOrder(data []byte, dst *Order) error {
	var s jsonscan.Scanner
	s.Reset(data)
	if err := decodeOrder(&s, dst); err != nil {
		return err
	}
	if !s.End() {
		return decodeErr("order", &s)
	}
	return nil
}

// DecodeOrders decodes user.orders data, a single object (raw interval) or an
// array (100ms, agg2), appending to dst[:0] and reusing its elements.
func DecodeOrders(data []byte, dst []Order) ([]Order, error) {
	var s jsonscan.Scanner
	s.Reset(data)
	dst = dst[:0]
	if s.Peek() == jsonscan.Object {
		dst = grow(dst)
		if err := decodeOrder(&s, &dst[len(dst)-1]); err != nil {
			return dst[:0], err
		}
	} else if !s.Array() {
		return dst, decodeErr("orders", &s)
	} else {
		for s.Elem() {
			dst = grow(dst)
			if err := decodeOrder(&s, &dst[len(dst)-1]); err != nil {
				return dst[:0], err
			}
		}
	}
	if !s.End() {
		return dst[:0], decodeErr("orders", &s)
	}
	return dst, nil
}

func grow(dst []Order) []Order {
	if len(dst) < cap(dst) {
		return dst[:len(dst)+1]
	}
	return append(dst, Order{})
}

func decodeOrder(s *jsonscan.Scanner, o *Order) error {
	keep := *o // strings to reuse
	*o = Order{}
	if !s.Object() {
		return decodeErr("order", s)
	}
	for {
		k, ok := s.Key()
		if !ok {
			break
		}
		switch string(k) {
		case "order_id":
			o.OrderID, ok = str(s, keep.OrderID)
		case "instrument_name":
			o.Instrument, ok = str(s, keep.Instrument)
		case "label":
			o.Label, ok = str(s, keep.Label)
		case "order_type":
			o.OrderType, ok = str(s, keep.OrderType)
		case "cancel_reason":
			o.CancelReason, ok = str(s, keep.CancelReason)
		case "order_state":
			var v []byte
			if v, ok = s.String(); ok {
				o.State = orderStates[string(v)]
			}
		case "direction":
			var v []byte
			if v, ok = s.String(); ok {
				switch string(v) {
				case "buy":
					o.Direction = Buy
				case "sell":
					o.Direction = Sell
				}
			}
		case "time_in_force":
			var v []byte
			if v, ok = s.String(); ok {
				o.TimeInForce = tifs[string(v)]
			}
		case "price":
			if s.Peek() == jsonscan.String {
				var v []byte
				if v, ok = s.String(); ok && string(v) == "market_price" {
					o.Price, o.MarketPrice = math.NaN(), true
				} else if ok {
					ok = s.Fail("price is neither a number nor market_price")
				}
			} else {
				o.Price, ok = num(s)
			}
		case "amount":
			o.Amount, ok = num(s)
		case "contracts":
			o.Contracts, ok = num(s)
		case "filled_amount":
			o.FilledAmount, ok = num(s)
		case "average_price":
			o.AveragePrice, ok = num(s)
		case "trigger_price":
			o.TriggerPrice, ok = num(s)
		case "creation_timestamp":
			o.CreationTimestamp, ok = s.Int()
		case "last_update_timestamp":
			o.LastUpdateTimestamp, ok = s.Int()
		case "post_only":
			o.PostOnly, ok = flag(s)
		case "reject_post_only":
			o.RejectPostOnly, ok = flag(s)
		case "reduce_only":
			o.ReduceOnly, ok = flag(s)
		case "api":
			o.API, ok = flag(s)
		case "web":
			o.Web, ok = flag(s)
		case "mmp":
			o.MMP, ok = flag(s)
		case "risk_reducing":
			o.RiskReducing, ok = flag(s)
		case "replaced":
			o.Replaced, ok = flag(s)
		case "is_liquidation":
			o.IsLiquidation, ok = flag(s)
		default:
			_, ok = s.Skip()
		}
		if !ok {
			return decodeErr("order "+string(k), s)
		}
	}
	if s.Err() != nil {
		return decodeErr("order", s)
	}
	return nil
}

// str reads a string (null is ""), reusing prev when equal, and decoding
// escapes when there are any.
func str(s *jsonscan.Scanner, prev string) (string, bool) {
	if s.Null() {
		return "", true
	}
	v, ok := s.String()
	if !ok {
		return "", false
	}
	if jsonscan.HasEscape(v) {
		u, err := jsonscan.AppendUnescaped(nil, v)
		if err != nil {
			return "", s.Fail("bad escape")
		}
		return string(u), true
	}
	if string(v) == prev {
		return prev, true
	}
	return string(v), true
}

// num reads a number; null is 0.
func num(s *jsonscan.Scanner) (float64, bool) {
	if s.Null() {
		return 0, true
	}
	return s.Float()
}

// flag reads a boolean; null is false.
func flag(s *jsonscan.Scanner) (bool, bool) {
	if s.Null() {
		return false, true
	}
	return s.Bool()
}
