package telemetry

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/stratbox/stratbox/host"
)

// dashboardFile is the Grafana dashboard shipped with the host.
const dashboardFile = "grafana/stratbox.json"

// eventOnly are the engine's counters that have no series until their
// event happens (a fault, a refusal, an exchange rejection, a rate-limit
// refusal): a short run on the simulator has none of them, so their
// Prometheus names are checked through the same exporter in a registry of
// the test's own, and their labels against the attributes the engine adds.
var eventOnly = map[string][]attribute.KeyValue{
	host.MetricPluginFaults:      {host.AttrPlugin.String("p"), host.AttrKind.String("k")},
	host.MetricPluginRejections:  {host.AttrPlugin.String("p"), host.AttrReason.String("r")},
	host.MetricOrdersRejected:    {host.AttrPlugin.String("p"), host.AttrCode.Int(1)},
	host.MetricOrdersRateLimited: {host.AttrPlugin.String("p"), attribute.String("limit", "share")},
}

// Every metric and label the dashboard queries is one the host exports to
// Prometheus, under the name Prometheus gives it, and every metric the host
// exports is on the dashboard: the families come from a real run (the
// engine, the pool and the simulator on loopback, scraped at /metrics)
// plus the event-only counters above.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	exported := map[string]map[string]bool{} // family (as queried) → its labels
	tel, err := New(context.Background(), Config{Metrics: Prometheus, PrometheusListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	r := startRun(t, tel)
	r.waitAcked(t)
	r.waitHeartbeats(t)
	resp, err := http.Get("http://" + tel.PrometheusAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.stop()
	scrape(string(body), exported)
	scrape(eventOnlyFamilies(t), exported)

	for _, name := range []string{"stratbox_orders_placed_total", "stratbox_heartbeat_answer_duration_seconds_bucket",
		"stratbox_plugin_faults_total", "stratbox_plugin_position"} {
		if exported[name] == nil { // the check below would pass on an empty scrape
			t.Fatalf("the host exports no %s: the scrape is not what the test expects:\n%s", name, body)
		}
	}

	queries := dashboardQueries(t)
	if len(queries) < 20 {
		t.Fatalf("the dashboard has %d queries", len(queries))
	}
	used := map[string]bool{}
	for _, q := range queries {
		names, labels := parsePromQL(q)
		if len(names) == 0 {
			t.Errorf("query %q reads no stratbox metric", q)
		}
		for _, n := range names {
			used[n] = true
			have, ok := exported[n]
			if !ok {
				t.Errorf("query %q reads %s, which the host does not export (exported: %s)", q, n, strings.Join(keys(exported), ", "))
				continue
			}
			for _, l := range labels {
				if l != "le" && !have[l] && !anyHas(exported, names, l) {
					t.Errorf("query %q groups by %s, a label %s does not have (it has %s)", q, l, n, strings.Join(keys(have), ", "))
				}
			}
		}
	}
	for name := range exported {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if !used[name] && !used[base+"_bucket"] && !used[base] {
			t.Errorf("the host exports %s and the dashboard (%s) does not show it", name, dashboardFile)
		}
	}
}

// anyHas reports whether one of the metrics of a query has label l (a
// query may combine several, as a - b).
func anyHas(exported map[string]map[string]bool, names []string, l string) bool {
	for _, n := range names {
		if exported[n][l] {
			return true
		}
	}
	return false
}

// eventOnlyFamilies returns the /metrics text of the event-only counters,
// made as the engine makes them (host/telemetry.go: Int64Counter, no unit)
// and exported through the same Prometheus exporter.
func eventOnlyFamilies(t *testing.T) string {
	reg := prometheus.NewRegistry()
	x, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutTargetInfo(), otelprom.WithoutScopeInfo())
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(x))
	defer mp.Shutdown(context.Background())
	m := mp.Meter(ScopeName)
	for name, attrs := range eventOnly {
		c, err := m.Int64Counter(name)
		if err != nil {
			t.Fatal(err)
		}
		c.Add(context.Background(), 1, metric.WithAttributes(attrs...))
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			b.WriteString(f.GetName())
			b.WriteString("{")
			for i, lp := range mt.GetLabel() {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(lp.GetName() + `="` + lp.GetValue() + `"`)
			}
			b.WriteString("} 1\n")
		}
	}
	return b.String()
}

// scrape adds the stratbox families of a /metrics text and their labels.
func scrape(text string, into map[string]map[string]bool) {
	label := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "stratbox_") {
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		if i := strings.IndexByte(name, ' '); i >= 0 {
			name, rest = name[:i], ""
		}
		if into[name] == nil {
			into[name] = map[string]bool{}
		}
		if lbl, _, ok := strings.Cut(rest, "}"); ok {
			for _, m := range label.FindAllStringSubmatch(lbl, -1) {
				if !strings.HasPrefix(m[1], "otel_scope_") {
					into[name][m[1]] = true
				}
			}
		}
	}
}

// dashboardQueries returns the expr of every target of every panel.
func dashboardQueries(t *testing.T) []string {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
			Panels  []json.RawMessage
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var out []string
	for _, p := range d.Panels {
		if len(p.Panels) > 0 {
			t.Errorf("%s: panel %q: collapsed rows hide their panels from this test: keep rows open", dashboardFile, p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	return out
}

var (
	grouping  = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	selectors = regexp.MustCompile(`\{[^}]*\}`)
	ranges    = regexp.MustCompile(`\[[^\]]*\]`)
	ident     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// parsePromQL returns the stratbox metric names a query reads and the
// labels it groups by. It knows the little PromQL the dashboard uses:
// functions, aggregations with by/without, selectors, ranges, arithmetic.
func parsePromQL(q string) (names, labels []string) {
	for _, m := range grouping.FindAllStringSubmatch(q, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
	}
	rest := grouping.ReplaceAllString(q, " ")
	rest = selectors.ReplaceAllString(rest, " ")
	rest = ranges.ReplaceAllString(rest, " ")
	for _, id := range ident.FindAllString(rest, -1) {
		if strings.HasPrefix(id, "stratbox_") && !slices.Contains(names, id) {
			names = append(names, id)
		}
	}
	return names, labels
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The PromQL reader finds the metrics and the grouping labels, and no
// label or function name is taken for a metric.
func TestParsePromQL(t *testing.T) {
	names, labels := parsePromQL(`histogram_quantile(0.99, sum by (le, stratbox_connection) (rate(stratbox_heartbeat_answer_duration_seconds_bucket{stratbox_connection="1"}[5m]))) - sum without(stratbox_plugin)(stratbox_x)`)
	if !slices.Equal(names, []string{"stratbox_heartbeat_answer_duration_seconds_bucket", "stratbox_x"}) {
		t.Errorf("names %q", names)
	}
	if !slices.Equal(labels, []string{"le", "stratbox_connection", "stratbox_plugin"}) {
		t.Errorf("labels %q", labels)
	}
}
