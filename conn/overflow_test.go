package conn_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stratbox/stratbox/conn"
)

// TestOverflowDuringSetupReported: the consumer is stalled across a
// reconnect and notifications are dropped while the new socket is being set
// up (before Ready, when the state cannot show it). The overflow must still
// be reported once Ready, at the next delivery.
func TestOverflowDuringSetupReported(t *testing.T) {
	h := start(t, func(c *conn.Config) { c.SinkQueue = 4 })
	note := []byte(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.X","data":{}}}`)
	var second atomic.Bool
	h.srv.setRespond(func(fc *fakeConn, r fakeReq) bool {
		if r.Method == "public/subscribe" && second.Load() {
			for i := 0; i < 10; i++ { // read before the response: before Ready
				fc.send(note)
			}
			fc.result(r.ID, []string{"ticker.X"})
			return true
		}
		return false
	})
	if _, err := h.c.Subscribe(context.Background(), "ticker.X"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ { // fill the queue exactly, no drop yet
		h.fc.send(note)
	}
	h.fc.send(testRequestFrame)
	h.fc.expect(t, "public/test")
	if st := h.c.Stats(); st.SinkDropped != 0 || st.Queue.Len != 4 {
		t.Fatalf("%+v", st)
	}
	second.Store(true)
	h.fc.drop()
	h.obs.waitFor(t, conn.StateDegraded)
	fc := h.srv.next() // a lost socket is re-dialled at once
	h.obs.waitFor(t, conn.StateReady)
	if st := h.c.Stats(); st.SinkDropped != 10 {
		t.Fatalf("dropped during setup %d, want 10", st.SinkDropped)
	}
	fc.send(note) // dropped too, now that the state can show it
	fc.send(testRequestFrame)
	fc.expect(t, "public/test")
	if st := h.c.State(); st != conn.StateDegraded {
		t.Fatalf("state %v after %d drops", st, h.c.Stats().SinkDropped)
	}
	if ch := h.obs.waitFor(t, conn.StateDegraded); !errors.Is(ch.Err, conn.ErrSlowConsumer) {
		t.Fatalf("degraded by %v", ch.Err)
	}
}
