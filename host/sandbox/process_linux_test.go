package sandbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox/shm"
)

// corruptReplyRing publishes, on the region's reply ring (ring 1, the
// child's), a head that no record can end at, and wakes the parent if it
// sleeps: what a child that broke out of its plugin could write.
func corruptReplyRing(r *shm.Region) {
	const ctrl1 = 64 + 256 // the control block of ring 1 (shm's layout)
	mem, err := unix.Mmap(int(r.File().Fd()), 0, 4096+2*r.RingSize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		panic(err)
	}
	(*atomic.Uint64)(unsafe.Pointer(&mem[ctrl1])).Store(12345)
	seq := (*atomic.Uint32)(unsafe.Pointer(&mem[ctrl1+128]))
	seq.Add(1)
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(seq)), 1 /* FUTEX_WAKE */, 1, 0, 0, 0)
}

// The requests after the load cross the rings: a child started with a
// region has one, and its calls work over it.
func TestProcessUsesTheRings(t *testing.T) {
	p := procLoad(t, "count", PluginConfig{CallBudget: 2 * time.Second})
	s := procStart(t, p, procT0)
	if s.region == nil || s.ep == nil {
		t.Fatal("no shared-memory region on Linux")
	}
	before := s.ep.Stats()
	if _, err := s.Deliver(context.Background(), procTrades(3), procT0); err != nil {
		t.Fatal(err)
	}
	if after := s.ep.Stats(); after.Received != before.Received+1 {
		t.Fatalf("the call's reply did not come through the ring: %+v then %+v", before, after)
	}
}

// A child killed while a call waits on the ring ends the call at once (its
// output ends, which aborts the wait; the call has no budget) as a process
// fault that says how the child ended.
func TestProcessKilledMidCallOverTheRing(t *testing.T) {
	p := procLoad(t, "spin", PluginConfig{CallBudget: -1})
	s := procStart(t, p, procT0)
	sent := make(chan struct{})
	s.onSent = func() { close(sent) }
	errc := make(chan error, 1)
	go func() {
		_, err := s.Deliver(context.Background(), procTrades(1), procT0)
		errc <- err
	}()
	<-sent
	if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	f := wantFault(t, <-errc, FaultProcess, abi.ExportOnEvents)
	if !strings.Contains(f.Error(), "signal: killed") {
		t.Fatalf("fault %v does not give the child's exit status", f)
	}
	wantGone(t, s)
}

// Requests and replies larger than a ring take the pipe, in order with
// those that fit.
func TestProcessMessagesLargerThanTheRing(t *testing.T) {
	small := func(t *testing.T, name string, cfg PluginConfig) *procSandbox {
		p := procLoad(t, name, cfg)
		s := procNew(t, p, ProcessConfig{})
		s.ringSize = shm.MinRingSize
		if _, err := s.Start(context.Background(), procStartup(t), procT0); err != nil {
			t.Fatal(err)
		}
		if s.ep.MaxRecord() >= 4096+resultFixed {
			t.Fatalf("ring records of %d bytes", s.ep.MaxRecord())
		}
		return s
	}
	t.Run("requests", func(t *testing.T) {
		s := small(t, "count", PluginConfig{CallBudget: 2 * time.Second})
		for i, n := range []int{1300, 1, 1000, 1300, 2} { // 62,400 bytes: the pipe
			out, err := s.Deliver(context.Background(), procTrades(n), procT0)
			if err != nil {
				t.Fatalf("batch %d of %d: %v", i, n, err)
			}
			if count := binary.LittleEndian.Uint32(out[8:]); int(count) != n {
				t.Fatalf("batch %d of %d: the plugin saw %d", i, n, count)
			}
		}
	})
	t.Run("replies", func(t *testing.T) {
		s := small(t, "flood", PluginConfig{CallBudget: 2 * time.Second})
		for i := range 3 { // 4,096 bytes of intents and the result's 88
			out, err := s.Deliver(context.Background(), procTrades(1), procT0)
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if len(out) != 4096 {
				t.Fatalf("call %d: %d bytes of intents", i, len(out))
			}
			if err := checkIntents(out); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A child that corrupts its reply ring is faulted, the parent unharmed.
func TestProcessCorruptRing(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := procLoad(t, "count", PluginConfig{})
	s := procNew(t, p, ProcessConfig{Path: exe, Args: []string{testChildCorrupt}})
	_, err = s.Start(context.Background(), procStartup(t), procT0)
	f := wantFault(t, err, FaultProcess, abi.ExportInit)
	if !errors.Is(f, shm.ErrCorrupt) && !strings.Contains(f.Error(), "corrupt ring") {
		t.Fatalf("fault %v does not say the ring was corrupt", f)
	}
	wantGone(t, s)
}

// stopChild stops the child (SIGSTOP) and waits until it is stopped: the
// signal is asynchronous, and a child spinning for its next request on
// another core could otherwise serve one before it stops.
func stopChild(t *testing.T, s *procSandbox) {
	t.Helper()
	pid := s.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		// pid (comm) state …: the state follows the last ')'.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'T' {
			return
		}
		runtime.Gosched()
	}
}

// stopped runs a call to the count plugin with its child stopped
// (SIGSTOP) under cfg; hook, if not nil, sees each re-arm of the call's
// timer and may continue the child.
func stoppedCall(t *testing.T, cfg PluginConfig, hook func(s *procSandbox, used, took time.Duration)) (*procSandbox, error) {
	t.Helper()
	p := procLoad(t, "count", cfg)
	s := procStart(t, p, procT0)
	if hook != nil {
		s.watch.onRearm = func(used, took time.Duration) { hook(s, used, took) }
	}
	stopChild(t, s)
	_, err := s.Deliver(context.Background(), procTrades(2), procT0)
	return s, err
}

// A child descheduled (here stopped) for longer than its call budget has
// not used it: the timer re-arms, and the call completes once it runs.
func TestProcessBudgetIsCPUTime(t *testing.T) {
	const budget = 50 * time.Millisecond
	var rearms int
	s, err := stoppedCall(t, PluginConfig{CallBudget: budget, CallBackstop: time.Hour},
		func(s *procSandbox, used, took time.Duration) {
			if rearms++; rearms == 1 {
				if used >= budget || took < budget {
					t.Errorf("re-armed with %v of CPU used in %v", used, took)
				}
				_ = syscall.Kill(s.cmd.Process.Pid, syscall.SIGCONT)
			}
		})
	if err != nil {
		t.Fatalf("a call of a child stopped past its budget: %v", err)
	}
	if rearms == 0 {
		t.Fatal("the call's timer never re-armed")
	}
	if s.Fault() != nil {
		t.Fatal(s.Fault())
	}
	if _, err := s.Deliver(context.Background(), procTrades(1), procT0); err != nil {
		t.Fatalf("the next call: %v", err)
	}
}

// A child stopped past the backstop is killed, with a fault that says the
// backstop, not the budget, ended it.
func TestProcessBackstop(t *testing.T) {
	s, err := stoppedCall(t, PluginConfig{CallBudget: 20 * time.Millisecond, CallBackstop: 200 * time.Millisecond}, nil)
	f := wantFault(t, err, FaultBudget, abi.ExportOnEvents)
	if !strings.Contains(f.Error(), "call backstop of 200ms of wall-clock time exceeded") {
		t.Fatalf("fault %v does not name the backstop", f)
	}
	wantGone(t, s)
}

// A plugin that spins uses its budget of CPU time: a budget fault that
// says so.
func TestProcessSpinUsesTheCPUBudget(t *testing.T) {
	p := procLoad(t, "spin", PluginConfig{CallBudget: 30 * time.Millisecond, CallBackstop: time.Hour})
	s := procStart(t, p, procT0)
	_, err := s.Deliver(context.Background(), procTrades(1), procT0)
	f := wantFault(t, err, FaultBudget, abi.ExportOnEvents)
	if !strings.Contains(f.Error(), "call budget of 30ms of CPU time exceeded") {
		t.Fatalf("fault %v does not name the CPU budget", f)
	}
	wantGone(t, s)
}
