package conn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/conn"
)

type recorder struct{ ch chan conn.StateChange }

func newRecorder() *recorder { return &recorder{ch: make(chan conn.StateChange, 1024)} }

func (r *recorder) StateChanged(c conn.StateChange) { r.ch <- c }

// waitFor returns the next change to state to, failing on Closed (unless
// waiting for it).
func (r *recorder) waitFor(t *testing.T, to conn.State) conn.StateChange {
	t.Helper()
	for {
		select {
		case c := <-r.ch:
			if c.To == to {
				return c
			}
			if c.To == conn.StateClosed {
				t.Fatalf("closed while waiting for %v: %v", to, c.Err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no transition to %v", to)
		}
	}
}

type harness struct {
	t   *testing.T
	srv *fakeDeribit
	clk *clock.Fake
	obs *recorder
	c   *conn.Conn
	fc  *fakeConn // the current server side
	log *lockedWriter
}

func testConfig(url string) conn.Config {
	return conn.Config{
		URL:               url,
		HeartbeatInterval: 10 * time.Second,
		RequestTimeout:    time.Second,
		// A fixed 2 s wait, longer than RequestTimeout: a test that advances the
		// fake clock by 2 s to redial can never also fire a setup request's timeout.
		Backoff: conn.Backoff{Min: 2 * time.Second, Max: 2 * time.Second, Jitter: -1},
	}
}

func start(t *testing.T, mutate func(*conn.Config), opts ...conn.Option) *harness {
	t.Helper()
	h := &harness{t: t, srv: newFakeDeribit(t), clk: clock.NewFake(time.Unix(1_700_000_000, 0)),
		obs: newRecorder(), log: &lockedWriter{w: &bytes.Buffer{}}}
	cfg := testConfig(h.srv.URL())
	if mutate != nil {
		mutate(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts = append([]conn.Option{conn.WithClock(h.clk), conn.WithObserver(h.obs), conn.WithLogger(logger)}, opts...)
	c, err := conn.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	t.Cleanup(func() { c.Close() })
	errc := make(chan error, 1)
	go func() { errc <- c.Start(context.Background()) }()
	h.fc = h.srv.next()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	h.obs.waitFor(t, conn.StateReady)
	return h
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

func creds(c *conn.Config) {
	c.Credentials = conn.Credentials{ClientID: "AMANDA", ClientSecret: "AMANDASECRECT"}
	c.CancelOnDisconnect = true
}

func TestSetupSequence(t *testing.T) {
	h := start(t, func(c *conn.Config) { creds(c); c.HeartbeatInterval = 20 * time.Millisecond })
	hb := h.fc.expect(t, "public/set_heartbeat")
	if string(hb.Params) != `{"interval":0.02}` {
		t.Fatalf("set_heartbeat params %s", hb.Params)
	}
	auth := h.fc.expect(t, "public/auth")
	var p struct {
		GrantType, ClientID, Nonce, Data, Signature string
		ClientSecret                                string `json:"client_secret"`
		Timestamp                                   int64
	}
	if err := json.Unmarshal(auth.Params, &p); err != nil {
		t.Fatal(err)
	}
	if p.ClientSecret != "" || p.Signature != conn.ClientSignature("AMANDASECRECT", p.Timestamp, p.Nonce, "") {
		t.Fatalf("auth params %s", auth.Params)
	}
	if p.Timestamp != h.clk.Now().UnixMilli() {
		t.Fatalf("timestamp %d not from the injected clock", p.Timestamp)
	}
	cod := h.fc.expect(t, "private/enable_cancel_on_disconnect")
	if string(cod.Params) != `{"scope":"connection"}` {
		t.Fatalf("cod params %s", cod.Params)
	}
	got, err := h.c.Subscribe(context.Background(), "book.BTC-PERPETUAL.100ms")
	if err != nil || len(got) != 1 {
		t.Fatal(got, err)
	}
	h.fc.expect(t, "private/subscribe")
	if st := h.c.State(); st != conn.StateReady {
		t.Fatalf("state %v", st)
	}
}

func TestObserverSequence(t *testing.T) {
	srv := newFakeDeribit(t)
	obs := newRecorder()
	cfg := testConfig(srv.URL())
	creds(&cfg)
	c, err := conn.New(cfg, conn.WithObserver(obs), conn.WithClock(clock.NewFake(time.Unix(0, 0))))
	if err != nil {
		t.Fatal(err)
	}
	go srv.next()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Close()
	var got []string
	for len(got) < 4 {
		ch := <-obs.ch
		got = append(got, ch.From.String()+">"+ch.To.String())
	}
	want := "idle>connecting connecting>authenticating authenticating>ready ready>closed"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v", got)
	}
}

// TestHeartbeatWhileConsumerBlocked: thousands of test_requests, each
// behind a burst of notifications nobody reads, are all answered and the
// connection stays up; the overflow is counted and reported.
func TestHeartbeatWhileConsumerBlocked(t *testing.T) {
	h := start(t, func(c *conn.Config) { c.SinkQueue = 64 })
	const rounds = 2000
	h.fc.expect(t, "public/set_heartbeat")
	note := []byte(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"change","change_id":1,"bids":[["new",65000.5,1200]],"asks":[]}}}`)
	const burst = 25 // notifications ahead of every test_request
	for i := 0; i < rounds; i++ {
		for j := 0; j < burst; j++ {
			h.fc.send(note)
		}
		h.fc.send(testRequestFrame)
		if r := h.fc.expect(t, "public/test"); r.ID&1 != 1 {
			t.Fatalf("answer id %d is not odd", r.ID)
		}
	}
	deg := h.obs.waitFor(t, conn.StateDegraded)
	if !errors.Is(deg.Err, conn.ErrSlowConsumer) {
		t.Fatalf("degraded by %v", deg.Err)
	}
	// The requests still work while the consumer is stuck. (And once this
	// request, written after the last answer by the one writer, is answered,
	// that answer has been counted: the server can read an answer before the
	// writer counts it.)
	var res map[string]int
	if err := h.c.Call(context.Background(), "public/echo", map[string]int{"x": 1}, &res); err != nil || res["x"] != 1 {
		t.Fatal(res, err)
	}
	st := h.c.Stats()
	hb := st.Heartbeat
	if hb.TestRequests != rounds || hb.Answered != rounds || hb.Missed != 0 {
		t.Fatalf("heartbeat %+v", hb)
	}
	if st.Reconnects != 0 || st.Queue.Dropped == 0 || st.SinkDropped == 0 || st.Queue.Len != 64 {
		t.Fatalf("stats %+v", st)
	}
	// Draining the queue brings the state back to Ready after SinkQueue clean deliveries.
	for len(h.c.Notifications()) > 0 {
		<-h.c.Notifications()
	}
	go func() {
		for i := 0; i < 64; i++ {
			h.fc.send(note)
		}
	}()
	for i := 0; i < 64; i++ {
		<-h.c.Notifications()
	}
	h.obs.waitFor(t, conn.StateReady)
}

// TestWriterPrefersPriorityLane: while the writer is inside a request's
// WriteMessage, a heartbeat answer is queued; with more requests waiting,
// the answer must be the very next frame written. Twenty rounds: a writer
// that picked lanes at random would pass with probability 2⁻²⁰.
func TestWriterPrefersPriorityLane(t *testing.T) {
	c, err := conn.New(testConfig("ws://127.0.0.1:1/ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const rounds = 20
	w := conn.StartGatedWriter(c, rounds+5)
	defer w.Stop()
	for i := 0; i < rounds; i++ {
		f := w.Next(10 * time.Second)
		if !bytes.Contains(f, []byte(`"private/buy"`)) {
			t.Fatalf("round %d: writing %q, want a request", i, f)
		}
		w.QueueAnswer() // while the request is being written
		w.Release()
		if f := w.Next(10 * time.Second); !bytes.Contains(f, []byte(`"public/test"`)) {
			t.Fatalf("round %d: wrote %q after the request, want the queued heartbeat answer", i, f)
		}
	}
	if f := w.Next(10 * time.Second); !bytes.Contains(f, []byte(`"private/buy"`)) {
		t.Fatalf("wrote %q, want the next request", f)
	}
	if hb := c.Heartbeat(); hb.Answered != rounds {
		t.Fatalf("answered %d", hb.Answered)
	}
}

// TestCallHammer: many goroutines call concurrently; the server answers
// in whatever order its goroutines get to it; every caller gets its own reply.
func TestCallHammer(t *testing.T) {
	h := start(t, nil)
	h.srv.setRespond(func(fc *fakeConn, r fakeReq) bool {
		if r.Method != "public/echo" {
			return false
		}
		go fc.result(r.ID, r.Params)
		return true
	})
	const workers, calls = 32, 100
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				var out struct{ W, I int }
				if err := h.c.Call(context.Background(), "public/echo", struct{ W, I int }{w, i}, &out); err != nil {
					errc <- err
					return
				}
				if out.W != w || out.I != i {
					errc <- fmt.Errorf("worker %d call %d got %+v", w, i, out)
					return
				}
				_ = h.c.Stats()
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if st := h.c.Stats(); st.Responses < workers*calls || st.Unmatched != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCallErrors(t *testing.T) {
	h := start(t, nil)
	held := make(chan fakeReq, 16)
	h.srv.setRespond(func(fc *fakeConn, r fakeReq) bool {
		switch r.Method {
		case "private/buy":
			fc.error(r.ID, 10009, "not_enough_funds", map[string]string{"reason": "x"})
		case "public/hold":
			held <- r
		default:
			return false
		}
		return true
	})
	ctx := context.Background()

	t.Run("rpc error", func(t *testing.T) {
		err := h.c.Call(ctx, "private/buy", map[string]any{"amount": 10}, nil)
		var re *conn.RPCError
		if !errors.As(err, &re) || re.Code != 10009 || re.Message != "not_enough_funds" || string(re.Data) != `{"reason":"x"}` {
			t.Fatalf("err %v", err)
		}
		if !errors.Is(err, &conn.RPCError{Code: 10009}) || errors.Is(err, conn.ErrNotSent) {
			t.Fatalf("errors.Is: %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		errc := make(chan error, 1)
		go func() { _, err := h.c.CallRaw(ctx, "public/hold", nil); errc <- err }()
		<-held
		h.clk.WaitForTimers(2, nil) // watchdog + this request
		h.clk.Advance(time.Second)
		err := <-errc
		if !errors.Is(err, conn.ErrTimeout) || errors.Is(err, conn.ErrNotSent) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("context cancelled after sending", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { _, err := h.c.CallRaw(cctx, "public/hold", nil); errc <- err }()
		<-held
		cancel()
		err := <-errc
		if !errors.Is(err, context.Canceled) || errors.Is(err, conn.ErrNotSent) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("bad method", func(t *testing.T) {
		_, err := h.c.CallRaw(ctx, `public/"x`, nil)
		if !errors.Is(err, conn.ErrNotSent) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("decode", func(t *testing.T) {
		var n int
		err := h.c.Call(ctx, "public/echo", map[string]string{"a": "b"}, &n)
		if !errors.Is(err, conn.ErrDecode) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("late reply is unmatched", func(t *testing.T) {
		// The timed-out request's reply arrives now.
		r := <-h.fc.reqs
		for r.Method != "public/hold" {
			r = <-h.fc.reqs
		}
		before := h.c.Stats().Unmatched
		h.fc.result(r.ID, "late")
		h.fc.send(testRequestFrame) // a frame after it, to know it was read
		h.fc.expect(t, "public/test")
		if got := h.c.Stats().Unmatched; got != before+1 {
			t.Fatalf("unmatched %d → %d", before, got)
		}
	})
	t.Run("closed", func(t *testing.T) {
		h.c.Close()
		_, err := h.c.CallRaw(ctx, "public/echo", nil)
		if !errors.Is(err, conn.ErrClosed) || !errors.Is(err, conn.ErrNotSent) {
			t.Fatalf("err %v", err)
		}
		if err := h.c.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSilentPeerIsStale: the peer stops sending; after the silence timeout
// by the injected clock the socket is declared stale, the pending request
// fails with ErrStale, and a new socket is dialed after the backoff.
func TestSilentPeerIsStale(t *testing.T) {
	h := start(t, nil)
	held := make(chan struct{}, 1)
	h.srv.setRespond(func(fc *fakeConn, r fakeReq) bool {
		if r.Method == "public/hold" {
			held <- struct{}{}
			return true
		}
		return false
	})
	errc := make(chan error, 1)
	go func() { _, err := h.c.CallRaw(context.Background(), "public/hold", nil); errc <- err }()
	<-held
	h.clk.WaitForTimers(2, nil)
	timeout := h.c.Heartbeat().SilenceTimeout
	if timeout != 30*time.Second {
		t.Fatalf("silence timeout %v", timeout)
	}
	h.clk.Advance(timeout - time.Nanosecond) // the request times out first, harmlessly
	<-errc
	h.clk.Advance(time.Nanosecond)
	deg := h.obs.waitFor(t, conn.StateDegraded)
	if !errors.Is(deg.Err, conn.ErrStale) {
		t.Fatalf("degraded by %v", deg.Err)
	}
	if hb := h.c.Heartbeat(); hb.Silences != 1 || hb.Missed != 1 {
		t.Fatalf("heartbeat %+v", hb)
	}
	if _, err := h.c.CallRaw(context.Background(), "public/echo", nil); !errors.Is(err, conn.ErrDisconnected) || !errors.Is(err, conn.ErrNotSent) {
		t.Fatalf("call while reconnecting: %v", err)
	}
	h.srv.next() // a lost socket is re-dialled at once

	h.obs.waitFor(t, conn.StateReady)
	if st := h.c.Stats(); st.Reconnects != 1 {
		t.Fatalf("reconnects %d", st.Reconnects)
	}
}

func TestStaleFailsPendingRequest(t *testing.T) {
	h := start(t, func(c *conn.Config) { c.RequestTimeout = time.Hour })
	h.srv.setRespond(func(fc *fakeConn, r fakeReq) bool { return r.Method == "public/hold" })
	errc := make(chan error, 1)
	go func() { _, err := h.c.CallRaw(context.Background(), "public/hold", nil); errc <- err }()
	h.fc.expect(t, "public/hold")
	h.clk.WaitForTimers(2, nil)
	h.clk.Advance(30 * time.Second)
	if err := <-errc; !errors.Is(err, conn.ErrStale) || errors.Is(err, conn.ErrNotSent) {
		t.Fatalf("err %v", err)
	}
}

// TestReconnectRestoresState: after a drop the new socket gets the
// heartbeat, a fresh authentication, cancel-on-disconnect and every channel.
func TestReconnectRestoresState(t *testing.T) {
	h := start(t, creds)
	chans := []string{"book.BTC-PERPETUAL.100ms", "user.orders.any.any.raw"}
	if _, err := h.c.Subscribe(context.Background(), chans...); err != nil {
		t.Fatal(err)
	}
	h.fc.drop()
	deg := h.obs.waitFor(t, conn.StateDegraded)
	if !errors.Is(deg.Err, conn.ErrDisconnected) {
		t.Fatalf("degraded by %v", deg.Err)
	}
	fc := h.srv.next() // a lost socket is re-dialled at once
	h.obs.waitFor(t, conn.StateReady)
	fc.expect(t, "public/set_heartbeat")
	auth := fc.expect(t, "public/auth")
	if !bytes.Contains(auth.Params, []byte(`"grant_type":"client_signature"`)) {
		t.Fatalf("re-auth params %s", auth.Params)
	}
	fc.expect(t, "private/enable_cancel_on_disconnect")
	sub := fc.expect(t, "private/subscribe")
	if string(sub.Params) != `{"channels":["book.BTC-PERPETUAL.100ms","user.orders.any.any.raw"]}` {
		t.Fatalf("resubscribe %s", sub.Params)
	}
}

func TestReconnectBacksOffUntilServerBack(t *testing.T) {
	h := start(t, nil)
	fail := true
	var mu sync.Mutex
	h.srv.setRespond(func(fc *fakeConn, r fakeReq) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == "public/set_heartbeat" && fail {
			fc.error(r.ID, 11051, "system_maintenance", nil)
			return true
		}
		return false
	})
	h.fc.drop()
	h.obs.waitFor(t, conn.StateDegraded)
	for attempt := 1; attempt <= 3; attempt++ {
		if attempt > 1 { // the first re-dial of a lost socket is at once; refusals back off
			h.clk.WaitForTimers(1, nil)
			h.clk.Advance(2 * time.Second)
		}
		h.srv.next()
		ch := h.obs.waitFor(t, conn.StateDegraded)
		if !errors.Is(ch.Err, &conn.RPCError{Code: 11051}) || ch.Attempt != attempt {
			t.Fatalf("attempt %d: %+v", attempt, ch)
		}
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	h.clk.WaitForTimers(1, nil)
	h.clk.Advance(2 * time.Second)
	h.srv.next()
	h.obs.waitFor(t, conn.StateReady)
}

func TestCloseDuringBackoff(t *testing.T) {
	h := start(t, nil)
	h.fc.drop()
	h.obs.waitFor(t, conn.StateDegraded)
	h.clk.WaitForTimers(1, nil)
	h.c.Close()
	h.obs.waitFor(t, conn.StateClosed)
	select {
	case <-h.c.Done():
	default:
		t.Fatal("Done not closed")
	}
}

func TestStartContextEndsConnection(t *testing.T) {
	srv := newFakeDeribit(t)
	ctx, cancel := context.WithCancel(context.Background())
	go srv.next()
	c, err := conn.Dial(ctx, testConfig(srv.URL()), conn.WithClock(clock.NewFake(time.Unix(0, 0))))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-c.Done()
	if c.State() != conn.StateClosed {
		t.Fatalf("state %v", c.State())
	}
}

func TestMalformedAndOversizedFramesSkipped(t *testing.T) {
	h := start(t, func(c *conn.Config) { c.MaxFrameSize = 1024 })
	held := make(chan fakeReq, 1)
	h.srv.setRespond(func(fc *fakeConn, r fakeReq) bool {
		if r.Method == "public/hold" {
			held <- r
			return true
		}
		return false
	})
	errc := make(chan error, 1)
	go func() { _, err := h.c.CallRaw(context.Background(), "public/hold", nil); errc <- err }()
	r := <-held
	big := `{"jsonrpc":"2.0","id":` + fmt.Sprint(r.ID) + `,"result":"` + strings.Repeat("x", 5000) + `"}`
	h.fc.send([]byte(big))
	if err := <-errc; !errors.Is(err, conn.ErrFrameTooLarge) {
		t.Fatalf("oversized response: %v", err)
	}
	frames := []string{
		`not json`,
		`{"jsonrpc":"2.0"`,
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"x","data":{"a":[1,2}}}`,
		`{"jsonrpc":"2.0","method":"subscription","params":{"data":1}}`,
		`{"jsonrpc":"2.0","id":99999,"error":{"message":"no code"}}`,
		`[]`,
		``,
		`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"big","data":"` + strings.Repeat("y", 100000) + `"}}`,
	}
	for _, f := range frames {
		h.fc.send([]byte(f))
	}
	h.fc.sendBinary([]byte{0xff, 0x00})
	h.fc.send([]byte(`{"jsonrpc":"2.0","method":"public/unknown","params":{}}`))
	h.fc.send([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`))
	h.fc.send(testRequestFrame)
	h.fc.expect(t, "public/test")
	st := h.c.Stats()
	if st.Oversized != 2 || st.Malformed != 8 || st.Other != 1 || st.Reconnects != 0 || st.State != conn.StateReady {
		t.Fatalf("stats %+v", st)
	}
	if _, err := h.c.CallRaw(context.Background(), "public/echo", []byte(`{"still":"up"}`)); err != nil {
		t.Fatal(err)
	}
}

func TestAuthFailureLogsNoSecrets(t *testing.T) {
	const secret = "AMANDASECRECT"
	t.Run("rejected", func(t *testing.T) {
		srv := newFakeDeribit(t)
		var sig string
		srv.setRespond(func(fc *fakeConn, r fakeReq) bool {
			if r.Method != "public/auth" {
				return false
			}
			var p struct{ Signature string }
			_ = json.Unmarshal(r.Params, &p)
			sig = p.Signature
			fc.error(r.ID, 13004, "invalid_credentials", map[string]string{"reason": "bad signature " + p.Signature})
			return true
		})
		var logs lockedWriter
		logs.w = &bytes.Buffer{}
		cfg := testConfig(srv.URL())
		creds(&cfg)
		go srv.next()
		_, err := conn.Dial(context.Background(), cfg, conn.WithClock(clock.NewFake(time.Unix(0, 0))),
			conn.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		var re *conn.RPCError
		if !errors.Is(err, conn.ErrAuth) || !errors.As(err, &re) || re.Code != 13004 {
			t.Fatalf("err %v", err)
		}
		out := logs.String() + err.Error()
		if !strings.Contains(out, "authentication failed") {
			t.Fatalf("auth failure not logged: %s", out)
		}
		for _, leak := range []string{secret, sig} {
			if sig == "" || strings.Contains(out, leak) {
				t.Fatalf("log or error contains %q:\n%s", leak, out)
			}
		}
	})
	t.Run("refresh rejected", func(t *testing.T) {
		const access, refresh = "AT-0123456789abcdef", "RT-fedcba9876543210"
		h := start(t, func(c *conn.Config) {
			creds(c)
			c.Credentials.Method = conn.AuthCredentials
			c.HeartbeatInterval = time.Hour
		})
		first := true
		var mu sync.Mutex
		h.srv.setRespond(func(fc *fakeConn, r fakeReq) bool {
			if r.Method != "public/auth" {
				return false
			}
			mu.Lock()
			defer mu.Unlock()
			if first {
				first = false
				fc.error(r.ID, 13009, "unauthorized", map[string]string{"token": access})
				return true
			}
			fc.error(r.ID, 13004, "invalid_credentials", nil)
			return true
		})
		_ = refresh
		h.clk.WaitForTimers(2, nil) // watchdog + refresh
		h.clk.Advance(720 * time.Second)
		deg := h.obs.waitFor(t, conn.StateDegraded)
		if !errors.Is(deg.Err, conn.ErrAuth) {
			t.Fatalf("degraded by %v", deg.Err)
		}
		out := h.log.String()
		if !strings.Contains(out, "authentication failed") {
			t.Fatalf("not logged: %s", out)
		}
		for _, leak := range []string{secret, "AT1", "RT1", access} {
			if strings.Contains(out, leak) {
				t.Fatalf("log contains %q:\n%s", leak, out)
			}
		}
	})
}

// TestTokenRefresh: every refresh uses the refresh token of the previous
// answer (the fake issues RT1, RT2, …) and re-arms for the new token.
func TestTokenRefresh(t *testing.T) {
	armed := make(chan struct{}, 16)
	h := start(t, func(c *conn.Config) { creds(c); c.HeartbeatInterval = time.Hour },
		conn.WithRefreshArmed(func() { armed <- struct{}{} }))
	h.fc.expect(t, "public/auth")
	for _, want := range []string{"RT1", "RT2", "RT3"} {
		<-armed                          // the refresher's timer is armed for the current token
		h.clk.Advance(720 * time.Second) // 80% of expires_in 900
		r := h.fc.expect(t, "public/auth")
		if !bytes.Contains(r.Params, []byte(`"grant_type":"refresh_token"`)) || !bytes.Contains(r.Params, []byte(`"refresh_token":"`+want+`"`)) {
			t.Fatalf("refresh params %s, want %s", r.Params, want)
		}
	}
	<-armed
	if st := h.c.State(); st != conn.StateReady {
		t.Fatalf("state %v", st)
	}
}

func TestSubscribeMissingChannels(t *testing.T) {
	h := start(t, nil)
	h.srv.setRespond(func(fc *fakeConn, r fakeReq) bool {
		if r.Method == "public/subscribe" {
			fc.result(r.ID, []string{"ticker.BTC-PERPETUAL.100ms"})
			return true
		}
		return false
	})
	got, err := h.c.Subscribe(context.Background(), "ticker.BTC-PERPETUAL.100ms", "book.NOPE.100ms")
	var se *conn.SubscribeError
	if !errors.As(err, &se) || len(se.Missing) != 1 || se.Missing[0] != "book.NOPE.100ms" || len(got) != 1 {
		t.Fatalf("got %v err %v", got, err)
	}
	if !h.c.Subscribed("ticker.BTC-PERPETUAL.100ms") || h.c.Subscribed("trades.BTC-PERPETUAL.100ms") {
		t.Fatal("Subscribed does not tell the channels kept")
	}
	if err := h.c.Unsubscribe(context.Background(), "ticker.BTC-PERPETUAL.100ms"); err != nil && !errors.Is(err, conn.ErrNotSent) {
		t.Log(err) // the fake answers nothing to unsubscribe; the channel is forgotten all the same
	}
	if h.c.Subscribed("ticker.BTC-PERPETUAL.100ms") {
		t.Fatal("an unsubscribed channel is still kept")
	}
}

func TestNotificationsDelivered(t *testing.T) {
	h := start(t, nil)
	h.fc.send([]byte(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"last_price":65000.5}}}`))
	n := <-h.c.Notifications()
	if string(n.Channel) != "ticker.BTC-PERPETUAL.100ms" || string(n.Data) != `{"last_price":65000.5}` || !n.Received.Equal(h.clk.Now()) {
		t.Fatalf("%s %s %v", n.Channel, n.Data, n.Received)
	}
}

func TestDialErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name string
		url  string
		want error
	}{
		{"refused", "ws://" + addr + "/ws", conn.ErrDial},
		{"plaintext to a remote host", "ws://www.deribit.com/ws/api/v2", conn.ErrInsecure},
		{"bad scheme", "http://127.0.0.1/", conn.ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := conn.Dial(context.Background(), testConfig(tt.url))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}
