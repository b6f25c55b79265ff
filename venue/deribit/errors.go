package deribit

import (
	"unicode/utf8"

	"github.com/stratbox/stratbox/abi"
)

// Deribit error codes (deribit.md §6, the classic table, which the live
// server and the simulator use) that the order manager acts on.
const (
	CodeQtyTooLow                = 10002
	CodeOrderNotFound            = 10004
	CodePriceTooLow              = 10005
	CodePriceTooHigh             = 10007
	CodeNotEnoughFunds           = 10009
	CodeAlreadyClosed            = 10010
	CodeBookClosed               = 10012
	CodeInvalidAmount            = 10021
	CodeInvalidPrice             = 10023
	CodeTooManyRequests          = 10028
	CodeRetry                    = 10040
	CodeSettlementInProgress     = 10041
	CodePriceWrongTick           = 10043
	CodeMatchingEngineQueueFull  = 10047
	CodeTooManyConcurrentRequest = 10066
	CodeAlreadyFilled            = 11008
	CodeNotOpenOrder             = 11044
	CodeSystemMaintenance        = 11051
	CodePostOnlyReject           = 11054
	CodeTemporarilyUnavailable   = 13028
)

// errorNames is the classic table of deribit.md §6.
var errorNames = map[int]string{
	10000: "authorization_required", 10001: "error", 10002: "qty_too_low", 10003: "order_overlap",
	10004: "order_not_found", 10005: "price_too_low", 10007: "price_too_high", 10009: "not_enough_funds",
	10010: "already_closed", 10012: "book_closed", 10019: "locked_by_admin",
	10020: "invalid_or_unsupported_instrument", 10021: "invalid_amount", 10023: "invalid_price",
	10025: "invalid_order_id", 10028: "too_many_requests", 10029: "not_owner_of_order",
	10030: "must_be_websocket_request", 10040: "retry", 10041: "settlement_in_progress",
	10043: "price_wrong_tick", 10047: "matching_engine_queue_full", 10049: "cancel_on_disconnect_failed",
	10066: "too_many_concurrent_requests", 11008: "already_filled", 11029: "invalid_arguments",
	11030: "invalid_reduce_only_order", 11031: "fill_or_kill_not_filled",
	11044: "not_open_order", 11050: "bad_request", 11051: "system_maintenance",
	11052: "subscribe_error_unsubscribed", 11054: "post_only_reject",
	11056: "unauthenticated_public_requests_temporarily_disabled", 13004: "invalid_credentials",
	13009: "unauthorized", 13010: "value_required", 13020: "not_found", 13021: "forbidden",
	13028: "temporarily_unavailable", 13030: "mmp_trigger", 13042: "cod_not_enabled",
	13403: "scope_exceeded", 13666: "request_cancelled_by_user",
	13778:  "raw_subscriptions_not_available_for_unauthorized",
	-32602: "Invalid params", -32601: "Method not found", -32700: "Parse error", -32000: "Missing params",
}

// ErrorName is the classic name of a Deribit error code ("not_enough_funds"
// for 10009), or "" for a code not in the table.
func ErrorName(code int) string { return errorNames[code] }

// Reject is what an exchange error means for an order_update (a refused
// place) or an intent_rejected (a refused amend, cancel or cancel_all).
type Reject struct {
	Reason       abi.Reason // abi/README.md §12: always a 3xx reason
	ExchangeCode int32      // the exchange's code, kept whatever the reason
	Text         abi.Str32  // the exchange's message (or the code's name), cut at 32 bytes on a UTF-8 boundary
}

// RejectFromError maps a Deribit error (the code and message of a JSON-RPC
// error response to private/buy, sell, edit or cancel) to an abi reason:
//
//	11054 post_only_reject                          → post_only_reject (303)
//	10028 too_many_requests, 10066 too_many_concurrent_requests → rate_limited (304)
//	anything else (10009 not_enough_funds, 10043 price_wrong_tick,
//	10002 qty_too_low, 11051 system_maintenance, 11044 not_open_order,
//	10004 order_not_found, ...)                     → exchange_error (302)
//
// The exchange's code always goes to ExchangeCode and its message (or, when
// msg is empty, the code's classic name) to Text. Refusals by the exchange
// stay in the 3xx range even when a 1xx reason describes the same problem
// (price_wrong_tick vs bad_tick): abi/README.md §12 reserves 1xx for intents
// the host refused and never sent. Use Retryable to decide whether the
// order manager may try again.
func RejectFromError(code int, msg string) Reject {
	r := Reject{Reason: abi.ReasonExchangeError, ExchangeCode: int32(code)}
	switch code {
	case CodePostOnlyReject:
		r.Reason = abi.ReasonPostOnlyReject
	case CodeTooManyRequests, CodeTooManyConcurrentRequest:
		r.Reason = abi.ReasonRateLimited
	}
	if msg == "" {
		msg = errorNames[code]
	}
	putText(&r.Text, msg)
	return r
}

// Retryable reports whether a request refused with code may succeed if sent
// again later unchanged (rate limits, maintenance, settlement, a busy
// matching engine). Deribit closes the session after 10028, so the retry
// belongs on another (or a new) connection.
func Retryable(code int) bool {
	switch code {
	case CodeTooManyRequests, CodeTooManyConcurrentRequest, CodeRetry, CodeSettlementInProgress,
		CodeMatchingEngineQueueFull, CodeSystemMaintenance, CodeTemporarilyUnavailable:
		return true
	}
	return false
}

// ApplyTo sets o's reason, exchange code and text (a refused place: the
// caller sets the state to abi.StateRejected).
func (r Reject) ApplyTo(o *abi.OrderUpdate) {
	o.Reason, o.ExchangeCode, o.Text = r.Reason, r.ExchangeCode, r.Text
}

// ApplyToIntent sets x's reason, exchange code and text.
func (r Reject) ApplyToIntent(x *abi.IntentRejected) {
	x.Reason, x.ExchangeCode, x.Text = r.Reason, r.ExchangeCode, r.Text
}

// putText writes s into dst, zero-filled, cut to 32 bytes at a UTF-8
// boundary, and with any zero byte ending the text (abi/README.md
// "Strings": no zero byte inside the text).
func putText[T ~string | ~[]byte](dst *abi.Str32, s T) { putStr(dst[:], s) }

// putStr writes s into the fixed-size field dst as putText does.
func putStr[T ~string | ~[]byte](dst []byte, s T) {
	clear(dst)
	n := len(s)
	for i := 0; i < n; i++ {
		if s[i] == 0 {
			n = i
			break
		}
	}
	if n > len(dst) {
		n = len(dst)
		// Back off to the start of a rune: never cut a multi-byte sequence.
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
	}
	copy(dst, s[:n])
}
