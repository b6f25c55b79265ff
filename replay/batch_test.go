package replay

import (
	"bytes"
	"context"
	"testing"

	"github.com/stratbox/stratbox/internal/benchkit"
	"github.com/stratbox/stratbox/record"
)

// TestFramesSharingATimeShareACall: frames with the same recorded time
// reach the plugin in one call (at most maxBatch of them), every frame is
// still delivered, the replay is deterministic, and Config.PerFrame gives
// each frame a call of its own.
func TestFramesSharingATimeShareACall(t *testing.T) {
	cache, err := compileCache()
	if err != nil {
		t.Fatal(err)
	}
	wasm := exampleWasm(t, "marketmaker")
	run := func(file []byte, perFrame bool) (*Result, []byte) {
		t.Helper()
		rd, err := record.Open(bytes.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cfg := Config{PerFrame: perFrame, Plugins: []Plugin{{Name: "mm", Wasm: wasm, Params: goldenParams["marketmaker"]}}}
		res, err := Run(context.Background(), rd, cfg, WithCache(cache), WithOutput(&out))
		if err != nil {
			t.Fatal(err)
		}
		return res, out.Bytes()
	}
	cases := []struct {
		frames, perStamp int
		batched          uint64 // frames that shared a call with an earlier one
	}{
		{1000, 1, 0},
		{1000, 4, 1000 - 250},
		{300, 100, 300 - 6}, // each stamp's 100 frames in calls of 64 and 36
	}
	for _, c := range cases {
		file, err := benchkit.SyntheticRecordingStamped(c.frames, c.perStamp)
		if err != nil {
			t.Fatal(err)
		}
		res, out := run(file, false)
		if res.Delivered != uint64(c.frames) || res.Batched != c.batched {
			t.Errorf("%d frames, %d a stamp: delivered %d, batched %d; want %d, %d",
				c.frames, c.perStamp, res.Delivered, res.Batched, c.frames, c.batched)
		}
		again, out2 := run(file, false)
		if !bytes.Equal(out, out2) || again.Batched != res.Batched || again.Stats.Plugins[0].Calls != res.Stats.Plugins[0].Calls {
			t.Errorf("%d a stamp: two replays of one file differ", c.perStamp)
		}
		single, _ := run(file, true)
		if single.Delivered != uint64(c.frames) || single.Batched != 0 {
			t.Errorf("%d a stamp, per frame: delivered %d, batched %d; want %d, 0", c.perStamp, single.Delivered, single.Batched, c.frames)
		}
		calls, perFrameCalls := res.Stats.Plugins[0].Calls, single.Stats.Plugins[0].Calls
		switch {
		case c.perStamp == 1 && calls != perFrameCalls:
			t.Errorf("one frame a stamp: %d calls batched, %d per frame; want equal", calls, perFrameCalls)
		case c.perStamp > 1 && calls >= perFrameCalls:
			t.Errorf("%d a stamp: %d calls batched, %d per frame; want fewer", c.perStamp, calls, perFrameCalls)
		}
	}
}
