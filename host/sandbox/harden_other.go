//go:build !linux

package sandbox

// Outside Linux the child is not confined: no descriptor sweep, rlimits,
// no_new_privs or seccomp (RATIONALE.md "What does the plugin sandbox
// protect against?").
func cloexecInherited() error                { return nil }
func setLimits(as, cpu, nofile uint64) error { return nil }
func confine() error                         { return nil }
