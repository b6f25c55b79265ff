package sim

import (
	"math"
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
		Interval *number `json:"interval"`
	}
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	if p.Interval == nil {
		return nil, paramError("interval", "value required")
	}
	interval := float64(*p.Interval)
	min := k.c.srv.cfg.MinHeartbeat
	if interval <= 0 || math.IsNaN(interval) || interval*float64(time.Second) < float64(min) {
		return nil, paramError("interval", "must be not less than "+min.String())
	}
	if interval > maxHeartbeatSeconds {
		return nil, paramError("interval", "must be at most one day")
	}
	d := time.Duration(interval * float64(time.Second))
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
