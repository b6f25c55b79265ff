package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"
)

// Errors of the transport.
var (
	// ErrNotSupported: the platform has no shared-memory transport.
	ErrNotSupported = errors.New("shm: shared-memory transport not supported on this platform")
	// ErrCorrupt: the peer wrote an index or a record that does not fit
	// the ring. The endpoint stays broken.
	ErrCorrupt = errors.New("shm: corrupt ring")
	// ErrTooLarge: a record larger than a ring can hold.
	ErrTooLarge = errors.New("shm: record larger than the ring")
	// ErrPeerGone: the peer died (the default error of Abort).
	ErrPeerGone = errors.New("shm: peer gone")
	// ErrClosed: the region was closed.
	ErrClosed = errors.New("shm: region closed")
)

// The layout of a region, little-endian:
//
//	   0 u64 magic "stratshm"   8 u32 version   12 u32 ring size (bytes of
//	     data of each ring; a power of two)
//	  64 the control block of ring 0 (parent → child), 256 bytes
//	 320 the control block of ring 1 (child → parent), 256 bytes
//	1024 NumWords u64 words of the users' own (Region.Word), zero at first
//	4096 the data of ring 0, then the data of ring 1
//
// A control block, each field on a cache line of its own:
//
//	  0 u64 head: bytes written in all (the producer's)
//	 64 u64 tail: bytes read in all (the consumer's)
//	128 u32 data futex word (bumped when the producer sees a sleeping consumer)
//	132 u32 1 while the consumer sleeps (or is about to)
//	136 u64 when the producer last woke the consumer (Unix ns, its clock)
//	192 u32 space futex word (bumped when the consumer sees a sleeping producer)
//	196 u32 1 while the producer sleeps (or is about to)
//
// A record starts at a multiple of 8: u32 payload length | u8 type | 3 zero
// bytes | the payload, padded to a multiple of 8. Its header never wraps (the
// ring size is a multiple of 8); its payload may.
const (
	magic        = 0x6d68737461727473 // "stratshm"
	version      = 2
	headerSize   = 4096
	ctrlOffset   = 64
	ctrlSize     = 256
	recordHeader = 8
	offHead      = 0
	offTail      = 64
	offDataSeq   = 128
	offDataWait  = 132
	offDataWoke  = 136
	offSpaceSeq  = 192
	offSpaceWait = 196
	wordsOffset  = 1024

	// NumWords is the number of the users' words (Region.Word).
	NumWords = 8

	// MinRingSize and MaxRingSize bound a ring's data size.
	MinRingSize = 4 << 10
	MaxRingSize = 1 << 30
	// DefaultRingSize holds a 64-event batch many times over.
	DefaultRingSize = 1 << 20
	// DefaultSpin is the longest a waiting side spins before it sleeps.
	DefaultSpin = 20 * time.Microsecond
	minSpin     = 500 * time.Nanosecond
	// maxSleep bounds one sleep in the kernel: a wait looks again at least
	// this often, so that a wake-up lost to a bug could cost latency, never
	// a hang (and an idle endpoint wakes ten times a second, nothing).
	maxSleep = 100 * time.Millisecond
)

// regionSize is the bytes of a region with rings of size ring.
func regionSize(ring int) int { return headerSize + 2*ring }

// validRingSize says whether n is a ring size.
func validRingSize(n int) bool { return n >= MinRingSize && n <= MaxRingSize && n&(n-1) == 0 }

// MaxRecord is the largest payload a ring of size ring carries.
func MaxRecord(ring int) int { return ring - recordHeader }

// writeHeader writes the region header into mem.
func writeHeader(mem []byte, ring int) {
	binary.LittleEndian.PutUint64(mem[0:], magic)
	binary.LittleEndian.PutUint32(mem[8:], version)
	binary.LittleEndian.PutUint32(mem[12:], uint32(ring))
}

// readHeader checks the region header against the region's size and
// returns the ring size.
func readHeader(mem []byte) (int, error) {
	if len(mem) < headerSize {
		return 0, fmt.Errorf("%w: region of %d bytes", ErrCorrupt, len(mem))
	}
	if m := binary.LittleEndian.Uint64(mem[0:]); m != magic {
		return 0, fmt.Errorf("%w: magic %#x", ErrCorrupt, m)
	}
	if v := binary.LittleEndian.Uint32(mem[8:]); v != version {
		return 0, fmt.Errorf("%w: version %d, want %d", ErrCorrupt, v, version)
	}
	ring := int(binary.LittleEndian.Uint32(mem[12:]))
	if !validRingSize(ring) || regionSize(ring) != len(mem) {
		return 0, fmt.Errorf("%w: ring size %d in a region of %d bytes", ErrCorrupt, ring, len(mem))
	}
	return ring, nil
}

// ring is one side's view of one ring: the shared control words and data,
// and its own index (the head if it produces, the tail if it consumes),
// which it never reads back from the shared memory.
type ring struct {
	head, tail          *atomic.Uint64
	dataSeq, dataWait   *atomic.Uint32
	dataWoke            *atomic.Uint64
	spaceSeq, spaceWait *atomic.Uint32
	data                []byte
	size                uint64
	pos                 uint64 // this side's index
}

func newRing(mem []byte, i, size int) ring {
	ctrl := mem[ctrlOffset+i*ctrlSize : ctrlOffset+(i+1)*ctrlSize]
	u64 := func(off int) *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(&ctrl[off])) }
	u32 := func(off int) *atomic.Uint32 { return (*atomic.Uint32)(unsafe.Pointer(&ctrl[off])) }
	data := mem[headerSize+i*size : headerSize+(i+1)*size : headerSize+(i+1)*size]
	return ring{head: u64(offHead), tail: u64(offTail), dataSeq: u32(offDataSeq), dataWait: u32(offDataWait),
		dataWoke: u64(offDataWoke), spaceSeq: u32(offSpaceSeq), spaceWait: u32(offSpaceWait), data: data, size: uint64(size)}
}

// align8 rounds n up to a multiple of 8.
func align8(n uint64) uint64 { return (n + 7) &^ 7 }

// free is the producer's free space, from the peer's tail.
func (r *ring) free() (uint64, error) {
	tail := r.tail.Load()
	used := r.pos - tail
	if used > r.size || used%8 != 0 {
		return 0, fmt.Errorf("%w: consumer's tail %d against head %d (ring of %d)", ErrCorrupt, tail, r.pos, r.size)
	}
	return r.size - used, nil
}

// put writes a record of type typ whose payload is parts, which fits, and
// publishes it.
func (r *ring) put(typ byte, n uint64, parts [][]byte) {
	at := r.pos % r.size
	var h [recordHeader]byte
	binary.LittleEndian.PutUint32(h[:], uint32(n))
	h[4] = typ
	copy(r.data[at:], h[:])
	at = (at + recordHeader) % r.size
	for _, p := range parts {
		c := copy(r.data[at:], p)
		if c < len(p) {
			copy(r.data, p[c:])
		}
		at = (at + uint64(len(p))) % r.size
	}
	r.pos += recordHeader + align8(n)
	// A swap, not a store: an atomic read-modify-write is a full barrier on
	// every implementation of sync/atomic (the race detector's stores are
	// not), so that the look at the consumer's sleep flag that follows
	// cannot be ordered before the publication (Dekker's handshake with
	// wait, which sets the flag the same way before its last look).
	r.head.Swap(r.pos)
}

// hasData says whether the peer's head is past this consumer's tail.
func (r *ring) hasData() bool { return r.head.Load() != r.pos }

// take reads the record at the consumer's tail, if any, copying its payload
// into buf (grown as needed) after checking everything the producer wrote;
// it does not release the record's space (release does).
func (r *ring) take(buf []byte) (ok bool, typ byte, payload []byte, next uint64, err error) {
	head := r.head.Load()
	avail := head - r.pos
	if avail == 0 {
		return false, 0, buf, 0, nil
	}
	if avail > r.size || avail%8 != 0 {
		return false, 0, buf, 0, fmt.Errorf("%w: producer's head %d against tail %d (ring of %d)", ErrCorrupt, head, r.pos, r.size)
	}
	at := r.pos % r.size
	var h [recordHeader]byte
	copy(h[:], r.data[at:at+recordHeader]) // at is a multiple of 8, size too: no wrap
	n := uint64(binary.LittleEndian.Uint32(h[:]))
	typ = h[4]
	if h[5]|h[6]|h[7] != 0 {
		return false, 0, buf, 0, fmt.Errorf("%w: record header % x at %d", ErrCorrupt, h[:], r.pos)
	}
	if recordHeader+align8(n) > avail {
		return false, 0, buf, 0, fmt.Errorf("%w: record of %d bytes with %d written", ErrCorrupt, n, avail-recordHeader)
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	payload = buf[:n]
	start := (at + recordHeader) % r.size
	c := copy(payload, r.data[start:])
	copy(payload[c:], r.data)
	return true, typ, payload, r.pos + recordHeader + align8(n), nil
}

// release frees the space up to next (a record taken) and wakes a producer
// that sleeps for space.
func (r *ring) release(next uint64) {
	r.pos = next
	r.tail.Swap(next) // a full barrier before the look at the flag: see put
	if r.spaceWait.Load() != 0 {
		r.spaceSeq.Add(1)
		futexWake(r.spaceSeq)
	}
}

// wakeConsumer wakes a consumer that sleeps for data, and tells it when
// (the wall clock, which both processes read alike and without a system
// call): the consumer's wait then knows how late the data came, without
// the time its own wake-up took (Endpoint.adapt).
func (r *ring) wakeConsumer() {
	if r.dataWait.Load() != 0 {
		r.dataWoke.Store(uint64(time.Now().UnixNano()))
		r.dataSeq.Add(1)
		futexWake(r.dataSeq)
	}
}

// deadlineErr is the error of a passed deadline.
func deadlineErr(what string) error {
	return fmt.Errorf("shm: %s: %w", what, os.ErrDeadlineExceeded)
}
