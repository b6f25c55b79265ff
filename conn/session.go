package conn

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stratbox/stratbox/heartbeat"
)

// session is one socket and the goroutines that own it:
//   - the reader (readLoop) owns ws's read side and the read buffer;
//   - the writer (writeLoop) owns ws's write side;
//   - the watchdog declares the socket stale when the peer goes silent;
//   - the refresher (when authenticated) refreshes the token.
//
// A session never outlives its socket: when either loop fails, the watchdog
// fires or the Conn closes, fail records the cause, closes done and the
// socket, and every waiting request returns.
type session struct {
	c  *Conn
	ws socket

	prio chan answer  // heartbeat answers; the writer always drains it first
	out  chan *outMsg // everything else

	done     chan struct{}
	failOnce sync.Once
	err      error // set before done is closed
	ready    atomic.Bool
	wg       sync.WaitGroup

	mu      sync.Mutex // guards waiters and closed; held only around map operations
	waiters map[uint64]*waiter
	closed  bool

	tok    *token // written by setup, then only by the refresher
	authed bool   // written by setup before ready is set; read after

	readyAt   time.Time   // set by connect before ready; read by run after the session ends
	throttled atomic.Bool // the exchange answered too_many_requests (10028): it ends the session

	// Reader-only.
	overflowing bool // the state shows this overflow run (Degraded, ErrSlowConsumer)
	unreported  bool // a drop the state could not show yet (not Ready then)
	okRun       int
}

// socket is the part of *websocket.Conn a session uses (an interface so
// that tests can drive the writer without a network).
type socket interface {
	NextReader() (int, io.Reader, error)
	WriteMessage(messageType int, data []byte) error
	WriteControl(messageType int, data []byte, deadline time.Time) error
	SetWriteDeadline(t time.Time) error
	Close() error
}

var _ socket = (*websocket.Conn)(nil)

// answer is a queued public/test: its id and when the test_request was read.
type answer struct {
	id     uint64
	readAt time.Time
}

// outMsg is a queued request. state lets a caller that gives up take it back
// before the writer takes it.
type outMsg struct {
	b     []byte
	state atomic.Int32
}

const (
	msgQueued int32 = iota
	msgTaken
	msgCancelled
)

type waiter struct {
	ch chan reply // buffered 1; the reader sends at most once
}

type reply struct {
	raw []byte
	err error
}

// prioLane is the capacity of the priority lane. Deribit sends one
// test_request per interval; a full lane means the writer has been stuck for
// many intervals, and the answer is counted as dropped.
const prioLane = 64

func (c *Conn) newSession(ws socket) *session {
	s := c.bareSession(ws)
	c.mon.Reset(c.clk.Now())
	c.cur.Store(s)
	s.wg.Add(3)
	go s.readLoop()
	go s.writeLoop()
	go s.watchdog()
	return s
}

func (c *Conn) bareSession(ws socket) *session {
	return &session{
		c:       c,
		ws:      ws,
		prio:    make(chan answer, prioLane),
		out:     make(chan *outMsg, c.cfg.WriteQueue),
		done:    make(chan struct{}),
		waiters: make(map[uint64]*waiter),
	}
}

// fail ends the session with cause err (the first cause wins).
func (s *session) fail(err error) {
	s.failOnce.Do(func() {
		s.ready.Store(false)
		s.err = err
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.done)
		_ = s.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(100*time.Millisecond))
		_ = s.ws.Close()
	})
}

// cause is why the session ended; call it after done is closed.
func (s *session) cause() error {
	<-s.done
	return s.err
}

func (s *session) wait() { s.wg.Wait() }

func disconnected(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrDisconnected, op, err)
}

// readLoop is the only reader of the socket. For every frame it answers a
// test_request first, then hands the frame to whoever waits for it, and
// never blocks on anything but the socket.
func (s *session) readLoop() {
	defer s.wg.Done()
	c := s.c
	max := c.cfg.MaxFrameSize
	buf := make([]byte, 0, min(64<<10, max))
	for {
		mt, r, err := s.ws.NextReader()
		if err != nil {
			s.fail(disconnected("read", err))
			return
		}
		var over bool
		buf, over, err = readFrame(r, buf, max)
		if err != nil {
			s.fail(disconnected("read", err))
			return
		}
		now := c.clk.Now()
		f := Classify(buf)
		if f.Kind == KindTestRequest && !over && mt == websocket.TextMessage {
			s.answer(now) // before anything else: rule 1 of docs/architecture.md
		}
		if c.tap != nil {
			c.tap(false, c.id, now, buf)
		}
		c.mon.FrameReceived(now)
		c.frames.Add(1)
		switch {
		case mt != websocket.TextMessage:
			c.malformed.Add(1)
			continue
		case over:
			c.oversized.Add(1)
			c.log.Debug("conn: oversized frame skipped", "limit", max)
			if f.HasID && (f.Kind == KindResponse || f.Kind == KindError) {
				s.complete(f.ID, now, reply{err: fmt.Errorf("%w: limit %d bytes", ErrFrameTooLarge, max)})
			}
			continue
		}
		switch f.Kind {
		case KindTestRequest:
		case KindHeartbeat:
			c.mon.HeartbeatReceived()
		case KindNotification:
			ch, data, err := ParseNotification(buf, f)
			if err != nil {
				s.malformed(err)
				continue
			}
			s.deliver(Notification{Channel: ch, Data: data, Received: now})
		case KindResponse:
			if !f.HasID {
				c.unmatched.Add(1)
				continue
			}
			raw, err := ParseResult(buf, f)
			if err != nil {
				s.malformed(err)
				s.complete(f.ID, now, reply{err: err})
				continue
			}
			s.complete(f.ID, now, reply{raw: raw})
		case KindError:
			e, err := ParseError(buf, f)
			if err != nil {
				s.malformed(err)
				if f.HasID {
					s.complete(f.ID, now, reply{err: err})
				}
				continue
			}
			if e.Code == codeTooManyRequests {
				s.throttled.Store(true)
			}
			if !f.HasID {
				c.unmatched.Add(1)
				if n := c.idlessErrors.Add(1); n&(n-1) == 0 { // 1, 2, 4, 8…, like malformed
					c.log.Warn("conn: exchange error without id", "count", n, "code", e.Code, "message", e.Message)
				}
				continue
			}
			s.complete(f.ID, now, reply{err: e})
		case KindOther:
			c.other.Add(1)
		default:
			s.malformed(nil)
		}
	}
}

func (s *session) malformed(err error) {
	n := s.c.malformed.Add(1)
	if n&(n-1) == 0 { // 1, 2, 4, 8…: a flood of garbage cannot flood the log
		s.c.log.Warn("conn: malformed frame skipped", "count", n, "err", err)
	}
}

// answer queues public/test on the priority lane. It never blocks: a full
// lane counts a dropped answer.
func (s *session) answer(now time.Time) {
	id := s.c.answerID()
	s.c.mon.TestRequest(id)
	select {
	case s.prio <- answer{id: id, readAt: now}:
		// The send made the writer runnable on this P's "run next" slot,
		// where it would wait until this goroutine blocks, which under a
		// flood of frames can be hundreds of microseconds. Yield once so
		// that it runs now (see RATIONALE.md, "How do the write lanes work?").
		runtime.Gosched()
	default:
		s.c.mon.AnswerDropped()
	}
}

// deliver hands a notification to the sink and tracks overflow runs: the
// first drop turns the state Degraded, SinkQueue clean deliveries in a row
// turn it back. A drop while the state cannot show it (during setup, before
// Ready) is remembered and reported at the next delivery once Ready.
func (s *session) deliver(n Notification) {
	c := s.c
	c.notifications.Add(1)
	if c.sink.Deliver(n) {
		if s.overflowing {
			if s.okRun++; s.okRun >= c.cfg.SinkQueue {
				s.overflowing = false
				c.sinkOverflow(false)
			}
		} else if s.unreported {
			s.reportOverflow()
		}
		return
	}
	c.sinkDropped.Add(1)
	s.okRun = 0
	if !s.overflowing {
		s.unreported = true
		s.reportOverflow()
	}
}

// reportOverflow latches the overflow only when the state change was
// recorded; otherwise it stays unreported and is tried again.
func (s *session) reportOverflow() {
	if !s.c.sinkOverflow(true) {
		return
	}
	s.overflowing, s.unreported = true, false
	s.c.log.Warn("conn: notification sink overflowed", "policy", string(s.c.cfg.Overflow))
}

// Request ids are even, heartbeat answer ids odd: the reader recognises the
// response to an answer from its id alone, however many are in flight.
func (c *Conn) callID() uint64   { return c.nextID.Add(1) << 1 }
func (c *Conn) answerID() uint64 { return c.nextAns.Add(1)<<1 | 1 }
func isAnswerID(id uint64) bool  { return id&1 == 1 }

// complete hands a reply to the request waiting for id. The raw result is
// copied: the read buffer is reused for the next frame.
func (s *session) complete(id uint64, now time.Time, r reply) {
	s.mu.Lock()
	w := s.waiters[id]
	delete(s.waiters, id)
	s.mu.Unlock()
	if w == nil {
		if isAnswerID(id) {
			s.c.mon.TestResponse(id, now) // times the round trip when still known
		} else {
			s.c.unmatched.Add(1)
		}
		return
	}
	s.c.responses.Add(1)
	if r.raw != nil {
		r.raw = append([]byte(nil), r.raw...)
	}
	w.ch <- r
}

// readFrame reads one message into buf (reused, grown up to max). When the
// message is larger than max it returns the first max bytes, over set, and
// discards the rest without buffering it.
func readFrame(r io.Reader, buf []byte, max int) ([]byte, bool, error) {
	b := buf[:0]
	for {
		if len(b) == cap(b) {
			if cap(b) >= max {
				var probe [512]byte
				n, err := r.Read(probe[:])
				if n > 0 {
					_, err = io.Copy(io.Discard, r)
					return b, true, err
				}
				if err == io.EOF {
					return b, false, nil
				}
				if err != nil {
					return b, false, err
				}
				continue
			}
			nb := make([]byte, len(b), min(2*cap(b)+512, max))
			copy(nb, b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, false, nil
		}
		if err != nil {
			return b, false, err
		}
	}
}

// writeLoop is the only writer of the socket. It always writes a queued
// heartbeat answer before the next request: a request already being written
// is the longest an answer waits.
func (s *session) writeLoop() {
	defer s.wg.Done()
	scratch := make([]byte, 0, heartbeat.MaxAnswerLen)
	for {
		select {
		case a := <-s.prio:
			if !s.writeAnswer(a, &scratch) {
				return
			}
			continue
		default:
		}
		select {
		case a := <-s.prio:
			if !s.writeAnswer(a, &scratch) {
				return
			}
		case m := <-s.out:
			for drained := false; !drained; {
				select {
				case a := <-s.prio:
					if !s.writeAnswer(a, &scratch) {
						return
					}
				default:
					drained = true
				}
			}
			if !m.state.CompareAndSwap(msgQueued, msgTaken) {
				continue // its caller gave up before it was written
			}
			if !s.write(m.b) {
				return
			}
		case <-s.done:
			return
		}
	}
}

func (s *session) writeAnswer(a answer, scratch *[]byte) bool {
	b := heartbeat.AppendAnswer((*scratch)[:0], a.id)
	*scratch = b
	s.c.mon.AnswerSending(a.id, s.c.clk.Now())
	if !s.write(b) {
		return false
	}
	s.c.mon.AnswerWritten(a.readAt, s.c.clk.Now())
	return true
}

func (s *session) write(b []byte) bool {
	if s.c.tap != nil {
		s.c.tap(true, s.c.id, s.c.clk.Now(), b)
	}
	_ = s.ws.SetWriteDeadline(time.Now().Add(s.c.cfg.WriteTimeout))
	if err := s.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		s.fail(disconnected("write", err))
		return false
	}
	return true
}

// watchdog declares the socket stale when the peer has been silent for the
// heartbeat's silence timeout, by the injected clock.
func (s *session) watchdog() {
	defer s.wg.Done()
	c := s.c
	now := c.clk.Now()
	deadline, _ := c.mon.Check(now)
	t := c.clk.NewTimer(deadline.Sub(now))
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C():
			now := c.clk.Now()
			deadline, dead := c.mon.Check(now)
			if dead {
				c.log.Warn("conn: peer silent, connection stale", "silence", c.mon.Config().SilenceTimeout())
				s.fail(fmt.Errorf("%w: no frame for %v", ErrStale, c.mon.Config().SilenceTimeout()))
				return
			}
			t.Reset(deadline.Sub(now))
		}
	}
}

// goRefresh starts the refresher: it refreshes the token at 80% of its
// lifetime, falls back to a full authentication if the refresh fails, and
// ends the session if that fails too.
func (s *session) goRefresh() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c := s.c
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-s.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		for s.tok.lifetime > 0 {
			t := c.clk.NewTimer(s.tok.refreshAt().Sub(c.clk.Now()))
			if c.refreshArmed != nil {
				c.refreshArmed()
			}
			select {
			case <-s.done:
				t.Stop()
				return
			case <-t.C():
			}
			tok, err := c.authenticate(ctx, s, s.tok.refresh)
			if err != nil && s.ready.Load() {
				tok, err = c.authenticate(ctx, s, "")
			}
			if err != nil {
				if s.ready.Load() {
					s.fail(err)
				}
				return
			}
			s.tok = tok
		}
	}()
}

// call sends one request on this socket and waits for its reply.
func (s *session) call(ctx context.Context, method string, params []byte) ([]byte, error) {
	c := s.c
	if !validMethod(method) {
		return nil, fmt.Errorf("conn: method %q: %w: %w", method, ErrNotSent, ErrConfig)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("conn: %s: %w: %w", method, ErrNotSent, err)
	}
	id := c.callID()
	m := &outMsg{b: appendRequest(make([]byte, 0, len(method)+len(params)+48), id, method, params)}
	w := &waiter{ch: make(chan reply, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("conn: %s: %w: %w", method, ErrNotSent, s.cause())
	}
	s.waiters[id] = w
	s.mu.Unlock()

	t := c.clk.NewTimer(c.cfg.RequestTimeout)
	defer t.Stop()
	select {
	case s.out <- m:
	case <-ctx.Done():
		s.forget(id)
		return nil, fmt.Errorf("conn: %s: %w: %w", method, ErrNotSent, ctx.Err())
	case <-t.C():
		s.forget(id)
		return nil, fmt.Errorf("conn: %s: %w: %w", method, ErrNotSent, ErrTimeout)
	case <-s.done:
		s.forget(id)
		return nil, fmt.Errorf("conn: %s: %w: %w", method, ErrNotSent, s.err)
	}
	var cause error
	select {
	case r := <-w.ch:
		return finish(method, r)
	case <-ctx.Done():
		cause = ctx.Err()
	case <-t.C():
		cause = ErrTimeout
	case <-s.done:
		select {
		case r := <-w.ch: // a reply that raced the socket's end wins
			return finish(method, r)
		default:
		}
		cause = s.err
	}
	s.forget(id)
	if m.state.CompareAndSwap(msgQueued, msgCancelled) {
		return nil, fmt.Errorf("conn: %s: %w: %w", method, ErrNotSent, cause)
	}
	return nil, fmt.Errorf("conn: %s: %w", method, cause)
}

func finish(method string, r reply) ([]byte, error) {
	if r.err != nil {
		return nil, fmt.Errorf("conn: %s: %w", method, r.err)
	}
	return r.raw, nil
}

func (s *session) forget(id uint64) {
	s.mu.Lock()
	delete(s.waiters, id)
	s.mu.Unlock()
}

// appendRequest appends {"jsonrpc":"2.0","id":id,"method":"method","params":params}.
func appendRequest(dst []byte, id uint64, method string, params []byte) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `,"method":"`...)
	dst = append(dst, method...)
	dst = append(dst, `","params":`...)
	if len(params) == 0 {
		params = []byte("{}")
	}
	dst = append(dst, params...)
	return append(dst, '}')
}

// validMethod accepts the printable ASCII method names JSON-RPC methods are,
// so that appendRequest needs no escaping.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
