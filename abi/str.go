package abi

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Fixed-size inline strings. Every string field of a record has a fixed
// size: UTF-8 bytes, then zero bytes up to the end of the field. The text
// ends at the first zero byte or at the end of the field (so a field may be
// full, with no terminator). Writers zero-fill the rest and never put a zero
// byte inside the text. See README.md "Strings".
type (
	// Str8 holds a currency code such as "BTC" or "USDC".
	Str8 [8]byte
	// Str32 holds a label, an exchange order id or a short reason text.
	Str32 [32]byte
	// Str64 holds an instrument name or a plugin instance name.
	Str64 [64]byte
)

// NewStr8 returns s as a Str8, cut to 8 bytes.
func NewStr8(s string) (v Str8) { copy(v[:], s); return v }

// NewStr32 returns s as a Str32, cut to 32 bytes.
func NewStr32(s string) (v Str32) { copy(v[:], s); return v }

// NewStr64 returns s as a Str64, cut to 64 bytes.
func NewStr64(s string) (v Str64) { copy(v[:], s); return v }

func strLen(b []byte) int {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return i
	}
	return len(b)
}

// Bytes returns the text (a view of s, without the zero padding).
func (s *Str8) Bytes() []byte { return s[:strLen(s[:])] }

// Bytes returns the text (a view of s, without the zero padding).
func (s *Str32) Bytes() []byte { return s[:strLen(s[:])] }

// Bytes returns the text (a view of s, without the zero padding).
func (s *Str64) Bytes() []byte { return s[:strLen(s[:])] }

func (s Str8) String() string  { return string(s[:strLen(s[:])]) }
func (s Str32) String() string { return string(s[:strLen(s[:])]) }
func (s Str64) String() string { return string(s[:strLen(s[:])]) }

// MarshalJSON renders the text as a JSON string.
func (s Str8) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalJSON renders the text as a JSON string.
func (s Str32) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalJSON renders the text as a JSON string.
func (s Str64) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a JSON string of at most 8 bytes without zero bytes.
func (s *Str8) UnmarshalJSON(b []byte) error { return unmarshalStr(b, s[:]) }

// UnmarshalJSON reads a JSON string of at most 32 bytes without zero bytes.
func (s *Str32) UnmarshalJSON(b []byte) error { return unmarshalStr(b, s[:]) }

// UnmarshalJSON reads a JSON string of at most 64 bytes without zero bytes.
func (s *Str64) UnmarshalJSON(b []byte) error { return unmarshalStr(b, s[:]) }

func unmarshalStr(b []byte, dst []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if len(v) > len(dst) {
		return fmt.Errorf("abi: string %q is longer than %d bytes", v, len(dst))
	}
	if bytes.IndexByte([]byte(v), 0) >= 0 {
		return fmt.Errorf("abi: string %q contains a zero byte", v)
	}
	clear(dst)
	copy(dst, v)
	return nil
}
