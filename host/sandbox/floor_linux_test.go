package sandbox

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stratbox/stratbox/host/sandbox/shm"
)

// startFloor starts a bare child of the test binary, closed at the end.
func startFloor(t *testing.T, pc ProcessConfig) *Floor {
	t.Helper()
	f, err := StartFloor(pc, shm.DefaultSpin, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// A bare child sends every request back as it came, at a plugin child's
// priority, and exits at the end of its input.
func TestFloorEchoes(t *testing.T) {
	f := startFloor(t, ProcessConfig{})
	deadline := time.Now().Add(time.Minute)
	for i, n := range []int{1, 64, 64 * 64, f.MaxRequest(), 0} {
		req := bytes.Repeat([]byte{byte('a' + i)}, n)
		got, err := f.RoundTrip(req, deadline)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, req) {
			t.Fatalf("%d bytes: the reply differs", n)
		}
	}
	attr, err := unix.SchedGetAttr(f.c.cmd.Process.Pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if attr.Policy != unix.SCHED_BATCH {
		t.Errorf("the bare child's policy is %d, want SCHED_BATCH (%d) as a plugin child's", attr.Policy, unix.SCHED_BATCH)
	}
	if _, err := f.RoundTrip(make([]byte, f.MaxRequest()+1), deadline); err == nil {
		t.Error("a request larger than a record went through")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if st := f.c.cmd.ProcessState; st == nil || st.ExitCode() != childExitOK {
		t.Fatalf("the bare child ended with %v, want exit %d", st, childExitOK)
	}
	_ = f.Close() // idempotent
}

// A bare child that dies ends the round trip waiting for it at once.
func TestFloorChildDies(t *testing.T) {
	f := startFloor(t, ProcessConfig{})
	if err := f.c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, err := f.RoundTrip([]byte("x"), time.Now().Add(time.Hour))
	if !errors.Is(err, errChildOutputEnded) {
		t.Fatalf("round trip to a dead child: %v, want %v", err, errChildOutputEnded)
	}
}

// A binary that is not a host, or none, fails the start with an error
// that says so.
func TestFloorBadBinary(t *testing.T) {
	_, err := StartFloor(ProcessConfig{Path: "/nonexistent/host"}, 0, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/host") {
		t.Fatalf("start of a missing binary: %v", err)
	}
	// It exits at once: the request's write or the reply's read fails,
	// whichever comes first.
	_, err = StartFloor(ProcessConfig{Path: "/bin/true"}, 0, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "floor request") || !strings.Contains(err.Error(), "exit status 0") {
		t.Fatalf("start of a binary that does not serve: %v", err)
	}
}
