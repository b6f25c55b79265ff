package main

import (
	"fmt"
	"io"
	"time"

	"github.com/stratbox/stratbox/host"
)

// printEngineSummary prints the engine's part of the end-of-run summary,
// the same for `host run` and `host replay`.
func printEngineSummary(w io.Writer, s host.EngineStats, took time.Duration) {
	fmt.Fprintf(w, "\nsummary after %v\n", took.Round(time.Millisecond))
	fmt.Fprintf(w, "  events      %d frames in, %d market events routed, %d malformed, %d book gaps\n", s.Frames, s.Events, s.Malformed, s.BookGaps)
	fmt.Fprintf(w, "  intents     %d from plugins, %d refused by the host (validation and risk)\n", s.Intents, s.Refused)
	fmt.Fprintf(w, "  orders      %d placed, %d acknowledged, %d filled (%d fills), %d cancelled, %d rejected by the exchange\n",
		s.Placed, s.Acked, s.Filled, s.Fills, s.Cancelled, s.Rejected)
	if s.Limited > 0 {
		fmt.Fprintf(w, "              %d order requests held back by the host's rate limiter (never sent)\n", s.Limited)
	}
	if s.Split > 0 {
		fmt.Fprintf(w, "              %d of them split over several connections (pool policy split): acknowledged, filled,\n"+
			"              cancelled and rejected count the exchange orders, one per leg\n", s.Split)
	}
	for _, p := range s.Plugins {
		fault := "no faults"
		if p.Faults > 0 {
			fault = fmt.Sprintf("%d faults, last: %s", p.Faults, p.LastFault.Line())
			if p.Down {
				fault += " (stopped by the circuit breaker)"
			}
		}
		avg := time.Duration(0)
		if p.Calls > 0 {
			avg = p.CallTime / time.Duration(p.Calls)
		}
		fmt.Fprintf(w, "  plugin %-10s %d calls (avg %v, max %v), %d conflated, %d dropped market events, %s\n",
			p.Name, p.Calls, avg, p.MaxCallTime, p.Inbox.Conflated+p.Inbox.Merged, p.Inbox.Dropped, fault)
		if sh := p.RateShare; sh.Name != "" {
			fmt.Fprintf(w, "    rate      share %.3g orders/s (burst %.3g): %d sent on it, %d borrowed, %d refused; %d requests refused in all\n",
				sh.Rate, sh.Burst, sh.Taken, sh.Borrowed, sh.Refused, p.Limited)
		}
		for _, q := range p.Positions {
			fmt.Fprintf(w, "    position  %s %+g at %.2f, realized PnL %.8f (fees included), unrealized %.8f\n",
				q.Instrument, q.Size.Float64(), q.AvgPrice, q.RealizedPnL, q.UnrealizedPnL)
		}
	}
}
