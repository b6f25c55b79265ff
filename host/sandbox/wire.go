package sandbox

// The wire format between the parent and its plugin child (NewProcess,
// ServeChild), documented here so that a child in another language could
// be written from it.
//
// Every message is a frame, little-endian:
//
//	0 u32 payload length (not counting this 8-byte header)
//	4 u8  type
//	5 3 bytes zero
//	8 payload
//
// A str is a u32 byte length and the bytes; a time is an i64 of ns since the
// Unix epoch. Requests (parent → child):
//
//	'L' load     u64 instance number | u32 memory_limit_pages | u32 ring fd |
//	             u64 log_rate | u64 log_burst | u64 seed | u64 timer_min ns |
//	             str name | str cache_dir | the module's bytes to the end
//	'S' start    time now | the start-up blob to the end
//	'D' deliver  time now | the batch to the end
//	'X' stop     time now
//	'B' floor    u32 ring fd (not 0) | u32 zero | u64 the child's spin limit ns
//
// Replies (child → parent): zero or more log frames, then exactly one of
// result, fault or error.
//
//	'G' log      i32 slog level | u32 n | str message | n × (str key | str value)
//	'R' result    0 u64 calls    8 u64 call time ns   16 u64 max call time ns
//	             24 u64 memory  32 u64 logs dropped   40 time next timer
//	             48 u8 flags (1: a timer is armed, 2: a call was made) | 7 zero
//	             56 the 32-byte descriptor | 88 the intents to the end
//	'F' fault    i64 code | str kind | str call | str error ("" = none)
//	'E' error    u32 code (1: the batch is larger than the inbox; 0: other) |
//	             u32 zero | str text
//
// The counters of a result are the instance's totals. After a fault reply
// the child exits; after the result of a stop it exits too. A load reply is
// a result with zero counters and descriptor.
//
// # The rings
//
// The load and its reply are frames on the child's stdin and stdout. When
// the load's ring fd is not 0, it is the descriptor of a shared-memory
// region (package shm, inherited by the child) and every later request and
// its replies are records of the region's rings instead: a record's type is
// the frame's type and its payload the frame's payload (no frame header).
// A message larger than a ring's largest record is written as a frame on
// the pipe first and announced by a record of type 'P' with no payload; the
// receiver then takes the next frame from the pipe. Otherwise the pipe
// carries nothing after the load: the parent reads the child's stdout for
// its end (the child died) and the child its stdin (the parent went, or
// stopped it), and each aborts its endpoint then.
//
// A floor request instead of the load makes the child bare (StartFloor):
// it opens the region, confines itself as after a load, replies with an
// empty result frame and from then on sends every record of the region
// back as it came (type and payload), with nothing else and no plugin,
// until its stdin ends. The region's words (shm.Region.Word) are not used:
// the parent's call budget reads the child's CPU clock itself (watch.go).

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Frame types.
const (
	reqLoad    = 'L'
	reqStart   = 'S'
	reqDeliver = 'D'
	reqStop    = 'X'
	reqFloor   = 'B' // the first request of a bare child (StartFloor): echo, no plugin
	repLog     = 'G'
	repResult  = 'R'
	repFault   = 'F'
	repError   = 'E'
	recPipe    = 'P' // a ring record: the message is the next frame on the pipe
)

// Protocol sizes and limits.
const (
	frameHeader  = 8
	resultFixed  = 88
	maxRequest   = 1 << 30  // the module is the largest request
	maxReply     = 64 << 20 // so an outbox above 64 MiB cannot cross
	maxLogAttrs  = 64
	flagTimer    = 1
	flagCalled   = 2
	errCodeOther = 0
	errCodeInbox = 1
)

// appendTimed appends a start, deliver or stop request.
func appendTimed(b []byte, typ byte, now time.Time, data []byte) []byte {
	b = appendFrameHeader(b, typ, 8+len(data))
	b = binary.LittleEndian.AppendUint64(b, uint64(now.UnixNano()))
	return append(b, data...)
}

// appendFrameHeader appends the header of a frame of type typ with a
// payload of n bytes.
func appendFrameHeader(b []byte, typ byte, n int) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	return append(b, typ, 0, 0, 0)
}

func appendFrameStr(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// readFrame reads one frame into *buf (grown as needed, reused); it
// returns io.EOF only at a frame boundary.
func readFrame(r *bufio.Reader, hdr *[frameHeader]byte, buf *[]byte, limit int) (byte, []byte, error) {
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("frame header: %w", err)
		}
		return 0, nil, err
	}
	n, typ := binary.LittleEndian.Uint32(hdr[:]), hdr[4]
	if hdr[5]|hdr[6]|hdr[7] != 0 || int64(n) > int64(limit) {
		return 0, nil, fmt.Errorf("bad frame header % x", hdr[:])
	}
	if cap(*buf) < int(n) {
		*buf = make([]byte, n)
	}
	b := (*buf)[:n]
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, fmt.Errorf("frame of %d bytes: %w", n, noEOF(err))
	}
	return typ, b, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// frameDec reads the fields of a payload; bad is set when one does not fit.
type frameDec struct {
	b   []byte
	bad bool
}

func (d *frameDec) take(n int) []byte {
	if d.bad || n < 0 || n > len(d.b) {
		d.bad = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *frameDec) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *frameDec) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (d *frameDec) str() string {
	n := d.u32()
	if n > uint32(len(d.b)) {
		d.bad = true
		return ""
	}
	return string(d.take(int(n)))
}
