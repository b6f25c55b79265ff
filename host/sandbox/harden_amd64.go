//go:build linux && amd64

package sandbox

import "golang.org/x/sys/unix"

const auditArch = unix.AUDIT_ARCH_X86_64

// archSyscalls are childSyscalls only amd64 has (arm64 has the *at and
// p* forms only).
var archSyscalls = []int{unix.SYS_EPOLL_WAIT, unix.SYS_ARCH_PRCTL, unix.SYS_SETITIMER, unix.SYS_TIME}
