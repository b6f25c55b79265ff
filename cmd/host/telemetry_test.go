package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/sim"
)

// host run --trace stdout prints the connections' lifecycle and, as a
// tree, the trace of an order: the routed frame, its decoding, the plugin
// call, the intent, the order, its request to the exchange and the
// delivery of the answer to the plugin; no secret is in it.
func TestRunTraceStdout(t *testing.T) {
	wasm := buildExample(t, "marketmaker")
	dir := t.TempDir()
	cfg := writeSimConfig(t, dir, fmt.Sprintf(`
[exchange]
heartbeat_interval = "100ms"
[host]
cache_dir = %q
status = "0s"
isolation = "none"
[telemetry]
sample_ratio = 1.0
[[plugin]]
name = "mm"
path = %q
call_budget = "5s"             # the trace is the subject: a descheduled first call must not fault it
[plugin.params]
half_spread_bps = 0.5
size = 100
`, testCacheDir, wasm))
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"run", "--config", cfg, "--duration", "2s", "--trace", "stdout"}, &out, &errb); err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, out.String(), errb.String())
	}
	s := out.String()
	for _, re := range []string{
		`(?m)^trace [0-9a-f]{32}  `,
		`(?m)^  conn\.connect +\+0\.0µs .* connection=0  attempt=0$`,
		`(?m)^    conn\.dial `,
		`(?m)^    conn\.auth_subscribe `,
		// The frame whose trace leads to the first order is whichever market
		// frame's event was in the call that placed it: any of the three.
		`(?m)^  stratbox\.route .* channel=(book|ticker|trades)\.BTC-PERPETUAL\.100ms  connection=\d  instrument=BTC-PERPETUAL$`,
		`(?m)^    stratbox\.decode `,
		`(?m)^    stratbox\.plugin\.call .* plugin=mm `,
		`(?m)^      stratbox\.intent .* kind=place  cid=\d+$`,
		`(?m)^        stratbox\.order .* plugin=mm  cid=\d+  instrument=BTC-PERPETUAL .* order\.state=open`,
		`(?m)^          stratbox\.order\.request .* method=private/(buy|sell)  connection=\d$`,
		`(?m)^          stratbox\.order\.delivered .* plugin=mm$`,
	} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("output has no line matching %s", re)
		}
	}
	for _, secret := range []string{sim.TestKeySecret, "signature", "access_token"} {
		if strings.Contains(s, secret) {
			t.Errorf("the output holds %q", secret)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s\nstderr:\n%s", s, errb.String())
	}
}

// Bad telemetry settings are errors that name them, from the config file
// and from the flags.
func TestRunTelemetryErrors(t *testing.T) {
	for _, tc := range []struct{ name, toml, want string }{
		{"bad traces", "[telemetry]\ntraces = \"jaeger\"\n", `telemetry]: telemetry: invalid config: traces exporter "jaeger"`},
		{"bad metrics", "[telemetry]\nmetrics = \"graphite\"\n", `metrics exporter "graphite"`},
		{"bad ratio", "[telemetry]\nsample_ratio = 2.0\n", "sample_ratio 2"},
		{"bad endpoint", "[telemetry]\nendpoint = \"collector\"\n", `endpoint "collector"`},
		{"bad listen", "[telemetry]\nmetrics = \"prometheus\"\nprometheus_listen = \"x\"\n", "prometheus_listen"},
		{"unknown key", "[telemetry]\nexporter = \"otlp\"\n", "telemetry.exporter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("test.toml", []byte(tc.toml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
	for _, args := range [][]string{{"run", "--trace", "zipkin", "x.wasm"}, {"run", "--metrics", "statsd", "x.wasm"},
		{"run", "--trace-sample", "3", "x.wasm"}} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "telemetry") {
			t.Errorf("%v: %v, want a telemetry error", args, err)
		}
	}
}
