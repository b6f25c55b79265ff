package record

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// RecorderConfig configures a Recorder.
type RecorderConfig struct {
	// Buffer is how many frames may wait for the writing goroutine before
	// new ones are dropped (and counted). Default 65,536.
	Buffer int
	// FlushEvery is the longest a written frame waits in memory before its
	// block is flushed to the file. Default 1s.
	FlushEvery time.Duration
	// BlockSize is the Writer's block size (default DefaultBlockSize).
	BlockSize int
}

// RecorderStats are a Recorder's counters.
type RecorderStats struct {
	Written uint64 // frames handed to the Writer
	Dropped uint64 // frames dropped because the buffer was full (or after Close)
}

// Recorder records frames from any goroutine without ever blocking them:
// Tap copies the frame into a bounded queue (dropping it, counted, when the
// queue is full) and a goroutine of its own redacts, compresses and writes.
// Its Tap method is a conn.WithTap function.
type Recorder struct {
	w       *Writer
	ch      chan item
	stop    chan struct{}
	done    chan struct{}
	every   time.Duration
	closed  atomic.Bool
	dropped atomic.Uint64
	written atomic.Uint64
	bufs    sync.Pool
	once    sync.Once
	err     error
}

type item struct {
	f   Frame
	buf *[]byte
}

// NewRecorder writes h to w and starts the writing goroutine.
func NewRecorder(w io.Writer, h Header, cfg RecorderConfig) (*Recorder, error) {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 1 << 16
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = time.Second
	}
	wr, err := NewWriter(w, h)
	if err != nil {
		return nil, err
	}
	wr.SetBlockSize(cfg.BlockSize)
	r := &Recorder{w: wr, ch: make(chan item, cfg.Buffer), stop: make(chan struct{}), done: make(chan struct{}),
		every: cfg.FlushEvery}
	r.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	go r.loop()
	return r, nil
}

// Tap records one frame: out is its direction (true: sent to the
// exchange), conn the connection's id, t when it crossed. frame is copied;
// Tap never blocks.
func (r *Recorder) Tap(out bool, conn uint64, t time.Time, frame []byte) {
	d := In
	if out {
		d = Out
	}
	r.Add(Frame{Time: t.UnixNano(), Conn: conn, Dir: d, Data: frame})
}

// Add records f (its Data is copied) without blocking.
func (r *Recorder) Add(f Frame) {
	if r.closed.Load() {
		r.dropped.Add(1)
		return
	}
	bp := r.bufs.Get().(*[]byte)
	*bp = append((*bp)[:0], f.Data...)
	f.Data = *bp
	select {
	case r.ch <- item{f, bp}:
	default:
		r.dropped.Add(1)
		r.bufs.Put(bp)
	}
}

func (r *Recorder) loop() {
	defer close(r.done)
	t := time.NewTicker(r.every)
	defer t.Stop()
	dirty := false
	for {
		select {
		case it := <-r.ch:
			r.write(it)
			dirty = true
		case <-t.C:
			if dirty {
				r.keep(r.w.Flush())
				dirty = false
			}
		case <-r.stop:
			for {
				select {
				case it := <-r.ch:
					r.write(it)
				default:
					r.keep(r.w.Flush())
					return
				}
			}
		}
	}
}

func (r *Recorder) write(it item) {
	r.keep(r.w.Write(it.f))
	r.written.Add(1)
	r.bufs.Put(it.buf)
}

func (r *Recorder) keep(err error) {
	if err != nil && r.err == nil {
		r.err = err
	}
}

// Close writes what is queued, flushes and stops the goroutine; frames
// given later are dropped. It returns the first write error. It does not
// close the underlying writer.
func (r *Recorder) Close() error {
	r.once.Do(func() {
		r.closed.Store(true)
		close(r.stop)
	})
	<-r.done
	if r.err != nil {
		return errors.Join(errors.New("record: write"), r.err)
	}
	return nil
}

// Stats returns the counters.
func (r *Recorder) Stats() RecorderStats {
	return RecorderStats{Written: r.written.Load(), Dropped: r.dropped.Load()}
}
