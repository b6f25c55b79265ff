package sim

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// runMarket runs a market for steps Steps 100 ms apart and returns the
// listener log.
func runSynthMarket(t *testing.T, seed int64, steps int) ([]string, *Engine, *Market) {
	t.Helper()
	rec := newBookRecorder(t)
	e := NewEngine(EngineConfig{Instruments: DefaultInstruments(engStart), Listener: rec})
	m := NewMarket(e, MarketConfig{Seed: seed})
	now := engStart.UnixMilli()
	for i := 0; i < steps; i++ {
		m.Step(now)
		now += 100
	}
	rec.checkShadow(t, e)
	checkEngineInvariants(t, e)
	if m.errs != 0 {
		t.Fatalf("market got %d engine errors, last %v %v", m.errs, m.lastErr, m.lastErr.Data)
	}
	return rec.log, e, m
}

func TestMarketDeterministic(t *testing.T) {
	a, _, _ := runSynthMarket(t, 7, 300)
	b, _, _ := runSynthMarket(t, 7, 300)
	if !slices.Equal(a, b) {
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Fatalf("runs differ at %d:\n%s\n%s", i, a[i], b[i])
			}
		}
		t.Fatalf("runs differ in length %d %d", len(a), len(b))
	}
	c, _, _ := runSynthMarket(t, 8, 300)
	if slices.Equal(a, c) {
		t.Fatal("seed has no effect")
	}
}

func TestMarketQuotes(t *testing.T) {
	_, e, _ := runSynthMarket(t, 1, 1)
	for _, in := range e.Instruments() {
		bids, asks, _, _ := e.Depth(in.InstrumentName, 0)
		if len(asks) != 10 || len(bids) == 0 || len(bids) > 10 {
			t.Fatalf("%s: %d bids %d asks", in.InstrumentName, len(bids), len(asks))
		}
		spread := (asks[0].Price - bids[0].Price) / in.TickSize
		if spread < 3.5 || spread > 6.5 {
			t.Fatalf("%s: spread %v ticks (%v/%v)", in.InstrumentName, spread, bids[0].Price, asks[0].Price)
		}
	}
	bids, asks, _, _ := e.Depth(btcPerp, 1)
	if bids[0].Price != 59999 || asks[0].Price != 60001 {
		t.Fatalf("btcPerp top %v %v", bids, asks)
	}
}

func TestMarketRequotesMinimally(t *testing.T) {
	rec := newBookRecorder(t)
	e := NewEngine(EngineConfig{Instruments: DefaultInstruments(engStart), Listener: rec})
	m := NewMarket(e, MarketConfig{Seed: 1, Volatility: -1, FlowProbability: -1})
	now := engStart.UnixMilli()
	m.Step(now)
	rec.reset()
	m.Step(now + 100)
	if len(rec.log) != 0 {
		t.Fatalf("unchanged market re-quoted: %v", rec.log)
	}
	// a one-tick index move changes a couple of levels per side, not the ladder
	e.SetIndexPrice("BTC", 60000.5)
	m.Step(now + 200)
	books := 0
	for _, l := range rec.log {
		if len(l) > 4 && l[:4] == "book" {
			books++
		}
	}
	if books == 0 || books > 8 {
		t.Fatalf("%d book changes for a one-tick move:\n%v", books, rec.log)
	}
	rec.checkShadow(t, e)
}

// TestMarketWithUser runs the market for 5,000 steps while a user trades on
// every instrument; the market must never receive an engine error and the
// engine's invariants must hold throughout.
func TestMarketWithUser(t *testing.T) {
	rec := newBookRecorder(t)
	e := NewEngine(EngineConfig{
		Instruments:      DefaultInstruments(engStart),
		Listener:         rec,
		StartingBalances: map[string]float64{"BTC": 1000, "ETH": 10000},
	})
	m := NewMarket(e, MarketConfig{Seed: 42, FlowProbability: 0.3})
	r := rand.New(rand.NewPCG(1, 2))
	now := engStart.UnixMilli()
	insts := e.Instruments()
	userErrs := map[int]int{}
	fills := 0
	for step := 0; step < 5000; step++ {
		m.Step(now)
		in := insts[r.IntN(len(insts))]
		is := e.byName[in.InstrumentName]
		tk, _ := e.Ticker(now, in.InstrumentName)
		dir := "buy"
		if r.IntN(2) == 0 {
			dir = "sell"
		}
		switch k := r.IntN(10); {
		case k < 5: // passive or aggressive limit near the touch
			lo, hi := e.band(is)
			var ticks int64
			if dir == "buy" {
				ticks = int64(tk.BestBidPrice/in.TickSize+0.5) + int64(r.IntN(7)-4)
			} else {
				ticks = int64(tk.BestAskPrice/in.TickSize+0.5) - int64(r.IntN(7)-4)
			}
			ticks = max(lo, min(hi, max(ticks, 1)))
			req := OrderRequest{Instrument: in.InstrumentName, Direction: dir, Amount: is.amount(int64(1 + r.IntN(5))), Price: is.price(ticks), HasPrice: true, Owner: "alice", Label: "u"}
			switch r.IntN(6) {
			case 0:
				req.TimeInForce = "immediate_or_cancel"
			case 1:
				req.PostOnly = true
			case 2:
				req.ReduceOnly = true
			}
			_, tr, err := e.Place(now, req)
			fills += len(tr)
			if err != nil {
				userErrs[err.Code]++
			}
		case k < 6:
			_, tr, err := e.Place(now, OrderRequest{Instrument: in.InstrumentName, Direction: dir, Amount: is.amount(1), Type: "market", Owner: "alice"})
			fills += len(tr)
			if err != nil {
				userErrs[err.Code]++
			}
		case k < 8:
			if open := e.OpenOrders("alice", nil); len(open) > 0 {
				o := open[r.IntN(len(open))]
				if _, err := e.Cancel(now, "alice", o.OrderID, "user_request"); err != nil {
					t.Fatalf("cancel own open order: %v", err)
				}
			}
		case k < 9:
			if open := e.OpenOrders("alice", nil); len(open) > 0 {
				o := open[r.IntN(len(open))]
				_, tr, err := e.Edit(now, EditRequest{OrderID: o.OrderID, Amount: o.Amount + e.byName[o.InstrumentName].amount(1), Owner: "alice"})
				fills += len(tr)
				if err != nil {
					userErrs[err.Code]++
				}
			}
		default:
			if step%50 == 0 {
				e.CancelMatching(now, "user_request", func(o *Order) bool { return o.Owner == "alice" && o.InstrumentName == in.InstrumentName })
			}
		}
		if step%100 == 0 {
			checkEngineInvariants(t, e)
			rec.checkShadow(t, e)
			if _, err := e.AccountSummary("alice", "BTC"); err != nil {
				t.Fatal(err)
			}
		}
		now += 100
	}
	checkEngineInvariants(t, e)
	rec.checkShadow(t, e)
	if m.errs != 0 {
		t.Fatalf("market got %d engine errors, last %v %v", m.errs, m.lastErr, m.lastErr.Data)
	}
	for code := range userErrs {
		switch code {
		case CodeReduceOnlyExceeded, CodePostOnlyReject:
		default:
			t.Errorf("user got unexpected error %d ×%d", code, userErrs[code])
		}
	}
	if fills < 100 {
		t.Fatalf("user traded only %d times", fills)
	}
	ps := e.Positions("alice", "any", "")
	if len(ps) == 0 {
		t.Fatal("no positions")
	}
	for _, in := range insts {
		bids, asks, _, _ := e.Depth(in.InstrumentName, 0)
		if len(bids) == 0 || len(asks) == 0 {
			t.Errorf("%s: empty side after the run (%d/%d)", in.InstrumentName, len(bids), len(asks))
		}
	}
	btc := e.IndexPrice("BTC")
	if btc == 60000 || btc < 50000 || btc > 70000 {
		t.Errorf("BTC index after 500 s: %v", btc)
	}
	t.Logf("user fills %d, errors %v, BTC index %.2f", fills, userErrs, btc)
}
