package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Status is a view of the cluster: its nodes, connections, pool health
// and controller.
type Status struct {
	Cluster    string
	Controller string // the lease holder, "" when none
	Nodes      []NodeStatus
	Conns      []ConnRecord
	Pools      []PoolHealth
}

// NodeStatus is one node as seen by the viewer.
type NodeStatus struct {
	Name, Region, Incarnation string
	Alive                     bool
	Fitness                   Fitness
	Conns, Healthy            int
}

// Status is this node's view of the cluster.
func (n *Node) Status() Status {
	now := n.clk.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	st := Status{Cluster: n.cfg.Cluster, Controller: n.holderOf}
	recs := n.recordsLocked(now)
	alive := func(r ConnRecord) bool { return n.aliveLocked(r.Node, r.Incarnation, now) }
	for name, p := range n.peers {
		st.Nodes = append(st.Nodes, NodeStatus{Name: name, Region: p.region, Incarnation: p.inc,
			Alive: n.aliveLocked(name, "", now), Fitness: p.fitness})
	}
	st.finish(recs, alive, n.health)
	return st
}

func (st *Status) finish(recs []ConnRecord, alive func(ConnRecord) bool, health map[string]PoolHealth) {
	slices.SortFunc(recs, func(a, b ConnRecord) int {
		return strings.Compare(a.Pool+"."+a.Node+"."+a.ID, b.Pool+"."+b.Node+"."+b.ID)
	})
	st.Conns = recs
	for i := range st.Nodes {
		for _, r := range recs {
			if r.Node == st.Nodes[i].Name {
				st.Nodes[i].Conns++
				if r.Healthy && alive(r) {
					st.Nodes[i].Healthy++
				}
			}
		}
	}
	slices.SortFunc(st.Nodes, func(a, b NodeStatus) int { return strings.Compare(a.Name, b.Name) })
	for _, h := range health {
		st.Pools = append(st.Pools, h)
	}
	slices.SortFunc(st.Pools, func(a, b PoolHealth) int { return strings.Compare(a.Pool, b.Pool) })
}

// ReadStatus reads the cluster's status from outside (host cluster
// status): the registry and the controller lease from the KV, and the
// liveness messages heard during listen (at least one node timeout).
func ReadStatus(ctx context.Context, nc *nats.Conn, cluster string, listen time.Duration) (Status, error) {
	if cluster == "" {
		cluster = DefaultCluster
	}
	st := Status{Cluster: cluster}
	var mu sync.Mutex
	heard := map[string]beat{}
	sub, err := nc.Subscribe("stratbox."+cluster+".hb.*", func(m *nats.Msg) {
		var b beat
		if json.Unmarshal(m.Data, &b) == nil && ValidName(b.Node) {
			mu.Lock()
			heard[b.Node] = b
			mu.Unlock()
		}
	})
	if err != nil {
		return st, fmt.Errorf("cluster: status: %w", err)
	}
	defer sub.Unsubscribe()
	js, err := jetstream.New(nc)
	if err != nil {
		return st, fmt.Errorf("cluster: status: %w", err)
	}
	// The registry is watched for the whole of listen, not read once: an
	// entry that expired a moment before (a node's write late under load)
	// is back within a publish interval, and one retired meanwhile goes.
	kctx, cancel := context.WithTimeout(ctx, 5*time.Second+listen)
	defer cancel()
	reg, err := js.KeyValue(kctx, bucketName(cluster, "registry"))
	if err != nil {
		return st, fmt.Errorf("cluster: status: no registry for cluster %q (is it running, and is this its NATS?): %w", cluster, err)
	}
	w, err := reg.WatchAll(kctx)
	if err != nil {
		return st, fmt.Errorf("cluster: status: %w", err)
	}
	defer w.Stop()
	listening := time.NewTimer(listen)
	defer listening.Stop()
	nodes, conns, err := watchRegistry(kctx, w.Updates(), listening.C)
	if err != nil {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		return st, err
	}
	if lv, err := js.KeyValue(kctx, bucketName(cluster, "leases")); err == nil {
		if e, err := lv.Get(kctx, leaseKey); err == nil {
			var v leaseValue
			if json.Unmarshal(e.Value(), &v) == nil {
				st.Controller = v.Node
			}
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return st, fmt.Errorf("cluster: status: reading the lease: %w", err)
		}
	}
	recs := make([]ConnRecord, 0, len(conns))
	for _, r := range conns {
		recs = append(recs, r)
	}
	mu.Lock()
	defer mu.Unlock()
	alive := func(r ConnRecord) bool { b, ok := heard[r.Node]; return ok && b.Incarnation == r.Incarnation }
	for name, r := range nodes {
		b, ok := heard[name]
		ns := NodeStatus{Name: name, Region: r.Region, Incarnation: r.Incarnation, Fitness: r.Fitness, Alive: ok}
		if ok {
			ns.Fitness, ns.Incarnation = b.Fitness, b.Incarnation
		}
		st.Nodes = append(st.Nodes, ns)
	}
	st.finish(recs, alive, aggregate(recs, alive, 0))
	return st, nil
}

// watchRegistry follows the registry's watch until listen fires and its
// current values have all arrived (the nil marker): the latest record of
// each key, none for a key deleted or expired meanwhile.
func watchRegistry(ctx context.Context, updates <-chan jetstream.KeyValueEntry, listen <-chan time.Time) (map[string]NodeRecord, map[string]ConnRecord, error) {
	nodes := map[string]NodeRecord{}
	conns := map[string]ConnRecord{}
	initial, listening := true, true
	for initial || listening {
		select {
		case e, ok := <-updates:
			switch {
			case !ok:
				if err := ctx.Err(); err != nil {
					return nil, nil, fmt.Errorf("cluster: status: reading the registry: %w", err)
				}
				return nil, nil, errors.New("cluster: status: the registry's watch ended before its values were read")
			case e == nil:
				initial = false
			default:
				k := e.Key()
				switch {
				case e.Operation() != jetstream.KeyValuePut:
					// Retired, or expired: its node stopped writing.
					delete(conns, k)
					delete(nodes, strings.TrimPrefix(k, "node."))
				case strings.HasPrefix(k, "node."):
					var r NodeRecord
					if json.Unmarshal(e.Value(), &r) == nil && ValidName(r.Name) && "node."+r.Name == k {
						nodes[r.Name] = r
					}
				case strings.HasPrefix(k, "conn."):
					var r ConnRecord
					if json.Unmarshal(e.Value(), &r) == nil && connKey(r.Pool, r.Node, r.ID) == k {
						conns[k] = r
					}
				}
			}
		case <-listen:
			listening, listen = false, nil
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("cluster: status: reading the registry: %w", ctx.Err())
		}
	}
	return nodes, conns, nil
}

// Write prints the status for people.
func (st Status) Write(w io.Writer) error {
	var b strings.Builder
	ctl := st.Controller
	if ctl == "" {
		ctl = "(none)"
	}
	fmt.Fprintf(&b, "cluster %s: %d nodes, controller %s\n\n", st.Cluster, len(st.Nodes), ctl)
	fmt.Fprintf(&b, "%-16s %-12s %-6s %6s %6s %10s %6s %6s\n", "NODE", "REGION", "ALIVE", "CPU", "MEM", "LATENCY", "CONNS", "READY")
	for _, nd := range st.Nodes {
		fmt.Fprintf(&b, "%-16s %-12s %-6v %5.1f%% %5.1f%% %10v %6d %6d\n", nd.Name, nd.Region, nd.Alive, 100*nd.Fitness.CPU,
			100*nd.Fitness.Mem, nd.Fitness.Latency.Round(time.Microsecond), nd.Conns, nd.Healthy)
	}
	fmt.Fprintf(&b, "\n%-12s %-16s %-8s %-14s %10s %7s\n", "POOL", "NODE", "CONN", "STATE", "HB RTT", "ORDERS")
	for _, c := range st.Conns {
		fmt.Fprintf(&b, "%-12s %-16s %-8s %-14s %10v %7d\n", c.Pool, c.Node, c.ID, c.State, c.RTT.Round(time.Microsecond), c.Carried)
	}
	fmt.Fprintf(&b, "\n%-12s %6s %8s %7s %6s %8s %10s %s\n", "POOL", "TOTAL", "HEALTHY", "FAILED", "NODES", "REGIONS", "AVG RTT", "")
	for _, h := range st.Pools {
		d := ""
		if h.Degraded {
			d = "DEGRADED"
		}
		fmt.Fprintf(&b, "%-12s %6d %8d %7d %6d %8d %10v %s\n", h.Pool, h.Total, h.Healthy, h.Failed, h.Nodes, h.Regions, h.AvgRTT.Round(time.Microsecond), d)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
