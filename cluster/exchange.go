package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/pool"
)

func toReplyError(err error) *replyError {
	re := &replyError{Message: err.Error(), NotSent: errors.Is(err, conn.ErrNotSent), Refused: errors.Is(err, ErrRefused)}
	var rpc *conn.RPCError
	if errors.As(err, &rpc) {
		re.Code, re.Message = rpc.Code, rpc.Message
		if len(rpc.Data) > 0 && json.Valid(rpc.Data) {
			re.Data = rpc.Data
		}
	}
	return re
}

// ErrRemote wraps an error a remote node reported that is not the
// exchange's (the exchange's come back as *conn.RPCError).
var ErrRemote = errors.New("cluster: remote node")

func (r *replyError) err(node string) error {
	switch {
	case r.Code != 0:
		return &conn.RPCError{Code: r.Code, Message: r.Message, Data: r.Data}
	case r.Refused:
		return fmt.Errorf("%w %s: %s: %w: %w", ErrRemote, node, r.Message, ErrRefused, conn.ErrNotSent)
	case r.NotSent:
		return fmt.Errorf("%w %s: %s: %w", ErrRemote, node, r.Message, conn.ErrNotSent)
	}
	return fmt.Errorf("%w %s: %s", ErrRemote, node, r.Message)
}

// remote executes a request on node's connection id of pool ("" for any):
// directly when node is this one, else over NATS request/reply. An
// unreachable node (no responder) wraps conn.ErrNotSent; a timeout leaves
// the outcome unknown and does not.
func (n *Node) remote(ctx context.Context, node, pool, id, method string, params []byte, fence uint64) (json.RawMessage, error) {
	if node == n.cfg.Name {
		// Not the engine's own order (it uses its pool): the controller's
		// re-establishment from registry records, or a cluster-wide call.
		if err := n.admit(ctx, pool, id, method, params); err != nil {
			return nil, fmt.Errorf("cluster: node %s: %w: %w", node, err, conn.ErrNotSent)
		}
		return n.placer.Place(ctx, pool, id, method, params)
	}
	if len(params) > 0 && !json.Valid(params) {
		return nil, fmt.Errorf("cluster: %s: params are not JSON: %w", method, conn.ErrNotSent)
	}
	if n.nc == nil {
		return nil, fmt.Errorf("cluster: node %s is not started (Start): %w", n.cfg.Name, conn.ErrNotSent)
	}
	b, _ := json.Marshal(orderRequest{Method: method, Params: params, Conn: id, Fence: fence, Owned: owned(ctx)})
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.RequestTimeout)
		defer cancel()
	}
	c := n.flight(node)
	c.Add(1)
	defer c.Add(-1)
	n.stats.remoteSent.Add(1)
	m, err := n.nc.RequestWithContext(ctx, n.subject("orders", pool, node), b)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, fmt.Errorf("cluster: node %s does not answer: %w", node, conn.ErrNotSent)
		}
		return nil, fmt.Errorf("cluster: %s on node %s: %w", method, node, err)
	}
	var r orderReply
	if err := json.Unmarshal(m.Data, &r); err != nil || (r.Error == nil && r.Result == nil) {
		n.malformed("order reply", node, err)
		return nil, fmt.Errorf("%w %s: malformed reply to %s", ErrRemote, node, method)
	}
	if r.Error != nil {
		return nil, r.Error.err(node)
	}
	return r.Result, nil
}

func (n *Node) flight(node string) *atomic.Int64 {
	c, _ := n.inFlight.LoadOrStore(node, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// Exchange spreads the requests of one pool over the nodes that hold
// healthy connections of it: host.Exchange's CallRaw, over the cluster.
type Exchange struct {
	n      *Node
	pool   string
	policy pool.Policy
}

// Exchange returns pool's cluster-wide exchange; policy (pool.RoundRobin
// or pool.LeastLoaded, the default) chooses the node of each request.
func (n *Node) Exchange(poolName string, policy pool.Policy) *Exchange {
	if policy == "" {
		policy = pool.LeastLoaded
	}
	return &Exchange{n: n, pool: poolName, policy: policy}
}

type target struct {
	node    string
	healthy int
	load    float64
}

// targets are the nodes alive with at least one healthy connection of the
// pool, by name.
func (x *Exchange) targets() []target {
	n := x.n
	now := n.clk.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	by := map[string]*target{}
	carried := map[string]int64{}
	for _, e := range n.conns {
		r := e.rec
		if r.Pool != x.pool || e.expired || e.replaced || !r.Healthy || !n.aliveLocked(r.Node, r.Incarnation, now) {
			continue
		}
		t := by[r.Node]
		if t == nil {
			t = &target{node: r.Node}
			by[r.Node] = t
		}
		t.healthy++
		carried[r.Node] += r.Carried
	}
	out := make([]target, 0, len(by))
	for _, t := range by {
		t.load = float64(carried[t.node]+n.flight(t.node).Load()) / float64(t.healthy)
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b target) int {
		if a.node < b.node {
			return -1
		}
		return 1
	})
	return out
}

// order returns the targets in the order to try them.
func (x *Exchange) order(ts []target) []target {
	if len(ts) == 0 {
		return ts
	}
	if x.policy == pool.RoundRobin {
		// Each healthy connection is one share: a node with two gets two
		// turns of the round.
		var slots []int
		for i, t := range ts {
			for range t.healthy {
				slots = append(slots, i)
			}
		}
		first := slots[int(x.n.rr.Add(1)-1)%len(slots)]
		return append(slices.Clone(ts[first:]), ts[:first]...)
	}
	out := slices.Clone(ts)
	slices.SortStableFunc(out, func(a, b target) int {
		switch {
		case a.load < b.load:
			return -1
		case a.load > b.load:
			return 1
		}
		return 0
	})
	return out
}

// CallRaw sends a request to a node holding a healthy connection of the
// pool, chosen by the policy; when a node could not take it (not sent), to
// the next. The result is the exchange's, raw.
func (x *Exchange) CallRaw(ctx context.Context, method string, params []byte) (json.RawMessage, error) {
	ts := x.order(x.targets())
	var last error = fmt.Errorf("cluster: pool %s: %w", x.pool, pool.ErrNoHealthy)
	for _, t := range ts {
		raw, err := x.n.remote(ctx, t.node, x.pool, "", method, params, 0)
		if err == nil || !errors.Is(err, conn.ErrNotSent) {
			return raw, err
		}
		last = err
	}
	return nil, last
}

// CallOn sends a request to a given node (its pool's policy picks the
// connection): the benchmarks' and tests' way to compare local and remote.
func (x *Exchange) CallOn(ctx context.Context, node, method string, params []byte) (json.RawMessage, error) {
	return x.n.remote(ctx, node, x.pool, "", method, params, 0)
}
