package pool_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
	"github.com/stratbox/stratbox/venue/deribit"
)

// Start a pool of two connections to the exchange simulator on loopback,
// place an order on the member the policy picks and cancel it. The pool
// charges each request to the account's rate limits by the venue's rate
// classes (Config.Classify); the order's call is built by venue/deribit.
// The simulator's answers are fixed, so the output is too.
func Example() {
	ctx := context.Background()
	srv, err := sim.Start(ctx, sim.Config{NoMarket: true, Tick: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	cfg := pool.Config{Conn: conn.DefaultConfig(), Size: 2, Policy: pool.LeastLoaded,
		Classify: func(method string, params []byte) pool.RateClass {
			return pool.RateClass(deribit.RateOf(method, params))
		}}
	cfg.Conn.URL = srv.URL()
	cfg.Conn.Credentials = conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret}
	p, err := pool.New(cfg, nil, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	if err := p.Start(ctx); err != nil { // returns once every member is ready (or failed)
		log.Fatal(err)
	}
	st := p.Stats()
	fmt.Printf("healthy %d of %d\n", st.Healthy, st.Total)

	member, err := p.Pick()
	if err != nil {
		log.Fatal(err)
	}
	buy := deribit.Place{Instrument: "BTC-PERPETUAL", Side: abi.Buy, Type: abi.Limit, TIF: abi.GoodTilCancelled,
		Price: 40000 * abi.FixedScale, Amount: 10 * abi.FixedScale, Label: "example"}
	call := buy.Call(nil)
	raw, err := p.CallOn(ctx, member, call.Method, call.Params)
	if err != nil {
		log.Fatal(err)
	}
	var placed struct {
		Order struct {
			ID    string `json:"order_id"`
			State string `json:"order_state"`
			Label string `json:"label"`
		} `json:"order"`
	}
	if err := json.Unmarshal(raw, &placed); err != nil {
		log.Fatal(err)
	}
	p.Carry(member, 1) // the member carries it: least_loaded sends the next order elsewhere
	fmt.Println("placed:", placed.Order.State, placed.Order.Label)

	cancel := deribit.Cancel(placed.Order.ID)
	raw, err = p.CallRaw(ctx, cancel.Method, cancel.Params) // any healthy member
	if err != nil {
		log.Fatal(err)
	}
	p.Carry(member, -1)
	var cancelled struct {
		State string `json:"order_state"`
	}
	_ = json.Unmarshal(raw, &cancelled)
	fmt.Println("cancel:", cancelled.State)
	// Output:
	// healthy 2 of 2
	// placed: open example
	// cancel: cancelled
}
