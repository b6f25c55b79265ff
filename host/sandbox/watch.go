package sandbox

// The limits of a child's call: its CPU-time budget and the wall-clock
// backstop (procSandbox).
//
// Nothing is read when a call starts: a call's clock reading would be a
// system call on the path of every call, in the parent or in the child
// (about 1.4 µs each on a VM, where a whole call to a sleeping child is
// tens of µs). The start mark is read late instead, as the in-process
// budget does (budget.go): the call's timer first fires an eighth of the
// budget into the call (only calls that last that long pay anything) and
// reads the child's CPU clock (processCPU) then: that reading is the mark,
// and what the child used before it counts as none. The timer then fires
// again when the rest of the budget could have been used (a call cannot use
// more CPU than the wall time that passes), and so on. It kills the child
// at the budget of CPU time after the mark or at the backstop of wall time,
// whichever comes first: a plugin that spins is stopped after about 1.125
// budgets.

import (
	"fmt"
	"sync"
	"time"
)

// callLimit is what a call may take: budget of CPU time (of wall time
// when cpu is false, or when the child's CPU clock cannot be read) and
// backstop of wall time; a negative budget is none.
type callLimit struct {
	budget, backstop time.Duration
	cpu              bool
}

// wallLimit is a limit of wall time d only.
func wallLimit(d time.Duration) callLimit { return callLimit{budget: d, backstop: d} }

// cpuLimit is a CPU-time budget with a wall-clock backstop (at least the
// budget).
func cpuLimit(budget, backstop time.Duration) callLimit {
	if budget < 0 {
		return callLimit{budget: -1, backstop: -1}
	}
	return callLimit{budget: budget, backstop: max(budget, backstop), cpu: cpuClocks}
}

// rearmMin is the shortest re-arm of the timer: a child stopped just under
// its budget is looked at again this often at most (and may overrun its
// budget by as much).
func rearmMin(budget time.Duration) time.Duration {
	return min(max(budget/16, 50*time.Microsecond), time.Millisecond)
}

// callWatch is the state of the timer of the call under way, guarded by mu
// (the timer's function runs on a goroutine of its own).
type callWatch struct {
	mu     sync.Mutex
	t      *time.Timer
	active bool
	lim    callLimit
	began  time.Time     // the wall clock when the call began
	marked bool          // start is known
	start  time.Duration // the child's CPU time at the mark
	used   time.Duration // CPU time of the call at the last look
	took   time.Duration // wall time of the call at the last look
	// onRearm, a test hook, is called (under mu) each time the timer is
	// re-armed after the mark because the child used less CPU time than
	// its budget.
	onRearm func(used, took time.Duration)
}

// watchBegin arms the timer of a call under lim (none if its budget is
// negative); the call's request is the next one sent.
func (s *procSandbox) watchBegin(lim callLimit) {
	if lim.budget < 0 {
		return
	}
	w := &s.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	w.active, w.lim, w.began, w.marked, w.used, w.took = true, lim, time.Now(), false, 0, 0
	first := lim.budget
	if lim.cpu {
		first = markAfter(lim.budget)
	}
	w.t.Reset(min(first, lim.backstop))
}

// markAfter is when a call's timer reads its start mark: an eighth of the
// budget into the call.
func markAfter(budget time.Duration) time.Duration { return max(budget/8, time.Microsecond) }

// watchEnd disarms the timer of the call (the call may still have been
// aborted: s.why says).
func (s *procSandbox) watchEnd() {
	w := &s.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	w.active = false
	w.t.Stop()
}

// watchFire is the timer's function.
func (s *procSandbox) watchFire() {
	w := &s.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.active {
		return
	}
	w.took = time.Since(w.began)
	if !w.lim.cpu {
		s.watchKill(whyDeadline)
		return
	}
	now, err := processCPU(s.cmd.Process.Pid)
	if err != nil { // the child is gone: the pipe's end ends the call
		s.watchKill(whyDeadline)
		return
	}
	marking := !w.marked
	if marking {
		w.start, w.marked = now, true
	}
	w.used = now - w.start
	switch {
	case w.used >= w.lim.budget:
		s.watchKill(whyDeadline)
	case w.took >= w.lim.backstop:
		s.watchKill(whyBackstop)
	default:
		w.t.Reset(min(max(w.lim.budget-w.used, rearmMin(w.lim.budget)), w.lim.backstop-w.took))
		if w.onRearm != nil && !marking {
			w.onRearm(w.used, w.took)
		}
	}
}

// watchKill kills the child for why; w.mu is held.
func (s *procSandbox) watchKill(why int32) {
	s.watch.active = false
	s.abort(why)
}

// overrun is the error of a call the timer ended: which limit it passed.
func (s *procSandbox) overrun(why int32) error {
	w := &s.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	us := func(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
	switch {
	case why == whyBackstop && w.lim.cpu:
		return fmt.Errorf("call backstop of %v of wall-clock time exceeded (%v of CPU time used, budget %v): child process killed",
			w.lim.backstop, us(w.used), w.lim.budget)
	case why == whyBackstop:
		return fmt.Errorf("call backstop of %v of wall-clock time exceeded: child process killed", w.lim.backstop)
	case w.lim.cpu:
		return fmt.Errorf("call budget of %v of CPU time exceeded (%v used in %v): child process killed",
			w.lim.budget, us(w.used), us(w.took))
	}
	return fmt.Errorf("call budget of %v exceeded: child process killed", w.lim.budget)
}
