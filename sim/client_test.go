package sim_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stratbox/stratbox/sim"
)

// The tests talk to the simulator with a bare WebSocket client, so that what
// they check is the wire, not a client library's reading of it.

// failsafe bounds every wait; tests synchronise on frames, never on time.
const failsafe = 20 * time.Second

type rpcErr struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

type frame struct {
	Raw     []byte
	ID      *int64          `json:"id"`
	Method  string          `json:"method"`
	Result  json.RawMessage `json:"result"`
	Error   *rpcErr         `json:"error"`
	Params  notifParams     `json:"params"`
	Testnet bool            `json:"testnet"`
	UsIn    int64           `json:"usIn"`
}

type notifParams struct {
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
	Type    string          `json:"type"`
}

type client struct {
	t      testing.TB
	ws     *websocket.Conn
	mu     sync.Mutex
	nextID int64
	frames chan frame
	queue  []frame // frames read but not yet consumed
	closed chan struct{}
	err    error
}

func dial(t testing.TB, srv *sim.Server) *client {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(srv.URL(), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &client{t: t, ws: ws, frames: make(chan frame, 1<<16), closed: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { _ = ws.Close() })
	return c
}

func (c *client) read() {
	defer close(c.frames)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.err = err
			close(c.closed)
			return
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			f = frame{}
		}
		f.Raw = data
		c.frames <- f
	}
}

func (c *client) send(method string, params any) int64 {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.mu.Unlock()
	req := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	b, _ := json.Marshal(req)
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write %s: %v", method, err)
	}
	return id
}

// trySend sends a request, ignoring a failure to write (the server may
// already have closed the connection).
func (c *client) trySend(method string, params any) {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1 << 40, "method": method, "params": params})
	_ = c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the first frame, queued or new, that match accepts.
func (c *client) next(what string, match func(frame) bool) frame {
	c.t.Helper()
	for i, f := range c.queue {
		if match(f) {
			c.queue = append(c.queue[:i], c.queue[i+1:]...)
			return f
		}
	}
	deadline := time.NewTimer(failsafe)
	defer deadline.Stop()
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("connection closed while waiting for %s: %v", what, c.err)
			}
			if match(f) {
				return f
			}
			c.queue = append(c.queue, f)
		case <-deadline.C:
			c.t.Fatalf("no %s within %v", what, failsafe)
		}
	}
}

func (c *client) response(id int64) frame {
	c.t.Helper()
	return c.next("response", func(f frame) bool { return f.ID != nil && *f.ID == id })
}

// call sends a request and returns its response frame.
func (c *client) call(method string, params any) frame {
	c.t.Helper()
	return c.response(c.send(method, params))
}

// ok calls and decodes the result into out, failing on an error response.
func (c *client) ok(method string, params any, out any) {
	c.t.Helper()
	f := c.call(method, params)
	if f.Error != nil {
		c.t.Fatalf("%s: error %d %s %s", method, f.Error.Code, f.Error.Message, f.Error.Data)
	}
	if out != nil {
		if err := json.Unmarshal(f.Result, out); err != nil {
			c.t.Fatalf("%s: decode result %s: %v", method, f.Result, err)
		}
	}
}

// fails calls and checks the error code.
func (c *client) fails(method string, params any, code int) rpcErr {
	c.t.Helper()
	f := c.call(method, params)
	if f.Error == nil {
		c.t.Fatalf("%s: want error %d, got result %s", method, code, f.Result)
	}
	if f.Error.Code != code {
		c.t.Fatalf("%s: want error %d, got %d %s %s", method, code, f.Error.Code, f.Error.Message, f.Error.Data)
	}
	return *f.Error
}

func (c *client) notification(channel string) frame {
	c.t.Helper()
	return c.next("notification on "+channel, func(f frame) bool {
		return f.Method == "subscription" && f.Params.Channel == channel
	})
}

func (c *client) heartbeat(typ string) frame {
	c.t.Helper()
	return c.next("heartbeat "+typ, func(f frame) bool { return f.Method == "heartbeat" && f.Params.Type == typ })
}

// waitClosed waits until the server closes the connection.
func (c *client) waitClosed() {
	c.t.Helper()
	select {
	case <-c.closed:
	case <-time.After(failsafe):
		c.t.Fatal("connection still open")
	}
}

func (c *client) auth() {
	c.t.Helper()
	c.ok("public/auth", map[string]any{"grant_type": "client_credentials",
		"client_id": sim.TestKeyID, "client_secret": sim.TestKeySecret}, nil)
}

func (c *client) subscribe(private bool, channels ...string) []string {
	c.t.Helper()
	m := "public/subscribe"
	if private {
		m = "private/subscribe"
	}
	var got []string
	c.ok(m, map[string]any{"channels": channels}, &got)
	return got
}

// start runs a simulator for one test.
func start(t testing.TB, cfg sim.Config) *sim.Server {
	t.Helper()
	srv, err := sim.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// quiet is a simulator with no market and no ticker: only the test moves it.
func quiet(t testing.TB, cfg sim.Config) *sim.Server {
	cfg.NoMarket = true
	cfg.Tick = -1
	return start(t, cfg)
}

func decode[T any](t testing.TB, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// waitTimers waits until the fake clock has n timers armed, failing the test
// (instead of hanging) if that does not happen within failsafe.
func waitTimers(t testing.TB, fc interface {
	WaitForTimers(int, <-chan struct{}) bool
}, n int) {
	t.Helper()
	done := make(chan struct{})
	stop := time.AfterFunc(failsafe, func() { close(done) })
	defer stop.Stop()
	if !fc.WaitForTimers(n, done) {
		t.Fatalf("the fake clock never had %d timers", n)
	}
}
