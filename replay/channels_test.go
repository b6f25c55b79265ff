package replay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/internal/benchkit"
	"github.com/stratbox/stratbox/record"
)

// rawRecording is benchkit's synthetic session with its channels renamed
// from 100ms to raw: what Tardis.dev records.
func rawRecording(t *testing.T, n int) []byte {
	t.Helper()
	src, err := benchkit.SyntheticRecording(n)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := record.Open(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := record.NewWriter(&buf, record.Header{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		f.Data = bytes.Replace(f.Data, []byte(`.100ms","data"`), []byte(`.raw","data"`), 1)
		if err := w.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPlanChannels(t *testing.T) {
	have := map[string]uint64{"book.BTC-PERPETUAL.raw": 70, "trades.BTC-PERPETUAL.raw": 10, "ticker.BTC-PERPETUAL.100ms": 20}
	cfg := Config{Plugins: []Plugin{
		{Name: "mm"}, // the default channels of BTC-PERPETUAL
		{Name: "eth", Instruments: []string{"ETH-PERPETUAL"}, Channels: []string{"book.{instrument}.100ms", "trades.{instrument}.raw"}},
		{Name: "top", Channels: []string{"book.{instrument}.none.1.100ms", "ticker.{instrument}.100ms"}},
	}}
	p := PlanChannels(cfg, have)
	if got := strings.Join(p.Served, " "); got != "ticker.BTC-PERPETUAL.100ms" {
		t.Errorf("served %q", got)
	}
	if len(p.Derived) != 3 || p.Derived["book.BTC-PERPETUAL.100ms"] != "book.BTC-PERPETUAL.raw" ||
		p.Derived["book.BTC-PERPETUAL.none.1.100ms"] != "book.BTC-PERPETUAL.raw" || p.Derived["trades.BTC-PERPETUAL.100ms"] != "trades.BTC-PERPETUAL.raw" {
		t.Errorf("derived %v", p.Derived)
	}
	if got := p.MissingText(); got != "book.ETH-PERPETUAL.100ms (eth), trades.ETH-PERPETUAL.raw (eth)" {
		t.Errorf("missing %q", got)
	}
	if err := p.Check(have); err != nil {
		t.Errorf("Check: %v", err)
	}
	only := Config{Plugins: []Plugin{{Name: "eth", Instruments: []string{"ETH-PERPETUAL"}}}}
	err := PlanChannels(only, have).Check(have)
	if !errors.Is(err, ErrNothingToReplay) || !strings.Contains(err.Error(), "book.BTC-PERPETUAL.raw (70), ticker.BTC-PERPETUAL.100ms (20), trades.BTC-PERPETUAL.raw (10)") ||
		!strings.Contains(err.Error(), "book.ETH-PERPETUAL.100ms (eth)") {
		t.Errorf("nothing to replay: %v", err)
	}
	if err := PlanChannels(only, nil).Check(nil); err == nil || !strings.Contains(err.Error(), "no notification at all") {
		t.Errorf("an empty recording: %v", err)
	}
}

// A recording of raw channels feeds the market maker, which subscribes to
// the 100ms ones, once Run knows the recording's channels: the 100ms
// channels are derived, and the replay is as deterministic as any. Without
// them nothing reaches the plugin.
func TestReplayDerivesFromRaw(t *testing.T) {
	raw := rawRecording(t, 30000)
	counts, err := Channels(openBytes(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	if counts["book.BTC-PERPETUAL.raw"] == 0 || counts["book.BTC-PERPETUAL.100ms"] != 0 {
		t.Fatalf("channels %v", counts)
	}
	cache, err := compileCache()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Plugins: []Plugin{{Name: "marketmaker", Wasm: exampleWasm(t, "marketmaker"), Params: goldenParams["marketmaker"]}}}
	run := func(opts ...Option) (*Result, string) {
		var out bytes.Buffer
		res, err := Run(context.Background(), openBytes(t, raw), cfg, append(opts, WithCache(cache), WithOutput(&out))...)
		if err != nil {
			t.Fatal(err)
		}
		return res, out.String()
	}
	plain, _ := run()
	if plain.Delivered != 0 || plain.Unsubscribed == 0 {
		t.Errorf("without the channels: %d delivered, %d unsubscribed", plain.Delivered, plain.Unsubscribed)
	}
	res, out := run(WithChannels(counts))
	if res.Derived == 0 || res.Delivered != res.Derived || res.Sources == 0 || res.Unsubscribed != 0 || res.BadSource != 0 {
		t.Errorf("derived %d, delivered %d, sources %d, unsubscribed %d, bad %d", res.Derived, res.Delivered, res.Sources, res.Unsubscribed, res.BadSource)
	}
	// ~3 s of recorded time: one message per channel and 100 ms at most.
	if res.Derived > 3*31 {
		t.Errorf("%d derived messages for ~3 s of three channels", res.Derived)
	}
	if res.Stats.Intents == 0 || res.Stats.Placed == 0 {
		t.Errorf("the market maker did nothing on the derived channels: %+v", res.Stats)
	}
	if _, again := run(WithChannels(counts)); again != out {
		t.Error("two replays of the same raw recording differ")
	}
}
