package strategytest

import (
	"fmt"

	"github.com/stratbox/stratbox/abi"
)

// F returns x as a Fixed; it panics unless x has at most 8 decimals. For
// readable test tables: F(64990.5).
func F(x float64) abi.Fixed {
	v, ok := abi.FixedFromFloat(x)
	if !ok || v.Float64() != x {
		panic(fmt.Sprintf("strategytest: %v is not a fixed-point decimal", x))
	}
	return v
}

// L returns a book level.
func L(price, amount float64) abi.Level { return abi.Level{Price: F(price), Amount: F(amount)} }

// Perpetual returns an inverse perpetual like Deribit's BTC-PERPETUAL:
// amounts in USD, tick 0.5, minimum amount 10.
func Perpetual(name string) abi.Instrument {
	return abi.Instrument{Kind: abi.Perpetual, Flags: abi.InstrumentInverse,
		TickSize: F(0.5), ContractSize: F(10), MinAmount: F(10),
		MakerFee: 0, TakerFee: F(0.0005),
		BaseCurrency: abi.NewStr8("BTC"), QuoteCurrency: abi.NewStr8("USD"), SettlementCurrency: abi.NewStr8("BTC"),
		Name: abi.NewStr64(name)}
}

// The event builders below stamp events with the harness clock. Their
// seq is set by Send.

// Ticker returns a ticker of instrument with the best bid and ask (amounts
// 1000) and a mark price at their middle.
func (h *Harness) Ticker(instrument uint32, bid, ask abi.Fixed) []byte {
	return abi.AppendTicker(nil, &abi.Ticker{Instrument: instrument, Time: h.Now,
		BestBidPrice: bid, BestBidAmount: F(1000), BestAskPrice: ask, BestAskAmount: F(1000),
		MarkPrice: bid + (ask-bid)/2, IndexPrice: bid + (ask-bid)/2})
}

// Trade returns a public trade; side is the taker's.
func (h *Harness) Trade(instrument uint32, side abi.Side, price, amount abi.Fixed) []byte {
	h.tradeSeq++
	return abi.AppendTrade(nil, &abi.Trade{Instrument: instrument, Side: side, Time: h.Now,
		TradeSeq: h.tradeSeq, Price: price, Amount: amount})
}

// Snapshot returns a book snapshot.
func (h *Harness) Snapshot(instrument uint32, changeID uint64, bids, asks []abi.Level) []byte {
	rec, err := abi.AppendBookSnapshot(nil, &abi.Book{Instrument: instrument, ChangeID: changeID,
		Time: h.Now, Bids: bids, Asks: asks})
	if err != nil {
		panic(err)
	}
	return rec
}

// Change returns a book change that follows the record with change id prev.
func (h *Harness) Change(instrument uint32, prev, changeID uint64, bids, asks []abi.Level) []byte {
	rec, err := abi.AppendBookChange(nil, &abi.Book{Instrument: instrument, ChangeID: changeID,
		PrevChangeID: prev, Time: h.Now, Bids: bids, Asks: asks})
	if err != nil {
		panic(err)
	}
	return rec
}

// OrderOf returns the order update the host would send for the order p
// placed, in state, with reason (pending and open: nothing filled; filled:
// all of it at p.Price).
func (h *Harness) OrderOf(p abi.Place, state abi.OrderState, reason abi.Reason) []byte {
	o := abi.OrderUpdate{CID: p.CID, Instrument: p.Instrument, State: state, Side: p.Side, Type: p.Type,
		TIF: p.TIF, Flags: p.Flags, Reason: reason, Time: h.Now, Price: p.Price, Amount: p.Amount}
	if state != abi.StatePending && state != abi.StateRejected {
		o.ExchangeOrderID = abi.NewStr32(fmt.Sprintf("ETH-%d", p.CID))
	}
	if state == abi.StateFilled {
		o.FilledAmount, o.AvgPrice = p.Amount, p.Price
	}
	return abi.AppendOrderUpdate(nil, &o)
}

// Order returns an order update as given (Time defaults to the clock).
func (h *Harness) Order(o abi.OrderUpdate) []byte {
	if o.Time == 0 {
		o.Time = h.Now
	}
	return abi.AppendOrderUpdate(nil, &o)
}

// Fill returns a fill of the order p placed: amount at price.
func (h *Harness) Fill(p abi.Place, price, amount abi.Fixed, liq abi.Liquidity) []byte {
	h.tradeSeq++
	return abi.AppendFill(nil, &abi.Fill{CID: p.CID, Instrument: p.Instrument, Side: p.Side, Liquidity: liq,
		Time: h.Now, TradeSeq: h.tradeSeq, Price: price, Amount: amount, FeeCurrency: abi.NewStr8("BTC")})
}

// Position returns the instance's own position on instrument.
func (h *Harness) Position(instrument uint32, size abi.Fixed) []byte {
	return abi.AppendPosition(nil, &abi.Position{Instrument: instrument, Time: h.Now, Size: size})
}

// Pool returns a pool state.
func (h *Harness) Pool(healthy, total uint16, flags abi.PoolFlags) []byte {
	return abi.AppendPoolState(nil, &abi.PoolState{Healthy: healthy, Total: total, Flags: flags, Time: h.Now})
}

// Rejected returns an intent_rejected of the intent in.
func (h *Harness) Rejected(in Intent, reason abi.Reason) []byte {
	x := abi.IntentRejected{IntentKind: in.Kind, Reason: reason, Instrument: abi.NoInstrument, Time: h.Now}
	switch in.Kind {
	case abi.KindAmend:
		x.CID, x.IntentSeq = in.Amend.CID, in.Amend.Seq
	case abi.KindCancel:
		x.CID, x.IntentSeq = in.Cancel.CID, in.Cancel.Seq
	case abi.KindCancelAll:
		x.IntentSeq, x.Instrument = in.CancelAll.Seq, in.CancelAll.Instrument
	}
	return abi.AppendIntentRejected(nil, &x)
}
