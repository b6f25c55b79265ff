//go:build linux

package sandbox

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cloexecInherited marks every descriptor above stderr close-on-exec in the
// host, so that a child inherits its pipes and nothing else: the Go runtime
// opens its own descriptors close-on-exec, but those the host inherited
// from whoever started it (`host run 7<file`) are not. Marking them is
// harmless to the host, which keeps using them.
func cloexecInherited() error {
	if err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	ents, err := os.ReadDir("/proc/self/fd") // before Linux 5.11
	if err != nil {
		return fmt.Errorf("list descriptors: %w", err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC)
		}
	}
	return nil
}

// setLimits sets the calling process's address space (bytes), CPU time
// (seconds) and open files limits; 0 leaves one as it is.
func setLimits(as, cpu, nofile uint64) error {
	for _, l := range []struct {
		res  int
		name string
		v    uint64
	}{{unix.RLIMIT_AS, "RLIMIT_AS", as}, {unix.RLIMIT_CPU, "RLIMIT_CPU", cpu}, {unix.RLIMIT_NOFILE, "RLIMIT_NOFILE", nofile}} {
		if l.v == 0 {
			continue
		}
		if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: l.v, Max: l.v}); err != nil {
			return fmt.Errorf("%s %d: %w", l.name, l.v, err)
		}
	}
	return nil
}

// confine is the child's last step before it runs plugin code: no new
// privileges (no set-uid or file-capability gain through exec), then a
// seccomp filter on every thread that allows only the system calls a
// loaded plugin's child makes (childSyscalls); any other returns EPERM.
// Threads started later inherit it. On an architecture without an
// allow-list it sets no_new_privs only.
func confine() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if auditArch == 0 {
		return nil
	}
	prog := seccompProgram()
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return fmt.Errorf("seccomp: %w", e)
	}
	return nil
}

// seccompProgram is the BPF allow-list: the architecture, then each
// allowed number, then clone only for threads (CLONE_THREAD), clone3 as
// not implemented (the C library falls back to clone), the rest EPERM.
func seccompProgram() []unix.SockFilter {
	const (
		offNr   = 0
		offArch = 4
		offArg0 = 16 // the low half of args[0] (little endian)
	)
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jump := func(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: code, K: k, Jt: jt, Jf: jf}
	}
	const (
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
	)
	deny := uint32(unix.SECCOMP_RET_ERRNO | uint32(syscall.EPERM))
	p := []unix.SockFilter{
		stmt(ld, offArch),
		jump(jeq, auditArch, 1, 0),
		stmt(ret, deny),
		stmt(ld, offNr),
	}
	for _, nr := range childSyscalls {
		p = append(p, jump(jeq, uint32(nr), 0, 1), stmt(ret, unix.SECCOMP_RET_ALLOW))
	}
	p = append(p,
		jump(jeq, unix.SYS_CLONE3, 0, 1), stmt(ret, unix.SECCOMP_RET_ERRNO|uint32(syscall.ENOSYS)),
		jump(jeq, unix.SYS_CLONE, 0, 3), stmt(ld, offArg0), jump(jset, unix.CLONE_THREAD, 0, 1), stmt(ret, unix.SECCOMP_RET_ALLOW),
		stmt(ret, deny))
	return p
}

// childSyscalls are what a child calls once its plugin is loaded (derived
// with strace -f over the child tests, race detector included): memory,
// threads, signals, time, the pipes and the runtime's poller. Nothing
// opens, creates or names a file or a socket, nor executes anything.
var childSyscalls = append([]int{
	unix.SYS_READ, unix.SYS_WRITE, unix.SYS_READV, unix.SYS_WRITEV, unix.SYS_PREAD64, unix.SYS_CLOSE,
	unix.SYS_FCNTL, unix.SYS_FSTAT, unix.SYS_LSEEK,
	unix.SYS_MMAP, unix.SYS_MUNMAP, unix.SYS_MPROTECT, unix.SYS_MADVISE, unix.SYS_MREMAP, unix.SYS_BRK,
	unix.SYS_FUTEX, unix.SYS_SCHED_YIELD, unix.SYS_SCHED_GETAFFINITY, unix.SYS_NANOSLEEP, unix.SYS_CLOCK_NANOSLEEP,
	unix.SYS_CLOCK_GETTIME, unix.SYS_GETTIMEOFDAY,
	unix.SYS_RT_SIGACTION, unix.SYS_RT_SIGPROCMASK, unix.SYS_RT_SIGRETURN, unix.SYS_SIGALTSTACK,
	unix.SYS_GETPID, unix.SYS_GETPPID, unix.SYS_GETTID, unix.SYS_TGKILL, unix.SYS_TKILL,
	unix.SYS_SET_ROBUST_LIST, unix.SYS_RSEQ, unix.SYS_GETRANDOM, unix.SYS_PRLIMIT64, unix.SYS_MEMBARRIER,
	unix.SYS_EPOLL_CTL, unix.SYS_EPOLL_PWAIT, unix.SYS_EPOLL_PWAIT2,
	unix.SYS_RESTART_SYSCALL, unix.SYS_EXIT, unix.SYS_EXIT_GROUP,
}, archSyscalls...)
