package pool

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
)

// ErrOverShare: a request charged to a rate share (ForShare) found its
// share used up and nothing the other shares leave unused to borrow. It is
// always wrapped together with ErrRateLimited and conn.ErrNotSent.
var ErrOverShare = errors.New("pool: over its rate share")

// DefaultReserve is Limits.Reserve's default.
const DefaultReserve = 0.2

type shareKey struct{}

// shareTag is what ForShare and ForShareReserved put in a context.
type shareTag struct {
	name     string
	reserved bool
}

// ForShare returns ctx tagged so that CallOn charges a matching request
// that opens or changes an order (RateClass.OrderFlow: place, amend) to the rate share name (SetShares): the share's own order flow, which may
// borrow what the other shares leave unused but never the reserve.
func ForShare(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, shareKey{}, shareTag{name: name})
}

// ForShareReserved returns ctx tagged so that CallOn charges any matching
// request (cancels too) to the rate share name and lets it use the
// reserve: the requests that take risk off or restore what the share had
// (cancels, re-placements after a lost connection, rollbacks). They never
// take another share's own tokens either, so that one plugin's recovery or
// mass cancel cannot starve another plugin.
func ForShareReserved(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, shareKey{}, shareTag{name: name, reserved: true})
}

func shareOf(ctx context.Context) shareTag {
	s, _ := ctx.Value(shareKey{}).(shareTag)
	return s
}

func shareReserved(ctx context.Context) bool { return shareOf(ctx).reserved }

// share is one user's part of the account's matching capacity.
type share struct {
	name                     string
	weight                   float64
	b                        bucket
	taken, borrowed, refused uint64
}

// ShareStats is one rate share's state (Pool.Shares).
type ShareStats struct {
	Name   string
	Weight float64
	// Rate and Burst are the share's own part of the account's matching
	// capacity (requests per second, and tokens), after Margin and Reserve.
	Rate, Burst float64
	// Taken counts requests charged to its own tokens, Borrowed those it
	// sent on capacity the other shares left unused, Refused those it could
	// not send (ErrOverShare).
	Taken, Borrowed, Refused uint64
}

// SetShares divides the account's matching capacity among named users (a
// host's plugins), in proportion to weights (each > 0): after Margin, the
// Reserve part is kept for cancels and untagged requests, and the rest is
// split into one token bucket per share (rate and burst in proportion; a
// burst of at least one request). A request tagged with ForShare takes a
// token of its share; with none left it may borrow from the account's
// capacity only as far as every other share's own tokens and the reserve
// stay covered (the account's bucket holds at least the reserve plus the
// tokens of every share), so that borrowing never takes what another
// share was promised; otherwise it is refused at once (ErrOverShare),
// whatever MaxWait. A later call replaces the shares (counters restart);
// an empty map removes them. With the limiter disabled it does nothing.
func (p *Pool) SetShares(weights map[string]float64) error {
	return p.limit.setShares(weights)
}

// Shares returns the rate shares, by name; nil without any.
func (p *Pool) Shares() []ShareStats {
	r := p.limit
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ShareStats, 0, len(r.order))
	for _, s := range r.order {
		out = append(out, ShareStats{Name: s.name, Weight: s.weight, Rate: s.b.rate, Burst: s.b.max,
			Taken: s.taken, Borrowed: s.borrowed, Refused: s.refused})
	}
	return out
}

func (r *limiter) setShares(weights map[string]float64) error {
	if r == nil {
		return nil
	}
	total := 0.0
	for name, w := range weights {
		if !(w > 0) || math.IsInf(w, 0) {
			return fmt.Errorf("pool: rate share %q: weight %g: want a positive number", name, w)
		}
		total += w
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.shares, r.order = nil, nil
	if len(weights) == 0 {
		return nil
	}
	r.shares = make(map[string]*share, len(weights))
	for name, w := range weights {
		s := &share{name: name, weight: w / total}
		r.shares[name] = s
		r.order = append(r.order, s)
	}
	sort.Slice(r.order, func(i, j int) bool { return r.order[i].name < r.order[j].name })
	r.sizeShares(true)
	return nil
}

// sizeShares sets every share's bucket from the limits (full when fill).
// Called with r.mu held.
func (r *limiter) sizeShares(fill bool) {
	l := r.lim
	left := 1 - l.Reserve
	for _, s := range r.order {
		burst := max(1, l.MatchingBurst*l.Margin*left*s.weight)
		rate := l.MatchingRate * l.Margin * left * s.weight
		if fill {
			s.b = newBucket(burst, rate)
		} else {
			s.b.resize(burst, rate)
		}
	}
}

// reserveLevel is the account's matching tokens no share may take.
func (r *limiter) reserveLevel() float64 { return r.lim.MatchingBurst * r.lim.Margin * r.lim.Reserve }

// takeShare charges a request to share s before the account's buckets are
// asked (admit). It returns the token to give back should the account
// refuse the request after all (0 when it borrowed), or an error when the
// share cannot send it. A reserved request may borrow the reserve too.
// Called with r.mu held, the buckets advanced to now.
func (r *limiter) takeShare(s *share, reserved bool) (float64, error) {
	others := 0.0
	for _, o := range r.order {
		if o != s {
			others += max(o.b.tokens, 0)
		}
	}
	acct := r.acct[acctMatching].tokens
	// A reserved request (a cancel, a re-placement) uses the reserve and what
	// no share holds first, so that recovery leaves the share's own tokens to
	// its plugin's new orders; then its own tokens.
	if reserved && acct-1 >= others+max(s.b.tokens, 0) {
		s.borrowed++
		return 0, nil
	}
	if s.b.tokens >= 1 {
		s.b.tokens--
		s.taken++
		return 1, nil
	}
	// Borrow what the others leave: the account keeps every other share's
	// own tokens covered, and the reserve unless the request may use it.
	covered := others
	if !reserved {
		covered += r.reserveLevel()
	}
	if acct-1 >= covered {
		s.borrowed++
		return 0, nil
	}
	s.refused++
	return 0, fmt.Errorf("%w: %w: %q (%.3g requests/s, burst %.3g, of the account's %g/s after margin %g and reserve %g): "+
		"its tokens are used up and the other shares leave none to borrow",
		ErrRateLimited, ErrOverShare, s.name, s.b.rate, s.b.max, r.lim.MatchingRate*r.lim.Margin, r.lim.Margin, r.lim.Reserve)
}

// shareFor is the share a matching request of class c is charged to, by
// ctx's tag, or nil.
func (r *limiter) shareFor(ctx context.Context, c RateClass) *share {
	tag := shareOf(ctx)
	if tag.name == "" || r.shares == nil || !tag.reserved && !c.OrderFlow {
		return nil
	}
	return r.shares[tag.name]
}
