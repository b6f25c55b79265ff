package strategy_test

import (
	"math"
	"testing"

	"github.com/stratbox/stratbox/abi"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
	"github.com/stratbox/stratbox/plugins/sdk/go/strategytest"
)

func TestRounding(t *testing.T) {
	for _, tc := range []struct {
		x, step, floor, ceil abi.Fixed
	}{
		{F(65000.3), F(0.5), F(65000), F(65000.5)},
		{F(65000.5), F(0.5), F(65000.5), F(65000.5)},
		{F(-1.3), F(0.5), F(-1.5), F(-1)},
		{F(-1.5), F(0.5), F(-1.5), F(-1.5)},
		{0, F(0.5), 0, 0},
		{F(7), 0, F(7), F(7)}, // no step
	} {
		if got := strategy.FloorTo(tc.x, tc.step); got != tc.floor {
			t.Errorf("FloorTo(%v, %v) = %v, want %v", tc.x, tc.step, got, tc.floor)
		}
		if got := strategy.CeilTo(tc.x, tc.step); got != tc.ceil {
			t.Errorf("CeilTo(%v, %v) = %v, want %v", tc.x, tc.step, got, tc.ceil)
		}
	}
}

func TestPriceWithTickSteps(t *testing.T) {
	// Deribit's BTC options: tick 0.0001 up to 0.005, 0.0005 above.
	opt := &abi.Instrument{TickSize: F(0.0001), MinAmount: F(0.1),
		TickSteps: []abi.TickStep{{AbovePrice: F(0.005), TickSize: F(0.0005)}}}
	perp := strategytest.Perpetual("BTC-PERPETUAL")
	for _, tc := range []struct {
		in          *abi.Instrument
		p, down, up abi.Fixed
	}{
		{&perp, F(64990.25), F(64990), F(64990.5)},
		{opt, F(0.00456), F(0.0045), F(0.0046)},
		{opt, F(0.005), F(0.005), F(0.005)},
		{opt, F(0.00501), F(0.005), F(0.0055)},
		{opt, F(0.0123), F(0.012), F(0.0125)},
	} {
		down, up := strategy.PriceDown(tc.in, tc.p), strategy.PriceUp(tc.in, tc.p)
		if down != tc.down || up != tc.up {
			t.Errorf("%v: down %v up %v, want %v %v", tc.p, down, up, tc.down, tc.up)
		}
		for _, r := range []abi.Fixed{down, up} {
			if r%tc.in.TickAt(r) != 0 {
				t.Errorf("%v is not on the tick at that price (%v)", r, tc.in.TickAt(r))
			}
		}
	}
	if got := strategy.AmountDown(opt, F(1.25)); got != F(1.2) {
		t.Errorf("AmountDown = %v", got)
	}
}

func TestMul(t *testing.T) {
	const maxF, minF = abi.Fixed(math.MaxInt64), abi.Fixed(math.MinInt64)
	for _, tc := range []struct {
		a, b, want abi.Fixed
	}{
		{F(65000.5), F(0.1), F(6500.05)},
		{F(-2), F(0.00000001), F(-0.00000002)},
		{F(0.00000001), F(0.5), F(0.00000001)},   // 0.000000005 rounds half away from zero
		{F(-0.00000001), F(0.5), F(-0.00000001)}, // in both directions
		{F(0.00000001), F(0.49999999), 0},        // below half
		{F(90000000000), F(90000000000), maxF},   // saturates
		{F(-90000000000), F(90000000000), minF},  // at both ends
		{minF, F(1), minF},                       // the minimum times one
		{F(65000), F(100), F(6500000)},           // notional
		{F(3), F(-4), F(-12)},                    // signs
	} {
		if got := strategy.Mul(tc.a, tc.b); got != tc.want {
			t.Errorf("Mul(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	if got := strategy.Bps(F(65000), F(5)); got != F(32.5) {
		t.Errorf("Bps(65000, 5) = %v", got)
	}
	if got := strategy.Bps(F(0.0455), F(2.5)); got != F(0.00001138) { // 0.0000113750 rounds up
		t.Errorf("Bps(0.0455, 2.5) = %v", got)
	}
	if strategy.Mid(F(100), F(101)) != F(100.5) || strategy.Abs(F(-3)) != F(3) || strategy.Abs(minF) != maxF {
		t.Error("Mid or Abs")
	}
}
