package sandbox

// The call budget of an in-process instance: CPU time of the thread that
// runs the call, with a wall-clock backstop.
//
// A call locks its goroutine to its OS thread (runtime.LockOSThread: no
// system call), so that the thread runs nothing else until the call
// returns, and publishes the thread's id, which callThread knows without a
// system call once it has met the thread. The call's timer first fires at
// an eighth of the budget of wall time: it reads the thread's CPU clock
// then (a system call, on the timer's goroutine, only for calls that last
// that long) and takes it as the call's start mark. The CPU time the call
// used before the mark is not known, so it counts as none: the call is
// over its budget when its thread has used the whole budget after the mark
// (a call that spins is stopped after 1.125 budgets of wall time at the
// earliest), and never before, however long it was descheduled. Under the
// budget, the timer fires again when the rest of the budget could have been
// used (a thread cannot use more CPU than the wall time that passes), and
// so on, until the budget of CPU time or the backstop of wall time. Where
// the thread's CPU clock cannot be read (outside Linux), the budget is wall
// time. RATIONALE.md "Why does the in-process budget mark its start late?"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// errBudget is the cause of a budget context's cancellation (wrapped by
// budgetError).
var errBudget = errors.New("call budget exceeded")

// budgetError says which limit a call passed.
type budgetError struct {
	backstop     bool
	budget, wall time.Duration // the limits
	used, took   time.Duration // CPU time (after the mark) and wall time of the call
	cpu          bool          // the budget was CPU time
	lost         bool          // the thread's CPU clock could not be read
}

func (e *budgetError) Error() string {
	us := func(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
	switch {
	case e.backstop && e.cpu && !e.lost:
		return fmt.Sprintf("call backstop of %v of wall-clock time exceeded (%v of CPU time used, budget %v)", e.wall, us(e.used), e.budget)
	case e.backstop:
		return fmt.Sprintf("call backstop of %v of wall-clock time exceeded", e.wall)
	case e.cpu:
		return fmt.Sprintf("call budget of %v of CPU time exceeded (%v used in %v)", e.budget, us(e.used), us(e.took))
	}
	return fmt.Sprintf("call budget of %v exceeded", e.budget)
}

func (e *budgetError) Unwrap() error { return errBudget }

// callBudget is the budget of an instance's calls: one cancellable context
// for the instance's life, which the timer cancels when a call overruns (an
// overrun kills the instance, so the context never needs renewing, and a
// call allocates no context of its own), and the state of the call under
// way, guarded by mu (the timer's function runs on a goroutine of its own).
type callBudget struct {
	ctx    context.Context
	cancel context.CancelCauseFunc

	// overran is set when the timer cancels ctx for a call: a call that
	// returns before wazero has seen the cancellation is over its limit too.
	overran atomic.Bool

	mu       sync.Mutex
	t        *time.Timer
	active   bool
	budget   time.Duration // CPU time (wall time where !cpu)
	backstop time.Duration // wall time
	began    time.Time
	tid      int  // the thread running the call
	cpu      bool // the budget is CPU time: the thread is known and its clock can be read
	lost     bool // the thread's clock could not be read: the backstop only
	marked   bool
	mark     time.Duration // the thread's CPU clock at the first look
	used     time.Duration // CPU time after the mark (wall time where !cpu), at the last look
	took     time.Duration // wall time of the call, at the last look

	// onRecheck, a test hook, is called (under mu) each time the timer is
	// re-armed because the call used less CPU time than its budget.
	onRecheck func(used, took time.Duration)
}

func newCallBudget() *callBudget {
	b := &callBudget{}
	b.ctx, b.cancel = context.WithCancelCause(context.Background())
	b.t = time.AfterFunc(time.Hour, b.fire)
	b.t.Stop()
	return b
}

// firstLook is when the timer first fires in a call of budget d.
func firstLook(d time.Duration) time.Duration { return max(d/8, time.Microsecond) }

// recheckMin is the shortest re-arm of the timer: a call just under its
// budget is looked at again this often at most (and may overrun its budget
// by as much).
func recheckMin(d time.Duration) time.Duration {
	return min(max(d/16, 50*time.Microsecond), time.Millisecond)
}

// begin locks the calling goroutine to its thread and arms the timer for a
// call of budget (CPU time) and backstop (wall time). end must follow.
func (b *callBudget) begin(th *threadCache, budget, backstop time.Duration) {
	runtime.LockOSThread()
	tid := th.current()
	b.mu.Lock()
	b.active, b.budget, b.backstop, b.began = true, budget, max(budget, backstop), time.Now()
	b.tid, b.cpu, b.lost, b.marked, b.used, b.took = tid, tid != 0 && threadClocks, false, false, 0, 0
	first := budget
	if b.cpu {
		first = firstLook(budget)
	}
	b.t.Reset(min(first, b.backstop))
	b.mu.Unlock()
}

// end disarms the timer and unlocks the goroutine from its thread.
func (b *callBudget) end() {
	b.mu.Lock()
	b.active = false
	b.t.Stop()
	b.mu.Unlock()
	runtime.UnlockOSThread()
}

// fire is the timer's function.
func (b *callBudget) fire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.active {
		return
	}
	b.took = time.Since(b.began)
	switch {
	case b.lost:
	case !b.cpu:
		b.used = b.took
	default:
		now, err := threadCPU(b.tid)
		if err != nil {
			// Not the thread the cache says (its M was freed and its address
			// taken by another): only the backstop stops this call, and the
			// next one learns its thread again.
			forgetThread(b.tid)
			b.lost = true
			break
		}
		if !b.marked {
			b.mark, b.marked = now, true
		}
		b.used = now - b.mark
	}
	switch {
	case !b.lost && b.used >= b.budget:
		b.overrun(false)
	case b.took >= b.backstop:
		b.overrun(true)
	default:
		next := b.backstop - b.took
		if !b.lost {
			next = min(max(b.budget-b.used, recheckMin(b.budget)), next)
		}
		b.t.Reset(next)
		if b.onRecheck != nil {
			b.onRecheck(b.used, b.took)
		}
	}
}

// overrun cancels the call; mu is held.
func (b *callBudget) overrun(backstop bool) {
	b.active = false
	b.overran.Store(true)
	b.cancel(&budgetError{backstop: backstop, budget: b.budget, wall: b.backstop, used: b.used, took: b.took,
		cpu: b.cpu, lost: b.lost})
}
