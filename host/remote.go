package host

import (
	"context"
	"encoding/json"
	"sync/atomic"

	"github.com/stratbox/stratbox/pool"
)

// RemoteMembers are connections that other hosts of a cluster hold to the
// same account, offered to this engine as extra pool members (slots): its
// orders may be placed on them, by the pool's policy, and it recovers them
// itself when a slot is lost (a cluster.Remote is one). Queries stay on the
// local pool; notifications of every order reach the local connections,
// because Deribit's private channels are per account.
type RemoteMembers interface {
	Members() int
	Healthy(slot int) bool
	CallOn(ctx context.Context, slot int, method string, params []byte) (json.RawMessage, error)
}

// UseRemote adds r's slots to the pool the engine runs on: member ids
// pool.Size() … pool.Size()+r.Members()-1, picked by the pool's policy as
// its own members are. Tell the engine of a slot's loss with PoolEvent
// (Member: RemoteMember(slot)). Without a pool it has no effect. Call it
// before Run: the engine is made before the cluster is joined (it is the
// pool's sink, and the cluster node needs the pool), so this is a method,
// not an option of New (RATIONALE.md, "Why does the engine take remote
// members by UseRemote, not an option?").
func (e *Engine) UseRemote(r RemoteMembers) { e.remote = r }

// RemoteMember is the member id of remote slot (for PoolEvent), once Run
// has started on a pool of size local members.
func RemoteMember(local, slot int) int { return local + slot }

// spread is the engine's pool with remote slots after the local members,
// all picked by the local pool's policy: round_robin takes the healthy
// members in turn, local and remote alike; otherwise the least loaded
// healthy member (by the orders this engine placed on each and has not seen
// end) carries a new order.
type spread struct {
	local      spreader
	remote     RemoteMembers
	n          int
	load       []atomic.Int64
	roundRobin bool
	next       atomic.Uint64 // round robin
}

func newSpread(local spreader, remote RemoteMembers) *spread {
	size := local.Size() + remote.Members()
	s := &spread{local: local, remote: remote, n: local.Size(), load: make([]atomic.Int64, size)}
	if p, ok := local.(interface{ Policy() pool.Policy }); ok {
		s.roundRobin = p.Policy() == pool.RoundRobin
	}
	return s
}

func (s *spread) CallRaw(ctx context.Context, method string, params []byte) (json.RawMessage, error) {
	return s.local.CallRaw(ctx, method, params)
}

func (s *spread) Subscribe(ctx context.Context, channels ...string) ([]string, error) {
	return s.local.Subscribe(ctx, channels...)
}

func (s *spread) Size() int { return len(s.load) }

func (s *spread) Healthy(m int) bool {
	if m < s.n {
		return s.local.Healthy(m)
	}
	return m < len(s.load) && s.remote.Healthy(m-s.n)
}

func (s *spread) PickExcept(except uint64) (int, error) {
	ok := func(m int) bool { return except&(1<<uint(m)) == 0 && s.Healthy(m) }
	if s.roundRobin {
		n := uint64(len(s.load))
		start := s.next.Add(1) - 1
		for i := range n {
			if m := int((start + i) % n); ok(m) {
				return m, nil
			}
		}
		return -1, pool.ErrNoHealthy
	}
	best, load := -1, int64(0)
	for m := range s.load {
		if !ok(m) {
			continue
		}
		if l := s.load[m].Load(); best < 0 || l < load {
			best, load = m, l
		}
	}
	if best < 0 {
		return -1, pool.ErrNoHealthy
	}
	return best, nil
}

func (s *spread) CallOn(ctx context.Context, m int, method string, params []byte) (json.RawMessage, error) {
	if m < s.n {
		return s.local.CallOn(ctx, m, method, params)
	}
	return s.remote.CallOn(ctx, m-s.n, method, params)
}

func (s *spread) Carry(m, delta int) {
	if m < 0 || m >= len(s.load) {
		return
	}
	s.load[m].Add(int64(delta))
	if m < s.n {
		s.local.Carry(m, delta)
	}
}

// SplitRule is the local pool's (its legs may land on remote members too).
func (s *spread) SplitRule() (float64, int) {
	if r, ok := s.local.(interface{ SplitRule() (float64, int) }); ok {
		return r.SplitRule()
	}
	return 0, 0
}
