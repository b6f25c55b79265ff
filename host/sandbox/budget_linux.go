//go:build linux

package sandbox

import (
	"sync"
	"sync/atomic"
	"time"
	_ "unsafe" // go:linkname

	"golang.org/x/sys/unix"
)

// threadClocks: a thread's CPU clock can be read (threadCPU), so the
// in-process budget is CPU time.
const threadClocks = true

// threadCPU is the CPU time thread tid of this process has used: the
// clock_gettime of its thread CPU clock (MAKE_THREAD_CPUCLOCK(tid,
// CPUCLOCK_SCHED); Linux lets a process read the clocks of its own threads
// only). A real system call (about 1.4 µs on a VM): never on the path of
// every call.
func threadCPU(tid int) (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(int32(^uint32(tid)<<3|6), &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}

// getm is the runtime's current M (OS thread) as a number, without a system
// call: a name the runtime keeps for packages that link to it
// (go.dev/issue/67401).
//
//go:linkname getm runtime.getm
func getm() uintptr

// threads maps the Ms met so far to their thread ids (gettid, a system call,
// once per thread); threadsGen counts the entries forgotten, so that a
// threadCache knows its entry may be stale.
var (
	threadsMu  sync.Mutex
	threads    = map[uintptr]int{}
	threadsGen atomic.Uint64
)

// threadCache is an instance's last thread: a call from the same thread as
// the one before finds its id with a comparison and an atomic load.
type threadCache struct {
	m   uintptr
	tid int
	gen uint64
}

// current is the id of the calling goroutine's thread, which must be
// locked to it.
func (c *threadCache) current() int {
	m, gen := getm(), threadsGen.Load()
	if m == c.m && gen == c.gen && c.tid != 0 {
		return c.tid
	}
	threadsMu.Lock()
	tid, ok := threads[m]
	if !ok {
		tid = unix.Gettid()
		threads[m] = tid
	}
	threadsMu.Unlock()
	c.m, c.tid, c.gen = m, tid, gen
	return tid
}

// forgetThread drops tid from the map: its clock could not be read.
func forgetThread(tid int) {
	threadsMu.Lock()
	for m, t := range threads {
		if t == tid {
			delete(threads, m)
		}
	}
	threadsMu.Unlock()
	threadsGen.Add(1)
}
