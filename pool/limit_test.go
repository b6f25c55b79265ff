package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/sim"
)

// fakeLimiter is a limiter on a fake clock whose waits are recorded, not
// waited: the clock moves only when the test moves it.
type fakeLimiter struct {
	*limiter
	at    time.Time
	waits []time.Duration
}

func newFakeLimiter(t *testing.T, l Limits, size int) *fakeLimiter {
	t.Helper()
	r, err := newLimiter(l, size, deribitRates)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeLimiter{limiter: r, at: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	r.now = func() time.Time { return f.at }
	r.wait = func(ctx context.Context, d time.Duration) error {
		f.waits = append(f.waits, d)
		return nil
	}
	return f
}

func (f *fakeLimiter) advance(d time.Duration) { f.at = f.at.Add(d) }

// admit takes n requests of method on member id at the current instant and
// reports how many were admitted.
func (f *fakeLimiter) admit(t *testing.T, n, id int, method string) int {
	t.Helper()
	ok := 0
	for range n {
		err := f.take(context.Background(), id, method, nil)
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrRateLimited) || !errors.Is(err, conn.ErrNotSent):
			t.Fatalf("%s: %v: want ErrRateLimited and conn.ErrNotSent", method, err)
		}
	}
	return ok
}

func TestBucketMath(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newBucket(90, 27)
	b.advance(t0) // the first call only starts the clock: the bucket is full
	if b.tokens != 90 || b.need(1) != 0 {
		t.Fatalf("new bucket: tokens %g, need %s", b.tokens, b.need(1))
	}
	b.tokens -= 90
	if got, want := b.need(1), time.Duration(math.Ceil(1e9/27.0)); got != want {
		t.Fatalf("need(1) on an empty bucket = %s, want %s", got, want)
	}
	b.advance(t0.Add(time.Second))
	if math.Abs(b.tokens-27) > 1e-9 {
		t.Fatalf("after 1s: %g tokens, want 27", b.tokens)
	}
	b.advance(t0.Add(500 * time.Millisecond)) // the clock going back refills nothing
	if math.Abs(b.tokens-27) > 1e-9 || !b.last.Equal(t0.Add(time.Second)) {
		t.Fatalf("clock going back: %g tokens, last %s", b.tokens, b.last)
	}
	b.advance(t0.Add(time.Hour))
	if b.tokens != 90 {
		t.Fatalf("after an hour: %g tokens, want the burst 90", b.tokens)
	}
	// Reserved (negative) tokens: two waiters' worth below zero.
	b.tokens = -2
	if got, want := b.need(1), time.Duration(math.Ceil(3e9/27.0)); got != want {
		t.Fatalf("need(1) with 2 reserved = %s, want %s", got, want)
	}
	if z := newBucket(1, 0); z.need(2) != math.MaxInt64 {
		t.Fatalf("a bucket that never refills: need %s", z.need(2))
	}
}

func TestLimiterDefaults(t *testing.T) {
	f := newFakeLimiter(t, Limits{}, 3)
	l := f.lim
	if l.MatchingRate != 30 || l.MatchingBurst != 100 || l.NonMatchingCost != 500 || l.NonMatchingMax != 50_000 ||
		l.NonMatchingRefill != 10_000 || l.Margin != 0.9 || l.MaxWait != 0 {
		t.Fatalf("defaults: %+v", l)
	}
	// Matching: 90 at once (90% of the burst 100), then 27 a second.
	if n := f.admit(t, 200, 0, "private/buy"); n != 90 {
		t.Fatalf("matching burst admitted %d, want 90", n)
	}
	f.advance(time.Second)
	if n := f.admit(t, 200, 1, "private/sell"); n != 27 {
		t.Fatalf("matching after 1s admitted %d, want 27", n)
	}
	f.advance(10 * time.Second)
	if n := f.admit(t, 200, 2, "private/edit"); n != 90 {
		t.Fatalf("matching after 10s admitted %d, want 90 (capped)", n)
	}
	// Non-matching: 45,000 of 50,000 credits at 500 = 90, then 9,000/s = 18/s.
	if n := f.admit(t, 200, 0, "public/get_time"); n != 90 {
		t.Fatalf("non-matching burst admitted %d, want 90", n)
	}
	f.advance(time.Second)
	if n := f.admit(t, 200, 0, "private/get_open_orders"); n != 18 {
		t.Fatalf("non-matching after 1s admitted %d, want 18", n)
	}
	f.advance(500 * time.Millisecond) // 4,500 credits: 9 requests
	if n := f.admit(t, 200, 0, "public/ticker"); n != 9 {
		t.Fatalf("non-matching after 0.5s admitted %d, want 9", n)
	}
	if len(f.waits) != 0 {
		t.Fatalf("MaxWait 0 waited: %v", f.waits)
	}
	if got := f.limited.Load(); got != 110+173+110+110+182+191 {
		t.Fatalf("limited = %d", got)
	}
}

func TestLimiterExactLimits(t *testing.T) {
	f := newFakeLimiter(t, Limits{MatchingRate: 5, MatchingBurst: 20, NonMatchingCost: 100, NonMatchingMax: 1000,
		NonMatchingRefill: 250, Margin: 1}, 1)
	if n := f.admit(t, 50, 0, "private/cancel"); n != 20 {
		t.Fatalf("tier-4 burst admitted %d, want 20", n)
	}
	f.advance(time.Second)
	if n := f.admit(t, 50, 0, "private/cancel"); n != 5 {
		t.Fatalf("tier-4 rate admitted %d, want 5", n)
	}
	if n := f.admit(t, 50, 0, "public/status"); n != 10 {
		t.Fatalf("non-matching burst admitted %d, want 10", n)
	}
	f.advance(time.Second)
	if n := f.admit(t, 50, 0, "public/status"); n != 2 {
		t.Fatalf("non-matching after 1s admitted %d, want 2 (250 credits)", n)
	}
}

func TestClassifyDefault(t *testing.T) {
	// Without Config.Classify, every request costs a matching token and
	// the connection's credits (safe whatever the venue's methods), and
	// nothing is free.
	r, err := newLimiter(Limits{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"public/test", "private/buy", "x"} {
		if c, rc := r.classify(m, nil); c.acct != acctMatching || !c.conn || rc.Free {
			t.Errorf("classify(%q) = %+v %+v; want matching and credits", m, c, rc)
		}
	}
	// With one, its classes map to the buckets.
	r.class = deribitRates
	for _, tc := range []struct {
		method, params string
		acct           int
		conn, free     bool
	}{
		{"public/test", "", -1, false, true},
		{"private/buy", "", acctMatching, false, false},
		{"private/cancel_all", "", acctCancelAll, false, false},
		{"private/close_position", "", acctMatching, true, false},
		{"public/get_time", "", -1, true, false},
	} {
		c, rc := r.classify(tc.method, []byte(tc.params))
		if rc.Free != tc.free || !rc.Free && (c.acct != tc.acct || c.conn != tc.conn) {
			t.Errorf("classify(%q) = %+v %+v; want acct %d conn %v free %v", tc.method, c, rc, tc.acct, tc.conn, tc.free)
		}
	}
}

func TestLimiterBuckets(t *testing.T) {
	f := newFakeLimiter(t, Limits{}, 3)
	// public/test is never limited.
	if n := f.admit(t, 1000, 0, "public/test"); n != 1000 {
		t.Fatalf("public/test admitted %d", n)
	}
	// The matching bucket is the account's: drained through member 0, it
	// refuses on members 1 and 2.
	if n := f.admit(t, 90, 0, "private/buy"); n != 90 {
		t.Fatalf("admitted %d", n)
	}
	for id := range 3 {
		if n := f.admit(t, 1, id, "private/cancel"); n != 0 {
			t.Fatalf("member %d: matching admitted after the account's burst", id)
		}
	}
	// The cancel_all bucket is separate: a mass cancel still goes.
	if n := f.admit(t, 1, 1, "private/cancel_all"); n != 1 {
		t.Fatal("cancel_all refused while only the order bucket is empty")
	}
	// Non-matching credits are the connection's.
	if n := f.admit(t, 1, 2, "private/get_open_orders"); n != 1 {
		t.Fatal("non-matching refused while only the matching bucket is empty")
	}
	if n := f.admit(t, 200, 0, "public/get_time"); n != 90 {
		t.Fatalf("member 0 non-matching admitted %d", n)
	}
	if n := f.admit(t, 200, 1, "public/get_time"); n != 90 {
		t.Fatalf("member 1 non-matching admitted %d after member 0 was drained", n)
	}
	// A method charged to both is refused when either is empty, and takes
	// nothing from the other then.
	before := f.conn[2].tokens
	if n := f.admit(t, 1, 2, "private/close_position"); n != 0 {
		t.Fatal("close_position admitted with an empty matching bucket")
	}
	if f.conn[2].tokens != before {
		t.Fatalf("a refused request took credits: %g → %g", before, f.conn[2].tokens)
	}
	f.advance(time.Second) // 27 matching tokens
	if n := f.admit(t, 1, 2, "private/close_position"); n != 1 || f.conn[2].tokens != f.conn[2].max-500 {
		t.Fatalf("close_position: admitted %d, connection credits %g", n, f.conn[2].tokens)
	}
	if n := f.admit(t, 200, 0, "public/get_time"); n != 18 {
		t.Fatalf("member 0 non-matching admitted %d after 1s, want 18", n)
	}
	if n := f.admit(t, 1, 0, "private/close_position"); n != 0 {
		t.Fatal("close_position admitted on a connection without credits")
	}
	if f.acct[acctMatching].tokens != 26 {
		t.Fatalf("a refused request took a matching token: %g left", f.acct[acctMatching].tokens)
	}
}

func TestNonMatchingPerAccount(t *testing.T) {
	f := newFakeLimiter(t, Limits{NonMatchingPerAccount: true}, 3)
	if n := f.admit(t, 60, 0, "public/get_time") + f.admit(t, 60, 2, "public/get_time"); n != 90 {
		t.Fatalf("shared non-matching burst admitted %d over two members, want 90", n)
	}
	err := f.take(context.Background(), 1, "public/get_time", nil)
	if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "per account") {
		t.Fatalf("err = %v", err)
	}
}

func TestRefusal(t *testing.T) {
	f := newFakeLimiter(t, Limits{}, 2)
	f.admit(t, 90, 0, "private/buy")
	err := f.take(context.Background(), 1, "private/buy", nil)
	if !errors.Is(err, ErrRateLimited) || !errors.Is(err, conn.ErrNotSent) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"matching", "connection 1", "27 of 30 requests/s", "burst 90 of 100", "max wait 0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	f.admit(t, 90, 1, "public/get_time")
	err = f.take(context.Background(), 1, "public/get_time", nil)
	for _, want := range []string{"non-matching", "connection 1", "500 credits", "45000 of 50000", "9000 of 10000"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if !errors.Is(err, ErrRateLimited) || !errors.Is(err, conn.ErrNotSent) {
		t.Fatalf("err = %v", err)
	}
}

// TestMaxWaitQueue: requests that find no token reserve the next ones in
// their order of arrival and wait for them, up to MaxWait.
func TestMaxWaitQueue(t *testing.T) {
	f := newFakeLimiter(t, Limits{MaxWait: 100 * time.Millisecond}, 1)
	f.admit(t, 90, 0, "private/buy")
	step := time.Duration(math.Ceil(1e9 / 27.0)) // one token at 27/s: 37.04ms
	// At the same instant: the 1st waits one step, the 2nd two; the 3rd
	// would wait 111ms, more than MaxWait, and is refused.
	if n := f.admit(t, 3, 0, "private/buy"); n != 2 {
		t.Fatalf("admitted %d, want 2", n)
	}
	if len(f.waits) != 2 || f.waits[0] != step || absDur(f.waits[1]-2*step) > time.Microsecond {
		t.Fatalf("waits %v, want [%s %s]", f.waits, step, 2*step)
	}
	// Once their turn has come, the next waits one step again.
	f.advance(2 * step)
	f.waits = nil
	if n := f.admit(t, 1, 0, "private/buy"); n != 1 || len(f.waits) != 1 || absDur(f.waits[0]-step) > time.Microsecond {
		t.Fatalf("admitted %d, waits %v", n, f.waits)
	}
	if got := f.limited.Load(); got != 4 {
		t.Fatalf("limited = %d, want 4 (3 delayed, 1 refused)", got)
	}
}

func absDur(d time.Duration) time.Duration { return max(d, -d) }

// TestMaxWaitBlocks: a queued request really waits (on the limiter's wait,
// here a channel the test controls), those behind it queue, and one whose
// context ends while waiting gives its reservation back.
func TestMaxWaitBlocks(t *testing.T) {
	f := newFakeLimiter(t, Limits{MaxWait: 80 * time.Millisecond}, 1)
	started := make(chan time.Duration)
	release := make(chan struct{})
	f.wait = func(ctx context.Context, d time.Duration) error {
		started <- d
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.admit(t, 90, 0, "private/buy")

	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	errA, errB := make(chan error, 1), make(chan error, 1)
	go func() { errA <- f.take(ctxA, 0, "private/buy", nil) }()
	<-started // A is queued for the 1st token
	go func() { errB <- f.take(context.Background(), 0, "private/buy", nil) }()
	<-started // B behind it, for the 2nd
	select {
	case err := <-errA:
		t.Fatalf("A returned while queued: %v", err)
	case err := <-errB:
		t.Fatalf("B returned while queued: %v", err)
	default:
	}
	// A 3rd would wait 3 steps (111ms) > MaxWait: refused at once.
	f.mu.Lock()
	reserved := f.acct[acctMatching].tokens
	f.mu.Unlock()
	if reserved != -2 {
		t.Fatalf("tokens %g with two waiting, want -2", reserved)
	}
	if err := f.take(context.Background(), 0, "private/buy", nil); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("3rd: %v", err)
	}
	// A gives up: its reservation comes back; B, released, goes.
	cancelA()
	err := <-errA
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrRateLimited) || !errors.Is(err, conn.ErrNotSent) {
		t.Fatalf("A: %v: want context.Canceled, ErrRateLimited and conn.ErrNotSent", err)
	}
	close(release)
	if err := <-errB; err != nil {
		t.Fatalf("B: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := f.acct[acctMatching].tokens; got != -1 {
		t.Fatalf("tokens %g after A gave back its reservation, want -1 (B's)", got)
	}
	if got := f.limited.Load(); got != 3 {
		t.Fatalf("limited = %d, want 3", got)
	}
}

// TestWaitRespectsDeadline: a request whose context ends before its turn
// is refused at once, without waiting.
func TestWaitRespectsDeadline(t *testing.T) {
	f := newFakeLimiter(t, Limits{MaxWait: time.Hour}, 1)
	f.wait = func(context.Context, time.Duration) error {
		t.Error("waited although the deadline comes first")
		return nil
	}
	f.admit(t, 90, 0, "public/get_time")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond) // the next token: 55ms
	defer cancel()
	err := f.take(ctx, 0, "public/get_time", nil)
	if !errors.Is(err, ErrRateLimited) || !errors.Is(err, conn.ErrNotSent) {
		t.Fatalf("err = %v", err)
	}
}

func TestWaitTimer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := waitTimer(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if err := waitTimer(context.Background(), time.Microsecond); err != nil {
		t.Fatalf("elapsed: %v", err)
	}
}

func TestLimitsValidate(t *testing.T) {
	for _, l := range []Limits{
		{MatchingRate: -1},
		{MatchingBurst: math.NaN()},
		{MatchingRate: math.Inf(1)},
		{NonMatchingCost: -1},
		{NonMatchingMax: -1},
		{NonMatchingRefill: -1},
		{MaxWait: -time.Second},
		{Margin: 1.5},
		{Margin: -0.1},
		{MatchingBurst: 1, Margin: 0.5},       // admits nothing
		{NonMatchingCost: 60_000},             // one request exceeds the pool
		{NonMatchingMax: 500, Margin: 0.9999}, // likewise
	} {
		if err := l.Validate(); err == nil {
			t.Errorf("%+v: no error", l)
		}
		if _, err := newLimiter(l, 1, nil); err == nil {
			t.Errorf("newLimiter(%+v): no error", l)
		}
	}
	for _, l := range []Limits{{}, {Disabled: true, MatchingRate: -1}, {MatchingBurst: 1, Margin: 1}, {Margin: 1}} {
		if err := l.Validate(); err != nil {
			t.Errorf("%+v: %v", l, err)
		}
	}
	cfg := Config{Conn: conn.DefaultConfig(), Size: 2}
	cfg.Conn.URL = "ws://127.0.0.1:1/ws/api/v2"
	cfg.Limits = Limits{Margin: 2}
	if _, err := New(cfg, nil, nil, nil); err == nil {
		t.Fatal("New accepted an invalid Limits")
	}
	cfg.Limits = Limits{Disabled: true}
	p, err := New(cfg, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.limit != nil || p.Limited() != 0 {
		t.Fatal("Disabled limits still limit")
	}
	cfg.Limits = Limits{}
	if p, err = New(cfg, nil, nil, nil); err != nil || p.limit == nil || len(p.limit.conn) != 2 {
		t.Fatalf("default limits: %v", err)
	}
}

// simPool starts the simulator with its default (Deribit's tier-1) rate
// limits and a pool of size members with limits l.
func simPool(t *testing.T, size int, l Limits) (*sim.Server, *Pool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := sim.Start(ctx, sim.Config{Seed: 1, MinHeartbeat: 100 * time.Millisecond, Tick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	pc := Config{Conn: conn.DefaultConfig(), Size: size, Limits: l, Classify: deribitRates}
	pc.Conn.URL = srv.URL()
	pc.Conn.Credentials = conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret, Method: conn.AuthSignature}
	pc.Conn.HeartbeatInterval = 100 * time.Millisecond
	pc.Conn.Backoff = conn.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond}
	p, err := New(pc, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return srv, p
}

// outcome sorts the results of concurrent requests.
type outcome struct {
	mu              sync.Mutex
	ok, limited     int
	tooMany, others []error
}

func (o *outcome) add(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case err == nil:
		o.ok++
	case errors.Is(err, &conn.RPCError{Code: sim.CodeTooManyRequests}):
		o.tooMany = append(o.tooMany, err)
	case errors.Is(err, ErrRateLimited) && errors.Is(err, conn.ErrNotSent):
		o.limited++
	default:
		o.others = append(o.others, err)
	}
}

func (o *outcome) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return fmt.Sprintf("ok %d, refused %d, 10028 %d, %d other errors %v", o.ok, o.limited, len(o.tooMany),
		len(o.others), o.others[:min(len(o.others), 3)])
}

// TestSimulatorNeverTrips drives bursts through the pool at full speed
// against the simulator with Deribit's default limits: the pool refuses or
// queues the excess, the exchange never answers 10028 nor closes a
// connection.
func TestSimulatorNeverTrips(t *testing.T) {
	const size = 3
	srv, p := simPool(t, size, Limits{MaxWait: 250 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// 300 resting buys far below the market, all at once, over the members.
	buy := []byte(`{"instrument_name":"BTC-PERPETUAL","amount":10,"price":1000,"post_only":true}`)
	var buys outcome
	var idsMu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() {
			raw, err := p.CallOn(ctx, i%size, "private/buy", buy)
			buys.add(err)
			if err != nil {
				return
			}
			var r struct {
				Order struct {
					ID string `json:"order_id"`
				} `json:"order"`
			}
			if err := json.Unmarshal(raw, &r); err != nil || r.Order.ID == "" {
				t.Errorf("buy result %s: %v", raw, err)
				return
			}
			idsMu.Lock()
			ids = append(ids, r.Order.ID)
			idsMu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("buys: %s", &buys)
	if len(buys.tooMany) > 0 || len(buys.others) > 0 || buys.limited == 0 || buys.ok < 90 || buys.ok+buys.limited != 300 {
		t.Fatalf("buys: %s; want no 10028, no other error, at least 90 placed and some refused", &buys)
	}
	if n := len(srv.OpenOrders(sim.TestKeyID)); n != buys.ok {
		t.Fatalf("%d open orders on the exchange, %d placed", n, buys.ok)
	}

	// Cancel 20 of them one by one, by 4 workers: the matching bucket is
	// empty, so each cancel queues for its token (27/s) instead of being
	// refused.
	var cancels outcome
	work := make(chan string)
	for w := range 4 {
		wg.Go(func() {
			for id := range work {
				for {
					_, err := p.CallOn(ctx, w%size, "private/cancel", []byte(`{"order_id":"`+id+`"}`))
					if errors.Is(err, ErrRateLimited) && ctx.Err() == nil {
						cancels.add(err)
						continue // queue again
					}
					cancels.add(err)
					break
				}
			}
		})
	}
	for _, id := range ids[:20] {
		work <- id
	}
	close(work)
	wg.Wait()
	t.Logf("cancels: %s", &cancels)
	if len(cancels.tooMany) > 0 || len(cancels.others) > 0 || cancels.ok != 20 {
		t.Fatalf("cancels: %s", &cancels)
	}
	// The rest with one cancel_all, from its own bucket: not held back by
	// the drained order bucket.
	limited := p.Limited()
	if _, err := p.CallOn(ctx, 1, "private/cancel_all", nil); err != nil {
		t.Fatalf("cancel_all: %v", err)
	}
	if p.Limited() != limited {
		t.Fatal("cancel_all was held back")
	}
	if n := len(srv.OpenOrders(sim.TestKeyID)); n != 0 {
		t.Fatalf("%d open orders left", n)
	}

	// 200 non-matching requests on member 0 at once.
	var queries outcome
	for range 200 {
		wg.Go(func() {
			_, err := p.CallOn(ctx, 0, "public/get_time", nil)
			queries.add(err)
		})
	}
	wg.Wait()
	t.Logf("queries: %s", &queries)
	if len(queries.tooMany) > 0 || len(queries.others) > 0 || queries.limited == 0 || queries.ok < 90 {
		t.Fatalf("queries: %s", &queries)
	}
	// Member 0 is out of credits; CallRaw, refused there (not sent), goes
	// on another member.
	raw, err := p.CallRaw(ctx, "private/get_open_orders", []byte(`{}`))
	if err != nil || string(raw) != "[]" {
		t.Fatalf("get_open_orders: %s, %v", raw, err)
	}

	st := srv.Stats()
	if st.RateLimitKills != 0 || st.Accepted != size || st.Connections != size {
		t.Fatalf("simulator: %d rate-limit kills, %d accepted, %d open; want 0, %d, %d",
			st.RateLimitKills, st.Accepted, st.Connections, size, size)
	}
	if ps := p.Stats(); ps.Losses != 0 || ps.Healthy != size {
		t.Fatalf("pool: %d losses, %d healthy", ps.Losses, ps.Healthy)
	}
	if p.Limited() == 0 {
		t.Fatal("the limiter never engaged")
	}
}

// TestSimulatorTripsWithoutLimiter is the control: the same kind of burst
// with the limiter off gets the session closed for too_many_requests (the
// 10028 answer itself may be lost to the reset), so the test above would
// see it.
func TestSimulatorTripsWithoutLimiter(t *testing.T) {
	srv, p := simPool(t, 1, Limits{Disabled: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var res outcome
	var wg sync.WaitGroup
	for range 150 {
		wg.Go(func() {
			_, err := p.CallOn(ctx, 0, "public/get_time", nil)
			res.add(err)
		})
	}
	wg.Wait()
	if res.ok == 150 || res.limited != 0 || srv.Stats().RateLimitKills == 0 || p.Limited() != 0 {
		t.Fatalf("without the limiter: %s, %d kills", &res, srv.Stats().RateLimitKills)
	}
}
