package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var engStart = time.Date(2025, 11, 27, 12, 0, 0, 0, time.UTC)

const (
	btcPerp = "BTC-PERPETUAL"
	ethPerp = "ETH-PERPETUAL"
)

// bookRecorder is a Listener that logs every call and keeps a shadow of each
// book built only from BookChanges, checking change_id continuity and the
// new/change/delete actions against it.
type bookRecorder struct {
	t      testing.TB
	log    []string
	orders []Order
	fills  []Fill
	books  map[string]*shadowBook
	pos    []string
}

type shadowBook struct {
	changeID   int64
	bids, asks map[float64]float64
}

func newBookRecorder(t testing.TB) *bookRecorder {
	return &bookRecorder{t: t, books: map[string]*shadowBook{}}
}

func (r *bookRecorder) OrderChanged(o Order) {
	r.orders = append(r.orders, o)
	r.log = append(r.log, fmt.Sprintf("order %s %s %s %s %v@%v filled=%v avg=%v reason=%s", o.OrderID, o.Owner, o.InstrumentName, o.OrderState, o.Amount, o.Price, o.FilledAmount, o.AveragePrice, o.CancelReason))
}

func (r *bookRecorder) Filled(f Fill) {
	r.fills = append(r.fills, f)
	r.log = append(r.log, fmt.Sprintf("fill %+v", f))
}

func (r *bookRecorder) PositionChanged(owner, instrument string) {
	r.pos = append(r.pos, owner+" "+instrument)
	r.log = append(r.log, "position "+owner+" "+instrument)
}

func (r *bookRecorder) BookChanged(c BookChange) {
	r.log = append(r.log, fmt.Sprintf("book %+v", c))
	s := r.books[c.Instrument]
	if s == nil {
		s = &shadowBook{bids: map[float64]float64{}, asks: map[float64]float64{}}
		r.books[c.Instrument] = s
	}
	if c.PrevChangeID != s.changeID || c.ChangeID != s.changeID+1 {
		r.t.Errorf("%s: change_id %d prev %d after %d", c.Instrument, c.ChangeID, c.PrevChangeID, s.changeID)
	}
	s.changeID = c.ChangeID
	if len(c.Bids)+len(c.Asks) == 0 {
		r.t.Errorf("%s: empty BookChange %d", c.Instrument, c.ChangeID)
	}
	apply := func(side map[float64]float64, chs []LevelChange) {
		for _, ch := range chs {
			_, had := side[ch.Price]
			switch ch.Action {
			case "new":
				if had || ch.Amount <= 0 {
					r.t.Errorf("%s: bad new %+v", c.Instrument, ch)
				}
				side[ch.Price] = ch.Amount
			case "change":
				if !had || ch.Amount <= 0 {
					r.t.Errorf("%s: bad change %+v", c.Instrument, ch)
				}
				side[ch.Price] = ch.Amount
			case "delete":
				if !had || ch.Amount != 0 {
					r.t.Errorf("%s: bad delete %+v", c.Instrument, ch)
				}
				delete(side, ch.Price)
			default:
				r.t.Errorf("bad action %q", ch.Action)
			}
		}
	}
	apply(s.bids, c.Bids)
	apply(s.asks, c.Asks)
}

func (r *bookRecorder) reset() {
	r.log, r.orders, r.fills, r.pos = nil, nil, nil, nil
}

// checkShadow compares every shadow book with the engine's Depth.
func (r *bookRecorder) checkShadow(t testing.TB, e *Engine) {
	t.Helper()
	for _, in := range e.insts {
		bids, asks, id, _ := e.Depth(in.inst.InstrumentName, 0)
		s := r.books[in.inst.InstrumentName]
		if s == nil {
			s = &shadowBook{bids: map[float64]float64{}, asks: map[float64]float64{}}
		}
		if s.changeID != id {
			t.Fatalf("%s: shadow change id %d, engine %d", in.inst.InstrumentName, s.changeID, id)
		}
		cmp := func(name string, lv []Level, m map[float64]float64) {
			if len(lv) != len(m) {
				t.Fatalf("%s %s: %d levels, shadow %d", in.inst.InstrumentName, name, len(lv), len(m))
			}
			for _, l := range lv {
				if m[l.Price] != l.Amount {
					t.Fatalf("%s %s %v: %v, shadow %v", in.inst.InstrumentName, name, l.Price, l.Amount, m[l.Price])
				}
			}
		}
		cmp("bids", bids, s.bids)
		cmp("asks", asks, s.asks)
	}
}

// checkInvariants verifies the engine's internal bookkeeping.
func checkEngineInvariants(t testing.TB, e *Engine) {
	t.Helper()
	n := 0
	type key struct {
		a   *ledger
		idx int
	}
	open := map[key][2]int64{}
	for _, in := range e.insts {
		for _, side := range []*bookSide{&in.bids, &in.asks} {
			for i, l := range side.levels {
				if i > 0 && !side.better(l.ticks, side.levels[i-1].ticks) {
					t.Fatalf("%s: levels out of order", in.inst.InstrumentName)
				}
				var sum int64
				var prev *liveOrder
				for lo := l.head; lo != nil; lo = lo.next {
					if lo.prev != prev || lo.level != l || lo.ticks != l.ticks || lo.buy != side.buy {
						t.Fatalf("%s: broken level queue", in.inst.InstrumentName)
					}
					if lo.remaining() <= 0 {
						t.Fatalf("%s: resting order %s with nothing left", in.inst.InstrumentName, lo.ord.OrderID)
					}
					if e.orders[lo.ord.OrderID] != lo {
						t.Fatalf("resting order %s not in the map", lo.ord.OrderID)
					}
					k := key{lo.acct, in.idx}
					v := open[k]
					if lo.buy {
						v[0] += lo.remaining()
					} else {
						v[1] += lo.remaining()
					}
					open[k] = v
					sum += lo.remaining()
					prev = lo
					n++
				}
				if l.tail != prev || sum != l.lots || sum <= 0 {
					t.Fatalf("%s: level %d lots %d, orders %d", in.inst.InstrumentName, l.ticks, l.lots, sum)
				}
			}
		}
		if b, a := in.bids.best(), in.asks.best(); b != nil && a != nil && b.ticks >= a.ticks {
			t.Fatalf("%s: crossed book %d >= %d", in.inst.InstrumentName, b.ticks, a.ticks)
		}
	}
	if n != len(e.orders) {
		t.Fatalf("%d resting orders, map has %d", n, len(e.orders))
	}
	g := 0
	for lo := e.ghead; lo != nil; lo = lo.gnext {
		g++
	}
	if g != n {
		t.Fatalf("global list %d, resting %d", g, n)
	}
	for _, a := range e.accounts {
		for _, in := range e.insts {
			p := a.pos[in.idx]
			v := open[key{a, in.idx}]
			if p.openBuy != v[0] || p.openSell != v[1] {
				t.Fatalf("%s %s: open buy/sell %d/%d, orders %d/%d", a.name, in.inst.InstrumentName, p.openBuy, p.openSell, v[0], v[1])
			}
		}
	}
	var oi = make([]int64, len(e.insts))
	for _, a := range e.accounts {
		for i := range a.pos {
			oi[i] += max(a.pos[i].lots, 0)
		}
	}
	for i, in := range e.insts {
		if in.oiLots != oi[i] {
			t.Fatalf("%s: open interest %d, positions %d", in.inst.InstrumentName, in.oiLots, oi[i])
		}
	}
}

type engHarness struct {
	t   *testing.T
	e   *Engine
	rec *bookRecorder
	now int64
}

func newEngHarness(t *testing.T) *engHarness {
	rec := newBookRecorder(t)
	e := NewEngine(EngineConfig{Instruments: DefaultInstruments(engStart), Listener: rec})
	return &engHarness{t: t, e: e, rec: rec, now: engStart.UnixMilli()}
}

func (h *engHarness) place(owner, inst, dir string, amount, price float64, mod ...func(*OrderRequest)) (Order, []Trade) {
	h.t.Helper()
	o, tr, err := h.try(owner, inst, dir, amount, price, mod...)
	if err != nil {
		h.t.Fatalf("place %s %s %v@%v: %v %v", dir, inst, amount, price, err, err.Data)
	}
	return o, tr
}

func (h *engHarness) try(owner, inst, dir string, amount, price float64, mod ...func(*OrderRequest)) (Order, []Trade, *Error) {
	h.now++
	req := OrderRequest{Instrument: inst, Direction: dir, Amount: amount, Price: price, HasPrice: price != 0, Owner: owner}
	for _, f := range mod {
		f(&req)
	}
	o, tr, err := h.e.Place(h.now, req)
	checkEngineInvariants(h.t, h.e)
	h.rec.checkShadow(h.t, h.e)
	return o, tr, err
}

func withTIF(v string) func(*OrderRequest) { return func(r *OrderRequest) { r.TimeInForce = v } }
func asMarket() func(*OrderRequest) {
	return func(r *OrderRequest) { r.Type = "market"; r.HasPrice = false }
}
func withPostOnly(rej bool) func(*OrderRequest) {
	return func(r *OrderRequest) { r.PostOnly = true; r.RejectPostOnly = rej }
}
func withReduceOnly() func(*OrderRequest) { return func(r *OrderRequest) { r.ReduceOnly = true } }

func approxEq(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func TestPlaceValidation(t *testing.T) {
	opt := DefaultInstruments(engStart)[3].InstrumentName
	cases := []struct {
		name  string
		inst  string
		dir   string
		amt   float64
		price float64
		mod   func(*OrderRequest)
		code  int
	}{
		{"unknown instrument", "BTC-NOPE", "buy", 10, 60000, nil, CodeInvalidInstrument},
		{"below min amount", btcPerp, "buy", 5, 60000, nil, CodeQtyTooLow},
		{"not a multiple", btcPerp, "buy", 15, 60000, nil, CodeInvalidAmount},
		{"negative amount", btcPerp, "buy", -10, 60000, nil, CodeInvalidAmount},
		{"no amount", btcPerp, "buy", 0, 60000, nil, CodeInvalidParams},
		{"amount and contracts mismatch", btcPerp, "buy", 20, 60000, func(r *OrderRequest) { r.Contracts = 3 }, CodeInvalidParams},
		{"price off tick", btcPerp, "buy", 10, 60000.25, nil, CodePriceWrongTick},
		{"zero price", btcPerp, "buy", 10, 0, func(r *OrderRequest) { r.HasPrice = true }, CodeInvalidPrice},
		{"negative price", btcPerp, "buy", 10, -1, nil, CodeInvalidPrice},
		{"limit without price", btcPerp, "buy", 10, 0, nil, CodeInvalidParams},
		{"buy above max_price", btcPerp, "buy", 10, 64000, nil, CodePriceTooHigh},
		{"sell below min_price", btcPerp, "sell", 10, 56000, nil, CodePriceTooLow},
		{"bad direction", btcPerp, "hold", 10, 60000, nil, CodeInvalidParams},
		{"bad type", btcPerp, "buy", 10, 60000, func(r *OrderRequest) { r.Type = "stop_limit" }, CodeInvalidParams},
		{"bad time in force", btcPerp, "buy", 10, 60000, withTIF("forever"), CodeInvalidParams},
		{"post_only with IOC", btcPerp, "buy", 10, 60000, func(r *OrderRequest) { r.TimeInForce = "immediate_or_cancel"; r.PostOnly = true }, CodeInvalidParams},
		{"long label", btcPerp, "buy", 10, 60000, func(r *OrderRequest) { r.Label = strings.Repeat("x", 65) }, CodeInvalidParams},
		{"option below min", opt, "buy", 0.05, 0.05, nil, CodeQtyTooLow},
		{"option not a multiple", opt, "buy", 0.15, 0.05, nil, CodeInvalidAmount},
		{"option off tick", opt, "buy", 0.1, 0.0502, nil, CodePriceWrongTick},
		{"not enough funds", btcPerp, "buy", 40_000_000, 60000, nil, CodeNotEnoughFunds},
		{"option not enough funds", opt, "buy", 1000, 0.05, nil, CodeNotEnoughFunds},
		{"reduce only without position", btcPerp, "sell", 10, 60000, withReduceOnly(), CodeReduceOnlyExceeded},
		{"fill or kill without liquidity", btcPerp, "buy", 10, 60000, withTIF("fill_or_kill"), CodeFillOrKillNotFilled},
		{"reject post only", btcPerp, "buy", 10, 60000, withPostOnly(true), CodePostOnlyReject},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newEngHarness(t)
			// one ask at 60000 for the crossing cases
			h.place("maker", btcPerp, "sell", 10, 60000)
			h.rec.reset()
			var mods []func(*OrderRequest)
			if c.mod != nil {
				mods = append(mods, c.mod)
			}
			if c.name == "fill or kill without liquidity" {
				c.amt = 20
			}
			_, _, err := h.try("alice", c.inst, c.dir, c.amt, c.price, mods...)
			if err == nil || err.Code != c.code {
				t.Fatalf("got %v, want code %d", err, c.code)
			}
			if err.Message != NewError(c.code, nil).Message {
				t.Fatalf("message %q", err.Message)
			}
			if len(h.rec.log) != 0 {
				t.Fatalf("rejected request reached the listener: %v", h.rec.log)
			}
			if len(h.e.OpenOrders("alice", nil)) != 0 {
				t.Fatalf("rejected request left an order")
			}
		})
	}
	t.Run("contracts only", func(t *testing.T) {
		h := newEngHarness(t)
		o, _ := h.place("alice", btcPerp, "buy", 0, 59000, func(r *OrderRequest) { r.Contracts = 2 })
		if o.Amount != 20 || o.Contracts != 2 {
			t.Fatalf("amount %v contracts %v", o.Amount, o.Contracts)
		}
		o, _ = h.place("alice", btcPerp, "buy", 30, 59000, func(r *OrderRequest) { r.Contracts = 3 })
		if o.Amount != 30 || o.Contracts != 3 {
			t.Fatalf("amount %v contracts %v", o.Amount, o.Contracts)
		}
	})
}

func TestOrderIDs(t *testing.T) {
	h := newEngHarness(t)
	a, _ := h.place("alice", btcPerp, "buy", 10, 59000)
	b, _ := h.place("alice", ethPerp, "buy", 1, 2900)
	c, _ := h.place("alice", btcPerp, "buy", 10, 59000)
	if a.OrderID != "1" || b.OrderID != "ETH-2" || c.OrderID != "3" {
		t.Fatalf("ids %s %s %s", a.OrderID, b.OrderID, c.OrderID)
	}
	if a.CreationTimestamp != engStart.UnixMilli()+1 || a.OrderState != "open" || a.TimeInForce != "good_til_cancelled" || a.OrderType != "limit" {
		t.Fatalf("order %+v", a)
	}
}

func TestPriceTimePriority(t *testing.T) {
	h := newEngHarness(t)
	m1, _ := h.place("m1", btcPerp, "sell", 10, 60000)
	m2, _ := h.place("m2", btcPerp, "sell", 10, 60000)
	m0, _ := h.place("m0", btcPerp, "sell", 10, 60001) // worse price, first in time
	_, tr := h.place("taker", btcPerp, "buy", 20, 60001)
	if len(tr) != 2 || tr[0].Price != 60000 || tr[1].Price != 60000 {
		t.Fatalf("trades %+v", tr)
	}
	if h.rec.fills[0].Maker.OrderID != m1.OrderID || h.rec.fills[1].Maker.OrderID != m2.OrderID {
		t.Fatalf("makers %s %s, want %s %s", h.rec.fills[0].Maker.OrderID, h.rec.fills[1].Maker.OrderID, m1.OrderID, m2.OrderID)
	}
	if o, _ := h.e.OrderState("m0", m0.OrderID); o.OrderState != "open" || o.FilledAmount != 0 {
		t.Fatalf("worse level traded: %+v", o)
	}
	for i, tr := range tr {
		if tr.Liquidity != "T" || tr.TradeSeq != int64(i+1) || tr.TradeID != fmt.Sprint(i+1) || tr.Direction != "buy" || tr.FeeCurrency != "BTC" {
			t.Fatalf("trade %+v", tr)
		}
		f := h.rec.fills[i]
		if f.Maker.Liquidity != "M" || f.Maker.Direction != "sell" || f.Public.Direction != "buy" || f.Public.OrderID != "" || f.Public.Owner != "" || f.Public.Fee != 0 {
			t.Fatalf("fill views %+v", f)
		}
	}
}

func TestPartialFill(t *testing.T) {
	h := newEngHarness(t)
	m, _ := h.place("maker", btcPerp, "sell", 50, 60000)
	o, tr := h.place("taker", btcPerp, "buy", 20, 60000)
	if o.OrderState != "filled" || len(tr) != 1 || tr[0].Amount != 20 || tr[0].State != "filled" {
		t.Fatalf("taker %+v %+v", o, tr)
	}
	mo, _ := h.e.OrderState("maker", m.OrderID)
	if mo.OrderState != "open" || mo.FilledAmount != 20 || mo.AveragePrice != 60000 {
		t.Fatalf("maker %+v", mo)
	}
	// a larger taker fills the rest and rests its remainder
	o, tr = h.place("taker", btcPerp, "buy", 50, 60000)
	if o.OrderState != "open" || o.FilledAmount != 30 || len(tr) != 1 || tr[0].State != "open" {
		t.Fatalf("taker %+v %+v", o, tr)
	}
	bids, asks, _, _ := h.e.Depth(btcPerp, 0)
	if len(asks) != 0 || len(bids) != 1 || bids[0] != (Level{60000, 20}) {
		t.Fatalf("depth %v %v", bids, asks)
	}
	if mo, _ := h.e.OrderState("maker", m.OrderID); mo.OrderState != "filled" || mo.FilledAmount != 50 {
		t.Fatalf("maker %+v", mo)
	}
}

func TestTimeInForce(t *testing.T) {
	setup := func(t *testing.T) *engHarness {
		h := newEngHarness(t)
		h.place("maker", btcPerp, "sell", 10, 60000)
		h.place("maker", btcPerp, "sell", 10, 60010)
		h.place("maker", btcPerp, "buy", 10, 59990)
		return h
	}
	t.Run("IOC partial", func(t *testing.T) {
		h := setup(t)
		o, tr := h.place("alice", btcPerp, "buy", 30, 60000, withTIF("immediate_or_cancel"))
		if o.OrderState != "cancelled" || o.FilledAmount != 10 || len(tr) != 1 {
			t.Fatalf("%+v", o)
		}
		if len(h.e.OpenOrders("alice", nil)) != 0 {
			t.Fatal("IOC rested")
		}
	})
	t.Run("IOC no fill", func(t *testing.T) {
		h := setup(t)
		o, tr := h.place("alice", btcPerp, "buy", 10, 59995, withTIF("immediate_or_cancel"))
		if o.OrderState != "cancelled" || o.FilledAmount != 0 || len(tr) != 0 {
			t.Fatalf("%+v", o)
		}
		if got := h.rec.orders[len(h.rec.orders)-1]; got.OrderID != o.OrderID || got.OrderState != "cancelled" {
			t.Fatalf("listener %+v", got)
		}
		if st, err := h.e.OrderState("alice", o.OrderID); err != nil || st.OrderState != "cancelled" {
			t.Fatalf("history %+v %v", st, err)
		}
	})
	t.Run("FOK fills across levels", func(t *testing.T) {
		h := setup(t)
		o, tr := h.place("alice", btcPerp, "buy", 20, 60010, withTIF("fill_or_kill"))
		if o.OrderState != "filled" || len(tr) != 2 {
			t.Fatalf("%+v %+v", o, tr)
		}
	})
	t.Run("FOK too large changes nothing", func(t *testing.T) {
		h := setup(t)
		h.rec.reset()
		_, _, err := h.try("alice", btcPerp, "buy", 30, 60010, withTIF("fill_or_kill"))
		if err == nil || err.Code != CodeFillOrKillNotFilled {
			t.Fatalf("err %v", err)
		}
		if len(h.rec.log) != 0 {
			t.Fatalf("listener %v", h.rec.log)
		}
		_, asks, _, _ := h.e.Depth(btcPerp, 0)
		if len(asks) != 2 {
			t.Fatalf("asks %v", asks)
		}
	})
	t.Run("FOK limit excludes worse levels", func(t *testing.T) {
		h := setup(t)
		if _, _, err := h.try("alice", btcPerp, "buy", 20, 60000, withTIF("fill_or_kill")); err == nil || err.Code != CodeFillOrKillNotFilled {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("post only reprices", func(t *testing.T) {
		h := setup(t)
		o, tr := h.place("alice", btcPerp, "buy", 10, 60010, withPostOnly(false))
		if o.Price != 59999.5 || o.OrderState != "open" || len(tr) != 0 || !o.PostOnly {
			t.Fatalf("%+v", o)
		}
		o, _ = h.place("alice", btcPerp, "sell", 10, 59000, withPostOnly(false))
		if o.Price != 60000 || o.OrderState != "open" {
			// best bid is now 59999.5, one tick above is 60000, joining the ask
			t.Fatalf("%+v", o)
		}
	})
	t.Run("post only not crossing keeps price", func(t *testing.T) {
		h := setup(t)
		o, _ := h.place("alice", btcPerp, "buy", 10, 59995, withPostOnly(true))
		if o.Price != 59995 {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("reduce only", func(t *testing.T) {
		h := setup(t)
		h.place("alice", btcPerp, "buy", 10, 60000) // long 10
		if _, _, err := h.try("alice", btcPerp, "buy", 10, 59000, withReduceOnly()); err == nil || err.Code != CodeReduceOnlyExceeded {
			t.Fatalf("increase allowed: %v", err)
		}
		o, _ := h.place("alice", btcPerp, "sell", 50, 61000, withReduceOnly())
		if o.Amount != 10 || !o.ReduceOnly {
			t.Fatalf("not cut to the position: %+v", o)
		}
		// the position goes away; the resting reduce-only order is cut when reached
		h.place("alice", btcPerp, "sell", 10, 59990, withTIF("immediate_or_cancel"))
		if p, _ := h.e.Position("alice", btcPerp); p.Size != 0 {
			t.Fatalf("position %+v", p)
		}
		_, tr := h.place("bob", btcPerp, "buy", 20, 61000)
		for _, x := range tr {
			if x.Price == 61000 {
				t.Fatalf("reduce-only order traded without a position: %+v", x)
			}
		}
		if st, _ := h.e.OrderState("alice", o.OrderID); st.OrderState != "cancelled" || st.CancelReason != "reduce_only" {
			t.Fatalf("reduce-only order %+v", st)
		}
	})
	t.Run("good til day rests", func(t *testing.T) {
		h := setup(t)
		o, _ := h.place("alice", btcPerp, "buy", 10, 59000, withTIF("good_til_day"))
		if o.OrderState != "open" || o.TimeInForce != "good_til_day" {
			t.Fatalf("%+v", o)
		}
	})
}

func TestMarketOrderSweep(t *testing.T) {
	h := newEngHarness(t)
	h.place("m", btcPerp, "sell", 10, 60000)
	h.place("m", btcPerp, "sell", 20, 60010)
	h.place("m", btcPerp, "sell", 30, 60020)
	o, tr := h.place("alice", btcPerp, "buy", 40, 0, asMarket())
	if o.OrderState != "filled" || len(tr) != 3 || o.OrderType != "market" {
		t.Fatalf("%+v %+v", o, tr)
	}
	// inverse average: 40 / (10/60000 + 20/60010 + 10/60020)
	want := 40 / (10/60000.0 + 20/60010.0 + 10/60020.0)
	if math.Abs(o.AveragePrice-want) > 1e-4 {
		t.Fatalf("avg %v want %v", o.AveragePrice, want)
	}
	if tr[1].TickDirection != 0 || tr[2].TickDirection != 0 {
		t.Fatalf("tick directions %d %d", tr[1].TickDirection, tr[2].TickDirection)
	}
	// remainder of a market order without liquidity is cancelled
	o, tr = h.place("alice", btcPerp, "buy", 40, 0, asMarket())
	if o.OrderState != "cancelled" || o.FilledAmount != 20 || len(tr) != 1 {
		t.Fatalf("%+v", o)
	}
	o, tr = h.place("alice", btcPerp, "sell", 10, 0, asMarket())
	if o.OrderState != "cancelled" || o.FilledAmount != 0 || len(tr) != 0 {
		t.Fatalf("%+v", o)
	}
	tk, _ := h.e.Ticker(h.now, btcPerp)
	if tk.LastPrice != 60020 || tk.Stats.High != 60020 || tk.Stats.Low != 60000 || tk.Stats.VolumeUSD != 60 || tk.OpenInterest != 60 {
		t.Fatalf("ticker %+v", tk)
	}
}

func TestMarketOrderRespectsBand(t *testing.T) {
	h := newEngHarness(t)
	h.place("m", btcPerp, "sell", 10, 60000)
	h.place("m", btcPerp, "sell", 10, 70000) // above the band (sells are free to rest there)
	o, tr := h.place("alice", btcPerp, "buy", 20, 0, asMarket())
	if len(tr) != 1 || o.FilledAmount != 10 || o.OrderState != "cancelled" {
		t.Fatalf("%+v %+v", o, tr)
	}
}

func TestSelfTradeAllowed(t *testing.T) {
	h := newEngHarness(t)
	h.place("alice", btcPerp, "sell", 10, 60000)
	o, tr := h.place("alice", btcPerp, "buy", 10, 60000)
	if o.OrderState != "filled" || len(tr) != 1 {
		t.Fatalf("%+v", o)
	}
	if p, _ := h.e.Position("alice", btcPerp); p.Size != 0 {
		t.Fatalf("position %+v", p)
	}
}

func TestEdit(t *testing.T) {
	edit := func(h *engHarness, owner, id string, amount, price float64) (Order, []Trade, *Error) {
		h.now++
		o, tr, err := h.e.Edit(h.now, EditRequest{OrderID: id, Amount: amount, Price: price, HasPrice: price != 0, Owner: owner})
		checkEngineInvariants(h.t, h.e)
		h.rec.checkShadow(h.t, h.e)
		return o, tr, err
	}
	t.Run("amount decrease keeps priority", func(t *testing.T) {
		h := newEngHarness(t)
		a, _ := h.place("a", btcPerp, "sell", 30, 60000)
		b, _ := h.place("b", btcPerp, "sell", 10, 60000)
		o, _, err := edit(h, "a", a.OrderID, 20, 60000)
		if err != nil || !o.Replaced || o.Amount != 20 || o.OrderState != "open" {
			t.Fatalf("%+v %v", o, err)
		}
		h.place("c", btcPerp, "buy", 10, 60000)
		if h.rec.fills[0].Maker.OrderID != a.OrderID {
			t.Fatalf("priority lost: maker %s", h.rec.fills[0].Maker.OrderID)
		}
		_ = b
	})
	for _, c := range []struct {
		name          string
		amount, price float64
	}{{"price change loses priority", 30, 60000.5}, {"amount increase loses priority", 40, 60000}} {
		t.Run(c.name, func(t *testing.T) {
			h := newEngHarness(t)
			a, _ := h.place("a", btcPerp, "sell", 30, 60000)
			b, _ := h.place("b", btcPerp, "sell", 10, c.price)
			if _, _, err := edit(h, "a", a.OrderID, c.amount, c.price); err != nil {
				t.Fatal(err)
			}
			h.place("c", btcPerp, "buy", 10, c.price)
			if h.rec.fills[0].Maker.OrderID != b.OrderID {
				t.Fatalf("priority kept: maker %s", h.rec.fills[0].Maker.OrderID)
			}
		})
	}
	t.Run("edit into the book trades", func(t *testing.T) {
		h := newEngHarness(t)
		h.place("m", btcPerp, "sell", 10, 60000)
		a, _ := h.place("a", btcPerp, "buy", 20, 59000)
		o, tr, err := edit(h, "a", a.OrderID, 0, 60000)
		if err != nil || len(tr) != 1 || o.FilledAmount != 10 || o.OrderState != "open" || o.Price != 60000 {
			t.Fatalf("%+v %+v %v", o, tr, err)
		}
	})
	t.Run("post only edit reprices or cancels", func(t *testing.T) {
		h := newEngHarness(t)
		h.place("m", btcPerp, "sell", 10, 60000)
		a, _ := h.place("a", btcPerp, "buy", 10, 59000, withPostOnly(false))
		o, tr, err := edit(h, "a", a.OrderID, 0, 60500)
		if err != nil || len(tr) != 0 || o.Price != 59999.5 {
			t.Fatalf("%+v %v", o, err)
		}
		b, _ := h.place("b", btcPerp, "buy", 10, 59000, withPostOnly(true))
		if _, _, err := edit(h, "b", b.OrderID, 0, 60000); err == nil || err.Code != CodePostOnlyReject {
			t.Fatalf("err %v", err)
		}
		if st, _ := h.e.OrderState("b", b.OrderID); st.OrderState != "cancelled" || st.CancelReason != "edit_post_only_reject" {
			t.Fatalf("%+v", st)
		}
	})
	t.Run("errors", func(t *testing.T) {
		h := newEngHarness(t)
		a, _ := h.place("a", btcPerp, "buy", 10, 59000)
		if _, _, err := edit(h, "b", a.OrderID, 20, 0); err == nil || err.Code != CodeOrderNotFound {
			t.Fatalf("other owner: %v", err)
		}
		if _, _, err := edit(h, "a", "999", 20, 0); err == nil || err.Code != CodeOrderNotFound {
			t.Fatalf("unknown: %v", err)
		}
		if _, _, err := edit(h, "a", a.OrderID, 15, 0); err == nil || err.Code != CodeInvalidAmount {
			t.Fatalf("amount: %v", err)
		}
		if _, _, err := edit(h, "a", a.OrderID, 10, 59000.1); err == nil || err.Code != CodePriceWrongTick {
			t.Fatalf("tick: %v", err)
		}
		h.now++
		if _, err := h.e.Cancel(h.now, "a", a.OrderID, "user_request"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := edit(h, "a", a.OrderID, 20, 0); err == nil || err.Code != CodeNotOpenOrder {
			t.Fatalf("cancelled: %v", err)
		}
	})
}

func TestCancel(t *testing.T) {
	h := newEngHarness(t)
	a, _ := h.place("a", btcPerp, "buy", 10, 59000)
	h.rec.reset()
	h.now++
	o, err := h.e.Cancel(h.now, "b", a.OrderID, "user_request")
	if err == nil || err.Code != CodeOrderNotFound {
		t.Fatalf("other owner: %v", err)
	}
	o, err = h.e.Cancel(h.now, "a", a.OrderID, "user_request")
	if err != nil || o.OrderState != "cancelled" || o.CancelReason != "user_request" || o.LastUpdateTimestamp != h.now {
		t.Fatalf("%+v %v", o, err)
	}
	if len(h.rec.log) != 2 || !strings.HasPrefix(h.rec.log[0], "order") || !strings.HasPrefix(h.rec.log[1], "book") {
		t.Fatalf("listener %q", h.rec.log)
	}
	if _, err = h.e.Cancel(h.now, "a", a.OrderID, "user_request"); err == nil || err.Code != CodeNotOpenOrder {
		t.Fatalf("twice: %v", err)
	}
	if _, err = h.e.Cancel(h.now, "a", "nope", "user_request"); err == nil || err.Code != CodeOrderNotFound {
		t.Fatalf("unknown: %v", err)
	}
	f, _ := h.place("a", btcPerp, "sell", 10, 60000)
	h.place("b", btcPerp, "buy", 10, 60000)
	if _, err = h.e.Cancel(h.now, "a", f.OrderID, "user_request"); err == nil || err.Code != CodeNotOpenOrder {
		t.Fatalf("filled: %v", err)
	}
	checkEngineInvariants(t, h.e)
	h.rec.checkShadow(t, h.e)
}

func TestCancelMatching(t *testing.T) {
	h := newEngHarness(t)
	var ids []string
	for i, spec := range []struct{ owner, inst, label string }{
		{"a", btcPerp, "x"}, {"b", btcPerp, "x"}, {"a", ethPerp, "y"}, {"a", btcPerp, "y"}, {"a", ethPerp, "x"},
	} {
		price := 59000.0 - float64(i)
		if spec.inst == ethPerp {
			price = 2900
		}
		o, _ := h.place(spec.owner, spec.inst, "buy", 10, price, func(r *OrderRequest) { r.Label = spec.label; r.ConnID = uint64(i) })
		ids = append(ids, o.OrderID)
	}
	h.rec.reset()
	h.now++
	got := h.e.CancelMatching(h.now, "cancel_on_disconnect", func(o *Order) bool { return o.Owner == "a" && o.Label == "x" })
	if len(got) != 2 || got[0].OrderID != ids[0] || got[1].OrderID != ids[4] || got[0].CancelReason != "cancel_on_disconnect" {
		t.Fatalf("%+v", got)
	}
	// OrderChanged ×2 then one BookChanged per instrument, instrument order
	want := []string{"order " + ids[0], "order " + ids[4], "book {Instrument:BTC-PERPETUAL", "book {Instrument:ETH-PERPETUAL"}
	if len(h.rec.log) != len(want) {
		t.Fatalf("log %q", h.rec.log)
	}
	for i, w := range want {
		if !strings.HasPrefix(h.rec.log[i], w) {
			t.Fatalf("log[%d] = %q, want %q…", i, h.rec.log[i], w)
		}
	}
	open := h.e.OpenOrders("a", nil)
	if len(open) != 2 || open[0].OrderID != ids[2] || open[1].OrderID != ids[3] {
		t.Fatalf("open %+v", open)
	}
	if byInst := h.e.OpenOrders("a", func(o *Order) bool { return o.InstrumentName == ethPerp }); len(byInst) != 1 {
		t.Fatalf("filter %+v", byInst)
	}
	got = h.e.CancelMatching(h.now, "user_request", func(o *Order) bool { return o.ConnID == 1 })
	if len(got) != 1 || got[0].Owner != "b" {
		t.Fatalf("%+v", got)
	}
	if got = h.e.CancelMatching(h.now, "user_request", func(*Order) bool { return false }); len(got) != 0 {
		t.Fatalf("%+v", got)
	}
	checkEngineInvariants(t, h.e)
	h.rec.checkShadow(t, h.e)
}

func TestOrderState(t *testing.T) {
	h := newEngHarness(t)
	a, _ := h.place("a", btcPerp, "sell", 10, 60000)
	h.place("b", btcPerp, "buy", 10, 60000)
	st, err := h.e.OrderState("a", a.OrderID)
	if err != nil || st.OrderState != "filled" || st.FilledAmount != 10 || st.AveragePrice != 60000 {
		t.Fatalf("%+v %v", st, err)
	}
	if _, err := h.e.OrderState("b", a.OrderID); err == nil || err.Code != CodeOrderNotFound {
		t.Fatalf("other owner: %v", err)
	}
	o, _ := h.place("a", btcPerp, "sell", 10, 61000)
	if _, err := h.e.OrderState("b", o.OrderID); err == nil || err.Code != CodeOrderNotFound {
		t.Fatalf("other owner open: %v", err)
	}
	if st, _ := h.e.OrderState("a", o.OrderID); st.OrderState != "open" {
		t.Fatalf("%+v", st)
	}
}

func TestClosedHistoryBounded(t *testing.T) {
	e := NewEngine(EngineConfig{Instruments: DefaultInstruments(engStart)})
	now := engStart.UnixMilli()
	var first string
	for i := 0; i < closedHistory+5; i++ {
		o, _, err := e.Place(now, OrderRequest{Instrument: btcPerp, Direction: "buy", Amount: 10, Price: 59000, HasPrice: true, Owner: "a", TimeInForce: "immediate_or_cancel"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = o.OrderID
		}
	}
	a := e.accounts["a"]
	if len(a.closed) != closedHistory {
		t.Fatalf("history %d", len(a.closed))
	}
	if _, err := e.OrderState("a", first); err == nil || err.Code != CodeOrderNotFound {
		t.Fatalf("oldest kept: %v", err)
	}
}

func TestListenerSequence(t *testing.T) {
	h := newEngHarness(t)
	h.place("m1", btcPerp, "sell", 10, 60000)
	h.place("m2", btcPerp, "sell", 20, 60000)
	h.place("m3", btcPerp, "sell", 10, 60005)
	h.rec.reset()
	o, _ := h.place("t", btcPerp, "buy", 40, 60005)
	var kinds []string
	for _, l := range h.rec.log {
		kinds = append(kinds, strings.SplitN(l, " ", 3)[0]+" "+strings.SplitN(l, " ", 3)[1])
	}
	want := []string{
		"fill {Maker:{TradeID:1", "order 1", // m1 filled
		"fill {Maker:{TradeID:2", "order 2", // m2 filled
		"fill {Maker:{TradeID:3", "order 3",
		"order " + o.OrderID,
		"position t", "position m1", "position m2", "position m3",
		"book {Instrument:BTC-PERPETUAL",
	}
	if len(kinds) != len(want) {
		t.Fatalf("log:\n%s", strings.Join(h.rec.log, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(h.rec.log[i], want[i]) {
			t.Fatalf("log[%d] = %q, want %q", i, h.rec.log[i], want[i])
		}
	}
	last := h.rec.log[len(h.rec.log)-1]
	if !strings.Contains(last, "ChangeID:4 PrevChangeID:3") || !strings.Contains(last, "Bids:[] Asks:[{Action:delete Price:60000 Amount:0} {Action:delete Price:60005 Amount:0}]") {
		t.Fatalf("book change %s", last)
	}
}

func TestDepthAggregation(t *testing.T) {
	h := newEngHarness(t)
	for _, p := range []struct {
		dir   string
		amt   float64
		price float64
	}{{"buy", 10, 59000}, {"buy", 20, 59000}, {"buy", 10, 59500}, {"buy", 10, 58000}, {"sell", 30, 61000}, {"sell", 10, 60500}, {"sell", 10, 61000}} {
		h.place("a", btcPerp, p.dir, p.amt, p.price)
	}
	bids, asks, id, ok := h.e.Depth(btcPerp, 0)
	if !ok || id != 7 {
		t.Fatalf("ok %v id %d", ok, id)
	}
	if !slices.Equal(bids, []Level{{59500, 10}, {59000, 30}, {58000, 10}}) || !slices.Equal(asks, []Level{{60500, 10}, {61000, 40}}) {
		t.Fatalf("%v %v", bids, asks)
	}
	bids, asks, _, _ = h.e.Depth(btcPerp, 1)
	if len(bids) != 1 || len(asks) != 1 || bids[0].Price != 59500 || asks[0].Price != 60500 {
		t.Fatalf("%v %v", bids, asks)
	}
	if _, _, _, ok := h.e.Depth("nope", 1); ok {
		t.Fatal("unknown instrument")
	}
	tk, err := h.e.Ticker(h.now, btcPerp)
	if err != nil || tk.BestBidPrice != 59500 || tk.BestAskPrice != 60500 || tk.BestBidAmount != 10 || tk.MarkPrice != 60000 || tk.MinPrice != 57000 || tk.MaxPrice != 63000 {
		t.Fatalf("%+v %v", tk, err)
	}
	if _, err := h.e.Ticker(h.now, "nope"); err == nil || err.Code != CodeInvalidInstrument {
		t.Fatalf("%v", err)
	}
}

func TestOptionAmountsAreClean(t *testing.T) {
	h := newEngHarness(t)
	opt := DefaultInstruments(engStart)[3].InstrumentName
	o, _ := h.place("a", opt, "sell", 0.3, 0.0125)
	if o.Amount != 0.3 || o.Contracts != 0.3 || o.Price != 0.0125 {
		t.Fatalf("%+v", o)
	}
	bids, asks, _, _ := h.e.Depth(opt, 0)
	if len(bids) != 0 || asks[0] != (Level{0.0125, 0.3}) {
		t.Fatalf("%v", asks)
	}
}

func TestHugeOrNonFiniteAmountOrPriceRejected(t *testing.T) {
	opt := DefaultInstruments(engStart)[3].InstrumentName
	nan, inf := math.NaN(), math.Inf(1)
	cases := []struct {
		name  string
		owner string
		inst  string
		dir   string
		amt   float64
		price float64
		mod   func(*OrderRequest)
		code  int
	}{
		{"huge amount", "alice", btcPerp, "buy", 1e20, 59000, nil, CodeInvalidAmount},
		{"huge amount unlimited", "__mm", btcPerp, "buy", 1e20, 59000, nil, CodeInvalidAmount},
		{"huge amount sell", "__mm", btcPerp, "sell", 1e20, 61000, nil, CodeInvalidAmount},
		{"one lot above the bound", "__mm", btcPerp, "buy", (maxSteps + 1) * 10, 59000, nil, CodeInvalidAmount},
		{"not a multiple near the bound", "__mm", btcPerp, "buy", (maxSteps-1)*10 + 5, 59000, nil, CodeInvalidAmount},
		{"huge contracts", "__mm", btcPerp, "buy", 0, 59000, func(r *OrderRequest) { r.Contracts = 1e300 }, CodeInvalidAmount},
		{"contracts overflowing to Inf", "__mm", btcPerp, "buy", 0, 59000, func(r *OrderRequest) { r.Contracts = math.MaxFloat64 }, CodeInvalidAmount},
		{"NaN amount", "__mm", btcPerp, "buy", nan, 59000, nil, CodeInvalidAmount},
		{"Inf amount", "__mm", btcPerp, "buy", inf, 59000, nil, CodeInvalidAmount},
		{"-Inf amount", "__mm", btcPerp, "buy", -inf, 59000, nil, CodeInvalidAmount},
		{"NaN contracts", "__mm", btcPerp, "buy", 0, 59000, func(r *OrderRequest) { r.Contracts = nan }, CodeInvalidAmount},
		{"huge price buy", "__mm", btcPerp, "buy", 10, 1e20, nil, CodeInvalidPrice},
		{"huge price sell", "__mm", btcPerp, "sell", 10, 1e20, nil, CodeInvalidPrice},
		{"huge price limited", "alice", btcPerp, "buy", 10, 1e20, nil, CodeInvalidPrice},
		{"price above the bound", "__mm", btcPerp, "sell", 10, (maxSteps + 1) * 0.5, nil, CodeInvalidPrice},
		{"NaN price", "__mm", btcPerp, "buy", 10, nan, nil, CodeInvalidPrice},
		{"Inf price", "__mm", btcPerp, "buy", 10, inf, nil, CodeInvalidPrice},
		{"price below one tick", "__mm", btcPerp, "buy", 10, 1e-7, nil, CodeInvalidPrice},
		{"option price below one tick", "__mm", opt, "buy", 0.1, 1e-7, nil, CodeInvalidPrice},
		{"option huge price", "__mm", opt, "sell", 0.1, 1e300, nil, CodeInvalidPrice},
		{"option huge amount", "__mm", opt, "sell", 1e300, 0.05, nil, CodeInvalidAmount},
		{"huge amount fill or kill", "__mm", btcPerp, "buy", 1e20, 60000, withTIF("fill_or_kill"), CodeInvalidAmount},
		{"huge amount market", "__mm", btcPerp, "buy", 1e20, 0, asMarket(), CodeInvalidAmount},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newEngHarness(t)
			h.place("maker", btcPerp, "sell", 10, 60000)
			before := fmt.Sprint(h.e.Depth(btcPerp, 0))
			h.rec.reset()
			var mods []func(*OrderRequest)
			if c.mod != nil {
				mods = append(mods, c.mod)
			}
			o, _, err := h.try(c.owner, c.inst, c.dir, c.amt, c.price, mods...)
			if err == nil || err.Code != c.code {
				t.Fatalf("got %+v %v, want code %d", o, err, c.code)
			}
			if len(h.rec.log) != 0 || len(h.e.OpenOrders(c.owner, nil)) != 0 || fmt.Sprint(h.e.Depth(btcPerp, 0)) != before {
				t.Fatalf("rejected request changed something: %v", h.rec.log)
			}
		})
	}
	t.Run("the bound itself is accepted", func(t *testing.T) {
		h := newEngHarness(t)
		o, _ := h.place("__mm", btcPerp, "buy", maxSteps*10, 59000)
		if o.Amount != maxSteps*10 || o.OrderState != "open" {
			t.Fatalf("%+v", o)
		}
		bids, _, _, _ := h.e.Depth(btcPerp, 0)
		if len(bids) != 1 || bids[0].Amount != maxSteps*10 {
			t.Fatalf("%v", bids)
		}
		// a taker of the same size fills it exactly
		o, tr := h.place("__mm2", btcPerp, "sell", maxSteps*10, 59000, withTIF("fill_or_kill"))
		if o.OrderState != "filled" || len(tr) != 1 || tr[0].Amount != maxSteps*10 {
			t.Fatalf("%+v %+v", o, tr)
		}
		if p, _ := h.e.Position("__mm", btcPerp); p.Size != maxSteps*10 {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("edit", func(t *testing.T) {
		h := newEngHarness(t)
		a, _ := h.place("__mm", btcPerp, "buy", 10, 59000)
		b, _ := h.place("alice", btcPerp, "sell", 10, 61000)
		for _, c := range []struct {
			name          string
			owner, id     string
			amount, price float64
			hasPrice      bool
			code          int
		}{
			{"huge price", "__mm", a.OrderID, 0, 1e20, true, CodeInvalidPrice},
			{"huge price sell", "alice", b.OrderID, 0, 1e20, true, CodeInvalidPrice},
			{"NaN price", "__mm", a.OrderID, 0, nan, true, CodeInvalidPrice},
			{"Inf price", "__mm", a.OrderID, 0, inf, true, CodeInvalidPrice},
			{"price below one tick", "__mm", a.OrderID, 0, 1e-9, true, CodeInvalidPrice},
			{"huge amount", "__mm", a.OrderID, 1e20, 0, false, CodeInvalidAmount},
			{"huge amount limited", "alice", b.OrderID, 1e20, 0, false, CodeInvalidAmount},
			{"NaN amount", "__mm", a.OrderID, nan, 0, false, CodeInvalidAmount},
			{"Inf amount", "__mm", a.OrderID, inf, 0, false, CodeInvalidAmount},
		} {
			h.rec.reset()
			before := fmt.Sprint(h.e.Depth(btcPerp, 0))
			h.now++
			_, _, err := h.e.Edit(h.now, EditRequest{OrderID: c.id, Owner: c.owner, Amount: c.amount, Price: c.price, HasPrice: c.hasPrice})
			if err == nil || err.Code != c.code {
				t.Fatalf("%s: err %v, want %d", c.name, err, c.code)
			}
			checkEngineInvariants(t, h.e)
			if len(h.rec.log) != 0 || fmt.Sprint(h.e.Depth(btcPerp, 0)) != before {
				t.Fatalf("%s: rejected edit changed something: %v", c.name, h.rec.log)
			}
		}
		for _, id := range []struct{ owner, id string }{{"__mm", a.OrderID}, {"alice", b.OrderID}} {
			if st, _ := h.e.OrderState(id.owner, id.id); st.Amount != 10 || st.OrderState != "open" || st.Replaced {
				t.Fatalf("%+v", st)
			}
		}
	})
	t.Run("huge index keeps the band in range", func(t *testing.T) {
		h := newEngHarness(t)
		for _, idx := range []float64{1e300, 1e15, math.MaxFloat64} {
			h.e.SetIndexPrice("BTC", idx)
			for _, in := range h.e.insts {
				lo, hi := h.e.band(in)
				if lo < 1 || hi < lo || hi > maxSteps {
					t.Fatalf("%s at index %g: band %d..%d", in.inst.InstrumentName, idx, lo, hi)
				}
			}
			o, tr := h.place("__mm", btcPerp, "buy", 10, 0, asMarket())
			if o.OrderState != "cancelled" || len(tr) != 0 || o.Price <= 0 {
				t.Fatalf("%+v", o)
			}
		}
	})
}

// fokSnapshot renders everything a rejected fill-or-kill order must leave
// unchanged.
func fokSnapshot(e *Engine, owners ...string) string {
	var b strings.Builder
	for _, in := range e.insts {
		bids, asks, id, _ := e.Depth(in.inst.InstrumentName, 0)
		fmt.Fprintln(&b, bids, asks, id)
	}
	for _, o := range owners {
		fmt.Fprintln(&b, o, e.OpenOrders(o, nil), e.Positions(o, "", ""))
		s, _ := e.AccountSummary(o, "BTC")
		fmt.Fprintln(&b, s)
	}
	return b.String()
}

func TestFillOrKillAllOrNothing(t *testing.T) {
	owners := []string{"maker", "alice", "bob", "carol", "erin"}
	// fok sends erin's (or another owner's) FOK and checks it either filled
	// entirely or changed nothing; it returns whether it filled.
	fok := func(h *engHarness, owner, dir string, amount, price float64) bool {
		t := h.t
		t.Helper()
		before := fokSnapshot(h.e, owners...)
		h.rec.reset()
		o, tr, err := h.try(owner, btcPerp, dir, amount, price, withTIF("fill_or_kill"))
		if err != nil {
			if err.Code != CodeFillOrKillNotFilled {
				t.Fatalf("err %v", err)
			}
			if len(h.rec.log) != 0 {
				t.Fatalf("rejected FOK reached the listener: %v", h.rec.log)
			}
			if after := fokSnapshot(h.e, owners...); after != before {
				t.Fatalf("rejected FOK changed the engine:\n%s\n--\n%s", before, after)
			}
			return false
		}
		var sum float64
		for _, x := range tr {
			sum += x.Amount
		}
		if o.OrderState != "filled" || o.FilledAmount != amount || sum != amount {
			t.Fatalf("FOK partly filled: %+v %+v", o, tr)
		}
		return true
	}
	// longRO makes owner long `long` and rests a reduce-only sell of ro @ price.
	longRO := func(h *engHarness, owner string, long, ro, price float64) Order {
		h.place("maker", btcPerp, "sell", long, 60000)
		h.place(owner, btcPerp, "buy", long, 60000)
		o, _ := h.place(owner, btcPerp, "sell", ro, price, withReduceOnly())
		return o
	}
	// sellPos sells amount of owner's position to bob's bid at 59990.
	sellPos := func(h *engHarness, owner string, amount float64) {
		h.place("bob", btcPerp, "buy", amount, 59990)
		h.place(owner, btcPerp, "sell", amount, 59990, withTIF("immediate_or_cancel"))
	}

	t.Run("stale reduce-only maker (review repro)", func(t *testing.T) {
		h := newEngHarness(t)
		ro := longRO(h, "alice", 100, 100, 60010)
		sellPos(h, "alice", 100)
		h.place("carol", btcPerp, "sell", 50, 60020)
		if fok(h, "erin", "buy", 150, 60020) {
			t.Fatal("FOK filled with only 50 of real liquidity")
		}
		if st, _ := h.e.OrderState("alice", ro.OrderID); st.OrderState != "open" || st.Amount != 100 {
			t.Fatalf("rejected FOK touched the reduce-only order: %+v", st)
		}
		if !fok(h, "erin", "buy", 50, 60020) {
			t.Fatal("FOK of the real liquidity rejected")
		}
		if st, _ := h.e.OrderState("alice", ro.OrderID); st.OrderState != "cancelled" || st.CancelReason != "reduce_only" {
			t.Fatalf("reduce-only order %+v", st)
		}
	})
	t.Run("reduce-only maker partly covered", func(t *testing.T) {
		h := newEngHarness(t)
		longRO(h, "alice", 100, 100, 60010)
		sellPos(h, "alice", 60) // long 40: the order can fill 40
		h.place("carol", btcPerp, "sell", 50, 60020)
		if fok(h, "erin", "buy", 100, 60020) {
			t.Fatal("filled 100 from 90")
		}
		if !fok(h, "erin", "buy", 90, 60020) {
			t.Fatal("rejected 90 from 90")
		}
	})
	t.Run("two reduce-only makers share one position", func(t *testing.T) {
		h := newEngHarness(t)
		longRO(h, "alice", 100, 60, 60010)
		h.place("alice", btcPerp, "sell", 60, 60015, withReduceOnly()) // cut to the position: 60
		// the first fills 60, leaving long 40 for the second
		if fok(h, "erin", "buy", 120, 60015) {
			t.Fatal("filled 120 from 100")
		}
		if !fok(h, "erin", "buy", 100, 60015) {
			t.Fatal("rejected 100 from 100")
		}
	})
	t.Run("non-reduce-only sell of the same owner shrinks the position first", func(t *testing.T) {
		h := newEngHarness(t)
		h.place("maker", btcPerp, "sell", 100, 60000)
		h.place("alice", btcPerp, "buy", 100, 60000) // long 100
		h.place("alice", btcPerp, "sell", 70, 60005) // plain sell, ahead
		h.place("alice", btcPerp, "sell", 100, 60010, withReduceOnly())
		if fok(h, "erin", "buy", 110, 60010) {
			t.Fatal("filled 110 from 100")
		}
		if !fok(h, "erin", "buy", 100, 60010) {
			t.Fatal("rejected 100 from 100")
		}
	})
	t.Run("self-trade: the taker's fills grow its own reduce-only maker", func(t *testing.T) {
		h := newEngHarness(t)
		longRO(h, "alice", 100, 100, 60010)
		sellPos(h, "alice", 60)                      // long 40
		h.place("carol", btcPerp, "sell", 50, 60005) // ahead of alice's order
		// alice buys 50 from carol (long 90), then 90 from herself
		if fok(h, "alice", "buy", 150, 60010) {
			t.Fatal("filled 150 from 140")
		}
		if !fok(h, "alice", "buy", 140, 60010) {
			t.Fatal("rejected 140 from 140")
		}
	})
	t.Run("reduce-only buy makers against a short", func(t *testing.T) {
		h := newEngHarness(t)
		h.place("maker", btcPerp, "buy", 100, 60000)
		h.place("alice", btcPerp, "sell", 100, 60000) // short 100
		h.place("alice", btcPerp, "buy", 100, 59990, withReduceOnly())
		h.place("maker", btcPerp, "sell", 80, 60100)
		h.place("alice", btcPerp, "buy", 80, 60100, withTIF("immediate_or_cancel")) // short 20
		h.place("carol", btcPerp, "buy", 30, 59980)
		if fok(h, "erin", "sell", 60, 59980) {
			t.Fatal("filled 60 from 50")
		}
		if !fok(h, "erin", "sell", 50, 59980) {
			t.Fatal("rejected 50 from 50")
		}
	})
}

// TestFillOrKillLiquidityMatchesMatching builds random books, with
// reduce-only orders whose positions have since changed, and checks for
// random fill-or-kill orders that liquidity()'s verdict is what matching
// does: on a twin engine the same order as immediate_or_cancel fills
// entirely exactly when liquidity covers it, and the FOK then makes the
// same trades; otherwise the FOK changes nothing.
func TestFillOrKillLiquidityMatchesMatching(t *testing.T) {
	const iterations = 2000
	owners := []string{"__a", "__b", "__c", "__d"}
	type script struct {
		e    *Engine
		rec  *bookRecorder
		r    *rand.Rand
		now  int64
		seed uint64
	}
	place := func(s *script, req OrderRequest) (Order, []Trade, *Error) {
		s.now++
		req.Instrument = btcPerp
		return s.e.Place(s.now, req)
	}
	// build replays the book of seed; twins of one seed are identical.
	build := func(seed uint64, withRec bool) *script {
		s := &script{r: rand.New(rand.NewPCG(seed, 0x5eed)), now: engStart.UnixMilli(), seed: seed}
		cfg := EngineConfig{Instruments: DefaultInstruments(engStart)}
		if withRec {
			s.rec = newBookRecorder(t)
			cfg.Listener = s.rec
		}
		s.e = NewEngine(cfg)
		r := s.r
		two := func() (string, string) {
			i := r.IntN(len(owners))
			j := (i + 1 + r.IntN(len(owners)-1)) % len(owners)
			return owners[i], owners[j]
		}
		// transfer moves lots of position from x to y at 60000, a price no
		// resting order uses, leaving the book as it was.
		transfer := func(x, y string, lots int64) {
			amt := float64(lots * 10)
			if _, _, err := place(s, OrderRequest{Direction: "sell", Amount: amt, Price: 60000, HasPrice: true, Owner: x}); err != nil {
				t.Fatal(err)
			}
			if o, _, err := place(s, OrderRequest{Direction: "buy", Amount: amt, Price: 60000, HasPrice: true, Owner: y, TimeInForce: "immediate_or_cancel"}); err != nil || o.OrderState != "filled" {
				t.Fatalf("transfer %+v %v", o, err)
			}
		}
		for range r.IntN(6) {
			x, y := two()
			transfer(x, y, int64(1+r.IntN(20)))
		}
		for range 4 + r.IntN(16) {
			req := OrderRequest{Owner: owners[r.IntN(len(owners))], Amount: float64(10 * (1 + r.IntN(10))), HasPrice: true, ReduceOnly: r.IntN(2) == 0}
			if r.IntN(2) == 0 {
				req.Direction, req.Price = "sell", 60000+0.5*float64(1+r.IntN(40))
			} else {
				req.Direction, req.Price = "buy", 60000-0.5*float64(1+r.IntN(40))
			}
			if _, _, err := place(s, req); err != nil && err.Code != CodeReduceOnlyExceeded {
				t.Fatal(err)
			}
		}
		// change positions after the reduce-only orders rested
		for range 1 + r.IntN(8) {
			if r.IntN(3) == 0 { // a small taker into the book
				req := OrderRequest{Owner: owners[r.IntN(len(owners))], Amount: float64(10 * (1 + r.IntN(5))), HasPrice: true, TimeInForce: "immediate_or_cancel"}
				if r.IntN(2) == 0 {
					req.Direction, req.Price = "buy", 60005
				} else {
					req.Direction, req.Price = "sell", 59995
				}
				if _, _, err := place(s, req); err != nil {
					t.Fatal(err)
				}
				continue
			}
			x, y := two()
			transfer(x, y, int64(1+r.IntN(30)))
		}
		return s
	}
	// naiveLots is the book within a limit, every order at full size.
	naiveLots := func(e *Engine, buy bool, limit int64) int64 {
		in := e.byName[btcPerp]
		var n int64
		for _, l := range slices.Backward(e.sideOf(in, !buy).levels) {
			if (buy && l.ticks > limit) || (!buy && l.ticks < limit) {
				break
			}
			n += l.lots
		}
		return n
	}
	nextReq := func(s *script) OrderRequest {
		r := s.r
		req := OrderRequest{Instrument: btcPerp, Owner: append(owners, "__t")[r.IntN(len(owners)+1)], Amount: float64(10 * (1 + r.IntN(40))), HasPrice: true, ReduceOnly: r.IntN(5) == 0}
		if r.IntN(2) == 0 {
			req.Direction, req.Price = "buy", 60000+0.5*float64(r.IntN(45))
		} else {
			req.Direction, req.Price = "sell", 60000-0.5*float64(r.IntN(45))
		}
		if r.IntN(10) == 0 {
			req.Type, req.HasPrice, req.Price = "market", false, 0
		}
		// often ask for about what the book shows, where stale reduce-only
		// makers make the difference
		if r.IntN(2) == 0 {
			v, err := s.e.validate(&req)
			if err != nil {
				t.Fatal(err)
			}
			if n := naiveLots(s.e, v.buy, v.ticks) - int64(r.IntN(3)); n > 0 {
				req.Amount = float64(10 * n)
			}
		}
		return req
	}
	var filled, killed, naiveWrong int
	for i := range iterations {
		seed := uint64(i)
		a := build(seed, true)
		b := build(seed, false)
		req := nextReq(a)
		if req2 := nextReq(b); req2 != req {
			t.Fatalf("seed %d: twins diverged", seed)
		}

		// liquidity's verdict, computed on the twin as Place would
		v, verr := b.e.validate(&req)
		if verr != nil {
			t.Fatalf("seed %d: %v", seed, verr)
		}
		acct := b.e.account(req.Owner)
		if req.ReduceOnly {
			v.lots = min(v.lots, reducible(&acct.pos[v.in.idx], v.buy))
		}
		var verdict, naive bool
		if v.lots > 0 {
			verdict = liquidity(v.in, acct, v.buy, v.ticks, v.lots) >= v.lots
			naive = naiveLots(b.e, v.buy, v.ticks) >= v.lots
		}
		if naive != verdict {
			naiveWrong++
		}

		// the same order as IOC on the twin: what matching does
		ioc := req
		ioc.TimeInForce = "immediate_or_cancel"
		bo, btr, berr := place(b, ioc)

		before := fokSnapshot(a.e, append(owners, "__t")...)
		a.rec.reset()
		fk := req
		fk.TimeInForce = "fill_or_kill"
		ao, atr, aerr := place(a, fk)
		checkEngineInvariants(t, a.e)
		checkEngineInvariants(t, b.e)
		a.rec.checkShadow(t, a.e)

		switch {
		case berr != nil: // reduce-only without a position: both refuse
			if aerr == nil || aerr.Code != berr.Code || berr.Code != CodeReduceOnlyExceeded || v.lots != 0 {
				t.Fatalf("seed %d: IOC err %v, FOK err %v", seed, berr, aerr)
			}
		case bo.OrderState == "filled":
			if !verdict || aerr != nil || ao.OrderState != "filled" || ao.FilledAmount != bo.FilledAmount || fmt.Sprint(atr) != fmt.Sprint(btr) {
				t.Fatalf("seed %d: IOC filled %+v, liquidity %v, FOK %+v %v", seed, bo, verdict, ao, aerr)
			}
			filled++
		default:
			if verdict || aerr == nil || aerr.Code != CodeFillOrKillNotFilled {
				t.Fatalf("seed %d: IOC %s filled %v of %v, liquidity %v, FOK %+v %+v %v", seed, bo.OrderState, bo.FilledAmount, bo.Amount, verdict, ao, atr, aerr)
			}
			if len(a.rec.log) != 0 {
				t.Fatalf("seed %d: rejected FOK reached the listener: %v", seed, a.rec.log)
			}
			if after := fokSnapshot(a.e, append(owners, "__t")...); after != before {
				t.Fatalf("seed %d: rejected FOK changed the engine", seed)
			}
			killed++
		}
	}
	t.Logf("%d filled, %d killed, %d where counting reduce-only makers at full size would be wrong", filled, killed, naiveWrong)
	if filled < iterations/10 || killed < iterations/10 || naiveWrong < iterations/50 {
		t.Fatalf("generator does not cover the cases: %d filled, %d killed, %d naive wrong", filled, killed, naiveWrong)
	}
}
