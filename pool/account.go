package pool

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// AccountLimits are the rate limits the exchange reports for the account
// (the `limits` of private/get_account_summary), in requests per second and
// burst.
type AccountLimits struct {
	MatchingRate, MatchingBurst       float64
	NonMatchingRate, NonMatchingBurst float64
}

// limitsJSON is the `limits` object. Deribit has given it two shapes:
// matching_engine {rate, burst} (and the simulator's), and matching_engine
// grouped by kind of request, the trading limits under trading.total.
type limitsJSON struct {
	NonMatching rateBurst `json:"non_matching_engine"`
	Matching    struct {
		rateBurst
		Trading struct {
			Total rateBurst `json:"total"`
		} `json:"trading"`
	} `json:"matching_engine"`
}

type rateBurst struct {
	Rate  float64 `json:"rate"`
	Burst float64 `json:"burst"`
}

// ParseAccountLimits reads the limits out of a private/get_account_summary
// result (which must have asked for them: extended, or the account's
// default). It fails when the result has no usable matching-engine limits.
func ParseAccountLimits(summary []byte) (AccountLimits, error) {
	var s struct {
		Limits *limitsJSON `json:"limits"`
	}
	if err := json.Unmarshal(summary, &s); err != nil {
		return AccountLimits{}, fmt.Errorf("pool: account summary: %w", err)
	}
	if s.Limits == nil {
		return AccountLimits{}, fmt.Errorf("pool: account summary: no limits")
	}
	m := s.Limits.Matching.rateBurst
	if t := s.Limits.Matching.Trading.Total; t.Rate > 0 {
		m = t
	}
	if !(m.Rate > 0) || !(m.Burst > 0) {
		return AccountLimits{}, fmt.Errorf("pool: account summary: matching-engine limits %+v", m)
	}
	return AccountLimits{MatchingRate: m.Rate, MatchingBurst: m.Burst,
		NonMatchingRate: s.Limits.NonMatching.Rate, NonMatchingBurst: s.Limits.NonMatching.Burst}, nil
}

// UseAccountLimits reads the account's rate limits from the exchange
// (private/get_account_summary of currency) and makes them the limiter's:
// the exchange knows the account's tier, a configuration may be stale. The
// non-matching limits replace the configured ones only when reported. It
// returns what it applied; with the limiter disabled it changes nothing.
func (p *Pool) UseAccountLimits(ctx context.Context, currency string) (AccountLimits, error) {
	params := strconv.AppendQuote([]byte(`{"currency":`), currency)
	params = append(params, `,"extended":true}`...)
	raw, err := p.CallRaw(ctx, "private/get_account_summary", params)
	if err != nil {
		return AccountLimits{}, fmt.Errorf("pool: account limits: %w", err)
	}
	al, err := ParseAccountLimits(raw)
	if err != nil {
		return AccountLimits{}, err
	}
	if err := p.limit.apply(al); err != nil {
		return AccountLimits{}, err
	}
	p.log.Info("pool: rate limits from the account", "matching_rate", al.MatchingRate, "matching_burst", al.MatchingBurst,
		"non_matching_rate", al.NonMatchingRate, "non_matching_burst", al.NonMatchingBurst)
	return al, nil
}

// apply makes al the limiter's limits, keeping the margin: the buckets are
// first brought up to now at their old rate, then take the new capacity
// (tokens above it are dropped) and rate. Limits that would admit no
// request at the margin, or credits out of range, are refused and nothing
// changes.
func (r *limiter) apply(al AccountLimits) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lim
	if al.MatchingBurst*l.Margin < 1 || al.MatchingRate > 1e6 || al.MatchingBurst > 1e6 {
		return fmt.Errorf("pool: account limits: matching %g/s, burst %g: unusable at margin %g", al.MatchingRate, al.MatchingBurst, l.Margin)
	}
	nonMatching := al.NonMatchingRate > 0 && al.NonMatchingBurst > 0
	if nonMatching && (al.NonMatchingBurst*l.Margin < 1 || al.NonMatchingRate > 1e6 || al.NonMatchingBurst > 1e6) {
		return fmt.Errorf("pool: account limits: non-matching %g/s, burst %g: unusable at margin %g", al.NonMatchingRate, al.NonMatchingBurst, l.Margin)
	}
	now := r.now()
	l.MatchingRate, l.MatchingBurst = al.MatchingRate, al.MatchingBurst
	for i := range r.acct {
		r.acct[i].advance(now)
		r.acct[i].resize(l.MatchingBurst*l.Margin, l.MatchingRate*l.Margin)
	}
	if nonMatching {
		l.NonMatchingRefill = int(al.NonMatchingRate * float64(l.NonMatchingCost))
		l.NonMatchingMax = int(al.NonMatchingBurst * float64(l.NonMatchingCost))
		for i := range r.conn {
			r.conn[i].advance(now)
			r.conn[i].resize(float64(l.NonMatchingMax)*l.Margin, float64(l.NonMatchingRefill)*l.Margin)
		}
	}
	r.lim = l
	for _, s := range r.order {
		s.b.advance(now)
	}
	r.sizeShares(false)
	return nil
}

// resize gives b a new capacity and rate (b is up to date).
func (b *bucket) resize(max, rate float64) {
	b.max, b.rate = max, rate
	b.tokens = min(b.tokens, max)
}

// Limits returns the limiter's limits now (defaults applied, and the
// account's once UseAccountLimits has read them).
func (p *Pool) Limits() Limits {
	if p.limit == nil {
		return p.cfg.Limits
	}
	p.limit.mu.Lock()
	defer p.limit.mu.Unlock()
	return p.limit.lim
}
