package deribit

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/stratbox/stratbox/abi"
)

// This file holds every Deribit order method name and the request shapes
// the client sends: the engine, the pool and the cluster build their calls
// here and ask Op and RateOf what a call is, so that a second venue is an
// addition beside this package and not a hunt through the module
// (RATIONALE.md "Why are Deribit's method names only in venue/deribit?").

// The method names. Unexported: callers build a Call, or ask Op.
const (
	methodBuy                   = "private/buy"
	methodSell                  = "private/sell"
	methodEdit                  = "private/edit"
	methodEditByLabel           = "private/edit_by_label"
	methodCancel                = "private/cancel"
	methodCancelByLabel         = "private/cancel_by_label"
	methodCancelAll             = "private/cancel_all"
	methodCancelAllByInstrument = "private/cancel_all_by_instrument"
	methodCancelAllByCurrency   = "private/cancel_all_by_currency"
	methodCancelAllByKind       = "private/cancel_all_by_kind_or_type"
	methodOrderState            = "private/get_order_state"
	methodOrderStateByLabel     = "private/get_order_state_by_label"
	methodOpenOrders            = "private/get_open_orders"
	methodPositions             = "private/get_positions"
	methodInstruments           = "public/get_instruments"
	methodTest                  = "public/test"
)

// Call is one JSON-RPC request to Deribit: its method and its params (a
// JSON object). ByLabel is set on the calls that name an order by its label
// rather than its exchange id (CancelByLabel, GetOrderStateByLabel): their
// results are a count of the orders cancelled, or a list of orders.
type Call struct {
	Method  string
	Params  []byte
	ByLabel bool
}

// Place is a new order, as the host places it.
type Place struct {
	Instrument string
	Side       abi.Side // abi.Buy or abi.Sell
	Type       abi.OrderType
	TIF        abi.TimeInForce
	Flags      abi.OrderFlags // post_only, reject_post_only, reduce_only
	Price      abi.Fixed      // ignored for a market order
	Amount     abi.Fixed
	Label      string
}

// Call renders p as private/buy or private/sell, appending the params to
// dst[:0].
func (p *Place) Call(dst []byte) Call {
	dst = append(dst[:0], `{"instrument_name":`...)
	dst = strconv.AppendQuote(dst, p.Instrument)
	dst = append(dst, `,"amount":`...)
	dst = abi.AppendFixed(dst, p.Amount)
	if p.Type == abi.Market {
		dst = append(dst, `,"type":"market"`...)
	} else {
		dst = append(dst, `,"type":"limit","price":`...)
		dst = abi.AppendFixed(dst, p.Price)
	}
	dst = append(dst, `,"label":`...)
	dst = strconv.AppendQuote(dst, p.Label)
	dst = append(dst, `,"time_in_force":"`...)
	dst = append(dst, tifNames[p.TIF]...)
	dst = append(dst, '"')
	dst = appendFlags(dst, p.Flags)
	m := methodBuy
	if p.Side == abi.Sell {
		m = methodSell
	}
	return Call{Method: m, Params: dst}
}

var tifNames = [...]string{abi.GoodTilCancelled: "good_til_cancelled", abi.GoodTilDay: "good_til_day",
	abi.ImmediateOrCancel: "immediate_or_cancel", abi.FillOrKill: "fill_or_kill"}

func appendFlags(dst []byte, f abi.OrderFlags) []byte {
	if f&abi.PostOnly != 0 {
		dst = append(dst, `,"post_only":true`...)
	}
	if f&abi.RejectPostOnly != 0 {
		dst = append(dst, `,"reject_post_only":true`...)
	}
	if f&abi.ReduceOnly != 0 {
		dst = append(dst, `,"reduce_only":true`...)
	}
	return append(dst, '}')
}

// PlaceText is a new order whose fields are Deribit's own texts (an order
// object read back from the exchange, as the cluster keeps it): direction
// "buy" or "sell"; typ, tif "" for the exchange's defaults. ok is false for
// any other direction.
func PlaceText(direction, instrument, typ, tif string, price, amount float64, label string, postOnly, reduceOnly bool) (c Call, ok bool) {
	switch direction {
	case "buy":
		c.Method = methodBuy
	case "sell":
		c.Method = methodSell
	default:
		return Call{}, false
	}
	b := append([]byte(`{"instrument_name":`), strconv.Quote(instrument)...)
	b = append(append(b, `,"amount":`...), strconv.FormatFloat(amount, 'f', -1, 64)...)
	b = append(append(b, `,"label":`...), strconv.Quote(label)...)
	if typ != "" {
		b = append(append(b, `,"type":`...), strconv.Quote(typ)...)
	}
	if typ != "market" && price != 0 {
		b = append(append(b, `,"price":`...), strconv.FormatFloat(price, 'f', -1, 64)...)
	}
	if tif != "" {
		b = append(append(b, `,"time_in_force":`...), strconv.Quote(tif)...)
	}
	if postOnly {
		b = append(b, `,"post_only":true`...)
	}
	if reduceOnly {
		b = append(b, `,"reduce_only":true`...)
	}
	c.Params = append(b, '}')
	return c, true
}

// IsDirection reports whether s is a direction Deribit knows (buy, sell).
func IsDirection(s string) bool { return s == "buy" || s == "sell" }

// Edit changes order orderID's amount, price and flags (private/edit).
func Edit(orderID string, amount, price abi.Fixed, flags abi.OrderFlags) Call {
	dst := strconv.AppendQuote([]byte(`{"order_id":`), orderID)
	dst = append(dst, `,"amount":`...)
	dst = abi.AppendFixed(dst, amount)
	dst = append(dst, `,"price":`...)
	dst = abi.AppendFixed(dst, price)
	return Call{Method: methodEdit, Params: appendFlags(dst, flags)}
}

// Cancel cancels order orderID (private/cancel).
func Cancel(orderID string) Call { return Call{Method: methodCancel, Params: byID(orderID)} }

// CancelByLabel cancels the orders labelled label in currency
// (private/cancel_by_label); the result is their count.
func CancelByLabel(label, currency string) Call {
	return Call{Method: methodCancelByLabel, Params: byLabel(label, currency), ByLabel: true}
}

// GetOrderState reads order orderID back (private/get_order_state).
func GetOrderState(orderID string) Call { return Call{Method: methodOrderState, Params: byID(orderID)} }

// GetOrderStateByLabel reads back the recent orders labelled label in
// currency (private/get_order_state_by_label); the result is a list.
func GetOrderStateByLabel(label, currency string) Call {
	return Call{Method: methodOrderStateByLabel, Params: byLabel(label, currency), ByLabel: true}
}

// GetOpenOrders lists the account's open orders (private/get_open_orders).
func GetOpenOrders() Call { return Call{Method: methodOpenOrders, Params: []byte(`{}`)} }

// GetPositions lists the account's positions in every currency
// (private/get_positions); AppendPositions reads its result.
func GetPositions() Call { return Call{Method: methodPositions, Params: []byte(`{"currency":"any"}`)} }

// GetInstruments lists every live instrument (public/get_instruments);
// Instruments reads its result.
func GetInstruments() Call {
	return Call{Method: methodInstruments, Params: []byte(`{"currency":"any","expired":false}`)}
}

func byID(id string) []byte { return append(strconv.AppendQuote([]byte(`{"order_id":`), id), '}') }

func byLabel(label, currency string) []byte {
	p := strconv.AppendQuote([]byte(`{"label":`), label)
	p = strconv.AppendQuote(append(p, `,"currency":`...), currency)
	return append(p, '}')
}

// OrderOp is what a method does to orders (or reads of what they left:
// OpPositions).
type OrderOp uint8

// Order operations; OpNone for a method that does not touch orders.
const (
	OpNone              OrderOp = iota
	OpPlace                     // private/buy, private/sell
	OpEdit                      // private/edit
	OpEditByLabel               // private/edit_by_label
	OpCancel                    // private/cancel
	OpCancelByLabel             // private/cancel_by_label
	OpCancelAll                 // private/cancel_all and its _by_instrument, _by_currency, _by_kind_or_type forms
	OpOrderState                // private/get_order_state
	OpOrderStateByLabel         // private/get_order_state_by_label
	OpOpenOrders                // private/get_open_orders and its _by_instrument, _by_currency, _by_label forms
	OpPositions                 // private/get_positions, private/get_position (what the orders left)
	OpOther                     // the other order methods (close_position, mass_quote, cancel_quotes, block trades)
)

var ops = map[string]OrderOp{
	methodBuy: OpPlace, methodSell: OpPlace, methodEdit: OpEdit, methodEditByLabel: OpEditByLabel,
	methodCancel: OpCancel, methodCancelByLabel: OpCancelByLabel,
	methodCancelAll: OpCancelAll, methodCancelAllByInstrument: OpCancelAll, methodCancelAllByCurrency: OpCancelAll,
	methodCancelAllByKind: OpCancelAll,
	methodOrderState:      OpOrderState, methodOrderStateByLabel: OpOrderStateByLabel,
	methodOpenOrders: OpOpenOrders, methodOpenOrders + "_by_instrument": OpOpenOrders,
	methodOpenOrders + "_by_currency": OpOpenOrders, methodOpenOrders + "_by_label": OpOpenOrders,
	methodPositions: OpPositions, "private/get_position": OpPositions,
	"private/close_position": OpOther, "private/mass_quote": OpOther, "private/cancel_quotes": OpOther,
	"private/verify_block_trade": OpOther, "private/execute_block_trade": OpOther,
}

// Op returns what method does to orders (a "/api/v2/" prefix is ignored).
func Op(method string) OrderOp { return ops[strings.TrimPrefix(method, "/api/v2/")] }

// Opens reports whether op opens or changes an order (place, edit).
func (op OrderOp) Opens() bool { return op == OpPlace || op == OpEdit || op == OpEditByLabel }

// RateClass is what a request costs under Deribit's rate limits
// (docs/deribit.md §6). It has the fields of pool.RateClass, so that one
// converts into the other: pool.RateClass(deribit.RateOf(m, p)).
type RateClass struct {
	// Matching takes a token of the account's matching-engine bucket.
	Matching bool
	// CancelAll takes it from the account's separate cancel_all bucket.
	CancelAll bool
	// Credits takes the non-matching credits of the connection.
	Credits bool
	// OrderFlow marks a request that opens or changes an order: a rate
	// share's own flow (pool.ForShare).
	OrderFlow bool
	// Free costs nothing (the heartbeat's answer).
	Free bool
}

// simMatching are the methods the simulator (sim/methods.go) charges to
// the account's matching bucket.
var simMatching = map[string]bool{
	methodBuy: true, methodSell: true, methodEdit: true, methodCancel: true,
	methodCancelAll: true, methodCancelAllByInstrument: true, methodCancelAllByCurrency: true, methodCancelByLabel: true,
}

// RateOf returns what a request of method with params costs, as the
// simulator charges it (sim/rpc.go chargeLocked) on an authenticated
// connection:
//   - matching-engine requests (buy, sell, edit, cancel, cancel_all,
//     cancel_all_by_instrument, cancel_all_by_currency, cancel_by_label)
//     take a token of the account's matching bucket; cancel_all, and
//     cancel_by_label without a "currency" parameter, of the cancel_all
//     bucket instead (Deribit's separate bucket, so that order flow never
//     starves a mass cancel);
//   - the methods only Deribit counts as matching (edit_by_label,
//     cancel_all_by_kind_or_type, close_position, mass_quote,
//     cancel_quotes, verify_block_trade, execute_block_trade) take a
//     matching token and credits as well (the simulator charges them to
//     the connection, Deribit to the account: this errs on the safe side);
//   - public/test is free; every other request costs credits.
//
// buy, sell, edit and edit_by_label are OrderFlow.
func RateOf(method string, params []byte) RateClass {
	method = strings.TrimPrefix(method, "/api/v2/")
	op := ops[method]
	switch {
	case method == methodTest:
		return RateClass{Free: true}
	case simMatching[method]:
		c := RateClass{Matching: true, OrderFlow: op.Opens()}
		if (method == methodCancelAll || method == methodCancelByLabel) && !hasParam(params, "currency") {
			c.Matching, c.CancelAll = false, true
		}
		return c
	case op == OpEditByLabel || op == OpOther || method == methodCancelAllByKind:
		return RateClass{Matching: true, Credits: true, OrderFlow: op.Opens()}
	}
	return RateClass{Credits: true}
}

// hasParam is the simulator's test of a parameter's presence.
func hasParam(params []byte, name string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(params, &m) != nil {
		return false
	}
	_, ok := m[name]
	return ok
}
