package replay

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/internal/benchkit"
	"github.com/stratbox/stratbox/record"
)

// TestOneScanAsTwo: the notifications a replay reads once
// (conn.SplitNotification, then the translator) replay exactly as the same
// notifications laid out so that they go the ordinary way (data before
// channel: ParseNotification, then the translator), with the odd frames of
// either kind among them — data with a member after it, data the translator
// cannot read, data that is not JSON, a book change that skips one — alike
// in both: the same intents and events, the same counts. And so on raw
// channels, which the market maker's are derived from (the deriver reads
// raw books once).
func TestOneScanAsTwo(t *testing.T) {
	t.Run("served", func(t *testing.T) { testOneScanAsTwo(t, false) })
	t.Run("derived", func(t *testing.T) { testOneScanAsTwo(t, true) })
}

// testOneScanAsTwo is TestOneScanAsTwo; with raw, on the frames' raw
// channels, which the market maker's are derived from (WithChannels).
func testOneScanAsTwo(t *testing.T, raw bool) {
	const frames = 3000
	src, err := benchkit.SyntheticRecording(frames)
	if err != nil {
		t.Fatal(err)
	}
	odd := map[int]string{ // frame index → a frame to insert before it
		500:  `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"timestamp":1767225600100,"state":"open","instrument_name":"BTC-PERPETUAL","index_price":61000.5,"mark_price":61000.5},"extra":1}}`,
		900:  `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"timestamp":1767225600100,"mark_price":}}}`,
		1200: `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"timestamp":"}}}`,
		700:  `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"change","timestamp":1767225600100,"instrument_name":"BTC-PERPETUAL","change_id":5,"prev_change_id":4,"bids":[["new",1]],"asks":[]}}}`,
		800:  `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"timestamp":1767225600100,"instrument_name":"BTC-PERPETUAL","change_id":7,"bids":[],"asks":[]}}}`,
		1500: `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.100ms","data":[{"trade_seq":1,"trade_id":"1","timestamp":1767225600100,"tick_direction":0,"price":60001,"mark_price":60000.5,"instrument_name":"BTC-PERPETUAL","index_price":60000.12,"direction":"buy","amount":10}]} }` + "\n",
		2900: `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"change","timestamp":1767225600100,"instrument_name":"BTC-PERPETUAL","change_id":99999999,"prev_change_id":99999998,"bids":[],"asks":[]}}}`,
	}
	if raw {
		if src, err = benchkit.RenameChannels(src, ".100ms", ".raw"); err != nil {
			t.Fatal(err)
		}
		for i, o := range odd {
			odd[i] = strings.Replace(o, `.100ms"`, `.raw"`, 1)
		}
	}
	once := rewrite(t, src, odd, false)
	twice := rewrite(t, src, odd, true)
	var opts []Option
	if raw {
		rd, err := record.Open(bytes.NewReader(once))
		if err != nil {
			t.Fatal(err)
		}
		counts, err := Channels(rd)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, WithChannels(counts))
	}
	wasm := exampleWasm(t, "marketmaker")
	cache, err := compileCache()
	if err != nil {
		t.Fatal(err)
	}
	run := func(file []byte) (*Result, []byte) {
		rd, err := record.Open(bytes.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cfg := Config{Plugins: []Plugin{{Name: "mm", Wasm: wasm, Params: goldenParams["marketmaker"]}}}
		res, err := Run(context.Background(), rd, cfg, append(opts, WithCache(cache), WithOutput(&out))...)
		if err != nil {
			t.Fatal(err)
		}
		return res, out.Bytes()
	}
	a, outA := run(once)
	b, outB := run(twice)
	if !bytes.Equal(outA, outB) {
		t.Errorf("the outputs differ: %d and %d bytes", len(outA), len(outB))
	}
	counts := func(r *Result) string {
		s := r.Stats
		return fmt.Sprintf("frames %d delivered %d other %d unsubscribed %d batched %d feed errors %d sources %d derived %d bad sources %d; engine frames %d events %d malformed %d gaps %d intents %d placed %d calls %d",
			r.Frames, r.Delivered, r.Other, r.Unsubscribed, r.Batched, r.FeedErrors, r.Sources, r.Derived, r.BadSource,
			s.Frames, s.Events, s.Malformed, s.BookGaps, s.Intents, s.Placed, s.Plugins[0].Calls)
	}
	if counts(a) != counts(b) {
		t.Errorf("one scan: %s\ntwo scans: %s", counts(a), counts(b))
	}
	s := a.Stats
	switch {
	case a.Frames != frames+uint64(len(odd)) || a.Other != 1 || len(outA) == 0:
		t.Errorf("the odd frames did not count as they should: %s", counts(a))
	case !raw && (s.Malformed != 3 || s.BookGaps != 1 || a.Delivered != a.Frames-1):
		t.Errorf("the odd frames did not count as they should: %s", counts(a))
	case raw && (a.Sources != a.Frames-1 || a.BadSource != 2 || a.Derived == 0):
		t.Errorf("the odd frames did not count as they should: %s", counts(a))
	}
}

// rewrite copies a recording (ours), inserting the frames of odd, and with
// relay the notifications laid out data first (which SplitNotification
// declines).
func rewrite(t *testing.T, src []byte, odd map[int]string, relay bool) []byte {
	t.Helper()
	rd, err := record.Open(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := record.NewWriter(&buf, record.Header{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		f, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := odd[i]; ok {
			if err := w.Write(record.Frame{Time: f.Time, Conn: 1, Data: []byte(o)}); err != nil {
				t.Fatal(err)
			}
		}
		if relay {
			fr := conn.Classify(f.Data)
			ch, data, err := conn.ParseNotification(f.Data, fr)
			if err != nil {
				t.Fatal(err)
			}
			f.Data = fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"subscription","params":{"data":%s,"channel":%q}}`, data, ch)
		}
		if i == 600 { // a book change with a member after its data
			f.Data = append(bytes.Clone(f.Data[:len(f.Data)-2]), `,"extra":1}}`...)
		}
		if err := w.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
