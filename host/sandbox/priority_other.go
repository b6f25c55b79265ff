//go:build !linux

package sandbox

// Outside Linux a child keeps the host's priority (RATIONALE.md "Why plugin
// processes run at nice 10?").
func setPriority(Priority) error { return nil }
