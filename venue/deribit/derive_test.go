package deribit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/conn"
)

func TestDerivedFrom(t *testing.T) {
	files := map[string][]string{
		"raw":     {"book.BTC-PERPETUAL.raw", "trades.BTC-PERPETUAL.raw", "ticker.BTC-PERPETUAL.raw"},
		"100ms":   {"book.BTC-PERPETUAL.100ms"},
		"grouped": {"book.BTC-PERPETUAL.none.10.100ms"},
	}
	for _, c := range []struct {
		file, want, from string
	}{
		{"raw", "book.BTC-PERPETUAL.raw", "book.BTC-PERPETUAL.raw"},
		{"raw", "book.BTC-PERPETUAL.100ms", "book.BTC-PERPETUAL.raw"},
		{"raw", "book.BTC-PERPETUAL.agg2", "book.BTC-PERPETUAL.raw"},
		{"raw", "book.BTC-PERPETUAL.none.20.100ms", "book.BTC-PERPETUAL.raw"},
		{"100ms", "book.BTC-PERPETUAL.none.1.100ms", "book.BTC-PERPETUAL.100ms"},
		{"raw", "trades.BTC-PERPETUAL.100ms", "trades.BTC-PERPETUAL.raw"},
		{"raw", "ticker.BTC-PERPETUAL.100ms", "ticker.BTC-PERPETUAL.raw"},
		{"raw", "book.ETH-PERPETUAL.100ms", ""},           // another instrument
		{"raw", "book.BTC-PERPETUAL.5.10.100ms", ""},      // grouped prices
		{"raw", "book.BTC-PERPETUAL.none.7.100ms", ""},    // no such depth
		{"100ms", "book.BTC-PERPETUAL.raw", ""},           // raw from aggregated: no
		{"grouped", "book.BTC-PERPETUAL.100ms", ""},       // changes from snapshots: no
		{"raw", "trades.future.BTC.100ms", ""},            // by kind: not derived
		{"raw", "deribit_price_index.btc_usd", ""},        // not aggregated
		{"raw", "user.orders.BTC-PERPETUAL.100ms", ""},    // private
		{"raw", "quote.BTC-PERPETUAL", ""},                // no interval
		{"raw", "book.BTC-PERPETUAL.none.10.raw", ""},     // grouped raw does not exist
		{"raw", "chart.trades.BTC-PERPETUAL.1.100ms", ""}, // unknown
	} {
		have := func(ch string) bool { return strings.Contains(strings.Join(files[c.file], " ")+" ", ch+" ") }
		from, ok := DerivedFrom(c.want, have)
		if ok != (c.from != "") || from != c.from {
			t.Errorf("%s from a %s file: %q, %v; want %q", c.want, c.file, from, ok, c.from)
		}
	}
	d := NewDeriver()
	if err := d.Add("book.BTC-PERPETUAL.100ms", "book.BTC-PERPETUAL.agg2"); !errors.Is(err, ErrNotDerivable) {
		t.Errorf("Add from the wrong source: %v", err)
	}
}

// emitted is a derived message as a client decodes it.
type emitted struct {
	t       int64
	channel string
	data    json.RawMessage
}

func collect(out *[]emitted) func(int64, []byte) {
	return func(t int64, frame []byte) {
		ch, data, err := conn.ParseNotification(frame, conn.Classify(frame))
		if err != nil {
			panic(fmt.Sprintf("derived frame %s: %v", frame, err))
		}
		*out = append(*out, emitted{t, string(ch), append(json.RawMessage(nil), data...)})
	}
}

// model is a client's book, applying messages as the engine does.
type model struct {
	side     [2]map[float64]float64
	changeID int64
}

func (m *model) apply(t *testing.T, data []byte) {
	t.Helper()
	var b Book
	if err := DecodeBook(data, &b); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	switch b.Type {
	case BookSnapshot:
		m.side = [2]map[float64]float64{{}, {}}
	case BookChange:
		if m.side[0] == nil || b.PrevChangeID != m.changeID {
			t.Fatalf("change %d follows %d (prev_change_id %d): a gap in the derived stream", b.ChangeID, m.changeID, b.PrevChangeID)
		}
	}
	m.changeID = b.ChangeID
	for s, levels := range [2][]Level{b.Bids, b.Asks} {
		for i, l := range levels {
			if i > 0 && ((s == 0 && l.Price >= levels[i-1].Price) || (s == 1 && l.Price <= levels[i-1].Price)) {
				t.Errorf("levels out of order in %s", data)
			}
			_, in := m.side[s][l.Price]
			switch {
			case l.Action == ActionDelete:
				if !in {
					t.Errorf("delete of %v, which the client does not have: %s", l.Price, data)
				}
				delete(m.side[s], l.Price)
			case l.Action == ActionNew && in && b.Type == BookChange:
				t.Errorf("new %v, which the client has: %s", l.Price, data)
				m.side[s][l.Price] = l.Amount
			case l.Action == ActionChange && !in:
				t.Errorf("change of %v, which the client does not have: %s", l.Price, data)
				m.side[s][l.Price] = l.Amount
			default:
				m.side[s][l.Price] = l.Amount
			}
		}
	}
}

func rawBookFrame(typ string, ts, id, prev int64, bids, asks [][3]any) (channel string, data []byte) {
	if bids == nil {
		bids = [][3]any{}
	}
	if asks == nil {
		asks = [][3]any{}
	}
	m := map[string]any{"type": typ, "timestamp": ts, "instrument_name": "BTC-PERPETUAL", "change_id": id,
		"bids": bids, "asks": asks}
	if typ == "change" {
		m["prev_change_id"] = prev
	}
	b, _ := json.Marshal(m)
	return "book.BTC-PERPETUAL.raw", b
}

// A book.X.100ms derived from book.X.raw shows, at the end of every 100 ms,
// the book the raw feed left: random raw streams (levels added, changed,
// removed, several times a window, windows without changes, a snapshot
// again midway), checked message by message against the raw book.
func TestDeriveBookFollowsTheRawBook(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		d := NewDeriver()
		if err := d.Add("book.BTC-PERPETUAL.100ms", "book.BTC-PERPETUAL.raw"); err != nil {
			t.Fatal(err)
		}
		var out []emitted
		emit := collect(&out)
		var client model
		truth := [2]map[float64]float64{{}, {}} // the raw book before the frame being fed
		id := int64(1000)
		tns := int64(5e9)
		messages, flushing := 0, false
		// check applies what was emitted; it must leave the client with the
		// raw book as it was before the frame that ended the window.
		check := func() {
			if len(out) == 0 {
				return
			}
			for _, e := range out {
				if e.channel != "book.BTC-PERPETUAL.100ms" || e.t%AggregateInterval != 0 || (e.t > tns && !flushing) {
					t.Fatalf("seed %d: emitted %s at %d (now %d)", seed, e.channel, e.t, tns)
				}
				client.apply(t, e.data)
				messages++
			}
			out = out[:0]
			if !maps.Equal(client.side[0], truth[0]) || !maps.Equal(client.side[1], truth[1]) {
				t.Fatalf("seed %d at %d: the derived book\n%v\n%v\nthe raw book\n%v\n%v", seed, tns, client.side[0], client.side[1], truth[0], truth[1])
			}
			if client.changeID != id {
				t.Fatalf("seed %d: derived change_id %d, raw %d", seed, client.changeID, id)
			}
		}
		feed := func(typ string, next [2]map[float64]float64, levels [2][][3]any) {
			ch, data := rawBookFrame(typ, tns/1e6, id+1, id, levels[0], levels[1])
			if err := d.Frame(tns, []byte(ch), data, emit); err != nil {
				t.Fatal(err)
			}
			check()
			truth, id = next, id+1
		}
		price := func(s int) float64 { return float64(120000+(2*s-1)*(1+rng.IntN(40))) / 2 }
		amount := func() float64 { return float64(10 * (1 + rng.IntN(50))) }
		snapshot := func() {
			next := [2]map[float64]float64{{}, {}}
			var levels [2][][3]any
			for s := range 2 {
				for range 5 + rng.IntN(10) {
					if p, a := price(s), amount(); next[s][p] == 0 {
						next[s][p] = a
						levels[s] = append(levels[s], [3]any{"new", p, a})
					}
				}
			}
			feed("snapshot", next, levels)
		}
		snapshot()
		for step := range 400 {
			tns += int64(rng.IntN(60)) * 1e6
			if step == 200 {
				snapshot()
				continue
			}
			if rng.IntN(5) == 0 { // another channel's message also ends the windows before it
				if err := d.Frame(tns, []byte("trades.BTC-PERPETUAL.raw"), []byte(`[]`), emit); err != nil {
					t.Fatal(err)
				}
				check()
			}
			next := [2]map[float64]float64{maps.Clone(truth[0]), maps.Clone(truth[1])}
			var levels [2][][3]any
			for range 1 + rng.IntN(3) {
				s := rng.IntN(2)
				p := price(s)
				_, in := next[s][p]
				switch {
				case in && rng.IntN(3) == 0:
					delete(next[s], p)
					levels[s] = append(levels[s], [3]any{"delete", p, 0})
				case in:
					a := amount()
					next[s][p] = a
					levels[s] = append(levels[s], [3]any{"change", p, a})
				default:
					a := amount()
					next[s][p] = a
					levels[s] = append(levels[s], [3]any{"new", p, a})
				}
			}
			feed("change", next, levels)
		}
		flushing = true
		d.Flush(emit)
		check()
		if messages < 50 || messages > 300 {
			t.Errorf("seed %d: %d messages for ~400 raw changes over ~12 s", seed, messages)
		}
	}
}

// Trades of a window arrive in one message, in order; a ticker channel
// shows the window's last ticker; a grouped snapshot shows the best levels
// of each side; a window without a message of a source emits nothing.
func TestDeriveTradesTickerGrouped(t *testing.T) {
	d := NewDeriver()
	for want, from := range map[string]string{
		"trades.BTC-PERPETUAL.100ms":       "trades.BTC-PERPETUAL.raw",
		"ticker.BTC-PERPETUAL.100ms":       "ticker.BTC-PERPETUAL.raw",
		"book.BTC-PERPETUAL.none.1.100ms":  "book.BTC-PERPETUAL.raw",
		"book.BTC-PERPETUAL.none.10.agg2":  "book.BTC-PERPETUAL.raw",
		"book.BTC-PERPETUAL.100ms":         "book.BTC-PERPETUAL.raw",
		"book.BTC-PERPETUAL.none.10.100ms": "book.BTC-PERPETUAL.raw",
	} {
		if err := d.Add(want, from); err != nil {
			t.Fatal(err)
		}
	}
	var out []emitted
	emit := collect(&out)
	feed := func(ms int64, ch, data string) {
		t.Helper()
		if err := d.Frame(ms*1e6, []byte(ch), []byte(data), emit); err != nil {
			t.Fatalf("%s %s: %v", ch, data, err)
		}
	}
	feed(1000, "trades.BTC-PERPETUAL.raw", `[{"trade_seq":1,"price":60000}]`)
	feed(1010, "ticker.BTC-PERPETUAL.raw", `{"best_bid_price":59999}`)
	feed(1020, "trades.BTC-PERPETUAL.raw", ` [ {"trade_seq":2,"price":60001}, {"trade_seq":3,"price":60002} ] `)
	feed(1030, "ticker.BTC-PERPETUAL.raw", `{"best_bid_price":60000}`)
	_, snap := rawBookFrame("snapshot", 1040, 10, 0, [][3]any{{"new", 59999.5, 10}, {"new", 59999, 20}, {"new", 59998, 5}},
		[][3]any{{"new", 60000, 30}, {"new", 60001.5, 40}})
	feed(1040, "book.BTC-PERPETUAL.raw", string(snap))
	feed(1099, "trades.BTC-PERPETUAL.raw", `[]`)
	if len(out) != 0 {
		t.Fatalf("emitted before the window ended: %v", out)
	}
	feed(1250, "quote.BTC-PERPETUAL", `{}`) // ends the window of 1000–1099 ms; 1100–1199 had nothing
	got := map[string]string{}
	for _, e := range out {
		if e.t != 1100e6 {
			t.Errorf("%s at %d, want the window's end 1100 ms", e.channel, e.t)
		}
		got[e.channel] = string(e.data)
	}
	want := map[string]string{
		"trades.BTC-PERPETUAL.100ms":       `[{"trade_seq":1,"price":60000},{"trade_seq":2,"price":60001}, {"trade_seq":3,"price":60002}]`,
		"ticker.BTC-PERPETUAL.100ms":       `{"best_bid_price":60000}`,
		"book.BTC-PERPETUAL.none.1.100ms":  `{"timestamp":1040,"instrument_name":"BTC-PERPETUAL","change_id":10,"bids":[[59999.5,10]],"asks":[[60000,30]]}`,
		"book.BTC-PERPETUAL.none.10.agg2":  `{"timestamp":1040,"instrument_name":"BTC-PERPETUAL","change_id":10,"bids":[[59999.5,10],[59999,20],[59998,5]],"asks":[[60000,30],[60001.5,40]]}`,
		"book.BTC-PERPETUAL.none.10.100ms": `{"timestamp":1040,"instrument_name":"BTC-PERPETUAL","change_id":10,"bids":[[59999.5,10],[59999,20],[59998,5]],"asks":[[60000,30],[60001.5,40]]}`,
		"book.BTC-PERPETUAL.100ms":         `{"type":"snapshot","timestamp":1040,"instrument_name":"BTC-PERPETUAL","change_id":10,"bids":[["new",59999.5,10],["new",59999,20],["new",59998,5]],"asks":[["new",60000,30],["new",60001.5,40]]}`,
	}
	if !maps.Equal(got, want) {
		for ch := range want {
			if got[ch] != want[ch] {
				t.Errorf("%s:\n got %s\nwant %s", ch, got[ch], want[ch])
			}
		}
		if len(got) != len(want) {
			t.Errorf("got %d channels, want %d: %v", len(got), len(want), got)
		}
	}
	out = out[:0]
	d.Flush(emit)
	if len(out) != 0 {
		t.Errorf("a flush after a window with nothing emitted %v", out)
	}
}

// A raw change that does not follow the one before it (a gap in the
// recording) stops the derived book until the next raw snapshot, which it
// passes on as a snapshot; a source message that cannot be read is an
// error and changes nothing.
func TestDeriveBookGapAndBadInput(t *testing.T) {
	d := NewDeriver()
	if err := d.Add("book.BTC-PERPETUAL.100ms", "book.BTC-PERPETUAL.raw"); err != nil {
		t.Fatal(err)
	}
	var out []emitted
	emit := collect(&out)
	feed := func(ms int64, data []byte) error {
		return d.Frame(ms*1e6, []byte("book.BTC-PERPETUAL.raw"), data, emit)
	}
	_, snap := rawBookFrame("snapshot", 0, 10, 0, [][3]any{{"new", 100.5, 1}}, [][3]any{{"new", 101, 1}})
	_, c11 := rawBookFrame("change", 150, 11, 10, [][3]any{{"change", 100.5, 2}}, nil)
	_, c13 := rawBookFrame("change", 250, 13, 12, [][3]any{{"delete", 100.5, 0}}, nil) // 12 is missing
	_, c14 := rawBookFrame("change", 350, 14, 13, nil, [][3]any{{"new", 102, 3}})
	_, snap2 := rawBookFrame("snapshot", 450, 20, 0, [][3]any{{"new", 99, 7}}, nil)
	for i, data := range [][]byte{snap, c11, c13, c14, snap2} {
		if err := feed(int64(i)*100+50, data); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{`{"type":"change","bids":[["maybe",1,2]]}`, `[1,2]`, `{"type":"snapshot","bids":[["new","x",1]]}`, `{"bids":[[1,2]]}`} {
		if err := feed(460, []byte(bad)); !errors.Is(err, ErrDecode) {
			t.Errorf("%s: %v, want ErrDecode", bad, err)
		}
	}
	d.Flush(emit)
	var types []string
	var client model
	for _, e := range out {
		var b Book
		if err := DecodeBook(e.data, &b); err != nil {
			t.Fatal(err)
		}
		types = append(types, fmt.Sprintf("%d:%d", b.Type, b.ChangeID))
		client.apply(t, e.data)
	}
	if got, want := strings.Join(types, " "), fmt.Sprintf("%d:10 %d:11 %d:20", BookSnapshot, BookChange, BookSnapshot); got != want {
		t.Errorf("messages (type:change_id) %s, want %s", got, want)
	}
	if d.Gaps() != 1 {
		t.Errorf("%d gaps, want 1", d.Gaps())
	}
	if len(client.side[0]) != 1 || client.side[0][99] != 7 || len(client.side[1]) != 0 {
		t.Errorf("the client's book after the second snapshot: %v", client.side)
	}
}

// TestFrameBookAsFrame: a deriver fed through FrameBook (falling back to
// Frame where FrameBook declines, as a replay does) emits what one fed
// through Frame emits; FrameBook declines data that is not one book
// message, and channels trades or tickers are derived from, changing
// nothing.
func TestFrameBookAsFrame(t *testing.T) {
	newDeriver := func() *Deriver {
		d := NewDeriver()
		for want, from := range map[string]string{"book.BTC-PERPETUAL.100ms": "book.BTC-PERPETUAL.raw", "trades.BTC-PERPETUAL.100ms": "trades.BTC-PERPETUAL.raw"} {
			if err := d.Add(want, from); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	_, snap := rawBookFrame("snapshot", 0, 10, 0, [][3]any{{"new", 100.5, 1}}, [][3]any{{"new", 101, 1}})
	_, c11 := rawBookFrame("change", 150, 11, 10, [][3]any{{"change", 100.5, 2}}, nil)
	_, c12 := rawBookFrame("change", 250, 12, 11, nil, [][3]any{{"new", 102, 3}})
	ch := []byte("book.BTC-PERPETUAL.raw")
	type frame struct {
		ms        int64
		data      []byte // the notification's data
		candidate []byte // what a split hands FrameBook
	}
	frames := []frame{
		{50, snap, snap},
		{150, c11, append(bytes.Clone(c11), `},"extra":{"a":1`...)},                                           // not one value: declined
		{160, []byte(`{"type":"change","bids":[["new",1]]}`), []byte(`{"type":"change","bids":[["new",1]]}`)}, // declined; Frame's error
		{170, []byte(`{"bids":[[1,2]]}`), []byte(`{"bids":[[1,2]]}`)},                                         // grouped: not a source
		{250, c12, c12},
	}
	var outA, outB []emitted
	a, b := newDeriver(), newDeriver()
	for _, f := range frames {
		errA := a.Frame(f.ms*1e6, ch, f.data, collect(&outA))
		ok, errB := b.FrameBook(f.ms*1e6, ch, f.candidate, collect(&outB))
		if !ok {
			errB = b.Frame(f.ms*1e6, ch, f.data, collect(&outB))
		}
		if (errA == nil) != (errB == nil) {
			t.Errorf("%d ms: Frame %v, FrameBook (and Frame) %v", f.ms, errA, errB)
		}
	}
	a.Flush(collect(&outA))
	b.Flush(collect(&outB))
	if fmt.Sprint(outA) != fmt.Sprint(outB) || len(outA) == 0 {
		t.Errorf("Frame emitted %d messages, FrameBook %d:\n%s\n%s", len(outA), len(outB), fmt.Sprint(outA), fmt.Sprint(outB))
	}
	called := false
	if ok, _ := b.FrameBook(900e6, []byte("trades.BTC-PERPETUAL.raw"), []byte(`[]`), func(int64, []byte) { called = true }); ok || called {
		t.Errorf("FrameBook took a trades source (%v) or emitted (%v)", ok, called)
	}
}
