package host

import (
	"cmp"
	"encoding/binary"
	"slices"
	"time"

	"github.com/stratbox/stratbox/abi"
)

// Adopted orders: a new instance of a plugin takes over the orders its
// predecessor left open (a hot swap, Engine.Swap; a restart with
// Config.KeepOrders). The orders keep their keys and labels — the exchange
// knows them by those — and gain an heir, the instance that now owns
// them: their updates and fills go to it, and it amends and cancels them
// by their cids (a plugin's cids never repeat across its instances: each
// starts above the largest its predecessors used).

// owner is the instance o's events go to and whose intents may change it.
func (o *order) owner() uint32 {
	if o.heir != 0 {
		return o.heir
	}
	return o.key.instance
}

// keyOf returns the key of the live instance's order cid: an adopted
// order's, or one of its own. Called with e.mu held.
func (pl *plugin) keyOf(cid uint64) orderKey {
	if k, ok := pl.adopted[cid]; ok {
		return k
	}
	return orderKey{instance: pl.instance, cid: cid}
}

// adoptable returns the plugin's orders that are not final, as the
// order_update records of a start-up blob (a split order as the one order
// the plugin sees). Called with e.mu held.
func (pl *plugin) adoptable(now time.Time) []abi.OrderUpdate {
	var out []abi.OrderUpdate
	for o := range pl.open {
		if o.parent != nil || o.final() {
			continue
		}
		out = append(out, o.update(now, abi.ReasonNone))
	}
	for _, s := range pl.e.splits {
		if s.view.pl == pl && !s.view.final() {
			v := s.fold()
			out = append(out, v.update(now, abi.ReasonNone))
		}
	}
	slices.SortFunc(out, func(a, b abi.OrderUpdate) int { return cmp.Compare(a.CID, b.CID) })
	return out
}

// adopt hands the plugin's orders that are not final to instance inst (the
// live one from now on), and drops from the inbox their order_update and
// fill records pushed before mark (inbox.Mark, taken with the start-up
// blob): the blob's records hold their state at that time, fills
// included, so the new instance starts from one consistent view and
// receives only what happened after it (RATIONALE.md). Called with e.mu held (no order
// event is pushed meanwhile).
func (pl *plugin) adopt(inst uint32, mark uint64) int {
	pl.adopted = map[uint64]orderKey{}
	for o := range pl.open {
		if o.final() {
			continue
		}
		o.heir = inst
		if o.parent == nil {
			pl.adopted[o.key.cid] = o.key
		}
	}
	for _, s := range pl.e.splits {
		if s.view.pl == pl && !s.view.final() {
			s.view.heir = inst
			pl.adopted[s.view.key.cid] = s.view.key
		}
	}
	if len(pl.adopted) == 0 {
		return 0
	}
	pl.inbox.Drop(mark, func(rec []byte) bool {
		k := abi.ReadHeader(rec).Kind
		if k != abi.KindOrderUpdate && k != abi.KindFill {
			return false
		}
		_, ok := pl.adopted[binary.LittleEndian.Uint64(rec[abi.OffCID:])]
		return ok
	})
	return len(pl.adopted)
}
