package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/venue/deribit"
)

// TestNewStartsNothing: New validates and builds; the server, its
// directory and the loops come with Start, and go with Close.
func TestNewStartsNothing(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	h := NewPoolHolder()
	c := Config{Name: "solo"}
	testTiming(&c)
	n, err := New(c, h, h)
	if err != nil {
		t.Fatal(err)
	}
	if n.Server() != nil || n.Conn() != nil || n.ctx != nil {
		t.Fatal("New started a server, a connection or the loops")
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("New made %d entries in the temporary directory", len(ents))
	}
	// A call through a node that was never started fails, naming it,
	// without sending anything.
	if _, err := n.remote(context.Background(), "other", "main", "", "private/cancel", []byte(`{}`), 0); !errors.Is(err, conn.ErrNotSent) ||
		!strings.Contains(err.Error(), "not started") {
		t.Fatalf("remote before Start: %v", err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.Server() == nil || n.Conn() == nil {
		t.Fatal("Start did not start the server")
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), "stratbox-nats-solo-") {
		t.Fatalf("Start's store directory: %v", ents)
	}
	if err := n.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("Close left %v", ents)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// Closed before it was started: nothing to release, and no Start.
	n2, err := New(c, h, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n2.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("Start after Close: %v", err)
	}
}

// TestStartFailsCleanly: a start that cannot reach its cluster releases
// what it made and says why.
func TestStartFailsCleanly(t *testing.T) {
	h := NewPoolHolder()
	n, err := New(Config{Mode: ModeExternal, Name: "x", URLs: []string{"nats://127.0.0.1:1"}}, h, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "connect to nats://127.0.0.1") {
		t.Fatalf("Start: %v", err)
	}
	if err := n.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("Start after a failed start: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseAndLivenessOnTheClock: the controller's lease margin and a
// peer's liveness are read on the node's clock.
func TestLeaseAndLivenessOnTheClock(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	h := NewPoolHolder()
	c := Config{Name: "a"}
	testTiming(&c)
	n, err := New(c, h, h, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	n.lease = leaseState{held: true, fence: 7, rev: 7, renewed: clk.Now()}
	n.peers["b"] = &peer{name: "b", inc: "i1", lastBeat: clk.Now()}
	clk.Advance(c.LeaseTTL*3/4 - time.Millisecond)
	if f := n.fence(); f != 7 {
		t.Fatalf("fence within the lease's margin = %d, want 7", f)
	}
	clk.Advance(time.Millisecond)
	if f := n.fence(); f != 0 {
		t.Fatalf("fence at the lease's margin = %d, want 0", f)
	}
	if !n.aliveLocked("b", "i1", clk.Now()) || n.aliveLocked("b", "i2", clk.Now()) {
		t.Fatal("liveness within the node timeout")
	}
	clk.Advance(c.NodeTimeout)
	if n.aliveLocked("b", "", clk.Now()) {
		t.Fatal("b alive after the node timeout")
	}
}

// scriptedPlacer answers order-state reads with a state the test sets,
// finds no order by label, and records places.
type scriptedPlacer struct {
	mu     sync.Mutex
	state  string
	places chan string
}

func (p *scriptedPlacer) set(s string) { p.mu.Lock(); p.state = s; p.mu.Unlock() }

func (p *scriptedPlacer) Place(_ context.Context, _, _, method string, params []byte) (json.RawMessage, error) {
	switch deribit.Op(method) {
	case deribit.OpOrderState:
		p.mu.Lock()
		defer p.mu.Unlock()
		return json.RawMessage(`{"order_state":"` + p.state + `","amount":10,"filled_amount":4}`), nil
	case deribit.OpOrderStateByLabel:
		return json.RawMessage(`[]`), nil
	case deribit.OpPlace:
		p.places <- method + " " + string(params)
		return json.RawMessage(`{"order":{"order_id":"new"}}`), nil
	}
	return nil, errors.New("unexpected " + method)
}

// TestReestablishWaitsOnTheClock: the controller waits for a lost order's
// cancellation on the node's clock, polling with its timers: it gives up
// after ReestablishWait of that clock, and re-places the rest as soon as
// the exchange reports the order cancelled.
func TestReestablishWaitsOnTheClock(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	pl := &scriptedPlacer{state: "open", places: make(chan string, 4)}
	c := Config{Name: "ctl"}
	testTiming(&c)
	n, err := startNode(context.Background(), c, NewPoolHolder(), pl, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	// The beat, publish and control loops' tickers.
	if !clk.WaitForTimers(3, nil) {
		t.Fatal("the loops' tickers")
	}
	base := clk.Timers()
	run := func(id string) chan bool {
		done, ended := make(chan bool, 1), make(chan struct{})
		o := Order{Label: "l-" + id, OrderID: id, Instrument: "BTC-PERPETUAL", Direction: "sell", Type: "limit", Price: 50000, Amount: 10}
		go func() { done <- n.reestablish(o, n.Name(), "main", "c1", 1, "gone"); close(ended) }()
		if !clk.WaitForTimers(base+1, ended) {
			t.Fatal("reestablish ended without waiting on the clock")
		}
		return done
	}

	// Still open: polled on the clock until ReestablishWait has passed.
	done := run("o1")
	clk.Advance(c.ReestablishWait + time.Millisecond)
	if ok := <-done; ok {
		t.Fatal("an order still open was re-established")
	}
	if got := n.Counters().NotReplaced; got != 1 {
		t.Fatalf("not replaced = %d, want 1", got)
	}

	// Cancelled at the next poll: the rest (10 - 4) is placed at once.
	done = run("o2")
	pl.set("cancelled")
	clk.Advance(50 * time.Millisecond)
	if ok := <-done; !ok {
		t.Fatal("a cancelled order was not re-established")
	}
	want := `private/sell {"instrument_name":"BTC-PERPETUAL","amount":6,"label":"l-o2","type":"limit","price":50000}`
	if got := <-pl.places; got != want {
		t.Fatalf("place = %s\nwant %s", got, want)
	}
	if len(pl.places) != 0 {
		t.Fatal("more than one place")
	}
}
