package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/stratbox/stratbox/host"
)

// ScopeName is the instrumentation scope of everything this package and
// the engine record.
const ScopeName = "github.com/stratbox/stratbox"

// Telemetry is a configured pair of providers with their exporters.
type Telemetry struct {
	cfg Config
	// TracerProvider is nil when traces are off; MeterProvider when
	// metrics are.
	TracerProvider *sdktrace.TracerProvider
	MeterProvider  *sdkmetric.MeterProvider

	hb       *heartbeats // the heartbeat histograms' producer
	srv      *http.Server
	promAddr string

	mu       sync.Mutex
	shutdown []func(context.Context) error
}

// Option adds to what New builds: readers and exporters beyond the
// configured ones (tests read spans and metrics back through them).
type Option func(*options)

type options struct {
	readers   []func(sdkmetric.Producer) sdkmetric.Reader
	exporters []sdktrace.SpanExporter
}

// WithMetricReader adds a metric reader, made by newReader with the
// producer of the heartbeat histograms, e.g.
//
//	func(p sdkmetric.Producer) sdkmetric.Reader { return sdkmetric.NewManualReader(sdkmetric.WithProducer(p)) }
//
// It turns metrics on whatever Config.Metrics says.
func WithMetricReader(newReader func(producer sdkmetric.Producer) sdkmetric.Reader) Option {
	return func(o *options) { o.readers = append(o.readers, newReader) }
}

// WithSpanExporter adds a span exporter fed synchronously (e.g.
// tracetest.NewInMemoryExporter); it turns traces on.
func WithSpanExporter(x sdktrace.SpanExporter) Option {
	return func(o *options) { o.exporters = append(o.exporters, x) }
}

// New builds the providers cfg asks for and starts their exporters (and
// the /metrics listener). Shutdown flushes and stops them.
func New(ctx context.Context, cfg Config, opts ...Option) (*Telemetry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withEnv()
	var o options
	for _, f := range opts {
		f(&o)
	}
	t := &Telemetry{cfg: cfg, hb: newHeartbeats()}
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", cfg.ServiceName)),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	if err := t.traces(ctx, res, o.exporters); err != nil {
		_ = t.Shutdown(context.Background())
		return nil, err
	}
	if err := t.metrics(ctx, res, o.readers); err != nil {
		_ = t.Shutdown(context.Background())
		return nil, err
	}
	return t, nil
}

func (t *Telemetry) traces(ctx context.Context, res *resource.Resource, extra []sdktrace.SpanExporter) error {
	var x sdktrace.SpanExporter
	var err error
	switch t.cfg.Traces {
	case Stdout:
		x = NewTreeExporter(t.cfg.Out)
	case StdoutJSON:
		x, err = stdouttrace.New(stdouttrace.WithWriter(t.cfg.Out), stdouttrace.WithPrettyPrint())
	case OTLPHTTP:
		var o []otlptracehttp.Option
		if e := t.cfg.Endpoint; strings.Contains(e, "://") {
			o = append(o, otlptracehttp.WithEndpointURL(signalURL(e, "/v1/traces")))
		} else if e != "" {
			o = append(o, otlptracehttp.WithEndpoint(e))
		}
		if t.cfg.Insecure {
			o = append(o, otlptracehttp.WithInsecure())
		}
		x, err = otlptracehttp.New(ctx, o...)
	case OTLPGRPC:
		var o []otlptracegrpc.Option
		if e := t.cfg.Endpoint; strings.Contains(e, "://") {
			o = append(o, otlptracegrpc.WithEndpointURL(e))
		} else if e != "" {
			o = append(o, otlptracegrpc.WithEndpoint(e))
		}
		if t.cfg.Insecure {
			o = append(o, otlptracegrpc.WithInsecure())
		}
		x, err = otlptracegrpc.New(ctx, o...)
	}
	if err != nil {
		return fmt.Errorf("telemetry: %s trace exporter: %w", t.cfg.Traces, err)
	}
	if x == nil && len(extra) == 0 {
		return nil
	}
	// No sampler option: the SDK's default (parent-based, always on) or
	// OTEL_TRACES_SAMPLER applies; the engine samples routed frames itself.
	popts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if x != nil {
		var bo []sdktrace.BatchSpanProcessorOption
		if t.cfg.Traces == Stdout || t.cfg.Traces == StdoutJSON {
			bo = append(bo, sdktrace.WithBatchTimeout(500*time.Millisecond)) // a person is reading
		}
		popts = append(popts, sdktrace.WithBatcher(x, bo...))
	}
	for _, e := range extra {
		popts = append(popts, sdktrace.WithSyncer(e))
	}
	t.TracerProvider = sdktrace.NewTracerProvider(popts...)
	t.onShutdown(t.TracerProvider.Shutdown)
	return nil
}

func (t *Telemetry) metrics(ctx context.Context, res *resource.Resource, extra []func(sdkmetric.Producer) sdkmetric.Reader) error {
	var readers []sdkmetric.Reader
	for _, f := range extra {
		readers = append(readers, f(t.hb))
	}
	interval := t.cfg.Interval
	periodic := func(x sdkmetric.Exporter) sdkmetric.Reader {
		o := []sdkmetric.PeriodicReaderOption{sdkmetric.WithProducer(t.hb)}
		if interval > 0 { // else OTEL_METRIC_EXPORT_INTERVAL or the SDK's 60s: ours is 10s
			o = append(o, sdkmetric.WithInterval(interval))
		} else if !envSet("OTEL_METRIC_EXPORT_INTERVAL") {
			o = append(o, sdkmetric.WithInterval(DefaultInterval))
		}
		return sdkmetric.NewPeriodicReader(x, o...)
	}
	var r sdkmetric.Reader
	switch t.cfg.Metrics {
	case Stdout:
		x, err := stdoutmetric.New(stdoutmetric.WithWriter(t.cfg.Out), stdoutmetric.WithPrettyPrint())
		if err != nil {
			return fmt.Errorf("telemetry: stdout metric exporter: %w", err)
		}
		r = periodic(x)
	case OTLPHTTP:
		var o []otlpmetrichttp.Option
		if e := t.cfg.Endpoint; strings.Contains(e, "://") {
			o = append(o, otlpmetrichttp.WithEndpointURL(signalURL(e, "/v1/metrics")))
		} else if e != "" {
			o = append(o, otlpmetrichttp.WithEndpoint(e))
		}
		if t.cfg.Insecure {
			o = append(o, otlpmetrichttp.WithInsecure())
		}
		x, err := otlpmetrichttp.New(ctx, o...)
		if err != nil {
			return fmt.Errorf("telemetry: otlp-http metric exporter: %w", err)
		}
		r = periodic(x)
	case OTLPGRPC:
		var o []otlpmetricgrpc.Option
		if e := t.cfg.Endpoint; strings.Contains(e, "://") {
			o = append(o, otlpmetricgrpc.WithEndpointURL(e))
		} else if e != "" {
			o = append(o, otlpmetricgrpc.WithEndpoint(e))
		}
		if t.cfg.Insecure {
			o = append(o, otlpmetricgrpc.WithInsecure())
		}
		x, err := otlpmetricgrpc.New(ctx, o...)
		if err != nil {
			return fmt.Errorf("telemetry: otlp-grpc metric exporter: %w", err)
		}
		r = periodic(x)
	case Prometheus:
		reg := prometheus.NewRegistry()
		x, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithProducer(t.hb))
		if err != nil {
			return fmt.Errorf("telemetry: prometheus exporter: %w", err)
		}
		ln, err := net.Listen("tcp", t.cfg.PrometheusListen)
		if err != nil {
			return fmt.Errorf("telemetry: prometheus_listen %s: %w", t.cfg.PrometheusListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		t.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		t.promAddr = ln.Addr().String()
		go func() { _ = t.srv.Serve(ln) }()
		t.onShutdown(func(ctx context.Context) error {
			if err := t.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		r = x
	}
	if r != nil {
		readers = append(readers, r)
	}
	if len(readers) == 0 {
		return nil
	}
	popts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	for _, r := range readers {
		popts = append(popts, sdkmetric.WithReader(r))
	}
	t.MeterProvider = sdkmetric.NewMeterProvider(popts...)
	// The provider shuts down first (a last export), then the listener.
	t.mu.Lock()
	t.shutdown = append([]func(context.Context) error{t.MeterProvider.Shutdown}, t.shutdown...)
	t.mu.Unlock()
	return nil
}

// signalURL is an OTLP/HTTP endpoint URL with the signal's path when the
// URL has none (as OTEL_EXPORTER_OTLP_ENDPOINT is read).
func signalURL(u, path string) string {
	if p, err := url.Parse(u); err == nil && (p.Path == "" || p.Path == "/") {
		p.Path = path
		return p.String()
	}
	return u
}

// Producer is the producer of the heartbeat histograms, for a reader
// given to WithMetricReader.
func (t *Telemetry) Producer() sdkmetric.Producer { return t.hb }

func envSet(k string) bool {
	v, ok := os.LookupEnv(k)
	return ok && v != ""
}

func (t *Telemetry) onShutdown(f func(context.Context) error) {
	t.mu.Lock()
	t.shutdown = append(t.shutdown, f)
	t.mu.Unlock()
}

// PrometheusAddr is the address the /metrics endpoint listens on ("" when
// metrics do not go to Prometheus).
func (t *Telemetry) PrometheusAddr() string { return t.promAddr }

// Tracer is the engine's tracer (nil when traces are off).
func (t *Telemetry) Tracer() trace.Tracer {
	if t == nil || t.TracerProvider == nil {
		return nil
	}
	return t.TracerProvider.Tracer(ScopeName)
}

// Meter is the engine's meter (nil when metrics are off).
func (t *Telemetry) Meter() metric.Meter {
	if t == nil || t.MeterProvider == nil {
		return nil
	}
	return t.MeterProvider.Meter(ScopeName)
}

// Engine is the engine's telemetry option (host.WithTelemetry).
func (t *Telemetry) Engine() host.Telemetry {
	return host.Telemetry{Tracer: t.Tracer(), Meter: t.Meter(), SampleRatio: t.cfg.SampleRatio}
}

// Enabled reports whether anything is exported.
func (t *Telemetry) Enabled() bool {
	return t != nil && (t.TracerProvider != nil || t.MeterProvider != nil)
}

// ForceFlush exports what is pending: spans, and one collection of the
// metrics for the periodic readers.
func (t *Telemetry) ForceFlush(ctx context.Context) error {
	var errs []error
	if t.TracerProvider != nil {
		errs = append(errs, t.TracerProvider.ForceFlush(ctx))
	}
	if t.MeterProvider != nil {
		errs = append(errs, t.MeterProvider.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}

// Shutdown flushes what is pending (a last collection of the metrics
// included) and stops every exporter and the /metrics listener. It may be
// called more than once.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	fs := t.shutdown
	t.shutdown = nil
	t.mu.Unlock()
	var errs []error
	for _, f := range fs {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}
