package conn

import (
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

// recordingSocket records written frames; its reader blocks until Close.
type recordingSocket struct {
	mu     sync.Mutex
	frames [][]byte
	want   int
	full   chan struct{}
	closed chan struct{}
	once   sync.Once
}

func (r *recordingSocket) NextReader() (int, io.Reader, error) {
	<-r.closed
	return 0, nil, errors.New("closed")
}

func (r *recordingSocket) WriteMessage(_ int, b []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, append([]byte(nil), b...))
	if len(r.frames) == r.want {
		close(r.full)
	}
	return nil
}

func (r *recordingSocket) WriteControl(int, []byte, time.Time) error { return nil }
func (r *recordingSocket) SetWriteDeadline(time.Time) error          { return nil }
func (r *recordingSocket) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
}

// WriterOrder fills the request lane with normal requests and the priority
// lane with answers before the writer starts, runs the writer until it has
// written them all, and returns the frames in the order written.
func WriterOrder(c *Conn, normal, answers int) [][]byte {
	rs := &recordingSocket{want: normal + answers, full: make(chan struct{}), closed: make(chan struct{})}
	s := c.bareSession(rs)
	for i := 0; i < normal; i++ {
		s.out <- &outMsg{b: appendRequest(nil, uint64(1000+i), "private/buy", nil)}
	}
	for i := 0; i < answers; i++ {
		id := c.answerID()
		c.mon.TestRequest(id)
		s.prio <- answer{id: id, readAt: c.clk.Now()}
	}
	s.wg.Add(1)
	go s.writeLoop()
	<-rs.full
	s.fail(ErrClosed)
	s.wait()
	return rs.frames
}
