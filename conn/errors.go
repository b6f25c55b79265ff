package conn

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error the package returns wraps one of these, or is
// (or wraps) an *RPCError or *SubscribeError; check with errors.Is/As.
var (
	// ErrClosed: the Conn was closed (Close, or the context given to Start
	// ended) before or while the operation ran.
	ErrClosed = errors.New("conn: connection closed")
	// ErrStale: the peer went silent for longer than the heartbeat's silence
	// timeout, and the socket was torn down.
	ErrStale = errors.New("conn: stale connection")
	// ErrTimeout: no response within Config.RequestTimeout.
	ErrTimeout = errors.New("conn: request timed out")
	// ErrDisconnected: the socket was lost (or is being replaced) while the
	// request was queued or waiting, or no socket is ready.
	ErrDisconnected = errors.New("conn: disconnected")
	// ErrNotSent is wrapped, together with the cause, when a request failed
	// before any byte of it was written: it is safe to retry elsewhere.
	ErrNotSent = errors.New("conn: request not sent")
	// ErrInsecure: a plaintext ws:// URL to a host that is not loopback,
	// without Config.AllowInsecure.
	ErrInsecure = errors.New("conn: plaintext connection to a non-loopback host")
	// ErrConfig is wrapped by every error Config.Validate returns.
	ErrConfig = errors.New("conn: invalid config")
	// ErrAuth is wrapped, with the cause, when authentication fails.
	ErrAuth = errors.New("conn: authentication failed")
	// ErrDial is wrapped, with the cause, when the WebSocket handshake fails.
	ErrDial = errors.New("conn: dial failed")
	// ErrFrameTooLarge: the response to a request exceeded
	// Config.MaxFrameSize; the frame was skipped.
	ErrFrameTooLarge = errors.New("conn: frame too large")
	// ErrMalformed: a frame could not be parsed. Frames from the exchange that
	// fail are counted and skipped; callers see this only through
	// ParseNotification, ParseResult and ParseError.
	ErrMalformed = errors.New("conn: malformed frame")
	// ErrSlowConsumer is the cause reported with StateDegraded when the
	// notification sink overflows.
	ErrSlowConsumer = errors.New("conn: notification sink overflowed")
	// ErrDecode wraps a failure to decode a result into the caller's value.
	ErrDecode = errors.New("conn: cannot decode result")
)

// RPCError is an error response from the exchange: Deribit's numeric code
// and message, and the raw "data" member when there is one.
type RPCError struct {
	Code    int
	Message string
	Data    []byte // raw JSON, nil when absent or null
}

func (e *RPCError) Error() string {
	s := "conn: exchange error " + strconv.Itoa(e.Code)
	if e.Message != "" {
		s += " " + e.Message
	}
	return s
}

// Is matches another *RPCError with the same Code, so that
// errors.Is(err, &conn.RPCError{Code: 10028}) works.
func (e *RPCError) Is(target error) bool {
	t, ok := target.(*RPCError)
	return ok && t.Code == e.Code
}

// SubscribeError reports channels the exchange did not confirm: Deribit
// answers a subscribe with the list it actually subscribed, and may leave
// some out without an error.
type SubscribeError struct {
	Missing []string
}

func (e *SubscribeError) Error() string {
	s := "conn: channels not subscribed:"
	for _, c := range e.Missing {
		s += " " + c
	}
	return s
}

type malformedError struct {
	msg   string
	cause error
}

func (e *malformedError) Error() string {
	if e.cause != nil {
		return "conn: malformed frame: " + e.msg + ": " + e.cause.Error()
	}
	return "conn: malformed frame: " + e.msg
}

func (e *malformedError) Is(target error) bool { return target == ErrMalformed }
func (e *malformedError) Unwrap() error        { return e.cause }

func malformed(msg string) error { return &malformedError{msg: msg} }

func malformedErr(cause error) error {
	if cause == nil {
		return &malformedError{msg: "truncated"}
	}
	return &malformedError{msg: "syntax", cause: cause}
}

// codeTooManyRequests is Deribit's too_many_requests: the exchange ends the
// session after it, and a new one should wait for the credits to refill.
const codeTooManyRequests = 10028
