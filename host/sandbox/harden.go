package sandbox

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ProcessLimits are the resource limits (setrlimit) and the CPU priority of
// a plugin's child process, which the child sets on itself before it is
// sent the plugin. Zero fields take the defaults; -1 is no limit.
type ProcessLimits struct {
	// AddressSpace caps the child's virtual memory (RLIMIT_AS), in bytes.
	// Default: DefaultAddressSpaceBase plus three times the plugin's
	// memory limit (a growing wasm memory is copied, and wazero keeps
	// guard regions). A Go guest's child maps ~1.6 GiB at rest (2.1 GiB
	// with -race): less than that fails it at start.
	AddressSpace int64
	// CPUTime caps the child's CPU time over its whole life (RLIMIT_CPU,
	// whole seconds, at least 1). Default: none: each call's budget bounds
	// a call, and a lifetime cap would stop a healthy long-running plugin.
	CPUTime time.Duration
	// OpenFiles caps its descriptors (RLIMIT_NOFILE). Default 64: the
	// pipes, the runtime's own and the compilation cache's while loading.
	OpenFiles int64
	// Priority is the child's CPU priority. Default DefaultPriority.
	Priority Priority
}

// Defaults of ProcessLimits.
const (
	DefaultAddressSpaceBase = 3 << 30
	DefaultOpenFiles        = 64
)

// resolve returns the limits with defaults, for a plugin whose memory may
// grow to memBytes; -1 becomes 0 (none).
func (l ProcessLimits) resolve(memBytes int64) ProcessLimits {
	switch {
	case l.AddressSpace == 0:
		l.AddressSpace = DefaultAddressSpaceBase + 3*memBytes
	case l.AddressSpace < 0:
		l.AddressSpace = 0
	}
	if l.CPUTime < 0 {
		l.CPUTime = 0
	}
	switch {
	case l.OpenFiles == 0:
		l.OpenFiles = DefaultOpenFiles
	case l.OpenFiles < 0:
		l.OpenFiles = 0
	}
	l.Priority = l.Priority.resolve()
	return l
}

// limitArgPrefix starts the child's argument that carries its limits:
// -stratbox-rlimits=<address space>,<cpu seconds>,<open files>,<priority>
// (0: none; the priority as ParsePriority reads it).
const limitArgPrefix = "-stratbox-rlimits="

// arg renders resolved limits as the child's argument.
func (l ProcessLimits) arg() string {
	cpu := int64(0)
	if l.CPUTime > 0 {
		cpu = max(1, int64((l.CPUTime+time.Second-1)/time.Second))
	}
	return fmt.Sprintf("%s%d,%d,%d,%s", limitArgPrefix, l.AddressSpace, cpu, l.OpenFiles, l.Priority)
}

// applyLimitArg sets the limits and the priority the parent passed in args
// (the child's os.Args), if any, on the calling process.
func applyLimitArg(args []string) error {
	for _, a := range args {
		v, ok := strings.CutPrefix(a, limitArgPrefix)
		if !ok {
			continue
		}
		f := strings.Split(v, ",")
		if len(f) != 4 {
			return fmt.Errorf("bad limits argument %q", a)
		}
		prio, err := ParsePriority(f[3])
		if err != nil {
			return fmt.Errorf("bad limits argument %q: %w", a, err)
		}
		var n [3]uint64
		for i := range f[:3] {
			x, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return fmt.Errorf("bad limits argument %q", a)
			}
			n[i] = x
		}
		if err := setLimits(n[0], n[1], n[2]); err != nil {
			return err
		}
		return setPriority(prio)
	}
	return nil
}
