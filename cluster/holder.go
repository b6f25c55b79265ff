package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/venue/deribit"
)

// PoolHolder is a Holder and a Placer over pool.Pools: each named pool is
// the node's main *pool.Pool (members m0, m1, …) and the replacements the
// controller asked this node to open (r0, r1, …, each a one-connection
// pool made by the pool's Opener with this node's own credentials). It
// remembers the orders placed through Place (private/buy and private/sell)
// on the connection that carried them, and forgets those cancelled through
// it or found closed, so that the registry can describe them.
type PoolHolder struct {
	mu    sync.Mutex
	pools map[string]*heldPool
}

// Opener opens one more connection of a pool (a one-member pool.Pool,
// started and ready). ctx bounds the opening only: the connection must
// outlive it (pool.Start's context bounds the pool's life, so do not pass
// ctx to it).
type Opener func(ctx context.Context) (*pool.Pool, error)

type heldPool struct {
	main    *pool.Pool
	open    Opener
	extra   []*pool.Pool // index k is connection r<k>; nil once retired
	retired map[string]bool
	orders  map[string]map[string]Order // connection → order id → order
}

// NewPoolHolder returns an empty holder.
func NewPoolHolder() *PoolHolder { return &PoolHolder{pools: map[string]*heldPool{}} }

// Add holds pool name: main is the node's own pool (may be nil: the node
// holds only replacements), open makes replacements (nil: this node opens
// none).
func (h *PoolHolder) Add(name string, main *pool.Pool, open Opener) error {
	if !ValidName(name) {
		return fmt.Errorf("%w: pool name %q", ErrConfig, name)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.pools[name]; ok {
		return fmt.Errorf("%w: pool %q held twice", ErrConfig, name)
	}
	h.pools[name] = &heldPool{main: main, open: open, retired: map[string]bool{}, orders: map[string]map[string]Order{}}
	return nil
}

// Close closes the replacements (the main pools are their owners').
func (h *PoolHolder) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, hp := range h.pools {
		for k, p := range hp.extra {
			if p != nil {
				p.Close()
				hp.extra[k] = nil
			}
		}
	}
}

// Pools implements Holder.
func (h *PoolHolder) Pools() []PoolView {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []PoolView
	for name, hp := range h.pools {
		pv := PoolView{Name: name}
		if hp.main != nil {
			orders := map[int][]Order{}
			for i := range hp.main.Size() {
				orders[i] = hp.ordersOf("m" + strconv.Itoa(i))
			}
			for _, cv := range ConnViews("m", hp.main.Stats(), orders) {
				if !hp.retired[cv.ID] {
					pv.Conns = append(pv.Conns, cv)
				}
			}
		}
		for k, p := range hp.extra {
			if p == nil {
				continue
			}
			id := "r" + strconv.Itoa(k)
			for _, cv := range ConnViews(id, p.Stats(), map[int][]Order{0: hp.ordersOf(id)}) {
				cv.ID = id
				pv.Conns = append(pv.Conns, cv)
			}
		}
		out = append(out, pv)
	}
	slices.SortFunc(out, func(a, b PoolView) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (hp *heldPool) ordersOf(id string) []Order {
	var out []Order
	for _, o := range hp.orders[id] {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b Order) int { return strings.Compare(a.OrderID, b.OrderID) })
	return out
}

// Open implements Holder.
func (h *PoolHolder) Open(ctx context.Context, name string) (string, error) {
	h.mu.Lock()
	hp := h.pools[name]
	h.mu.Unlock()
	if hp == nil {
		return "", fmt.Errorf("cluster: this node holds no pool %q", name)
	}
	if hp.open == nil {
		return "", fmt.Errorf("cluster: this node opens no connection of pool %q", name)
	}
	p, err := hp.open(ctx)
	if err != nil {
		return "", fmt.Errorf("cluster: open a connection of pool %q: %w", name, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	hp.extra = append(hp.extra, p)
	return "r" + strconv.Itoa(len(hp.extra)-1), nil
}

// Retire implements Holder: a replacement is closed; a main member's
// connection is closed (it stays in its pool, down for good).
func (h *PoolHolder) Retire(name, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	hp := h.pools[name]
	if hp == nil {
		return fmt.Errorf("cluster: this node holds no pool %q", name)
	}
	p, member, err := hp.resolve(id)
	if err != nil {
		return err
	}
	if strings.HasPrefix(id, "r") {
		k, _ := strconv.Atoi(id[1:])
		hp.extra[k] = nil
		p.Close()
	} else {
		p.Conn(member).Close()
	}
	hp.retired[id] = true
	delete(hp.orders, id)
	return nil
}

// resolve finds connection id: its pool and member.
func (hp *heldPool) resolve(id string) (*pool.Pool, int, error) {
	if len(id) < 2 || hp.retired[id] {
		return nil, 0, fmt.Errorf("cluster: no connection %q: %w", id, conn.ErrNotSent)
	}
	k, err := strconv.Atoi(id[1:])
	if err != nil || k < 0 {
		return nil, 0, fmt.Errorf("cluster: no connection %q: %w", id, conn.ErrNotSent)
	}
	switch id[0] {
	case 'm':
		if hp.main != nil && k < hp.main.Size() {
			return hp.main, k, nil
		}
	case 'r':
		if k < len(hp.extra) && hp.extra[k] != nil {
			return hp.extra[k], 0, nil
		}
	}
	return nil, 0, fmt.Errorf("cluster: no connection %q: %w", id, conn.ErrNotSent)
}

// Place implements Placer: on connection id, or, for id "", an order on the
// least loaded healthy connection (main members by the pool's policy, then
// the replacements) and any other request by pool.CallRaw.
func (h *PoolHolder) Place(ctx context.Context, name, id, method string, params []byte) (json.RawMessage, error) {
	h.mu.Lock()
	hp := h.pools[name]
	h.mu.Unlock()
	if hp == nil {
		return nil, fmt.Errorf("cluster: this node holds no pool %q: %w", name, conn.ErrNotSent)
	}
	if id != "" {
		h.mu.Lock()
		p, member, err := hp.resolve(id)
		h.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return h.track(hp, id, p, member, ctx, method, params)
	}
	order := deribit.Op(method) == deribit.OpPlace
	if hp.main != nil {
		if !order {
			raw, err := hp.main.CallRaw(ctx, method, params)
			if err == nil || !errors.Is(err, conn.ErrNotSent) {
				return raw, err
			}
		} else {
			var except uint64
			for range hp.main.Size() {
				m, err := hp.main.PickExcept(except)
				if err != nil {
					break
				}
				raw, err := h.track(hp, "m"+strconv.Itoa(m), hp.main, m, ctx, method, params)
				if err == nil || !errors.Is(err, conn.ErrNotSent) {
					return raw, err
				}
				except |= 1 << uint(m)
			}
		}
	}
	h.mu.Lock()
	extra := slices.Clone(hp.extra)
	h.mu.Unlock()
	for k, p := range extra {
		if p == nil || !p.Healthy(0) {
			continue
		}
		raw, err := h.track(hp, "r"+strconv.Itoa(k), p, 0, ctx, method, params)
		if err == nil || !errors.Is(err, conn.ErrNotSent) {
			return raw, err
		}
	}
	return nil, fmt.Errorf("cluster: pool %s on this node: %w: %w", name, pool.ErrNoHealthy, conn.ErrNotSent)
}

// track sends the request on member of p (connection id) and remembers
// what it does to the orders that connection carries.
func (h *PoolHolder) track(hp *heldPool, id string, p *pool.Pool, member int, ctx context.Context, method string, params []byte) (json.RawMessage, error) {
	raw, err := p.CallOn(ctx, member, method, params)
	if err != nil || owned(ctx) {
		return raw, err // an owned order is its owner's to recover, not the controller's
	}
	switch deribit.Op(method) {
	case deribit.OpPlace:
		var r struct {
			Order struct {
				Order
				State string `json:"order_state"`
			} `json:"order"`
		}
		if json.Unmarshal(raw, &r) == nil && r.Order.State == "open" && r.Order.OrderID != "" {
			h.mu.Lock()
			if hp.orders[id] == nil {
				hp.orders[id] = map[string]Order{}
			}
			hp.orders[id][r.Order.OrderID] = r.Order.Order
			h.mu.Unlock()
			p.Carry(member, 1)
		}
	case deribit.OpCancel:
		var r struct {
			OrderID string `json:"order_id"`
		}
		if json.Unmarshal(raw, &r) == nil {
			h.Forget(r.OrderID)
		}
	case deribit.OpCancelAll:
		h.mu.Lock()
		for _, q := range h.pools {
			q.orders = map[string]map[string]Order{}
		}
		h.mu.Unlock()
	}
	return raw, nil
}

// Forget drops an order the node no longer carries (filled or cancelled,
// as its notifications say).
func (h *PoolHolder) Forget(orderID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, hp := range h.pools {
		for id, os := range hp.orders {
			if _, ok := os[orderID]; ok {
				delete(os, orderID)
				if p, member, err := hp.resolve(id); err == nil {
					p.Carry(member, -1)
				}
			}
		}
	}
}
