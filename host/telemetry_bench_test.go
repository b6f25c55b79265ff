package host

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stratbox/stratbox/internal/benchkit"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host/sandbox"
)

// BenchmarkDispatchTracing measures what tracing costs the hot path, with
// tracing off (no tracer: the default), sampling 1% of the routed frames,
// and 100%, through a real SDK tracer provider whose batch processor
// exports to a no-op exporter:
//
//   - path=route: Engine.Deliver of a ticker notification (translation,
//     the sampling decision, routing into the inbox of a plugin that
//     returns no intent), as the connection's read goroutine runs it;
//     B/op and allocs/op show that tracing off allocates nothing more.
//   - path=end-to-end: BenchmarkEndToEnd's native quoter (ticker → plugin
//     call → amend intent → risk → order request), whose every sampled
//     frame makes a full trace (route, decode, call, intents, intent,
//     order, request, delivered).
func BenchmarkDispatchTracing(b *testing.B) {
	for _, path := range []string{"route", "end-to-end"} {
		for _, ratio := range []float64{0, 0.01, 1} {
			name := "off"
			if ratio > 0 {
				name = fmt.Sprintf("%g%%", ratio*100)
			}
			b.Run(fmt.Sprintf("path=%s/tracing=%s", path, name), func(b *testing.B) {
				var opts []Option
				if ratio > 0 {
					tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
					defer tp.Shutdown(context.Background())
					opts = append(opts, WithTelemetry(Telemetry{Tracer: tp.Tracer("bench"), SampleRatio: ratio}))
				}
				if path == "route" {
					benchRouteTracing(b, opts...)
				} else {
					benchEndToEnd(b, "native", opts...)
				}
			})
		}
	}
}

// quietBox is a sandbox that takes every batch and returns no intent.
type quietBox struct{ desc abi.Descriptor }

func (q *quietBox) Start(context.Context, []byte, time.Time) ([]byte, error)   { return nil, nil }
func (q *quietBox) Deliver(context.Context, []byte, time.Time) ([]byte, error) { return nil, nil }
func (q *quietBox) NextTimer() (time.Time, bool)                               { return time.Time{}, false }
func (q *quietBox) Stop(context.Context, time.Time) ([]byte, error)            { return nil, nil }
func (q *quietBox) Close() error                                               { return nil }
func (q *quietBox) Fault() *sandbox.Fault                                      { return nil }
func (q *quietBox) Stats() sandbox.InstanceStats                               { return sandbox.InstanceStats{} }
func (q *quietBox) Descriptor() abi.Descriptor                                 { return q.desc }

func benchRouteTracing(b *testing.B, opts ...Option) {
	spec := PluginSpec{Name: "quiet", Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"},
		NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox {
			return &quietBox{desc: abi.Descriptor{InboxCap: 1 << 16, OutboxCap: 1 << 16}}
		}}
	e, err := New(Config{Plugins: []PluginSpec{spec}}, append([]Option{WithLogger(testLogger(b))}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer runEngine(b, e, newBenchExchange())()
	if !e.WaitStats(func(s EngineStats) bool { return len(s.Plugins) == 1 && s.Plugins[0].Starts > 0 }, 60*time.Second) {
		b.Fatal("the plugin did not start")
	}
	channel := []byte("ticker.BTC-PERPETUAL.100ms")
	data := benchkit.AppendTicker(nil, abi.Fixed(60000*abi.FixedScale), time.Now())
	n := conn.Notification{Channel: channel, Data: data, Received: time.Now()}
	for range 1000 { // warm up the inbox's buffers
		e.Deliver(n)
	}
	b.ReportAllocs()
	for b.Loop() {
		n.Received = time.Now()
		e.Deliver(n)
	}
	if st := e.Stats(); st.Malformed != 0 || st.Events == 0 {
		b.Fatalf("malformed %d, events %d", st.Malformed, st.Events)
	}
}
