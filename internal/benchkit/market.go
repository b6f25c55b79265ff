package benchkit

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/stratbox/stratbox/abi"
)

// Market is a cycle of 64 market events for instrument 0 around 60000: a
// ticker, a book change, a trade, a book change, and again; the book moves
// a tick at a time and is the same at the end of a cycle as at its start.
type Market struct {
	Snapshot []byte // the book the cycle starts from (change id 1)
	events   [][]byte
	isBook   []bool
	changeID uint64
}

// Cycle is the number of events of a Market's cycle.
const Cycle = 64

// NewMarket builds the cycle, its first event 1 ms after now.
func NewMarket(now time.Time) (*Market, error) {
	fx := func(ticks int) abi.Fixed { return abi.Fixed(60000*abi.FixedScale) + abi.Fixed(ticks)*abi.FixedScale/2 }
	amt := func(x int64) abi.Fixed { return abi.Fixed(x * abi.FixedScale) }
	ts := uint64(now.UnixNano())
	m := &Market{changeID: 1}
	var bids, asks []abi.Level
	for j := range 20 {
		bids = append(bids, abi.Level{Price: fx(-j), Amount: amt(int64(1000 + 100*j))})
		asks = append(asks, abi.Level{Price: fx(1 + j), Amount: amt(int64(1000 + 100*j))})
	}
	var err error
	if m.Snapshot, err = abi.AppendBookSnapshot(nil, &abi.Book{ChangeID: 1, Time: ts, Bids: bids, Asks: asks}); err != nil {
		return nil, err
	}
	k, changes := 0, 0                                          // the best bid is fx(k), the best ask fx(k+1)
	up := func(n int) bool { n %= 16; return n < 4 || n >= 12 } // up 4, down 8, up 4
	var seq uint64
	for i := range Cycle {
		ts += uint64(time.Millisecond)
		var rec []byte
		book := false
		switch i % 4 {
		case 0:
			rec = abi.AppendTicker(nil, &abi.Ticker{Time: ts, BestBidPrice: fx(k), BestBidAmount: amt(1770),
				BestAskPrice: fx(k + 1), BestAskAmount: amt(5920), LastPrice: fx(k), MarkPrice: fx(k) + abi.FixedScale/4,
				IndexPrice: fx(k), OpenInterest: amt(502097590)})
		case 2:
			seq++
			side, price := abi.Buy, fx(k+1)
			if !up(changes) {
				side, price = abi.Sell, fx(k)
			}
			rec = abi.AppendTrade(nil, &abi.Trade{Time: ts, Side: side, TradeSeq: seq, Price: price, Amount: amt(int64(100 * (1 + i%3)))})
		default:
			var ch abi.Book // change ids are set when the record is delivered
			ch.Time = ts
			if up(changes) {
				k++
				ch.Bids = []abi.Level{{Price: fx(k), Amount: amt(500)}, {Price: fx(k - 3), Amount: amt(int64(900 + i))}}
				ch.Asks = []abi.Level{{Price: fx(k), Amount: 0}, {Price: fx(k + 2), Amount: amt(int64(800 + i))}}
			} else {
				ch.Bids = []abi.Level{{Price: fx(k), Amount: 0}, {Price: fx(k - 2), Amount: amt(int64(700 + i))}}
				ch.Asks = []abi.Level{{Price: fx(k), Amount: amt(500)}, {Price: fx(k + 3), Amount: amt(int64(600 + i))}}
				k--
			}
			changes++
			if rec, err = abi.AppendBookChange(nil, &ch); err != nil {
				return nil, err
			}
			book = true
		}
		m.events = append(m.events, rec)
		m.isBook = append(m.isBook, book)
	}
	if k != 0 {
		return nil, fmt.Errorf("benchkit: the market cycle ends %d ticks from where it starts", k)
	}
	return m, nil
}

// Batches returns the cycle as batches of n records, and for each batch the
// offsets of its book changes.
func (m *Market) Batches(n int) (batches [][]byte, books [][]int) {
	for i := 0; i < Cycle; i += n {
		var b []byte
		var offs []int
		for j := i; j < i+n && j < Cycle; j++ {
			if m.isBook[j] {
				offs = append(offs, len(b))
			}
			b = append(b, m.events[j]...)
		}
		batches = append(batches, b)
		books = append(books, offs)
	}
	return batches, books
}

// Chain sets the change ids of the book changes at offs so that they follow
// the last one delivered.
func (m *Market) Chain(batch []byte, offs []int) {
	for _, off := range offs {
		binary.LittleEndian.PutUint64(batch[off+32:], m.changeID)
		m.changeID++
		binary.LittleEndian.PutUint64(batch[off+24:], m.changeID)
	}
}

// Acks answers the places among intents as the exchange would, at once: a
// resting order open, an immediate-or-cancel one cancelled unfilled.
func Acks(intents []byte) ([]byte, error) {
	var out []byte
	for rec, err := range abi.Records(intents) {
		if err != nil {
			return nil, fmt.Errorf("intents: %w", err)
		}
		if rec.Kind != abi.KindPlace {
			continue
		}
		var p abi.Place
		if err := abi.DecodePlace(rec.Bytes, &p); err != nil {
			return nil, err
		}
		u := abi.OrderUpdate{CID: p.CID, Instrument: p.Instrument, State: abi.StateOpen, Side: p.Side, Type: p.Type,
			TIF: p.TIF, Flags: p.Flags, Price: p.Price, Amount: p.Amount,
			ExchangeOrderID: abi.NewStr32("BTC-" + strconv.FormatUint(p.CID, 10))}
		if p.TIF == abi.ImmediateOrCancel || p.TIF == abi.FillOrKill {
			u.State, u.Reason = abi.StateCancelled, abi.ReasonUnfilled
		}
		out = abi.AppendOrderUpdate(out, &u)
	}
	return out, nil
}

// AppendTicker appends a ticker.BTC-PERPETUAL.100ms data object in
// Deribit's shape with best bid bid and best ask a tick above.
func AppendTicker(dst []byte, bid abi.Fixed, now time.Time) []byte {
	dst = append(dst, `{"timestamp":`...)
	dst = strconv.AppendInt(dst, now.UnixMilli(), 10)
	dst = append(dst, `,"stats":{"volume_usd":1.6e9,"volume":41141.77,"price_change":-3.4,"low":59700,"high":61000},"state":"open","settlement_price":60057.4,"open_interest":502097590,"min_price":59100.5,"max_price":60900.5,"mark_price":`...)
	dst = abi.AppendFixed(dst, bid+abi.FixedScale/4)
	dst = append(dst, `,"last_price":`...)
	dst = abi.AppendFixed(dst, bid)
	dst = append(dst, `,"interest_value":1.9e-3,"instrument_name":"BTC-PERPETUAL","index_price":`...)
	dst = abi.AppendFixed(dst, bid-abi.FixedScale)
	dst = append(dst, `,"funding_8h":0.00009734,"estimated_delivery_price":60056.12,"current_funding":0.0,"best_bid_price":`...)
	dst = abi.AppendFixed(dst, bid)
	dst = append(dst, `,"best_bid_amount":1770.0,"best_ask_price":`...)
	dst = abi.AppendFixed(dst, bid+abi.FixedScale/2)
	return append(dst, `,"best_ask_amount":5920.0}`...)
}
