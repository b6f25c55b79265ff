package cluster

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/sim"
)

// The crash test's child: a member started as a separate process (the test
// binary again, with these variables set), so that SIGKILL kills it as a
// crash would — sockets reset, nothing said to anyone.
const (
	childEnv    = "STRATBOX_CLUSTER_CHILD"
	childSim    = "STRATBOX_CLUSTER_SIM"
	childRoutes = "STRATBOX_CLUSTER_ROUTES"
	childListen = "STRATBOX_CLUSTER_LISTEN"
	childOrders = "STRATBOX_CLUSTER_ORDERS"
	childRoute  = "STRATBOX_CLUSTER_ROUTE_PASSWORD"
)

func crashLabel(i int) string { return "crash-" + strconv.Itoa(i) }

// runChild is the child member: node n3 with a pool of two connections, on
// which it places the orders; then it waits to be killed.
func runChild() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 1 }
	url := os.Getenv(childSim)
	k, _ := strconv.Atoi(os.Getenv(childOrders))
	p, err := startPool(context.Background(), url, 2, nil)
	if err != nil {
		return fail(err)
	}
	h := NewPoolHolder()
	_ = h.Add("main", p, func(context.Context) (*pool.Pool, error) { return startPool(context.Background(), url, 1, nil) })
	c := Config{Mode: ModeEmbedded, Name: "n3", ClusterListen: os.Getenv(childListen), Routes: strings.Split(os.Getenv(childRoutes), ","),
		Auth: Auth{RouteUser: "route", RoutePassword: os.Getenv(childRoute)}}
	testTiming(&c)
	n, err := startNode(context.Background(), c, h, h)
	if err != nil {
		return fail(err)
	}
	for i := range k {
		prm := fmt.Sprintf(`{"instrument_name":"BTC-PERPETUAL","amount":%d,"type":"limit","price":%d,"post_only":true,"label":%q}`,
			10*(i+1), 1000+i, crashLabel(i))
		if _, err := h.Place(context.Background(), "main", "", "private/buy", []byte(prm)); err != nil {
			return fail(err)
		}
	}
	n.publish()
	fmt.Println("READY")
	select {}
}

// A member killed with SIGKILL: its connections are replaced on the other
// nodes and the orders they carried are re-established exactly once.
func TestClusterCrash(t *testing.T) {
	const orders = 4
	srv := startSim(t)
	cfgs := embeddedConfigs(t, "n1", "n2", "n3")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childSim+"="+srv.URL(), childRoutes+"="+strings.Join(cfgs[2].Routes, ","),
		childListen+"="+cfgs[2].ClusterListen, childOrders+"="+strconv.Itoa(orders), childRoute+"="+cfgs[2].Auth.RoutePassword)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() { once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) }
	t.Cleanup(kill)
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "READY" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	ms := startMembers(t, srv.URL(), 1, cfgs[:2]) // the two parents join the child: a quorum of three
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("child failed: %s", stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("child not ready: %s", stderr.String())
	}
	n1 := ms[0].n
	waitFor(t, n1, "the child's orders in the registry", 15*time.Second, func() bool {
		st := n1.Status()
		var got int
		for _, c := range st.Conns {
			if c.Node == "n3" {
				got += len(c.Orders)
			}
		}
		return got == orders
	})
	before := map[string]sim.Order{}
	childConns := map[uint64]bool{}
	for _, o := range srv.OpenOrders(sim.TestKeyID) {
		if strings.HasPrefix(o.Label, "crash-") {
			before[o.Label] = o
			childConns[o.ConnID] = true
		}
	}
	if len(before) != orders || len(childConns) != 2 {
		t.Fatalf("before the crash: %d orders on %d connections, want %d on 2", len(before), len(childConns), orders)
	}
	// Where the shared buckets' stream leaders are: a killed leader
	// stalls that bucket's writes for an election (4-9 s).
	var leaders []string
	for _, b := range []string{"registry", "leases", "claims"} {
		if s, err := n1.js.Stream(context.Background(), "KV_"+bucketName("stratbox", b)); err == nil {
			if info, err := s.Info(context.Background()); err == nil && info.Cluster != nil {
				leaders = append(leaders, b+"="+info.Cluster.Leader)
			}
		}
	}
	controller := n1.Status().Controller

	t0 := time.Now()
	t.Logf("%s: SIGKILL", t0.Format("15:04:05.000"))
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	kill()
	all := func() []Failover { return append(ms[0].failovers(), ms[1].failovers()...) }
	reest := func() (n uint64) {
		for _, m := range ms {
			n += m.n.Counters().Reestablished
		}
		return n
	}
	waitFor(t, n1, "both lost connections replaced and the orders re-established", 40*time.Second, func() bool {
		return len(all()) == 2 && reest() == orders
	})
	took := time.Since(t0)
	var placedOn []string
	for _, f := range all() {
		if !f.NodeLost || f.FromNode != "n3" || f.ToNode == "n3" || f.ToNode == "" {
			t.Fatalf("failover %+v", f)
		}
		placedOn = append(placedOn, fmt.Sprintf("%s/%s→%s/%s (%d orders, %v)", f.FromNode, f.FromConn, f.ToNode, f.ToConn, f.Reestablished, f.Took.Round(time.Millisecond)))
	}
	t.Logf("SIGKILL of n3 (controller before: %s; bucket leaders: %s) → 2 connections replaced and %d orders re-established in %v: %s",
		controller, strings.Join(leaders, " "), orders, took.Round(time.Millisecond), strings.Join(placedOn, "; "))
	if took > 30*time.Second {
		t.Errorf("failover took %v, bound 30s", took)
	}
	check := func() {
		t.Helper()
		got := map[string][]sim.Order{}
		for _, o := range srv.OpenOrders(sim.TestKeyID) {
			if strings.HasPrefix(o.Label, "crash-") {
				got[o.Label] = append(got[o.Label], o)
			}
		}
		for i := range orders {
			l := crashLabel(i)
			os := got[l]
			if len(os) != 1 {
				t.Fatalf("%s: %d open orders, want exactly 1: %+v", l, len(os), os)
			}
			o, was := os[0], before[l]
			if o.OrderID == was.OrderID || childConns[o.ConnID] || o.Amount != was.Amount || o.Price != was.Price || o.Direction != "buy" {
				t.Fatalf("%s re-established as %+v, was %+v", l, o, was)
			}
		}
	}
	check()
	// Never twice: the controller trying again finds every claim taken.
	var ctl *member
	for _, m := range ms {
		if m.n.fence() != 0 {
			ctl = m
		}
	}
	if ctl == nil {
		t.Fatal("no controller after the crash")
	}
	fo := all()[0]
	o := Order{Label: "crash-0", OrderID: before["crash-0"].OrderID, Instrument: "BTC-PERPETUAL", Direction: "buy", Type: "limit",
		Price: before["crash-0"].Price, Amount: before["crash-0"].Amount}
	dup := ctl.n.Counters().DuplicatePrevented
	if ctl.n.reestablish(o, fo.ToNode, "main", fo.ToConn, ctl.n.fence(), "") {
		t.Fatal("an order was re-established twice")
	}
	if ctl.n.Counters().DuplicatePrevented != dup+1 {
		t.Fatal("the second attempt was not refused by its claim")
	}
	if r := reest(); r != orders {
		t.Fatalf("%d re-establishments, want %d", r, orders)
	}
	check()
	// The pool is whole again across the cluster: 2 parents' + 2 replacements.
	waitFor(t, n1, "the pool healthy again without n3", 30*time.Second, func() bool {
		h := poolHealth(n1, "main")
		if h.Healthy == 4 && h.Failed == 0 && !h.Degraded {
			return true
		}
		if os.Getenv("CLUSTER_DEBUG") != "" {
			n1.mu.Lock()
			for k, e := range n1.conns {
				t.Logf("%s healthy=%v expired=%v replaced=%v inc=%s alive=%v", k, e.rec.Healthy, e.expired, e.replaced, e.rec.Incarnation, n1.aliveLocked(e.rec.Node, e.rec.Incarnation, time.Now()))
			}
			n1.mu.Unlock()
			t.Logf("health %+v", h)
		}
		return false
	})
}
