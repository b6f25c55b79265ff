package hostbench

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/internal/benchkit"
	"github.com/stratbox/stratbox/record"
	"github.com/stratbox/stratbox/replay"
)

// replayTarget is replay's target (BENCHMARKS.md "Targets"): ≥ 500,000
// frames/s.
const replayTarget = 500_000

// replay measures the throughput of `host replay` (package replay) over a
// synthetic recording, in frames per second: every frame read and
// decompressed, parsed, translated, routed and delivered to the plugin in
// lock step, its intents carried out against the in-process exchange. Each
// repetition is a whole replay, set-up included (as BenchmarkReplay).
func (r *runner) replay(ctx context.Context) error {
	frames := r.count(300_000)
	file, err := benchkit.SyntheticRecording(frames)
	if err != nil {
		return err
	}
	type subject struct {
		key, title string
		wasm       []byte
		params     []abi.Param
	}
	subjects := []subject{
		{"noop", "no-op WAT plugin", NoopWasm, nil},
		{"quoter", "quoter wasm", QuoterWasm(), quoterParams()},
	}
	if r.opt.Plugin != nil {
		subjects = append(subjects, subject{"plugin", r.opt.PluginName, r.opt.Plugin, r.opt.PluginParams})
	}
	vals := map[string][]float64{}
	for rep := -1; rep < r.reps; rep++ { // rep -1: the warm-up (compiles into the cache)
		for _, s := range subjects {
			t0 := time.Now()
			n, err := r.replayOnce(ctx, file, s.wasm, s.key, s.params)
			el := time.Since(t0)
			if err != nil {
				return fmt.Errorf("%s: %w", s.title, err)
			}
			if n != uint64(frames) {
				return fmt.Errorf("%s: %d of %d frames replayed", s.title, n, frames)
			}
			if rep >= 0 {
				vals[s.key] = append(vals[s.key], float64(n)/el.Seconds())
			}
		}
	}
	for _, s := range subjects {
		k := "replay." + s.key + ".frames_per_s"
		f := r.res.add(k, fmt.Sprintf("replay throughput, %s (%d frames)", s.title, frames), "frames/s", vals[s.key])
		if s.key != "noop" {
			f.atLeast(replayTarget, "≥ 500,000 frames/s")
		}
		r.progress("%-40s %10.0f frames/s", k, f.Median)
	}
	return nil
}

// replayOnce replays recording (our record format) through plugin wasm
// (named name, with params, on BTC-PERPETUAL's default channels) as `host
// replay` does, and returns the frames it read.
func (r *runner) replayOnce(ctx context.Context, recording, wasm []byte, name string, params []abi.Param) (uint64, error) {
	// No intent-rate limits: the recorded clock runs 2,000 tickers a second
	// into strategies that amend on each, and the figure is throughput.
	cfg := replay.Config{Plugins: []replay.Plugin{{Name: name, Wasm: wasm, Params: params}},
		Risk: host.RiskLimits{IntentsPerSecond: -1, FloodLimit: 1 << 30}}
	rd, err := record.Open(bytes.NewReader(recording))
	if err != nil {
		return 0, err
	}
	res, err := replay.Run(ctx, rd, cfg, replay.WithCache(r.cache), replay.WithLogger(r.log))
	if err != nil {
		return 0, err
	}
	if f := res.Stats.Plugins; len(f) > 0 && f[0].Faults > 0 {
		return 0, fmt.Errorf("the plugin faulted during the replay: %v", f[0].LastFault)
	}
	return res.Frames, nil
}
