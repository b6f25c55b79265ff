package jsonscan

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"testing"
)

func TestWalk(t *testing.T) {
	in := []byte(` {"a": [1, -2.5e3, "x\"y", true, false, null, {}], "b":{"c":[]}, "d":"\u00e9\n"} `)
	var s Scanner
	s.Reset(in)
	if !s.Object() {
		t.Fatal(s.Err())
	}
	k, _ := s.Key()
	if string(k) != "a" || !s.Array() {
		t.Fatalf("key %q err %v", k, s.Err())
	}
	s.Elem()
	if i, ok := s.Int(); !ok || i != 1 {
		t.Fatal(i, s.Err())
	}
	s.Elem()
	if f, ok := s.Float(); !ok || f != -2500 {
		t.Fatal(f, s.Err())
	}
	s.Elem()
	if str, ok := s.String(); !ok || string(str) != `x\"y` || !HasEscape(str) {
		t.Fatal(string(str), s.Err())
	}
	s.Elem()
	if b, ok := s.Bool(); !ok || !b {
		t.Fatal(s.Err())
	}
	s.Elem()
	if b, ok := s.Bool(); !ok || b {
		t.Fatal(s.Err())
	}
	s.Elem()
	if !s.Null() {
		t.Fatal(s.Err())
	}
	s.Elem()
	if raw, ok := s.Skip(); !ok || string(raw) != "{}" {
		t.Fatal(string(raw), s.Err())
	}
	if s.Elem() {
		t.Fatal("array should end")
	}
	k, _ = s.Key()
	if raw, ok := s.Skip(); string(k) != "b" || !ok || string(raw) != `{"c":[]}` {
		t.Fatal(string(raw), s.Err())
	}
	k, _ = s.Key()
	str, _ := s.String()
	u, err := AppendUnescaped(nil, str)
	if string(k) != "d" || err != nil || string(u) != "é\n" {
		t.Fatalf("%q %v", u, err)
	}
	if _, ok := s.Key(); ok || s.Err() != nil || !s.End() {
		t.Fatalf("end: %v", s.Err())
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		run  func(s *Scanner) bool
	}{
		{"missing comma", `{"a":1 "b":2}`, func(s *Scanner) bool {
			s.Object()
			s.Key()
			s.Skip()
			_, ok := s.Key()
			return ok
		}},
		{"unterminated string", `"abc`, func(s *Scanner) bool { _, ok := s.String(); return ok }},
		{"mismatched", `{"a":[}`, func(s *Scanner) bool { _, ok := s.Skip(); return ok }},
		{"too deep", string(make([]byte, 0)) + deep(MaxDepth+1), func(s *Scanner) bool { _, ok := s.Skip(); return ok }},
		{"bad number", `-`, func(s *Scanner) bool { _, ok := s.Float(); return ok }},
		{"leading zero is two values", `01`, func(s *Scanner) bool { _, ok := s.Int(); return ok && s.End() }},
		{"int with fraction", `1.5`, func(s *Scanner) bool { _, ok := s.Int(); return ok }},
		{"int overflow", `9223372036854775808`, func(s *Scanner) bool { _, ok := s.Int(); return ok }},
		{"uint negative", `-1`, func(s *Scanner) bool { _, ok := s.Uint(); return ok }},
		{"bad literal", `nul`, func(s *Scanner) bool { return s.Null() }},
		{"empty", ``, func(s *Scanner) bool { _, ok := s.Skip(); return ok }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Scanner
			s.Reset([]byte(tt.in))
			if tt.run(&s) {
				t.Fatal("accepted")
			}
			if s.Err() != nil && !errors.Is(s.Err(), ErrSyntax) {
				t.Fatalf("error %v is not ErrSyntax", s.Err())
			}
		})
	}
}

func deep(n int) string {
	b := make([]byte, 0, 2*n)
	for i := 0; i < n; i++ {
		b = append(b, '[')
	}
	for i := 0; i < n; i++ {
		b = append(b, ']')
	}
	return string(b)
}

func TestFloatMatchesStrconv(t *testing.T) {
	for _, in := range []string{"0", "-0", "1", "0.1", "0.3", "65432.5", "1e22", "1e23", "123456789012345",
		"1234567890123456789", "0.000000000000000000000000001", "3.14159265358979323846", "2.5E-3",
		"9007199254740993", "1e308", "4.9e-324", "-12.75", "100000000000000000000000"} {
		var s Scanner
		s.Reset([]byte(in))
		got, ok := s.Float()
		want, _ := strconv.ParseFloat(in, 64)
		if !ok || math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("%s: got %v want %v", in, got, want)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	in := []byte(`{"bids":[["new",65432.5,12000.0],["delete",65431,0]],"name":"BTC-PERPETUAL","id":123}`)
	n := testing.AllocsPerRun(100, func() {
		var s Scanner
		s.Reset(in)
		s.Object()
		for k, ok := s.Key(); ok; k, ok = s.Key() {
			switch string(k) {
			case "bids":
				s.Array()
				for s.Elem() {
					s.Array()
					s.Elem()
					s.String()
					s.Elem()
					s.Float()
					s.Elem()
					s.Float()
					s.Elem()
				}
			case "id":
				s.Uint()
			default:
				s.Skip()
			}
		}
		if s.Err() != nil {
			panic(s.Err())
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// FuzzSkip checks Skip against encoding/json: every valid JSON text is
// skipped whole, and Float agrees with strconv on numbers.
func FuzzSkip(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,2,{"b":null}]}`, `"x\\\""`, `-1.5e-7`, `true`, `[[[[]]]]`,
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"bids":[["new",1,2]]}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var s Scanner
		s.Reset(in)
		raw, ok := s.Skip()
		if ok && (len(raw) == 0 || s.Pos() > len(in)) {
			t.Fatalf("bad raw %q", raw)
		}
		if json.Valid(in) {
			if !ok || !s.End() {
				if s.Err() == nil || !errors.Is(s.Err(), ErrSyntax) || !tooDeep(in) {
					t.Fatalf("valid JSON %q not skipped: %v", in, s.Err())
				}
			}
			var v any
			if json.Unmarshal(in, &v) == nil {
				if fv, isNum := v.(float64); isNum {
					var s2 Scanner
					s2.Reset(in)
					got, ok := s2.Float()
					if !ok || got != fv {
						t.Fatalf("Float(%q) = %v, want %v", in, got, fv)
					}
				}
			}
		}
	})
}

func tooDeep(in []byte) bool {
	d, max := 0, 0
	for _, c := range in {
		switch c {
		case '[', '{':
			d++
			if d > max {
				max = d
			}
		case ']', '}':
			d--
		}
	}
	return max > MaxDepth
}
