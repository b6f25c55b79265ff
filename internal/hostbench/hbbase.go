package hostbench

// The baselines of the heartbeat figures: heartbeat.idle, the host's own
// connection with no engine and no plugin on the spin runs' feed and
// garbage, and heartbeat.reference, a minimal client on the flood.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/heartbeat"
)

// floodChannels are the channels flood publishes to.
var floodChannels = []string{tickerChannel, "trades.BTC-PERPETUAL.100ms"}

// dialIdle is the idle baseline: conn, configured as the heartbeat runs',
// subscribed to the flood's channels, its notifications discarded.
func dialIdle(ctx context.Context, h *helper) (*conn.Conn, error) {
	c, err := conn.Dial(ctx, relayConn(h), conn.WithSink(discardSink{}))
	if err != nil {
		return nil, err
	}
	if _, err := c.Subscribe(ctx, floodChannels...); err != nil {
		c.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return c, nil
}

// refClient is the reference: one goroutine reads every frame and answers
// a test_request on the spot, nothing else (no parsing, no engine, no
// write goroutine): the floor of a heartbeat answer through the relay.
type refClient struct {
	ws   *websocket.Conn
	done chan error
	id   uint64 // the last public/test's id
	buf  []byte
}

// dialReference connects to addr (host:port: the relay), sets the heartbeat
// and subscribes to the flood's channels, waiting for both answers (and
// answering the test_requests that come first: the relay pairs each answer
// with the oldest test_request it forwarded), then starts the read loop.
func dialReference(ctx context.Context, addr string) (*refClient, error) {
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+addr+"/ws/api/v2", nil)
	if err != nil {
		return nil, fmt.Errorf("reference client: %w", err)
	}
	c := &refClient{ws: ws, done: make(chan error, 1), id: 100, buf: make([]byte, 0, heartbeat.MaxAnswerLen)}
	set := `{"jsonrpc":"2.0","id":1,"method":"` + heartbeat.MethodSetHeartbeat + `","params":` +
		string(heartbeat.AppendSetParams(nil, hbInterval)) + `}`
	sub := `{"jsonrpc":"2.0","id":2,"method":"public/subscribe","params":{"channels":["` +
		strings.Join(floodChannels, `","`) + `"]}}`
	if err := c.setup(ctx, set, sub); err != nil {
		ws.Close()
		return nil, fmt.Errorf("reference client: %w", err)
	}
	go c.loop()
	return c, nil
}

// setup sends requests (ids 1, 2, …) and reads until each is answered,
// answering test_requests meanwhile; an error answer is an error.
func (c *refClient) setup(ctx context.Context, requests ...string) error {
	for _, req := range requests {
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.ws.SetReadDeadline(deadline)
	answered := make([]bool, len(requests))
	for left := len(requests); left > 0; {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			return err
		}
		if err := c.answer(msg); err != nil {
			return err
		}
		var m struct {
			ID    *int            `json:"id"`
			Error json.RawMessage `json:"error"`
		}
		if json.Unmarshal(msg, &m) != nil || m.ID == nil {
			continue // a notification
		}
		i := *m.ID - 1
		if i < 0 || i >= len(requests) || answered[i] {
			return fmt.Errorf("unexpected answer %.200s", msg)
		}
		if len(m.Error) > 0 {
			return fmt.Errorf("%.200s refused: %s", requests[i], m.Error)
		}
		answered[i] = true
		left--
	}
	return c.ws.SetReadDeadline(time.Time{})
}

// answer sends a public/test if msg is a test_request.
func (c *refClient) answer(msg []byte) error {
	if !bytes.Contains(msg, []byte(`"`+heartbeat.TypeTestRequest+`"`)) {
		return nil
	}
	c.id++
	c.buf = heartbeat.AppendAnswer(c.buf[:0], c.id)
	return c.ws.WriteMessage(websocket.TextMessage, c.buf)
}

func (c *refClient) loop() {
	for {
		_, msg, err := c.ws.ReadMessage()
		if err == nil {
			err = c.answer(msg)
		}
		if err != nil {
			c.done <- err
			return
		}
	}
}

// alive is nil while the read loop runs, else why it ended.
func (c *refClient) alive() error {
	select {
	case err := <-c.done:
		c.done <- err
		return fmt.Errorf("reference client: %w", err)
	default:
		return nil
	}
}

// close ends the connection and waits for the read loop.
func (c *refClient) close() {
	_ = c.ws.Close()
	<-c.done
}
