package conn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/conn"
)

// reconnect drops the current socket and returns the next one once Ready.
func (h *harness) reconnect(t *testing.T) *fakeConn {
	t.Helper()
	h.fc.drop()
	h.obs.waitFor(t, conn.StateDegraded)
	// A lost socket is re-dialled at once (testConfig: no jitter).
	h.fc = h.srv.next()
	h.obs.waitFor(t, conn.StateReady)
	return h.fc
}

// TestFailedSubscribeKeepsConfirmedChannels: a Subscribe the exchange
// refuses forgets only the channels it added; one confirmed earlier is
// still restored after a reconnect.
func TestFailedSubscribeKeepsConfirmedChannels(t *testing.T) {
	h := start(t, nil)
	if _, err := h.c.Subscribe(context.Background(), "ticker.A"); err != nil {
		t.Fatal(err)
	}
	h.srv.setRespond(func(fc *fakeConn, r fakeReq) bool {
		if r.Method == "public/subscribe" && strings.Contains(string(r.Params), "book.BAD") {
			fc.error(r.ID, 11050, "bad_request", nil)
			return true
		}
		return false
	})
	var re *conn.RPCError
	if _, err := h.c.Subscribe(context.Background(), "ticker.A", "book.BAD"); !errors.As(err, &re) {
		t.Fatalf("err %v", err)
	}
	fc := h.reconnect(t)
	if sub := fc.expect(t, "public/subscribe"); string(sub.Params) != `{"channels":["ticker.A"]}` {
		t.Fatalf("resubscribe %s", sub.Params)
	}
}

// TestTimedOutSubscribeStaysRemembered: once written, a Subscribe that times
// out may have subscribed; its channels are restored on the next socket.
func TestTimedOutSubscribeStaysRemembered(t *testing.T) {
	h := start(t, nil)
	if _, err := h.c.Subscribe(context.Background(), "ticker.A"); err != nil {
		t.Fatal(err)
	}
	h.srv.setRespond(func(fc *fakeConn, r fakeReq) bool {
		return r.Method == "public/subscribe" && strings.Contains(string(r.Params), "ticker.B")
	})
	errc := make(chan error, 1)
	go func() { _, err := h.c.Subscribe(context.Background(), "ticker.A", "ticker.B"); errc <- err }()
	h.fc.expect(t, "public/subscribe") // ticker.A
	h.fc.expect(t, "public/subscribe") // ticker.A, ticker.B: held
	h.clk.WaitForTimers(2, nil)        // watchdog + request
	h.clk.Advance(time.Second)
	if err := <-errc; !errors.Is(err, conn.ErrTimeout) || errors.Is(err, conn.ErrNotSent) {
		t.Fatalf("err %v", err)
	}
	h.srv.setRespond(nil)
	fc := h.reconnect(t)
	if sub := fc.expect(t, "public/subscribe"); string(sub.Params) != `{"channels":["ticker.A","ticker.B"]}` {
		t.Fatalf("resubscribe %s", sub.Params)
	}
}

// TestUnsentSubscribeForgetsOnlyAdded: a Subscribe that was never sent
// (context already done) forgets the channels it added, not earlier ones.
func TestUnsentSubscribeForgetsOnlyAdded(t *testing.T) {
	h := start(t, nil)
	if _, err := h.c.Subscribe(context.Background(), "ticker.A"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.c.Subscribe(ctx, "ticker.A", "ticker.C"); !errors.Is(err, conn.ErrNotSent) {
		t.Fatalf("err %v", err)
	}
	fc := h.reconnect(t)
	if sub := fc.expect(t, "public/subscribe"); string(sub.Params) != `{"channels":["ticker.A"]}` {
		t.Fatalf("resubscribe %s", sub.Params)
	}
}

// TestResubscribeInBatches: more channels than Deribit takes in one request
// are restored in batches of 500, and a batch the exchange refuses is
// reported as missing instead of keeping the connection from becoming ready.
func TestResubscribeInBatches(t *testing.T) {
	h := start(t, nil)
	chans := make([]string, 1200)
	for i := range chans {
		chans[i] = fmt.Sprintf("ticker.I%04d.100ms", i)
	}
	got, err := h.c.Subscribe(context.Background(), chans...)
	if err != nil || len(got) != len(chans) {
		t.Fatalf("subscribe: %d confirmed, %v", len(got), err)
	}
	for _, want := range []int{500, 500, 200} {
		if n := countChannels(t, h.fc.expect(t, "public/subscribe")); n != want {
			t.Fatalf("first subscribe batch of %d, want %d", n, want)
		}
	}
	// After a reconnect the exchange refuses the batch holding ticker.I0600.
	h.srv.setRespond(func(fc *fakeConn, r fakeReq) bool {
		if r.Method == "public/subscribe" && strings.Contains(string(r.Params), "ticker.I0600.") {
			fc.error(r.ID, 11050, "bad_request", nil)
			return true
		}
		return false
	})
	h.fc.drop()
	h.obs.waitFor(t, conn.StateDegraded)
	// A lost socket is re-dialled at once (testConfig: no jitter).
	fc := h.srv.next()
	for _, want := range []int{500, 500, 200} {
		if n := countChannels(t, fc.expect(t, "public/subscribe")); n != want {
			t.Fatalf("resubscribe batch of %d, want %d", n, want)
		}
	}
	ready := h.obs.waitFor(t, conn.StateReady)
	var se *conn.SubscribeError
	if !errors.As(ready.Err, &se) || len(se.Missing) != 500 || se.Missing[0] != "ticker.I0500.100ms" {
		t.Fatalf("ready with %v", ready.Err)
	}
}

func countChannels(t *testing.T, r fakeReq) int {
	t.Helper()
	var p struct {
		Channels []string `json:"channels"`
	}
	if err := json.Unmarshal(r.Params, &p); err != nil {
		t.Fatal(err)
	}
	return len(p.Channels)
}
