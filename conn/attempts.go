package conn

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratbox/stratbox/clock"
)

// AttemptLimiter caps connection attempts: a token bucket of rate tokens
// per second holding at most max(1, rate) of them, on the injected clock.
// Every attempt a Conn makes (its first one in Start included) takes a
// token; one that finds the bucket empty reserves the next token and waits
// for it, so that waiting attempts go in the order they came. A pool shares
// one AttemptLimiter among its members (WithAttemptLimiter), which makes the
// cap one per account; a Conn without one makes its own of
// Config.Backoff.AttemptsPerSecond. Safe for concurrent use.
type AttemptLimiter struct {
	clk    clock.Clock
	rate   float64
	burst  float64
	mu     sync.Mutex
	tokens float64 // may go negative: reservations not yet covered
	last   time.Time
	waited atomic.Uint64
	taken  atomic.Uint64
}

// NewAttemptLimiter returns a full bucket of perSecond attempts per second
// (a burst of as many, at least 1; 0 or less: DefaultAttemptsPerSecond) on
// clk. A nil clk is the clock of the first Conn the limiter is given to
// (WithAttemptLimiter), or the wall clock.
func NewAttemptLimiter(perSecond float64, clk clock.Clock) *AttemptLimiter {
	if !(perSecond > 0) {
		perSecond = DefaultAttemptsPerSecond
	}
	burst := math.Max(1, math.Floor(perSecond))
	l := &AttemptLimiter{rate: perSecond, burst: burst, tokens: burst}
	if clk != nil {
		l.adopt(clk)
	}
	return l
}

// adopt sets the clock unless one is set.
func (l *AttemptLimiter) adopt(clk clock.Clock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clk == nil {
		l.clk, l.last = clk, clk.Now()
	}
}

// reserve takes a token and returns how long to wait until it is covered,
// and the clock to wait on.
func (l *AttemptLimiter) reserve() (time.Duration, clock.Clock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clk == nil {
		l.clk, l.last = clock.Real{}, time.Now()
	}
	now := l.clk.Now()
	if el := now.Sub(l.last); el > 0 {
		l.tokens = math.Min(l.burst, l.tokens+el.Seconds()*l.rate)
		l.last = now
	}
	l.tokens--
	if l.tokens >= 0 {
		return 0, l.clk
	}
	return time.Duration(math.Ceil(-l.tokens / l.rate * float64(time.Second))), l.clk
}

// Wait takes a token, waiting (on the clock) until one is there or ctx
// ends (then it returns ctx's error and the token is spent).
func (l *AttemptLimiter) Wait(ctx context.Context) error {
	l.taken.Add(1)
	d, clk := l.reserve()
	if d <= 0 {
		return ctx.Err()
	}
	l.waited.Add(1)
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats are the attempts that took a token, and those that had to wait.
func (l *AttemptLimiter) Stats() (taken, waited uint64) { return l.taken.Load(), l.waited.Load() }

// WithAttemptLimiter makes the Conn take its attempts' tokens from l,
// shared with other Conns (a pool's members); by default each Conn has its
// own bucket of Config.Backoff.AttemptsPerSecond.
func WithAttemptLimiter(l *AttemptLimiter) Option { return func(o *options) { o.attempts = l } }

// Pacer decides how long a Conn waits before its next connection attempt;
// a pool injects one per member (WithPacer) to keep one member dialling at
// the minimum delay while too few are ready. Wait is called on the Conn's
// reconnect goroutine with the consecutive failed attempts so far
// (refusals; 0 right after the loss of a socket that was Ready) and the
// wait the Conn's own Backoff proposes; it must be quick and must not call
// the Conn's Close.
type Pacer interface {
	Wait(refusals int, own time.Duration) time.Duration
}

// PacerFunc adapts a function to Pacer.
type PacerFunc func(refusals int, own time.Duration) time.Duration

// Wait calls f.
func (f PacerFunc) Wait(refusals int, own time.Duration) time.Duration { return f(refusals, own) }

// WithPacer sets the Pacer. Default: the Conn's own Backoff.
func WithPacer(p Pacer) Option { return func(o *options) { o.pacer = p } }
