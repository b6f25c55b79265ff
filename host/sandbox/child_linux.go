package sandbox

import "syscall"

// childSysProcAttr makes a child die with the host (SIGKILL when the parent
// dies; strictly, when the thread that started it ends, which the Go runtime
// does not do to its threads) and puts it in a process group of its own, so
// that a Ctrl-C at the terminal reaches the host only and the host stops its
// children in order.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
