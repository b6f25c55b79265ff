package sandbox

// The transport's floor: a bare child (StartFloor).

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/stratbox/stratbox/host/sandbox/shm"
)

// Floor is a bare child process: started as NewProcess starts a plugin's
// child (the same binary, arguments, limits, priority and confinement),
// with the same shared-memory region and wake-up, but with no plugin: it
// sends every request back as it came. A round trip through it is what a
// call to a child costs at the least, whatever the plugin does: the floor
// of the transport, measured beside the host's figures (host bench).
//
// A Floor is used by one goroutine at a time, except Close.
type Floor struct {
	c      child
	ep     *shm.Endpoint
	stderr *stderrLog
	buf    []byte
	done   chan struct{} // closed when the liveness goroutine has seen the child's output end
	once   sync.Once
}

// floorType is the record type of a floor round trip.
const floorType = 'D'

// StartFloor starts a bare child as pc says (see Floor) and waits until
// it serves, for pc.StartTimeout at most; the child's stderr is logged on
// log. childSpin is the longest the child spins for a request before it
// sleeps (its limit adapts below it; a plugin's child has
// shm.DefaultSpin); 0 makes it sleep at once, as a plugin's child whose
// calls come further apart than its spin ends up doing. Without shared
// memory (outside Linux) it fails with an error that wraps
// shm.ErrNotSupported.
func StartFloor(pc ProcessConfig, childSpin time.Duration, log *slog.Logger) (*Floor, error) {
	pc = pc.withDefaults()
	region, err := shm.Create(shm.WithRingSize(ringSize))
	if err != nil {
		return nil, fmt.Errorf("sandbox: floor: %w", err)
	}
	f := &Floor{stderr: &stderrLog{log: log.With("floor", true)}, done: make(chan struct{})}
	c, err := startChild(pc, 0, f.stderr, func() *shm.Region { return region })
	if err != nil { // the region is closed
		return nil, fmt.Errorf("sandbox: floor: %w", err)
	}
	f.c = c
	req := appendFrameHeader(nil, reqFloor, 16)
	req = binary.LittleEndian.AppendUint32(req, uint32(c.ringFD))
	req = binary.LittleEndian.AppendUint32(req, 0)
	req = binary.LittleEndian.AppendUint64(req, uint64(max(0, childSpin)))
	ready := make(chan error, 1)
	go func() {
		r := bufio.NewReader(c.stdout)
		var hdr [frameHeader]byte
		var body []byte
		typ, body, err := readFrame(r, &hdr, &body, maxReply)
		if err != nil {
			err = fmt.Errorf("read the reply to the floor request: %w", err)
		} else if typ != repResult || len(body) != 0 {
			err = fmt.Errorf("reply %q of %d bytes to the floor request", typ, len(body))
		}
		ready <- err
		_, _ = io.Copy(io.Discard, r) // until the child's output ends
		close(f.done)
	}()
	timer := time.NewTimer(pc.StartTimeout)
	defer timer.Stop()
	if _, err = c.stdin.Write(req); err != nil {
		// A binary that exits at once (not a host) may close its input
		// before the request is written.
		err = fmt.Errorf("send the floor request: %w", err)
	} else {
		select {
		case err = <-ready:
		case <-timer.C:
			err = fmt.Errorf("no reply within %v", pc.StartTimeout)
		}
	}
	if err != nil {
		f.Close()
		msg := err.Error()
		if st := f.c.cmd.ProcessState; st != nil {
			msg += " (child " + st.String() + ")"
		}
		if tail := f.stderr.tailText(); tail != "" {
			msg += "; stderr: " + tail
		}
		return nil, fmt.Errorf("sandbox: floor: %s", msg)
	}
	f.ep = c.region.Parent()
	go func() {
		<-f.done
		f.ep.Abort(errChildOutputEnded)
	}()
	return f, nil
}

// RoundTrip sends req through the ring, wakes the child and waits until
// deadline for it to come back; the reply is valid until the next call.
// After an error the Floor is to be closed.
func (f *Floor) RoundTrip(req []byte, deadline time.Time) ([]byte, error) {
	typ, got, err := f.ep.Call(floorType, req, f.buf, deadline)
	if err != nil {
		return nil, fmt.Errorf("sandbox: floor: %w", err)
	}
	f.buf = got
	if typ != floorType || len(got) != len(req) {
		return nil, fmt.Errorf("sandbox: floor: reply %q of %d bytes to %d", typ, len(got), len(req))
	}
	return got, nil
}

// MaxRequest is the largest request RoundTrip takes.
func (f *Floor) MaxRequest() int { return f.ep.MaxRecord() }

// Close ends the child (the end of its stdin, then a kill) and reaps it.
// It is idempotent.
func (f *Floor) Close() error {
	f.once.Do(func() {
		_ = f.c.stdin.Close() // the bare child exits at the end of its input
		t := time.AfterFunc(stopGrace, func() { _ = f.c.cmd.Process.Kill() })
		_ = f.c.cmd.Wait()
		t.Stop()
		<-f.done
		_ = f.c.stdout.Close()
		_ = f.c.region.Close()
		f.stderr.flush()
	})
	return nil
}
