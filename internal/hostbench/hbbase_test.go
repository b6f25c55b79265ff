package hostbench

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stratbox/stratbox/heartbeat"
)

// refServer is a loopback WebSocket server that runs script on the first
// connection; its error, if any, reaches errc.
func refServer(t *testing.T, script func(ws *websocket.Conn) error) (addr string, errc chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc = make(chan error, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, req, nil)
		if err != nil {
			errc <- err
			return
		}
		defer ws.Close()
		errc <- script(ws)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), errc
}

// readRequest reads a JSON-RPC request.
func readRequest(ws *websocket.Conn) (id int, method string, params string, err error) {
	_, msg, err := ws.ReadMessage()
	if err != nil {
		return 0, "", "", err
	}
	var m struct {
		ID     int             `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	err = json.Unmarshal(msg, &m)
	return m.ID, m.Method, string(m.Params), err
}

const testRequest = `{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}`

// The reference client sets the heartbeat and subscribes, answers a
// test_request that comes before the answers (so that the relay's pairing
// of answers with test_requests stays right), then answers each
// test_request with one public/test and nothing else.
func TestReferenceClient(t *testing.T) {
	addr, errc := refServer(t, func(ws *websocket.Conn) error {
		var got []string
		for range 2 {
			_, method, params, err := readRequest(ws)
			if err != nil {
				return err
			}
			got = append(got, method+" "+params)
		}
		want := []string{heartbeat.MethodSetHeartbeat + ` {"interval":0.002}`,
			`public/subscribe {"channels":["` + strings.Join(floodChannels, `","`) + `"]}`}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		frames := []string{testRequest,
			`{"jsonrpc":"2.0","id":2,"result":["ticker.BTC-PERPETUAL.100ms"],"usIn":1}`,
			`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{}}}`,
			`{"jsonrpc":"2.0","id":1,"result":"ok","usIn":1}`}
		for _, f := range frames {
			if err := ws.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
				return err
			}
		}
		// The first answer comes during the set-up; two more after it,
		// with notifications and heartbeats between them.
		for i, f := range []string{"", `{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}` + "\n" + testRequest, testRequest} {
			for _, x := range strings.Split(f, "\n") {
				if x == "" {
					continue
				}
				if err := ws.WriteMessage(websocket.TextMessage, []byte(x)); err != nil {
					return err
				}
			}
			id, method, _, err := readRequest(ws)
			if err != nil {
				return err
			}
			if method != heartbeat.MethodTest || id != 101+i {
				t.Errorf("answer %d: %s id %d, want %s id %d", i, method, id, heartbeat.MethodTest, 101+i)
			}
		}
		return nil
	})
	c, err := dialReference(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// The server has closed the connection: the loop has ended.
	err = <-c.done
	c.done <- err
	if err := c.alive(); err == nil {
		t.Error("alive after the server closed the connection")
	}
	c.close()
}

// A refused set-up request is an error naming it.
func TestReferenceClientRefused(t *testing.T) {
	addr, errc := refServer(t, func(ws *websocket.Conn) error {
		for range 2 {
			if _, _, _, err := readRequest(ws); err != nil {
				return err
			}
		}
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"error":{"code":10001,"message":"bad interval"}}`))
		_, _, err := ws.ReadMessage() // until the client closes
		_ = err
		return nil
	})
	_, err := dialReference(context.Background(), addr)
	if err == nil || !strings.Contains(err.Error(), heartbeat.MethodSetHeartbeat) || !strings.Contains(err.Error(), "bad interval") {
		t.Fatalf("err %v, want the set_heartbeat refusal", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestHbRatio(t *testing.T) {
	var r Result
	if hbRatio(&r, "spin_process", "idle") != nil {
		t.Fatal("a ratio without figures")
	}
	r.add("heartbeat.idle.p99_us", "t", "µs", []float64{100, 0, 200})
	r.add("heartbeat.spin_process.p99_us", "t", "µs", []float64{110, 50, 500})
	f := hbRatio(&r, "spin_process", "idle")
	if f == nil || len(f.Reps) != 2 || f.Reps[0] != 1.1 || f.Reps[1] != 2.5 {
		t.Fatalf("%+v: want 1.1 and 2.5 (the repetition whose baseline is 0 has no ratio)", f)
	}
	if f.Met != nil || r.Figures["heartbeat.spin_process.p99_ratio"] != f {
		t.Fatalf("recorded, without the target (the pooled ratio bears it): %+v", f)
	}
}

// The pooled p99 is one quantile over every repetition's answers, and the
// pooled ratio bears the target.
func TestPooledRatio(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var l []time.Duration
		for _, x := range v {
			l = append(l, time.Duration(x)*time.Millisecond)
		}
		return l
	}
	// 200 answers in two repetitions: the two slowest (1 %) are 9 and 8 ms,
	// so the p99 (rank 198) is the third slowest, 5 ms, though neither
	// repetition's own p99 is 5 ms.
	var a, b []time.Duration
	for range 98 {
		a, b = append(a, time.Millisecond), append(b, 2*time.Millisecond)
	}
	a, b = append(a, ms(5, 9)...), append(b, ms(3, 8)...)
	if got := pooled([][]time.Duration{a, b}, 0.99); got != 5*time.Millisecond {
		t.Fatalf("pooled p99 %v, want 5ms", got)
	}
	if got := pooled(nil, 0.99); got != 0 {
		t.Fatalf("pooled p99 of nothing %v, want 0", got)
	}
	var r Result
	if pooledRatio(&r, "hostile.hog", "hostile.alone", 1.2, "x") != nil {
		t.Fatal("a ratio without figures")
	}
	r.add("hostile.alone.p99_pooled_us", "t", "µs", []float64{0})
	r.add("hostile.hog.p99_pooled_us", "t", "µs", []float64{500})
	if pooledRatio(&r, "hostile.hog", "hostile.alone", 1.2, "x") != nil {
		t.Fatal("a ratio over a baseline of 0")
	}
	r.add("hostile.alone.p99_pooled_us", "t", "µs", []float64{400})
	f := pooledRatio(&r, "hostile.hog", "hostile.alone", 1.2, "x")
	if f == nil || f.Median != 1.25 || f.Met == nil || *f.Met || r.Figures["hostile.hog.p99_pooled_ratio"] != f {
		t.Fatalf("%+v: want 1.25, not met (≤ 1.2)", f)
	}
	if !strings.Contains(f.Title, "hog / alone") {
		t.Fatalf("title %q", f.Title)
	}
}
