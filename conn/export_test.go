package conn

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"time"
)

var (
	ClientSignature = clientSignature
	ReadFrame       = readFrame
	AppendRequest   = appendRequest
)

// WithRefreshArmed calls f each time the token refresher arms its timer.
func WithRefreshArmed(f func()) Option { return func(o *options) { o.refreshArmed = f } }

// gatedSocket reports every frame the writer starts writing on writing, and
// holds the writer inside WriteMessage of a request (not a heartbeat answer)
// until release.
type gatedSocket struct {
	writing chan []byte
	release chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func (g *gatedSocket) NextReader() (int, io.Reader, error) {
	<-g.closed
	return 0, nil, errors.New("closed")
}

func (g *gatedSocket) WriteMessage(_ int, b []byte) error {
	select {
	case g.writing <- append([]byte(nil), b...):
	case <-g.closed:
		return errors.New("closed")
	}
	if isAnswerFrame(b) {
		return nil
	}
	select {
	case <-g.release:
		return nil
	case <-g.closed:
		return errors.New("closed")
	}
}

func isAnswerFrame(b []byte) bool { return bytes.Contains(b, []byte(`"public/test"`)) }

func (g *gatedSocket) WriteControl(int, []byte, time.Time) error { return nil }
func (g *gatedSocket) SetWriteDeadline(time.Time) error          { return nil }
func (g *gatedSocket) Close() error {
	g.once.Do(func() { close(g.closed) })
	return nil
}

// GatedWriter runs a session's writer on a socket whose WriteMessage blocks
// on each request until Release.
type GatedWriter struct {
	c *Conn
	s *session
	g *gatedSocket
}

// StartGatedWriter queues requests normal requests (private/buy) and starts
// the writer.
func StartGatedWriter(c *Conn, requests int) *GatedWriter {
	g := &gatedSocket{writing: make(chan []byte), release: make(chan struct{}), closed: make(chan struct{})}
	s := c.bareSession(g)
	for i := 0; i < requests; i++ {
		s.out <- &outMsg{b: appendRequest(nil, uint64(1000+2*i), "private/buy", nil)}
	}
	s.wg.Add(1)
	go s.writeLoop()
	return &GatedWriter{c: c, s: s, g: g}
}

// Next is the next frame the writer starts writing, or nil after timeout.
func (w *GatedWriter) Next(timeout time.Duration) []byte {
	select {
	case b := <-w.g.writing:
		return b
	case <-time.After(timeout):
		return nil
	}
}

// QueueAnswer queues a heartbeat answer as the reader does.
func (w *GatedWriter) QueueAnswer() {
	id := w.c.answerID()
	w.c.mon.TestRequest(id)
	w.s.prio <- answer{id: id, readAt: w.c.clk.Now()}
}

// Release lets the request being written complete.
func (w *GatedWriter) Release() { w.g.release <- struct{}{} }

// Stop ends the writer and waits for it.
func (w *GatedWriter) Stop() {
	w.s.fail(ErrClosed)
	w.s.wait()
}
