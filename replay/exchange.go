package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/conn/jsonscan"
	"github.com/stratbox/stratbox/sim"
	"github.com/stratbox/stratbox/venue/deribit"
)

// exchange is the exchange of a replay, in process: the simulator's
// matching engine (sim.Local) behind the methods the order manager calls.
// With fill "none" its book stays empty, so it accepts orders (ids in a
// deterministic sequence) and never fills a limit order (a market or
// immediate order finds nothing and is cancelled); with fill "sim" the
// recorded book and trades are its liquidity (feed), so orders fill as the
// recorded market reaches them, behind the queue that was there before.
//
// Every method runs on the replay's goroutine (lock step) but Subscribe,
// which a book gap's resubscription may call from another goroutine: it
// replaces the set of channels under mu (copy on write), so that the
// check of every frame (subscribed) takes no lock.
type exchange struct {
	l       *sim.Local
	now     func() time.Time
	deliver func(conn.Notification) bool
	fill    bool
	notes   []sim.Note

	mu   sync.Mutex
	subs atomic.Pointer[map[string]bool]

	rejectedFeed uint64
	tickerInst   string // the last ticker's instrument (tickerPrices), kept so that tickers do not allocate

	book       deribit.Book        // scratch of feed
	books      map[string]*recBook // fill "none": the recorded books
	tickerMark map[string]bool     // instruments whose mark a recorded ticker sets
}

func newExchange(instruments []sim.Instrument, fill bool, now func() time.Time) *exchange {
	x := &exchange{l: sim.NewLocal(sim.LocalConfig{Instruments: instruments,
		StartingBalances: map[string]float64{"BTC": 1e6, "ETH": 1e7, "USDC": 1e12, "USDT": 1e12, "EURR": 1e12}}),
		now: now, fill: fill, books: map[string]*recBook{}, tickerMark: map[string]bool{}}
	x.subs.Store(&map[string]bool{})
	return x
}

func (x *exchange) nowMs() int64 { return x.now().UnixMilli() }

func (x *exchange) CallRaw(_ context.Context, method string, params []byte) (json.RawMessage, error) {
	x.marks()
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
	subs := maps.Clone(*x.subs.Load())
	for _, c := range channels {
		subs[c] = true
	}
	x.subs.Store(&subs)
	return channels, nil
}

func (x *exchange) Unsubscribe(context.Context, ...string) error { return nil }

func (x *exchange) subscribed(channel []byte) bool { return (*x.subs.Load())[string(channel)] }

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

// feed follows one recorded market notification. In both modes the
// exchange's prices follow the recording: a ticker's index and mark price
// become the exchange's (so its price limits are the recorded market's),
// and without a recorded ticker for an instrument, the recorded book's mid
// is its mark (marks, before each call). With fill "sim" the recorded book
// and trades also become the matching engine's liquidity.
func (x *exchange) feed(channel, data []byte) {
	ch := string(channel)
	switch {
	case strings.HasPrefix(ch, "book."):
		if !x.fill && x.tickerMark[channelInstrument(ch)] {
			return // a recorded ticker sets its mark: the book is not needed
		}
		if err := deribit.DecodeBook(data, &x.book); err != nil {
			x.rejectedFeed++
			return
		}
		if x.fill {
			x.feedBook(x.nowMs(), &x.book)
		} else {
			x.top(&x.book)
		}
	case strings.HasPrefix(ch, "trades."):
		if !x.fill && x.tickerMark[channelInstrument(ch)] {
			return // a recorded ticker sets its index: the trades are not needed
		}
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
			if x.fill {
				x.l.Trade(x.nowMs(), t.Instrument, t.Direction == "buy", t.Price, t.Amount)
			}
		}
	case strings.HasPrefix(ch, "ticker."):
		name, index, mark, ok := tickerPrices(data)
		if !ok {
			x.rejectedFeed++
			return
		}
		if string(name) != x.tickerInst {
			x.tickerInst = string(name)
		}
		inst := x.tickerInst
		if in, ok := x.l.Engine().Instrument(inst); ok {
			x.l.SetIndex(in.BaseCurrency, index)
			if mark > 0 && x.l.SetMark(inst, mark) {
				x.tickerMark[inst] = true
			}
		}
	}
	if x.fill {
		x.flush()
	}
}

// channelInstrument is the instrument of a channel "kind.INSTRUMENT.…".
func channelInstrument(ch string) string {
	_, rest, _ := strings.Cut(ch, ".")
	inst, _, _ := strings.Cut(rest, ".")
	return inst
}

// tickerPrices reads a ticker's instrument (raw, a view of data),
// index_price and mark_price.
func tickerPrices(data []byte) (inst []byte, index, mark float64, ok bool) {
	var s jsonscan.Scanner
	s.Reset(data)
	if !s.Object() {
		return nil, 0, 0, false
	}
	for {
		k, more := s.Key()
		if !more {
			break
		}
		switch string(k) {
		case "instrument_name":
			v, good := s.String()
			if !good {
				return nil, 0, 0, false
			}
			inst = v
		case "index_price":
			index, ok = s.Float()
		case "mark_price":
			mark, ok = s.Float()
		default:
			_, ok = s.Skip()
		}
		if !ok && s.Err() != nil {
			return nil, 0, 0, false
		}
	}
	return inst, index, mark, s.Err() == nil && len(inst) > 0
}

// recBook is an instrument's recorded book with fill "none" (the engine's
// book holds only the replay's own orders): its mid is the instrument's
// mark while no ticker of it was recorded.
type recBook struct {
	deribit.LevelBook
	dirty bool
}

// top applies a recorded book message to its recBook.
func (x *exchange) top(b *deribit.Book) {
	rb := x.books[b.Instrument]
	if rb == nil {
		rb = &recBook{}
		x.books[b.Instrument] = rb
	}
	if applied, _ := rb.Apply(b); applied {
		rb.dirty = true
	}
}

// marks makes the recorded books' mids the marks of the instruments that
// have no recorded ticker; called before each call to the exchange (calls
// are much rarer than book messages).
func (x *exchange) marks() {
	for inst, rb := range x.books {
		if !rb.dirty || x.tickerMark[inst] {
			continue
		}
		rb.dirty = false
		if bid, ask, ok := rb.Best(); ok {
			x.l.SetMark(inst, (bid+ask)/2)
		}
	}
}

// feedBook makes a recorded book message the engine's liquidity (fill
// "sim").
func (x *exchange) feedBook(now int64, b *deribit.Book) {
	full := b.Type != deribit.BookChange // a snapshot, or a grouped book (a snapshot every time)
	if full {
		x.l.ClearBook(now, b.Instrument)
	}
	// Removals first, so that a change never crosses the book with a level
	// the same message removes.
	for s, levels := range [2][]deribit.Level{b.Bids, b.Asks} {
		for _, l := range levels {
			if l.Action == deribit.ActionDelete || l.Amount == 0 {
				x.l.SetLevel(now, b.Instrument, s == 0, l.Price, 0)
			}
		}
	}
	for s, levels := range [2][]deribit.Level{b.Bids, b.Asks} {
		for _, l := range levels {
			if l.Action != deribit.ActionDelete && l.Amount > 0 {
				x.l.SetLevel(now, b.Instrument, s == 0, l.Price, l.Amount)
			}
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
