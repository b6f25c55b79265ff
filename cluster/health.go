package cluster

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// PoolHealth is one pool's health across the cluster.
type PoolHealth struct {
	Pool    string
	Total   int // connections registered, on every node
	Healthy int // ready, on a live node
	Failed  int // the others (a lost node's count as failed until replaced)
	Nodes   int // nodes with at least one healthy connection
	Regions int // regions with at least one healthy connection
	// AvgRTT is the mean heartbeat answer time of the healthy connections.
	AvgRTT   time.Duration
	Orders   int64 // orders the connections carry
	Degraded bool
}

// Alert is a change of a pool's degradation.
type Alert struct {
	Pool     string
	Degraded bool // true: it became degraded; false: it recovered
	Health   PoolHealth
	At       time.Time
}

// aggregate folds connection records into pool health. alive says whether
// a record's node (incarnation) is alive.
func aggregate(recs []ConnRecord, alive func(ConnRecord) bool, minHealthy int) map[string]PoolHealth {
	out := map[string]PoolHealth{}
	nodes := map[string]map[string]bool{}
	regions := map[string]map[string]bool{}
	rtt := map[string]time.Duration{}
	for _, r := range recs {
		h := out[r.Pool]
		h.Pool = r.Pool
		h.Total++
		if r.Healthy && alive(r) {
			h.Healthy++
			h.Orders += r.Carried
			rtt[r.Pool] += r.RTT
			if nodes[r.Pool] == nil {
				nodes[r.Pool], regions[r.Pool] = map[string]bool{}, map[string]bool{}
			}
			nodes[r.Pool][r.Node] = true
			regions[r.Pool][r.Region] = true
		} else {
			h.Failed++
		}
		out[r.Pool] = h
	}
	for p, h := range out {
		if h.Healthy > 0 {
			h.AvgRTT = rtt[p] / time.Duration(h.Healthy)
		}
		h.Nodes, h.Regions = len(nodes[p]), len(regions[p])
		h.Degraded = h.Failed > 0 || h.Healthy < minHealthy
		out[p] = h
	}
	return out
}

// recordsLocked are the connection records that count: neither replaced
// nor expired on a node that is alive (an expired record of a live node is
// a gap in its publishing, not a loss).
func (n *Node) recordsLocked(now time.Time) []ConnRecord {
	recs := make([]ConnRecord, 0, len(n.conns))
	for _, e := range n.conns {
		if e.replaced || (e.expired && n.aliveLocked(e.rec.Node, e.rec.Incarnation, now)) {
			continue
		}
		recs = append(recs, e.rec)
	}
	return recs
}

// evalHealth recomputes every pool's health and raises an alert for each
// change of degradation.
func (n *Node) evalHealth() {
	now := n.clk.Now()
	n.mu.Lock()
	h := aggregate(n.recordsLocked(now), func(r ConnRecord) bool { return n.aliveLocked(r.Node, r.Incarnation, now) }, n.cfg.MinHealthy)
	var alerts []Alert
	for p, cur := range h {
		if prev, ok := n.health[p]; (ok && prev.Degraded != cur.Degraded) || (!ok && cur.Degraded) {
			alerts = append(alerts, Alert{Pool: p, Degraded: cur.Degraded, Health: cur, At: now})
		}
	}
	for p, prev := range n.health {
		if _, ok := h[p]; !ok && prev.Degraded {
			alerts = append(alerts, Alert{Pool: p, Degraded: false, Health: PoolHealth{Pool: p}, At: now})
		}
	}
	n.health = h
	n.notifyLocked()
	n.mu.Unlock()
	slices.SortFunc(alerts, func(a, b Alert) int {
		if a.Pool < b.Pool {
			return -1
		}
		return 1
	})
	for _, a := range alerts {
		if a.Degraded {
			n.log.Warn("cluster: pool degraded", "pool", a.Pool, "healthy", a.Health.Healthy, "failed", a.Health.Failed, "total", a.Health.Total)
		} else {
			n.log.Info("cluster: pool recovered", "pool", a.Pool, "healthy", a.Health.Healthy, "total", a.Health.Total)
		}
		if n.cfg.OnAlert != nil {
			n.cfg.OnAlert(a)
		}
	}
}

// Health returns every pool's cluster-wide health, as of the last
// evaluation (every heartbeat interval).
func (n *Node) Health() []PoolHealth {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]PoolHealth, 0, len(n.health))
	for _, h := range n.health {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b PoolHealth) int {
		if a.Pool < b.Pool {
			return -1
		}
		return 1
	})
	return out
}

// Counters are the node's event counts.
type Counters struct {
	Beats, Malformed, RemoteServed, RemoteSent   uint64
	Failovers, Reestablished, DuplicatePrevented uint64
	NotReplaced, StaleFence, KVErrors            uint64
	// Refused: order requests refused (a method not allowed, the guard);
	// Denied: this node's own publishes or subscriptions that its NATS
	// permissions refused (a bug, or a cluster operator's narrower grant).
	Refused, Denied uint64
}

// Counters returns the node's event counts.
func (n *Node) Counters() Counters {
	s := &n.stats
	return Counters{Beats: s.beats.Load(), Malformed: s.malformed.Load(), RemoteServed: s.remoteServed.Load(),
		RemoteSent: s.remoteSent.Load(), Failovers: s.failovers.Load(), Reestablished: s.reestablished.Load(),
		DuplicatePrevented: s.dupPrevented.Load(), NotReplaced: s.notReplaced.Load(), StaleFence: s.staleFence.Load(),
		KVErrors: s.kvErrors.Load(), Refused: s.refused.Load(), Denied: s.denied.Load()}
}

// WriteMetrics writes the node's view of the cluster in the Prometheus
// text format: pool health gauges, nodes alive, whether this node is the
// controller, and the counters.
func (n *Node) WriteMetrics(w io.Writer) error {
	st := n.Status()
	c := n.Counters()
	var err error
	p := func(f string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, f, a...)
		}
	}
	p("# HELP stratbox_cluster_pool_connections Connections of a pool across the cluster, by state.\n# TYPE stratbox_cluster_pool_connections gauge\n")
	for _, h := range st.Pools {
		p("stratbox_cluster_pool_connections{pool=%q,state=\"healthy\"} %d\n", h.Pool, h.Healthy)
		p("stratbox_cluster_pool_connections{pool=%q,state=\"failed\"} %d\n", h.Pool, h.Failed)
		p("stratbox_cluster_pool_connections{pool=%q,state=\"total\"} %d\n", h.Pool, h.Total)
	}
	p("# HELP stratbox_cluster_pool_heartbeat_rtt_seconds Mean heartbeat answer time of a pool's healthy connections.\n# TYPE stratbox_cluster_pool_heartbeat_rtt_seconds gauge\n")
	for _, h := range st.Pools {
		p("stratbox_cluster_pool_heartbeat_rtt_seconds{pool=%q} %g\n", h.Pool, h.AvgRTT.Seconds())
	}
	p("# HELP stratbox_cluster_pool_degraded 1 when a pool is degraded.\n# TYPE stratbox_cluster_pool_degraded gauge\n")
	for _, h := range st.Pools {
		d := 0
		if h.Degraded {
			d = 1
		}
		p("stratbox_cluster_pool_degraded{pool=%q} %d\n", h.Pool, d)
	}
	alive := 0
	for _, nd := range st.Nodes {
		if nd.Alive {
			alive++
		}
	}
	ctl := 0
	if st.Controller == n.cfg.Name {
		ctl = 1
	}
	p("# TYPE stratbox_cluster_nodes_alive gauge\nstratbox_cluster_nodes_alive %d\n", alive)
	p("# TYPE stratbox_cluster_controller gauge\nstratbox_cluster_controller{node=%q} %d\n", n.cfg.Name, ctl)
	for _, m := range []struct {
		name string
		v    uint64
	}{{"failovers", c.Failovers}, {"orders_reestablished", c.Reestablished}, {"duplicates_prevented", c.DuplicatePrevented},
		{"orders_not_replaced", c.NotReplaced}, {"malformed_messages", c.Malformed}, {"stale_fence_refused", c.StaleFence},
		{"remote_requests_served", c.RemoteServed}, {"remote_requests_sent", c.RemoteSent}, {"registry_write_errors", c.KVErrors},
		{"remote_requests_refused", c.Refused}, {"permission_denied", c.Denied}} {
		p("# TYPE stratbox_cluster_%s_total counter\nstratbox_cluster_%s_total %d\n", m.name, m.name, m.v)
	}
	return err
}
