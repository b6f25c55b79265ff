package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stratbox/stratbox/clock"
)

// Option is an injected dependency of a Node (New).
type Option func(*Node)

// WithClock makes the node read time and take its timers from c (default:
// clock.Real): the liveness and publish tickers, the controller's lease,
// scan and settle timing, and its retry pauses. NATS's own timers (the KV
// entries' TTLs, the server's routes) stay on the wall clock.
func WithClock(c clock.Clock) Option {
	return func(n *Node) {
		if c != nil {
			n.clk = c
		}
	}
}

// WithLogger sets the node's logger (default: discarded); with
// Config.NATSLog the embedded server logs there as well.
func WithLogger(l *slog.Logger) Option {
	return func(n *Node) {
		if l != nil {
			n.log = l
		}
	}
}

// ErrStarted: Start was called twice, or after Close.
var ErrStarted = errors.New("cluster: node already started or closed")

// New validates cfg and returns a node that is not started: it starts no
// server, makes no directory and runs no goroutine (RATIONALE.md "Why
// does cluster.New not start anything?"). holder and placer are this
// node's connections (a *PoolHolder is both). Start joins the cluster;
// Close releases what Start made, and is safe on a node never started.
func New(cfg Config, holder Holder, placer Placer, opts ...Option) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if holder == nil || placer == nil {
		return nil, fmt.Errorf("%w: a node needs a holder and a placer", ErrConfig)
	}
	cfg = cfg.withDefaults()
	n := &Node{cfg: cfg, clk: clock.Real{}, log: slog.New(slog.DiscardHandler), holder: holder, placer: placer,
		poke: make(chan struct{}, 1), peers: map[string]*peer{}, conns: map[string]*entry{}, published: map[string]bool{},
		since: map[string]sinceState{}, health: map[string]PoolHealth{}, handled: map[string]bool{},
		inflight: map[string]bool{}, inc: newIncarnation(), upd: make(chan struct{})}
	for _, o := range opts {
		o(n)
	}
	n.log = n.log.With("node", cfg.Name)
	return n, nil
}

// Start joins the cluster: it starts the node's NATS server (local and
// embedded modes, in a temporary directory) or connects to the external
// cluster, opens the shared buckets (waiting for a JetStream quorum, up to
// Config.StartTimeout or ctx's end), publishes the node to the registry
// and starts its loops, which run until Close (ctx bounds the start only).
// A failed start releases what it made; the node cannot be started again.
func (n *Node) Start(ctx context.Context) (err error) {
	if n.started.Swap(true) || n.closed.Load() {
		return ErrStarted
	}
	defer func() {
		if err != nil {
			n.closed.Store(true)
			n.shutdown()
		}
	}()
	cfg := n.cfg
	var ref *refusals
	var admin jetstream.JetStream
	if cfg.Mode != ModeExternal {
		if n.keys, err = newKeys(); err != nil {
			return err
		}
		ref = newRefusals(n.log)
		s, tmp, err := startServer(cfg, n.log, n.keys, ref)
		if err != nil {
			return err
		}
		n.srv, n.tmp = s, tmp
		// The buckets are created with the admin key, on a connection
		// closed once they exist: the node's own may not touch $JS
		// administration.
		anc, err := nats.Connect("", nats.InProcessServer(s), nkeyOption(n.keys.admin), nats.Name("stratbox-"+cfg.Name+"-admin"))
		if err != nil {
			return fmt.Errorf("cluster: connect in-process (admin): %w", err)
		}
		defer anc.Close()
		if admin, err = jetstream.New(anc); err != nil {
			return fmt.Errorf("cluster: jetstream: %w", err)
		}
	}
	nc, err := connect(cfg, n.srv, n.keys.member, n.onAsyncError)
	if err != nil {
		return err
	}
	n.nc = nc
	if n.js, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if n.b, err = openBuckets(sctx, admin, n.js, cfg, n.log, ref); err != nil {
		return err
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	now := n.clk.Now()
	n.mu.Lock()
	n.peers[cfg.Name] = &peer{name: cfg.Name, region: cfg.Region, inc: n.inc, known: now, lastBeat: now}
	n.mu.Unlock()
	p := "stratbox." + cfg.Cluster
	for _, s := range []struct {
		subj string
		h    nats.MsgHandler
	}{{p + ".hb.*", n.onBeat}, {p + ".ctl." + cfg.Name, n.onCtl}, {p + ".orders.*." + cfg.Name, n.onOrder}} {
		sub, err := nc.Subscribe(s.subj, s.h)
		if err != nil {
			return fmt.Errorf("cluster: subscribe %s: %w", s.subj, err)
		}
		n.subs = append(n.subs, sub)
	}
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		return fmt.Errorf("cluster: flush: %w", err)
	}
	n.meter.sample()
	n.publish() // the registry knows this node before Start returns
	for _, loop := range []func(){n.beatLoop, n.publishLoop, n.watchLoop, n.controlLoop} {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); loop() }()
	}
	n.log.Info("cluster: node up", "mode", modeName(cfg.Mode), "cluster", cfg.Cluster, "region", cfg.Region, "replicas", cfg.Replicas)
	return nil
}

// Close leaves the cluster: it stops the loops, deletes this node's
// registry entries (a graceful exit: nothing to fail over), gives up the
// lease, and stops the server. It is idempotent, and does nothing more on
// a node that was never started or whose start failed.
func (n *Node) Close() error {
	if n.closed.Swap(true) {
		return nil
	}
	if n.b.reg == nil { // never started, or a start that failed (and cleaned up)
		n.shutdown()
		return nil
	}
	n.cancel()
	n.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n.mu.Lock()
	keys := make([]string, 0, len(n.published))
	for k := range n.published {
		keys = append(keys, k)
	}
	held, rev := n.lease.held, n.lease.rev
	n.mu.Unlock()
	for _, k := range keys {
		_ = n.b.reg.Delete(ctx, k)
	}
	_ = n.b.reg.Delete(ctx, "node."+n.cfg.Name)
	if held {
		_ = n.b.leases.Delete(ctx, leaseKey, jetstream.LastRevision(rev))
	}
	n.shutdown()
	return nil
}

// Crash stops the node as a crash would, for tests and benchmarks run in
// one process: no registry entry is removed, the lease is not given up,
// the server stops. (A real crash is a killed process; see the crash test.)
func (n *Node) Crash() {
	if n.closed.Swap(true) {
		return
	}
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	n.shutdown()
}

func (n *Node) shutdown() {
	if n.cancel != nil {
		n.cancel()
	}
	for _, s := range n.subs {
		_ = s.Unsubscribe()
	}
	if n.nc != nil {
		n.nc.Close()
	}
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
	if n.tmp != "" {
		os.RemoveAll(n.tmp)
	}
}

// pause waits d on the node's clock; false when the node stops first.
func (n *Node) pause(d time.Duration) bool {
	t := n.clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-n.ctx.Done():
		return false
	case <-t.C():
		return true
	}
}
