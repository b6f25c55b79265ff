package pool

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stratbox/stratbox/conn"
)

// shareTake takes n requests of method charged to share name and counts the
// admitted ones; every refusal must be an ErrOverShare.
func (f *fakeLimiter) shareTake(t *testing.T, name, method string, n int) int {
	t.Helper()
	ctx := ForShare(context.Background(), name)
	ok := 0
	for range n {
		err := f.take(ctx, 0, method, nil)
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrOverShare) || !errors.Is(err, ErrRateLimited) || !errors.Is(err, conn.ErrNotSent):
			t.Fatalf("%s for %s: %v: want ErrOverShare, ErrRateLimited and conn.ErrNotSent", method, name, err)
		}
	}
	return ok
}

// Two equal shares of the default tier-1 limits (27/s, burst 90 at margin
// 0.9; reserve 0.2: 18 kept, 36 each). A plugin that floods gets its share
// and what the other leaves unused, never the other's own tokens nor the
// reserve; cancels and the host's own requests still pass.
func TestSharesDivideTheAccount(t *testing.T) {
	f := newFakeLimiter(t, Limits{}, 1)
	if err := f.setShares(map[string]float64{"hog": 1, "mm": 1}); err != nil {
		t.Fatal(err)
	}
	st := map[string]ShareStats{}
	for _, s := range (&Pool{limit: f.limiter}).Shares() {
		st[s.Name] = s
	}
	if st["hog"].Burst != 36 || st["mm"].Rate != 27*0.8/2 {
		t.Fatalf("shares %+v", st)
	}
	// The hog takes its 36 and borrows nothing: the mm's 36 and the reserve's 18 are covered.
	if n := f.shareTake(t, "hog", "private/buy", 200); n != 36 {
		t.Fatalf("the hog sent %d, want its burst of 36", n)
	}
	// The market maker still has its whole burst.
	if n := f.shareTake(t, "mm", "private/edit", 36); n != 36 {
		t.Fatalf("the market maker sent %d of its 36", n)
	}
	if n := f.shareTake(t, "mm", "private/sell", 1); n != 0 {
		t.Fatal("the market maker went past its share while the hog had nothing to lend")
	}
	// Cancels and untagged (host) requests use the reserve.
	if n := f.admit(t, 18, 0, "private/cancel"); n != 18 {
		t.Fatalf("%d of the reserve's 18 cancels passed", n)
	}
	if n := f.admit(t, 1, 0, "private/buy"); n != 0 {
		t.Fatal("the account's bucket is empty, yet a request passed")
	}
	// One second later: 27 tokens for the account, 10.8 for each share.
	f.advance(time.Second)
	if n := f.shareTake(t, "hog", "private/buy", 100); n != 10 {
		t.Fatalf("the hog sent %d in the next second, want its 10 (10.8 accrued)", n)
	}
	if n := f.shareTake(t, "mm", "private/buy", 100); n != 10 {
		t.Fatalf("the market maker sent %d in the next second, want its 10", n)
	}
	got := map[string]ShareStats{}
	for _, s := range (&Pool{limit: f.limiter}).Shares() {
		got[s.Name] = s
	}
	if got["hog"].Taken != 46 || got["hog"].Refused != 164+90 || got["mm"].Taken != 46 || got["mm"].Refused != 1+90 {
		t.Fatalf("counters %+v", got)
	}
}

// Unused shares are lent: alone, a plugin reaches the account's whole rate
// less the reserve, while the idle share's tokens stay covered.
func TestSharesLendWhatIsUnused(t *testing.T) {
	f := newFakeLimiter(t, Limits{}, 1)
	if err := f.setShares(map[string]float64{"busy": 1, "idle": 1}); err != nil {
		t.Fatal(err)
	}
	if n := f.shareTake(t, "busy", "private/buy", 100); n != 36 {
		t.Fatalf("burst: %d, want 36 (90 less the reserve's 18 and the idle share's 36)", n)
	}
	sent := 0
	for range 10 {
		f.advance(time.Second)
		sent += f.shareTake(t, "busy", "private/buy", 100)
	}
	// 10 s: the account gains 270, of which the idle share's bucket (full) takes nothing: all can be
	// borrowed, less what keeps the busy share's own refill covered.
	if sent < 260 || sent > 270 {
		t.Fatalf("alone for 10 s, the busy share sent %d, want about the account's 270", sent)
	}
	// The idle one still has its whole burst at once.
	if n := f.shareTake(t, "idle", "private/buy", 36); n != 36 {
		t.Fatalf("the idle share found %d of its 36 tokens", n)
	}
}

func TestSharesConfig(t *testing.T) {
	f := newFakeLimiter(t, Limits{}, 1)
	for _, w := range []float64{0, -1} {
		if err := f.setShares(map[string]float64{"a": w}); err == nil {
			t.Errorf("weight %g accepted", w)
		}
	}
	if err := (Limits{Reserve: 1}).Validate(); err == nil {
		t.Error("reserve 1 accepted")
	}
	// A request tagged with an unknown share, or a method no share pays for, is the account's.
	if err := f.setShares(map[string]float64{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if n := f.shareTake(t, "nobody", "private/buy", 90); n != 90 {
		t.Fatalf("untracked share: %d of 90", n)
	}
	// Weights 3:1 divide rate and burst 3:1.
	if err := f.setShares(map[string]float64{"big": 3, "small": 1}); err != nil {
		t.Fatal(err)
	}
	st := (&Pool{limit: f.limiter}).Shares()
	if st[0].Name != "big" || st[0].Burst != 3*st[1].Burst || st[0].Rate != 3*st[1].Rate {
		t.Fatalf("shares %+v", st)
	}
	// Account limits read later resize the shares.
	if err := f.apply(AccountLimits{MatchingRate: 60, MatchingBurst: 200}); err != nil {
		t.Fatal(err)
	}
	st = (&Pool{limit: f.limiter}).Shares()
	if want := 60 * 0.9 * 0.8 * 0.75; math.Abs(st[0].Rate-want) > 1e-9 {
		t.Fatalf("after the account's limits: rate %g, want %g", st[0].Rate, want)
	}
}

// A share's cancels and recovery (ForShareReserved) may use the reserve but
// never another share's own tokens; untagged requests may use everything.
func TestSharesReservedRequests(t *testing.T) {
	f := newFakeLimiter(t, Limits{}, 1)
	if err := f.setShares(map[string]float64{"hog": 1, "mm": 1}); err != nil {
		t.Fatal(err)
	}
	if n := f.shareTake(t, "hog", "private/buy", 100); n != 36 {
		t.Fatalf("hog's own flow: %d, want 36", n)
	}
	reserved := ForShareReserved(context.Background(), "hog")
	ok := 0
	for range 100 {
		if f.take(reserved, 0, "private/cancel", nil) == nil {
			ok++
		}
	}
	if ok != 18 {
		t.Fatalf("the hog's cancels got %d, want the reserve's 18 and none of the market maker's 36", ok)
	}
	if n := f.shareTake(t, "mm", "private/buy", 36); n != 36 {
		t.Fatalf("the market maker found %d of its 36 tokens after the hog's mass cancel", n)
	}
	// A refund (the request was not sent after all) gives back what it took.
	f.advance(time.Second) // 10.8 for each share, 27 for the account
	rc, err := f.limiter.admit(ForShare(context.Background(), "mm"), 0, "private/buy", nil)
	if err != nil {
		t.Fatal(err)
	}
	before := f.acct[acctMatching].tokens
	f.refund(rc)
	if f.acct[acctMatching].tokens != before+1 || f.shares["mm"].b.tokens < 10.8-1e-9 {
		t.Fatalf("after a refund: account %g (was %g), mm's share %g", f.acct[acctMatching].tokens, before, f.shares["mm"].b.tokens)
	}
}
