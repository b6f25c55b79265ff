package abi

import "fmt"

// Helpers shared by the encoders and decoders of every record kind.

// grow appends n zero bytes to dst (n a multiple of 8: a record's size); it
// returns dst and the appended part. It allocates only when dst lacks
// capacity.
//
// With the capacity, it zeroes the record a word at a time rather than with
// append's memclr: compiled to wasm (a plugin's SDK appends its intents
// here), a memclr is a memory.fill, which wazero runs as a loop of calls to
// memmove, one per doubling of the length (issue 18: BENCHMARKS.md).
func grow(dst []byte, n int) ([]byte, []byte) {
	l := len(dst)
	if n%8 != 0 || cap(dst)-l < n {
		dst = append(dst, make([]byte, n)...)
		return dst, dst[l : l+n : l+n]
	}
	dst = dst[:l+n]
	r := dst[l : l+n : l+n]
	for i := 0; i+8 <= len(r); i += 8 {
		le.PutUint64(r[i:], 0)
	}
	return dst, r
}

// extend appends n bytes to dst and returns dst and the appended part,
// which holds whatever dst's backing array held there: the caller writes
// every byte of it. It allocates only when dst lacks capacity. The
// encoders of the intents use it, being a plugin's per-event path: a
// record written a word at a time costs no more than zeroing it first.
func extend(dst []byte, n int) ([]byte, []byte) {
	if l := len(dst); n <= cap(dst)-l {
		return dst[:l+n], dst[l : l+n : l+n]
	}
	return grow(dst, n)
}

// putHeader writes a record's header.
func putHeader(b []byte, k Kind, size int, seq uint32) { put64(b, 0, header(k, size, seq)) }

// header is a record's header as one little-endian word: kind, size, seq.
func header(k Kind, size int, seq uint32) uint64 {
	return uint64(k)<<(8*OffKind) | uint64(uint16(size))<<(8*OffSize) | uint64(seq)<<(8*OffSeq)
}

// frame is check for the decoders of fixed-size records and books (a
// plugin's SDK decodes every event through one): one word read, and no
// Header or error to return. For a well-formed record of kind k (or k2,
// when k2 != 0) at least min bytes long (min >= HeaderSize), it returns the
// record cut to its size and its seq; ok is false for any other, and
// checkErr says why.
func frame(rec []byte, k, k2 Kind, min int) (r []byte, seq uint32, ok bool) {
	if len(rec) >= HeaderSize {
		w := le.Uint64(rec)
		kind, size := Kind(w), int(uint16(w>>(8*OffSize)))
		if size >= min && size%Align == 0 && size <= len(rec) && (kind == k || kind == k2 && k2 != 0) {
			return rec[:size:size], uint32(w >> (8 * OffSeq)), true
		}
	}
	return nil, 0, false
}

// checkErr is the error of a record frame refuses.
func checkErr(rec []byte, k, k2 Kind, min int) error {
	if _, _, err := check(rec, k, k2, min); err != nil {
		return err
	}
	return decodeErr(ErrBadSize, k, len(rec), "not a record") // frame and check disagree: never
}

// check frames rec as one record of kind k (or k2, when k2 != 0) at least
// min bytes long and returns its header and the record cut to its size.
func check(rec []byte, k, k2 Kind, min int) (Header, []byte, error) {
	// The fast path, for a well-formed record (a plugin's SDK decodes every
	// event through here): one header read, no call.
	if len(rec) >= HeaderSize {
		h := Header{Kind: Kind(le.Uint16(rec)), Size: le.Uint16(rec[OffSize:]), Seq: le.Uint32(rec[OffSeq:])}
		if size := int(h.Size); size >= min && size >= HeaderSize && size%Align == 0 && size <= len(rec) &&
			(h.Kind == k || k2 != 0 && h.Kind == k2) {
			return h, rec[:size:size], nil
		}
	}
	return checkSlow(rec, k, k2, min)
}

// checkSlow is check for a record that fails one of its checks: it says
// which.
func checkSlow(rec []byte, k, k2 Kind, min int) (Header, []byte, error) {
	h, r, _, err := NextRecord(rec)
	if err != nil {
		return h, nil, err
	}
	if h.Kind != k && (k2 == 0 || h.Kind != k2) {
		return h, nil, decodeErr(ErrWrongKind, h.Kind, int(h.Size), "want "+k.String())
	}
	if int(h.Size) < min {
		return h, nil, decodeErr(ErrShortRecord, h.Kind, int(h.Size), fmt.Sprintf("want at least %d bytes", min))
	}
	return h, r, nil
}

func pad8(n int) int { return (n + 7) &^ 7 }

func u8(b []byte, off int) uint8   { return b[off] }
func u16(b []byte, off int) uint16 { return le.Uint16(b[off:]) }
func u32(b []byte, off int) uint32 { return le.Uint32(b[off:]) }
func u64(b []byte, off int) uint64 { return le.Uint64(b[off:]) }
func i32(b []byte, off int) int32  { return int32(le.Uint32(b[off:])) }
func fx(b []byte, off int) Fixed   { return Fixed(le.Uint64(b[off:])) }

func put16(b []byte, off int, v uint16) { le.PutUint16(b[off:], v) }
func put32(b []byte, off int, v uint32) { le.PutUint32(b[off:], v) }
func put64(b []byte, off int, v uint64) { le.PutUint64(b[off:], v) }
func putFx(b []byte, off int, v Fixed)  { le.PutUint64(b[off:], uint64(v)) }
