package conformance_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/host/sandbox"
)

// The takers restarted under keep_orders (or hot-swapped) adopt the order
// their predecessor left in flight: each example, in every language, places
// nothing while that order is not final, however one-sided the trade flow,
// then places as before once an order_update says it is final. The three
// emit the same intents and log lines at every step.

// adoptedStartup is the scenario's start-up blob for a taker restarted with
// two orders of its predecessor: cid 41, a resting sell on another
// instrument (not the taker's: left alone), and cid 42, the taker's IOC buy
// on its instrument, still pending.
func adoptedStartup(t *testing.T, name string) []byte {
	t.Helper()
	eth := instrument()
	eth.Name, eth.BaseCurrency, eth.SettlementCurrency = abi.NewStr64("ETH-PERPETUAL"), abi.NewStr8("ETH"), abi.NewStr8("ETH")
	ts := uint64(scenarioStart.UnixNano())
	b, err := abi.AppendStartup(nil, &abi.Startup{
		Start:       abi.Start{HostVersion: abi.Current, FirstCID: 100, Time: ts, Name: abi.NewStr32(name)},
		Instruments: []abi.Instrument{instrument(), eth},
		Params:      params(name),
		Orders: []abi.OrderUpdate{
			{CID: 41, Instrument: 1, State: abi.StateOpen, Side: abi.Sell, Type: abi.Limit, TIF: abi.GoodTilCancelled,
				Price: fx("3500"), Amount: fx("10"), Time: ts, ExchangeOrderID: abi.NewStr32("ETH-41")},
			{CID: 42, Instrument: 0, State: abi.StatePending, Side: abi.Buy, Type: abi.Limit, TIF: abi.ImmediateOrCancel,
				Price: fx("65043"), Amount: fx("100"), Time: ts},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// adoptedStep is a step of the adoption script: the clock moves, a batch
// is delivered, and the step says whether a taker that honours the adopted
// order may place in it.
type adoptedStep struct {
	name    string
	advance time.Duration
	events  func(ts uint64) [][]byte
	places  bool
}

func update42(ts uint64, state abi.OrderState, filled string) []byte {
	return abi.AppendOrderUpdate(nil, &abi.OrderUpdate{CID: 42, State: state, Side: abi.Buy, Type: abi.Limit,
		TIF: abi.ImmediateOrCancel, Price: fx("65043"), Amount: fx("100"), FilledAmount: fx(filled),
		AvgPrice: fx("65043"), Time: ts, ExchangeOrderID: abi.NewStr32("BTC-42")})
}

var adoptedScript = []adoptedStep{
	{name: "ticker", events: func(ts uint64) [][]byte { return [][]byte{ticker(ts, "64990", "65010")} }},
	// The scenario's buy burst: without the adopted order, every taker places here.
	{name: "buy burst, the adopted order pending", advance: 100 * time.Millisecond, events: func(ts uint64) [][]byte {
		return [][]byte{trade(ts, 1, abi.Buy, "65005", "100"), trade(ts, 2, abi.Buy, "65005", "200"),
			trade(ts, 3, abi.Sell, "64995", "10")}
	}},
	{name: "the adopted order opens (not final), more buying", advance: 100 * time.Millisecond, events: func(ts uint64) [][]byte {
		return [][]byte{update42(ts, abi.StateOpen, "0"), trade(ts, 4, abi.Buy, "65005", "100")}
	}},
	{name: "another order of the predecessor ends, more buying", advance: 100 * time.Millisecond, events: func(ts uint64) [][]byte {
		return [][]byte{abi.AppendOrderUpdate(nil, &abi.OrderUpdate{CID: 41, Instrument: 1, State: abi.StateCancelled,
			Reason: abi.ReasonCancelRequested, Side: abi.Sell, Type: abi.Limit, TIF: abi.GoodTilCancelled,
			Price: fx("3500"), Amount: fx("10"), Time: ts}), trade(ts, 5, abi.Buy, "65005", "100")}
	}},
	{name: "the adopted order fills (final), more buying", advance: 100 * time.Millisecond, places: true, events: func(ts uint64) [][]byte {
		return [][]byte{
			abi.AppendFill(nil, &abi.Fill{CID: 42, Side: abi.Buy, Liquidity: abi.Taker, Time: ts, TradeSeq: 9,
				Price: fx("65043"), Amount: fx("100"), Fee: fx("0.00000077"), FeeCurrency: abi.NewStr8("BTC")}),
			update42(ts, abi.StateFilled, "100"), trade(ts, 6, abi.Buy, "65005", "100")}
	}},
}

// playAdopted runs the adoption script on one taker and returns its
// transcript; it fails the test when the taker places while the adopted
// order is not final, or does not place once it is.
func playAdopted(t *testing.T, ex example) string {
	fc := clock.NewFake(scenarioStart)
	logs := &logLines{}
	p := load(t, ex.name, ex.wasm, sandbox.IsolateNone, sandbox.WithClock(fc), sandbox.WithLogger(slogOf(logs)))
	sb := newSandbox(p, sandbox.IsolateNone)
	defer sb.Close()
	ctx := context.Background()
	var out strings.Builder
	record := func(name string, places bool, intents []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s, step %q: %v; log %q", ex.name, name, err, logs.take())
		}
		fmt.Fprintf(&out, "== %s\n", name)
		placed := false
		for rec, err := range abi.Records(intents) {
			if err != nil {
				t.Fatalf("%s, step %q: %v", ex.name, name, err)
			}
			js, err := abi.IntentJSON(rec.Bytes)
			if err != nil {
				t.Fatalf("%s, step %q: %v", ex.name, name, err)
			}
			placed = placed || rec.Kind == abi.KindPlace
			fmt.Fprintf(&out, "intent %s\n", js)
		}
		for _, l := range logs.take() {
			fmt.Fprintf(&out, "log %s\n", l)
		}
		switch {
		case placed && !places:
			t.Errorf("%s (%s), step %q: placed while the adopted order 42 is not final:\n%s", ex.name, ex.lang, name, out.String())
		case !placed && places:
			t.Errorf("%s (%s), step %q: placed nothing once the adopted order 42 is final:\n%s", ex.name, ex.lang, name, out.String())
		}
	}
	intents, err := sb.Start(ctx, adoptedStartup(t, ex.name), fc.Now())
	record("start", false, intents, err)
	for _, st := range adoptedScript {
		fc.Advance(st.advance)
		var batch []byte
		for _, ev := range st.events(uint64(fc.Now().UnixNano())) {
			batch = append(batch, ev...)
		}
		intents, err := sb.Deliver(ctx, batch, fc.Now())
		record(st.name, st.places, intents, err)
	}
	return out.String()
}

func TestTakersWaitForAdoptedOrder(t *testing.T) {
	got := map[string]string{}
	for _, ex := range examples(t) {
		if ex.name != "taker" && ex.name != "taker-as" && ex.name != "taker-rs" {
			continue
		}
		t.Run(ex.name, func(t *testing.T) { got[ex.name] = playAdopted(t, ex) })
	}
	if len(got) != 3 {
		t.Fatalf("ran the takers %v; want taker, taker-as and taker-rs", sortedKeys(got))
	}
	for _, port := range []string{"taker-as", "taker-rs"} {
		if got[port] != got["taker"] {
			t.Errorf("%s and taker disagree on the adopted order:\n%s", port, diff(got["taker"], got[port]))
		}
	}
	if !strings.Contains(got["taker"], "intent {\"kind\":\"place\"") {
		t.Error("the script makes the taker place no order")
	}
}
