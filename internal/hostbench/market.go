package hostbench

// The market of the in-process figures: BTC-PERPETUAL as Deribit lists it,
// the cycle of market events of benchkit (shared with host/bench_test.go's
// BenchmarkDispatch), and ticker notifications in Deribit's shape.

import (
	"encoding/binary"
	"errors"
	"github.com/stratbox/stratbox/internal/benchkit"
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

// tickerBid is the best bid of the i-th ticker: 60000 plus i%16 ticks, so
// that consecutive tickers move the bid.
func tickerBid(i int) abi.Fixed {
	return abi.Fixed(60000*abi.FixedScale) + abi.Fixed(i%16)*abi.FixedScale/2
}

// tickerFrame is a whole notification frame of a ticker.
func tickerFrame(dst []byte, bid abi.Fixed, now time.Time) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"`+tickerChannel+`","data":`...)
	dst = benchkit.AppendTicker(dst, bid, now)
	return append(dst, `}}`...)
}
