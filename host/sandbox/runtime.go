package sandbox

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/stratbox/stratbox/abi"
)

// Isolation says where a plugin's code runs.
type Isolation string

// Isolation modes.
const (
	// IsolateProcess runs each plugin instance in a child process (the host
	// binary started with ChildArg), so that a plugin that spins cannot
	// hold up the host's garbage collector, and with it the heartbeats.
	// The default for live trading. See RATIONALE.md.
	IsolateProcess Isolation = "process"
	// IsolateNone runs the plugin in the host's process: the fastest
	// dispatch, for trusted plugins, tests and backtests.
	IsolateNone Isolation = "none"
)

// Sandbox is one live plugin instance, in this process or in a child
// process. A Sandbox is used from one goroutine at a time (its owner's);
// Fault and Stats are safe from any goroutine.
//
// Every call takes the host time now: the plugin's clock (the now import,
// WASI clocks) reads now during the call, and timers are due against it, so
// that a run on a fake clock is deterministic whatever the isolation.
type Sandbox interface {
	// Start writes the start-up blob into the inbox and calls
	// stratbox_init; it returns the intents the plugin wrote. It is called
	// once, first.
	Start(ctx context.Context, startup []byte, now time.Time) ([]byte, error)
	// Deliver appends a timer event for each of the plugin's timers due at
	// now (earliest first) to batch, numbers every event record of the
	// batch (header seq, one counter per instance starting at 1), makes one
	// stratbox_on_events call and returns the intents. batch may be empty
	// when only timers are due; with nothing to deliver it returns nil and
	// makes no call. The result is valid until the next call.
	Deliver(ctx context.Context, batch []byte, now time.Time) ([]byte, error)
	// NextTimer is when the plugin's earliest timer is due; ok is false
	// when none is armed.
	NextTimer() (due time.Time, ok bool)
	// Stop calls stratbox_on_stop (if exported) and returns its intents;
	// the sandbox is closed afterwards.
	Stop(ctx context.Context, now time.Time) ([]byte, error)
	// Close discards the instance (and ends its process). Idempotent.
	Close() error
	// Fault is what killed the instance, or nil.
	Fault() *Fault
	// Stats are the instance's counters.
	Stats() InstanceStats
	// Descriptor is the plugin's buffer descriptor (valid after Start).
	Descriptor() abi.Descriptor
}

// NumberEvents sets the header seq of every record of batch from *seq,
// incrementing it, as Sandbox.Deliver must; batch is framed whole records
// (the host built it). For Sandbox implementations outside this package.
func NumberEvents(batch []byte, seq *uint32) {
	for off := 0; off+abi.HeaderSize <= len(batch); {
		size := int(binary.LittleEndian.Uint16(batch[off+abi.OffSize:]))
		if size < abi.HeaderSize {
			return
		}
		*seq++
		binary.LittleEndian.PutUint32(batch[off+abi.OffSeq:], *seq)
		off += size
	}
}

// appendDueTimers appends a timer event for each id due at now, as many as
// fit in room bytes past dst's end (earliest first); the rest stay due for
// the next call, so that timers never make a batch larger than the inbox.
func appendDueTimers(dst []byte, st *instState, now time.Time, room int) []byte {
	for _, d := range st.dueTimersAt(now, max(room, 0)/abi.SizeTimer) {
		dst = abi.AppendTimer(dst, &abi.Timer{ID: d.id, Time: uint64(now.UnixNano()), Due: uint64(d.at.UnixNano())})
	}
	return dst
}

// BatchRecorder is a Sandbox that keeps the last batch it delivered as the
// plugin received it: with the timer events due and every record's seq
// number. NewInProcess's Sandbox is one; the lock step's observer reads it.
type BatchRecorder interface {
	// LastBatch is valid until the next Deliver.
	LastBatch() []byte
}

var _ BatchRecorder = (*inProcess)(nil)

// inProcess is the Sandbox of IsolateNone: an Instance called directly.
type inProcess struct {
	p     *Plugin
	inst  *Instance
	st    *instState
	seq   uint32
	batch []byte
	dead  atomic.Bool
}

// NewInProcess starts nothing yet: it returns a Sandbox that runs a fresh
// instance of p in this process when Start is called. p's clock must be the
// clock the caller passes as now (the now import reads it live).
func NewInProcess(p *Plugin) Sandbox { return &inProcess{p: p} }

func (s *inProcess) Start(ctx context.Context, startup []byte, now time.Time) ([]byte, error) {
	if s.inst != nil {
		return nil, fmt.Errorf("sandbox: plugin %q: Start called twice", s.p.name)
	}
	in, intents, err := s.p.Start(ctx, startup)
	if in != nil {
		s.inst, s.st = in, in.st
	}
	return intents, err
}

func (s *inProcess) Deliver(ctx context.Context, batch []byte, now time.Time) ([]byte, error) {
	if s.inst == nil {
		return nil, ErrDead
	}
	b := append(s.batch[:0], batch...)
	b = appendDueTimers(b, s.st, now, int(s.inst.desc.InboxCap)-len(b))
	s.batch = b
	if len(b) == 0 {
		return nil, nil
	}
	NumberEvents(b, &s.seq)
	return s.inst.Deliver(ctx, b)
}

// LastCallTime is how long the last call into the plugin took.
func (s *inProcess) LastCallTime() time.Duration {
	if s.inst == nil {
		return 0
	}
	return time.Duration(s.inst.lastNs)
}

// LastBatch is the batch of the last Deliver, with its timers and seqs.
func (s *inProcess) LastBatch() []byte { return s.batch }

func (s *inProcess) NextTimer() (time.Time, bool) {
	if s.st == nil {
		return time.Time{}, false
	}
	return s.st.nextTimer()
}

func (s *inProcess) Stop(ctx context.Context, now time.Time) ([]byte, error) {
	if s.inst == nil {
		return nil, nil
	}
	return s.inst.Stop(ctx)
}

func (s *inProcess) Close() error {
	if s.inst == nil {
		return nil
	}
	return s.inst.Close(context.Background())
}

func (s *inProcess) Fault() *Fault {
	if s.inst == nil {
		return nil
	}
	return s.inst.Fault()
}

func (s *inProcess) Stats() InstanceStats {
	if s.inst == nil {
		return InstanceStats{}
	}
	return s.inst.Stats()
}

func (s *inProcess) Descriptor() abi.Descriptor {
	if s.inst == nil {
		return abi.Descriptor{}
	}
	return s.inst.desc
}
