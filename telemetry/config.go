package telemetry

import (
	"errors"
	"fmt"
	"github.com/stratbox/stratbox/internal/netaddr"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// Exporters.
const (
	None       = "none"        // the default: nothing is recorded, the hot path pays nothing
	Stdout     = "stdout"      // traces: one readable tree per trace; metrics: JSON every Interval
	StdoutJSON = "stdout-json" // traces: the SDK's stdout exporter (JSON, one object per span)
	OTLPHTTP   = "otlp-http"   // OTLP over HTTP/protobuf (default endpoint localhost:4318)
	OTLPGRPC   = "otlp-grpc"   // OTLP over gRPC (default endpoint localhost:4317)
	Prometheus = "prometheus"  // metrics only: a /metrics endpoint at PrometheusListen
)

// Defaults.
const (
	DefaultPrometheusListen = "127.0.0.1:9464"
	DefaultInterval         = 10 * time.Second
	DefaultServiceName      = "stratbox"
)

// ErrConfig is wrapped by every error of Validate.
var ErrConfig = errors.New("telemetry: invalid config")

// Config chooses what is exported where. Traces and metrics are
// configured separately; the zero value exports nothing. Where a field is
// empty the standard OpenTelemetry environment variables apply
// (OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_EXPORTER_OTLP_*,
// OTEL_TRACES_SAMPLER, OTEL_METRIC_EXPORT_INTERVAL, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES), read by the SDK and the exporters themselves.
type Config struct {
	// Traces is none, stdout, stdout-json, otlp-http or otlp-grpc.
	// Empty: OTEL_TRACES_EXPORTER (otlp, console, none), else none.
	Traces string `toml:"traces"`
	// Metrics is none, stdout, otlp-http, otlp-grpc or prometheus.
	// Empty: OTEL_METRICS_EXPORTER (otlp, console, prometheus, none), else none.
	Metrics string `toml:"metrics"`
	// Endpoint is the OTLP collector: host:port, or a URL
	// (http://host:4318, https://…; over HTTP a URL without a path gets
	// /v1/traces and /v1/metrics, one with a path is used as it is).
	// Empty: OTEL_EXPORTER_OTLP_ENDPOINT and the per-signal variables,
	// else localhost on the protocol's port.
	Endpoint string `toml:"endpoint"`
	// Insecure sends OTLP to a host:port Endpoint without TLS (an
	// http:// URL is always without).
	Insecure bool `toml:"insecure"`
	// SampleRatio is the share of routed market frames that may start a
	// trace (the engine follows one frame in round(1/SampleRatio) and
	// keeps its trace if it leads to an intent). 0: 1. The SDK's sampler
	// (OTEL_TRACES_SAMPLER; default always on) applies on top.
	SampleRatio float64 `toml:"sample_ratio"`
	// PrometheusListen is the address of the /metrics endpoint (default
	// 127.0.0.1:9464; port 0 picks one).
	PrometheusListen string `toml:"prometheus_listen"`
	// PrometheusAllowRemote permits a PrometheusListen beyond loopback (an
	// address other than 127.0.0.0/8, ::1 or localhost, or all interfaces):
	// the metrics tell the account's orders, positions and connections to
	// whoever reaches the port, so serving them there is an explicit choice.
	PrometheusAllowRemote bool `toml:"prometheus_allow_remote"`
	// Interval is the period of metric exports to stdout and OTLP
	// (default 10s, or OTEL_METRIC_EXPORT_INTERVAL).
	Interval time.Duration `toml:"-"`
	// ServiceName is the resource's service.name (default stratbox;
	// OTEL_SERVICE_NAME overrides it).
	ServiceName string `toml:"service_name"`
	// Out receives the stdout exporters' output (default os.Stdout).
	Out io.Writer `toml:"-"`
}

// withEnv fills the exporters left empty from the standard variables.
func (c Config) withEnv() Config {
	if c.Traces == "" {
		c.Traces = fromEnv("OTEL_TRACES_EXPORTER", "TRACES")
	}
	if c.Metrics == "" {
		c.Metrics = fromEnv("OTEL_METRICS_EXPORTER", "METRICS")
	}
	if c.Traces == "" {
		c.Traces = None
	}
	if c.Metrics == "" {
		c.Metrics = None
	}
	if c.PrometheusListen == "" {
		c.PrometheusListen = DefaultPrometheusListen
	}
	if c.ServiceName == "" {
		c.ServiceName = DefaultServiceName
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	return c
}

// fromEnv maps OTEL_{TRACES,METRICS}_EXPORTER to an exporter name; otlp's
// protocol comes from OTEL_EXPORTER_OTLP_{signal_}PROTOCOL (grpc or
// http/protobuf, the default). An unknown value is passed on for Validate
// to name.
func fromEnv(key, signal string) string {
	v := strings.TrimSpace(os.Getenv(key))
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i] // the first of a list
	}
	switch v {
	case "":
		return ""
	case "otlp":
		p := os.Getenv("OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL")
		if p == "" {
			p = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
		}
		if p == "grpc" {
			return OTLPGRPC
		}
		return OTLPHTTP
	case "console":
		return Stdout
	}
	return v
}

// Validate reports the first invalid setting, naming it.
func (c Config) Validate() error {
	c = c.withEnv()
	switch c.Traces {
	case None, Stdout, StdoutJSON, OTLPHTTP, OTLPGRPC:
	default:
		return fmt.Errorf("%w: traces exporter %q: want none, stdout, stdout-json, otlp-http or otlp-grpc", ErrConfig, c.Traces)
	}
	switch c.Metrics {
	case None, Stdout, OTLPHTTP, OTLPGRPC, Prometheus:
	default:
		return fmt.Errorf("%w: metrics exporter %q: want none, stdout, otlp-http, otlp-grpc or prometheus", ErrConfig, c.Metrics)
	}
	if !(c.SampleRatio >= 0 && c.SampleRatio <= 1) {
		return fmt.Errorf("%w: sample_ratio %v: want 0..1 (0: every frame)", ErrConfig, c.SampleRatio)
	}
	if c.Interval < 0 {
		return fmt.Errorf("%w: metrics interval %v is negative", ErrConfig, c.Interval)
	}
	if c.Endpoint != "" {
		if strings.Contains(c.Endpoint, "://") {
			if !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
				return fmt.Errorf("%w: endpoint %q: want host:port or an http:// or https:// URL", ErrConfig, c.Endpoint)
			}
		} else if _, _, err := net.SplitHostPort(c.Endpoint); err != nil {
			return fmt.Errorf("%w: endpoint %q: want host:port or an http:// or https:// URL", ErrConfig, c.Endpoint)
		}
	}
	if c.Metrics == Prometheus {
		if _, _, err := net.SplitHostPort(c.PrometheusListen); err != nil {
			return fmt.Errorf("%w: prometheus_listen %q: want host:port", ErrConfig, c.PrometheusListen)
		}
		if !c.PrometheusAllowRemote && !Loopback(c.PrometheusListen) {
			return fmt.Errorf("%w: prometheus_listen %q is beyond loopback: anyone who reaches it reads the account's orders and positions; set prometheus_allow_remote = true to serve it there",
				ErrConfig, c.PrometheusListen)
		}
	}
	return nil
}

// Loopback reports whether a host:port address listens on loopback only
// (127.0.0.0/8, ::1 or localhost; an empty host is every interface).
func Loopback(addr string) bool { return netaddr.Loopback(addr) }

// TracesOn and MetricsOn report what the configuration exports (the
// environment included).
func (c Config) TracesOn() bool  { return c.withEnv().Traces != None }
func (c Config) MetricsOn() bool { return c.withEnv().Metrics != None }
