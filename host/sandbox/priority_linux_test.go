//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The real child of a plugin gives every one of its threads the priority
// of its limits, relative to the host's niceness, and keeps it in the
// threads its runtime starts later.
func TestChildPriority(t *testing.T) {
	self, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prio   Priority
		policy uint32
		nice   int32
	}{
		{Priority{}, unix.SCHED_BATCH, self.Nice},
		{Priority{Class: PriorityNormal}, unix.SCHED_NORMAL, self.Nice},
		{Priority{Class: PriorityNormal, Nice: 3}, unix.SCHED_NORMAL, min(self.Nice+3, MaxNice)},
		{Priority{Class: PriorityBatch, Nice: 5}, unix.SCHED_BATCH, min(self.Nice+5, MaxNice)},
		{Priority{Class: PriorityIdle}, unix.SCHED_IDLE, self.Nice},
	} {
		t.Run(tc.prio.String(), func(t *testing.T) {
			// A child at a low priority on a busy machine may wait long for the
			// CPU: the budget is not what this test is about.
			p := procLoad(t, "count", PluginConfig{CallBudget: time.Minute})
			s := procNew(t, p, ProcessConfig{Limits: ProcessLimits{Priority: tc.prio}})
			if _, err := s.Start(context.Background(), procStartup(t), procT0); err != nil {
				t.Fatal(err)
			}
			// Calls after the load run on threads started after the priority was set.
			for range 3 {
				if _, err := s.Deliver(context.Background(), procTrades(3), procT0); err != nil {
					t.Fatal(err)
				}
			}
			pid := s.cmd.Process.Pid
			ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) < 2 {
				t.Fatalf("the child has %d threads", len(ents))
			}
			for _, e := range ents {
				tid, _ := strconv.Atoi(e.Name())
				a, err := unix.SchedGetAttr(tid, 0)
				if err != nil {
					t.Fatalf("thread %d: %v", tid, err)
				}
				if a.Policy != tc.policy || a.Nice != tc.nice {
					t.Errorf("thread %d of the child: policy %d nice %d, want policy %d nice %d",
						tid, a.Policy, a.Nice, tc.policy, tc.nice)
				}
			}
		})
	}
}
