package sim

import (
	"encoding/json"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// session is one client connection.
type session struct {
	srv    *Server
	id     uint64
	ws     *websocket.Conn
	remote string
	out    chan []byte // nil entry: write a close frame and hang up
	done   chan struct{}
	once   sync.Once
	reason atomic.Value // string: why the connection is closing

	// Guarded by srv.mu.
	account    string
	authed     bool
	token      *token
	channels   map[string]struct{}
	codSet     bool // an explicit connection-scope setting overrides the account's
	cod        bool
	hbInterval time.Duration
	hbStop     chan struct{}
	credits    bucket
	loggedOut  bool
	hello      string

	// deferred holds frames a handler produced that must follow its
	// response (the snapshots of public/subscribe). Guarded by srv.mu.
	deferred [][]byte
	// closing is set once the session is being terminated: frames read
	// after that are not handled (Deribit stops at the terminating error).
	closing atomic.Bool

	// Heartbeat state. Lock order: srv.mu, then hbMu; the heartbeat loop
	// takes hbMu alone.
	hbMu        sync.Mutex
	testPending bool
	testSentAt  time.Time
	recv        atomic.Bool // a frame arrived since the last heartbeat tick
	testsSent   atomic.Int64
	testsAnswer atomic.Int64
}

var (
	frameTestRequest = []byte(`{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}`)
	frameHeartbeat   = []byte(`{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}`)
)

func newSession(s *Server, ws *websocket.Conn) *session {
	c := &session{
		srv:      s,
		id:       s.nextConn.Add(1),
		ws:       ws,
		remote:   ws.RemoteAddr().String(),
		out:      make(chan []byte, s.cfg.SendQueue),
		done:     make(chan struct{}),
		channels: make(map[string]struct{}),
	}
	rl := s.cfg.RateLimits
	c.credits = newBucket(float64(rl.NonMatchingMax), float64(rl.NonMatchingRefill))
	return c
}

// shutdown closes the socket at once; the read loop then cleans up. Safe to
// call from anywhere, any number of times, with or without srv.mu.
func (c *session) shutdown(reason string) {
	c.once.Do(func() {
		c.reason.Store(reason)
		close(c.done)
		_ = c.ws.Close()
	})
}

// hangUp queues a close frame after whatever is already queued (so an error
// frame reaches the client first), or shuts down at once if the queue is full.
func (c *session) hangUp(reason string) {
	c.closing.Store(true)
	c.reason.CompareAndSwap(nil, reason)
	select {
	case c.out <- nil:
	default:
		c.shutdown(reason)
	}
}

// send queues one frame. It never blocks: a client that lets its queue fill
// is disconnected, as Deribit does with connection_too_slow.
func (c *session) send(b []byte) {
	if c.srv.silent.Load() {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	select {
	case c.out <- b:
	default:
		c.srv.stats.slowKills.Add(1)
		c.shutdown("connection_too_slow")
	}
}

func (c *session) readLoop() {
	defer c.cleanup()
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok && ce.Code == websocket.CloseMessageTooBig {
				c.reason.CompareAndSwap(nil, "frame too large")
			}
			c.shutdown("read: " + err.Error())
			return
		}
		c.recv.Store(true)
		if c.closing.Load() {
			continue // terminated: drain until the socket closes, handle nothing
		}
		if c.srv.silent.Load() {
			c.srv.stats.silentDropped.Add(1)
			c.srv.changed()
			continue // a silent exchange reads and answers nothing
		}
		c.handle(data)
	}
}

func (c *session) writeLoop() {
	for {
		var b []byte
		select {
		case <-c.done:
			return
		case b = <-c.out:
		}
		if d := time.Duration(c.srv.delay.Load()); d > 0 {
			t := c.srv.clk.NewTimer(d)
			select {
			case <-t.C():
			case <-c.done:
				t.Stop()
				return
			}
		}
		_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if b == nil {
			_ = c.ws.WriteMessage(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			r, _ := c.reason.Load().(string)
			c.shutdown(r)
			return
		}
		if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
			c.shutdown("write: " + err.Error())
			return
		}
	}
}

// cleanup runs once, on the read goroutine, after the socket is gone:
// it deregisters the session and fires cancel-on-disconnect.
func (c *session) cleanup() {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, c.id)
	defer s.changed()
	for ch := range c.channels {
		s.unsubscribeLocked(c, ch)
	}
	if c.hbStop != nil {
		close(c.hbStop)
		c.hbStop = nil
	}
	if !c.loggedOut {
		// Every order this connection created whose owner has
		// cancel-on-disconnect active here: the connection may have acted
		// for an account through access_token without public/auth.
		id := c.id
		cancelled := s.engine.CancelMatching(s.nowMs(), "cancel_on_disconnect", func(o *Order) bool {
			return o.ConnID == id && c.codActiveForLocked(o.Owner)
		})
		s.stats.codCancelled.Add(int64(len(cancelled)))
		if h := s.onCOD.Load(); h != nil && len(cancelled) > 0 {
			(*h)(cancelled)
		}
		s.afterOpLocked()
	}
	r, _ := c.reason.Load().(string)
	s.log.Debug("sim: connection closed", "id", c.id, "reason", r)
}

// codActiveForLocked reports whether cancel-on-disconnect applies on this
// connection to account's orders: an explicit connection-scope setting
// wins, else the account-scope setting.
func (c *session) codActiveForLocked(account string) bool {
	if c.codSet {
		return c.cod
	}
	if a := c.srv.accounts[account]; a != nil {
		return a.codAccount
	}
	return false
}

func (c *session) infoLocked() ConnInfo {
	chs := make([]string, 0, len(c.channels))
	for ch := range c.channels {
		chs = append(chs, ch)
	}
	sort.Strings(chs)
	return ConnInfo{
		ID:                 c.id,
		Remote:             c.remote,
		Account:            c.account,
		Authenticated:      c.authed,
		HeartbeatInterval:  c.hbInterval,
		COD:                c.account != "" && c.codActiveForLocked(c.account),
		Channels:           chs,
		TestRequestsSent:   c.testsSent.Load(),
		TestRequestsAnswer: c.testsAnswer.Load(),
	}
}

// startHeartbeatLocked (re)starts the heartbeat loop with interval d.
func (c *session) startHeartbeatLocked(d time.Duration) {
	if c.hbStop != nil {
		close(c.hbStop)
	}
	c.hbInterval = d
	c.hbStop = make(chan struct{})
	c.hbMu.Lock()
	c.testPending = false
	c.hbMu.Unlock()
	c.srv.wg.Add(1)
	go func(stop chan struct{}) {
		defer c.srv.wg.Done()
		c.heartbeatLoop(d, stop)
	}(c.hbStop)
}

func (c *session) stopHeartbeatLocked() {
	if c.hbStop != nil {
		close(c.hbStop)
		c.hbStop = nil
	}
	c.hbInterval = 0
}

// heartbeatLoop sends, at every interval, a test_request when nothing
// arrived from the client during the interval and a heartbeat otherwise, and
// closes the connection when a test_request stays unanswered by a public/test
// for the grace period (RATIONALE.md, "Why does the simulator send heartbeat
// frames the way FIX does?"). Its timer is re-armed only after a tick is
// handled, so a test driving a fake clock knows a tick is done when the timer
// is back.
func (c *session) heartbeatLoop(interval time.Duration, stop chan struct{}) {
	grace := c.srv.cfg.HeartbeatGrace
	if grace <= 0 {
		grace = interval
	}
	t := c.srv.clk.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-c.done:
			return
		case now := <-t.C():
			if !c.heartbeatTick(now, grace) {
				return
			}
			t.Reset(interval)
		}
	}
}

// heartbeatTick handles one tick; false means the connection was closed.
func (c *session) heartbeatTick(now time.Time, grace time.Duration) bool {
	if c.srv.silent.Load() {
		// A silent exchange neither sends nor judges: whatever was pending
		// is forgotten, so that no client is dropped the moment it speaks.
		c.hbMu.Lock()
		c.testPending = false
		c.hbMu.Unlock()
		c.recv.Store(false)
		return true
	}
	c.hbMu.Lock()
	if c.testPending && now.Sub(c.testSentAt) >= grace {
		c.hbMu.Unlock()
		c.srv.stats.hbKills.Add(1)
		c.shutdown("heartbeat: test_request not answered")
		return false
	}
	quiet := !c.recv.Swap(false) || c.srv.cfg.AlwaysTestRequest
	sendTest := quiet && !c.testPending
	if sendTest {
		c.testPending = true
		c.testSentAt = now
	}
	c.hbMu.Unlock()
	if sendTest {
		c.testsSent.Add(1)
		c.send(frameTestRequest)
	} else {
		c.send(frameHeartbeat)
	}
	return true
}

// answered records a public/test from the client.
func (c *session) answered() {
	c.hbMu.Lock()
	if c.testPending {
		c.testPending = false
		c.testsAnswer.Add(1)
	}
	c.hbMu.Unlock()
}

// notification is the frame of a subscription message.
type notification struct {
	JSONRPC string          `json:"jsonrpc"`
	Method  string          `json:"method"`
	Params  notificationArg `json:"params"`
}

type notificationArg struct {
	Channel string `json:"channel"`
	Data    any    `json:"data"`
}

func encodeNotification(channel string, data any) []byte {
	b, err := json.Marshal(notification{JSONRPC: "2.0", Method: "subscription",
		Params: notificationArg{Channel: channel, Data: data}})
	if err != nil {
		panic("sim: notification does not marshal: " + err.Error()) // our own types; a bug
	}
	return b
}
