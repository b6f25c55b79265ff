package shm

import (
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"time"
	"unsafe"
)

// Region is a mapped shared-memory region: its memfd and both rings.
type Region struct {
	f     *os.File
	mem   []byte
	size  int // of each ring
	spin  time.Duration
	life  *lifetime
	unmap func([]byte) error
}

// Option configures Create and Open.
type Option func(*options)

type options struct {
	ring int
	spin time.Duration
}

// WithRingSize sets the data size of each ring (Create only): a power of
// two from MinRingSize to MaxRingSize; default DefaultRingSize.
func WithRingSize(n int) Option { return func(o *options) { o.ring = n } }

// WithSpin sets how long a waiting endpoint spins at most before it sleeps
// in the kernel (the spin adapts below it); 0 never spins. Default
// DefaultSpin.
func WithSpin(d time.Duration) Option { return func(o *options) { o.spin = max(0, d) } }

func buildOptions(opts []Option) options {
	o := options{ring: DefaultRingSize, spin: DefaultSpin}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// File is the region's memfd, to hand to the child.
func (r *Region) File() *os.File { return r.f }

// RingSize is the data size of each ring.
func (r *Region) RingSize() int { return r.size }

// Attach adds the region's memfd to the descriptors cmd's child inherits
// (cmd.ExtraFiles) and returns its number in the child, for OpenFD. Call it
// before cmd.Start and keep the region open until the child has started.
func (r *Region) Attach(cmd *exec.Cmd) int {
	cmd.ExtraFiles = append(cmd.ExtraFiles, r.f)
	return 2 + len(cmd.ExtraFiles)
}

// Word is the i-th of the region's NumWords 64-bit words that belong to its
// users (a mark one side leaves for the other outside the rings, such as a
// clock reading): shared, unchecked, so a value read from it is the peer's
// word and as trustworthy as the peer. It panics if i is out of range. The
// word stays valid until Close.
func (r *Region) Word(i int) *atomic.Uint64 {
	if i < 0 || i >= NumWords {
		panic(fmt.Sprintf("shm: word %d of %d", i, NumWords))
	}
	return (*atomic.Uint64)(unsafe.Pointer(&r.mem[wordsOffset+8*i]))
}

// Parent is the creator's endpoint: it produces into ring 0 and consumes
// ring 1. Take it once.
func (r *Region) Parent() *Endpoint { return newEndpoint(r.mem, r.size, 0, r.spin, r.life) }

// Child is the opener's endpoint: it produces into ring 1 and consumes
// ring 0. Take it once.
func (r *Region) Child() *Endpoint { return newEndpoint(r.mem, r.size, 1, r.spin, r.life) }

// Close aborts the region's endpoints with ErrClosed (a waiting call
// returns), waits for their calls to return, unmaps the region and closes
// its memfd; every later call returns ErrClosed. It is idempotent.
func (r *Region) Close() error {
	r.life.mu.RLock()
	eps := r.life.endpoints
	if !r.life.closed {
		for _, e := range eps {
			e.wake(ErrClosed)
		}
	}
	r.life.mu.RUnlock()
	r.life.mu.Lock()
	defer r.life.mu.Unlock()
	if r.life.closed {
		return nil
	}
	r.life.closed = true
	var err error
	if r.unmap != nil {
		err = r.unmap(r.mem)
	}
	r.mem = nil
	if r.f != nil {
		if cerr := r.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
