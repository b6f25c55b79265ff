package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/pool"
)

// The summary gives each fault one line (a trap's wasm stack trace stays in
// the log), counts the host's rate-limit refusals apart from the exchange's
// rejections, and shows each plugin's rate share.
func TestSummaryLines(t *testing.T) {
	trap := &sandbox.Fault{Plugin: "bad", Call: "stratbox_on_stop", Kind: sandbox.FaultTrap,
		Err: errors.New("wasm error: unreachable\nwasm stack trace:\n\t.$3(i32) i32")}
	s := host.EngineStats{Placed: 10, Rejected: 1, Limited: 7, Plugins: []host.PluginStats{
		{Name: "bad", Faults: 2, LastFault: trap, Limited: 7,
			RateShare: pool.ShareStats{Name: "bad", Rate: 10.8, Burst: 36, Taken: 3, Refused: 7}},
		{Name: "mm", RateShare: pool.ShareStats{Name: "mm", Rate: 10.8, Burst: 36, Taken: 5}},
	}}
	var b bytes.Buffer
	printEngineSummary(&b, s, time.Second)
	out := b.String()
	if strings.Contains(out, "stack trace") || strings.Contains(out, "$3") {
		t.Fatalf("the summary quotes the stack trace:\n%s", out)
	}
	for _, want := range []string{
		`2 faults, last: sandbox: plugin "bad" faulted in stratbox_on_stop: trap: wasm error: unreachable (…)`,
		"1 rejected by the exchange", "7 order requests held back by the host's rate limiter",
		"share 10.8 orders/s (burst 36): 3 sent on it, 0 borrowed, 7 refused; 7 requests refused in all",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("summary lacks %q:\n%s", want, out)
		}
	}
}

// The status line, as the summary, counts the host's refusals apart from
// the exchange's rejections.
func TestStatusLineSeparatesRefusals(t *testing.T) {
	s := host.EngineStats{Events: 40, Intents: 12, Refused: 5, Placed: 7, Acked: 6, Rejected: 2}
	ps := pool.Stats{Total: 2, Healthy: 2, Members: []pool.MemberStats{{ID: 0}, {ID: 1}}}
	ps.Members[0].Heartbeat.Answered, ps.Members[1].Heartbeat.Answered = 3, 4
	var b bytes.Buffer
	printStatus(&b, s, ps, 1500*time.Millisecond)
	for _, want := range []string{"intents 12 (refused 5)", "orders placed 7 acked 6", "rejected 2 ", "connections 2/2",
		"heartbeats answered 7"} {
		if !strings.Contains(b.String(), want) {
			t.Fatalf("status line lacks %q: %s", want, b.String())
		}
	}
}
