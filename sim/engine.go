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
	"cmp"
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

// IndexPrice returns the index of a base currency, 0 if unknown.
func (e *Engine) IndexPrice(currency string) float64 { return e.index[currency] }

func (e *Engine) touchTime(nowMs int64) {
	if nowMs > e.now {
		e.now = nowMs
	}
}

// validated is an order request in integer form.
type validated struct {
	in     *instState
	buy    bool
	market bool
	tif    string
	lots   int64
	ticks  int64
}

func badInstrument() *Error {
	return NewError(CodeInvalidInstrument, map[string]string{"param": "instrument_name", "reason": "unknown instrument"})
}

// parseAmount turns amount/contracts into lots.
func parseAmount(in *instState, amount, contracts float64) (int64, *Error) {
	if amount == 0 && contracts == 0 {
		return 0, paramError("amount", "amount or contracts is required")
	}
	if math.IsNaN(amount) || math.IsNaN(contracts) || math.IsInf(amount, 0) || math.IsInf(contracts, 0) {
		return 0, NewError(CodeInvalidAmount, map[string]string{"param": "amount", "reason": "not a number"})
	}
	fromContracts := contracts * in.inst.ContractSize
	if amount != 0 && contracts != 0 && math.Abs(amount-fromContracts) > 1e-9*math.Max(1, math.Abs(amount)) {
		return 0, paramError("contracts", "contracts and amount do not match")
	}
	if amount == 0 {
		amount = fromContracts
	}
	if amount < 0 {
		return 0, NewError(CodeInvalidAmount, map[string]string{"param": "amount", "reason": "must be positive"})
	}
	if amount < in.step*(1-1e-9) {
		return 0, NewError(CodeQtyTooLow, map[string]string{"param": "amount", "reason": "below min_trade_amount"})
	}
	if !stepsInRange(amount / in.step) {
		return 0, NewError(CodeInvalidAmount, map[string]string{"param": "amount", "reason": "too large"})
	}
	lots, ok := in.toLots(amount)
	if !ok {
		return 0, NewError(CodeInvalidAmount, map[string]string{"param": "amount", "reason": "must be a multiple of min_trade_amount"})
	}
	return lots, nil
}

// parsePrice validates a limit price and its band for a buy or a sell.
func (e *Engine) parsePrice(in *instState, buy bool, price float64) (int64, *Error) {
	if !(price > 0) || math.IsInf(price, 0) {
		return 0, NewError(CodeInvalidPrice, map[string]string{"param": "price", "reason": "must be positive"})
	}
	if q := price / in.tick; !stepsInRange(q) {
		reason := "below tick_size"
		if q > 1 {
			reason = "too large"
		}
		return 0, NewError(CodeInvalidPrice, map[string]string{"param": "price", "reason": reason})
	}
	ticks, ok := in.toTicks(price)
	if !ok {
		return 0, NewError(CodePriceWrongTick, map[string]string{"param": "price", "reason": "not a multiple of tick_size"})
	}
	lo, hi := e.band(in)
	if buy && ticks > hi {
		return 0, NewError(CodePriceTooHigh, map[string]string{"param": "price", "reason": "above max_price " + strconv.FormatFloat(in.price(hi), 'f', -1, 64)})
	}
	if !buy && ticks < lo {
		return 0, NewError(CodePriceTooLow, map[string]string{"param": "price", "reason": "below min_price " + strconv.FormatFloat(in.price(lo), 'f', -1, 64)})
	}
	return ticks, nil
}

func (e *Engine) validate(req *OrderRequest) (validated, *Error) {
	var v validated
	in, ok := e.byName[req.Instrument]
	if !ok {
		return v, badInstrument()
	}
	v.in = in
	switch req.Direction {
	case "buy":
		v.buy = true
	case "sell":
	default:
		return v, paramError("direction", "must be buy or sell")
	}
	switch req.Type {
	case "", "limit":
	case "market":
		v.market = true
	default:
		return v, paramError("type", "unsupported order type (limit and market only)")
	}
	switch req.TimeInForce {
	case "":
		v.tif = "good_til_cancelled"
	case "good_til_cancelled", "good_til_day", "immediate_or_cancel", "fill_or_kill":
		v.tif = req.TimeInForce
	default:
		return v, paramError("time_in_force", "invalid value")
	}
	if len(req.Label) > 64 {
		return v, paramError("label", "at most 64 characters")
	}
	lots, err := parseAmount(in, req.Amount, req.Contracts)
	if err != nil {
		return v, err
	}
	v.lots = lots
	if req.PostOnly && (v.market || v.tif == "immediate_or_cancel" || v.tif == "fill_or_kill") {
		return v, paramError("post_only", "only allowed with limit good_til_cancelled orders")
	}
	if v.market {
		lo, hi := e.band(in)
		v.ticks = lo
		if v.buy {
			v.ticks = hi
		}
		return v, nil
	}
	if !req.HasPrice {
		return v, paramError("price", "price is required for limit orders")
	}
	v.ticks, err = e.parsePrice(in, v.buy, req.Price)
	return v, err
}

// reducible is how many lots an order in direction buy can reduce a
// position by.
func reducible(p *posState, buy bool) int64 {
	if buy && p.lots < 0 {
		return -p.lots
	}
	if !buy && p.lots > 0 {
		return p.lots
	}
	return 0
}

// crosses reports whether an order at ticks would take from the opposite side.
func crosses(opp *bookSide, buy bool, ticks int64) bool {
	b := opp.best()
	if b == nil {
		return false
	}
	if buy {
		return b.ticks <= ticks
	}
	return b.ticks >= ticks
}

// postOnlyPrice applies post-only to a limit price: unchanged when it does
// not cross, else one tick inside the spread; ok is false when that is not
// a valid price.
func postOnlyPrice(in *instState, buy bool, ticks int64) (int64, bool) {
	if buy {
		if crosses(&in.asks, true, ticks) {
			ticks = in.asks.best().ticks - 1
		}
	} else if crosses(&in.bids, false, ticks) {
		ticks = in.bids.best().ticks + 1
	}
	return ticks, ticks > 0
}

// liquidity is how many lots a taker of account taker, on side buy with
// limit ticks, would fill against the opposite side of in, up to want. It
// walks the book exactly as match does: price-time order, stopping at the
// limit, and a reduce-only maker counts for what match lets it fill, min(its
// remaining, what its owner's position still allows when the walk reaches
// it), with the positions as the earlier fills of this walk (taker's and
// makers', self-trades included) leave them. Self-trades are allowed, so no
// other maker is skipped. Fill-or-kill relies on this equality: the order
// is placed only when liquidity covers it, and then match fills it entirely.
func liquidity(in *instState, taker *ledger, buy bool, limit, want int64) int64 {
	opp := &in.asks
	if !buy {
		opp = &in.bids
	}
	// deltas of positions (in lots, signed) caused by this walk's fills
	type posDelta struct {
		a *ledger
		d int64
	}
	var deltas []posDelta
	add := func(a *ledger, d int64) {
		for i := range deltas {
			if deltas[i].a == a {
				deltas[i].d += d
				return
			}
		}
		deltas = append(deltas, posDelta{a, d})
	}
	posOf := func(a *ledger) posState {
		p := posState{lots: a.pos[in.idx].lots}
		for _, x := range deltas {
			if x.a == a {
				p.lots += x.d
			}
		}
		return p
	}
	sign := int64(1) // the taker's position moves by +q for a buy
	if !buy {
		sign = -1
	}
	var n int64
	for i := len(opp.levels) - 1; i >= 0 && n < want; i-- {
		l := opp.levels[i]
		if (buy && l.ticks > limit) || (!buy && l.ticks < limit) {
			break
		}
		for m := l.head; m != nil && n < want; m = m.next {
			avail := m.remaining()
			if m.ord.ReduceOnly {
				p := posOf(m.acct)
				avail = min(avail, reducible(&p, m.buy))
			}
			q := min(avail, want-n)
			if q <= 0 {
				continue
			}
			n += q
			add(taker, sign*q)
			add(m.acct, -sign*q)
		}
	}
	return n
}

func (e *Engine) sideOf(in *instState, buy bool) *bookSide {
	if buy {
		return &in.bids
	}
	return &in.asks
}

// fundsCheck refuses an order that raises a margin-checked account's
// initial margin above its equity.
func (e *Engine) fundsCheck(a *ledger, in *instState, buy bool, addLots int64) *Error {
	if a.unlimited || addLots <= 0 {
		return nil
	}
	cur := in.inst.SettlementCurrency
	var eb, es int64
	if buy {
		eb = addLots
	} else {
		es = addLots
	}
	before := e.margins(a, cur, nil, 0, 0)
	after := e.margins(a, cur, in, eb, es)
	if after.im > before.im+1e-12 && after.im > after.equity {
		return NewError(CodeNotEnoughFunds, map[string]string{"reason": "initial margin would exceed equity"})
	}
	return nil
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

// Place executes a private/buy or private/sell: it validates the request,
// matches it and rests what remains (limit GTC/GTD). It returns the order
// as it stands afterwards and the taker-side trades of this call.
func (e *Engine) Place(nowMs int64, req OrderRequest) (Order, []Trade, *Error) {
	e.touchTime(nowMs)
	v, err := e.validate(&req)
	if err != nil {
		return Order{}, nil, err
	}
	in := v.in
	a := e.account(req.Owner)
	p := &a.pos[in.idx]
	if req.ReduceOnly {
		r := reducible(p, v.buy)
		if r == 0 {
			return Order{}, nil, NewError(CodeReduceOnlyExceeded, map[string]string{"param": "reduce_only", "reason": "order would not reduce the position"})
		}
		v.lots = min(v.lots, r)
	}
	if req.PostOnly {
		opp := e.sideOf(in, !v.buy)
		if crosses(opp, v.buy, v.ticks) {
			if req.RejectPostOnly {
				return Order{}, nil, NewError(CodePostOnlyReject, map[string]string{"param": "price", "reason": "post-only order would take liquidity"})
			}
			t, ok := postOnlyPrice(in, v.buy, v.ticks)
			if !ok {
				return Order{}, nil, NewError(CodePostOnlyReject, map[string]string{"param": "price", "reason": "no valid price inside the spread"})
			}
			v.ticks = t
		}
	}
	if !req.ReduceOnly {
		if err := e.fundsCheck(a, in, v.buy, v.lots); err != nil {
			return Order{}, nil, err
		}
	}
	if v.tif == "fill_or_kill" && liquidity(in, a, v.buy, v.ticks, v.lots) < v.lots {
		return Order{}, nil, NewError(CodeFillOrKillNotFilled, map[string]string{"reason": "not enough liquidity to fill the whole amount"})
	}

	lo := e.newOrder()
	lo.in, lo.acct, lo.buy, lo.market, lo.ticks, lo.lots = in, a, v.buy, v.market, v.ticks, v.lots
	typ := "limit"
	if v.market {
		typ = "market"
	}
	lo.ord = Order{
		OrderID:           e.nextID(in, &e.orderSeq),
		OrderState:        "open",
		OrderType:         typ,
		OriginalOrderType: typ,
		TimeInForce:       v.tif,
		InstrumentName:    in.inst.InstrumentName,
		Direction:         req.Direction,
		Label:             req.Label,
		CreationTimestamp: nowMs,
		PostOnly:          req.PostOnly,
		RejectPostOnly:    req.RejectPostOnly,
		ReduceOnly:        req.ReduceOnly,
		API:               req.API,
		Owner:             req.Owner,
		ConnID:            req.ConnID,
	}
	lo.refresh(nowMs)

	trades := e.match(nowMs, lo)
	e.settleTaker(nowMs, lo)
	out := lo.ord
	if lo.level == nil {
		e.retire(lo)
	}
	e.finishOp(nowMs)
	return out, trades, nil
}

// settleTaker rests or closes an order after it matched, and reports it.
func (e *Engine) settleTaker(nowMs int64, lo *liveOrder) {
	switch {
	case lo.remaining() == 0:
		lo.ord.OrderState = "filled"
	case lo.market || lo.ord.TimeInForce == "immediate_or_cancel" || lo.ord.TimeInForce == "fill_or_kill":
		lo.ord.OrderState = "cancelled"
	default:
		lo.ord.OrderState = "open"
		e.rest(lo)
	}
	lo.refresh(nowMs)
	e.emitOrder(lo)
}

// rest puts an order on its book and the open-order lists.
func (e *Engine) rest(lo *liveOrder) {
	side := e.sideOf(lo.in, lo.buy)
	l := side.levelFor(lo.ticks, &e.freeLevels)
	e.touch(lo.in, lo.buy, l.ticks, l.lots)
	l.push(lo)
	p := &lo.acct.pos[lo.in.idx]
	if lo.buy {
		p.openBuy += lo.remaining()
	} else {
		p.openSell += lo.remaining()
	}
	if _, ok := e.orders[lo.ord.OrderID]; !ok {
		e.orders[lo.ord.OrderID] = lo
		lo.acct.link(lo)
		lo.gprev, lo.gnext = e.gtail, nil
		if e.gtail != nil {
			e.gtail.gnext = lo
		} else {
			e.ghead = lo
		}
		e.gtail = lo
	}
}

// unrest takes an order off its book level (not off the open-order lists).
func (e *Engine) unrest(lo *liveOrder) {
	l := lo.level
	if l == nil {
		return
	}
	side := e.sideOf(lo.in, lo.buy)
	e.touch(lo.in, lo.buy, l.ticks, l.lots)
	p := &lo.acct.pos[lo.in.idx]
	if lo.buy {
		p.openBuy -= lo.remaining()
	} else {
		p.openSell -= lo.remaining()
	}
	l.unlink(lo)
	if l.head == nil {
		side.drop(l, &e.freeLevels)
	}
}

// closeResting removes a resting order from the book and the open lists
// and records it in its owner's history. The caller retires it afterwards.
func (e *Engine) closeResting(lo *liveOrder) {
	e.unrest(lo)
	if _, ok := e.orders[lo.ord.OrderID]; ok {
		delete(e.orders, lo.ord.OrderID)
		lo.acct.unlink(lo)
		if lo.gprev != nil {
			lo.gprev.gnext = lo.gnext
		} else {
			e.ghead = lo.gnext
		}
		if lo.gnext != nil {
			lo.gnext.gprev = lo.gprev
		} else {
			e.gtail = lo.gprev
		}
		lo.gprev, lo.gnext = nil, nil
	}
}

// retire records a closed order in its owner's history and recycles it.
func (e *Engine) retire(lo *liveOrder) {
	lo.acct.remember(lo.ord)
	e.freeOrders = append(e.freeOrders, lo)
}

// touch records a level's amount before the current operation changes it.
func (e *Engine) touch(in *instState, buy bool, ticks, oldLots int64) {
	e.touched = append(e.touched, levelTouch{in: in, buy: buy, ticks: ticks, oldLots: oldLots, n: len(e.touched)})
}

// match executes taker lo against the opposite side and returns the taker's
// trades.
func (e *Engine) match(nowMs int64, lo *liveOrder) []Trade {
	in := lo.in
	opp := e.sideOf(in, !lo.buy)
	var trades []Trade
	for lo.remaining() > 0 {
		l := opp.best()
		if l == nil || (lo.buy && l.ticks > lo.ticks) || (!lo.buy && l.ticks < lo.ticks) {
			break
		}
		m := l.head
		if m.ord.ReduceOnly {
			// A resting reduce-only order is cut, in place, to what its
			// position still allows when the matching reaches it.
			if r := reducible(&m.acct.pos[in.idx], m.buy); r < m.remaining() {
				d := m.remaining() - r
				e.touch(in, m.buy, l.ticks, l.lots)
				l.lots -= d
				pm := &m.acct.pos[in.idx]
				if m.buy {
					pm.openBuy -= d
				} else {
					pm.openSell -= d
				}
				m.lots -= d
				m.refresh(nowMs)
				if r == 0 {
					m.ord.OrderState = "cancelled"
					m.ord.CancelReason = "reduce_only"
					e.closeResting(m)
					e.emitOrder(m)
					e.retire(m)
				} else {
					e.emitOrder(m)
				}
				continue
			}
		}
		q := min(lo.remaining(), m.remaining())
		trades = append(trades, e.execute(nowMs, lo, m, l, q))
	}
	return trades
}

// execute books one execution of q lots between taker t and maker m (at
// the maker's level l) and returns the taker's trade.
func (e *Engine) execute(nowMs int64, t, m *liveOrder, l *bookLevel, q int64) Trade {
	in := t.in
	ticks := m.ticks
	price := in.price(ticks)

	// book
	e.touch(in, m.buy, l.ticks, l.lots)
	l.lots -= q
	m.filled += q
	t.filled += q
	pm := &m.acct.pos[in.idx]
	if m.buy {
		pm.openBuy -= q
	} else {
		pm.openSell -= q
	}
	for _, o := range [2]*liveOrder{t, m} {
		o.sumInv += float64(q) / price
		o.sumPx += float64(q) * price
	}

	// tick direction
	dir := 0
	if in.hasLast {
		switch {
		case ticks > in.lastTicks:
			dir = 0
		case ticks < in.lastTicks:
			dir = 2
		case in.lastDir == 0 || in.lastDir == 1:
			dir = 1
		default:
			dir = 3
		}
	} else {
		in.firstPx = price
		in.high, in.low = price, price
	}
	in.hasLast, in.lastTicks, in.lastDir = true, ticks, dir
	in.high, in.low = math.Max(in.high, price), math.Min(in.low, price)
	amt := in.amount(q)
	idx := e.index[in.inst.BaseCurrency]
	if in.option {
		in.volume += amt
		in.volumeUSD += amt * price * idx
		in.volNotion += amt * idx
	} else {
		in.volume += amt / price
		in.volumeUSD += amt
		in.volNotion += amt
	}
	in.tradeSeq++

	// money: taker first, then maker
	tPnL, tFee := e.book(t.acct, in, t.buy, q, price, in.inst.TakerCommission)
	mPnL, mFee := e.book(m.acct, in, m.buy, q, price, in.inst.MakerCommission)
	t.ord.Commission += tFee
	m.ord.Commission += mFee

	// order states
	t.ord.OrderState = "open"
	if t.remaining() == 0 {
		t.ord.OrderState = "filled"
	}
	m.ord.OrderState = "open"
	if m.remaining() == 0 {
		m.ord.OrderState = "filled"
	}
	t.refresh(nowMs)
	m.refresh(nowMs)

	mark := e.mark(in)
	pub := Trade{
		TradeID:        e.nextID(in, &e.tradeSeq),
		TradeSeq:       in.tradeSeq,
		InstrumentName: in.inst.InstrumentName,
		Direction:      t.ord.Direction,
		Price:          price,
		Amount:         amt,
		Contracts:      in.contracts(q),
		TickDirection:  dir,
		MarkPrice:      mark,
		IndexPrice:     idx,
		Timestamp:      nowMs,
	}
	userTrade := func(o *liveOrder, fee, pnl float64, liq string) Trade {
		tr := pub
		tr.OrderID = o.ord.OrderID
		tr.OrderType = o.ord.OrderType
		tr.Direction = o.ord.Direction
		tr.Fee = fee
		tr.FeeCurrency = in.inst.SettlementCurrency
		tr.Liquidity = liq
		tr.State = o.ord.OrderState
		tr.Label = o.ord.Label
		tr.ProfitLoss = pnl
		tr.PostOnly = o.ord.PostOnly
		tr.ReduceOnly = o.ord.ReduceOnly
		tr.API = o.ord.API
		tr.Owner = o.ord.Owner
		return tr
	}
	f := Fill{
		Maker:  userTrade(m, mFee, mPnL, "M"),
		Taker:  userTrade(t, tFee, tPnL, "T"),
		Public: pub,
	}
	if e.listener != nil {
		e.listener.Filled(f)
	}

	// the maker leaves the book when filled
	if m.remaining() == 0 {
		e.closeResting(m)
		e.emitOrder(m)
		e.retire(m)
	} else {
		e.emitOrder(m)
	}
	return f.Taker
}

// book applies one fill to an account: position, fee and cash. It returns
// the realized PnL and the fee.
func (e *Engine) book(a *ledger, in *instState, buy bool, q int64, price, rate float64) (pnl, fee float64) {
	p := &a.pos[in.idx]
	oldLots := p.lots
	pnl = p.applyFill(in, buy, q, price)
	amt := float64(q) * in.step
	cur := in.inst.SettlementCurrency
	if in.option {
		contracts := amt / in.inst.ContractSize
		fee = rate * contracts
		if fee > 0 {
			fee = math.Min(fee, 0.125*amt*price)
		}
		premium := amt * price
		if buy {
			a.balance[cur] -= premium
		} else {
			a.balance[cur] += premium
		}
	} else {
		fee = amt / price * rate
		a.balance[cur] += pnl
	}
	a.balance[cur] -= fee
	in.oiLots += max(p.lots, 0) - max(oldLots, 0)
	e.notePosition(a, in)
	return pnl, fee
}

func (e *Engine) notePosition(a *ledger, in *instState) {
	for _, k := range e.posChanged {
		if k.a == a && k.in == in {
			return
		}
	}
	e.posChanged = append(e.posChanged, posKey{a, in})
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

// lookupOwned finds owner's order: the resting one, or nil and whether it
// is in the owner's closed history.
func (e *Engine) lookupOwned(owner, id string) (*liveOrder, *Order) {
	if lo, ok := e.orders[id]; ok {
		if lo.ord.Owner == owner {
			return lo, nil
		}
		return nil, nil
	}
	if a, ok := e.accounts[owner]; ok {
		if o, ok := a.closed[id]; ok {
			return nil, &o
		}
	}
	return nil, nil
}

func orderNotFound() *Error {
	return NewError(CodeOrderNotFound, map[string]string{"param": "order_id", "reason": "order not found"})
}

func notOpen() *Error {
	return NewError(CodeNotOpenOrder, map[string]string{"param": "order_id", "reason": "order is not open"})
}

// Cancel cancels owner's open order. reason becomes cancel_reason (e.g.
// "user_request"). Unknown ids and other owners' orders are 10004; closed
// orders 11044.
func (e *Engine) Cancel(nowMs int64, owner, orderID, reason string) (Order, *Error) {
	e.touchTime(nowMs)
	lo, closed := e.lookupOwned(owner, orderID)
	if lo == nil {
		if closed != nil {
			return Order{}, notOpen()
		}
		return Order{}, orderNotFound()
	}
	out := e.cancel(nowMs, lo, reason)
	e.finishOp(nowMs)
	return out, nil
}

func (e *Engine) cancel(nowMs int64, lo *liveOrder, reason string) Order {
	e.closeResting(lo)
	lo.ord.OrderState = "cancelled"
	lo.ord.CancelReason = reason
	lo.refresh(nowMs)
	e.emitOrder(lo)
	out := lo.ord
	e.retire(lo)
	return out
}

// CancelMatching cancels every open order for which match returns true
// (match must not change the order) and returns them in creation order.
// One BookChanged per instrument follows the OrderChanged calls.
func (e *Engine) CancelMatching(nowMs int64, reason string, match func(*Order) bool) []Order {
	e.touchTime(nowMs)
	var out []Order
	for lo := e.ghead; lo != nil; {
		next := lo.gnext
		if match == nil || match(&lo.ord) {
			out = append(out, e.cancel(nowMs, lo, reason))
		}
		lo = next
	}
	e.finishOp(nowMs)
	return out
}

// OpenOrders returns owner's open orders, in creation order, for which
// match returns true (all when match is nil).
func (e *Engine) OpenOrders(owner string, match func(*Order) bool) []Order {
	a, ok := e.accounts[owner]
	if !ok {
		return nil
	}
	var out []Order
	for lo := a.head; lo != nil; lo = lo.anext {
		if match == nil || match(&lo.ord) {
			out = append(out, lo.ord)
		}
	}
	return out
}

// instrumentMatches applies Deribit's kind and currency filters to the
// instrument name ("any" and "" match everything).
func (e *Engine) instrumentMatches(name, kind, currency string) bool {
	in, ok := e.Instrument(name)
	if !ok {
		return false
	}
	if kind != "" && kind != "any" && in.Kind != kind {
		return false
	}
	return currency == "" || currency == "any" || in.BaseCurrency == currency || in.SettlementCurrency == currency
}

// OrdersByLabel returns owner's orders with label, open or among its last
// 10,000 closed ones, oldest first, for which match returns true (all when
// match is nil).
func (e *Engine) OrdersByLabel(owner, label string, match func(*Order) bool) []Order {
	a, ok := e.accounts[owner]
	if !ok {
		return nil
	}
	var out []Order
	keep := func(o *Order) {
		if o.Label == label && (match == nil || match(o)) {
			out = append(out, *o)
		}
	}
	for _, id := range a.closedRing {
		o := a.closed[id]
		keep(&o)
	}
	for lo := a.head; lo != nil; lo = lo.anext {
		keep(&lo.ord)
	}
	slices.SortStableFunc(out, func(x, y Order) int {
		if c := cmp.Compare(x.CreationTimestamp, y.CreationTimestamp); c != 0 {
			return c
		}
		return cmp.Compare(idSeq(x.OrderID), idSeq(y.OrderID))
	})
	return out
}

// idSeq is the sequence number of an order id (its trailing digits).
func idSeq(id string) uint64 {
	i := len(id)
	for i > 0 && id[i-1] >= '0' && id[i-1] <= '9' {
		i--
	}
	n, _ := strconv.ParseUint(id[i:], 10, 64)
	return n
}

// OrderState returns owner's order, open or among its last 10,000 closed
// ones. Other owners' orders are 10004 order_not_found, as on Deribit.
func (e *Engine) OrderState(owner, orderID string) (Order, *Error) {
	lo, closed := e.lookupOwned(owner, orderID)
	switch {
	case lo != nil:
		return lo.ord, nil
	case closed != nil:
		return *closed, nil
	}
	return Order{}, orderNotFound()
}

// Edit changes the amount and/or price of owner's open order (private/edit);
// see the package rules above for priority. The returned order has
// Replaced = true; trades are those the edited order took.
func (e *Engine) Edit(nowMs int64, req EditRequest) (Order, []Trade, *Error) {
	e.touchTime(nowMs)
	lo, closed := e.lookupOwned(req.Owner, req.OrderID)
	if lo == nil {
		if closed != nil {
			return Order{}, nil, notOpen()
		}
		return Order{}, nil, orderNotFound()
	}
	in := lo.in
	lots := lo.lots
	if req.Amount != 0 || req.Contracts != 0 {
		var err *Error
		if lots, err = parseAmount(in, req.Amount, req.Contracts); err != nil {
			return Order{}, nil, err
		}
	}
	if lots <= lo.filled {
		return Order{}, nil, NewError(CodeInvalidAmount, map[string]string{"param": "amount", "reason": "must exceed filled_amount"})
	}
	ticks := lo.ticks
	if req.HasPrice {
		var err *Error
		if ticks, err = e.parsePrice(in, lo.buy, req.Price); err != nil {
			return Order{}, nil, err
		}
	}
	postOnly := lo.ord.PostOnly || req.PostOnly
	rejectPO := lo.ord.RejectPostOnly || req.RejectPostOnly
	reduceOnly := lo.ord.ReduceOnly || req.ReduceOnly
	p := &lo.acct.pos[in.idx]
	if reduceOnly {
		r := reducible(p, lo.buy)
		if r == 0 {
			return Order{}, nil, NewError(CodeReduceOnlyExceeded, map[string]string{"param": "reduce_only", "reason": "order would not reduce the position"})
		}
		lots = min(lots, lo.filled+r)
	}
	if postOnly && crosses(e.sideOf(in, !lo.buy), lo.buy, ticks) {
		if rejectPO {
			lo.ord.Replaced = true
			e.cancel(nowMs, lo, "edit_post_only_reject")
			e.finishOp(nowMs)
			return Order{}, nil, NewError(CodePostOnlyReject, map[string]string{"param": "price", "reason": "post-only order would take liquidity"})
		}
		t, ok := postOnlyPrice(in, lo.buy, ticks)
		if !ok {
			return Order{}, nil, NewError(CodePostOnlyReject, map[string]string{"param": "price", "reason": "no valid price inside the spread"})
		}
		ticks = t
	}
	newRem := lots - lo.filled
	if !reduceOnly {
		if err := e.fundsCheck(lo.acct, in, lo.buy, newRem-lo.remaining()); err != nil {
			return Order{}, nil, err
		}
	}

	lo.ord.PostOnly, lo.ord.RejectPostOnly, lo.ord.ReduceOnly = postOnly, rejectPO, reduceOnly
	lo.ord.Replaced = true
	var trades []Trade
	if ticks == lo.ticks && newRem <= lo.remaining() {
		// Same price, not larger: keeps its queue position.
		l := lo.level
		d := lo.remaining() - newRem
		if d > 0 {
			e.touch(in, lo.buy, l.ticks, l.lots)
			l.lots -= d
			if lo.buy {
				p.openBuy -= d
			} else {
				p.openSell -= d
			}
		}
		lo.lots = lots
		lo.refresh(nowMs)
		e.emitOrder(lo)
	} else {
		e.unrest(lo)
		lo.ticks, lo.lots = ticks, lots
		lo.refresh(nowMs)
		trades = e.match(nowMs, lo)
		if lo.remaining() == 0 {
			lo.ord.OrderState = "filled"
			e.closeResting(lo)
			lo.refresh(nowMs)
			e.emitOrder(lo)
		} else {
			e.rest(lo)
			lo.refresh(nowMs)
			e.emitOrder(lo)
		}
	}
	out := lo.ord
	if lo.level == nil {
		e.retire(lo)
	}
	e.finishOp(nowMs)
	return out, trades, nil
}

// Depth returns the aggregated levels of an instrument's book, best first,
// at most depth per side (all when depth <= 0), and the change id of the
// last BookChange (0 before any).
func (e *Engine) Depth(instrument string, depth int) (bids, asks []Level, changeID int64, ok bool) {
	in, found := e.byName[instrument]
	if !found {
		return nil, nil, 0, false
	}
	return levelsOf(in, &in.bids, depth), levelsOf(in, &in.asks, depth), in.changeID, true
}

func levelsOf(in *instState, s *bookSide, depth int) []Level {
	n := len(s.levels)
	if depth > 0 && depth < n {
		n = depth
	}
	out := make([]Level, 0, n)
	for i := len(s.levels) - 1; i >= 0 && len(out) < n; i-- {
		l := s.levels[i]
		out = append(out, Level{Price: in.price(l.ticks), Amount: in.amount(l.lots)})
	}
	return out
}

// Ticker returns an instrument's ticker. Stats (high, low, volume,
// price_change in % from the first trade) cover all trades since the engine
// started; open_interest is the sum of long positions (amount units);
// min_price/max_price are the band orders are checked against; for
// perpetuals the funding rates are Deribit's damped premium
// max(0.05%, p) + min(−0.05%, p) with p = (mark − index)/index, clamped to
// ±0.5%, and current_funding = funding_8h.
func (e *Engine) Ticker(nowMs int64, instrument string) (Ticker, *Error) {
	e.touchTime(nowMs)
	in, ok := e.byName[instrument]
	if !ok {
		return Ticker{}, badInstrument()
	}
	idx := e.index[in.inst.BaseCurrency]
	m := e.mark(in)
	lo, hi := e.band(in)
	t := Ticker{
		Timestamp:              nowMs,
		State:                  "open",
		IndexPrice:             idx,
		InstrumentName:         in.inst.InstrumentName,
		MinPrice:               in.price(lo),
		MaxPrice:               in.price(hi),
		OpenInterest:           in.amount(in.oiLots),
		MarkPrice:              m,
		EstimatedDeliveryPrice: idx,
		Stats: TickerStats{
			High:           in.high,
			Low:            in.low,
			Volume:         in.volume,
			VolumeUSD:      in.volumeUSD,
			VolumeNotional: in.volNotion,
		},
	}
	if in.hasLast {
		t.LastPrice = in.price(in.lastTicks)
		if in.firstPx > 0 {
			t.Stats.PriceChange = roundDec((t.LastPrice/in.firstPx-1)*100, 4)
		}
	}
	if b := in.bids.best(); b != nil {
		t.BestBidPrice, t.BestBidAmount = in.price(b.ticks), in.amount(b.lots)
	}
	if a := in.asks.best(); a != nil {
		t.BestAskPrice, t.BestAskAmount = in.price(a.ticks), in.amount(a.lots)
	}
	if in.inst.SettlementPeriod == "perpetual" && idx > 0 {
		prem := (m - idx) / idx
		f := math.Max(0.0005, prem) + math.Min(-0.0005, prem)
		f = math.Max(-0.005, math.Min(0.005, f))
		t.CurrentFunding, t.Funding8h = f, f
	}
	return t, nil
}
