package host

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/pool"
)

// Telemetry configures the engine's traces and the metrics only the engine
// can record (EngineTelemetry). The engine's counters (Stats) are read by
// the telemetry package's observable instruments at collection time.
type Telemetry struct {
	// Tracer makes the engine's spans. nil or a no-op tracer: no traces,
	// and the hot path (frame → router → plugin → intents → order
	// request) neither allocates nor reads a clock for them.
	Tracer trace.Tracer
	// SampleRatio is the share of routed market frames that may start a
	// trace: one frame in round(1/SampleRatio) per engine is followed, and
	// its trace is made if the plugin call it reaches returns intents.
	// 0 means 1 (every frame); it must be within 0..1.
	SampleRatio float64
	// Meter makes the histograms of plugin call durations and order
	// request round trips, the counters of refusals by reason, faults by
	// kind and exchange rejections by code, and the plugins' memory gauge.
	// nil: none.
	Meter metric.Meter
}

// Metric and span names (docs/telemetry.md).
const (
	MetricPluginCallDuration = "stratbox.plugin.call.duration"
	MetricPluginRejections   = "stratbox.plugin.rejections"
	MetricPluginFaults       = "stratbox.plugin.faults"
	MetricPluginMemoryPages  = "stratbox.plugin.memory.pages"
	MetricOrderRoundTrip     = "stratbox.order.round_trip.duration"
	MetricOrdersRejected     = "stratbox.orders.rejected"
	MetricOrdersRateLimited  = "stratbox.orders.rate_limited"

	SpanRoute          = "stratbox.route"
	SpanDecode         = "stratbox.decode"
	SpanPluginCall     = "stratbox.plugin.call"
	SpanIntents        = "stratbox.intents"
	SpanIntent         = "stratbox.intent"
	SpanOrder          = "stratbox.order"
	SpanOrderRequest   = "stratbox.order.request"
	SpanOrderDelivered = "stratbox.order.delivered"
	SpanFailover       = "stratbox.failover"
	SpanFailoverOrder  = "stratbox.failover.order"
)

// Attribute keys of the engine's spans and metrics. None carries a secret:
// no key, signature or token ever reaches the engine.
const (
	AttrPlugin     = attribute.Key("stratbox.plugin")
	AttrConnection = attribute.Key("stratbox.connection")
	AttrChannel    = attribute.Key("stratbox.channel")
	AttrInstrument = attribute.Key("stratbox.instrument")
	AttrCID        = attribute.Key("stratbox.cid")
	AttrMethod     = attribute.Key("stratbox.method")
	AttrCode       = attribute.Key("stratbox.exchange.code")
	AttrReason     = attribute.Key("stratbox.reason")
	AttrKind       = attribute.Key("stratbox.kind")
	AttrState      = attribute.Key("stratbox.order.state")
)

// EngineTelemetry turns on the engine's traces and metrics. Invalid
// settings are reported to otel's error handler and leave that part off.
func EngineTelemetry(t Telemetry) EngineOption {
	return func(e *Engine) {
		e.tel = newTelemetry(t)
		if !e.tel.metricsOn() {
			return
		}
		g, err := t.Meter.Int64ObservableGauge(MetricPluginMemoryPages, metric.WithUnit("{page}"),
			metric.WithDescription("The live plugin instance's linear memory, in 64 KiB pages, after its last call."))
		if err == nil {
			_, err = t.Meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
				for _, pl := range e.pluginList() {
					o.ObserveInt64(g, int64(pl.tel.mem.Load()/65536), metric.WithAttributes(AttrPlugin.String(pl.name)))
				}
				return nil
			}, g)
		}
		if err != nil {
			otel.Handle(err)
		}
	}
}

// telemetry is the engine's tracing and metric state; Engine.tel is nil
// when both are off, so that each hook costs one branch.
type telemetry struct {
	tracer trace.Tracer // nil: no traces
	period uint64       // one routed frame in period is followed
	frames atomic.Uint64

	mu     sync.Mutex                // guards live, fos and the option caches
	live   map[*orderTrace]time.Time // traced orders not ended yet
	fos    map[*failover]struct{}    // failovers not ended yet
	active map[int]*failover         // the failover of each pool member in progress (guarded by Engine.mu)

	callDur, roundTrip               metric.Float64Histogram // nil: no metrics
	refusals, faults, rejected       metric.Int64Counter
	limited                          metric.Int64Counter
	methodOpts                       map[string][]metric.RecordOption
	refuseOpts, faultOpts, rejectOpt map[string][]metric.AddOption
}

func newTelemetry(cfg Telemetry) *telemetry {
	t := &telemetry{live: map[*orderTrace]time.Time{}, fos: map[*failover]struct{}{}, active: map[int]*failover{}}
	if _, noop := cfg.Tracer.(tracenoop.Tracer); cfg.Tracer != nil && !noop {
		r := cfg.SampleRatio
		switch {
		case r == 0:
			r = 1
		case !(r > 0 && r <= 1):
			otel.Handle(errors.New("host: telemetry: sample ratio must be within 0..1: tracing is off"))
			r = -1
		}
		if r > 0 {
			t.tracer = cfg.Tracer
			t.period = uint64(max(1, math.Round(1/r)))
		}
	}
	if m := cfg.Meter; m != nil {
		var errs []error
		hist := func(name, desc string, bounds []float64) metric.Float64Histogram {
			h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
				metric.WithExplicitBucketBoundaries(bounds...))
			errs = append(errs, err)
			return h
		}
		ctr := func(name, desc string) metric.Int64Counter {
			c, err := m.Int64Counter(name, metric.WithDescription(desc))
			errs = append(errs, err)
			return c
		}
		t.callDur = hist(MetricPluginCallDuration, "Duration of one plugin call (a batch of events, or init/stop).", callBounds)
		t.roundTrip = hist(MetricOrderRoundTrip, "Order request to the exchange → its response, by method.", tripBounds)
		t.refusals = ctr(MetricPluginRejections, "Intents refused by validation or risk limits, by reason.")
		t.faults = ctr(MetricPluginFaults, "Plugin faults, by kind.")
		t.rejected = ctr(MetricOrdersRejected, "Orders the exchange rejected, by its error code (0: none given).")
		t.limited = ctr(MetricOrdersRateLimited, "Order requests the host's rate limiter refused (never sent), by plugin and limit (share: the plugin's share used up; account: the account's limits).")
		t.methodOpts = map[string][]metric.RecordOption{}
		t.refuseOpts = map[string][]metric.AddOption{}
		t.faultOpts = map[string][]metric.AddOption{}
		t.rejectOpt = map[string][]metric.AddOption{}
		if err := errors.Join(errs...); err != nil {
			otel.Handle(err)
			t.callDur = nil
		}
	}
	if t.tracer == nil && t.callDur == nil {
		return nil
	}
	return t
}

// Bucket bounds in seconds: plugin calls from 1 µs (a native strategy) to
// the budget's seconds; order round trips from 100 µs (loopback) to 10 s.
var (
	callBounds = []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1}
	tripBounds = []float64{1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
)

// metricsOn reports whether the engine records metrics.
func (t *telemetry) metricsOn() bool { return t != nil && t.callDur != nil }

// routeTrace is a sampled market frame: when it was received, decoded and
// routed, and where from. Shared by the plugins it is routed to; each
// makes its own trace of it if its call returns intents.
type routeTrace struct {
	received, decoded time.Time
	routed            atomic.Int64 // unix ns, once its records are in the inboxes
	channel           string
	member            int
}

// sampleFrame decides whether a decoded market frame is followed: nil
// (nothing allocated) unless tracing is on and the frame's turn has come.
// A followed frame is offered to its subscribers before its records are
// pushed to their inboxes: each keeps the latest, and its next batch
// carries it. (The batch that carries a frame is the one taken after the
// offer: a plugin taking a batch in the instant between the offer and the
// push attributes it to a batch without the frame's record.)
func (e *Engine) sampleFrame(member int, n *conn.Notification, subs []*plugin) *routeTrace {
	t := e.tel
	if t == nil || t.tracer == nil || t.frames.Add(1)%t.period != 0 {
		return nil
	}
	rt := &routeTrace{received: n.Received, decoded: time.Now(), channel: string(n.Channel), member: member}
	for _, pl := range subs {
		pl.tel.pending.Store(rt)
	}
	return rt
}

// pluginTel is a plugin's tracing state.
type pluginTel struct {
	pending atomic.Pointer[routeTrace] // the latest sampled frame routed to it, not yet taken

	// The plugin's goroutine only (its intents are carried out there).
	cur                *routeTrace // the frame the batch in progress carries
	callStart, callEnd time.Time
	root, intents      trace.Span // made at the batch's first intent
	rootCtx, intCtx    context.Context
	intent             trace.Span // the intent being carried out (with Engine.mu held)
	intentCtx          context.Context
	intentStart        time.Time
	delivering         []*orderTrace // acknowledgements in the batch in progress
	callOpts           []metric.RecordOption
	mem                atomic.Uint64 // the live instance's memory in bytes after its last call (metrics on)

	mu         sync.Mutex
	deliveries []*orderTrace // acknowledgements pushed to its inbox, not taken yet
}

// take is called before the plugin takes a batch from its inbox: the batch
// carries the latest sampled frame routed to the plugin before the take,
// and the acknowledgements of traced orders pushed before it.
func (t *telemetry) take(pl *plugin) {
	if t.tracer == nil {
		return
	}
	pl.tel.cur = pl.tel.pending.Swap(nil)
	pl.tel.mu.Lock()
	pl.tel.delivering, pl.tel.deliveries = append(pl.tel.delivering[:0], pl.tel.deliveries...), pl.tel.deliveries[:0]
	pl.tel.mu.Unlock()
}

// called records a plugin call (its duration, the instance's memory) and
// ends the traces of the acknowledgements it delivered.
func (t *telemetry) called(pl *plugin, began time.Time, d time.Duration) {
	if t.callDur != nil {
		if pl.tel.callOpts == nil {
			pl.tel.callOpts = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(AttrPlugin.String(pl.name)))}
		}
		t.callDur.Record(context.Background(), d.Seconds(), pl.tel.callOpts...)
		if pl.sb != nil {
			pl.tel.mem.Store(pl.sb.Stats().MemoryBytes)
		}
	}
	if t.tracer == nil {
		return
	}
	end := began.Add(d)
	pl.tel.callStart, pl.tel.callEnd = began, end
	for i, tr := range pl.tel.delivering {
		_, s := t.tracer.Start(tr.ctx, SpanOrderDelivered, trace.WithTimestamp(tr.pushed),
			trace.WithAttributes(AttrPlugin.String(pl.name)))
		s.End(trace.WithTimestamp(end))
		tr.span.End(trace.WithTimestamp(end))
		t.mu.Lock()
		delete(t.live, tr)
		t.mu.Unlock()
		pl.tel.delivering[i] = nil
	}
	pl.tel.delivering = pl.tel.delivering[:0]
}

// intentStart is called, with Engine.mu held, before an intent of a traced
// batch is carried out; the batch's spans are made at its first intent.
func (t *telemetry) intentStart(pl *plugin, rec abi.Record) {
	pt := &pl.tel
	now := time.Now()
	if pt.root == nil {
		rt := pt.cur
		attrs := []attribute.KeyValue{AttrChannel.String(rt.channel), AttrConnection.Int(rt.member)}
		if parts := strings.Split(rt.channel, "."); len(parts) > 1 {
			attrs = append(attrs, AttrInstrument.String(parts[1]))
		}
		pt.rootCtx, pt.root = t.tracer.Start(context.Background(), SpanRoute, trace.WithNewRoot(),
			trace.WithTimestamp(rt.received), trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
		_, s := t.tracer.Start(pt.rootCtx, SpanDecode, trace.WithTimestamp(rt.received))
		s.End(trace.WithTimestamp(rt.decoded))
		if ns := rt.routed.Load(); ns != 0 {
			pt.root.AddEvent("routed to the plugins' inboxes", trace.WithTimestamp(time.Unix(0, ns)))
		}
		_, s = t.tracer.Start(pt.rootCtx, SpanPluginCall, trace.WithTimestamp(pt.callStart),
			trace.WithAttributes(AttrPlugin.String(pl.name), attribute.Int("stratbox.batch.bytes", len(pl.batch))))
		s.End(trace.WithTimestamp(pt.callEnd))
		pt.intCtx, pt.intents = t.tracer.Start(pt.rootCtx, SpanIntents, trace.WithTimestamp(pt.callEnd),
			trace.WithAttributes(AttrPlugin.String(pl.name)))
	}
	attrs := []attribute.KeyValue{AttrKind.String(rec.Kind.String())}
	switch rec.Kind {
	case abi.KindPlace, abi.KindAmend, abi.KindCancel:
		if len(rec.Bytes) >= 16 { // the cid follows the header (abi/README.md §10)
			attrs = append(attrs, AttrCID.Int64(int64(binary.LittleEndian.Uint64(rec.Bytes[8:]))))
		}
	}
	pt.intentCtx, pt.intent = t.tracer.Start(pt.intCtx, SpanIntent, trace.WithTimestamp(now), trace.WithAttributes(attrs...))
	pt.intentStart = now
}

// intentEnd ends the intent's span (validation, risk, the order manager).
func (t *telemetry) intentEnd(pl *plugin) {
	if pl.tel.intent != nil {
		pl.tel.intent.End()
		pl.tel.intent, pl.tel.intentCtx = nil, nil
	}
}

// batchDone ends the spans of a traced batch once its intents are carried
// out (the orders' spans go on until their acknowledgements are delivered).
func (t *telemetry) batchDone(pl *plugin) {
	pt := &pl.tel
	pt.cur = nil
	if pt.root == nil {
		return
	}
	pt.intents.End()
	pt.root.End()
	pt.root, pt.intents, pt.rootCtx, pt.intCtx = nil, nil, nil, nil
}

// orderTrace follows an order from its place intent to the delivery of
// the exchange's answer to the plugin, and through a failover.
type orderTrace struct {
	span   trace.Span // stratbox.order; nil: followed by a failover only
	ctx    context.Context
	acked  bool // its answer was pushed to the plugin's inbox (at pushed)
	pushed time.Time

	fo     *failover
	foSpan trace.Span
}

// placed starts the span of an order placed by an intent of a traced
// batch. Called with Engine.mu held, before the place is sent.
func (t *telemetry) placed(pl *plugin, o *order) {
	if t == nil || pl.tel.intent == nil {
		return
	}
	tr := &orderTrace{}
	tr.ctx, tr.span = t.tracer.Start(pl.tel.intentCtx, SpanOrder, trace.WithAttributes(
		AttrPlugin.String(pl.name), AttrCID.Int64(int64(o.key.cid)),
		AttrInstrument.String(pl.table[o.local].Name.String()), attribute.String("stratbox.order.side", o.side.String()),
		attribute.String("stratbox.order.type", o.typ.String()), attribute.String("stratbox.order.label", o.label)))
	o.tr = tr
	t.mu.Lock()
	t.live[tr] = time.Now()
	t.mu.Unlock()
}

// clock is the start of an order request, when telemetry is on.
func (t *telemetry) clock() time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Now()
}

// requestDone is called, with Engine.mu held, once an order request's
// answer (or failure) has been applied.
func (t *telemetry) requestDone(req request, sent time.Time, err error) {
	now := time.Now()
	if t.roundTrip != nil {
		t.roundTrip.Record(context.Background(), now.Sub(sent).Seconds(), t.methodOpt(req.call.Method, err)...)
	}
	o := req.o
	tr := o.tr
	if tr == nil || t.tracer == nil {
		return
	}
	if tr.span != nil && !tr.acked && req.what == abi.KindPlace {
		attrs := []attribute.KeyValue{AttrMethod.String(req.call.Method), AttrConnection.Int(o.conn)}
		_, s := t.tracer.Start(tr.ctx, SpanOrderRequest, trace.WithTimestamp(sent),
			trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
		if err != nil {
			var rpc *conn.RPCError
			if errors.As(err, &rpc) {
				s.SetAttributes(AttrCode.Int(rpc.Code))
				tr.span.SetAttributes(AttrCode.Int(rpc.Code))
			}
			s.SetStatus(codes.Error, err.Error())
		}
		s.End(trace.WithTimestamp(now))
		if o.state != abi.StatePending {
			tr.acked, tr.pushed = true, now
			tr.span.SetAttributes(AttrState.String(o.state.String()), AttrConnection.Int(o.conn))
			if o.exchID != "" {
				tr.span.SetAttributes(attribute.String("stratbox.order.exchange_id", o.exchID))
			}
			if o.state == abi.StateRejected {
				tr.span.SetStatus(codes.Error, "rejected")
			}
			o.pl.tel.mu.Lock()
			o.pl.tel.deliveries = append(o.pl.tel.deliveries, tr)
			o.pl.tel.mu.Unlock()
		}
	}
	if tr.fo != nil {
		t.failoverStep(o, "")
	}
}

func (t *telemetry) methodOpt(method string, err error) []metric.RecordOption {
	key := method
	if err != nil {
		key += "\x00err"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.methodOpts[key]
	if !ok {
		res := "ok"
		if err != nil {
			res = "error"
		}
		o = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(AttrMethod.String(method),
			attribute.String("stratbox.result", res)))}
		t.methodOpts[key] = o
	}
	return o
}

func (t *telemetry) addOpt(cache map[string][]metric.AddOption, kvs ...attribute.KeyValue) []metric.AddOption {
	var b strings.Builder
	for _, kv := range kvs {
		b.WriteString(kv.Value.Emit())
		b.WriteByte(0)
	}
	key := b.String()
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := cache[key]
	if !ok {
		o = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
		cache[key] = o
	}
	return o
}

// refused counts an intent refused by validation or risk and marks the
// intent's span. Called with Engine.mu held.
func (t *telemetry) refused(pl *plugin, r abi.Reason) {
	if t == nil {
		return
	}
	if t.refusals != nil {
		t.refusals.Add(context.Background(), 1, t.addOpt(t.refuseOpts, AttrPlugin.String(pl.name), AttrReason.String(r.String()))...)
	}
	if pl.tel.intent != nil {
		pl.tel.intent.SetAttributes(AttrReason.String(r.String()))
		pl.tel.intent.SetStatus(codes.Error, "refused: "+r.String())
	}
}

// fault counts a plugin fault.
func (t *telemetry) fault(pl *plugin, kind FaultKind) {
	if t == nil || t.faults == nil {
		return
	}
	t.faults.Add(context.Background(), 1, t.addOpt(t.faultOpts, AttrPlugin.String(pl.name), AttrKind.String(string(kind)))...)
}

// rateLimited counts an order request the host's rate limiter refused.
func (t *telemetry) rateLimited(o *order, share bool) {
	if t == nil || t.limited == nil {
		return
	}
	limit := "account"
	if share {
		limit = "share"
	}
	t.limited.Add(context.Background(), 1, metric.WithAttributes(AttrPlugin.String(o.pl.name), attribute.String("limit", limit)))
}

// rejected counts an order the exchange rejected. Called with Engine.mu held.
func (t *telemetry) orderRejected(o *order, code int32) {
	if t == nil {
		return
	}
	if t.rejected != nil {
		t.rejected.Add(context.Background(), 1, t.addOpt(t.rejectOpt, AttrPlugin.String(o.pl.name), AttrCode.Int(int(code)))...)
	}
	if o.tr != nil && o.tr.span != nil && code != 0 {
		o.tr.span.SetAttributes(AttrCode.Int(int(code)))
	}
}

// failover follows the orders a lost connection carried: confirmed over
// another connection, then re-placed (or found filled or cancelled).
type failover struct {
	span    trace.Span
	ctx     context.Context
	member  int
	lost    bool // the pool reported the loss (an exchange's cancel may come first)
	pending int
	orders  int
	moved   int
	trs     []*orderTrace
}

// failover starts the trace of a connection's loss, or joins the one an
// order's cancel-on-disconnect notification started. Called with
// Engine.mu held; nil when tracing is off.
func (t *telemetry) failover(ev pool.Event) *failover {
	if t == nil || t.tracer == nil {
		return nil
	}
	at := ev.At
	if at.IsZero() {
		at = time.Now()
	}
	f := t.memberFailover(ev.Member, at)
	f.lost = true
	attrs := []attribute.KeyValue{attribute.Int("stratbox.pool.healthy", ev.Healthy),
		attribute.Int("stratbox.pool.total", ev.Total)}
	if ev.Err != nil {
		attrs = append(attrs, attribute.String("stratbox.error", ev.Err.Error()))
	}
	f.span.SetAttributes(attrs...)
	f.span.AddEvent("connection lost (pool)", trace.WithTimestamp(at))
	return f
}

// memberFailover returns the failover of member in progress, or starts it.
func (t *telemetry) memberFailover(member int, at time.Time) *failover {
	if f := t.active[member]; f != nil {
		return f
	}
	f := &failover{member: member}
	f.ctx, f.span = t.tracer.Start(context.Background(), SpanFailover, trace.WithNewRoot(), trace.WithTimestamp(at),
		trace.WithAttributes(AttrConnection.Int(member)))
	t.active[member] = f
	t.mu.Lock()
	t.fos[f] = struct{}{}
	t.mu.Unlock()
	return f
}

// relocate is called, with Engine.mu held, when an order cancelled by its
// lost connection is re-placed: the exchange's word (a notification or a
// verification) confirmed the cancel. It joins the connection's failover,
// which it starts if the pool has not reported the loss yet.
func (t *telemetry) relocate(o *order) {
	if t == nil || t.tracer == nil {
		return
	}
	if o.tr == nil || o.tr.fo == nil {
		t.add(t.memberFailover(o.conn, time.Now()), o)
	}
	o.tr.foSpan.AddEvent("state confirmed", trace.WithAttributes(attribute.String("stratbox.by", "cancel_on_disconnect")))
	o.tr.foSpan.AddEvent("re-placing")
}

// add follows o through the failover (before it is verified).
func (t *telemetry) add(f *failover, o *order) {
	if f == nil {
		return
	}
	if o.tr == nil {
		o.tr = &orderTrace{}
	}
	tr := o.tr
	if tr.fo != nil { // lost again before the last failover ended for it
		t.failoverStep(o, "lost again")
	}
	tr.fo = f
	_, tr.foSpan = t.tracer.Start(f.ctx, SpanFailoverOrder, trace.WithAttributes(AttrPlugin.String(o.pl.name),
		AttrCID.Int64(int64(o.key.cid)), AttrInstrument.String(o.pl.table[o.local].Name.String()),
		attribute.String("stratbox.order.exchange_id", o.exchID)))
	f.pending++
	f.orders++
	f.trs = append(f.trs, tr)
}

// started ends a failover that found no order to follow.
func (t *telemetry) started(f *failover) {
	if f != nil && f.pending == 0 {
		t.endFailover(f)
	}
}

func (t *telemetry) endFailover(f *failover) {
	if t.active[f.member] == f {
		delete(t.active, f.member)
	}
	f.span.SetAttributes(attribute.Int("stratbox.failover.orders", f.orders),
		attribute.Int("stratbox.failover.replaced", f.moved))
	f.span.AddEvent("orders re-established")
	f.span.End()
	t.mu.Lock()
	delete(t.fos, f)
	t.mu.Unlock()
}

// verified is called, with Engine.mu held, once an order's state read back
// from the exchange has been applied.
func (t *telemetry) verified(o *order, err error) {
	if tr := o.tr; tr != nil && tr.foSpan != nil {
		attrs := []attribute.KeyValue{AttrState.String(o.state.String())}
		if err != nil {
			attrs = append(attrs, attribute.String("stratbox.error", err.Error()))
		}
		attrs = append(attrs, attribute.String("stratbox.by", "verification"))
		tr.foSpan.AddEvent("state confirmed", trace.WithAttributes(attrs...))
		t.failoverStep(o, "")
	}
}

// failoverStep ends o's part of its failover once it is settled: open
// again on another connection, or final. force ends it whatever its state.
func (t *telemetry) failoverStep(o *order, force string) {
	tr := o.tr
	if tr.foSpan == nil {
		return
	}
	settled := !o.relocating && !o.inflight && (o.final() || o.state == abi.StateOpen)
	if !settled && force == "" {
		return
	}
	outcome := o.state.String()
	if o.replaced && !o.final() {
		outcome = "re-placed"
		tr.fo.moved++
	}
	tr.foSpan.SetAttributes(attribute.String("stratbox.failover.outcome", outcome), AttrConnection.Int(o.conn))
	if force != "" {
		tr.foSpan.SetStatus(codes.Error, force)
	}
	tr.foSpan.End()
	f := tr.fo
	tr.fo, tr.foSpan = nil, nil
	if f.pending--; f.pending == 0 && f.lost {
		t.endFailover(f)
	}
}

// finish ends what is still open when Run returns (orders whose answer
// never reached the plugin, failovers not settled), marked unfinished.
func (t *telemetry) finish(e *Engine) {
	if t == nil || t.tracer == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	for tr := range t.live {
		tr.span.SetAttributes(attribute.Bool("stratbox.unfinished", true))
		tr.span.End()
		delete(t.live, tr)
	}
	for f := range t.fos {
		for _, tr := range f.trs {
			if tr.fo == f && tr.foSpan != nil {
				tr.foSpan.SetAttributes(attribute.Bool("stratbox.unfinished", true))
				tr.foSpan.End()
				tr.fo, tr.foSpan = nil, nil
			}
		}
		f.span.SetAttributes(attribute.Bool("stratbox.unfinished", true))
		f.span.End()
		delete(t.fos, f)
	}
}
