package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

func startSim(tb testing.TB) *sim.Server {
	tb.Helper()
	// A test_request may wait 2 s for its answer, and a connection 2 s for
	// a frame (connConfig), as in conn's tests: beside a busy CPU under
	// -race, 100 ms was missed now and then, and a connection the test did
	// not drop was lost (no cluster test relies on the exchange's
	// heartbeat to notice a loss: they close connections or kill nodes).
	srv, err := sim.Start(context.Background(), sim.Config{Seed: 1, MinHeartbeat: 100 * time.Millisecond, HeartbeatGrace: 2 * time.Second,
		Tick: 20 * time.Millisecond, RateLimits: sim.RateLimits{Disabled: true}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv
}

func connConfig(url string) conn.Config {
	cc := conn.DefaultConfig()
	cc.URL = url
	cc.Credentials = conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret, Method: conn.AuthSignature}
	cc.HeartbeatInterval = 100 * time.Millisecond
	cc.SilenceMultiple = 20
	cc.Backoff = conn.Backoff{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond}
	return cc
}

func poolConfig(url string, size int) pool.Config {
	return pool.Config{Conn: connConfig(url), Size: size, Policy: pool.LeastLoaded, Limits: pool.Limits{Disabled: true}}
}

// startPool starts a pool of size connections to the simulator; changed
// (may be nil) is told of every change of a member's health.
func startPool(ctx context.Context, url string, size int, changed func()) (*pool.Pool, error) {
	p, err := pool.New(poolConfig(url, size), nil, func(pool.Event) {
		if changed != nil {
			changed()
		}
	}, nil)
	if err != nil {
		return nil, err
	}
	if err := p.Start(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// member is a node with its holder and pool.
type member struct {
	n    *Node
	h    *PoolHolder
	main *pool.Pool
	mu   sync.Mutex
	fo   []Failover
	al   []Alert
	// deniedOK: permission refusals a test caused on purpose.
	deniedOK atomic.Uint64
}

func (m *member) failovers() []Failover {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Failover(nil), m.fo...)
}

func (m *member) alerts() []Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Alert(nil), m.al...)
}

// freePorts reserves n loopback ports (listen on :0, note, close).
func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	var out []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// testTiming makes a test cluster react in tenths of a second.
func testTiming(c *Config) {
	c.HeartbeatInterval = 100 * time.Millisecond
	c.NodeTimeout = time.Second
	c.PublishInterval = 200 * time.Millisecond
	c.RegistryTTL = time.Second
	c.LeaseTTL = time.Second
	c.FailAfter = 300 * time.Millisecond
	c.ReestablishWait = 3 * time.Second
	c.StartTimeout = 30 * time.Second
}

func embeddedConfigs(tb testing.TB, names ...string) []Config {
	ports := freePorts(tb, len(names))
	var routes []string
	for _, p := range ports {
		routes = append(routes, "127.0.0.1:"+strconv.Itoa(p))
	}
	out := make([]Config, len(names))
	auth := testAuth(tb)
	for i, name := range names {
		out[i] = Config{Mode: ModeEmbedded, Name: name, ClusterListen: routes[i], Routes: routes, Auth: auth}
		testTiming(&out[i])
	}
	return out
}

// testAuth is a test cluster's credentials: a route password made for
// the test, and a status login "ops".
func testAuth(tb testing.TB) Auth {
	return Auth{RouteUser: "route", RoutePassword: randomSecret(tb), Users: []User{{Name: "ops", Password: "ops-secret", Role: RoleStatus}}}
}

func randomSecret(tb testing.TB) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// startMembers starts one node per config concurrently (a clustered
// node's New waits for the JetStream quorum), each holding a pool "main"
// of size connections to the simulator at url.
func startMembers(tb testing.TB, url string, size int, cfgs []Config) []*member {
	tb.Helper()
	ms, err := launchMembers(url, size, cfgs)
	tb.Cleanup(func() {
		// The members' own NATS permissions are enough for all they did.
		for _, m := range ms {
			if m.n != nil {
				if d := m.n.Counters().Denied - m.deniedOK.Load(); d != 0 {
					tb.Errorf("node %s: %d of its publishes or subscriptions were refused by its NATS permissions", m.n.Name(), d)
				}
			}
		}
		closeMembers(ms)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ms
}

func closeMembers(ms []*member) {
	for _, m := range ms {
		if m.n != nil {
			m.n.Close()
		}
		m.h.Close()
		if m.main != nil {
			m.main.Close()
		}
	}
}

// launchMembers is startMembers without the cleanup.
func launchMembers(url string, size int, cfgs []Config) ([]*member, error) {
	ms := make([]*member, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i, c := range cfgs {
		var opts []Option
		if os.Getenv("CLUSTER_DEBUG") != "" {
			opts = append(opts, WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		}
		m := &member{h: NewPoolHolder()}
		ms[i] = m
		c.OnFailover = func(f Failover) { m.mu.Lock(); m.fo = append(m.fo, f); m.mu.Unlock() }
		c.OnAlert = func(a Alert) { m.mu.Lock(); m.al = append(m.al, a); m.mu.Unlock() }
		wg.Add(1)
		go func() {
			defer wg.Done()
			var changed atomic.Pointer[Node]
			p, err := startPool(context.Background(), url, size, func() {
				if n := changed.Load(); n != nil {
					n.Changed()
				}
			})
			if err != nil {
				errs[i] = err
				return
			}
			m.main = p
			_ = m.h.Add("main", p, func(context.Context) (*pool.Pool, error) { return startPool(context.Background(), url, 1, nil) })
			n, err := startNode(context.Background(), c, m.h, m.h, opts...)
			if err != nil {
				errs[i] = fmt.Errorf("node %s: %w", c.Name, err)
				return
			}
			m.n = n
			changed.Store(n)
		}()
	}
	wg.Wait()
	return ms, errors.Join(errs...)
}

// waitFor waits, woken by every change of n's view, until pred holds.
func waitFor(tb testing.TB, n *Node, what string, timeout time.Duration, pred func() bool) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ch := n.Updated()
		if pred() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

func poolHealth(n *Node, name string) PoolHealth {
	for _, h := range n.Health() {
		if h.Pool == name {
			return h
		}
	}
	return PoolHealth{}
}

// adminConn connects to n's server in-process with its admin key (the
// tests' spies and forgers; no member has this key).
func adminConn(tb testing.TB, n *Node) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(n.srv), nkeyOption(n.keys.admin))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// startNode is New and Start; a node whose start failed is closed.
func startNode(ctx context.Context, c Config, h Holder, p Placer, opts ...Option) (*Node, error) {
	n, err := New(c, h, p, opts...)
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}
