// The read-only methods: open orders, order state, positions, the account,
// instruments, ticker and order book.

package sim

import (
	"encoding/json"
)

func methodOpenOrdersByInstrument(k *call) (any, *Error) {
	var p struct {
		InstrumentName string `json:"instrument_name"`
		Type           string `json:"type"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	s := k.c.srv
	if _, ok := s.engine.Instrument(p.InstrumentName); !ok {
		return nil, NewError(CodeInvalidInstrument, nil)
	}
	match, err := orderTypeMatches(p.Type)
	if err != nil || !match {
		return []Order{}, err
	}
	return nonNilOrders(s.engine.OpenOrders(k.account, func(o *Order) bool { return o.InstrumentName == p.InstrumentName })), nil
}

func methodOpenOrders(k *call) (any, *Error) {
	var p struct {
		Kind string `json:"kind"`
		Type string `json:"type"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	s := k.c.srv
	match, err := orderTypeMatches(p.Type)
	if err != nil || !match {
		return []Order{}, err
	}
	return nonNilOrders(s.engine.OpenOrders(k.account, func(o *Order) bool {
		return s.instrumentMatches(o.InstrumentName, p.Kind, "")
	})), nil
}

func methodOpenOrdersByCurrency(k *call) (any, *Error) {
	var p struct {
		Currency string `json:"currency"`
		Kind     string `json:"kind"`
		Type     string `json:"type"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	if p.Currency == "" {
		return nil, paramError("currency", "value required")
	}
	s := k.c.srv
	match, err := orderTypeMatches(p.Type)
	if err != nil || !match {
		return []Order{}, err
	}
	return nonNilOrders(s.engine.OpenOrders(k.account, func(o *Order) bool {
		return s.instrumentMatches(o.InstrumentName, p.Kind, p.Currency)
	})), nil
}

func methodOrderState(k *call) (any, *Error) {
	var p struct {
		OrderID string `json:"order_id"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	if p.OrderID == "" {
		return nil, paramError("order_id", "value required")
	}
	o, err := k.c.srv.engine.OrderState(k.account, p.OrderID)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// private/get_order_state_by_label returns the account's recent orders with
// that label, open and closed ("the state of recent orders that have a
// specific label"), oldest first; private/get_open_orders_by_label only the
// open ones.
func methodOrderStateByLabel(k *call) (any, *Error) { return ordersByLabel(k, false) }

func methodOpenOrdersByLabel(k *call) (any, *Error) { return ordersByLabel(k, true) }

func ordersByLabel(k *call, openOnly bool) (any, *Error) {
	var p struct {
		Currency string `json:"currency"`
		Label    string `json:"label"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	if p.Label == "" {
		return nil, paramError("label", "value required")
	}
	s := k.c.srv
	match := func(o *Order) bool { return s.instrumentMatches(o.InstrumentName, "", p.Currency) }
	if openOnly {
		return nonNilOrders(s.engine.OpenOrders(k.account, func(o *Order) bool { return o.Label == p.Label && match(o) })), nil
	}
	return nonNilOrders(s.engine.OrdersByLabel(k.account, p.Label, match)), nil
}

func methodPositions(k *call) (any, *Error) {
	var p struct {
		Currency string `json:"currency"`
		Kind     string `json:"kind"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	out := k.c.srv.engine.Positions(k.account, p.Currency, p.Kind)
	if out == nil {
		out = []Position{}
	}
	return out, nil
}

func methodPosition(k *call) (any, *Error) {
	var p struct {
		InstrumentName string `json:"instrument_name"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	pos, err := k.c.srv.engine.Position(k.account, p.InstrumentName)
	if err != nil {
		return nil, err
	}
	return pos, nil
}

func methodAccountSummary(k *call) (any, *Error) {
	var p struct {
		Currency string `json:"currency"`
		Extended flag   `json:"extended"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	if p.Currency == "" {
		return nil, paramError("currency", "value required")
	}
	s := k.c.srv
	sum, err := s.engine.AccountSummary(k.account, p.Currency)
	if err != nil {
		return nil, err
	}
	rl := s.cfg.RateLimits
	out := map[string]any{}
	b, _ := json.Marshal(sum)
	_ = json.Unmarshal(b, &out)
	out["limits"] = map[string]any{
		"limits_per_currency": false,
		"non_matching_engine": map[string]any{"rate": rl.NonMatchingRefill / max(rl.NonMatchingCost, 1), "burst": rl.NonMatchingMax / max(rl.NonMatchingCost, 1)},
		"matching_engine":     map[string]any{"rate": rl.MatchingRate, "burst": rl.MatchingBurst},
	}
	return out, nil
}

func methodInstruments(k *call) (any, *Error) {
	var p struct {
		Currency string `json:"currency"`
		Kind     string `json:"kind"`
		Expired  flag   `json:"expired"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	switch p.Currency {
	case "BTC", "ETH", "USDC", "USDT", "EURR", "any":
	case "":
		return nil, paramError("currency", "value required")
	default:
		return nil, paramError("currency", "unknown currency")
	}
	out := []Instrument{}
	if p.Expired {
		return out, nil // nothing has expired in the simulator
	}
	for _, in := range k.c.srv.engine.Instruments() {
		if (p.Currency == "any" || in.BaseCurrency == p.Currency) && (p.Kind == "" || p.Kind == in.Kind) {
			out = append(out, in)
		}
	}
	return out, nil
}

func methodInstrument(k *call) (any, *Error) {
	var p struct {
		InstrumentName string `json:"instrument_name"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	in, ok := k.c.srv.engine.Instrument(p.InstrumentName)
	if !ok {
		return nil, NewError(CodeInvalidInstrument, nil)
	}
	return in, nil
}

func methodCurrencies(k *call) (any, *Error) { return k.c.srv.engine.Currencies(), nil }

func methodTicker(k *call) (any, *Error) {
	var p struct {
		InstrumentName string `json:"instrument_name"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	t, err := k.c.srv.engine.Ticker(k.c.srv.nowMs(), p.InstrumentName)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func methodOrderBook(k *call) (any, *Error) {
	var p struct {
		InstrumentName string  `json:"instrument_name"`
		Depth          integer `json:"depth"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	s := k.c.srv
	bids, asks, changeID, ok := s.engine.Depth(p.InstrumentName, int(p.Depth))
	if !ok {
		return nil, NewError(CodeInvalidInstrument, nil)
	}
	t, _ := s.engine.Ticker(s.nowMs(), p.InstrumentName)
	return map[string]any{
		"timestamp": s.nowMs(), "instrument_name": p.InstrumentName, "change_id": changeID,
		"bids": pairs(bids), "asks": pairs(asks), "state": "open",
		"best_bid_price": t.BestBidPrice, "best_bid_amount": t.BestBidAmount,
		"best_ask_price": t.BestAskPrice, "best_ask_amount": t.BestAskAmount,
		"mark_price": t.MarkPrice, "index_price": t.IndexPrice, "last_price": t.LastPrice,
	}, nil
}

func pairs(levels []Level) [][2]float64 {
	out := make([][2]float64, len(levels))
	for i, l := range levels {
		out[i] = [2]float64{l.Price, l.Amount}
	}
	return out
}
