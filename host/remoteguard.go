package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/venue/deribit"
)

// ErrRemoteRefused wraps every refusal of AdmitRemote.
var ErrRemoteRefused = errors.New("host: remote order refused")

// remoteGate is the rate limiter of the requests other hosts send to this
// host's connections (every plugin's default limits: one bucket for all).
type remoteGate struct {
	mu sync.Mutex
	r  *risk // made at the first request; SetRisk changes its limits
}

// AdmitRemote checks an order request that another member of a cluster
// sent to this host's connections, before any of them carries it (wire it
// to cluster.Config.Guard). The same kill switch, validation and per-order
// limits as the engine's own orders apply:
//   - private/buy, private/sell and private/edit are refused once the kill
//     switch is on, and before Run has read the instruments;
//   - the instrument must be one of this host's plugins' (for an edit,
//     instrument is the order's, read from the exchange); the price must
//     sit on its tick and the amount be a multiple of its minimum; only
//     limit and market orders;
//   - the limits of every plugin trading that instrument apply to the
//     order alone: max_order_amount, price_band_bps against the last mark,
//     max_notional for the order's own notional;
//   - every request, cancels and state reads included, takes a token from
//     one bucket (Config.Risk's intents_per_second and intent_burst).
//
// Position and open-order limits are the sending host's to apply to its
// own plugins: this host does not see their exposure.
func (e *Engine) AdmitRemote(method string, params []byte, instrument string) error {
	refuse := func(f string, a ...any) error {
		return fmt.Errorf("%w: %s: "+f, append([]any{ErrRemoteRefused, method}, a...)...)
	}
	op := deribit.Op(method)
	order := op == deribit.OpPlace || op == deribit.OpEdit
	if order && e.killed.Load() {
		return refuse("the kill switch is on")
	}
	g := &e.remoteGate
	g.mu.Lock()
	if g.r == nil {
		g.r = newRisk(e.riskSet().Default, &e.killed)
	}
	r := g.r.admit(e.clk.Now())
	g.mu.Unlock()
	if r == abi.ReasonRiskRate {
		return refuse("over the rate limit (%s)", r)
	}
	if !order {
		return nil
	}
	var p struct {
		Instrument string          `json:"instrument_name"`
		Amount     json.RawMessage `json:"amount"`
		Price      json.RawMessage `json:"price"`
		Type       string          `json:"type"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return refuse("params: %v", err)
	}
	if op == deribit.OpEdit {
		p.Instrument = instrument
	} else if instrument != "" && instrument != p.Instrument {
		return refuse("instrument %q differs from the params' %q", instrument, p.Instrument)
	}
	rts := e.rt.Load()
	if rts == nil || len(*rts) == 0 {
		return refuse("this host is not trading yet")
	}
	tab := (*rts)[0].tab
	idx, ok := tab.Index(p.Instrument)
	if !ok {
		return refuse("instrument %q is not one this host trades", p.Instrument)
	}
	in := tab.At(idx)
	amount, err := deribit.FixedFromText(p.Amount)
	if err != nil {
		return refuse("amount %s: %v", p.Amount, err)
	}
	if r := validAmount(in, amount); r != 0 {
		return refuse("amount %s: %s", amount, r)
	}
	mark := abi.Fixed(e.marks[idx].Load())
	var price abi.Fixed
	switch p.Type {
	case "", "limit":
		if price, err = deribit.FixedFromText(p.Price); err != nil {
			return refuse("price %s: %v", p.Price, err)
		}
		if r := validPrice(in, price); r != 0 {
			return refuse("price %s: %s", price, r)
		}
	case "market":
		if op == deribit.OpEdit || len(p.Price) > 0 {
			return refuse("a market order has no price")
		}
		price = mark
	default:
		return refuse("order type %q: only limit and market", p.Type)
	}
	for _, s := range e.cfg.Plugins {
		if !slices.Contains(s.Instruments, p.Instrument) {
			continue
		}
		l := e.riskFor(s.Name)
		switch {
		case l.MaxOrderAmount > 0 && amount > l.MaxOrderAmount:
			return refuse("amount %s over max_order_amount %s of plugin %s", amount, l.MaxOrderAmount, s.Name)
		case l.MaxNotional > 0 && price <= 0 && in.Flags&abi.InstrumentInverse == 0:
			return refuse("notional unknown (no mark price yet) and plugin %s has max_notional", s.Name)
		case l.MaxNotional > 0 && notional(in, price, amount) > l.MaxNotional:
			return refuse("notional %g over max_notional %g of plugin %s", notional(in, price, amount), l.MaxNotional, s.Name)
		case p.Type != "market" && outsideBand(l.PriceBandBps, price, mark):
			return refuse("price %s outside plugin %s's band of %g bps around the mark %s", price, s.Name, l.PriceBandBps, mark)
		}
	}
	return nil
}
