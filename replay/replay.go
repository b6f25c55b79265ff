package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/record"
	"github.com/stratbox/stratbox/sim"
	"github.com/stratbox/stratbox/venue/deribit"
)

// ErrNoFrames is the error of a recording without a single frame.
var ErrNoFrames = errors.New("replay: the recording has no frames")

// Result is what a replay did.
type Result struct {
	Stats        host.EngineStats
	Format       record.Format
	Frames       uint64 // read
	Delivered    uint64 // notifications routed through the engine
	Outbound     uint64 // recorded frames to the exchange (not replayed)
	Private      uint64 // the recorded account's own notifications (not replayed: orders are the replay's)
	Unsubscribed uint64 // notifications of channels no plugin asked for
	Sources      uint64 // notifications read only to derive channels from (WithChannels)
	Derived      uint64 // of Delivered, the messages derived from other channels (WithChannels)
	// Batched counts, of Delivered, the notifications that reached the
	// plugins in the call of an earlier one with the same recorded time
	// (see Config.PerFrame).
	Batched uint64
	// BadSource counts source notifications the deriver could not read
	// (skipped; the derived channel goes on from the next good one).
	BadSource uint64
	// Plan is how the plugins' subscriptions were served (WithChannels).
	Plan    *Plan
	Other   uint64 // responses, heartbeats, disconnect marks
	Skipped uint64 // lines that were not frames (text formats)
	// Truncated is the error (wrapping record.ErrTruncated) of a recording
	// that ends inside a block: what came before was replayed.
	Truncated error
	// Start and End are the recorded times of the first frame and of the
	// replay's clock at the end.
	Start, End time.Time
	// Account is the simulated account's positions (FillSim only).
	Account []sim.Position
	// FeedErrors counts recorded levels and trades the matching engine
	// refused (FillSim).
	FeedErrors uint64

	report *reportData // WithReport
}

// maxHead bounds the frames read before the first notification.
const maxHead = 100_000

// Run replays the recording rd through cfg's plugins in lock step and
// returns what they did. It stops early, without an error, when ctx ends
// (Result.Frames tells how far it came). The engine's stop error (a plugin
// whose stratbox_on_stop failed) comes back with the Result.
func Run(ctx context.Context, rd record.Reader, cfg Config, opts ...Option) (*Result, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var plan *Plan
	if o.channels != nil {
		p := PlanChannels(cfg, o.channels)
		if err := p.Check(o.channels); err != nil {
			return nil, err
		}
		plan = &p
	}
	h, err := readHead(rd)
	if err != nil {
		return nil, err
	}
	clk := clock.NewFake(h.start)
	specs, err := loadPlugins(ctx, cfg, clk, o)
	if err != nil {
		return nil, err
	}
	defer closePlugins(specs)
	d, err := newDriver(ctx, cfg, specs, h, clk, o)
	if err != nil {
		return nil, err
	}
	if plan != nil {
		d.res.Plan = plan
		if d.der, err = newDeriver(*plan); err != nil {
			d.ls.Stop()
			return nil, err
		}
	}
	d.play(ctx, rd, h)
	return d.finish(rd)
}

// head is the start of a recording: the frames up to and including the
// first notification, the recorded instruments and the start time.
type head struct {
	frames      []record.Frame
	instruments []sim.Instrument
	start       time.Time
	err         error // the reader's error within the head: io.EOF or a truncation
}

// readHead reads the frames before the first notification: the recorded
// instruments (a public/get_instruments response) and the start time.
func readHead(rd record.Reader) (*head, error) {
	h := &head{}
	instrReq := map[uint64]bool{}
	for len(h.frames) < maxHead {
		f, err := rd.Next()
		if err != nil {
			h.err = err
			break
		}
		f.Data = append([]byte(nil), f.Data...)
		h.frames = append(h.frames, f)
		fr := conn.Classify(f.Data)
		if f.Dir == record.Out {
			if fr.HasID && strings.Contains(string(f.Data), `"public/get_instruments"`) {
				instrReq[fr.ID] = true
			}
			continue
		}
		if fr.Kind == conn.KindResponse && fr.HasID && instrReq[fr.ID] && h.instruments == nil {
			h.instruments = recordedInstruments(f.Data, fr)
		}
		if fr.Kind == conn.KindNotification {
			break
		}
	}
	if h.err != nil && h.err != io.EOF && !errors.Is(h.err, record.ErrTruncated) {
		return nil, h.err
	}
	if len(h.frames) == 0 {
		if h.err != nil && h.err != io.EOF {
			return nil, h.err
		}
		return nil, ErrNoFrames
	}
	h.start = time.Unix(0, h.frames[0].Time).UTC()
	if h.instruments == nil {
		h.instruments = sim.DefaultInstruments(h.start)
	}
	return h, nil
}

// recordedInstruments reads a recorded public/get_instruments response;
// nil when it is not a list of instruments.
func recordedInstruments(data []byte, fr conn.Frame) []sim.Instrument {
	raw, err := conn.ParseResult(data, fr)
	if err != nil {
		return nil
	}
	list, err := instrumentsFrom(raw)
	if err != nil || len(list) == 0 {
		return nil
	}
	return list
}

// loadPlugins loads the plugins in process, on the replay clock, without
// a wall-clock call budget (a slow machine must not fault a plugin a fast
// one does not).
func loadPlugins(ctx context.Context, cfg Config, clk clock.Clock, o options) ([]host.PluginSpec, error) {
	var specs []host.PluginSpec
	for i, pc := range cfg.Plugins {
		spec, err := loadPlugin(ctx, pc, clk, o)
		if err != nil {
			closePlugins(specs)
			return nil, fmt.Errorf("replay: plugin[%d] %q: %w", i, pc.Name, err)
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

func loadPlugin(ctx context.Context, pc Plugin, clk clock.Clock, o options) (host.PluginSpec, error) {
	wasm := pc.Wasm
	if wasm == nil {
		var err error
		if wasm, err = os.ReadFile(pc.Path); err != nil {
			return host.PluginSpec{}, err
		}
	}
	opts := []sandbox.Option{sandbox.WithClock(clk), sandbox.WithLogger(o.log)}
	if o.cache != nil {
		opts = append(opts, sandbox.WithCache(o.cache))
	}
	p, err := sandbox.Load(ctx, pc.Name, wasm, sandbox.PluginConfig{MemoryLimitPages: pc.MemoryLimitPages,
		CallBudget: -1, Seed: pc.Seed, TimerMin: pc.TimerMin}, opts...)
	if err != nil {
		return host.PluginSpec{}, err
	}
	return host.PluginSpec{Name: pc.Name, Plugin: p, Instruments: pc.instruments(),
		Channels: pc.Channels, Params: pc.Params, Risk: pc.Risk}, nil
}

func closePlugins(specs []host.PluginSpec) {
	for _, s := range specs {
		s.Plugin.Close(context.Background())
	}
}

// driver is one replay in progress: the engine in lock step, the exchange
// and the observer, and the counts.
type driver struct {
	cfg       Config
	o         options
	clk       *clock.Fake
	eng       *host.Engine
	ls        *host.Lockstep
	x         *exchange
	obs       *observer
	res       *Result
	wallStart time.Time
	readErr   error
	der       *deribit.Deriver // nil: nothing derived
	pending   int              // frames delivered since the last settle
	ctx       context.Context  // play's, for the derived messages' pacing
}

// newDriver makes the engine, the exchange and the observer, and starts
// the engine in lock step.
func newDriver(ctx context.Context, cfg Config, specs []host.PluginSpec, h *head, clk *clock.Fake, o options) (*driver, error) {
	ecfg := host.Config{Plugins: specs, Risk: cfg.Risk, MaxRestarts: cfg.MaxRestarts, RestartBackoff: cfg.RestartBackoff,
		RestartWindow: cfg.RestartWindow, KeepOrders: cfg.KeepOrders, MaxReestablish: cfg.MaxReestablish}
	eng, err := host.New(ecfg, host.WithClock(clk), host.WithLogger(o.log))
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	d := &driver{cfg: cfg, o: o, clk: clk, eng: eng, readErr: h.err,
		x: newExchange(h.instruments, cfg.Fill == FillSim, clk.Now), res: &Result{Start: h.start}}
	if o.report {
		d.res.report = &reportData{}
	}
	d.obs = newObserver(o.out, d.res.report)
	if d.ls, err = host.NewLockstep(eng, clk, d.obs); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	d.x.deliver = d.ls.Deliver
	if err := d.ls.Start(ctx, d.x); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return d, nil
}

// play feeds the head and then the rest of the recording, until its end,
// an error or ctx's end.
func (d *driver) play(ctx context.Context, rd record.Reader, h *head) {
	d.wallStart, d.ctx = time.Now(), ctx
	for _, f := range h.frames {
		d.step(ctx, f)
	}
	if d.readErr != nil {
		return
	}
	for ctx.Err() == nil {
		f, err := rd.Next()
		if err != nil {
			d.readErr = err
			return
		}
		d.step(ctx, f)
		if d.o.progress != nil && d.res.Frames&0x3fff == 0 {
			d.o.progress(d.res.Frames)
		}
	}
}

// step replays one frame: a market notification a plugin subscribed to is
// delivered at its recorded time and settled; every other frame is counted.
func (d *driver) step(ctx context.Context, f record.Frame) {
	res := d.res
	res.Frames++
	if f.Dir == record.Out {
		res.Outbound++
		return
	}
	fr := conn.Classify(f.Data)
	if f.Disconnect || fr.Kind != conn.KindNotification {
		res.Other++
		return
	}
	ch, data, err := conn.ParseNotification(f.Data, fr)
	switch {
	case err != nil:
		res.Other++
		return
	case len(ch) > 5 && string(ch[:5]) == "user.":
		res.Private++
		return
	}
	if d.der != nil {
		if err := d.der.Frame(f.Time, ch, data, d.deliverDerived); err != nil {
			res.BadSource++
		}
	}
	if !d.x.subscribed(ch) {
		if d.der != nil && d.der.Sources(ch) {
			res.Sources++
		} else {
			res.Unsubscribed++
		}
		return
	}
	d.deliver(ctx, f.Time, ch, data)
}

// deliverDerived delivers a derived message at the end of its window.
func (d *driver) deliverDerived(t int64, frame []byte) {
	ch, data, err := conn.ParseNotification(frame, conn.Classify(frame))
	if err != nil { // the deriver writes what it reads: cannot happen
		d.res.BadSource++
		return
	}
	d.deliver(d.ctx, t, ch, data)
	d.res.Derived++
}

// maxBatch bounds the frames delivered in one call (see deliver): far
// below what an inbox holds, so that batching never makes the inbox drop
// a trade a frame-by-frame replay would deliver.
const maxBatch = 64

// deliver delivers one market notification at recorded time ns. Frames
// that share a time (after the clock's clamp: it never goes back) reach
// the plugins in one call, as a live host's plugin that was busy when they
// arrived takes them together, up to maxBatch of them: the engine settles
// only when the next frame is later, the batch is full or the replay ends
// (Config.PerFrame settles after every frame).
func (d *driver) deliver(ctx context.Context, ns int64, ch, data []byte) {
	res := d.res
	t := time.Unix(0, ns)
	if t.Before(d.clk.Now()) {
		t = d.clk.Now() // the host's clock never goes back
	}
	if d.pending > 0 && (!t.Equal(d.clk.Now()) || d.pending >= maxBatch) {
		d.settle()
	}
	if d.cfg.Speed > 0 {
		pace(ctx, d.wallStart, t.Sub(res.Start), d.cfg.Speed)
	}
	d.ls.AdvanceTo(t)
	d.x.feed(ch, data)
	d.ls.Deliver(conn.Notification{Channel: ch, Data: data, Received: t})
	res.Delivered++
	d.pending++
	if d.cfg.PerFrame {
		d.settle()
	}
}

// settle runs the engine on the frames delivered since the last settle.
func (d *driver) settle() {
	if d.pending > 1 {
		d.res.Batched += uint64(d.pending - 1)
	}
	d.pending = 0
	d.ls.Settle()
}

// finish stops the engine and fills in the Result.
func (d *driver) finish(rd record.Reader) (*Result, error) {
	res := d.res
	if d.o.progress != nil {
		d.o.progress(res.Frames)
	}
	switch err := d.readErr; {
	case err == nil || err == io.EOF:
	case errors.Is(err, record.ErrTruncated):
		res.Truncated = err
	default:
		d.ls.Stop()
		return nil, err
	}
	if d.der != nil {
		d.der.Flush(d.deliverDerived)
	}
	d.settle()
	stopErr := d.ls.Stop()
	if err := d.obs.flush(); err != nil {
		return nil, fmt.Errorf("replay: output: %w", err)
	}
	res.Format = rd.Format()
	res.Stats = d.eng.Stats()
	res.Skipped = rd.Stats().Skipped
	res.End = d.clk.Now()
	res.FeedErrors = d.x.rejectedFeed + d.x.l.Rejected()
	if d.cfg.Fill == FillSim {
		res.Account = d.x.l.Engine().Positions("replay", "", "")
	}
	return res, stopErr
}

// pace sleeps until the wall clock has caught up with the recorded one at
// speed.
func pace(ctx context.Context, wallStart time.Time, recorded time.Duration, speed float64) {
	if d := time.Duration(float64(recorded)/speed) - time.Since(wallStart); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}
