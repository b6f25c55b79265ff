package abi

import (
	"errors"
	"math"
	"strconv"
)

// Fixed is a price, an amount, a fee or any other decimal quantity: a signed
// 64-bit count of 10^-8 units (FixedScale units make 1). 65000.5 is
// Fixed(6500050000000); the range is ±92,233,720,368.54775807.
//
// One scale for every field of every instrument, so that values of two
// instruments compare without a look-up, and every Deribit tick size and
// minimum amount (0.5, 0.05, 0.0005, 0.0001 BTC, 0.001 ETH) is an exact
// integer. See README.md "Numbers".
type Fixed int64

// FixedScale is the number of Fixed units in 1; FixedDecimals its exponent.
const (
	FixedScale    = 100_000_000
	FixedDecimals = 8
)

// FixedFromFloat converts f to the nearest Fixed (halves away from zero).
// ok is false for NaN, ±Inf and values outside Fixed's range, and the result
// is then 0. Every decimal with at most 8 fractional digits and a magnitude
// below 2^53/10^8 (about 9.0e7) converts exactly from the float64 nearest to
// it; larger values may be off by a few units in the last place.
func FixedFromFloat(f float64) (x Fixed, ok bool) {
	v := math.Round(f * FixedScale)
	if v != v || v >= 0x1p63 || v < -0x1p63 {
		return 0, false
	}
	return Fixed(v), true
}

// FixedFromInt returns n units (n × FixedScale), and false on overflow.
func FixedFromInt(n int64) (Fixed, bool) {
	if n > math.MaxInt64/FixedScale || n < math.MinInt64/FixedScale {
		return 0, false
	}
	return Fixed(n * FixedScale), true
}

// Float64 returns the float64 nearest to x/10^8 (exactly what parsing x's
// decimal text would give, for |x| < 2^53).
func (x Fixed) Float64() float64 { return float64(x) / FixedScale }

// String returns x as an exact decimal: no exponent, no trailing zeros in the
// fraction, no fraction for whole numbers ("65000.5", "-0.0005", "10").
func (x Fixed) String() string { return string(AppendFixed(nil, x)) }

// AppendFixed appends x's decimal text (as String) to dst.
func AppendFixed(dst []byte, x Fixed) []byte {
	u := uint64(x)
	if x < 0 {
		dst = append(dst, '-')
		u = -u
	}
	dst = strconv.AppendUint(dst, u/FixedScale, 10)
	frac := u % FixedScale
	if frac == 0 {
		return dst
	}
	var buf [FixedDecimals]byte
	n := FixedDecimals
	for i := FixedDecimals - 1; i >= 0; i-- {
		buf[i] = byte('0' + frac%10)
		frac /= 10
	}
	for n > 0 && buf[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, buf[:n]...)
}

var (
	errFixedSyntax = errors.New("abi: not a decimal number of the form -?digits[.digits]")
	errFixedDigits = errors.New("abi: decimal has more than 8 fractional digits")
	errFixedRange  = errors.New("abi: decimal is outside the range of Fixed")
)

// ParseFixed parses a decimal of the form -?[0-9]+(\.[0-9]{1,8})? exactly.
// It does not accept exponents, signs other than a leading '-', or more than
// 8 fractional digits (which would need rounding).
func ParseFixed(s string) (Fixed, error) { return parseFixed([]byte(s)) }

func parseFixed(b []byte) (Fixed, error) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 {
		return 0, errFixedSyntax
	}
	var whole uint64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if whole > (math.MaxUint64-9)/10 {
			return 0, errFixedRange
		}
		whole = whole*10 + uint64(b[i]-'0')
	}
	if i == 0 {
		return 0, errFixedSyntax
	}
	var frac uint64
	if i < len(b) {
		if b[i] != '.' || i+1 == len(b) {
			return 0, errFixedSyntax
		}
		digits := 0
		for i++; i < len(b); i++ {
			if b[i] < '0' || b[i] > '9' {
				return 0, errFixedSyntax
			}
			if digits == FixedDecimals {
				return 0, errFixedDigits
			}
			frac = frac*10 + uint64(b[i]-'0')
			digits++
		}
		for ; digits < FixedDecimals; digits++ {
			frac *= 10
		}
	}
	if whole > math.MaxUint64/FixedScale {
		return 0, errFixedRange
	}
	u := whole*FixedScale + frac
	if u < frac {
		return 0, errFixedRange
	}
	switch {
	case neg && u <= 1<<63:
		return Fixed(-u), nil
	case !neg && u < 1<<63:
		return Fixed(u), nil
	}
	return 0, errFixedRange
}

// MarshalJSON renders x as a JSON number with x's exact decimal text.
func (x Fixed) MarshalJSON() ([]byte, error) { return AppendFixed(nil, x), nil }

// UnmarshalJSON parses a JSON number written as ParseFixed accepts.
func (x *Fixed) UnmarshalJSON(b []byte) error {
	v, err := parseFixed(b)
	if err != nil {
		return err
	}
	*x = v
	return nil
}
