package pool

import (
	"context"
	"testing"
	"time"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/sim"
)

// Start counts a ready member ready before its observer reports it; the
// reports the observer still has to deliver up to that Ready (idle →
// connecting, …) are old news and count no loss, and the member's changes
// after that Ready count again. (An observer one transition behind made a
// pool's losses one more than its connections lost, under load.)
func TestEarlyReadyCountsNoLoss(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := sim.Start(ctx, sim.Config{Seed: 1, NoMarket: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	pc := Config{Conn: conn.DefaultConfig(), Size: 1, Limits: Limits{Disabled: true}}
	pc.Conn.URL = srv.URL()
	pc.Conn.Credentials = conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret, Method: conn.AuthSignature}
	var events []Event
	p, err := New(pc, nil, func(ev Event) { events = append(events, ev) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The member's connection without the pool's observer: the test
	// delivers the observer's reports itself, late.
	m := p.members[0]
	if m.c, err = conn.New(pc.Conn); err != nil {
		t.Fatal(err)
	}
	if err := m.c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)

	p.readyEarly(m)
	if !m.ready.Load() || p.failed.Load() != 0 || len(events) != 1 || !events[0].Ready {
		t.Fatalf("after the early Ready: ready %v, losses %d, events %+v", m.ready.Load(), p.failed.Load(), events)
	}
	at := time.Now()
	for _, ch := range []conn.StateChange{
		{From: conn.StateIdle, To: conn.StateConnecting, At: at},
		{From: conn.StateConnecting, To: conn.StateAuthenticating, At: at},
		{From: conn.StateAuthenticating, To: conn.StateReady, At: at},
	} {
		p.changed(m, ch)
		if !m.ready.Load() || p.failed.Load() != 0 || len(events) != 1 {
			t.Fatalf("the observer's late report %v → %v: ready %v, losses %d, events %d", ch.From, ch.To,
				m.ready.Load(), p.failed.Load(), len(events))
		}
	}
	// Past the anticipated Ready, a loss is a loss.
	p.changed(m, conn.StateChange{From: conn.StateReady, To: conn.StateDegraded, At: at})
	if m.ready.Load() || p.failed.Load() != 1 || len(events) != 2 || !events[1].Lost {
		t.Fatalf("a loss after the Ready: ready %v, losses %d, events %+v", m.ready.Load(), p.failed.Load(), events)
	}
	// A member whose connection is no longer ready is left to its
	// observer's reports.
	m.c.Close()
	p.readyEarly(m)
	if m.early || m.ready.Load() || len(events) != 2 {
		t.Fatalf("early Ready of a closed member: early %v ready %v, events %d", m.early, m.ready.Load(), len(events))
	}
}
