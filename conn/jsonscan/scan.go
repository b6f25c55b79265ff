package jsonscan

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// ErrSyntax is returned (wrapped in *SyntaxError) for input that is not JSON
// or not the JSON the caller asked for.
var ErrSyntax = errors.New("jsonscan: syntax error")

// SyntaxError says where the input stopped making sense.
type SyntaxError struct {
	Offset int    // byte offset of the problem
	Msg    string // what was expected
}

func (e *SyntaxError) Error() string {
	return "jsonscan: " + e.Msg + " at offset " + strconv.Itoa(e.Offset)
}

// Unwrap makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// MaxDepth is the deepest nesting Skip accepts.
const MaxDepth = 64

// Kind is the kind of the next value.
type Kind uint8

// Value kinds.
const (
	Invalid Kind = iota
	Object
	Array
	String
	Number
	True
	False
	Null
)

// Scanner reads one JSON text. The zero value scans an empty input; Reset
// points it at a buffer. The first error sticks: every later call reports
// failure and Err returns that error. The Scanner never copies or retains the
// input beyond the slices it returns, which point into it.
type Scanner struct {
	b     []byte
	pos   int
	first bool // the container just entered has no element yet
	err   error
}

// Reset points s at b, from offset 0.
func (s *Scanner) Reset(b []byte) { *s = Scanner{b: b} }

// ResetAt points s at b, positioned at offset pos (for instance the start of
// a value a classifier found).
func (s *Scanner) ResetAt(b []byte, pos int) { *s = Scanner{b: b, pos: pos} }

// ResetInObject points s at b, positioned at offset pos inside an object
// whose first member has been read (so that the next Key expects ',' or
// '}'): for callers that recognise a constant prefix such as
// `{"jsonrpc":"2.0"` without scanning it.
func (s *Scanner) ResetInObject(b []byte, pos int) { *s = Scanner{b: b, pos: pos} }

// Pos is the offset of the next unread byte.
func (s *Scanner) Pos() int { return s.pos }

// Err is the first error met, or nil.
func (s *Scanner) Err() error { return s.err }

// Fail records a syntax error at the current position (unless an error is
// already recorded) and returns false, for decoders built on the Scanner.
func (s *Scanner) Fail(msg string) bool {
	if s.err == nil {
		s.err = &SyntaxError{Offset: s.pos, Msg: msg}
	}
	return false
}

func (s *Scanner) ws() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// Peek skips white space and reports the kind of the next value without
// consuming it; Invalid at the end of input, on an error, or before a byte
// that cannot start a value (including ',' ':' '}' ']').
func (s *Scanner) Peek() Kind {
	if s.err != nil {
		return Invalid
	}
	s.ws()
	if s.pos >= len(s.b) {
		return Invalid
	}
	switch c := s.b[s.pos]; c {
	case '{':
		return Object
	case '[':
		return Array
	case '"':
		return String
	case 't':
		return True
	case 'f':
		return False
	case 'n':
		return Null
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return Number
		}
		return Invalid
	}
}

// End skips trailing white space and reports whether the input is exhausted
// without error.
func (s *Scanner) End() bool {
	if s.err != nil {
		return false
	}
	s.ws()
	if s.pos != len(s.b) {
		return s.Fail("end of input expected")
	}
	return true
}

// Object consumes the '{' of an object. Iterate its members with Key.
func (s *Scanner) Object() bool {
	if s.Peek() != Object {
		return s.Fail("object expected")
	}
	s.pos++
	s.first = true
	return true
}

// Key advances to the next member of the object being read and returns its
// key, as the raw bytes between the quotes (escapes are not decoded: keys
// with escapes never equal a plain key), positioned at the member's value,
// which the caller must then read or Skip. It returns false after consuming
// the object's closing '}', or on an error.
func (s *Scanner) Key() ([]byte, bool) {
	if s.err != nil {
		return nil, false
	}
	s.ws()
	if s.pos >= len(s.b) {
		return nil, s.Fail("object member or '}' expected")
	}
	if s.b[s.pos] == '}' {
		s.pos++
		s.first = false
		return nil, false
	}
	if !s.first {
		if s.b[s.pos] != ',' {
			return nil, s.Fail("',' or '}' expected")
		}
		s.pos++
		s.ws()
	}
	s.first = false
	if s.pos >= len(s.b) || s.b[s.pos] != '"' {
		return nil, s.Fail("object key expected")
	}
	k, ok := s.str()
	if !ok {
		return nil, false
	}
	s.ws()
	if s.pos >= len(s.b) || s.b[s.pos] != ':' {
		return nil, s.Fail("':' expected")
	}
	s.pos++
	return k, true
}

// Array consumes the '[' of an array. Iterate its elements with Elem.
func (s *Scanner) Array() bool {
	if s.Peek() != Array {
		return s.Fail("array expected")
	}
	s.pos++
	s.first = true
	return true
}

// Elem advances to the next element of the array being read, which the
// caller must then read or Skip. It returns false after consuming the
// closing ']', or on an error.
func (s *Scanner) Elem() bool {
	if s.err != nil {
		return false
	}
	s.ws()
	if s.pos >= len(s.b) {
		return s.Fail("array element or ']' expected")
	}
	if s.b[s.pos] == ']' {
		s.pos++
		s.first = false
		return false
	}
	if !s.first {
		if s.b[s.pos] != ',' {
			return s.Fail("',' or ']' expected")
		}
		s.pos++
	}
	s.first = false
	return true
}

// str reads a string at s.pos (which holds '"') and returns its raw contents.
func (s *Scanner) str() ([]byte, bool) {
	start := s.pos + 1
	i := start
	for {
		j := bytes.IndexByte(s.b[i:], '"')
		if j < 0 {
			s.pos = len(s.b)
			return nil, s.Fail("unterminated string")
		}
		i += j
		// An escaped quote has an odd number of backslashes before it.
		n := 0
		for k := i - 1; k >= start && s.b[k] == '\\'; k-- {
			n++
		}
		if n&1 == 0 {
			s.pos = i + 1
			return s.b[start:i], true
		}
		i++
	}
}

// String reads a string value and returns its raw contents: escapes are not
// decoded (use AppendUnescaped when HasEscape says there are any). The slice
// points into the input.
func (s *Scanner) String() ([]byte, bool) {
	if s.Peek() != String {
		return nil, s.Fail("string expected")
	}
	return s.str()
}

// HasEscape reports whether raw string contents contain an escape.
func HasEscape(raw []byte) bool { return bytes.IndexByte(raw, '\\') >= 0 }

// AppendUnescaped appends the decoded form of raw string contents to dst.
func AppendUnescaped(dst, raw []byte) ([]byte, error) {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := bytes.IndexByte(raw[i:], '\\')
			if j < 0 {
				return append(dst, raw[i:]...), nil
			}
			dst = append(dst, raw[i:i+j]...)
			i += j
			continue
		}
		if i+1 >= len(raw) {
			return dst, &SyntaxError{Offset: i, Msg: "truncated escape"}
		}
		switch e := raw[i+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(raw, i+2)
			if !ok {
				return dst, &SyntaxError{Offset: i, Msg: "bad \\u escape"}
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(raw, i+2); ok && i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						i += 6
						dst = utf8.AppendRune(dst, d)
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, &SyntaxError{Offset: i, Msg: "bad escape"}
		}
		i += 2
	}
	return dst, nil
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// Number reads a number value and returns its text, validated against JSON's
// number grammar.
func (s *Scanner) Number() ([]byte, bool) {
	if s.Peek() != Number {
		return nil, s.Fail("number expected")
	}
	start := s.pos
	i := start
	b := s.b
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return nil, s.Fail("digit expected")
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.pos = i
			return nil, s.Fail("digit expected after '.'")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.pos = i
			return nil, s.Fail("digit expected in exponent")
		}
	}
	s.pos = i
	return b[start:i], true
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// Float reads a number value as a float64, correctly rounded. Numbers with
// at most 15 significant digits and a small exponent (every price and amount
// an exchange sends) take an exact fast path; the rest go to strconv.
func (s *Scanner) Float() (float64, bool) {
	num, ok := s.Number()
	if !ok {
		return 0, false
	}
	if f, ok := fastFloat(num); ok {
		return f, true
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(num), len(num)), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, s.Fail("bad number")
	}
	return f, true
}

// fastFloat is Clinger's fast path: a mantissa below 2^53 and a power of ten
// of at most 22 are both exact in float64, so one multiplication or division
// is correctly rounded.
func fastFloat(num []byte) (float64, bool) {
	i := 0
	neg := num[0] == '-'
	if neg {
		i++
	}
	var mant uint64
	exp := 0
	digits := 0
	for ; i < len(num) && num[i] >= '0' && num[i] <= '9'; i++ {
		if digits >= 15 {
			return 0, false
		}
		mant = mant*10 + uint64(num[i]-'0')
		if mant != 0 {
			digits++
		}
	}
	if i < len(num) && num[i] == '.' {
		for i++; i < len(num) && num[i] >= '0' && num[i] <= '9'; i++ {
			if digits >= 15 {
				return 0, false
			}
			mant = mant*10 + uint64(num[i]-'0')
			if mant != 0 {
				digits++
			}
			exp--
		}
	}
	if i < len(num) { // exponent
		i++
		eneg := false
		if num[i] == '+' || num[i] == '-' {
			eneg = num[i] == '-'
			i++
		}
		e := 0
		for ; i < len(num); i++ {
			e = e*10 + int(num[i]-'0')
			if e > 400 {
				return 0, false
			}
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	f := float64(mant)
	switch {
	case mant == 0:
	case exp < -22 || exp > 22:
		return 0, false
	case exp < 0:
		f /= pow10[-exp]
	default:
		f *= pow10[exp]
	}
	if neg {
		f = -f
	}
	return f, true
}

// Int reads an integer number value. Fractions, exponents and values out of
// int64's range fail.
func (s *Scanner) Int() (int64, bool) {
	num, ok := s.Number()
	if !ok {
		return 0, false
	}
	neg := num[0] == '-'
	if neg {
		num = num[1:]
	}
	var u uint64
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, s.Fail("integer expected")
		}
		if u > (math.MaxInt64+1)/10 {
			return 0, s.Fail("integer out of range")
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > math.MaxInt64+1 {
			return 0, s.Fail("integer out of range")
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, s.Fail("integer out of range")
	}
	return int64(u), true
}

// Uint reads a non-negative integer number value.
func (s *Scanner) Uint() (uint64, bool) {
	num, ok := s.Number()
	if !ok {
		return 0, false
	}
	u, ok := parseUint(num)
	if !ok {
		return 0, s.Fail("unsigned integer expected")
	}
	return u, true
}

// ParseUint parses the text of a non-negative JSON integer (no sign, no
// fraction, no exponent).
func parseUint(num []byte) (uint64, bool) {
	if len(num) == 0 {
		return 0, false
	}
	var u uint64
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > math.MaxUint64/10 {
			return 0, false
		}
		d := uint64(c - '0')
		if u*10 > math.MaxUint64-d {
			return 0, false
		}
		u = u*10 + d
	}
	return u, true
}

// Bool reads true or false.
func (s *Scanner) Bool() (bool, bool) {
	switch s.Peek() {
	case True:
		return true, s.lit("true")
	case False:
		return false, s.lit("false")
	}
	return false, s.Fail("boolean expected")
}

// Null consumes a null if one is next and reports whether it did. It records
// no error when the next value is something else.
func (s *Scanner) Null() bool {
	if s.Peek() != Null {
		return false
	}
	return s.lit("null")
}

func (s *Scanner) lit(l string) bool {
	if len(s.b)-s.pos < len(l) || string(s.b[s.pos:s.pos+len(l)]) != l {
		return s.Fail("literal " + l + " expected")
	}
	s.pos += len(l)
	return true
}

// Skip consumes the next value, whatever it is, and returns its raw bytes.
// Strings, numbers and literals are checked as Number and String do; objects
// and arrays are checked for balanced, matching brackets and well-formed
// strings but not for the placement of ',' and ':' between their members,
// which is what makes skipping fast. Nesting deeper than MaxDepth fails.
func (s *Scanner) Skip() ([]byte, bool) {
	start := s.pos
	switch s.Peek() {
	case Object, Array:
		start = s.pos
		if !s.skipContainer() {
			return nil, false
		}
	case String:
		start = s.pos
		if _, ok := s.str(); !ok {
			return nil, false
		}
	case Number:
		start = s.pos
		if _, ok := s.Number(); !ok {
			return nil, false
		}
	case True:
		start = s.pos
		if !s.lit("true") {
			return nil, false
		}
	case False:
		start = s.pos
		if !s.lit("false") {
			return nil, false
		}
	case Null:
		start = s.pos
		if !s.lit("null") {
			return nil, false
		}
	default:
		return nil, s.Fail("value expected")
	}
	s.first = false
	return s.b[start:s.pos], true
}

// skipContainer skips the object or array at s.pos. The bit stack records,
// per open level, whether it is an array (1) or an object (0).
func (s *Scanner) skipContainer() bool {
	b := s.b
	i := s.pos
	var stack uint64
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '{', '[':
			if depth == MaxDepth {
				s.pos = i
				return s.Fail("nesting too deep")
			}
			stack <<= 1
			if c == '[' {
				stack |= 1
			}
			depth++
			i++
		case '}', ']':
			if depth == 0 || (stack&1 == 1) != (c == ']') {
				s.pos = i
				return s.Fail("mismatched bracket")
			}
			stack >>= 1
			depth--
			i++
			if depth == 0 {
				s.pos = i
				return true
			}
		case '"':
			s.pos = i
			if _, ok := s.str(); !ok {
				return false
			}
			i = s.pos
		default:
			i++
		}
	}
	s.pos = i
	return s.Fail("unterminated object or array")
}
