package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/sim"
)

// runDemo is `make run` until `host run` exists: the simulator in-process and
// a client on conn that quotes around the mid, with a real heartbeat, real
// orders and real fills. It is replaced by a wasm strategy when the ABI lands.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("host demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dur := fs.Duration("duration", 20*time.Second, "how long to trade")
	seed := fs.Int64("seed", 1, "synthetic market seed")
	hb := fs.Duration("heartbeat", time.Second, "heartbeat interval asked of the simulator (its minimum is lowered for the demo)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: host demo takes no arguments", errUsage)
	}
	// The simulator and the connection outlive the trading period, so that
	// the demo can wind down (cancel its quotes, read its position) after it.
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	srv, err := sim.Start(life, sim.Config{Seed: *seed, MinHeartbeat: *hb, AlwaysTestRequest: true})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "simulator: %s (seed %d)\n", srv.URL(), *seed)

	cfg := conn.DefaultConfig()
	cfg.URL = srv.URL()
	cfg.Credentials = conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret, Method: conn.AuthSignature}
	cfg.HeartbeatInterval = *hb
	c, err := conn.Dial(life, cfg)
	if err != nil {
		return fmt.Errorf("demo: connect: %w", err)
	}
	defer c.Close()
	const inst = "BTC-PERPETUAL"
	if _, err := c.Subscribe(ctx, "ticker."+inst+".100ms", "user.orders."+inst+".raw", "user.trades."+inst+".raw"); err != nil {
		return fmt.Errorf("demo: subscribe: %w", err)
	}
	fmt.Fprintf(stdout, "connected, authenticated (client_signature), heartbeat every %v, cancel-on-disconnect on; quoting %s for %v\n",
		*hb, inst, *dur)

	ctx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()
	mm := &marketMaker{c: c, inst: inst, tick: 0.5, size: 100, halfSpread: 5, skewPerUnit: 0.02}
	status := time.NewTicker(time.Second)
	defer status.Stop()
	start := time.Now()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-c.Done():
			return errors.New("demo: connection closed")
		case n := <-c.Notifications():
			mm.handle(ctx, n)
		case <-status.C:
			h := c.Heartbeat()
			fmt.Fprintf(stdout, "%5.1fs  mid %.1f  position %+.0f  orders placed %d amended %d fills %d  heartbeat frames %d, test_requests answered %d\n",
				time.Since(start).Seconds(), mm.mid, mm.position, mm.placed, mm.amended, mm.fills, h.Heartbeats, h.Answered)
		}
	}

	// Wind down on a fresh context: the trading one has ended.
	end, cancelEnd := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelEnd()
	var cancelled int
	if err := c.Call(end, "private/cancel_all", map[string]any{}, &cancelled); err != nil {
		return fmt.Errorf("demo: cancel_all: %w", err)
	}
	var pos sim.Position
	if err := c.Call(end, "private/get_position", map[string]any{"instrument_name": inst}, &pos); err != nil {
		return fmt.Errorf("demo: get_position: %w", err)
	}
	st := c.Stats()
	h := st.Heartbeat
	fmt.Fprintf(stdout, "\nsummary after %v\n", time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(stdout, "  events           %d notifications (%d dropped by the sink)\n", st.Notifications, st.SinkDropped)
	fmt.Fprintf(stdout, "  orders           placed %d, amended %d, filled %d fills, rejected %d, cancelled at end %d\n",
		mm.placed, mm.amended, mm.fills, mm.rejected, cancelled)
	fmt.Fprintf(stdout, "  position         %s %.0f USD at %.2f, PnL %.8f BTC (floating %.8f, realised %.8f)\n",
		pos.Direction, math.Abs(pos.Size), pos.AveragePrice, pos.TotalProfitLoss, pos.FloatingProfitLoss, pos.RealizedProfitLoss)
	fmt.Fprintf(stdout, "  heartbeats       %d heartbeat frames, %d test_requests answered, %d missed; answer latency p50 %v p99 %v max %v\n",
		h.Heartbeats, h.Answered, h.Missed, h.AnswerLatency.P50, h.AnswerLatency.P99, h.AnswerLatency.Max)
	fmt.Fprintf(stdout, "  connection       %v, %d reconnects, %d malformed frames skipped\n", st.State, st.Reconnects, st.Malformed)
	return nil
}

// marketMaker quotes one bid and one ask around the mid, skewed against its
// inventory, amending its quotes when the mid moves.
type marketMaker struct {
	c                *conn.Conn
	inst             string
	tick, size       float64
	halfSpread       float64 // ticks
	skewPerUnit      float64 // ticks per USD of inventory
	mid, position    float64
	bid, ask         string // order ids of the live quotes
	bidPx, askPx     float64
	placed, amended  int
	fills, rejected  int
	lastQuote        time.Time
	tickerMsg        sim.Ticker
	orderMsg         sim.Order
	tradesMsg        []sim.Trade
	lastPlaceFailure error
}

func (m *marketMaker) handle(ctx context.Context, n conn.Notification) {
	switch string(n.Channel) {
	case "ticker." + m.inst + ".100ms":
		if json.Unmarshal(n.Data, &m.tickerMsg) != nil || m.tickerMsg.BestBidPrice == 0 || m.tickerMsg.BestAskPrice == 0 {
			return
		}
		m.mid = (m.tickerMsg.BestBidPrice + m.tickerMsg.BestAskPrice) / 2
		if n.Received.Sub(m.lastQuote) >= 250*time.Millisecond {
			m.lastQuote = n.Received
			m.requote(ctx)
		}
	case "user.orders." + m.inst + ".raw":
		if json.Unmarshal(n.Data, &m.orderMsg) != nil {
			return
		}
		if m.orderMsg.OrderState != "open" {
			switch m.orderMsg.OrderID {
			case m.bid:
				m.bid = ""
			case m.ask:
				m.ask = ""
			}
		}
	case "user.trades." + m.inst + ".raw":
		if json.Unmarshal(n.Data, &m.tradesMsg) != nil {
			return
		}
		for _, t := range m.tradesMsg {
			m.fills++
			if t.Direction == "buy" {
				m.position += t.Amount
			} else {
				m.position -= t.Amount
			}
		}
	}
}

func (m *marketMaker) requote(ctx context.Context) {
	skew := m.position * m.skewPerUnit * m.tick
	bid := math.Floor((m.mid-m.halfSpread*m.tick-skew)/m.tick) * m.tick
	ask := math.Ceil((m.mid+m.halfSpread*m.tick-skew)/m.tick) * m.tick
	m.bid, m.bidPx = m.quote(ctx, "private/buy", m.bid, m.bidPx, bid)
	m.ask, m.askPx = m.quote(ctx, "private/sell", m.ask, m.askPx, ask)
}

// quote places a post-only order, or amends the live one when its price
// should move; it returns the live order's id and price.
func (m *marketMaker) quote(ctx context.Context, method, id string, have, want float64) (string, float64) {
	var r struct {
		Order sim.Order `json:"order"`
	}
	if id != "" {
		if have == want {
			return id, have
		}
		err := m.c.Call(ctx, "private/edit", map[string]any{"order_id": id, "amount": m.size, "price": want, "post_only": true}, &r)
		if err == nil {
			m.amended++
			return r.Order.OrderID, r.Order.Price
		}
		// The quote filled or was cancelled in the meantime: place a new one.
	}
	err := m.c.Call(ctx, method, map[string]any{"instrument_name": m.inst, "amount": m.size, "price": want,
		"post_only": true, "label": "demo-mm"}, &r)
	if err != nil {
		var rpc *conn.RPCError
		if errors.As(err, &rpc) {
			m.rejected++
		}
		m.lastPlaceFailure = err
		return "", 0
	}
	m.placed++
	if r.Order.OrderState != "open" {
		return "", 0
	}
	return r.Order.OrderID, r.Order.Price
}
