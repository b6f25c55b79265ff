package host

import (
	"math"
	"math/big"
	"sync/atomic"
	"testing"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
)

// Issue 15, reproduction 3: one small resting buy, then a buy of
// 9223372036000000000 fixed units. position + open buys + amount wrapped
// around int64 and passed max_position; now the sum saturates, and the
// hard ceiling refuses the amount whatever the limits.
func TestRiskRefusesOverflowingBuy(t *testing.T) {
	huge := abi.Fixed(9223372036000000000)
	ex := exposure{openOrders: 1, openBuy: fx("10")}
	p := abi.Place{CID: 2, Side: abi.Buy, Type: abi.Limit, TIF: abi.GoodTilCancelled, Price: fx("60000"), Amount: huge}
	for _, lim := range []RiskLimits{{MaxPosition: fx("100")}, {}} {
		r := newRisk(lim, new(atomic.Bool))
		if got := r.checkPlace(&p, &btcPerp, &ex); got == 0 {
			t.Fatalf("limits %+v: a buy of %d fixed units was admitted", lim, huge)
		}
	}
	// Below the ceiling, the position check alone must hold against an
	// exposure near the int64 limits (many orders at the ceiling).
	r := newRisk(RiskLimits{MaxPosition: fx("100")}, new(atomic.Bool))
	p.Amount = fx("10")
	for _, ex := range []exposure{{openBuy: math.MaxInt64 - 5}, {position: math.MaxInt64}, {openBuy: math.MaxInt64, position: math.MaxInt64}} {
		if got := r.checkPlace(&p, &btcPerp, &ex); got != abi.ReasonRiskMaxPosition {
			t.Errorf("exposure %+v: %v, want risk_max_position", ex, got)
		}
	}
	s := abi.Place{CID: 3, Side: abi.Sell, Type: abi.Limit, TIF: abi.GoodTilCancelled, Price: fx("60000"), Amount: fx("10")}
	for _, ex := range []exposure{{openSell: math.MaxInt64}, {position: math.MinInt64}, {openSell: math.MaxInt64, position: math.MinInt64 + 1}} {
		if got := r.checkPlace(&s, &btcPerp, &ex); got != abi.ReasonRiskMaxPosition {
			t.Errorf("exposure %+v: %v, want risk_max_position", ex, got)
		}
	}
	// An amend to the huge amount is refused too.
	o := &order{side: abi.Buy, price: fx("60000"), amount: fx("10")}
	a := abi.Amend{CID: 1, Price: fx("60000"), Amount: huge}
	if got := r.checkAmend(&a, o, &btcPerp, &exposure{openBuy: fx("10")}); got == 0 {
		t.Fatal("an amend to 9223372036000000000 fixed units was admitted")
	}
}

// The hard ceilings hold without any configured limit: amount and
// notional (linear: amount × price).
func TestRiskHardCeilings(t *testing.T) {
	r := newRisk(RiskLimits{}, new(atomic.Bool))
	for _, tc := range []struct {
		name  string
		in    *abi.Instrument
		price abi.Fixed
		amt   abi.Fixed
		want  abi.Reason
	}{
		{"amount at the ceiling", &btcPerp, fx("60000"), MaxOrderAmountCeiling, 0},
		{"amount above", &btcPerp, fx("60000"), MaxOrderAmountCeiling + 10*abi.FixedScale, abi.ReasonRiskMaxOrderAmount},
		{"linear notional above", &ethLinear, fx("3000"), fx("400000"), abi.ReasonRiskMaxNotional},
		{"linear notional within", &ethLinear, fx("3000"), fx("300000"), 0},
	} {
		p := abi.Place{CID: 1, Side: abi.Buy, Type: abi.Limit, TIF: abi.GoodTilCancelled, Price: tc.price, Amount: tc.amt}
		if got := r.checkPlace(&p, tc.in, &exposure{}); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSaturatingArithmetic(t *testing.T) {
	for _, c := range [][2]abi.Fixed{{math.MaxInt64, 1}, {math.MaxInt64, math.MaxInt64}, {math.MinInt64, -1},
		{math.MinInt64, math.MinInt64}, {math.MinInt64, math.MaxInt64}, {0, math.MinInt64}, {-1, math.MinInt64},
		{5, -7}, {math.MaxInt64, math.MinInt64}, {1, math.MinInt64}} {
		if got, want := satAdd(c[0], c[1]), exactClamp(new(big.Int).Add(big.NewInt(int64(c[0])), big.NewInt(int64(c[1])))); got != want {
			t.Errorf("satAdd(%d, %d) = %d, want %d", c[0], c[1], got, want)
		}
		if got, want := satSub(c[0], c[1]), exactClamp(new(big.Int).Sub(big.NewInt(int64(c[0])), big.NewInt(int64(c[1])))); got != want {
			t.Errorf("satSub(%d, %d) = %d, want %d", c[0], c[1], got, want)
		}
	}
}

func exactClamp(x *big.Int) abi.Fixed {
	switch {
	case x.Cmp(big.NewInt(math.MaxInt64)) > 0:
		return math.MaxInt64
	case x.Cmp(big.NewInt(math.MinInt64)) < 0:
		return math.MinInt64
	}
	return abi.Fixed(x.Int64())
}

// FuzzRiskChecks drives the place and amend checks with arbitrary limits,
// exposures and intents (0, negative, the int64 limits, NaN and ±Inf where
// floats enter): they never panic, and what they admit is within every
// limit by exact (big integer) arithmetic and within the hard ceilings.
func FuzzRiskChecks(f *testing.F) {
	f.Add(int64(fx("100")), int64(fx("10")), int64(0), int64(0), int64(9223372036000000000), int64(fx("60000")), 0.0, 0.0, 0.0, true, false, false)
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MinInt64), int64(math.MaxInt64), int64(math.MaxInt64), int64(1), math.NaN(), math.Inf(1), math.Inf(-1), false, true, true)
	f.Add(int64(0), int64(-1), int64(-5), int64(0), int64(-1), int64(0), 0.0, -1.0, 1e300, true, true, false)
	f.Fuzz(func(t *testing.T, maxPos, openBuy, openSell, position, amount, price int64, maxNotional, openNotional, mark float64,
		buy, linear, amend bool) {
		lim := RiskLimits{MaxPosition: abi.Fixed(maxPos), MaxNotional: maxNotional, IntentsPerSecond: -1}
		if lim.Validate() != nil {
			// Such limits never reach the checks (New refuses them); the
			// checks still must not panic on them.
			lim.MaxNotional = 0
			if lim.MaxPosition < 0 {
				lim.MaxPosition = 0
			}
		}
		in := &btcPerp
		if linear {
			in = &ethLinear
		}
		side := abi.Sell
		if buy {
			side = abi.Buy
		}
		markFx, _ := abi.FixedFromFloat(mark)
		ex := exposure{openBuy: abi.Fixed(openBuy), openSell: abi.Fixed(openSell), position: abi.Fixed(position),
			openNotional: openNotional, mark: markFx}
		r := newRisk(lim, new(atomic.Bool))
		var got abi.Reason
		var amt, px abi.Fixed = abi.Fixed(amount), abi.Fixed(price)
		var delta *big.Int // the change of (position + open orders of the side) if admitted
		if amend {
			o := &order{side: side, price: fx("60000"), amount: fx("10")}
			a := abi.Amend{CID: 1, Price: px, Amount: amt}
			got = r.checkAmend(&a, o, in, &ex)
			delta = new(big.Int).Sub(big.NewInt(amount), big.NewInt(int64(o.amount)))
		} else {
			p := abi.Place{CID: 1, Side: side, Type: abi.Limit, TIF: abi.GoodTilCancelled, Price: px, Amount: amt}
			got = r.checkPlace(&p, in, &ex)
			delta = big.NewInt(amount)
		}
		if got != 0 {
			return
		}
		if amt > MaxOrderAmountCeiling {
			t.Fatalf("amount %d above the ceiling admitted", amt)
		}
		if px > 0 || in == &btcPerp {
			if n := notional(in, px, amt); !(n <= MaxOrderNotionalCeiling) {
				t.Fatalf("notional %v above the ceiling admitted", n)
			}
		}
		if lim.MaxPosition > 0 {
			sum := new(big.Int)
			if buy {
				sum.Add(big.NewInt(position), big.NewInt(openBuy)).Add(sum, delta)
				if sum.Cmp(big.NewInt(maxPos)) > 0 {
					t.Fatalf("buy admitted: position %d + open %d + %d = %v > max %d", position, openBuy, delta, sum, maxPos)
				}
			} else {
				sum.Sub(big.NewInt(position), big.NewInt(openSell)).Sub(sum, delta)
				if sum.Cmp(new(big.Int).Neg(big.NewInt(maxPos))) < 0 {
					t.Fatalf("sell admitted: position %d - open %d - %d = %v < -max %d", position, openSell, delta, sum, maxPos)
				}
			}
		}
	})
}

// Reproduction 3 end to end: against the simulator, with max_position set,
// a small resting buy and then a buy of 9223372036000000000 fixed units:
// the second is refused by the host and never reaches the exchange.
func TestEngineRefusesOverflowingBuy(t *testing.T) {
	huge := abi.AppendPlace(nil, &abi.Place{Seq: 2, CID: 2, Side: abi.Buy, Type: abi.Limit, TIF: abi.GoodTilCancelled,
		Price: fx("1000"), Amount: 9223372036000000000})
	sb := newScriptBox(place(1, 1, 0, abi.Buy, "1000", "10"))
	lim := RiskLimits{MaxPosition: fx("100")}
	cfg := Config{Plugins: []PluginSpec{{Name: "script", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return sb },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}, Risk: &lim}}}
	r := startRig(t, cfg, nil)
	sb.waitOrder(t, 1, abi.StateOpen, abi.ReasonNone)
	sb.queue(huge)
	u := sb.waitOrder(t, 2, abi.StateRejected, abi.ReasonRiskMaxOrderAmount)
	if u.ExchangeOrderID[0] != 0 {
		t.Fatalf("the refused order has an exchange id: %s", u.ExchangeOrderID.String())
	}
	if left := ourOrders(r.srv); len(left) != 1 || left[0].Amount != 10 {
		t.Fatalf("orders on the book %+v, want the small buy only", left)
	}
}
