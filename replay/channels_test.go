package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	raw, err := benchkit.RenameChannels(src, ".100ms", ".raw")
	if err != nil {
		t.Fatal(err)
	}
	return raw
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

// marketAt is a recording of a BTC-PERPETUAL trading around mid (a book
// and trades, and tickers when ticker is true): another market than the
// simulator's own.
func marketAt(t *testing.T, mid int, ticker bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := record.NewWriter(&buf, record.Header{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ns := int64(1_767_225_600_000_000_000)
	write := func(format string, args ...any) {
		ns += 20e6
		if err := w.Write(record.Frame{Time: ns, Conn: 1, Data: fmt.Appendf(nil, format, args...)}); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"snapshot","timestamp":%d,"instrument_name":"BTC-PERPETUAL","change_id":1,"bids":[["new",%d.5,500],["new",%d,800]],"asks":[["new",%d.5,500],["new",%d,800]]}}}`,
		ns/1e6, mid-1, mid-2, mid, mid+1)
	for i := 2; i < 400; i++ {
		ms := ns / 1e6
		switch i % 4 {
		case 0:
			write(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"change","timestamp":%d,"instrument_name":"BTC-PERPETUAL","change_id":%d,"prev_change_id":%d,"bids":[["change",%d.5,%d]],"asks":[["change",%d.5,%d]]}}}`,
				ms, i, max(i-4, 1), mid-1, 500+i, mid, 500+i)
		case 1:
			if ticker {
				write(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"timestamp":%d,"instrument_name":"BTC-PERPETUAL","index_price":%d.1,"mark_price":%d.2,"best_bid_price":%d.5,"best_bid_amount":500,"best_ask_price":%d.5,"best_ask_amount":500}}}`,
					ms, mid-3, mid, mid-1, mid)
			}
		default:
			side := "buy"
			if i%2 == 1 {
				side = "sell"
			}
			write(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.100ms","data":[{"trade_seq":%d,"trade_id":"%d","timestamp":%d,"price":%d.5,"instrument_name":"BTC-PERPETUAL","direction":"%s","amount":10}]}}`,
				i, i, ms, mid-1+i%2, side)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The backtest exchange prices from the recording: on a market far from
// the simulator's own (with or without recorded tickers, with or without
// fills), the market maker's quotes are never refused for their price.
func TestRecordedPriceLimits(t *testing.T) {
	cache, err := compileCache()
	if err != nil {
		t.Fatal(err)
	}
	for _, mid := range []int{1200, 50000} {
		for _, ticker := range []bool{false, true} {
			for _, fill := range []Fill{FillNone, FillSim} {
				cfg := Config{Fill: fill, Plugins: []Plugin{{Name: "marketmaker", Wasm: exampleWasm(t, "marketmaker"), Params: goldenParams["marketmaker"]}}}
				res, err := Run(context.Background(), openBytes(t, marketAt(t, mid, ticker)), cfg, WithCache(cache))
				if err != nil {
					t.Fatal(err)
				}
				s := res.Stats
				if s.Placed == 0 || s.Rejected != 0 {
					t.Errorf("market at %d (ticker %v, fill %s): %d placed, %d rejected by the exchange", mid, ticker, fill, s.Placed, s.Rejected)
				}
			}
		}
	}
}
