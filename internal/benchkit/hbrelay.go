package benchkit

import (
	"bytes"
	"net"
	"slices"
	"sync"
	"time"
)

// HeartbeatRelay is a WebSocket relay on 127.0.0.1 in front of an exchange
// that times each test_request it forwards to the client until the
// public/test it receives back: the heartbeat answer time on the wire, as
// the exchange would see it. One client at a time is timed (a new
// connection forgets what the last one owed).
type HeartbeatRelay struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	sent     []time.Time // test_requests forwarded, not answered yet
	lat      []time.Duration
}

// StartHeartbeatRelay listens on a loopback port and relays every
// connection to upstream (host:port).
func StartHeartbeatRelay(upstream string) (*HeartbeatRelay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &HeartbeatRelay{ln: ln, upstream: upstream}
	go r.accept()
	return r, nil
}

// Addr is the relay's host:port.
func (r *HeartbeatRelay) Addr() string { return r.ln.Addr().String() }

// Close stops accepting (relayed connections end with their peers).
func (r *HeartbeatRelay) Close() { _ = r.ln.Close() }

// Take returns the answer times measured since the last Take, sorted.
func (r *HeartbeatRelay) Take() []time.Duration {
	r.mu.Lock()
	l := slices.Clone(r.lat)
	r.lat = r.lat[:0]
	r.mu.Unlock()
	slices.Sort(l)
	return l
}

func (r *HeartbeatRelay) accept() {
	for {
		client, err := r.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", r.upstream)
		if err != nil {
			_ = client.Close()
			continue
		}
		r.mu.Lock()
		r.sent = r.sent[:0] // a new connection: no answer is owed
		r.mu.Unlock()
		stop := func() { _, _ = client.Close(), server.Close() }
		go func() {
			defer stop()
			RelayWebSocket(client, server, func(text []byte) {
				if bytes.Contains(text, []byte(`"test_request"`)) {
					now := time.Now()
					r.mu.Lock()
					r.sent = append(r.sent, now)
					r.mu.Unlock()
				}
			})
		}()
		go func() {
			defer stop()
			RelayWebSocket(server, client, func(text []byte) {
				if !bytes.Contains(text, []byte(`"public/test"`)) {
					return
				}
				now := time.Now()
				r.mu.Lock()
				if len(r.sent) > 0 {
					r.lat = append(r.lat, now.Sub(r.sent[0]))
					r.sent = r.sent[1:]
				}
				r.mu.Unlock()
			})
		}()
	}
}
