package sandbox

// The limits of a child's call: its CPU-time budget and the wall-clock
// backstop (procSandbox).
//
// A call's timer first fires at its budget of wall time: a call cannot have
// used more CPU than the wall time it took. It then reads the child's CPU
// clock (processCPU) and compares it with the child's CPU time at the start
// of the call; under the budget, it fires again when the rest of the budget
// could have been used, and so on. It kills the child at the budget of CPU
// time or the backstop of wall time, whichever comes first.
//
// The start mark is not read when the call starts (a system call on the
// path of every call): the child reads its own CPU clock just after it has
// sent each reply and leaves it in a word of the shared region with the
// reply's number (wordMarkCPU, wordMarkSeq); the timer takes the mark of the
// reply before the call's request. The child's idle time between the mark
// and the request then counts against the call: conservative. When the
// child has not left the mark yet (it was descheduled before it could), it
// has not begun the call either, and the parent's own reading of the clock
// is the start.

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
	began  time.Time // the wall clock when the call began
	expect uint64    // the number of the mark that starts this call
	marked bool      // start is known
	start  time.Duration
	used   time.Duration // CPU time of the call at the last look
	took   time.Duration // wall time of the call at the last look
	// onRearm, a test hook, is called (under mu) each time the timer is
	// re-armed because the child used less CPU time than its budget.
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
	w.expect = s.requests
	if lim.cpu && s.region == nil {
		// No shared word to leave a mark in: the parent reads the clock.
		if c, err := processCPU(s.cmd.Process.Pid); err == nil {
			w.start, w.marked = c, true
		}
	}
	w.t.Reset(min(lim.budget, lim.backstop))
}

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
	if !w.marked {
		w.start, w.marked = now, true
		if s.region != nil && s.region.Word(wordMarkSeq).Load() == w.expect {
			// The child's word: a mark ahead of its clock is a lie, and
			// the whole of its CPU time counts.
			if m := time.Duration(s.region.Word(wordMarkCPU).Load()); m <= now {
				w.start = m
			} else {
				w.start = 0
			}
		}
	}
	w.used = now - w.start
	switch {
	case w.used >= w.lim.budget:
		s.watchKill(whyDeadline)
	case w.took >= w.lim.backstop:
		s.watchKill(whyBackstop)
	default:
		w.t.Reset(min(max(w.lim.budget-w.used, rearmMin(w.lim.budget)), w.lim.backstop-w.took))
		if w.onRearm != nil {
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
