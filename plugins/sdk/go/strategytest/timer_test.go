package strategytest_test

import (
	"math"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
	"github.com/stratbox/stratbox/plugins/sdk/go/strategytest"
)

// timed arms timer 1 after `after` at init and on every ticker, and
// records the timers it gets.
type timed struct {
	strategy.Base
	after time.Duration
	fired []abi.Timer
}

func (s *timed) Init(ctx *strategy.Context, _ *strategy.Params, _ []abi.Instrument) error {
	return ctx.SetTimer(1, s.after)
}

func (s *timed) OnTicker(ctx *strategy.Context, _ *abi.Ticker) { _ = ctx.SetTimer(2, s.after) }

func (s *timed) OnTimer(_ *strategy.Context, t *abi.Timer) { s.fired = append(s.fired, *t) }

func start(t *testing.T, s *timed, timerMin time.Duration) *strategytest.Harness {
	t.Helper()
	h := strategytest.New(s)
	h.TimerMin = timerMin
	if _, err := h.Init(&abi.Startup{Instruments: []abi.Instrument{strategytest.Perpetual("BTC-PERPETUAL")}}); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDefaultTimerMinIsTheHosts(t *testing.T) {
	if strategytest.DefaultTimerMin != sandbox.DefaultTimerMin {
		t.Fatalf("strategytest.DefaultTimerMin %v, the host's %v", strategytest.DefaultTimerMin, sandbox.DefaultTimerMin)
	}
	if h := strategytest.New(&timed{}); h.TimerMin != sandbox.DefaultTimerMin {
		t.Fatalf("New's TimerMin %v", h.TimerMin)
	}
}

// A timer shorter than TimerMin is raised to it, as the host does.
func TestShortTimerIsRaisedToTimerMin(t *testing.T) {
	s := &timed{after: 0}
	h := start(t, s, 10*time.Millisecond)
	if due, ok := h.Timer(1); !ok || due != strategytest.Start+uint64(10*time.Millisecond) {
		t.Fatalf("timer 1 due %d (armed %v), want Start+10ms", due, ok)
	}
	if _, err := h.Advance(9 * time.Millisecond); err != nil || len(s.fired) != 0 {
		t.Fatalf("fired %v before its due time (err %v)", s.fired, err)
	}
	if _, err := h.Advance(time.Millisecond); err != nil || len(s.fired) != 1 {
		t.Fatalf("fired %v at its due time (err %v)", s.fired, err)
	}
}

// A due timer waits until TimerMin has passed since the last call, and
// then arrives with its own due time.
func TestTimersWaitForTimerMinAfterACall(t *testing.T) {
	s := &timed{after: 10 * time.Millisecond}
	h := start(t, s, 10*time.Millisecond)
	h.Now += uint64(5 * time.Millisecond)
	if _, err := h.Send(h.Ticker(0, strategytest.F(65000), strategytest.F(65001))); err != nil { // a call at +5ms
		t.Fatal(err)
	}
	if _, err := h.Advance(5 * time.Millisecond); err != nil || len(s.fired) != 0 { // +10ms: timer 1 due, but the last call was 5ms ago
		t.Fatalf("fired %v 5ms after a call (err %v)", s.fired, err)
	}
	if _, err := h.Advance(5 * time.Millisecond); err != nil || len(s.fired) != 2 { // +15ms: both due
		t.Fatalf("fired %v at +15ms, want timers 1 and 2 (err %v)", s.fired, err)
	}
	if s.fired[0].ID != 1 || s.fired[0].Due != strategytest.Start+uint64(10*time.Millisecond) || s.fired[1].ID != 2 {
		t.Fatalf("fired %+v", s.fired)
	}
}

// TimerMin 0 turns both rules off; a due time past 2262 saturates.
func TestTimerMinZeroAndSaturation(t *testing.T) {
	s := &timed{after: 0}
	h := start(t, s, 0)
	if due, _ := h.Timer(1); due != strategytest.Start {
		t.Fatalf("timer 1 due %d with TimerMin 0, want Start", due)
	}
	if _, err := h.Advance(0); err != nil || len(s.fired) != 1 {
		t.Fatalf("fired %v (err %v)", s.fired, err)
	}
	s2 := &timed{after: time.Duration(math.MaxInt64)}
	h2 := start(t, s2, 0)
	if due, _ := h2.Timer(1); due != math.MaxInt64 {
		t.Fatalf("timer due %d, want saturated at MaxInt64", due)
	}
}
