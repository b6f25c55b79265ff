package replay

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/record"
)

func openBytes(t testing.TB, b []byte) record.Reader {
	t.Helper()
	rd, err := record.Open(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

// A bad Config is refused before anything is read or loaded, with an
// error that names the field.
func TestConfigValidate(t *testing.T) {
	ok := Plugin{Name: "p", Wasm: []byte("\x00asm")}
	bad := -1.0
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no plugins", Config{}, "no plugins"},
		{"fill", Config{Fill: "maybe", Plugins: []Plugin{ok}}, `fill "maybe"`},
		{"speed", Config{Speed: -1, Plugins: []Plugin{ok}}, "speed -1"},
		{"backoff", Config{RestartBackoff: -1, Plugins: []Plugin{ok}}, "restart backoff"},
		{"window", Config{RestartWindow: -1, Plugins: []Plugin{ok}}, "restart window"},
		{"reestablish", Config{MaxReestablish: -1, Plugins: []Plugin{ok}}, "max reestablish"},
		{"risk", Config{Risk: host.RiskLimits{PriceBandBps: bad}, Plugins: []Plugin{ok}}, "risk"},
		{"no name", Config{Plugins: []Plugin{{Wasm: ok.Wasm}}}, "plugin[0]: name is required"},
		{"twice", Config{Plugins: []Plugin{ok, ok}}, `plugin[1]: two plugins are named "p"`},
		{"no module", Config{Plugins: []Plugin{{Name: "p"}}}, `plugin[0] "p": neither wasm nor path`},
		{"memory", Config{Plugins: []Plugin{{Name: "p", Wasm: ok.Wasm, MemoryLimitPages: 65537}}}, "memory limit 65537"},
		{"timer", Config{Plugins: []Plugin{{Name: "p", Wasm: ok.Wasm, TimerMin: -1}}}, "timer min"},
		{"plugin risk", Config{Plugins: []Plugin{{Name: "p", Wasm: ok.Wasm, Risk: &host.RiskLimits{PriceBandBps: bad}}}}, `plugin[0] "p": risk`},
		{"params", Config{Plugins: []Plugin{{Name: "p", Wasm: ok.Wasm, Params: []abi.Param{{Type: abi.ParamString, Key: ""}}}}}, `plugin[0] "p": params`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "replay: ") {
				t.Fatalf("Validate: %v, want an error with %q", err, c.want)
			}
			// Run refuses it the same way, before it reads a frame.
			rd := &countingRecord{}
			if _, err2 := Run(context.Background(), rd, c.cfg); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("Run: %v, want %v", err2, err)
			}
			if rd.next != 0 {
				t.Fatalf("Run read %d frames of a replay it refused", rd.next)
			}
		})
	}
	if err := (Config{Plugins: []Plugin{ok}, Fill: FillSim, Speed: 2}).Validate(); err != nil {
		t.Fatalf("a good config: %v", err)
	}
}

// countingRecord is a recording that counts the frames asked of it and has
// none.
type countingRecord struct{ next int }

func (c *countingRecord) Next() (record.Frame, error) {
	c.next++
	return record.Frame{}, errors.New("no frames here")
}
func (c *countingRecord) Format() record.Format { return record.FormatNative }
func (c *countingRecord) Stats() record.Stats   { return record.Stats{} }

// A plugin that is not there, or not a plugin, is named in the error.
func TestUnknownPlugin(t *testing.T) {
	rec := filepath.Join(replayDir, "sim-market.rec")
	missing := filepath.Join(t.TempDir(), "nope.wasm")
	for _, c := range []struct {
		name string
		p    Plugin
		want []string
	}{
		{"missing file", Plugin{Name: "ghost", Path: missing}, []string{`plugin[1] "ghost"`, "nope.wasm", "no such file"}},
		{"not wasm", Plugin{Name: "junk", Wasm: []byte("#!/bin/sh\necho hi\n")}, []string{`plugin[1] "junk"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{Plugins: []Plugin{{Name: "mm", Wasm: exampleWasm(t, "marketmaker")}, c.p}}
			_, err := Run(context.Background(), readRecording(t, rec), cfg)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("%v: want %q in it", err, w)
				}
			}
			if c.p.Path != "" && !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%v does not wrap os.ErrNotExist", err)
			}
		})
	}
}

// A corrupt recording is an error that wraps record.ErrCorrupt; one that
// ends inside a block is replayed up to there and reported; an empty one
// is ErrNoFrames.
func TestBadRecordings(t *testing.T) {
	full, err := os.ReadFile(filepath.Join(replayDir, "sim-run.rec"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Plugins: []Plugin{{Name: "mm", Wasm: exampleWasm(t, "marketmaker"), Params: goldenParams["marketmaker"]}}}
	cache, err := compileCache()
	if err != nil {
		t.Fatal(err)
	}

	bad := bytes.Clone(full)
	bad[len(bad)/2] ^= 0xff
	if _, err := Run(context.Background(), openBytes(t, bad), cfg, WithCache(cache)); !errors.Is(err, record.ErrCorrupt) {
		t.Fatalf("corrupt: %v, want record.ErrCorrupt", err)
	}

	res, err := Run(context.Background(), openBytes(t, full[:len(full)*2/3]), cfg, WithCache(cache))
	if err != nil {
		t.Fatalf("truncated: %v", err)
	}
	if !errors.Is(res.Truncated, record.ErrTruncated) || res.Delivered == 0 {
		t.Fatalf("truncated: Truncated %v, %d delivered", res.Truncated, res.Delivered)
	}

	var empty bytes.Buffer
	w, err := record.NewWriter(&empty, record.Header{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), openBytes(t, empty.Bytes()), cfg, WithCache(cache)); !errors.Is(err, ErrNoFrames) {
		t.Fatalf("empty: %v, want ErrNoFrames", err)
	}
}

// The output writer's error comes back from Run; the report of a Run
// without WithReport is ErrNoReport; progress is called with the frames
// read.
func TestSinks(t *testing.T) {
	file := filepath.Join(replayDir, "sim-market.rec")
	cfg := Config{Fill: FillSim, Plugins: []Plugin{{Name: "mm", Wasm: exampleWasm(t, "marketmaker"), Params: goldenParams["marketmaker"]}}}
	cache, err := compileCache()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), readRecording(t, file), cfg, WithCache(cache), WithOutput(failWriter{}))
	if err == nil || !strings.Contains(err.Error(), "replay: output") || !errors.Is(err, errDiskFull) {
		t.Fatalf("a failing output: %v", err)
	}

	var calls []uint64
	res, err := Run(context.Background(), readRecording(t, file), cfg, WithCache(cache),
		WithProgress(func(n uint64) { calls = append(calls, n) }))
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) == 0 || calls[len(calls)-1] != res.Frames {
		t.Fatalf("progress %v, want it to end at %d frames", calls, res.Frames)
	}
	if err := res.WriteReport(&bytes.Buffer{}, "x"); !errors.Is(err, ErrNoReport) {
		t.Fatalf("WriteReport without WithReport: %v", err)
	}

	_, res = replayBytes(t, file, true, "marketmaker")
	var page bytes.Buffer
	if err := res.WriteReport(&page, "sim-market.rec"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h1>Replay of sim-market.rec</h1>", "<h2>marketmaker</h2>", "<svg"} {
		if !strings.Contains(page.String(), want) {
			t.Fatalf("report lacks %q: %.400s", want, page.String())
		}
	}
}

var errDiskFull = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }
