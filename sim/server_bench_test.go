package sim_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/stratbox/stratbox/sim"
)

// The simulator's own throughput, so that later measurements of the host
// know how much of a figure is the simulator's.

// BenchmarkSimOrderRoundTrip: place a resting limit order and cancel it, one
// request after the other over one connection (two round trips per op).
func BenchmarkSimOrderRoundTrip(b *testing.B) {
	srv := quiet(b, sim.Config{RateLimits: sim.RateLimits{Disabled: true}})
	ws, _, err := websocket.DefaultDialer.Dial(srv.URL(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	rt := func(req string) []byte {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
			b.Fatal(err)
		}
		_, data, err := ws.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	rt(fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"public/auth","params":{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}}`,
		sim.TestKeyID, sim.TestKeySecret))
	var placed struct {
		Result struct {
			Order struct {
				OrderID string `json:"order_id"`
			} `json:"order"`
		} `json:"result"`
		Error json.RawMessage `json:"error"`
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data := rt(`{"jsonrpc":"2.0","id":2,"method":"private/buy","params":{"instrument_name":"BTC-PERPETUAL","amount":10,"price":50000}}`)
		if err := json.Unmarshal(data, &placed); err != nil || placed.Result.Order.OrderID == "" {
			b.Fatalf("buy: %s", data)
		}
		rt(`{"jsonrpc":"2.0","id":3,"method":"private/cancel","params":{"order_id":"` + placed.Result.Order.OrderID + `"}}`)
	}
	b.StopTimer()
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "requests/s")
}

// BenchmarkSimNotifications: notifications per second from the simulator to
// one client that reads as fast as it can.
func BenchmarkSimNotifications(b *testing.B) {
	srv := quiet(b, sim.Config{RateLimits: sim.RateLimits{Disabled: true}, SendQueue: 1 << 20})
	ws, _, err := websocket.DefaultDialer.Dial(srv.URL(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"public/subscribe","params":{"channels":["ticker.BTC-PERPETUAL.100ms"]}}`)); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the response and the first ticker
		if _, _, err := ws.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
	frame := []byte(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"timestamp":1,"best_bid_price":60000,"best_ask_price":60000.5}}}`)
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < b.N; i++ {
			if _, _, err := ws.ReadMessage(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < b.N; i++ {
		srv.PublishFrame("ticker.BTC-PERPETUAL.100ms", frame)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notifications/s")
}
