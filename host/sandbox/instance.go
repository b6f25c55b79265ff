package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/stratbox/stratbox/abi"
)

// FaultKind says how a plugin call failed.
type FaultKind string

// Fault kinds (abi/README.md §15).
const (
	FaultTrap       FaultKind = "trap"       // unreachable, out-of-bounds access, out of memory, …
	FaultBudget     FaultKind = "budget"     // the call overran its time budget
	FaultExit       FaultKind = "exit"       // the plugin called proc_exit
	FaultError      FaultKind = "error"      // the plugin returned a negative plugin error
	FaultResult     FaultKind = "result"     // a result outside 0..outbox capacity
	FaultOutbox     FaultKind = "outbox"     // an outbox that cannot be framed into records
	FaultDescriptor FaultKind = "descriptor" // stratbox_buffers pointed at a bad descriptor
	FaultCanceled   FaultKind = "canceled"   // the host's context ended during the call
	FaultStartup    FaultKind = "startup"    // the start-up blob does not fit the inbox
	FaultFlood      FaultKind = "flood"      // the plugin kept sending intents far over its rate limit
)

// Fault is a failed plugin call. The instance is dead after it.
type Fault struct {
	Plugin string
	Call   string // the export called, e.g. "stratbox_on_events"
	Kind   FaultKind
	Code   int64 // the plugin error, result or exit code, where there is one
	Err    error // the runtime's error, where there is one
}

func (f *Fault) Error() string {
	msg := fmt.Sprintf("sandbox: plugin %q faulted in %s: %s", f.Plugin, f.Call, f.Kind)
	switch f.Kind {
	case FaultError, FaultResult, FaultExit:
		msg += fmt.Sprintf(" (%d)", f.Code)
	}
	if f.Err != nil {
		msg += ": " + f.Err.Error()
	}
	return msg
}

func (f *Fault) Unwrap() error { return f.Err }

// Line is the fault on one line, for summaries and status lines: Error's
// text up to its first line break (a trap's wasm stack trace, and a
// child's quoted stderr, follow on further lines; the log has them whole).
func (f *Fault) Line() string {
	msg := f.Error()
	if i := strings.IndexAny(msg, "\r\n"); i >= 0 {
		msg = strings.TrimRight(msg[:i], " :") + " (…)"
	}
	return msg
}

// Instance is one live instantiation of a plugin.
type Instance struct {
	p      *Plugin
	st     *instState
	mod    api.Module
	mem    api.Memory
	init   api.Function
	events api.Function
	stop   api.Function
	stack  []uint64
	limit  time.Duration // the budget of a call: InitBudget while it starts, then CallBudget
	desc   abi.Descriptor
	out    []byte
	dead   atomic.Bool
	fault  atomic.Pointer[Fault]

	// The call budget (budget.go): nil when CallBudget is negative.
	budget *callBudget
	thread threadCache // the thread of the last call (budget.go)

	calls   atomic.Uint64
	callNs  atomic.Uint64
	maxNs   atomic.Uint64
	batches atomic.Uint64
	lastNs  uint64 // the last call's time (inProcess.LastCallTime, on the caller's goroutine)
}

// InstanceStats are an instance's counters.
type InstanceStats struct {
	Calls       uint64
	CallTime    time.Duration // total time inside the plugin
	MaxCallTime time.Duration
	MemoryBytes uint64
	LogsDropped uint64
}

// Start instantiates the plugin, calls _initialize (if exported) and
// stratbox_buffers, checks the descriptor, writes startup (the start-up blob,
// abi.AppendStartup) into the inbox and calls stratbox_init. It returns the
// instance and the intents stratbox_init wrote. Any previous instance of the
// plugin must be closed first.
func (p *Plugin) Start(ctx context.Context, startup []byte) (*Instance, []byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starts++
	st := newInstState(p.clk, p.log.With("instance", p.starts), p.cfg, p.starts)
	p.current.Store(st)
	mod, err := p.rt.InstantiateModule(ctx, p.compiled, p.moduleConfig())
	if err != nil {
		return nil, nil, p.classify("instantiate", err)
	}
	in := &Instance{
		p: p, st: st, mod: mod, mem: mod.Memory(),
		init:   mod.ExportedFunction(abi.ExportInit),
		events: mod.ExportedFunction(abi.ExportOnEvents),
		stop:   mod.ExportedFunction(abi.ExportOnStop),
		stack:  make([]uint64, 1),
	}
	in.limit = p.cfg.InitBudget // until stratbox_init has returned
	defer func() { in.limit = p.cfg.CallBudget }()
	if p.cfg.CallBudget > 0 {
		in.budget = newCallBudget()
	}
	fail := func(err error) (*Instance, []byte, error) {
		in.kill(err)
		return nil, nil, err
	}
	if f := mod.ExportedFunction(abi.ExportInitialize); f != nil {
		if _, err := in.call(ctx, f, abi.ExportInitialize, 0); err != nil {
			return fail(err)
		}
	}
	ptr, err := in.call(ctx, mod.ExportedFunction(abi.ExportBuffers), abi.ExportBuffers, 0)
	if err != nil {
		return fail(err)
	}
	raw, ok := in.mem.Read(uint32(ptr), abi.SizeDescriptor)
	if !ok {
		return fail(&Fault{Plugin: p.name, Call: abi.ExportBuffers, Kind: FaultDescriptor,
			Err: fmt.Errorf("descriptor at %#x is outside memory", uint32(ptr))})
	}
	desc, err := abi.DecodeDescriptor(raw)
	if err == nil {
		err = desc.Check(p.version, uint64(in.mem.Size()))
	}
	if err != nil {
		return fail(&Fault{Plugin: p.name, Call: abi.ExportBuffers, Kind: FaultDescriptor, Err: err})
	}
	in.desc = desc
	in.out = make([]byte, 0, desc.OutboxCap)
	if len(startup) > int(desc.InboxCap) {
		return fail(&Fault{Plugin: p.name, Call: abi.ExportInit, Kind: FaultStartup,
			Err: fmt.Errorf("start-up blob of %d bytes, inbox of %d", len(startup), desc.InboxCap)})
	}
	intents, err := in.deliver(ctx, in.init, abi.ExportInit, startup)
	if err != nil {
		return fail(err)
	}
	return in, intents, nil
}

// Deliver writes a batch of event records into the inbox, calls
// stratbox_on_events once, and returns the intent records of the outbox. The
// returned slice is valid until the next call on the instance.
func (in *Instance) Deliver(ctx context.Context, batch []byte) ([]byte, error) {
	if len(batch) > int(in.desc.InboxCap) {
		return nil, fmt.Errorf("%w: %d bytes, inbox of %d", ErrInboxFull, len(batch), in.desc.InboxCap)
	}
	in.batches.Add(1)
	return in.deliver(ctx, in.events, abi.ExportOnEvents, batch)
}

// Stop calls stratbox_on_stop, if exported, and returns its intents; the
// instance is closed afterwards whatever happens.
func (in *Instance) Stop(ctx context.Context) ([]byte, error) {
	defer in.Close(ctx)
	if in.stop == nil || in.dead.Load() {
		return nil, nil
	}
	n, err := in.call(ctx, in.stop, abi.ExportOnStop, 0)
	if err != nil {
		return nil, err
	}
	return in.outbox(abi.ExportOnStop, n)
}

// Close discards the instance. It is idempotent.
func (in *Instance) Close(ctx context.Context) error {
	if in.dead.Swap(true) {
		return nil
	}
	in.release()
	return nil
}

// Dead reports whether the instance faulted or was closed.
func (in *Instance) Dead() bool { return in.dead.Load() }

// Fault is the fault that killed the instance, or nil.
func (in *Instance) Fault() *Fault { return in.fault.Load() }

// Descriptor is what the plugin reported from stratbox_buffers.
func (in *Instance) Descriptor() abi.Descriptor { return in.desc }

// DueTimers removes and returns the plugin's timers due at now, earliest
// first; the caller delivers a timer event for each.
func (in *Instance) DueTimers(now time.Time) []uint32 { return in.st.dueTimers(now) }

// Stats returns the instance's counters.
func (in *Instance) Stats() InstanceStats {
	in.st.mu.Lock()
	dropped := in.st.logs.dropped
	in.st.mu.Unlock()
	var mem uint64
	if !in.dead.Load() {
		mem = uint64(in.mem.Size())
	}
	return InstanceStats{
		Calls:       in.calls.Load(),
		CallTime:    time.Duration(in.callNs.Load()),
		MaxCallTime: time.Duration(in.maxNs.Load()),
		MemoryBytes: mem,
		LogsDropped: dropped,
	}
}

func (in *Instance) deliver(ctx context.Context, fn api.Function, name string, batch []byte) ([]byte, error) {
	if in.dead.Load() {
		return nil, ErrDead
	}
	if !in.mem.Write(in.desc.InboxPtr, batch) {
		return nil, in.kill(&Fault{Plugin: in.p.name, Call: name, Kind: FaultDescriptor,
			Err: errors.New("inbox is outside memory")})
	}
	n, err := in.call(ctx, fn, name, uint64(len(batch)))
	if err != nil {
		return nil, err
	}
	return in.outbox(name, n)
}

// outbox checks a call's result and copies the outbox out of plugin memory.
func (in *Instance) outbox(name string, result uint64) ([]byte, error) {
	r := int32(result)
	switch {
	case r < 0:
		return nil, in.kill(&Fault{Plugin: in.p.name, Call: name, Kind: FaultError, Code: int64(r)})
	case uint32(r) > in.desc.OutboxCap || r%8 != 0:
		return nil, in.kill(&Fault{Plugin: in.p.name, Call: name, Kind: FaultResult, Code: int64(r)})
	case r == 0:
		return in.out[:0], nil
	}
	view, ok := in.mem.Read(in.desc.OutboxPtr, uint32(r))
	if !ok {
		return nil, in.kill(&Fault{Plugin: in.p.name, Call: name, Kind: FaultResult, Code: int64(r)})
	}
	in.out = append(in.out[:0], view...)
	for _, err := range abi.Records(in.out) {
		if err != nil {
			return nil, in.kill(&Fault{Plugin: in.p.name, Call: name, Kind: FaultOutbox, Err: err})
		}
	}
	return in.out, nil
}

// call runs one export under the time budget and turns every failure into a
// Fault that kills the instance.
func (in *Instance) call(ctx context.Context, fn api.Function, name string, arg uint64) (uint64, error) {
	if in.dead.Load() {
		return 0, ErrDead
	}
	callCtx := ctx
	if b := in.budget; b != nil {
		if ctx.Done() != nil { // the caller's context still counts: its end cancels the call too
			stop := in.watch(ctx)
			defer stop()
		}
		callCtx = b.ctx
		backstop := in.p.cfg.CallBackstop
		if in.limit != in.p.cfg.CallBudget { // starting: InitBudget
			backstop += in.limit
		}
		b.begin(&in.thread, in.limit, backstop)
		defer b.end()
	}
	in.stack[0] = arg
	began := time.Now()
	err := fn.CallWithStack(callCtx, in.stack)
	took := uint64(time.Since(began))
	in.lastNs = took
	in.calls.Add(1)
	in.callNs.Add(took)
	for {
		m := in.maxNs.Load()
		if took <= m || in.maxNs.CompareAndSwap(m, took) {
			break
		}
	}
	if err != nil {
		var cause error
		if in.budget != nil {
			cause = context.Cause(in.budget.ctx)
		}
		return 0, in.kill(in.p.classifyCause(name, err, cause))
	}
	if in.budget != nil && in.budget.overran.Load() {
		// Over its limit, though it returned before wazero saw the
		// cancellation: a fault all the same (the instance's context is done).
		return 0, in.kill(&Fault{Plugin: in.p.name, Call: name, Kind: FaultBudget, Err: context.Cause(in.budget.ctx)})
	}
	return in.stack[0], nil
}

// watch cancels the budget context when ctx ends.
func (in *Instance) watch(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() { in.budget.cancel(context.Cause(ctx)) })
}

func (in *Instance) kill(err error) error {
	var f *Fault
	if errors.As(err, &f) {
		in.fault.CompareAndSwap(nil, f)
		in.p.log.Warn("plugin fault", "call", f.Call, "kind", string(f.Kind), "code", f.Code, "err", f.Err)
	}
	if !in.dead.Swap(true) {
		in.release()
	}
	return err
}

// release frees what the instance holds; dead is already set.
func (in *Instance) release() {
	in.p.current.CompareAndSwap(in.st, nil)
	if b := in.budget; b != nil {
		b.mu.Lock()
		b.active = false
		b.t.Stop()
		b.mu.Unlock()
		b.cancel(ErrDead)
	}
	_ = in.mod.Close(context.Background())
}

// classify turns a runtime error into a Fault.
func (p *Plugin) classify(call string, err error) *Fault {
	return p.classifyCause(call, err, nil)
}

// classifyCause classifies err; cause is why the call's context ended, if it did.
func (p *Plugin) classifyCause(call string, err error, cause error) *Fault {
	f := &Fault{Plugin: p.name, Call: call, Kind: FaultTrap, Err: err}
	var abort *AbortError
	if errors.As(err, &abort) { // env.abort: the plugin's own message, without wazero's stack trace
		f.Kind, f.Err = FaultAbort, abort
		return f
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			f.Kind = FaultBudget
		case sys.ExitCodeContextCanceled:
			f.Kind = FaultCanceled
			if errors.Is(cause, errBudget) {
				f.Kind, f.Err = FaultBudget, cause
			}
		default:
			f.Kind, f.Code = FaultExit, int64(exit.ExitCode())
		}
	}
	return f
}
