// Package strategytest runs a strategy natively, the way the host runs the
// plugin, so that it can be tested with go test: a Harness with a fake host
// (a clock that moves only when told, timers, a log) writes start-up blobs
// and event batches into an inbox, drives the strategy through the same
// strategy.Runner the plugin's exports use, and returns the intents it
// queued.
//
//	h := strategytest.New(&MyStrategy{})
//	if _, err := h.Init(&abi.Startup{Instruments: []abi.Instrument{strategytest.Perpetual("BTC-PERPETUAL")}}); err != nil {
//		t.Fatal(err)
//	}
//	intents, err := h.Send(strategytest.Ticker(0, 64990, 65010))
//
// A Harness is not safe for concurrent use.
package strategytest

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/stratbox/stratbox/abi"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
)

// Start is the host clock of a new Harness: 2023-11-14T22:13:20Z.
const Start uint64 = 1_700_000_000_000_000_000

// DefaultTimerMin is the host's default minimum timer interval (a plugin's
// timer_min, abi/README.md set_timer).
const DefaultTimerMin = 2 * time.Millisecond

// Harness drives one strategy. Its fields are the fake host's state.
type Harness struct {
	// Now is the host clock, ns since the Unix epoch; Advance moves it.
	Now uint64
	// Logs holds every line the strategy and the SDK logged.
	Logs []Log
	// TimerMin is the plugin's minimum timer interval, as the host applies
	// it: set_timer raises a shorter after_ns to it, and Advance wakes the
	// strategy for due timers only once TimerMin has passed since its last
	// call (they stay armed until then). New sets DefaultTimerMin; 0 turns
	// both off.
	TimerMin time.Duration

	r        *strategy.Runner
	inbox    []byte
	outbox   []byte
	seq      uint32
	tradeSeq uint64
	timers   map[uint32]uint64 // armed timer id → due time
	lastCall uint64            // Now at the last call
}

// CallError is a negative result of a call: a plugin error, which the host
// treats as a fault.
type CallError struct {
	Call   string          // stratbox_init, stratbox_on_events, stratbox_on_stop
	Result abi.PluginError // abi.PluginBadInput, abi.PluginBadConf, ...
	Log    string          // the log so far, one line each
}

func (e *CallError) Error() string {
	return fmt.Sprintf("strategytest: %s returned plugin error %d; log:\n%s", e.Call, e.Result, e.Log)
}

// Log is one line of the fake host's log.
type Log struct {
	Level abi.LogLevel
	Text  string
}

func (l Log) String() string { return fmt.Sprintf("[%d] %s", l.Level, l.Text) }

// New returns a Harness of s with the SDK's buffer sizes.
func New(s strategy.Strategy) *Harness {
	return NewSized(s, strategy.InboxSize, strategy.OutboxSize)
}

// NewSized returns a Harness with an inbox and an outbox of the given
// sizes (to test a full outbox, say).
func NewSized(s strategy.Strategy, inbox, outbox int) *Harness {
	h := &Harness{Now: Start, TimerMin: DefaultTimerMin, inbox: make([]byte, inbox), outbox: make([]byte, outbox),
		timers: map[uint32]uint64{}}
	h.r = strategy.NewRunner(s, host{h}, h.inbox, h.outbox)
	return h
}

// Runner returns the Runner that drives the strategy.
func (h *Harness) Runner() *strategy.Runner { return h.r }

// Init writes the start-up blob of su (Start.Time defaults to Now,
// Start.FirstCID to 1) and calls stratbox_init.
func (h *Harness) Init(su *abi.Startup) ([]Intent, error) {
	s := *su
	if s.Start.Time == 0 {
		s.Start.Time = h.Now
	}
	if s.Start.FirstCID == 0 {
		s.Start.FirstCID = 1
	}
	if s.Start.HostVersion == (abi.Version{}) {
		s.Start.HostVersion = abi.Current
	}
	blob, err := abi.AppendStartup(nil, &s)
	if err != nil {
		return nil, err
	}
	if len(blob) > len(h.inbox) {
		return nil, fmt.Errorf("strategytest: a start-up blob of %d bytes does not fit an inbox of %d", len(blob), len(h.inbox))
	}
	copy(h.inbox, blob)
	return h.result("stratbox_init", h.r.Init(int32(len(blob))))
}

// Send delivers one batch of event records (each made by abi.AppendX or
// the helpers of this package), numbering them 1, 2, 3, ... across
// batches as the host does, and calls stratbox_on_events.
func (h *Harness) Send(events ...[]byte) ([]Intent, error) {
	n := 0
	for _, e := range events {
		if len(e) < abi.HeaderSize || n+len(e) > len(h.inbox) {
			return nil, fmt.Errorf("strategytest: an event of %d bytes is not a record or does not fit the inbox", len(e))
		}
		copy(h.inbox[n:], e)
		h.seq++
		binary.LittleEndian.PutUint32(h.inbox[n+abi.OffSeq:], h.seq)
		n += len(e)
	}
	return h.result("stratbox_on_events", h.r.OnEvents(int32(n)))
}

// SendRaw delivers batch as it is (no numbering): for malformed batches.
func (h *Harness) SendRaw(batch []byte) ([]Intent, error) {
	if len(batch) > len(h.inbox) {
		return nil, fmt.Errorf("strategytest: a batch of %d bytes does not fit an inbox of %d", len(batch), len(h.inbox))
	}
	n := copy(h.inbox, batch)
	return h.result("stratbox_on_events", h.r.OnEvents(int32(n)))
}

// Stop calls stratbox_on_stop.
func (h *Harness) Stop() ([]Intent, error) { return h.result("stratbox_on_stop", h.r.OnStop()) }

// Advance moves the clock by d and delivers the timers that are then due,
// in the order of their due times, in one batch (no call when none is due,
// nor while less than TimerMin has passed since the strategy's last call:
// the host would not wake it yet).
func (h *Harness) Advance(d time.Duration) ([]Intent, error) {
	h.Now += uint64(d)
	if h.Now < h.lastCall+uint64(max(h.TimerMin, 0)) {
		return nil, nil
	}
	type due struct {
		id uint32
		at uint64
	}
	var fire []due
	for id, at := range h.timers {
		if at <= h.Now {
			fire = append(fire, due{id, at})
		}
	}
	if len(fire) == 0 {
		return nil, nil
	}
	slices.SortFunc(fire, func(a, b due) int {
		if a.at != b.at {
			return cmpU64(a.at, b.at)
		}
		return cmpU64(uint64(a.id), uint64(b.id))
	})
	events := make([][]byte, len(fire))
	for i, f := range fire {
		delete(h.timers, f.id)
		events[i] = abi.AppendTimer(nil, &abi.Timer{ID: f.id, Time: h.Now, Due: f.at})
	}
	return h.Send(events...)
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Timer returns the due time of timer id, and false when it is not armed.
func (h *Harness) Timer(id uint32) (due uint64, armed bool) {
	due, armed = h.timers[id]
	return due, armed
}

// result frames the outbox after a call.
func (h *Harness) result(call string, n int32) ([]Intent, error) {
	h.lastCall = h.Now
	if n < 0 {
		return nil, &CallError{Call: call, Result: abi.PluginError(n), Log: h.logText()}
	}
	if int(n) > len(h.outbox) {
		return nil, fmt.Errorf("strategytest: %s returned %d bytes; the outbox holds %d", call, n, len(h.outbox))
	}
	return Intents(h.outbox[:n])
}

func (h *Harness) logText() string {
	var b strings.Builder
	for _, l := range h.Logs {
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// host is the fake host: the Harness seen through strategy.Host.
type host struct{ h *Harness }

func (f host) Log(level abi.LogLevel, msg []byte) abi.Status {
	if level < abi.LogDebug || level > abi.LogError {
		return abi.StatusBadArgument
	}
	if len(msg) > abi.MaxLogLine {
		msg = msg[:abi.MaxLogLine]
	}
	f.h.Logs = append(f.h.Logs, Log{level, string(msg)})
	return abi.StatusOK
}

func (f host) Now() int64 { return int64(f.h.Now) }

func (f host) SetTimer(id uint32, afterNs int64) abi.Status {
	if _, armed := f.h.timers[id]; !armed && len(f.h.timers) >= abi.MaxTimers {
		return abi.StatusLimit
	}
	after := uint64(max(afterNs, int64(f.h.TimerMin), 0))
	due := f.h.Now + after
	if due > math.MaxInt64 || due < f.h.Now { // past year 2262: never fires
		due = math.MaxInt64
	}
	f.h.timers[id] = due
	return abi.StatusOK
}

func (f host) CancelTimer(id uint32) abi.Status {
	if _, armed := f.h.timers[id]; !armed {
		return abi.StatusNotFound
	}
	delete(f.h.timers, id)
	return abi.StatusOK
}
