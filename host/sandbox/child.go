package sandbox

// The child-process Sandbox (IsolateProcess).
//
// NewProcess starts the host binary again with the hidden argument ChildArg;
// ServeChild, in the child, loads the plugin and runs it in an in-process
// Sandbox, so that timers and the numbering of events work there exactly as
// in-process. The parent writes one request on the child's stdin and reads
// the reply from its stdout; one request is outstanding at a time. It
// enforces the call budget by killing the child (SIGKILL) when a reply is
// late. The child's stderr is logged as warn lines.
//
// # Protocol
//
// Every message is a frame, little-endian:
//
//	0 u32 payload length (not counting this 8-byte header)
//	4 u8  type
//	5 3 bytes zero
//	8 payload
//
// A str is a u32 byte length and the bytes; a time is an i64 of ns since the
// Unix epoch. Requests (parent → child):
//
//	'L' load     u64 instance number | u32 memory_limit_pages | u32 zero |
//	             u64 log_rate | u64 log_burst | u64 seed | u64 timer_min ns |
//	             str name | str cache_dir | the module's bytes to the end
//	'S' start    time now | the start-up blob to the end
//	'D' deliver  time now | the batch to the end
//	'X' stop     time now
//
// Replies (child → parent): zero or more log frames, then exactly one of
// result, fault or error.
//
//	'G' log      i32 slog level | u32 n | str message | n × (str key | str value)
//	'R' result    0 u64 calls    8 u64 call time ns   16 u64 max call time ns
//	             24 u64 memory  32 u64 logs dropped   40 time next timer
//	             48 u8 flags (1: a timer is armed, 2: a call was made) | 7 zero
//	             56 the 32-byte descriptor | 88 the intents to the end
//	'F' fault    i64 code | str kind | str call | str error ("" = none)
//	'E' error    u32 code (1: the batch is larger than the inbox; 0: other) |
//	             u32 zero | str text
//
// The counters of a result are the instance's totals. After a fault reply
// the child exits; after the result of a stop it exits too. A load reply is
// a result with zero counters and descriptor.

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
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/clock"
)

// ChildArg is the hidden first argument that makes the host binary serve one
// plugin instance on stdin/stdout.
const ChildArg = "__stratbox_plugin_child"

// FaultProcess: the child process died or broke the protocol.
const FaultProcess FaultKind = "process"

// Frame types.
const (
	reqLoad    = 'L'
	reqStart   = 'S'
	reqDeliver = 'D'
	reqStop    = 'X'
	repLog     = 'G'
	repResult  = 'R'
	repFault   = 'F'
	repError   = 'E'
)

// Protocol sizes and limits.
const (
	frameHeader  = 8
	resultFixed  = 88
	maxRequest   = 1 << 30  // the module is the largest request
	maxReply     = 64 << 20 // so an outbox above 64 MiB cannot cross
	maxLogAttrs  = 64
	flagTimer    = 1
	flagCalled   = 2
	errCodeOther = 0
	errCodeInbox = 1
)

// Child exit codes (ServeChild).
const (
	childExitOK       = 0 // the input ended or a stop was served
	childExitFault    = 1 // the plugin faulted
	childExitProtocol = 2 // a broken request, a failed load or a failed write
)

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

	req   []byte // the request being sent, reused
	reply []byte // the last reply's payload, reused: Deliver's intents point into it
	hdr   [frameHeader]byte

	started bool
	desc    abi.Descriptor
	next    time.Time
	hasNext bool

	// The deadline of a call: a reused timer that kills the child, and why
	// the parent killed it, read when the reply (or the read error) is in.
	timer    *time.Timer
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
// parent enforces p's call budget by killing the child.
func NewProcess(p *Plugin, pc ProcessConfig) Sandbox {
	s := &procSandbox{p: p, pc: pc.withDefaults(), log: p.log}
	s.timer = time.AfterFunc(time.Hour, func() { s.abort(whyDeadline) })
	s.timer.Stop()
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
	if _, err := s.roundTrip(ctx, callLoad, s.pc.StartTimeout, s.p.wasm); err != nil {
		return nil, err
	}
	s.req = appendTimed(s.req[:0], reqStart, now, startup)
	body, err := s.roundTrip(ctx, abi.ExportInit, s.p.cfg.InitBudget, nil)
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
	s.req = appendTimed(s.req[:0], reqDeliver, now, batch)
	return s.call(ctx, abi.ExportOnEvents)
}

func (s *procSandbox) NextTimer() (time.Time, bool) { return s.next, s.hasNext }

// Stop sends the stop request, takes its intents and lets the child exit
// (killing it if it has not within stopGrace).
func (s *procSandbox) Stop(ctx context.Context, now time.Time) ([]byte, error) {
	if !s.started || s.dead.Load() {
		return nil, s.Close()
	}
	defer s.exit()
	s.req = appendTimed(s.req[:0], reqStop, now, nil)
	return s.call(ctx, abi.ExportOnStop)
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
	path := s.pc.Path
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("host binary: %w", err)
		}
		path = exe
		if s.pc.Credential != nil && runtime.GOOS == "linux" {
			// As another user the child may not be able to reach the host's
			// binary by its path (`go run` builds it in a 0700 directory):
			// /proc/self/exe, resolved in the forked child before exec, is the
			// same binary without a path walk.
			path = "/proc/self/exe"
		}
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		_, _ = inR.Close(), inW.Close()
		return err
	}
	s.stderr = &stderrLog{log: s.p.log.With("instance", instance)}
	// The child sets its own limits first thing (lowering one's own limits
	// needs no privilege; setting another user's child's would).
	lim := s.pc.Limits.resolve(int64(s.p.cfg.MemoryLimitPages) * 65536)
	cmd := exec.Command(path, append(slices.Clip(s.pc.Args), lim.arg())...)
	cmd.Env = []string{}
	cmd.Dir = os.TempDir()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, s.stderr
	cmd.SysProcAttr = childSysProcAttr()
	if s.pc.Credential != nil {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Credential = s.pc.Credential
	}
	cmd.WaitDelay = time.Second
	if err := cloexecInherited(); err != nil { // only the pipes are inherited
		_, _, _, _ = inR.Close(), inW.Close(), outR.Close(), outW.Close()
		return err
	}
	err = cmd.Start()
	_, _ = inR.Close(), outW.Close() // the child holds them now
	if err != nil {
		_, _ = inW.Close(), outR.Close()
		return fmt.Errorf("start %s: %w", path, err)
	}
	s.cmd, s.stdin, s.stdout = cmd, inW, outR
	s.r = bufio.NewReaderSize(outR, 64<<10)
	s.log = s.p.log.With("instance", instance, "pid", cmd.Process.Pid)
	return nil
}

func (s *procSandbox) appendLoad(b []byte, instance uint64) []byte {
	cfg := s.p.cfg
	start := len(b)
	b = appendFrameHeader(b, reqLoad, 0) // the length is set below
	b = binary.LittleEndian.AppendUint64(b, instance)
	b = binary.LittleEndian.AppendUint32(b, cfg.MemoryLimitPages)
	b = binary.LittleEndian.AppendUint32(b, 0)
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

// appendTimed appends a start, deliver or stop request.
func appendTimed(b []byte, typ byte, now time.Time, data []byte) []byte {
	b = appendFrameHeader(b, typ, 8+len(data))
	b = binary.LittleEndian.AppendUint64(b, uint64(now.UnixNano()))
	return append(b, data...)
}

// call makes one plugin call: the request is in s.req.
func (s *procSandbox) call(ctx context.Context, name string) ([]byte, error) {
	body, err := s.roundTrip(ctx, name, s.p.cfg.CallBudget, nil)
	if err != nil {
		return nil, err
	}
	return s.result(name, body)
}

// roundTrip sends s.req (and then extra) and reads the reply that ends the
// request, within limit (none if negative): on the deadline or the end of
// ctx the child is killed, which ends the read. It returns the payload of a
// result; any other outcome is an error, and all but an error reply leave
// the sandbox dead.
func (s *procSandbox) roundTrip(ctx context.Context, call string, limit time.Duration, extra []byte) ([]byte, error) {
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
	if limit >= 0 {
		s.timer.Reset(limit)
	}
	typ, body, err := s.exchange(extra)
	if limit >= 0 && !s.timer.Stop() {
		s.abort(whyDeadline) // fired: the kill is on its way, if not done
	}
	if unwatch != nil && !unwatch() {
		s.abort(whyCanceled)
	}
	if why := s.why.Load(); why != whyNone {
		return nil, s.aborted(ctx, call, limit, why)
	}
	if err != nil {
		return nil, s.broken(call, err)
	}
	switch typ {
	case repResult:
		return body, nil
	case repFault:
		return nil, s.childFault(call, body)
	case repError:
		return nil, s.childError(call, body)
	}
	return nil, s.broken(call, fmt.Errorf("unexpected reply type %q", typ))
}

// exchange writes the request and reads frames up to the one that ends
// it, logging the plugin's log lines on the way.
func (s *procSandbox) exchange(extra []byte) (byte, []byte, error) {
	if _, err := s.stdin.Write(s.req); err != nil {
		return 0, nil, fmt.Errorf("write request: %w", err)
	}
	if len(extra) > 0 {
		if _, err := s.stdin.Write(extra); err != nil {
			return 0, nil, fmt.Errorf("write request: %w", err)
		}
	}
	for {
		typ, body, err := readFrame(s.r, &s.hdr, &s.reply, maxReply)
		if err != nil {
			return 0, nil, fmt.Errorf("read reply: %w", err)
		}
		if typ != repLog {
			return typ, body, nil
		}
		if err := s.logLine(body); err != nil {
			return 0, nil, err
		}
	}
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
func (s *procSandbox) aborted(ctx context.Context, call string, limit time.Duration, why int32) error {
	f := &Fault{Plugin: s.p.name, Call: call}
	switch {
	case why == whyClosed:
		s.end()
		return ErrDead
	case why == whyCanceled:
		f.Kind, f.Err = FaultCanceled, context.Cause(ctx)
	case call == callLoad:
		f.Kind, f.Err = FaultProcess, fmt.Errorf("the child did not load the plugin within %v", limit)
	default:
		f.Kind, f.Err = FaultBudget, fmt.Errorf("call budget of %v exceeded: child process killed", limit)
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

// abort kills the child for a reason, the first one set.
func (s *procSandbox) abort(why int32) {
	s.why.CompareAndSwap(whyNone, why)
	s.kill()
}

func (s *procSandbox) kill() {
	if s.cmd != nil {
		_ = s.cmd.Process.Kill() // ErrProcessDone once reaped
	}
}

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
		s.timer.Stop()
		_ = s.stdin.Close() // a child still reading sees the end of its input
		_ = s.cmd.Wait()
		_ = s.stdout.Close()
		s.stderr.flush()
	})
}

// stderrLog logs a child's stderr as warn lines, stderrCap bytes in all,
// and keeps its last stderrTail bytes for a process fault.
type stderrLog struct {
	log    *slog.Logger
	mu     sync.Mutex
	line   []byte // the start of a line not ended yet
	logged int
	tail   []byte
}

func (w *stderrLog) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tail = append(w.tail, b...)
	if over := len(w.tail) - stderrTail; over > 0 {
		w.tail = append(w.tail[:0], w.tail[over:]...)
	}
	w.line = append(w.line, b...)
	start := 0
	for i, c := range w.line {
		if c == '\n' {
			w.emit(w.line[start:i])
			start = i + 1
		}
	}
	w.line = append(w.line[:0], w.line[start:]...)
	if len(w.line) > maxLogLine {
		w.emit(w.line)
		w.line = w.line[:0]
	}
	return len(b), nil
}

// emit logs one line while the cap allows, and once that it was reached.
func (w *stderrLog) emit(line []byte) {
	switch {
	case w.logged > stderrCap:
		return
	case w.logged+len(line) > stderrCap:
		w.logged = stderrCap + 1
		w.log.Warn("child stderr: the rest is dropped", "cap", stderrCap)
		return
	}
	w.logged += len(line)
	w.log.Warn("child stderr", "line", string(line))
}

// flush logs a last line without its end.
func (w *stderrLog) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.line) > 0 {
		w.emit(w.line)
		w.line = w.line[:0]
	}
}

// tailText is the end of the child's stderr, from a line start when it was cut.
func (w *stderrLog) tailText() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.tail
	if len(t) == stderrTail {
		if i := strings.IndexByte(string(t), '\n'); i >= 0 {
			t = t[i+1:]
		}
	}
	return strings.TrimSpace(string(t))
}

// appendFrameHeader appends the header of a frame of type typ with a
// payload of n bytes.
func appendFrameHeader(b []byte, typ byte, n int) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	return append(b, typ, 0, 0, 0)
}

func appendFrameStr(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// readFrame reads one frame into *buf (grown as needed, reused); it
// returns io.EOF only at a frame boundary.
func readFrame(r *bufio.Reader, hdr *[frameHeader]byte, buf *[]byte, limit int) (byte, []byte, error) {
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("frame header: %w", err)
		}
		return 0, nil, err
	}
	n, typ := binary.LittleEndian.Uint32(hdr[:]), hdr[4]
	if hdr[5]|hdr[6]|hdr[7] != 0 || int64(n) > int64(limit) {
		return 0, nil, fmt.Errorf("bad frame header % x", hdr[:])
	}
	if cap(*buf) < int(n) {
		*buf = make([]byte, n)
	}
	b := (*buf)[:n]
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, fmt.Errorf("frame of %d bytes: %w", n, noEOF(err))
	}
	return typ, b, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// frameDec reads the fields of a payload; bad is set when one does not fit.
type frameDec struct {
	b   []byte
	bad bool
}

func (d *frameDec) take(n int) []byte {
	if d.bad || n < 0 || n > len(d.b) {
		d.bad = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *frameDec) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *frameDec) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (d *frameDec) str() string {
	n := d.u32()
	if n > uint32(len(d.b)) {
		d.bad = true
		return ""
	}
	return string(d.take(int(n)))
}

// ServeChild is the child side: it reads requests from r and writes replies
// to w until r ends or a stop request; it returns the process exit code.
// main (and TestMain) call it when os.Args[1] == ChildArg.
//
// The child ignores SIGINT, SIGTERM and SIGHUP: the parent stops it (an
// operator's Ctrl-C goes to the whole process group), or kills it.
func ServeChild(r io.Reader, w io.Writer) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	if err := applyLimitArg(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "stratbox child: %v\n", err)
		return childExitProtocol
	}
	if w == io.Writer(os.Stdout) {
		os.Stdout = os.Stderr // a stray print must not break the protocol
	}
	c := &childServer{in: bufio.NewReaderSize(r, 64<<10), out: bufio.NewWriterSize(w, 64<<10),
		clk: clock.NewFake(time.Unix(0, 0))}
	defer c.close()
	return c.serve()
}

// childServer serves one plugin instance in the child.
type childServer struct {
	in  *bufio.Reader
	hdr [frameHeader]byte
	buf []byte // the request's payload, reused after the load

	mu   sync.Mutex // serialises writes: log lines come from inside calls
	out  *bufio.Writer
	wbuf []byte

	clk   *clock.Fake // set to the parent's now before every call
	cache *Cache
	p     *Plugin
	sb    Sandbox
}

func (c *childServer) serve() int {
	for {
		typ, body, err := readFrame(c.in, &c.hdr, &c.buf, maxRequest)
		if err == io.EOF {
			return childExitOK
		}
		if err != nil {
			return c.protocol("read request: %v", err)
		}
		if code, done := c.handle(typ, body); done {
			return code
		}
	}
}

// handle serves one request; done says the child is to exit with code.
func (c *childServer) handle(typ byte, body []byte) (code int, done bool) {
	if (typ == reqLoad) != (c.sb == nil) {
		return c.protocol("request %q out of order", typ), true
	}
	if typ == reqLoad {
		c.buf = nil // the module now belongs to the plugin
		return c.load(body)
	}
	d := frameDec{b: body}
	now := time.Unix(0, int64(d.u64()))
	if d.bad {
		return c.protocol("request %q of %d bytes", typ, len(body)), true
	}
	c.clk.Set(now)
	ctx := context.Background()
	var intents []byte
	var err error
	switch typ {
	case reqStart:
		intents, err = c.sb.Start(ctx, d.b, now)
	case reqDeliver:
		intents, err = c.sb.Deliver(ctx, d.b, now)
	case reqStop:
		intents, err = c.sb.Stop(ctx, now)
	default:
		return c.protocol("unknown request %q", typ), true
	}
	if err != nil {
		return c.sendError(err)
	}
	if err := c.sendResult(intents); err != nil {
		return c.protocol("write result: %v", err), true
	}
	return childExitOK, typ == reqStop
}

// load loads the plugin with the parent's config, the fake clock, no call
// budget (the parent keeps it) and a logger that forwards to the parent.
func (c *childServer) load(body []byte) (int, bool) {
	d := frameDec{b: body}
	instance := d.u64()
	cfg := PluginConfig{MemoryLimitPages: d.u32(), CallBudget: -1}
	d.u32()
	cfg.LogRate, cfg.LogBurst, cfg.Seed = int(d.u64()), int(d.u64()), d.u64()
	cfg.TimerMin = time.Duration(d.u64())
	name, dir := d.str(), d.str()
	if d.bad || instance == 0 {
		return c.protocol("load request of %d bytes", len(body)), true
	}
	var err error
	if c.cache, err = NewCache(dir); err == nil {
		c.p, err = Load(context.Background(), name, d.b, cfg, WithClock(c.clk), WithCache(c.cache),
			WithLogger(slog.New(childLogHandler{c})))
	}
	if err != nil {
		return c.sendError(&Fault{Plugin: name, Call: callLoad, Kind: FaultProcess, Err: err})
	}
	c.p.starts = instance - 1 // Start numbers this instance as the parent did
	// Loaded: from here on the child runs plugin code, confined.
	if err := confine(); err != nil {
		return c.sendError(&Fault{Plugin: name, Call: callLoad, Kind: FaultProcess, Err: err})
	}
	c.sb = NewInProcess(c.p)
	if err := c.sendResult(nil); err != nil {
		return c.protocol("write result: %v", err), true
	}
	return childExitOK, false
}

// sendError replies with a fault, after which the child exits, or with an
// error that leaves the plugin alive.
func (c *childServer) sendError(err error) (int, bool) {
	var f *Fault
	if errors.As(err, &f) {
		text := ""
		if f.Err != nil {
			text = f.Err.Error()
		}
		b := binary.LittleEndian.AppendUint64(c.wbuf[:0], uint64(f.Code))
		b = appendFrameStr(appendFrameStr(appendFrameStr(b, string(f.Kind)), f.Call), text)
		if werr := c.send(repFault, b, nil); werr != nil {
			return c.protocol("write fault: %v", werr), true
		}
		return childExitFault, true
	}
	code := uint32(errCodeOther)
	if errors.Is(err, ErrInboxFull) {
		code = errCodeInbox
	}
	b := binary.LittleEndian.AppendUint32(c.wbuf[:0], code)
	b = appendFrameStr(binary.LittleEndian.AppendUint32(b, 0), err.Error())
	if werr := c.send(repError, b, nil); werr != nil {
		return c.protocol("write error: %v", werr), true
	}
	return childExitOK, false
}

// sendResult replies with the instance's counters, timer, descriptor and intents.
func (c *childServer) sendResult(intents []byte) error {
	st, desc := c.sb.Stats(), c.sb.Descriptor()
	next, armed := c.sb.NextTimer()
	var flags byte
	if armed {
		flags |= flagTimer
	}
	if intents != nil {
		flags |= flagCalled
	}
	le := binary.LittleEndian
	b := le.AppendUint64(c.wbuf[:0], st.Calls)
	b = le.AppendUint64(b, uint64(st.CallTime))
	b = le.AppendUint64(b, uint64(st.MaxCallTime))
	b = le.AppendUint64(b, st.MemoryBytes)
	b = le.AppendUint64(b, st.LogsDropped)
	b = le.AppendUint64(b, uint64(next.UnixNano()))
	b = append(b, flags, 0, 0, 0, 0, 0, 0, 0)
	b = abi.AppendDescriptor(b, &desc)
	return c.send(repResult, b, intents)
}

// send writes and flushes one frame: fixed, then tail. It reuses wbuf.
func (c *childServer) send(typ byte, fixed, tail []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wbuf = fixed[:0]
	var hdr [frameHeader]byte
	_, _ = c.out.Write(appendFrameHeader(hdr[:0], typ, len(fixed)+len(tail)))
	_, _ = c.out.Write(fixed)
	_, _ = c.out.Write(tail)
	return c.out.Flush()
}

// protocol reports a broken exchange on stderr, which the parent logs.
func (c *childServer) protocol(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "stratbox plugin child: "+format+"\n", args...)
	return childExitProtocol
}

func (c *childServer) close() {
	if c.p != nil {
		_ = c.p.Close(context.Background())
	}
	if c.cache != nil {
		_ = c.cache.Close(context.Background())
	}
}

// childLogHandler forwards log records to the parent as log frames, with
// the record's own attributes; those added by With (the plugin's name, the
// instance) are the parent's to add.
type childLogHandler struct{ c *childServer }

func (h childLogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h childLogHandler) Handle(_ context.Context, r slog.Record) error {
	n := min(r.NumAttrs(), maxLogAttrs)
	b := binary.LittleEndian.AppendUint32(nil, uint32(int32(r.Level)))
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = appendFrameStr(b, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if n == 0 {
			return false
		}
		n--
		b = appendFrameStr(appendFrameStr(b, a.Key), a.Value.String())
		return true
	})
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	var hdr [frameHeader]byte
	_, _ = c.out.Write(appendFrameHeader(hdr[:0], repLog, len(b)))
	_, _ = c.out.Write(b)
	return c.out.Flush() // now: a line survives a kill later in the call
}

func (h childLogHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h childLogHandler) WithGroup(string) slog.Handler      { return h }
