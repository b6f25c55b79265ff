package conn_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stratbox/stratbox/conn"
)

// BenchmarkClassify classifies each hot frame kind (target ≤ 100 ns).
func BenchmarkClassify(b *testing.B) {
	for _, bc := range []struct{ name, frame string }{
		{"test_request", frameTestRequest},
		{"book_change", frameBookChange},
		{"order", frameOrder},
		{"response", frameResponse},
		{"error", frameError},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := []byte(bc.frame)
			b.ReportAllocs()
			for b.Loop() {
				if conn.Classify(in).Kind == conn.KindInvalid {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// BenchmarkParseNotification finds the channel and the data of a book change.
func BenchmarkParseNotification(b *testing.B) {
	in := []byte(frameBookChange)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		f := conn.Classify(in)
		if _, _, err := conn.ParseNotification(in, f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeartbeatAnswerLatency measures, on loopback, the time from a
// test_request read to its public/test written while 50,000 notifications/s
// arrive (50 per millisecond, with one test_request per millisecond) and a
// consumer drains them. Target: p99 ≤ 50 µs. One op is one test_request.
func BenchmarkHeartbeatAnswerLatency(b *testing.B) {
	note := []byte(frameBookChange)
	answers := make(chan struct{}, 1<<16)
	start := make(chan struct{})
	var wmu sync.Mutex
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		send := func(b []byte) error {
			wmu.Lock()
			defer wmu.Unlock()
			return ws.WriteMessage(websocket.TextMessage, b)
		}
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var req struct {
				ID     uint64 `json:"id"`
				Method string `json:"method"`
			}
			_ = json.Unmarshal(msg, &req)
			out, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": "ok"})
			if send(out) != nil {
				return
			}
			if req.Method == "public/test" {
				answers <- struct{}{}
			}
			if req.Method == "public/set_heartbeat" {
				go func() {
					<-start
					tk := time.NewTicker(time.Millisecond)
					defer tk.Stop()
					for range tk.C {
						for i := 0; i < 50; i++ {
							if send(note) != nil {
								return
							}
						}
						if send(testRequestFrame) != nil {
							return
						}
					}
				}()
			}
		}
	}))
	defer srv.Close()
	c, err := conn.Dial(context.Background(), conn.Config{URL: "ws" + srv.URL[4:], SinkQueue: 1 << 14})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	stop := make(chan struct{})
	go func() { // a consumer that keeps up
		for {
			select {
			case <-c.Notifications():
			case <-stop:
				return
			}
		}
	}()
	defer close(stop)
	b.ResetTimer()
	close(start)
	for i := 0; i < b.N; i++ {
		<-answers
	}
	b.StopTimer()
	st := c.Stats()
	hb := st.Heartbeat
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(hb.AnswerLatency.P50), "p50-µs")
	b.ReportMetric(us(hb.AnswerLatency.P99), "p99-µs")
	b.ReportMetric(us(hb.AnswerLatency.Max), "max-µs")
	b.ReportMetric(us(hb.RoundTrip.P99), "rtt-p99-µs")
	b.ReportMetric(float64(st.Notifications)/b.Elapsed().Seconds(), "notes/s")
	if hb.Missed != 0 || st.Reconnects != 0 {
		b.Fatalf("heartbeat %+v", hb)
	}
}
