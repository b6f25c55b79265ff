package abi

import (
	"math"
	"strconv"
	"testing"
)

func TestFixedText(t *testing.T) {
	for _, c := range []struct {
		s    string
		want Fixed
	}{
		{"0", 0}, {"-0", 0}, {"1", FixedScale}, {"65000.5", 6500050000000}, {"0.0005", 50000},
		{"-0.00000046", -46}, {"1.50", 150000000}, {"00012", 12 * FixedScale},
		{"92233720368.54775807", math.MaxInt64}, {"-92233720368.54775808", math.MinInt64},
	} {
		got, err := ParseFixed(c.s)
		if err != nil || got != c.want {
			t.Errorf("ParseFixed(%q) = %d, %v; want %d", c.s, got, err, c.want)
		}
	}
	for _, s := range []string{"", "-", ".5", "1.", "1e5", "+1", "1.123456789", "0x10", "1 ", "--1", "1.2.3",
		"92233720368.54775808", "-92233720368.54775809", "99999999999999999999", "184467440737.09551616"} {
		if v, err := ParseFixed(s); err == nil {
			t.Errorf("ParseFixed(%q) = %d, want an error", s, v)
		}
	}
	for _, c := range []struct {
		x    Fixed
		want string
	}{
		{0, "0"}, {1, "0.00000001"}, {-1, "-0.00000001"}, {6500050000000, "65000.5"}, {-46, "-0.00000046"},
		{math.MaxInt64, "92233720368.54775807"}, {math.MinInt64, "-92233720368.54775808"}, {10 * FixedScale, "10"},
	} {
		if got := c.x.String(); got != c.want {
			t.Errorf("%d.String() = %q, want %q", int64(c.x), got, c.want)
		}
	}
}

func TestFixedFloat(t *testing.T) {
	// Every Deribit-like decimal converts exactly both ways.
	for _, s := range []string{"65000.5", "0.0005", "0.05", "3400.05", "0.0001", "-12.75", "0.00012345", "89999999.99999999"} {
		x := fx8(s)
		f, _ := strconv.ParseFloat(s, 64)
		if got, ok := FixedFromFloat(f); !ok || got != x {
			t.Errorf("FixedFromFloat(%s) = %v, %v", s, got, ok)
		}
		if x.Float64() != f {
			t.Errorf("%s.Float64() = %v, want %v", s, x.Float64(), f)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e11, -1e11} {
		if x, ok := FixedFromFloat(f); ok || x != 0 {
			t.Errorf("FixedFromFloat(%v) = %v, %v", f, x, ok)
		}
	}
	if x, ok := FixedFromFloat(1e-9); !ok || x != 0 {
		t.Errorf("1e-9 rounds to %v", x)
	}
	if x, ok := FixedFromFloat(-0.5e-8); !ok || x != -1 {
		t.Errorf("-0.5e-8 rounds to %v, want -0.00000001 (halves away from zero)", x)
	}
	if x, ok := FixedFromInt(12); !ok || x != 12*FixedScale {
		t.Error(x)
	}
	if _, ok := FixedFromInt(math.MaxInt64 / 10); ok {
		t.Error("FixedFromInt overflow")
	}
}

func FuzzFixed(f *testing.F) {
	for _, s := range fixedTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := ParseFixed(s)
		if err != nil {
			return
		}
		y, err := ParseFixed(x.String())
		if err != nil || y != x {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, x, x.String(), y, err)
		}
	})
}
