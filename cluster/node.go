package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/internal/lograte"
)

// Node is this host's member of the cluster: it publishes the node's
// connections and fitness to the registry, sends and hears liveness
// messages, folds the registry into cluster-wide pool health, serves the
// order requests other nodes send to its connections and the controller's
// commands, and, while it holds the controller lease, replaces lost
// connections.
type Node struct {
	cfg     Config
	clk     clock.Clock
	log     *slog.Logger
	holder  Holder
	placer  Placer
	srv     *server.Server // nil in external mode
	keys    keys           // the in-process logins (local and embedded modes)
	tmp     string
	nc      *nats.Conn
	js      jetstream.JetStream
	b       buckets
	inc     string // this run's incarnation
	subs    []*nats.Subscription
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	poke    chan struct{}
	closed  atomic.Bool
	started atomic.Bool
	warns   lograte.Limiter // repeated warnings, with a count

	mu        sync.Mutex
	peers     map[string]*peer
	conns     map[string]*entry // registry key → connection record
	published map[string]bool   // keys this node put
	since     map[string]sinceState
	health    map[string]PoolHealth
	handled   map[string]bool // incidents this node finished as controller
	inflight  map[string]bool
	lease     leaseState
	holderOf  string // the controller, as last read
	fit       Fitness
	meter     fitnessMeter

	upd chan struct{} // closed and replaced at every change of the view

	maxFence atomic.Uint64
	rr       atomic.Uint64
	seq      atomic.Uint64
	inFlight sync.Map // node → *atomic.Int64, remote requests in flight
	stats    counters
}

type counters struct {
	malformed, beats, remoteServed, remoteSent, failovers, reestablished, dupPrevented, notReplaced, staleFence, kvErrors atomic.Uint64
	refused, denied                                                                                                       atomic.Uint64
}

type peer struct {
	name, region, inc string
	fitness           Fitness
	lastBeat          time.Time // zero: never heard
	known             time.Time // when this node first learned of it
}

type entry struct {
	rec      ConnRecord
	expired  bool      // its key expired: its node stopped publishing
	seen     time.Time // when this node's watch last delivered it
	replaced bool      // a failover replaced it
}

type sinceState struct {
	healthy bool
	at      time.Time
}

type leaseState struct {
	held    bool
	fence   uint64 // revision of the Create that won it
	rev     uint64 // last revision (for the CAS renewal)
	renewed time.Time
}

func modeName(m Mode) string {
	if m == ModeLocal {
		return "local"
	}
	return string(m)
}

func newIncarnation() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// onAsyncError counts what the node's NATS permissions refused it.
func (n *Node) onAsyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrPermissionViolation) || strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
		if n.stats.denied.Add(1) <= 10 {
			n.log.Warn("cluster: NATS permissions refused this node", "err", err)
		}
		n.mu.Lock()
		n.notifyLocked()
		n.mu.Unlock()
		return
	}
	n.log.Debug("cluster: NATS error", "err", err)
}

// Name is the node's name; Incarnation identifies this run of it.
func (n *Node) Name() string        { return n.cfg.Name }
func (n *Node) Incarnation() string { return n.inc }

// Server is the node's embedded NATS server (nil in external mode).
func (n *Node) Server() *server.Server { return n.srv }

// Conn is the node's NATS connection.
func (n *Node) Conn() *nats.Conn { return n.nc }

// ClientURL is the address other programs (host cluster status) reach the
// node's NATS server at; "" for a local node, which opens no port.
func (n *Node) ClientURL() string {
	if n.srv == nil || n.cfg.Mode == ModeLocal {
		return ""
	}
	return n.srv.ClientURL()
}

// Changed asks for the registry to be published now (a connection's
// health changed); it never blocks.
func (n *Node) Changed() {
	select {
	case n.poke <- struct{}{}:
	default:
	}
}

func (n *Node) subject(parts ...string) string {
	return "stratbox." + n.cfg.Cluster + "." + strings.Join(parts, ".")
}

// ---- liveness: plain NATS messages, never the KV ----

func (n *Node) beatLoop() {
	t := n.clk.NewTicker(n.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		n.sendBeat()
		n.evalHealth()
		select {
		case <-n.ctx.Done():
			return
		case <-t.C():
		}
	}
}

func (n *Node) sendBeat() {
	n.mu.Lock()
	f := n.fit
	n.mu.Unlock()
	b, _ := json.Marshal(beat{Node: n.cfg.Name, Incarnation: n.inc, Region: n.cfg.Region, Seq: n.seq.Add(1), Fitness: f})
	// Publish only buffers: it never waits on the network or the KV.
	_ = n.nc.Publish(n.subject("hb", n.cfg.Name), b)
}

func (n *Node) onBeat(m *nats.Msg) {
	var b beat
	if err := json.Unmarshal(m.Data, &b); err != nil || !ValidName(b.Node) || b.Incarnation == "" ||
		!strings.HasSuffix(m.Subject, "."+b.Node) {
		n.malformed("liveness message", m.Subject, err)
		return
	}
	n.stats.beats.Add(1)
	now := n.clk.Now()
	n.mu.Lock()
	p := n.peers[b.Node]
	if p == nil {
		p = &peer{name: b.Node, known: now}
		n.peers[b.Node] = p
	}
	p.region, p.inc, p.fitness, p.lastBeat = b.Region, b.Incarnation, b.Fitness, now
	n.mu.Unlock()
}

func (n *Node) malformed(what, where string, err error) {
	if n.stats.malformed.Add(1) <= 10 {
		n.log.Warn("cluster: malformed "+what+" ignored", "subject", where, "err", err)
	}
}

// aliveLocked reports whether node name's incarnation inc is alive: heard
// within NodeTimeout (inc "" matches any incarnation).
func (n *Node) aliveLocked(name, inc string, now time.Time) bool {
	p := n.peers[name]
	if p == nil || p.lastBeat.IsZero() || now.Sub(p.lastBeat) > n.cfg.NodeTimeout {
		return false
	}
	return inc == "" || p.inc == inc
}

// ---- the registry: written by the publisher only ----

func (n *Node) publishLoop() {
	t := n.clk.NewTicker(n.cfg.PublishInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C():
		case <-n.poke:
		}
		n.publish()
	}
}

func connKey(pool, node, id string) string { return "conn." + pool + "." + node + "." + id }

// publish writes this node's record and its connections' records (each
// Put renews the entry's TTL) and deletes the entries of connections it no
// longer has.
func (n *Node) publish() {
	now := n.clk.Now()
	views := n.holder.Pools()
	var recs []ConnRecord
	active := 0
	var rttSum time.Duration
	var orders int64
	n.mu.Lock()
	for _, pv := range views {
		if !ValidName(pv.Name) {
			continue
		}
		for _, cv := range pv.Conns {
			if !ValidName(cv.ID) {
				continue
			}
			k := connKey(pv.Name, n.cfg.Name, cv.ID)
			s, ok := n.since[k]
			if !ok || s.healthy != cv.Healthy {
				s = sinceState{healthy: cv.Healthy, at: now}
				n.since[k] = s
			}
			if cv.Healthy {
				active++
				rttSum += cv.RTT
			}
			orders += cv.Carried
			recs = append(recs, ConnRecord{Pool: pv.Name, Node: n.cfg.Name, ID: cv.ID, Incarnation: n.inc, Region: n.cfg.Region,
				State: cv.State, Healthy: cv.Healthy, RTT: cv.RTT, Carried: cv.Carried, Orders: cv.Orders, Since: s.at, At: now})
		}
	}
	f := n.meter.sample()
	f.ActiveConns = active
	if active > 0 {
		f.Latency = rttSum / time.Duration(active)
	}
	if n.cfg.Fitness != nil {
		f = n.cfg.Fitness()
	}
	n.fit = f
	if p := n.peers[n.cfg.Name]; p != nil {
		p.fitness = f
	}
	n.mu.Unlock()

	ctx, cancel := context.WithTimeout(n.ctxOrBackground(), 2*time.Second)
	defer cancel()
	put := func(k string, v any) {
		b, _ := json.Marshal(v)
		if _, err := n.b.reg.Put(ctx, k, b); err != nil {
			// A stream-leader election after a crash stalls writes for
			// seconds; nothing waits on them, the next round retries.
			if n.stats.kvErrors.Add(1)%20 == 1 {
				n.log.Debug("cluster: registry write failed", "key", k, "err", err)
			}
		}
	}
	put("node."+n.cfg.Name, NodeRecord{Name: n.cfg.Name, Region: n.cfg.Region, Incarnation: n.inc, Fitness: f, At: now})
	seen := map[string]bool{}
	for _, r := range recs {
		k := connKey(r.Pool, r.Node, r.ID)
		seen[k] = true
		put(k, r)
	}
	n.mu.Lock()
	var gone []string
	for k := range n.published {
		if !seen[k] {
			gone = append(gone, k)
			delete(n.since, k)
		}
	}
	n.published = seen
	n.mu.Unlock()
	for _, k := range gone {
		_ = n.b.reg.Delete(ctx, k) // retired: a Delete, not an expiry, so nobody fails it over
	}
}

func (n *Node) ctxOrBackground() context.Context {
	if n.ctx == nil {
		return context.Background()
	}
	return n.ctx
}

// watchLoop folds the registry into the node's view, restarting the watch
// if it ends (a JetStream hiccup) while the node runs.
func (n *Node) watchLoop() {
	for n.ctx.Err() == nil {
		w, err := n.b.reg.WatchAll(n.ctx)
		if err != nil {
			n.stats.kvErrors.Add(1)
			if !n.pause(200 * time.Millisecond) {
				return
			}
			continue
		}
		snapshot := map[string]bool{}
		n.log.Debug("cluster: registry watch started")
		for e := range w.Updates() {
			switch {
			case e == nil:
				n.resync(snapshot)
				snapshot = nil
			case snapshot != nil:
				snapshot[e.Key()] = e.Operation() == jetstream.KeyValuePut
				n.apply(e)
			default:
				n.apply(e)
			}
		}
		_ = w.Stop()
	}
}

// Updated returns a channel closed at the next change of the node's view
// (a registry entry, a health evaluation, a failover).
func (n *Node) Updated() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.upd
}

func (n *Node) notifyLocked() {
	close(n.upd)
	n.upd = make(chan struct{})
}

// resync drops, after a (re)started watch's snapshot, the connections of
// live nodes that the snapshot no longer lists (deleted while the watch
// was down); a silent node's are kept for failover.
func (n *Node) resync(snapshot map[string]bool) {
	now := n.clk.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, e := range n.conns {
		if !snapshot[k] && n.aliveLocked(e.rec.Node, e.rec.Incarnation, now) {
			delete(n.conns, k)
		}
	}
	n.notifyLocked()
}

func (n *Node) apply(e jetstream.KeyValueEntry) {
	key := e.Key()
	now := n.clk.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	defer n.notifyLocked()
	switch {
	case strings.HasPrefix(key, "node."):
		name := strings.TrimPrefix(key, "node.")
		if e.Operation() != jetstream.KeyValuePut {
			// Gone (left, or expired): forgotten once it is silent and
			// none of its connections is left to fail over.
			if name != n.cfg.Name && !n.aliveLocked(name, "", now) {
				for _, c := range n.conns {
					if c.rec.Node == name && !c.replaced {
						return
					}
				}
				delete(n.peers, name)
			}
			return
		}
		var r NodeRecord
		if err := json.Unmarshal(e.Value(), &r); err != nil || r.Name != name || !ValidName(name) {
			n.malformedLocked("node record", key, err)
			return
		}
		p := n.peers[name]
		if p == nil {
			p = &peer{name: name, known: now, inc: r.Incarnation}
			n.peers[name] = p
		}
		if p.region == "" {
			p.region = r.Region
		}
		if p.lastBeat.IsZero() {
			p.fitness, p.inc = r.Fitness, r.Incarnation
		}
	case strings.HasPrefix(key, "conn."):
		switch e.Operation() {
		case jetstream.KeyValueDelete:
			n.log.Debug("cluster: registry entry deleted", "key", key, "seq", e.Revision())
			delete(n.conns, key) // retired by its node
			return
		case jetstream.KeyValuePurge:
			if c := n.conns[key]; c != nil {
				c.expired = true // its node stopped publishing: kept for failover
			}
			return
		}
		var r ConnRecord
		if err := json.Unmarshal(e.Value(), &r); err != nil || connKey(r.Pool, r.Node, r.ID) != key ||
			!ValidName(r.Pool) || !ValidName(r.Node) || !ValidName(r.ID) {
			n.malformedLocked("connection record", key, err)
			return
		}
		if n.peers[r.Node] == nil {
			n.peers[r.Node] = &peer{name: r.Node, region: r.Region, inc: r.Incarnation, known: now}
		}
		old := n.conns[key]
		if old != nil && old.rec.Incarnation == r.Incarnation && !r.At.After(old.rec.At) {
			return // a restarted watch delivering what this node knows: keep its flags
		}
		n.conns[key] = &entry{rec: r, seen: now, replaced: old != nil && old.replaced && old.rec.Incarnation == r.Incarnation}
	default:
		n.malformedLocked("registry key", key, nil)
	}
}

func (n *Node) malformedLocked(what, where string, err error) {
	if n.stats.malformed.Add(1) <= 10 {
		n.log.Warn("cluster: malformed "+what+" ignored", "key", where, "err", err)
	}
}

// ---- requests from other nodes ----

func (n *Node) reply(m *nats.Msg, v any) {
	b, _ := json.Marshal(v)
	if err := m.Respond(b); err != nil {
		n.log.Debug("cluster: reply failed", "subject", m.Subject, "err", err)
	}
}

// checkFence refuses a command older than the newest controller this node
// has obeyed.
func (n *Node) checkFence(f uint64) error {
	for {
		cur := n.maxFence.Load()
		if f < cur {
			n.stats.staleFence.Add(1)
			return fmt.Errorf("cluster: stale controller: fence %d, this node has seen %d", f, cur)
		}
		if n.maxFence.CompareAndSwap(cur, f) {
			return nil
		}
	}
}

func (n *Node) onCtl(m *nats.Msg) {
	var r ctlRequest
	if err := json.Unmarshal(m.Data, &r); err != nil || r.Fence == 0 || !ValidName(r.Pool) {
		n.malformed("controller command", m.Subject, err)
		n.reply(m, ctlReply{Error: "cluster: malformed controller command"})
		return
	}
	if err := n.checkFence(r.Fence); err != nil {
		n.reply(m, ctlReply{Error: err.Error()})
		return
	}
	go func() {
		switch r.Op {
		case "open":
			ctx, cancel := context.WithTimeout(n.ctx, n.cfg.OpenTimeout)
			id, err := n.holder.Open(ctx, r.Pool)
			cancel()
			if err != nil {
				n.reply(m, ctlReply{Error: err.Error()})
				return
			}
			n.log.Info("cluster: opened a replacement connection", "pool", r.Pool, "conn", id, "fence", r.Fence)
			n.publish()
			n.reply(m, ctlReply{Conn: id})
		case "retire":
			if err := n.holder.Retire(r.Pool, r.Conn); err != nil {
				n.reply(m, ctlReply{Error: err.Error()})
				return
			}
			n.log.Info("cluster: retired a connection replaced elsewhere", "pool", r.Pool, "conn", r.Conn, "fence", r.Fence)
			n.Changed()
			n.reply(m, ctlReply{Conn: r.Conn})
		default:
			n.reply(m, ctlReply{Error: fmt.Sprintf("cluster: unknown command %q", r.Op)})
		}
	}()
}

// onOrder executes another node's request on one of this node's
// connections: on its own goroutine, so that one slow request does not
// hold the others.
func (n *Node) onOrder(m *nats.Msg) {
	parts := strings.Split(m.Subject, ".")
	pool := parts[len(parts)-2]
	var r orderRequest
	if err := json.Unmarshal(m.Data, &r); err != nil || r.Method == "" || (r.Conn != "" && !ValidName(r.Conn)) ||
		(len(r.Params) > 0 && !json.Valid(r.Params)) {
		n.malformed("order request", m.Subject, err)
		n.reply(m, orderReply{Error: &replyError{Message: "cluster: malformed order request", NotSent: true}})
		return
	}
	if r.Fence != 0 {
		if err := n.checkFence(r.Fence); err != nil {
			n.reply(m, orderReply{Error: &replyError{Message: err.Error(), NotSent: true}})
			return
		}
	}
	n.stats.remoteServed.Add(1)
	go func() {
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
		defer cancel()
		if r.Owned {
			ctx = Owned(ctx)
		}
		if err := n.admit(ctx, pool, r.Conn, r.Method, r.Params); err != nil {
			n.log.Warn("cluster: order request refused", "method", r.Method, "pool", pool, "err", err)
			n.reply(m, orderReply{Error: &replyError{Message: "cluster: " + n.cfg.Name + " refused it: " + err.Error(), NotSent: true, Refused: true}})
			return
		}
		raw, err := n.placer.Place(ctx, pool, r.Conn, r.Method, r.Params)
		if err != nil {
			n.reply(m, orderReply{Error: toReplyError(err)})
			return
		}
		n.reply(m, orderReply{Result: raw})
	}()
}

var errNotHeld = errors.New("cluster: this node does not hold the controller lease")
