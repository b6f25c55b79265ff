package conn

import (
	"github.com/stratbox/stratbox/conn/jsonscan"
	"github.com/stratbox/stratbox/heartbeat"
)

// Kind is what a frame from the exchange is, as far as the connection cares.
type Kind uint8

// Frame kinds.
const (
	// KindInvalid: not a JSON-RPC frame the connection understands.
	KindInvalid Kind = iota
	// KindTestRequest: method "heartbeat", params.type "test_request"; must
	// be answered with public/test.
	KindTestRequest
	// KindHeartbeat: method "heartbeat" of any other type.
	KindHeartbeat
	// KindResponse: a response carrying "result".
	KindResponse
	// KindError: a response carrying "error" (with or without an id).
	KindError
	// KindNotification: method "subscription".
	KindNotification
	// KindOther: a request of another method from the exchange.
	KindOther
)

var kindNames = [...]string{"invalid", "test_request", "heartbeat", "response", "error", "notification", "other"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(?)"
}

// Frame is the result of Classify: the frame's kind, its id when it is a
// response, and where the value that matters starts.
type Frame struct {
	Kind Kind
	// HasID reports that the frame has a non-negative integer "id" (the only
	// kind of id this connection sends); ID is its value.
	HasID bool
	ID    uint64
	// Value is the offset of the "result" (KindResponse), "error"
	// (KindError) or "params" (KindNotification) value, or -1.
	Value int
}

const envelope = `{"jsonrpc":"2.0"`

// Classify tells what a frame is by scanning its top-level keys, without
// decoding it: it stops as soon as the kind (and, for a response, the id) is
// known, so the cost does not grow with the payload when the exchange puts
// "method" or "id" first, as Deribit does. It never allocates. A frame that
// Classify accepts may still be malformed further on; the parser of its
// payload (ParseNotification, ParseResult, ParseError) finds that out.
func Classify(b []byte) Frame {
	f := Frame{Value: -1}
	var s jsonscan.Scanner
	if len(b) > len(envelope) && string(b[:len(envelope)]) == envelope {
		// Every Deribit frame starts so: skip the scan of the constant.
		s.ResetInObject(b, len(envelope))
	} else {
		s.Reset(b)
		if !s.Object() {
			return f
		}
	}
	var (
		method     []byte
		haveMethod bool
		params     = -1
		result     = -1
		errAt      = -1
		haveID     bool
	)
	for {
		k, ok := s.Key()
		if !ok {
			break
		}
		switch string(k) {
		case "method":
			m, ok := s.String()
			if !ok {
				return f
			}
			method, haveMethod = m, true
			if params >= 0 {
				return classifyMethod(b, f, method, params)
			}
		case "params":
			params = s.Pos()
			if haveMethod {
				return classifyMethod(b, f, method, params)
			}
			if _, ok := s.Skip(); !ok {
				return f
			}
		case "id":
			haveID = true
			if s.Peek() == jsonscan.Number {
				num, _ := s.Number()
				f.ID, f.HasID = parseID(num)
			} else if _, ok := s.Skip(); !ok {
				return f
			}
			if result >= 0 {
				f.Kind, f.Value = KindResponse, result
				return f
			}
			if errAt >= 0 {
				f.Kind, f.Value = KindError, errAt
				return f
			}
		case "result":
			result = s.Pos()
			if haveID {
				f.Kind, f.Value = KindResponse, result
				return f
			}
			if _, ok := s.Skip(); !ok {
				return f
			}
		case "error":
			errAt = s.Pos()
			if haveID {
				f.Kind, f.Value = KindError, errAt
				return f
			}
			if _, ok := s.Skip(); !ok {
				return f
			}
		default:
			if _, ok := s.Skip(); !ok {
				return f
			}
		}
	}
	if s.Err() != nil {
		return Frame{Value: -1}
	}
	switch {
	case haveMethod: // a method without params
		return classifyMethod(b, f, method, -1)
	case errAt >= 0: // an error without an id, as Deribit sends for a frame it cannot parse
		f.Kind, f.Value = KindError, errAt
		return f
	}
	return Frame{Value: -1}
}

func classifyMethod(b []byte, f Frame, method []byte, params int) Frame {
	f.HasID, f.ID = false, 0
	switch string(method) {
	case "subscription":
		if params < 0 {
			return f
		}
		f.Kind, f.Value = KindNotification, params
	case heartbeat.MethodHeartbeat:
		f.Kind = KindHeartbeat
		if params >= 0 && heartbeatType(b, params) {
			f.Kind = KindTestRequest
		}
	default:
		f.Kind, f.Value = KindOther, params
	}
	return f
}

// heartbeatType reports whether the params object at pos has type
// "test_request".
func heartbeatType(b []byte, pos int) bool {
	var s jsonscan.Scanner
	s.ResetAt(b, pos)
	if !s.Object() {
		return false
	}
	for {
		k, ok := s.Key()
		if !ok {
			return false
		}
		if string(k) == "type" {
			v, ok := s.String()
			return ok && string(v) == heartbeat.TypeTestRequest
		}
		if _, ok := s.Skip(); !ok {
			return false
		}
	}
}

func parseID(num []byte) (uint64, bool) {
	if len(num) == 0 || num[0] == '-' {
		return 0, false
	}
	var u uint64
	for _, c := range num {
		if c < '0' || c > '9' || u > (1<<64-1-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	return u, true
}

// ParseNotification returns the channel and the raw data of a frame that
// Classify found to be a notification. Both slices point into b.
func ParseNotification(b []byte, f Frame) (channel, data []byte, err error) {
	if f.Kind != KindNotification || f.Value < 0 {
		return nil, nil, malformed("not a notification")
	}
	var s jsonscan.Scanner
	s.ResetAt(b, f.Value)
	if !s.Object() {
		return nil, nil, malformedErr(s.Err())
	}
	for {
		k, ok := s.Key()
		if !ok {
			break
		}
		switch string(k) {
		case "channel":
			channel, ok = s.String()
		case "data":
			data, ok = s.Skip()
		default:
			_, ok = s.Skip()
		}
		if !ok {
			return nil, nil, malformedErr(s.Err())
		}
	}
	if s.Err() != nil {
		return nil, nil, malformedErr(s.Err())
	}
	if channel == nil || data == nil {
		return nil, nil, malformed("notification without channel or data")
	}
	return channel, data, nil
}

// SplitNotification splits a frame that Classify found to be a
// notification without scanning its data, for a reader that parses the
// data right after and parses it whole (the replay's translator): a
// notification is then scanned once rather than twice. It reads params
// up to its "data" member, which must come after "channel", and takes
// for data everything from there to the frame's last two closing braces,
// Deribit's layout ({…,"params":{"channel":…,"data":…}}). That data is
// not checked: it is the data ParseNotification returns if and only if it
// is one whole JSON value, which the caller must check (a strict parse to
// its end) before it uses it, and go to ParseNotification when it is not.
// ok is false for any other layout. Both slices point into b.
func SplitNotification(b []byte, f Frame) (channel, data []byte, ok bool) {
	if f.Kind != KindNotification || f.Value < 0 {
		return nil, nil, false
	}
	var s jsonscan.Scanner
	s.ResetAt(b, f.Value)
	if !s.Object() {
		return nil, nil, false
	}
	for {
		k, more := s.Key()
		if !more {
			return nil, nil, false
		}
		switch string(k) {
		case "channel":
			if channel, ok = s.String(); !ok {
				return nil, nil, false
			}
			continue
		case "data":
			if channel == nil {
				return nil, nil, false
			}
		default:
			if _, ok = s.Skip(); !ok {
				return nil, nil, false
			}
			continue
		}
		break
	}
	start, end := s.Pos(), len(b)
	for range 2 { // the closing braces of params and of the frame
		end = trimSpaceEnd(b, start, end)
		if end == start || b[end-1] != '}' {
			return nil, nil, false
		}
		end--
	}
	for start < end && isSpace(b[start]) {
		start++
	}
	end = trimSpaceEnd(b, start, end)
	if start == end {
		return nil, nil, false
	}
	return channel, b[start:end], true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// trimSpaceEnd is end less the JSON white space before it, down to start.
func trimSpaceEnd(b []byte, start, end int) int {
	for end > start && isSpace(b[end-1]) {
		end--
	}
	return end
}

// ParseResult returns the raw "result" value of a frame that Classify found
// to be a response. It points into b.
func ParseResult(b []byte, f Frame) ([]byte, error) {
	if f.Kind != KindResponse || f.Value < 0 {
		return nil, malformed("not a response")
	}
	var s jsonscan.Scanner
	s.ResetAt(b, f.Value)
	raw, ok := s.Skip()
	if !ok {
		return nil, malformedErr(s.Err())
	}
	return raw, nil
}

// ParseError decodes the "error" object of a frame that Classify found to be
// an error response into an *RPCError (which owns copies of its fields).
func ParseError(b []byte, f Frame) (*RPCError, error) {
	if f.Kind != KindError || f.Value < 0 {
		return nil, malformed("not an error response")
	}
	var s jsonscan.Scanner
	s.ResetAt(b, f.Value)
	if !s.Object() {
		return nil, malformedErr(s.Err())
	}
	e := &RPCError{}
	haveCode := false
	for {
		k, ok := s.Key()
		if !ok {
			break
		}
		switch string(k) {
		case "code":
			var c int64
			c, ok = s.Int()
			e.Code, haveCode = int(c), ok
		case "message":
			var m []byte
			if m, ok = s.String(); ok {
				var u []byte
				u, err := jsonscan.AppendUnescaped(nil, m)
				if err != nil {
					return nil, malformedErr(err)
				}
				e.Message = string(u)
			}
		case "data":
			var d []byte
			if d, ok = s.Skip(); ok && string(d) != "null" {
				e.Data = append([]byte(nil), d...)
			}
		default:
			_, ok = s.Skip()
		}
		if !ok {
			return nil, malformedErr(s.Err())
		}
	}
	if s.Err() != nil {
		return nil, malformedErr(s.Err())
	}
	if !haveCode {
		return nil, malformed("error without code")
	}
	return e, nil
}
