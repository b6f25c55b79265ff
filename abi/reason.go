package abi

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Reason says why an order changed state (OrderUpdate) or why an intent was
// refused (OrderUpdate with StateRejected for a Place, IntentRejected for the
// others). The ranges group the codes by who decided:
//
//	0        none
//	1..99    why an order ended or went back to pending (not a refusal)
//	100..199 the host's validation refused the intent (never sent)
//	200..299 the host's risk limits refused the intent (never sent)
//	300..399 the connection or the exchange refused or lost it
//
// A plugin that meets a code it does not know should treat it by its range.
type Reason uint16

// Reasons.
const (
	ReasonNone Reason = 0

	// ReasonCancelRequested: the plugin's Cancel or CancelAll.
	ReasonCancelRequested Reason = 1
	// ReasonCancelOnDisconnect: the connection that carried the order
	// dropped and the exchange cancelled it. With StatePending: the host is
	// re-placing it (same cid, after each loss); with StateCancelled: not.
	ReasonCancelOnDisconnect Reason = 2
	// ReasonPluginStopped: the host cancelled it because the plugin stopped
	// or was stopped (its policy for orders of a stopped plugin).
	ReasonPluginStopped Reason = 3
	// ReasonPluginFault: the host cancelled it because the plugin trapped,
	// overran its time budget or returned an error.
	ReasonPluginFault Reason = 4
	// ReasonKillSwitch: the operator's kill switch cancelled it.
	ReasonKillSwitch Reason = 5
	// ReasonUnfilled: the unfilled rest of an ImmediateOrCancel or market
	// order.
	ReasonUnfilled Reason = 6
	// ReasonExpired: a GoodTilDay order reached the end of the day.
	ReasonExpired Reason = 7
	// ReasonExchangeCancel: any other cancellation by the exchange (MMP,
	// settlement, liquidation, ...); Text holds the exchange's cancel reason.
	ReasonExchangeCancel Reason = 8

	// ReasonMalformed: a field is out of range (an enum value, a flag
	// combination such as PostOnly with ImmediateOrCancel, a reserved field
	// that is not zero, cid 0, a label with a zero byte inside).
	ReasonMalformed Reason = 100
	// ReasonUnsupported: an intent kind or option this host or venue does
	// not support.
	ReasonUnsupported Reason = 101
	// ReasonUnknownInstrument: the instrument index is not in the table.
	ReasonUnknownInstrument Reason = 102
	// ReasonBadTick: the price is not a multiple of the instrument's tick.
	ReasonBadTick Reason = 103
	// ReasonBadPrice: a limit price <= 0, or a price on a market order.
	ReasonBadPrice Reason = 104
	// ReasonBelowMinAmount: the amount is below the instrument's minimum.
	ReasonBelowMinAmount Reason = 105
	// ReasonBadAmount: the amount is <= 0 or not a multiple of the minimum.
	ReasonBadAmount Reason = 106
	// ReasonDuplicateCID: a Place reuses a cid of this instance, or a cid
	// below Start.FirstCID.
	ReasonDuplicateCID Reason = 107
	// ReasonUnknownCID: an Amend or Cancel names a cid the host does not
	// know for this instance.
	ReasonUnknownCID Reason = 108
	// ReasonNotOpen: an Amend or Cancel names an order in a final state, or
	// one whose Place has not been acknowledged and cannot be changed yet.
	ReasonNotOpen Reason = 109

	ReasonRiskMaxOrderAmount Reason = 200 // one order's amount over the limit
	ReasonRiskMaxOpenOrders  Reason = 201 // too many open orders
	ReasonRiskMaxPosition    Reason = 202 // the position after a full fill would exceed the limit
	ReasonRiskMaxNotional    Reason = 203 // open notional over the limit
	ReasonRiskRate           Reason = 204 // too many intents per interval
	ReasonRiskKillSwitch     Reason = 205 // trading is halted by the kill switch
	ReasonRiskPriceBand      Reason = 206 // the price is too far from the mark price

	// ReasonNoConnection: no healthy connection could carry the intent.
	ReasonNoConnection Reason = 300
	// ReasonTimeout: the exchange did not answer in time; the host reconciles
	// the order's state and sends an OrderUpdate when it knows it.
	ReasonTimeout Reason = 301
	// ReasonExchangeError: the exchange refused it; ExchangeCode holds the
	// exchange's error code and Text its message (e.g. 10009
	// not_enough_funds).
	ReasonExchangeError Reason = 302
	// ReasonPostOnlyReject: the exchange refused a RejectPostOnly order that
	// would have taken liquidity (Deribit 11054).
	ReasonPostOnlyReject Reason = 303
	// ReasonRateLimited: the exchange's rate limit (Deribit 10028).
	ReasonRateLimited Reason = 304
)

var reasonNames = map[Reason]string{
	ReasonNone:               "none",
	ReasonCancelRequested:    "cancel_requested",
	ReasonCancelOnDisconnect: "cancel_on_disconnect",
	ReasonPluginStopped:      "plugin_stopped",
	ReasonPluginFault:        "plugin_fault",
	ReasonKillSwitch:         "kill_switch",
	ReasonUnfilled:           "unfilled",
	ReasonExpired:            "expired",
	ReasonExchangeCancel:     "exchange_cancel",
	ReasonMalformed:          "malformed",
	ReasonUnsupported:        "unsupported",
	ReasonUnknownInstrument:  "unknown_instrument",
	ReasonBadTick:            "bad_tick",
	ReasonBadPrice:           "bad_price",
	ReasonBelowMinAmount:     "below_min_amount",
	ReasonBadAmount:          "bad_amount",
	ReasonDuplicateCID:       "duplicate_cid",
	ReasonUnknownCID:         "unknown_cid",
	ReasonNotOpen:            "not_open",
	ReasonRiskMaxOrderAmount: "risk_max_order_amount",
	ReasonRiskMaxOpenOrders:  "risk_max_open_orders",
	ReasonRiskMaxPosition:    "risk_max_position",
	ReasonRiskMaxNotional:    "risk_max_notional",
	ReasonRiskRate:           "risk_rate",
	ReasonRiskKillSwitch:     "risk_kill_switch",
	ReasonRiskPriceBand:      "risk_price_band",
	ReasonNoConnection:       "no_connection",
	ReasonTimeout:            "timeout",
	ReasonExchangeError:      "exchange_error",
	ReasonPostOnlyReject:     "post_only_reject",
	ReasonRateLimited:        "rate_limited",
}

// String returns the reason's snake_case name, or its number.
func (r Reason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return strconv.Itoa(int(r))
}

// IsRefusal reports whether r is in a refusal range (100..399).
func (r Reason) IsRefusal() bool { return r >= 100 && r <= 399 }

// MarshalJSON renders a known reason as its name and another as a number.
func (r Reason) MarshalJSON() ([]byte, error) {
	if n, ok := reasonNames[r]; ok {
		return strconv.AppendQuote(nil, n), nil
	}
	return strconv.AppendUint(nil, uint64(r), 10), nil
}

// UnmarshalJSON reads a name or a number.
func (r *Reason) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		for k, n := range reasonNames {
			if n == s {
				*r = k
				return nil
			}
		}
		return fmt.Errorf("abi: unknown reason %q", s)
	}
	n, err := strconv.ParseUint(string(b), 10, 16)
	if err != nil {
		return fmt.Errorf("abi: reason %s: %w", b, err)
	}
	*r = Reason(n)
	return nil
}
