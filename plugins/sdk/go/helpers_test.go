package strategy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"testing"

	"github.com/stratbox/stratbox/abi"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
)

// call is one Strategy method call a recorder saw: the method and the JSON
// rendering (abi/README.md section 17) of the event it received.
type call struct {
	Method string
	JSON   string
}

// recorder is a Strategy that records every call, and calls on (if set)
// after each, so that a test can queue intents from inside a call.
type recorder struct {
	calls       []call
	initErr     error
	params      *strategy.Params
	instruments []abi.Instrument
	start       abi.Start
	on          func(ctx *strategy.Context, method string)
}

func (r *recorder) record(ctx *strategy.Context, method string, k abi.Kind, v any) {
	js := ""
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		js = `{"kind":` + strconv.Quote(k.String()) + "," + string(b[1:])
	}
	r.calls = append(r.calls, call{method, js})
	if r.on != nil {
		r.on(ctx, method)
	}
}

func (r *recorder) Init(ctx *strategy.Context, p *strategy.Params, in []abi.Instrument) error {
	r.params, r.instruments, r.start = p, in, *ctx.Start()
	r.record(ctx, "Init", 0, nil)
	return r.initErr
}

func (r *recorder) OnBook(ctx *strategy.Context, b *abi.Book, snapshot bool) {
	k := abi.KindBookChange
	if snapshot {
		k = abi.KindBookSnapshot
	}
	r.record(ctx, "OnBook", k, b)
}
func (r *recorder) OnTicker(ctx *strategy.Context, t *abi.Ticker) {
	r.record(ctx, "OnTicker", abi.KindTicker, t)
}
func (r *recorder) OnTrade(ctx *strategy.Context, t *abi.Trade) {
	r.record(ctx, "OnTrade", abi.KindTrade, t)
}
func (r *recorder) OnOrder(ctx *strategy.Context, o *abi.OrderUpdate) {
	r.record(ctx, "OnOrder", abi.KindOrderUpdate, o)
}
func (r *recorder) OnFill(ctx *strategy.Context, f *abi.Fill) {
	r.record(ctx, "OnFill", abi.KindFill, f)
}
func (r *recorder) OnPosition(ctx *strategy.Context, p *abi.Position) {
	r.record(ctx, "OnPosition", abi.KindPosition, p)
}
func (r *recorder) OnPoolState(ctx *strategy.Context, p *abi.PoolState) {
	r.record(ctx, "OnPoolState", abi.KindPoolState, p)
}
func (r *recorder) OnTimer(ctx *strategy.Context, t *abi.Timer) {
	r.record(ctx, "OnTimer", abi.KindTimer, t)
}
func (r *recorder) OnIntentRejected(ctx *strategy.Context, x *abi.IntentRejected) {
	r.record(ctx, "OnIntentRejected", abi.KindIntentRejected, x)
}
func (r *recorder) OnStop(ctx *strategy.Context) { r.record(ctx, "OnStop", 0, nil) }

var _ strategy.Strategy = (*recorder)(nil)

// methods maps event kinds to the method that receives them.
var methods = map[string]string{
	"book_snapshot": "OnBook", "book_change": "OnBook", "ticker": "OnTicker", "trade": "OnTrade",
	"order_update": "OnOrder", "fill": "OnFill", "position": "OnPosition", "pool_state": "OnPoolState",
	"timer": "OnTimer", "intent_rejected": "OnIntentRejected",
}

// jsonEqual compares two JSON texts as values, numbers as their text.
func jsonEqual(t *testing.T, got, want []byte) bool {
	t.Helper()
	parse := func(b []byte) any {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		return v
	}
	return reflect.DeepEqual(parse(got), parse(want))
}

// vectors is testdata/abi/vectors.json (format in testdata/abi/README.md).
type vectors struct {
	Records []struct {
		Name  string          `json:"name"`
		Kind  string          `json:"kind"`
		Value json.RawMessage `json:"value"`
		Hex   hexBytes        `json:"hex"`
	} `json:"records"`
	Batches []struct {
		Name    string   `json:"name"`
		Hex     hexBytes `json:"hex"`
		Records []struct {
			Offset int    `json:"offset"`
			Kind   string `json:"kind"`
			Size   int    `json:"size"`
			Seq    uint32 `json:"seq"`
			Known  bool   `json:"known"`
		} `json:"records"`
		Error *struct {
			Error  string `json:"error"`
			Offset int    `json:"offset"`
		} `json:"error"`
	} `json:"batches"`
	Invalid []struct {
		Name     string   `json:"name"`
		DecodeAs string   `json:"decode_as"`
		Hex      hexBytes `json:"hex"`
		Error    string   `json:"error"`
	} `json:"invalid"`
}

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return err
	}
	out := make([]byte, len(s)/2)
	for i := range out {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return err
		}
		out[i] = byte(v)
	}
	*h = out
	return nil
}

func loadVectors(t *testing.T) *vectors {
	t.Helper()
	b, err := os.ReadFile("../../../testdata/abi/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Records) == 0 {
		t.Fatal("no record vectors")
	}
	return &v
}
