//go:build !linux

package cluster

func totalMemory() uint64 { return 0 }
