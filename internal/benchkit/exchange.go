package benchkit

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/venue/deribit"
)

// InstrumentsJSON is public/get_instruments' result for BTC-PERPETUAL
// as Deribit documents it (deribit.md §7).
const InstrumentsJSON = `[{"tick_size_steps":[],"tick_size":0.5,"taker_commission":0.0005,"settlement_period":"perpetual","settlement_currency":"BTC","quote_currency":"USD","price_index":"btc_usd","min_trade_amount":10,"max_liquidation_commission":0.0075,"max_leverage":50,"maker_commission":0,"kind":"future","is_active":true,"instrument_name":"BTC-PERPETUAL","instrument_id":124972,"instrument_type":"reversed","expiration_timestamp":32503708800000,"creation_timestamp":1534242287000,"counter_currency":"USD","contract_size":10,"block_trade_tick_size":0.01,"block_trade_min_trade_amount":200000,"block_trade_commission":0.00025,"base_currency":"BTC","future_type":"reversed"}]`

// Request is one order request the fake exchange received: when
// CallRaw was entered, and the params bytes.
type Request struct {
	Method string
	Params []byte
	At     time.Time
}

// Exchange is a host.Exchange that answers at once: the instruments, the
// subscriptions, and every order request with a result that makes the
// order open (or cancelled), as Deribit's would. Each buy, sell and edit is
// sent on Reqs (when nobody takes it, it is dropped).
type Exchange struct {
	Reqs chan Request

	mu     sync.Mutex
	orders map[string]order // by order_id
	next   int
}

type order struct {
	label, instrument, direction string
	price, amount                json.Number
	postOnly                     bool
}

// NewExchange returns an exchange with a fresh account.
func NewExchange() *Exchange {
	return &Exchange{Reqs: make(chan Request, 64), orders: map[string]order{}}
}

// Subscribe confirms every channel.
func (x *Exchange) Subscribe(_ context.Context, channels ...string) ([]string, error) {
	return channels, nil
}

// CallRaw answers one request at once.
func (x *Exchange) CallRaw(_ context.Context, method string, params []byte) (json.RawMessage, error) {
	at := time.Now()
	var p struct {
		Instrument string      `json:"instrument_name"`
		Amount     json.Number `json:"amount"`
		Price      json.Number `json:"price"`
		Label      string      `json:"label"`
		OrderID    string      `json:"order_id"`
		PostOnly   bool        `json:"post_only"`
	}
	if method != "public/get_instruments" {
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, &conn.RPCError{Code: -32602, Message: "Invalid params: " + err.Error()}
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	var id string
	var o order
	state := "open"
	op := deribit.Op(method)
	switch {
	case method == "public/get_instruments":
		return json.RawMessage(InstrumentsJSON), nil
	case op == deribit.OpOpenOrders || op == deribit.OpPositions: // the start-up reconciliation: a fresh account
		return json.RawMessage(`[]`), nil
	case op == deribit.OpPlace:
		x.next++
		id = "BTC-" + strconv.Itoa(x.next)
		o = order{label: p.Label, instrument: p.Instrument, direction: method[strings.LastIndexByte(method, '/')+1:],
			price: p.Price, amount: p.Amount, postOnly: p.PostOnly}
	case op == deribit.OpEdit:
		var ok bool
		if id = p.OrderID; id == "" {
			return nil, &conn.RPCError{Code: 11044, Message: "not_open_order"}
		}
		if o, ok = x.orders[id]; !ok {
			return nil, &conn.RPCError{Code: 11044, Message: "not_open_order"}
		}
		o.price, o.amount, o.postOnly = p.Price, p.Amount, p.PostOnly
	case op == deribit.OpCancel:
		var ok bool
		id = p.OrderID
		if o, ok = x.orders[id]; !ok {
			return nil, &conn.RPCError{Code: 11044, Message: "not_open_order"}
		}
		state = "cancelled"
	case op == deribit.OpCancelAll:
		n := len(x.orders)
		clear(x.orders)
		return json.RawMessage(strconv.Itoa(n)), nil
	case op == deribit.OpCancelByLabel:
		for oid, v := range x.orders {
			if v.label == p.Label {
				id, o = oid, v
			}
		}
		if id == "" {
			return nil, &conn.RPCError{Code: 11044, Message: "not_open_order"}
		}
		state = "cancelled"
	default:
		return nil, &conn.RPCError{Code: -32601, Message: "Method not found"}
	}
	if state == "cancelled" {
		delete(x.orders, id)
	} else {
		x.orders[id] = o
	}
	ms := strconv.FormatInt(at.UnixMilli(), 10)
	ord := `{"web":false,"time_in_force":"good_til_cancelled","risk_reducing":false,"replaced":` +
		strconv.FormatBool(op == deribit.OpEdit) + `,"reject_post_only":false,"reduce_only":false,"profit_loss":0,` +
		`"price":` + string(o.price) + `,"post_only":` + strconv.FormatBool(o.postOnly) +
		`,"order_type":"limit","order_state":"` + state + `","order_id":"` + id + `","mmp":false,` +
		`"last_update_timestamp":` + ms + `,"label":` + strconv.Quote(o.label) + `,"is_liquidation":false,` +
		`"instrument_name":` + strconv.Quote(o.instrument) + `,"filled_amount":0.0,"direction":"` + o.direction +
		`","creation_timestamp":` + ms + `,"commission":0,"average_price":0.0,"api":true,"amount":` + string(o.amount)
	if state == "cancelled" {
		return json.RawMessage(ord + `,"cancel_reason":"user_request"}`), nil
	}
	select {
	case x.Reqs <- Request{Method: method, Params: append([]byte(nil), params...), At: at}:
	default:
	}
	return json.RawMessage(`{"trades":[],"order":` + ord + `}}`), nil
}
