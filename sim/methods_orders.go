// The order methods: buy, sell, edit, cancel and the cancel_all family.

package sim

import (
	"sort"
	"strings"
)

func (s *Server) checkTradingLocked() *Error {
	if s.maint {
		return NewError(CodeSystemMaintenance, nil)
	}
	return nil
}

// sizeParams are the amount, contracts and price of buy, sell and edit.
type sizeParams struct {
	Amount    *number `json:"amount"`
	Contracts *number `json:"contracts"`
	Price     *number `json:"price"`
}

func (p sizeParams) values() (amount, contracts, price float64, hasPrice bool) {
	if p.Amount != nil {
		amount = float64(*p.Amount)
	}
	if p.Contracts != nil {
		contracts = float64(*p.Contracts)
	}
	if p.Price != nil {
		price, hasPrice = float64(*p.Price), true
	}
	return amount, contracts, price, hasPrice
}

// orderResultOf is the {order, trades} result of buy, sell and edit.
func orderResultOf(o Order, trades []Trade, err *Error) (any, *Error) {
	if err != nil {
		return nil, err
	}
	if trades == nil {
		trades = []Trade{}
	}
	return orderResult{Order: o, Trades: trades}, nil
}

type placeParams struct {
	sizeParams
	InstrumentName string  `json:"instrument_name"`
	Type           string  `json:"type"`
	Label          string  `json:"label"`
	TimeInForce    string  `json:"time_in_force"`
	PostOnly       flag    `json:"post_only"`
	RejectPostOnly flag    `json:"reject_post_only"`
	ReduceOnly     flag    `json:"reduce_only"`
	ValidUntil     integer `json:"valid_until"`
}

// request checks a buy or sell's params as Deribit does and makes them the
// matching engine's request, for owner at nowMs.
func (p *placeParams) request(direction, owner string, nowMs int64) (OrderRequest, *Error) {
	switch {
	case p.InstrumentName == "":
		return OrderRequest{}, paramError("instrument_name", "value required")
	case p.Amount == nil && p.Contracts == nil:
		return OrderRequest{}, paramError("amount", "amount or contracts required")
	case len(p.Label) > 64:
		return OrderRequest{}, paramError("label", "must be at most 64 characters")
	}
	switch p.Type {
	case "", "limit", "market":
	default:
		return OrderRequest{}, NewError(CodeInvalidArguments, map[string]string{"param": "type",
			"reason": "the simulator supports limit and market orders"})
	}
	switch p.TimeInForce {
	case "", "good_til_cancelled", "good_til_day", "fill_or_kill", "immediate_or_cancel":
	default:
		return OrderRequest{}, paramError("time_in_force", "unknown time in force")
	}
	if p.ValidUntil != 0 && nowMs > int64(p.ValidUntil) {
		return OrderRequest{}, NewError(CodeError, map[string]string{"reason": "timed_out"})
	}
	req := OrderRequest{
		Instrument: p.InstrumentName, Direction: direction, Type: p.Type, Label: p.Label,
		TimeInForce: p.TimeInForce, PostOnly: bool(p.PostOnly), RejectPostOnly: bool(p.RejectPostOnly),
		ReduceOnly: bool(p.ReduceOnly), Owner: owner, API: true,
	}
	if req.Type == "" {
		req.Type = "limit"
	}
	req.Amount, req.Contracts, req.Price, req.HasPrice = p.values()
	return req, nil
}

type editParams struct {
	sizeParams
	OrderID        string `json:"order_id"`
	PostOnly       flag   `json:"post_only"`
	RejectPostOnly flag   `json:"reject_post_only"`
	ReduceOnly     flag   `json:"reduce_only"`
}

// request checks an edit's params and makes them the matching engine's
// request, for owner.
func (p *editParams) request(owner string) (EditRequest, *Error) {
	if p.OrderID == "" {
		return EditRequest{}, paramError("order_id", "value required")
	}
	if p.Amount == nil && p.Contracts == nil {
		return EditRequest{}, paramError("amount", "amount or contracts required")
	}
	req := EditRequest{OrderID: p.OrderID, PostOnly: bool(p.PostOnly), RejectPostOnly: bool(p.RejectPostOnly),
		ReduceOnly: bool(p.ReduceOnly), Owner: owner}
	req.Amount, req.Contracts, req.Price, req.HasPrice = p.values()
	return req, nil
}

type orderResult struct {
	Order  Order   `json:"order"`
	Trades []Trade `json:"trades"`
}

func methodPlace(direction string) func(k *call) (any, *Error) {
	return func(k *call) (any, *Error) {
		var p placeParams
		if err := k.decode(&p); err != nil {
			return nil, err
		}
		s := k.c.srv
		if err := s.checkTradingLocked(); err != nil {
			return nil, err
		}
		req, err := p.request(direction, k.account, s.nowMs())
		if err != nil {
			return nil, err
		}
		req.ConnID = k.c.id
		return orderResultOf(s.engine.Place(s.nowMs(), req))
	}
}

func methodEdit(k *call) (any, *Error) {
	var p editParams
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	s := k.c.srv
	if err := s.checkTradingLocked(); err != nil {
		return nil, err
	}
	req, err := p.request(k.account)
	if err != nil {
		return nil, err
	}
	return orderResultOf(s.engine.Edit(s.nowMs(), req))
}

func methodCancel(k *call) (any, *Error) {
	var p struct {
		OrderID string `json:"order_id"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	s := k.c.srv
	if err := s.checkTradingLocked(); err != nil {
		return nil, err
	}
	if p.OrderID == "" {
		return nil, paramError("order_id", "value required")
	}
	o, err := s.engine.Cancel(s.nowMs(), k.account, p.OrderID, "user_request")
	if err != nil {
		return nil, err
	}
	return o, nil
}

// cancelResult is a count, or with detailed:true Deribit's execution reports.
func cancelResult(detailed bool, kind string, cancelled []Order) any {
	if !detailed {
		return len(cancelled)
	}
	byInstrument := map[string][]Order{}
	var names []string
	for _, o := range cancelled {
		if _, ok := byInstrument[o.InstrumentName]; !ok {
			names = append(names, o.InstrumentName)
		}
		byInstrument[o.InstrumentName] = append(byInstrument[o.InstrumentName], o)
	}
	sort.Strings(names)
	reports := make([]map[string]any, 0, len(names))
	for _, n := range names {
		reports = append(reports, map[string]any{
			"instrument_name": n, "type": kind, "currency": currencyOf(n), "result": byInstrument[n],
		})
	}
	return reports
}

func currencyOf(instrument string) string {
	cur, _, _ := strings.Cut(instrument, "-")
	cur, _, _ = strings.Cut(cur, "_")
	return cur
}

func methodCancelAll(k *call) (any, *Error) {
	var p struct {
		Detailed flag `json:"detailed"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	s := k.c.srv
	if err := s.checkTradingLocked(); err != nil {
		return nil, err
	}
	acct := k.account
	out := s.engine.CancelMatching(s.nowMs(), "user_request", func(o *Order) bool { return o.Owner == acct })
	return cancelResult(bool(p.Detailed), "all", out), nil
}

// orderTypeMatches applies the type filter of cancel_all_by_* and
// get_open_orders_*: the simulator has no trigger orders, so only "all" and
// "limit" (which on Deribit covers limit and market) select anything.
func orderTypeMatches(kind string) (bool, *Error) {
	switch kind {
	case "", "all", "limit":
		return true, nil
	case "trigger_all", "stop", "take", "trailing_stop", "stop_all", "take_all", "trailing_all":
		return false, nil
	}
	return false, paramError("type", "unknown order type filter")
}

func methodCancelAllByInstrument(k *call) (any, *Error) {
	var p struct {
		InstrumentName string `json:"instrument_name"`
		Type           string `json:"type"`
		Detailed       flag   `json:"detailed"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	s := k.c.srv
	if err := s.checkTradingLocked(); err != nil {
		return nil, err
	}
	if _, ok := s.engine.Instrument(p.InstrumentName); !ok {
		return nil, NewError(CodeInvalidInstrument, nil)
	}
	match, err := orderTypeMatches(p.Type)
	if err != nil {
		return nil, err
	}
	var out []Order
	if match {
		acct, inst := k.account, p.InstrumentName
		out = s.engine.CancelMatching(s.nowMs(), "user_request", func(o *Order) bool {
			return o.Owner == acct && o.InstrumentName == inst
		})
	}
	kind := p.Type
	if kind == "" {
		kind = "all"
	}
	return cancelResult(bool(p.Detailed), kind, out), nil
}

func methodCancelAllByCurrency(k *call) (any, *Error) {
	var p struct {
		Currency string `json:"currency"`
		Kind     string `json:"kind"`
		Type     string `json:"type"`
		Detailed flag   `json:"detailed"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	s := k.c.srv
	if err := s.checkTradingLocked(); err != nil {
		return nil, err
	}
	if p.Currency == "" {
		return nil, paramError("currency", "value required")
	}
	match, err := orderTypeMatches(p.Type)
	if err != nil {
		return nil, err
	}
	var out []Order
	if match {
		acct := k.account
		out = s.engine.CancelMatching(s.nowMs(), "user_request", func(o *Order) bool {
			return o.Owner == acct && s.instrumentMatches(o.InstrumentName, p.Kind, p.Currency)
		})
	}
	return cancelResult(bool(p.Detailed), "all", out), nil
}

// instrumentMatches applies Deribit's kind and currency filters ("any" and
// "" match everything).
func (s *Server) instrumentMatches(name, kind, currency string) bool {
	return s.engine.instrumentMatches(name, kind, currency)
}

func methodCancelByLabel(k *call) (any, *Error) {
	var p struct {
		Label    string `json:"label"`
		Currency string `json:"currency"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	s := k.c.srv
	if err := s.checkTradingLocked(); err != nil {
		return nil, err
	}
	if p.Label == "" {
		return nil, paramError("label", "value required")
	}
	acct := k.account
	out := s.engine.CancelMatching(s.nowMs(), "user_request", func(o *Order) bool {
		return o.Owner == acct && o.Label == p.Label && s.instrumentMatches(o.InstrumentName, "", p.Currency)
	})
	return len(out), nil
}

func nonNilOrders(o []Order) []Order {
	if o == nil {
		return []Order{}
	}
	return o
}
