package abi

import (
	"errors"
	"fmt"
)

// Sentinel errors. A *DecodeError wraps exactly one of the first five; check
// with errors.Is.
var (
	// ErrTruncated: the buffer ends inside a record (fewer than 8 bytes of
	// header left, or the header's size runs past the end).
	ErrTruncated = errors.New("abi: record runs past the end of the buffer")
	// ErrBadSize: a header's size is smaller than the 8-byte header or not a
	// multiple of 8. Nothing after it can be framed.
	ErrBadSize = errors.New("abi: record size is below 8 or not a multiple of 8")
	// ErrShortRecord: a record is smaller than the fixed layout of its kind.
	ErrShortRecord = errors.New("abi: record is shorter than its kind's layout")
	// ErrBadLength: a variable-length record's counts or lengths disagree
	// with its size.
	ErrBadLength = errors.New("abi: record's counts or lengths disagree with its size")
	// ErrWrongKind: a DecodeX function was given a record of another kind.
	ErrWrongKind = errors.New("abi: record is not of the expected kind")

	// ErrUnknownKind: the JSON functions were given a kind this version does
	// not define. (The binary decoders skip unknown kinds; they never return
	// this.)
	ErrUnknownKind = errors.New("abi: unknown record kind")
	// ErrStartup: a start-up blob breaks a rule of README.md "Start-up".
	ErrStartup = errors.New("abi: malformed start-up blob")
)

// DecodeError describes a record that cannot be read. Offset is the byte
// offset of the record's header from the start of the buffer being read
// (0 for the DecodeX functions, which see one record).
type DecodeError struct {
	Offset int
	Kind   Kind // 0 when the header itself could not be read
	Size   int  // the header's size field, or 0
	Detail string
	Err    error // one of the sentinels above
}

func (e *DecodeError) Error() string {
	s := fmt.Sprintf("%v at offset %d", e.Err, e.Offset)
	if e.Kind != 0 {
		s += fmt.Sprintf(" (kind %v, size %d)", e.Kind, e.Size)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *DecodeError) Unwrap() error { return e.Err }

func decodeErr(err error, k Kind, size int, detail string) error {
	return &DecodeError{Kind: k, Size: size, Detail: detail, Err: err}
}
