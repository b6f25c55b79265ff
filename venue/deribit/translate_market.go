package deribit

import (
	"fmt"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn/jsonscan"
)

// This file translates the market channels: books (raw, 100 ms and
// grouped), tickers and trades.

func marketFail(inst uint32, what string, s *jsonscan.Scanner) (Class, error) {
	return Class{Kind: ClassMarket, Instrument: inst, Instance: NoInstance}, decodeErr(what, s)
}

// book translates book.{i}.{interval} (grouped false) and
// book.{i}.{group}.{depth}.{interval} (grouped true).
func (t *Translator) book(dst, data []byte, inst uint32, grouped bool, recvNs int64) ([]byte, Class, error) {
	var s jsonscan.Scanner
	s.Reset(data)
	t.bids, t.asks = t.bids[:0], t.asks[:0]
	typ := BookGrouped
	var ts, changeID, prevID int64
	hasPrev := false
	if !s.Object() {
		c, err := marketFail(inst, "book", &s)
		return dst, c, err
	}
	for {
		k, ok := s.Key()
		if !ok {
			break
		}
		switch string(k) {
		case "type":
			var v []byte
			if v, ok = s.String(); ok {
				switch string(v) {
				case "snapshot":
					typ = BookSnapshot
				case "change":
					typ = BookChange
				default:
					ok = s.Fail("unknown book type")
				}
			}
		case "timestamp":
			ts, ok = integer(&s)
		case "change_id":
			changeID, ok = s.Int()
		case "prev_change_id":
			if s.Null() {
				break
			}
			prevID, ok = s.Int()
			hasPrev = true
		case "bids":
			t.bids, ok = fixedLevels(&s, t.bids)
		case "asks":
			t.asks, ok = fixedLevels(&s, t.asks)
		default:
			_, ok = s.Skip()
		}
		if !ok {
			c, err := marketFail(inst, "book "+string(k), &s)
			return dst, c, err
		}
	}
	if !s.End() {
		c, err := marketFail(inst, "book", &s)
		return dst, c, err
	}
	cls := Class{Kind: ClassMarket, Instrument: inst, Key: ConflationKey(StreamBook, inst), Instance: NoInstance}
	b := abi.Book{Instrument: inst, ChangeID: uint64(changeID), Time: nsOr(ts, recvNs)}
	kind := abi.KindBookSnapshot
	switch {
	case grouped:
		// Full snapshots of their own; they never touch the raw book's chain.
	case typ == BookSnapshot:
		t.books[inst] = bookState{last: uint64(changeID), synced: true}
	case typ == BookChange:
		st := &t.books[inst]
		if !st.synced || !hasPrev || uint64(prevID) != st.last {
			if st.gapped {
				return dst, Class{Instrument: inst, Instance: NoInstance}, nil
			}
			want, synced := st.last, st.synced
			*st = bookState{gapped: true}
			var err error
			if !synced {
				err = fmt.Errorf("%w: %s change %d before a snapshot", ErrBookGap, t.tab.At(inst).Name, changeID)
			} else {
				err = fmt.Errorf("%w: %s change %d has prev_change_id %d, want %d",
					ErrBookGap, t.tab.At(inst).Name, changeID, prevID, want)
			}
			return dst, cls, err
		}
		st.last = uint64(changeID)
		kind = abi.KindBookChange
		b.PrevChangeID = uint64(prevID)
	default:
		c, err := marketFail(inst, "book without type", &s)
		return dst, c, err
	}
	dst, cls.N = t.appendBook(dst, kind, &b)
	cls.Event = kind
	return dst, cls, nil
}

// fixedLevels reads [[action, price, amount], …] or, grouped,
// [[price, amount], …] into abi levels (a delete has amount 0).
func fixedLevels(s *jsonscan.Scanner, dst []abi.Level) ([]abi.Level, bool) {
	if !s.Array() {
		return dst, false
	}
	for s.Elem() {
		if !s.Array() || !s.Elem() {
			return dst, s.Fail("level expected")
		}
		del := false
		if s.Peek() == jsonscan.String {
			a, _ := s.String()
			switch string(a) {
			case "new", "change":
			case "delete":
				del = true
			default:
				return dst, s.Fail("unknown level action")
			}
			if !s.Elem() {
				return dst, s.Fail("level price expected")
			}
		}
		var l abi.Level
		var ok bool
		if l.Price, ok = fixed(s); !ok {
			return dst, false
		}
		if !s.Elem() {
			return dst, s.Fail("level amount expected")
		}
		if l.Amount, ok = fixed(s); !ok {
			return dst, false
		}
		if s.Elem() {
			return dst, s.Fail("level has too many members")
		}
		if s.Err() != nil {
			return dst, false
		}
		if del {
			l.Amount = 0
		}
		dst = append(dst, l)
	}
	return dst, s.Err() == nil
}

// appendBook appends the levels in t.bids and t.asks as one record, or as
// several when they exceed abi.MaxBookLevels (see Translator.Truncate).
func (t *Translator) appendBook(dst []byte, kind abi.Kind, b *abi.Book) ([]byte, int) {
	const max = abi.MaxBookLevels
	bids, asks := t.bids, t.asks
	n := 0
	for first := true; ; first = false {
		nb := min(len(bids), max-min(len(asks), max/2))
		na := min(len(asks), max-nb)
		b.Bids, b.Asks = bids[:nb], asks[:na]
		bids, asks = bids[nb:], asks[na:]
		b.Flags = 0
		if !first {
			b.Flags |= abi.BookContinuation
		}
		more := len(bids)+len(asks) > 0
		if more {
			if t.Truncate {
				b.Flags |= abi.BookTruncated
			} else {
				b.Flags |= abi.BookContinues
			}
		}
		dst, _ = appendBookRecord(dst, kind, b) // cannot fail: at most max levels
		n++
		if !more || t.Truncate {
			return dst, n
		}
	}
}

func appendBookRecord(dst []byte, kind abi.Kind, b *abi.Book) ([]byte, error) {
	if kind == abi.KindBookSnapshot {
		return abi.AppendBookSnapshot(dst, b)
	}
	return abi.AppendBookChange(dst, b)
}

// TruncateBook turns the first record of a split book message (flag
// continues) into the truncated form for a plugin without the
// book_continuation feature: it clears continues and sets truncated, in
// place. The router then drops the records that follow with flag
// continuation. It reports whether rec is a book record.
func TruncateBook(rec []byte) bool {
	if len(rec) < abi.SizeBookFixed {
		return false
	}
	h := abi.ReadHeader(rec)
	if h.Kind != abi.KindBookSnapshot && h.Kind != abi.KindBookChange {
		return false
	}
	f := abi.BookFlags(uint16(rec[16]) | uint16(rec[17])<<8)
	if f&abi.BookContinues != 0 {
		f = f&^abi.BookContinues | abi.BookTruncated
		rec[16], rec[17] = byte(f), byte(f>>8)
	}
	return true
}

// ticker translates ticker.{i}.{interval} and (top true) quote.{i}.
func (t *Translator) ticker(dst, data []byte, inst uint32, top bool, recvNs int64) ([]byte, Class, error) {
	var s jsonscan.Scanner
	s.Reset(data)
	tk := abi.Ticker{Instrument: inst}
	var ts int64
	if !s.Object() {
		c, err := marketFail(inst, "ticker", &s)
		return dst, c, err
	}
	for {
		k, ok := s.Key()
		if !ok {
			break
		}
		var f *abi.Fixed
		switch string(k) {
		case "timestamp":
			ts, ok = integer(&s)
		case "best_bid_price":
			f = &tk.BestBidPrice
		case "best_bid_amount":
			f = &tk.BestBidAmount
		case "best_ask_price":
			f = &tk.BestAskPrice
		case "best_ask_amount":
			f = &tk.BestAskAmount
		default:
			if top {
				_, ok = s.Skip()
				break
			}
			switch string(k) {
			case "state":
				var v []byte
				if v, ok = text(&s); ok && len(v) > 0 && string(v) != "open" {
					tk.Flags |= abi.TickerClosed
				}
			case "last_price":
				f = &tk.LastPrice
			case "mark_price":
				f = &tk.MarkPrice
			case "index_price":
				f = &tk.IndexPrice
			case "open_interest":
				f = &tk.OpenInterest
			case "funding_8h":
				f = &tk.Funding8h
			case "mark_iv":
				f = &tk.MarkIV
			default:
				_, ok = s.Skip()
			}
		}
		if f != nil {
			*f, ok = fixed(&s)
		}
		if !ok {
			c, err := marketFail(inst, "ticker "+string(k), &s)
			return dst, c, err
		}
	}
	if !s.End() {
		c, err := marketFail(inst, "ticker", &s)
		return dst, c, err
	}
	stream := StreamTicker
	if top {
		tk.Flags |= abi.TickerTopOnly
		stream = StreamQuote
	}
	tk.Time = nsOr(ts, recvNs)
	dst = abi.AppendTicker(dst, &tk)
	return dst, Class{Kind: ClassMarket, Event: abi.KindTicker, N: 1, Instrument: inst,
		Key: ConflationKey(stream, inst), Instance: NoInstance}, nil
}

// tradeView is one trade object (public trades and user trades), with
// strings as raw views of the input.
type tradeView struct {
	instrument, direction, label, feeCurrency, liquidity, liquidation, orderID []byte
	block                                                                      bool
	seq                                                                        int64
	ts                                                                         int64
	price, amount, fee                                                         abi.Fixed
}

func decodeTrade(s *jsonscan.Scanner, v *tradeView) bool {
	*v = tradeView{}
	if !s.Object() {
		return false
	}
	for {
		k, ok := s.Key()
		if !ok {
			break
		}
		switch string(k) {
		case "instrument_name":
			v.instrument, ok = text(s)
		case "direction":
			v.direction, ok = text(s)
		case "label":
			v.label, ok = text(s)
		case "order_id":
			v.orderID, ok = text(s)
		case "fee_currency":
			v.feeCurrency, ok = text(s)
		case "liquidity":
			v.liquidity, ok = text(s)
		case "liquidation":
			v.liquidation, ok = text(s)
		case "block_trade_id":
			var id []byte
			id, ok = text(s)
			v.block = len(id) > 0
		case "trade_seq":
			v.seq, ok = integer(s)
		case "timestamp":
			v.ts, ok = integer(s)
		case "price":
			v.price, ok = fixed(s)
		case "amount":
			v.amount, ok = fixed(s)
		case "fee":
			v.fee, ok = fixed(s)
		default:
			_, ok = s.Skip()
		}
		if !ok {
			return s.Fail("trade " + string(k))
		}
	}
	return s.Err() == nil
}

func side(dir []byte) abi.Side {
	switch string(dir) {
	case "buy":
		return abi.Buy
	case "sell":
		return abi.Sell
	}
	return abi.SideNone
}
