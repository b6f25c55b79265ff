package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	colltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
)

// placer is a sandbox that places one buy order (cid 1) from the first
// call whose batch holds a market record, and another each time it is
// asked to (more).
type placer struct {
	mu    sync.Mutex
	cid   uint64
	want  int
	acked chan struct{}
}

func newPlacer() *placer { return &placer{want: 1, acked: make(chan struct{}, 64)} }

func (p *placer) Start(context.Context, []byte, time.Time) ([]byte, error) { return nil, nil }
func (p *placer) Deliver(_ context.Context, batch []byte, _ time.Time) ([]byte, error) {
	market := false
	for rec, err := range abi.Records(batch) {
		if err != nil {
			return nil, err
		}
		switch rec.Kind {
		case abi.KindTicker:
			market = true
		case abi.KindOrderUpdate:
			var u abi.OrderUpdate
			if abi.DecodeOrderUpdate(rec.Bytes, &u) == nil && u.State == abi.StateOpen {
				p.acked <- struct{}{}
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !market || p.want == 0 {
		return nil, nil
	}
	p.want--
	p.cid++
	return abi.AppendPlace(nil, &abi.Place{Seq: uint32(p.cid), CID: p.cid, Side: abi.Buy, Type: abi.Limit,
		TIF: abi.GoodTilCancelled, Price: 1000 * abi.FixedScale, Amount: 10 * abi.FixedScale}), nil
}
func (p *placer) NextTimer() (time.Time, bool)                    { return time.Time{}, false }
func (p *placer) Stop(context.Context, time.Time) ([]byte, error) { return nil, nil }
func (p *placer) Close() error                                    { return nil }
func (p *placer) Fault() *sandbox.Fault                           { return nil }
func (p *placer) Stats() sandbox.InstanceStats                    { return sandbox.InstanceStats{} }
func (p *placer) Descriptor() abi.Descriptor {
	return abi.Descriptor{InboxCap: 1 << 16, OutboxCap: 1 << 16}
}

// run is an engine with tel's telemetry trading over a pool of two
// connections to the simulator (a test_request every 100 ms).
type run struct {
	srv  *sim.Server
	e    *host.Engine
	p    *pool.Pool
	box  *placer
	stop func()
}

func startRun(t *testing.T, tel *Telemetry) *run {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := sim.Start(ctx, sim.Config{Seed: 1, MinHeartbeat: 100 * time.Millisecond, AlwaysTestRequest: true,
		Tick: 20 * time.Millisecond, RateLimits: sim.RateLimits{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	box := newPlacer()
	log := slog.New(slog.DiscardHandler)
	e, err := host.New(host.Config{Plugins: []host.PluginSpec{{Name: "placer", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return box },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}}}},
		host.WithLogger(log), host.WithTelemetry(tel.Engine()))
	if err != nil {
		t.Fatal(err)
	}
	cc := conn.DefaultConfig()
	cc.URL = srv.URL()
	cc.Credentials = conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret, Method: conn.AuthSignature}
	cc.HeartbeatInterval = 100 * time.Millisecond
	p, err := pool.New(pool.Config{Conn: cc, Size: 2}, e.Sink, e.PoolEvent, log)
	if err != nil {
		t.Fatal(err)
	}
	tel.ConnTracer().WatchPool(p)
	if err := tel.Observe(e, p); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, p) }()
	r := &run{srv: srv, e: e, p: p, box: box}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			p.Close()
			srv.Close()
		})
	}
	t.Cleanup(r.stop)
	return r
}

// waitAcked waits until the plugin has seen its order open.
func (r *run) waitAcked(t *testing.T) {
	t.Helper()
	select {
	case <-r.box.acked:
	case <-time.After(60 * time.Second):
		t.Fatalf("the order was not acknowledged; stats %+v", r.e.Stats())
	}
}

// waitHeartbeats polls the pool until every connection has answered a
// test_request (nothing signals an answer).
func (r *run) waitHeartbeats(t *testing.T) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	for {
		ok := true
		for _, m := range r.p.Stats().Members {
			ok = ok && m.Heartbeat.Answered > 0 && m.Heartbeat.Responses > 0
		}
		if ok {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("heartbeats not answered: %+v", r.p.Stats())
		}
	}
}

// otlpReceiver is an OTLP/HTTP receiver on loopback that keeps what it
// is sent.
type otlpReceiver struct {
	addr    string
	mu      sync.Mutex
	traces  []*colltrace.ExportTraceServiceRequest
	metrics []*collmetrics.ExportMetricsServiceRequest
	bad     []string
}

func startReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &otlpReceiver{addr: ln.Addr().String()}
	read := func(w http.ResponseWriter, r *http.Request, m proto.Message, resp proto.Message) bool {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			z, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return false
			}
			body = z
		}
		b, err := io.ReadAll(body)
		if err == nil && r.Header.Get("Content-Type") != "application/x-protobuf" {
			err = errors.New("content type " + r.Header.Get("Content-Type"))
		}
		if err == nil {
			err = proto.Unmarshal(b, m)
		}
		if err != nil {
			rc.mu.Lock()
			rc.bad = append(rc.bad, r.URL.Path+": "+err.Error())
			rc.mu.Unlock()
			http.Error(w, err.Error(), http.StatusBadRequest)
			return false
		}
		out, _ := proto.Marshal(resp)
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
		return true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/traces", func(w http.ResponseWriter, r *http.Request) {
		var m colltrace.ExportTraceServiceRequest
		if read(w, r, &m, &colltrace.ExportTraceServiceResponse{}) {
			rc.mu.Lock()
			rc.traces = append(rc.traces, &m)
			rc.mu.Unlock()
		}
	})
	mux.HandleFunc("/v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		var m collmetrics.ExportMetricsServiceRequest
		if read(w, r, &m, &collmetrics.ExportMetricsServiceResponse{}) {
			rc.mu.Lock()
			rc.metrics = append(rc.metrics, &m)
			rc.mu.Unlock()
		}
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return rc
}

func anyValue(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	}
	return v.String()
}

func traceStart(t time.Time) trace.SpanStartOption { return trace.WithTimestamp(t) }
func traceEnd(t time.Time) trace.SpanEndOption     { return trace.WithTimestamp(t) }
func traceAttr(kv ...attribute.KeyValue) trace.SpanStartOption {
	return trace.WithAttributes(kv...)
}

// Traces and metrics go over OTLP/HTTP to a receiver started here: the
// order's trace and the connections' lifecycle spans arrive, with the
// service's name, and no secret; the engine's, the pool's and the
// heartbeat's metrics arrive.
func TestOTLPHTTPExport(t *testing.T) {
	rc := startReceiver(t)
	tel, err := New(context.Background(), Config{Traces: OTLPHTTP, Metrics: OTLPHTTP, Endpoint: "http://" + rc.addr,
		SampleRatio: 1, Interval: time.Hour, ServiceName: "stratbox-test"})
	if err != nil {
		t.Fatal(err)
	}
	r := startRun(t, tel)
	r.waitAcked(t)
	r.waitHeartbeats(t)
	r.stop() // what is still open ends (unfinished) when Run returns
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Fatalf("bad requests: %v", rc.bad)
	}
	spans := map[string]int{}
	service := ""
	for _, req := range rc.traces {
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.Resource.Attributes {
				if kv.Key == "service.name" {
					service = anyValue(kv.Value)
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spans[s.Name]++
					for _, kv := range s.Attributes {
						v := strings.ToLower(kv.Key + "=" + anyValue(kv.Value))
						for _, bad := range []string{strings.ToLower(sim.TestKeySecret), "signature", "access_token", "secret"} {
							if strings.Contains(v, bad) {
								t.Errorf("span %s attribute %s holds %q", s.Name, v, bad)
							}
						}
					}
				}
			}
		}
	}
	if service != "stratbox-test" {
		t.Errorf("service.name %q", service)
	}
	for _, n := range []string{host.SpanRoute, host.SpanDecode, host.SpanPluginCall, host.SpanIntent, host.SpanOrder,
		host.SpanOrderRequest, SpanConnect, SpanDial, SpanAuthSub} {
		if spans[n] == 0 {
			t.Errorf("no %s span arrived: %v", n, spans)
		}
	}
	if spans[SpanConnect] < 2 {
		t.Errorf("%d connect spans for 2 connections", spans[SpanConnect])
	}
	metrics := map[string]bool{}
	var placed int64
	var answers uint64
	for _, req := range rc.metrics {
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					metrics[m.Name] = true
					if m.Name == MetricOrdersPlaced {
						for _, dp := range m.GetSum().GetDataPoints() {
							placed = max(placed, dp.GetAsInt())
						}
					}
					if m.Name == MetricHBAnswer {
						for _, dp := range m.GetHistogram().GetDataPoints() {
							answers += dp.Count
						}
					}
				}
			}
		}
	}
	for _, n := range []string{MetricOrdersPlaced, MetricPoolHealthy, MetricHBAnswered, MetricHBAnswer, MetricHBRoundTrip,
		host.MetricPluginCallDuration, host.MetricOrderRoundTrip, MetricPluginDispatched} {
		if !metrics[n] {
			t.Errorf("metric %s did not arrive", n)
		}
	}
	if placed < 1 || answers < 2 {
		t.Errorf("orders placed %d, heartbeat answers %d", placed, answers)
	}
}

// Prometheus scrapes /metrics on loopback: the engine's counters, the
// plugin call histogram and the per-connection heartbeat histograms are
// there under their Prometheus names.
func TestPrometheusScrape(t *testing.T) {
	tel, err := New(context.Background(), Config{Metrics: Prometheus, PrometheusListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	if tel.TracerProvider != nil {
		t.Error("traces on without being asked")
	}
	r := startRun(t, tel)
	r.waitAcked(t)
	r.waitHeartbeats(t)
	resp, err := http.Get("http://" + tel.PrometheusAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		"stratbox_orders_placed_total{",
		"stratbox_pool_connections_healthy{",
		`stratbox_heartbeat_answer_duration_seconds_bucket{`,
		`stratbox_heartbeat_round_trip_duration_seconds_count{`,
		`stratbox_connection="1"`,
		`stratbox_plugin_call_duration_seconds_bucket{`,
		`stratbox_plugin="placer"`,
		"stratbox_heartbeat_answered_total{",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}

// Bad configuration is an error that names the setting; the standard
// environment variables choose the exporters left empty.
func TestConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Traces: "jaeger"}, `traces exporter "jaeger"`},
		{Config{Metrics: "statsd"}, `metrics exporter "statsd"`},
		{Config{Traces: Prometheus}, `traces exporter "prometheus"`},
		{Config{SampleRatio: 1.5}, "sample_ratio 1.5"},
		{Config{SampleRatio: -0.1}, "sample_ratio -0.1"},
		{Config{Endpoint: "collector"}, `endpoint "collector"`},
		{Config{Endpoint: "grpc://collector:4317"}, `endpoint "grpc://collector:4317"`},
		{Config{Metrics: Prometheus, PrometheusListen: "9464"}, `prometheus_listen "9464"`},
		{Config{Metrics: Prometheus, PrometheusListen: "0.0.0.0:9464"}, `prometheus_allow_remote`},
		{Config{Metrics: Prometheus, PrometheusListen: ":9464"}, `prometheus_listen ":9464" is beyond loopback`},
		{Config{Metrics: Prometheus, PrometheusListen: "[::]:9464"}, `prometheus_allow_remote`},
		{Config{Metrics: Prometheus, PrometheusListen: "192.0.2.1:9464"}, `prometheus_allow_remote`},
		{Config{Interval: -time.Second}, "interval -1s"},
	} {
		err := c.cfg.Validate()
		if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %s", c.cfg, err, c.want)
		}
		if _, err := New(context.Background(), c.cfg); err == nil {
			t.Errorf("New(%+v) accepted it", c.cfg)
		}
	}
	if err := (Config{Traces: OTLPGRPC, Metrics: Prometheus, Endpoint: "https://otel.example:4317", SampleRatio: 0.01}).Validate(); err != nil {
		t.Errorf("good config: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:9464", "[::1]:9464", "localhost:9464", "127.1.2.3:0"} {
		if err := (Config{Metrics: Prometheus, PrometheusListen: addr}).Validate(); err != nil {
			t.Errorf("loopback %s: %v", addr, err)
		}
	}
	if err := (Config{Metrics: Prometheus, PrometheusListen: "0.0.0.0:9464", PrometheusAllowRemote: true}).Validate(); err != nil {
		t.Errorf("opted in: %v", err)
	}
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_METRICS_EXPORTER", "console")
	c := Config{}.withEnv()
	if c.Traces != OTLPGRPC || c.Metrics != Stdout || !(Config{}).TracesOn() {
		t.Errorf("from the environment: traces %q metrics %q", c.Traces, c.Metrics)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
	if c := (Config{Metrics: None}).withEnv(); c.Traces != OTLPHTTP || c.Metrics != None {
		t.Errorf("per-signal protocol, explicit none: traces %q metrics %q", c.Traces, c.Metrics)
	}
	t.Setenv("OTEL_TRACES_EXPORTER", "zipkin")
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), `"zipkin"`) {
		t.Errorf("OTEL_TRACES_EXPORTER=zipkin: %v", err)
	}
	// A port already taken is an error of New that names the setting.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := New(context.Background(), Config{Traces: None, Metrics: Prometheus, PrometheusListen: ln.Addr().String()}); err == nil ||
		!strings.Contains(err.Error(), "prometheus_listen") {
		t.Errorf("a taken port: %v", err)
	}
}

// Connection state changes become lifecycle spans: an attempt (dial, then
// auth and subscribe) under conn.connect; a loss opens conn.reconnect,
// which holds the next attempts (a failed one marked as an error) and
// ends re-established.
func TestConnTracer(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	tel, err := New(context.Background(), Config{}, WithSpanExporter(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	ct := tel.ConnTracer()
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	lost := errors.New("read: connection reset")
	for _, ch := range []conn.StateChange{
		{From: conn.StateIdle, To: conn.StateConnecting, At: at(0)},
		{From: conn.StateConnecting, To: conn.StateAuthenticating, At: at(5)},
		{From: conn.StateAuthenticating, To: conn.StateReady, At: at(9)},
		{From: conn.StateReady, To: conn.StateDegraded, Err: lost, At: at(100)},
		{From: conn.StateDegraded, To: conn.StateConnecting, Attempt: 1, At: at(150)},
		{From: conn.StateConnecting, To: conn.StateDegraded, Err: errors.New("dial: refused"), Attempt: 1, At: at(151)},
		{From: conn.StateDegraded, To: conn.StateConnecting, Attempt: 2, At: at(250)},
		{From: conn.StateConnecting, To: conn.StateAuthenticating, At: at(255)},
		{From: conn.StateAuthenticating, To: conn.StateReady, At: at(260)},
	} {
		ct.StateChanged(3, ch)
	}
	var nilTracer *ConnTracer
	nilTracer.StateChanged(0, conn.StateChange{To: conn.StateConnecting}) // off: ignored
	spans := mem.GetSpans()
	byID := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID().String()] = s
	}
	var names []string
	for _, s := range spans {
		p := byID[s.Parent.SpanID().String()].Name
		names = append(names, s.Name+"<"+p+">"+s.Status.Code.String())
	}
	want := []string{
		"conn.dial<conn.connect>Unset", "conn.auth_subscribe<conn.connect>Unset", "conn.connect<>Unset",
		"conn.dial<conn.connect>Error", "conn.connect<conn.reconnect>Error",
		"conn.dial<conn.connect>Unset", "conn.auth_subscribe<conn.connect>Unset", "conn.connect<conn.reconnect>Unset",
		"conn.reconnect<>Unset",
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("spans\n %v\nwant\n %v", names, want)
	}
	rec := spans[len(spans)-1]
	if !rec.StartTime.Equal(at(100)) || !rec.EndTime.Equal(at(260)) || len(rec.Events) != 2 ||
		rec.Events[0].Name != "connection lost" || rec.Events[1].Name != "re-established" {
		t.Errorf("reconnect span %v → %v, events %v", rec.StartTime, rec.EndTime, rec.Events)
	}
	if d := spans[0]; !d.StartTime.Equal(at(0)) || !d.EndTime.Equal(at(5)) {
		t.Errorf("dial span %v → %v", d.StartTime, d.EndTime)
	}
}

// The stdout exporter prints a trace as a tree: children under their
// parent in order of start, with offsets, durations and attributes, once
// the trace is complete (here: at Shutdown).
func TestTreeExporter(t *testing.T) {
	var out bytes.Buffer
	x := NewTreeExporter(&out)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(x))
	tr := tp.Tracer("test")
	t0 := time.Now()
	at := func(us int) time.Time { return t0.Add(time.Duration(us) * time.Microsecond) }
	ctx, root := tr.Start(context.Background(), host.SpanRoute, traceStart(at(0)), traceAttr(host.AttrInstrument.String("BTC-PERPETUAL")))
	_, dec := tr.Start(ctx, host.SpanDecode, traceStart(at(0)))
	dec.End(traceEnd(at(12)))
	octx, ord := tr.Start(ctx, host.SpanOrder, traceStart(at(40)), traceAttr(host.AttrCID.Int(7)))
	_, req := tr.Start(octx, host.SpanOrderRequest, traceStart(at(50)), traceAttr(host.AttrMethod.String("private/buy")))
	req.End(traceEnd(at(1050)))
	root.End(traceEnd(at(45)))
	ord.End(traceEnd(at(1500)))
	if out.Len() != 0 {
		t.Fatalf("printed before the trace was complete:\n%s", out.String())
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "trace ") {
		t.Fatalf("output:\n%s", out.String())
	}
	for i, want := range [][]string{
		{"  stratbox.route ", "+0.0µs", "45.0µs", "instrument=BTC-PERPETUAL"},
		{"    stratbox.decode ", "+0.0µs", "12.0µs"},
		{"    stratbox.order ", "+40.0µs", "1.460ms", "cid=7"},
		{"      stratbox.order.request ", "+50.0µs", "1.000ms", "method=private/buy"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("line %d %q has no %q", i+1, lines[i+1], w)
			}
		}
	}
}

// A reader given to New gets the heartbeat histograms from the producer
// as well as the instruments.
func TestManualReaderGetsHeartbeats(t *testing.T) {
	var reader *sdkmetric.ManualReader
	tel, err := New(context.Background(), Config{}, WithMetricReader(func(p sdkmetric.Producer) sdkmetric.Reader {
		reader = sdkmetric.NewManualReader(sdkmetric.WithProducer(p))
		return reader
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	r := startRun(t, tel)
	r.waitHeartbeats(t)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var conns, answers int
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == MetricHBAnswer {
				for _, dp := range h.DataPoints {
					conns++
					answers += int(dp.Count)
					var sum uint64
					for _, c := range dp.BucketCounts {
						sum += c
					}
					if sum != dp.Count || len(dp.BucketCounts) != len(dp.Bounds)+1 {
						t.Errorf("buckets %v sum to %d, count %d", dp.BucketCounts, sum, dp.Count)
					}
				}
			}
		}
	}
	if conns != 2 || answers < 2 {
		t.Errorf("%s: %d connections, %d answers", MetricHBAnswer, conns, answers)
	}
}
