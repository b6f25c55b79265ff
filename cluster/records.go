package cluster

import (
	"context"
	"encoding/json"
	"time"

	"strconv"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/pool"
)

// Holder is what the cluster needs of a node's exchange connections. The
// credentials stay in the holder: nothing the cluster sends names a key.
type Holder interface {
	// Pools reports the node's pools: each connection's health and the
	// open orders it carries. Called from the registry's publisher, never
	// on a heartbeat or order path.
	Pools() []PoolView
	// Open opens one more connection of pool on this node (a replacement
	// chosen by the controller: dial, authenticate, heartbeat,
	// cancel-on-disconnect) and returns its id once it is ready.
	Open(ctx context.Context, pool string) (string, error)
	// Retire closes connection id of pool for good: it was replaced on
	// another node, and must not come back as an extra.
	Retire(pool, id string) error
}

// Placer executes a request on one of the node's connections of pool: on
// connection id, or, when id is "", on one chosen by the pool's policy
// (pool.CallRaw). An exchange error is returned as a *conn.RPCError, a
// request that was never written wraps conn.ErrNotSent.
type Placer interface {
	Place(ctx context.Context, pool, id, method string, params []byte) (json.RawMessage, error)
}

// PoolView is one pool of a node.
type PoolView struct {
	Name  string
	Conns []ConnView
}

// ConnView is one connection of a node's pool.
type ConnView struct {
	ID      string
	State   string // conn.State's name
	Healthy bool
	// RTT is the heartbeat's answer latency (test_request read → public/test
	// written), the mean.
	RTT     time.Duration
	Carried int64   // orders the node says it carries
	Orders  []Order // those the node can describe (for re-establishment)
}

// ConnViews turns a pool's health snapshot into connection views named
// prefix+member; orders[member] are the orders each member carries.
func ConnViews(prefix string, s pool.Stats, orders map[int][]Order) []ConnView {
	out := make([]ConnView, 0, len(s.Members))
	for _, m := range s.Members {
		out = append(out, ConnView{ID: prefix + strconv.Itoa(m.ID), State: m.State.String(), Healthy: m.State == conn.StateReady,
			RTT: m.Heartbeat.AnswerLatency.Mean, Carried: max(m.Carried, int64(len(orders[m.ID]))), Orders: orders[m.ID]})
	}
	return out
}

// Order is an open order as the registry carries it: enough to verify it
// and, when cancel-on-disconnect took it with its node, to place its rest
// again under the same label.
type Order struct {
	Label       string  `json:"label"`
	OrderID     string  `json:"order_id"`
	Instrument  string  `json:"instrument_name"`
	Direction   string  `json:"direction"` // buy, sell
	Type        string  `json:"order_type,omitempty"`
	Price       float64 `json:"price,omitempty"`
	Amount      float64 `json:"amount"`
	Filled      float64 `json:"filled_amount,omitempty"`
	TimeInForce string  `json:"time_in_force,omitempty"`
	PostOnly    bool    `json:"post_only,omitempty"`
	ReduceOnly  bool    `json:"reduce_only,omitempty"`
}

// Fitness is how well a node can take one more connection.
type Fitness struct {
	CPU float64 `json:"cpu"` // process CPU use over the last interval, 0..1 of the machine
	// Mem is the fraction of the node's memory budget in use (Go heap
	// over GOMEMLIMIT, or over the machine's memory), 0..1.
	Mem float64 `json:"mem"`
	// Latency is the node's measured latency to the exchange (the mean
	// heartbeat answer time of its healthy connections when nothing
	// better is known).
	Latency     time.Duration `json:"latency_ns"`
	ActiveConns int           `json:"active_conns"`
}

// Score ranks fitness: lower is fitter. Weights: a full CPU is worth 4
// connections, a full memory budget 8, each millisecond of latency 1.
func (f Fitness) Score() float64 {
	return 4*f.CPU + 8*f.Mem + float64(f.Latency)/float64(time.Millisecond) + float64(f.ActiveConns)
}

// NodeRecord is a node's registry entry (key node.<name>).
type NodeRecord struct {
	Name        string    `json:"name"`
	Region      string    `json:"region"`
	Incarnation string    `json:"inc"`
	Fitness     Fitness   `json:"fitness"`
	At          time.Time `json:"at"`
}

// ConnRecord is a connection's registry entry (key conn.<pool>.<node>.<id>).
type ConnRecord struct {
	Pool        string        `json:"pool"`
	Node        string        `json:"node"`
	ID          string        `json:"id"`
	Incarnation string        `json:"inc"`
	Region      string        `json:"region"`
	State       string        `json:"state"`
	Healthy     bool          `json:"healthy"`
	RTT         time.Duration `json:"rtt_ns"`
	Carried     int64         `json:"carried"`
	Orders      []Order       `json:"orders,omitempty"`
	// Since is when the connection last changed between healthy and not.
	Since time.Time `json:"since"`
	At    time.Time `json:"at"`
}

// beat is a liveness message (subject stratbox.<c>.hb.<node>).
type beat struct {
	Node        string  `json:"node"`
	Incarnation string  `json:"inc"`
	Region      string  `json:"region"`
	Seq         uint64  `json:"seq"`
	Fitness     Fitness `json:"fitness"`
}

// ctlRequest is a controller's command (subject stratbox.<c>.ctl.<node>).
type ctlRequest struct {
	Op    string `json:"op"` // open, retire
	Fence uint64 `json:"fence"`
	Pool  string `json:"pool"`
	Conn  string `json:"conn,omitempty"`
}

type ctlReply struct {
	Conn  string `json:"conn,omitempty"`
	Error string `json:"error,omitempty"`
}

// orderRequest is a request for a node's connection (subject
// stratbox.<c>.orders.<pool>.<node>).
type orderRequest struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
	Conn   string          `json:"conn,omitempty"`
	Fence  uint64          `json:"fence,omitempty"`
	// Owned: the requesting node's order manager owns the order and
	// re-establishes it itself after a loss, so the serving node does not
	// record it for the controller's recovery (never twice).
	Owned bool `json:"owned,omitempty"`
}

type orderReply struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *replyError     `json:"error,omitempty"`
}

type replyError struct {
	Code    int             `json:"code,omitempty"` // the exchange's, when it answered with an error
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
	NotSent bool            `json:"not_sent,omitempty"` // nothing reached the exchange: safe to retry elsewhere
	Refused bool            `json:"refused,omitempty"`  // the serving node refused it (allow-list, guard)
}
