package record

import (
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Magic is the first line of a native recording (inside its first gzip
// member); the number is the format's version.
const Magic = "stratbox-record 1\n"

// DefaultBlockSize is how many uncompressed bytes of frames a Writer
// gathers before it writes them as one gzip member.
const DefaultBlockSize = 256 << 10

// maxBlock bounds a block a reader accepts (a damaged or hostile file must
// not make it allocate without limit).
const maxBlock = 64 << 20

// Dir is a frame's direction.
type Dir uint8

// Directions.
const (
	In  Dir = 0 // from the exchange
	Out Dir = 1 // to the exchange
)

func (d Dir) String() string {
	if d == Out {
		return "out"
	}
	return "in"
}

// Frame is one recorded frame.
type Frame struct {
	// Time is when it was received (In) or sent (Out), Unix nanoseconds.
	Time int64
	// Conn is the connection it crossed (an id of the recording process;
	// 0 when the source does not say).
	Conn uint64
	Dir  Dir
	// Disconnect marks the end of a connection (a Tardis.dev empty line);
	// Data is then empty.
	Disconnect bool
	// Data is the frame as it crossed the wire (secrets redacted). A
	// Reader's Data is valid until its next call of Next.
	Data []byte
}

// Header is the first block of a native recording.
type Header struct {
	// Created is when the recording began, Unix nanoseconds.
	Created int64 `json:"created"`
	// Source says what made it ("host run", "host record", a test…).
	Source string `json:"source,omitempty"`
	// Exchange is the exchange's URL, when known.
	Exchange string `json:"exchange,omitempty"`
}

// Errors.
var (
	// ErrTruncated: the file ends inside a block. Everything before that
	// block was read; Next returns it (wrapped) instead of io.EOF.
	ErrTruncated = errors.New("record: file truncated")
	// ErrCorrupt: a block fails its checks (checksum, length, framing).
	ErrCorrupt = errors.New("record: file corrupt")
	// ErrFormat: the input is none of the formats this package reads.
	ErrFormat = errors.New("record: unknown format")
)

// Writer writes a native recording. It is not safe for concurrent use
// (Recorder is the concurrent front end). Frames are redacted (Redact)
// before they are written.
type Writer struct {
	w         io.Writer
	zw        *gzip.Writer
	block     []byte
	blockSize int
	last      int64
	frames    uint64
	blocks    uint64
	err       error
	scratch   []byte
}

// NewWriter writes the magic line and h as the first gzip member of w and
// returns a Writer for the frames.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	zw, _ := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	wr := &Writer{w: w, zw: zw, blockSize: DefaultBlockSize}
	if _, err := zw.Write(append(append([]byte(Magic), hj...), '\n')); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return wr, nil
}

// SetBlockSize sets the uncompressed size at which Write flushes a block.
func (w *Writer) SetBlockSize(n int) {
	if n > 0 {
		w.blockSize = min(n, maxBlock/2)
	}
}

// Write appends f (redacted) to the current block, and writes the block
// out when it has reached the block size.
func (w *Writer) Write(f Frame) error {
	if w.err != nil {
		return w.err
	}
	data, redacted := Redact(w.scratch[:0], f.Data)
	if len(data) > maxBlock/2 {
		return fmt.Errorf("record: frame of %d bytes is too large", len(data))
	}
	if f.Disconnect {
		data = data[:0]
	}
	// Record: uvarint length of the rest; flags; uvarint conn; varint
	// time − previous time in the block; the frame's bytes.
	var hdr [1 + 2*binary.MaxVarintLen64]byte
	flags := byte(f.Dir & 1)
	if f.Disconnect {
		flags |= 2
	}
	hdr[0] = flags
	n := 1 + binary.PutUvarint(hdr[1:], f.Conn)
	n += binary.PutVarint(hdr[n:], f.Time-w.last)
	w.last = f.Time
	w.block = binary.AppendUvarint(w.block, uint64(n+len(data)))
	w.block = append(w.block, hdr[:n]...)
	w.block = append(w.block, data...)
	if redacted && cap(data) > cap(w.scratch) {
		w.scratch = data[:0] // ours, not the caller's
	}
	w.frames++
	if len(w.block) >= w.blockSize {
		return w.Flush()
	}
	return nil
}

// Flush writes the frames written since the last flush as one gzip member
// (nothing when there are none). After Flush returns, they are in the
// underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil || len(w.block) == 0 {
		return w.err
	}
	w.zw.Reset(w.w)
	if _, err := w.zw.Write(w.block); err != nil {
		w.err = err
		return err
	}
	if err := w.zw.Close(); err != nil {
		w.err = err
		return err
	}
	w.block = w.block[:0]
	w.last = 0
	w.blocks++
	return nil
}

// Close flushes. It does not close the underlying writer.
func (w *Writer) Close() error { return w.Flush() }

// Frames is how many frames were written.
func (w *Writer) Frames() uint64 { return w.frames }

// decodeBlock parses the next record of a block at *pos.
func decodeRecord(block []byte, pos *int, last *int64, f *Frame) error {
	n, k := binary.Uvarint(block[*pos:])
	if k <= 0 || n == 0 || n > uint64(len(block)-*pos-k) {
		return fmt.Errorf("%w: bad record length at block offset %d", ErrCorrupt, *pos)
	}
	rec := block[*pos+k : *pos+k+int(n)]
	*pos += k + int(n)
	flags := rec[0]
	if flags&^3 != 0 {
		return fmt.Errorf("%w: unknown record flags %#x", ErrCorrupt, flags)
	}
	c, k1 := binary.Uvarint(rec[1:])
	if k1 <= 0 {
		return fmt.Errorf("%w: bad connection id", ErrCorrupt)
	}
	d, k2 := binary.Varint(rec[1+k1:])
	if k2 <= 0 {
		return fmt.Errorf("%w: bad time", ErrCorrupt)
	}
	*last += d
	*f = Frame{Time: *last, Conn: c, Dir: Dir(flags & 1), Disconnect: flags&2 != 0, Data: rec[1+k1+k2:]}
	return nil
}

// isGzip reports whether b starts like a gzip member.
func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }
