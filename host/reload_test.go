package host

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
)

// placeBox is a sandbox that places the orders it is handed (place), one
// per call with market events, and reports each order's first final or
// open state (done).
type placeBox struct {
	mu    sync.Mutex
	queue []abi.Place
	done  chan abi.OrderUpdate
}

func (q *placeBox) place(p abi.Place) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queue = append(q.queue, p)
}

// result waits for the open or rejected update of cid.
func (q *placeBox) result(t *testing.T, cid uint64) abi.OrderUpdate {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case u := <-q.done:
			if u.CID == cid {
				return u
			}
		case <-timeout:
			t.Fatalf("order %d: no open or rejected update", cid)
		}
	}
}

func (q *placeBox) Start(context.Context, []byte, time.Time) ([]byte, error) { return nil, nil }
func (q *placeBox) Deliver(_ context.Context, batch []byte, _ time.Time) ([]byte, error) {
	market := false
	for rec, err := range abi.Records(batch) {
		if err != nil {
			return nil, err
		}
		switch rec.Kind {
		case abi.KindTicker, abi.KindBookSnapshot, abi.KindBookChange, abi.KindTrade:
			market = true
		case abi.KindOrderUpdate:
			var u abi.OrderUpdate
			if abi.DecodeOrderUpdate(rec.Bytes, &u) == nil && (u.State == abi.StateOpen || u.State == abi.StateRejected) {
				q.done <- u
			}
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !market || len(q.queue) == 0 {
		return nil, nil
	}
	p := q.queue[0]
	q.queue = q.queue[1:]
	return abi.AppendPlace(nil, &p), nil
}
func (q *placeBox) NextTimer() (time.Time, bool)                    { return time.Time{}, false }
func (q *placeBox) Stop(context.Context, time.Time) ([]byte, error) { return nil, nil }
func (q *placeBox) Close() error                                    { return nil }
func (q *placeBox) Fault() *sandbox.Fault                           { return nil }
func (q *placeBox) Stats() sandbox.InstanceStats                    { return sandbox.InstanceStats{} }
func (q *placeBox) Descriptor() abi.Descriptor {
	return abi.Descriptor{InboxCap: 1 << 16, OutboxCap: 1 << 16}
}

// A buy far below the market (it rests), of amount USD.
func restingBuy(cid uint64, amount int64) abi.Place {
	return abi.Place{Seq: uint32(cid), CID: cid, Side: abi.Buy, Type: abi.Limit, TIF: abi.GoodTilCancelled,
		Price: 30000 * abi.FixedScale, Amount: abi.Fixed(amount) * abi.FixedScale}
}

// SetRisk lowers a limit between two intents: the next intent over it is
// refused for it, one within it is placed. A SetRisk with an invalid limit
// or an unknown plugin is refused, naming it, and changes nothing.
func TestSetRiskLowersALimit(t *testing.T) {
	q := &placeBox{done: make(chan abi.OrderUpdate, 16)}
	cfg := DefaultConfig()
	own := RiskLimits{MaxOrderAmount: 100 * abi.FixedScale}
	cfg.Plugins = []PluginSpec{{Name: "q", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return q },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}, Risk: &own}}
	r := startRig(t, cfg, nil)
	q.place(restingBuy(1, 50))
	if u := q.result(t, 1); u.State != abi.StateOpen {
		t.Fatalf("50 under a limit of 100: %v %v", u.State, u.Reason)
	}

	lowered := RiskLimits{MaxOrderAmount: 40 * abi.FixedScale}
	if err := r.e.SetRisk(RiskSet{Default: cfg.Risk, Plugins: map[string]RiskLimits{"q": lowered}}); err != nil {
		t.Fatal(err)
	}
	if got := r.e.Risk().Plugins["q"]; got != lowered {
		t.Fatalf("Risk: %+v, want %+v", got, lowered)
	}
	q.place(restingBuy(2, 50))
	if u := q.result(t, 2); u.State != abi.StateRejected || u.Reason != abi.ReasonRiskMaxOrderAmount {
		t.Fatalf("50 over a lowered limit of 40: %v %v, want rejected %v", u.State, u.Reason, abi.ReasonRiskMaxOrderAmount)
	}
	q.place(restingBuy(3, 30))
	if u := q.result(t, 3); u.State != abi.StateOpen {
		t.Fatalf("30 under the lowered limit: %v %v", u.State, u.Reason)
	}

	raised := RiskLimits{MaxOrderAmount: 1000 * abi.FixedScale}
	for _, tc := range []struct {
		set  RiskSet
		want string
	}{
		{RiskSet{Default: RiskLimits{MaxOpenOrders: -1}, Plugins: map[string]RiskLimits{"q": raised}}, "max_open_orders is negative"},
		{RiskSet{Default: cfg.Risk, Plugins: map[string]RiskLimits{"q": raised, "z": {PriceBandBps: -3}}}, `unknown plugin "z" (plugins: q)`},
		{RiskSet{Default: cfg.Risk, Plugins: map[string]RiskLimits{"q": {MaxPosition: -1}}}, `plugin "q": Risk: host: invalid config: max_position is negative`},
	} {
		if err := r.e.SetRisk(tc.set); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetRisk(%+v): %v, want an error with %q", tc.set, err, tc.want)
		}
	}
	if err := r.e.SetRisk(RiskSet{Plugins: map[string]RiskLimits{"z": raised}}); !errors.Is(err, ErrUnknownPlugin) {
		t.Errorf("an unknown plugin: %v", err)
	}
	if got := r.e.Risk(); got.Plugins["q"] != lowered || got.Default != cfg.Risk {
		t.Fatalf("refused SetRisks changed the limits: %+v", got)
	}
	q.place(restingBuy(4, 50))
	if u := q.result(t, 4); u.State != abi.StateRejected || u.Reason != abi.ReasonRiskMaxOrderAmount {
		t.Fatalf("50 after refused raises: %v %v, want rejected %v", u.State, u.Reason, abi.ReasonRiskMaxOrderAmount)
	}
}

// A SetRisk before Run sets up the plugins is what they start with; a
// plugin without limits of its own follows the new default.
func TestSetRiskBeforeRun(t *testing.T) {
	q := &placeBox{done: make(chan abi.OrderUpdate, 16)}
	cfg := DefaultConfig()
	cfg.Plugins = []PluginSpec{{Name: "q", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return q },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}}}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	def := cfg.Risk
	def.MaxOrderAmount = 20 * abi.FixedScale
	if err := e.SetRisk(RiskSet{Default: def}); err != nil {
		t.Fatal(err)
	}
	if got := e.riskFor("q"); got != def {
		t.Fatalf("riskFor: %+v, want the new default %+v", got, def)
	}
}
