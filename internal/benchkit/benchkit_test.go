package benchkit

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/record"
)

// The cycle is Cycle records whatever the batch size, and its book changes are
// found in every batch size.
func TestMarket(t *testing.T) {
	m, err := NewMarket(time.Unix(1000, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, Cycle} {
		batches, books := m.Batches(n)
		records, changes := 0, 0
		for i, b := range batches {
			m.Chain(b, books[i])
			for rec, err := range abi.Records(b) {
				if err != nil {
					t.Fatal(err)
				}
				records++
				if rec.Kind == abi.KindBookChange {
					changes++
				}
			}
		}
		if records != Cycle || changes != changesIn(books) || changes == 0 {
			t.Fatalf("batches of %d: %d records, %d book changes", n, records, changes)
		}
	}
}

func changesIn(books [][]int) int {
	n := 0
	for _, b := range books {
		n += len(b)
	}
	return n
}

// Acks opens a resting order and cancels an immediate-or-cancel one; the
// exchange answers a buy with an open order and reports the request.
func TestAcksAndExchange(t *testing.T) {
	var in []byte
	in = abi.AppendPlace(in, &abi.Place{CID: 1, Side: abi.Buy, Type: abi.Limit, TIF: abi.GoodTilCancelled, Price: 1, Amount: 1})
	in = abi.AppendPlace(in, &abi.Place{CID: 2, Side: abi.Buy, Type: abi.Limit, TIF: abi.ImmediateOrCancel, Price: 1, Amount: 1})
	out, err := Acks(in)
	if err != nil {
		t.Fatal(err)
	}
	var states []abi.OrderState
	for rec, err := range abi.Records(out) {
		var u abi.OrderUpdate
		if err != nil || abi.DecodeOrderUpdate(rec.Bytes, &u) != nil {
			t.Fatal(err)
		}
		states = append(states, u.State)
	}
	if len(states) != 2 || states[0] != abi.StateOpen || states[1] != abi.StateCancelled {
		t.Fatalf("acks: %v", states)
	}
	x := NewExchange()
	raw, err := x.CallRaw(context.Background(), "private/buy", []byte(`{"instrument_name":"BTC-PERPETUAL","amount":10,"price":60000,"label":"sbx:1:1"}`))
	if err != nil || !strings.Contains(string(raw), `"order_state":"open"`) {
		t.Fatalf("buy: %s %v", raw, err)
	}
	if r := <-x.Reqs; r.Method != "private/buy" {
		t.Fatalf("request %+v", r)
	}
	if _, err := x.CallRaw(context.Background(), "private/cancel", []byte(`{"order_id":"nope"}`)); err == nil {
		t.Fatal("cancel of an unknown order succeeded")
	}
}

// The synthetic recording reads back as n frames: the book snapshot first,
// then changes, tickers and trades, 100 µs apart.
func TestSyntheticRecording(t *testing.T) {
	const n = 1000
	b, err := SyntheticRecording(n)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := record.Open(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	var last int64
	for i := 0; ; i++ {
		f, err := rd.Next()
		if err == io.EOF {
			if i != n {
				t.Fatalf("%d frames, want %d", i, n)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && !bytes.Contains(f.Data, []byte(`"type":"snapshot"`)) {
			t.Fatalf("first frame is not the snapshot: %.120s", f.Data)
		}
		if i > 0 && f.Time-last != 100_000 {
			t.Fatalf("frame %d is %d ns after the one before, want 100 µs", i, f.Time-last)
		}
		last = f.Time
		for _, k := range []string{"book.", "ticker.", "trades."} {
			if bytes.Contains(f.Data, []byte(`"channel":"`+k)) {
				kinds[k]++
			}
		}
	}
	if kinds["book."] != 700 || kinds["ticker."] != 200 || kinds["trades."] != 100 {
		t.Fatalf("channels %v, want 700 book, 200 ticker, 100 trades", kinds)
	}
}
