package record

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/stratbox/stratbox/conn/jsonscan"
)

// Format is a recording's format.
type Format string

// Formats Open recognises.
const (
	FormatNative Format = "stratbox"
	FormatJSONL  Format = "jsonl"
	FormatTardis Format = "tardis"
)

// Stats are a Reader's counters.
type Stats struct {
	Frames  uint64 // returned by Next
	Skipped uint64 // lines that are not frames (text formats)
	Blocks  uint64 // native blocks read
}

// Reader reads the frames of a recording, oldest first.
type Reader interface {
	// Next returns the next frame; io.EOF at the clean end, an error
	// wrapping ErrTruncated when the file ends inside a block (everything
	// before was returned), or ErrCorrupt. Data is valid until the next
	// call.
	Next() (Frame, error)
	Format() Format
	Stats() Stats
}

// Open sniffs r's format (plain or gzip-compressed) and returns a Reader.
func Open(r io.Reader) (Reader, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	head, err := br.Peek(2)
	if err != nil && len(head) == 0 {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: empty input", ErrFormat)
		}
		return nil, err
	}
	if !isGzip(head) {
		return openText(br)
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("%w: gzip header: %v", ErrCorrupt, err)
	}
	zr.Multistream(false)
	m := &members{zr: zr, br: br}
	first := make([]byte, len(Magic))
	n, err := io.ReadFull(m, first)
	if n == len(Magic) && string(first) == Magic {
		rest, err := io.ReadAll(io.LimitReader(zr, 1<<20))
		if err != nil {
			return nil, readErr(err, "header")
		}
		nr := &nativeReader{zr: zr, br: br}
		if err := json.Unmarshal(bytes.TrimSpace(rest), &nr.header); err != nil {
			return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
		}
		return nr, nil
	}
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, readErr(err, "first block")
	}
	return openText(bufio.NewReaderSize(io.MultiReader(bytes.NewReader(first[:n]), m), 256<<10))
}

// readErr classifies a decompression error.
func readErr(err error, where string) error {
	var ce flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %s ends early", ErrTruncated, where)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &ce):
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, where, err)
	}
	return fmt.Errorf("record: %s: %w", where, err)
}

// members reads the members of a gzip stream one after the other (as
// gzip's multistream mode does, but usable after a member was read alone).
type members struct {
	zr   *gzip.Reader
	br   *bufio.Reader
	done bool
}

func (m *members) Read(p []byte) (int, error) {
	for !m.done {
		n, err := m.zr.Read(p)
		if err != io.EOF {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
		if err := m.zr.Reset(m.br); err != nil {
			m.done = true
			if err != io.EOF {
				return 0, err
			}
		} else {
			m.zr.Multistream(false)
		}
	}
	return 0, io.EOF
}

// nativeReader reads the blocks after the header.
type nativeReader struct {
	zr     *gzip.Reader
	br     *bufio.Reader
	header Header
	block  bytes.Buffer
	pos    int
	last   int64
	stats  Stats
	err    error
}

// Header returns a native recording's header.
func HeaderOf(r Reader) (Header, bool) {
	if n, ok := r.(*nativeReader); ok {
		return n.header, true
	}
	return Header{}, false
}

func (r *nativeReader) Format() Format { return FormatNative }
func (r *nativeReader) Stats() Stats   { return r.stats }

func (r *nativeReader) Next() (Frame, error) {
	for r.err == nil && r.pos >= r.block.Len() {
		r.err = r.nextBlock()
	}
	if r.err != nil {
		return Frame{}, r.err
	}
	var f Frame
	if err := decodeRecord(r.block.Bytes(), &r.pos, &r.last, &f); err != nil {
		r.err = fmt.Errorf("%w (block %d, after %d frames)", err, r.stats.Blocks, r.stats.Frames)
		return Frame{}, r.err
	}
	r.stats.Frames++
	return f, nil
}

// nextBlock reads and checks one whole gzip member.
func (r *nativeReader) nextBlock() error {
	if err := r.zr.Reset(r.br); err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("%w after %d frames (block %d): %v", ErrTruncated, r.stats.Frames, r.stats.Blocks+1, err)
	}
	r.zr.Multistream(false)
	r.block.Reset()
	r.pos, r.last = 0, 0
	n, err := r.block.ReadFrom(io.LimitReader(r.zr, maxBlock+1))
	if err != nil {
		e := readErr(err, fmt.Sprintf("block %d", r.stats.Blocks+1))
		if errors.Is(e, ErrTruncated) {
			return fmt.Errorf("%w after %d frames (block %d ends early)", ErrTruncated, r.stats.Frames, r.stats.Blocks+1)
		}
		return fmt.Errorf("%w (after %d frames)", e, r.stats.Frames)
	}
	if n > maxBlock {
		return fmt.Errorf("%w: block %d is larger than %d bytes", ErrCorrupt, r.stats.Blocks+1, maxBlock)
	}
	r.stats.Blocks++
	return nil
}

// openText sniffs a text format from its first non-blank byte.
func openText(br *bufio.Reader) (Reader, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			if err == io.EOF {
				return nil, fmt.Errorf("%w: empty input", ErrFormat)
			}
			return nil, err
		}
		switch c := b[0]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			_, _ = br.ReadByte()
			continue
		case c == '{':
			return &textReader{br: br, format: FormatJSONL}, nil
		case c >= '0' && c <= '9':
			return &textReader{br: br, format: FormatTardis}, nil
		}
		return nil, fmt.Errorf("%w: neither stratbox's native format, JSON Lines nor Tardis.dev's (first byte %q)", ErrFormat, b[0])
	}
}

// maxLine bounds one line of a text format; a longer one is skipped.
const maxLine = 16 << 20

// textReader reads JSON Lines and Tardis.dev lines.
type textReader struct {
	br     *bufio.Reader
	format Format
	line   []byte
	last   int64
	stats  Stats
	err    error
	sawEnd bool // a disconnect was just returned (Tardis: collapse runs of empty lines)
	sc     jsonscan.Scanner
}

func (r *textReader) Format() Format { return r.format }
func (r *textReader) Stats() Stats   { return r.stats }

// readLine returns the next line without its end; ok false at the end.
func (r *textReader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	over := false
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.line)+len(chunk) <= maxLine {
			r.line = append(r.line, chunk...)
		} else {
			over = true
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && (err != io.EOF || len(r.line) == 0 && !over) {
			return nil, err
		}
		if over {
			r.stats.Skipped++
			r.line = r.line[:0]
			if err == io.EOF {
				return nil, io.EOF
			}
			over = false
			continue
		}
		return bytes.TrimRight(r.line, "\r\n"), nil
	}
}

func (r *textReader) Next() (Frame, error) {
	if r.err != nil {
		return Frame{}, r.err
	}
	for {
		line, err := r.readLine()
		if err != nil {
			if err != io.EOF {
				err = fmt.Errorf("record: line after frame %d: %w", r.stats.Frames, err)
				if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) {
					err = fmt.Errorf("%w after %d frames: %v", ErrTruncated, r.stats.Frames, err)
				}
			}
			r.err = err
			return Frame{}, err
		}
		var f Frame
		var ok bool
		if r.format == FormatTardis {
			f, ok = r.tardis(line)
		} else {
			f, ok = r.jsonl(line)
		}
		if !ok {
			continue
		}
		if f.Time == 0 {
			f.Time = r.last
		}
		r.last = f.Time
		r.stats.Frames++
		return f, nil
	}
}

// tardis parses "<ISO 8601 time> <message>"; an empty line is a disconnect.
func (r *textReader) tardis(line []byte) (Frame, bool) {
	if len(bytes.TrimSpace(line)) == 0 {
		if r.sawEnd || r.stats.Frames == 0 {
			return Frame{}, false
		}
		r.sawEnd = true
		return Frame{Time: r.last, Disconnect: true}, true
	}
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		r.stats.Skipped++
		return Frame{}, false
	}
	ns, ok := parseTime(line[:sp])
	msg := bytes.TrimSpace(line[sp+1:])
	if !ok || len(msg) == 0 || msg[0] != '{' {
		r.stats.Skipped++
		return Frame{}, false
	}
	r.sawEnd = false
	return Frame{Time: ns, Dir: In, Data: msg}, true
}
