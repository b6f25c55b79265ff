package conformance_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/host"
)

// The scripted scenario: the same events for every example, through the
// host's sandbox (in this process and in a child process), with a fake
// exchange that answers the intents in the next batch. What each example
// emits (intents as JSON, log lines) must match its golden file
// testdata/<name>.golden; -update rewrites them.

var scenarioStart = time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)

func fx(s string) abi.Fixed {
	x, err := abi.ParseFixed(s)
	if err != nil {
		panic(err)
	}
	return x
}

// instrument is BTC-PERPETUAL as Deribit lists it.
func instrument() abi.Instrument {
	return abi.Instrument{Kind: abi.Perpetual, Flags: abi.InstrumentInverse, TickSize: fx("0.5"),
		ContractSize: fx("10"), MinAmount: fx("10"), TakerFee: fx("0.0005"),
		BaseCurrency: abi.NewStr8("BTC"), QuoteCurrency: abi.NewStr8("USD"), SettlementCurrency: abi.NewStr8("BTC"),
		Name: abi.NewStr64("BTC-PERPETUAL")}
}

// params are each example's parameters in the scenario.
func params(name string) []abi.Param {
	switch name {
	case "marketmaker":
		return []abi.Param{{Type: abi.ParamInt, Key: "max_position", Int: 40}}
	case "taker", "taker-as", "taker-rs":
		return []abi.Param{{Type: abi.ParamInt, Key: "size", Int: 100}, {Type: abi.ParamInt, Key: "min_volume", Int: 300},
			{Type: abi.ParamString, Key: "cooldown", Text: "2s"}}
	}
	return nil
}

func startup(t testing.TB, name string) []byte {
	t.Helper()
	b, err := abi.AppendStartup(nil, &abi.Startup{
		Start: abi.Start{HostVersion: abi.Current, FirstCID: 100, Time: uint64(scenarioStart.UnixNano()),
			Name: abi.NewStr32(name)},
		Instruments: []abi.Instrument{instrument()},
		Params:      params(name),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exchange is the scenario's fake exchange: it answers each intent in the
// next batch, as the host would relay the exchange's answers. A resting
// limit order opens; an immediate-or-cancel one fills whole at its price;
// an amend of an open order opens it at the new price; a cancel (or a
// cancel_all) cancels the open orders it names.
type exchange struct {
	open    map[uint64]*abi.OrderUpdate
	order   []uint64 // open cids in the order they opened
	pending [][]byte
	tradeID uint64
}

func newExchange() *exchange { return &exchange{open: map[uint64]*abi.OrderUpdate{}} }

func (x *exchange) answer(t *testing.T, intents []byte, now time.Time) {
	ts := uint64(now.UnixNano())
	for rec, err := range abi.Records(intents) {
		if err != nil {
			t.Fatalf("intents: %v", err)
		}
		switch rec.Kind {
		case abi.KindPlace:
			var p abi.Place
			if err := abi.DecodePlace(rec.Bytes, &p); err != nil {
				t.Fatal(err)
			}
			u := abi.OrderUpdate{CID: p.CID, Instrument: p.Instrument, State: abi.StateOpen, Side: p.Side, Type: p.Type,
				TIF: p.TIF, Flags: p.Flags, Price: p.Price, Amount: p.Amount, Time: ts,
				ExchangeOrderID: abi.NewStr32(fmt.Sprintf("BTC-%d", p.CID))}
			if p.TIF == abi.ImmediateOrCancel || p.TIF == abi.FillOrKill {
				x.tradeID++
				x.pending = append(x.pending, abi.AppendFill(nil, &abi.Fill{CID: p.CID, Instrument: p.Instrument,
					Side: p.Side, Liquidity: abi.Taker, Time: ts, TradeSeq: x.tradeID, Price: p.Price, Amount: p.Amount,
					Fee: fx("0.00000077"), FeeCurrency: abi.NewStr8("BTC")}))
				u.State, u.FilledAmount, u.AvgPrice = abi.StateFilled, p.Amount, p.Price
			} else {
				x.open[p.CID] = &u
				x.order = append(x.order, p.CID)
			}
			x.pending = append(x.pending, abi.AppendOrderUpdate(nil, &u))
		case abi.KindAmend:
			var a abi.Amend
			if err := abi.DecodeAmend(rec.Bytes, &a); err != nil {
				t.Fatal(err)
			}
			if u, ok := x.open[a.CID]; ok {
				u.Price, u.Amount, u.Flags, u.Time = a.Price, a.Amount, a.Flags, ts
				x.pending = append(x.pending, abi.AppendOrderUpdate(nil, u))
			}
		case abi.KindCancel:
			var c abi.Cancel
			if err := abi.DecodeCancel(rec.Bytes, &c); err != nil {
				t.Fatal(err)
			}
			x.cancel(c.CID, abi.ReasonCancelRequested, ts)
		case abi.KindCancelAll:
			var c abi.CancelAll
			if err := abi.DecodeCancelAll(rec.Bytes, &c); err != nil {
				t.Fatal(err)
			}
			for _, cid := range append([]uint64(nil), x.order...) {
				if u := x.open[cid]; u != nil && (c.Instrument == abi.NoInstrument || c.Instrument == u.Instrument) &&
					(c.Side == abi.SideNone || c.Side == u.Side) {
					x.cancel(cid, abi.ReasonCancelRequested, ts)
				}
			}
		}
	}
}

// cancel cancels an open order (nothing when it is not open).
func (x *exchange) cancel(cid uint64, reason abi.Reason, ts uint64) {
	u, ok := x.open[cid]
	if !ok {
		return
	}
	delete(x.open, cid)
	for i, c := range x.order {
		if c == cid {
			x.order = append(x.order[:i], x.order[i+1:]...)
			break
		}
	}
	u.State, u.Reason, u.Time = abi.StateCancelled, reason, ts
	if reason == abi.ReasonExchangeCancel {
		u.Text = abi.NewStr32("instrument_halted")
	}
	x.pending = append(x.pending, abi.AppendOrderUpdate(nil, u))
}

// take returns the answers for the next batch.
func (x *exchange) take() [][]byte {
	out := x.pending
	x.pending = nil
	return out
}

// A step of the scenario: the clock moves, then a batch of the exchange's
// answers and the step's events is delivered (due timers are added by the
// sandbox); or the plugin is stopped.
type step struct {
	name    string
	advance time.Duration
	events  func(x *exchange, ts uint64) [][]byte
	stop    bool
}

func ticker(ts uint64, bid, ask string) []byte {
	return abi.AppendTicker(nil, &abi.Ticker{Time: ts, BestBidPrice: fx(bid), BestBidAmount: fx("1000"),
		BestAskPrice: fx(ask), BestAskAmount: fx("1000"), LastPrice: fx(bid), MarkPrice: abi.Fixed((fx(bid) + fx(ask)) / 2),
		IndexPrice: fx(bid)})
}

func trade(ts, seq uint64, side abi.Side, price, amount string) []byte {
	return abi.AppendTrade(nil, &abi.Trade{Time: ts, Side: side, TradeSeq: seq, Price: fx(price), Amount: fx(amount)})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

var scenario = []step{
	{name: "ticker", events: func(x *exchange, ts uint64) [][]byte {
		return [][]byte{ticker(ts, "64990", "65010")}
	}},
	{name: "book snapshot", advance: 100 * time.Millisecond, events: func(x *exchange, ts uint64) [][]byte {
		return [][]byte{must(abi.AppendBookSnapshot(nil, &abi.Book{ChangeID: 1, Time: ts,
			Bids: []abi.Level{{Price: fx("64995"), Amount: fx("500")}, {Price: fx("64990"), Amount: fx("1000")}},
			Asks: []abi.Level{{Price: fx("65005"), Amount: fx("300")}, {Price: fx("65010"), Amount: fx("900")}}}))}
	}},
	{name: "buy burst", advance: 100 * time.Millisecond, events: func(x *exchange, ts uint64) [][]byte {
		return [][]byte{trade(ts, 1, abi.Buy, "65005", "100"), trade(ts, 2, abi.Buy, "65005", "200"),
			trade(ts, 3, abi.Sell, "64995", "10")}
	}},
	{name: "market moves up", advance: time.Second, events: func(x *exchange, ts uint64) [][]byte {
		return [][]byte{ticker(ts, "65100", "65120"), must(abi.AppendBookChange(nil, &abi.Book{PrevChangeID: 1, ChangeID: 2,
			Time: ts, Bids: []abi.Level{{Price: fx("65100"), Amount: fx("200")}},
			Asks: []abi.Level{{Price: fx("65005"), Amount: 0}, {Price: fx("65010"), Amount: 0}, {Price: fx("65120"), Amount: fx("100")}}}))}
	}},
	{name: "the exchange cancels the oldest open order", advance: time.Second, events: func(x *exchange, ts uint64) [][]byte {
		if len(x.order) > 0 {
			x.cancel(x.order[0], abi.ReasonExchangeCancel, ts)
		}
		return append(x.take(), ticker(ts, "65100", "65120"))
	}},
	{name: "a minute later", advance: time.Minute, events: func(x *exchange, ts uint64) [][]byte {
		return [][]byte{ticker(ts, "65100", "65120")}
	}},
	{name: "sell burst", advance: time.Second, events: func(x *exchange, ts uint64) [][]byte {
		return [][]byte{trade(ts, 4, abi.Sell, "65100", "300"), trade(ts, 5, abi.Sell, "65100", "200")}
	}},
	{name: "pool degraded", advance: time.Second, events: func(x *exchange, ts uint64) [][]byte {
		return [][]byte{abi.AppendPoolState(nil, &abi.PoolState{Healthy: 1, Total: 2, Flags: abi.PoolDegraded, Time: ts})}
	}},
	{name: "an unknown kind is skipped", advance: time.Second, events: func(x *exchange, ts uint64) [][]byte {
		return [][]byte{{0xF7, 0, 16, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8},
			abi.AppendPoolState(nil, &abi.PoolState{Healthy: 2, Total: 2, Time: ts})}
	}},
	{name: "stop", advance: time.Second, stop: true},
}

func slogOf(l *logLines) *slog.Logger { return slog.New(l) }

// play runs the scenario on one example and returns the golden text.
func play(t *testing.T, ex example, isolation host.Isolation) string {
	fc := clock.NewFake(scenarioStart)
	logs := &logLines{}
	p := load(t, ex.name, ex.wasm, isolation, host.WithClock(fc), host.WithLogger(slogOf(logs)))
	sb := sandbox(p, isolation)
	defer sb.Close()
	ctx := context.Background()
	var out strings.Builder
	fmt.Fprintf(&out, "# the conformance scenario (plugins/conformance/scenario_test.go); rewrite: go test ./plugins/conformance -update\n")
	x := newExchange()
	record := func(name string, intents []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s (%s), step %q: %v; log %q", ex.name, isolation, name, err, logs.take())
		}
		fmt.Fprintf(&out, "== %s\n", name)
		for rec, err := range abi.Records(intents) {
			if err != nil {
				t.Fatalf("step %q: %v", name, err)
			}
			js, err := abi.IntentJSON(rec.Bytes)
			if err != nil {
				t.Fatalf("step %q: %v", name, err)
			}
			fmt.Fprintf(&out, "intent %s\n", js)
		}
		// A child process's log lines arrive with its replies; the host
		// logs them before the call returns.
		for _, l := range logs.take() {
			fmt.Fprintf(&out, "log %s\n", l)
		}
		x.answer(t, intents, fc.Now())
	}
	intents, err := sb.Start(ctx, startup(t, ex.name), fc.Now())
	record("start", intents, err)
	for _, st := range scenario {
		fc.Advance(st.advance)
		now := fc.Now()
		if st.stop {
			intents, err := sb.Stop(ctx, now)
			record(st.name, intents, err)
			continue
		}
		var batch []byte
		for _, ev := range append(x.take(), st.events(x, uint64(now.UnixNano()))...) {
			batch = append(batch, ev...)
		}
		intents, err := sb.Deliver(ctx, batch, now)
		record(st.name, intents, err)
	}
	return out.String()
}

func TestScenario(t *testing.T) {
	for _, ex := range examples(t) {
		t.Run(ex.name, func(t *testing.T) {
			path := filepath.Join("testdata", ex.name+".golden")
			got := play(t, ex, host.IsolateNone)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./plugins/conformance -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("%s (%s) in this process differs from %s:\n%s", ex.name, ex.lang, path, diff(string(want), got))
			}
			if testing.Short() {
				return
			}
			if got := play(t, ex, host.IsolateProcess); got != string(want) {
				t.Errorf("%s (%s) in a child process differs from %s:\n%s", ex.name, ex.lang, path, diff(string(want), got))
			}
		})
	}
}

// The AssemblyScript and Rust ports of the taker emit exactly what the Go
// taker emits, log lines included: the ABI and the SDKs treat the languages
// the same.
func TestPortsAgree(t *testing.T) {
	for port, original := range map[string]string{"taker-as": "taker", "taker-rs": "taker"} {
		a, err1 := os.ReadFile(filepath.Join("testdata", port+".golden"))
		b, err2 := os.ReadFile(filepath.Join("testdata", original+".golden"))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if string(a) != string(b) {
			t.Errorf("%s and %s disagree:\n%s", port, original, diff(string(b), string(a)))
		}
		if !strings.Contains(string(a), "intent {\"kind\":\"place\"") {
			t.Errorf("the scenario makes %s place no order", original)
		}
	}
}

// diff shows the first lines where want and got differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 12; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

// A plugin that aborts (an AssemblyScript assertion) faults with kind
// abort and its message, in this process and in a child process.
func TestAbortIsAFault(t *testing.T) {
	for _, isolation := range []host.Isolation{host.IsolateNone, host.IsolateProcess} {
		t.Run(string(isolation), func(t *testing.T) {
			p := load(t, "abort-as", fixture(t, "abort-as"), isolation)
			sb := sandbox(p, isolation)
			defer sb.Close()
			now := scenarioStart
			if _, err := sb.Start(context.Background(), startup(t, "abort-as"), now); err != nil {
				t.Fatal(err)
			}
			_, err := sb.Deliver(context.Background(), ticker(uint64(now.UnixNano()), "64990", "65010"), now)
			f := faultOf(err)
			want := `abort: "abort-as: the best bid is 6499000000000" at "plugins/conformance/testdata/abort-as/assembly/index.ts"`
			if f == nil || f.Kind != host.FaultAbort || !strings.Contains(f.Error(), want) {
				t.Fatalf("error %v; want an abort fault with %s", err, want)
			}
			if sb.Fault() == nil {
				t.Error("no fault recorded")
			}
		})
	}
}
