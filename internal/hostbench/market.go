package hostbench

// The market of the in-process figures: BTC-PERPETUAL as Deribit lists it,
// a cycle of 64 market events (the approach of host/bench_test.go's
// BenchmarkDispatch), and ticker notifications in Deribit's shape.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/stratbox/stratbox/abi"
)

// instrument is BTC-PERPETUAL: inverse, tick 0.5, contract size 10,
// minimum amount 10.
func instrument() abi.Instrument {
	fx := func(s string) abi.Fixed { x, _ := abi.ParseFixed(s); return x }
	return abi.Instrument{Kind: abi.Perpetual, Flags: abi.InstrumentInverse, TickSize: fx("0.5"),
		ContractSize: fx("10"), MinAmount: fx("10"), TakerFee: fx("0.0005"),
		BaseCurrency: abi.NewStr8("BTC"), QuoteCurrency: abi.NewStr8("USD"), SettlementCurrency: abi.NewStr8("BTC"),
		Name: abi.NewStr64("BTC-PERPETUAL")}
}

// quoterParams: the quoter rests 10 ticks below the best bid.
func quoterParams() []abi.Param {
	return []abi.Param{{Type: abi.ParamInt, Key: "distance_ticks", Int: 10}}
}

// startup is a start-up blob with BTC-PERPETUAL, as the engine writes it.
func startup(name string, params []abi.Param, now time.Time) ([]byte, error) {
	return abi.AppendStartup(nil, &abi.Startup{Start: abi.Start{HostVersion: abi.Current, FirstCID: 1,
		Time: uint64(now.UnixNano()), Name: abi.NewStr32(name)},
		Instruments: []abi.Instrument{instrument()}, Params: params})
}

// market is a cycle of 64 market events for instrument 0 around 60000: a
// ticker, a book change, a trade, a book change, and again; the book moves
// a tick at a time and is the same at the end of a cycle as at its start.
type market struct {
	snapshot []byte
	events   [][]byte
	isBook   []bool
	changeID uint64
}

const cycle = 64

func newMarket(now time.Time) (*market, error) {
	fx := func(ticks int) abi.Fixed { return abi.Fixed(60000*abi.FixedScale) + abi.Fixed(ticks)*abi.FixedScale/2 }
	amt := func(x int64) abi.Fixed { return abi.Fixed(x * abi.FixedScale) }
	ts := uint64(now.UnixNano())
	m := &market{changeID: 1}
	var bids, asks []abi.Level
	for j := range 20 {
		bids = append(bids, abi.Level{Price: fx(-j), Amount: amt(int64(1000 + 100*j))})
		asks = append(asks, abi.Level{Price: fx(1 + j), Amount: amt(int64(1000 + 100*j))})
	}
	var err error
	if m.snapshot, err = abi.AppendBookSnapshot(nil, &abi.Book{ChangeID: 1, Time: ts, Bids: bids, Asks: asks}); err != nil {
		return nil, err
	}
	k, changes := 0, 0                                          // the best bid is fx(k), the best ask fx(k+1)
	up := func(n int) bool { n %= 16; return n < 4 || n >= 12 } // up 4, down 8, up 4
	var seq uint64
	for i := range cycle {
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
		return nil, fmt.Errorf("hostbench: the market cycle ends %d ticks from where it starts", k)
	}
	return m, nil
}

// batches returns the cycle as batches of n records, and for each batch the
// offsets of its book changes.
func (m *market) batches(n int) (batches [][]byte, books [][]int) {
	for i := 0; i < cycle; i += n {
		var b []byte
		var offs []int
		for j := i; j < i+n && j < cycle; j++ {
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

// chain sets the change ids of the book changes at offs so that they follow
// the last one delivered.
func (m *market) chain(batch []byte, offs []int) {
	for _, off := range offs {
		binary.LittleEndian.PutUint64(batch[off+32:], m.changeID)
		m.changeID++
		binary.LittleEndian.PutUint64(batch[off+24:], m.changeID)
	}
}

// acks answers the places among intents as the exchange would, at once: a
// resting order open, an immediate-or-cancel one cancelled unfilled.
func acks(intents []byte) ([]byte, error) {
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

// numberEvents sets the header seq of every record of batch from *seq, as
// the host's sandboxes do.
func numberEvents(batch []byte, seq *uint32) error {
	for off := 0; off < len(batch); {
		if len(batch)-off < abi.HeaderSize {
			return errors.New("hostbench: batch ends inside a header")
		}
		h := abi.ReadHeader(batch[off:])
		if h.Size < abi.HeaderSize || off+int(h.Size) > len(batch) {
			return errors.New("hostbench: bad record size")
		}
		*seq++
		binary.LittleEndian.PutUint32(batch[off+4:], *seq)
		off += int(h.Size)
	}
	return nil
}

// tickerChannel is the channel of the tickers of the e2e and tick figures.
const tickerChannel = "ticker.BTC-PERPETUAL.100ms"

var tickerChannelBytes = []byte(tickerChannel)

// appendTicker appends a ticker.BTC-PERPETUAL.100ms data object in
// Deribit's shape with best bid bid and best ask a tick above.
func appendTicker(dst []byte, bid abi.Fixed, now time.Time) []byte {
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

// tickerBid is the best bid of the i-th ticker: 60000 plus i%16 ticks, so
// that consecutive tickers move the bid.
func tickerBid(i int) abi.Fixed {
	return abi.Fixed(60000*abi.FixedScale) + abi.Fixed(i%16)*abi.FixedScale/2
}

// tickerFrame is a whole notification frame of a ticker.
func tickerFrame(dst []byte, bid abi.Fixed, now time.Time) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"`+tickerChannel+`","data":`...)
	dst = appendTicker(dst, bid, now)
	return append(dst, `}}`...)
}
