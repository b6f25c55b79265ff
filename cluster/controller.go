package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/venue/deribit"
)

const leaseKey = "controller"

// Failover is one replacement the controller carried out.
type Failover struct {
	Pool     string
	FromNode string
	FromConn string
	// NodeLost: the connection's node disappeared (its orders were
	// re-established here); otherwise the connection failed on a live node
	// (whose own pool recovery re-places its orders).
	NodeLost bool
	ToNode   string
	ToConn   string
	Fence    uint64
	// Orders re-established (placed again once), and those left alone
	// (still open, filled, already re-placed, or unknown).
	Reestablished, Skipped int
	Took                   time.Duration // from the decision to the last order
	Err                    error         // no node could open the replacement
}

type incident struct {
	key  string
	reg  string // registry key of the lost connection
	rec  ConnRecord
	lost bool
}

type leaseValue struct {
	Node        string `json:"node"`
	Incarnation string `json:"inc"`
}

// controlLoop keeps (or tries to win) the controller lease and, while this
// node holds it, looks for lost connections.
func (n *Node) controlLoop() {
	started := n.clk.Now()
	settled := started
	tick := min(n.cfg.LeaseTTL/4, n.cfg.HeartbeatInterval)
	t := n.clk.NewTicker(tick)
	defer t.Stop()
	for {
		n.leaseStep()
		// A new controller first listens for one node timeout: before that
		// every peer would look silent.
		if n.fence() != 0 && n.clk.Since(started) > n.cfg.NodeTimeout {
			n.scan()
		}
		if n.clk.Since(settled) >= n.cfg.NodeTimeout {
			n.settle()
			settled = n.clk.Now()
		}
		select {
		case <-n.ctx.Done():
			return
		case <-t.C():
		}
	}
}

// fence returns the lease's fencing token while this node holds the lease
// with time to spare, else 0.
func (n *Node) fence() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.lease.held && n.clk.Since(n.lease.renewed) < n.cfg.LeaseTTL*3/4 {
		return n.lease.fence
	}
	return 0
}

func (n *Node) leaseStep() {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.LeaseTTL/2)
	defer cancel()
	val, _ := json.Marshal(leaseValue{Node: n.cfg.Name, Incarnation: n.inc})
	n.mu.Lock()
	l := n.lease
	n.mu.Unlock()
	at := n.clk.Now()
	if l.held {
		rev, err := n.b.leases.Update(ctx, leaseKey, val, l.rev)
		switch {
		case err == nil:
			l.rev, l.renewed = rev, at
		case errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err):
			n.log.Warn("cluster: controller lease lost", "fence", l.fence)
			l = leaseState{}
		case n.clk.Since(l.renewed) > n.cfg.LeaseTTL:
			n.log.Warn("cluster: controller lease expired (renewals failing)", "fence", l.fence, "err", err)
			l = leaseState{}
		}
	} else if rev, err := n.b.leases.Create(ctx, leaseKey, val); err == nil {
		l = leaseState{held: true, fence: rev, rev: rev, renewed: at}
		n.log.Info("cluster: this node is the controller", "fence", rev)
	}
	holder := ""
	if l.held {
		holder = n.cfg.Name
	} else if e, err := n.b.leases.Get(ctx, leaseKey); err == nil {
		var v leaseValue
		if json.Unmarshal(e.Value(), &v) == nil {
			holder = v.Node
		}
	}
	n.mu.Lock()
	n.lease, n.holderOf = l, holder
	n.mu.Unlock()
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// scan finds the connections to replace: those of a node that is gone
// (no liveness message for NodeTimeout, or a new incarnation), and those
// failed for FailAfter on a live node.
func (n *Node) scan() {
	now := n.clk.Now()
	var incs []incident
	n.mu.Lock()
	for key, e := range n.conns {
		r := e.rec
		if e.replaced {
			continue
		}
		var in incident
		if !n.aliveLocked(r.Node, r.Incarnation, now) {
			if p := n.peers[r.Node]; p != nil && p.lastBeat.IsZero() && now.Sub(p.known) < n.cfg.NodeTimeout {
				continue // learned of it just now: give it time to be heard
			}
			in = incident{key: lostKey(r), lost: true}
		} else if !r.Healthy && !e.expired && now.Sub(r.Since) > n.cfg.FailAfter {
			in = incident{key: "fo." + r.Pool + "." + r.Node + "." + r.ID + "." + r.Incarnation + "." + strconv.FormatInt(r.Since.UnixNano(), 10)}
		} else {
			continue
		}
		if n.handled[in.key] || n.inflight[in.key] {
			continue
		}
		in.reg, in.rec = key, r
		n.inflight[in.key] = true
		n.log.Debug("cluster: failover needed", "incident", in.key, "node_lost", in.lost)
		incs = append(incs, in)
	}
	n.mu.Unlock()
	for _, in := range incs {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			done := n.failover(in)
			n.mu.Lock()
			delete(n.inflight, in.key)
			if done {
				n.handled[in.key] = true
				if e := n.conns[in.reg]; e != nil && e.rec.Incarnation == in.rec.Incarnation {
					e.replaced = true
				}
			}
			n.notifyLocked()
			n.mu.Unlock()
		}()
	}
}

// lostKey is the incident (and claim) key of a connection lost with its
// node.
func lostKey(r ConnRecord) string {
	return "fo." + r.Pool + "." + r.Node + "." + r.ID + "." + r.Incarnation
}

// settle repairs this node's view where its registry watch missed a
// marker. A watch that stalls (its consumer lived on a server that
// crashed) resumes after the last message it delivered, and by then the
// bucket's TTL may have removed the markers in between: the controller's
// Delete of a lost connection, a retired connection's Delete, an expiry.
//
// An entry not delivered again for two registry TTLs has expired (its node
// republishes every entry each publish interval): it is marked as the
// expiry marker would have marked it. A lost node's connection whose
// failover is claimed is dropped from the view, as the Delete would have
// dropped it: the claim is what every controller obeys (a later one finding
// it takes the incident as handled), so it is what settles the entry here
// too.
func (n *Node) settle() {
	now := n.clk.Now()
	lost := map[string]ConnRecord{} // registry key → record
	n.mu.Lock()
	for key, e := range n.conns {
		r := e.rec
		if !e.expired && !e.seen.IsZero() && now.Sub(e.seen) > 2*n.cfg.RegistryTTL {
			e.expired = true
			n.log.Debug("cluster: registry entry expired unseen", "conn", key)
			n.notifyLocked()
		}
		if e.replaced || n.aliveLocked(r.Node, r.Incarnation, now) || n.inflight[lostKey(r)] {
			continue
		}
		lost[key] = r
	}
	n.mu.Unlock()
	for key, r := range lost {
		ctx, cancel := context.WithTimeout(n.ctx, time.Second)
		_, err := n.b.claims.Get(ctx, lostKey(r))
		cancel()
		if err != nil {
			continue // not claimed yet (or the bucket is busy): next time
		}
		n.mu.Lock()
		if e := n.conns[key]; e != nil && !e.replaced && e.rec.Incarnation == r.Incarnation {
			delete(n.conns, key) // as the Delete it missed would have
			n.log.Debug("cluster: lost connection settled by its claim", "conn", key)
			n.notifyLocked()
		}
		n.mu.Unlock()
	}
}

// candidate is a node that can take a connection.
type candidate struct {
	Node, Region string
	Fitness      Fitness
}

// rank orders the candidates for a new connection of a pool. Spread puts
// first the regions with the fewest healthy connections of the pool (one
// region's loss then leaves the pool alive); Closest the regions with the
// lowest latency to the exchange (a node with no measurement last). Within
// a region, the fittest node (lowest Fitness.Score) first.
func rank(cs []candidate, poolByRegion map[string]int, p Placement) []candidate {
	regionLat := map[string]time.Duration{}
	for _, c := range cs {
		if l := c.Fitness.Latency; l > 0 && (regionLat[c.Region] == 0 || l < regionLat[c.Region]) {
			regionLat[c.Region] = l
		}
	}
	out := slices.Clone(cs)
	slices.SortStableFunc(out, func(a, b candidate) int {
		if p == Closest {
			la, lb := regionLat[a.Region], regionLat[b.Region]
			switch {
			case la > 0 && (lb == 0 || la < lb):
				return -1
			case lb > 0 && (la == 0 || lb < la):
				return 1
			}
		} else if d := poolByRegion[a.Region] - poolByRegion[b.Region]; d != 0 {
			return d
		}
		sa, sb := a.Fitness.Score(), b.Fitness.Score()
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return strings.Compare(a.Node, b.Node)
	})
	return out
}

// Rank returns the live nodes in the order the controller would place a
// new connection of pool on them (the first is where it goes), leaving out
// the nodes named in exclude.
func (n *Node) Rank(pool string, exclude ...string) []string {
	var out []string
	for _, c := range n.rankFor(pool, exclude...) {
		out = append(out, c.Node)
	}
	return out
}

func (n *Node) rankFor(pool string, exclude ...string) []candidate {
	now := n.clk.Now()
	n.mu.Lock()
	var cs []candidate
	for name, p := range n.peers {
		if slices.Contains(exclude, name) || !n.aliveLocked(name, "", now) {
			continue
		}
		cs = append(cs, candidate{Node: name, Region: p.region, Fitness: p.fitness})
	}
	byRegion := map[string]int{}
	for _, e := range n.conns {
		if r := e.rec; r.Pool == pool && r.Healthy && !e.replaced && !e.expired && n.aliveLocked(r.Node, r.Incarnation, now) {
			byRegion[r.Region]++
		}
	}
	n.mu.Unlock()
	return rank(cs, byRegion, n.cfg.Placement)
}

type claimValue struct {
	Node  string    `json:"node"`
	Token string    `json:"token"` // this attempt's own
	Fence uint64    `json:"fence"`
	At    time.Time `json:"at"`
}

// claim creates key in the claims bucket: true when this call created it
// (at its first try, or at a retry after a try whose answer was lost: the
// claim carries this call's own token). Create succeeds once cluster-wide
// (a Raft-replicated "only if absent"), so of all the calls for one key,
// ever, at most one returns true.
func (n *Node) claim(key string, fence uint64) (bool, error) {
	token := newIncarnation() + newIncarnation()
	v, _ := json.Marshal(claimValue{Node: n.cfg.Name, Token: token, Fence: fence, At: n.clk.Now()})
	deadline := n.clk.Now().Add(n.cfg.OpenTimeout)
	for {
		ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
		_, err := n.b.claims.Create(ctx, key, v)
		if errors.Is(err, jetstream.ErrKeyExists) {
			e, gerr := n.b.claims.Get(ctx, key)
			cancel()
			if gerr != nil {
				err = gerr
			} else {
				var cv claimValue
				_ = json.Unmarshal(e.Value(), &cv)
				return cv.Token == token, nil
			}
		} else {
			cancel()
		}
		if err == nil {
			return true, nil
		}
		// A stream-leader election after a hard crash stalls writes for
		// 4-9 s: retry within the bound, as long as the lease holds.
		if n.ctx.Err() != nil || n.clk.Now().After(deadline) || n.fence() != fence {
			return false, fmt.Errorf("cluster: claim %s: %w", key, err)
		}
		n.pause(100 * time.Millisecond)
	}
}

// ctl sends a controller command to node.
func (n *Node) ctl(node string, r ctlRequest, timeout time.Duration) (string, error) {
	b, _ := json.Marshal(r)
	ctx, cancel := context.WithTimeout(n.ctx, timeout)
	defer cancel()
	m, err := n.nc.RequestWithContext(ctx, n.subject("ctl", node), b)
	if err != nil {
		return "", fmt.Errorf("cluster: %s on node %s: %w", r.Op, node, err)
	}
	var rep ctlReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		return "", fmt.Errorf("%w %s: malformed reply to %s", ErrRemote, node, r.Op)
	}
	if rep.Error != "" {
		return "", fmt.Errorf("%w %s: %s", ErrRemote, node, rep.Error)
	}
	return rep.Conn, nil
}

// failover replaces one lost connection: it claims the incident (once
// cluster-wide), opens the replacement on the fittest node, retires the
// failed connection of a live node, and re-establishes the orders of a
// lost node's connection. It reports whether the incident is settled.
func (n *Node) failover(in incident) bool {
	fence := n.fence()
	if fence == 0 {
		return false
	}
	start := n.clk.Now()
	ranked := n.rankFor(in.rec.Pool, in.rec.Node)
	if len(ranked) == 0 {
		n.warns.Log(n.log, slog.LevelWarn, "no replacement node/"+in.rec.Pool, "cluster: no live node can take a replacement connection",
			"pool", in.rec.Pool, "lost", in.rec.Node+"/"+in.rec.ID)
		return false
	}
	own, err := n.claim(in.key, fence)
	if err != nil {
		n.log.Warn("cluster: failover not claimed, will retry", "incident", in.key, "err", err)
		return false
	}
	if !own {
		return true // another controller (an earlier lease) took it
	}
	fo := Failover{Pool: in.rec.Pool, FromNode: in.rec.Node, FromConn: in.rec.ID, NodeLost: in.lost, Fence: fence}
	for _, c := range ranked {
		id, err := n.ctl(c.Node, ctlRequest{Op: "open", Fence: fence, Pool: in.rec.Pool}, n.cfg.OpenTimeout+time.Second)
		if err == nil {
			fo.ToNode, fo.ToConn = c.Node, id
			break
		}
		fo.Err = err
		n.log.Warn("cluster: replacement failed to open", "pool", in.rec.Pool, "on", c.Node, "err", err)
	}
	if fo.ToNode != "" {
		fo.Err = nil
		n.log.Info("cluster: connection replaced", "pool", fo.Pool, "lost", fo.FromNode+"/"+fo.FromConn, "node_lost", fo.NodeLost,
			"replacement", fo.ToNode+"/"+fo.ToConn, "fence", fence)
	}
	if !in.lost {
		// The failed connection must not come back as an extra; its orders
		// are its own node's pool recovery's.
		if _, err := n.ctl(in.rec.Node, ctlRequest{Op: "retire", Fence: fence, Pool: in.rec.Pool, Conn: in.rec.ID}, n.cfg.RequestTimeout); err != nil {
			n.log.Warn("cluster: failed connection not retired", "node", in.rec.Node, "conn", in.rec.ID, "err", err)
		}
	} else {
		for _, o := range in.rec.Orders {
			if fo.ToNode == "" {
				n.stats.notReplaced.Add(1)
				fo.Skipped++
				continue
			}
			if n.reestablish(o, fo.ToNode, fo.Pool, fo.ToConn, fence, in.rec.Incarnation) {
				fo.Reestablished++
			} else {
				fo.Skipped++
			}
		}
	}
	// Every node drops the lost connection from its view (a Delete, which
	// watchers tell from an expiry).
	// Retried: after a hard crash the registry's stream leader may be in
	// an election for seconds.
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for range 60 {
			ctx, cancel := context.WithTimeout(n.ctx, time.Second)
			err := n.b.reg.Delete(ctx, in.reg)
			cancel()
			if err == nil || n.ctx.Err() != nil {
				return
			}
			if !n.pause(200 * time.Millisecond) {
				return
			}
		}
	}()
	fo.Took = n.clk.Since(start)
	n.stats.failovers.Add(1)
	if n.cfg.OnFailover != nil {
		n.cfg.OnFailover(fo)
	}
	return true
}

// claimKey escapes s into one KV key token.
func claimKey(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return b.String()
}

// reestablish places a lost node's order again, once: it claims the order
// (by its exchange id), waits for the exchange to report it cancelled
// (cancel-on-disconnect), makes sure no open order carries its label, and
// places the unfilled rest under the same label on the replacement.
func (n *Node) reestablish(o Order, node, pool, connID string, fence uint64, lostInc string) bool {
	log := n.log.With("label", o.Label, "order_id", o.OrderID)
	if o.OrderID == "" || o.Label == "" || !deribit.IsDirection(o.Direction) {
		// Without its exchange id, a filled order cannot be told from a
		// cancelled one: never re-placed.
		log.Warn("cluster: order not re-established: incomplete record")
		n.stats.notReplaced.Add(1)
		return false
	}
	own, err := n.claim("ord."+claimKey(o.OrderID), fence)
	if err != nil || !own {
		if err == nil {
			n.stats.dupPrevented.Add(1)
		}
		log.Info("cluster: order not re-established here: claimed elsewhere or claim failed", "err", err)
		return false
	}
	call := func(c deribit.Call) (json.RawMessage, error) {
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
		defer cancel()
		return n.remote(ctx, node, pool, connID, c.Method, c.Params, fence)
	}
	var st struct {
		State  string  `json:"order_state"`
		Amount float64 `json:"amount"`
		Filled float64 `json:"filled_amount"`
	}
	deadline := n.clk.Now().Add(n.cfg.ReestablishWait)
	for {
		raw, err := call(deribit.GetOrderState(o.OrderID))
		if err == nil {
			err = json.Unmarshal(raw, &st)
		}
		var rpc *conn.RPCError
		switch {
		case errors.As(err, &rpc):
			log.Warn("cluster: order not re-established: state unknown", "err", err)
			n.stats.notReplaced.Add(1)
			return false
		case err == nil && st.State != "open":
		case n.clk.Now().After(deadline):
			log.Warn("cluster: order not re-established: still open on the exchange (its connection may be alive)", "state", st.State, "err", err)
			n.stats.notReplaced.Add(1)
			return false
		default:
			if !n.pause(50 * time.Millisecond) {
				return false
			}
			continue
		}
		break
	}
	if st.State != "cancelled" {
		log.Info("cluster: order not re-established: it is "+st.State, "filled", st.Filled)
		return false
	}
	rest := st.Amount - st.Filled
	if rest <= 0 {
		return false
	}
	cur, _, _ := strings.Cut(o.Instrument, "-")
	raw, err := call(deribit.GetOrderStateByLabel(o.Label, cur))
	var found []struct {
		State string `json:"order_state"`
	}
	if err == nil {
		err = json.Unmarshal(raw, &found)
	}
	open := 0
	for _, f := range found {
		if f.State == "open" || f.State == "untriggered" {
			open++
		}
	}
	if err != nil || open > 0 {
		if err == nil {
			n.stats.dupPrevented.Add(1)
		} else {
			n.stats.notReplaced.Add(1)
		}
		log.Warn("cluster: order not re-established: an order with its label is open, or the check failed", "open", open, "err", err)
		return false
	}
	place, _ := deribit.PlaceText(o.Direction, o.Instrument, o.Type, o.TimeInForce, o.Price, rest, o.Label, o.PostOnly, o.ReduceOnly)
	if _, err := call(place); err != nil {
		log.Warn("cluster: order not re-established: the place failed", "err", err)
		n.stats.notReplaced.Add(1)
		return false
	}
	n.stats.reestablished.Add(1)
	log.Info("cluster: order re-established", "on", node+"/"+connID, "amount", rest)
	return true
}
