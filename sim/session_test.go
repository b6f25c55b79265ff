package sim_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/sim"
)

func TestSignatureOfficialVector(t *testing.T) {
	// docs/deribit.md §2: Deribit's own example.
	got := sim.Signature("AMANDASECRECT", 1576074319000, "1iqt2wls", "")
	const want = "56590594f97921b09b18f166befe0d1319b198bbcdad7ca73382de2f88fe9aa1"
	if got != want {
		t.Fatalf("Signature = %s, want %s", got, want)
	}
}

func TestEnvelopeAndSessionMethods(t *testing.T) {
	srv := quiet(t, sim.Config{})
	c := dial(t, srv)

	f := c.call("public/hello", map[string]any{"client_name": "test", "client_version": "1"})
	if f.Error != nil || !f.Testnet || f.UsIn == 0 {
		t.Fatalf("hello: %s", f.Raw)
	}
	var v struct{ Version string }
	c.ok("public/test", map[string]any{}, &v)
	if v.Version != "1.2.26" {
		t.Fatalf("public/test version %q", v.Version)
	}
	e := c.fails("public/test", map[string]any{"expected_result": "exception"}, 11094)
	if e.Message != "internal_server_error" {
		t.Fatalf("exception message %q", e.Message)
	}
	c.fails("public/no_such_method", nil, sim.CodeMethodNotFound)
	// The /api/v2/ prefix is accepted, as on Deribit.
	c.ok("/api/v2/public/test", nil, nil)

	t.Run("parse error", func(t *testing.T) {
		c.sendRaw([]byte(`{"jsonrpc":"2.0","id":`))
		f := c.next("parse error", func(f frame) bool { return f.Error != nil && f.Error.Code == sim.CodeParseError })
		if !strings.Contains(string(f.Raw), `"id":null`) {
			t.Fatalf("parse error frame %s", f.Raw)
		}
	})
	t.Run("batch", func(t *testing.T) {
		c.sendRaw([]byte(`[{"jsonrpc":"2.0","id":1,"method":"public/test"}]`))
		c.next("batch refusal", func(f frame) bool { return f.Error != nil && f.Error.Code == sim.CodeInvalidParams })
	})
	t.Run("positional params", func(t *testing.T) {
		c.sendRaw([]byte(`{"jsonrpc":"2.0","id":77,"method":"public/test","params":[1]}`))
		f := c.response(77)
		if f.Error == nil || f.Error.Code != sim.CodeInvalidParams {
			t.Fatalf("positional params: %s", f.Raw)
		}
	})
	t.Run("bad param type", func(t *testing.T) {
		c.fails("public/set_heartbeat", map[string]any{"interval": "ten"}, sim.CodeInvalidParams)
	})
}

func TestOversizedClientFrameClosesConnection(t *testing.T) {
	srv := quiet(t, sim.Config{MaxFrameSize: 1024})
	c := dial(t, srv)
	c.ok("public/test", nil, nil)
	c.sendRaw([]byte(`{"jsonrpc":"2.0","id":1,"method":"public/test","params":{"x":"` + strings.Repeat("x", 2048) + `"}}`))
	c.waitClosed()
}

func TestAuth(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	srv := quiet(t, sim.Config{Clock: fc, Keys: []sim.APIKey{{ID: "alice", Secret: "s3cret"}}, TokenTTL: time.Minute})

	t.Run("wrong secret", func(t *testing.T) {
		c := dial(t, srv)
		c.fails("public/auth", map[string]any{"grant_type": "client_credentials", "client_id": "alice", "client_secret": "nope"}, sim.CodeInvalidCredentials)
		c.fails("public/auth", map[string]any{"grant_type": "client_credentials", "client_id": "bob", "client_secret": "s3cret"}, sim.CodeInvalidCredentials)
		c.fails("private/get_positions", map[string]any{"currency": "BTC"}, sim.CodeAuthorizationRequired)
		c.fails("public/auth", map[string]any{"grant_type": "password"}, sim.CodeInvalidParams)
	})

	t.Run("client_credentials and refresh", func(t *testing.T) {
		c := dial(t, srv)
		var r struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
			ExpiresIn    int64  `json:"expires_in"`
			Scope        string `json:"scope"`
			TokenType    string `json:"token_type"`
		}
		c.ok("public/auth", map[string]any{"grant_type": "client_credentials", "client_id": "alice", "client_secret": "s3cret"}, &r)
		if r.AccessToken == "" || r.RefreshToken == "" || r.ExpiresIn != 60 || r.TokenType != "bearer" || !strings.HasPrefix(r.Scope, "connection") {
			t.Fatalf("auth result %+v", r)
		}
		c.ok("private/get_positions", map[string]any{"currency": "BTC"}, nil)

		// Expiry: the connection's token stops working; a refresh restores it.
		fc.Advance(61 * time.Second)
		e := c.fails("private/get_positions", map[string]any{"currency": "BTC"}, sim.CodeUnauthorized)
		if !strings.Contains(string(e.Data), "expired") {
			t.Fatalf("expired token error data %s", e.Data)
		}
		old := r.RefreshToken
		c.ok("public/auth", map[string]any{"grant_type": "refresh_token", "refresh_token": old}, &r)
		c.ok("private/get_positions", map[string]any{"currency": "BTC"}, nil)
		c.fails("public/auth", map[string]any{"grant_type": "refresh_token", "refresh_token": old}, sim.CodeUnauthorized)

		// A connection-scoped token is refused on another connection.
		d := dial(t, srv)
		e = d.fails("private/get_positions", map[string]any{"currency": "BTC", "access_token": r.AccessToken}, sim.CodeUnauthorized)
		if !strings.Contains(string(e.Data), "connection") {
			t.Fatalf("cross-connection error data %s", e.Data)
		}
	})

	t.Run("session scope survives the connection", func(t *testing.T) {
		c := dial(t, srv)
		var r struct {
			AccessToken string `json:"access_token"`
			Scope       string `json:"scope"`
		}
		c.ok("public/auth", map[string]any{"grant_type": "client_credentials", "client_id": "alice", "client_secret": "s3cret", "scope": "session:bot1"}, &r)
		if !strings.HasPrefix(r.Scope, "session:bot1") {
			t.Fatalf("scope %q", r.Scope)
		}
		d := dial(t, srv)
		d.ok("private/get_positions", map[string]any{"currency": "BTC", "access_token": r.AccessToken}, nil)
	})

	t.Run("read-only scope", func(t *testing.T) {
		c := dial(t, srv)
		c.ok("public/auth", map[string]any{"grant_type": "client_credentials", "client_id": "alice", "client_secret": "s3cret", "scope": "trade:read"}, nil)
		c.ok("private/get_open_orders", map[string]any{}, nil)
		c.fails("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 50000}, sim.CodeScopeExceeded)
	})

	t.Run("client_signature", func(t *testing.T) {
		now := fc.Now().UnixMilli()
		sig := func(ts int64, nonce string) map[string]any {
			return map[string]any{"grant_type": "client_signature", "client_id": "alice", "timestamp": ts,
				"nonce": nonce, "data": "", "signature": sim.Signature("s3cret", ts, nonce, "")}
		}
		c := dial(t, srv)
		c.ok("public/auth", sig(now, "n1"), nil)
		c.ok("private/get_positions", map[string]any{"currency": "BTC"}, nil)
		c.fails("public/auth", sig(now, "n1"), sim.CodeInvalidCredentials) // nonce reuse
		c.fails("public/auth", sig(now-61_000, "n2"), sim.CodeInvalidCredentials)
		c.fails("public/auth", sig(now+61_000, "n3"), sim.CodeInvalidCredentials)
		c.ok("public/auth", sig(now-59_000, "n4"), nil)
		bad := sig(now, "n5")
		bad["signature"] = sim.Signature("wrong", now, "n5", "")
		c.fails("public/auth", bad, sim.CodeInvalidCredentials)
	})

	t.Run("secrets are not echoed", func(t *testing.T) {
		c := dial(t, srv)
		f := c.call("public/auth", map[string]any{"grant_type": "client_credentials", "client_id": "alice", "client_secret": "s3cret-typo"})
		if strings.Contains(string(f.Raw), "s3cret") {
			t.Fatalf("error frame echoes the secret: %s", f.Raw)
		}
	})
}

func TestHeartbeat(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))

	t.Run("minimum interval", func(t *testing.T) {
		srv := quiet(t, sim.Config{Clock: fc})
		c := dial(t, srv)
		c.fails("public/set_heartbeat", map[string]any{"interval": 5}, sim.CodeInvalidParams)
		c.fails("public/set_heartbeat", map[string]any{}, sim.CodeInvalidParams)
		var ok string
		c.ok("public/set_heartbeat", map[string]any{"interval": 10}, &ok)
		if ok != "ok" {
			t.Fatalf("set_heartbeat result %q", ok)
		}
		c.ok("public/disable_heartbeat", nil, &ok)
	})

	// tick moves the fake clock one interval and waits until the connection's
	// heartbeat timer is armed again, i.e. until the tick has been handled.
	tick := func(t *testing.T, base int) {
		fc.Advance(time.Second)
		waitTimers(t, fc, base+1)
	}

	t.Run("answered test_requests keep the connection", func(t *testing.T) {
		srv := quiet(t, sim.Config{Clock: fc, MinHeartbeat: time.Millisecond})
		c := dial(t, srv)
		base := fc.Timers()
		c.ok("public/set_heartbeat", map[string]any{"interval": 1}, nil)
		waitTimers(t, fc, base+1)
		tick(t, base) // the set_heartbeat request was activity: a heartbeat frame
		c.heartbeat("heartbeat")
		for i := 0; i < 50; i++ {
			tick(t, base) // a quiet interval: a test_request
			c.heartbeat("test_request")
			c.ok("public/test", nil, nil)
			tick(t, base) // the answer was activity: a heartbeat frame
			c.heartbeat("heartbeat")
		}
		info := srv.Conns()
		if len(info) != 1 || info[0].TestRequestsSent != 50 || info[0].TestRequestsAnswer != 50 {
			t.Fatalf("conn info %+v", info)
		}
		for _, f := range c.queue {
			if f.Method == "heartbeat" {
				t.Fatalf("unexpected frame %s", f.Raw)
			}
		}
	})

	t.Run("unanswered test_request closes and cancels only that connection's orders", func(t *testing.T) {
		srv := quiet(t, sim.Config{Clock: fc, MinHeartbeat: time.Millisecond, RateLimits: sim.RateLimits{Disabled: true}})
		victim, bystander := dial(t, srv), dial(t, srv)
		for _, c := range []*client{victim, bystander} {
			c.auth()
			c.ok("private/enable_cancel_on_disconnect", map[string]any{"scope": "connection"}, nil)
		}
		var mine, theirs struct{ Order sim.Order }
		victim.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 50000, "label": "victim"}, &mine)
		bystander.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 49000, "label": "bystander"}, &theirs)
		bystander.subscribe(true, "user.orders.BTC-PERPETUAL.raw")

		base := fc.Timers()
		victim.ok("public/set_heartbeat", map[string]any{"interval": 1}, nil)
		waitTimers(t, fc, base+1)
		tick(t, base)
		victim.heartbeat("heartbeat")
		tick(t, base)
		victim.heartbeat("test_request")
		fc.Advance(time.Second) // the grace period (one interval) passes unanswered
		victim.waitClosed()

		n := bystander.next("cancel of the victim's order", func(f frame) bool {
			if f.Params.Channel != "user.orders.BTC-PERPETUAL.raw" {
				return false
			}
			o := decode[sim.Order](t, f.Params.Data)
			return o.OrderID == mine.Order.OrderID
		})
		o := decode[sim.Order](t, n.Params.Data)
		if o.OrderState != "cancelled" || o.CancelReason != "cancel_on_disconnect" {
			t.Fatalf("victim's order after disconnect: %+v", o)
		}
		open := srv.OpenOrders(sim.TestKeyID)
		if len(open) != 1 || open[0].OrderID != theirs.Order.OrderID {
			t.Fatalf("open orders after the victim's disconnect: %+v", open)
		}
		if st := srv.Stats(); st.HeartbeatKills != 1 || st.CODCancelled != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestCancelOnDisconnect(t *testing.T) {
	srv := quiet(t, sim.Config{RateLimits: sim.RateLimits{Disabled: true}})
	place := func(c *client, price float64) string {
		var r struct{ Order sim.Order }
		c.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": price}, &r)
		return r.Order.OrderID
	}
	var get struct {
		Scope   string `json:"scope"`
		Enabled bool   `json:"enabled"`
	}

	t.Run("off by default; disconnect keeps orders", func(t *testing.T) {
		c := dial(t, srv)
		c.auth()
		c.ok("private/get_cancel_on_disconnect", nil, &get)
		if get.Enabled || get.Scope != "connection" {
			t.Fatalf("default COD %+v", get)
		}
		id := place(c, 40000)
		_ = c.ws.Close()
		waitConns(t, srv, 0)
		if !hasOrder(srv.OpenOrders(sim.TestKeyID), id) {
			t.Fatal("order cancelled without cancel-on-disconnect")
		}
		cancelAll(t, srv)
	})

	t.Run("logout does not fire it", func(t *testing.T) {
		c := dial(t, srv)
		c.auth()
		c.ok("private/enable_cancel_on_disconnect", nil, nil)
		id := place(c, 40000)
		c.send("private/logout", nil)
		c.waitClosed()
		waitConns(t, srv, 0)
		if !hasOrder(srv.OpenOrders(sim.TestKeyID), id) {
			t.Fatal("logout fired cancel-on-disconnect")
		}
		cancelAll(t, srv)
	})

	t.Run("account scope applies to new connections", func(t *testing.T) {
		c := dial(t, srv)
		c.auth()
		c.ok("private/enable_cancel_on_disconnect", map[string]any{"scope": "account"}, nil)
		c.ok("private/get_cancel_on_disconnect", map[string]any{"scope": "account"}, &get)
		if !get.Enabled || get.Scope != "account" {
			t.Fatalf("account COD %+v", get)
		}
		d := dial(t, srv)
		d.auth()
		d.ok("private/get_cancel_on_disconnect", nil, &get)
		if !get.Enabled {
			t.Fatal("new connection does not inherit account-scope COD")
		}
		idC, idD := place(c, 40000), place(d, 40500)
		srv.DropConn(connOf(t, srv, 2))
		d.waitClosed()
		waitConns(t, srv, 1)
		open := srv.OpenOrders(sim.TestKeyID)
		if !hasOrder(open, idC) || hasOrder(open, idD) {
			t.Fatalf("after dropping d: %+v", open)
		}
		c.ok("private/disable_cancel_on_disconnect", map[string]any{"scope": "account"}, nil)
		c.fails("private/enable_cancel_on_disconnect", map[string]any{"scope": "galaxy"}, sim.CodeInvalidParams)
		cancelAll(t, srv)
	})
}

// connOf returns the ID of the n-th (1-based) open connection.
func connOf(t *testing.T, srv *sim.Server, n int) uint64 {
	t.Helper()
	cs := srv.Conns()
	if len(cs) < n {
		t.Fatalf("only %d connections", len(cs))
	}
	return cs[n-1].ID
}

func hasOrder(orders []sim.Order, id string) bool {
	for _, o := range orders {
		if o.OrderID == id {
			return true
		}
	}
	return false
}

func cancelAll(t *testing.T, srv *sim.Server) {
	t.Helper()
	before := len(srv.Conns())
	c := dial(t, srv)
	c.auth()
	c.ok("private/cancel_all", nil, nil)
	_ = c.ws.Close()
	waitConns(t, srv, before)
}

// waitConns waits until the server has n connections: the server notices a
// closed socket on its own goroutine.
func waitConns(t *testing.T, srv *sim.Server, n int) {
	t.Helper()
	if !srv.WaitConns(n, failsafe) {
		t.Fatalf("want %d connections, have %d", n, len(srv.Conns()))
	}
}

var _ = json.Marshal

func TestAlwaysTestRequest(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	srv := quiet(t, sim.Config{Clock: fc, MinHeartbeat: time.Millisecond, AlwaysTestRequest: true})
	c := dial(t, srv)
	base := fc.Timers()
	c.ok("public/set_heartbeat", map[string]any{"interval": 1}, nil)
	waitTimers(t, fc, base+1)
	for i := 0; i < 20; i++ {
		fc.Advance(time.Second)
		waitTimers(t, fc, base+1)
		c.heartbeat("test_request") // even though the client answered the last one
		c.ok("public/test", nil, nil)
	}
}

func TestRegressions(t *testing.T) {
	t.Run("cancel-on-disconnect through access_token", func(t *testing.T) {
		srv := quiet(t, sim.Config{RateLimits: sim.RateLimits{Disabled: true}})
		a := dial(t, srv)
		var r struct {
			AccessToken string `json:"access_token"`
		}
		a.ok("public/auth", map[string]any{"grant_type": "client_credentials", "client_id": sim.TestKeyID,
			"client_secret": sim.TestKeySecret, "scope": "session:s1"}, &r)
		b := dial(t, srv)
		tok := map[string]any{"access_token": r.AccessToken}
		b.ok("private/enable_cancel_on_disconnect", tok, nil)
		b.ok("private/buy", map[string]any{"access_token": r.AccessToken, "instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 50000}, nil)
		_ = b.ws.Close()
		waitConns(t, srv, 1)
		if open := srv.OpenOrders(sim.TestKeyID); len(open) != 0 {
			t.Fatalf("orders survived their connection: %+v", open)
		}
	})

	t.Run("nothing runs after the terminating error", func(t *testing.T) {
		srv := quiet(t, sim.Config{RateLimits: sim.RateLimits{MatchingBurst: 1, MatchingRate: 0.0001}})
		c := dial(t, srv)
		c.auth()
		buy := map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 50000}
		c.send("private/buy", buy)
		c.send("private/buy", buy) // 10028: the session ends here
		c.trySend("private/cancel_all", map[string]any{})
		c.trySend("private/buy", buy)
		c.waitClosed()
		waitConns(t, srv, 0)
		if open := srv.OpenOrders(sim.TestKeyID); len(open) != 1 {
			t.Fatalf("after the terminating error: %d open orders, want the first one only", len(open))
		}
		d := dial(t, srv)
		d.auth()
		d.send("private/logout", nil)
		d.trySend("private/buy", buy) // after logout: not executed
		d.waitClosed()
		waitConns(t, srv, 0)
		if open := srv.OpenOrders(sim.TestKeyID); len(open) != 1 {
			t.Fatalf("a request after logout ran: %d open orders", len(open))
		}
	})

	t.Run("silence does not cost a client its connection", func(t *testing.T) {
		fc := clock.NewFake(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
		srv := quiet(t, sim.Config{Clock: fc, MinHeartbeat: time.Millisecond, AlwaysTestRequest: true})
		c := dial(t, srv)
		base := fc.Timers()
		c.ok("public/set_heartbeat", map[string]any{"interval": 1}, nil)
		waitTimers(t, fc, base+1)
		fc.Advance(time.Second)
		waitTimers(t, fc, base+1)
		c.heartbeat("test_request")
		srv.Silence(true)
		dropped := srv.Stats().SilentDropped
		c.send("public/test", nil) // lost: the exchange is silent
		if !srv.WaitStats(func(st sim.Stats) bool { return st.SilentDropped > dropped }, failsafe) {
			t.Fatal("the answer never reached the silent server")
		}
		for i := 0; i < 2; i++ {
			fc.Advance(time.Second)
			waitTimers(t, fc, base+1)
		}
		srv.Silence(false)
		fc.Advance(time.Second)
		waitTimers(t, fc, base+1)
		c.heartbeat("test_request") // a fresh one, not a disconnect
		c.ok("public/test", nil, nil)
		if st := srv.Stats(); st.HeartbeatKills != 0 {
			t.Fatalf("heartbeat kills %d", st.HeartbeatKills)
		}
	})

	t.Run("subscribe result comes before the snapshot", func(t *testing.T) {
		srv := quiet(t, sim.Config{RateLimits: sim.RateLimits{Disabled: true}})
		c := dial(t, srv)
		c.auth()
		id := c.send("public/subscribe", map[string]any{"channels": []string{"book.BTC-PERPETUAL.raw", "quote.BTC-PERPETUAL"}})
		first := c.next("any frame", func(frame) bool { return true })
		if first.ID == nil || *first.ID != id {
			t.Fatalf("first frame after subscribe is %s", first.Raw)
		}
		c.notification("book.BTC-PERPETUAL.raw")
		c.notification("quote.BTC-PERPETUAL")
	})

	t.Run("quote after resubscribe", func(t *testing.T) {
		srv := quiet(t, sim.Config{RateLimits: sim.RateLimits{Disabled: true}})
		c := dial(t, srv)
		c.auth()
		c.subscribe(false, "quote.BTC-PERPETUAL")
		c.notification("quote.BTC-PERPETUAL") // Q1: empty book
		c.ok("public/unsubscribe", map[string]any{"channels": []string{"quote.BTC-PERPETUAL"}}, nil)
		var r orderResult
		c.ok("private/buy", map[string]any{"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 50000}, &r)
		c.subscribe(false, "quote.BTC-PERPETUAL")
		q2 := decode[sim.Ticker](t, c.notification("quote.BTC-PERPETUAL").Params.Data)
		if q2.BestBidPrice != 50000 {
			t.Fatalf("Q2 %+v", q2)
		}
		c.ok("private/cancel", map[string]any{"order_id": r.Order.OrderID}, nil) // back to Q1
		q3 := decode[sim.Ticker](t, c.notification("quote.BTC-PERPETUAL").Params.Data)
		if q3.BestBidPrice != 0 {
			t.Fatalf("Q3 %+v", q3)
		}
	})

	t.Run("bad channel and interval values", func(t *testing.T) {
		srv := quiet(t, sim.Config{RateLimits: sim.RateLimits{Disabled: true}})
		c := dial(t, srv)
		c.auth()
		if got := c.subscribe(true, "user.portfolio.Btc", "user.portfolio.btc"); len(got) != 1 || got[0] != "user.portfolio.btc" {
			t.Fatalf("portfolio casing: %v", got)
		}
		c.fails("public/set_heartbeat", map[string]any{"interval": 1e308}, sim.CodeInvalidParams)
	})
}
