package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/sim"
)

// exchange is the exchange of a replay, in process: the simulator's
// matching engine (sim.Local) behind the methods the order manager calls.
// With fill "none" its book stays empty, so it accepts orders (ids in a
// deterministic sequence) and never fills a limit order (a market or
// immediate order finds nothing and is cancelled); with fill "sim" the
// recorded book and trades are its liquidity (feed), so orders fill as the
// recorded market reaches them, behind the queue that was there before.
//
// Every method runs on the replay's goroutine (lock step); the mutex only
// covers Subscribe, which a book gap's resubscription may call from
// another goroutine.
type exchange struct {
	l       *sim.Local
	now     func() time.Time
	deliver func(conn.Notification) bool
	fill    bool
	notes   []sim.Note

	mu   sync.Mutex
	subs map[string]bool

	rejectedFeed uint64
}

func newExchange(instruments []sim.Instrument, fill bool, now func() time.Time) *exchange {
	return &exchange{l: sim.NewLocal(sim.LocalConfig{Instruments: instruments,
		StartingBalances: map[string]float64{"BTC": 1e6, "ETH": 1e7, "USDC": 1e12, "USDT": 1e12, "EURR": 1e12}}),
		now: now, fill: fill, subs: map[string]bool{}}
}

func (x *exchange) nowMs() int64 { return x.now().UnixMilli() }

func (x *exchange) CallRaw(_ context.Context, method string, params []byte) (json.RawMessage, error) {
	raw, err := x.l.Call(x.nowMs(), method, params)
	x.flush()
	if err != nil {
		var data []byte
		if err.Data != nil {
			data, _ = json.Marshal(err.Data)
		}
		return nil, &conn.RPCError{Code: err.Code, Message: err.Message, Data: data}
	}
	return raw, nil
}

func (x *exchange) Subscribe(_ context.Context, channels ...string) ([]string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, c := range channels {
		x.subs[c] = true
	}
	return channels, nil
}

func (x *exchange) Unsubscribe(context.Context, ...string) error { return nil }

func (x *exchange) subscribed(channel []byte) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.subs[string(channel)]
}

// flush delivers the account's notifications the engine produced.
func (x *exchange) flush() {
	x.notes = x.l.TakeNotes(x.notes[:0])
	if x.deliver == nil {
		return
	}
	now := x.now()
	for _, n := range x.notes {
		x.deliver(conn.Notification{Channel: []byte(n.Channel), Data: n.Data, Received: now})
	}
}

// feed applies one recorded market notification to the book (fill sim).
func (x *exchange) feed(channel, data []byte) {
	if !x.fill {
		return
	}
	ch := string(channel)
	now := x.nowMs()
	switch {
	case strings.HasPrefix(ch, "book."):
		x.feedBook(now, data)
	case strings.HasPrefix(ch, "trades."):
		var ts []struct {
			Instrument string  `json:"instrument_name"`
			Direction  string  `json:"direction"`
			Price      float64 `json:"price"`
			Amount     float64 `json:"amount"`
			Index      float64 `json:"index_price"`
		}
		if json.Unmarshal(data, &ts) != nil {
			x.rejectedFeed++
			return
		}
		for _, t := range ts {
			if in, ok := x.l.Engine().Instrument(t.Instrument); ok && t.Index > 0 {
				x.l.SetIndex(in.BaseCurrency, t.Index)
			}
			x.l.Trade(now, t.Instrument, t.Direction == "buy", t.Price, t.Amount)
		}
	case strings.HasPrefix(ch, "ticker."):
		var t struct {
			Instrument string  `json:"instrument_name"`
			Index      float64 `json:"index_price"`
		}
		if json.Unmarshal(data, &t) == nil && t.Index > 0 {
			if in, ok := x.l.Engine().Instrument(t.Instrument); ok {
				x.l.SetIndex(in.BaseCurrency, t.Index)
			}
		}
	}
	x.flush()
}

func (x *exchange) feedBook(now int64, data []byte) {
	var b struct {
		Type       string            `json:"type"`
		Instrument string            `json:"instrument_name"`
		Bids       []json.RawMessage `json:"bids"`
		Asks       []json.RawMessage `json:"asks"`
	}
	if json.Unmarshal(data, &b) != nil {
		x.rejectedFeed++
		return
	}
	type lv struct {
		bid           bool
		action        string
		price, amount float64
	}
	var lvs []lv
	full := b.Type == "snapshot"
	for side, list := range [2][]json.RawMessage{b.Bids, b.Asks} {
		for _, raw := range list {
			var e []any
			if json.Unmarshal(raw, &e) != nil {
				x.rejectedFeed++
				continue
			}
			l := lv{bid: side == 0}
			var ok1, ok2 bool
			switch len(e) {
			case 3: // ["new"|"change"|"delete", price, amount]
				l.action, _ = e[0].(string)
				l.price, ok1 = e[1].(float64)
				l.amount, ok2 = e[2].(float64)
			case 2: // [price, amount]: a grouped book, a snapshot every time
				full = true
				l.price, ok1 = e[0].(float64)
				l.amount, ok2 = e[1].(float64)
			}
			if !ok1 || !ok2 {
				x.rejectedFeed++
				continue
			}
			if l.action == "delete" {
				l.amount = 0
			}
			lvs = append(lvs, l)
		}
	}
	if full {
		x.l.ClearBook(now, b.Instrument)
	}
	// Removals first, so that a change never crosses the book with a level
	// the same message removes.
	for _, l := range lvs {
		if l.amount == 0 {
			x.l.SetLevel(now, b.Instrument, l.bid, l.price, 0)
		}
	}
	for _, l := range lvs {
		if l.amount > 0 {
			x.l.SetLevel(now, b.Instrument, l.bid, l.price, l.amount)
		}
	}
}

// instrumentsFrom reads a recorded public/get_instruments result; nil when
// raw is not one.
func instrumentsFrom(raw []byte) ([]sim.Instrument, error) {
	var list []sim.Instrument
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("recorded instruments: %w", err)
	}
	return list, nil
}
