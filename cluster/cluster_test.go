package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
)

func TestConfigValidate(t *testing.T) {
	good := []Config{
		{Name: "n1"},
		{Mode: ModeEmbedded, Name: "n1", ClusterListen: "127.0.0.1:6222", Routes: []string{"127.0.0.1:6222"}},
		{Mode: ModeEmbedded, Name: "n1", ClusterListen: "127.0.0.1:6222", Routes: []string{"a:1", "b:2", "nats-route://c:3"}},
		{Mode: ModeExternal, Name: "n1", URLs: []string{"nats://10.0.0.1:4222"}},
	}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	bad := []struct {
		c    Config
		want string
	}{
		{Config{}, "node name"},
		{Config{Name: "a.b"}, "node name"},
		{Config{Name: "n", Mode: "mesh"}, `mode "mesh"`},
		{Config{Name: "n", Routes: []string{"a:1"}}, "need mode embedded or external"},
		{Config{Name: "n", Mode: ModeEmbedded, Routes: []string{"a:1"}}, "cluster_listen"},
		{Config{Name: "n", Mode: ModeEmbedded, ClusterListen: "a:1", Routes: []string{"a:1", "b:2"}}, "two-node cluster"},
		{Config{Name: "n", Mode: ModeEmbedded, ClusterListen: "a:1", Routes: []string{"a:1", "::nope"}}, "route"},
		{Config{Name: "n", Mode: ModeEmbedded, ClusterListen: "nohost"}, "cluster_listen"},
		{Config{Name: "n", Mode: ModeExternal}, "needs urls"},
		{Config{Name: "n", Mode: ModeExternal, URLs: []string{"http://x:1"}}, "nats://"},
		{Config{Name: "n", Placement: "random"}, "placement"},
		{Config{Name: "n", HeartbeatInterval: time.Second, NodeTimeout: time.Second}, "node_timeout"},
		{Config{Name: "n", LeaseTTL: time.Millisecond}, "lease_ttl"},
		{Config{Name: "n", Region: "eu west"}, "region"},
		// Security.
		{Config{Name: "n", Mode: ModeEmbedded, ClusterListen: "0.0.0.0:6222", Routes: []string{"10.0.0.1:6222"}}, "beyond loopback and lacks tls_cert"},
		{Config{Name: "n", Mode: ModeEmbedded, ClusterListen: "127.0.0.1:6222", Listen: "0.0.0.0:4222", Routes: []string{"127.0.0.1:6222"},
			Auth: Auth{TLS: TLS{Cert: "c", Key: "k"}}}, "listen 0.0.0.0:4222 is beyond loopback and lacks route authentication"},
		{Config{Name: "n", Mode: ModeEmbedded, ClusterListen: "127.0.0.1:6222", Routes: []string{"nats-route://r:s3cret@127.0.0.1:6222"}}, "r:xxxxx@"},
		{Config{Name: "n", Mode: ModeExternal, URLs: []string{"nats://u:s3cret@x:4222"}}, "u:xxxxx@x:4222 carries a login"},
		{Config{Name: "n", Auth: Auth{RouteUser: "r"}}, "route_user and route_password go together"},
		{Config{Name: "n", Auth: Auth{Users: []User{{Name: "a", Password: "p", Role: "admin"}}}}, `user a: role "admin"`},
		{Config{Name: "n", Auth: Auth{Users: []User{{Name: "a", Role: RoleStatus}}}}, "user a: give a password or an nkey"},
		{Config{Name: "n", Auth: Auth{Users: []User{{NKey: "SUAM", Role: RoleStatus}}}}, "user #1: nkey is not a user public key"},
		{Config{Name: "n", Auth: Auth{Users: []User{{Name: "a.b", Password: "p", Role: RoleMember}}}}, "a member's name is its node's name"},
		{Config{Name: "n", Auth: Auth{Login: Login{NKeySeed: "SUnope"}}}, "login: nkey seed"},
		{Config{Name: "n", Auth: Auth{TLS: TLS{Cert: "c", Key: "k", Verify: true}}}, "tls_verify needs tls_ca"},
	}
	for _, b := range bad {
		err := b.c.Validate()
		if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), b.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%v: %v, want an ErrConfig naming %q", b.c.Name, err, b.want)
		}
	}
	// Beyond loopback with TLS and a route password, or mutual TLS: accepted.
	for _, a := range []Auth{{RouteUser: "r", RoutePassword: "p", TLS: TLS{Cert: "c", Key: "k"}}, {TLS: TLS{Cert: "c", Key: "k", CA: "ca", Verify: true}}} {
		c := Config{Name: "n", Mode: ModeEmbedded, ClusterListen: "10.0.0.1:6222", Listen: "10.0.0.1:4222",
			Routes: []string{"10.0.0.1:6222", "10.0.0.2:6222", "10.0.0.3:6222"}, Auth: a}
		if err := c.Validate(); err != nil {
			t.Errorf("secured: %v", err)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                      "nats://127.0.0.1:4222",
		"nats://ops:hunter2@h:4222":                  "nats://ops:xxxxx@h:4222",
		"nats://tok3n@h:4222,tls://u:p%40ss@h2:4222": "nats://xxxxx@h:4222,tls://u:xxxxx@h2:4222",
		"nats://u:pa ss@h:4222":                      "nats://xxxxx@h:4222",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRank(t *testing.T) {
	cs := []candidate{
		{Node: "a1", Region: "eu", Fitness: Fitness{Latency: 2 * time.Millisecond, ActiveConns: 3}},
		{Node: "a2", Region: "eu", Fitness: Fitness{Latency: 2 * time.Millisecond, ActiveConns: 1}},
		{Node: "b1", Region: "us", Fitness: Fitness{Latency: 9 * time.Millisecond}},
		{Node: "c1", Region: "ap"}, // no latency measured yet
	}
	names := func(cs []candidate) string {
		var s []string
		for _, c := range cs {
			s = append(s, c.Node)
		}
		return strings.Join(s, ",")
	}
	// Closest: eu (2 ms) first, fittest within it; us; unmeasured last.
	if got := names(rank(cs, nil, Closest)); got != "a2,a1,b1,c1" {
		t.Errorf("closest: %s", got)
	}
	// Spread: the pool has 2 connections in eu, 1 in us, none in ap.
	if got := names(rank(cs, map[string]int{"eu": 2, "us": 1}, Spread)); got != "c1,b1,a2,a1" {
		t.Errorf("spread: %s", got)
	}
	// CPU and memory weigh in.
	busy := []candidate{{Node: "x", Fitness: Fitness{CPU: 0.9}}, {Node: "y", Fitness: Fitness{Mem: 0.1, ActiveConns: 1}}}
	if got := names(rank(busy, nil, Spread)); got != "y,x" {
		t.Errorf("fitness: %s", got)
	}
}

func TestAggregate(t *testing.T) {
	recs := []ConnRecord{
		{Pool: "p", Node: "a", ID: "m0", Region: "eu", Healthy: true, RTT: 100 * time.Microsecond, Carried: 2},
		{Pool: "p", Node: "a", ID: "m1", Region: "eu", Healthy: false},
		{Pool: "p", Node: "b", ID: "m0", Region: "us", Healthy: true, RTT: 300 * time.Microsecond, Carried: 1},
		{Pool: "p", Node: "dead", ID: "m0", Region: "us", Healthy: true},
		{Pool: "q", Node: "a", ID: "m2", Healthy: true},
	}
	h := aggregate(recs, func(r ConnRecord) bool { return r.Node != "dead" }, 0)
	p := h["p"]
	if p.Total != 4 || p.Healthy != 2 || p.Failed != 2 || p.AvgRTT != 200*time.Microsecond || p.Nodes != 2 || p.Regions != 2 ||
		p.Orders != 3 || !p.Degraded {
		t.Errorf("p: %+v", p)
	}
	if q := h["q"]; q.Total != 1 || q.Healthy != 1 || q.Degraded {
		t.Errorf("q: %+v", q)
	}
	if q := aggregate(recs[4:], func(ConnRecord) bool { return true }, 2)["q"]; !q.Degraded {
		t.Errorf("q below min_healthy 2 is not degraded: %+v", q)
	}
}

// A node with no [cluster] section: one in-process server with no port, the
// same code path (registry, health, lease, orders).
func TestClusterLocalMode(t *testing.T) {
	srv := startSim(t)
	c := Config{Name: "solo"}
	testTiming(&c)
	m := startMembers(t, srv.URL(), 2, []Config{c})[0]
	if m.n.ClientURL() != "" || m.n.Server().Addr() != nil {
		t.Fatalf("a local node listens: %q %v", m.n.ClientURL(), m.n.Server().Addr())
	}
	waitFor(t, m.n, "two healthy connections and the lease", 30*time.Second, func() bool {
		h := poolHealth(m.n, "main")
		return h.Healthy == 2 && h.Total == 2 && m.n.Status().Controller == "solo"
	})
	raw, err := m.n.Exchange("main", pool.RoundRobin).CallRaw(context.Background(), "private/get_order_state_by_label",
		[]byte(`{"currency":"BTC","label":"none"}`))
	if err != nil || len(raw) == 0 {
		t.Fatalf("local call: %s %v", raw, err)
	}
	// Not an order request: refused before any connection carries it.
	if _, err := m.n.Exchange("main", "").CallRaw(context.Background(), "public/get_time", []byte(`{}`)); !errors.Is(err, ErrRefused) {
		t.Fatalf("public/get_time through the cluster: %v, want refused", err)
	}
}

func TestClusterBadInput(t *testing.T) {
	// Unreachable NATS: a clear error, within the start timeout.
	_, err := startNode(context.Background(), Config{Mode: ModeExternal, Name: "x", URLs: []string{fmt.Sprintf("nats://127.0.0.1:%d", freePorts(t, 1)[0])}},
		NewPoolHolder(), NewPoolHolder())
	if err == nil || !strings.Contains(err.Error(), "connect to nats://127.0.0.1") {
		t.Fatalf("unreachable NATS: %v", err)
	}
	if _, err := New(Config{Name: "x"}, nil, nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("no holder: %v", err)
	}
	if err := NewPoolHolder().Add("a.b", nil, nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("bad pool name: %v", err)
	}
}

// Three members in one process on loopback ports: registration, health
// aggregation and metrics, order spreading over request/reply, failover of
// a failed connection to the fittest node, malformed messages and stale
// controllers refused.
func TestClusterThreeMembers(t *testing.T) {
	srv := startSim(t)
	cfgs := embeddedConfigs(t, "n1", "n2", "n3")
	// n3 is the fittest: the others report a busy CPU.
	for i := range cfgs {
		cpu := 0.9
		if i == 2 {
			cpu = 0
		}
		cfgs[i].Fitness = func() Fitness { return Fitness{CPU: cpu} }
		cfgs[i].Region = []string{"eu", "eu", "us"}[i]
	}
	start := time.Now()
	ms := startMembers(t, srv.URL(), 2, cfgs)
	t.Logf("three members up in %v", time.Since(start).Round(time.Millisecond))
	n1 := ms[0].n
	// Everything that crosses NATS during the test, to check that no key does.
	var seenMu sync.Mutex
	var seen [][]byte
	// (Not ">": interest in a missing node's subject would answer for it.)
	var spies []*nats.Subscription
	spyConn := adminConn(t, ms[2].n)
	for _, subj := range []string{"$KV.>", "$JS.>", "_INBOX.>", "stratbox.*.hb.*", "stratbox.*.ctl.*",
		"stratbox.*.orders.*.n1", "stratbox.*.orders.*.n2", "stratbox.*.orders.*.n3"} {
		spy, err := spyConn.Subscribe(subj, func(m *nats.Msg) {
			seenMu.Lock()
			seen = append(seen, append([]byte(m.Subject+" "), m.Data...))
			seenMu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		spies = append(spies, spy)
	}
	defer func() {
		for _, s := range spies {
			s.Unsubscribe()
		}
		seenMu.Lock()
		defer seenMu.Unlock()
		if len(seen) < 50 {
			t.Errorf("the spy saw only %d messages", len(seen))
		}
		for _, m := range seen {
			if bytes.Contains(m, []byte(sim.TestKeySecret)) {
				t.Errorf("an API secret crossed NATS: %.200s", m)
			}
		}
	}()

	t.Run("registration", func(t *testing.T) {
		for _, m := range ms {
			waitFor(t, m.n, "3 nodes and 6 connections", 30*time.Second, func() bool {
				st := m.n.Status()
				alive := 0
				for _, nd := range st.Nodes {
					if nd.Alive && nd.Conns == 2 {
						alive++
					}
				}
				return alive == 3 && len(st.Conns) == 6 && st.Controller != ""
			})
		}
		st := n1.Status()
		for _, c := range st.Conns {
			if c.Pool != "main" || c.Incarnation == "" || c.State != "ready" {
				t.Errorf("record %+v", c)
			}
		}
		// The same view from outside, as `host cluster status` reads it.
		nc, err := nats.Connect(ms[1].n.ClientURL(), nats.UserInfo("ops", "ops-secret"))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		ext, err := ReadStatus(context.Background(), nc, "", cfgs[0].NodeTimeout) // listen one node timeout, as documented
		if err != nil {
			t.Fatal(err)
		}
		if len(ext.Nodes) != 3 || len(ext.Conns) != 6 || ext.Controller != st.Controller || len(ext.Pools) != 1 || ext.Pools[0].Healthy != 6 {
			t.Fatalf("external status: %+v", ext)
		}
		var out bytes.Buffer
		_ = ext.Write(&out)
		for _, want := range []string{"controller " + st.Controller, "n3", "us", "main"} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("status lacks %q:\n%s", want, out.String())
			}
		}
	})

	t.Run("health", func(t *testing.T) {
		waitFor(t, n1, "6 healthy with a heartbeat time", 30*time.Second, func() bool {
			h := poolHealth(n1, "main")
			return h.Total == 6 && h.Healthy == 6 && h.Failed == 0 && h.AvgRTT > 0 && h.Nodes == 3 && h.Regions == 2 && !h.Degraded
		})
		var out bytes.Buffer
		if err := n1.WriteMetrics(&out); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`stratbox_cluster_pool_connections{pool="main",state="healthy"} 6`,
			`stratbox_cluster_pool_degraded{pool="main"} 0`, "stratbox_cluster_nodes_alive 3", "stratbox_cluster_pool_heartbeat_rtt_seconds{pool=\"main\"}"} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("metrics lack %q:\n%s", want, out.String())
			}
		}
	})

	t.Run("spreading", func(t *testing.T) {
		x := n1.Exchange("main", pool.RoundRobin)
		before := map[string]uint64{}
		for _, m := range ms {
			before[m.n.Name()] = m.n.Counters().RemoteServed
		}
		for i := range 6 {
			p := fmt.Sprintf(`{"instrument_name":"BTC-PERPETUAL","amount":10,"type":"limit","price":1000,"post_only":true,"label":"spread-%d"}`, i)
			raw, err := x.CallRaw(context.Background(), "private/buy", []byte(p))
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Order struct {
					ID    string `json:"order_id"`
					Label string `json:"label"`
				} `json:"order"`
			}
			if json.Unmarshal(raw, &r) != nil || r.Order.ID == "" || r.Order.Label != fmt.Sprintf("spread-%d", i) {
				t.Fatalf("raw result %s", raw)
			}
		}
		// Round robin over the six connections: two orders per node; the
		// remote ones arrived over request/reply.
		for _, m := range ms {
			got := 0
			for _, pv := range m.h.Pools() {
				for _, c := range pv.Conns {
					got += len(c.Orders)
				}
			}
			if got != 2 {
				t.Errorf("node %s carries %d orders, want 2", m.n.Name(), got)
			}
			served := m.n.Counters().RemoteServed - before[m.n.Name()]
			if want := map[bool]uint64{true: 0, false: 2}[m.n == n1]; served != want {
				t.Errorf("node %s served %d remote requests, want %d", m.n.Name(), served, want)
			}
		}
		// The exchange's errors come back as themselves from a remote node.
		_, err := x.CallOn(context.Background(), "n2", "private/buy", []byte(`{"instrument_name":"NOPE","amount":10,"price":1}`))
		var rpc *conn.RPCError
		if !errors.As(err, &rpc) || rpc.Code == 0 {
			t.Fatalf("remote exchange error: %v", err)
		}
		// A node that does not exist: not sent.
		if _, err := x.CallOn(context.Background(), "n9", "public/get_time", nil); !errors.Is(err, conn.ErrNotSent) {
			t.Fatalf("no such node: %v", err)
		}
	})

	t.Run("malformed", func(t *testing.T) {
		nc := adminConn(t, ms[2].n) // a member may not speak for another: only the admin key can forge
		before := n1.Counters().Malformed
		_ = nc.Publish("stratbox.stratbox.hb.n1", []byte("{not json"))
		_ = nc.Publish("stratbox.stratbox.hb.n1", []byte(`{"node":"n2","inc":"x"}`)) // a node speaking for another
		m, err := nc.Request("stratbox.stratbox.orders.main.n1", []byte(`{"method":`), 5*time.Second)
		if err != nil || !strings.Contains(string(m.Data), "malformed order request") {
			t.Fatalf("malformed order request: %v %s", err, m.Data)
		}
		m, err = nc.Request("stratbox.stratbox.ctl.n1", []byte(`[1,2]`), 5*time.Second)
		if err != nil || !strings.Contains(string(m.Data), "malformed controller command") {
			t.Fatalf("malformed command: %v", err)
		}
		if _, err := ms[2].n.b.reg.Put(context.Background(), "conn.main.n9.m0", []byte("garbage")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, n1, "5 malformed messages counted", 30*time.Second, func() bool { return n1.Counters().Malformed >= before+5 })
		if h := poolHealth(n1, "main"); h.Total != 6 {
			t.Fatalf("a malformed record counted: %+v", h)
		}
		// A stale controller's command is refused.
		if n1.maxFence.Load() == 0 {
			n1.maxFence.Store(5)
		}
		b, _ := json.Marshal(ctlRequest{Op: "open", Fence: n1.maxFence.Load() - 1, Pool: "main"})
		m, err = nc.Request("stratbox.stratbox.ctl.n1", b, 5*time.Second)
		if err != nil || !strings.Contains(string(m.Data), "stale controller") {
			t.Fatalf("stale fence: %v %s", err, m.Data)
		}
	})

	t.Run("failover", func(t *testing.T) {
		var ctl *member
		for _, m := range ms {
			if m.n.fence() != 0 {
				ctl = m
			}
		}
		if ctl == nil {
			t.Fatal("no controller")
		}
		// n2's connection m1 dies for good; n3 (the fittest) must take its place.
		victim := ms[1]
		t0 := time.Now()
		victim.main.Conn(1).Close()
		waitFor(t, ctl.n, "the failover", 15*time.Second, func() bool { return len(ctl.failovers()) > 0 })
		fo := ctl.failovers()[0]
		t.Logf("failed connection replaced in %v (fail_after %v): %+v", time.Since(t0).Round(time.Millisecond), cfgs[0].FailAfter, fo)
		if fo.FromNode != "n2" || fo.FromConn != "m1" || fo.NodeLost || fo.ToNode != "n3" || fo.ToConn != "r0" || fo.Err != nil {
			t.Fatalf("failover %+v: want n2/m1 → n3/r0", fo)
		}
		waitFor(t, n1, "6 healthy again, n2/m1 retired", 30*time.Second, func() bool {
			h := poolHealth(n1, "main")
			st := n1.Status()
			retired := true
			for _, c := range st.Conns {
				if c.Node == "n2" && c.ID == "m1" {
					retired = false
				}
			}
			return h.Healthy == 6 && h.Total == 6 && !h.Degraded && retired
		})
		// The pool was degraded, and recovered: both alerts were raised.
		var down, up bool
		for _, a := range ms[0].alerts() {
			down = down || (a.Pool == "main" && a.Degraded)
			up = up || (a.Pool == "main" && !a.Degraded && down)
		}
		if !down || !up {
			t.Fatalf("alerts %+v: want degraded then recovered", ms[0].alerts())
		}
		if n := len(ctl.failovers()); n != 1 {
			t.Fatalf("%d failovers, want 1", n)
		}
	})

	// A node whose watch missed the controller's Delete of a lost
	// connection (a watch restarted after the Delete's marker aged out)
	// still settles it, by the incident's claim.
	t.Run("missed delete", func(t *testing.T) {
		var m *member
		for _, c := range ms {
			if c.n.fence() == 0 {
				m = c
			}
		}
		// m's own view settled first (the failover above waited for n1's):
		// its registry watch may still show the retired connection.
		waitFor(t, m.n, "m's view: 6 healthy of 6", 30*time.Second, func() bool {
			h := poolHealth(m.n, "main")
			return h.Healthy == 6 && h.Total == 6
		})
		ghost := ConnRecord{Pool: "main", Node: "n8", ID: "m0", Incarnation: "gone1", Healthy: true, State: "ready", At: time.Now()}
		key := connKey(ghost.Pool, ghost.Node, ghost.ID)
		// And a live node's retired connection whose Delete it missed.
		other := ms[0]
		if other == m {
			other = ms[1]
		}
		phantom := ConnRecord{Pool: "main", Node: other.n.Name(), ID: "m7", Incarnation: other.n.inc, Healthy: true, State: "ready", At: time.Now()}
		m.n.mu.Lock()
		m.n.conns[key] = &entry{rec: ghost} // only in m's view: no controller fails it over
		m.n.conns[connKey(phantom.Pool, phantom.Node, phantom.ID)] = &entry{rec: phantom, seen: time.Now()}
		m.n.mu.Unlock()
		m.n.evalHealth()
		if h := poolHealth(m.n, "main"); h.Healthy != 7 || h.Failed != 1 || h.Total != 8 {
			t.Fatalf("the injected entries do not count: %+v", h)
		}
		m.n.settle()
		m.n.mu.Lock()
		settled := m.n.conns[key] == nil || m.n.conns[key].replaced
		m.n.mu.Unlock()
		if settled {
			t.Fatal("an unclaimed lost connection was settled")
		}
		if _, err := m.n.b.claims.Create(context.Background(), lostKey(ghost), []byte(`{"node":"test"}`)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, m.n, "the claimed connection settled and the phantom expired", 30*time.Second, func() bool {
			h := poolHealth(m.n, "main")
			return h.Failed == 0 && h.Total == 6 && h.Healthy == 6
		})
	})
}
