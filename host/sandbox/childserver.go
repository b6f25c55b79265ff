package sandbox

// The child's side of IsolateProcess: ServeChild.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/host/sandbox/shm"
)

// Child exit codes (ServeChild).
const (
	childExitOK       = 0 // the input ended or a stop was served
	childExitFault    = 1 // the plugin faulted
	childExitProtocol = 2 // a broken request, a failed load or a failed write
)

// ServeChild is the child side: it reads the load request from r and
// replies on w, then serves the requests of the shared-memory region the
// load names (or, without one, of r, replying on w) until r ends or a stop
// request; it returns the process exit code. main (and TestMain) call it
// when os.Args[1] == ChildArg.
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

	// After the load: the region's endpoint (nil: the pipe carries every
	// request) and the frames of stdin for its 'P' records.
	region *shm.Region
	ep     *shm.Endpoint
	frames chan pipeFrame
	echo   bool // a bare child (reqFloor): every record goes back as it came

	clk   *clock.Fake // set to the parent's now before every call
	cache *Cache
	p     *Plugin
	sb    Sandbox
}

func (c *childServer) serve() int {
	for c.ep == nil { // the load, and every request without a region
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
	c.frames = make(chan pipeFrame)
	go c.watchInput()
	var buf []byte
	for {
		typ, body, err := c.ep.Recv(buf, farFuture)
		if errors.Is(err, shm.ErrPeerGone) {
			return childExitOK // stdin ended
		}
		if err != nil {
			return c.protocol("read request: %v", err)
		}
		buf = body
		if c.echo {
			if err := c.ep.Send(typ, farFuture, body); err != nil {
				return c.protocol("write reply: %v", err)
			}
			continue
		}
		if typ == recPipe {
			f, ok := <-c.frames
			if !ok {
				return childExitOK
			}
			typ, body = f.typ, f.body
		}
		if code, done := c.handle(typ, body); done {
			return code
		}
	}
}

// watchInput reads stdin after the load: the frames the 'P' records
// announce, and its end, which aborts the endpoint (the parent went or
// stopped the child).
func (c *childServer) watchInput() {
	defer close(c.frames)
	var hdr [frameHeader]byte
	for {
		var buf []byte
		typ, body, err := readFrame(c.in, &hdr, &buf, maxRequest)
		if err != nil {
			if err != io.EOF {
				c.protocol("read request: %v", err)
			}
			c.ep.Abort(shm.ErrPeerGone)
			return
		}
		c.frames <- pipeFrame{typ, body}
	}
}

// handle serves one request; done says the child is to exit with code.
func (c *childServer) handle(typ byte, body []byte) (code int, done bool) {
	if typ == reqFloor && c.sb == nil && c.ep == nil {
		return c.floor(body)
	}
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
	ringFD := int(d.u32())
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
	var region *shm.Region
	if ringFD != 0 {
		if region, err = shm.OpenFD(ringFD); err != nil {
			return c.sendError(&Fault{Plugin: name, Call: callLoad, Kind: FaultProcess, Err: err})
		}
	}
	// Loaded: from here on the child runs plugin code, confined.
	if err := confine(); err != nil {
		return c.sendError(&Fault{Plugin: name, Call: callLoad, Kind: FaultProcess, Err: err})
	}
	c.sb = NewInProcess(c.p)
	if err := c.sendResult(nil); err != nil {
		return c.protocol("write result: %v", err), true
	}
	if region != nil { // the replies from now on
		c.region, c.ep = region, region.Child()
	}
	return childExitOK, false
}

// floor makes the child bare (reqFloor): the region of the request, the
// confinement of a loaded child, an empty result frame, then the echo.
func (c *childServer) floor(body []byte) (int, bool) {
	d := frameDec{b: body}
	fd := int(d.u32())
	d.u32()
	spin := time.Duration(d.u64())
	if d.bad || len(d.b) != 0 || fd == 0 || spin < 0 {
		return c.protocol("floor request of %d bytes", len(body)), true
	}
	region, err := shm.OpenFD(fd, shm.WithSpin(spin))
	if err != nil {
		return c.protocol("floor: %v", err), true
	}
	c.region = region
	if err := confine(); err != nil {
		return c.protocol("floor: %v", err), true
	}
	if err := c.write(repResult, nil, nil); err != nil {
		return c.protocol("write result: %v", err), true
	}
	c.ep, c.echo = region.Child(), true
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

// send sends one reply: fixed, then tail. It reuses wbuf.
func (c *childServer) send(typ byte, fixed, tail []byte) error {
	c.wbuf = fixed[:0]
	return c.write(typ, fixed, tail)
}

// write sends one message (fixed, then tail): a ring record, or a frame on
// stdout (announced by a 'P' record when there is a ring but the message
// is larger than its records).
func (c *childServer) write(typ byte, fixed, tail []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ep != nil && len(fixed)+len(tail) <= c.ep.MaxRecord() {
		return c.ep.Send(typ, farFuture, fixed, tail)
	}
	var hdr [frameHeader]byte
	_, _ = c.out.Write(appendFrameHeader(hdr[:0], typ, len(fixed)+len(tail)))
	_, _ = c.out.Write(fixed)
	_, _ = c.out.Write(tail)
	if err := c.out.Flush(); err != nil || c.ep == nil {
		return err
	}
	return c.ep.Send(recPipe, farFuture)
}

// protocol reports a broken exchange on stderr, which the parent logs.
func (c *childServer) protocol(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "stratbox plugin child: "+format+"\n", args...)
	return childExitProtocol
}

func (c *childServer) close() {
	if c.region != nil {
		_ = c.region.Close()
	}
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
	return h.c.write(repLog, b, nil) // now: a line survives a kill later in the call
}

func (h childLogHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h childLogHandler) WithGroup(string) slog.Handler      { return h }
