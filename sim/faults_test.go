package sim_test

import (
	"net/http"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/stratbox/stratbox/sim"
)

// TestDropRandom: each call closes one open connection, picked among them,
// and counts it; with none open it reports false.
func TestDropRandom(t *testing.T) {
	srv := quiet(t, sim.Config{})
	if _, ok := srv.DropRandom(); ok {
		t.Fatal("dropped a connection of none")
	}
	clients := []*client{dial(t, srv), dial(t, srv), dial(t, srv)}
	waitConns(t, srv, 3)
	open := map[uint64]bool{}
	for _, c := range srv.Conns() {
		open[c.ID] = true
	}
	for n := 2; n >= 0; n-- {
		id, ok := srv.DropRandom()
		if !ok || !open[id] {
			t.Fatalf("dropped %d (ok %v), open %v", id, ok, open)
		}
		delete(open, id)
		waitConns(t, srv, n)
	}
	for _, c := range clients {
		c.waitClosed()
	}
	if st := srv.Stats(); st.Cut != 3 {
		t.Fatalf("cut %d, want 3", st.Cut)
	}
}

// TestRefuseConnections: while refusing, a handshake gets HTTP 503 and open
// connections stay; afterwards connections are accepted again.
func TestRefuseConnections(t *testing.T) {
	srv := quiet(t, sim.Config{})
	c := dial(t, srv)
	waitConns(t, srv, 1)
	srv.RefuseConnections(true)
	_, resp, err := websocket.DefaultDialer.Dial(srv.URL(), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial while refusing: err %v resp %v", err, resp)
	}
	resp.Body.Close()
	if st := srv.Stats(); st.Refused != 1 || st.Connections != 1 {
		t.Fatalf("stats %+v", st)
	}
	srv.RefuseConnections(false)
	dial(t, srv)
	waitConns(t, srv, 2)
	_ = c
}
