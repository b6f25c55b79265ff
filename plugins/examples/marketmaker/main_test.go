package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/plugins/sdk/go/strategytest"
)

var F = strategytest.F

func startup(params ...abi.Param) *abi.Startup {
	return &abi.Startup{
		Start:       abi.Start{Name: abi.NewStr32("mm-test")},
		Instruments: []abi.Instrument{strategytest.Perpetual("ETH-PERPETUAL"), strategytest.Perpetual("BTC-PERPETUAL")},
		Params:      params,
	}
}

func param(key string, v any) abi.Param {
	switch v := v.(type) {
	case int:
		return abi.Param{Type: abi.ParamInt, Key: key, Int: int64(v)}
	case float64:
		return abi.Param{Type: abi.ParamFloat, Key: key, Float: v}
	case bool:
		return abi.Param{Type: abi.ParamBool, Key: key, Bool: v}
	case string:
		return abi.Param{Type: abi.ParamString, Key: key, Text: v}
	}
	panic(v)
}

// step is one batch of a scripted session and the intents it must produce.
type step struct {
	name   string
	events func(h *strategytest.Harness, order func(cid uint64, s abi.OrderState, r abi.Reason) []byte) [][]byte
	want   []string
}

// run plays steps against a fresh maker and checks each step's intents.
func run(t *testing.T, su *abi.Startup, steps []step) *strategytest.Harness {
	t.Helper()
	h := strategytest.New(&MarketMaker{})
	if intents, err := h.Init(su); err != nil || len(intents) != 0 {
		t.Fatalf("Init: %v %v", intents, err)
	}
	placed := map[uint64]abi.Place{}
	order := func(cid uint64, s abi.OrderState, r abi.Reason) []byte {
		p, ok := placed[cid]
		if !ok {
			t.Fatalf("no order %d was placed", cid)
		}
		return h.OrderOf(p, s, r)
	}
	for _, s := range steps {
		var intents []strategytest.Intent
		var err error
		if s.events == nil {
			intents, err = h.Stop()
		} else {
			intents, err = h.Send(s.events(h, order)...)
		}
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
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

type events = [][]byte
type orderFn = func(uint64, abi.OrderState, abi.Reason) []byte

func ticker(bid, ask float64) func(*strategytest.Harness, orderFn) events {
	return func(h *strategytest.Harness, _ orderFn) events { return events{h.Ticker(1, F(bid), F(ask))} }
}

func position(size float64) func(*strategytest.Harness, orderFn) events {
	return func(h *strategytest.Harness, _ orderFn) events { return events{h.Position(1, F(size))} }
}

// The maker quotes both sides around mid, leaves small moves alone, amends
// on larger ones, skews with inventory, stops bidding at its position
// limit, pulls everything when the pool degrades and quotes again when it
// recovers.
func TestQuoting(t *testing.T) {
	const bid, ask = "limit good_til_cancelled post_only instrument=1 \"mm-bid\"", "limit good_til_cancelled post_only instrument=1 \"mm-ask\""
	run(t, startup(param("instrument", "BTC-PERPETUAL"), param("size", 10), param("half_spread_bps", 5),
		param("skew_bps", 5), param("max_position", 40), param("requote_bps", 1)), []step{
		{"first ticker: a quote on each side, 5 bps from mid 65000", ticker(64990, 65010),
			[]string{"place #1 buy 10 @ 64967.5 " + bid, "place #2 sell 10 @ 65032.5 " + ask}},
		{"acknowledged", func(h *strategytest.Harness, o orderFn) events {
			return events{o(1, abi.StatePending, 0), o(2, abi.StatePending, 0), o(1, abi.StateOpen, 0), o(2, abi.StateOpen, 0)}
		}, nil},
		{"another instrument", func(h *strategytest.Harness, _ orderFn) events { return events{h.Ticker(0, F(100), F(101))} }, nil},
		{"a move under 1 bps: nothing", ticker(64992, 65012), nil},
		{"a move of 100: both amended", ticker(65090, 65110),
			[]string{"amend #1 10 @ 65067 post_only", "amend #2 10 @ 65133 post_only"}},
		{"long 20 of 40: both quotes 16.275 lower", position(20),
			[]string{"amend #1 10 @ 65051 post_only", "amend #2 10 @ 65116.5 post_only"}},
		{"another instrument's and the account's positions: nothing", func(h *strategytest.Harness, _ orderFn) events {
			return events{h.Position(0, F(100)), abi.AppendPosition(nil, &abi.Position{Instrument: 1, Flags: abi.PositionAccount, Size: F(-500)})}
		}, nil},
		{"long 40: no more bids", position(40),
			[]string{"cancel #1", "amend #2 10 @ 65100 post_only"}},
		{"the bid is cancelled", func(h *strategytest.Harness, o orderFn) events {
			return events{o(1, abi.StateCancelled, abi.ReasonCancelRequested)}
		}, nil},
		{"flat again: a new bid", position(0),
			[]string{"place #3 buy 10 @ 65067 " + bid, "amend #2 10 @ 65133 post_only"}},
		{"pool degraded: pull everything", func(h *strategytest.Harness, _ orderFn) events {
			return events{h.Pool(1, 2, abi.PoolDegraded)}
		}, []string{"cancel_all instrument=1"}},
		{"while degraded: no quotes", ticker(65190, 65210), nil},
		{"the cancels arrive", func(h *strategytest.Harness, o orderFn) events {
			return events{o(2, abi.StateCancelled, abi.ReasonCancelRequested), o(3, abi.StateCancelled, abi.ReasonCancelRequested)}
		}, nil},
		{"pool healthy: quote again", func(h *strategytest.Harness, _ orderFn) events { return events{h.Pool(2, 2, 0)} },
			[]string{"place #4 buy 10 @ 65167 " + bid, "place #5 sell 10 @ 65233 " + ask}},
		{"a fill takes the ask: it is replaced at once", func(h *strategytest.Harness, o orderFn) events {
			return events{o(4, abi.StateOpen, 0), o(5, abi.StateOpen, 0), o(5, abi.StateFilled, 0)}
		}, []string{"place #6 sell 10 @ 65233 " + ask}},
		{"a rejected quote waits for the next move", func(h *strategytest.Harness, o orderFn) events {
			return events{o(6, abi.StateRejected, abi.ReasonRiskMaxOpenOrders)}
		}, nil},
		{"next move", ticker(65190, 65210), []string{"place #7 sell 10 @ 65233 " + ask}},
		{"stop", nil, []string{"cancel_all"}},
	})
}

// With a book subscribed the maker quotes from the book (and ignores the
// ticker's top); a gap waits for the next snapshot; a closed book pulls
// the quotes.
func TestQuotingFromBook(t *testing.T) {
	L := strategytest.L
	const flags = "limit good_til_cancelled post_only"
	run(t, startup(param("half_spread_bps", 10), param("post_only", true), param("requote_bps", 1)), []step{
		{"snapshot", func(h *strategytest.Harness, _ orderFn) events {
			return events{h.Snapshot(0, 100, []abi.Level{L(2000, 5), L(1999, 1)}, []abi.Level{L(2001, 5)})}
		}, []string{`place #1 buy 10 @ 1998 ` + flags + ` "mm-bid"`, `place #2 sell 10 @ 2003 ` + flags + ` "mm-ask"`}},
		{"acknowledged", func(h *strategytest.Harness, o orderFn) events {
			return events{o(1, abi.StateOpen, 0), o(2, abi.StateOpen, 0)}
		}, nil},
		{"the ticker does not override the book", func(h *strategytest.Harness, _ orderFn) events {
			return events{h.Ticker(0, F(2100), F(2101))}
		}, nil},
		{"a change moves the top by 2", func(h *strategytest.Harness, _ orderFn) events {
			return events{h.Change(0, 100, 101, []abi.Level{L(2002, 1)}, []abi.Level{L(2001, 0), L(2003, 2)})}
		}, []string{"amend #1 10 @ 2000 post_only", "amend #2 10 @ 2005 post_only"}},
		{"a gap: no quoting on a broken book", func(h *strategytest.Harness, _ orderFn) events {
			return events{h.Change(0, 105, 106, []abi.Level{L(1900, 1)}, nil)}
		}, nil},
		{"book closed: pull the quotes", func(h *strategytest.Harness, _ orderFn) events {
			return events{abi.AppendTicker(nil, &abi.Ticker{Instrument: 0, Flags: abi.TickerClosed, BestBidPrice: F(2000), BestAskPrice: F(2001)})}
		}, []string{"cancel_all instrument=0"}},
	})
}

func TestInitParams(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params []abi.Param
		err    string
	}{
		{"defaults", nil, ""},
		{"unknown instrument", []abi.Param{param("instrument", "SOL-PERPETUAL")}, `"instrument" names no instrument`},
		{"size off the amount step", []abi.Param{param("size", 15)}, `"size" must be a positive multiple`},
		{"misspelt key", []abi.Param{param("half_sprad_bps", 5)}, `unknown parameters "half_sprad_bps"`},
		{"wrong type", []abi.Param{param("post_only", "yes")}, `"post_only" is a string, want bool`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := strategytest.New(&MarketMaker{})
			_, err := h.Init(startup(tc.params...))
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("err %v, want %q", err, tc.err)
			}
		})
	}
}

// Started by a hot swap with its predecessor's quotes resting, the maker
// adopts them: no new place, the quotes amended on the next move; adopted
// orders it would not manage (a second bid, another instrument) are
// cancelled at start.
func TestAdoptsQuotesAfterSwap(t *testing.T) {
	su := startup(param("instrument", "BTC-PERPETUAL"), param("size", 10), param("half_spread_bps", 5))
	su.Start.FirstCID = 5
	open := func(cid uint64, inst uint32, side abi.Side, price float64) abi.OrderUpdate {
		return abi.OrderUpdate{CID: cid, Instrument: inst, State: abi.StateOpen, Side: side, Type: abi.Limit,
			TIF: abi.GoodTilCancelled, Flags: abi.PostOnly, Price: F(price), Amount: F(10)}
	}
	su.Orders = []abi.OrderUpdate{open(1, 1, abi.Buy, 64967.5), open(2, 1, abi.Sell, 65032.5),
		open(3, 1, abi.Buy, 64000), open(4, 0, abi.Sell, 100)}
	h := strategytest.New(&MarketMaker{})
	intents, err := h.Init(su)
	if err != nil {
		t.Fatal(err)
	}
	if got := strategytest.Strings(intents); !slices.Equal(got, []string{"cancel #3", "cancel #4"}) {
		t.Errorf("Init: %q, want the two orders it does not manage cancelled", got)
	}
	for _, s := range []struct {
		name   string
		bid    float64
		ask    float64
		intent []string
	}{
		{"the quotes are where they should be: nothing", 64990, 65010, nil},
		{"a move of 100: the adopted quotes amended", 65090, 65110,
			[]string{"amend #1 10 @ 65067 post_only", "amend #2 10 @ 65133 post_only"}},
	} {
		intents, err := h.Send(h.Ticker(1, F(s.bid), F(s.ask)))
		if err != nil {
			t.Fatal(err)
		}
		if got := strategytest.Strings(intents); !slices.Equal(got, s.intent) {
			t.Errorf("%s: %q, want %q", s.name, got, s.intent)
		}
	}
}
