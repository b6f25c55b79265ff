package strategytest_test

import (
	"fmt"

	"github.com/stratbox/stratbox/abi"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
	"github.com/stratbox/stratbox/plugins/sdk/go/strategytest"
)

// joiner buys the best bid on every ticker and cancels everything at stop.
type joiner struct{ strategy.Base }

func (joiner) OnTicker(ctx *strategy.Context, t *abi.Ticker) {
	ctx.Place(strategy.Order{Instrument: t.Instrument, Side: abi.Buy, Price: t.BestBidPrice,
		Amount: 10 * abi.FixedScale, Flags: abi.PostOnly, Label: "join"})
}

func (joiner) OnStop(ctx *strategy.Context) { ctx.CancelAll(strategy.AllInstruments, abi.SideNone) }

func Example() {
	F := strategytest.F
	h := strategytest.New(joiner{})
	if _, err := h.Init(&abi.Startup{Instruments: []abi.Instrument{strategytest.Perpetual("BTC-PERPETUAL")}}); err != nil {
		panic(err)
	}
	intents, err := h.Send(h.Ticker(0, F(65000), F(65000.5)))
	if err != nil {
		panic(err)
	}
	fmt.Println(intents[0])
	intents, _ = h.Stop()
	fmt.Println(intents[0])
	// Output:
	// place #1 buy 10 @ 65000 limit good_til_cancelled post_only "join"
	// cancel_all
}
