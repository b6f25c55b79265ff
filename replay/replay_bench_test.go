package replay

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/internal/benchkit"
	"github.com/stratbox/stratbox/record"
)

// syntheticRecording is n frames of a busy BTC-PERPETUAL: a book snapshot,
// then book changes (70 %), tickers (20 %) and trades (10 %), 100 µs
// apart, in the native format (the feed of `host bench`'s replay figures).
func syntheticRecording(tb testing.TB, n int) []byte {
	b, err := benchkit.SyntheticRecording(n)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// marketMakerBench is the set-up of the benchmarks that replay a synthetic
// recording of frames into the example market maker: the recording, the
// module and the shared compilation cache.
func marketMakerBench(b *testing.B, frames int) (file, wasm []byte, cache *sandbox.Cache) {
	b.Helper()
	file = syntheticRecording(b, frames)
	wasm = exampleWasm(b, "marketmaker")
	cache, err := compileCache()
	if err != nil {
		b.Fatal(err)
	}
	return file, wasm, cache
}

// BenchmarkReplay is the replay's throughput into the example market maker
// (no fills): frames read, decompressed, parsed, translated, routed to the
// plugin's inbox and delivered to it in lock step, its intents carried out
// by the order manager against the in-process exchange. Run on one core:
//
//	go test -run '^$' -bench BenchmarkReplay -cpu 1 ./replay
func BenchmarkReplay(b *testing.B) {
	const frames = 300_000
	file, wasm, cache := marketMakerBench(b, frames)
	cfg := Config{Plugins: []Plugin{{Name: "mm", Wasm: wasm, Params: goldenParams["marketmaker"]}}}
	run := func() *Result {
		rd, err := record.Open(bytes.NewReader(file))
		if err != nil {
			b.Fatal(err)
		}
		res, err := Run(context.Background(), rd, cfg, WithCache(cache))
		if err != nil {
			b.Fatal(err)
		}
		if res.Delivered != frames {
			b.Fatalf("%d of %d frames delivered", res.Delivered, frames)
		}
		return res
	}
	b.SetBytes(int64(len(file)))
	measureReplays(b, run)
}

// measureReplays runs one replay (it compiles the plugin into the cache:
// the loop measures replays, not the compiler), then replays in b's loop
// and reports frames/s and the process's CPU time a frame.
func measureReplays(b *testing.B, run func() *Result) {
	run()
	var total uint64
	cpu0 := processCPU()
	for b.Loop() {
		total += run().Frames
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(processCPU()-cpu0)/float64(total), "cpu-ns/frame")
}

// BenchmarkReplayShared is BenchmarkReplay on recordings whose frames share
// their recorded time in groups (per_stamp frames each, as in files with
// coarse stamps), replayed by default (frames of one time in one call) and
// with Config.PerFrame (one call per frame), side by side:
//
//	go test -run '^$' -bench BenchmarkReplayShared -cpu 1 ./replay
func BenchmarkReplayShared(b *testing.B) {
	const frames = 300_000
	wasm := exampleWasm(b, "marketmaker")
	cache, err := compileCache()
	if err != nil {
		b.Fatal(err)
	}
	for _, per := range []int{2, 4, 8} {
		file, err := benchkit.SyntheticRecordingStamped(frames, per)
		if err != nil {
			b.Fatal(err)
		}
		for _, perFrame := range []bool{false, true} {
			name := fmt.Sprintf("per_stamp=%d/batched", per)
			if perFrame {
				name = fmt.Sprintf("per_stamp=%d/per_frame", per)
			}
			b.Run(name, func(b *testing.B) {
				cfg := Config{PerFrame: perFrame, Plugins: []Plugin{{Name: "mm", Wasm: wasm, Params: goldenParams["marketmaker"]}}}
				run := func() *Result {
					rd, err := record.Open(bytes.NewReader(file))
					if err != nil {
						b.Fatal(err)
					}
					res, err := Run(context.Background(), rd, cfg, WithCache(cache))
					if err != nil {
						b.Fatal(err)
					}
					if res.Delivered != frames {
						b.Fatalf("%d of %d frames delivered", res.Delivered, frames)
					}
					return res
				}
				measureReplays(b, run)
			})
		}
	}
}
