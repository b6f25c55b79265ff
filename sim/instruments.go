package sim

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Starting index prices of the default instruments, in USD.
const (
	DefaultBTCIndex = 60000.0
	DefaultETHIndex = 3000.0
)

// PerpetualExpiration is the expiration_timestamp Deribit gives perpetuals
// (3000-01-01T00:00:00Z).
const PerpetualExpiration int64 = 32503708800000

// defaultOptionVol is the implied volatility the engine prices an option at
// when its book is one-sided or empty (the fallback of its mark price).
const defaultOptionVol = 0.6

// msPerYear converts a time to expiry in ms into years (365 days).
const msPerYear = 365 * 24 * 3600 * 1000.0

// DefaultInstruments returns the simulator's instruments, deterministically
// for a given start: BTC-PERPETUAL and ETH-PERPETUAL (inverse perpetuals), one
// dated inverse BTC future that expires at 08:00 UTC on the last Friday of the
// quarter after start's quarter (start in Nov 2025 gives BTC-27MAR26), and
// four BTC options on that expiry (strikes 60000 and 70000, call and put).
// instrument_id runs 1, 2, … in that order.
func DefaultInstruments(start time.Time) []Instrument {
	created := start.UnixMilli()
	exp := quarterlyExpiry(start)
	expMs := exp.UnixMilli()
	dated := "BTC-" + expiryCode(exp)

	future := func(name, base string, tick, size float64, expiry int64, period string) Instrument {
		return Instrument{
			InstrumentName:       name,
			Kind:                 "future",
			InstrumentType:       "reversed",
			BaseCurrency:         base,
			QuoteCurrency:        "USD",
			CounterCurrency:      "USD",
			SettlementCurrency:   base,
			PriceIndex:           strings.ToLower(base) + "_usd",
			TickSize:             tick,
			ContractSize:         size,
			MinTradeAmount:       size,
			MakerCommission:      0,
			TakerCommission:      0.0005,
			MaxLeverage:          50,
			SettlementPeriod:     period,
			CreationTimestamp:    created,
			ExpirationTimestamp:  expiry,
			IsActive:             true,
			State:                "open",
			BlockTradeCommission: 0.00025,
		}
	}
	option := func(strike float64, typ string) Instrument {
		suffix := "C"
		if typ == "put" {
			suffix = "P"
		}
		return Instrument{
			InstrumentName:       fmt.Sprintf("%s-%d-%s", dated, int64(strike), suffix),
			Kind:                 "option",
			InstrumentType:       "reversed",
			BaseCurrency:         "BTC",
			QuoteCurrency:        "BTC",
			CounterCurrency:      "USD",
			SettlementCurrency:   "BTC",
			PriceIndex:           "btc_usd",
			TickSize:             0.0005,
			ContractSize:         1,
			MinTradeAmount:       0.1,
			MakerCommission:      0.0003,
			TakerCommission:      0.0003,
			SettlementPeriod:     "month",
			CreationTimestamp:    created,
			ExpirationTimestamp:  expMs,
			IsActive:             true,
			State:                "open",
			Strike:               strike,
			OptionType:           typ,
			BlockTradeCommission: 0.0003,
		}
	}
	out := []Instrument{
		future("BTC-PERPETUAL", "BTC", 0.5, 10, PerpetualExpiration, "perpetual"),
		future("ETH-PERPETUAL", "ETH", 0.05, 1, PerpetualExpiration, "perpetual"),
		future(dated, "BTC", 2.5, 10, expMs, "month"),
		option(60000, "call"),
		option(60000, "put"),
		option(70000, "call"),
		option(70000, "put"),
	}
	for i := range out {
		out[i].InstrumentID = i + 1
	}
	return out
}

// quarterlyExpiry is 08:00 UTC on the last Friday of the last month of the
// quarter that follows start's quarter.
func quarterlyExpiry(start time.Time) time.Time {
	s := start.UTC()
	q := (int(s.Month()) - 1) / 3 // 0..3
	month := (q+1)*3 + 3          // last month of the next quarter, 6..15
	year := s.Year()
	if month > 12 {
		month -= 12
		year++
	}
	// Day 0 of the following month is the last day of month.
	d := time.Date(year, time.Month(month)+1, 0, 8, 0, 0, 0, time.UTC)
	for d.Weekday() != time.Friday {
		d = d.AddDate(0, 0, -1)
	}
	return d
}

// expiryCode is Deribit's DMMMYY: 5AUG23, 27MAR26.
func expiryCode(t time.Time) string {
	return fmt.Sprintf("%d%s%02d", t.Day(), strings.ToUpper(t.Month().String()[:3]), t.Year()%100)
}

// WithdrawalPriority is one entry of a currency's withdrawal_priorities.
type WithdrawalPriority struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// Currency is one entry of public/get_currencies.
type Currency struct {
	Currency             string               `json:"currency"`
	CurrencyLong         string               `json:"currency_long"`
	FeePrecision         int                  `json:"fee_precision"`
	MinConfirmations     int                  `json:"min_confirmations"`
	MinWithdrawalFee     float64              `json:"min_withdrawal_fee"`
	WithdrawalFee        float64              `json:"withdrawal_fee"`
	WithdrawalPriorities []WithdrawalPriority `json:"withdrawal_priorities"` // never nil, so it marshals as []
	CoinType             string               `json:"coin_type"`
	APR                  *float64             `json:"apr,omitempty"` // yield-bearing currencies only
}

// DefaultCurrencies returns BTC, ETH and USDC as public/get_currencies
// describes them (values from Deribit's documentation example).
func DefaultCurrencies() []Currency {
	return []Currency{
		{
			Currency: "BTC", CurrencyLong: "Bitcoin", FeePrecision: 4, MinConfirmations: 1,
			MinWithdrawalFee: 0.0001, WithdrawalFee: 0.0001, CoinType: "BITCOIN",
			WithdrawalPriorities: []WithdrawalPriority{{Name: "very_low", Value: 0.15}, {Name: "very_high", Value: 1.5}},
		},
		{
			Currency: "ETH", CurrencyLong: "Ethereum", FeePrecision: 4, MinConfirmations: 1,
			MinWithdrawalFee: 0.0001, WithdrawalFee: 0.0006, CoinType: "ETHER",
			WithdrawalPriorities: []WithdrawalPriority{},
		},
		{
			Currency: "USDC", CurrencyLong: "USD Coin", FeePrecision: 4, MinConfirmations: 1,
			MinWithdrawalFee: 1, WithdrawalFee: 1, CoinType: "ETHER",
			WithdrawalPriorities: []WithdrawalPriority{},
		},
	}
}

// instState is the engine's view of one instrument: its static parameters in
// integer form, its book, and its running statistics.
type instState struct {
	inst     Instrument
	idx      int
	option   bool
	call     bool
	tick     float64 // price of one tick
	step     float64 // amount of one lot (min_trade_amount)
	priceDec int     // decimals that print a price exactly
	amtDec   int     // decimals that print an amount exactly
	idPrefix string  // "" for BTC, "ETH-" for ETH … (order and trade ids)
	maxLev   float64

	bids, asks bookSide
	changeID   int64

	tradeSeq  int64
	hasLast   bool
	lastTicks int64
	lastDir   int // tick_direction of the last trade
	firstPx   float64
	high, low float64
	volume    float64 // base currency
	volumeUSD float64
	volNotion float64
	oiLots    int64 // sum of long positions, in lots

	markSet float64 // a mark price set from outside (SetMarkPrice); 0: none
}

func newInstState(in Instrument, idx int) *instState {
	s := &instState{
		inst:     in,
		idx:      idx,
		option:   in.Kind == "option",
		call:     in.OptionType == "call",
		tick:     in.TickSize,
		step:     in.MinTradeAmount,
		priceDec: decimalsOf(in.TickSize),
		amtDec:   decimalsOf(in.MinTradeAmount),
		maxLev:   in.MaxLeverage,
	}
	if s.step <= 0 {
		s.step = in.ContractSize
	}
	if s.maxLev <= 0 {
		s.maxLev = 1
	}
	if in.BaseCurrency != "BTC" {
		s.idPrefix = in.BaseCurrency + "-"
	}
	s.bids.buy = true
	return s
}

// decimalsOf is the number of decimals needed to print v exactly (at most 10).
func decimalsOf(v float64) int {
	for d := 0; d < 10; d++ {
		p := v * math.Pow10(d)
		if math.Abs(p-math.Round(p)) < 1e-9*math.Max(1, math.Abs(p)) {
			return d
		}
	}
	return 10
}

// roundDec rounds v to d decimals, removing binary noise from tick and lot
// products (3 × 0.1 → 0.3).
func roundDec(v float64, d int) float64 {
	p := math.Pow10(d)
	return math.Round(v*p) / p
}

// price converts ticks to a price.
func (s *instState) price(ticks int64) float64 {
	return roundDec(float64(ticks)*s.tick, s.priceDec)
}

// amount converts lots to an amount (USD for inverse futures, coin for options).
func (s *instState) amount(lots int64) float64 {
	return roundDec(float64(lots)*s.step, s.amtDec)
}

// contracts converts lots to contracts.
func (s *instState) contracts(lots int64) float64 {
	return roundDec(float64(lots)*s.step/s.inst.ContractSize, 8)
}

// maxSteps bounds every price in ticks and every order amount in lots that
// the engine accepts (1e12 ≈ 2^40). The engine's int64 arithmetic on lots
// and ticks is additive only: level and open-order totals, positions, open
// interest, lots + open orders + extra in margin projections, bid + ask
// ticks for the mid, ±1 tick for post-only. One value is at most 2^40, so a
// sum only overflows int64 (2^63) after about 9.2 million maximal orders or
// fills; lots × ticks products (notional, premium, margin, average price)
// are only ever formed in float64, where ≤ 1e24 is far from overflow. Below
// 2^53 every count is an exact float64, and 1e12 still allows absurd sizes
// (1e13 USD of BTC-PERPETUAL, a 5e11 USD price) for the default instruments.
const maxSteps = 1e12

// stepsInRange reports whether q (a price in ticks or an amount in lots,
// before rounding) rounds to a count in [1, maxSteps]; false for NaN and ±Inf.
func stepsInRange(q float64) bool {
	r := math.Round(q)
	return r >= 1 && r <= maxSteps
}

// toSteps rounds q to a count of ticks or lots. ok is false when q is not
// within float noise of an integer or when it is out of range (the count is
// then 0: never a wrapped int64 conversion).
func toSteps(q float64) (int64, bool) {
	if !stepsInRange(q) {
		return 0, false
	}
	r := math.Round(q)
	// 1e-14 relative is ~20× the error of q = a/step from float inputs, and
	// keeps the multiple check meaningful (≤ 0.01 step) up to maxSteps.
	return int64(r), math.Abs(q-r) <= 1e-6+1e-14*math.Abs(q)
}

// toTicks converts a price to ticks; ok is false when the price is not a
// multiple of the tick size or is outside [1, maxSteps] ticks.
func (s *instState) toTicks(p float64) (int64, bool) { return toSteps(p / s.tick) }

// toLots converts an amount to lots; ok is false when it is not a multiple
// of the lot size or is outside [1, maxSteps] lots.
func (s *instState) toLots(a float64) (int64, bool) { return toSteps(a / s.step) }

// clampSteps converts a float count of ticks to int64 within [1, maxSteps]
// (NaN gives 1).
func clampSteps(v float64) int64 {
	switch {
	case !(v >= 1):
		return 1
	case v > maxSteps:
		return maxSteps
	}
	return int64(v)
}

// normCDF is the standard normal distribution function.
func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// bsPrice is the Black–Scholes value (zero rates) of a European option on
// spot s with strike k, t years to expiry and volatility vol, in USD. At or
// after expiry it is the intrinsic value.
func bsPrice(call bool, s, k, t, vol float64) float64 {
	if s <= 0 || k <= 0 {
		return 0
	}
	if t <= 0 || vol <= 0 {
		if call {
			return math.Max(s-k, 0)
		}
		return math.Max(k-s, 0)
	}
	sq := vol * math.Sqrt(t)
	d1 := (math.Log(s/k) + 0.5*vol*vol*t) / sq
	d2 := d1 - sq
	if call {
		return s*normCDF(d1) - k*normCDF(d2)
	}
	return k*normCDF(-d2) - s*normCDF(-d1)
}

// bsDelta is the Black–Scholes delta of the same option (per unit of
// underlying; the delta of an inverse option in BTC differs by the premium,
// which the simulator ignores).
func bsDelta(call bool, s, k, t, vol float64) float64 {
	if s <= 0 || k <= 0 {
		return 0
	}
	if t <= 0 || vol <= 0 {
		switch {
		case call && s > k:
			return 1
		case !call && s < k:
			return -1
		}
		return 0
	}
	d1 := (math.Log(s/k) + 0.5*vol*vol*t) / (vol * math.Sqrt(t))
	if call {
		return normCDF(d1)
	}
	return normCDF(d1) - 1
}

// optionFair is the model value of an option instrument in its quote
// currency (BTC per contract) at index s and time nowMs.
func (s *instState) optionFair(index float64, nowMs int64, vol float64) float64 {
	if index <= 0 {
		return 0
	}
	t := float64(s.inst.ExpirationTimestamp-nowMs) / msPerYear
	return bsPrice(s.call, index, s.inst.Strike, t, vol) / index
}
