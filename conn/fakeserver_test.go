package conn_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeDeribit is a minimal, scriptable Deribit on 127.0.0.1 for unit tests:
// it answers the setup methods by itself and lets the test send any frame,
// hold any answer, and drop connections. Tests that need the real protocol
// behaviour run against package sim (sim_test.go).
type fakeDeribit struct {
	t     *testing.T
	srv   *httptest.Server
	conns chan *fakeConn

	mu      sync.Mutex
	respond func(fc *fakeConn, r fakeReq) bool // true: handled (or held) by the test
	all     []*fakeConn
	auths   int // public/auth answered by auto: tokens AT<n>, RT<n>
}

type fakeReq struct {
	ID     uint64          `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

type fakeConn struct {
	srv  *fakeDeribit
	ws   *websocket.Conn
	reqs chan fakeReq // every request read, in order
	wmu  sync.Mutex
	done chan struct{}
}

func newFakeDeribit(t *testing.T) *fakeDeribit {
	t.Helper()
	f := &fakeDeribit{t: t, conns: make(chan *fakeConn, 16)}
	up := websocket.Upgrader{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		fc := &fakeConn{srv: f, ws: ws, reqs: make(chan fakeReq, 1<<16), done: make(chan struct{})}
		f.mu.Lock()
		f.all = append(f.all, fc)
		f.mu.Unlock()
		f.conns <- fc
		go fc.read()
	}))
	t.Cleanup(func() {
		f.mu.Lock()
		for _, c := range f.all {
			c.ws.Close()
		}
		f.mu.Unlock()
		f.srv.Close()
	})
	return f
}

func (f *fakeDeribit) URL() string { return "ws" + f.srv.URL[len("http"):] + "/ws/api/v2" }

// setRespond installs a hook that sees every request first.
func (f *fakeDeribit) setRespond(fn func(fc *fakeConn, r fakeReq) bool) {
	f.mu.Lock()
	f.respond = fn
	f.mu.Unlock()
}

// next waits for the next accepted connection.
func (f *fakeDeribit) next() *fakeConn {
	f.t.Helper()
	select {
	case c := <-f.conns:
		return c
	case <-time.After(20 * time.Second):
		f.t.Fatal("no connection")
		return nil
	}
}

func (c *fakeConn) read() {
	defer close(c.done)
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var r fakeReq
		if err := json.Unmarshal(b, &r); err != nil {
			continue
		}
		c.reqs <- r
		c.srv.mu.Lock()
		fn := c.srv.respond
		c.srv.mu.Unlock()
		if fn != nil && fn(c, r) {
			continue
		}
		c.auto(r)
	}
}

func (c *fakeConn) auto(r fakeReq) {
	switch r.Method {
	case "public/set_heartbeat", "private/enable_cancel_on_disconnect":
		c.result(r.ID, "ok")
	case "public/test":
		c.result(r.ID, map[string]string{"version": "1.2.26"})
	case "public/auth":
		c.srv.mu.Lock()
		c.srv.auths++
		n := c.srv.auths
		c.srv.mu.Unlock()
		c.result(r.ID, map[string]any{"access_token": fmt.Sprintf("AT%d", n), "refresh_token": fmt.Sprintf("RT%d", n), "expires_in": 900,
			"scope": "connection mainaccount", "token_type": "bearer"})
	case "public/subscribe", "private/subscribe", "public/unsubscribe", "private/unsubscribe":
		var p struct {
			Channels []string `json:"channels"`
		}
		_ = json.Unmarshal(r.Params, &p)
		c.result(r.ID, p.Channels)
	default:
		c.result(r.ID, r.Params) // echo
	}
}

func (c *fakeConn) send(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *fakeConn) sendBinary(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteMessage(websocket.BinaryMessage, b)
}

func (c *fakeConn) result(id uint64, v any) {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "result": v, "usIn": 1, "usOut": 2, "usDiff": 1, "testnet": true})
	c.send(b)
}

func (c *fakeConn) error(id uint64, code int, msg string, data any) {
	e := map[string]any{"code": code, "message": msg}
	if data != nil {
		e["data"] = data
	}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "error": e})
	c.send(b)
}

var testRequestFrame = []byte(`{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}`)

// expect reads requests until one of method arrives and returns it; others
// are returned in skipped.
func (c *fakeConn) expect(t *testing.T, method string) fakeReq {
	t.Helper()
	for {
		select {
		case r := <-c.reqs:
			if r.Method == method {
				return r
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s request", method)
		}
	}
}

// drop closes the connection abruptly.
func (c *fakeConn) drop() { _ = c.ws.UnderlyingConn().Close() }
