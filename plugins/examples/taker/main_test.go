package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/plugins/sdk/go/strategytest"
)

var F = strategytest.F

func startup() *abi.Startup {
	p := func(key string, typ abi.ParamType, i int64, f float64, s string) abi.Param {
		return abi.Param{Key: key, Type: typ, Int: i, Float: f, Text: s}
	}
	return &abi.Startup{
		Instruments: []abi.Instrument{strategytest.Perpetual("BTC-PERPETUAL")},
		Params: []abi.Param{
			p("window", abi.ParamString, 0, 0, "10s"),
			p("threshold", abi.ParamFloat, 0, 0.6, ""),
			p("min_volume", abi.ParamInt, 300, 0, ""),
			p("size", abi.ParamInt, 100, 0, ""),
			p("max_position", abi.ParamInt, 150, 0, ""),
			p("slippage_bps", abi.ParamInt, 5, 0, ""),
			p("cooldown", abi.ParamString, 0, 0, "5s"),
			p("status_every", abi.ParamString, 0, 0, "1m"),
		},
	}
}

type step struct {
	name    string
	advance time.Duration // the clock moves first (due timers fire)
	events  func(h *strategytest.Harness, placed map[uint64]abi.Place) [][]byte
	want    []string
}

func run(t *testing.T, steps []step) *strategytest.Harness {
	t.Helper()
	h := strategytest.New(&Taker{})
	if _, err := h.Init(startup()); err != nil {
		t.Fatal(err)
	}
	placed := map[uint64]abi.Place{}
	for _, s := range steps {
		var intents []strategytest.Intent
		fired, err := h.Advance(s.advance)
		if err == nil && s.events != nil {
			intents, err = h.Send(s.events(h, placed)...)
		}
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		intents = append(fired, intents...)
		for _, in := range intents {
			if in.Kind == abi.KindPlace {
				placed[in.Place.CID] = in.Place
			}
		}
		if got := strategytest.Strings(intents); !slices.Equal(got, s.want) {
			t.Errorf("%s:\n got  %q\n want %q", s.name, got, s.want)
		}
	}
	return h
}

// trades returns public trades: positive amounts are buys, negative sells.
func trades(amounts ...float64) func(*strategytest.Harness, map[uint64]abi.Place) [][]byte {
	return func(h *strategytest.Harness, _ map[uint64]abi.Place) [][]byte {
		var out [][]byte
		for _, a := range amounts {
			side := abi.Buy
			if a < 0 {
				side, a = abi.Sell, -a
			}
			out = append(out, h.Trade(0, side, F(65000), F(a)))
		}
		return out
	}
}

// filled returns the host's answer to an IOC filled completely, and the
// position after it.
func filled(cid uint64, position float64) func(*strategytest.Harness, map[uint64]abi.Place) [][]byte {
	return func(h *strategytest.Harness, placed map[uint64]abi.Place) [][]byte {
		p := placed[cid]
		return [][]byte{h.OrderOf(p, abi.StatePending, 0), h.Fill(p, p.Price, p.Amount, abi.Taker),
			h.OrderOf(p, abi.StateFilled, 0), h.Position(0, F(position))}
	}
}

// The taker buys after a buy-heavy burst, one order at a time, waits for
// its cooldown, respects its position limit, and sells after a sell-heavy
// burst.
func TestTaker(t *testing.T) {
	const ioc = "limit immediate_or_cancel \"taker\""
	h := run(t, []step{
		{"top of book", 0, func(h *strategytest.Harness, _ map[uint64]abi.Place) [][]byte {
			return [][]byte{h.Ticker(0, F(64990), F(65010))}
		}, nil},
		{"one-sided but below min_volume", 0, trades(100, -50), nil},
		{"buy-heavy burst: buy 100 through the ask", 0, trades(100, 100, 100),
			[]string{"place #1 buy 100 @ 65043 " + ioc}},
		{"more buying while the order is on its way", 0, trades(200, 200), nil},
		{"filled: long 100", 0, filled(1, 100), nil},
		{"buying again within the cooldown", time.Second, trades(400), nil},
		{"after the cooldown: only 50 left under max_position 150", 4 * time.Second, trades(10),
			[]string{"place #2 buy 50 @ 65043 " + ioc}},
		{"filled: long 150", 0, filled(2, 150), nil},
		{"at the limit: no more buying", 6 * time.Second, trades(400), nil},
		{"sell-heavy burst: sell 100 through the bid", 0, trades(-1000, -1000),
			[]string{"place #3 sell 100 @ 64957.5 " + ioc}},
		{"refused by risk: free to try again", 0, func(h *strategytest.Harness, placed map[uint64]abi.Place) [][]byte {
			return [][]byte{h.OrderOf(placed[3], abi.StateRejected, abi.ReasonRiskRate)}
		}, nil},
		{"pool down: no orders", 6 * time.Second, func(h *strategytest.Harness, _ map[uint64]abi.Place) [][]byte {
			return [][]byte{h.Pool(0, 2, abi.PoolDegraded), h.Trade(0, abi.Sell, F(65000), F(1000))}
		}, nil},
		{"pool back", 0, func(h *strategytest.Harness, _ map[uint64]abi.Place) [][]byte {
			return [][]byte{h.Pool(2, 2, 0), h.Trade(0, abi.Sell, F(65000), F(10))}
		}, []string{"place #4 sell 100 @ 64957.5 " + ioc}},
	})
	if !slices.ContainsFunc(h.Logs, func(l strategytest.Log) bool {
		return strings.Contains(l.Text, "order 3 rejected: risk_rate")
	}) {
		t.Errorf("logs %v", h.Logs)
	}
}

// Trades older than the window stop counting.
func TestWindow(t *testing.T) {
	run(t, []step{
		{"top of book", 0, func(h *strategytest.Harness, _ map[uint64]abi.Place) [][]byte {
			return [][]byte{h.Ticker(0, F(64990), F(65010))}
		}, nil},
		{"250 bought", 0, trades(250), nil},
		{"11 s later, 100 more: only 100 in the window", 11 * time.Second, trades(100), nil},
		{"200 more: 300", time.Second, trades(200), []string{`place #1 buy 100 @ 65043 limit immediate_or_cancel "taker"`}},
	})
}

// A status line every status_every, from a timer it re-arms.
func TestStatusTimer(t *testing.T) {
	h := run(t, []step{{"59 s", 59 * time.Second, nil, nil}})
	if len(h.Logs) != 0 {
		t.Fatalf("logs %v", h.Logs)
	}
	h.Advance(time.Second)
	h.Advance(time.Minute)
	if len(h.Logs) != 2 || h.Logs[0].Text != "taker: position 0, flow buy 0 sell 0 over 0 trades" {
		t.Errorf("logs %v", h.Logs)
	}
	if due, ok := h.Timer(statusTimer); !ok || due != strategytest.Start+uint64(3*time.Minute) {
		t.Errorf("timer due %d %v", due, ok)
	}
}

func TestInitParams(t *testing.T) {
	su := startup()
	su.Params = append(su.Params, abi.Param{Key: "threshold2", Type: abi.ParamFloat, Float: 2})
	su.Params[1].Float = 1.5
	_, err := strategytest.New(&Taker{}).Init(su)
	for _, want := range []string{`"threshold" must be in (0, 1]`, `unknown parameters "threshold2"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v, want %s", err, want)
		}
	}
}

// Restarted under keep_orders, the taker takes its predecessor's order
// that is not final as its order in flight: it places nothing until that
// order is final, then places as before.
func TestAdoptedOrder(t *testing.T) {
	su := startup()
	su.Start.FirstCID = 10
	adopted := abi.Place{CID: 7, Side: abi.Buy, Type: abi.Limit, TIF: abi.ImmediateOrCancel, Price: F(65043), Amount: F(100)}
	su.Orders = []abi.OrderUpdate{{CID: 7, State: abi.StatePending, Side: abi.Buy, Type: abi.Limit,
		TIF: abi.ImmediateOrCancel, Price: F(65043), Amount: F(100)}}
	h := strategytest.New(&Taker{})
	if in, err := h.Init(su); err != nil || len(in) != 0 {
		t.Fatalf("init: %v %v", in, err)
	}
	for _, s := range []struct {
		name   string
		events [][]byte
		want   []string
	}{
		{"buy burst, the adopted order pending", [][]byte{h.Ticker(0, F(64990), F(65010)),
			h.Trade(0, abi.Buy, F(65000), F(300))}, nil},
		{"the adopted order opens: not final", [][]byte{h.OrderOf(adopted, abi.StateOpen, 0),
			h.Trade(0, abi.Buy, F(65000), F(100))}, nil},
		{"the adopted order fills: final", [][]byte{h.Fill(adopted, adopted.Price, adopted.Amount, abi.Taker),
			h.OrderOf(adopted, abi.StateFilled, 0), h.Trade(0, abi.Buy, F(65000), F(100))},
			[]string{`place #10 buy 50 @ 65043 limit immediate_or_cancel "taker"`}},
	} {
		in, err := h.Send(s.events...)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := strategytest.Strings(in); !slices.Equal(got, s.want) {
			t.Errorf("%s:\n got  %q\n want %q", s.name, got, s.want)
		}
	}
}
