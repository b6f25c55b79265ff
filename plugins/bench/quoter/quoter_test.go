package quoter_test

import (
	"slices"
	"testing"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/plugins/bench/quoter"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
	"github.com/stratbox/stratbox/plugins/sdk/go/strategytest"
)

var F = strategytest.F

func send(t *testing.T, h *strategytest.Harness, want []string, events ...[]byte) []strategytest.Intent {
	t.Helper()
	intents, err := h.Send(events...)
	if err != nil {
		t.Fatal(err)
	}
	if got := strategytest.Strings(intents); !slices.Equal(got, want) {
		t.Fatalf("intents\n got  %q\n want %q", got, want)
	}
	return intents
}

// One ticker places; nothing more until the order is open; then every
// ticker amends, each amend changing the price; a cancelled order is
// replaced on the next ticker.
func TestQuoter(t *testing.T) {
	h := strategytest.New(quoter.New())
	su := &abi.Startup{Instruments: []abi.Instrument{strategytest.Perpetual("BTC-PERPETUAL")},
		Params: []abi.Param{{Type: abi.ParamInt, Key: "distance_ticks", Int: 4}}}
	if intents, err := h.Init(su); err != nil || len(intents) != 0 {
		t.Fatalf("Init: %v %v", intents, err)
	}
	placed := send(t, h, []string{`place #1 buy 10 @ 59998 limit good_til_cancelled post_only "quoter"`},
		h.Ticker(0, F(60000), F(60000.5)))
	p := placed[0].Place
	send(t, h, nil, h.Ticker(0, F(60001), F(60001.5)))              // not acknowledged yet
	send(t, h, nil, h.OrderOf(p, abi.StatePending, abi.ReasonNone)) // the host's pending update
	send(t, h, nil, h.OrderOf(p, abi.StateOpen, abi.ReasonNone))
	send(t, h, []string{"amend #1 10 @ 59999 post_only"}, h.Ticker(0, F(60001), F(60001.5)))
	send(t, h, []string{"amend #1 10 @ 59998.5 post_only"}, h.Ticker(0, F(60001), F(60001.5)))
	send(t, h, []string{"amend #1 10 @ 59999 post_only"}, h.Ticker(0, F(60001), F(60001.5)))
	send(t, h, []string{"amend #1 10 @ 59996 post_only"}, h.Ticker(0, F(59998), F(59998.5)))
	// Other events and other instruments' tickers make no intent.
	send(t, h, nil, h.Trade(0, abi.Buy, F(59998.5), F(100)), h.Ticker(1, F(3000), F(3000.5)))
	send(t, h, nil, h.OrderOf(p, abi.StateCancelled, abi.ReasonCancelRequested))
	send(t, h, []string{`place #2 buy 10 @ 59996 limit good_til_cancelled post_only "quoter"`},
		h.Ticker(0, F(59998), F(59998.5)))
	intents, err := h.Stop()
	if got := strategytest.Strings(intents); err != nil || !slices.Equal(got, []string{"cancel_all"}) {
		t.Fatalf("Stop: %q %v", got, err)
	}
}

// nopHost is a host with a fixed clock that ignores logs and timers.
type nopHost struct{}

func (nopHost) Log(abi.LogLevel, []byte) abi.Status { return abi.StatusOK }
func (nopHost) Now() int64                          { return int64(strategytest.Start) }
func (nopHost) SetTimer(uint32, int64) abi.Status   { return abi.StatusOK }
func (nopHost) CancelTimer(uint32) abi.Status       { return abi.StatusOK }

// An event costs no allocation: a ticker that amends, through the Runner
// the plugin's exports use.
func TestQuoterAllocs(t *testing.T) {
	inbox, outbox := make([]byte, strategy.InboxSize), make([]byte, strategy.OutboxSize)
	r := strategy.NewRunner(quoter.New(), nopHost{}, inbox, outbox)
	blob, err := abi.AppendStartup(nil, &abi.Startup{Start: abi.Start{HostVersion: abi.Current, FirstCID: 1},
		Instruments: []abi.Instrument{strategytest.Perpetual("BTC-PERPETUAL")}})
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Init(int32(copy(inbox, blob))); n != 0 {
		t.Fatalf("Init: %d", n)
	}
	tk := abi.AppendTicker(nil, &abi.Ticker{BestBidPrice: F(60000), BestAskPrice: F(60000.5)})
	if n := r.OnEvents(int32(copy(inbox, tk))); n != abi.SizePlace {
		t.Fatalf("first ticker: %d bytes of intents", n)
	}
	open := abi.AppendOrderUpdate(nil, &abi.OrderUpdate{CID: 1, State: abi.StateOpen, Side: abi.Buy, Type: abi.Limit,
		TIF: abi.GoodTilCancelled, Flags: abi.PostOnly, Price: F(59995), Amount: F(10)})
	if n := r.OnEvents(int32(copy(inbox, open))); n != 0 {
		t.Fatalf("open: %d bytes of intents", n)
	}
	copy(inbox, tk)
	allocs := testing.AllocsPerRun(100, func() {
		if n := r.OnEvents(int32(len(tk))); n != abi.SizeAmend {
			t.Fatalf("ticker: %d bytes of intents, want one amend", n)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per ticker", allocs)
	}
}
