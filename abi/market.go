package abi

// Ticker is a Ticker record, the top of the book and the instrument's
// reference prices (README.md "ticker"):
//
//	 0 header (kind 0x0003), size 104
//	 8 u32 instrument
//	12 u32 flags (TickerFlags)
//	16 u64 ts (exchange time, ns)
//	24 i64 best_bid_price    32 i64 best_bid_amount
//	40 i64 best_ask_price    48 i64 best_ask_amount
//	56 i64 last_price        64 i64 mark_price
//	72 i64 index_price       80 i64 open_interest
//	88 i64 funding_8h        96 i64 mark_iv
//
// An empty side has price 0 and amount 0; a number the exchange did not
// send is 0.
type Ticker struct {
	Seq           uint32      `json:"seq"`
	Instrument    uint32      `json:"instrument"`
	Flags         TickerFlags `json:"flags"`
	Time          uint64      `json:"ts"`
	BestBidPrice  Fixed       `json:"best_bid_price"`
	BestBidAmount Fixed       `json:"best_bid_amount"`
	BestAskPrice  Fixed       `json:"best_ask_price"`
	BestAskAmount Fixed       `json:"best_ask_amount"`
	LastPrice     Fixed       `json:"last_price"`
	MarkPrice     Fixed       `json:"mark_price"`
	IndexPrice    Fixed       `json:"index_price"`
	OpenInterest  Fixed       `json:"open_interest"`
	Funding8h     Fixed       `json:"funding_8h"` // perpetuals; a rate (0.0001 = 0.01 %)
	MarkIV        Fixed       `json:"mark_iv"`    // options; percent (52.5 = 52.5 %)
}

// AppendTicker appends t as a Ticker record.
func AppendTicker(dst []byte, t *Ticker) []byte {
	dst, r := grow(dst, SizeTicker)
	putHeader(r, KindTicker, SizeTicker, t.Seq)
	put32(r, 8, t.Instrument)
	put32(r, 12, uint32(t.Flags))
	put64(r, 16, t.Time)
	putFx(r, 24, t.BestBidPrice)
	putFx(r, 32, t.BestBidAmount)
	putFx(r, 40, t.BestAskPrice)
	putFx(r, 48, t.BestAskAmount)
	putFx(r, 56, t.LastPrice)
	putFx(r, 64, t.MarkPrice)
	putFx(r, 72, t.IndexPrice)
	putFx(r, 80, t.OpenInterest)
	putFx(r, 88, t.Funding8h)
	putFx(r, 96, t.MarkIV)
	return dst
}

// DecodeTicker decodes a Ticker record into t.
func DecodeTicker(rec []byte, t *Ticker) error {
	rr, seq, ok := frame(rec, KindTicker, 0, SizeTicker)
	if !ok {
		return checkErr(rec, KindTicker, 0, SizeTicker)
	}
	r := (*[SizeTicker]byte)(rr)[:] // a constant length: no bounds check below
	t.Seq = seq
	t.Instrument = u32(r, 8)
	t.Flags = TickerFlags(u32(r, 12))
	t.Time = u64(r, 16)
	t.BestBidPrice = fx(r, 24)
	t.BestBidAmount = fx(r, 32)
	t.BestAskPrice = fx(r, 40)
	t.BestAskAmount = fx(r, 48)
	t.LastPrice = fx(r, 56)
	t.MarkPrice = fx(r, 64)
	t.IndexPrice = fx(r, 72)
	t.OpenInterest = fx(r, 80)
	t.Funding8h = fx(r, 88)
	t.MarkIV = fx(r, 96)
	return nil
}

// Trade is a Trade record, one public trade (README.md "trade"):
//
//	 0 header (kind 0x0004), size 48
//	 8 u32 instrument
//	12 u8  side (the taker's)
//	13 u8  flags (TradeFlags)
//	14 u16 reserved
//	16 u64 ts (exchange time, ns)
//	24 u64 trade_seq (the exchange's per-instrument trade sequence)
//	32 i64 price
//	40 i64 amount
type Trade struct {
	Seq        uint32     `json:"seq"`
	Instrument uint32     `json:"instrument"`
	Side       Side       `json:"side"`
	Flags      TradeFlags `json:"flags"`
	Time       uint64     `json:"ts"`
	TradeSeq   uint64     `json:"trade_seq"`
	Price      Fixed      `json:"price"`
	Amount     Fixed      `json:"amount"`
}

// AppendTrade appends t as a Trade record.
func AppendTrade(dst []byte, t *Trade) []byte {
	dst, r := grow(dst, SizeTrade)
	putHeader(r, KindTrade, SizeTrade, t.Seq)
	put32(r, 8, t.Instrument)
	r[12] = uint8(t.Side)
	r[13] = uint8(t.Flags)
	put64(r, 16, t.Time)
	put64(r, 24, t.TradeSeq)
	putFx(r, 32, t.Price)
	putFx(r, 40, t.Amount)
	return dst
}

// DecodeTrade decodes a Trade record into t.
func DecodeTrade(rec []byte, t *Trade) error {
	rr, seq, ok := frame(rec, KindTrade, 0, SizeTrade)
	if !ok {
		return checkErr(rec, KindTrade, 0, SizeTrade)
	}
	r := (*[SizeTrade]byte)(rr)[:] // a constant length: no bounds check below
	t.Seq = seq
	t.Instrument = u32(r, 8)
	t.Side = Side(u8(r, 12))
	t.Flags = TradeFlags(u8(r, 13))
	t.Time = u64(r, 16)
	t.TradeSeq = u64(r, 24)
	t.Price = fx(r, 32)
	t.Amount = fx(r, 40)
	return nil
}
