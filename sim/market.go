package sim

import (
	"math"
	"math/rand/v2"
)

// Owners the synthetic market trades as. Owners starting with "__" have
// unlimited funds.
const (
	MarketMakerOwner = "__market"
	FlowOwner        = "__flow"
)

// MarketConfig configures the synthetic market. A zero field takes its
// default; where a field's zero is meaningful, a negative value selects it.
type MarketConfig struct {
	// Seed of the market's PCG random source. The market is fully
	// deterministic for a given seed, engine state and sequence of Step
	// times.
	Seed int64
	// Levels is how many price levels the market maker quotes per side per
	// instrument. Default 10.
	Levels int
	// Volatility is the annualised volatility of the index random walk
	// (geometric Brownian motion, no drift). Default 0.5 (50%/year).
	// Negative: the index never moves.
	Volatility float64
	// OptionVolatility is the implied volatility options are priced at
	// (Black–Scholes, zero rates). Default 0.6.
	OptionVolatility float64
	// HalfSpreadTicks is the distance, in ticks, from a future's fair value
	// to the market maker's best bid and ask. Default 2.
	HalfSpreadTicks int
	// OptionHalfSpreadTicks is the same for options. Default 2 (0.001 BTC).
	OptionHalfSpreadTicks int
	// LevelSpacingTicks is the distance between two levels of the ladder,
	// in ticks. Default 1.
	LevelSpacingTicks int
	// LevelLots is the mean size of a ladder level in lots (one lot =
	// min_trade_amount: 10 USD on BTC-PERPETUAL, 0.1 BTC on options); each
	// level is uniform in [1, 2×LevelLots]. Default 10.
	LevelLots int
	// FlowProbability is the probability, per instrument per Step, that a
	// synthetic taker sends a market order. Default 0.1; negative: no flow.
	FlowProbability float64
	// FlowMaxLots is the largest flow order, in lots; sizes are uniform in
	// [1, FlowMaxLots]. Default 5.
	FlowMaxLots int
	// FuturesBasis is the annualised premium of dated futures over the
	// index. Default 0.05 (5%/year); negative values are used as given.
	FuturesBasis float64
}

func (c MarketConfig) withDefaults() MarketConfig {
	if c.Levels <= 0 {
		c.Levels = 10
	}
	if c.Volatility == 0 {
		c.Volatility = 0.5
	}
	if c.Volatility < 0 {
		c.Volatility = 0
	}
	if c.OptionVolatility <= 0 {
		c.OptionVolatility = 0.6
	}
	if c.HalfSpreadTicks <= 0 {
		c.HalfSpreadTicks = 2
	}
	if c.OptionHalfSpreadTicks <= 0 {
		c.OptionHalfSpreadTicks = 2
	}
	if c.LevelSpacingTicks <= 0 {
		c.LevelSpacingTicks = 1
	}
	if c.LevelLots <= 0 {
		c.LevelLots = 10
	}
	if c.FlowProbability == 0 {
		c.FlowProbability = 0.1
	}
	if c.FlowMaxLots <= 0 {
		c.FlowMaxLots = 5
	}
	if c.FuturesBasis == 0 {
		c.FuturesBasis = 0.05
	}
	return c
}

// Market is the simulator's synthetic market: it moves the index prices,
// keeps a market maker's ladder on every instrument and sends random taker
// flow, all through the Engine's public operations, so its orders, trades
// and book changes reach the Listener like a client's. Like the Engine it
// is not safe for concurrent use: call Step under the engine's lock.
type Market struct {
	e       *Engine
	cfg     MarketConfig
	rng     *rand.Rand
	lastMs  int64
	started bool
	bases   []string    // index currencies, in instrument order
	quotes  [][]mmQuote // market maker's resting orders, per instrument
	have    [][2][]bool // scratch: which ladder slots are quoted
	errs    int         // engine errors the market received (a bug if not 0)
	lastErr *Error
}

type mmQuote struct {
	ticks int64
	buy   bool
	id    string
}

// NewMarket returns a market trading on e. It places nothing until the
// first Step.
func NewMarket(e *Engine, cfg MarketConfig) *Market {
	cfg = cfg.withDefaults()
	m := &Market{
		e:      e,
		cfg:    cfg,
		rng:    rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)),
		quotes: make([][]mmQuote, len(e.insts)),
		have:   make([][2][]bool, len(e.insts)),
	}
	seen := map[string]bool{}
	for i, in := range e.insts {
		if b := in.inst.BaseCurrency; !seen[b] {
			seen[b] = true
			m.bases = append(m.bases, b)
		}
		m.have[i] = [2][]bool{make([]bool, cfg.Levels), make([]bool, cfg.Levels)}
	}
	return m
}

// Step advances the market to nowMs: it moves each index by a geometric
// random walk over the time since the previous Step (none on the first),
// re-quotes the market maker's ladder around each instrument's new fair
// value (cancelling only the levels that moved and placing only the
// missing ones), then, with FlowProbability per instrument, sends a market
// order of random side and size that takes from the book, clients' orders
// included.
func (m *Market) Step(nowMs int64) {
	e := m.e
	if m.started && nowMs > m.lastMs && m.cfg.Volatility > 0 {
		dt := float64(nowMs-m.lastMs) / msPerYear
		sig := m.cfg.Volatility
		for _, b := range m.bases {
			z := m.rng.NormFloat64()
			s := e.index[b] * math.Exp(sig*math.Sqrt(dt)*z-0.5*sig*sig*dt)
			e.SetIndexPrice(b, s)
		}
	}
	if !m.started || nowMs > m.lastMs {
		m.lastMs = nowMs
	}
	m.started = true
	e.touchTime(nowMs)
	for _, in := range e.insts {
		m.requote(nowMs, in)
	}
	if m.cfg.FlowProbability > 0 {
		for _, in := range e.insts {
			if m.rng.Float64() >= m.cfg.FlowProbability {
				continue
			}
			dir := "buy"
			if m.rng.IntN(2) == 1 {
				dir = "sell"
			}
			lots := int64(1 + m.rng.IntN(m.cfg.FlowMaxLots))
			_, _, err := e.Place(nowMs, OrderRequest{
				Instrument: in.inst.InstrumentName,
				Direction:  dir,
				Amount:     in.amount(lots),
				Type:       "market",
				Owner:      FlowOwner,
				API:        true,
			})
			m.noteErr(err)
		}
	}
}

func (m *Market) noteErr(err *Error) {
	if err != nil {
		m.errs++
		m.lastErr = err
	}
}

// fair is the market's value of an instrument, in its price unit.
func (m *Market) fair(nowMs int64, in *instState) float64 {
	idx := m.e.index[in.inst.BaseCurrency]
	if in.option {
		return in.optionFair(idx, nowMs, m.cfg.OptionVolatility)
	}
	if in.inst.SettlementPeriod == "perpetual" {
		return idx
	}
	t := math.Max(0, float64(in.inst.ExpirationTimestamp-nowMs)/msPerYear)
	return idx * (1 + m.cfg.FuturesBasis*t)
}

// requote moves the market maker's ladder on one instrument.
func (m *Market) requote(nowMs int64, in *instState) {
	e := m.e
	L := int64(m.cfg.Levels)
	sp := int64(m.cfg.LevelSpacingTicks)
	hs := float64(m.cfg.HalfSpreadTicks)
	if in.option {
		hs = float64(m.cfg.OptionHalfSpreadTicks)
	}
	ft := m.fair(nowMs, in) / in.tick
	bidTop := int64(math.Floor(ft - hs))
	askTop := int64(math.Ceil(ft + hs))
	if askTop <= bidTop {
		askTop = bidTop + 1
	}
	askTop = max(askTop, 1)
	// slot returns the ladder index of a price on a side, or -1.
	slot := func(buy bool, t int64) int {
		d := t - askTop
		if buy {
			d = bidTop - t
		}
		if t < 1 || d < 0 || d%sp != 0 || d/sp >= L {
			return -1
		}
		return int(d / sp)
	}
	have := m.have[in.idx]
	clear(have[0])
	clear(have[1])
	qs := m.quotes[in.idx]
	kept := qs[:0]
	for _, q := range qs {
		if _, open := e.orders[q.id]; !open {
			continue // filled (or cancelled) since the last step
		}
		k := slot(q.buy, q.ticks)
		side := 1
		if q.buy {
			side = 0
		}
		if k < 0 || have[side][k] {
			_, err := e.Cancel(nowMs, MarketMakerOwner, q.id, "user_request")
			m.noteErr(err)
			continue
		}
		have[side][k] = true
		kept = append(kept, q)
	}
	clear(qs[len(kept):])
	qs = kept
	for side, buy := range [2]bool{true, false} {
		for k := int64(0); k < L; k++ {
			if have[side][k] {
				continue
			}
			t := askTop + k*sp
			dir := "sell"
			if buy {
				t = bidTop - k*sp
				dir = "buy"
			}
			if t < 1 {
				break
			}
			lo, hi := e.band(in)
			if (buy && t > hi) || (!buy && t < lo) {
				continue
			}
			lots := int64(1 + m.rng.IntN(2*m.cfg.LevelLots))
			o, _, err := e.Place(nowMs, OrderRequest{
				Instrument:  in.inst.InstrumentName,
				Direction:   dir,
				Amount:      in.amount(lots),
				Type:        "limit",
				Price:       in.price(t),
				HasPrice:    true,
				TimeInForce: "good_til_cancelled",
				Owner:       MarketMakerOwner,
				API:         true,
			})
			m.noteErr(err)
			if err == nil && o.OrderState == "open" {
				qs = append(qs, mmQuote{ticks: t, buy: buy, id: o.OrderID})
			}
		}
	}
	m.quotes[in.idx] = qs
}
