package sandbox

import (
	"time"

	"golang.org/x/sys/unix"
)

// cpuClocks says whether a child's CPU time can be read (processCPU):
// the call budget of a child process is then CPU time.
const cpuClocks = true

// processCPU is the CPU time process pid has used, all its threads: the
// clock_gettime of its process CPU clock (CPUCLOCK_SCHED of pid, which any
// process may read of another of the same user, and the parent of its
// child). A real system call (about 1.4 µs on a VM): never on the path of
// every call.
func processCPU(pid int) (time.Duration, error) {
	var ts unix.Timespec
	clock := int32(^uint32(pid)<<3 | 2) // MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
	if err := unix.ClockGettime(clock, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}

// selfCPU is the CPU time this process has used (the clock processCPU reads
// of a child), for the benchmarks' CPU time per call.
func selfCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
