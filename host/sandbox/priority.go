package sandbox

import (
	"fmt"
	"strconv"
	"strings"
)

// PriorityClass is the scheduling class of a plugin's child process.
type PriorityClass uint8

// Priority classes (Linux scheduling policies).
const (
	PriorityDefault PriorityClass = iota // DefaultPriority
	PriorityNormal                       // SCHED_OTHER, as the host
	PriorityBatch                        // SCHED_BATCH: no wake-up preemption of the host
	PriorityIdle                         // SCHED_IDLE: only CPU time nothing else wants
)

// MaxNice is the largest Priority.Nice.
const MaxNice = 19

// Priority is the CPU priority a plugin's child process gives itself
// before it loads the plugin: a scheduling class and a niceness relative
// to the host's own, so that the heartbeat path, in the host, gets the CPU
// first. Lowering one's own priority needs no privilege; the child sets it
// on each of its threads, and the threads it starts later inherit it. The
// zero value is DefaultPriority.
type Priority struct {
	Class PriorityClass
	// Nice is how many steps of niceness below the host's the child runs
	// (0..MaxNice; the result is capped at 19), under PriorityNormal and
	// PriorityBatch. SCHED_IDLE has no niceness.
	Nice int
}

// DefaultPriority is the priority of a child whose ProcessLimits name
// none: SCHED_BATCH at the host's niceness ("batch"; RATIONALE.md "Why do
// plugin processes run at SCHED_BATCH?").
var DefaultPriority = Priority{Class: PriorityBatch}

// ParsePriority reads a priority as the configuration writes it:
// "normal" (as the host), "nice:N" (N steps of niceness below the host,
// 0..19), "batch" or "batch:N" (SCHED_BATCH, N steps below the host),
// "idle" (SCHED_IDLE).
func ParsePriority(s string) (Priority, error) {
	name, arg, hasArg := strings.Cut(s, ":")
	var p Priority
	switch name {
	case "normal":
		p.Class = PriorityNormal
	case "nice":
		p.Class = PriorityNormal
		if !hasArg {
			return Priority{}, fmt.Errorf("%w: priority %q: want nice:N, N from 0 to %d", ErrConfig, s, MaxNice)
		}
	case "batch":
		p.Class = PriorityBatch
	case "idle":
		p.Class = PriorityIdle
	default:
		return Priority{}, fmt.Errorf("%w: priority %q: want \"normal\", \"nice:N\", \"batch\", \"batch:N\" or \"idle\"", ErrConfig, s)
	}
	if hasArg {
		if name == "normal" || name == "idle" {
			return Priority{}, fmt.Errorf("%w: priority %q: %s takes no niceness", ErrConfig, s, name)
		}
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || n > MaxNice {
			return Priority{}, fmt.Errorf("%w: priority %q: niceness %q: want 0 to %d", ErrConfig, s, arg, MaxNice)
		}
		p.Nice = n
	}
	return p, nil
}

// String is the priority as ParsePriority reads it.
func (p Priority) String() string {
	switch p.Class {
	case PriorityDefault:
		return DefaultPriority.String()
	case PriorityNormal:
		if p.Nice == 0 {
			return "normal"
		}
		return "nice:" + strconv.Itoa(p.Nice)
	case PriorityBatch:
		if p.Nice == 0 {
			return "batch"
		}
		return "batch:" + strconv.Itoa(p.Nice)
	case PriorityIdle:
		return "idle"
	}
	return fmt.Sprintf("priority(%d)", p.Class)
}

// Validate reports a class or niceness out of range.
func (p Priority) Validate() error {
	if p.Class > PriorityIdle {
		return fmt.Errorf("%w: priority class %d", ErrConfig, p.Class)
	}
	if p.Nice < 0 || p.Nice > MaxNice || (p.Class == PriorityIdle && p.Nice != 0) {
		return fmt.Errorf("%w: priority %s with niceness %d: want 0 to %d (none under idle)", ErrConfig, p, p.Nice, MaxNice)
	}
	return nil
}

// resolve applies the default.
func (p Priority) resolve() Priority {
	if p.Class == PriorityDefault {
		return DefaultPriority
	}
	return p
}
