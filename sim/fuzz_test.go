package sim_test

import (
	"testing"

	"github.com/gorilla/websocket"

	"github.com/stratbox/stratbox/sim"
)

// FuzzRequest sends arbitrary frames to a live simulator: whatever a client
// sends, the server answers or hangs up on that client, and keeps serving.
func FuzzRequest(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"public/test","params":{}}`,
		`{"jsonrpc":"2.0","id":2,"method":"public/auth","params":{"grant_type":"client_credentials","client_id":"stratbox-test","client_secret":"stratbox-test-secret"}}`,
		`{"jsonrpc":"2.0","id":3,"method":"private/buy","params":{"instrument_name":"BTC-PERPETUAL","amount":10,"price":50000}}`,
		`{"jsonrpc":"2.0","id":4,"method":"public/subscribe","params":{"channels":["book.BTC-PERPETUAL.100ms"]}}`,
		`{"jsonrpc":"2.0","id":5,"method":"public/set_heartbeat","params":{"interval":1e308}}`,
		`{"jsonrpc":"2.0","id":6,"method":"public/auth","params":{"grant_type":"client_signature","client_id":"stratbox-test","timestamp":-1,"signature":"00","nonce":""}}`,
		`[]`, `{`, `null`, `{"id":{}}`, `{"method":7}`, `{"jsonrpc":"2.0","id":"x","method":"private/logout"}`,
	} {
		f.Add([]byte(seed))
	}
	srv := quiet(f, sim.Config{RateLimits: sim.RateLimits{Disabled: true}})
	var ws *websocket.Conn
	f.Cleanup(func() {
		if ws != nil {
			ws.Close()
		}
	})
	probe := []byte(`{"jsonrpc":"2.0","id":"probe","method":"public/test"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		if ws == nil {
			var err error
			if ws, _, err = websocket.DefaultDialer.Dial(srv.URL(), nil); err != nil {
				t.Fatal(err)
			}
		}
		if ws.WriteMessage(websocket.TextMessage, data) != nil || ws.WriteMessage(websocket.TextMessage, probe) != nil {
			ws.Close()
			ws = nil
			return
		}
		for {
			_, got, err := ws.ReadMessage()
			if err != nil { // the server hung up on this client (logout, say): it must still serve others
				ws.Close()
				ws = nil
				c := dial(t, srv)
				c.ok("public/test", nil, nil)
				return
			}
			if contains(string(got), `"id":"probe"`) {
				if !contains(string(got), `"result"`) {
					t.Fatalf("probe after %q: %s", data, got)
				}
				return
			}
		}
	})
}
