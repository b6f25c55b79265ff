package sim

import (
	"encoding/json"
	"math"
	"sort"
	"strings"
	"time"
)

// methods is the dispatch table; it never changes.
var methods = map[string]handler{
	"public/hello":             {fn: methodHello},
	"public/test":              {fn: methodTest},
	"public/get_time":          {fn: methodGetTime},
	"public/status":            {fn: methodStatus},
	"public/set_heartbeat":     {fn: methodSetHeartbeat, wsOnly: true},
	"public/disable_heartbeat": {fn: methodDisableHeartbeat, wsOnly: true},
	"public/auth":              {fn: methodAuth},
	"private/logout":           {fn: methodLogout, private: true, wsOnly: true},

	"private/enable_cancel_on_disconnect":  {fn: methodCOD(true), private: true, scope: "account:read_write"},
	"private/disable_cancel_on_disconnect": {fn: methodCOD(false), private: true, scope: "account:read_write"},
	"private/get_cancel_on_disconnect":     {fn: methodGetCOD, private: true, scope: "account:read"},

	"private/buy":                      {fn: methodPlace("buy"), private: true, scope: "trade:read_write", matching: true},
	"private/sell":                     {fn: methodPlace("sell"), private: true, scope: "trade:read_write", matching: true},
	"private/edit":                     {fn: methodEdit, private: true, scope: "trade:read_write", matching: true},
	"private/cancel":                   {fn: methodCancel, private: true, scope: "trade:read_write", matching: true},
	"private/cancel_all":               {fn: methodCancelAll, private: true, scope: "trade:read_write", matching: true},
	"private/cancel_all_by_instrument": {fn: methodCancelAllByInstrument, private: true, scope: "trade:read_write", matching: true},
	"private/cancel_all_by_currency":   {fn: methodCancelAllByCurrency, private: true, scope: "trade:read_write", matching: true},
	"private/cancel_by_label":          {fn: methodCancelByLabel, private: true, scope: "trade:read_write", matching: true},

	"private/get_open_orders_by_instrument": {fn: methodOpenOrdersByInstrument, private: true, scope: "trade:read"},
	"private/get_open_orders":               {fn: methodOpenOrders, private: true, scope: "trade:read"},
	"private/get_open_orders_by_currency":   {fn: methodOpenOrdersByCurrency, private: true, scope: "trade:read"},
	"private/get_order_state":               {fn: methodOrderState, private: true, scope: "trade:read"},
	"private/get_order_state_by_label":      {fn: methodOrderStateByLabel, private: true, scope: "trade:read"},
	"private/get_open_orders_by_label":      {fn: methodOpenOrdersByLabel, private: true, scope: "trade:read"},
	"private/get_positions":                 {fn: methodPositions, private: true, scope: "trade:read"},
	"private/get_position":                  {fn: methodPosition, private: true, scope: "trade:read"},
	"private/get_account_summary":           {fn: methodAccountSummary, private: true, scope: "account:read"},

	"public/get_instruments": {fn: methodInstruments},
	"public/get_instrument":  {fn: methodInstrument},
	"public/get_currencies":  {fn: methodCurrencies},
	"public/ticker":          {fn: methodTicker},
	"public/get_order_book":  {fn: methodOrderBook},

	"public/subscribe":        {fn: methodSubscribe(false), wsOnly: true},
	"private/subscribe":       {fn: methodSubscribe(true), private: true, wsOnly: true},
	"public/unsubscribe":      {fn: methodUnsubscribe, wsOnly: true},
	"private/unsubscribe":     {fn: methodUnsubscribe, private: true, wsOnly: true},
	"public/unsubscribe_all":  {fn: methodUnsubscribeAll, wsOnly: true},
	"private/unsubscribe_all": {fn: methodUnsubscribeAll, private: true, wsOnly: true},
}

// maxHeartbeatSeconds bounds set_heartbeat's interval (Deribit documents no
// maximum; beyond a day a heartbeat means nothing, and larger values would
// overflow a time.Duration).
const maxHeartbeatSeconds = 86400

// apiVersion is what public/test and public/hello report.
const apiVersion = "1.2.26"

func methodHello(k *call) (any, *Error) {
	var p struct {
		ClientName    string `json:"client_name"`
		ClientVersion string `json:"client_version"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	k.c.hello = p.ClientName + "/" + p.ClientVersion
	return map[string]string{"version": apiVersion}, nil
}

func methodTest(k *call) (any, *Error) {
	var p struct {
		ExpectedResult string `json:"expected_result"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	if p.ExpectedResult == "exception" {
		// What Deribit answers when asked for an exception.
		return nil, &Error{Code: 11094, Message: "internal_server_error", Data: map[string]string{"reason": "expected_result: exception"}}
	}
	return map[string]string{"version": apiVersion}, nil
}

func methodGetTime(k *call) (any, *Error) { return k.c.srv.nowMs(), nil }

func methodStatus(k *call) (any, *Error) {
	locked := "false"
	if k.c.srv.maint {
		locked = "true"
	}
	return map[string]any{"locked": locked, "locked_indices": []string{}}, nil
}

func methodSetHeartbeat(k *call) (any, *Error) {
	var p struct {
		Interval *float64 `json:"interval"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	if p.Interval == nil {
		return nil, paramError("interval", "value required")
	}
	min := k.c.srv.cfg.MinHeartbeat
	if *p.Interval <= 0 || math.IsNaN(*p.Interval) || *p.Interval*float64(time.Second) < float64(min) {
		return nil, paramError("interval", "must be not less than "+min.String())
	}
	if *p.Interval > maxHeartbeatSeconds {
		return nil, paramError("interval", "must be at most one day")
	}
	d := time.Duration(*p.Interval * float64(time.Second))
	k.c.startHeartbeatLocked(d)
	return "ok", nil
}

func methodDisableHeartbeat(k *call) (any, *Error) {
	k.c.stopHeartbeatLocked()
	return "ok", nil
}

type codParams struct {
	Scope string `json:"scope"`
}

func (p codParams) check() *Error {
	if p.Scope != "" && p.Scope != "connection" && p.Scope != "account" {
		return paramError("scope", "must be connection or account")
	}
	return nil
}

func methodCOD(enable bool) func(k *call) (any, *Error) {
	return func(k *call) (any, *Error) {
		var p codParams
		if err := k.decode(&p); err != nil {
			return nil, err
		}
		if err := p.check(); err != nil {
			return nil, err
		}
		if p.Scope == "account" {
			k.c.srv.accountLocked(k.account).codAccount = enable
		} else {
			k.c.codSet = true
			k.c.cod = enable
		}
		return "ok", nil
	}
}

func methodGetCOD(k *call) (any, *Error) {
	var p codParams
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	if p.Scope == "account" {
		return map[string]any{"scope": "account", "enabled": k.c.srv.accountLocked(k.account).codAccount}, nil
	}
	return map[string]any{"scope": "connection", "enabled": k.c.codActiveForLocked(k.account)}, nil
}

func (s *Server) checkTradingLocked() *Error {
	if s.maint {
		return NewError(CodeSystemMaintenance, nil)
	}
	return nil
}

// sizeParams are the amount, contracts and price of buy, sell and edit.
type sizeParams struct {
	Amount    *float64 `json:"amount"`
	Contracts *float64 `json:"contracts"`
	Price     *float64 `json:"price"`
}

func (p sizeParams) values() (amount, contracts, price float64, hasPrice bool) {
	if p.Amount != nil {
		amount = *p.Amount
	}
	if p.Contracts != nil {
		contracts = *p.Contracts
	}
	if p.Price != nil {
		price, hasPrice = *p.Price, true
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
	InstrumentName string `json:"instrument_name"`
	Type           string `json:"type"`
	Label          string `json:"label"`
	TimeInForce    string `json:"time_in_force"`
	PostOnly       bool   `json:"post_only"`
	RejectPostOnly bool   `json:"reject_post_only"`
	ReduceOnly     bool   `json:"reduce_only"`
	ValidUntil     int64  `json:"valid_until"`
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
	if p.ValidUntil != 0 && nowMs > p.ValidUntil {
		return OrderRequest{}, NewError(CodeError, map[string]string{"reason": "timed_out"})
	}
	req := OrderRequest{
		Instrument: p.InstrumentName, Direction: direction, Type: p.Type, Label: p.Label,
		TimeInForce: p.TimeInForce, PostOnly: p.PostOnly, RejectPostOnly: p.RejectPostOnly,
		ReduceOnly: p.ReduceOnly, Owner: owner, API: true,
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
	PostOnly       bool   `json:"post_only"`
	RejectPostOnly bool   `json:"reject_post_only"`
	ReduceOnly     bool   `json:"reduce_only"`
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
	req := EditRequest{OrderID: p.OrderID, PostOnly: p.PostOnly, RejectPostOnly: p.RejectPostOnly,
		ReduceOnly: p.ReduceOnly, Owner: owner}
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
		Detailed bool `json:"detailed"`
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
	return cancelResult(p.Detailed, "all", out), nil
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
		Detailed       bool   `json:"detailed"`
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
	return cancelResult(p.Detailed, kind, out), nil
}

func methodCancelAllByCurrency(k *call) (any, *Error) {
	var p struct {
		Currency string `json:"currency"`
		Kind     string `json:"kind"`
		Type     string `json:"type"`
		Detailed bool   `json:"detailed"`
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
	return cancelResult(p.Detailed, "all", out), nil
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
		Extended bool   `json:"extended"`
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
		Expired  bool   `json:"expired"`
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
		InstrumentName string `json:"instrument_name"`
		Depth          int    `json:"depth"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	s := k.c.srv
	bids, asks, changeID, ok := s.engine.Depth(p.InstrumentName, p.Depth)
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
