package replay

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/internal/benchkit"
	"github.com/stratbox/stratbox/record"
)

// formatRecordings is the synthetic recording of BenchmarkReplay in each
// format Run reads: ours, Tardis.dev lines (microsecond stamps) and JSON
// Lines ({"ts":…,"frame":…}, nanosecond stamps), the same frames at the
// same times.
func formatRecordings(tb testing.TB, native []byte) map[string][]byte {
	rd, err := record.Open(bytes.NewReader(native))
	if err != nil {
		tb.Fatal(err)
	}
	var tardis, jsonl bytes.Buffer
	for {
		f, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		tardis.WriteString(time.Unix(0, f.Time).UTC().Format("2006-01-02T15:04:05.000000Z") + " ")
		tardis.Write(f.Data)
		tardis.WriteByte('\n')
		jsonl.WriteString(`{"ts":` + strconv.FormatInt(f.Time, 10) + `,"dir":"in","conn":1,"frame":`)
		jsonl.Write(f.Data)
		jsonl.WriteString("}\n")
	}
	return map[string][]byte{"native": native, "tardis": tardis.Bytes(), "jsonl": jsonl.Bytes()}
}

// BenchmarkReplayFormats is BenchmarkReplay from each format (the same
// frames at the same times), and from our format with the frames on raw
// channels (what Tardis.dev records), in each format too, which the market
// maker's 100ms subscriptions are then derived from as `host replay` does
// (WithChannels; fewer frames reach the plugin, one per channel and 100 ms
// window):
//
//	go test -run '^$' -bench BenchmarkReplayFormats -cpu 1 ./replay
func BenchmarkReplayFormats(b *testing.B) {
	const frames = 300_000
	files := formatRecordings(b, syntheticRecording(b, frames))
	raw, err := benchkit.RenameChannels(files["native"], ".100ms", ".raw")
	if err != nil {
		b.Fatal(err)
	}
	files["native_raw"] = raw
	rawFiles := formatRecordings(b, raw)
	files["tardis_raw"], files["jsonl_raw"] = rawFiles["tardis"], rawFiles["jsonl"]
	rd, err := record.Open(bytes.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}
	rawChannels, err := Channels(rd)
	if err != nil {
		b.Fatal(err)
	}
	wasm := exampleWasm(b, "marketmaker")
	cache, err := compileCache()
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{Plugins: []Plugin{{Name: "mm", Wasm: wasm, Params: goldenParams["marketmaker"]}}}
	for _, format := range []string{"native", "tardis", "jsonl", "native_raw", "tardis_raw", "jsonl_raw"} {
		file := files[format]
		b.Run(format, func(b *testing.B) {
			run := func() *Result {
				rd, err := record.Open(bytes.NewReader(file))
				if err != nil {
					b.Fatal(err)
				}
				opts := []Option{WithCache(cache)}
				if strings.HasSuffix(format, "_raw") {
					opts = append(opts, WithChannels(rawChannels))
				}
				res, err := Run(context.Background(), rd, cfg, opts...)
				if err != nil {
					b.Fatal(err)
				}
				if res.Frames != frames || (res.Delivered != frames && res.Derived == 0) {
					b.Fatalf("%d of %d frames read, %d delivered", res.Frames, frames, res.Delivered)
				}
				return res
			}
			measureReplays(b, run)
		})
	}
}

// callTap keeps what the market maker got in a replay: its start-up blob
// and every batch of events, with the time of each call.
type callTap struct {
	startup []byte
	batches [][]byte
	times   []time.Time
}

func (t *callTap) Events(_ string, now time.Time, batch []byte) {
	if t.startup == nil {
		t.startup = bytes.Clone(batch)
		return
	}
	t.batches = append(t.batches, bytes.Clone(batch))
	t.times = append(t.times, now)
}

func (t *callTap) Intents(string, time.Time, []byte) {}

// BenchmarkReplayFloor is the floor under BenchmarkReplay: the market
// maker's stratbox_on_events calls of a replay of the same recording,
// made again one after the other on a fresh instance with the very batches
// (events, timers, seqs) and times the plugin got, and nothing else — no
// reading, parsing, routing or order manager. frames/s is the recording's
// frames over that time: what a replay could reach if everything but the
// plugin cost nothing.
//
//	go test -run '^$' -bench BenchmarkReplayFloor -cpu 1 ./replay
func BenchmarkReplayFloor(b *testing.B) {
	const frames = 300_000
	file, wasm, cache := marketMakerBench(b, frames)
	pc := Plugin{Name: "mm", Wasm: wasm, Params: goldenParams["marketmaker"]}
	rd, err := record.Open(bytes.NewReader(file))
	if err != nil {
		b.Fatal(err)
	}
	tap := &callTap{}
	res, err := Run(context.Background(), rd, Config{Plugins: []Plugin{pc}}, WithCache(cache), func(o *options) { o.tap = tap })
	if err != nil {
		b.Fatal(err)
	}
	if res.Delivered != frames || len(tap.batches) == 0 {
		b.Fatalf("%d of %d frames delivered, %d calls", res.Delivered, frames, len(tap.batches))
	}
	ctx := context.Background()
	clk := clock.NewFake(res.Start)
	p, err := sandbox.Load(ctx, pc.Name, wasm, sandbox.PluginConfig{CallBudget: -1, Seed: pc.Seed, TimerMin: pc.TimerMin},
		sandbox.WithClock(clk), sandbox.WithCache(cache))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	var calls int
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		clk.Set(res.Start)
		in, _, err := p.Start(ctx, tap.startup)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu0 := processCPU()
		for i, batch := range tap.batches {
			clk.Set(tap.times[i])
			if _, err := in.Deliver(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		cpu += processCPU() - cpu0
		calls += len(tap.batches)
		b.StopTimer()
		in.Close(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*frames)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(calls), "ns/call")
	b.ReportMetric(float64(calls)/float64(b.N), "calls/replay")
	b.ReportMetric(float64(cpu)/float64(b.N*frames), "cpu-ns/frame")
}

// processCPU is the CPU time of this process so far (user and system):
// per frame, a figure that the other work on a shared machine moves less
// than the wall-clock rate.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
