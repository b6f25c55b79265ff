package strategy

import (
	"math"
	"math/bits"

	"github.com/stratbox/stratbox/abi"
)

// Arithmetic on abi.Fixed (a count of 10^-8) that strategies need: rounding
// to a tick or an amount step, products, basis points. None allocates.

// FloorTo returns the largest multiple of step that is <= x (x when step <= 0).
func FloorTo(x, step abi.Fixed) abi.Fixed {
	if step <= 0 {
		return x
	}
	q := x / step
	if x%step != 0 && x < 0 {
		q--
	}
	return q * step
}

// CeilTo returns the smallest multiple of step that is >= x (x when step <= 0).
func CeilTo(x, step abi.Fixed) abi.Fixed {
	if step <= 0 {
		return x
	}
	q := x / step
	if x%step != 0 && x > 0 {
		q++
	}
	return q * step
}

// PriceDown returns p rounded down to the instrument's tick at that price
// (tick steps included): a bid or a sell limit that must not cross.
func PriceDown(in *abi.Instrument, p abi.Fixed) abi.Fixed {
	r := FloorTo(p, in.TickAt(p))
	if t := in.TickAt(r); r%t != 0 { // rounded across a tick step
		r = FloorTo(r, t)
	}
	return r
}

// PriceUp returns p rounded up to the instrument's tick at that price.
func PriceUp(in *abi.Instrument, p abi.Fixed) abi.Fixed {
	r := CeilTo(p, in.TickAt(p))
	if t := in.TickAt(r); r%t != 0 {
		r = CeilTo(r, t)
	}
	return r
}

// AmountDown returns a rounded down to the instrument's amount step (its
// min_amount); the result may be 0.
func AmountDown(in *abi.Instrument, a abi.Fixed) abi.Fixed { return FloorTo(a, in.MinAmount) }

// Mid returns the middle of bid and ask, rounded down to 10^-8.
func Mid(bid, ask abi.Fixed) abi.Fixed { return bid + (ask-bid)/2 }

// Mul returns a × b (a price times an amount, a price times a rate),
// rounded half away from zero, saturating at the range of Fixed. The
// product is exact before rounding (128-bit).
func Mul(a, b abi.Fixed) abi.Fixed { return mulDiv(a, b, abi.FixedScale) }

// Bps returns x × bps / 10,000, where bps is a number of basis points as a
// Fixed (5 bps is 5 × abi.FixedScale): Bps(mid, spread) is a spread of
// spread basis points of mid. Rounded and saturated like Mul.
func Bps(x, bps abi.Fixed) abi.Fixed { return mulDiv(x, bps, abi.FixedScale*10_000) }

// Abs returns |x| (saturating: |min| is max).
func Abs(x abi.Fixed) abi.Fixed {
	if x >= 0 {
		return x
	}
	if x == math.MinInt64 {
		return math.MaxInt64
	}
	return -x
}

// mulDiv returns a × b / d rounded half away from zero, saturated.
func mulDiv(a, b abi.Fixed, d uint64) abi.Fixed {
	neg := (a < 0) != (b < 0)
	hi, lo := bits.Mul64(absU(a), absU(b))
	if hi >= d {
		return sat(neg)
	}
	q, r := bits.Div64(hi, lo, d)
	if r >= d-r { // r >= d/2 without rounding d
		q++
	}
	if q > math.MaxInt64 {
		return sat(neg)
	}
	if neg {
		return -abi.Fixed(q)
	}
	return abi.Fixed(q)
}

func absU(x abi.Fixed) uint64 {
	if x < 0 {
		return uint64(-x) // MinInt64 wraps to 1<<63, its magnitude
	}
	return uint64(x)
}

func sat(neg bool) abi.Fixed {
	if neg {
		return math.MinInt64
	}
	return math.MaxInt64
}
