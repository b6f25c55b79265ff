package host

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
)

// The errors of a swap that did not happen; the old instance keeps
// running.
var (
	// ErrSwap: the new module's start-up blob or start failed.
	ErrSwap = errors.New("host: swap refused")
	// ErrSwapState: the plugin is not running (paused, restarting after a
	// fault, stopped); it wraps ErrSwap too.
	ErrSwapState = fmt.Errorf("%w: the plugin is not running", ErrSwap)
)

// SwapResult is what a swap did.
type SwapResult struct {
	// Adopted is the number of open orders the new instance took over.
	Adopted int
	// FirstCID is the new instance's first cid.
	FirstCID uint64
	// Old is the module the plugin ran before; the engine no longer uses
	// it (the caller closes it when nothing else does).
	Old *sandbox.Plugin
}

// swapReq asks a plugin's goroutine to swap its module.
type swapReq struct {
	plugin *sandbox.Plugin
	params []abi.Param
	done   chan swapDone // capacity 1
}

type swapDone struct {
	res SwapResult
	err error
}

func (r *swapReq) reply(res SwapResult, err error) { r.done <- swapDone{res, err} }

// Swap replaces the module of a running plugin without touching its
// orders (a hot swap). A new instance of p starts beside the old one, its
// start-up blob holding the plugin's open orders and positions and its
// parameters (the plugin's, each replaced or added by the one of the same
// key in params). Only when its start succeeds does it take over,
// atomically: the old instance's call under way and its intents have
// completed (it is called no more from the blob on), the events it was not
// delivered go to the new instance (order events of the adopted orders
// excepted: the blob holds their state, abi/README.md §10), and the old
// instance is closed without stratbox_on_stop and without cancelling
// anything; the requests it sent complete, and their answers reach the new
// instance. If the new module fails to start, the old one keeps running
// and the error (wrapping ErrSwap) says why.
//
// p must be loaded as the plugin's module was (its sandbox is made by the
// plugin's NewSandbox: a child process when the plugin runs in one). Swap
// waits for the plugin's goroutine, which takes the request between two
// calls; ctx bounds the wait for it, not the new instance's start (bounded
// by its init budget).
func (e *Engine) Swap(ctx context.Context, name string, p *sandbox.Plugin, params []abi.Param) (SwapResult, error) {
	if p == nil {
		return SwapResult{}, fmt.Errorf("%w: %s: no module", ErrSwap, name)
	}
	pl, err := e.pluginNamed(name)
	if err != nil {
		return SwapResult{}, err
	}
	req := &swapReq{plugin: p, params: params, done: make(chan swapDone, 1)}
	select {
	case pl.swaps <- req:
	case <-pl.gone:
		return SwapResult{}, fmt.Errorf("%w: %s stopped after too many faults, or the host is stopping", ErrSwapState, name)
	case <-ctx.Done():
		return SwapResult{}, fmt.Errorf("%w: %s: %w", ErrSwap, name, ctx.Err())
	}
	d := <-req.done // the goroutine always answers a request it took
	return d.res, d.err
}

// mergeParams returns base with each parameter of over replacing the one
// of the same key, or added after them.
func mergeParams(base, over []abi.Param) []abi.Param {
	out := slices.Clone(base)
	for _, p := range over {
		i := slices.IndexFunc(out, func(q abi.Param) bool { return q.Key == p.Key })
		if i >= 0 {
			out[i] = p
		} else {
			out = append(out, p)
		}
	}
	return out
}

const pausedSwap = "is paused: resume it first (a swap starts the new instance at once)"

// refuseSwap answers a swap request the plugin cannot take now.
func (pl *plugin) refuseSwap(req *swapReq, why string) {
	req.reply(SwapResult{}, fmt.Errorf("%w: %s %s", ErrSwapState, pl.name, why))
}

// swap carries out a swap request on the plugin's goroutine, between two
// calls of old, its live instance; it returns the instance live after it
// (old when the swap failed), and a fault of the new one (its start's
// intents flooded).
func (pl *plugin) swap(ctx context.Context, old sandbox.Sandbox, req *swapReq) (sandbox.Sandbox, *sandbox.Fault) {
	e := pl.e
	if pl.paused.Load() {
		pl.refuseSwap(req, pausedSwap)
		return old, nil
	}
	sb := pl.sandboxOf(req.plugin)
	params := mergeParams(pl.spec.Params, req.params)
	now := e.clk.Now()
	e.mu.Lock()
	inst := e.newInstance()
	mark := pl.inbox.Mark() // the blob holds every order event pushed so far
	blob, err := pl.blob(now, inst, params, true)
	first := pl.maxCID + 1
	e.mu.Unlock()
	if err != nil {
		sb.Close()
		req.reply(SwapResult{}, fmt.Errorf("%w: %s: start-up data: %w", ErrSwap, pl.name, err))
		return old, nil
	}
	// The old instance is not called from here on (this goroutine calls
	// it); callMu makes Pause wait for the hand-over.
	pl.callMu.Lock()
	out, err := sb.Start(ctx, blob, now)
	if err != nil {
		pl.callMu.Unlock()
		sb.Close()
		e.log.Warn("swap refused: the new module did not start", "plugin", pl.name, "err", err)
		req.reply(SwapResult{}, fmt.Errorf("%w: %s: the new module did not start (the old one keeps running): %w",
			ErrSwap, pl.name, err))
		return old, nil
	}
	e.mu.Lock()
	n := pl.handover(inst, true, mark)
	prev := pl.spec.Plugin
	pl.spec.Plugin, pl.spec.Params = req.plugin, params
	e.mu.Unlock()
	pl.sb = sb
	pl.starts.Add(1)
	pl.swapsN.Add(1)
	flooded := pl.intents(out, now)
	pl.callMu.Unlock()
	old.Close() // no stratbox_on_stop: its intents would be about orders that are not its own any more
	e.notify()
	e.log.Info("plugin swapped", "plugin", pl.name, "adopted", n, "first_cid", first)
	req.reply(SwapResult{Adopted: n, FirstCID: first, Old: prev}, nil)
	if flooded {
		return sb, pl.flood()
	}
	return sb, nil
}
