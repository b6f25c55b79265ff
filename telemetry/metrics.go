package telemetry

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/pool"
)

// Metric names of the observable instruments and of the heartbeat
// histograms (the engine's own are host.Metric*). docs/telemetry.md lists
// them all.
const (
	MetricFrames          = "stratbox.frames"
	MetricFramesMalformed = "stratbox.frames.malformed"
	MetricBookGaps        = "stratbox.book.gaps"
	MetricEventsRouted    = "stratbox.events.routed"
	MetricIntents         = "stratbox.intents"
	MetricIntentsRefused  = "stratbox.intents.refused"
	MetricOrdersPlaced    = "stratbox.orders.placed"
	MetricOrdersAcked     = "stratbox.orders.acknowledged"
	MetricOrdersFilled    = "stratbox.orders.filled"
	MetricOrdersCancelled = "stratbox.orders.cancelled"
	MetricFills           = "stratbox.fills"
	MetricOrderRequests   = "stratbox.order.requests"
	MetricOrdersInFlight  = "stratbox.order.requests.in_flight"
	MetricReestablished   = "stratbox.orders.reestablished"
	MetricKilled          = "stratbox.kill_switch"

	MetricPluginCalls      = "stratbox.plugin.calls"
	MetricPluginIntents    = "stratbox.plugin.intents"
	MetricPluginDispatched = "stratbox.plugin.events.dispatched"
	MetricPluginConflated  = "stratbox.plugin.events.conflated"
	MetricPluginDropped    = "stratbox.plugin.events.dropped"
	MetricPluginRestarts   = "stratbox.plugin.restarts"
	MetricPluginOpenOrders = "stratbox.plugin.open_orders"
	MetricPluginDown       = "stratbox.plugin.down"
	MetricPluginRateShare  = "stratbox.plugin.rate_share"
	MetricPluginShareUse   = "stratbox.plugin.rate_share.requests"
	MetricPluginPosition   = "stratbox.plugin.position"
	MetricPluginRealized   = "stratbox.plugin.pnl.realized"
	MetricPluginUnrealized = "stratbox.plugin.pnl.unrealized"

	MetricPoolConnections = "stratbox.pool.connections"
	MetricPoolHealthy     = "stratbox.pool.connections.healthy"
	MetricPoolDegraded    = "stratbox.pool.degraded"
	MetricPoolFailovers   = "stratbox.pool.failovers"
	MetricPoolMoved       = "stratbox.pool.channels.moved"
	MetricConnFailures    = "stratbox.connection.failures"
	MetricConnReconnects  = "stratbox.connection.reconnects"
	MetricConnOrders      = "stratbox.connection.orders"

	MetricHBTestRequests = "stratbox.heartbeat.test_requests"
	MetricHBAnswered     = "stratbox.heartbeat.answered"
	MetricHBMissed       = "stratbox.heartbeat.missed"
	MetricHBFrames       = "stratbox.heartbeat.heartbeats"
	MetricHBAnswer       = "stratbox.heartbeat.answer.duration"
	MetricHBRoundTrip    = "stratbox.heartbeat.round_trip.duration"
)

// heartbeatBounds are the heartbeat histograms' bucket bounds: answers
// take microseconds, round trips milliseconds.
var heartbeatBounds = []time.Duration{
	time.Microsecond, 2500 * time.Nanosecond, 5 * time.Microsecond, 10 * time.Microsecond, 25 * time.Microsecond,
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// heartbeats produces the per-connection heartbeat histograms at
// collection time from the connections' own lock-free buckets
// (conn.Conn.HeartbeatDistributions): the read goroutine records nothing
// more than it always did. An otel histogram has no asynchronous form, so
// they reach the readers as a metric Producer.
type heartbeats struct {
	start time.Time
	pool  atomic.Pointer[pool.Pool]
}

func newHeartbeats() *heartbeats { return &heartbeats{start: time.Now()} }

// Produce implements sdkmetric.Producer.
func (h *heartbeats) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	p := h.pool.Load()
	if p == nil {
		return nil, nil
	}
	now := time.Now()
	bounds := make([]float64, len(heartbeatBounds))
	for i, b := range heartbeatBounds {
		bounds[i] = b.Seconds()
	}
	var answer, trip []metricdata.HistogramDataPoint[float64]
	for i := range p.Size() {
		a, r := p.Conn(i).HeartbeatDistributions(heartbeatBounds)
		set := attribute.NewSet(host.AttrConnection.Int(i))
		answer = append(answer, point(set, h.start, now, bounds, a.Counts, a.Count, a.Sum, a.Max))
		trip = append(trip, point(set, h.start, now, bounds, r.Counts, r.Count, r.Sum, r.Max))
	}
	return []metricdata.ScopeMetrics{{
		Scope: instrumentation.Scope{Name: ScopeName},
		Metrics: []metricdata.Metrics{
			{Name: MetricHBAnswer, Unit: "s", Description: "Heartbeat answer latency per connection: test_request read → public/test written.",
				Data: metricdata.Histogram[float64]{DataPoints: answer, Temporality: metricdata.CumulativeTemporality}},
			{Name: MetricHBRoundTrip, Unit: "s", Description: "Heartbeat round trip per connection: public/test written → its response read.",
				Data: metricdata.Histogram[float64]{DataPoints: trip, Temporality: metricdata.CumulativeTemporality}},
		},
	}}, nil
}

func point(set attribute.Set, start, now time.Time, bounds []float64, counts []uint64, n uint64, sum, mx time.Duration) metricdata.HistogramDataPoint[float64] {
	dp := metricdata.HistogramDataPoint[float64]{Attributes: set, StartTime: start, Time: now, Count: n,
		Bounds: bounds, BucketCounts: counts, Sum: sum.Seconds()}
	if n > 0 {
		dp.Max = metricdata.NewExtrema(mx.Seconds())
	}
	return dp
}

// Observe registers the observable instruments that read the engine's and
// the pool's counters at collection time (either may be nil), and makes
// the pool's heartbeat histograms part of every collection. It costs the
// hot path nothing: the counters exist anyway. Call it once per run.
func (t *Telemetry) Observe(e *host.Engine, p *pool.Pool) error {
	if t.MeterProvider == nil {
		return nil
	}
	if p != nil {
		t.hb.pool.Store(p)
	}
	m := t.Meter()
	var errs []error
	var insts []metric.Observable
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		insts = append(insts, c)
		return c
	}
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		insts = append(insts, g)
		return g
	}
	var cb []func(metric.Observer)
	if e != nil {
		frames := counter(MetricFrames, "{frame}", "Notifications received from the exchange.")
		malformed := counter(MetricFramesMalformed, "{frame}", "Notifications or results that could not be decoded.")
		gaps := counter(MetricBookGaps, "{gap}", "Book changes that skipped one (a resubscription follows).")
		routed := counter(MetricEventsRouted, "{event}", "Market records routed to plugin inboxes.")
		intents := counter(MetricIntents, "{intent}", "Intents received from plugins.")
		refused := counter(MetricIntentsRefused, "{intent}", "Intents refused by validation or risk limits.")
		placed := counter(MetricOrdersPlaced, "{order}", "Orders sent to the exchange.")
		acked := counter(MetricOrdersAcked, "{order}", "Orders the exchange acknowledged as open.")
		filled := counter(MetricOrdersFilled, "{order}", "Orders completely filled.")
		cancelled := counter(MetricOrdersCancelled, "{order}", "Orders cancelled (by anyone).")
		fills := counter(MetricFills, "{fill}", "Fills.")
		requests := counter(MetricOrderRequests, "{request}", "Order requests sent to the exchange.")
		inflight := gauge(MetricOrdersInFlight, "{request}", "Order requests and verifications not answered yet.")
		reest := counter(MetricReestablished, "{order}", "Orders re-placed on another connection after theirs was lost.")
		killed := gauge(MetricKilled, "", "1 once the kill switch is on.")
		calls := counter(MetricPluginCalls, "{call}", "Plugin calls.")
		pIntents := counter(MetricPluginIntents, "{intent}", "Intents per plugin.")
		dispatched := counter(MetricPluginDispatched, "{event}", "Events handed to the plugin.")
		conflated := counter(MetricPluginConflated, "{event}", "Market events replaced or merged by a newer one in the plugin's inbox.")
		dropped := counter(MetricPluginDropped, "{event}", "Trades dropped over the inbox limit, and records too large for the plugin's inbox.")
		restarts := counter(MetricPluginRestarts, "{restart}", "Plugin instances restarted after a fault.")
		open := gauge(MetricPluginOpenOrders, "{order}", "The plugin's orders not final.")
		down := gauge(MetricPluginDown, "", "1 when the circuit breaker stopped the plugin for good.")
		share, err := m.Float64ObservableGauge(MetricPluginRateShare, metric.WithUnit("{request}/s"),
			metric.WithDescription("The plugin's share of the account's matching-request rate (rate_weight; after the margin and the reserve)."))
		errs = append(errs, err)
		insts = append(insts, share)
		shareUse := counter(MetricPluginShareUse, "{request}", "Order requests charged to the plugin's rate share, by how: own (its tokens), borrowed (capacity others left), refused.")
		fgauge := func(name, desc string) metric.Float64ObservableGauge {
			g, err := m.Float64ObservableGauge(name, metric.WithDescription(desc))
			errs = append(errs, err)
			insts = append(insts, g)
			return g
		}
		position := fgauge(MetricPluginPosition, "The plugin's own position per instrument, in the instrument's amount unit (USD for an inverse perpetual, the base currency for a linear one).")
		realized := fgauge(MetricPluginRealized, "The plugin's realized PnL per instrument, fees included, in the instrument's settlement currency.")
		unrealized := fgauge(MetricPluginUnrealized, "The plugin's unrealized PnL per instrument at the last mark price, in the instrument's settlement currency.")
		cb = append(cb, func(o metric.Observer) {
			s := e.Stats()
			o.ObserveInt64(frames, int64(s.Frames))
			o.ObserveInt64(malformed, int64(s.Malformed))
			o.ObserveInt64(gaps, int64(s.BookGaps))
			o.ObserveInt64(routed, int64(s.Events))
			o.ObserveInt64(intents, int64(s.Intents))
			o.ObserveInt64(refused, int64(s.Refused))
			o.ObserveInt64(placed, int64(s.Placed))
			o.ObserveInt64(acked, int64(s.Acked))
			o.ObserveInt64(filled, int64(s.Filled))
			o.ObserveInt64(cancelled, int64(s.Cancelled))
			o.ObserveInt64(fills, int64(s.Fills))
			o.ObserveInt64(requests, int64(s.Requests))
			o.ObserveInt64(inflight, int64(s.InFlight))
			o.ObserveInt64(reest, int64(s.Relocated))
			o.ObserveInt64(killed, b2i(s.Killed))
			for _, ps := range s.Plugins {
				a := metric.WithAttributes(host.AttrPlugin.String(ps.Name))
				o.ObserveInt64(calls, int64(ps.Calls), a)
				o.ObserveInt64(pIntents, int64(ps.Intents), a)
				o.ObserveInt64(dispatched, int64(ps.Inbox.Taken), a)
				o.ObserveInt64(conflated, int64(ps.Inbox.Conflated+ps.Inbox.Merged), a)
				o.ObserveInt64(dropped, int64(ps.Inbox.Dropped), a)
				o.ObserveInt64(restarts, int64(max(ps.Starts, 1)-1), a)
				o.ObserveInt64(open, int64(ps.OpenOrders), a)
				o.ObserveInt64(down, b2i(ps.Down), a)
				for _, pos := range ps.Positions {
					pa := metric.WithAttributes(host.AttrPlugin.String(ps.Name), host.AttrInstrument.String(pos.Instrument))
					o.ObserveFloat64(position, pos.Size.Float64(), pa)
					o.ObserveFloat64(realized, pos.RealizedPnL, pa)
					o.ObserveFloat64(unrealized, pos.UnrealizedPnL, pa)
				}
				if sh := ps.RateShare; sh.Name != "" {
					o.ObserveFloat64(share, sh.Rate, a)
					for _, u := range []struct {
						how string
						n   uint64
					}{{"own", sh.Taken}, {"borrowed", sh.Borrowed}, {"refused", sh.Refused}} {
						o.ObserveInt64(shareUse, int64(u.n), metric.WithAttributes(host.AttrPlugin.String(ps.Name), attribute.String("how", u.how)))
					}
				}
			}
		})
	}
	if p != nil {
		conns := gauge(MetricPoolConnections, "{connection}", "The pool's connections, by state.")
		healthy := gauge(MetricPoolHealthy, "{connection}", "The pool's connections ready for requests.")
		degraded := gauge(MetricPoolDegraded, "", "1 while fewer connections than min_healthy are ready.")
		failovers := counter(MetricPoolFailovers, "{failover}", "Connections lost: their orders verified and re-placed elsewhere, their market channels moved.")
		moved := counter(MetricPoolMoved, "{channel}", "Market channels moved to another connection after a loss.")
		failures := counter(MetricConnFailures, "{failure}", "Losses of the connection (socket error or missed heartbeat deadline).")
		reconnects := counter(MetricConnReconnects, "{reconnect}", "Reconnections of the connection.")
		carried := gauge(MetricConnOrders, "{order}", "Orders the connection carries.")
		testReqs := counter(MetricHBTestRequests, "{test_request}", "test_requests received from the exchange.")
		answered := counter(MetricHBAnswered, "{test_request}", "test_requests answered with public/test.")
		missed := counter(MetricHBMissed, "{test_request}", "Heartbeats missed, by reason: late, dropped, unanswered, silence.")
		hbs := counter(MetricHBFrames, "{frame}", "heartbeat frames received.")
		cb = append(cb, func(o metric.Observer) {
			s := p.Stats()
			byState := map[conn.State]int64{}
			for st := conn.StateIdle; st <= conn.StateClosed; st++ {
				byState[st] = 0
			}
			for _, ms := range s.Members {
				byState[ms.State]++
			}
			for st, n := range byState {
				o.ObserveInt64(conns, n, metric.WithAttributes(attribute.String("stratbox.connection.state", st.String())))
			}
			o.ObserveInt64(healthy, int64(s.Healthy))
			o.ObserveInt64(degraded, b2i(s.Degraded))
			o.ObserveInt64(failovers, int64(s.Losses))
			o.ObserveInt64(moved, int64(s.Moved))
			for _, ms := range s.Members {
				a := metric.WithAttributes(host.AttrConnection.Int(ms.ID))
				o.ObserveInt64(failures, int64(ms.Losses), a)
				o.ObserveInt64(reconnects, int64(ms.Reconnects), a)
				o.ObserveInt64(carried, ms.Carried, a)
				h := ms.Heartbeat
				o.ObserveInt64(testReqs, int64(h.TestRequests), a)
				o.ObserveInt64(answered, int64(h.Answered), a)
				o.ObserveInt64(hbs, int64(h.Heartbeats), a)
				for _, r := range []struct {
					why string
					n   uint64
				}{{"late", h.Late}, {"dropped", h.Dropped}, {"unanswered", h.Unanswered}, {"silence", h.Silences}} {
					o.ObserveInt64(missed, int64(r.n), metric.WithAttributes(host.AttrConnection.Int(ms.ID),
						attribute.String("stratbox.reason", r.why)))
				}
			}
		})
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if len(cb) == 0 {
		return nil
	}
	_, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, f := range cb {
			f(o)
		}
		return nil
	}, insts...)
	return err
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
