package host

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/stratbox/stratbox/abi"
)

// RiskLimits are the host's limits on one plugin's trading. A zero field is
// no limit, except where a default is given.
type RiskLimits struct {
	// MaxOrderAmount caps one order's amount (amount unit of the instrument).
	MaxOrderAmount abi.Fixed
	// MaxOpenOrders caps the plugin's orders that are not final.
	MaxOpenOrders int
	// MaxPosition caps |position| per instrument, counting every open order
	// of the same side as if it filled completely.
	MaxPosition abi.Fixed
	// MaxNotional caps the notional of the plugin's open orders, in the
	// quote currency: amount for inverse instruments (whose amounts are
	// quote currency already), amount × price otherwise.
	MaxNotional float64
	// PriceBandBps refuses limit prices farther than this from the last
	// mark price (basis points; 0: no band). No mark known: no check.
	PriceBandBps float64
	// IntentsPerSecond and IntentBurst bound the plugin's intents (token
	// bucket). Defaults 100 and 200. Negative rate: no limit.
	IntentsPerSecond float64
	IntentBurst      int
	// FloodLimit is how many intents, valid or not, within one second make
	// the plugin a flooder: its instance is stopped (fault kind "flood")
	// and its orders handled as after any fault. Default 1000. Negative:
	// no limit.
	FloodLimit int
}

// Defaults of RiskLimits.
const (
	DefaultIntentsPerSecond = 100
	DefaultIntentBurst      = 200
	DefaultFloodLimit       = 1000
)

func (l RiskLimits) withDefaults() RiskLimits {
	if l.IntentsPerSecond == 0 {
		l.IntentsPerSecond = DefaultIntentsPerSecond
	}
	if l.IntentBurst == 0 {
		l.IntentBurst = DefaultIntentBurst
	}
	if l.FloodLimit == 0 {
		l.FloodLimit = DefaultFloodLimit
	}
	return l
}

// Validate reports the first invalid limit.
func (l RiskLimits) Validate() error {
	switch {
	case l.MaxOrderAmount < 0:
		return fmt.Errorf("%w: max_order_amount is negative", ErrConfig)
	case l.MaxOpenOrders < 0:
		return fmt.Errorf("%w: max_open_orders is negative", ErrConfig)
	case l.MaxPosition < 0:
		return fmt.Errorf("%w: max_position is negative", ErrConfig)
	case l.MaxNotional < 0 || math.IsNaN(l.MaxNotional) || math.IsInf(l.MaxNotional, 0):
		return fmt.Errorf("%w: max_notional must be a finite number ≥ 0", ErrConfig)
	case l.PriceBandBps < 0 || math.IsNaN(l.PriceBandBps) || math.IsInf(l.PriceBandBps, 0):
		return fmt.Errorf("%w: price_band_bps must be a finite number ≥ 0", ErrConfig)
	case math.IsNaN(l.IntentsPerSecond) || math.IsInf(l.IntentsPerSecond, 0):
		return fmt.Errorf("%w: intents_per_second must be finite", ErrConfig)
	case l.IntentBurst < 0:
		return fmt.Errorf("%w: intent_burst is negative", ErrConfig)
	}
	return nil
}

// exposure is what the risk checks need to know of a plugin's orders and
// position on one instrument (and its open notional over all of them).
type exposure struct {
	openOrders   int
	position     abi.Fixed // signed
	openBuy      abi.Fixed // remaining amount of open buy orders
	openSell     abi.Fixed
	openNotional float64
	mark         abi.Fixed // last mark price, 0 when unknown
}

// notional is an order's notional in the quote currency: the amount for
// inverse instruments, amount × price otherwise (0 when the price is not
// known: the caller refuses what it cannot value).
func notional(in *abi.Instrument, price, amount abi.Fixed) float64 {
	if in.Flags&abi.InstrumentInverse != 0 {
		return amount.Float64()
	}
	return amount.Float64() * max(price, 0).Float64()
}

// risk holds one plugin's rate limiter and the host's kill switch.
type risk struct {
	lim    RiskLimits
	killed *atomic.Bool // the host's kill switch, shared by every plugin

	tokens   float64
	last     time.Time
	floodWin time.Time
	floodN   int
}

func newRisk(l RiskLimits, killed *atomic.Bool) *risk {
	l = l.withDefaults()
	return &risk{lim: l, killed: killed, tokens: float64(l.IntentBurst)}
}

// admit takes a token for one valid intent; it reports the refusal reason
// (0 when admitted).
func (r *risk) admit(now time.Time) abi.Reason {
	if r.killed.Load() {
		return abi.ReasonRiskKillSwitch
	}
	if r.lim.IntentsPerSecond < 0 {
		return 0
	}
	if !r.last.IsZero() {
		r.tokens = min(float64(r.lim.IntentBurst), r.tokens+now.Sub(r.last).Seconds()*r.lim.IntentsPerSecond)
	}
	r.last = now
	if r.tokens >= 1 {
		r.tokens--
		return 0
	}
	return abi.ReasonRiskRate
}

// flooding counts n intents, valid or not, and reports whether the plugin
// has sent more than FloodLimit of them within the current second.
func (r *risk) flooding(now time.Time, n int) bool {
	if r.lim.FloodLimit <= 0 {
		return false
	}
	if r.floodWin.IsZero() || now.Sub(r.floodWin) >= time.Second {
		r.floodWin, r.floodN = now, 0
	}
	r.floodN += n
	return r.floodN > r.lim.FloodLimit
}

// Hard ceilings on any one order, whatever the configured limits (none
// included): a plugin's amount is int64 fixed point, and an order the
// host's own sums cannot hold is not an order anyone meant.
const (
	// MaxOrderAmountCeiling is the largest amount of one order: 10⁹
	// amount units (10¹⁷ fixed units; 92 such orders still fit an int64).
	MaxOrderAmountCeiling = abi.Fixed(1_000_000_000 * abi.FixedScale)
	// MaxOrderNotionalCeiling is the largest notional of one order, in
	// the quote currency (as RiskLimits.MaxNotional counts it).
	MaxOrderNotionalCeiling = 1e9
)

// satAdd is a+b, saturated at the int64 limits: the risk checks compare
// sums of amounts that a hostile plugin chooses, and a sum that wraps
// around would pass any limit.
func satAdd(a, b abi.Fixed) abi.Fixed {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}

// satSub is a-b, saturated at the int64 limits.
func satSub(a, b abi.Fixed) abi.Fixed {
	if b == math.MinInt64 {
		if a >= 0 {
			return math.MaxInt64
		}
		return a + math.MaxInt64 + 1
	}
	return satAdd(a, -b)
}

// ceilings refuses an order (or an amend's new terms) above the hard
// ceilings, or whose notional cannot be valued or is not a finite number.
func ceilings(in *abi.Instrument, price, amount abi.Fixed) abi.Reason {
	if amount > MaxOrderAmountCeiling {
		return abi.ReasonRiskMaxOrderAmount
	}
	if price <= 0 && in.Flags&abi.InstrumentInverse == 0 {
		return 0 // a market order without a mark: MaxNotional decides (it refuses what it cannot value)
	}
	if n := notional(in, price, amount); !(n <= MaxOrderNotionalCeiling) { // NaN too
		return abi.ReasonRiskMaxNotional
	}
	return 0
}

// checkPlace applies the limits to a validated place. Every sum is
// saturated (satAdd): no amount, however large, wraps a sum below a limit.
func (r *risk) checkPlace(p *abi.Place, in *abi.Instrument, ex *exposure) abi.Reason {
	l := &r.lim
	if l.MaxOrderAmount > 0 && p.Amount > l.MaxOrderAmount {
		return abi.ReasonRiskMaxOrderAmount
	}
	price := p.Price
	if p.Type == abi.Market {
		price = ex.mark
	}
	if r := ceilings(in, price, p.Amount); r != 0 {
		return r
	}
	if l.MaxOpenOrders > 0 && ex.openOrders >= l.MaxOpenOrders {
		return abi.ReasonRiskMaxOpenOrders
	}
	if l.MaxPosition > 0 && p.Flags&abi.ReduceOnly == 0 {
		if p.Side == abi.Buy && satAdd(satAdd(ex.position, ex.openBuy), p.Amount) > l.MaxPosition ||
			p.Side == abi.Sell && satSub(satSub(ex.position, ex.openSell), p.Amount) < -l.MaxPosition {
			return abi.ReasonRiskMaxPosition
		}
	}
	if l.MaxNotional > 0 {
		if price <= 0 && in.Flags&abi.InstrumentInverse == 0 {
			return abi.ReasonRiskMaxNotional // a market order's notional is not known without a mark
		}
		if n := ex.openNotional + notional(in, price, p.Amount); !(n <= l.MaxNotional) {
			return abi.ReasonRiskMaxNotional
		}
	}
	if p.Type == abi.Limit && outsideBand(l.PriceBandBps, p.Price, ex.mark) {
		return abi.ReasonRiskPriceBand
	}
	return 0
}

// checkAmend applies the limits to an amend of an open order o (its old
// price and remaining amount are part of ex; the amend replaces them).
func (r *risk) checkAmend(a *abi.Amend, o *order, in *abi.Instrument, ex *exposure) abi.Reason {
	l := &r.lim
	if l.MaxOrderAmount > 0 && a.Amount > l.MaxOrderAmount {
		return abi.ReasonRiskMaxOrderAmount
	}
	if r := ceilings(in, a.Price, a.Amount); r != 0 {
		return r
	}
	oldRest := satSub(o.amount, o.filled)
	newRest := satSub(a.Amount, o.filled)
	if l.MaxPosition > 0 && a.Flags&abi.ReduceOnly == 0 { // the amend's flags replace the order's
		if o.side == abi.Buy && satAdd(satSub(satAdd(ex.position, ex.openBuy), oldRest), newRest) > l.MaxPosition ||
			o.side == abi.Sell && satSub(satAdd(satSub(ex.position, ex.openSell), oldRest), newRest) < -l.MaxPosition {
			return abi.ReasonRiskMaxPosition
		}
	}
	if l.MaxNotional > 0 {
		n := ex.openNotional - notional(in, o.price, oldRest) + notional(in, a.Price, newRest)
		if !(n <= l.MaxNotional) {
			return abi.ReasonRiskMaxNotional
		}
	}
	if outsideBand(l.PriceBandBps, a.Price, ex.mark) {
		return abi.ReasonRiskPriceBand
	}
	return 0
}

func outsideBand(bps float64, price, mark abi.Fixed) bool {
	if bps <= 0 || mark <= 0 {
		return false
	}
	return math.Abs(price.Float64()-mark.Float64())/mark.Float64()*1e4 > bps
}

// validatePlace is steps 3 and 4 of abi/README.md "Validation of intents"
// for a place, except duplicate_cid (the order manager's): the record's
// reserved bytes and strings, the enumerations and flags, the instrument,
// the price against the tick and the amount against the minimum.
func validatePlace(rec []byte, p *abi.Place, table []abi.Instrument) abi.Reason {
	if !abi.ReservedZero(rec) || p.CID == 0 {
		return abi.ReasonMalformed
	}
	if p.Side != abi.Buy && p.Side != abi.Sell ||
		p.Type != abi.Limit && p.Type != abi.Market ||
		p.TIF < abi.GoodTilCancelled || p.TIF > abi.FillOrKill {
		return abi.ReasonMalformed
	}
	if r := validFlags(p.Flags, p.Type, p.TIF); r != 0 {
		return r
	}
	if p.Type == abi.Market && p.Price != 0 {
		return abi.ReasonMalformed
	}
	if int64(p.Instrument) >= int64(len(table)) {
		return abi.ReasonUnknownInstrument
	}
	in := &table[p.Instrument]
	if p.Type == abi.Limit {
		if r := validPrice(in, p.Price); r != 0 {
			return r
		}
	}
	return validAmount(in, p.Amount)
}

// validateAmend checks an amend's record, flags, price and amount against
// the order's instrument (the order's state is the order manager's check).
func validateAmend(rec []byte, a *abi.Amend, o *order, in *abi.Instrument) abi.Reason {
	if !abi.ReservedZero(rec) || a.CID == 0 {
		return abi.ReasonMalformed
	}
	if r := validFlags(a.Flags, o.typ, o.tif); r != 0 {
		return r
	}
	if o.typ == abi.Market {
		return abi.ReasonUnsupported
	}
	if r := validPrice(in, a.Price); r != 0 {
		return r
	}
	if r := validAmount(in, a.Amount); r != 0 {
		return r
	}
	if a.Amount <= o.filled {
		return abi.ReasonBadAmount
	}
	return 0
}

func validFlags(f abi.OrderFlags, typ abi.OrderType, tif abi.TimeInForce) abi.Reason {
	const known = abi.PostOnly | abi.RejectPostOnly | abi.ReduceOnly
	switch {
	case f&^known != 0:
		return abi.ReasonMalformed
	case f&abi.RejectPostOnly != 0 && f&abi.PostOnly == 0:
		return abi.ReasonMalformed
	case f&abi.PostOnly != 0 && (typ == abi.Market || tif == abi.ImmediateOrCancel || tif == abi.FillOrKill):
		return abi.ReasonMalformed
	}
	return 0
}

func validPrice(in *abi.Instrument, price abi.Fixed) abi.Reason {
	if price <= 0 {
		return abi.ReasonBadPrice
	}
	if tick := in.TickAt(price); tick > 0 && price%tick != 0 {
		return abi.ReasonBadTick
	}
	return 0
}

func validAmount(in *abi.Instrument, amount abi.Fixed) abi.Reason {
	if amount <= 0 {
		return abi.ReasonBadAmount
	}
	if amount < in.MinAmount {
		return abi.ReasonBelowMinAmount
	}
	if in.MinAmount > 0 && amount%in.MinAmount != 0 {
		return abi.ReasonBadAmount
	}
	return 0
}
