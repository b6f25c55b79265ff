//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadCache finds the id of the calling thread, on every thread, and
// learns a thread again once it is forgotten.
func TestThreadCache(t *testing.T) {
	const n = 8
	errs := make(chan string, n)
	for range n {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var c threadCache
			for range 3 {
				if got, want := c.current(), unix.Gettid(); got != want {
					errs <- fmt.Sprintf("cache says thread %d, gettid %d", got, want)
					return
				}
			}
			forgetThread(c.tid)
			if c.current() != unix.Gettid() {
				errs <- "a forgotten thread is not learnt again"
				return
			}
			errs <- ""
		}()
	}
	for range n {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}

// A thread whose CPU clock cannot be read (not one of this process's) leaves
// the call to the backstop: it is not stopped for its budget.
func TestBudgetLostThread(t *testing.T) {
	b := newCallBudget()
	var c threadCache
	b.begin(&c, time.Hour, time.Hour) // the timer does not fire in this test
	defer b.end()
	b.mu.Lock()
	b.tid, b.budget = 1, time.Nanosecond // init's thread: not one of this process's
	b.mu.Unlock()
	b.fire()
	b.mu.Lock()
	lost := b.lost
	b.mu.Unlock()
	if !lost {
		t.Fatal("the clock of another process's thread was read")
	}
	b.fire()
	if err := b.ctx.Err(); err != nil {
		t.Fatalf("a call on a lost thread was stopped before its backstop: %v", context.Cause(b.ctx))
	}
	if _, err := threadCPU(unix.Gettid()); err != nil {
		t.Fatalf("the clock of this thread: %v", err)
	}
}
