//go:build !linux

package sandbox

import (
	"errors"
	"time"
)

// threadClocks: outside Linux a thread's CPU clock is not read; the
// in-process budget is wall-clock time.
const threadClocks = false

func threadCPU(int) (time.Duration, error) { return 0, errors.New("no thread CPU clock") }

type threadCache struct{}

func (*threadCache) current() int { return 0 }

func forgetThread(int) {}
