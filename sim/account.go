package sim

import (
	"math"
	"strings"
)

// closedHistory is how many closed orders each account remembers for
// OrderState.
const closedHistory = 10000

// Margin model (see the engine doc comment):
//
//   - inverse futures: IM = |size| / mark / max_leverage (coin), MM = IM / 2;
//   - long options: IM = MM = |size| × mark (the premium paid is not
//     collateral);
//   - short options: IM = |size| × (max(0.15 − OTM/index, 0.1) + mark),
//     MM = |size| × (0.075 + mark), Deribit's standard margin.
//
// Open orders add margin as if they all filled on the side that needs more:
// IM(instrument) = max(IM(size + open buys), IM(size − open sells)); the open
// orders' margin is that minus IM(size).
const (
	shortOptIMBase  = 0.15
	shortOptIMFloor = 0.1
	shortOptMM      = 0.075
)

// ledger is one account: balances per currency, a position per instrument,
// its open orders (creation order) and a bounded history of closed orders.
type ledger struct {
	name      string
	unlimited bool // "__" owners: never margin-checked
	balance   map[string]float64
	pos       []posState // by instrument index

	head, tail *liveOrder // open orders

	closed     map[string]Order
	closedRing []string
	closedNext int
}

// posState is an account's position in one instrument.
type posState struct {
	lots     int64   // signed
	avg      float64 // average entry price (harmonic for inverse futures)
	realized float64 // realized PnL since the engine started (coin)
	openBuy  int64   // remaining lots of resting buy orders
	openSell int64   // remaining lots of resting sell orders
	touched  bool    // ever traded: listed by Positions
}

func (a *ledger) link(lo *liveOrder) {
	lo.aprev, lo.anext = a.tail, nil
	if a.tail != nil {
		a.tail.anext = lo
	} else {
		a.head = lo
	}
	a.tail = lo
}

func (a *ledger) unlink(lo *liveOrder) {
	if lo.aprev != nil {
		lo.aprev.anext = lo.anext
	} else {
		a.head = lo.anext
	}
	if lo.anext != nil {
		lo.anext.aprev = lo.aprev
	} else {
		a.tail = lo.aprev
	}
	lo.aprev, lo.anext = nil, nil
}

// remember adds a closed order to the history, evicting the oldest.
func (a *ledger) remember(o Order) {
	if _, ok := a.closed[o.OrderID]; ok {
		a.closed[o.OrderID] = o
		return
	}
	if len(a.closedRing) < closedHistory {
		a.closedRing = append(a.closedRing, o.OrderID)
	} else {
		delete(a.closed, a.closedRing[a.closedNext])
		a.closedRing[a.closedNext] = o.OrderID
		a.closedNext = (a.closedNext + 1) % closedHistory
	}
	a.closed[o.OrderID] = o
}

// account returns the ledger of owner, creating it on first use.
func (e *Engine) account(owner string) *ledger {
	if a, ok := e.accounts[owner]; ok {
		return a
	}
	a := &ledger{
		name:      owner,
		unlimited: strings.HasPrefix(owner, "__"),
		balance:   make(map[string]float64, len(e.startBal)),
		pos:       make([]posState, len(e.insts)),
		closed:    make(map[string]Order),
	}
	for c, v := range e.startBal {
		a.balance[c] = v
	}
	e.accounts[owner] = a
	return a
}

// applyFill books one execution into a position and returns the realized
// PnL (coin) of the part that reduced it.
func (p *posState) applyFill(in *instState, buy bool, lots int64, price float64) float64 {
	p.touched = true
	sign := int64(1)
	if !buy {
		sign = -1
	}
	realized := 0.0
	if p.lots*sign < 0 { // reducing
		closeLots := min(lots, abs64(p.lots))
		amt := float64(closeLots) * in.step
		if p.lots < 0 {
			amt = -amt
		}
		if in.option {
			realized = amt * (price - p.avg)
		} else {
			realized = amt * (1/p.avg - 1/price)
		}
		p.lots += sign * closeLots
		lots -= closeLots
		if p.lots == 0 {
			p.avg = 0
		}
	}
	if lots > 0 { // increasing (or flipping)
		old := float64(abs64(p.lots))
		add := float64(lots)
		switch {
		case old == 0:
			p.avg = price
		case in.option:
			p.avg = (old*p.avg + add*price) / (old + add)
		default:
			p.avg = (old + add) / (old/p.avg + add/price)
		}
		p.lots += sign * lots
	}
	p.realized += realized
	return realized
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// mark is the mark price of an instrument: the one set with SetMarkPrice,
// else the mid of its book when both sides have orders, else its fair
// value (the index for futures, the model value for options).
func (e *Engine) mark(in *instState) float64 {
	if in.markSet > 0 {
		return in.markSet
	}
	b, a := in.bids.best(), in.asks.best()
	if b != nil && a != nil {
		return in.price(b.ticks+a.ticks) / 2
	}
	return e.fair(in)
}

func (e *Engine) fair(in *instState) float64 {
	idx := e.index[in.inst.BaseCurrency]
	if in.option {
		return in.optionFair(idx, e.now, defaultOptionVol)
	}
	return idx
}

// band is the [min_price, max_price] range of an instrument in ticks: buys
// above max and sells below min are rejected. Futures: mark ±5%; options:
// one tick to mark × 1.5 + 0.01; both ends within [1, maxSteps] ticks.
func (e *Engine) band(in *instState) (lo, hi int64) {
	m := e.mark(in)
	if in.option {
		return 1, clampSteps(math.Ceil((m*1.5+0.01)/in.tick - 1e-9))
	}
	// clamped to [1, maxSteps]: a huge index must not wrap the int64 conversion
	return clampSteps(math.Ceil(m * 0.95 / in.tick)), clampSteps(math.Floor(m * 1.05 / in.tick))
}

// im is the initial margin (coin) of a signed position of x lots at mark m.
func (e *Engine) im(in *instState, x int64, m float64) float64 {
	if x == 0 || m <= 0 {
		return 0
	}
	amt := float64(abs64(x)) * in.step
	if !in.option {
		return amt / m / in.maxLev
	}
	if x > 0 {
		return amt * m
	}
	idx := e.index[in.inst.BaseCurrency]
	otm := 0.0
	if idx > 0 {
		if in.call {
			otm = math.Max(in.inst.Strike-idx, 0) / idx
		} else {
			otm = math.Max(idx-in.inst.Strike, 0) / idx
		}
	}
	return amt * (math.Max(shortOptIMBase-otm, shortOptIMFloor) + m)
}

// mm is the maintenance margin (coin) of a signed position of x lots.
func (e *Engine) mm(in *instState, x int64, m float64) float64 {
	if x == 0 || m <= 0 {
		return 0
	}
	amt := float64(abs64(x)) * in.step
	switch {
	case !in.option:
		return amt / m / in.maxLev / 2
	case x > 0:
		return amt * m
	default:
		return amt * (shortOptMM + m)
	}
}

// projectedIM is the IM of a position with its open orders, plus extra
// hypothetical resting lots.
func (e *Engine) projectedIM(in *instState, p *posState, m float64, extraBuy, extraSell int64) float64 {
	return math.Max(e.im(in, p.lots+p.openBuy+extraBuy, m), e.im(in, p.lots-p.openSell-extraSell, m))
}

// floating is the unrealized PnL (coin) of a position at mark m.
func floating(in *instState, p *posState, m float64) float64 {
	if p.lots == 0 || m <= 0 {
		return 0
	}
	amt := float64(p.lots) * in.step
	if in.option {
		return amt * (m - p.avg)
	}
	return amt * (1/p.avg - 1/m)
}

// margins is an account's state in one settlement currency.
type margins struct {
	balance, equity, im, mm   float64
	futUPL, optValue, optUPL  float64
	futRPL, optRPL, deltaCoin float64
}

// margins computes an account's margins in currency cur, with extra
// hypothetical resting lots on instrument extraIn.
func (e *Engine) margins(a *ledger, cur string, extraIn *instState, extraBuy, extraSell int64) margins {
	r := margins{balance: a.balance[cur]}
	for _, in := range e.insts {
		if in.inst.SettlementCurrency != cur {
			continue
		}
		p := &a.pos[in.idx]
		var eb, es int64
		if in == extraIn {
			eb, es = extraBuy, extraSell
		}
		if p.lots == 0 && p.openBuy == 0 && p.openSell == 0 && eb == 0 && es == 0 && p.realized == 0 {
			continue
		}
		m := e.mark(in)
		r.im += e.projectedIM(in, p, m, eb, es)
		r.mm += e.mm(in, p.lots, m)
		if in.option {
			r.optValue += float64(p.lots) * in.step * m
			r.optUPL += floating(in, p, m)
			r.optRPL += p.realized
		} else {
			r.futUPL += floating(in, p, m)
			r.futRPL += p.realized
		}
		r.deltaCoin += e.delta(in, p, m)
	}
	r.equity = r.balance + r.futUPL + r.optValue
	return r
}

// delta is a position's delta in coin.
func (e *Engine) delta(in *instState, p *posState, m float64) float64 {
	if p.lots == 0 {
		return 0
	}
	size := float64(p.lots) * in.step
	if !in.option {
		if m <= 0 {
			return 0
		}
		return size / m
	}
	idx := e.index[in.inst.BaseCurrency]
	t := float64(in.inst.ExpirationTimestamp-e.now) / msPerYear
	return size * bsDelta(in.call, idx, in.inst.Strike, t, defaultOptionVol)
}

// position renders a position.
func (e *Engine) position(a *ledger, in *instState) Position {
	p := &a.pos[in.idx]
	m := e.mark(in)
	size := in.amount(p.lots)
	dir := "zero"
	switch {
	case p.lots > 0:
		dir = "buy"
	case p.lots < 0:
		dir = "sell"
	}
	posIM := e.im(in, p.lots, m)
	projIM := e.projectedIM(in, p, m, 0, 0)
	fl := floating(in, p, m)
	pos := Position{
		InstrumentName:     in.inst.InstrumentName,
		Kind:               in.inst.Kind,
		Size:               size,
		Direction:          dir,
		AveragePrice:       roundDec(p.avg, in.priceDec+4),
		MarkPrice:          m,
		IndexPrice:         e.index[in.inst.BaseCurrency],
		FloatingProfitLoss: fl,
		RealizedProfitLoss: p.realized,
		TotalProfitLoss:    fl + p.realized,
		InitialMargin:      posIM,
		MaintenanceMargin:  e.mm(in, p.lots, m),
		OpenOrdersMargin:   projIM - posIM,
		Delta:              e.delta(in, p, m),
	}
	if in.option {
		pos.SizeCurrency = size
	} else {
		pos.Leverage = int(in.maxLev)
		if m > 0 {
			pos.SizeCurrency = size / m
		}
	}
	return pos
}

// Position returns owner's position in instrument (size 0, direction
// "zero" when it has none). An unknown instrument is error 10020.
func (e *Engine) Position(owner, instrument string) (Position, *Error) {
	in, ok := e.byName[instrument]
	if !ok {
		return Position{}, NewError(CodeInvalidInstrument, map[string]string{"param": "instrument_name", "reason": "unknown instrument"})
	}
	return e.position(e.account(owner), in), nil
}

// Positions returns owner's positions in every instrument it has traded,
// in instrument id order, filtered by base currency ("any" or "" for all,
// case-insensitive) and kind ("" for all, "future", "option").
func (e *Engine) Positions(owner, currency, kind string) []Position {
	a := e.account(owner)
	var out []Position
	for _, in := range e.insts {
		if !a.pos[in.idx].touched {
			continue
		}
		if currency != "" && !strings.EqualFold(currency, "any") && !strings.EqualFold(currency, in.inst.BaseCurrency) {
			continue
		}
		if kind != "" && kind != "any" && kind != in.inst.Kind {
			continue
		}
		out = append(out, e.position(a, in))
	}
	return out
}

// knownCurrency reports whether cur is one of the engine's currencies.
func (e *Engine) knownCurrency(cur string) bool {
	for _, c := range e.currencies {
		if c.Currency == cur {
			return true
		}
	}
	_, ok := e.startBal[cur]
	return ok
}

// AccountSummary returns owner's account in one currency. Balance moves
// with fees, option premiums and realized futures PnL as they happen;
// equity = balance + futures floating PnL + options value at mark;
// available_funds = equity − initial margin (positions and open orders).
// An unknown currency is error -32602.
func (e *Engine) AccountSummary(owner, currency string) (AccountSummary, *Error) {
	cur := strings.ToUpper(currency)
	if !e.knownCurrency(cur) {
		return AccountSummary{}, paramError("currency", "unknown currency")
	}
	a := e.account(owner)
	r := e.margins(a, cur, nil, 0, 0)
	avail := r.equity - r.im
	return AccountSummary{
		Currency:                 cur,
		Balance:                  r.balance,
		Equity:                   r.equity,
		AvailableFunds:           avail,
		AvailableWithdrawalFunds: math.Max(0, math.Min(avail, r.balance)),
		MarginBalance:            r.equity,
		InitialMargin:            r.im,
		MaintenanceMargin:        r.mm,
		TotalPL:                  r.futUPL + r.optUPL + r.futRPL + r.optRPL,
		SessionUPL:               r.futUPL + r.optUPL,
		SessionRPL:               r.futRPL + r.optRPL,
		FuturesPL:                r.futUPL + r.futRPL,
		OptionsPL:                r.optUPL + r.optRPL,
		DeltaTotal:               r.deltaCoin,
		ProjectedInitialMargin:   r.im,
	}, nil
}
