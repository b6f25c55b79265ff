package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/pool"
)

// syncBuffer is a log sink written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testGuard stands for the host's engine checks: amounts over 100 are
// refused, and everything that places or amends once killed.
type testGuard struct {
	killed atomic.Bool
	mu     sync.Mutex
	seen   []RemoteOrder
}

func (g *testGuard) check(o RemoteOrder) error {
	g.mu.Lock()
	g.seen = append(g.seen, o)
	g.mu.Unlock()
	place := o.Method == "private/buy" || o.Method == "private/sell" || o.Method == "private/edit"
	if place && g.killed.Load() {
		return errors.New("the kill switch is on")
	}
	var p struct {
		Amount float64 `json:"amount"`
	}
	if place && (json.Unmarshal(o.Params, &p) != nil || p.Amount > 100) {
		return fmt.Errorf("amount %g over max_order_amount 100", p.Amount)
	}
	return nil
}

func (g *testGuard) last() RemoteOrder {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.seen) == 0 {
		return RemoteOrder{}
	}
	return g.seen[len(g.seen)-1]
}

// Against a three-member cluster on loopback, the attacks that RATIONALE.md
// "Why is the cluster's NATS authenticated by default, even on loopback?"
// answers: nobody without credentials gets in (client or route), a member may
// publish only what members publish and administer no stream, and an order
// request passes the allow-list and the host's checks (kill switch
// included) before any connection carries it.
func TestClusterSecurity(t *testing.T) {
	srv := startSim(t)
	cfgs := embeddedConfigs(t, "n1", "n2", "n3")
	guards := make([]*testGuard, len(cfgs))
	for i := range cfgs {
		cfgs[i].Auth.Users = append(cfgs[i].Auth.Users, User{Name: "n4", Password: "n4-secret", Role: RoleMember})
		guards[i] = &testGuard{}
		cfgs[i].Guard = guards[i].check
	}
	ms := startMembers(t, srv.URL(), 1, cfgs)
	n1, n2, n3 := ms[0].n, ms[1].n, ms[2].n
	for _, m := range ms {
		waitFor(t, m.n, "3 nodes with a healthy connection each", 30*time.Second, func() bool {
			return poolHealth(m.n, "main").Healthy == 3 && m.n.Status().Controller != ""
		})
	}
	url := n1.ClientURL()

	t.Run("anonymous and wrong logins refused", func(t *testing.T) {
		if nc, err := nats.Connect(url); !errors.Is(err, nats.ErrAuthorization) {
			if nc != nil {
				nc.Close()
			}
			t.Fatalf("an anonymous client: %v, want an authorization violation", err)
		}
		if nc, err := nats.Connect(url, nats.UserInfo("ops", "guess")); !errors.Is(err, nats.ErrAuthorization) {
			if nc != nil {
				nc.Close()
			}
			t.Fatalf("a wrong password: %v", err)
		}
		c := Config{Mode: ModeExternal, Name: "n4", URLs: []string{url}, Auth: Auth{Login: Login{User: "n4", Password: "wrong"}}}
		testTiming(&c)
		_, err := startNode(context.Background(), c, NewPoolHolder(), NewPoolHolder())
		if err == nil || !strings.Contains(err.Error(), "refused this login") || strings.Contains(err.Error(), "wrong") {
			t.Fatalf("a member with the wrong password: %v", err)
		}
	})

	t.Run("a member publishes only what members publish", func(t *testing.T) {
		// A member logging in over TCP (external mode) works as one...
		c := Config{Mode: ModeExternal, Name: "n4", URLs: []string{url}, Auth: Auth{Login: Login{User: "n4", Password: "n4-secret"}}}
		testTiming(&c)
		h := NewPoolHolder()
		n4, err := startNode(context.Background(), c, h, h)
		if err != nil {
			t.Fatal(err)
		}
		defer n4.Close()
		waitFor(t, n1, "n4 alive", 30*time.Second, func() bool {
			for _, nd := range n1.Status().Nodes {
				if nd.Name == "n4" && nd.Alive {
					return true
				}
			}
			return false
		})
		if d := n4.Counters().Denied; d != 0 {
			t.Fatalf("a member's own work was denied %d times", d)
		}
		// ...and cannot delete, purge or replace the streams, move their
		// leaders, speak for another node, or take another node's order
		// requests: each is refused by the server (counted as it reports
		// it), whether the member logs in over TCP or is a host's own.
		leases, reg := "KV_"+bucketName("stratbox", "leases"), "KV_"+bucketName("stratbox", "registry")
		forbidden := []string{"$JS.API.STREAM.DELETE." + leases, "$JS.API.STREAM.DELETE." + reg, "$JS.API.STREAM.PURGE." + reg,
			"$JS.API.STREAM.UPDATE." + leases, "$JS.API.STREAM.CREATE.KV_evil", "$JS.API.STREAM.MSG.DELETE." + leases,
			"$JS.API.STREAM.LEADER.STEPDOWN." + leases, "$JS.API.META.LEADER.STEPDOWN", "$JS.API.ACCOUNT.PURGE.$G",
			"stratbox.stratbox.hb.n1", "$KV." + bucketName("stratbox", "registry") + ".node.n1"}
		for _, nd := range []*Node{n4, n3} {
			before := nd.Counters().Denied
			for _, subj := range forbidden {
				if err := nd.nc.PublishRequest(subj, nats.NewInbox(), []byte(`{}`)); err != nil {
					t.Fatal(err)
				}
			}
			sub, err := nd.nc.Subscribe("stratbox.stratbox.orders.*.n1", func(*nats.Msg) {})
			if err != nil {
				t.Fatal(err)
			}
			// The high-level call fails too (no answer within its time).
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := nd.js.DeleteStream(ctx, leases); err == nil {
				t.Fatalf("%s deleted the leases stream", nd.Name())
			}
			cancel()
			want := before + uint64(len(forbidden)) + 2
			waitFor(t, nd, fmt.Sprintf("%s refused %d times", nd.Name(), want-before), 30*time.Second, func() bool { return nd.Counters().Denied >= want })
			_ = sub.Unsubscribe()
			if nd == n3 {
				ms[2].deniedOK.Store(nd.Counters().Denied) // the test's own attempts, not the member's work
			}
		}
		// The streams are all there, and the cluster still has its controller.
		admin := adminConn(t, n1)
		js, _ := jetstream.New(admin)
		for _, kind := range bucketKinds {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if _, err := js.Stream(ctx, "KV_"+bucketName("stratbox", kind)); err != nil {
				t.Fatalf("stream %s: %v", kind, err)
			}
			cancel()
		}
		waitFor(t, n1, "a controller", 30*time.Second, func() bool { return n1.Status().Controller != "" })
	})

	t.Run("only order methods are forwarded", func(t *testing.T) {
		x := n2.Exchange("main", "")
		before := n1.Counters().Refused
		for _, m := range []string{"private/withdraw", "private/get_account_summary", "private/disable_cancel_on_disconnect",
			"private/cancel_all", "public/get_time", "private/subscribe"} {
			_, err := x.CallOn(context.Background(), "n1", m, []byte(`{"currency":"BTC","amount":1,"address":"x"}`))
			if !errors.Is(err, ErrRefused) || !errors.Is(err, conn.ErrNotSent) || !strings.Contains(err.Error(), "not one a member may ask for") {
				t.Fatalf("%s forwarded: %v", m, err)
			}
		}
		// The same over a member's raw connection.
		b, _ := json.Marshal(orderRequest{Method: "private/withdraw", Params: json.RawMessage(`{"currency":"BTC","amount":1,"address":"x"}`)})
		msg, err := n3.nc.Request("stratbox.stratbox.orders.main.n1", b, 5*time.Second)
		if err != nil || !strings.Contains(string(msg.Data), "refused") {
			t.Fatalf("raw withdraw: %v %s", err, msg.Data)
		}
		if got := n1.Counters().Refused - before; got != 7 {
			t.Fatalf("n1 counted %d refusals, want 7", got)
		}
	})

	t.Run("the host's checks and kill switch apply", func(t *testing.T) {
		x := n2.Exchange("main", pool.RoundRobin)
		big := `{"instrument_name":"BTC-PERPETUAL","amount":5000,"type":"limit","price":1000,"post_only":true,"label":"big"}`
		if _, err := x.CallOn(context.Background(), "n1", "private/buy", []byte(big)); !errors.Is(err, ErrRefused) ||
			!strings.Contains(err.Error(), "max_order_amount") {
			t.Fatalf("an order over the limit: %v", err)
		}
		small := `{"instrument_name":"BTC-PERPETUAL","amount":10,"type":"limit","price":1000,"post_only":true,"label":"small"}`
		raw, err := x.CallOn(context.Background(), "n1", "private/buy", []byte(small))
		var r struct {
			Order struct {
				ID string `json:"order_id"`
			} `json:"order"`
		}
		if err != nil || json.Unmarshal(raw, &r) != nil || r.Order.ID == "" {
			t.Fatalf("an order within the limits: %s %v", raw, err)
		}
		// An amend is checked with its order's instrument, as the exchange has it.
		edit := fmt.Sprintf(`{"order_id":%q,"amount":20,"price":1000.5}`, r.Order.ID)
		if _, err := x.CallOn(context.Background(), "n1", "private/edit", []byte(edit)); err != nil {
			t.Fatalf("amend: %v", err)
		}
		if o := guards[0].last(); o.Method != "private/edit" || o.Instrument != "BTC-PERPETUAL" {
			t.Fatalf("the guard saw %+v", o)
		}
		if _, err := x.CallOn(context.Background(), "n1", "private/edit", []byte(fmt.Sprintf(`{"order_id":%q,"amount":900,"price":1000}`, r.Order.ID))); !errors.Is(err, ErrRefused) {
			t.Fatalf("an amend over the limit: %v", err)
		}
		// The kill switch: no new order, no amend; the cancel still goes.
		guards[0].killed.Store(true)
		if _, err := x.CallOn(context.Background(), "n1", "private/buy", []byte(small)); !errors.Is(err, ErrRefused) ||
			!strings.Contains(err.Error(), "kill switch") {
			t.Fatalf("an order after the kill switch: %v", err)
		}
		if _, err := x.CallOn(context.Background(), "n1", "private/cancel", []byte(fmt.Sprintf(`{"order_id":%q}`, r.Order.ID))); err != nil {
			t.Fatalf("a cancel after the kill switch: %v", err)
		}
		// The controller's re-establishment on its own node passes the same gate.
		guards[0].killed.Store(false)
		if _, err := n1.remote(context.Background(), "n1", "main", "", "private/withdraw", []byte(`{}`), 1); !errors.Is(err, ErrRefused) {
			t.Fatalf("a local call outside the allow-list: %v", err)
		}
	})

	t.Run("no server joins without the route credentials", func(t *testing.T) {
		routesBefore := []int{n1.Server().NumRoutes(), n2.Server().NumRoutes(), n3.Server().NumRoutes()}
		for _, a := range []Auth{{RouteUser: "route", RoutePassword: "not-the-password"}, {}} {
			port := freePorts(t, 1)[0]
			own := fmt.Sprintf("127.0.0.1:%d", port)
			// Its whole log, the NATS server's included, at debug level.
			var logged syncBuffer
			c := Config{Mode: ModeEmbedded, Name: "rogue", ClusterListen: own, Routes: append(append([]string(nil), cfgs[0].Routes...), own), Auth: a,
				NATSLog: true}
			testTiming(&c)
			h := NewPoolHolder()
			_, err := startNode(context.Background(), c, h, h, WithLogger(slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			if err == nil || !strings.Contains(err.Error(), "every peer refused") || !strings.Contains(err.Error(), "authorization violation") ||
				strings.Contains(err.Error(), "not-the-password") {
				t.Fatalf("a rogue server (route password %t): %v", a.RoutePassword != "", err)
			}
			if out := logged.String(); !strings.Contains(out, "Authorization Violation") || strings.Contains(out, "not-the-password") {
				t.Fatalf("the rogue's log lacks the refusal or shows its route password:\n%s", out)
			}
		}
		routesAfter := []int{n1.Server().NumRoutes(), n2.Server().NumRoutes(), n3.Server().NumRoutes()}
		if fmt.Sprint(routesBefore) != fmt.Sprint(routesAfter) {
			t.Fatalf("routes %v before the rogues, %v after", routesBefore, routesAfter)
		}
		for _, nd := range n1.Status().Nodes {
			if nd.Name == "rogue" {
				t.Fatal("the rogue is in the registry")
			}
		}
	})
}

// TLS on both listeners, members authenticated on routes by their
// certificates alone (mutual TLS): the cluster forms, a reader with the
// CA, a certificate and a login gets in, and a server with another CA's
// certificate, an expired certificate or a missing file does not, each
// with an error naming why.
func TestClusterTLS(t *testing.T) {
	srv := startSim(t)
	ca := newTestCA(t, "stratbox-test")
	cfgs := embeddedConfigs(t, "n1", "n2", "n3")
	for i := range cfgs {
		cfgs[i].Auth.RouteUser, cfgs[i].Auth.RoutePassword = "", ""
		cfgs[i].Auth.TLS = ca.valid(t, cfgs[i].Name)
	}
	ms := startMembers(t, srv.URL(), 1, cfgs)
	n1 := ms[0].n
	waitFor(t, n1, "3 nodes over TLS routes", 30*time.Second, func() bool { return poolHealth(n1, "main").Healthy == 3 })

	url := n1.ClientURL()
	reader := ca.valid(t, "ops")
	opts, err := ConnectOptions(Auth{Login: Login{User: "ops", Password: "ops-secret"}, TLS: reader})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("a reader with a certificate and a login: %v", err)
	}
	st, err := ReadStatus(context.Background(), nc, "", cfgs[0].NodeTimeout)
	nc.Close()
	if err != nil || len(st.Nodes) != 3 {
		t.Fatalf("status over TLS: %+v %v", st, err)
	}
	// Without trusting the CA, or without a client certificate: refused.
	if nc, err := nats.Connect(url, nats.UserInfo("ops", "ops-secret")); err == nil {
		nc.Close()
		t.Fatal("a client without TLS got in")
	}
	noCert, _ := ConnectOptions(Auth{Login: Login{User: "ops", Password: "ops-secret"}, TLS: TLS{CA: ca.path}})
	if nc, err := nats.Connect(url, noCert...); err == nil {
		nc.Close()
		t.Fatal("a client without a certificate got in (tls_verify)")
	}

	// A server whose certificate another authority signed: refused by
	// every member, at once.
	other := newTestCA(t, "someone-else")
	port := freePorts(t, 1)[0]
	own := fmt.Sprintf("127.0.0.1:%d", port)
	rogue := Config{Mode: ModeEmbedded, Name: "rogue", ClusterListen: own, Routes: append(append([]string(nil), cfgs[0].Routes...), own),
		Auth: Auth{TLS: other.valid(t, "rogue")}}
	testTiming(&rogue)
	h := NewPoolHolder()
	if _, err := startNode(context.Background(), rogue, h, h); err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Fatalf("a rogue with another CA: %v", err)
	}

	// Bad input: an expired certificate, a missing file, a key without a
	// certificate.
	c, k := ca.issue(t, "old", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	bad := Config{Mode: ModeEmbedded, Name: "old", ClusterListen: own, Routes: []string{own}, Auth: Auth{TLS: TLS{Cert: c, Key: k, CA: ca.path}}}
	if _, err := startNode(context.Background(), bad, h, h); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c) ||
		!strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired certificate: %v", err)
	}
	bad.Auth.TLS.Cert = c + ".missing"
	if _, err := startNode(context.Background(), bad, h, h); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c+".missing") {
		t.Fatalf("a missing certificate: %v", err)
	}
	bad.Auth.TLS.Cert = ""
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "tls_cert and tls_key") {
		t.Fatalf("a key without a certificate: %v", err)
	}
	if _, err := ConnectOptions(Auth{TLS: TLS{CA: c}}); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired CA file for a client: %v", err)
	}
}
