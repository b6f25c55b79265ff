package deribit

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/sim"
)

// A bare WebSocket JSON-RPC client, so that what the translator sees is the
// simulator's wire, not a client library's reading of it.
type simClient struct {
	t      *testing.T
	ws     *websocket.Conn
	mu     sync.Mutex
	nextID int64
	resp   map[int64]chan simFrame
	notes  chan simFrame
}

type simFrame struct {
	ID     *int64          `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Params struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	} `json:"params"`
	recv int64
}

func dialSim(t *testing.T, srv *sim.Server) *simClient {
	ws, _, err := websocket.DefaultDialer.Dial(srv.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &simClient{t: t, ws: ws, resp: map[int64]chan simFrame{}, notes: make(chan simFrame, 1<<16)}
	go func() {
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				close(c.notes)
				return
			}
			var f simFrame
			if json.Unmarshal(b, &f) != nil {
				continue
			}
			f.recv = time.Now().UnixNano()
			if f.ID != nil {
				c.mu.Lock()
				ch := c.resp[*f.ID]
				c.mu.Unlock()
				if ch != nil {
					ch <- f
				}
				continue
			}
			if f.Method == "subscription" {
				c.notes <- f
			}
		}
	}()
	t.Cleanup(func() { ws.Close() })
	return c
}

func (c *simClient) call(method string, params any) simFrame {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan simFrame, 1)
	c.resp[id] = ch
	c.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatal(err)
	}
	select {
	case f := <-ch:
		return f
	case <-time.After(20 * time.Second):
		c.t.Fatalf("no answer to %s", method)
	}
	return simFrame{}
}

func (c *simClient) ok(method string, params any) json.RawMessage {
	c.t.Helper()
	f := c.call(method, params)
	if f.Error != nil {
		c.t.Fatalf("%s: %d %s", method, f.Error.Code, f.Error.Message)
	}
	return f.Result
}

// simHarness translates every notification the client receives, checking
// the abi records, and remembers them by kind.
type simHarness struct {
	t      *testing.T
	c      *simClient
	tr     *Translator
	buf    []byte
	orders []abi.OrderUpdate
	fills  []abi.Fill
	seen   map[abi.Kind]int
	books  map[uint32]uint64 // last change_id per instrument, from the records
	frgn   int
}

// pump translates notifications until done says stop (or fails after 20 s).
func (h *simHarness) pump(what string, done func() bool) {
	h.t.Helper()
	deadline := time.After(20 * time.Second)
	for !done() {
		select {
		case f, ok := <-h.c.notes:
			if !ok {
				h.t.Fatal("connection closed")
			}
			h.translate(f)
		case <-deadline:
			h.t.Fatalf("waiting for %s: seen %v, %d orders, %d fills", what, h.seen, len(h.orders), len(h.fills))
		}
	}
}

func (h *simHarness) translate(f simFrame) {
	h.t.Helper()
	out, cls, err := h.tr.AppendNotification(h.buf[:0], []byte(f.Params.Channel), f.Params.Data, f.recv)
	if err != nil {
		h.t.Fatalf("%s: %v\n%s", f.Params.Channel, err, f.Params.Data)
	}
	h.buf = out
	if bytes.Contains(f.Params.Data, []byte(`"by hand"`)) && f.Params.Channel == "user.orders.future.ETH.100ms" {
		h.frgn++ // an array of ours and foreign orders is ClassOrder; foreign alone ClassForeign
		if cls.Kind != ClassOrder && cls.Kind != ClassForeign {
			h.t.Fatalf("foreign order: class %+v", cls)
		}
	}
	for rec, err := range abi.Records(out) {
		if err != nil {
			h.t.Fatal(err)
		}
		if _, err := abi.EventJSON(rec.Bytes); err != nil || !abi.ReservedZero(rec.Bytes) {
			h.t.Fatalf("%s: %v (reserved zero %v)", f.Params.Channel, err, abi.ReservedZero(rec.Bytes))
		}
		h.seen[rec.Kind]++
		switch rec.Kind {
		case abi.KindBookSnapshot, abi.KindBookChange:
			var b abi.Book
			if err := abi.DecodeBook(rec.Bytes, &b); err != nil {
				h.t.Fatal(err)
			}
			if cls.Kind != ClassMarket || cls.Key != ConflationKey(StreamBook, b.Instrument) {
				h.t.Fatalf("book class %+v", cls)
			}
			if rec.Kind == abi.KindBookChange && b.PrevChangeID != h.books[b.Instrument] {
				h.t.Fatalf("book change %d has prev %d, last delivered %d", b.ChangeID, b.PrevChangeID, h.books[b.Instrument])
			}
			if f.Params.Channel == "book.BTC-PERPETUAL.raw" {
				h.books[b.Instrument] = b.ChangeID
			}
			for i, l := range b.Bids {
				if l.Price <= 0 || (rec.Kind == abi.KindBookSnapshot && l.Amount <= 0) || (i > 0 && l.Price >= b.Bids[i-1].Price && rec.Kind == abi.KindBookSnapshot) {
					h.t.Fatalf("bad bid %v in %s", l, f.Params.Data)
				}
			}
		case abi.KindTicker:
			var tk abi.Ticker
			abi.DecodeTicker(rec.Bytes, &tk)
			if tk.BestBidPrice <= 0 || tk.BestAskPrice <= tk.BestBidPrice || tk.Time == 0 {
				h.t.Fatalf("ticker %+v from %s", tk, f.Params.Data)
			}
		case abi.KindOrderUpdate:
			var o abi.OrderUpdate
			abi.DecodeOrderUpdate(rec.Bytes, &o)
			h.orders = append(h.orders, o)
		case abi.KindFill:
			var fl abi.Fill
			abi.DecodeFill(rec.Bytes, &fl)
			h.fills = append(h.fills, fl)
		}
	}
}

func (h *simHarness) order(cid uint64, state abi.OrderState) func() bool {
	return func() bool {
		for _, o := range h.orders {
			if o.CID == cid && o.State == state {
				return true
			}
		}
		return false
	}
}

// TestTranslateSim subscribes to the simulator's channels, trades, and
// feeds every notification and response through the translator.
func TestTranslateSim(t *testing.T) {
	if testing.Short() {
		t.Skip("simulator")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := sim.Start(ctx, sim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := dialSim(t, srv)

	list, err := Instruments(c.ok("public/get_instruments", map[string]any{"currency": "any"}))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := NewTable(list)
	if err != nil {
		t.Fatal(err)
	}
	btc, _ := tab.Index("BTC-PERPETUAL")
	eth, _ := tab.Index("ETH-PERPETUAL")
	h := &simHarness{t: t, c: c, tr: ownedTranslator(tab), seen: map[abi.Kind]int{}, books: map[uint32]uint64{}}

	c.ok("public/auth", map[string]any{"grant_type": "client_credentials", "client_id": sim.TestKeyID, "client_secret": sim.TestKeySecret})
	var subscribed []string
	json.Unmarshal(c.ok("private/subscribe", map[string]any{"channels": []string{
		"book.BTC-PERPETUAL.raw", "book.ETH-PERPETUAL.none.10.100ms", "ticker.BTC-PERPETUAL.100ms",
		"quote.BTC-PERPETUAL", "trades.BTC-PERPETUAL.raw", "trades.future.any.100ms",
		"user.orders.BTC-PERPETUAL.raw", "user.trades.BTC-PERPETUAL.raw",
		"user.orders.future.ETH.100ms", "user.trades.future.ETH.100ms", "user.portfolio.btc",
	}}), &subscribed)
	if len(subscribed) != 11 {
		t.Fatalf("subscribed %v", subscribed)
	}
	h.pump("market data", func() bool {
		return h.seen[abi.KindBookSnapshot] >= 2 && h.seen[abi.KindBookChange] > 0 && h.seen[abi.KindTicker] >= 2
	})

	var tk struct {
		BestBid float64 `json:"best_bid_price"`
		BestAsk float64 `json:"best_ask_price"`
	}
	json.Unmarshal(c.ok("public/ticker", map[string]any{"instrument_name": "BTC-PERPETUAL"}), &tk)
	farBid := math.Floor((tk.BestBid-2000)/0.5) * 0.5

	// A resting order of ours: the response and the notification agree.
	res := c.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 100, "price": farBid,
		"label": testOwner.Label(7, 1001, 0), "post_only": true})
	out, cls, err := h.tr.AppendOrderResult(nil, res, time.Now().UnixNano())
	var o abi.OrderUpdate
	if err != nil || cls.Kind != ClassOrder || cls.Instance != 7 || cls.N != 1 || abi.DecodeOrderUpdate(out, &o) != nil ||
		o.CID != 1001 || o.State != abi.StateOpen || o.Instrument != btc || o.Flags != abi.PostOnly ||
		o.Amount != 100*abi.FixedScale || o.Price.Float64() != farBid || o.ExchangeOrderID.String() == "" {
		t.Fatalf("buy result %v %+v %+v", err, cls, o)
	}
	var placed struct {
		Order struct {
			OrderID string `json:"order_id"`
		} `json:"order"`
	}
	json.Unmarshal(res, &placed)
	h.pump("open order 1001", h.order(1001, abi.StateOpen))

	// A taker order of ours: fills, then the filled order.
	res = c.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 20, "type": "market",
		"label": testOwner.Label(7, 1002, 0)})
	out, cls, err = h.tr.AppendOrderResult(nil, res, time.Now().UnixNano())
	recs := recordsJSON(t, out)
	if err != nil || cls.Kind != ClassOrder || cls.N < 2 || abi.ReadHeader(out).Kind != abi.KindFill {
		t.Fatalf("market buy %v %+v %s", err, cls, recs)
	}
	h.pump("fill and filled 1002", func() bool {
		n := 0
		for _, f := range h.fills {
			if f.CID == 1002 {
				if f.Liquidity != abi.Taker || f.Side != abi.Buy || f.Instrument != btc || f.FeeCurrency.String() != "BTC" || f.Price <= 0 {
					t.Fatalf("fill %+v", f)
				}
				n++
			}
		}
		return n > 0 && h.order(1002, abi.StateFilled)()
	})

	// Cancel: the bare order of private/cancel.
	res = c.ok("private/cancel", map[string]any{"order_id": placed.Order.OrderID})
	out, cls, err = h.tr.AppendOrderResult(nil, res, 0)
	if err != nil || cls.Kind != ClassOrder || abi.DecodeOrderUpdate(out, &o) != nil || o.CID != 1001 ||
		o.State != abi.StateCancelled || o.Reason != abi.ReasonCancelRequested || o.Text.String() != "user_request" {
		t.Fatalf("cancel %v %+v %+v", err, cls, o)
	}
	h.pump("cancelled 1001", h.order(1001, abi.StateCancelled))

	// ETH orders arrive as arrays (100ms); an order by hand is foreign.
	c.ok("private/sell", map[string]any{"instrument_name": "ETH-PERPETUAL", "amount": 5, "type": "market", "label": testOwner.Label(8, 5, 0)})
	c.ok("private/sell", map[string]any{"instrument_name": "ETH-PERPETUAL", "amount": 5, "type": "market", "label": "by hand"})
	h.pump("ETH fill and order", func() bool {
		for _, f := range h.fills {
			if f.CID == 5 && f.Instrument == eth && f.Side == abi.Sell && f.FeeCurrency.String() == "ETH" {
				return h.order(5, abi.StateFilled)() && h.frgn > 0
			}
		}
		return false
	})
	for _, o := range h.orders {
		if o.CID == 0 {
			t.Fatalf("foreign order delivered: %+v", o)
		}
	}

	// Refusals map to abi reasons with the exchange's code.
	f := c.call("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": farBid + 0.25, "label": testOwner.Label(7, 1003, 0)})
	if f.Error == nil || f.Error.Code != CodePriceWrongTick {
		t.Fatalf("wrong tick: %+v", f)
	}
	if r := RejectFromError(f.Error.Code, f.Error.Message); r.Reason != abi.ReasonExchangeError || r.ExchangeCode != CodePriceWrongTick {
		t.Fatalf("%+v", r)
	}
	json.Unmarshal(c.ok("public/ticker", map[string]any{"instrument_name": "BTC-PERPETUAL"}), &tk)
	f = c.call("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": tk.BestAsk + 1000,
		"post_only": true, "reject_post_only": true, "label": testOwner.Label(7, 1004, 0)})
	if f.Error == nil || RejectFromError(f.Error.Code, f.Error.Message).Reason != abi.ReasonPostOnlyReject {
		t.Fatalf("post only: %+v", f)
	}
	f = c.call("private/cancel", map[string]any{"order_id": placed.Order.OrderID})
	if f.Error == nil || RejectFromError(f.Error.Code, f.Error.Message).ExchangeCode == 0 {
		t.Fatalf("cancel again: %+v", f)
	}

	// Positions: we bought 20 USD of BTC-PERPETUAL.
	out, err = h.tr.AppendPositions(nil, c.ok("private/get_positions", map[string]any{"currency": "BTC"}), 1)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for rec := range abi.Records(out) {
		var p abi.Position
		abi.DecodePosition(rec.Bytes, &p)
		if p.Instrument == btc {
			found = p.Size == 20*abi.FixedScale && p.Flags == abi.PositionAccount && p.AvgPrice > 0
		}
	}
	if !found {
		t.Fatalf("positions %s", recordsJSON(t, out))
	}

	// More market data, still without a gap in the raw book.
	n := h.seen[abi.KindBookChange]
	h.pump("more book changes", func() bool { return h.seen[abi.KindBookChange] > n+5 && h.seen[abi.KindTrade] > 0 })
	t.Logf("records by kind: %v", h.seen)
}
