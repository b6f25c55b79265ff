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

// pauseBox is a sandbox that rests one buy far below the market from its
// first market batch, and counts its calls.
type pauseBox struct {
	mu      sync.Mutex
	placed  bool
	calls   int
	updates []abi.OrderUpdate
	acked   chan struct{}
	called  chan struct{}
}

func (q *pauseBox) Start(context.Context, []byte, time.Time) ([]byte, error) { return nil, nil }
func (q *pauseBox) Deliver(_ context.Context, batch []byte, _ time.Time) ([]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
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
			if abi.DecodeOrderUpdate(rec.Bytes, &u) == nil {
				q.updates = append(q.updates, u)
				if u.State == abi.StateOpen {
					select {
					case q.acked <- struct{}{}:
					default:
					}
				}
			}
		}
	}
	select {
	case q.called <- struct{}{}:
	default:
	}
	if !market || q.placed {
		return nil, nil
	}
	q.placed = true
	return abi.AppendPlace(nil, &abi.Place{Seq: 1, CID: 1, Side: abi.Buy, Type: abi.Limit, TIF: abi.GoodTilCancelled,
		Price: 30000 * abi.FixedScale, Amount: 10 * abi.FixedScale}), nil
}
func (q *pauseBox) NextTimer() (time.Time, bool)                    { return time.Time{}, false }
func (q *pauseBox) Stop(context.Context, time.Time) ([]byte, error) { return nil, nil }
func (q *pauseBox) Close() error                                    { return nil }
func (q *pauseBox) Fault() *sandbox.Fault                           { return nil }
func (q *pauseBox) Stats() sandbox.InstanceStats                    { return sandbox.InstanceStats{} }
func (q *pauseBox) Descriptor() abi.Descriptor {
	return abi.Descriptor{InboxCap: 1 << 16, OutboxCap: 1 << 16}
}

func (q *pauseBox) count() int { q.mu.Lock(); defer q.mu.Unlock(); return q.calls }

// waitUntil polls cond (the engine's counters: nothing signals them) until it
// holds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A paused plugin gets no event while its inbox fills and its order stays
// on the exchange; resumed, it gets what was gathered. Paused with cancel,
// its orders are cancelled. Unknown names and repeated pauses are errors
// that say so.
func TestPauseAndResume(t *testing.T) {
	q := &pauseBox{acked: make(chan struct{}, 1), called: make(chan struct{}, 1)}
	cfg := DefaultConfig()
	cfg.Plugins = []PluginSpec{{Name: "q", NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return q },
		Instruments: []string{"BTC-PERPETUAL"}, Channels: []string{"ticker.{instrument}.100ms"}}}
	r := startRig(t, cfg, nil)
	select {
	case <-q.acked:
	case <-time.After(60 * time.Second):
		t.Fatal("the order was not acknowledged")
	}
	stats := func() PluginStats { return r.e.Stats().Plugins[0] }
	if _, err := r.e.Pause("q", false); err != nil {
		t.Fatal(err)
	}
	if !stats().Paused {
		t.Error("Stats: not paused")
	}
	// Pause returns after the call under way: none starts from here.
	calls, pushed := q.count(), stats().Inbox.Pushed
	waitUntil(t, "ten market events gathered", func() bool { return stats().Inbox.Pushed >= pushed+10 })
	if n := q.count(); n != calls {
		t.Fatalf("%d calls while paused", n-calls)
	}
	if open := stats().OpenOrders; open != 1 {
		t.Errorf("%d open orders after a pause without cancel, want 1", open)
	}
	if _, err := r.e.Pause("q", false); !errors.Is(err, ErrPauseState) || !strings.Contains(err.Error(), "paused already") {
		t.Errorf("a second pause: %v", err)
	}
	if err := r.e.Resume("q"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a call after the resume", func() bool { return q.count() > calls })
	if err := r.e.Resume("q"); !errors.Is(err, ErrPauseState) || !strings.Contains(err.Error(), "not paused") {
		t.Errorf("a resume of a running plugin: %v", err)
	}
	if _, err := r.e.Pause("nope", false); !errors.Is(err, ErrUnknownPlugin) || !strings.Contains(err.Error(), `"nope" (plugins: q)`) {
		t.Errorf("an unknown plugin: %v", err)
	}
	if err := r.e.Resume("nope"); !errors.Is(err, ErrUnknownPlugin) {
		t.Errorf("resume of an unknown plugin: %v", err)
	}
	if _, err := r.e.Pause("q", false); err != nil {
		t.Fatal(err)
	}
	n, err := r.e.Pause("q", true) // paused already: the cancel is what is asked
	if err != nil || n != 1 {
		t.Fatalf("pause with cancel of a paused plugin: %d cancelled, %v", n, err)
	}
	waitUntil(t, "the order cancelled", func() bool { return stats().OpenOrders == 0 })
	if err := r.e.Resume("q"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the cancellation delivered", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		for _, u := range q.updates {
			if u.CID == 1 && u.State == abi.StateCancelled {
				if u.Reason != abi.ReasonPluginStopped {
					t.Errorf("cancelled with reason %v, want plugin_stopped", u.Reason)
				}
				return true
			}
		}
		return false
	})
}
