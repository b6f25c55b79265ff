package heartbeat

import (
	"strconv"
	"time"
)

// Deribit's heartbeat protocol, as frames.
const (
	// MethodSetHeartbeat asks the exchange to start heartbeats; params
	// {"interval": seconds}. The result is "ok".
	MethodSetHeartbeat = "public/set_heartbeat"
	// MethodDisableHeartbeat stops them.
	MethodDisableHeartbeat = "public/disable_heartbeat"
	// MethodTest is the answer to a test_request.
	MethodTest = "public/test"
	// MethodHeartbeat is the method of both frames the exchange sends:
	// {"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"|"test_request"}}.
	MethodHeartbeat = "heartbeat"
	// TypeTestRequest is params.type of the frame that must be answered.
	TypeTestRequest = "test_request"
	// TypeHeartbeat is params.type of the frame that needs no answer.
	TypeHeartbeat = "heartbeat"
)

// AppendSetParams appends the params object of public/set_heartbeat for
// interval d: {"interval":10}, or a fractional number of seconds such as
// {"interval":0.02} for sub-second intervals (which only the simulator's test
// option accepts).
func AppendSetParams(dst []byte, d time.Duration) []byte {
	dst = append(dst, `{"interval":`...)
	dst = strconv.AppendFloat(dst, d.Seconds(), 'f', -1, 64)
	return append(dst, '}')
}

// AppendAnswer appends the complete public/test request frame with JSON-RPC
// id id. It does not allocate when dst has room for MaxAnswerLen bytes.
func AppendAnswer(dst []byte, id uint64) []byte {
	dst = append(dst, answerPrefix...)
	dst = strconv.AppendUint(dst, id, 10)
	return append(dst, answerSuffix...)
}

const (
	answerPrefix = `{"jsonrpc":"2.0","id":`
	answerSuffix = `,"method":"` + MethodTest + `","params":{}}`
	// MaxAnswerLen is the longest frame AppendAnswer produces.
	MaxAnswerLen = len(answerPrefix) + 20 + len(answerSuffix)
)
