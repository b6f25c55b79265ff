package abi

import (
	"encoding/binary"
	"fmt"
	"iter"
)

// The record header: every event, intent and start-up record begins with it.
//
//	offset 0  u16 kind
//	offset 2  u16 size   total bytes including the header; a multiple of 8, >= 8
//	offset 4  u32 seq    events: the host's event number; intents: chosen by the plugin
const (
	HeaderSize = 8
	// MaxRecordSize is the largest size a u16 can hold that is a multiple of 8.
	MaxRecordSize = 65528
	// Align: records, buffers and the descriptor start at multiples of 8.
	Align = 8

	OffKind = 0
	OffSize = 2
	OffSeq  = 4
)

// Header is a decoded record header.
type Header struct {
	Kind Kind
	Size uint16
	Seq  uint32
}

var le = binary.LittleEndian

// ReadHeader reads the header at the start of b without checking it
// (NextRecord checks). b must hold at least HeaderSize bytes.
func ReadHeader(b []byte) Header {
	_ = b[7]
	return Header{Kind: Kind(le.Uint16(b)), Size: le.Uint16(b[2:]), Seq: le.Uint32(b[4:])}
}

// NextRecord frames the first record of buf. It returns the record's header,
// the record (header included, len(rec) == h.Size) and the rest of the
// buffer. It checks only framing: size >= 8, size a multiple of 8, and
// size <= len(buf); a record of a kind the reader does not know is returned
// like any other, so that the caller can skip it. On error rest is nil and
// err is a *DecodeError with Offset 0. An empty buf returns ErrTruncated;
// use Records or Reader to stop cleanly at the end.
func NextRecord(buf []byte) (h Header, rec, rest []byte, err error) {
	if len(buf) < HeaderSize {
		return Header{}, nil, nil, &DecodeError{Err: ErrTruncated,
			Detail: fmt.Sprintf("%d bytes left, a header needs %d", len(buf), HeaderSize)}
	}
	h = ReadHeader(buf)
	if h.Size < HeaderSize || h.Size%Align != 0 {
		return h, nil, nil, &DecodeError{Kind: h.Kind, Size: int(h.Size), Err: ErrBadSize}
	}
	if int(h.Size) > len(buf) {
		return h, nil, nil, &DecodeError{Kind: h.Kind, Size: int(h.Size), Err: ErrTruncated,
			Detail: fmt.Sprintf("%d bytes left", len(buf))}
	}
	return h, buf[:h.Size:h.Size], buf[h.Size:], nil
}

// Record is one framed record of a buffer.
type Record struct {
	Header
	Offset int    // of the header, from the start of the buffer
	Bytes  []byte // the whole record, header included (a view, not a copy)
}

// Records iterates over the records of buf in order, skipping nothing: a
// kind the caller does not know is yielded like the others, to be ignored.
// At the first framing error it yields (Record{Offset: off}, err), err a
// *DecodeError whose Offset is the offset in buf, and stops. It does not
// allocate.
func Records(buf []byte) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		r := Reader{buf: buf}
		for r.Next() {
			if !yield(r.rec, nil) {
				return
			}
		}
		if r.err != nil {
			yield(Record{Offset: r.rec.Offset}, r.err)
		}
	}
}

// Reader iterates over the records of a buffer, for callers that prefer a
// loop to an iterator:
//
//	r := abi.NewReader(buf)
//	for r.Next() {
//		rec := r.Record()
//		...
//	}
//	if err := r.Err(); err != nil { ... }
//
// The zero Reader is an empty buffer. A Reader does not allocate.
type Reader struct {
	buf []byte
	off int
	rec Record
	err error
}

// NewReader returns a Reader over buf.
func NewReader(buf []byte) Reader { return Reader{buf: buf} }

// Next frames the next record. It returns false at the end of the buffer
// and at the first error.
func (r *Reader) Next() bool {
	if r.err != nil || r.off >= len(r.buf) {
		return false
	}
	if b := r.buf[r.off:]; len(b) >= HeaderSize {
		// The common case, inline; NextRecord reports the errors.
		size := int(le.Uint16(b[OffSize:]))
		if size >= HeaderSize && size%Align == 0 && size <= len(b) {
			r.rec = Record{Header: Header{Kind(le.Uint16(b)), uint16(size), le.Uint32(b[OffSeq:])},
				Offset: r.off, Bytes: b[:size:size]}
			r.off += size
			return true
		}
	}
	h, rec, _, err := NextRecord(r.buf[r.off:])
	if err != nil {
		de := err.(*DecodeError)
		de.Offset = r.off
		r.err = de
		r.rec = Record{Offset: r.off}
		return false
	}
	r.rec = Record{Header: h, Offset: r.off, Bytes: rec}
	r.off += len(rec)
	return true
}

// Record returns the record framed by the last successful Next.
func (r *Reader) Record() Record { return r.rec }

// Err returns the framing error that stopped Next, or nil at a clean end.
func (r *Reader) Err() error { return r.err }

// Offset returns the offset of the next unread byte.
func (r *Reader) Offset() int { return r.off }
