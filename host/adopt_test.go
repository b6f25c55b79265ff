package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/venue/deribit"
)

// heirBox is a sandbox whose behaviour a test scripts: it records its
// start-up blob and the events it is delivered, and answers each call with
// what react returns (an error is the call's fault).
type heirBox struct {
	mu       sync.Mutex
	start    abi.Startup
	updates  []abi.OrderUpdate
	fills    []abi.Fill
	rejected []abi.IntentRejected
	calls    int
	closed   bool
	startErr error
	// react answers a call, with mu held: market is whether the batch held
	// market data.
	react func(b *heirBox, market bool) ([]byte, error)
	// changed is signalled after every call.
	changed chan struct{}
}

func newHeirBox(react func(b *heirBox, market bool) ([]byte, error)) *heirBox {
	return &heirBox{react: react, changed: make(chan struct{}, 1)}
}

func (b *heirBox) Start(_ context.Context, blob []byte, _ time.Time) ([]byte, error) {
	b.mu.Lock()
	defer b.signal()
	defer b.mu.Unlock()
	if err := abi.DecodeStartup(blob, &b.start); err != nil {
		return nil, err
	}
	if b.startErr != nil {
		return nil, b.startErr
	}
	return nil, nil
}

func (b *heirBox) Deliver(_ context.Context, batch []byte, _ time.Time) ([]byte, error) {
	b.mu.Lock()
	defer b.signal()
	defer b.mu.Unlock()
	b.calls++
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
			if err := abi.DecodeOrderUpdate(rec.Bytes, &u); err != nil {
				return nil, err
			}
			b.updates = append(b.updates, u)
		case abi.KindFill:
			var f abi.Fill
			if err := abi.DecodeFill(rec.Bytes, &f); err != nil {
				return nil, err
			}
			b.fills = append(b.fills, f)
		case abi.KindIntentRejected:
			var x abi.IntentRejected
			if err := abi.DecodeIntentRejected(rec.Bytes, &x); err != nil {
				return nil, err
			}
			b.rejected = append(b.rejected, x)
		}
	}
	if b.react == nil {
		return nil, nil
	}
	return b.react(b, market)
}

func (b *heirBox) signal() {
	select {
	case b.changed <- struct{}{}:
	default:
	}
}

func (b *heirBox) NextTimer() (time.Time, bool)                    { return time.Time{}, false }
func (b *heirBox) Stop(context.Context, time.Time) ([]byte, error) { return nil, nil }
func (b *heirBox) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}
func (b *heirBox) Fault() *sandbox.Fault        { return nil }
func (b *heirBox) Stats() sandbox.InstanceStats { return sandbox.InstanceStats{} }
func (b *heirBox) Descriptor() abi.Descriptor {
	return abi.Descriptor{InboxCap: 1 << 16, OutboxCap: 1 << 16}
}

// lastUpdate returns the last update of cid the box was delivered.
func (b *heirBox) lastUpdate(cid uint64) (abi.OrderUpdate, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last(cid)
}

// last is lastUpdate with b.mu held (in react).
func (b *heirBox) last(cid uint64) (abi.OrderUpdate, bool) {
	for i := len(b.updates) - 1; i >= 0; i-- {
		if b.updates[i].CID == cid {
			return b.updates[i], true
		}
	}
	return abi.OrderUpdate{}, false
}

// waitBox waits until cond holds of b (checked after each of its calls).
func waitBox(t *testing.T, b *heirBox, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for !cond() {
		select {
		case <-b.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// restartConfig is a config with KeepOrders on and one quick restart,
// whose one plugin "q" (BTC-PERPETUAL, its 100ms ticker) has the boxes
// as its instances in turn.
func restartConfig(boxes ...*heirBox) Config {
	var n int
	cfg := DefaultConfig()
	cfg.KeepOrders = true
	cfg.MaxRestarts = 1
	cfg.RestartBackoff = time.Millisecond
	cfg.Plugins = []PluginSpec{{Name: "q", Instruments: []string{"BTC-PERPETUAL"},
		Channels: []string{"ticker.{instrument}.100ms"},
		NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox {
			b := boxes[n]
			n++
			return b
		}}}
	return cfg
}

// A plugin whose instance faults while KeepOrders is on: its order stays
// on the exchange, and the next instance finds it in its start-up blob,
// receives its updates, and amends and cancels it by its cid; its own cids
// start above it.
func TestKeepOrdersRestartAdoptsTheOrders(t *testing.T) {
	const price, moved = 30000 * abi.FixedScale, 30100 * abi.FixedScale
	first := newHeirBox(func(b *heirBox, market bool) ([]byte, error) {
		if len(b.updates) > 0 && b.updates[len(b.updates)-1].State == abi.StateOpen {
			return nil, errors.New("boom") // the fault, once its order rests
		}
		if market && len(b.updates) == 0 {
			return abi.AppendPlace(nil, &abi.Place{Seq: 1, CID: 1, Side: abi.Buy, Type: abi.Limit,
				TIF: abi.GoodTilCancelled, Price: price, Amount: 10 * abi.FixedScale}), nil
		}
		return nil, nil
	})
	var amended, cancelled, placed bool
	second := newHeirBox(func(b *heirBox, market bool) ([]byte, error) {
		var out []byte
		u, _ := b.last(1)
		switch {
		case !amended:
			amended = true
			out = abi.AppendAmend(out, &abi.Amend{Seq: 1, CID: 1, Price: moved, Amount: 10 * abi.FixedScale})
		case u.Price == moved && !cancelled:
			cancelled = true
			out = abi.AppendCancel(out, &abi.Cancel{Seq: 2, CID: 1})
		case u.State == abi.StateCancelled && !placed:
			placed = true
			out = abi.AppendPlace(out, &abi.Place{Seq: 3, CID: b.start.Start.FirstCID, Side: abi.Buy,
				Type: abi.Limit, TIF: abi.GoodTilCancelled, Price: price, Amount: 10 * abi.FixedScale})
		}
		return out, nil
	})
	cfg := restartConfig(first, second)
	r := startRigConn(t, cfg, nil, steadyConn)
	waitBox(t, second, "the second instance's start", func() bool {
		second.mu.Lock()
		defer second.mu.Unlock()
		return second.start.Start.Name.String() == "q"
	})
	before := ourOrders(r.srv)
	if len(before) != 1 {
		t.Fatalf("%d orders on the exchange after the fault, want 1", len(before))
	}
	second.mu.Lock()
	st := second.start
	second.mu.Unlock()
	if len(st.Orders) != 1 {
		t.Fatalf("the start-up blob holds %d orders, want 1: %+v", len(st.Orders), st.Orders)
	}
	o := st.Orders[0]
	if o.CID != 1 || o.State != abi.StateOpen || o.Side != abi.Buy || o.Price != price ||
		o.Amount != 10*abi.FixedScale || o.FilledAmount != 0 || o.ExchangeOrderID.String() != before[0].OrderID {
		t.Errorf("adopted order %+v, want cid 1 open buy 10 at 30000, id %s", o, before[0].OrderID)
	}
	if st.Start.FirstCID <= 1 {
		t.Errorf("first_cid %d, not above the adopted cid 1", st.Start.FirstCID)
	}
	waitBox(t, second, "the amend", func() bool { u, _ := second.lastUpdate(1); return u.Price == moved })
	if after := ourOrders(r.srv); len(after) != 1 || after[0].OrderID != before[0].OrderID || after[0].Price != 30100 {
		t.Errorf("after the amend the exchange has %+v, want order %s at 30100", after, before[0].OrderID)
	}
	waitBox(t, second, "the cancel and the new order", func() bool {
		u, _ := second.lastUpdate(st.Start.FirstCID)
		return u.State == abi.StateOpen
	})
	if u, _ := second.lastUpdate(1); u.State != abi.StateCancelled {
		t.Errorf("cid 1 is %v, want cancelled", u.State)
	}
	second.mu.Lock()
	rejected := second.rejected
	second.mu.Unlock()
	if len(rejected) > 0 {
		t.Errorf("intents refused: %+v", rejected)
	}
	if after := ourOrders(r.srv); len(after) != 1 || after[0].OrderID == before[0].OrderID {
		t.Errorf("the exchange has %+v, want only the new order", after)
	}
}

// A swap hands the plugin's resting order to the new instance: the order
// stays on the exchange under its id, the old instance is called no more
// and closed, the new one's blob holds the order and the merged
// parameters, and it amends the order. A swap to a module that fails at
// start leaves the running one trading; a paused plugin and an unknown
// name are refused, saying why.
func TestSwapHandsOverOrders(t *testing.T) {
	const price, moved = 30000 * abi.FixedScale, 30200 * abi.FixedScale
	old := newHeirBox(func(b *heirBox, market bool) ([]byte, error) {
		if market && len(b.updates) == 0 {
			return abi.AppendPlace(nil, &abi.Place{Seq: 1, CID: 1, Side: abi.Buy, Type: abi.Limit,
				TIF: abi.GoodTilCancelled, Price: price, Amount: 10 * abi.FixedScale}), nil
		}
		return nil, nil
	})
	amended := false
	heir := newHeirBox(func(b *heirBox, market bool) ([]byte, error) {
		if amended {
			return nil, nil
		}
		amended = true
		return abi.AppendAmend(nil, &abi.Amend{Seq: 1, CID: 1, Price: moved, Amount: 10 * abi.FixedScale}), nil
	})
	broken := newHeirBox(nil)
	broken.startErr = errors.New("bad configuration")
	boxes := []*heirBox{old, heir, broken}
	var mu sync.Mutex
	n := 0
	cfg := DefaultConfig()
	cfg.Plugins = []PluginSpec{{Name: "q", Instruments: []string{"BTC-PERPETUAL"},
		Channels: []string{"ticker.{instrument}.100ms"},
		Params:   []abi.Param{{Key: "a", Type: abi.ParamInt, Int: 1}, {Key: "b", Type: abi.ParamInt, Int: 2}},
		NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox {
			mu.Lock()
			defer mu.Unlock()
			b := boxes[n]
			n++
			return b
		}}}
	r := startRigConn(t, cfg, nil, steadyConn)
	waitBox(t, old, "the order resting", func() bool { u, _ := old.lastUpdate(1); return u.State == abi.StateOpen })
	before := ourOrders(r.srv)
	if len(before) != 1 {
		t.Fatalf("%d orders on the exchange, want 1", len(before))
	}
	mod := load(t, "count", fixture(t, "count"), sandbox.PluginConfig{})
	ctx := context.Background()
	res, err := r.e.Swap(ctx, "q", mod, []abi.Param{{Key: "b", Type: abi.ParamInt, Int: 20}, {Key: "c", Type: abi.ParamBool, Bool: true}})
	if err != nil {
		t.Fatal(err)
	}
	old.mu.Lock()
	oldCalls, oldClosed := old.calls, old.closed
	old.mu.Unlock()
	if res.Adopted != 1 || res.FirstCID <= 1 || !oldClosed {
		t.Errorf("swap: %+v, old instance closed %v; want 1 adopted, first cid above 1, closed", res, oldClosed)
	}
	heir.mu.Lock()
	st := heir.start
	heir.mu.Unlock()
	if len(st.Orders) != 1 || st.Orders[0].CID != 1 || st.Orders[0].ExchangeOrderID.String() != before[0].OrderID {
		t.Errorf("the new instance's blob holds %+v, want order 1 (%s)", st.Orders, before[0].OrderID)
	}
	var params []string
	for _, p := range st.Params {
		params = append(params, fmt.Sprintf("%s=%d/%v", p.Key, p.Int, p.Bool))
	}
	if got := strings.Join(params, " "); got != "a=1/false b=20/false c=0/true" {
		t.Errorf("the new instance's parameters: %s", got)
	}
	waitBox(t, heir, "the amend", func() bool { u, _ := heir.lastUpdate(1); return u.Price == moved })
	if after := ourOrders(r.srv); len(after) != 1 || after[0].OrderID != before[0].OrderID || after[0].Price != 30200 {
		t.Errorf("after the amend the exchange has %+v, want order %s at 30200", after, before[0].OrderID)
	}
	old.mu.Lock()
	if old.calls != oldCalls {
		t.Errorf("the old instance was called %d times after the swap", old.calls-oldCalls)
	}
	old.mu.Unlock()

	// A module that fails at start: the running one keeps trading.
	_, err = r.e.Swap(ctx, "q", mod, nil)
	if !errors.Is(err, ErrSwap) || !strings.Contains(err.Error(), "did not start") || !strings.Contains(err.Error(), "bad configuration") {
		t.Errorf("a swap to a module that fails at start: %v", err)
	}
	heir.mu.Lock()
	calls := heir.calls
	heir.mu.Unlock()
	waitBox(t, heir, "a call after the failed swap", func() bool { heir.mu.Lock(); defer heir.mu.Unlock(); return heir.calls > calls })
	if after := ourOrders(r.srv); len(after) != 1 || after[0].OrderID != before[0].OrderID {
		t.Errorf("after the failed swap the exchange has %+v", after)
	}
	s := r.e.Stats()
	if ps := pluginStats(s, "q"); ps.Swaps != 1 || ps.Starts != 2 || ps.OpenOrders != 1 || ps.Faults != 0 {
		t.Errorf("plugin stats %+v: want 1 swap, 2 starts, 1 open order, no fault", ps)
	}
	if s.Cancelled != 0 {
		t.Errorf("%d orders cancelled", s.Cancelled)
	}

	if _, err := r.e.Swap(ctx, "nope", mod, nil); !errors.Is(err, ErrUnknownPlugin) {
		t.Errorf("a swap of an unknown plugin: %v", err)
	}
	if _, err := r.e.Pause("q", false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.Swap(ctx, "q", mod, nil); !errors.Is(err, ErrSwap) || !strings.Contains(err.Error(), "paused") {
		t.Errorf("a swap of a paused plugin: %v", err)
	}
}

// The hand-over's cut: the start-up blob holds each adopted order's state,
// the order events of those orders pushed before it leave the inbox (the
// blob counts them), and everything else stays in order: market data,
// events of orders that were not adopted, and what came after the blob.
// From then on the orders' events go to the new instance, and its intents
// find them by cid.
func TestHandoverCut(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Plugins = []PluginSpec{{Name: "q", Instruments: []string{"BTC-PERPETUAL"},
		NewSandbox: func(*sandbox.Plugin) sandbox.Sandbox { return newHeirBox(nil) }}}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := deribit.NewTable([]abi.Instrument{{Name: abi.NewStr64("BTC-PERPETUAL"), MinAmount: abi.FixedScale}})
	if err != nil {
		t.Fatal(err)
	}
	pl := newPlugin(e, &e.cfg.Plugins[0], tab)
	e.plugins = []*plugin{pl}
	now := time.Unix(1700000000, 0)
	e.mu.Lock()
	pl.handover(e.newInstance(), false, 0)
	o := &order{pl: pl, key: orderKey{instance: pl.instance, cid: 5}, state: abi.StateOpen, side: abi.Buy,
		typ: abi.Limit, tif: abi.GoodTilCancelled, price: 100 * abi.FixedScale, amount: 3 * abi.FixedScale}
	done := &order{pl: pl, key: orderKey{instance: pl.instance, cid: 3}, state: abi.StateCancelled}
	e.orders[o.key] = o
	pl.open[o] = struct{}{}
	pl.maxCID = 5
	u := o.update(now, 0)
	pl.emitOrder(o, &u) // before the blob: dropped
	o.filled = abi.FixedScale
	pl.emitFill(o, &abi.Fill{CID: 5, Amount: abi.FixedScale, Price: 100 * abi.FixedScale})
	u = o.update(now, 0)
	pl.emitOrder(o, &u)
	ud := done.update(now, abi.ReasonCancelRequested)
	pl.emitOrder(done, &ud) // an order that was not adopted: stays
	pl.inbox.Push(abi.AppendTicker(nil, &abi.Ticker{Instrument: 0, Time: 1}))
	old := pl.instance
	inst := e.newInstance()
	mark := pl.inbox.Mark()
	blob, err := pl.blob(now, inst, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	o.price = 101 * abi.FixedScale // an amend acknowledged after the blob: stays
	u = o.update(now, 0)
	pl.emitOrder(o, &u)
	if n := pl.handover(inst, true, mark); n != 1 {
		t.Errorf("%d orders adopted, want 1", n)
	}
	e.mu.Unlock()

	var su abi.Startup
	if err := abi.DecodeStartup(blob, &su); err != nil {
		t.Fatal(err)
	}
	if len(su.Orders) != 1 || su.Orders[0].CID != 5 || su.Orders[0].FilledAmount != abi.FixedScale ||
		su.Orders[0].Price != 100*abi.FixedScale || su.Start.FirstCID != 6 {
		t.Fatalf("blob: orders %+v, first cid %d; want cid 5 filled 1 at 100, first cid 6", su.Orders, su.Start.FirstCID)
	}
	var got []string
	for rec, err := range abi.Records(pl.inbox.Take(nil, 1<<20)) {
		if err != nil {
			t.Fatal(err)
		}
		s := rec.Kind.String()
		if rec.Kind == abi.KindOrderUpdate {
			var x abi.OrderUpdate
			_ = abi.DecodeOrderUpdate(rec.Bytes, &x)
			s = fmt.Sprintf("%s %d %s", s, x.CID, x.Price.String())
		}
		got = append(got, s)
	}
	if want := "order_update 3 0|ticker|order_update 5 101"; strings.Join(got, "|") != want {
		t.Errorf("inbox after the hand-over: %q, want %q", strings.Join(got, "|"), want)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if pl.keyOf(5) != o.key || pl.keyOf(6) != (orderKey{instance: inst, cid: 6}) || o.owner() != inst || old == inst {
		t.Errorf("keyOf(5) %+v, keyOf(6) %+v, owner %d; want the adopted order's key, the new instance's, %d",
			pl.keyOf(5), pl.keyOf(6), o.owner(), inst)
	}
	u = o.update(now, 0)
	pl.emitOrder(o, &u)
	if pl.inbox.Len() == 0 {
		t.Error("an update of the adopted order did not reach the new instance")
	}
	ud = done.update(now, 0)
	pl.emitOrder(done, &ud)
	if pl.inbox.Len() != abi.SizeOrderUpdate {
		t.Error("an update of an order that was not adopted reached the new instance")
	}
}

// A split order outlives a fault under KeepOrders as the one order the
// plugin placed: the next instance's start-up blob holds it once (the legs'
// sum, under the plugin's cid), not once a leg, and an amend and a cancel
// by that cid reach every leg on the exchange.
func TestKeepOrdersRestartAdoptsASplitOrder(t *testing.T) {
	first := newHeirBox(func(b *heirBox, market bool) ([]byte, error) {
		if u, ok := b.last(1); ok && u.State == abi.StateOpen {
			return nil, errors.New("boom") // the fault, once its order rests
		}
		if market && len(b.updates) == 0 {
			return abi.AppendPlace(nil, &abi.Place{Seq: 1, CID: 1, Side: abi.Buy, Type: abi.Limit,
				TIF: abi.GoodTilCancelled, Price: fx("1000"), Amount: fx("90")}), nil
		}
		return nil, nil
	})
	var amended, cancelled bool
	second := newHeirBox(func(b *heirBox, market bool) ([]byte, error) {
		u, _ := b.last(1)
		switch {
		case !amended:
			amended = true
			return abi.AppendAmend(nil, &abi.Amend{Seq: 1, CID: 1, Price: fx("1000.5"), Amount: fx("60")}), nil
		case u.Amount == fx("60") && !cancelled:
			cancelled = true
			return abi.AppendCancel(nil, &abi.Cancel{Seq: 2, CID: 1}), nil
		}
		return nil, nil
	})
	cfg := restartConfig(first, second)
	r := startPoolRig(t, cfg, pool.Config{Size: 3, Policy: pool.Split, SplitAbove: 20})
	waitBox(t, second, "the second instance's start", func() bool {
		second.mu.Lock()
		defer second.mu.Unlock()
		return second.start.Start.Name.String() == "q"
	})
	second.mu.Lock()
	st := second.start
	second.mu.Unlock()
	if len(st.Orders) != 1 {
		t.Fatalf("the start-up blob holds %d orders, want the split order once: %+v", len(st.Orders), st.Orders)
	}
	if o := st.Orders[0]; o.CID != 1 || o.State != abi.StateOpen || o.Amount != fx("90") || o.Price != fx("1000") {
		t.Errorf("adopted order %+v, want cid 1 open, 90 at 1000", o)
	}
	if s := r.e.Stats().Split; s != 1 {
		t.Fatalf("%d orders split, want 1 (90 above split_above 20)", s)
	}
	// The amend spreads 60 over the legs (20 each at 1000.5); the plugin
	// hears of it once, then cancels, and every leg goes.
	waitBox(t, second, "the cancel", func() bool { u, _ := second.lastUpdate(1); return u.State == abi.StateCancelled })
	if u, _ := second.lastUpdate(1); u.Amount != fx("60") || u.Price != fx("1000.5") {
		t.Errorf("the cancelled order as the plugin sees it: %+v, want 60 at 1000.5", u)
	}
	r.wait("no leg left", func(EngineStats) bool { return len(splitLegs(r.srv, 1)) == 0 })
	second.mu.Lock()
	rejected := second.rejected
	second.mu.Unlock()
	if len(rejected) > 0 {
		t.Errorf("intents refused: %+v", rejected)
	}
	if left := ourOrders(r.srv); len(left) != 0 {
		t.Errorf("orders left on the exchange: %+v", left)
	}
}
