package pool

import (
	"math/rand/v2"
	"time"

	"github.com/stratbox/stratbox/conn"
)

// The pool, not each member, owns availability (RATIONALE.md "Why does the
// pool pace its members' reconnects?"):
//
//   - every member re-dials a lost session at once, after a random wait
//     below Backoff.Min × Backoff.Jitter, so that members cut together are
//     staggered (conn.Backoff.Redial);
//   - a member whose attempts are refused backs off (conn.Backoff.Delay),
//     except the lead: while fewer than MinHealthy members are ready, the
//     lowest-numbered member that is not ready keeps dialling at the
//     minimum delay (Backoff.Min, less its jitter), so that the pool finds
//     the exchange back within Backoff.Min of its return;
//   - once any member becomes ready, the exchange is proved up: every member
//     still backing off re-dials at once (conn.Conn.Redial), each after its
//     own random stagger;
//   - every attempt of every member takes a token of one bucket per pool,
//     that is per account (Backoff.AttemptsPerSecond), the guard against a
//     storm of dials.

// pace is member m's conn.Pacer: own is the wait its Backoff proposes
// after refusals consecutive failed attempts (0: a loss).
func (p *Pool) pace(m *member, refusals int, own time.Duration) time.Duration {
	m.dialling.Store(true)
	if refusals == 0 || p.closing.Load() {
		return own
	}
	if p.upCount() < p.cfg.MinHealthy && p.lead() == m.id {
		return min(own, p.cfg.Conn.Backoff.Delay(1, rand.Float64()))
	}
	return own
}

// lead is the member that dials at the minimum delay while the pool is
// short: the lowest-numbered one that is reconnecting (it asked pace for a
// wait and has not been ready since; a member degraded only by a slow
// consumer keeps its socket and is not reconnecting); -1 when none is.
func (p *Pool) lead() int {
	for _, m := range p.members {
		if m.dialling.Load() && m.c.State() != conn.StateReady {
			return m.id
		}
	}
	return -1
}

// upCount is the number of members whose connection is ready now (by its
// own state, which the observer's account follows).
func (p *Pool) upCount() int {
	n := 0
	for _, m := range p.members {
		if m.c.State() == conn.StateReady {
			n++
		}
	}
	return n
}

// redialOthers tells every member backing off after refusals that the
// exchange is up, now that ready became ready.
func (p *Pool) redialOthers(ready *member) {
	if p.closing.Load() {
		return
	}
	for _, m := range p.members {
		if m != ready {
			m.c.Redial() // does nothing unless it waits after refusals
		}
	}
}

// Attempts are the connection attempts the pool's members made (each took
// a token of the account's bucket) and those that waited for one.
func (p *Pool) Attempts() (taken, waited uint64) { return p.attempts.Stats() }
