package sandbox

// How the parent's requests and the child's replies cross (procSandbox):
// the load on the pipe, every later request and its replies through the
// shared-memory rings (package shm) where the platform has them, the pipe
// otherwise; a message larger than a ring goes on the pipe, announced by a
// recPipe record. After the load the pipe is for liveness: a goroutine
// reads the child's stdout (readPipe) and, at its end or at bytes that are
// not a frame, aborts the parent's endpoint, which ends a call under way at
// once.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stratbox/stratbox/host/sandbox/shm"
)

// ringSize is the data size of each ring of a child: a 64-event batch is
// about 4 KiB, an outbox a few; larger messages take the pipe. Both rings
// together add half a MiB to the child's and the host's resident memory at
// most (the pages are touched as the rings wrap).
const ringSize = 256 << 10

// farFuture is the deadline of a ring wait: the call's timer and the
// liveness goroutine end a wait by aborting the endpoint.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// pipeFrame is a frame read from the pipe after the load, for the
// recPipe record that announces it.
type pipeFrame struct {
	typ  byte
	body []byte
}

// exchange sends a request (typ, now and data; the load is in s.req and
// its module in data) and reads the replies up to the one that ends it,
// logging the plugin's log lines on the way.
func (s *procSandbox) exchange(typ byte, now time.Time, data []byte) (byte, []byte, error) {
	if typ == reqLoad {
		return s.exchangePipe(s.req, data)
	}
	if s.ep == nil {
		s.req = appendTimed(s.req[:0], typ, now, data)
		return s.exchangePipe(s.req, nil)
	}
	return s.exchangeRing(typ, now, data)
}

// exchangePipe writes the request (req, then extra) on the child's stdin
// and reads the replies from its stdout.
func (s *procSandbox) exchangePipe(req, extra []byte) (byte, []byte, error) {
	if _, err := s.stdin.Write(req); err != nil {
		return 0, nil, fmt.Errorf("write request: %w", err)
	}
	if len(extra) > 0 {
		if _, err := s.stdin.Write(extra); err != nil {
			return 0, nil, fmt.Errorf("write request: %w", err)
		}
	}
	for {
		typ, body, err := readFrame(s.r, &s.hdr, &s.reply, maxReply)
		if err != nil {
			return 0, nil, fmt.Errorf("read reply: %w", err)
		}
		if typ != repLog {
			return typ, body, nil
		}
		if err := s.logLine(body); err != nil {
			return 0, nil, err
		}
	}
}

// exchangeRing makes the exchange through the rings: one record of the
// request (its payload: now, then data), and the reply's records.
func (s *procSandbox) exchangeRing(typ byte, now time.Time, data []byte) (byte, []byte, error) {
	binary.LittleEndian.PutUint64(s.at[:], uint64(now.UnixNano()))
	if len(s.at)+len(data) <= s.ep.MaxRecord() {
		if err := s.ep.Send(typ, farFuture, s.at[:], data); err != nil {
			return 0, nil, fmt.Errorf("send request: %w", err)
		}
	} else {
		s.req = appendTimed(s.req[:0], typ, now, data)
		if _, err := s.stdin.Write(s.req); err != nil {
			return 0, nil, fmt.Errorf("write request: %w", err)
		}
		if err := s.ep.Send(recPipe, farFuture); err != nil {
			return 0, nil, fmt.Errorf("send request: %w", err)
		}
	}
	if s.onSent != nil {
		s.onSent()
	}
	for {
		typ, body, err := s.ep.Recv(s.reply, farFuture)
		if err != nil {
			return 0, nil, fmt.Errorf("read reply: %w", err)
		}
		s.reply = body
		if typ == recPipe {
			if len(body) != 0 {
				return 0, nil, fmt.Errorf("pipe record of %d bytes", len(body))
			}
			f, ok := <-s.frames
			if !ok {
				return 0, nil, fmt.Errorf("read reply: %w", s.readerErr())
			}
			typ, body = f.typ, f.body
		}
		if typ != repLog {
			return typ, body, nil
		}
		if err := s.logLine(body); err != nil {
			return 0, nil, err
		}
	}
}

// startReader starts the liveness goroutine once the load is done.
func (s *procSandbox) startReader() {
	s.frames = make(chan pipeFrame, 1)
	s.quit = make(chan struct{})
	s.readerDone = make(chan struct{})
	go s.readPipe()
}

// readPipe reads the child's stdout after the load: the frames of
// messages larger than a ring, handed to the call through s.frames. At the
// end of the output or a broken frame it aborts the endpoint: the call
// under way ends at once, as a process fault.
func (s *procSandbox) readPipe() {
	defer close(s.readerDone)
	defer close(s.frames)
	var hdr [frameHeader]byte
	for {
		var buf []byte
		typ, body, err := readFrame(s.r, &hdr, &buf, maxReply)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errChildOutputEnded
			} else {
				err = fmt.Errorf("child output: %w", err)
			}
			s.pipeErr.Store(&err)
			s.ep.Abort(err)
			return
		}
		select {
		case s.frames <- pipeFrame{typ, body}:
		case <-s.quit:
			return
		}
	}
}

// errChildOutputEnded: the child's stdout ended (it exited, or was killed).
var errChildOutputEnded = errors.New("the child's output ended")

// readerErr is why the liveness goroutine stopped.
func (s *procSandbox) readerErr() error {
	if p := s.pipeErr.Load(); p != nil {
		return *p
	}
	return errChildOutputEnded
}

// openRegion creates the child's shared-memory region; nil where the
// platform has none (the pipe then carries every request) or the memfd
// could not be made (logged: the child works as well, slower).
func (s *procSandbox) openRegion() *shm.Region {
	size := ringSize
	if s.ringSize != 0 {
		size = s.ringSize
	}
	r, err := shm.Create(shm.WithRingSize(size))
	if err != nil {
		if !errors.Is(err, shm.ErrNotSupported) {
			s.log.Warn("plugin child: no shared memory, requests take the pipe", "err", err)
		}
		return nil
	}
	return r
}
