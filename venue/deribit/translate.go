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
