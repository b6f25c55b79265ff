package shm

import (
	"bytes"
	"errors"
	"testing"
)

// TestProcessEcho: a real second process (the test binary re-executed)
// echoes 64-event batches through the region.
func TestProcessEcho(t *testing.T) {
	c := startRingChild(t, WithRingSize(64<<10))
	var buf []byte
	for i := range 500 {
		batch := payload(i, 64*64-i%64)
		typ, got, err := c.ep.Call(typEcho, batch, buf, far())
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if typ != typEcho || !bytes.Equal(got, batch) {
			t.Fatalf("call %d: type %c, %d bytes back for %d", i, typ, len(got), len(batch))
		}
		buf = got
	}
	if typ, _, err := c.ep.Call(typExit, nil, buf, far()); err != nil || typ != typExit {
		t.Fatalf("exit call: type %c, %v", typ, err)
	}
	<-c.exited
	if code := c.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("child exit code %d", code)
	}
}

// TestPeerDiesMidCall: the child exits with the request taken and no reply;
// the parent's call, whose deadline is an hour away, ends with ErrPeerGone
// once the child is reaped.
func TestPeerDiesMidCall(t *testing.T) {
	c := startRingChild(t, WithSpin(0))
	if _, _, err := c.ep.Call(typEcho, []byte("alive"), nil, far()); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.ep.Call(typDie, []byte("die now"), nil, far())
	if !errors.Is(err, ErrPeerGone) {
		t.Fatalf("call to a child that died: %v, want ErrPeerGone", err)
	}
	<-c.exited
	if code := c.cmd.ProcessState.ExitCode(); code != 3 {
		t.Fatalf("child exit code %d, want 3", code)
	}
}

// TestChildSeesParentGone: the end of the child's liveness pipe (its
// stdin) ends its wait: it exits 0.
func TestChildSeesParentGone(t *testing.T) {
	c := startRingChild(t, WithSpin(0))
	if _, _, err := c.ep.Call(typEcho, []byte("alive"), nil, far()); err != nil {
		t.Fatal(err)
	}
	_ = c.stdin.Close()
	<-c.exited
	if code := c.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("child exit code %d, want 0", code)
	}
}

// TestHostileChild: a child that publishes a head beyond the ring gets the
// parent's call an ErrCorrupt, not a panic.
func TestHostileChild(t *testing.T) {
	c := startRingChild(t, WithRingSize(MinRingSize))
	if _, _, err := c.ep.Call(typCorrupt, nil, nil, far()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("call to a corrupting child: %v, want ErrCorrupt", err)
	}
}
