//go:build !linux

package shm

import (
	"os"
	"sync/atomic"
	"time"
)

// Create reports ErrNotSupported outside Linux.
func Create(...Option) (*Region, error) { return nil, ErrNotSupported }

// OpenFD reports ErrNotSupported outside Linux.
func OpenFD(int, ...Option) (*Region, error) { return nil, ErrNotSupported }

// Open reports ErrNotSupported outside Linux (and closes f).
func Open(f *os.File, _ ...Option) (*Region, error) {
	f.Close()
	return nil, ErrNotSupported
}

// futexWait polls (only rings over process memory reach it outside Linux:
// the tests).
func futexWait(w *atomic.Uint32, val uint32, d time.Duration) {
	if w.Load() == val {
		time.Sleep(min(d, 50*time.Microsecond))
	}
}

func futexWake(*atomic.Uint32) {}
