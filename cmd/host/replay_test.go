package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/internal/testplugins"
	"github.com/stratbox/stratbox/record"
	"github.com/stratbox/stratbox/sim"
)

var (
	update   = flag.Bool("update", false, "rewrite the golden outputs of testdata/replay")
	generate = flag.Bool("replay.generate", false, "record new sessions of the simulator into testdata/replay (then run with -update)")
)

const replayDir = "../../testdata/replay"

// exampleWasm builds plugins/examples/<name> once per test binary.
func exampleWasm(t testing.TB, name string) []byte { return testplugins.Example(t, name) }

// readRecording opens a recording (any format record.Open reads), closed
// at the end of the test.
func readRecording(t testing.TB, path string) record.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	rd, err := record.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

var compileCache = sync.OnceValues(func() (*sandbox.Cache, error) { return sandbox.NewCache("") })

// replayBytes replays file with the example strategies and returns the
// JSON Lines output.
func replayBytes(t testing.TB, file string, fill bool, strategies ...string) ([]byte, *replayResult) {
	t.Helper()
	rd := readRecording(t, file)
	var out bytes.Buffer
	cache, err := compileCache()
	if err != nil {
		t.Fatal(err)
	}
	o := replayOptions{fill: fill, out: &out, cache: cache, plugins: map[string][]byte{}, report: &reportData{}}
	var cfg fileConfig
	for _, s := range strategies {
		o.plugins[s+".wasm"] = exampleWasm(t, s)
		cfg.Plugins = append(cfg.Plugins, pluginConfig{Path: s + ".wasm", Params: goldenParams[s]})
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	res, err := replay(context.Background(), rd, cfg, o)
	if err != nil {
		t.Fatalf("replay %s: %v", file, err)
	}
	return out.Bytes(), res
}

// goldenParams make the example strategies trade within a few seconds of
// the simulator's quiet market.
var goldenParams = map[string]map[string]any{
	"marketmaker": {"half_spread_bps": 0.5, "size": int64(10)},
	"taker":       {"window": "2s", "min_volume": int64(20), "size": int64(10), "threshold": 0.55, "cooldown": "500ms"},
}

// recordings are the sessions of testdata/replay.
func recordings(t *testing.T) []string {
	var out []string
	for _, pat := range []string{"*.rec", "*.jsonl", "*.tardis"} {
		m, _ := filepath.Glob(filepath.Join(replayDir, pat))
		for _, f := range m {
			if !strings.HasSuffix(f, ".golden.jsonl") {
				out = append(out, f)
			}
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatal("no recordings in testdata/replay")
	}
	return out
}

// Every recorded session, replayed with each example strategy (and with
// --fill sim), gives its golden output; -update rewrites them.
func TestReplayGoldens(t *testing.T) {
	if *generate {
		generateRecordings(t)
	}
	for _, file := range recordings(t) {
		for _, strategy := range []string{"marketmaker", "taker"} {
			for _, fill := range []bool{false, true} {
				name := filepath.Base(file) + "." + strategy
				if fill {
					name += ".fill-sim"
				}
				t.Run(name, func(t *testing.T) {
					got, res := replayBytes(t, file, fill, strategy)
					if res.Delivered == 0 {
						t.Fatalf("nothing replayed: %+v", res)
					}
					golden := filepath.Join(replayDir, "golden", name+".jsonl")
					if *update {
						os.MkdirAll(filepath.Dir(golden), 0o755)
						if err := os.WriteFile(golden, got, 0o644); err != nil {
							t.Fatal(err)
						}
						return
					}
					want, err := os.ReadFile(golden)
					if err != nil {
						t.Fatalf("%v (run go test -run TestReplayGoldens -update)", err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("output differs from %s (rerun with -update if the change is meant):\n%s", golden, lineDiff(want, got))
					}
				})
			}
		}
	}
}

// lineDiff shows the first lines that differ.
func lineDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 8; i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, a, c)
			shown++
		}
	}
	fmt.Fprintf(&b, "(%d lines wanted, %d got)", len(w), len(g))
	return b.String()
}

// The same file and plugins give the same bytes, run after run, whatever
// GOMAXPROCS.
func TestReplayDeterministic(t *testing.T) {
	file := filepath.Join(replayDir, "sim-run.rec")
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var first []byte
	for i, procs := range []int{4, 1, 4, 2} {
		runtime.GOMAXPROCS(procs)
		got, res := replayBytes(t, file, true, "marketmaker", "taker")
		if i == 0 {
			first = got
			if res.Stats.Placed == 0 || res.Stats.Fills == 0 {
				t.Fatalf("a replay that places or fills nothing proves little: %+v", res.Stats)
			}
			continue
		}
		if !bytes.Equal(got, first) {
			t.Fatalf("run %d (GOMAXPROCS %d) differs:\n%s", i, procs, lineDiff(first, got))
		}
	}
}

// host replay end to end: output file, report, summary; truncated,
// corrupted and unknown files; bad flags.
func TestReplayCommand(t *testing.T) {
	mm := buildExample(t, "marketmaker")
	dir := t.TempDir()
	src := filepath.Join(replayDir, "sim-run.rec")
	out, report := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "report.html")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"replay", "--fill", "sim", "--out", out, "--report", report, "--cache-dir", "off", src, mm}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"replayed stratbox recording", "summary after", "orders", "plugin marketmaker"} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stderr.String(), "[") {
		t.Fatalf("a progress bar on a stderr that is not a terminal: %q", stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(b, []byte(`"intent":{"kind":"place"`)) {
		t.Fatalf("--out: %v %.300s", err, b)
	}
	h, err := os.ReadFile(report)
	if err != nil || !bytes.Contains(h, []byte("<svg")) || !bytes.Contains(h, []byte("marketmaker")) {
		t.Fatalf("--report: %v %.300s", err, h)
	}

	full, _ := os.ReadFile(src)
	trunc := filepath.Join(dir, "trunc.rec")
	os.WriteFile(trunc, full[:len(full)*2/3], 0o644)
	stdout.Reset()
	if err := run(context.Background(), []string{"replay", "--cache-dir", "off", trunc, mm}, &stdout, io.Discard); err != nil {
		t.Fatalf("truncated file: %v", err)
	}
	if !strings.Contains(stdout.String(), "WARNING") || !strings.Contains(stdout.String(), "truncated") {
		t.Fatalf("truncation not reported:\n%s", stdout.String())
	}

	bad := bytes.Clone(full)
	bad[len(bad)/2] ^= 0xff
	corrupt := filepath.Join(dir, "corrupt.rec")
	os.WriteFile(corrupt, bad, 0o644)
	err = run(context.Background(), []string{"replay", "--cache-dir", "off", corrupt, mm}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt file: %v", err)
	}

	unknown := filepath.Join(dir, "x.bin")
	os.WriteFile(unknown, []byte("PK\x03\x04 a zip"), 0o644)
	err = run(context.Background(), []string{"replay", unknown, mm}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Fatalf("unknown file: %v", err)
	}

	for _, args := range [][]string{
		{"replay"},
		{"replay", "--fill", "maybe", src, mm},
		{"replay", "--speed", "-1", src, mm},
		{"replay", "--progress", "sometimes", src, mm},
		{"replay", src}, // no strategy
		{"record"},
		{"record", "--out", filepath.Join(dir, "r.rec"), "--channels", " , "},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "usage") {
			t.Fatalf("%q: %v, want a usage error", args, err)
		}
	}
}

// host run --record writes a file that replays, and no secret reaches it.
func TestRunRecordRedactsAndReplays(t *testing.T) {
	mm := buildExample(t, "marketmaker")
	dir := t.TempDir()
	rec := filepath.Join(dir, "run.rec")
	cfg := writeSimConfig(t, dir, fmt.Sprintf(`
[exchange]
heartbeat_interval = "100ms"
auth = "client_credentials"
[host]
cache_dir = "off"
isolation = "none"
status = "0s"
[[plugin]]
path = %q
call_budget = "5s"
`, mm))
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"run", "--config", cfg, "--duration", "1500ms", "--record", rec}, &stdout, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "frames written to") {
		t.Fatalf("no recording line:\n%s", stdout.String())
	}
	rd := readRecording(t, rec)
	var n, out, tokens int
	tokenValue := regexp.MustCompile(`"(access_token|refresh_token|client_secret|signature)"\s*:\s*"([^"]*)"`)
	for {
		fr, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if fr.Dir == record.Out {
			out++
		}
		if bytes.Contains(fr.Data, []byte(sim.TestKeySecret)) {
			t.Fatalf("the client secret reached the file: %s", fr.Data)
		}
		for _, m := range tokenValue.FindAllSubmatch(fr.Data, -1) {
			tokens++
			if string(m[2]) != record.Redacted {
				t.Fatalf("%s not redacted: %s", m[1], fr.Data)
			}
		}
	}
	if n < 50 || out == 0 || tokens == 0 {
		t.Fatalf("%d frames, %d outbound, %d redacted values", n, out, tokens)
	}
	got, res := replayBytes(t, rec, true, "marketmaker")
	if len(got) == 0 || res.Private == 0 || res.Outbound == 0 {
		t.Fatalf("replay of a host run recording: %d bytes, %+v", len(got), res)
	}
}

// generateRecordings records the simulator into testdata/replay (run with
// -replay.generate -update).
func generateRecordings(t *testing.T) {
	mm := buildExample(t, "marketmaker")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "host.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
[sim]
tick = "50ms"
seed = 7
[exchange]
heartbeat_interval = "1s"
[host]
cache_dir = "off"
isolation = "none"
status = "0s"
[[plugin]]
path = %q
call_budget = "5s"
[plugin.params]
half_spread_bps = 0.5
size = 10
`, mm)), 0o644)
	if err := run(context.Background(), []string{"run", "--config", cfg, "--duration", "8s", "--record", filepath.Join(replayDir, "sim-run.rec")}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	market := filepath.Join(replayDir, "sim-market.rec")
	if err := run(context.Background(), []string{"record", "--duration", "8s", "--seed", "3", "--out", market}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	// The same market in Tardis.dev's format, with a disconnect mark.
	rd := readRecording(t, market)
	var b bytes.Buffer
	for i := 0; ; i++ {
		fr, err := rd.Next()
		if err != nil {
			break
		}
		if fr.Dir == record.Out || !bytes.Contains(fr.Data, []byte(`"subscription"`)) {
			continue
		}
		fmt.Fprintf(&b, "%s %s\n", time.Unix(0, fr.Time).UTC().Format("2006-01-02T15:04:05.0000000Z"), fr.Data)
		if i == 40 {
			b.WriteString("\n")
		}
	}
	os.WriteFile(filepath.Join(replayDir, "sim-market.tardis"), b.Bytes(), 0o644)
}
