package sim

import (
	"math"
	"testing"
)

func mustSummary(t *testing.T, e *Engine, owner, cur string) AccountSummary {
	t.Helper()
	s, err := e.AccountSummary(owner, cur)
	if err != nil {
		t.Fatal(err)
	}
	if !approxEq(s.AvailableFunds, s.Equity-s.InitialMargin) || !approxEq(s.MarginBalance, s.Equity) {
		t.Fatalf("inconsistent summary %+v", s)
	}
	return s
}

func sumFees(trades []Trade) float64 {
	var f float64
	for _, t := range trades {
		f += t.Fee
	}
	return f
}

func TestRoundTripCostsOnlyFees(t *testing.T) {
	for _, inst := range []string{btcPerp, ethPerp} {
		t.Run(inst, func(t *testing.T) {
			h := newEngHarness(t)
			amt, px, cur, start := 1000.0, 60000.0, "BTC", 10.0
			if inst == ethPerp {
				amt, px, cur, start = 100, 3000, "ETH", 100
			}
			h.place("m", inst, "sell", amt, px)
			o1, t1 := h.place("a", inst, "buy", amt, px)
			if o1.Commission != sumFees(t1) || o1.Commission <= 0 {
				t.Fatalf("order commission %v, fees %v", o1.Commission, sumFees(t1))
			}
			h.place("m", inst, "buy", amt, px)
			_, t2 := h.place("a", inst, "sell", amt, px)
			fees := sumFees(t1) + sumFees(t2)
			if want := 2 * amt / px * 0.0005; !approxEq(fees, want) {
				t.Fatalf("fees %v want %v", fees, want)
			}
			s := mustSummary(t, h.e, "a", cur)
			if !approxEq(s.Balance, start-fees) || !approxEq(s.Equity, s.Balance) || s.InitialMargin != 0 {
				t.Fatalf("%+v", s)
			}
			if m := mustSummary(t, h.e, "m", cur); m.Balance != start {
				t.Fatalf("maker fee 0, balance %v", m.Balance)
			}
			p, _ := h.e.Position("a", inst)
			if p.Size != 0 || p.Direction != "zero" || p.RealizedProfitLoss != 0 {
				t.Fatalf("%+v", p)
			}
		})
	}
}

func TestInversePnL(t *testing.T) {
	h := newEngHarness(t)
	h.place("m", btcPerp, "sell", 500, 60000)
	h.place("m", btcPerp, "sell", 500, 50000+10000) // same level
	_, t1 := h.place("a", btcPerp, "buy", 1000, 60000)
	h.e.SetIndexPrice("BTC", 50000)
	h.place("m", btcPerp, "sell", 1000, 50000)
	_, t2 := h.place("a", btcPerp, "buy", 1000, 50000)
	p, _ := h.e.Position("a", btcPerp)
	wantAvg := 2000 / (1000/60000.0 + 1000/50000.0)
	if p.Size != 2000 || p.Direction != "buy" || math.Abs(p.AveragePrice-wantAvg) > 1e-3 {
		t.Fatalf("%+v want avg %v", p, wantAvg)
	}
	// empty book: mark = index 50000
	if p.MarkPrice != 50000 || !approxEq(p.SizeCurrency, 2000/50000.0) || !approxEq(p.FloatingProfitLoss, 2000*(1/wantAvg-1/50000.0)) {
		t.Fatalf("%+v", p)
	}
	if !approxEq(p.InitialMargin, 2000/50000.0/50) || !approxEq(p.MaintenanceMargin, p.InitialMargin/2) || p.Leverage != 50 {
		t.Fatalf("%+v", p)
	}
	// close at 52000
	h.e.SetIndexPrice("BTC", 52000)
	h.place("m", btcPerp, "buy", 2000, 52000)
	_, t3 := h.place("a", btcPerp, "sell", 2000, 52000)
	realized := 2000 * (1/wantAvg - 1/52000.0)
	if math.Abs(t3[0].ProfitLoss-realized) > 1e-12 {
		t.Fatalf("trade pnl %v want %v", t3[0].ProfitLoss, realized)
	}
	s := mustSummary(t, h.e, "a", "BTC")
	fees := sumFees(t1) + sumFees(t2) + sumFees(t3)
	if math.Abs(s.Balance-(10+realized-fees)) > 1e-12 || !approxEq(s.SessionRPL, realized) || s.SessionUPL != 0 {
		t.Fatalf("%+v realized %v fees %v", s, realized, fees)
	}
	// the maker's books mirror the taker's PnL (no maker fee)
	sm := mustSummary(t, h.e, "m", "BTC")
	if math.Abs((sm.Balance-10)+(s.Balance-10+fees)) > 1e-12 {
		t.Fatalf("zero-sum broken: maker %v taker %v", sm.Balance, s.Balance)
	}
}

func TestShortFlip(t *testing.T) {
	h := newEngHarness(t)
	h.place("m", btcPerp, "buy", 100, 60000)
	h.place("a", btcPerp, "sell", 100, 60000)
	h.e.SetIndexPrice("BTC", 57000)
	h.place("m", btcPerp, "sell", 300, 57000)
	_, tr := h.place("a", btcPerp, "buy", 300, 57000)
	p, _ := h.e.Position("a", btcPerp)
	if p.Size != 200 || p.AveragePrice != 57000 {
		t.Fatalf("%+v", p)
	}
	if want := -100 * (1/60000.0 - 1/57000.0); math.Abs(tr[0].ProfitLoss-want) > 1e-12 || want <= 0 {
		t.Fatalf("pnl %v want %v", tr[0].ProfitLoss, want)
	}
}

func TestOptionPremiumAndFees(t *testing.T) {
	h := newEngHarness(t)
	call := DefaultInstruments(engStart)[3]
	h.place("m", call.InstrumentName, "sell", 1, 0.05)
	_, tr := h.place("a", call.InstrumentName, "buy", 1, 0.05)
	if !approxEq(tr[0].Fee, 0.0003) || tr[0].FeeCurrency != "BTC" {
		t.Fatalf("fee %+v", tr[0])
	}
	s := mustSummary(t, h.e, "a", "BTC")
	if !approxEq(s.Balance, 10-0.05-0.0003) {
		t.Fatalf("balance %v", s.Balance)
	}
	p, _ := h.e.Position("a", call.InstrumentName)
	// empty book: mark is the model value
	if p.MarkPrice <= 0 || !approxEq(s.Equity, s.Balance+p.MarkPrice) || !approxEq(p.InitialMargin, p.MarkPrice) || p.SizeCurrency != 1 {
		t.Fatalf("%+v %+v", p, s)
	}
	if p.Delta <= 0 || p.Delta >= 1 {
		t.Fatalf("call delta %v", p.Delta)
	}
	sm := mustSummary(t, h.e, "m", "BTC")
	pm, _ := h.e.Position("m", call.InstrumentName)
	if !approxEq(sm.Balance, 10+0.05-0.0003) || pm.Size != -1 || !approxEq(pm.InitialMargin, 0.15+pm.MarkPrice) || !approxEq(pm.MaintenanceMargin, 0.075+pm.MarkPrice) {
		t.Fatalf("%+v %+v", sm, pm)
	}
	// a cheap option pays at most 12.5% of its premium
	put := DefaultInstruments(engStart)[4]
	h.place("m", put.InstrumentName, "sell", 1, 0.0005)
	_, tr = h.place("a", put.InstrumentName, "buy", 1, 0.0005)
	if !approxEq(tr[0].Fee, 0.125*0.0005) {
		t.Fatalf("capped fee %v", tr[0].Fee)
	}
	// round trip at the same price: only fees are lost
	h.place("m", call.InstrumentName, "buy", 1, 0.05)
	_, tr2 := h.place("a", call.InstrumentName, "sell", 1, 0.05)
	s2 := mustSummary(t, h.e, "a", "BTC")
	want := 10 - 0.0003 - sumFees(tr2) - 0.0005 - 0.125*0.0005
	if !approxEq(s2.Balance, want) {
		t.Fatalf("balance %v want %v", s2.Balance, want)
	}
}

func TestMakerRebate(t *testing.T) {
	ins := DefaultInstruments(engStart)
	ins[0].MakerCommission = -0.0001
	e := NewEngine(EngineConfig{Instruments: ins})
	now := engStart.UnixMilli()
	if _, _, err := e.Place(now, OrderRequest{Instrument: btcPerp, Direction: "sell", Amount: 6000, Price: 60000, HasPrice: true, Owner: "m"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Place(now, OrderRequest{Instrument: btcPerp, Direction: "buy", Amount: 6000, Price: 60000, HasPrice: true, Owner: "a"}); err != nil {
		t.Fatal(err)
	}
	s, _ := e.AccountSummary("m", "BTC")
	if !approxEq(s.Balance, 10+0.1*0.0001) {
		t.Fatalf("rebate: balance %v", s.Balance)
	}
}

func TestMarginAndFunds(t *testing.T) {
	h := newEngHarness(t)
	o, _ := h.place("a", btcPerp, "buy", 600000, 59000)
	s := mustSummary(t, h.e, "a", "BTC")
	if !approxEq(s.InitialMargin, 0.2) || !approxEq(s.AvailableFunds, 9.8) || s.Balance != 10 {
		t.Fatalf("%+v", s)
	}
	p, _ := h.e.Position("a", btcPerp)
	if !approxEq(p.OpenOrdersMargin, 0.2) || p.InitialMargin != 0 {
		t.Fatalf("%+v", p)
	}
	// a sell smaller than the buys needs no extra margin
	h.place("a", btcPerp, "sell", 100000, 61000)
	if s2 := mustSummary(t, h.e, "a", "BTC"); !approxEq(s2.InitialMargin, 0.2) {
		t.Fatalf("%+v", s2)
	}
	// up to equity × leverage …
	h.place("a", btcPerp, "buy", 28_800_000, 59000)
	// … and no further
	if _, _, err := h.try("a", btcPerp, "buy", 700_000, 59000); err == nil || err.Code != CodeNotEnoughFunds {
		t.Fatalf("err %v", err)
	}
	// risk-reducing sells are still allowed, and reduce_only skips the check
	h.place("a", btcPerp, "sell", 1_000_000, 61000)
	// cancel frees margin
	h.now++
	if _, err := h.e.Cancel(h.now, "a", o.OrderID, "user_request"); err != nil {
		t.Fatal(err)
	}
	h.place("a", btcPerp, "buy", 200_000, 59000)
	// other currencies are independent
	h.place("a", ethPerp, "buy", 100, 2900)
	// "__" owners are never checked
	h.place("__mm", btcPerp, "buy", 1_000_000_000, 59000)
}

func TestPositionsAndSummaryErrors(t *testing.T) {
	h := newEngHarness(t)
	if _, err := h.e.Position("a", "nope"); err == nil || err.Code != CodeInvalidInstrument {
		t.Fatalf("%v", err)
	}
	if _, err := h.e.AccountSummary("a", "XRP"); err == nil || err.Code != CodeInvalidParams {
		t.Fatalf("%v", err)
	}
	if s := mustSummary(t, h.e, "a", "usdc"); s.Balance != 1_000_000 || s.Currency != "USDC" {
		t.Fatalf("%+v", s)
	}
	p, err := h.e.Position("a", btcPerp)
	if err != nil || p.Size != 0 || p.Direction != "zero" || p.Kind != "future" {
		t.Fatalf("%+v", p)
	}
	if len(h.e.Positions("a", "any", "")) != 0 {
		t.Fatal("untraded positions listed")
	}
	opt := DefaultInstruments(engStart)[3].InstrumentName
	h.place("m", btcPerp, "sell", 10, 60000)
	h.place("a", btcPerp, "buy", 10, 60000)
	h.place("m", ethPerp, "sell", 1, 3000)
	h.place("a", ethPerp, "buy", 1, 3000)
	h.place("m", opt, "sell", 0.1, 0.05)
	h.place("a", opt, "buy", 0.1, 0.05)
	names := func(ps []Position) (out []string) {
		for _, p := range ps {
			out = append(out, p.InstrumentName)
		}
		return out
	}
	if got := names(h.e.Positions("a", "any", "")); len(got) != 3 || got[0] != btcPerp || got[1] != ethPerp || got[2] != opt {
		t.Fatalf("%v", got)
	}
	if got := names(h.e.Positions("a", "BTC", "")); len(got) != 2 {
		t.Fatalf("%v", got)
	}
	if got := names(h.e.Positions("a", "btc", "option")); len(got) != 1 || got[0] != opt {
		t.Fatalf("%v", got)
	}
	if got := names(h.e.Positions("a", "ETH", "future")); len(got) != 1 || got[0] != ethPerp {
		t.Fatalf("%v", got)
	}
}

func TestStartingBalances(t *testing.T) {
	e := NewEngine(EngineConfig{Instruments: DefaultInstruments(engStart), StartingBalances: map[string]float64{"BTC": 1}})
	s, err := e.AccountSummary("x", "BTC")
	if err != nil || s.Balance != 1 {
		t.Fatalf("%+v %v", s, err)
	}
	s, err = e.AccountSummary("x", "ETH")
	if err != nil || s.Balance != 0 {
		t.Fatalf("%+v %v", s, err)
	}
}
