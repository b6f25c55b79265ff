package pool

import (
	"context"
	"sync"
	"testing"
)

// Account limits applied (limiter.apply) while requests are refused: no
// race (take used to read the limits after unlocking), and unusable limits
// are refused without changing anything.
func TestApplyAccountLimitsConcurrently(t *testing.T) {
	r, err := newLimiter(Limits{MatchingBurst: 2, Margin: 1}, 1, deribitRates)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range 2000 {
			_ = r.take(context.Background(), 0, "private/buy", nil)
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 2000 {
			if err := r.apply(AccountLimits{MatchingRate: 0.001, MatchingBurst: float64(2 + i%3)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	before := r.lim
	for _, bad := range []AccountLimits{{MatchingRate: 5, MatchingBurst: 0.5}, {MatchingRate: 1e300, MatchingBurst: 10},
		{MatchingRate: 5, MatchingBurst: 20, NonMatchingRate: 1e300, NonMatchingBurst: 100}} {
		if err := r.apply(bad); err == nil || r.lim != before {
			t.Errorf("%+v: err %v, limits %+v (were %+v)", bad, err, r.lim, before)
		}
	}
}
