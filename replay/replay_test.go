package replay

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/internal/testplugins"
	"github.com/stratbox/stratbox/record"
)

var update = flag.Bool("update", false, "rewrite the golden outputs of testdata/replay (new recordings: go test ./cmd/host -run TestGenerateReplayRecordings -replay.generate)")

const replayDir = "../testdata/replay"

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
func replayBytes(t testing.TB, file string, fill bool, strategies ...string) ([]byte, *Result) {
	t.Helper()
	rd := readRecording(t, file)
	var out bytes.Buffer
	cache, err := compileCache()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Fill: FillNone}
	if fill {
		cfg.Fill = FillSim
	}
	for _, s := range strategies {
		cfg.Plugins = append(cfg.Plugins, Plugin{Name: s, Wasm: exampleWasm(t, s), Params: goldenParams[s]})
	}
	res, err := Run(context.Background(), rd, cfg, WithOutput(&out), WithCache(cache), WithReport())
	if err != nil {
		t.Fatalf("replay %s: %v", file, err)
	}
	return out.Bytes(), res
}

// goldenParams make the example strategies trade within a few seconds of
// the simulator's quiet market (in key order, as host.toml's tables reach
// a plugin).
var goldenParams = map[string][]abi.Param{
	"marketmaker": {
		{Type: abi.ParamFloat, Key: "half_spread_bps", Float: 0.5},
		{Type: abi.ParamInt, Key: "size", Int: 10},
	},
	"taker": {
		{Type: abi.ParamString, Key: "cooldown", Text: "500ms"},
		{Type: abi.ParamInt, Key: "min_volume", Int: 20},
		{Type: abi.ParamInt, Key: "size", Int: 10},
		{Type: abi.ParamFloat, Key: "threshold", Float: 0.55},
		{Type: abi.ParamString, Key: "window", Text: "2s"},
	},
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
