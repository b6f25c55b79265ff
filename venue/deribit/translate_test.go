package deribit

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/abi"
)

// Indexes of testTable's instruments.
const (
	iBTCPerp uint32 = iota
	iOption
	iETHPerp
	iETHUSDC
	iBTCFut
	iSpot
)

const recv = int64(1_700_000_000_123_000_000)

// recordsJSON frames buf and renders every record (abi/README.md §17).
func recordsJSON(t testing.TB, buf []byte) []string {
	t.Helper()
	var out []string
	for rec, err := range abi.Records(buf) {
		if err != nil {
			t.Fatalf("framing: %v", err)
		}
		js, err := abi.RecordJSON(rec.Bytes)
		if err != nil {
			t.Fatalf("record %v at %d: %v", rec.Kind, rec.Offset, err)
		}
		if !abi.ReservedZero(rec.Bytes) {
			t.Fatalf("record %v at %d: reserved bytes not zero", rec.Kind, rec.Offset)
		}
		out = append(out, string(js))
	}
	return out
}

// Deribit frame shapes (deribit.md §4–§5; the ticker, trades and user
// payloads follow the documentation's examples).
var (
	tickerPerp = `{"timestamp":1623060194301,"stats":{"volume_usd":1.6e9,"volume":41141.77,"price_change":-3.4,"low":34700,"high":37000},"state":"open","settlement_price":36057.4,"open_interest":502097590,"min_price":35500.51,"max_price":36606.43,"mark_price":36053.46,"last_price":36066.5,"interest_value":1.9e-3,"instrument_name":"BTC-PERPETUAL","index_price":36056.12,"funding_8h":0.00009734,"estimated_delivery_price":36056.12,"current_funding":0.0,"best_bid_price":36066.0,"best_bid_amount":1770.0,"best_ask_price":36066.5,"best_ask_amount":5920.0}`
	tickerOpt  = `{"underlying_price":60123.45,"underlying_index":"BTC-27JUN25","timestamp":1700000000000,"stats":{"volume":10,"price_change":null,"low":0.01,"high":0.02},"state":"open","settlement_price":0.0123,"open_interest":250.5,"min_price":0.0001,"max_price":0.2,"mark_price":0.01234567891,"mark_iv":52.35,"last_price":null,"interest_rate":0,"instrument_name":"BTC-27JUN25-60000-C","index_price":60100.12,"greeks":{"vega":50.1,"theta":-30.2,"rho":10.1,"gamma":0.00003,"delta":0.52},"estimated_delivery_price":60100.12,"bid_iv":50.1,"best_bid_price":0.012,"best_bid_amount":5.2,"best_ask_price":0,"best_ask_amount":0,"ask_iv":0}`
	quoteBTC   = `{"timestamp":1700000000200,"instrument_name":"BTC-PERPETUAL","best_bid_price":65000.5,"best_bid_amount":1200,"best_ask_price":65001.0,"best_ask_amount":300}`
	tradesBTC  = `[{"trade_seq":30289432,"trade_id":"48079254","timestamp":1590484156350,"tick_direction":0,"price":8950.0,"mark_price":8948.9,"instrument_name":"BTC-PERPETUAL","index_price":8955.88,"direction":"sell","amount":10.0},{"trade_seq":30289433,"trade_id":"48079255","timestamp":1590484156351,"tick_direction":1,"price":8950.5,"mark_price":8948.9,"liquidation":"T","instrument_name":"BTC-PERPETUAL","index_price":8955.88,"direction":"buy","amount":2000.0,"block_trade_id":"154"}]`
	tradesAny  = `[{"trade_seq":1,"timestamp":1700000000000,"price":3000.05,"instrument_name":"ETH-PERPETUAL","direction":"buy","amount":5,"liquidation":"MT"},{"trade_seq":2,"timestamp":1700000000001,"price":1,"instrument_name":"ETH-29DEC28","direction":"sell","amount":1},{"trade_seq":3,"timestamp":1700000000002,"price":65000,"instrument_name":"BTC-PERPETUAL","direction":"sell","amount":10}]`

	orderOurs = `{"web":false,"time_in_force":"good_til_cancelled","risk_reducing":false,"replaced":false,"reject_post_only":false,"reduce_only":false,"profit_loss":0,"price":65000.5,"post_only":true,"order_type":"limit","order_state":"open","order_id":"USDC-104819327443","mmp":false,"max_show":10.0,"last_update_timestamp":1700000000000,"label":"sbx:h1:r1:7:1001","is_liquidation":false,"instrument_name":"BTC-PERPETUAL","filled_amount":0.0,"direction":"buy","creation_timestamp":1700000000000,"contracts":1.0,"commission":0,"average_price":0.0,"api":true,"amount":10.0}`
	orderPart = `{"time_in_force":"good_til_cancelled","reduce_only":true,"price":65000.5,"post_only":false,"order_type":"limit","order_state":"open","order_id":"2","last_update_timestamp":1700000000500,"label":"sbx:h1:r1:7:1002","instrument_name":"BTC-PERPETUAL","filled_amount":20,"direction":"sell","average_price":65000.53333333333,"amount":50}`
	orderCOD  = `{"time_in_force":"good_til_cancelled","price":3000.05,"order_type":"limit","order_state":"cancelled","cancel_reason":"cancel_on_disconnect","order_id":"ETH-3","last_update_timestamp":1700000001000,"label":"sbx:h1:r1:8:5","instrument_name":"ETH-PERPETUAL","filled_amount":0,"direction":"sell","average_price":0,"amount":3}`
	orderIOC  = `{"time_in_force":"immediate_or_cancel","price":"market_price","order_type":"market","order_state":"cancelled","order_id":"4","last_update_timestamp":1700000002000,"label":"sbx:h1:r1:7:1003","instrument_name":"BTC-PERPETUAL","filled_amount":10,"direction":"buy","average_price":65001,"amount":20}`
	orderMMP  = `{"time_in_force":"good_til_cancelled","price":0.0125,"order_type":"limit","order_state":"cancelled","cancel_reason":"mmp_trigger","order_id":"5","last_update_timestamp":1700000003000,"label":"sbx:h1:r1:7:1004","instrument_name":"BTC-27JUN25-60000-C","filled_amount":0,"direction":"sell","average_price":0,"amount":1.5,"post_only":true,"reject_post_only":true}`
	orderFgn  = `{"time_in_force":"good_til_cancelled","price":10502.5,"order_type":"limit","order_state":"open","order_id":"6","last_update_timestamp":1581507423789,"label":"","instrument_name":"BTC-PERPETUAL","filled_amount":0,"direction":"buy","average_price":0,"amount":200}`
	orderTrig = `{"order_id":"ETH-SLIS-12","order_state":"untriggered","order_type":"stop_market","price":"market_price","trigger_price":3000,"direction":"sell","cancel_reason":null,"label":"sbx:h1:r1:7:1005","amount":1,"instrument_name":"ETH-PERPETUAL","time_in_force":"good_til_cancelled","last_update_timestamp":1700000004000}`

	userTrade = `[{"trade_seq":30289432,"trade_id":"48079254","timestamp":1590484156350,"tick_direction":0,"state":"filled","self_trade":false,"reduce_only":false,"price":8954.0,"post_only":false,"order_type":"market","order_id":"4008965646","matching_id":null,"mark_price":8952.86,"liquidity":"T","label":"sbx:h1:r1:7:1003","instrument_name":"BTC-PERPETUAL","index_price":8956.73,"fee_currency":"BTC","fee":0.00000168,"direction":"sell","amount":20.0},{"trade_seq":5,"trade_id":"9","timestamp":1590484156351,"price":3000.05,"order_id":"ETH-3","liquidity":"M","label":"sbx:h1:r1:8:5","instrument_name":"ETH-PERPETUAL","fee_currency":"ETH","fee":-1.6666666666666667e-7,"direction":"buy","amount":3}]`
)

type tcase struct {
	name    string
	channel string
	data    string
	kind    ClassKind
	inst    uint32
	key     uint64
	inst2   uint32 // Class.Instance
	routes  []uint32
	want    []string
	err     error
}

func TestTranslate(t *testing.T) {
	NI := uint32(abi.NoInstrument)
	for _, c := range []tcase{
		{name: "ticker", channel: "ticker.BTC-PERPETUAL.100ms", data: tickerPerp, kind: ClassMarket, inst: iBTCPerp,
			key: ConflationKey(StreamTicker, iBTCPerp), inst2: NoInstance, want: []string{
				`{"kind":"ticker","seq":0,"instrument":0,"flags":[],"ts":1623060194301000000,"best_bid_price":36066,"best_bid_amount":1770,"best_ask_price":36066.5,"best_ask_amount":5920,"last_price":36066.5,"mark_price":36053.46,"index_price":36056.12,"open_interest":502097590,"funding_8h":0.00009734,"mark_iv":0}`}},
		{name: "ticker option", channel: "ticker.BTC-27JUN25-60000-C.raw", data: tickerOpt, kind: ClassMarket, inst: iOption,
			key: ConflationKey(StreamTicker, iOption), inst2: NoInstance, want: []string{
				`{"kind":"ticker","seq":0,"instrument":1,"flags":[],"ts":1700000000000000000,"best_bid_price":0.012,"best_bid_amount":5.2,"best_ask_price":0,"best_ask_amount":0,"last_price":0,"mark_price":0.01234568,"index_price":60100.12,"open_interest":250.5,"funding_8h":0,"mark_iv":52.35}`}},
		{name: "ticker closed", channel: "ticker.BTC-27JUN25.agg2", data: `{"timestamp":1700000000000,"state":"settlement","mark_price":60000,"instrument_name":"BTC-27JUN25"}`,
			kind: ClassMarket, inst: iBTCFut, key: ConflationKey(StreamTicker, iBTCFut), inst2: NoInstance, want: []string{
				`{"kind":"ticker","seq":0,"instrument":4,"flags":["closed"],"ts":1700000000000000000,"best_bid_price":0,"best_bid_amount":0,"best_ask_price":0,"best_ask_amount":0,"last_price":0,"mark_price":60000,"index_price":0,"open_interest":0,"funding_8h":0,"mark_iv":0}`}},
		{name: "quote", channel: "quote.BTC-PERPETUAL", data: quoteBTC, kind: ClassMarket, inst: iBTCPerp,
			key: ConflationKey(StreamQuote, iBTCPerp), inst2: NoInstance, want: []string{
				`{"kind":"ticker","seq":0,"instrument":0,"flags":["top_only"],"ts":1700000000200000000,"best_bid_price":65000.5,"best_bid_amount":1200,"best_ask_price":65001,"best_ask_amount":300,"last_price":0,"mark_price":0,"index_price":0,"open_interest":0,"funding_8h":0,"mark_iv":0}`}},
		{name: "quote ignores extras", channel: "quote.BTC-PERPETUAL", data: `{"timestamp":1,"mark_price":5,"best_bid_price":null,"best_bid_amount":null,"best_ask_price":2,"best_ask_amount":3}`,
			kind: ClassMarket, inst: iBTCPerp, key: ConflationKey(StreamQuote, iBTCPerp), inst2: NoInstance, want: []string{
				`{"kind":"ticker","seq":0,"instrument":0,"flags":["top_only"],"ts":1000000,"best_bid_price":0,"best_bid_amount":0,"best_ask_price":2,"best_ask_amount":3,"last_price":0,"mark_price":0,"index_price":0,"open_interest":0,"funding_8h":0,"mark_iv":0}`}},
		{name: "trades", channel: "trades.BTC-PERPETUAL.raw", data: tradesBTC, kind: ClassMarket, inst: iBTCPerp,
			key: ConflationKey(StreamTrades, iBTCPerp), inst2: NoInstance, want: []string{
				`{"kind":"trade","seq":0,"instrument":0,"side":"sell","flags":[],"ts":1590484156350000000,"trade_seq":30289432,"price":8950,"amount":10}`,
				`{"kind":"trade","seq":0,"instrument":0,"side":"buy","flags":["taker_liquidation","block"],"ts":1590484156351000000,"trade_seq":30289433,"price":8950.5,"amount":2000}`}},
		{name: "trades by kind, unknown instrument skipped", channel: "trades.future.any.100ms", data: tradesAny, kind: ClassMarket, inst: NI,
			key: ConflationKey(StreamTrades, NI), inst2: NoInstance, want: []string{
				`{"kind":"trade","seq":0,"instrument":2,"side":"buy","flags":["maker_liquidation","taker_liquidation"],"ts":1700000000000000000,"trade_seq":1,"price":3000.05,"amount":5}`,
				`{"kind":"trade","seq":0,"instrument":0,"side":"sell","flags":[],"ts":1700000000002000000,"trade_seq":3,"price":65000,"amount":10}`}},
		{name: "trades empty", channel: "trades.BTC-PERPETUAL.raw", data: `[]`, kind: ClassUnknown, inst: NI, inst2: NoInstance},
		{name: "order raw", channel: "user.orders.BTC-PERPETUAL.raw", data: orderOurs, kind: ClassOrder, inst: iBTCPerp, inst2: 7,
			routes: []uint32{7}, want: []string{
				`{"kind":"order_update","seq":0,"cid":1001,"instrument":0,"state":"open","side":"buy","type":"limit","tif":"good_til_cancelled","flags":["post_only"],"reason":"none","exchange_code":0,"ts":1700000000000000000,"price":65000.5,"amount":10,"filled_amount":0,"avg_price":0,"exchange_order_id":"USDC-104819327443","text":""}`}},
		{name: "orders array", channel: "user.orders.any.any.100ms",
			data: "[" + strings.Join([]string{orderPart, orderCOD, orderIOC, orderMMP, orderFgn, orderTrig}, ",") + "]",
			kind: ClassOrder, inst: NI, inst2: NoInstance, routes: []uint32{7, 8, 7, 7, 7}, want: []string{
				`{"kind":"order_update","seq":0,"cid":1002,"instrument":0,"state":"open","side":"sell","type":"limit","tif":"good_til_cancelled","flags":["reduce_only"],"reason":"none","exchange_code":0,"ts":1700000000500000000,"price":65000.5,"amount":50,"filled_amount":20,"avg_price":65000.53333333,"exchange_order_id":"2","text":""}`,
				`{"kind":"order_update","seq":0,"cid":5,"instrument":2,"state":"cancelled","side":"sell","type":"limit","tif":"good_til_cancelled","flags":[],"reason":"cancel_on_disconnect","exchange_code":0,"ts":1700000001000000000,"price":3000.05,"amount":3,"filled_amount":0,"avg_price":0,"exchange_order_id":"ETH-3","text":"cancel_on_disconnect"}`,
				`{"kind":"order_update","seq":0,"cid":1003,"instrument":0,"state":"cancelled","side":"buy","type":"market","tif":"immediate_or_cancel","flags":[],"reason":"unfilled","exchange_code":0,"ts":1700000002000000000,"price":0,"amount":20,"filled_amount":10,"avg_price":65001,"exchange_order_id":"4","text":""}`,
				`{"kind":"order_update","seq":0,"cid":1004,"instrument":1,"state":"cancelled","side":"sell","type":"limit","tif":"good_til_cancelled","flags":["post_only","reject_post_only"],"reason":"exchange_cancel","exchange_code":0,"ts":1700000003000000000,"price":0.0125,"amount":1.5,"filled_amount":0,"avg_price":0,"exchange_order_id":"5","text":"mmp_trigger"}`,
				`{"kind":"order_update","seq":0,"cid":1005,"instrument":2,"state":"pending","side":"sell","type":"market","tif":"good_til_cancelled","flags":[],"reason":"none","exchange_code":0,"ts":1700000004000000000,"price":0,"amount":1,"filled_amount":0,"avg_price":0,"exchange_order_id":"ETH-SLIS-12","text":""}`}},
		{name: "order foreign", channel: "user.orders.BTC-PERPETUAL.raw", data: orderFgn, kind: ClassForeign, inst: NI, inst2: NoInstance},
		{name: "user trades", channel: "user.trades.any.any.raw", data: userTrade, kind: ClassOrder, inst: NI, inst2: NoInstance,
			routes: []uint32{7, 8}, want: []string{
				`{"kind":"fill","seq":0,"cid":1003,"instrument":0,"side":"sell","liquidity":"taker","ts":1590484156350000000,"trade_seq":30289432,"price":8954,"amount":20,"fee":0.00000168,"fee_currency":"BTC"}`,
				`{"kind":"fill","seq":0,"cid":5,"instrument":2,"side":"buy","liquidity":"maker","ts":1590484156351000000,"trade_seq":5,"price":3000.05,"amount":3,"fee":-0.00000017,"fee_currency":"ETH"}`}},
		{name: "user changes", channel: "user.changes.BTC-PERPETUAL.raw",
			data: `{"instrument_name":"BTC-PERPETUAL","orders":[` + orderIOC + `],"positions":[{"total_profit_loss":0.1,"size":-20,"realized_profit_loss":0.00012,"floating_profit_loss":-0.0000123456789,"instrument_name":"BTC-PERPETUAL","kind":"future","direction":"sell","average_price":65001,"mark_price":65000}],"trades":[` + strings.TrimSuffix(strings.TrimPrefix(userTrade, "["), "]") + `]}`,
			kind: ClassOrder, inst: NI, inst2: NoInstance, routes: []uint32{7, 8, 7, NoInstance}, want: []string{
				`{"kind":"fill","seq":0,"cid":1003,"instrument":0,"side":"sell","liquidity":"taker","ts":1590484156350000000,"trade_seq":30289432,"price":8954,"amount":20,"fee":0.00000168,"fee_currency":"BTC"}`,
				`{"kind":"fill","seq":0,"cid":5,"instrument":2,"side":"buy","liquidity":"maker","ts":1590484156351000000,"trade_seq":5,"price":3000.05,"amount":3,"fee":-0.00000017,"fee_currency":"ETH"}`,
				`{"kind":"order_update","seq":0,"cid":1003,"instrument":0,"state":"cancelled","side":"buy","type":"market","tif":"immediate_or_cancel","flags":[],"reason":"unfilled","exchange_code":0,"ts":1700000002000000000,"price":0,"amount":20,"filled_amount":10,"avg_price":65001,"exchange_order_id":"4","text":""}`,
				`{"kind":"position","seq":0,"instrument":0,"flags":["account"],"ts":1700000000123000000,"size":-20,"avg_price":65001,"realized_pnl":0.00012,"unrealized_pnl":-0.00001235}`}},
		{name: "user changes positions only", channel: "user.changes.future.BTC.100ms",
			data: `{"instrument_name":"BTC-PERPETUAL","orders":[],"trades":[],"positions":[{"size":0,"instrument_name":"BTC-PERPETUAL","average_price":0}]}`,
			kind: ClassPosition, inst: iBTCPerp, key: ConflationKey(StreamPosition, iBTCPerp), inst2: NoInstance, routes: []uint32{NoInstance}, want: []string{
				`{"kind":"position","seq":0,"instrument":0,"flags":["account"],"ts":1700000000123000000,"size":0,"avg_price":0,"realized_pnl":0,"unrealized_pnl":0}`}},
		{name: "portfolio is not an event", channel: "user.portfolio.btc", data: `{"currency":"BTC","balance":1}`, kind: ClassUnknown, inst: NI, inst2: NoInstance},
		{name: "platform_state", channel: "platform_state", data: `{"maintenance":true}`, kind: ClassUnknown, inst: NI, inst2: NoInstance},
		{name: "unknown instrument", channel: "ticker.DOGE-PERPETUAL.raw", data: `{}`, kind: ClassUnknown, inst: NI, inst2: NoInstance},
		{name: "unknown channel", channel: "deribit_price_index.btc_usd", data: `{"price":1}`, kind: ClassUnknown, inst: NI, inst2: NoInstance},
		{name: "bad book form", channel: "book.BTC-PERPETUAL.none.raw", data: `{}`, kind: ClassUnknown, inst: NI, inst2: NoInstance},
		{name: "bad ticker", channel: "ticker.BTC-PERPETUAL.raw", data: `{"mark_price":"x"}`, kind: ClassMarket, inst: iBTCPerp, inst2: NoInstance, err: ErrDecode},
		{name: "ticker NaN", channel: "ticker.BTC-PERPETUAL.raw", data: `{"mark_price":NaN}`, kind: ClassMarket, inst: iBTCPerp, inst2: NoInstance, err: ErrDecode},
		{name: "ticker huge", channel: "ticker.BTC-PERPETUAL.raw", data: `{"open_interest":1e30}`, kind: ClassMarket, inst: iBTCPerp, inst2: NoInstance, err: ErrDecode},
		{name: "bad order state", channel: "user.orders.BTC-PERPETUAL.raw", data: `{"order_state":"weird","label":"sbx:h1:r1:1:1"}`, kind: ClassOrder, inst: NI, inst2: NoInstance, err: ErrDecode},
		{name: "bad orders", channel: "user.orders.BTC-PERPETUAL.100ms", data: `[` + orderOurs + `,{"amount":true}]`, kind: ClassOrder, inst: NI, inst2: NoInstance, err: ErrDecode},
		{name: "bad trades", channel: "trades.BTC-PERPETUAL.raw", data: `{}`, kind: ClassMarket, inst: NI, inst2: NoInstance, err: ErrDecode},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := ownedTranslator(testTable(t))
			prefix := []byte("12345678") // records are appended after what dst holds
			out, cls, err := tr.AppendNotification(bytes.Clone(prefix), []byte(c.channel), []byte(c.data), recv)
			if !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if !bytes.Equal(out[:8], prefix) {
				t.Fatal("dst prefix changed")
			}
			got := recordsJSON(t, out[8:])
			if len(got) != len(c.want) {
				t.Fatalf("%d records, want %d:\n%s", len(got), len(c.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("record %d:\n got %s\nwant %s", i, got[i], c.want[i])
				}
			}
			if cls.Kind != c.kind || cls.Instrument != c.inst || cls.Key != c.key || cls.Instance != c.inst2 || cls.N != len(c.want) {
				t.Errorf("class %+v, want kind %v instrument %d key %#x instance %d n %d", cls, c.kind, c.inst, c.key, c.inst2, len(c.want))
			}
			if len(c.want) > 0 && cls.Event != abi.ReadHeader(out[8:]).Kind {
				t.Errorf("event %v", cls.Event)
			}
			routes := tr.Routes()
			if len(routes) != len(c.routes) {
				t.Fatalf("routes %v, want owners %v", routes, c.routes)
			}
			for i, r := range routes {
				if r.Instance != c.routes[i] {
					t.Errorf("route %d: %+v, want %d", i, r, c.routes[i])
				}
				if k := abi.ReadHeader(out[r.Offset:]).Kind; k != abi.KindOrderUpdate && k != abi.KindFill && k != abi.KindPosition {
					t.Errorf("route %d points at a %v", i, k)
				}
			}
		})
	}
}

// TestTranslateKeepForeign: with KeepForeign, foreign orders and fills are
// appended with cid 0 and routed to NoInstance.
func TestTranslateKeepForeign(t *testing.T) {
	tr := ownedTranslator(testTable(t))
	tr.KeepForeign = true
	out, cls, err := tr.AppendNotification(nil, []byte("user.orders.BTC-PERPETUAL.raw"), []byte(orderFgn), recv)
	if err != nil || cls.Kind != ClassForeign || cls.N != 1 || len(tr.Routes()) != 1 || tr.Routes()[0].Instance != NoInstance {
		t.Fatalf("%+v %v %v", cls, err, tr.Routes())
	}
	var o abi.OrderUpdate
	if err := abi.DecodeOrderUpdate(out, &o); err != nil || o.CID != 0 || o.Instrument != iBTCPerp || o.State != abi.StateOpen {
		t.Fatalf("%+v %v", o, err)
	}
	// Ours and foreign mixed: ClassOrder, and the owner is not unique.
	_, cls, _ = tr.AppendNotification(nil, []byte("user.orders.BTC-PERPETUAL.100ms"), []byte("["+orderOurs+","+orderFgn+"]"), recv)
	if cls.Kind != ClassOrder || cls.N != 2 || cls.Instance != NoInstance {
		t.Fatalf("%+v", cls)
	}
	tr.KeepForeign = false
	_, cls, _ = tr.AppendNotification(nil, []byte("user.orders.BTC-PERPETUAL.100ms"), []byte("["+orderOurs+","+orderFgn+"]"), recv)
	if cls.Kind != ClassOrder || cls.N != 1 || cls.Instance != 7 {
		t.Fatalf("%+v", cls)
	}
}

func TestReasonFromCancel(t *testing.T) {
	for _, c := range []struct {
		cr   string
		tif  abi.TimeInForce
		typ  abi.OrderType
		want abi.Reason
	}{
		{"user_request", abi.GoodTilCancelled, abi.Limit, abi.ReasonCancelRequested},
		{"user_request", abi.ImmediateOrCancel, abi.Limit, abi.ReasonCancelRequested},
		{"cancel_on_disconnect", abi.GoodTilCancelled, abi.Limit, abi.ReasonCancelOnDisconnect},
		{"", abi.ImmediateOrCancel, abi.Limit, abi.ReasonUnfilled},
		{"", abi.FillOrKill, abi.Limit, abi.ReasonUnfilled},
		{"", abi.GoodTilCancelled, abi.Market, abi.ReasonUnfilled},
		{"", abi.GoodTilCancelled, abi.Limit, abi.ReasonExchangeCancel},
		{"mmp_trigger", abi.GoodTilCancelled, abi.Limit, abi.ReasonExchangeCancel},
		{"settlement", abi.GoodTilDay, abi.Limit, abi.ReasonExchangeCancel},
		{"reduce_only", abi.GoodTilCancelled, abi.Limit, abi.ReasonExchangeCancel},
		{"edit_post_only_reject", abi.GoodTilCancelled, abi.Limit, abi.ReasonExchangeCancel},
		{"autoliquidation", abi.GoodTilCancelled, abi.Limit, abi.ReasonExchangeCancel},
	} {
		if got := ReasonFromCancel([]byte(c.cr), c.tif, c.typ); got != c.want {
			t.Errorf("%q %v %v: %v, want %v", c.cr, c.tif, c.typ, got, c.want)
		}
	}
	for s, want := range map[string]abi.OrderState{"open": abi.StateOpen, "filled": abi.StateFilled,
		"cancelled": abi.StateCancelled, "rejected": abi.StateRejected, "untriggered": abi.StatePending,
		"triggered": abi.StateOpen} {
		if got, ok := StateFromText([]byte(s)); !ok || got != want {
			t.Errorf("%s: %v", s, got)
		}
	}
	if _, ok := StateFromText([]byte("archived")); ok {
		t.Error("unknown state accepted")
	}
}

// bookMsg builds a book notification with n levels per side.
func bookMsg(typ string, changeID, prev int64, nb, na int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"type":%q,"timestamp":1700000000100,`, typ)
	if prev >= 0 {
		fmt.Fprintf(&b, `"prev_change_id":%d,`, prev)
	}
	fmt.Fprintf(&b, `"instrument_name":"BTC-PERPETUAL","change_id":%d,"bids":[`, changeID)
	action := "new"
	if typ == "change" {
		action = "change"
	}
	for i := 0; i < nb; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `[%q,%.1f,%d.0]`, action, 65000.5-float64(i)*0.5, 1000+i*10)
	}
	b.WriteString(`],"asks":[`)
	for i := 0; i < na; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `[%q,%.1f,%d.0]`, action, 65001+float64(i)*0.5, 200+i*10)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func TestTranslateBook(t *testing.T) {
	tr := ownedTranslator(testTable(t))
	ch := []byte("book.BTC-PERPETUAL.raw")
	step := func(data string) ([]string, Class, error) {
		t.Helper()
		out, cls, err := tr.AppendNotification(nil, ch, []byte(data), recv)
		return recordsJSON(t, out), cls, err
	}
	// A change before any snapshot is a gap.
	if _, cls, err := step(`{"type":"change","timestamp":1,"prev_change_id":5,"instrument_name":"BTC-PERPETUAL","change_id":6,"bids":[],"asks":[]}`); !errors.Is(err, ErrBookGap) || cls.Instrument != iBTCPerp {
		t.Fatalf("%v %+v", err, cls)
	}
	got, cls, err := step(`{"type":"snapshot","timestamp":1700000000000,"instrument_name":"BTC-PERPETUAL","change_id":297217,"bids":[["new",65000.5,1200.0],["new",64999.0,500.0]],"asks":[["new",65001.0,300.0]]}`)
	if err != nil || cls.Kind != ClassMarket || cls.Event != abi.KindBookSnapshot || cls.Key != ConflationKey(StreamBook, iBTCPerp) || len(got) != 1 ||
		got[0] != `{"kind":"book_snapshot","seq":0,"instrument":0,"flags":[],"change_id":297217,"prev_change_id":0,"ts":1700000000000000000,"bids":[[65000.5,1200],[64999,500]],"asks":[[65001,300]]}` {
		t.Fatalf("%v %+v %s", err, cls, got)
	}
	got, cls, err = step(`{"type":"change","timestamp":1700000000100,"prev_change_id":297217,"instrument_name":"BTC-PERPETUAL","change_id":297218,"bids":[["change",65000.5,1300.0],["delete",64999.0,0.0]],"asks":[["new",65001.5,1e-8]]}`)
	if err != nil || cls.Event != abi.KindBookChange || len(got) != 1 ||
		got[0] != `{"kind":"book_change","seq":0,"instrument":0,"flags":[],"change_id":297218,"prev_change_id":297217,"ts":1700000000100000000,"bids":[[65000.5,1300],[64999,0]],"asks":[[65001.5,0.00000001]]}` {
		t.Fatalf("%v %+v %s", err, cls, got)
	}
	// A missed message: gap, reported once; later changes are dropped
	// silently until a snapshot.
	if got, cls, err = step(`{"type":"change","timestamp":1,"prev_change_id":297219,"instrument_name":"BTC-PERPETUAL","change_id":297220,"bids":[],"asks":[]}`); !errors.Is(err, ErrBookGap) || len(got) != 0 || cls.Instrument != iBTCPerp {
		t.Fatalf("%v %+v", err, cls)
	}
	if !strings.Contains(err.Error(), "297219") || !strings.Contains(err.Error(), "BTC-PERPETUAL") {
		t.Fatalf("error text %q", err)
	}
	if got, cls, err = step(`{"type":"change","timestamp":1,"prev_change_id":297220,"instrument_name":"BTC-PERPETUAL","change_id":297221,"bids":[],"asks":[]}`); err != nil || len(got) != 0 || cls.Kind != ClassUnknown {
		t.Fatalf("%v %+v", err, cls)
	}
	if got, _, err = step(string(bookMsg("snapshot", 300000, -1, 2, 2))); err != nil || len(got) != 1 {
		t.Fatal(err)
	}
	if got, _, err = step(string(bookMsg("change", 300001, 300000, 1, 0))); err != nil || len(got) != 1 {
		t.Fatal(err)
	}
	// A change without prev_change_id is a gap too.
	if _, _, err = step(`{"type":"change","instrument_name":"BTC-PERPETUAL","change_id":300002,"bids":[],"asks":[]}`); !errors.Is(err, ErrBookGap) {
		t.Fatal(err)
	}
	// ResetBook / ResetBooks: the next change is a gap.
	step(string(bookMsg("snapshot", 400000, -1, 1, 1)))
	tr.ResetBooks()
	if _, _, err = step(string(bookMsg("change", 400001, 400000, 1, 0))); !errors.Is(err, ErrBookGap) {
		t.Fatal(err)
	}
	step(string(bookMsg("snapshot", 500000, -1, 1, 1)))
	tr.ResetBook(iBTCPerp)
	tr.ResetBook(9999) // out of range: ignored
	if _, _, err = step(string(bookMsg("change", 500001, 500000, 1, 0))); !errors.Is(err, ErrBookGap) {
		t.Fatal(err)
	}
	// A decode error appends nothing.
	if out, cls, err := tr.AppendNotification([]byte("x"), ch, []byte(`{"type":"change","bids":[["new",1]]}`), 0); !errors.Is(err, ErrDecode) || string(out) != "x" || cls.Kind != ClassMarket {
		t.Fatalf("%v %q %+v", err, out, cls)
	}
	for _, bad := range []string{`{"type":"snap"}`, `{"bids":[]}`, `[]`, `{"type":"snapshot","bids":[["new",1,NaN]]}`,
		`{"type":"snapshot","bids":[["new",1,2,3]]}`, `{"type":"snapshot"} x`, `{"type":"snapshot","change_id":1.5}`} {
		if _, _, err := step(bad); !errors.Is(err, ErrDecode) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestTranslateGroupedBook(t *testing.T) {
	tr := ownedTranslator(testTable(t))
	data := []byte(`{"timestamp":1700000000000,"instrument_name":"ETH-PERPETUAL","change_id":5,"bids":[[3400.5,10],[3400,2e3]],"asks":[[3401,1.5]]}`)
	out, cls, err := tr.AppendNotification(nil, []byte("book.ETH-PERPETUAL.none.10.100ms"), data, recv)
	got := recordsJSON(t, out)
	if err != nil || cls.Kind != ClassMarket || cls.Instrument != iETHPerp || cls.Key != ConflationKey(StreamBook, iETHPerp) || len(got) != 1 ||
		got[0] != `{"kind":"book_snapshot","seq":0,"instrument":2,"flags":[],"change_id":5,"prev_change_id":0,"ts":1700000000000000000,"bids":[[3400.5,10],[3400,2000]],"asks":[[3401,1.5]]}` {
		t.Fatalf("%v %+v %s", err, cls, got)
	}
	// Grouped snapshots do not touch the raw book's chain.
	if _, _, err := tr.AppendNotification(nil, []byte("book.ETH-PERPETUAL.100ms"), []byte(`{"type":"change","prev_change_id":4,"change_id":5,"bids":[],"asks":[]}`), 0); !errors.Is(err, ErrBookGap) {
		t.Fatal(err)
	}
}

// TestTranslateBookSplit: a message over abi.MaxBookLevels levels becomes
// records with continues/continuation whose first holds the levels nearest
// the top of both sides; with Truncate, one record flagged truncated.
func TestTranslateBookSplit(t *testing.T) {
	for _, c := range []struct {
		nb, na int
		split  [][2]int // bids, asks per record
	}{
		{5000, 5000, [][2]int{{2046, 2046}, {2046, 2046}, {908, 908}}},
		{5000, 10, [][2]int{{4082, 10}, {918, 0}}},
		{10, 9000, [][2]int{{10, 4082}, {0, 4092}, {0, 826}}},
		{4092, 0, [][2]int{{4092, 0}}},
		{2046, 2047, [][2]int{{2046, 2046}, {0, 1}}},
	} {
		for _, truncate := range []bool{false, true} {
			tr := ownedTranslator(testTable(t))
			tr.Truncate = truncate
			ch := []byte("book.BTC-PERPETUAL.raw")
			if _, _, err := tr.AppendNotification(nil, ch, bookMsg("snapshot", 1, -1, 1, 1), 0); err != nil {
				t.Fatal(err)
			}
			out, cls, err := tr.AppendNotification(nil, ch, bookMsg("change", 2, 1, c.nb, c.na), 0)
			if err != nil {
				t.Fatal(err)
			}
			want := c.split
			if truncate {
				want = want[:1]
			}
			if cls.N != len(want) {
				t.Fatalf("%d/%d truncate %v: %d records, want %d", c.nb, c.na, truncate, cls.N, len(want))
			}
			var bk abi.Book
			i, nextBid, nextAsk := 0, 0, 0
			for rec, err := range abi.Records(out) {
				if err != nil {
					t.Fatal(err)
				}
				if err := abi.DecodeBook(rec.Bytes, &bk); err != nil {
					t.Fatal(err)
				}
				if len(bk.Bids) != want[i][0] || len(bk.Asks) != want[i][1] || bk.ChangeID != 2 || bk.PrevChangeID != 1 || rec.Kind != abi.KindBookChange {
					t.Fatalf("%d/%d record %d: %d bids %d asks, want %v", c.nb, c.na, i, len(bk.Bids), len(bk.Asks), want[i])
				}
				var flags abi.BookFlags
				if i > 0 {
					flags |= abi.BookContinuation
				}
				if i < len(c.split)-1 {
					if truncate {
						flags |= abi.BookTruncated
					} else {
						flags |= abi.BookContinues
					}
				}
				if bk.Flags != flags {
					t.Fatalf("%d/%d record %d: flags %v, want %v", c.nb, c.na, i, bk.Flags, flags)
				}
				// Levels come in order, nearest the top first.
				for _, l := range bk.Bids {
					if want, _ := abi.FixedFromFloat(65000.5 - float64(nextBid)*0.5); l.Price != want {
						t.Fatalf("bid %d: %v", nextBid, l.Price)
					}
					nextBid++
				}
				for _, l := range bk.Asks {
					if want, _ := abi.FixedFromFloat(65001 + float64(nextAsk)*0.5); l.Price != want {
						t.Fatalf("ask %d: %v", nextAsk, l.Price)
					}
					nextAsk++
				}
				i++
			}
			if !truncate && (nextBid != c.nb || nextAsk != c.na) {
				t.Fatalf("%d/%d: %d bids and %d asks delivered", c.nb, c.na, nextBid, nextAsk)
			}
			// TruncateBook on the split form gives the truncated form.
			if !truncate && len(c.split) > 1 {
				_, rec, _, _ := abi.NextRecord(out)
				if !TruncateBook(rec) {
					t.Fatal("TruncateBook")
				}
				abi.DecodeBook(rec, &bk)
				if bk.Flags != abi.BookTruncated {
					t.Fatalf("TruncateBook: %v", bk.Flags)
				}
			}
		}
	}
	if TruncateBook(make([]byte, 8)) || TruncateBook(abi.AppendTicker(nil, &abi.Ticker{})) {
		t.Fatal("TruncateBook accepted a non-book record")
	}
}

// TestAppendOrderResult: responses of private/buy (with trades), edit and
// cancel.
func TestAppendOrderResult(t *testing.T) {
	tr := ownedTranslator(testTable(t))
	buy := `{"trades":[` + strings.TrimSuffix(strings.TrimPrefix(userTrade, "["), "]") + `],"order":` + orderIOC + `}`
	out, cls, err := tr.AppendOrderResult(nil, []byte(buy), recv)
	got := recordsJSON(t, out)
	if err != nil || cls.Kind != ClassOrder || cls.N != 3 || len(got) != 3 || !strings.HasPrefix(got[0], `{"kind":"fill"`) ||
		!strings.HasPrefix(got[2], `{"kind":"order_update","seq":0,"cid":1003,`) || len(tr.Routes()) != 3 {
		t.Fatalf("%v %+v\n%s", err, cls, strings.Join(got, "\n"))
	}
	// A fill's route names its trade's exchange order; an update's, none.
	if r := tr.Routes(); string(r[0].OrderID) != "4008965646" || string(r[1].OrderID) != "ETH-3" || r[2].OrderID != nil {
		t.Fatalf("routes' order ids %q %q %q", r[0].OrderID, r[1].OrderID, r[2].OrderID)
	}
	// Order first in the JSON: fills still come first.
	buy2 := `{"order":` + orderOurs + `,"trades":[]}`
	out, cls, err = tr.AppendOrderResult(nil, []byte(buy2), recv)
	if err != nil || cls.Kind != ClassOrder || cls.N != 1 || cls.Instance != 7 || cls.Event != abi.KindOrderUpdate {
		t.Fatalf("%v %+v", err, cls)
	}
	// Cancel: the bare order.
	cancelled := strings.Replace(strings.Replace(orderOurs, `"order_state":"open"`, `"order_state":"cancelled"`, 1), `"label"`, `"cancel_reason":"user_request","label"`, 1)
	out, cls, err = tr.AppendOrderResult(out[:0], []byte(cancelled), recv)
	got = recordsJSON(t, out)
	if err != nil || cls.Kind != ClassOrder || len(got) != 1 ||
		got[0] != `{"kind":"order_update","seq":0,"cid":1001,"instrument":0,"state":"cancelled","side":"buy","type":"limit","tif":"good_til_cancelled","flags":["post_only"],"reason":"cancel_requested","exchange_code":0,"ts":1700000000000000000,"price":65000.5,"amount":10,"filled_amount":0,"avg_price":0,"exchange_order_id":"USDC-104819327443","text":"user_request"}` {
		t.Fatalf("%v %+v %s", err, cls, got)
	}
	// Edit of a foreign order.
	if _, cls, err = tr.AppendOrderResult(nil, []byte(`{"order":`+orderFgn+`,"trades":[]}`), recv); err != nil || cls.Kind != ClassForeign {
		t.Fatalf("%v %+v", err, cls)
	}
	for _, bad := range []string{``, `[]`, `{"order":{"order_state":"weird"},"trades":[]}`, `{"order":1}`, `{"trades":[1]}`,
		`{"order_state":"open"} x`, `{"order":{"order_state":"open"},"trades":[]} x`} {
		if out, cls, err := tr.AppendOrderResult([]byte("x"), []byte(bad), recv); !errors.Is(err, ErrDecode) || string(out) != "x" || cls.Kind != ClassOrder || len(tr.Routes()) != 0 {
			t.Errorf("%s: %v %q %+v", bad, err, out, cls)
		}
	}
}

func TestAppendPositions(t *testing.T) {
	tr := ownedTranslator(testTable(t))
	raw := `[{"total_profit_loss":0.000123,"size_currency":-0.0003,"size":-20,"settlement_price":65000,"realized_profit_loss":0,"open_orders_margin":0,"mark_price":65010.1,"maintenance_margin":0.00001,"leverage":50,"kind":"future","interest_value":0,"instrument_name":"BTC-PERPETUAL","initial_margin":0.00002,"index_price":65000,"floating_profit_loss":0.000123,"direction":"sell","delta":-0.0003,"average_price":65100.5},` +
		`{"size":1.5,"instrument_name":"BTC-27JUN25-60000-C","kind":"option","average_price":0.0125,"floating_profit_loss":-0.001,"realized_profit_loss":0.0005},` +
		`{"size":7,"instrument_name":"SOL-PERPETUAL","kind":"future","average_price":1}]`
	out, err := tr.AppendPositions(nil, []byte(raw), recv)
	got := recordsJSON(t, out)
	want := []string{
		`{"kind":"position","seq":0,"instrument":0,"flags":["account"],"ts":1700000000123000000,"size":-20,"avg_price":65100.5,"realized_pnl":0,"unrealized_pnl":0.000123}`,
		`{"kind":"position","seq":0,"instrument":1,"flags":["account"],"ts":1700000000123000000,"size":1.5,"avg_price":0.0125,"realized_pnl":0.0005,"unrealized_pnl":-0.001}`,
	}
	if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") || len(tr.Routes()) != 2 {
		t.Fatalf("%v\n%s", err, strings.Join(got, "\n"))
	}
	if out, err := tr.AppendPositions([]byte("x"), []byte(`[{"size":"big"}]`), recv); !errors.Is(err, ErrDecode) || string(out) != "x" {
		t.Fatalf("%v %q", err, out)
	}
}

// TestTranslateNoAlloc: book change, ticker and order update translate
// without allocating once the Translator and dst are warm.
func TestTranslateNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	tr := ownedTranslator(testTable(t))
	dst := make([]byte, 0, 1<<16)
	ch := []byte("book.BTC-PERPETUAL.raw")
	if _, _, err := tr.AppendNotification(dst, ch, bookMsg("snapshot", 1, -1, 5, 5), 0); err != nil {
		t.Fatal(err)
	}
	// The same change again and again: make it chain to itself.
	change := bookMsg("change", 1, 1, 5, 5)
	cases := []struct {
		name          string
		channel, data []byte
	}{
		{"book change", ch, change},
		{"ticker", []byte("ticker.BTC-PERPETUAL.100ms"), []byte(tickerPerp)},
		{"ticker option", []byte("ticker.BTC-27JUN25-60000-C.100ms"), []byte(tickerOpt)},
		{"quote", []byte("quote.BTC-PERPETUAL"), []byte(quoteBTC)},
		{"trades", []byte("trades.BTC-PERPETUAL.100ms"), []byte(tradesBTC)},
		{"order raw", []byte("user.orders.BTC-PERPETUAL.raw"), []byte(orderOurs)},
		{"orders array", []byte("user.orders.any.any.100ms"), []byte("[" + orderPart + "," + orderCOD + "," + orderFgn + "]")},
		{"user trades", []byte("user.trades.any.any.100ms"), []byte(userTrade)},
		{"unknown", []byte("user.portfolio.btc"), []byte(`{}`)},
	}
	for _, c := range cases {
		var err error
		n := testing.AllocsPerRun(200, func() {
			_, _, err = tr.AppendNotification(dst[:0], c.channel, c.data, recv)
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n != 0 {
			t.Errorf("%s: %v allocations per frame", c.name, n)
		}
	}
	res := []byte(`{"order":` + orderOurs + `,"trades":[]}`)
	if n := testing.AllocsPerRun(200, func() { tr.AppendOrderResult(dst[:0], res, recv) }); n != 0 {
		t.Errorf("order result: %v allocations", n)
	}
}

// FuzzTranslate: arbitrary channels and data never panic; whatever is
// appended frames and renders as abi records; errors leave dst unchanged.
func FuzzTranslate(f *testing.F) {
	for _, c := range []struct{ ch, data string }{
		{"book.BTC-PERPETUAL.raw", string(bookMsg("snapshot", 1, -1, 2, 2))},
		{"book.BTC-PERPETUAL.raw", string(bookMsg("change", 2, 1, 2, 2))},
		{"book.ETH-PERPETUAL.none.10.100ms", `{"timestamp":1,"change_id":5,"bids":[[3400.5,10]],"asks":[[3401,1.5]]}`},
		{"ticker.BTC-PERPETUAL.100ms", tickerPerp},
		{"ticker.BTC-27JUN25-60000-C.100ms", tickerOpt},
		{"quote.BTC-PERPETUAL", quoteBTC},
		{"trades.BTC-PERPETUAL.raw", tradesBTC},
		{"trades.future.any.raw", tradesAny},
		{"user.orders.BTC-PERPETUAL.raw", orderOurs},
		{"user.orders.any.any.raw", "[" + orderIOC + "," + orderTrig + "]"},
		{"user.trades.any.any.raw", userTrade},
		{"user.changes.any.any.raw", `{"orders":[` + orderCOD + `],"trades":[],"positions":[{"size":1,"instrument_name":"BTC-PERPETUAL"}]}`},
		{"user.portfolio.btc", `{}`},
		{"", ""},
	} {
		f.Add(c.ch, []byte(c.data))
	}
	tab := testTable(f)
	f.Fuzz(func(t *testing.T, channel string, data []byte) {
		for _, keep := range []bool{false, true} {
			tr := ownedTranslator(tab)
			tr.KeepForeign = keep
			// Warm the BTC book so that changes get through.
			tr.AppendNotification(nil, []byte("book.BTC-PERPETUAL.raw"), bookMsg("snapshot", 1, -1, 1, 1), 0)
			prefix := []byte("prefix!!")
			out, cls, err := tr.AppendNotification(bytes.Clone(prefix), []byte(channel), data, recv)
			check := func(out []byte, cls Class, err error) {
				if !bytes.Equal(out[:8], prefix) {
					t.Fatal("prefix changed")
				}
				if err != nil && len(out) != 8 {
					t.Fatalf("error %v with %d bytes appended", err, len(out)-8)
				}
				n := 0
				for rec, ferr := range abi.Records(out[8:]) {
					if ferr != nil {
						t.Fatal(ferr)
					}
					if _, jerr := abi.RecordJSON(rec.Bytes); jerr != nil {
						t.Fatalf("%v: %v", rec.Kind, jerr)
					}
					if !abi.ReservedZero(rec.Bytes) {
						t.Fatalf("%v: reserved bytes or string padding not zero: %x", rec.Kind, rec.Bytes)
					}
					n++
				}
				if n != cls.N {
					t.Fatalf("%d records, class says %d", n, cls.N)
				}
				for _, r := range tr.Routes() {
					if r.Offset < 8 || r.Offset >= len(out) {
						t.Fatalf("route %+v out of %d bytes", r, len(out))
					}
				}
			}
			check(out, cls, err)
			out, cls, err = tr.AppendOrderResult(bytes.Clone(prefix), data, recv)
			check(out, cls, err)
			if out, err := tr.AppendPositions(bytes.Clone(prefix), data, recv); err != nil && len(out) != 8 {
				t.Fatal("AppendPositions appended on error")
			}
		}
	})
}

// TestTranslateHostileStrings: strings too long for their abi field are cut
// (on a UTF-8 boundary), a zero byte ends them, and the records stay valid.
func TestTranslateHostileStrings(t *testing.T) {
	tr := ownedTranslator(testTable(t))
	long := strings.Repeat("9", 31) + "é"
	data := `{"order_id":"` + long + `","order_state":"cancelled","cancel_reason":"a` + "\x00" + `b","label":"sbx:h1:r1:1:2","instrument_name":"BTC-PERPETUAL","direction":"buy","amount":1,"price":1}`
	out, _, err := tr.AppendNotification(nil, []byte("user.orders.BTC-PERPETUAL.raw"), []byte(data), recv)
	if err != nil {
		t.Fatal(err)
	}
	var o abi.OrderUpdate
	if err := abi.DecodeOrderUpdate(out, &o); err != nil || o.ExchangeOrderID.String() != strings.Repeat("9", 31) ||
		o.Text.String() != "a" || !abi.ReservedZero(out) || o.Reason != abi.ReasonExchangeCancel {
		t.Fatalf("%v %+v", err, o)
	}
	fill := `[{"label":"sbx:h1:r1:1:2","instrument_name":"BTC-PERPETUAL","fee_currency":"VERYLONGCURRENCY","liquidity":"X","direction":"up","price":1,"amount":1}]`
	out, _, err = tr.AppendNotification(nil, []byte("user.trades.BTC-PERPETUAL.raw"), []byte(fill), recv)
	var f abi.Fill
	if err != nil || abi.DecodeFill(out, &f) != nil || f.FeeCurrency.String() != "VERYLONG" || f.Liquidity != 0 || f.Side != abi.SideNone {
		t.Fatalf("%v %+v", err, f)
	}
}
