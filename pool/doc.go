// Package pool keeps N authenticated connections to one exchange account and
// spreads requests over them, so that the loss of one connection cancels
// (by cancel-on-disconnect) only the orders it carried.
//
// Each member is a conn.Conn: it dials, authenticates, sets the heartbeat,
// enables cancel-on-disconnect with scope connection and restores its
// subscriptions by itself, and reconnects with backoff; a member is healthy
// only while its connection is ready, so a replacement socket is admitted
// only after all of that is done. The pool adds what one connection cannot
// know: which member carries each new order (a Policy), where each
// subscription lives (market data on exactly one healthy member, moved when
// that member fails; order and fill channels on several, so that one loss
// loses no update — the consumer de-duplicates), and the pool's health
// (healthy, total, degraded) reported to an observer.
//
// The pool knows no plugin and no order: the order manager (package host)
// asks Pick for a member, calls it with CallOn, reports how many orders each
// member carries with Carry, and is told of losses by the observer.
package pool
