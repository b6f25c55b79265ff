package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// request is a JSON-RPC 2.0 request as Deribit takes it.
type request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
	Testnet bool            `json:"testnet"`
	UsIn    int64           `json:"usIn"`
	UsOut   int64           `json:"usOut"`
	UsDiff  int64           `json:"usDiff"`
}

var nullID = json.RawMessage("null")

// call is one request being handled.
type call struct {
	c       *session
	method  string
	params  json.RawMessage
	usIn    int64
	account string // the account the request acts for, once authorized
	tok     *token
}

// decode unmarshals the params into v; a type mismatch is Deribit's -32602.
func (k *call) decode(v any) *Error {
	return decodeParams(k.params, v)
}

type handler struct {
	fn func(k *call) (any, *Error)
	// private methods need an authenticated connection or an access_token.
	private bool
	// scope the token must grant, e.g. "trade:read_write".
	scope string
	// matching-engine methods are rate limited per account, the others per
	// connection.
	matching bool
	// wsOnly methods are refused over HTTP; the simulator serves only
	// WebSocket, so this is documentation.
	wsOnly bool
}

func (c *session) handle(data []byte) {
	s := c.srv
	s.stats.requests.Add(1)
	var read time.Time // for the request hook (hooks.go): when the request was read
	if s.onRequest.Load() != nil {
		read = time.Now()
	}
	usIn := s.clk.Now().UnixMicro()
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.closing.Load() {
		return
	}
	var req request
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	batch := len(trimmed) > 0 && trimmed[0] == '['
	parseErr := error(nil)
	if !batch {
		parseErr = json.Unmarshal(data, &req)
	}
	id := req.ID
	if len(id) == 0 {
		id = nullID
	}
	method := strings.TrimPrefix(req.Method, "/api/v2/")
	s.requestHook(method, read)
	if method == "public/test" {
		c.answered() // the heartbeat answer: never rate limited
	}
	h, known := methods[method]
	k := &call{c: c, method: method, params: req.Params, usIn: usIn}

	var authErr *Error
	if known && h.private && parseErr == nil && !batch {
		authErr = c.authorizeLocked(k, h.scope)
	}
	// Every request costs credits, malformed and unknown ones too; a
	// matching-engine request is charged to the account it acts for.
	if method != "public/test" && !s.cfg.RateLimits.Disabled && !c.chargeLocked(h, k, known && authErr == nil) {
		s.stats.rlKills.Add(1)
		c.reply(id, usIn, nil, NewError(CodeTooManyRequests, nil))
		c.hangUp("too_many_requests")
		return
	}
	switch {
	case batch:
		c.reply(nullID, usIn, nil, NewError(CodeInvalidParams,
			map[string]string{"reason": "batch requests are not supported"}))
		return
	case parseErr != nil:
		c.reply(nullID, usIn, nil, NewError(CodeParseError, map[string]string{"reason": parseReason(parseErr)}))
		return
	case req.Method == "":
		c.reply(id, usIn, nil, NewError(CodeInvalidParams, map[string]string{"param": "method", "reason": "missing"}))
		return
	case len(req.Params) > 0 && req.Params[0] != '{' && !bytes.Equal(req.Params, []byte("null")):
		c.reply(id, usIn, nil, NewError(CodeInvalidParams,
			map[string]string{"param": "params", "reason": "positional params are not supported"}))
		return
	case !known:
		c.reply(id, usIn, nil, NewError(CodeMethodNotFound, nil))
		return
	case authErr != nil:
		c.reply(id, usIn, nil, authErr)
		return
	}
	if rf := s.refuse.Load(); rf != nil {
		if err := (*rf)(method, req.Params); err != nil {
			c.reply(id, usIn, nil, err)
			return
		}
	}
	result, err := h.fn(k)
	if err != errNoResponse {
		c.reply(id, usIn, result, err)
	}
	for _, f := range c.deferred {
		c.send(f)
	}
	c.deferred = c.deferred[:0]
	s.afterOpLocked()
}

// errNoResponse tells handle that the handler answered (or must not answer)
// itself, as private/logout.
var errNoResponse = &Error{Code: -1, Message: "no response"}

func (c *session) reply(id json.RawMessage, usIn int64, result any, err *Error) {
	usOut := c.srv.clk.Now().UnixMicro()
	r := response{JSONRPC: "2.0", ID: id, Testnet: true, UsIn: usIn, UsOut: usOut, UsDiff: usOut - usIn}
	if err != nil {
		r.Error = &rpcError{Code: err.Code, Message: err.Message, Data: err.Data}
	} else {
		if result == nil {
			result = json.RawMessage("null")
		}
		r.Result = result
	}
	b, mErr := json.Marshal(r)
	if mErr != nil {
		panic("sim: response does not marshal: " + mErr.Error())
	}
	c.send(b)
}

// chargeLocked takes the request's credits; false means the client is out of
// credits and, as on Deribit, the session ends. authorized says k.account is
// the account the request acts for.
func (c *session) chargeLocked(h handler, k *call, authorized bool) bool {
	s := c.srv
	now := s.clk.Now()
	if h.matching && authorized && k.account != "" {
		a := s.accountLocked(k.account)
		b := &a.me
		if (k.method == "private/cancel_all" || k.method == "private/cancel_by_label") && !hasParam(k.params, "currency") {
			b = &a.cancelAll
		}
		return b.take(now, 1)
	}
	return c.credits.take(now, float64(s.cfg.RateLimits.NonMatchingCost))
}

func hasParam(params json.RawMessage, name string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(params, &m) != nil {
		return false
	}
	_, ok := m[name]
	return ok
}

// parseReason says what is wrong with a request that is not a JSON-RPC
// object, in the client's terms: never a Go type or field name.
func parseReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return "wrong format: " + te.Field
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "invalid JSON at offset " + strconv.FormatInt(se.Offset, 10)
	}
	return "not a JSON-RPC 2.0 request object"
}
