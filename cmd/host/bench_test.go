package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/internal/hostbench"
)

// envBenchHelper makes TestBenchHelperProcess serve the suite's helper
// process: the test binary is not the host, so `host bench --helper`
// cannot start it.
const envBenchHelper = "STRATBOX_BENCH_HELPER"

func init() {
	benchHelperCmd = func() *exec.Cmd {
		exe, err := os.Executable()
		if err != nil {
			panic(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestBenchHelperProcess$", "-test.count=1", "-test.timeout=10m")
		cmd.Env = append(os.Environ(), envBenchHelper+"=1")
		cmd.Stderr = os.Stderr
		return cmd
	}
}

// TestBenchHelperProcess is the helper process of the tests' `host bench`
// runs; it is skipped unless envBenchHelper is set.
func TestBenchHelperProcess(t *testing.T) {
	if os.Getenv(envBenchHelper) == "" {
		t.Skip("helper process of host bench")
	}
	if code := hostbench.ServeHelper(os.Stdin, os.Stdout); code != 0 {
		t.Fatalf("helper exited with %d", code)
	}
}

// documentedKeys are the figure keys of docs/host-bench.md's "Figures and
// JSON keys" section (its table's first column); plugin marks those
// measured only with a plugin argument.
func documentedKeys(t *testing.T) (all, plugin []string) {
	t.Helper()
	b, err := os.ReadFile("../../docs/host-bench.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Figures and JSON keys")
	if !ok {
		t.Fatal(`docs/host-bench.md has no "## Figures and JSON keys" section`)
	}
	if i := strings.Index(sec, "\n## "); i >= 0 {
		sec = sec[:i]
	}
	re := regexp.MustCompile("(?m)^\\| `([a-z0-9_.{},]+)` \\|")
	for _, m := range re.FindAllStringSubmatch(sec, -1) {
		for _, k := range expandBraces(m[1]) {
			if strings.Contains(k, "plugin") && !strings.Contains(k, "plugin_instance.noop") &&
				!strings.Contains(k, "plugin_instance.quoter") {
				plugin = append(plugin, k)
			} else {
				all = append(all, k)
			}
		}
	}
	if len(all) < 20 {
		t.Fatalf("only %d figure keys found in docs/host-bench.md", len(all))
	}
	return all, plugin
}

// expandBraces expands the first {a,b} of s, recursively:
// "x.{a,b}.{c,d}" is x.a.c, x.a.d, x.b.c, x.b.d.
func expandBraces(s string) []string {
	i := strings.IndexByte(s, '{')
	if i < 0 {
		return []string{s}
	}
	j := strings.IndexByte(s[i:], '}') + i
	var out []string
	for _, alt := range strings.Split(s[i+1:j], ",") {
		out = append(out, expandBraces(s[:i]+alt+s[j+1:])...)
	}
	return out
}

func runBenchJSON(t *testing.T, args ...string) *hostbench.Result {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), append([]string{"bench", "--quick", "--reps", "1", "--json"}, args...), &out, &errb); err != nil {
		t.Fatalf("host bench %v: %v\n%s", args, err, errb.String())
	}
	var res hostbench.Result
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("--json output: %v", err)
	}
	if res.Version != hostbench.ResultVersion || res.Machine.CPUs <= 0 || res.Machine.Go == "" || res.Reps != 1 || !res.Quick {
		t.Fatalf("header: %+v", res)
	}
	return &res
}

func checkFigures(t *testing.T, res *hostbench.Result, keys []string) {
	t.Helper()
	for _, k := range keys {
		f, ok := res.Figures[k]
		if !ok {
			t.Errorf("figure %s (documented in docs/host-bench.md) missing from --json", k)
			continue
		}
		reps := res.Reps
		if strings.Contains(k, "_pooled_") || strings.Contains(k, "_paired_") { // one value over every repetition
			reps = 1
		}
		if len(f.Reps) != reps || f.Unit == "" || f.Title == "" {
			t.Errorf("%s: %+v", k, f)
		}
		// Counts of what must not happen (a figure with a target, such as "≤ 0") may be 0, and so may a
		// hostile plugin's calls and faults (one stopped by its circuit breaker is called no more) and
		// the labels the churn lost twice (a re-placed order need not be lost again in a short run);
		// differences may be negative.
		zeroOK := f.Target != "" || strings.HasSuffix(k, "_faults") || strings.HasSuffix(k, "_refused") || k == "churn.replaced_again" ||
			strings.HasPrefix(k, "hostile.") && (strings.HasSuffix(k, ".calls_per_s") || strings.HasSuffix(k, ".faults"))
		signed := strings.HasSuffix(k, "_extra_pct") || strings.HasSuffix(k, "_minus_floor_us")
		for _, v := range append([]float64{f.Median, f.Min, f.Max}, f.Reps...) {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 && !signed || v == 0 && !zeroOK && !signed {
				t.Errorf("%s: implausible value %v (%+v)", k, v, f)
			}
		}
		if f.Target != "" && f.Met == nil {
			t.Errorf("%s: target %q without met", k, f.Target)
		}
	}
}

// The whole suite runs (--quick, one repetition) and its JSON object has
// every key docs/host-bench.md documents, each a positive finite value, and
// no key it does not document.
func TestBenchQuickJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark suite")
	}
	all, plugin := documentedKeys(t)
	if raceEnabled { // instrumented, the whole suite takes minutes: the groups with the most concurrency
		groups := []string{"heartbeat", "tick"}
		res := runBenchJSON(t, "--only", strings.Join(groups, ","))
		var want []string
		for _, k := range all {
			if g, _, _ := strings.Cut(k, "."); slices.Contains(groups, g) {
				want = append(want, k)
			}
		}
		checkFigures(t, res, want)
		return
	}
	res := runBenchJSON(t)
	checkFigures(t, res, all)
	for k := range res.Figures {
		if !strings.Contains(strings.Join(all, " ")+" ", k+" ") {
			t.Errorf("figure %s is not documented in docs/host-bench.md", k)
		}
	}
	if len(plugin) == 0 {
		t.Error("docs/host-bench.md documents no figure of a plugin argument")
	}
}

// With a plugin, its figures come next to the no-op baseline's.
func TestBenchPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark suite")
	}
	_, plugin := documentedKeys(t)
	groups := []string{"dispatch", "replay"}
	if raceEnabled { // instrumented replays are slow
		groups = groups[:1]
	}
	res := runBenchJSON(t, "--only", strings.Join(groups, ","), "../../plugins/examples/minimal-wat/minimal-wat.wasm")
	if res.Plugin != "minimal-wat" {
		t.Fatalf("plugin %q", res.Plugin)
	}
	want := []string{"dispatch.noop.batch64"}
	if !raceEnabled {
		want = append(want, "replay.noop.frames_per_s")
	}
	seen := map[string]bool{}
	for _, k := range plugin {
		if g, _, _ := strings.Cut(k, "."); slices.Contains(groups, g) {
			want, seen[g] = append(want, k), true
		}
	}
	if len(seen) != len(groups) {
		t.Fatalf("docs/host-bench.md documents no plugin key of some of %v: %v", groups, plugin)
	}
	checkFigures(t, res, want)
	if _, ok := res.Figures["e2e.native_us"]; ok {
		t.Error("--only dispatch,replay measured e2e")
	}
}

// The table and the benchstat lines of the same figures.
func TestBenchTableAndBenchfmt(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"bench", "--quick", "--reps", "1", "--only", "dispatch"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	for _, want := range []string{"figure", "median", "spread", "dispatch.noop.batch64", "≤ 300 ns/event at batch 64"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"bench", "--quick", "--reps", "2", "--only", "dispatch", "--benchfmt"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	re := regexp.MustCompile(`(?m)^BenchmarkHost/dispatch\.noop\.batch64 1 [0-9.e+]+ ns/event$`)
	if n := len(re.FindAllString(out.String(), -1)); n != 2 {
		t.Errorf("%d benchfmt lines of dispatch.noop.batch64, want 2 (one per repetition):\n%s", n, out.String())
	}
}

// Bad input is a usage error that says what is wrong.
func TestBenchBadInput(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notwasm.wasm")
	if err := os.WriteFile(text, []byte("this is not a wasm module\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", filepath.Join(dir, "missing.wasm")}, "no such file"},
		{[]string{"bench", text}, "not a WebAssembly module"},
		{[]string{"bench", "--only", "dispatch,warp"}, `unknown figure group "warp"`},
		{[]string{"bench", "a.wasm", "b.wasm"}, "at most one plugin"},
		{[]string{"bench", "--param", "x=1"}, "--param needs a plugin"},
		{[]string{"bench", "--json", "--benchfmt"}, "exclude each other"},
		{[]string{"bench", "--priority", "nice:40"}, `--priority: priority "nice:40": niceness "40": want 0 to 19`},
		{[]string{"bench", "--priority", "low"}, `--priority: priority "low"`},
		{[]string{"bench", "--log", "loud"}, `--log "loud": want debug, info, warn or error`},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), c.args, &out, &errb)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want a usage error with %q", c.args, err, c.want)
		}
	}
}

// --log shows the measured host's log on stderr (here, the tick group's
// connections closing at the end of each repetition); without it, none.
func TestBenchLog(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a benchmark group")
	}
	for _, c := range []struct {
		args []string
		want bool
	}{{[]string{"--log", "info"}, true}, {nil, false}} {
		var out, errb bytes.Buffer
		args := append([]string{"bench", "--quick", "--reps", "1", "--only", "tick"}, c.args...)
		if err := run(context.Background(), args, &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
		if got := strings.Contains(errb.String(), `level=INFO msg="conn: closed"`); got != c.want {
			t.Errorf("%v: the connections' log on stderr: %v, want %v:\n%s", args, got, c.want, errb.String())
		}
	}
}

// --cpuprofile writes a profile go tool pprof reads; a file that cannot be
// created is an error that names the flag.
func TestBenchCPUProfile(t *testing.T) {
	dir := t.TempDir()
	err := run(context.Background(), []string{"bench", "--cpuprofile", filepath.Join(dir, "no", "such", "cpu.prof"), "--only", "dispatch"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--cpuprofile") {
		t.Fatalf("error %v, want one naming --cpuprofile", err)
	}
	if testing.Short() {
		return
	}
	prof := filepath.Join(dir, "cpu.prof")
	if err := run(context.Background(), []string{"bench", "--quick", "--reps", "1", "--only", "dispatch", "--cpuprofile", prof}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(prof)
	if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b { // pprof's protobuf, gzipped
		t.Fatalf("profile: %d bytes, %v", len(b), err)
	}
}
