package heartbeat

import (
	"sync/atomic"
	"time"
)

// Monitor keeps the heartbeat state of one connection: when the peer last
// sent anything, which test_requests were answered and how fast, and whether
// the peer has gone silent. It does no I/O and owns no goroutine or timer: the
// connection calls it with the times it reads from its injected clock.
//
// Every method is safe for concurrent use and none blocks: they are atomic
// operations on the Monitor's own fields, with no mutex anything else could
// hold. The connection's read goroutine calls FrameReceived, TestRequest,
// AnswerDropped, HeartbeatReceived and TestResponse; its write goroutine calls
// AnswerSending and AnswerWritten; anyone may call Snapshot, Check and Config.
type Monitor struct {
	cfg     Config
	silence int64 // ns

	lastFrame atomic.Int64 // unix ns of the last frame read; 0 before Reset
	dead      atomic.Bool  // Check reported this liveness period dead

	frames       atomic.Uint64
	heartbeats   atomic.Uint64
	testRequests atomic.Uint64
	answered     atomic.Uint64
	late         atomic.Uint64
	dropped      atomic.Uint64
	unanswered   atomic.Uint64
	silences     atomic.Uint64
	pending      atomic.Int64 // answers queued, not yet written
	responses    atomic.Uint64

	answerLat histogram
	roundTrip histogram

	// ring remembers the ids of recent answers so that their responses are
	// recognised (and timed) without a map or a lock.
	ring [ringSize]slot
}

const ringSize = 16

type slot struct {
	id   atomic.Uint64
	sent atomic.Int64 // unix ns when the answer was handed to the socket; 0 until then
}

// NewMonitor returns a Monitor for cfg, with defaults applied. cfg should have
// passed Validate.
func NewMonitor(cfg Config) *Monitor {
	cfg = cfg.WithDefaults()
	return &Monitor{cfg: cfg, silence: int64(cfg.SilenceTimeout())}
}

// Config returns the configuration in force, defaults applied.
func (m *Monitor) Config() Config { return m.cfg }

// Reset starts a new liveness period at now, for a new socket: the peer is
// considered heard at now, and answers still queued for the previous socket
// are counted as unanswered (missed). Counters and latency histograms are
// cumulative across Resets. Call it after the previous socket's read and write
// goroutines have stopped.
func (m *Monitor) Reset(now time.Time) {
	if p := m.pending.Swap(0); p > 0 {
		m.unanswered.Add(uint64(p))
	}
	m.lastFrame.Store(now.UnixNano())
	m.dead.Store(false)
}

// FrameReceived records that a frame of any kind was read at now.
func (m *Monitor) FrameReceived(now time.Time) {
	m.frames.Add(1)
	m.lastFrame.Store(now.UnixNano())
}

// HeartbeatReceived counts a heartbeat frame of type "heartbeat".
func (m *Monitor) HeartbeatReceived() { m.heartbeats.Add(1) }

// TestRequest records a test_request whose answer will carry JSON-RPC id id.
// Call it before the answer is queued.
func (m *Monitor) TestRequest(id uint64) {
	m.testRequests.Add(1)
	m.pending.Add(1)
	s := &m.ring[id%ringSize]
	s.sent.Store(0)
	s.id.Store(id)
}

// AnswerDropped records that the answer to the last test_request could not be
// queued (the priority lane was full): a missed heartbeat.
func (m *Monitor) AnswerDropped() {
	m.pending.Add(-1)
	m.dropped.Add(1)
}

// AnswerSending records that the answer with id is being written at now; its
// response's round trip is measured from here.
func (m *Monitor) AnswerSending(id uint64, now time.Time) {
	s := &m.ring[id%ringSize]
	if s.id.Load() == id {
		s.sent.Store(now.UnixNano())
	}
}

// AnswerWritten records that the answer to a test_request read at readAt was
// written to the socket at now. An answer later than Config.AnswerDeadline is
// also counted as late (missed).
func (m *Monitor) AnswerWritten(readAt, now time.Time) {
	m.pending.Add(-1)
	m.answered.Add(1)
	d := now.Sub(readAt)
	m.answerLat.record(d)
	if d > m.cfg.AnswerDeadline {
		m.late.Add(1)
	}
}

// TestResponse reports whether id is the id of a recent public/test answer;
// if so it records the round trip from AnswerSending to now.
func (m *Monitor) TestResponse(id uint64, now time.Time) bool {
	s := &m.ring[id%ringSize]
	if s.id.Load() != id || id == 0 {
		return false
	}
	m.responses.Add(1)
	if sent := s.sent.Swap(0); sent != 0 {
		m.roundTrip.record(time.Duration(now.UnixNano() - sent))
	}
	return true
}

// Check reports whether the peer has been silent for the silence timeout at
// now, and the time at which it will be if nothing arrives before. The first
// Check of a liveness period that reports dead counts one silence (missed).
func (m *Monitor) Check(now time.Time) (deadline time.Time, dead bool) {
	deadline = time.Unix(0, m.lastFrame.Load()+m.silence)
	if now.Before(deadline) {
		return deadline, false
	}
	if m.dead.CompareAndSwap(false, true) {
		m.silences.Add(1)
	}
	return deadline, true
}

// Snapshot is a point-in-time copy of a Monitor's counters and latencies.
type Snapshot struct {
	Interval       time.Duration
	SilenceTimeout time.Duration

	Frames       uint64 // frames of any kind read
	Heartbeats   uint64 // frames of type "heartbeat"
	TestRequests uint64 // frames of type "test_request"
	Answered     uint64 // public/test answers written
	Responses    uint64 // responses to those answers read

	// Missed is Late + Dropped + Unanswered + Silences.
	Missed     uint64
	Late       uint64 // answers written after AnswerDeadline
	Dropped    uint64 // answers that could not be queued
	Unanswered uint64 // answers still queued when their socket went away
	Silences   uint64 // silent periods that declared the peer dead

	LastFrame time.Time

	// AnswerLatency is test_request read → public/test written.
	AnswerLatency Latency
	// RoundTrip is public/test written → its response read.
	RoundTrip Latency
}

// Snapshot returns the current counters and latency summaries.
func (m *Monitor) Snapshot() Snapshot {
	s := Snapshot{
		Interval:       m.cfg.Interval,
		SilenceTimeout: time.Duration(m.silence),
		Frames:         m.frames.Load(),
		Heartbeats:     m.heartbeats.Load(),
		TestRequests:   m.testRequests.Load(),
		Answered:       m.answered.Load(),
		Responses:      m.responses.Load(),
		Late:           m.late.Load(),
		Dropped:        m.dropped.Load(),
		Unanswered:     m.unanswered.Load(),
		Silences:       m.silences.Load(),
		AnswerLatency:  m.answerLat.summary(),
		RoundTrip:      m.roundTrip.summary(),
	}
	if ns := m.lastFrame.Load(); ns != 0 {
		s.LastFrame = time.Unix(0, ns)
	}
	s.Missed = s.Late + s.Dropped + s.Unanswered + s.Silences
	return s
}
