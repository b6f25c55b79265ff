package host

import (
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/inbox"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/pool"
)

// EngineStats are the engine's counters, for the status line, the summary
// and telemetry.
type EngineStats struct {
	Frames        uint64 // notifications received
	Events        uint64 // market records routed to plugins
	Malformed     uint64 // notifications or results that could not be decoded
	BookGaps      uint64 // book changes that skipped one (a resubscription follows)
	Intents       uint64 // intents received from plugins
	Refused       uint64 // intents refused by validation or risk
	Placed        uint64 // orders the plugins placed that passed validation and risk (a split order counts once)
	Acked         uint64 // exchange orders acknowledged as open (a split order's legs count each)
	Filled        uint64 // exchange orders completely filled
	Fills         uint64 // fills
	Cancelled     uint64 // orders cancelled (by anyone)
	Rejected      uint64 // orders the exchange refused
	Limited       uint64 // order requests the host's rate limiter refused (the account's limits, or a plugin's share): never sent
	Relocated     uint64 // orders re-placed after their connection was lost
	Split         uint64 // orders split over several connections (pool policy split)
	Requests      uint64 // order requests sent
	UnknownOrders uint64 // order events for orders the engine does not know
	InFlight      int    // requests to the exchange (and verifications) not answered yet
	Leftover      uint64 // open orders of an earlier run cancelled at start-up
	Foreign       uint64 // open orders without this host's label, left alone at start-up
	Peers         uint64 // other hosts' open orders left alone at start-up
	Killed        bool
	Plugins       []PluginStats
}

// PluginStats are one plugin's counters.
type PluginStats struct {
	Name        string
	Starts      uint64 // instances started (1 + restarts + swaps)
	Swaps       uint64 // instances started by Swap
	Faults      uint64
	LastFault   *sandbox.Fault
	Down        bool // the circuit breaker stopped it
	Paused      bool // Engine.Pause: no event is delivered to it
	Calls       uint64
	Intents     uint64
	CallTime    time.Duration
	MaxCallTime time.Duration
	OpenOrders  int
	Limited     uint64 // its order requests the host's rate limiter refused
	// RateShare is its share of the account's matching-request rate
	// (PluginSpec.RateWeight) and how it was used; zero without a pool.
	RateShare pool.ShareStats
	Inbox     inbox.Stats
	Positions []PositionStats
}

// PositionStats is a plugin's own position on one instrument.
type PositionStats struct {
	Instrument    string
	Size          abi.Fixed
	AvgPrice      float64
	RealizedPnL   float64 // fees included
	UnrealizedPnL float64 // at the last mark price
}

// Stats returns the engine's counters.
func (e *Engine) Stats() EngineStats {
	s := EngineStats{
		Frames: e.stats.frames.Load(), Events: e.stats.events.Load(), Malformed: e.stats.malformed.Load(),
		BookGaps: e.stats.gaps.Load(), Intents: e.stats.intents.Load(), Refused: e.stats.refused.Load(),
		Placed: e.stats.placed.Load(), Acked: e.stats.acked.Load(), Filled: e.stats.filled.Load(),
		Fills: e.stats.fills.Load(), Cancelled: e.stats.cancelled.Load(), Rejected: e.stats.rejected.Load(), Relocated: e.stats.relocated.Load(),
		Limited:  e.stats.limited.Load(),
		Split:    e.stats.splits.Load(),
		Requests: e.stats.requests.Load(), UnknownOrders: e.stats.unknownOrders.Load(), Killed: e.killed.Load(),
		InFlight: e.reqs.count(), Leftover: e.stats.leftover.Load(), Foreign: e.stats.foreign.Load(),
		Peers: e.stats.peers.Load(),
	}
	var shares []pool.ShareStats
	if sh := e.shares.Load(); sh != nil {
		shares = (*sh).Shares()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clk.Now()
	for _, pl := range e.plugins {
		ps := PluginStats{Name: pl.name, Starts: pl.starts.Load(), Swaps: pl.swapsN.Load(), Faults: pl.faults.Load(),
			LastFault: pl.lastFault.Load(), Down: pl.down.Load(), Paused: pl.paused.Load(), Calls: pl.calls.Load(), Intents: pl.intentsN.Load(),
			CallTime: time.Duration(pl.callNs.Load()), MaxCallTime: time.Duration(pl.maxCallNs.Load()),
			OpenOrders: len(pl.open), Limited: pl.limited.Load(), Inbox: pl.inbox.Stats()}
		for _, sh := range shares {
			if sh.Name == pl.name {
				ps.RateShare = sh
			}
		}
		for i := range pl.pos {
			r := pl.positionRecord(uint32(i), now)
			ps.Positions = append(ps.Positions, PositionStats{Instrument: pl.table[i].Name.String(), Size: r.Size,
				AvgPrice: r.AvgPrice.Float64(), RealizedPnL: r.RealizedPnL.Float64(), UnrealizedPnL: r.UnrealizedPnL.Float64()})
		}
		s.Plugins = append(s.Plugins, ps)
	}
	return s
}

// notify wakes WaitStats callers: something they may wait for changed.
func (e *Engine) notify() {
	e.chMu.Lock()
	if e.change != nil {
		close(e.change)
		e.change = nil
	}
	e.chMu.Unlock()
}

// WaitStats waits until pred holds for the engine's stats, for at most
// timeout (on the wall clock), and reports whether it did. The stats are
// checked after every order event, fault and plugin start.
func (e *Engine) WaitStats(pred func(EngineStats) bool, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		e.chMu.Lock()
		if e.change == nil {
			e.change = make(chan struct{})
		}
		ch := e.change
		e.chMu.Unlock()
		if pred(e.Stats()) {
			return true
		}
		select {
		case <-ch:
		case <-t.C:
			return false
		}
	}
}
