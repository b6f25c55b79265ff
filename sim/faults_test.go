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

// TestOnCancelOnDisconnect: the hook hears of the orders cancel-on-disconnect
// cancelled when their connection closed, and only of those: an order of a
// connection without cancel-on-disconnect stays, and is not reported.
func TestOnCancelOnDisconnect(t *testing.T) {
	srv := quiet(t, sim.Config{RateLimits: sim.RateLimits{Disabled: true}})
	got := make(chan []sim.Order, 4)
	srv.OnCancelOnDisconnect(func(cancelled []sim.Order) { got <- cancelled })
	cod, keep := dial(t, srv), dial(t, srv)
	cod.auth()
	keep.auth()
	cod.ok("private/enable_cancel_on_disconnect", map[string]any{"scope": "connection"}, nil)
	for _, label := range []string{"a", "b"} {
		cod.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 50000, "label": label}, nil)
	}
	keep.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 50000, "label": "c"}, nil)
	var id uint64
	for _, o := range srv.OpenOrders(sim.TestKeyID) {
		if o.Label == "a" {
			id = o.ConnID
		}
	}
	if !srv.DropConn(id) {
		t.Fatal("no such connection")
	}
	cancelled := <-got
	labels := map[string]string{}
	for _, o := range cancelled {
		labels[o.Label] = o.OrderState + "/" + o.CancelReason
	}
	if len(cancelled) != 2 || labels["a"] != "cancelled/cancel_on_disconnect" || labels["b"] != "cancelled/cancel_on_disconnect" {
		t.Fatalf("hook heard of %+v", cancelled)
	}
	if open := srv.OpenOrders(sim.TestKeyID); len(open) != 1 || open[0].Label != "c" {
		t.Fatalf("open orders after the drop: %+v", open)
	}
	srv.OnCancelOnDisconnect(nil)
	keep.ok("private/enable_cancel_on_disconnect", map[string]any{"scope": "connection"}, nil)
	if !srv.DropConn(srv.OpenOrders(sim.TestKeyID)[0].ConnID) {
		t.Fatal("no such connection")
	}
	waitConns(t, srv, 0)
	select {
	case c := <-got:
		t.Fatalf("a removed hook heard of %+v", c)
	default:
	}
}
