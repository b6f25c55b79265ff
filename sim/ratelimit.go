package sim

import "time"

// RateLimits is Deribit's credit model (docs/deribit.md §6). A request
// that finds no credits left is answered with too_many_requests (10028) and
// the session is terminated, which fires cancel-on-disconnect.
//
// public/test, the heartbeat answer, costs nothing: Deribit does not say
// whether it does, and charging it would make short test intervals trip the
// limit.
type RateLimits struct {
	// Disabled turns the limits off.
	Disabled bool
	// NonMatchingCost is the credits one non-matching-engine request costs,
	// per connection. Default 500.
	NonMatchingCost int
	// NonMatchingMax is the credit pool's size. Default 50,000 (a burst of 100).
	NonMatchingMax int
	// NonMatchingRefill is credits per second. Default 10,000 (20 requests/s).
	NonMatchingRefill int
	// MatchingRate is matching-engine requests per second per account
	// (tier 1: 30).
	MatchingRate float64
	// MatchingBurst is the matching-engine burst per account (tier 1: 100).
	MatchingBurst float64
}

func (r RateLimits) withDefaults() RateLimits {
	if r.NonMatchingCost == 0 {
		r.NonMatchingCost = 500
	}
	if r.NonMatchingMax == 0 {
		r.NonMatchingMax = 50_000
	}
	if r.NonMatchingRefill == 0 {
		r.NonMatchingRefill = 10_000
	}
	if r.MatchingRate == 0 {
		r.MatchingRate = 30
	}
	if r.MatchingBurst == 0 {
		r.MatchingBurst = 100
	}
	return r
}

// bucket is a token bucket that starts full.
type bucket struct {
	credits, max, refill float64
	last                 time.Time
}

func newBucket(max, refillPerSecond float64) bucket {
	return bucket{credits: max, max: max, refill: refillPerSecond}
}

func (b *bucket) take(now time.Time, cost float64) bool {
	if !b.last.IsZero() {
		if d := now.Sub(b.last).Seconds(); d > 0 {
			b.credits += d * b.refill
			if b.credits > b.max {
				b.credits = b.max
			}
		}
	}
	b.last = now
	if b.credits < cost {
		return false
	}
	b.credits -= cost
	return true
}
