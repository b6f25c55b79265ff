package conn

import (
	"sync/atomic"
	"time"
)

// Notification is one "subscription" frame from the exchange.
type Notification struct {
	// Channel is params.channel, e.g. "book.BTC-PERPETUAL.100ms" (raw bytes
	// of the JSON string; Deribit channel names contain no escapes).
	Channel []byte
	// Data is the raw JSON of params.data.
	Data []byte
	// Received is when the frame was read, by the injected clock.
	Received time.Time
}

// Sink receives notifications on the connection's read goroutine, in the
// order they arrived.
//
// Deliver must not block and must not wait for anything a consumer can
// hold: the heartbeat of the connection is answered on the same goroutine.
// Channel and Data point into the read buffer and are valid only until
// Deliver returns; a Sink that keeps them must copy them. Deliver reports
// false when it dropped a notification (this one or an older one) to stay
// within its bounds; the connection counts it and reports the overflow.
//
// The built-in Queue is the default Sink. A venue decoder that decodes in
// place and routes without blocking is the other intended kind.
type Sink interface {
	Deliver(n Notification) bool
}

// Queue is a bounded FIFO Sink with an explicit overflow policy, read from a
// channel. It copies each notification (one allocation holding channel and
// data) so that the consumer owns what it receives.
//
// Deliver is meant for one producer (the read goroutine); C may be read by
// any number of consumers. Stats is safe to call at any time.
type Queue struct {
	ch        chan Notification
	policy    Overflow
	delivered atomic.Uint64
	dropped   atomic.Uint64
}

var _ Sink = (*Queue)(nil)

// QueueStats are a Queue's counters.
type QueueStats struct {
	Policy    Overflow
	Cap, Len  int
	Delivered uint64 // accepted into the queue
	Dropped   uint64 // discarded by the policy (oldest or newest)
}

// NewQueue returns a Queue of capacity n (at least 1) with policy p
// (DropOldest if empty).
func NewQueue(n int, p Overflow) *Queue {
	if n < 1 {
		n = 1
	}
	if p == "" {
		p = DropOldest
	}
	return &Queue{ch: make(chan Notification, n), policy: p}
}

// C is the channel consumers read notifications from.
func (q *Queue) C() <-chan Notification { return q.ch }

// Deliver queues a copy of n, applying the overflow policy when the queue is
// full. It never blocks.
func (q *Queue) Deliver(n Notification) bool {
	buf := make([]byte, len(n.Channel)+len(n.Data))
	copy(buf, n.Channel)
	copy(buf[len(n.Channel):], n.Data)
	n.Channel = buf[:len(n.Channel):len(n.Channel)]
	n.Data = buf[len(n.Channel):]
	select {
	case q.ch <- n:
		q.delivered.Add(1)
		return true
	default:
	}
	if q.policy == DropNewest {
		q.dropped.Add(1)
		return false
	}
	// DropOldest: make room. A consumer may take an element meanwhile, in
	// which case nothing needs dropping; another producer is not allowed.
	select {
	case <-q.ch:
		q.dropped.Add(1)
	default:
	}
	select {
	case q.ch <- n:
		q.delivered.Add(1)
	default:
		q.dropped.Add(1) // only with a second producer; never block
	}
	return false
}

// Stats returns the queue's counters.
func (q *Queue) Stats() QueueStats {
	return QueueStats{Policy: q.policy, Cap: cap(q.ch), Len: len(q.ch),
		Delivered: q.delivered.Load(), Dropped: q.dropped.Load()}
}
