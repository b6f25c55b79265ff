package hostbench

import (
	"context"
	"fmt"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
	strategy "github.com/stratbox/stratbox/plugins/sdk/go"
)

// nativeBox is a sandbox.Sandbox that runs a strategy natively through
// strategy.Runner: the same ABI bytes in and out as a plugin, without wasm
// (as host/bench_test.go's nativeBox). Its strategies set no timers.
type nativeBox struct {
	r             *strategy.Runner
	inbox, outbox []byte
	seq           uint32
	now           int64
	calls         uint64
	stopped       bool
}

func newNativeBox(s strategy.Strategy) *nativeBox {
	n := &nativeBox{inbox: make([]byte, strategy.InboxSize), outbox: make([]byte, strategy.OutboxSize)}
	n.r = strategy.NewRunner(s, nativeHost{n}, n.inbox, n.outbox)
	return n
}

// nativeHost: the clock is the now of the call, logs are dropped, timers
// refused.
type nativeHost struct{ n *nativeBox }

func (nativeHost) Log(abi.LogLevel, []byte) abi.Status { return abi.StatusOK }
func (h nativeHost) Now() int64                        { return h.n.now }
func (nativeHost) SetTimer(uint32, int64) abi.Status   { return abi.StatusLimit }
func (nativeHost) CancelTimer(uint32) abi.Status       { return abi.StatusNotFound }

func (n *nativeBox) result(call string, res int32) ([]byte, error) {
	n.calls++
	if res < 0 || int(res) > len(n.outbox) {
		return nil, &sandbox.Fault{Plugin: "native", Call: call, Kind: sandbox.FaultResult, Code: int64(res)}
	}
	return n.outbox[:res], nil
}

func (n *nativeBox) Start(_ context.Context, startup []byte, now time.Time) ([]byte, error) {
	if len(startup) > len(n.inbox) {
		return nil, fmt.Errorf("%w: start-up blob of %d bytes", sandbox.ErrInboxFull, len(startup))
	}
	n.now = now.UnixNano()
	return n.result(abi.ExportInit, n.r.Init(int32(copy(n.inbox, startup))))
}

func (n *nativeBox) Deliver(_ context.Context, batch []byte, now time.Time) ([]byte, error) {
	if n.stopped {
		return nil, sandbox.ErrDead
	}
	if len(batch) == 0 {
		return nil, nil
	}
	if len(batch) > len(n.inbox) {
		return nil, fmt.Errorf("%w: %d bytes, inbox of %d", sandbox.ErrInboxFull, len(batch), len(n.inbox))
	}
	n.now = now.UnixNano()
	in := n.inbox[:copy(n.inbox, batch)]
	if err := numberEvents(in, &n.seq); err != nil {
		return nil, err
	}
	return n.result(abi.ExportOnEvents, n.r.OnEvents(int32(len(in))))
}

func (n *nativeBox) NextTimer() (time.Time, bool) { return time.Time{}, false }

func (n *nativeBox) Stop(_ context.Context, now time.Time) ([]byte, error) {
	if n.stopped {
		return nil, nil
	}
	n.stopped = true
	n.now = now.UnixNano()
	return n.result(abi.ExportOnStop, n.r.OnStop())
}

func (n *nativeBox) Close() error                 { n.stopped = true; return nil }
func (n *nativeBox) Fault() *sandbox.Fault        { return nil }
func (n *nativeBox) Stats() sandbox.InstanceStats { return sandbox.InstanceStats{Calls: n.calls} }
func (n *nativeBox) Descriptor() abi.Descriptor {
	return abi.Descriptor{Version: abi.Current, InboxCap: uint32(len(n.inbox)), OutboxCap: uint32(len(n.outbox))}
}

var _ sandbox.Sandbox = (*nativeBox)(nil)
