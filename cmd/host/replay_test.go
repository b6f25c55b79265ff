package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/control"
	"github.com/stratbox/stratbox/internal/benchkit"
	"github.com/stratbox/stratbox/internal/testplugins"
	"github.com/stratbox/stratbox/record"
	"github.com/stratbox/stratbox/sim"
)

var generate = flag.Bool("replay.generate", false, "record new sessions of the simulator into testdata/replay (then go test ./replay -run TestReplayGoldens -update)")

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

// host replay end to end: output file, report, summary; truncated,
// corrupted and unknown files; bad flags.
func TestReplayCommand(t *testing.T) {
	mm := buildExample(t, "marketmaker")
	dir := t.TempDir()
	src := filepath.Join(replayDir, "sim-run.rec")
	out, report := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "report.html")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"replay", "--fill", "sim", "--out", out, "--report", report, "--cache-dir", testCacheDir, src, mm}, &stdout, &stderr)
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
	if err := run(context.Background(), []string{"replay", "--cache-dir", testCacheDir, trunc, mm}, &stdout, io.Discard); err != nil {
		t.Fatalf("truncated file: %v", err)
	}
	if !strings.Contains(stdout.String(), "WARNING") || !strings.Contains(stdout.String(), "truncated") {
		t.Fatalf("truncation not reported:\n%s", stdout.String())
	}

	bad := bytes.Clone(full)
	bad[len(bad)/2] ^= 0xff
	corrupt := filepath.Join(dir, "corrupt.rec")
	os.WriteFile(corrupt, bad, 0o644)
	err = run(context.Background(), []string{"replay", "--cache-dir", testCacheDir, corrupt, mm}, io.Discard, io.Discard)
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
	sock := filepath.Join(dir, "ctl.sock")
	cfg := writeSimConfig(t, dir, fmt.Sprintf(`
[exchange]
heartbeat_interval = "100ms"
auth = "client_credentials"
[host]
cache_dir = %q
isolation = "none"
status = "0s"
[control]
socket = %q
[[plugin]]
path = %q
call_budget = "5s"
`, testCacheDir, sock, mm))
	// Until the market maker has orders open and every connection has
	// answered heartbeats (so the recording holds its outbound requests and
	// a stretch of market), however long the start takes on this machine.
	_, log, stop := startHostRunArgs(t, []string{"--config", cfg, "--record", rec}, sock, func(st control.Status) bool {
		if len(st.Plugins) != 1 || st.Plugins[0].OpenOrders == 0 || len(st.Pool.Connections) == 0 {
			return false
		}
		for _, cn := range st.Pool.Connections {
			if cn.Answered < 2 {
				return false
			}
		}
		return true
	})
	stop()
	if !strings.Contains(log.String(), "frames written to") {
		t.Fatalf("no recording line:\n%s", log.String())
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
	if out == 0 || n == out || tokens == 0 { // requests out, market and answers in, tokens redacted
		t.Fatalf("%d frames, %d outbound, %d redacted values", n, out, tokens)
	}
	jsonl := filepath.Join(dir, "out.jsonl")
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"replay", "--fill", "sim", "--out", jsonl, "--cache-dir", testCacheDir, rec, mm}, &stdout, io.Discard); err != nil {
		t.Fatalf("replay of a host run recording: %v", err)
	}
	got, err := os.ReadFile(jsonl)
	m := regexp.MustCompile(`not replayed: (\d+) outbound, (\d+) the recorded account's own`).FindStringSubmatch(stdout.String())
	if err != nil || len(got) == 0 || m == nil || m[1] == "0" || m[2] == "0" {
		t.Fatalf("replay of a host run recording: %d bytes (%v), summary:\n%s", len(got), err, stdout.String())
	}
}

// TestGenerateReplayRecordings records the simulator into testdata/replay
// with -replay.generate (then rewrite replay's goldens with go test ./replay
// -run TestReplayGoldens -update).
func TestGenerateReplayRecordings(t *testing.T) {
	if !*generate {
		t.Skip("only with -replay.generate")
	}
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
cache_dir = %q
isolation = "none"
status = "0s"
[[plugin]]
path = %q
call_budget = "5s"
[plugin.params]
half_spread_bps = 0.5
size = 10
`, testCacheDir, mm)), 0o644)
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

// A recording of raw channels (what Tardis.dev records) replays into the
// market maker, which subscribes to the 100ms ones: host replay says up
// front what it derives, and a recording nothing of which a plugin wants is
// refused before anything runs, naming what the file holds.
func TestReplayCommandDerivesRawChannels(t *testing.T) {
	mm := buildExample(t, "marketmaker")
	src, err := benchkit.SyntheticRecording(20000)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.rec")
	if err := os.WriteFile(raw, renameChannels(t, src, ".100ms", ".raw"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"replay", "--cache-dir", testCacheDir, "--progress", "on", raw, mm}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if e := stderr.String(); !strings.Contains(e, "scan [==============================] 100%  20000 frames") || !strings.Contains(e, "replay [") {
		t.Errorf("progress bars of the scan and the replay:\n%s", e)
	}
	if !strings.Contains(stderr.String(), "book.BTC-PERPETUAL.100ms is derived from the recorded book.BTC-PERPETUAL.raw") ||
		!strings.Contains(stdout.String(), "derived from 20000 recorded raw notifications") {
		t.Errorf("stderr:\n%s\nstdout:\n%s", stderr.String(), stdout.String())
	}
	eth := filepath.Join(dir, "eth.rec")
	if err := os.WriteFile(eth, renameChannels(t, src, "BTC-PERPETUAL.100ms", "ETH-PERPETUAL.100ms"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"replay", "--cache-dir", testCacheDir, eth, mm}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "holds nothing the plugins subscribe to") ||
		!strings.Contains(err.Error(), "book.ETH-PERPETUAL.100ms (14000)") || !strings.Contains(err.Error(), "book.BTC-PERPETUAL.100ms (marketmaker)") {
		t.Errorf("a recording of another instrument: %v", err)
	}
}

// renameChannels rewrites a recording's channel names (benchkit.RenameChannels).
func renameChannels(t *testing.T, src []byte, from, to string) []byte {
	t.Helper()
	b, err := benchkit.RenameChannels(src, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// host replay --sweep prints one row per combination, the same rows twice;
// --json and --report give the same figures; the sweep's flags are checked.
func TestReplaySweepCommand(t *testing.T) {
	mm := buildExample(t, "marketmaker")
	dir := t.TempDir()
	src := filepath.Join(replayDir, "sim-run.rec")
	args := []string{"replay", "--fill", "sim", "--cache-dir", testCacheDir, "--sweep", "half_spread_bps=0.25,0.5", "--sweep", "marketmaker.size=10,20", "--jobs", "2"}
	table := func(extra ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append(append(slices.Clone(args), extra...), src, mm), &stdout, &stderr); err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		_, rows, _ := strings.Cut(stdout.String(), "\n") // the first line has the time taken
		return rows
	}
	first := table("--report", filepath.Join(dir, "sweep.html"))
	lines := strings.Split(strings.TrimSpace(first), "\n")
	if len(lines) != 5 || !strings.Contains(lines[0], "half_spread_bps") || !strings.Contains(lines[0], "marketmaker.size") || !strings.Contains(lines[0], "MAX DRAWDOWN") {
		t.Fatalf("table:\n%s", first)
	}
	if second := table(); second != first {
		t.Errorf("the same sweep twice:\n%s\n%s", first, second)
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), append(append(slices.Clone(args), "--json"), src, mm), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Params map[string]string
		Fills  uint64
	}
	if err := json.Unmarshal(stdout.Bytes(), &rows); err != nil || len(rows) != 4 || rows[3].Params["half_spread_bps"] != "0.5" || rows[3].Params["marketmaker.size"] != "20" {
		t.Errorf("--json: %v %s", err, stdout.String())
	}
	page, err := os.ReadFile(filepath.Join(dir, "sweep.html"))
	if err != nil || !bytes.Contains(page, []byte("<table>")) || bytes.Count(page, []byte("<tr>")) != 5 || !bytes.Contains(page, []byte("<svg")) {
		t.Errorf("--report: %v %.400s", err, page)
	}
	for _, bad := range [][]string{
		{"replay", "--jobs", "2", src, mm},
		{"replay", "--json", src, mm},
		{"replay", "--sweep", "size=1", "--out", filepath.Join(dir, "o"), src, mm},
		{"replay", "--sweep", "size", src, mm},
		{"replay", "--sweep", "size=1", "--jobs", "-1", src, mm},
	} {
		if err := run(context.Background(), bad, io.Discard, io.Discard); err == nil || !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
}
