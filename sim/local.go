package sim

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Local is the simulator's matching engine behind the JSON-RPC methods an
// order manager uses, in process: no WebSocket, no goroutines, no clock
// (every call takes the time). It serves one account (LocalConfig.Owner) and
// gathers that account's user.orders and user.trades notifications for the
// caller to deliver (TakeNotes). Replay uses it as the exchange of a
// backtest, with the recorded market as the liquidity its orders meet
// (SetLevel, Trade).
//
// The recorded market is modelled so (a queue model, since a recording
// shows levels, not orders): each recorded book level is liquidity of the
// owner "__book", placed as it appears, so an order of the account that
// joins a level queues behind what was recorded there before it; a level
// that grows gets a new order at the back, one that shrinks loses its
// newest orders first; a recorded trade is an immediate-or-cancel order of
// the owner "__tape" at the trade's price and amount, which takes the queue
// in price-time priority — "__book" ahead of the account's order first,
// then the account's. A recorded level that crosses the account's resting
// order fills it at its price. Fees, positions and PnL are the engine's.
//
// Local is not safe for concurrent use.
type Local struct {
	eng    *Engine
	owner  string
	notes  []Note
	levels map[levelKey]*bookLevelOrders
	orders map[string]*bookOrder // "__book" orders by id
	index  map[string]bool       // currencies whose index a ticker or trade set
	errs   uint64
}

// LocalConfig configures a Local.
type LocalConfig struct {
	// Instruments; default DefaultInstruments (as NewEngine).
	Instruments []Instrument
	// Owner is the account the methods act for. Default "replay".
	Owner string
	// StartingBalances as EngineConfig's.
	StartingBalances map[string]float64
}

// Note is a notification to the account: its channel and data (JSON).
type Note struct {
	Channel string
	Data    []byte
}

// Owners of the recorded market's liquidity and trades.
const (
	BookOwner = "__book"
	TapeOwner = "__tape"
)

type levelKey struct {
	inst  string
	bid   bool
	price float64
}

type bookLevelOrders struct{ ids []string }

type bookOrder struct {
	key    levelKey
	total  float64 // the order's amount
	filled float64
}

// NewLocal returns a Local with an empty book.
func NewLocal(cfg LocalConfig) *Local {
	if cfg.Owner == "" {
		cfg.Owner = "replay"
	}
	l := &Local{owner: cfg.Owner, levels: map[levelKey]*bookLevelOrders{}, orders: map[string]*bookOrder{},
		index: map[string]bool{}}
	l.eng = NewEngine(EngineConfig{Instruments: cfg.Instruments, StartingBalances: cfg.StartingBalances, Listener: l})
	return l
}

// Engine is the matching engine (for positions, tickers, depth).
func (l *Local) Engine() *Engine { return l.eng }

// Rejected counts the recorded-market operations the engine refused (an
// amount or price the instrument does not allow).
func (l *Local) Rejected() uint64 { return l.errs }

// TakeNotes appends the pending notifications to dst, oldest first, and
// forgets them.
func (l *Local) TakeNotes(dst []Note) []Note {
	dst = append(dst, l.notes...)
	l.notes = l.notes[:0]
	return dst
}

// OrderChanged, Filled, BookChanged and PositionChanged make Local the
// engine's Listener.
func (l *Local) OrderChanged(o Order) {
	switch o.Owner {
	case l.owner:
		b, _ := json.Marshal(o)
		l.notes = append(l.notes, Note{Channel: "user.orders." + o.InstrumentName + ".raw", Data: b})
	case BookOwner:
		bo := l.orders[o.OrderID]
		if bo == nil {
			return
		}
		bo.total, bo.filled = o.Amount, o.FilledAmount
		if o.OrderState != "open" {
			l.forget(o.OrderID, bo)
		}
	}
}

func (l *Local) Filled(f Fill) {
	for _, t := range [2]Trade{f.Maker, f.Taker} {
		if t.Owner == l.owner {
			b, _ := json.Marshal([]Trade{t})
			l.notes = append(l.notes, Note{Channel: "user.trades." + t.InstrumentName + ".raw", Data: b})
		}
	}
}

func (l *Local) BookChanged(BookChange)         {}
func (l *Local) PositionChanged(string, string) {}

func (l *Local) forget(id string, bo *bookOrder) {
	delete(l.orders, id)
	lv := l.levels[bo.key]
	if lv == nil {
		return
	}
	for i, x := range lv.ids {
		if x == id {
			lv.ids = append(lv.ids[:i], lv.ids[i+1:]...)
			break
		}
	}
	if len(lv.ids) == 0 {
		delete(l.levels, bo.key)
	}
}

// SetIndex sets a currency's index price (the price bands of orders).
func (l *Local) SetIndex(currency string, price float64) {
	if price > 0 {
		l.eng.SetIndexPrice(currency, price)
		l.index[currency] = true
	}
}

// SetMark makes price the mark price of an instrument (Engine.SetMarkPrice):
// its price limits follow it.
func (l *Local) SetMark(instrument string, price float64) bool {
	return l.eng.SetMarkPrice(instrument, price)
}

// SetLevel makes the recorded liquidity at one price of an instrument's
// book amount (0 removes it).
func (l *Local) SetLevel(nowMs int64, instrument string, bid bool, price, amount float64) {
	in, ok := l.eng.Instrument(instrument)
	if !ok {
		l.errs++
		return
	}
	if !l.index[in.BaseCurrency] && in.Kind == "future" && price > 0 {
		// No ticker yet: the book's price stands in for the index, so
		// that the price bands are where the recording's prices are.
		l.eng.SetIndexPrice(in.BaseCurrency, price)
	}
	k := levelKey{instrument, bid, price}
	lv := l.levels[k]
	cur := 0.0
	if lv != nil {
		for _, id := range lv.ids {
			bo := l.orders[id]
			cur += bo.total - bo.filled
		}
	}
	switch {
	case amount > cur:
		dir := "sell"
		if bid {
			dir = "buy"
		}
		o, _, err := l.eng.Place(nowMs, OrderRequest{Instrument: instrument, Direction: dir, Type: "limit",
			Price: price, HasPrice: true, Amount: amount - cur, TimeInForce: "good_til_cancelled", Owner: BookOwner})
		if err != nil {
			l.errs++
			return
		}
		if o.OrderState == "open" {
			if lv = l.levels[k]; lv == nil {
				lv = &bookLevelOrders{}
				l.levels[k] = lv
			}
			lv.ids = append(lv.ids, o.OrderID)
			l.orders[o.OrderID] = &bookOrder{key: k, total: o.Amount, filled: o.FilledAmount}
		}
	case amount < cur:
		excess := cur - amount
		for excess > 0 && lv != nil && len(lv.ids) > 0 {
			id := lv.ids[len(lv.ids)-1]
			bo := l.orders[id]
			rest := bo.total - bo.filled
			if rest <= excess {
				excess -= rest
				if _, err := l.eng.Cancel(nowMs, BookOwner, id, "user_request"); err != nil {
					l.errs++
					l.forget(id, bo)
				}
				lv = l.levels[k]
				continue
			}
			if _, _, err := l.eng.Edit(nowMs, EditRequest{OrderID: id, Amount: bo.total - excess, Price: price,
				HasPrice: true, Owner: BookOwner}); err != nil {
				l.errs++
			}
			excess = 0
		}
	}
}

// ClearBook removes the recorded liquidity of an instrument (before a new
// snapshot).
func (l *Local) ClearBook(nowMs int64, instrument string) {
	var ids []string
	for k, lv := range l.levels {
		if k.inst == instrument {
			ids = append(ids, lv.ids...)
		}
	}
	for _, id := range sortedIDs(ids) {
		if bo := l.orders[id]; bo != nil {
			if _, err := l.eng.Cancel(nowMs, BookOwner, id, "user_request"); err != nil {
				l.forget(id, bo)
			}
		}
	}
}

// sortedIDs orders ids by the engine's sequence (creation order), so that
// nothing depends on map order.
func sortedIDs(ids []string) []string {
	seq := func(id string) int64 {
		n, _ := strconv.ParseInt(id[strings.LastIndexByte(id, '-')+1:], 10, 64)
		return n
	}
	for i := 1; i < len(ids); i++ {
		for k := i; k > 0 && seq(ids[k]) < seq(ids[k-1]); k-- {
			ids[k], ids[k-1] = ids[k-1], ids[k]
		}
	}
	return ids
}

// Trade replays a recorded trade: an immediate-or-cancel order of
// TapeOwner on the taker's side (buy: the taker bought) at price.
func (l *Local) Trade(nowMs int64, instrument string, buy bool, price, amount float64) {
	dir := "sell"
	if buy {
		dir = "buy"
	}
	if _, _, err := l.eng.Place(nowMs, OrderRequest{Instrument: instrument, Direction: dir, Type: "limit", Price: price,
		HasPrice: true, Amount: amount, TimeInForce: "immediate_or_cancel", Owner: TapeOwner}); err != nil {
		l.errs++
	}
}

// Call executes one JSON-RPC method for the account and returns its result
// as Deribit would. The methods are those an order manager needs:
// public/get_instruments, private/buy, sell, edit, cancel, cancel_all,
// cancel_all_by_instrument, cancel_by_label, get_open_orders,
// get_open_orders_by_instrument, get_open_orders_by_label, get_order_state,
// get_order_state_by_label, get_positions. Others fail with Deribit's method_not_found.
func (l *Local) Call(nowMs int64, method string, params []byte) (json.RawMessage, *Error) {
	method = strings.TrimPrefix(method, "/api/v2/")
	var res any
	var err *Error
	switch method {
	case "public/get_instruments":
		var p struct {
			Currency string `json:"currency"`
			Kind     string `json:"kind"`
		}
		if err = decodeParams(params, &p); err == nil {
			out := []Instrument{}
			for _, in := range l.eng.Instruments() {
				if l.matches(in.InstrumentName, p.Kind, p.Currency) {
					out = append(out, in)
				}
			}
			res = out
		}
	case "private/buy", "private/sell":
		var p placeParams
		if err = decodeParams(params, &p); err != nil {
			break
		}
		var req OrderRequest
		if req, err = p.request(strings.TrimPrefix(method, "private/"), l.owner, nowMs); err != nil {
			break
		}
		res, err = orderResultOf(l.eng.Place(nowMs, req))
	case "private/edit":
		var p editParams
		if err = decodeParams(params, &p); err != nil {
			break
		}
		var req EditRequest
		if req, err = p.request(l.owner); err != nil {
			break
		}
		res, err = orderResultOf(l.eng.Edit(nowMs, req))
	case "private/cancel":
		var p struct {
			OrderID string `json:"order_id"`
		}
		if err = decodeParams(params, &p); err == nil {
			res, err = l.eng.Cancel(nowMs, l.owner, p.OrderID, "user_request")
		}
	case "private/cancel_all", "private/cancel_all_by_instrument", "private/cancel_by_label":
		var p struct {
			InstrumentName string `json:"instrument_name"`
			Label          string `json:"label"`
			Currency       string `json:"currency"`
		}
		if err = decodeParams(params, &p); err == nil {
			res = len(l.eng.CancelMatching(nowMs, "user_request", func(o *Order) bool {
				return o.Owner == l.owner && (p.InstrumentName == "" || o.InstrumentName == p.InstrumentName) &&
					(method != "private/cancel_by_label" || o.Label == p.Label) && l.matches(o.InstrumentName, "", p.Currency)
			}))
		}
	case "private/get_order_state_by_label": // recent orders, open and closed, as on the WebSocket
		var p struct {
			Label    string `json:"label"`
			Currency string `json:"currency"`
		}
		if err = decodeParams(params, &p); err == nil {
			res = nonNilOrders(l.eng.OrdersByLabel(l.owner, p.Label, func(o *Order) bool {
				return l.matches(o.InstrumentName, "", p.Currency)
			}))
		}
	case "private/get_open_orders", "private/get_open_orders_by_instrument", "private/get_open_orders_by_label":
		var p struct {
			InstrumentName string `json:"instrument_name"`
			Label          string `json:"label"`
			Currency       string `json:"currency"`
			Kind           string `json:"kind"`
		}
		if err = decodeParams(params, &p); err == nil {
			res = nonNilOrders(l.eng.OpenOrders(l.owner, func(o *Order) bool {
				return (p.InstrumentName == "" || o.InstrumentName == p.InstrumentName) &&
					(p.Label == "" || o.Label == p.Label) && l.matches(o.InstrumentName, p.Kind, p.Currency)
			}))
		}
	case "private/get_order_state":
		var p struct {
			OrderID string `json:"order_id"`
		}
		if err = decodeParams(params, &p); err == nil {
			res, err = l.eng.OrderState(l.owner, p.OrderID)
		}
	case "private/get_positions":
		var p struct {
			Currency string `json:"currency"`
			Kind     string `json:"kind"`
		}
		if err = decodeParams(params, &p); err == nil {
			out := l.eng.Positions(l.owner, p.Currency, p.Kind)
			if out == nil {
				out = []Position{}
			}
			res = out
		}
	default:
		return nil, NewError(CodeMethodNotFound, nil)
	}
	if err != nil {
		return nil, err
	}
	b, merr := json.Marshal(res)
	if merr != nil {
		return nil, NewError(CodeError, map[string]string{"reason": merr.Error()})
	}
	return b, nil
}

func (l *Local) matches(name, kind, currency string) bool {
	return l.eng.instrumentMatches(name, kind, currency)
}
