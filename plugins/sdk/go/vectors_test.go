package strategy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/abi"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
	"github.com/stratbox/stratbox/plugins/sdk/go/strategytest"
)

// started returns a harness of r after an empty start-up blob.
func started(t *testing.T, r *recorder) *strategytest.Harness {
	t.Helper()
	h := strategytest.New(r)
	if _, err := h.Init(&abi.Startup{}); err != nil {
		t.Fatal(err)
	}
	r.calls = nil
	return h
}

func pluginError(err error) abi.PluginError {
	var ce *strategytest.CallError
	if errors.As(err, &ce) {
		return ce.Result
	}
	return 0
}

// Every event vector, delivered as a batch of one, reaches the method of its
// kind with exactly the vector's values.
func TestVectorEvents(t *testing.T) {
	v := loadVectors(t)
	n := 0
	for _, vec := range v.Records {
		method, ok := methods[vec.Kind]
		if !ok {
			continue
		}
		n++
		t.Run(vec.Name, func(t *testing.T) {
			r := &recorder{}
			h := started(t, r)
			if _, err := h.SendRaw(vec.Hex); err != nil {
				t.Fatal(err)
			}
			if len(r.calls) != 1 || r.calls[0].Method != method {
				t.Fatalf("calls %v, want one %s", r.calls, method)
			}
			if !jsonEqual(t, []byte(r.calls[0].JSON), vec.Value) {
				t.Errorf("%s got\n%s\nwant\n%s", method, r.calls[0].JSON, vec.Value)
			}
		})
	}
	if n < len(methods) {
		t.Errorf("only %d event vectors", n)
	}
}

// The start-up vectors reach Init: the start record, the instrument table
// and the parameters, then the starting positions through OnPosition.
func TestVectorStartup(t *testing.T) {
	v := loadVectors(t)
	byHex := map[string]json.RawMessage{}
	for _, vec := range v.Records {
		byHex[string(vec.Hex)] = vec.Value
	}
	for _, b := range v.Batches {
		if b.Name != "startup" {
			continue
		}
		r := &recorder{}
		h := strategytest.New(r)
		if err := h.Runner().Init(0); err != int32(abi.PluginBadInput) {
			t.Errorf("Init of an empty blob = %d, want %d", err, abi.PluginBadInput)
		}
		runner := strategy.NewRunner(r, nopHost{}, append([]byte(nil), b.Hex...), make([]byte, 1024))
		if res := runner.Init(int32(len(b.Hex))); res != 0 {
			t.Fatalf("Init = %d", res)
		}
		// What the strategy received, in the blob's order.
		var got []string
		js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
		got = append(got, js(&r.start))
		for i := range r.instruments {
			in := r.instruments[i]
			if in.TickSteps == nil {
				in.TickSteps = []abi.TickStep{} // the JSON rendering of none is []
			}
			got = append(got, js(&in))
		}
		for _, p := range r.params.All() {
			got = append(got, js(p))
		}
		for _, c := range r.calls[1:] {
			got = append(got, c.JSON)
		}
		if len(got) != len(b.Records) {
			t.Fatalf("received %d records, the blob has %d", len(got), len(b.Records))
		}
		matched := 0
		for i, rec := range b.Records {
			want, ok := byHex[string(b.Hex[rec.Offset:rec.Offset+rec.Size])]
			if !ok {
				continue
			}
			matched++
			g := got[i]
			if !strings.HasPrefix(g, `{"kind"`) {
				g = `{"kind":"` + rec.Kind + `",` + g[1:]
			}
			if !jsonEqual(t, []byte(g), want) {
				t.Errorf("record %d (%s): got\n%s\nwant\n%s", i, rec.Kind, g, want)
			}
		}
		if matched < 6 {
			t.Errorf("only %d records of the start-up batch are record vectors", matched)
		}
		if r.calls[len(r.calls)-1].Method != "OnPosition" {
			t.Errorf("the starting position did not reach OnPosition: %v", r.calls)
		}
	}
	// Each param vector, alone in a blob.
	for _, vec := range v.Records {
		if vec.Kind != "param" {
			continue
		}
		t.Run(vec.Name, func(t *testing.T) {
			blob := abi.AppendStart(nil, &abi.Start{NParams: 1, FirstCID: 1})
			blob = append(blob, vec.Hex...)
			r := &recorder{}
			runner := strategy.NewRunner(r, nopHost{}, blob, make([]byte, 1024))
			if res := runner.Init(int32(len(blob))); res != 0 {
				t.Fatalf("Init = %d", res)
			}
			got, _ := json.Marshal(r.params.All()[0])
			if !jsonEqual(t, append([]byte(`{"kind":"param",`), got[1:]...), vec.Value) {
				t.Errorf("got %s, want %s", got, vec.Value)
			}
		})
	}
}

// The intents the SDK writes are the vectors' bytes.
func TestVectorIntents(t *testing.T) {
	v := loadVectors(t)
	n := 0
	for _, vec := range v.Records {
		if vec.Kind != "place" && vec.Kind != "amend" && vec.Kind != "cancel" && vec.Kind != "cancel_all" {
			continue
		}
		n++
		t.Run(vec.Name, func(t *testing.T) {
			var firstCID uint64 = 1
			var p abi.Place
			var a abi.Amend
			var c abi.Cancel
			var ca abi.CancelAll
			var seq uint32
			var err error
			switch vec.Kind {
			case "place":
				err = json.Unmarshal(vec.Value, &p)
				firstCID, seq = p.CID, p.Seq
			case "amend":
				err = json.Unmarshal(vec.Value, &a)
				seq = a.Seq
			case "cancel":
				err = json.Unmarshal(vec.Value, &c)
				seq = c.Seq
			case "cancel_all":
				err = json.Unmarshal(vec.Value, &ca)
				seq = ca.Seq
			}
			if err != nil {
				t.Fatal(err)
			}
			h := strategytest.New(strategy.Base{})
			if _, err := h.Init(&abi.Startup{Start: abi.Start{FirstCID: firstCID}}); err != nil {
				t.Fatal(err)
			}
			ctx := h.Runner().Context()
			ctx.SetLastSeq(seq - 1)
			ok := true
			switch vec.Kind {
			case "place":
				cid := ctx.Place(strategy.Order{Instrument: p.Instrument, Side: p.Side, Type: p.Type, TIF: p.TIF,
					Flags: p.Flags, Price: p.Price, Amount: p.Amount, Label: p.Label.String()})
				ok = cid == p.CID
			case "amend":
				ok = ctx.Amend(a.CID, a.Price, a.Amount, a.Flags)
			case "cancel":
				ok = ctx.Cancel(c.CID)
			case "cancel_all":
				ok = ctx.CancelAll(ca.Instrument, ca.Side)
			}
			if !ok {
				t.Fatal("not queued, or the wrong cid")
			}
			if got := ctx.Queued(); !bytes.Equal(got, vec.Hex) {
				t.Errorf("got  %x\nwant %x", got, vec.Hex)
			}
		})
	}
	if n < 4 {
		t.Errorf("only %d intent vectors", n)
	}
}

// Each batch vector frames as listed: known events reach their methods in
// order, unknown kinds are skipped, and a framing error ends the call with
// the plugin error bad_input after the records before it.
func TestVectorBatches(t *testing.T) {
	v := loadVectors(t)
	for _, b := range v.Batches {
		if b.Name == "startup" {
			continue // TestVectorStartup
		}
		t.Run(b.Name, func(t *testing.T) {
			r := &recorder{}
			h := started(t, r)
			_, err := h.SendRaw(b.Hex)
			switch {
			case b.Error == nil && err != nil:
				t.Fatal(err)
			case b.Error != nil && pluginError(err) != abi.PluginBadInput:
				t.Fatalf("err %v, want plugin error %d", err, abi.PluginBadInput)
			}
			var want []string
			for _, rec := range b.Records {
				if m, ok := methods[rec.Kind]; ok && rec.Known {
					want = append(want, m+" seq "+itoa(rec.Seq))
				}
			}
			var got []string
			for _, c := range r.calls {
				var s struct{ Seq uint32 }
				json.Unmarshal([]byte(c.JSON), &s)
				got = append(got, c.Method+" seq "+itoa(s.Seq))
			}
			if strings.Join(got, "; ") != strings.Join(want, "; ") {
				t.Errorf("calls %q, want %q", got, want)
			}
		})
	}
}

// Invalid event records end the call with bad_input; invalid start-up
// records make Init fail with bad_input; invalid intents are refused by
// strategytest.Intents.
func TestVectorInvalid(t *testing.T) {
	v := loadVectors(t)
	for _, vec := range v.Invalid {
		t.Run(vec.Name, func(t *testing.T) {
			k, _ := abi.KindByName(vec.DecodeAs)
			switch k.Class() {
			case abi.ClassEvent:
				r := &recorder{}
				h := started(t, r)
				if _, err := h.SendRaw(vec.Hex); pluginError(err) != abi.PluginBadInput {
					t.Errorf("err %v, want plugin error %d", err, abi.PluginBadInput)
				}
				if len(r.calls) != 0 {
					t.Errorf("calls %v", r.calls)
				}
			case abi.ClassStartup:
				st := abi.Start{FirstCID: 1}
				if k == abi.KindInstrument {
					st.NInstruments = 1
				} else {
					st.NParams = 1
				}
				blob := append(abi.AppendStart(nil, &st), vec.Hex...)
				runner := strategy.NewRunner(&recorder{}, nopHost{}, blob, make([]byte, 1024))
				if res := runner.Init(int32(len(blob))); res != int32(abi.PluginBadInput) {
					t.Errorf("Init = %d, want %d", res, abi.PluginBadInput)
				}
			default: // intents: the SDK writes them; its test harness reads them
				if _, err := strategytest.Intents(vec.Hex); err == nil {
					t.Errorf("strategytest.Intents accepted it")
				}
			}
		})
	}
}

// The marker the SDK exports is a valid marker of the version the
// descriptor repeats, and the version this abi package implements.
func TestVectorMarker(t *testing.T) {
	name, ver := strategy.Marker()
	got, ok := abi.ParseMarker(name)
	if !ok || got != ver || ver != abi.Current || abi.Current.Marker() != name {
		t.Errorf("marker %q parses to %v %v; descriptor %v; abi.Current %v", name, got, ok, ver, abi.Current)
	}
	if strategy.InboxSize < abi.MinInbox || strategy.OutboxSize < abi.MinOutbox ||
		strategy.InboxSize%abi.Align != 0 || strategy.OutboxSize%abi.Align != 0 {
		t.Errorf("buffers %d and %d below the minimums or unaligned", strategy.InboxSize, strategy.OutboxSize)
	}
}

func itoa(n uint32) string { b, _ := json.Marshal(n); return string(b) }

// nopHost is a Host that does nothing.
type nopHost struct{}

func (nopHost) Log(abi.LogLevel, []byte) abi.Status { return abi.StatusOK }
func (nopHost) Now() int64                          { return 0 }
func (nopHost) SetTimer(uint32, int64) abi.Status   { return abi.StatusOK }
func (nopHost) CancelTimer(uint32) abi.Status       { return abi.StatusOK }

// A batch that cannot be framed is logged with abi.Reader's error, offset
// included, after the records before it have reached their methods.
func TestFramingErrorIsTheReaders(t *testing.T) {
	good := abi.AppendTicker(nil, &abi.Ticker{Seq: 1, BestBidPrice: 1})
	for _, tail := range []struct {
		name string
		b    []byte
	}{
		{"short header", []byte{1, 2, 3}},
		{"size not a multiple of 8", []byte{3, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"size past the end", []byte{3, 0, 104, 0, 0, 0, 0, 0}},
	} {
		t.Run(tail.name, func(t *testing.T) {
			batch := append(append([]byte{}, good...), tail.b...)
			rd := abi.NewReader(batch)
			for rd.Next() {
			}
			want := "strategy: cannot frame the batch: " + rd.Err().Error()
			r := &recorder{}
			h := started(t, r)
			_, err := h.SendRaw(batch)
			var ce *strategytest.CallError
			if !errors.As(err, &ce) || ce.Result != abi.PluginBadInput || !strings.Contains(ce.Log, want) {
				t.Fatalf("err %v, want plugin error %d and a log with %q", err, abi.PluginBadInput, want)
			}
			if len(r.calls) != 1 || r.calls[0].Method != "OnTicker" {
				t.Errorf("calls %v, want the ticker before the bad record", r.calls)
			}
		})
	}
}
