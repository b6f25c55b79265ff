//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// setPriority gives every thread of the calling process the priority p
// (resolved: not PriorityDefault), relative to the niceness of the thread
// that calls it. Linux keeps the policy and niceness per thread, and a new
// thread takes its creator's: the threads are set one by one from
// /proc/self/task until a pass finds none it has not set, so that a thread
// the Go runtime started meanwhile from one not yet set is not missed.
// PriorityNormal with no niceness leaves the process as it is.
func setPriority(p Priority) error {
	if p.Class == PriorityNormal && p.Nice == 0 {
		return nil
	}
	cur, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return fmt.Errorf("priority %s: sched_getattr: %w", p, err)
	}
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Nice: min(cur.Nice+int32(p.Nice), MaxNice)}
	switch p.Class {
	case PriorityNormal:
		attr.Policy = unix.SCHED_NORMAL
	case PriorityBatch:
		attr.Policy = unix.SCHED_BATCH
	case PriorityIdle:
		attr.Policy, attr.Nice = unix.SCHED_IDLE, cur.Nice
	default:
		return fmt.Errorf("priority %s: unknown class", p)
	}
	set := map[int]bool{}
	for {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("priority %s: list threads: %w", p, err)
		}
		fresh := 0
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || set[tid] {
				continue
			}
			set[tid] = true
			err = unix.SchedSetAttr(tid, &attr, 0)
			switch {
			case errors.Is(err, unix.ESRCH): // it ended meanwhile
			case err != nil:
				return fmt.Errorf("priority %s: sched_setattr of thread %d: %w", p, tid, err)
			default:
				fresh++
			}
		}
		if fresh == 0 {
			return nil
		}
	}
}
