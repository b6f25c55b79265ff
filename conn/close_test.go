package conn_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/conn"
)

// TestCloseFromObserver: an Observer that closes its connection when it
// goes Degraded (what a pool does with a failed connection) neither
// deadlocks nor misses the final StateClosed report.
func TestCloseFromObserver(t *testing.T) {
	srv := newFakeDeribit(t)
	var c *conn.Conn
	rec := newRecorder()
	returned := make(chan error, 1)
	obs := conn.ObserverFunc(func(ch conn.StateChange) {
		rec.StateChanged(ch)
		if ch.To == conn.StateDegraded {
			returned <- c.Close()
		}
	})
	var err error
	c, err = conn.New(testConfig(srv.URL()), conn.WithObserver(obs), conn.WithClock(clock.NewFake(time.Unix(0, 0))))
	if err != nil {
		t.Fatal(err)
	}
	fcc := make(chan *fakeConn, 1)
	go func() { fcc <- srv.next() }()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, conn.StateReady)
	(<-fcc).drop()
	select {
	case err := <-returned:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("Close called from the Observer did not return:\n%s", buf[:runtime.Stack(buf, true)])
	}
	if ch := rec.waitFor(t, conn.StateClosed); !errors.Is(ch.Err, conn.ErrClosed) {
		t.Fatalf("closed by %v", ch.Err)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed")
	}
	if err := c.Close(); err != nil { // and again from outside: returns at once
		t.Fatal(err)
	}
}

// TestNewHoldsNoGoroutine: a Conn built by New and never started or closed
// holds no goroutine (the Observer's dispatcher starts with Start).
func TestNewHoldsNoGoroutine(t *testing.T) {
	for i := 0; i < 10; i++ {
		if _, err := conn.New(testConfig("ws://127.0.0.1:1/ws"), conn.WithObserver(newRecorder())); err != nil {
			t.Fatal(err)
		}
	}
	if n := goroutinesIn("conn.(*dispatcher)"); n != 0 {
		t.Fatalf("%d dispatcher goroutines after New without Start", n)
	}
	// New then Close still reports idle > closed and ends the goroutine.
	rec := newRecorder()
	c, err := conn.New(testConfig("ws://127.0.0.1:1/ws"), conn.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if ch := rec.waitFor(t, conn.StateClosed); ch.From != conn.StateIdle {
		t.Fatalf("%+v", ch)
	}
}

// goroutinesIn counts the goroutines whose stack mentions fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}
