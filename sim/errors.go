package sim

// Deribit's classic error codes (docs/deribit.md §6), the ones the
// simulator emits.
const (
	CodeAuthorizationRequired  = 10000
	CodeError                  = 10001
	CodeQtyTooLow              = 10002
	CodeOrderNotFound          = 10004
	CodePriceTooLow            = 10005
	CodePriceTooHigh           = 10007
	CodeNotEnoughFunds         = 10009
	CodeAlreadyClosed          = 10010
	CodeInvalidInstrument      = 10020
	CodeInvalidAmount          = 10021
	CodeInvalidPrice           = 10023
	CodeInvalidOrderID         = 10025
	CodeTooManyRequests        = 10028
	CodeNotOwnerOfOrder        = 10029
	CodeMustBeWebsocket        = 10030
	CodePriceWrongTick         = 10043
	CodeAlreadyFilled          = 11008
	CodeInvalidArguments       = 11029
	CodeNotOpenOrder           = 11044
	CodeBadRequest             = 11050
	CodeSystemMaintenance      = 11051
	CodeSubscribeErrorUnsubbed = 11052
	CodePostOnlyReject         = 11054
	CodeInvalidCredentials     = 13004
	CodeUnauthorized           = 13009
	CodeValueRequired          = 13010
	CodeNotFound               = 13020
	CodeForbidden              = 13021
	CodeCODNotEnabled          = 13042
	CodeScopeExceeded          = 13403
	CodeRawSubsUnauthorized    = 13778
	CodeInvalidParams          = -32602
	CodeMethodNotFound         = -32601
	CodeParseError             = -32700
	CodeMissingParams          = -32000
	CodeReduceOnlyExceeded     = 11030 // not in the classic list; reduce-only orders that would grow a position are rejected with invalid_reduce_only_order
	CodeFillOrKillNotFilled    = 11031 // not in the classic list: an FOK order that cannot fill entirely
)

var codeMessages = map[int]string{
	CodeAuthorizationRequired:  "authorization_required",
	CodeError:                  "error",
	CodeQtyTooLow:              "qty_too_low",
	CodeOrderNotFound:          "order_not_found",
	CodePriceTooLow:            "price_too_low",
	CodePriceTooHigh:           "price_too_high",
	CodeNotEnoughFunds:         "not_enough_funds",
	CodeAlreadyClosed:          "already_closed",
	CodeInvalidInstrument:      "invalid_or_unsupported_instrument",
	CodeInvalidAmount:          "invalid_amount",
	CodeInvalidPrice:           "invalid_price",
	CodeInvalidOrderID:         "invalid_order_id",
	CodeTooManyRequests:        "too_many_requests",
	CodeNotOwnerOfOrder:        "not_owner_of_order",
	CodeMustBeWebsocket:        "must_be_websocket_request",
	CodePriceWrongTick:         "price_wrong_tick",
	CodeAlreadyFilled:          "already_filled",
	CodeInvalidArguments:       "invalid_arguments",
	CodeNotOpenOrder:           "not_open_order",
	CodeBadRequest:             "bad_request",
	CodeSystemMaintenance:      "system_maintenance",
	CodeSubscribeErrorUnsubbed: "subscribe_error_unsubscribed",
	CodePostOnlyReject:         "post_only_reject",
	CodeInvalidCredentials:     "invalid_credentials",
	CodeUnauthorized:           "unauthorized",
	CodeValueRequired:          "value_required",
	CodeNotFound:               "not_found",
	CodeForbidden:              "forbidden",
	CodeCODNotEnabled:          "cod_not_enabled",
	CodeScopeExceeded:          "scope_exceeded",
	CodeRawSubsUnauthorized:    "raw_subscriptions_not_available_for_unauthorized",
	CodeInvalidParams:          "Invalid params",
	CodeMethodNotFound:         "Method not found",
	CodeParseError:             "Parse error",
	CodeMissingParams:          "Missing params",
	CodeReduceOnlyExceeded:     "invalid_reduce_only_order",
	CodeFillOrKillNotFilled:    "fill_or_kill_not_filled",
}

// NewError returns the exchange error for code, with Deribit's message.
// data, when not nil, becomes the error's data member (Deribit uses
// {"reason": …, "param": …}).
func NewError(code int, data any) *Error {
	msg, ok := codeMessages[code]
	if !ok {
		msg = "error"
	}
	return &Error{Code: code, Message: msg, Data: data}
}

// paramError is Deribit's shape for a bad parameter: -32602 with data
// {reason, param}.
func paramError(param, reason string) *Error {
	return NewError(CodeInvalidParams, map[string]string{"param": param, "reason": reason})
}
