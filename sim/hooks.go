package sim

import (
	"encoding/json"
	"time"
)

// RequestHook is called with the method (without the /api/v2/ prefix) of
// every request a client sends, and the wall-clock time at which the
// server had read it (before it parsed and handled it), on the reading
// connection's goroutine. It must be quick and must not call the Server.
type RequestHook func(method string, read time.Time)

// OnRequest sets the request hook (nil removes it). It is for measurements
// taken on the exchange's side, such as the time from a notification sent to
// the order request it causes (`host bench`).
func (s *Server) OnRequest(h RequestHook) {
	if h == nil {
		s.onRequest.Store(nil)
		return
	}
	s.onRequest.Store(&h)
}

// requestHook calls the request hook, if any.
func (s *Server) requestHook(method string, read time.Time) {
	if h := s.onRequest.Load(); h != nil {
		(*h)(method, read)
	}
}

// RefuseHook is called with the method and params of every well-formed,
// authorised request before the exchange carries it out; a non-nil error
// is the answer instead (nothing is done). It runs with the server locked:
// it must be quick and must not call the Server.
type RefuseHook func(method string, params json.RawMessage) *Error

// Refuse sets the refusal hook (nil removes it): fault injection for tests
// of what a client does when the exchange refuses one request among others
// (one leg of a split order's amend, say).
func (s *Server) Refuse(h RefuseHook) {
	if h == nil {
		s.refuse.Store(nil)
		return
	}
	s.refuse.Store(&h)
}

// DisconnectHook is called with the orders that cancel-on-disconnect has
// just cancelled when a connection closed (in their state after the
// cancel). It runs with the server locked: it must be quick and must not
// call the Server.
type DisconnectHook func(cancelled []Order)

// OnCancelOnDisconnect sets the cancel-on-disconnect hook (nil removes it):
// for measurements of what a client does with the orders a lost connection
// took (`host bench --only churn` counts the losses of each label).
func (s *Server) OnCancelOnDisconnect(h DisconnectHook) {
	if h == nil {
		s.onCOD.Store(nil)
		return
	}
	s.onCOD.Store(&h)
}
