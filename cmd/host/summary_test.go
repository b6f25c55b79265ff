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
