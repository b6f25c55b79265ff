// Package pool keeps N authenticated connections to one exchange account and
// spreads requests over them, so that the loss of one connection cancels
// (by cancel-on-disconnect) only the orders it carried.
//
// Each member is a conn.Conn: it dials, authenticates, sets the heartbeat,
// enables cancel-on-disconnect with scope connection and restores its
// subscriptions by itself, and reconnects: at once after a loss, with
// backoff after refusals; a member is healthy
// only while its connection is ready, so a replacement socket is admitted
// only after all of that is done. The pool adds what one connection cannot
// know: which member carries each new order (a Policy: least_loaded,
// round_robin, or split, which also tells the order manager to split a
// large order into legs on different members, SplitRule), where each
// subscription lives (market data on exactly one healthy member, moved when
// that member fails; order and fill channels on several, so that one loss
// loses no update — the consumer de-duplicates), the client-side rate
// limiter (limit.go; what each request costs is the venue's to say,
// Config.Classify: the pool knows no exchange's method names), and the
// pool's health (healthy, total, degraded) reported to an observer.
//
// The pool, not each member, owns availability (availability.go): while
// fewer than MinHealthy members are ready, the lowest-numbered member that
// is not keeps dialling at the minimum delay; once any member is ready, the
// others backing off re-dial at once; the members' attempts share one
// bucket per account (conn.Backoff.AttemptsPerSecond); losses are re-dialled
// after a random stagger, so that a cut of every connection is not a
// thundering herd. Repeated warnings are rate-limited with a count
// (internal/lograte).
//
// After every change of health the pool rebalances its subscriptions (a
// channel whose member is down moves, one whose subscription failed is made
// again) and, when for a while no member received the private channels,
// tells the observer to read its orders back (Event.Resync).
//
// The pool knows no plugin and no order: the order manager (package host)
// asks PickExcept for a member, calls it with CallOn, reports how many
// orders each member carries with Carry, and is told of losses by the
// observer.
package pool
