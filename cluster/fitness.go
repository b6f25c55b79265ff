package cluster

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// fitnessMeter measures the process's CPU share and memory use.
type fitnessMeter struct {
	lastCPU  time.Duration
	lastWall time.Time
}

// sample returns CPU (since the last sample) and memory; latency and
// active connections are the caller's.
func (m *fitnessMeter) sample() Fitness {
	now := time.Now() // the wall clock: CPU time is measured against it, whatever the node's clock
	cpu := processCPU()
	var f Fitness
	if !m.lastWall.IsZero() && cpu > 0 {
		if wall := now.Sub(m.lastWall); wall > 0 {
			f.CPU = min(1, float64(cpu-m.lastCPU)/float64(wall)/float64(runtime.NumCPU()))
		}
	}
	m.lastCPU, m.lastWall = cpu, now
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	used := float64(0)
	if s[0].Value.Kind() == metrics.KindUint64 {
		used = float64(s[0].Value.Uint64())
	}
	budget := float64(debug.SetMemoryLimit(-1))
	if budget >= math.MaxInt64/2 {
		budget = float64(totalMemory())
	}
	if budget > 0 {
		f.Mem = min(1, used/budget)
	}
	return f
}
