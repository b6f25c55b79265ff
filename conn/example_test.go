package conn_test

import (
	"context"
	"fmt"
	"log"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/sim"
)

// Dial a connection to the exchange simulator on loopback, read the
// instruments and subscribe to a channel. Dial returns once the connection
// is ready: authenticated, heartbeats set, cancel-on-disconnect on. The
// simulator's instruments and its answers are fixed, so the output is too.
func Example() {
	ctx := context.Background()
	srv, err := sim.Start(ctx, sim.Config{NoMarket: true, Tick: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	cfg := conn.DefaultConfig()
	cfg.URL = srv.URL() // ws://127.0.0.1:…: plain ws is allowed on loopback only
	cfg.Credentials = conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret}
	c, err := conn.Dial(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("state:", c.State())

	var instruments []struct {
		Name     string  `json:"instrument_name"`
		TickSize float64 `json:"tick_size"`
	}
	if err := c.Call(ctx, "public/get_instruments", map[string]any{"currency": "BTC", "kind": "future"}, &instruments); err != nil {
		log.Fatal(err)
	}
	for _, in := range instruments {
		fmt.Printf("%s tick %g\n", in.Name, in.TickSize)
		break
	}

	subscribed, err := c.Subscribe(ctx, "ticker.BTC-PERPETUAL.100ms")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subscribed:", subscribed, c.Subscribed("ticker.BTC-PERPETUAL.100ms"))
	// Output:
	// state: ready
	// BTC-PERPETUAL tick 0.5
	// subscribed: [ticker.BTC-PERPETUAL.100ms] true
}
