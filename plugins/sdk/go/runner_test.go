package strategy_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
	"github.com/stratbox/stratbox/plugins/sdk/go/strategytest"
)

var (
	F = strategytest.F
	L = strategytest.L
)

func methodsOf(calls []call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Method)
	}
	return out
}

// One batch with every event kind, and kinds to skip: each event reaches
// its method, in order; the others are skipped by their size.
func TestDispatch(t *testing.T) {
	r := &recorder{}
	h := started(t, r)
	unknown := func(k abi.Kind, size int) []byte {
		b := make([]byte, size)
		b[0], b[1], b[2] = byte(k), byte(k>>8), byte(size)
		return b
	}
	longer := abi.AppendTrade(nil, &abi.Trade{Side: abi.Sell, Price: F(1), Amount: F(2)})
	longer = append(longer, make([]byte, 16)...)
	longer[2] = byte(len(longer)) // a trade of a newer minor version, 16 bytes longer
	_, err := h.Send(
		h.Snapshot(0, 10, []abi.Level{L(100, 1)}, []abi.Level{L(101, 2)}),
		unknown(0x00F7, 24), // an event of a newer version
		h.Change(0, 10, 11, []abi.Level{L(100, 0)}, nil),
		h.Ticker(0, F(100), F(101)),
		unknown(0xF000, 8), // experimental
		h.Trade(0, abi.Buy, F(101), F(5)),
		longer,
		h.Order(abi.OrderUpdate{CID: 7, State: abi.StateOpen}),
		h.Fill(abi.Place{CID: 7, Side: abi.Buy}, F(100), F(1), abi.Maker),
		unknown(abi.KindPlace, abi.SizePlace), // an intent has no business here
		h.Position(0, F(1)),
		h.Pool(1, 2, abi.PoolDegraded),
		abi.AppendTimer(nil, &abi.Timer{ID: 3}),
		unknown(abi.KindStart, abi.SizeStart), // nor a start-up record
		h.Rejected(strategytest.Intent{Kind: abi.KindCancel, Cancel: abi.Cancel{CID: 7}}, abi.ReasonNotOpen),
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"OnBook", "OnBook", "OnTicker", "OnTrade", "OnTrade", "OnOrder", "OnFill", "OnPosition",
		"OnPoolState", "OnTimer", "OnIntentRejected"}
	if got := methodsOf(r.calls); !slices.Equal(got, want) {
		t.Fatalf("calls %v\nwant  %v", got, want)
	}
	for i, c := range r.calls {
		if want := []string{`"kind":"book_snapshot"`, `"kind":"book_change"`}; i < 2 && !strings.Contains(c.JSON, want[i]) {
			t.Errorf("call %d: %s, want %s", i, c.JSON, want[i])
		}
	}
	if !strings.Contains(r.calls[4].JSON, `"side":"sell","flags":[],"ts":0,"trade_seq":0,"price":1,"amount":2`) {
		t.Errorf("the longer trade: %s", r.calls[4].JSON)
	}
}

// A full outbox keeps what fits, keeps room for one CancelAll, and logs
// what it dropped once per call; the next call starts empty.
func TestOutboxFull(t *testing.T) {
	var places, cancels, alls int
	r := &recorder{on: func(ctx *strategy.Context, method string) {
		if method != "OnTicker" {
			return
		}
		for ctx.Place(strategy.Order{Side: abi.Buy, Price: F(1), Amount: F(1)}) != 0 {
			places++
		}
		for ctx.Cancel(1) {
			cancels++
		}
		for ctx.CancelAll(strategy.AllInstruments, abi.SideNone) {
			alls++
		}
		if ctx.Dropped() != 3 {
			t.Errorf("Dropped() = %d, want 3", ctx.Dropped())
		}
	}}
	h := strategytest.NewSized(r, abi.MinInbox, abi.MinOutbox)
	if _, err := h.Init(&abi.Startup{}); err != nil {
		t.Fatal(err)
	}
	intents, err := h.Send(h.Ticker(0, F(1), F(2)))
	if err != nil {
		t.Fatal(err)
	}
	// 1024 bytes: 12 places (960), 3 cancels (48) up to the 16 kept, then the cancel_all.
	if places != 12 || cancels != 3 || alls != 1 || len(intents) != 16 {
		t.Errorf("%d places, %d cancels, %d cancel_alls, %d intents", places, cancels, alls, len(intents))
	}
	if last := intents[len(intents)-1]; last.Kind != abi.KindCancelAll {
		t.Errorf("last intent %v", last)
	}
	if n := len(h.Logs); n != 1 || h.Logs[0].Level != abi.LogWarn ||
		h.Logs[0].Text != "strategy: outbox full: dropped 3 intents in this call" {
		t.Errorf("logs %v", h.Logs)
	}
	// The next call has the whole outbox again.
	r.on = func(ctx *strategy.Context, method string) {
		if ctx.Dropped() != 0 || ctx.Place(strategy.Order{Side: abi.Sell, Price: F(1), Amount: F(1)}) == 0 {
			t.Error("the next call does not start with an empty outbox")
		}
	}
	if intents, err := h.Send(h.Ticker(0, F(1), F(2))); err != nil || len(intents) != 1 {
		t.Errorf("next call: %v %v", intents, err)
	}
}

// Place numbers orders from the start record's first cid, fills in the
// defaults, and refuses labels it would have to cut.
func TestPlace(t *testing.T) {
	for _, tc := range []struct {
		name     string
		firstCID uint64
		order    strategy.Order
		want     string // "" when refused
		log      string
	}{
		{"limit defaults", 1000, strategy.Order{Side: abi.Buy, Price: F(65000.5), Amount: F(10)},
			"place #1000 buy 10 @ 65000.5 limit good_til_cancelled", ""},
		{"market defaults", 0, strategy.Order{Side: abi.Sell, Type: abi.Market, Amount: F(10), Flags: abi.ReduceOnly},
			"place #1 sell 10 market immediate_or_cancel reduce_only", ""},
		{"explicit", 5, strategy.Order{Instrument: 2, Side: abi.Buy, Type: abi.Limit, TIF: abi.GoodTilDay,
			Flags: abi.PostOnly | abi.RejectPostOnly, Price: F(0.05), Amount: F(0.001), Label: "0123456789abcdef0123456789abcdef"},
			`place #5 buy 0.001 @ 0.05 limit good_til_day post_only|reject_post_only instrument=2 "0123456789abcdef0123456789abcdef"`, ""},
		{"label of 33 bytes", 1, strategy.Order{Side: abi.Buy, Price: F(1), Amount: F(1), Label: "0123456789abcdef0123456789abcdef!"},
			"", "strategy: Place refused: the label is longer than 32 bytes or holds a zero byte"},
		{"label with a zero byte", 1, strategy.Order{Side: abi.Buy, Price: F(1), Amount: F(1), Label: "a\x00b"},
			"", "strategy: Place refused: the label is longer than 32 bytes or holds a zero byte"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cid uint64
			r := &recorder{on: func(ctx *strategy.Context, method string) {
				if method == "Init" {
					cid = ctx.Place(tc.order)
				}
			}}
			h := strategytest.New(r)
			intents, err := h.Init(&abi.Startup{Start: abi.Start{FirstCID: tc.firstCID}})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(strategytest.Strings(intents), "; ")
			if got != tc.want || (tc.want == "") != (cid == 0) {
				t.Errorf("cid %d, intents %q, want %q", cid, got, tc.want)
			}
			if tc.log != "" && (len(h.Logs) != 1 || h.Logs[0].Text != tc.log) {
				t.Errorf("logs %v", h.Logs)
			}
		})
	}
}

// Init receives the parameters and instruments, then the starting positions
// and kept orders arrive; what Init queues is the result of stratbox_init.
func TestInit(t *testing.T) {
	var adopted []abi.OrderUpdate
	r := &recorder{on: func(ctx *strategy.Context, method string) {
		if method == "Init" {
			ctx.CancelAll(0, abi.Buy)
			adopted = slices.Clone(ctx.Adopted())
		}
	}}
	h := strategytest.New(r)
	su := &abi.Startup{
		Start:       abi.Start{FirstCID: 50, Name: abi.NewStr32("mm-1"), Features: abi.FeatureBookContinuation},
		Instruments: []abi.Instrument{strategytest.Perpetual("BTC-PERPETUAL"), strategytest.Perpetual("ETH-PERPETUAL")},
		Params:      []abi.Param{{Type: abi.ParamInt, Key: "levels", Int: 3}},
		Positions:   []abi.Position{{Instrument: 1, Size: F(-20)}},
		Orders:      []abi.OrderUpdate{{CID: 9, Instrument: 0, State: abi.StateOpen}},
	}
	intents, err := h.Init(su)
	if err != nil {
		t.Fatal(err)
	}
	if got := strategytest.Strings(intents); !slices.Equal(got, []string{"cancel_all instrument=0 side=buy"}) {
		t.Errorf("intents %v", got)
	}
	if got := methodsOf(r.calls); !slices.Equal(got, []string{"Init", "OnPosition", "OnOrder"}) {
		t.Errorf("calls %v", got)
	}
	if len(adopted) != 1 || adopted[0].CID != 9 || adopted[0].State != abi.StateOpen {
		t.Errorf("Init saw the adopted orders %+v, want cid 9 open", adopted)
	}
	if len(r.instruments) != 2 || r.params.Int("levels", 0) != 3 || r.start.Name.String() != "mm-1" {
		t.Errorf("instruments %d, params %v, start %+v", len(r.instruments), r.params.All(), r.start)
	}
	ctx := h.Runner().Context()
	if i, ok := ctx.Lookup("ETH-PERPETUAL"); !ok || i != 1 || ctx.Instrument(1).Name.String() != "ETH-PERPETUAL" {
		t.Errorf("Lookup = %d %v", i, ok)
	}
	if _, ok := ctx.Lookup("SOL"); ok || ctx.Instrument(2) != nil {
		t.Error("an unknown instrument was found")
	}
	if ctx.Features() != abi.FeatureBookContinuation || ctx.Start().FirstCID != 50 || ctx.Now() != strategytest.Start {
		t.Errorf("features %v, start %+v, now %d", ctx.Features(), ctx.Start(), ctx.Now())
	}

	// An error from Init refuses to start, as a bad configuration.
	r = &recorder{initErr: errors.New("size must be positive")}
	h = strategytest.New(r)
	_, err = h.Init(su)
	if pluginError(err) != abi.PluginBadConf || !strings.Contains(err.Error(), "strategy: init: size must be positive") {
		t.Errorf("err %v", err)
	}
	// And the instance takes no events.
	if _, err := h.Send(h.Ticker(0, F(1), F(2))); pluginError(err) != abi.PluginFailed {
		t.Errorf("events after a failed init: %v", err)
	}
	if len(r.calls) != 1 {
		t.Errorf("calls %v", methodsOf(r.calls))
	}
}

// OnStop's intents are the result of stratbox_on_stop; the instance takes no
// events after it.
func TestStop(t *testing.T) {
	r := &recorder{on: func(ctx *strategy.Context, method string) {
		if method == "OnStop" {
			ctx.CancelAll(strategy.AllInstruments, abi.SideNone)
		}
	}}
	h := started(t, r)
	intents, err := h.Stop()
	if err != nil || len(intents) != 1 || intents[0].String() != "cancel_all" {
		t.Fatalf("%v %v", intents, err)
	}
	if _, err := h.Send(h.Ticker(0, F(1), F(2))); pluginError(err) != abi.PluginFailed {
		t.Errorf("events after stop: %v", err)
	}
}

// Timers arm, re-arm, cancel and fire through the host; statuses become
// errors.
func TestTimers(t *testing.T) {
	var errs []error
	r := &recorder{}
	h := started(t, r)
	ctx := h.Runner().Context()
	errs = append(errs, ctx.SetTimer(1, time.Second), ctx.SetTimer(2, 2*time.Second), ctx.SetTimer(1, 3*time.Second),
		ctx.CancelTimer(2), ctx.CancelTimer(2))
	if !slices.EqualFunc(errs, []error{nil, nil, nil, nil, strategy.ErrNotFound}, func(a, b error) bool { return errors.Is(a, b) }) {
		t.Errorf("errors %v", errs)
	}
	if intents, err := h.Advance(2 * time.Second); err != nil || intents != nil || len(r.calls) != 0 {
		t.Fatalf("nothing due yet: %v %v %v", intents, err, r.calls)
	}
	if _, err := h.Advance(time.Second); err != nil || len(r.calls) != 1 || r.calls[0].Method != "OnTimer" ||
		!strings.Contains(r.calls[0].JSON, `"id":1,`) {
		t.Fatalf("calls %v, err %v", r.calls, err)
	}
	for i := range uint32(abi.MaxTimers) {
		if err := ctx.SetTimer(100+i, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := ctx.SetTimer(99, time.Hour); !errors.Is(err, strategy.ErrLimit) {
		t.Errorf("timer 257: %v", err)
	}
}

// Log and Logf reach the host.
func TestLog(t *testing.T) {
	h := started(t, &recorder{})
	ctx := h.Runner().Context()
	ctx.Log(abi.LogInfo, "hello")
	ctx.Logf(abi.LogError, "price %v", F(65000.5))
	ctx.Log(abi.LogDebug, "")
	want := []strategytest.Log{{Level: abi.LogInfo, Text: "hello"}, {Level: abi.LogError, Text: "price 65000.5"}, {Level: abi.LogDebug}}
	if !slices.Equal(h.Logs, want) {
		t.Errorf("logs %v", h.Logs)
	}
}

// The plugin's stratbox_init refuses to start without a registered
// strategy; Register takes one strategy only.
func TestRegister(t *testing.T) {
	var logs []string
	h := logHost{logs: &logs}
	if _, res := strategy.PluginInit(nil, h, make([]byte, 64), make([]byte, 1024), 0); res != int32(abi.PluginBadConf) ||
		len(logs) != 1 || !strings.Contains(logs[0], "strategy.Register") {
		t.Errorf("result %d, logs %v", res, logs)
	}
	blob := abi.AppendStart(nil, &abi.Start{FirstCID: 1})
	if r, res := strategy.PluginInit(&recorder{}, h, blob, make([]byte, 1024), int32(len(blob))); r == nil || res != 0 {
		t.Errorf("result %d", res)
	}
	if strategy.PluginFeatures(strategy.Base{}) != 0 || strategy.PluginFeatures(bookFeature{}) != 1 {
		t.Error("features")
	}
	defer strategy.Unregister()
	strategy.Register(strategy.Base{})
	for _, s := range []strategy.Strategy{strategy.Base{}, nil} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%v) did not panic", s)
				}
			}()
			strategy.Register(s)
		}()
	}
}

type bookFeature struct{ strategy.Base }

func (bookFeature) Features() abi.Features { return abi.FeatureBookContinuation }

type logHost struct {
	nopHost
	logs *[]string
}

func (h logHost) Log(_ abi.LogLevel, msg []byte) abi.Status {
	*h.logs = append(*h.logs, string(msg))
	return abi.StatusOK
}

// busy queues an intent of each kind on every event and logs: the per-event
// path of a strategy that uses the whole Context.
type busy struct {
	strategy.Base
	book strategy.OrderBook
}

func (b *busy) act(ctx *strategy.Context) {
	cid := ctx.Place(strategy.Order{Side: abi.Buy, Price: 100 * abi.FixedScale, Amount: abi.FixedScale, Label: "busy"})
	ctx.Amend(cid, 101*abi.FixedScale, abi.FixedScale, abi.PostOnly)
	ctx.Cancel(cid)
	ctx.CancelAll(strategy.AllInstruments, abi.SideNone)
	ctx.Log(abi.LogDebug, "acted")
	_ = ctx.Now()
}
func (b *busy) OnBook(ctx *strategy.Context, bk *abi.Book, snap bool) {
	b.book.Apply(bk, snap)
	b.act(ctx)
}
func (b *busy) OnTicker(ctx *strategy.Context, _ *abi.Ticker)       { b.act(ctx) }
func (b *busy) OnTrade(ctx *strategy.Context, _ *abi.Trade)         { b.act(ctx) }
func (b *busy) OnOrder(ctx *strategy.Context, _ *abi.OrderUpdate)   { b.act(ctx) }
func (b *busy) OnFill(ctx *strategy.Context, _ *abi.Fill)           { b.act(ctx) }
func (b *busy) OnPosition(ctx *strategy.Context, _ *abi.Position)   { b.act(ctx) }
func (b *busy) OnPoolState(ctx *strategy.Context, _ *abi.PoolState) { b.act(ctx) }
func (b *busy) OnTimer(ctx *strategy.Context, _ *abi.Timer)         { b.act(ctx) }
func (b *busy) OnIntentRejected(ctx *strategy.Context, _ *abi.IntentRejected) {
	b.act(ctx)
}

// everyEvent is a batch with one event of each kind (books of 100 levels a
// side).
func everyEvent(h *strategytest.Harness) [][]byte {
	var bids, asks []abi.Level
	for i := range 100 {
		bids = append(bids, L(float64(1000-i), 1))
		asks = append(asks, L(float64(1001+i), 1))
	}
	return [][]byte{
		h.Snapshot(0, 1, bids, asks),
		h.Change(0, 1, 2, []abi.Level{L(1000, 0), L(999.5, 3)}, []abi.Level{L(1000.5, 2)}),
		h.Ticker(0, F(1000), F(1001)),
		h.Trade(0, abi.Buy, F(1001), F(10)),
		h.Order(abi.OrderUpdate{CID: 1, State: abi.StateOpen, Text: abi.NewStr32("ok")}),
		h.Fill(abi.Place{CID: 1, Side: abi.Buy}, F(1000), F(1), abi.Maker),
		h.Position(0, F(1)),
		h.Pool(2, 2, 0),
		abi.AppendTimer(nil, &abi.Timer{ID: 1}),
		h.Rejected(strategytest.Intent{Kind: abi.KindCancel, Cancel: abi.Cancel{CID: 1}}, abi.ReasonNotOpen),
	}
}

// After Init, a call allocates nothing in the SDK: decoding every kind of
// event, calling the strategy, queuing every kind of intent, logging.
func TestNoAllocs(t *testing.T) {
	h := strategytest.New(nil)
	var batch []byte
	for _, e := range everyEvent(h) {
		batch = append(batch, e...)
	}
	inbox := make([]byte, strategy.InboxSize)
	n := int32(copy(inbox, batch))
	r := strategy.NewRunner(&busy{}, nopHost{}, inbox, make([]byte, strategy.OutboxSize))
	blob := abi.AppendStart(nil, &abi.Start{FirstCID: 1})
	copy(inbox, blob)
	if res := r.Init(int32(len(blob))); res != 0 {
		t.Fatal(res)
	}
	copy(inbox, batch)
	if res := r.OnEvents(n); res != 10*(80+40+16+16) {
		t.Fatalf("OnEvents = %d", res)
	}
	if allocs := testing.AllocsPerRun(100, func() { r.OnEvents(n) }); allocs != 0 {
		t.Errorf("%v allocations per call", allocs)
	}
}

func BenchmarkOnEvents(b *testing.B) {
	h := strategytest.New(nil)
	var batch []byte
	for _, e := range everyEvent(h) {
		batch = append(batch, e...)
	}
	inbox := make([]byte, strategy.InboxSize)
	r := strategy.NewRunner(&busy{}, nopHost{}, inbox, make([]byte, strategy.OutboxSize))
	blob := abi.AppendStart(nil, &abi.Start{FirstCID: 1})
	copy(inbox, blob)
	r.Init(int32(len(blob)))
	n := int32(copy(inbox, batch))
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		r.OnEvents(n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/event")
}
