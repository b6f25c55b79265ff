package sandbox

// The child-process Sandbox (IsolateProcess).
//
// NewProcess starts the host binary again with the hidden argument ChildArg;
// ServeChild, in the child, loads the plugin and runs it in an in-process
// Sandbox, so that timers and the numbering of events work there exactly as
// in-process. The parent writes the load request on the child's stdin and
// reads its reply from the child's stdout; every later request and its
// replies cross a shared-memory region (package shm) created at the spawn,
// the pipe staying for liveness (transport.go). One request is outstanding
// at a time. The parent enforces the call's CPU-time budget and wall-clock
// backstop by killing the child (SIGKILL, watch.go). The child's stderr is
// logged as warn lines.
//
// The wire format is in wire.go, the child's side in childserver.go, the
// handling of its stderr in stderr.go.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox/shm"
)

// ChildArg is the hidden first argument that makes the host binary serve one
// plugin instance on stdin/stdout.
const ChildArg = "__stratbox_plugin_child"

// FaultProcess: the child process died or broke the protocol.
const FaultProcess FaultKind = "process"

// Parent-side limits.
const (
	stopGrace  = 2 * time.Second // a stopped child's time to exit before it is killed
	stderrCap  = 64 << 10        // bytes of a child's stderr logged, in all
	stderrTail = 2 << 10         // bytes of its end quoted in a process fault
	callLoad   = "load"          // Fault.Call of a failure before stratbox_init
)

// ProcessConfig says how to start child processes.
type ProcessConfig struct {
	// Path is the binary to start; default os.Executable().
	Path string
	// Args are its arguments; default []string{ChildArg}. The child's
	// limits (Limits) follow them as one more argument.
	Args []string
	// CacheDir is the wazero compilation cache directory shared with the
	// parent; "" gives the child an in-memory cache (slow: a full compile
	// per start).
	CacheDir string
	// StartTimeout bounds spawning, compiling (from the cache) and loading;
	// stratbox_init is under the call budget. Default 30s.
	StartTimeout time.Duration
	// Limits are the child's resource limits (Linux).
	Limits ProcessLimits
	// Credential runs the child as another user and group (the host must
	// be root); nil: the host's.
	Credential *syscall.Credential
}

func (pc ProcessConfig) withDefaults() ProcessConfig {
	if len(pc.Args) == 0 {
		pc.Args = []string{ChildArg}
	}
	if pc.StartTimeout <= 0 {
		pc.StartTimeout = 30 * time.Second
	}
	if pc.CacheDir != "" {
		if abs, err := filepath.Abs(pc.CacheDir); err == nil {
			pc.CacheDir = abs // the child runs in another directory
		}
	}
	return pc
}

// Reasons a call's child was killed by the parent.
const (
	whyNone int32 = iota
	whyDeadline
	whyCanceled
	whyClosed
	whyBackstop
)

// procSandbox is the Sandbox of IsolateProcess: one child process.
type procSandbox struct {
	p   *Plugin
	pc  ProcessConfig
	log *slog.Logger

	cmd    *exec.Cmd
	stdin  *os.File      // the parent's end of the child's stdin
	stdout *os.File      // the parent's end of the child's stdout
	r      *bufio.Reader // over stdout
	stderr *stderrLog

	// The shared-memory transport after the load (nil: the pipe) and the
	// liveness goroutine's frames and error.
	region     *shm.Region
	ep         *shm.Endpoint
	frames     chan pipeFrame
	quit       chan struct{} // closed by reap: ends the liveness goroutine
	readerDone chan struct{}
	pipeErr    atomic.Pointer[error]
	killEP     atomic.Pointer[shm.Endpoint] // ep, for kill from any goroutine
	ringFD     int                          // the region's descriptor in the child
	ringSize   int                          // of each ring; 0: ringSize (tests set it)
	onSent     func()                       // a test hook: a request is in the ring
	at         [8]byte

	req   []byte // the request being sent, reused
	reply []byte // the last reply's payload, reused: Deliver's intents point into it
	hdr   [frameHeader]byte

	started bool
	desc    abi.Descriptor
	next    time.Time
	hasNext bool

	// The limits of a call: a reused timer that kills the child (watch.go),
	// and why the parent killed it, read when the reply (or the read error)
	// is in.
	watch    callWatch
	why      atomic.Int32
	onCancel func()

	dead     atomic.Bool
	fault    atomic.Pointer[Fault]
	reapOnce sync.Once

	calls   atomic.Uint64
	callNs  atomic.Uint64
	maxNs   atomic.Uint64
	mem     atomic.Uint64
	dropped atomic.Uint64
}

// NewProcess returns a Sandbox that runs a fresh instance of p in a child
// process when Start is called: the host binary (pc.Path) started with
// pc.Args, an empty environment, its stderr logged through p's logger. The
// parent enforces p's call budget (CPU time of the child process, where it
// can be read: Linux) and call backstop (wall-clock time) by killing the
// child.
func NewProcess(p *Plugin, pc ProcessConfig) Sandbox {
	s := &procSandbox{p: p, pc: pc.withDefaults(), log: p.log}
	s.watch.t = time.AfterFunc(time.Hour, s.watchFire)
	s.watch.t.Stop()
	s.onCancel = func() { s.abort(whyCanceled) }
	return s
}

func (s *procSandbox) Start(ctx context.Context, startup []byte, now time.Time) ([]byte, error) {
	if s.started {
		return nil, fmt.Errorf("sandbox: plugin %q: Start called twice", s.p.name)
	}
	s.started = true
	if s.dead.Load() {
		return nil, ErrDead
	}
	instance := s.p.nextInstance()
	if err := s.spawn(instance); err != nil {
		return nil, s.die(&Fault{Plugin: s.p.name, Call: callLoad, Kind: FaultProcess, Err: err}, true)
	}
	s.req = s.appendLoad(s.req[:0], instance)
	if _, err := s.roundTrip(ctx, callLoad, wallLimit(s.pc.StartTimeout), reqLoad, now, s.p.wasm); err != nil {
		return nil, err
	}
	if s.region != nil {
		s.ep = s.region.Parent()
		s.killEP.Store(s.ep)
		s.startReader()
	}
	// The start-up's backstop leaves the call backstop's margin on top of
	// its budget: a backstop equal to the budget would make it wall time.
	cfg := s.p.cfg
	body, err := s.roundTrip(ctx, abi.ExportInit, cpuLimit(cfg.InitBudget, cfg.InitBudget+cfg.CallBackstop), reqStart, now, startup)
	if err != nil {
		return nil, err
	}
	return s.result(abi.ExportInit, body)
}

func (s *procSandbox) Deliver(ctx context.Context, batch []byte, now time.Time) ([]byte, error) {
	if !s.started || s.dead.Load() {
		return nil, ErrDead
	}
	if len(batch) == 0 && (!s.hasNext || s.next.After(now)) {
		return nil, nil
	}
	if len(batch) > int(s.desc.InboxCap) {
		return nil, fmt.Errorf("%w: %d bytes, inbox of %d", ErrInboxFull, len(batch), s.desc.InboxCap)
	}
	return s.call(ctx, abi.ExportOnEvents, reqDeliver, now, batch)
}

func (s *procSandbox) NextTimer() (time.Time, bool) { return s.next, s.hasNext }

// Stop sends the stop request, takes its intents and lets the child exit
// (killing it if it has not within stopGrace).
func (s *procSandbox) Stop(ctx context.Context, now time.Time) ([]byte, error) {
	if !s.started || s.dead.Load() {
		return nil, s.Close()
	}
	defer s.exit()
	return s.call(ctx, abi.ExportOnStop, reqStop, now, nil)
}

// Close kills the child and reaps it. It is idempotent.
func (s *procSandbox) Close() error {
	if s.cmd == nil {
		s.dead.Store(true)
		return nil
	}
	s.why.CompareAndSwap(whyNone, whyClosed)
	s.end()
	return nil
}

func (s *procSandbox) Fault() *Fault { return s.fault.Load() }

func (s *procSandbox) Stats() InstanceStats {
	var mem uint64
	if !s.dead.Load() {
		mem = s.mem.Load()
	}
	return InstanceStats{
		Calls:       s.calls.Load(),
		CallTime:    time.Duration(s.callNs.Load()),
		MaxCallTime: time.Duration(s.maxNs.Load()),
		MemoryBytes: mem,
		LogsDropped: s.dropped.Load(),
	}
}

func (s *procSandbox) Descriptor() abi.Descriptor { return s.desc }

// nextInstance numbers a new instance of p (its random seed and log tag),
// as Plugin.Start does, so that the k-th instance is the same whatever the
// isolation.
func (p *Plugin) nextInstance() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starts++
	return p.starts
}

// spawn starts the child with pipes for the protocol and an empty
// environment: credentials in the host's environment never reach it.
func (s *procSandbox) spawn(instance uint64) error {
	s.stderr = &stderrLog{log: s.p.log.With("instance", instance)}
	c, err := startChild(s.pc, s.p.cfg.MemoryLimitPages, s.stderr, s.openRegion)
	if err != nil {
		return err
	}
	s.cmd, s.stdin, s.stdout, s.region, s.ringFD = c.cmd, c.stdin, c.stdout, c.region, c.ringFD
	s.r = bufio.NewReaderSize(c.stdout, 64<<10)
	s.log = s.p.log.With("instance", instance, "pid", c.cmd.Process.Pid)
	return nil
}

// child is a started child process: its pipes and its region (nil: none).
type child struct {
	cmd           *exec.Cmd
	stdin, stdout *os.File
	region        *shm.Region
	ringFD        int
}

// startChild starts the host binary as pc says, with the limits of a
// plugin of memPages pages, its stderr to stderr and the region
// openRegion makes (which may give nil), in an empty environment.
func startChild(pc ProcessConfig, memPages uint32, stderr io.Writer, openRegion func() *shm.Region) (child, error) {
	path := pc.Path
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return child{}, fmt.Errorf("host binary: %w", err)
		}
		path = exe
		if pc.Credential != nil && runtime.GOOS == "linux" {
			// As another user the child may not be able to reach the host's
			// binary by its path (`go run` builds it in a 0700 directory):
			// /proc/self/exe, resolved in the forked child before exec, is the
			// same binary without a path walk.
			path = "/proc/self/exe"
		}
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return child{}, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		_, _ = inR.Close(), inW.Close()
		return child{}, err
	}
	// The child sets its own limits first thing (lowering one's own limits
	// needs no privilege; setting another user's child's would).
	lim := pc.Limits.resolve(int64(memPages) * 65536)
	cmd := exec.Command(path, append(slices.Clip(pc.Args), lim.arg())...)
	cmd.Env = []string{}
	cmd.Dir = os.TempDir()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, stderr
	cmd.SysProcAttr = childSysProcAttr()
	if pc.Credential != nil {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Credential = pc.Credential
	}
	cmd.WaitDelay = time.Second
	if err := cloexecInherited(); err != nil { // only the pipes and the region are inherited
		_, _, _, _ = inR.Close(), inW.Close(), outR.Close(), outW.Close()
		return child{}, err
	}
	c := child{cmd: cmd, stdin: inW, stdout: outR}
	if c.region = openRegion(); c.region != nil {
		c.ringFD = c.region.Attach(cmd)
	}
	err = cmd.Start()
	_, _ = inR.Close(), outW.Close() // the child holds them now
	if err != nil {
		_, _ = inW.Close(), outR.Close()
		if c.region != nil {
			_ = c.region.Close()
		}
		return child{}, fmt.Errorf("start %s: %w", path, err)
	}
	return c, nil
}

func (s *procSandbox) appendLoad(b []byte, instance uint64) []byte {
	cfg := s.p.cfg
	start := len(b)
	b = appendFrameHeader(b, reqLoad, 0) // the length is set below
	b = binary.LittleEndian.AppendUint64(b, instance)
	b = binary.LittleEndian.AppendUint32(b, cfg.MemoryLimitPages)
	b = binary.LittleEndian.AppendUint32(b, uint32(s.ringFD))
	b = binary.LittleEndian.AppendUint64(b, uint64(cfg.LogRate))
	b = binary.LittleEndian.AppendUint64(b, uint64(cfg.LogBurst))
	b = binary.LittleEndian.AppendUint64(b, cfg.Seed)
	b = binary.LittleEndian.AppendUint64(b, uint64(cfg.TimerMin))
	b = appendFrameStr(b, s.p.name)
	b = appendFrameStr(b, s.pc.CacheDir)
	// The module follows, written separately.
	binary.LittleEndian.PutUint32(b[start:], uint32(len(b)-start-frameHeader+len(s.p.wasm)))
	return b
}

// call makes one plugin call under the call budget and backstop.
func (s *procSandbox) call(ctx context.Context, name string, typ byte, now time.Time, data []byte) ([]byte, error) {
	// The start-up's backstop leaves the call backstop's margin on top of
	// its budget: a backstop equal to the budget would make it wall time.
	cfg := s.p.cfg
	body, err := s.roundTrip(ctx, name, cpuLimit(cfg.CallBudget, cfg.CallBackstop), typ, now, data)
	if err != nil {
		return nil, err
	}
	return s.result(name, body)
}

// roundTrip sends a request (exchange) and reads the reply that ends it,
// within lim: past a limit or at the end of ctx the child is killed and
// the wait aborted. It returns the payload of a result; any other outcome
// is an error, and all but an error reply leave the sandbox dead.
func (s *procSandbox) roundTrip(ctx context.Context, call string, lim callLimit, typ byte, now time.Time, data []byte) ([]byte, error) {
	if s.dead.Load() {
		return nil, ErrDead
	}
	if ctx.Err() != nil {
		return nil, s.die(&Fault{Plugin: s.p.name, Call: call, Kind: FaultCanceled, Err: context.Cause(ctx)}, true)
	}
	s.why.Store(whyNone)
	var unwatch func() bool
	if ctx.Done() != nil {
		unwatch = context.AfterFunc(ctx, s.onCancel)
	}
	s.watchBegin(lim)
	rtyp, body, err := s.exchange(typ, now, data)
	s.watchEnd()
	if unwatch != nil && !unwatch() {
		s.abort(whyCanceled)
	}
	if why := s.why.Load(); why != whyNone {
		return nil, s.aborted(ctx, call, lim, why)
	}
	if err != nil {
		return nil, s.broken(call, err)
	}
	if s.frames != nil && len(s.frames) != 0 {
		return nil, s.broken(call, errors.New("a frame on the pipe that no record announced"))
	}
	switch rtyp {
	case repResult:
		return body, nil
	case repFault:
		return nil, s.childFault(call, body)
	case repError:
		return nil, s.childError(call, body)
	}
	return nil, s.broken(call, fmt.Errorf("unexpected reply type %q", rtyp))
}

// logLine logs a log frame through the plugin's logger.
func (s *procSandbox) logLine(body []byte) error {
	d := frameDec{b: body}
	level := slog.Level(int32(d.u32()))
	n := d.u32()
	msg := d.str()
	if n > maxLogAttrs {
		return fmt.Errorf("log line with %d attributes", n)
	}
	attrs := make([]slog.Attr, 0, n)
	for range n {
		k := d.str()
		attrs = append(attrs, slog.String(k, d.str()))
	}
	if d.bad || len(d.b) != 0 {
		return errors.New("malformed log line")
	}
	s.log.LogAttrs(context.Background(), level, msg, attrs...)
	return nil
}

// result takes a result reply: the child's counters, timer and descriptor,
// and the intents, checked again on this side of the process boundary.
func (s *procSandbox) result(call string, body []byte) ([]byte, error) {
	if len(body) < resultFixed {
		return nil, s.broken(call, fmt.Errorf("result of %d bytes", len(body)))
	}
	desc, err := abi.DecodeDescriptor(body[56:resultFixed])
	if err != nil {
		return nil, s.broken(call, err)
	}
	le := binary.LittleEndian
	s.calls.Store(le.Uint64(body[0:]))
	s.callNs.Store(le.Uint64(body[8:]))
	s.maxNs.Store(le.Uint64(body[16:]))
	s.mem.Store(le.Uint64(body[24:]))
	s.dropped.Store(le.Uint64(body[32:]))
	s.next, s.hasNext = time.Unix(0, int64(le.Uint64(body[40:]))), body[48]&flagTimer != 0
	s.desc = desc
	intents := body[resultFixed:]
	if body[48]&flagCalled == 0 {
		return nil, nil
	}
	if len(intents) > int(desc.OutboxCap) {
		return nil, s.die(&Fault{Plugin: s.p.name, Call: call, Kind: FaultResult, Code: int64(len(intents))}, true)
	}
	if err := checkIntents(intents); err != nil {
		return nil, s.die(&Fault{Plugin: s.p.name, Call: call, Kind: FaultOutbox, Err: err}, true)
	}
	return intents, nil
}

// checkIntents checks that b frames into whole records.
func checkIntents(b []byte) error {
	for _, err := range abi.Records(b) {
		if err != nil {
			return err
		}
	}
	return nil
}

// childFault takes a fault reply: the fault the child had.
func (s *procSandbox) childFault(call string, body []byte) error {
	d := frameDec{b: body}
	code := int64(d.u64())
	kind, fcall, text := d.str(), d.str(), d.str()
	if d.bad {
		return s.broken(call, errors.New("malformed fault reply"))
	}
	f := &Fault{Plugin: s.p.name, Call: fcall, Kind: FaultKind(kind), Code: code}
	if text != "" {
		f.Err = errors.New(text)
	}
	return s.die(f, false) // the child logged it
}

// childError takes an error reply: a failed request that leaves the
// plugin alive.
func (s *procSandbox) childError(call string, body []byte) error {
	d := frameDec{b: body}
	code := d.u32()
	d.u32()
	text := d.str()
	if d.bad {
		return s.broken(call, errors.New("malformed error reply"))
	}
	if code == errCodeInbox {
		return fmt.Errorf("%w: %s", ErrInboxFull, strings.TrimPrefix(text, ErrInboxFull.Error()+": "))
	}
	return fmt.Errorf("sandbox: plugin %q: %s", s.p.name, text)
}

// aborted is the error of a call whose child the parent killed.
func (s *procSandbox) aborted(ctx context.Context, call string, lim callLimit, why int32) error {
	f := &Fault{Plugin: s.p.name, Call: call}
	switch {
	case why == whyClosed:
		s.end()
		return ErrDead
	case why == whyCanceled:
		f.Kind, f.Err = FaultCanceled, context.Cause(ctx)
	case call == callLoad:
		f.Kind, f.Err = FaultProcess, fmt.Errorf("the child did not load the plugin within %v", lim.budget)
	default:
		f.Kind, f.Err = FaultBudget, s.overrun(why)
	}
	return s.die(f, true)
}

// broken is the fault of a child that died or broke the protocol: err,
// the child's exit status and the end of its stderr.
func (s *procSandbox) broken(call string, err error) error {
	s.end() // reaped: its stderr is complete
	msg := err.Error()
	if st := s.cmd.ProcessState; st != nil {
		msg += " (child " + st.String() + ")"
	}
	if tail := s.stderr.tailText(); tail != "" {
		msg += "; stderr: " + tail
	}
	return s.die(&Fault{Plugin: s.p.name, Call: call, Kind: FaultProcess, Err: errors.New(msg)}, true)
}

// die records f (the first fault wins), logs it if the child did not, and
// ends the child.
func (s *procSandbox) die(f *Fault, log bool) error {
	s.fault.CompareAndSwap(nil, f)
	if log {
		s.log.Warn("plugin fault", "call", f.Call, "kind", string(f.Kind), "code", f.Code, "err", f.Err)
	}
	s.end()
	return f
}

// abort kills the child for a reason, the first one set, and ends a wait
// on the rings.
func (s *procSandbox) abort(why int32) {
	s.why.CompareAndSwap(whyNone, why)
	s.kill()
}

// kill kills the child and aborts a wait on the rings: the call under way
// ends at once, whatever the kernel takes to end the child.
func (s *procSandbox) kill() {
	if s.cmd != nil {
		_ = s.cmd.Process.Kill() // ErrProcessDone once reaped
	}
	if ep := s.killEP.Load(); ep != nil {
		ep.Abort(errChildKilled)
	}
}

// errChildKilled: the parent killed the child (the call's error is then
// the reason, s.why).
var errChildKilled = errors.New("the child was killed")

// end marks the sandbox dead, kills the child and reaps it.
func (s *procSandbox) end() {
	s.dead.Store(true)
	s.kill()
	s.reap()
}

// exit lets a stopped child end by itself, for stopGrace at most.
func (s *procSandbox) exit() {
	s.dead.Store(true)
	t := time.AfterFunc(stopGrace, s.kill)
	s.reap()
	t.Stop()
}

// reap waits for the child (and its stderr) and releases the pipes, once.
func (s *procSandbox) reap() {
	if s.cmd == nil {
		return
	}
	s.reapOnce.Do(func() {
		s.watchEnd()
		_ = s.stdin.Close() // a child still reading sees the end of its input
		_ = s.cmd.Wait()
		_ = s.stdout.Close()
		if s.frames != nil {
			close(s.quit)
			<-s.readerDone
		}
		if s.region != nil {
			_ = s.region.Close() // aborts a wait under way, and waits for it
		}
		s.stderr.flush()
	})
}
