package telemetry

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/pool"
)

// Span names of the connections' lifecycle.
const (
	SpanConnect      = "conn.connect"        // one attempt: dial → ready (or failed)
	SpanDial         = "conn.dial"           // dial, public/set_heartbeat
	SpanAuthSub      = "conn.auth_subscribe" // public/auth, cancel-on-disconnect, (re)subscription of the kept channels
	SpanReconnect    = "conn.reconnect"      // connection lost → ready again: backoff and attempts
	SpanSlowConsumer = "conn.slow_consumer"  // the notification sink overflowed → caught up
)

// ConnTracer turns the state changes of connections (conn.StateChange)
// into lifecycle spans: each attempt a conn.connect span with its phases,
// each loss a conn.reconnect span holding the attempts until the
// connection is ready again. It keeps the otel dependency out of conn.
type ConnTracer struct {
	tracer trace.Tracer
	mu     sync.Mutex
	conns  map[int]*connSpans
}

type connSpans struct {
	connect, phase, reconnect, slow trace.Span
	connectCtx, reconnectCtx        context.Context
}

// ConnTracer returns the tracer of connection lifecycles (nil when traces
// are off; a nil ConnTracer ignores everything).
func (t *Telemetry) ConnTracer() *ConnTracer {
	if t == nil || t.TracerProvider == nil {
		return nil
	}
	return &ConnTracer{tracer: t.Tracer(), conns: map[int]*connSpans{}}
}

// WatchPool follows the lifecycle of every member of p (pool.ObserveMembers).
// Call it before p.Start.
func (c *ConnTracer) WatchPool(p *pool.Pool) {
	if c != nil {
		p.ObserveMembers(c.StateChanged)
	}
}

// StateChanged records one transition of connection id.
func (c *ConnTracer) StateChanged(id int, ch conn.StateChange) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.conns[id]
	if s == nil {
		s = &connSpans{}
		c.conns[id] = s
	}
	at := trace.WithTimestamp(ch.At)
	endPhase := func(err error) {
		if s.phase != nil {
			if err != nil {
				s.phase.SetStatus(codes.Error, err.Error())
			}
			s.phase.End(at)
			s.phase = nil
		}
		if s.connect != nil && (err != nil || ch.To == conn.StateReady) {
			if err != nil {
				s.connect.SetStatus(codes.Error, err.Error())
			}
			s.connect.End(at)
			s.connect, s.connectCtx = nil, nil
		}
	}
	idAttr := host.AttrConnection.Int(id)
	switch ch.To {
	case conn.StateConnecting:
		endPhase(errors.New("attempt abandoned"))
		parent := context.Background()
		if s.reconnectCtx != nil {
			parent = s.reconnectCtx
		}
		opts := []trace.SpanStartOption{at, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(idAttr, attribute.Int("stratbox.attempt", ch.Attempt))}
		if s.reconnectCtx == nil {
			opts = append(opts, trace.WithNewRoot())
		}
		s.connectCtx, s.connect = c.tracer.Start(parent, SpanConnect, opts...)
		_, s.phase = c.tracer.Start(s.connectCtx, SpanDial, at)
	case conn.StateAuthenticating:
		if s.phase != nil {
			s.phase.End(at)
		}
		if s.connectCtx != nil {
			_, s.phase = c.tracer.Start(s.connectCtx, SpanAuthSub, at)
		}
	case conn.StateReady:
		if s.slow != nil && ch.From == conn.StateDegraded && s.connect == nil {
			s.slow.End(at)
			s.slow = nil
			return
		}
		endPhase(nil)
		if s.reconnect != nil {
			s.reconnect.AddEvent("re-established", at)
			s.reconnect.End(at)
			s.reconnect, s.reconnectCtx = nil, nil
		}
	case conn.StateDegraded:
		if errors.Is(ch.Err, conn.ErrSlowConsumer) {
			if s.slow == nil {
				_, s.slow = c.tracer.Start(context.Background(), SpanSlowConsumer, at, trace.WithNewRoot(),
					trace.WithAttributes(idAttr))
			}
			return
		}
		err := ch.Err
		if err == nil {
			err = errors.New("degraded")
		}
		endPhase(err)
		if s.reconnect == nil {
			attrs := []attribute.KeyValue{idAttr}
			if ch.Err != nil {
				attrs = append(attrs, attribute.String("stratbox.error", ch.Err.Error()))
			}
			s.reconnectCtx, s.reconnect = c.tracer.Start(context.Background(), SpanReconnect, at, trace.WithNewRoot(),
				trace.WithAttributes(attrs...))
			s.reconnect.AddEvent("connection lost", at)
		}
	case conn.StateClosed:
		endPhase(errors.New("closed"))
		for _, sp := range []trace.Span{s.slow, s.reconnect} {
			if sp != nil {
				sp.SetStatus(codes.Error, "closed")
				sp.End(at)
			}
		}
		delete(c.conns, id)
	}
}
