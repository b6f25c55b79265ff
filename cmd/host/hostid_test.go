package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/internal/hostid"
	"github.com/stratbox/stratbox/sim"
)

// loopbackSim starts a simulator on loopback for host run --exchange and
// puts its test key in the environment.
func loopbackSim(t *testing.T) *sim.Server {
	t.Helper()
	srv, err := sim.Start(context.Background(), sim.Config{Seed: 1, MinHeartbeat: 100 * time.Millisecond,
		Tick: 20 * time.Millisecond, RateLimits: sim.RateLimits{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	t.Setenv("DERIBIT_CLIENT_ID", sim.TestKeyID)
	t.Setenv("DERIBIT_CLIENT_SECRET", sim.TestKeySecret)
	return srv
}

// Two hosts never hold one host id: host run with a configured id that a
// running host holds refuses to start and names the id and its lock file;
// without a configured id it takes another and says which.
func TestRunHostIDHeld(t *testing.T) {
	srv := loopbackSim(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	wasm, err := filepath.Abs("../../testdata/abi/cancel_on_timer.wasm")
	if err != nil {
		t.Fatal(err)
	}
	held, err := hostid.Acquire(state, "alpha") // the other, running host
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	body := fmt.Sprintf(`[exchange]
url = %q
heartbeat_interval = "100ms"
[host]
state_dir = %q
cache_dir = "off"
status = "0s"
isolation = "none"
%%s
[[plugin]]
path = %q
`, srv.URL(), state, wasm)
	cfg := writeSimConfig(t, dir, fmt.Sprintf(body, `id = "alpha"`))
	var out bytes.Buffer
	err = run(context.Background(), []string{"run", "--config", cfg, "--duration", "1ms"}, &out, &out)
	if !errors.Is(err, hostid.ErrHeld) || !strings.Contains(err.Error(), `"alpha"`) || !strings.Contains(err.Error(), "host-alpha.lock") {
		t.Fatalf("err = %v, want the held id named\n%s", err, out.String())
	}
	cfg = writeSimConfig(t, dir, fmt.Sprintf(body, ""))
	w := newWatchWriter("running cancel_on_timer")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-w.seen
		cancel() // it has its id and is connected: stop, whether or not set-up is over
	}()
	if err := run(ctx, []string{"run", "--config", cfg}, w, w); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %v\n%s", err, w)
	}
	if !strings.Contains(w.String(), "a new id (alpha held by running hosts") {
		t.Fatalf("output does not say which id it took and why:\n%s", w)
	}
}

// watchWriter collects output and closes seen once it contains a string.
type watchWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func newWatchWriter(want string) *watchWriter {
	return &watchWriter{want: want, seen: make(chan struct{})}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := strings.Contains(w.buf.String(), w.want)
	w.buf.Write(p)
	if !had && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
