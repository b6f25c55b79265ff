package host

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/sim"
)

// localExchange is sim.Local as an Exchange, delivering its notifications
// to the lock step.
type localExchange struct {
	l   *sim.Local
	clk *clock.Fake
	ls  *Lockstep
}

func (x *localExchange) CallRaw(_ context.Context, method string, params []byte) (json.RawMessage, error) {
	raw, err := x.l.Call(x.clk.Now().UnixMilli(), method, params)
	for _, n := range x.l.TakeNotes(nil) {
		x.ls.Deliver(conn.Notification{Channel: []byte(n.Channel), Data: n.Data, Received: x.clk.Now()})
	}
	if err != nil {
		return nil, &conn.RPCError{Code: err.Code, Message: err.Message}
	}
	return raw, nil
}

func (x *localExchange) Subscribe(_ context.Context, ch ...string) ([]string, error) { return ch, nil }

// startLockstep starts engine e in lock step on clk against a sim.Local,
// with observer obs (nil: none).
func startLockstep(t *testing.T, e *Engine, clk *clock.Fake, obs Observer) *Lockstep {
	t.Helper()
	ls, err := NewLockstep(e, clk, obs)
	if err != nil {
		t.Fatal(err)
	}
	if err := ls.Start(context.Background(), &localExchange{l: sim.NewLocal(sim.LocalConfig{}), clk: clk, ls: ls}); err != nil {
		t.Fatal(err)
	}
	return ls
}

type seen struct{ events, intents []string }

func (s *seen) Events(_ string, _ time.Time, b []byte) {
	for rec, err := range abi.Records(b) {
		if err == nil {
			s.events = append(s.events, rec.Kind.String())
		}
	}
}

func (s *seen) Intents(_ string, _ time.Time, b []byte) {
	for rec, err := range abi.Records(b) {
		if err == nil {
			s.intents = append(s.intents, rec.Kind.String())
		}
	}
}

// In lock step, everything an input causes has happened when Settle
// returns: the order placed at start is acknowledged, the plugin has been
// told, and nothing is in flight; a market notification reaches the plugin
// in the next Settle, and a cancel is carried out before Stop returns.
func TestLockstepSettlesEverything(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	sb := newScriptBox(place(1, 1, 0, abi.Buy, "59000", "10"))
	e, err := New(Config{Plugins: []PluginSpec{{Name: "p", Instruments: []string{"BTC-PERPETUAL"},
		NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return sb }}}}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewLockstep(e, clock.NewFake(time.Time{}), nil); err == nil {
		t.Fatal("a lock step on another clock than the engine's was accepted")
	}
	obs := &seen{}
	ls := startLockstep(t, e, clk, obs)
	s := e.Stats()
	if s.Placed != 1 || s.Acked != 1 || s.InFlight != 0 {
		t.Fatalf("after Start: %+v", s)
	}
	if got := strings.Join(obs.intents, ","); got != "place" {
		t.Fatalf("intents seen: %s", got)
	}
	if got := strings.Join(obs.events, ","); !strings.Contains(got, "order_update") || !strings.HasPrefix(got, "start") {
		t.Fatalf("events seen: %s", got)
	}
	clk.Set(clk.Now().Add(time.Second))
	before := len(sb.events)
	ls.Deliver(conn.Notification{Channel: []byte("ticker.BTC-PERPETUAL.100ms"), Received: clk.Now(),
		Data: []byte(`{"timestamp":1767225601000,"instrument_name":"BTC-PERPETUAL","best_bid_price":59999,"best_bid_amount":10,"best_ask_price":60001,"best_ask_amount":10,"last_price":60000,"mark_price":60000,"index_price":60000}`)})
	sb.queue(abi.AppendCancel(nil, &abi.Cancel{Seq: 2, CID: 1}))
	ls.Settle()
	// The ticker, then the cancel's order update: both within Settle.
	if len(sb.events) != before+2 || abi.ReadHeader(sb.events[before]).Kind != abi.KindTicker ||
		abi.ReadHeader(sb.events[before+1]).Kind != abi.KindOrderUpdate {
		t.Fatalf("Settle delivered %d events, want the ticker and the cancel's update", len(sb.events)-before)
	}
	if s := e.Stats(); s.Cancelled != 1 || s.InFlight != 0 {
		t.Fatalf("the cancel was not carried out in Settle: %+v", s)
	}
	if err := ls.Stop(); err != nil {
		t.Fatal(err)
	}
}
