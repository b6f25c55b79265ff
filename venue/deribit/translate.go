package deribit

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/conn/jsonscan"
)

// ErrBookGap is returned by AppendNotification when a book change does not
// follow the change the Translator saw last for its instrument (its
// prev_change_id differs, or no snapshot came first). Nothing is appended;
// Class.Instrument names the book. The router should resubscribe the
// channel: the Translator drops that instrument's changes, silently, until a
// snapshot arrives. Test with errors.Is.
var ErrBookGap = errors.New("deribit: book gap")

// NoInstance is Route.Instance and Class.Instance for "no single instance":
// records of several instances, foreign orders, account positions.
const NoInstance = math.MaxUint32

// ClassKind says what a notification turned into, for the router.
type ClassKind uint8

// Classes.
const (
	// ClassUnknown: nothing was appended and nothing needs routing: an
	// unknown channel (user.portfolio, platform_state, ...), an instrument
	// not in the Table, an empty array, or a book change dropped while
	// waiting for a snapshot after a gap.
	ClassUnknown ClassKind = iota
	// ClassMarket: book, ticker or trade records of one instrument (or, for
	// trades.{kind}.{currency}, possibly several). Conflatable: a newer
	// record with the same Key supersedes (ticker) or merges with (book) an
	// older one; trades may be dropped. See Class.Key.
	ClassMarket
	// ClassPosition: account positions (user.changes without our orders,
	// AppendPositions). Latest wins per Key.
	ClassPosition
	// ClassOrder: order_update and fill records of orders the host placed
	// (labelled, see Owner.Label), possibly with positions: never drop or
	// merge. Route each record by Translator.Routes (or Class.Instance when
	// it is not NoInstance).
	ClassOrder
	// ClassForeign: orders or fills without our label only (placed by
	// another program or by hand on the same account). Nothing is appended
	// unless Translator.KeepForeign is set (then with cid 0).
	ClassForeign
)

var classNames = [...]string{"unknown", "market", "position", "order", "foreign"}

func (k ClassKind) String() string {
	if int(k) < len(classNames) {
		return classNames[k]
	}
	return fmt.Sprintf("class(%d)", uint8(k))
}

// Stream is the part of a conflation key that says which feed a record
// belongs to.
type Stream uint8

// Streams.
const (
	StreamBook     Stream = 1 // book.* (snapshots and changes merge per abi/README.md §14)
	StreamTicker   Stream = 2 // ticker.*: latest wins
	StreamQuote    Stream = 3 // quote.*: latest wins (tickers with top_only)
	StreamTrades   Stream = 4 // trades.*: never merged, may be dropped
	StreamPosition Stream = 5 // account positions: latest wins
)

// ConflationKey is Class.Key: the stream in bits 32..39, the instrument
// index (abi.NoInstrument for several) in bits 0..31.
func ConflationKey(s Stream, instrument uint32) uint64 { return uint64(s)<<32 | uint64(instrument) }

// Class tells the router what AppendNotification (or AppendOrderResult,
// AppendPositions) appended.
type Class struct {
	Kind ClassKind
	// Event is the kind of the first record appended (0 when none).
	Event abi.Kind
	// N is the number of records appended.
	N int
	// Instrument is the instrument index of every record appended, or
	// abi.NoInstrument when they differ or when none was. With ErrBookGap:
	// the book that has the gap.
	Instrument uint32
	// Key is the conflation key (ClassMarket, ClassPosition): records with
	// equal keys belong to one stream of one instrument. 0 otherwise.
	Key uint64
	// Instance is the plugin instance every order_update and fill record
	// belongs to (ClassOrder), or NoInstance when they belong to several,
	// when positions are mixed in, and for other classes.
	Instance uint32
}

// Route says which instance an order_update, fill or position record
// appended by the last call belongs to: Offset is the record's offset in
// the dst that call returned, Instance the owner (NoInstance: a position or
// a foreign order).
type Route struct {
	Offset   int
	Instance uint32
	// Chunk is the chunk of a split order the record is about (its
	// label's, Owner.Decode); 0: the order is not split.
	Chunk uint8
	// OrderID is the exchange order id of a fill's trade (the ABI's fill
	// record has none), valid until the next call of the translator: it
	// tells the fills of an order's earlier exchange orders from its own.
	OrderID []byte
}

type bookState struct {
	last   uint64 // change_id of the last record delivered
	synced bool   // a snapshot was seen and no gap since
	gapped bool   // ErrBookGap was returned; waiting for a snapshot
}

// Translator turns Deribit notifications into abi event records, appending
// them to a caller's buffer. It keeps per-instrument book state (the last
// change_id, to chain prev_change_id and detect gaps) and scratch space, so
// it does not allocate once warm (given a dst with room). Use one Translator
// per connection read loop: it is not safe for concurrent use, and book
// state belongs to the subscriptions of one connection.
//
// Numbers are converted from their JSON text with FixedFromTextRound
// (exact up to 8 decimals, rounded half away from zero beyond); exchange
// times from ms to ns. Records carry seq 0: the host numbers events per
// plugin when it delivers them.
type Translator struct {
	tab *Table
	// Truncate makes a book message with more than abi.MaxBookLevels levels
	// one record with flag truncated (for plugins without the
	// book_continuation feature) instead of a run of records with the
	// continues/continuation flags. Either way the first record holds the
	// levels nearest the top of both sides (split evenly between bids and
	// asks), so a router may also derive the truncated form from the split
	// one with TruncateBook.
	Truncate bool
	// Owner is whose orders are ours: those whose label carries its host
	// and run (Owner.Decode). Every other order is foreign. The zero Owner
	// owns none.
	Owner Owner
	// KeepForeign appends foreign orders and fills (no label of ours) with
	// cid 0 instead of skipping them.
	KeepForeign bool

	books  []bookState
	bids   []abi.Level
	asks   []abi.Level
	routes []Route
	acc    accum
}

// NewTranslator returns a Translator for the instruments of tab.
func NewTranslator(tab *Table) *Translator {
	return &Translator{tab: tab, books: make([]bookState, tab.Len())}
}

// Table returns the Translator's instrument table.
func (t *Translator) Table() *Table { return t.tab }

// ResetBooks forgets every book's state (after a reconnect): the next
// change of each instrument is a gap unless a snapshot comes first.
func (t *Translator) ResetBooks() { clear(t.books) }

// ResetBook forgets the state of one instrument's book.
func (t *Translator) ResetBook(instrument uint32) {
	if int(instrument) < len(t.books) {
		t.books[instrument] = bookState{}
	}
}

// Routes returns the owner of every order_update, fill and position record
// the last call appended, in order. The slice is reused by the next call.
func (t *Translator) Routes() []Route { return t.routes }

// cut splits b at its first '.'.
func cut(b []byte) (head, rest []byte, found bool) {
	if i := bytes.IndexByte(b, '.'); i >= 0 {
		return b[:i], b[i+1:], true
	}
	return b, nil, false
}

// AppendNotification translates one subscription notification (params.channel
// and params.data, as conn.ParseNotification returns them) and appends the
// records to dst:
//
//	book.{i}.{interval}                 snapshot → book_snapshot, change → book_change
//	                                    (prev_change_id chained; ErrBookGap on a gap)
//	book.{i}.{group}.{depth}.{interval} → book_snapshot (prev_change_id 0, no gap check)
//	ticker.{i}.{interval}               → ticker (state other than "open": flag closed)
//	quote.{i}                           → ticker with flag top_only: only the best
//	                                      bid/ask price and amount are set
//	trades.{i}.{interval}, trades.{kind}.{currency}.{interval}
//	                                    → one trade per element
//	user.orders.*                       → order_update per order (object or array)
//	user.trades.*                       → fill per trade
//	user.changes.*                      → fills, then order_updates, then positions
//	anything else                       → nothing, ClassUnknown, no error
//
// Instruments not in the Table are skipped. recvNs (the host's receive
// time) stands in for an exchange time the message lacks. On an error dst
// is returned unchanged and the Class says which kind of channel failed
// (ClassOrder for a user channel: the router must reconcile, since order
// events are never dropped). Errors other than ErrBookGap wrap ErrDecode.
func (t *Translator) AppendNotification(dst []byte, channel, data []byte, recvNs int64) ([]byte, Class, error) {
	t.routes = t.routes[:0]
	head, rest, _ := cut(channel)
	switch string(head) {
	case "book":
		inst, rest, ok := cut(rest)
		if !ok {
			break
		}
		i, known := t.tab.Lookup(inst)
		if !known {
			break
		}
		switch bytes.Count(rest, dot) {
		case 0:
			return t.book(dst, data, i, false, recvNs)
		case 2:
			return t.book(dst, data, i, true, recvNs)
		}
	case "ticker":
		inst, _, ok := cut(rest)
		if !ok {
			break
		}
		if i, known := t.tab.Lookup(inst); known {
			return t.ticker(dst, data, i, false, recvNs)
		}
	case "quote":
		if i, known := t.tab.Lookup(rest); known {
			return t.ticker(dst, data, i, true, recvNs)
		}
	case "trades":
		if n := bytes.Count(rest, dot); n == 1 || n == 2 {
			return t.trades(dst, data, recvNs)
		}
	case "user":
		sub, rest, ok := cut(rest)
		if !ok || len(rest) == 0 {
			break
		}
		switch string(sub) {
		case "orders":
			return t.userData(dst, data, recvNs, userOrders)
		case "trades":
			return t.userData(dst, data, recvNs, userTrades)
		case "changes":
			return t.userData(dst, data, recvNs, userChanges)
		}
	}
	return dst, Class{Instrument: abi.NoInstrument, Instance: NoInstance}, nil
}

var dot = []byte{'.'}

// fixed reads a number (null is 0) as abi.Fixed, rounding beyond 8
// decimals.
func fixed(s *jsonscan.Scanner) (abi.Fixed, bool) {
	if s.Null() {
		return 0, true
	}
	num, ok := s.Number()
	if !ok {
		return 0, false
	}
	x, err := FixedFromTextRound(num)
	if err != nil {
		return 0, s.Fail(err.Error())
	}
	return x, true
}

// integer reads an integer (null is 0).
func integer(s *jsonscan.Scanner) (int64, bool) {
	if s.Null() {
		return 0, true
	}
	return s.Int()
}

// text reads a string's raw bytes (null is empty).
func text(s *jsonscan.Scanner) ([]byte, bool) {
	if s.Null() {
		return nil, true
	}
	return s.String()
}

func boolean(s *jsonscan.Scanner) (bool, bool) {
	if s.Null() {
		return false, true
	}
	return s.Bool()
}

func nsOr(ms int64, recvNs int64) uint64 {
	if ns := msToNs(ms); ns != 0 {
		return ns
	}
	if recvNs < 0 {
		return 0
	}
	return uint64(recvNs)
}

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

// accum computes a Class over the records of one call.
type accum struct {
	cls       Class
	instSet   bool
	ownerSet  bool
	ours      int // order_update and fill records of ours
	foreign   int // foreign orders and fills, appended or not
	positions int
}

func (a *accum) reset() { *a = accum{cls: Class{Instrument: abi.NoInstrument, Instance: NoInstance}} }

func (a *accum) add(kind abi.Kind, inst uint32) {
	if a.cls.N == 0 {
		a.cls.Event = kind
	}
	a.cls.N++
	if !a.instSet {
		a.cls.Instrument, a.instSet = inst, true
	} else if a.cls.Instrument != inst {
		a.cls.Instrument = abi.NoInstrument
	}
}

func (a *accum) owner(instance uint32) {
	if !a.ownerSet {
		a.cls.Instance, a.ownerSet = instance, true
	} else if a.cls.Instance != instance {
		a.cls.Instance = NoInstance
	}
}

// trades translates trades.* (an array of public trades).
func (t *Translator) trades(dst, data []byte, recvNs int64) ([]byte, Class, error) {
	var s jsonscan.Scanner
	s.Reset(data)
	a := &t.acc
	a.reset()
	n0 := len(dst)
	fail := func() ([]byte, Class, error) {
		return dst[:n0], Class{Kind: ClassMarket, Instrument: abi.NoInstrument, Instance: NoInstance}, decodeErr("trades", &s)
	}
	if !s.Array() {
		return fail()
	}
	var v tradeView
	for s.Elem() {
		if !decodeTrade(&s, &v) {
			return fail()
		}
		inst, ok := t.tab.Lookup(v.instrument)
		if !ok {
			continue
		}
		tr := abi.Trade{Instrument: inst, Side: side(v.direction), Time: nsOr(v.ts, recvNs),
			TradeSeq: uint64(v.seq), Price: v.price, Amount: v.amount}
		for _, c := range v.liquidation {
			switch c {
			case 'M':
				tr.Flags |= abi.TradeMakerLiquidation
			case 'T':
				tr.Flags |= abi.TradeTakerLiquidation
			}
		}
		if v.block {
			tr.Flags |= abi.TradeBlock
		}
		dst = abi.AppendTrade(dst, &tr)
		a.add(abi.KindTrade, inst)
	}
	if !s.End() {
		return fail()
	}
	c := a.cls
	if c.N > 0 {
		c.Kind = ClassMarket
		c.Key = ConflationKey(StreamTrades, c.Instrument)
	}
	return dst, c, nil
}
