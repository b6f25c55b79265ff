//go:build !linux

package sandbox

// Outside Linux a child keeps the host's priority (RATIONALE.md "Why do
// plugin processes run at SCHED_BATCH?").
func setPriority(Priority) error { return nil }
