package pool

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratbox/stratbox/conn"
)

// ErrRateLimited: the pool's rate limiter held a request back because it
// would have exceeded the exchange's limits (docs/deribit.md §6). It is
// always wrapped together with conn.ErrNotSent: nothing was sent.
var ErrRateLimited = errors.New("pool: rate limited")

// Deribit's tier-1 limits, as the simulator (sim.RateLimits) has them by
// default: the zero Limits uses these.
const (
	DefaultMatchingRate      = 30     // matching-engine requests per second, per account
	DefaultMatchingBurst     = 100    // matching-engine burst, per account
	DefaultNonMatchingCost   = 500    // credits per non-matching request, per connection
	DefaultNonMatchingMax    = 50_000 // credit pool per connection (a burst of 100)
	DefaultNonMatchingRefill = 10_000 // credits per second per connection (20 requests/s)
	// DefaultLimitMargin is the share of each limit the pool uses (see
	// Limits.Margin).
	DefaultLimitMargin = 0.9
)

// Limits is the client side of the exchange's rate limits (Deribit's by
// default): the pool refuses, or holds for up to MaxWait, a request that
// would exceed them, because the exchange answers such a request with
// too_many_requests (10028) and then terminates the session, which fires
// cancel-on-disconnect.
//
// The model is the exchange's (and the simulator's, sim.RateLimits); what
// each request costs is the venue's to say (Config.Classify, a RateClass):
//   - matching-engine requests (placing, amending, cancelling orders) take
//     one token from a bucket per ACCOUNT, shared by all members:
//     MatchingRate tokens per second up to MatchingBurst. Mass cancels
//     (RateClass.CancelAll) use a second bucket of the same size (Deribit's
//     separate cancel_all bucket), so that order flow never starves a mass
//     cancel;
//   - every other request costs NonMatchingCost credits from a pool per
//     CONNECTION (per account with NonMatchingPerAccount) of NonMatchingMax
//     credits, refilled at NonMatchingRefill credits per second (a request
//     may cost both: RateClass.Matching and Credits);
//   - a free request (the heartbeat's answer, which conn sends by itself)
//     costs nothing.
//
// The buckets start full: the pool assumes the account was idle before it
// started. The requests conn sends by itself (set_heartbeat, auth and its
// refreshes, enable_cancel_on_disconnect, subscribe and unsubscribe, also
// the pool's own Subscribe) do not pass CallOn and are not counted: Margin
// leaves room for them.
type Limits struct {
	// Disabled turns the limiter off: every request is sent at once.
	Disabled bool
	// MatchingRate is the exchange's matching-engine requests per second
	// per account. Default 30 (tier 1).
	MatchingRate float64
	// MatchingBurst is the exchange's matching-engine burst per account.
	// Default 100 (tier 1).
	MatchingBurst float64
	// NonMatchingCost is the credits one non-matching request costs.
	// Default 500.
	NonMatchingCost int
	// NonMatchingMax is the connection's credit pool. Default 50,000.
	NonMatchingMax int
	// NonMatchingRefill is the credits per second a connection regains.
	// Default 10,000.
	NonMatchingRefill int
	// NonMatchingPerAccount makes the non-matching credits one pool shared
	// by all members instead of one per connection. The simulator keeps
	// them per connection (hence the default); Deribit's own articles say
	// "rate limits are applied per sub-account", which this follows. The
	// requests every member's conn sends by itself then share what Margin
	// leaves (about 4 each on connecting): lower Margin for a large pool.
	NonMatchingPerAccount bool
	// MaxWait is how long CallOn may hold a request until the limits allow
	// it (less when its context ends sooner; requests wait in their order
	// of arrival). 0, the default, refuses at once a request that finds no
	// token.
	MaxWait time.Duration
	// Margin is the share of every limit above the pool uses: rates and
	// bursts (credit pools) are multiplied by it. Default 0.9, i.e. 27
	// matching requests/s with a burst of 90, and 18 non-matching
	// requests/s with a burst of 90 per connection. What it leaves absorbs
	// the jitter of the network and of the connection's write queue (two
	// requests the pool let go 1/rate apart may reach the exchange closer
	// together: 0.9 tolerates about 0.35 s of it at tier 1), other
	// programs' use of the account, and the uncounted requests conn sends
	// by itself (10 per connection in a burst, 2/s sustained). 1 uses the
	// limits exactly. Must be in (0, 1].
	Margin float64
	// Reserve is the part of the account's matching capacity (after
	// Margin) that rate shares (Pool.SetShares) leave for cancels and the
	// host's own requests: no share's places and amends, borrowing
	// included, take the account's matching bucket below Reserve × burst.
	// Default 0.2 (DefaultReserve); negative: none. Must be below 1. It
	// matters only once shares are set.
	Reserve float64
}

// RateClass is what one request costs (Config.Classify): a token of the
// account's matching bucket, or of its cancel_all bucket, and/or credits of
// its connection; nothing when Free.
type RateClass struct {
	// Matching takes a token of the account's matching-engine bucket.
	Matching bool
	// CancelAll takes it from the account's separate cancel_all bucket.
	CancelAll bool
	// Credits takes NonMatchingCost credits of the connection.
	Credits bool
	// OrderFlow marks a request that opens or changes an order: ForShare
	// charges it to its rate share (ForShareReserved charges every
	// matching request).
	OrderFlow bool
	// Free costs nothing (the heartbeat's answer).
	Free bool
}

func (l Limits) withDefaults() Limits {
	if l.MatchingRate == 0 {
		l.MatchingRate = DefaultMatchingRate
	}
	if l.MatchingBurst == 0 {
		l.MatchingBurst = DefaultMatchingBurst
	}
	if l.NonMatchingCost == 0 {
		l.NonMatchingCost = DefaultNonMatchingCost
	}
	if l.NonMatchingMax == 0 {
		l.NonMatchingMax = DefaultNonMatchingMax
	}
	if l.NonMatchingRefill == 0 {
		l.NonMatchingRefill = DefaultNonMatchingRefill
	}
	if l.Margin == 0 {
		l.Margin = DefaultLimitMargin
	}
	switch {
	case l.Reserve == 0:
		l.Reserve = DefaultReserve
	case l.Reserve < 0:
		l.Reserve = 0
	}
	return l
}

// Validate reports the first invalid field (zero fields take their
// defaults; nothing is checked when Disabled). New calls it.
func (l Limits) Validate() error {
	if l.Disabled {
		return nil
	}
	d := l.withDefaults()
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) || v < 0 }
	switch {
	case bad(l.MatchingRate) || bad(l.MatchingBurst):
		return fmt.Errorf("pool: limits: matching rate %g, burst %g: want positive", l.MatchingRate, l.MatchingBurst)
	case l.NonMatchingCost < 0 || l.NonMatchingMax < 0 || l.NonMatchingRefill < 0:
		return fmt.Errorf("pool: limits: non-matching cost %d, max %d, refill %d: want positive",
			l.NonMatchingCost, l.NonMatchingMax, l.NonMatchingRefill)
	case l.MaxWait < 0:
		return fmt.Errorf("pool: limits: max_wait %s is negative", l.MaxWait)
	case math.IsNaN(l.Margin) || l.Margin < 0 || l.Margin > 1:
		return fmt.Errorf("pool: limits: margin %g: want (0, 1]", l.Margin)
	case math.IsNaN(l.Reserve) || l.Reserve >= 1:
		return fmt.Errorf("pool: limits: reserve %g: want below 1 (0: the default %g; negative: none)", l.Reserve, DefaultReserve)
	case d.MatchingBurst*d.Margin < 1:
		return fmt.Errorf("pool: limits: matching burst %g × margin %g admits no request", d.MatchingBurst, d.Margin)
	case float64(d.NonMatchingMax)*d.Margin < float64(d.NonMatchingCost):
		return fmt.Errorf("pool: limits: non-matching max %d × margin %g is below the cost %d of one request",
			d.NonMatchingMax, d.Margin, d.NonMatchingCost)
	}
	return nil
}

// charge is what a request costs: a token from one of the account's
// matching buckets (acct), and/or credits of its connection (conn).
type charge struct {
	acct int // -1 none, else an index into limiter.acct
	conn bool
}

// The account's buckets.
const (
	acctMatching  = 0
	acctCancelAll = 1
)

// classify returns what a request costs, by Config.Classify.
func (r *limiter) classify(method string, params []byte) (c charge, rc RateClass) {
	rc = RateClass{Matching: true, Credits: true}
	if r.class != nil {
		rc = r.class(method, params)
	}
	c = charge{acct: -1, conn: rc.Credits}
	switch {
	case rc.Free:
		return charge{acct: -1}, rc
	case rc.CancelAll:
		c.acct = acctCancelAll
	case rc.Matching:
		c.acct = acctMatching
	}
	return c, rc
}

// bucket is a token bucket that starts full. tokens goes negative while
// requests wait for their turn (each waiter has reserved its cost).
type bucket struct {
	tokens, max, rate float64 // rate: tokens per second
	last              time.Time
}

func newBucket(max, rate float64) bucket { return bucket{tokens: max, max: max, rate: rate} }

// advance refills the bucket up to now.
func (b *bucket) advance(now time.Time) {
	if b.last.IsZero() {
		b.last = now
		return
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.max, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
}

// need is how long until cost tokens are there (0: now). Call advance first.
func (b *bucket) need(cost float64) time.Duration {
	if b.tokens >= cost {
		return 0
	}
	s := (cost - b.tokens) / b.rate
	if s > math.MaxInt64/1e9 {
		return math.MaxInt64
	}
	return time.Duration(math.Ceil(s * 1e9))
}

// limiter is the pool's rate limiter. A nil *limiter lets everything pass.
type limiter struct {
	lim   Limits // with defaults
	now   func() time.Time
	class func(method string, params []byte) RateClass // Config.Classify
	wait  func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex
	acct   [2]bucket // acctMatching, acctCancelAll
	conn   []bucket  // per member
	shares map[string]*share
	order  []*share // shares by name

	limited atomic.Uint64 // requests refused or delayed
}

// newLimiter returns the limiter of a pool of size members, nil when
// disabled.
func newLimiter(l Limits, size int, class func(method string, params []byte) RateClass) (*limiter, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if l.Disabled {
		return nil, nil
	}
	l = l.withDefaults()
	r := &limiter{lim: l, now: time.Now, wait: waitTimer, class: class}
	for i := range r.acct {
		r.acct[i] = newBucket(l.MatchingBurst*l.Margin, l.MatchingRate*l.Margin)
	}
	if l.NonMatchingPerAccount {
		size = 1
	}
	r.conn = make([]bucket, size)
	for i := range r.conn {
		r.conn[i] = newBucket(float64(l.NonMatchingMax)*l.Margin, float64(l.NonMatchingRefill)*l.Margin)
	}
	return r, nil
}

// waitTimer waits d, or until ctx ends.
func waitTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// take admits a request of method on member id: at once, after waiting its
// turn (up to MaxWait and ctx's deadline), or not at all (an error wrapping
// ErrRateLimited and conn.ErrNotSent; nothing is taken then).
func (r *limiter) take(ctx context.Context, id int, method string, params []byte) error {
	_, err := r.admit(ctx, id, method, params)
	return err
}

// part is one bucket a request is charged to.
type part struct {
	b    *bucket
	cost float64
	name string
}

// receipt is what an admitted request took, for refund.
type receipt struct {
	parts [2]part
	n     int
	sh    *share
	back  float64 // the share's own token, if it took one
}

// admit is take, returning what the request took.
func (r *limiter) admit(ctx context.Context, id int, method string, params []byte) (receipt, error) {
	var rc receipt
	if r == nil {
		return rc, nil
	}
	c, class := r.classify(method, params)
	if class.Free {
		return rc, nil
	}
	parts := &rc.parts
	n := 0
	r.mu.Lock()
	now := r.now()
	if c.acct >= 0 {
		parts[n] = part{&r.acct[c.acct], 1, "matching"}
		if c.acct == acctCancelAll {
			parts[n].name = "matching (cancel_all)"
		}
		n++
	}
	if c.conn {
		parts[n] = part{&r.conn[min(id, len(r.conn)-1)], float64(r.lim.NonMatchingCost), "non-matching"}
		n++
	}
	rc.n = n
	for i := range parts[:n] {
		parts[i].b.advance(now)
	}
	// A rate share (ForShare) is charged first: its refusal takes nothing.
	if c.acct == acctMatching {
		rc.sh = r.shareFor(ctx, class)
	}
	if sh := rc.sh; sh != nil {
		for _, s := range r.order {
			s.b.advance(now)
		}
		var err error
		if rc.back, err = r.takeShare(sh, shareReserved(ctx)); err != nil {
			r.mu.Unlock()
			r.limited.Add(1)
			return receipt{}, fmt.Errorf("%w: %w", err, conn.ErrNotSent)
		}
	}
	var wait time.Duration
	worst := 0
	for i := range parts[:n] {
		if d := parts[i].b.need(parts[i].cost); d > wait {
			wait, worst = d, i
		}
	}
	if wait == 0 {
		for _, p := range parts[:n] {
			p.b.tokens -= p.cost
		}
		r.mu.Unlock()
		return rc, nil
	}
	r.limited.Add(1)
	allowed := r.lim.MaxWait
	if dl, ok := ctx.Deadline(); ok {
		allowed = min(allowed, time.Until(dl))
	}
	if wait > allowed {
		what := r.describe(parts[worst].name) // reads r.lim, which UseAccountLimits may change
		if rc.sh != nil {
			rc.sh.b.tokens += rc.back
		}
		r.mu.Unlock()
		return receipt{}, fmt.Errorf("%w: %s on connection %d (%s): next in %s, max wait %s: %w",
			ErrRateLimited, parts[worst].name, id, what, wait.Round(time.Microsecond), allowed, conn.ErrNotSent)
	}
	// Reserve now, so that later requests queue behind this one.
	for _, p := range parts[:n] {
		p.b.tokens -= p.cost
	}
	r.mu.Unlock()
	if err := r.wait(ctx, wait); err != nil {
		r.refund(rc)
		return receipt{}, fmt.Errorf("%w: %s on connection %d: waiting %s: %w: %w",
			ErrRateLimited, parts[worst].name, id, wait.Round(time.Microsecond), err, conn.ErrNotSent)
	}
	return rc, nil
}

// refund gives back what an admitted request took, when it was not sent
// after all (conn.ErrNotSent): the exchange never counted it.
func (r *limiter) refund(rc receipt) {
	if r == nil || rc.n == 0 && rc.sh == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, p := range rc.parts[:rc.n] {
		p.b.advance(now)
		p.b.tokens = min(p.b.max, p.b.tokens+p.cost)
	}
	if sh := rc.sh; sh != nil && r.shares[sh.name] == sh { // not replaced by SetShares meanwhile
		sh.b.advance(now)
		sh.b.tokens = min(sh.b.max, sh.b.tokens+rc.back)
	}
}

// describe names a bucket's limits.
func (r *limiter) describe(name string) string {
	l := r.lim
	if name == "non-matching" {
		per := "connection"
		if l.NonMatchingPerAccount {
			per = "account"
		}
		return fmt.Sprintf("per %s: %d credits a request, %g of %d credits, %g of %d per second (margin %g)",
			per, l.NonMatchingCost, float64(l.NonMatchingMax)*l.Margin, l.NonMatchingMax,
			float64(l.NonMatchingRefill)*l.Margin, l.NonMatchingRefill, l.Margin)
	}
	return fmt.Sprintf("per account: %g of %g requests/s, burst %g of %g (margin %g)",
		l.MatchingRate*l.Margin, l.MatchingRate, l.MatchingBurst*l.Margin, l.MatchingBurst, l.Margin)
}

// Limited is the number of requests the rate limiter (Config.Limits)
// refused or delayed since New.
func (p *Pool) Limited() uint64 {
	if p.limit == nil {
		return 0
	}
	return p.limit.limited.Load()
}
