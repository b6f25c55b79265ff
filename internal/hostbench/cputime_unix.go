//go:build unix

package hostbench

import (
	"syscall"
	"time"
)

// selfCPU is the CPU time this process has used (user and system, its
// threads only: children excluded), and whether it is known.
func selfCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
