package host

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
)

// btcPerp is an inverse perpetual: tick 0.5, amounts in USD, multiples of 10.
var btcPerp = abi.Instrument{Kind: abi.Perpetual, Flags: abi.InstrumentInverse, TickSize: fx("0.5"),
	ContractSize: fx("10"), MinAmount: fx("10"), Name: abi.Str64{'B', 'T', 'C', '-', 'P', 'E', 'R', 'P', 'E', 'T', 'U', 'A', 'L'}}

// ethLinear is a linear instrument: amounts in ETH, notional = amount × price.
var ethLinear = abi.Instrument{Kind: abi.Perpetual, TickSize: fx("0.05"), MinAmount: fx("0.01"),
	TickSteps: []abi.TickStep{{AbovePrice: fx("1000"), TickSize: fx("0.1")}}}

func TestValidatePlace(t *testing.T) {
	table := []abi.Instrument{btcPerp, ethLinear}
	ok := abi.Place{CID: 5, Instrument: 0, Side: abi.Buy, Type: abi.Limit, TIF: abi.GoodTilCancelled,
		Price: fx("60000.5"), Amount: fx("20")}
	for _, tc := range []struct {
		name   string
		mutate func(*abi.Place)
		raw    func([]byte)
		want   abi.Reason
	}{
		{"valid", nil, nil, 0},
		{"cid 0", func(p *abi.Place) { p.CID = 0 }, nil, abi.ReasonMalformed},
		{"side out of range", func(p *abi.Place) { p.Side = 3 }, nil, abi.ReasonMalformed},
		{"type out of range", func(p *abi.Place) { p.Type = 0 }, nil, abi.ReasonMalformed},
		{"tif out of range", func(p *abi.Place) { p.TIF = 5 }, nil, abi.ReasonMalformed},
		{"unknown flag", func(p *abi.Place) { p.Flags = 1 << 5 }, nil, abi.ReasonMalformed},
		{"reject_post_only alone", func(p *abi.Place) { p.Flags = abi.RejectPostOnly }, nil, abi.ReasonMalformed},
		{"post_only with ioc", func(p *abi.Place) { p.Flags, p.TIF = abi.PostOnly, abi.ImmediateOrCancel }, nil, abi.ReasonMalformed},
		{"market with a price", func(p *abi.Place) { p.Type = abi.Market }, nil, abi.ReasonMalformed},
		{"reserved byte", nil, func(r []byte) { r[23] = 1 }, abi.ReasonMalformed},
		{"bytes after the label", nil, func(r []byte) { r[48], r[60] = 'x', 'y' }, abi.ReasonMalformed},
		{"unknown instrument", func(p *abi.Place) { p.Instrument = 2 }, nil, abi.ReasonUnknownInstrument},
		{"price 0", func(p *abi.Place) { p.Price = 0 }, nil, abi.ReasonBadPrice},
		{"negative price", func(p *abi.Place) { p.Price = -fx("1") }, nil, abi.ReasonBadPrice},
		{"off tick", func(p *abi.Place) { p.Price = fx("60000.25") }, nil, abi.ReasonBadTick},
		{"below min", func(p *abi.Place) { p.Amount = fx("5") }, nil, abi.ReasonBelowMinAmount},
		{"not a multiple", func(p *abi.Place) { p.Amount = fx("25") }, nil, abi.ReasonBadAmount},
		{"amount 0", func(p *abi.Place) { p.Amount = 0 }, nil, abi.ReasonBadAmount},
		{"market order", func(p *abi.Place) { p.Type, p.Price, p.TIF = abi.Market, 0, abi.ImmediateOrCancel }, nil, 0},
		{"tick step above 1000", func(p *abi.Place) { p.Instrument, p.Price, p.Amount = 1, fx("1500.05"), fx("0.01") }, nil, abi.ReasonBadTick},
		{"tick below the step", func(p *abi.Place) { p.Instrument, p.Price, p.Amount = 1, fx("999.95"), fx("0.01") }, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ok
			if tc.mutate != nil {
				tc.mutate(&p)
			}
			rec := abi.AppendPlace(nil, &p)
			if tc.raw != nil {
				tc.raw(rec)
			}
			var dec abi.Place
			if err := abi.DecodePlace(rec, &dec); err != nil {
				t.Fatal(err)
			}
			if got := validatePlace(rec, &dec, table); got != tc.want {
				t.Fatalf("reason %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRiskLimits(t *testing.T) {
	var killed atomic.Bool
	buy := func(price, amount string) *abi.Place {
		return &abi.Place{Side: abi.Buy, Type: abi.Limit, Price: fx(price), Amount: fx(amount)}
	}
	sell := func(price, amount string) *abi.Place {
		return &abi.Place{Side: abi.Sell, Type: abi.Limit, Price: fx(price), Amount: fx(amount)}
	}
	for _, tc := range []struct {
		name string
		lim  RiskLimits
		in   *abi.Instrument
		p    *abi.Place
		ex   exposure
		want abi.Reason
	}{
		{"no limits", RiskLimits{}, &btcPerp, buy("60000", "1000000"), exposure{}, 0},
		{"order amount", RiskLimits{MaxOrderAmount: fx("100")}, &btcPerp, buy("60000", "110"), exposure{}, abi.ReasonRiskMaxOrderAmount},
		{"open orders", RiskLimits{MaxOpenOrders: 2}, &btcPerp, buy("60000", "10"), exposure{openOrders: 2}, abi.ReasonRiskMaxOpenOrders},
		{"position counts open buys", RiskLimits{MaxPosition: fx("100")}, &btcPerp, buy("60000", "30"),
			exposure{position: fx("50"), openBuy: fx("30")}, abi.ReasonRiskMaxPosition},
		{"position within", RiskLimits{MaxPosition: fx("100")}, &btcPerp, buy("60000", "20"),
			exposure{position: fx("50"), openBuy: fx("30")}, 0},
		{"short side", RiskLimits{MaxPosition: fx("100")}, &btcPerp, sell("60000", "60"),
			exposure{position: -fx("50")}, abi.ReasonRiskMaxPosition},
		{"selling a long is fine", RiskLimits{MaxPosition: fx("100")}, &btcPerp, sell("60000", "150"),
			exposure{position: fx("100")}, 0},
		{"reduce_only is not capped", RiskLimits{MaxPosition: fx("100")}, &btcPerp,
			&abi.Place{Side: abi.Buy, Type: abi.Limit, Price: fx("1"), Amount: fx("500"), Flags: abi.ReduceOnly},
			exposure{position: fx("90")}, 0},
		{"inverse notional is the amount", RiskLimits{MaxNotional: 1000}, &btcPerp, buy("60000", "600"),
			exposure{openNotional: 500}, abi.ReasonRiskMaxNotional},
		{"linear notional is amount × price", RiskLimits{MaxNotional: 10000}, &ethLinear, buy("3000", "3"),
			exposure{openNotional: 1500}, abi.ReasonRiskMaxNotional},
		{"linear notional within", RiskLimits{MaxNotional: 10000}, &ethLinear, buy("3000", "2"),
			exposure{openNotional: 1500}, 0},
		{"price band", RiskLimits{PriceBandBps: 100}, &btcPerp, buy("59000", "10"), exposure{mark: fx("60000")}, abi.ReasonRiskPriceBand},
		{"inside the band", RiskLimits{PriceBandBps: 100}, &btcPerp, buy("59500", "10"), exposure{mark: fx("60000")}, 0},
		{"no mark, no band", RiskLimits{PriceBandBps: 100}, &btcPerp, buy("1", "10"), exposure{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRisk(tc.lim, &killed)
			if got := r.checkPlace(tc.p, tc.in, &tc.ex); got != tc.want {
				t.Fatalf("reason %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRiskAmend(t *testing.T) {
	var killed atomic.Bool
	r := newRisk(RiskLimits{MaxPosition: fx("100"), MaxNotional: 100}, &killed)
	o := &order{side: abi.Buy, typ: abi.Limit, price: fx("60000"), amount: fx("50"), filled: fx("10")}
	ex := exposure{position: fx("10"), openBuy: fx("40"), openNotional: 40}
	// The amend replaces the order's rest (40) by its new rest.
	if got := r.checkAmend(&abi.Amend{Price: fx("60000"), Amount: fx("100")}, o, &btcPerp, &ex); got != 0 {
		t.Fatalf("to 100 (rest 90, position 10): %v", got)
	}
	if got := r.checkAmend(&abi.Amend{Price: fx("60000"), Amount: fx("110")}, o, &btcPerp, &ex); got != abi.ReasonRiskMaxPosition {
		t.Fatalf("to 110: %v", got)
	}
	r = newRisk(RiskLimits{MaxNotional: 80}, &killed)
	if got := r.checkAmend(&abi.Amend{Price: fx("60000"), Amount: fx("100")}, o, &btcPerp, &ex); got != abi.ReasonRiskMaxNotional {
		t.Fatalf("notional: %v", got)
	}
}

func TestRiskRateAndFlood(t *testing.T) {
	var killed atomic.Bool
	r := newRisk(RiskLimits{IntentsPerSecond: 10, IntentBurst: 3, FloodLimit: 5}, &killed)
	t0 := time.Unix(1000, 0)
	for i := range 3 {
		if got := r.admit(t0); got != 0 {
			t.Fatalf("intent %d of the burst: %v", i, got)
		}
	}
	if got := r.admit(t0); got != abi.ReasonRiskRate {
		t.Fatalf("over the burst: %v", got)
	}
	if got := r.admit(t0.Add(100 * time.Millisecond)); got != 0 {
		t.Fatalf("a token later: %v", got)
	}
	for i := range 5 {
		if r.flooding(t0, 1) {
			t.Fatalf("flooding after %d intents", i+1)
		}
	}
	if !r.flooding(t0.Add(500*time.Millisecond), 1) {
		t.Fatal("the 6th intent within a second is not a flood")
	}
	if r.flooding(t0.Add(1500*time.Millisecond), 1) {
		t.Fatal("a new second starts a new count")
	}
	killed.Store(true)
	if got := r.admit(t0.Add(time.Hour)); got != abi.ReasonRiskKillSwitch {
		t.Fatalf("kill switch: %v", got)
	}
	if newRisk(RiskLimits{IntentsPerSecond: -1}, new(atomic.Bool)).admit(t0) != 0 {
		t.Fatal("a negative rate is no limit")
	}
}

func TestPositionAccounting(t *testing.T) {
	pl := &plugin{pos: []position{{}, {inverse: true}}}
	// Linear: buy 2 @ 100, buy 2 @ 110 → avg 105; sell 3 @ 120 → realized 45; sell 3 @ 90 → flip to -2 @ 90.
	pl.applyFill(0, abi.Buy, fx("100"), fx("2"), 0)
	p := pl.applyFill(0, abi.Buy, fx("110"), fx("2"), 0)
	if p.size != fx("4") || p.avg != 105 {
		t.Fatalf("after buys: %+v", *p)
	}
	p = pl.applyFill(0, abi.Sell, fx("120"), fx("3"), fx("0.5"))
	if p.size != fx("1") || p.realized != 45 || p.fees != 0.5 {
		t.Fatalf("after a partial close: %+v", *p)
	}
	p = pl.applyFill(0, abi.Sell, fx("90"), fx("3"), 0)
	if p.size != -fx("2") || p.avg != 90 || p.realized != 30 {
		t.Fatalf("after a flip: %+v", *p)
	}
	// Inverse: long 100 USD at 50000, closed at 60000: 100 × (1/50000 − 1/60000) BTC.
	pl.applyFill(1, abi.Buy, fx("50000"), fx("100"), 0)
	p = pl.applyFill(1, abi.Sell, fx("60000"), fx("100"), 0)
	if want := 100 * (1.0/50000 - 1.0/60000); p.size != 0 || p.realized < want-1e-12 || p.realized > want+1e-12 {
		t.Fatalf("inverse: %+v, want realized %v", *p, want)
	}
}
