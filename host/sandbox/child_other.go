//go:build !linux

package sandbox

import "syscall"

// childSysProcAttr: outside Linux there is no parent-death signal; a child
// whose parent died ends when it next reads its closed stdin.
func childSysProcAttr() *syscall.SysProcAttr { return nil }
