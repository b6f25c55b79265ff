//go:build linux && !amd64 && !arm64

package sandbox

// auditArch 0: no seccomp allow-list on this architecture (no_new_privs
// only).
const auditArch = 0

var archSyscalls []int
