package deribit

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/abi"
)

func TestFixedFromText(t *testing.T) {
	for _, c := range []struct {
		in   string
		want abi.Fixed
		err  error
	}{
		{"0.0005", 50000, nil},
		{"60000.5", 6000050000000, nil},
		{"1e-8", 1, nil},
		{"1E-8", 1, nil},
		{"100e-10", 1, nil},
		{"0.1e1", 100000000, nil},
		{"2.5e3", 250000000000, nil},
		{"2.5E+3", 250000000000, nil},
		{"-0.00000046", -46, nil},
		{"0", 0, nil},
		{"-0", 0, nil},
		{"0.0", 0, nil},
		{"0e-999999999999999999999", 0, nil},
		{"10", 1000000000, nil},
		{"0.000000010", 1, nil},
		{"60000.50000000000000000000", 6000050000000, nil},
		{"92233720368.54775807", math.MaxInt64, nil},
		{"-92233720368.54775808", math.MinInt64, nil},
		{"9223372036854775807e-8", math.MaxInt64, nil},
		{"0.00000001000000000000000000000000000000000000000001", 0, ErrFixedPrecision},
		{"1e-9", 0, ErrFixedPrecision},
		{"0.123456789", 0, ErrFixedPrecision},
		{"60000.000000001", 0, ErrFixedPrecision},
		{"1e-400", 0, ErrFixedPrecision},
		{"92233720368.54775808", 0, ErrFixedRange},
		{"-92233720368.54775809", 0, ErrFixedRange},
		{"1e11", 0, ErrFixedRange},
		{"1e400", 0, ErrFixedRange},
		{"1e99999999999999999999999", 0, ErrFixedRange},
		{"123456789012345678901234567890", 0, ErrFixedRange},
		{"99999999999", 0, ErrFixedRange},
		{"NaN", 0, ErrFixedSyntax},
		{"nan", 0, ErrFixedSyntax},
		{"Infinity", 0, ErrFixedSyntax},
		{"-Infinity", 0, ErrFixedSyntax},
		{"", 0, ErrFixedSyntax},
		{"-", 0, ErrFixedSyntax},
		{"1.", 0, ErrFixedSyntax},
		{".5", 0, ErrFixedSyntax},
		{"+1", 0, ErrFixedSyntax},
		{"01", 0, ErrFixedSyntax},
		{"1e", 0, ErrFixedSyntax},
		{"1e+", 0, ErrFixedSyntax},
		{"0x10", 0, ErrFixedSyntax},
		{"1 ", 0, ErrFixedSyntax},
		{" 1", 0, ErrFixedSyntax},
		{`"1"`, 0, ErrFixedSyntax},
		{"null", 0, ErrFixedSyntax},
		{"1.2.3", 0, ErrFixedSyntax},
		{"--1", 0, ErrFixedSyntax},
	} {
		got, err := FixedFromText([]byte(c.in))
		if !errors.Is(err, c.err) || (c.err == nil && got != c.want) {
			t.Errorf("FixedFromText(%q) = %d, %v; want %d, %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestFixedFromTextRound(t *testing.T) {
	for _, c := range []struct {
		in   string
		want abi.Fixed
		err  error
	}{
		{"1e-9", 0, nil},
		{"5e-9", 1, nil},
		{"-5e-9", -1, nil},
		{"4.9e-9", 0, nil},
		{"0.123456785", 12345679, nil},
		{"-0.123456785", -12345679, nil},
		{"0.123456784999", 12345678, nil},
		{"0.00000000999", 1, nil},
		{"1e-400", 0, nil},
		{"52.123456789", 5212345679, nil},
		{"60000.5", 6000050000000, nil},
		{"92233720368.547758074", math.MaxInt64, nil},
		{"92233720368.547758075", 0, ErrFixedRange},
		{"NaN", 0, ErrFixedSyntax},
	} {
		got, err := FixedFromTextRound([]byte(c.in))
		if !errors.Is(err, c.err) || (c.err == nil && got != c.want) {
			t.Errorf("FixedFromTextRound(%q) = %d, %v; want %d, %v", c.in, got, err, c.want, c.err)
		}
	}
}

// TestFixedFromTextAgrees: every Fixed round-trips through its exact text
// and through the texts a JSON encoder writes for its float64 (Go's
// encoding/json switches to exponents below 1e-6).
func TestFixedFromTextAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		x := abi.Fixed(r.Int64())
		if i%2 == 0 {
			x = abi.Fixed(r.Int64N(1e15) - 5e14)
		}
		if i%3 == 0 {
			x = abi.Fixed(r.Int64N(2000) - 1000)
		}
		got, err := FixedFromText(abi.AppendFixed(nil, x))
		if err != nil || got != x {
			t.Fatalf("%v: got %d, %v", x, got, err)
		}
		if x > -1e15 && x < 1e15 { // 15 significant digits survive a float64 round trip
			f := float64(x) / abi.FixedScale
			for _, s := range []string{strconv.FormatFloat(f, 'g', -1, 64), strconv.FormatFloat(f, 'e', -1, 64)} {
				got, err := FixedFromText([]byte(strings.Replace(s, "e-0", "e-", 1)))
				if err != nil || got != x {
					t.Fatalf("%v as %s: got %d, %v", x, s, got, err)
				}
			}
		}
	}
}

func TestFixedFromTextNoAlloc(t *testing.T) {
	in := []byte("60000.5")
	if n := testing.AllocsPerRun(100, func() { _, _ = FixedFromText(in); _, _ = FixedFromText([]byte("NaN")) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func FuzzFixedFromText(f *testing.F) {
	for _, s := range []string{"0.0005", "60000.5", "1e-8", "1e-9", "-0", "92233720368.54775807", "1e400", "NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := FixedFromText([]byte(s))
		r, rerr := FixedFromTextRound([]byte(s))
		if err == nil {
			if rerr != nil || r != x {
				t.Fatalf("%q: exact %d, rounded %d %v", s, x, r, rerr)
			}
			// Exact results agree with the decimal value: re-parse the
			// canonical text.
			if y, err := abi.ParseFixed(x.String()); err != nil || y != x {
				t.Fatalf("%q: %d does not round-trip: %d %v", s, x, y, err)
			}
			if f, perr := strconv.ParseFloat(s, 64); perr == nil && math.Abs(f*1e8-float64(x)) > math.Abs(f*1e8)*1e-12+1 {
				t.Fatalf("%q: %d is far from the float %v", s, x, f)
			}
		}
		if p, ok := plainDecimal([]byte(s)); ok {
			if g, gerr := generalDecimal([]byte(s), false); gerr != nil || g != p {
				t.Fatalf("%q: fast path %d, general %d %v", s, p, g, gerr)
			}
		}
		if errors.Is(err, ErrFixedSyntax) != errors.Is(rerr, ErrFixedSyntax) {
			t.Fatalf("%q: syntax errors differ: %v / %v", s, err, rerr)
		}
	})
}
