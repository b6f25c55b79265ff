package sim

import (
	"math/rand/v2"
	"slices"
	"time"
)

// Fault injection. Every method is safe for concurrent use and takes effect
// at once.

// DropAll closes every client connection abruptly, as a network failure
// would: cancel-on-disconnect fires for each.
func (s *Server) DropAll() {
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for _, c := range s.sessions {
		sessions = append(sessions, c)
	}
	s.mu.Unlock()
	for _, c := range sessions {
		c.shutdown("dropped by fault injection")
	}
}

// DropConn closes one connection abruptly; it reports whether it existed.
func (s *Server) DropConn(id uint64) bool {
	s.mu.Lock()
	c := s.sessions[id]
	s.mu.Unlock()
	if c == nil {
		return false
	}
	c.shutdown("dropped by fault injection")
	return true
}

// DropRandom closes one connection picked at random among those open,
// abruptly (cancel-on-disconnect fires), and returns its id; ok is false
// when none is open. The pick is drawn from a source seeded with
// Config.Seed, over the connections in the order of their ids, so that a
// run with the same seed and the same connections cuts the same ones.
// Called every D, it is the churn fault (`host sim --cut-random-every`).
func (s *Server) DropRandom() (id uint64, ok bool) {
	s.mu.Lock()
	ids := make([]uint64, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	if len(ids) == 0 {
		return 0, false
	}
	slices.Sort(ids)
	s.cutMu.Lock()
	if s.cutRand == nil {
		s.cutRand = rand.New(rand.NewPCG(uint64(s.cfg.Seed), 0x5eed))
	}
	id = ids[s.cutRand.IntN(len(ids))]
	s.cutMu.Unlock()
	if !s.DropConn(id) {
		return 0, false // closed meanwhile
	}
	s.stats.cut.Add(1)
	return id, true
}

// RefuseConnections makes the exchange answer every new WebSocket
// handshake with HTTP 503 (true) or accept them again (false), as an
// exchange that is down or shedding load; open connections are left alone.
// Refusals are counted (Stats.Refused).
func (s *Server) RefuseConnections(on bool) { s.refusing.Store(on) }

// Silence makes the exchange stop sending anything (responses, notifications,
// heartbeats) and stop answering requests, while keeping the sockets open;
// Silence(false) resumes. Requests received while silent are lost. While
// silent, the server does not disconnect clients for missed heartbeats.
func (s *Server) Silence(on bool) { s.silent.Store(on) }

// SetFrameDelay delays every outbound frame by d (measured on the server's
// clock); 0 removes the delay.
func (s *Server) SetFrameDelay(d time.Duration) { s.delay.Store(int64(d)) }

// SendRaw sends data as one text frame to every connection, whatever it is:
// malformed JSON, a frame larger than the client accepts, an unknown method.
func (s *Server) SendRaw(data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.sessions {
		c.send(data)
	}
}

// Publish sends a notification with data on channel to every connection
// subscribed to it, and reports how many there were. It is for tests that
// need a flood of notifications of a known shape.
func (s *Server) Publish(channel string, data any) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.subs[channel])
	s.publishLocked(channel, "", data)
	return n
}

// PublishFrame is Publish with a pre-encoded notification frame, for floods
// that should not measure the simulator's JSON encoding.
func (s *Server) PublishFrame(channel string, frame []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	subs := s.subscribers(channel)
	for _, c := range subs {
		s.stats.notifications.Add(1)
		c.send(frame)
	}
	return len(subs)
}

// Freeze stops (true) or restarts (false) the synthetic market: no price
// moves and no synthetic trades, so resting orders stay as they are, while
// everything else (orders, heartbeats, channels) goes on. Tests freeze it to
// compare a client's view of its orders with the book.
func (s *Server) Freeze(on bool) { s.frozen.Store(on) }

// Maintenance starts (true) or ends (false) a maintenance window: platform_state
// announces it, every order method answers system_maintenance (11051), and
// the synthetic market stands still.
func (s *Server) Maintenance(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maint == on {
		return
	}
	s.maint = on
	if on {
		s.publishLocked("platform_state", "", map[string]any{"maintenance": true})
	}
	for _, idx := range []string{"btc_usd", "eth_usd"} {
		s.publishLocked("platform_state", "", map[string]any{"price_index": idx, "locked": on})
	}
}

// MalformedFrame is a truncated notification, for SendRaw.
var MalformedFrame = []byte(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.raw","data":{"ty`)

// OversizedFrame returns a well-formed notification of n bytes (at least
// 128) on channel "oversized", for SendRaw.
func OversizedFrame(n int) []byte {
	const head = `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"oversized","data":"`
	const tail = `"}}`
	if n < 128 {
		n = 128
	}
	b := make([]byte, n)
	copy(b, head)
	for i := len(head); i < n-len(tail); i++ {
		b[i] = 'x'
	}
	copy(b[n-len(tail):], tail)
	return b
}
