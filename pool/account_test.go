package pool

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/sim"
)

func TestParseAccountLimits(t *testing.T) {
	for _, c := range []struct {
		name, json string
		want       AccountLimits
		err        bool
	}{
		{"flat", `{"limits":{"limits_per_currency":false,"non_matching_engine":{"rate":20,"burst":100},"matching_engine":{"rate":10,"burst":20}}}`,
			AccountLimits{10, 20, 20, 100}, false},
		{"grouped", `{"currency":"BTC","limits":{"non_matching_engine":{"rate":20,"burst":100},"matching_engine":{"trading":{"total":{"rate":5,"burst":20}},"cancel_all":{"rate":5,"burst":20},"max_quotes":{"rate":10,"burst":10}}}}`,
			AccountLimits{5, 20, 20, 100}, false},
		{"matching only", `{"limits":{"matching_engine":{"rate":30,"burst":100}}}`, AccountLimits{30, 100, 0, 0}, false},
		{"no limits", `{"currency":"BTC","balance":1}`, AccountLimits{}, true},
		{"zero rate", `{"limits":{"matching_engine":{"rate":0,"burst":100}}}`, AccountLimits{}, true},
		{"not json", `{"limits":`, AccountLimits{}, true},
		{"wrong type", `{"limits":{"matching_engine":{"rate":"fast","burst":1}}}`, AccountLimits{}, true},
	} {
		got, err := ParseAccountLimits([]byte(c.json))
		if (err != nil) != c.err || got != c.want {
			t.Errorf("%s: %+v %v, want %+v (error %v)", c.name, got, err, c.want, c.err)
		}
	}
}

// The pool's limiter starts from the configured tier-1 limits; the account
// is tier 4 (5 requests/s, burst 20). Read from the account, the limits
// keep a burst from tripping the exchange, which would end the session.
func TestUseAccountLimits(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := sim.Start(ctx, sim.Config{Seed: 1, MinHeartbeat: 100 * time.Millisecond, Tick: 20 * time.Millisecond,
		RateLimits: sim.RateLimits{MatchingRate: 5, MatchingBurst: 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	pc := Config{Conn: conn.DefaultConfig(), Size: 1}
	pc.Conn.URL = srv.URL()
	pc.Conn.Credentials = conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret, Method: conn.AuthSignature}
	pc.Conn.HeartbeatInterval = 100 * time.Millisecond
	p, err := New(pc, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if l := p.Limits(); l.MatchingRate != DefaultMatchingRate {
		t.Fatalf("configured limits %+v", l)
	}
	al, err := p.UseAccountLimits(ctx, "BTC")
	if err != nil {
		t.Fatal(err)
	}
	if l := p.Limits(); al.MatchingRate != 5 || al.MatchingBurst != 20 || l.MatchingRate != 5 || l.MatchingBurst != 20 ||
		l.NonMatchingRefill != 20*l.NonMatchingCost || l.NonMatchingMax != 100*l.NonMatchingCost {
		t.Fatalf("account limits %+v, limiter %+v", al, p.Limits())
	}
	// 40 matching requests at once (cancels of orders that do not exist):
	// the limiter lets 18 through (the burst of 20 at the 0.9 margin) and
	// refuses the rest; the exchange never answers too_many_requests.
	var mu sync.Mutex
	var sent, limited int
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			_, err := p.CallOn(ctx, 0, "private/cancel", []byte(`{"order_id":"none"}`))
			mu.Lock()
			defer mu.Unlock()
			var rpc *conn.RPCError
			switch {
			case errors.Is(err, ErrRateLimited):
				limited++
			case errors.As(err, &rpc) && rpc.Code == 10028:
				t.Errorf("the exchange answered too_many_requests")
			default:
				sent++
			}
		})
	}
	wg.Wait()
	if sent > 19 || limited < 21 || srv.Stats().RateLimitKills != 0 {
		t.Fatalf("%d sent, %d refused by the limiter, %d sessions ended by the exchange", sent, limited, srv.Stats().RateLimitKills)
	}
}
