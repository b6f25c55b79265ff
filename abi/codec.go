package abi

import "fmt"

// Helpers shared by the encoders and decoders of every record kind.

// grow appends n zero bytes to dst; it returns dst and the appended part.
// It allocates only when dst lacks capacity.
func grow(dst []byte, n int) ([]byte, []byte) {
	l := len(dst)
	dst = append(dst, make([]byte, n)...)
	return dst, dst[l : l+n : l+n]
}

func putHeader(b []byte, k Kind, size int, seq uint32) {
	le.PutUint16(b[OffKind:], uint16(k))
	le.PutUint16(b[OffSize:], uint16(size))
	le.PutUint32(b[OffSeq:], seq)
}

// check frames rec as one record of kind k (or k2, when k2 != 0) at least
// min bytes long and returns its header and the record cut to its size.
func check(rec []byte, k, k2 Kind, min int) (Header, []byte, error) {
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
