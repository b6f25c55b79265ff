package sim

// How the engine works.
//
// The Engine is the simulator's exchange core: single-threaded, with no
// goroutines, no clock and no randomness. Every method that changes state
// takes the time as nowMs; the caller holds one lock around every call.
// Given the same instruments, starting balances and sequence of calls, it
// produces the same orders, trades, ids and listener calls, byte for byte:
// nothing iterates a map into an output.
//
// Books. Each instrument has two sides; a side is a slice of price levels
// sorted worst first (the best level is the last element, so the busy end
// of the book moves nothing), found by binary search; a level is a FIFO
// (intrusive linked list) of resting orders. Prices are int64 ticks and
// amounts int64 lots (one lot = min_trade_amount) inside the engine, and
// are converted to floats only at the edges. Placing or cancelling a
// resting order is O(log levels) plus, for a new level, a copy of the
// levels worse than it.
//
// Prices are 1 to maxSteps (1e12) ticks and amounts 1 to maxSteps lots:
// anything else (including NaN and ±Inf, which the Go API can carry) is
// rejected with 10023 invalid_price or 10021 invalid_amount, so no int64
// conversion wraps and sums of lots or ticks stay far from overflow
// (see maxSteps).
//
// Matching is price-time priority. A taker executes against the best
// opposite level's oldest order at the maker's price until it is filled,
// the book is empty, or the next level is beyond its limit (market orders'
// limit is the instrument's price band). Self-trades are allowed: Deribit
// prevents them only for accounts that configured self-trading prevention,
// and the simulator has no such setting.
//
// Time in force: good_til_cancelled and good_til_day rest (good_til_day
// never expires here); immediate_or_cancel and market orders cancel their
// remainder (order_state "cancelled" unless fully filled); fill_or_kill
// first checks that the book holds its whole amount within its limit
// (counting resting reduce-only orders only for what their positions let
// them fill, as matching does) and otherwise fails with error 11031
// fill_or_kill_not_filled, changing nothing. post_only (GTC/GTD limit
// orders only) that would take is repriced one tick inside the spread
// (best ask − tick for a buy), or with reject_post_only fails with 11054.
// reduce_only is cut to the position (error 11030 if it cannot reduce it
// at all); a resting reduce-only order
// that the position no longer covers is cut when it is matched (cancelled,
// cancel_reason "reduce_only", when nothing is left).
//
// Edit keeps the order's queue position when the price is unchanged and
// the amount does not grow (Deribit keeps priority on an amount decrease);
// otherwise the order goes to the back of the queue at its (new) price and
// may trade as a taker. Edit may set post_only, reject_post_only and
// reduce_only but never clears them. An edit whose post-only order would
// take with reject_post_only cancels the order (cancel_reason
// "edit_post_only_reject", as Deribit does) and returns 11054.
//
// Money (see account.go for margins): fees are charged in the settlement
// currency at each fill: inverse futures |amount| / price × rate, options
// rate × contracts capped at 12.5% of the premium; a negative rate is a
// rebate. Option premiums move the balance at the fill; realized futures
// PnL is credited to the balance at the fill. A non-"__" account is
// refused an order (10009 not_enough_funds) that raises its initial margin
// (positions plus open orders) above its equity. Owners starting with "__"
// have unlimited funds.
//
// Listener calls within one operation come in this order: for each
// execution, Filled then OrderChanged for the maker; then OrderChanged for
// the taker (or the edited/cancelled order); then PositionChanged for each
// (owner, instrument) whose position changed, in order of first change
// (taker first); then BookChanged, one per instrument whose aggregated
// levels changed (instrument id order), with ChangeID = previous + 1.

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// EngineConfig configures an Engine.
type EngineConfig struct {
	// Instruments the engine trades. Default: DefaultInstruments of
	// 2026-01-01T00:00:00Z (pass your own start: options price off it).
	Instruments []Instrument
	// StartingBalances per currency for every new account; nil means
	// BTC 10, ETH 100, USDC 1,000,000.
	StartingBalances map[string]float64
	// Listener receives every change; may be nil.
	Listener Listener
}

// Engine is the matching engine, accounts and positions of the simulator.
// It is NOT safe for concurrent use: the caller serialises every call.
type Engine struct {
	insts      []*instState
	byName     map[string]*instState
	currencies []Currency
	startBal   map[string]float64
	listener   Listener
	accounts   map[string]*ledger
	orders     map[string]*liveOrder // resting orders by id
	ghead      *liveOrder            // resting orders, creation order
	gtail      *liveOrder
	index      map[string]float64 // index price by base currency
	now        int64              // latest nowMs seen (option time to expiry)

	orderSeq uint64
	tradeSeq uint64

	// per-operation scratch, reused
	touched    []levelTouch
	posChanged []posKey
	freeOrders []*liveOrder
	freeLevels []*bookLevel
}

type posKey struct {
	a  *ledger
	in *instState
}

// NewEngine returns an engine with no orders, index prices BTC 60000 and
// ETH 3000 (other base currencies start at 1000), and accounts created on
// first use with cfg.StartingBalances.
func NewEngine(cfg EngineConfig) *Engine {
	insts := cfg.Instruments
	if len(insts) == 0 {
		insts = DefaultInstruments(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	}
	start := cfg.StartingBalances
	if start == nil {
		start = map[string]float64{"BTC": 10, "ETH": 100, "USDC": 1_000_000}
	}
	e := &Engine{
		byName:     make(map[string]*instState, len(insts)),
		currencies: DefaultCurrencies(),
		startBal:   make(map[string]float64, len(start)),
		listener:   cfg.Listener,
		accounts:   make(map[string]*ledger),
		orders:     make(map[string]*liveOrder),
		index:      map[string]float64{"BTC": DefaultBTCIndex, "ETH": DefaultETHIndex},
	}
	for c, v := range start {
		e.startBal[c] = v
	}
	for i, in := range insts {
		s := newInstState(in, i)
		e.insts = append(e.insts, s)
		e.byName[in.InstrumentName] = s
		if _, ok := e.index[in.BaseCurrency]; !ok {
			e.index[in.BaseCurrency] = 1000
		}
	}
	return e
}

// Instruments returns the engine's instruments in instrument id order.
func (e *Engine) Instruments() []Instrument {
	out := make([]Instrument, len(e.insts))
	for i, in := range e.insts {
		out[i] = in.inst
	}
	return out
}

// Instrument returns one instrument by name.
func (e *Engine) Instrument(name string) (Instrument, bool) {
	in, ok := e.byName[name]
	if !ok {
		return Instrument{}, false
	}
	return in.inst, true
}

// Currencies returns the currencies of public/get_currencies.
func (e *Engine) Currencies() []Currency { return DefaultCurrencies() }

// SetIndexPrice sets the index of a base currency ("BTC" is btc_usd); it
// drives mark prices (when a book is one-sided), PnL and margins. A price
// that is not positive is ignored.
func (e *Engine) SetIndexPrice(currency string, price float64) {
	if price > 0 && !math.IsInf(price, 0) {
		e.index[currency] = price
	}
}

// SetMarkPrice makes price the mark price of an instrument, whatever its
// book and index say, until it is set again (0: back to the book's mid or
// the fair value): a replay's exchange follows the recorded ticker's mark
// so that its price limits are the recorded market's. False for an
// unknown instrument or a price that is negative, infinite or NaN.
func (e *Engine) SetMarkPrice(instrument string, price float64) bool {
	in, ok := e.byName[instrument]
	if !ok || price < 0 || math.IsInf(price, 0) || math.IsNaN(price) {
		return false
	}
	in.markSet = price
	return true
}

// IndexPrice returns the index of a base currency, 0 if unknown.
func (e *Engine) IndexPrice(currency string) float64 { return e.index[currency] }

func (e *Engine) touchTime(nowMs int64) {
	if nowMs > e.now {
		e.now = nowMs
	}
}

func (e *Engine) newOrder() *liveOrder {
	if n := len(e.freeOrders); n > 0 {
		lo := e.freeOrders[n-1]
		e.freeOrders = e.freeOrders[:n-1]
		*lo = liveOrder{}
		return lo
	}
	return new(liveOrder)
}

func (e *Engine) nextID(in *instState, seq *uint64) string {
	*seq++
	if in.idPrefix == "" {
		return strconv.FormatUint(*seq, 10)
	}
	return in.idPrefix + strconv.FormatUint(*seq, 10)
}

// refresh brings the order's API fields up to date with its integer state.
func (lo *liveOrder) refresh(nowMs int64) {
	in := lo.in
	o := &lo.ord
	o.Price = in.price(lo.ticks)
	o.Amount = in.amount(lo.lots)
	o.Contracts = in.contracts(lo.lots)
	o.FilledAmount = in.amount(lo.filled)
	if lo.filled > 0 {
		if in.option {
			o.AveragePrice = roundDec(lo.sumPx/float64(lo.filled), in.priceDec+4)
		} else {
			o.AveragePrice = roundDec(float64(lo.filled)/lo.sumInv, in.priceDec+4)
		}
	}
	o.LastUpdateTimestamp = nowMs
}

func (e *Engine) emitOrder(lo *liveOrder) {
	if e.listener != nil {
		e.listener.OrderChanged(lo.ord)
	}
}

// finishOp reports the positions and book levels the operation changed and
// resets the scratch state.
func (e *Engine) finishOp(nowMs int64) {
	if e.listener != nil {
		for _, k := range e.posChanged {
			e.listener.PositionChanged(k.a.name, k.in.inst.InstrumentName)
		}
	}
	clear(e.posChanged)
	e.posChanged = e.posChanged[:0]
	if len(e.touched) == 0 {
		return
	}
	slices.SortFunc(e.touched, compareTouch)
	var cur *instState
	var bc BookChange
	changed := false
	flush := func() {
		if cur == nil || !changed {
			return
		}
		cur.changeID++
		bc.ChangeID = cur.changeID
		bc.PrevChangeID = cur.changeID - 1
		if e.listener != nil {
			e.listener.BookChanged(bc)
		}
	}
	for i, t := range e.touched {
		if i > 0 {
			p := e.touched[i-1]
			if p.in == t.in && p.buy == t.buy && p.ticks == t.ticks {
				continue // keep the first (oldest) record of a level
			}
		}
		if t.in != cur {
			flush()
			cur, changed = t.in, false
			bc = BookChange{Instrument: t.in.inst.InstrumentName, Timestamp: nowMs}
		}
		newLots := e.sideOf(t.in, t.buy).lotsAt(t.ticks)
		if newLots == t.oldLots {
			continue
		}
		changed = true
		if e.listener == nil {
			continue
		}
		lc := LevelChange{Price: t.in.price(t.ticks), Amount: t.in.amount(newLots)}
		switch {
		case t.oldLots == 0:
			lc.Action = "new"
		case newLots == 0:
			lc.Action = "delete"
		default:
			lc.Action = "change"
		}
		if t.buy {
			bc.Bids = append(bc.Bids, lc)
		} else {
			bc.Asks = append(bc.Asks, lc)
		}
	}
	flush()
	clear(e.touched)
	e.touched = e.touched[:0]
}
