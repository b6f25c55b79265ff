package conn_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/sim"
)

type tapped struct {
	out   bool
	conn  uint64
	frame []byte
}

// The tap sees every frame in both directions, with the connection's id.
func TestTapSeesEveryFrame(t *testing.T) {
	srv := startSim(t, sim.Config{})
	var mu sync.Mutex
	var got []tapped
	tap := func(out bool, id uint64, _ time.Time, frame []byte) {
		mu.Lock()
		got = append(got, tapped{out, id, bytes.Clone(frame)})
		mu.Unlock()
	}
	c, _ := dialSim(t, srv, nil, conn.WithTap(tap))
	if _, err := c.CallRaw(context.Background(), "public/get_time", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	mu.Lock()
	defer mu.Unlock()
	var auth, timeReq, timeResp bool
	for _, f := range got {
		if f.conn != c.ID() || c.ID() == 0 {
			t.Fatalf("frame on conn %d, want %d", f.conn, c.ID())
		}
		switch {
		case f.out && bytes.Contains(f.frame, []byte(`"public/auth"`)):
			auth = true
		case f.out && bytes.Contains(f.frame, []byte(`"public/get_time"`)):
			timeReq = true
		case !f.out && timeReq && bytes.Contains(f.frame, []byte(`"result":`)):
			timeResp = true
		}
	}
	if !auth || !timeReq || !timeResp {
		t.Fatalf("auth %v, request %v, response %v among %d frames", auth, timeReq, timeResp, len(got))
	}
}

// Conns are numbered in the order they are made.
func TestConnIDsIncrease(t *testing.T) {
	cfg := conn.Config{URL: "ws://127.0.0.1:1/ws/api/v2", AllowInsecure: true}
	a, err := conn.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := conn.New(cfg)
	if b.ID() <= a.ID() || a.ID() == 0 {
		t.Fatalf("ids %d then %d", a.ID(), b.ID())
	}
}
