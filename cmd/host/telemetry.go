package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/telemetry"
)

// telemetryConfig is the [telemetry] section: where traces and metrics go
// (docs/telemetry.md). The OTEL_* environment variables apply where it
// is silent.
type telemetryConfig struct {
	// Traces: "none" (default), "stdout" (a readable tree per trace),
	// "stdout-json", "otlp-http" or "otlp-grpc".
	Traces string `toml:"traces"`
	// Metrics: "none" (default), "stdout", "otlp-http", "otlp-grpc" or
	// "prometheus" (a /metrics endpoint at prometheus_listen).
	Metrics string `toml:"metrics"`
	// Endpoint of the OTLP collector: host:port or a URL. Default:
	// OTEL_EXPORTER_OTLP_ENDPOINT, else localhost:4318 (HTTP) / 4317 (gRPC).
	Endpoint string `toml:"endpoint"`
	// Insecure: OTLP to a host:port endpoint without TLS.
	Insecure bool `toml:"insecure"`
	// SampleRatio is the share of routed market frames that may start a
	// trace (kept when the frame leads to an intent). Default 1.
	SampleRatio float64 `toml:"sample_ratio"`
	// PrometheusListen is the /metrics address. Default "127.0.0.1:9464".
	PrometheusListen string `toml:"prometheus_listen"`
	// PrometheusAllowRemote permits a prometheus_listen beyond loopback
	// (default false: such an address is refused).
	PrometheusAllowRemote bool `toml:"prometheus_allow_remote"`
	// MetricsInterval is the export period to stdout and OTLP. Default "10s".
	MetricsInterval duration `toml:"metrics_interval"`
	// ServiceName is the service.name resource attribute. Default "stratbox".
	ServiceName string `toml:"service_name"`
}

func (t telemetryConfig) config(out io.Writer) telemetry.Config {
	return telemetry.Config{Traces: t.Traces, Metrics: t.Metrics, Endpoint: t.Endpoint, Insecure: t.Insecure,
		SampleRatio: t.SampleRatio, PrometheusListen: t.PrometheusListen, PrometheusAllowRemote: t.PrometheusAllowRemote, Interval: t.MetricsInterval.Duration,
		ServiceName: t.ServiceName, Out: out}
}

func (t telemetryConfig) validate() error {
	if err := t.config(nil).Validate(); err != nil {
		return fmt.Errorf("config: [telemetry]: %w", err)
	}
	return nil
}

// telemetryFlags are `host run`'s telemetry flags; they override [telemetry].
type telemetryFlags struct {
	trace, metrics, endpoint string
	sample                   float64
}

func (f *telemetryFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.trace, "trace", "", "export traces: none, stdout, stdout-json, otlp-http or otlp-grpc (default: [telemetry] traces, OTEL_TRACES_EXPORTER)")
	fs.StringVar(&f.metrics, "metrics", "", "export metrics: none, stdout, otlp-http, otlp-grpc or prometheus (default: [telemetry] metrics, OTEL_METRICS_EXPORTER)")
	fs.StringVar(&f.endpoint, "otlp-endpoint", "", "OTLP collector, host:port or URL (default: [telemetry] endpoint, OTEL_EXPORTER_OTLP_ENDPOINT)")
	fs.Float64Var(&f.sample, "trace-sample", -1, "share of routed frames that may start a trace, 0..1 (default: [telemetry] sample_ratio, 1)")
}

func (f *telemetryFlags) apply(c *telemetryConfig) {
	if f.trace != "" {
		c.Traces = f.trace
	}
	if f.metrics != "" {
		c.Metrics = f.metrics
	}
	if f.endpoint != "" {
		c.Endpoint = f.endpoint
	}
	if f.sample >= 0 {
		c.SampleRatio = f.sample
	}
}

// runTelemetry is the telemetry of one `host run`.
type runTelemetry struct {
	t   *telemetry.Telemetry
	out io.Writer
}

// startTelemetry builds the exporters [telemetry] asks for (nothing when
// it asks for none). The stdout exporters write from their own goroutines,
// so *stdout becomes a writer that serialises every Write.
func startTelemetry(ctx context.Context, c telemetryConfig, stdout *io.Writer) (*runTelemetry, error) {
	*stdout = &lockedWriter{w: *stdout}
	t, err := telemetry.New(ctx, c.config(*stdout))
	if err != nil {
		return nil, err
	}
	if a := t.PrometheusAddr(); a != "" {
		if telemetry.Loopback(a) {
			fmt.Fprintf(*stdout, "metrics for Prometheus on http://%s/metrics\n", a)
		} else {
			fmt.Fprintf(*stdout, "metrics for Prometheus on http://%s/metrics: BEYOND LOOPBACK (prometheus_allow_remote = true): whoever reaches it reads the account's orders and positions\n", a)
		}
	}
	return &runTelemetry{t: t, out: *stdout}, nil
}

// lockedWriter serialises the writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// engine is the engine's telemetry option.
func (r *runTelemetry) engine() host.EngineOption { return host.EngineTelemetry(r.t.Engine()) }

// watch follows the pool's connections (before it starts) and registers
// the engine's and the pool's metrics.
func (r *runTelemetry) watch(e *host.Engine, p *pool.Pool) error {
	r.t.ConnTracer().WatchPool(p)
	return r.t.Observe(e, p)
}

// close flushes and stops the exporters; a failure is reported, not fatal.
func (r *runTelemetry) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.t.Shutdown(ctx); err != nil {
		fmt.Fprintf(r.out, "telemetry: %v\n", err)
	}
}
