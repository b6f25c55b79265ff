package pool

import "github.com/stratbox/stratbox/conn"

// ObserveMembers sets f to be told of every state change of every member's
// connection (dialing, authenticating, ready, degraded, closed), after the
// pool has taken it into account, from that member's observer goroutine
// (conn.Observer): f must not block for long. Telemetry builds the
// connections' lifecycle spans from it. Call it before Start.
func (p *Pool) ObserveMembers(f func(member int, ch conn.StateChange)) {
	if f == nil {
		p.watch.Store(nil)
		return
	}
	p.watch.Store(&f)
}
