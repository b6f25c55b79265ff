package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/stratbox/stratbox/conn"
)

type ownedKey struct{}

// Owned marks ctx's requests as placing orders that the requesting node's
// order manager owns: it re-establishes them itself after a loss, so the
// node that serves them does not record them for the controller's recovery
// (an order must never be re-established twice).
func Owned(ctx context.Context) context.Context { return context.WithValue(ctx, ownedKey{}, true) }

func owned(ctx context.Context) bool { v, _ := ctx.Value(ownedKey{}).(bool); return v }

// Remote is the other nodes of the cluster that hold healthy connections
// of a pool, as a fixed number of slots an order manager can use as extra
// pool members: a slot is bound to a node the first time the node is seen
// and stays bound to it (a node that comes back gets its slot back), so
// that the orders a slot carries always belong to one node. A slot is
// healthy while its node is alive and holds a healthy connection of the
// pool; the order manager is told of every change (onChange), and of a
// loss in particular, which is when its orders on that node's connections
// are verified and re-placed by their owner. Requests are Owned.
type Remote struct {
	n        *Node
	pool     string
	onChange func(slot int, healthy bool)

	mu      sync.Mutex
	nodes   []string // slot → node ("" free)
	healthy []bool
	stop    chan struct{}
	done    chan struct{}
}

// Remote returns slots other nodes of pool can fill (at most max), and
// starts following the registry; Close stops it. onChange (may be nil) is
// called from the Remote's goroutine.
func (n *Node) Remote(pool string, max int, onChange func(slot int, healthy bool)) *Remote {
	r := &Remote{n: n, pool: pool, onChange: onChange, nodes: make([]string, max), healthy: make([]bool, max),
		stop: make(chan struct{}), done: make(chan struct{})}
	r.refresh()
	go r.follow()
	return r
}

// Members is the number of slots.
func (r *Remote) Members() int { return len(r.nodes) }

// Node returns the node bound to slot ("" none yet).
func (r *Remote) Node(slot int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if slot < 0 || slot >= len(r.nodes) {
		return ""
	}
	return r.nodes[slot]
}

// Healthy reports whether slot's node can take a request now.
func (r *Remote) Healthy(slot int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slot >= 0 && slot < len(r.healthy) && r.healthy[slot]
}

// CallOn sends a request to slot's node (its pool's policy picks the
// connection), as an Owned request. A slot without a healthy node fails
// with conn.ErrNotSent.
func (r *Remote) CallOn(ctx context.Context, slot int, method string, params []byte) (json.RawMessage, error) {
	r.mu.Lock()
	node, ok := "", slot >= 0 && slot < len(r.nodes) && r.healthy[slot]
	if ok {
		node = r.nodes[slot]
	}
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("cluster: remote slot %d: no healthy node: %w", slot, conn.ErrNotSent)
	}
	return r.n.remote(Owned(ctx), node, r.pool, "", method, params, 0)
}

// Close stops following the registry.
func (r *Remote) Close() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}

func (r *Remote) follow() {
	defer close(r.done)
	for {
		select {
		case <-r.stop:
			return
		case <-r.n.Updated():
			r.refresh()
		}
	}
}

// refresh binds new nodes to free slots and reports changes of health.
func (r *Remote) refresh() {
	up := map[string]bool{}
	for _, t := range r.n.Exchange(r.pool, "").targets() {
		if t.node != r.n.cfg.Name {
			up[t.node] = true
		}
	}
	var changed []int
	r.mu.Lock()
	for _, node := range sortedKeys(up) {
		if slices.Contains(r.nodes, node) {
			continue
		}
		if free := slices.Index(r.nodes, ""); free >= 0 {
			r.nodes[free] = node
		}
	}
	for i, node := range r.nodes {
		h := node != "" && up[node]
		if h != r.healthy[i] {
			r.healthy[i] = h
			changed = append(changed, i)
		}
	}
	healthy := slices.Clone(r.healthy)
	r.mu.Unlock()
	if r.onChange != nil {
		for _, i := range changed {
			r.onChange(i, healthy[i])
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
