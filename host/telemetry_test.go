package host

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
)

// marketBox is a scriptBox that hands back its queued intents only from a
// call whose batch holds a market record, so that they answer a routed
// frame (the trace follows frames, not order events).
type marketBox struct{ *scriptBox }

func (m marketBox) Deliver(ctx context.Context, batch []byte, now time.Time) ([]byte, error) {
	market := false
	for rec, err := range abi.Records(batch) {
		if err == nil && (rec.Kind == abi.KindTicker || rec.Kind == abi.KindBookSnapshot || rec.Kind == abi.KindBookChange) {
			market = true
		}
	}
	if market {
		return m.scriptBox.Deliver(ctx, batch, now)
	}
	m.mu.Lock()
	held := m.queued
	m.queued = nil
	m.mu.Unlock()
	out, err := m.scriptBox.Deliver(ctx, batch, now)
	m.mu.Lock()
	m.queued = append(held, m.queued...)
	m.mu.Unlock()
	return out, err
}

// telRig is a pool rig whose engine records into an in-memory span
// exporter and a manual metric reader.
type telRig struct {
	*poolRig
	spans  *spanWatch
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
}

// spanWatch is an in-memory span exporter that tells waiters of every
// export.
type spanWatch struct {
	*tracetest.InMemoryExporter
	mu     sync.Mutex
	change chan struct{}
}

func newSpanWatch() *spanWatch {
	return &spanWatch{InMemoryExporter: tracetest.NewInMemoryExporter(), change: make(chan struct{})}
}

func (w *spanWatch) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := w.InMemoryExporter.ExportSpans(ctx, spans)
	w.mu.Lock()
	close(w.change)
	w.change = make(chan struct{})
	w.mu.Unlock()
	return err
}

// wait waits until pred holds for the spans exported so far.
func (w *spanWatch) wait(t testing.TB, what string, pred func(tracetest.SpanStubs) bool) {
	t.Helper()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ch := w.change
		w.mu.Unlock()
		if pred(w.GetSpans()) {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			for _, s := range w.GetSpans() {
				t.Logf("span %s %v %v", s.Name, s.Attributes, s.Events)
			}
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func startTelRig(t *testing.T, cfg Config, pc pool.Config, ratio float64) *telRig {
	t.Helper()
	spans := newSpanWatch()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	pr := startPoolRig(t, cfg, pc, WithTelemetry(Telemetry{Tracer: tp.Tracer("test"), Meter: mp.Meter("test"), SampleRatio: ratio}))
	return &telRig{poolRig: pr, spans: spans, tp: tp, reader: reader}
}

// spanTree indexes ended spans.
type spanTree struct {
	all  tracetest.SpanStubs
	byID map[string]tracetest.SpanStub
}

func treeOf(stubs tracetest.SpanStubs) spanTree {
	t := spanTree{all: stubs, byID: map[string]tracetest.SpanStub{}}
	for _, s := range stubs {
		t.byID[s.SpanContext.SpanID().String()] = s
	}
	return t
}

func (t spanTree) parent(s tracetest.SpanStub) (tracetest.SpanStub, bool) {
	p, ok := t.byID[s.Parent.SpanID().String()]
	return p, ok
}

func attr(s tracetest.SpanStub, k attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// orderSpan finds the stratbox.order span of cid once its trace is ended.
func orderSpan(stubs tracetest.SpanStubs, cid uint64) (spanTree, tracetest.SpanStub, bool) {
	tree := treeOf(stubs)
	for _, s := range tree.all {
		if v, ok := attr(s, AttrCID); s.Name == SpanOrder && ok && v.AsInt64() == int64(cid) {
			return tree, s, true
		}
	}
	return tree, tracetest.SpanStub{}, false
}

// A routed frame that leads to an order gives one trace: route → decode,
// plugin call, intents → intent → order → request (to the exchange),
// delivered (the acknowledgement's plugin call), with the instrument,
// plugin, cid, connection and method; a refused intent's span carries its
// reason. The metrics the engine records read back: call durations, the
// order's round trip, the refusal by reason. Nothing in any span is a
// secret.
func TestTelemetryTraceOfAnOrder(t *testing.T) {
	sb := marketBox{newScriptBox(nil)}
	cfg := Config{Plugins: []PluginSpec{{Name: "tracer", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return sb },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"},
		Risk: &RiskLimits{MaxOrderAmount: fx("1000")}}}}
	r := startTelRig(t, cfg, pool.Config{Size: 2}, 1)

	// A place from a routed frame's call; its trace is complete when the
	// plugin call that delivered the acknowledgement ends.
	// A plugin that takes its batch in the instant between the frame's
	// offer and the push of its records leaves the intent untraced (its
	// intent span would exist by the time the order is open): try again.
	var tree spanTree
	var order tracetest.SpanStub
	var cid uint64
	for cid = 1; ; cid++ {
		if cid > 5 {
			t.Fatal("no place intent of 5 was traced")
		}
		sb.queue(place(uint32(cid), cid, 0, abi.Buy, "1000", "10"))
		sb.waitOrder(t, cid, abi.StateOpen, abi.ReasonNone)
		traced := false
		for _, s := range r.spans.GetSpans() {
			if v, ok := attr(s, AttrCID); s.Name == SpanIntent && ok && v.AsInt64() == int64(cid) {
				traced = true
			}
		}
		if traced {
			break
		}
	}
	r.spans.wait(t, "the order's trace", func(s tracetest.SpanStubs) bool {
		var ok bool
		tree, order, ok = orderSpan(s, cid)
		return ok
	})
	want := map[string]bool{SpanRoute: true, SpanDecode: true, SpanPluginCall: true, SpanIntents: true,
		SpanIntent: true, SpanOrder: true, SpanOrderRequest: true, SpanOrderDelivered: true}
	got := map[string]tracetest.SpanStub{}
	for _, s := range tree.all {
		if s.SpanContext.TraceID() == order.SpanContext.TraceID() {
			if _, dup := got[s.Name]; dup && s.Name != SpanIntent {
				t.Errorf("two %s spans in the trace", s.Name)
			}
			got[s.Name] = s
		}
	}
	for n := range want {
		if _, ok := got[n]; !ok {
			t.Fatalf("trace has no %s span: %v", n, keys(got))
		}
	}
	parentOf := map[string]string{SpanDecode: SpanRoute, SpanPluginCall: SpanRoute, SpanIntents: SpanRoute,
		SpanIntent: SpanIntents, SpanOrder: SpanIntent, SpanOrderRequest: SpanOrder, SpanOrderDelivered: SpanOrder}
	for child, par := range parentOf {
		p, ok := tree.parent(got[child])
		if !ok || p.Name != par {
			t.Errorf("%s's parent is %q, want %s", child, p.Name, par)
		}
	}
	if got[SpanRoute].Parent.IsValid() {
		t.Error("the route span is not a root")
	}
	// In time: received → decoded → call → intents → request → delivered.
	seq := []time.Time{got[SpanRoute].StartTime, got[SpanDecode].EndTime, got[SpanPluginCall].StartTime,
		got[SpanPluginCall].EndTime, got[SpanOrderRequest].StartTime, got[SpanOrderRequest].EndTime,
		got[SpanOrderDelivered].EndTime}
	for i := 1; i < len(seq); i++ {
		if seq[i].Before(seq[i-1]) {
			t.Errorf("stage %d at %v is before stage %d at %v", i, seq[i], i-1, seq[i-1])
		}
	}
	check := func(span string, k attribute.Key, v string) {
		t.Helper()
		a, ok := attr(got[span], k)
		if !ok || a.Emit() != v {
			t.Errorf("%s %s = %q, want %q", span, k, a.Emit(), v)
		}
	}
	check(SpanRoute, AttrInstrument, "BTC-PERPETUAL")
	check(SpanRoute, AttrChannel, "ticker.BTC-PERPETUAL.100ms")
	check(SpanPluginCall, AttrPlugin, "tracer")
	check(SpanOrder, AttrPlugin, "tracer")
	check(SpanOrder, AttrCID, fmt.Sprint(cid))
	check(SpanOrder, AttrState, "open")
	check(SpanOrderRequest, AttrMethod, "private/buy")
	check(SpanIntent, AttrKind, "place")
	if _, ok := attr(got[SpanOrderRequest], AttrConnection); !ok {
		t.Error("the request span has no connection")
	}

	// A refused intent: its span says why, and the refusal is counted.
	sb.queue(place(50, 100, 0, abi.Buy, "1000", "5000")) // over max_order_amount
	sb.waitOrder(t, 100, abi.StateRejected, abi.ReasonRiskMaxOrderAmount)

	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if n := histCount(rm, MetricPluginCallDuration, AttrPlugin, "tracer"); n == 0 {
		t.Errorf("%s: no call recorded", MetricPluginCallDuration)
	}
	if n := histCount(rm, MetricOrderRoundTrip, AttrMethod, "private/buy"); n < 1 {
		t.Errorf("%s private/buy: %d, want ≥ %d", MetricOrderRoundTrip, n, cid)
	}
	if n := sumOf(rm, MetricPluginRejections, AttrReason, abi.ReasonRiskMaxOrderAmount.String()); n != 1 {
		t.Errorf("%s{reason=%s} = %d, want 1", MetricPluginRejections, abi.ReasonRiskMaxOrderAmount, n)
	}
	if !hasMetric(rm, MetricPluginMemoryPages) {
		t.Errorf("no %s", MetricPluginMemoryPages)
	}

	r.stop()
	noSecrets(t, r.spans.GetSpans())
}

func keys(m map[string]tracetest.SpanStub) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// noSecrets fails if any attribute, event or status of spans holds the
// test key's secret or names a credential.
func noSecrets(t *testing.T, spans tracetest.SpanStubs) {
	t.Helper()
	if len(spans) == 0 {
		t.Fatal("no spans")
	}
	for _, s := range spans {
		var texts []string
		for _, kv := range s.Attributes {
			texts = append(texts, string(kv.Key), kv.Value.Emit())
		}
		for _, ev := range s.Events {
			texts = append(texts, ev.Name)
			for _, kv := range ev.Attributes {
				texts = append(texts, string(kv.Key), kv.Value.Emit())
			}
		}
		texts = append(texts, s.Status.Description)
		for _, x := range texts {
			l := strings.ToLower(x)
			for _, bad := range []string{strings.ToLower(sim.TestKeySecret), "client_secret", "signature", "access_token", "refresh_token"} {
				if strings.Contains(l, bad) {
					t.Errorf("span %s holds %q: %q", s.Name, bad, x)
				}
			}
		}
	}
}

func hasMetric(rm metricdata.ResourceMetrics, name string) bool {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return true
			}
		}
	}
	return false
}

func histCount(rm metricdata.ResourceMetrics, name string, k attribute.Key, v string) uint64 {
	var n uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == name {
				for _, dp := range h.DataPoints {
					if a, ok := dp.Attributes.Value(k); ok && a.Emit() == v {
						n += dp.Count
					}
				}
			}
		}
	}
	return n
}

func sumOf(rm metricdata.ResourceMetrics, name string, k attribute.Key, v string) int64 {
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == name {
				for _, dp := range s.DataPoints {
					if a, ok := dp.Attributes.Value(k); ok && a.Emit() == v {
						n += dp.Value
					}
				}
			}
		}
	}
	return n
}

// A connection lost with an order on it gives a failover trace: lost →
// the order's state confirmed over another connection → re-placed there
// (outcome re-placed) → the failover ends.
func TestTelemetryFailoverTrace(t *testing.T) {
	sb := newScriptBox(append(place(1, 1, 0, abi.Buy, "1000", "10"), place(2, 2, 0, abi.Buy, "1000.5", "10")...))
	cfg := Config{Plugins: []PluginSpec{{Name: "script", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return sb },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}}}}
	r := startTelRig(t, cfg, pool.Config{Size: 2, Policy: pool.LeastLoaded}, 1)
	u := sb.waitOrder(t, 1, abi.StateOpen, abi.ReasonNone)
	sb.waitOrder(t, 2, abi.StateOpen, abi.ReasonNone)
	victim, ok := simOrder(r.srv, 1)
	if !ok {
		t.Fatal("order 1 not on the book")
	}
	r.srv.DropConn(victim.ConnID)
	sb.waitFor(t, "order 1 open again", func(rec []byte) bool {
		var v abi.OrderUpdate
		return abi.DecodeOrderUpdate(rec, &v) == nil && v.CID == 1 && v.State == abi.StateOpen &&
			v.ExchangeOrderID != u.ExchangeOrderID
	})
	var fo, fOrder tracetest.SpanStub
	r.spans.wait(t, "the failover trace of order 1", func(spans tracetest.SpanStubs) bool {
		for _, s := range spans {
			if s.Name == SpanFailover {
				fo = s
			}
		}
		if !fo.SpanContext.IsValid() {
			return false
		}
		for _, s := range spans {
			if v, ok := attr(s, AttrCID); s.Name == SpanFailoverOrder && ok && v.AsInt64() == 1 &&
				s.Parent.SpanID() == fo.SpanContext.SpanID() {
				fOrder = s
				return true
			}
		}
		return false
	})
	if v, _ := attr(fOrder, "stratbox.failover.outcome"); v.AsString() != "re-placed" {
		t.Errorf("outcome %q, want re-placed", v.Emit())
	}
	names := map[string]bool{}
	for _, ev := range fOrder.Events {
		names[ev.Name] = true
	}
	if !names["state confirmed"] {
		t.Errorf("failover of order 1: events %v, want state confirmed", fOrder.Events)
	}
	if v, _ := attr(fo, "stratbox.failover.replaced"); v.AsInt64() < 1 {
		t.Errorf("failover replaced %d, want ≥ 1", v.AsInt64())
	}
	if fo.Parent.IsValid() || fo.EndTime.Before(fOrder.EndTime) {
		t.Errorf("failover span: root %v, ends %v before its order's %v", !fo.Parent.IsValid(), fo.EndTime, fOrder.EndTime)
	}
}

// Tracing off (a nil or no-op tracer, no meter) leaves the engine without
// telemetry state, so each hook is one nil check; a bad ratio turns
// tracing off rather than tracing everything.
func TestTelemetryOff(t *testing.T) {
	cfg := Config{Plugins: []PluginSpec{{Name: "p", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return newScriptBox(nil) },
		Instruments: []string{"BTC-PERPETUAL"}}}}
	for _, tel := range []Telemetry{{}, {Tracer: tracenoop.NewTracerProvider().Tracer("x")},
		{Tracer: sdktrace.NewTracerProvider().Tracer("x"), SampleRatio: 2}} {
		e, err := New(cfg, WithTelemetry(tel))
		if err != nil {
			t.Fatal(err)
		}
		if e.tel != nil {
			t.Errorf("%+v: telemetry state %+v, want none", tel, e.tel)
		}
	}
	for ratio, period := range map[float64]uint64{0: 1, 1: 1, 0.01: 100, 0.3: 3} {
		e, err := New(cfg, WithTelemetry(Telemetry{Tracer: sdktrace.NewTracerProvider().Tracer("x"), SampleRatio: ratio}))
		if err != nil {
			t.Fatal(err)
		}
		if e.tel == nil || e.tel.period != period {
			t.Errorf("ratio %v: %+v, want period %d", ratio, e.tel, period)
		}
	}
}
