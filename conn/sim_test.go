package conn_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/sim"
)

// These tests run the connection against the exchange simulator, with the
// wall clock and heartbeat intervals shortened by the simulator's test
// option (MinHeartbeat).

func startSim(t *testing.T, cfg sim.Config) *sim.Server {
	t.Helper()
	if cfg.MinHeartbeat == 0 {
		cfg.MinHeartbeat = time.Millisecond
	}
	if cfg.HeartbeatGrace == 0 {
		// Generous: go test runs packages in parallel on two cores under the
		// race detector; a test that wants a heartbeat kill says so.
		cfg.HeartbeatGrace = 2 * time.Second
	}
	cfg.NoMarket = true
	cfg.Tick = -1
	cfg.RateLimits.Disabled = true
	srv, err := sim.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func dialSim(t *testing.T, srv *sim.Server, mutate func(*conn.Config), opts ...conn.Option) (*conn.Conn, *recorder) {
	t.Helper()
	cfg := conn.Config{
		URL:                srv.URL(),
		Credentials:        conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret},
		CancelOnDisconnect: true,
		HeartbeatInterval:  10 * time.Millisecond,
		SilenceMultiple:    200, // 2 s: generous, the race detector and a busy CI share two cores
		RequestTimeout:     10 * time.Second,
		Backoff:            conn.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	obs := newRecorder()
	c, err := conn.Dial(context.Background(), cfg, append([]conn.Option{conn.WithObserver(obs)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	obs.waitFor(t, conn.StateReady)
	return c, obs
}

// waitUntil polls cond on a ticker (the simulator's heartbeats run on the
// wall clock) until it holds, failing after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	tk := time.NewTicker(time.Millisecond)
	defer tk.Stop()
	deadline := time.After(limit)
	for !cond() {
		select {
		case <-tk.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestSimHeartbeatsUnderFloodWithBlockedConsumer: the simulator sends
// thousands of test_requests (interval 1 ms) while notifications flood in
// and nobody reads them; every one is answered, the simulator never drops
// the connection, and the overflow is counted.
func TestSimHeartbeatsUnderFloodWithBlockedConsumer(t *testing.T) {
	srv := startSim(t, sim.Config{HeartbeatGrace: 2 * time.Second, AlwaysTestRequest: true})
	c, obs := dialSim(t, srv, func(cfg *conn.Config) {
		cfg.HeartbeatInterval = time.Millisecond
		cfg.SilenceMultiple = 2000 // 2 s
		cfg.SinkQueue = 128
	})
	const channel = "book.BTC-PERPETUAL.100ms"
	if _, err := c.Subscribe(context.Background(), channel); err != nil {
		t.Fatal(err)
	}
	frame := []byte(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"change","timestamp":1700000000000,"prev_change_id":1,"instrument_name":"BTC-PERPETUAL","change_id":2,"bids":[["change",65000.5,1200.0],["new",64999.0,500.0]],"asks":[["delete",65001.0,0.0]]}}}`)
	stop := make(chan struct{})
	flooding := make(chan struct{})
	go func() { // 20 notifications per millisecond: 20k/s, what the race detector can take
		defer close(flooding)
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				for i := 0; i < 20; i++ {
					srv.PublishFrame(channel, frame)
				}
			}
		}
	}()
	const want = 2000
	waitUntil(t, 60*time.Second, "2000 test_requests", func() bool {
		return c.Heartbeat().TestRequests >= want || c.Stats().Reconnects > 0
	})
	close(stop)
	<-flooding
	st := c.Stats()
	hb := st.Heartbeat
	t.Logf("heartbeat: %d test_requests, %d answered, answer latency %+v, round trip %+v, late %d",
		hb.TestRequests, hb.Answered, hb.AnswerLatency, hb.RoundTrip, hb.Late)
	t.Logf("notifications %d, dropped %d", st.Notifications, st.Queue.Dropped)
	if st.Reconnects != 0 || srv.Stats().HeartbeatKills != 0 {
		t.Fatalf("connection lost: reconnects %d, simulator heartbeat kills %d", st.Reconnects, srv.Stats().HeartbeatKills)
	}
	if hb.Dropped != 0 || hb.Unanswered != 0 || hb.Silences != 0 {
		t.Fatalf("heartbeat %+v", hb)
	}
	// test_requests keep coming every millisecond: the ones read by now
	// may still have their answers on the way, however fast the machine.
	// Every one of them is answered (a lost one never would be).
	read := hb.TestRequests
	waitUntil(t, 30*time.Second, "the answers of the test_requests read", func() bool { return c.Heartbeat().Answered >= read })
	if st.Queue.Dropped == 0 || st.Notifications < 1000 {
		t.Fatalf("no flood reached the connection: %+v", st)
	}
	deg := obs.waitFor(t, conn.StateDegraded)
	if !errors.Is(deg.Err, conn.ErrSlowConsumer) {
		t.Fatalf("degraded by %v", deg.Err)
	}
	infos := srv.Conns()
	if len(infos) != 1 || infos[0].TestRequestsSent < want {
		t.Fatalf("simulator's view: %+v", infos)
	}
	sent := infos[0].TestRequestsSent
	waitUntil(t, 30*time.Second, "the simulator to receive the answers of what it sent", func() bool {
		in := srv.Conns()
		return len(in) == 1 && in[0].TestRequestsAnswer >= sent
	})
}

// TestSimSilentPeerDetected: the simulator goes silent; the connection
// declares itself stale, and reconnects when the simulator speaks again.
func TestSimSilentPeerDetected(t *testing.T) {
	srv := startSim(t, sim.Config{})
	c, obs := dialSim(t, srv, func(cfg *conn.Config) {
		cfg.HeartbeatInterval = 5 * time.Millisecond
		cfg.SilenceMultiple = 4
	})
	srv.Silence(true)
	deg := obs.waitFor(t, conn.StateDegraded)
	if !errors.Is(deg.Err, conn.ErrStale) {
		t.Fatalf("degraded by %v", deg.Err)
	}
	if hb := c.Heartbeat(); hb.Silences < 1 {
		t.Fatalf("heartbeat %+v", hb)
	}
	srv.Silence(false)
	obs.waitFor(t, conn.StateReady)
	if err := c.Call(context.Background(), "public/test", nil, nil); err != nil {
		t.Fatal(err)
	}
}

// TestSimReconnectRestoresEverything: after the simulator drops the
// connection, the new one is authenticated, has the heartbeat and
// cancel-on-disconnect, and every channel, from the simulator's view.
func TestSimReconnectRestoresEverything(t *testing.T) {
	srv := startSim(t, sim.Config{})
	c, obs := dialSim(t, srv, func(cfg *conn.Config) { cfg.HeartbeatInterval = 50 * time.Millisecond })
	chans := []string{"book.BTC-PERPETUAL.100ms", "ticker.BTC-PERPETUAL.100ms", "user.orders.any.any.raw"}
	if _, err := c.Subscribe(context.Background(), chans...); err != nil {
		t.Fatal(err)
	}
	first := srv.Conns()
	if len(first) != 1 {
		t.Fatalf("conns %+v", first)
	}
	for round := 1; round <= 3; round++ {
		srv.DropAll()
		deg := obs.waitFor(t, conn.StateDegraded)
		if !errors.Is(deg.Err, conn.ErrDisconnected) {
			t.Fatalf("degraded by %v", deg.Err)
		}
		obs.waitFor(t, conn.StateReady)
		// The simulator may not have cleaned up the dropped connection yet:
		// look at the newest one.
		infos := srv.Conns()
		in := infos[0]
		for _, i := range infos {
			if i.ID > in.ID {
				in = i
			}
		}
		if in.ID == first[0].ID || !in.Authenticated || !in.COD || in.HeartbeatInterval != 50*time.Millisecond {
			t.Fatalf("round %d: %+v", round, in)
		}
		got := slices.Clone(in.Channels)
		slices.Sort(got)
		want := slices.Clone(chans)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: channels %v, want %v", round, got, want)
		}
		if c.Stats().Reconnects != uint64(round) {
			t.Fatalf("reconnects %d", c.Stats().Reconnects)
		}
	}
}

// TestSimMalformedAndOversizedFrames: frames the simulator sends broken or
// too large are counted and skipped; the connection stays up.
func TestSimMalformedAndOversizedFrames(t *testing.T) {
	srv := startSim(t, sim.Config{})
	c, _ := dialSim(t, srv, func(cfg *conn.Config) { cfg.MaxFrameSize = 64 << 10 })
	srv.SendRaw(sim.MalformedFrame)
	srv.SendRaw([]byte("garbage"))
	srv.SendRaw([]byte(`{"jsonrpc":"2.0","method":"subscription","params":{"channel":"x"}}`))
	srv.SendRaw(sim.OversizedFrame(1 << 20))
	srv.SendRaw(sim.OversizedFrame(200 << 10))
	// The simulator writes a connection's frames in order: once this call
	// returns, the frames above have been read.
	if err := c.Call(context.Background(), "public/test", nil, nil); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.Malformed != 3 || st.Oversized != 2 || st.Reconnects != 0 || st.State != conn.StateReady {
		t.Fatalf("stats %+v", st)
	}
}

// TestSimTypedErrors: the simulator's error responses come back as
// *conn.RPCError, authentication failures also as ErrAuth, and nothing
// secret is logged.
func TestSimTypedErrors(t *testing.T) {
	srv := startSim(t, sim.Config{})
	c, _ := dialSim(t, srv, nil)
	ctx := context.Background()
	tests := []struct {
		name   string
		method string
		params any
		code   int
	}{
		{"unknown method", "public/no_such_method", nil, -32601},
		{"forced exception", "public/test", map[string]string{"expected_result": "exception"}, 0},
		{"invalid params", "private/buy", map[string]any{"instrument_name": "NOPE", "amount": "x"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Call(ctx, tt.method, tt.params, nil)
			var re *conn.RPCError
			if !errors.As(err, &re) || (tt.code != 0 && re.Code != tt.code) {
				t.Fatalf("err %v", err)
			}
		})
	}
	t.Run("bad secret", func(t *testing.T) {
		const secret = "wrong-secret-value"
		var logs lockedWriter
		logs.w = &bytes.Buffer{}
		_, err := conn.Dial(ctx, conn.Config{URL: srv.URL(),
			Credentials: conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: secret, Method: conn.AuthCredentials}},
			conn.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		var re *conn.RPCError
		if !errors.Is(err, conn.ErrAuth) || !errors.As(err, &re) {
			t.Fatalf("err %v", err)
		}
		if out := logs.String() + err.Error(); strings.Contains(out, secret) || !strings.Contains(out, "authentication failed") {
			t.Fatalf("log:\n%s", out)
		}
	})
}
