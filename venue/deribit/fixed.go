package deribit

import (
	"errors"
	"math"

	"github.com/stratbox/stratbox/abi"
)

// Errors of FixedFromText and FixedFromTextRound. They are sentinels (no
// allocation), so that a bad number on the hot path costs nothing extra.
var (
	// ErrFixedSyntax: the text is not a JSON number (NaN, Infinity, "1.",
	// "+1", "0x10", "01", a string, ...).
	ErrFixedSyntax = errors.New("deribit: not a JSON number")
	// ErrFixedPrecision: the number has digits below 10^-8 that are not
	// zero (FixedFromText only; FixedFromTextRound rounds them).
	ErrFixedPrecision = errors.New("deribit: number has more than 8 decimals")
	// ErrFixedRange: the number is outside abi.Fixed's range
	// (±92,233,720,368.54775807).
	ErrFixedRange = errors.New("deribit: number is outside the range of abi.Fixed")
)

// FixedFromText converts the text of a JSON number (as the exchange sent it:
// "0.0005", "60000.5", "1e-8", "2.5E+3", "-0") to abi.Fixed exactly, from the
// decimal digits, never through a float64. A number with a non-zero digit
// below 10^-8 fails with ErrFixedPrecision ("1e-9", "0.123456789"); one
// outside Fixed's range with ErrFixedRange; anything that is not a JSON
// number with ErrFixedSyntax. It does not allocate.
//
// Use it where inexactness would be a bug: tick sizes, contract sizes and
// minimum amounts of the instrument table (abi/README.md "Numbers").
func FixedFromText(b []byte) (abi.Fixed, error) { return parseDecimal(b, false) }

// FixedFromTextRound is FixedFromText that rounds digits below 10^-8 half
// away from zero instead of failing (abi/README.md "Numbers": a fee of more
// than 8 decimals, an implied volatility, an average price). Numbers with at
// most 8 decimals convert exactly, as with FixedFromText. The translator
// uses it for every number of a notification.
func FixedFromTextRound(b []byte) (abi.Fixed, error) { return parseDecimal(b, true) }

// maxExp bounds the exponent: any larger magnitude is saturated, which keeps
// the arithmetic in int range and gives the same answer (zero or a range
// error) for any input shorter than maxExp digits.
const maxExp = 1 << 30

// parseDecimal validates b against JSON's number grammar and converts it.
//
// The number is read as a digit string D (integer then fraction digits) and
// the count P of D's digits that stand before the decimal point once the
// exponent is applied. value × 10^8 then has q = P + 8 integer digits: the
// first q digits of D (padded with zeros when D is shorter); the digits
// after them are the part below 10^-8.
func parseDecimal(b []byte, round bool) (abi.Fixed, error) {
	if x, ok := plainDecimal(b); ok {
		return x, nil
	}
	return generalDecimal(b, round)
}

// generalDecimal is parseDecimal without the fast path.
func generalDecimal(b []byte, round bool) (abi.Fixed, error) {
	i, n := 0, len(b)
	neg := false
	if i < n && b[i] == '-' {
		neg = true
		i++
	}
	intStart := i
	switch {
	case i < n && b[i] == '0':
		i++
	case i < n && b[i] >= '1' && b[i] <= '9':
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0, ErrFixedSyntax
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < n && b[i] == '.' {
		i++
		fracStart = i
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == fracStart {
			return 0, ErrFixedSyntax
		}
		fracEnd = i
	}
	exp := 0
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < n && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		d := i
		for i < n && b[i] >= '0' && b[i] <= '9' {
			if exp < maxExp {
				exp = exp*10 + int(b[i]-'0')
			}
			i++
		}
		if i == d {
			return 0, ErrFixedSyntax
		}
		if exp > maxExp {
			exp = maxExp
		}
		if eneg {
			exp = -exp
		}
	}
	if i != n {
		return 0, ErrFixedSyntax
	}

	// digit k of D, 0-based, over the integer and the fraction digits.
	nInt, nFrac := intEnd-intStart, fracEnd-fracStart
	nd := nInt + nFrac
	digit := func(k int) byte {
		if k < nInt {
			return b[intStart+k]
		}
		return b[fracStart+k-nInt]
	}
	// Strip leading zeros: each one moves the decimal point left by one.
	lead := 0
	for lead < nd && digit(lead) == '0' {
		lead++
	}
	if lead == nd {
		return 0, nil // zero, "-0" included
	}
	p := nInt + exp - lead // digits of D[lead:] before the decimal point
	q := p + abi.FixedDecimals
	rest := nd - lead // significant digits
	if q <= 0 {
		// The value is below 10^-8 and not zero.
		if !round {
			return 0, ErrFixedPrecision
		}
		if q == 0 && digit(lead) >= '5' {
			return fixedSign(1, neg)
		}
		return 0, nil
	}
	if q > 19 {
		return 0, ErrFixedRange // at least 10^18 units: beyond 2^63 - 1 once scaled
	}
	var u uint64
	k := 0
	for ; k < q && k < rest; k++ {
		u = u*10 + uint64(digit(lead+k)-'0')
	}
	for ; k < q; k++ { // D is shorter than q: pad with zeros
		if u > math.MaxUint64/10 {
			return 0, ErrFixedRange
		}
		u *= 10
	}
	if q < rest {
		if round {
			if digit(lead+q) >= '5' {
				u++
			}
		} else {
			for k := q; k < rest; k++ {
				if digit(lead+k) != '0' {
					return 0, ErrFixedPrecision
				}
			}
		}
	}
	return fixedSign(u, neg)
}

// pow10u are the powers of ten that scale a fraction of 0..8 digits.
var pow10u = [...]uint64{1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1}

// plainDecimal is the fast path for what exchanges send nearly always:
// -?digits(.digits)? without exponent, at most 11 integer and 8 fraction
// digits. ok is false for anything else (which the general path handles,
// errors included).
func plainDecimal(b []byte) (abi.Fixed, bool) {
	i, n := 0, len(b)
	neg := n > 0 && b[0] == '-'
	if neg {
		i++
	}
	start := i
	var whole uint64
	for i < n && i-start < 12 {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		whole = whole*10 + uint64(c)
		i++
	}
	nInt := i - start
	if nInt == 0 || nInt > 11 || (nInt > 1 && b[start] == '0') {
		return 0, false
	}
	var frac uint64
	nFrac := 0
	if i < n {
		if b[i] != '.' {
			return 0, false
		}
		i++
		fs := i
		for i < n && i-fs < 9 {
			c := b[i] - '0'
			if c > 9 {
				return 0, false
			}
			frac = frac*10 + uint64(c)
			i++
		}
		nFrac = i - fs
		if nFrac == 0 || nFrac > 8 || i != n {
			return 0, false
		}
	}
	u := whole*abi.FixedScale + frac*pow10u[nFrac]
	x, err := fixedSign(u, neg)
	return x, err == nil
}

func fixedSign(u uint64, neg bool) (abi.Fixed, error) {
	if neg {
		if u > 1<<63 {
			return 0, ErrFixedRange
		}
		return abi.Fixed(-u), nil
	}
	if u >= 1<<63 {
		return 0, ErrFixedRange
	}
	return abi.Fixed(u), nil
}
