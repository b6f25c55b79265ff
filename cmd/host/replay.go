package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/host"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/record"
	"github.com/stratbox/stratbox/sim"
)

// replayFlags are `host replay`'s flags.
type replayFlags struct {
	config   string
	fill     string
	speed    float64
	out      string
	report   string
	cacheDir string
	logLevel string
	progress string
}

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("host replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f replayFlags
	fs.StringVar(&f.config, "config", "", "TOML config file: plugins, instruments, channels, params, risk (see host.example.toml)")
	fs.StringVar(&f.fill, "fill", "none", `order fills: "none" (orders are accepted and never fill) or "sim" (the simulator's matching engine against the recorded book and trades)`)
	fs.Float64Var(&f.speed, "speed", 0, "replay at this multiple of the recorded pace (0: as fast as possible)")
	fs.StringVar(&f.out, "out", "", "write the intents and order events as JSON Lines to this file (\"-\": stdout)")
	fs.StringVar(&f.report, "report", "", "write a visual report (HTML with inline SVG: PnL and position over time, fills on the price) to this file")
	fs.StringVar(&f.cacheDir, "cache-dir", "", `compiled-plugin cache directory ("off": none)`)
	fs.StringVar(&f.logLevel, "log", "warn", "log level: debug, info, warn or error")
	fs.StringVar(&f.progress, "progress", "auto", `progress bar on stderr: "auto" (when stderr is a terminal), "on" or "off"`)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: host replay [flags] RECORDING [strategy.wasm ...]\n\nReplays a recording (stratbox's own, JSON Lines, or Tardis.dev's Deribit format, plain or gzip) through\nthe host, in lock step on the recorded clock: the same file and plugins give the same output, byte for byte.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return fmt.Errorf("%w: no recording given", errUsage)
	}
	if f.fill != "none" && f.fill != "sim" {
		return fmt.Errorf("%w: --fill %q: want none or sim", errUsage, f.fill)
	}
	if f.speed < 0 {
		return fmt.Errorf("%w: --speed %v: must not be negative", errUsage, f.speed)
	}
	if f.progress != "auto" && f.progress != "on" && f.progress != "off" {
		return fmt.Errorf("%w: --progress %q: want auto, on or off", errUsage, f.progress)
	}
	rf := runFlags{config: f.config, cacheDir: f.cacheDir, status: -1}
	cfg, err := rf.load(fs.Args()[1:])
	if err != nil {
		return err
	}
	file, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer file.Close()
	size := int64(-1)
	if st, err := file.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	cr := &countingReader{r: file}
	rd, err := record.Open(cr)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	o := replayOptions{fill: f.fill == "sim", speed: f.speed,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: parseLevel(f.logLevel)}))}
	var outFile *os.File
	switch f.out {
	case "":
	case "-":
		o.out = stdout
	default:
		if outFile, err = os.Create(f.out); err != nil {
			return err
		}
		defer outFile.Close()
		o.out = outFile
	}
	if f.report != "" {
		o.report = &reportData{}
	}
	if f.progress == "on" || f.progress == "auto" && isTerminal(stderr) {
		o.progress = &progressBar{w: stderr, read: cr.n, size: size}
	}
	dir := cfg.Host.cacheDir()
	cache, err := sandbox.NewCache(dir)
	if err != nil {
		return err
	}
	defer cache.Close(context.Background())
	o.cache = cache
	began := time.Now()
	res, err := replay(ctx, rd, cfg, o)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	if outFile != nil {
		if err := outFile.Close(); err != nil {
			return err
		}
	}
	if f.report != "" {
		if err := writeReport(f.report, fs.Arg(0), o.report, res); err != nil {
			return err
		}
	}
	printReplaySummary(stdout, res, time.Since(began))
	return nil
}

// replayOptions configure replay.
type replayOptions struct {
	fill     bool
	speed    float64
	out      io.Writer   // JSON Lines of intents and order events; nil: none
	report   *reportData // filled for --report; nil: none
	progress *progressBar
	cache    *sandbox.Cache
	log      *slog.Logger
	plugins  map[string][]byte // wasm by path, instead of reading the files (tests, benchmark)
}

// replayResult is what a replay did.
type replayResult struct {
	Stats        host.EngineStats
	Format       record.Format
	Frames       uint64 // read
	Delivered    uint64 // notifications routed through the engine
	Outbound     uint64 // recorded frames to the exchange (not replayed)
	Private      uint64 // the recorded account's own notifications (not replayed: orders are the replay's)
	Unsubscribed uint64 // notifications of channels no plugin asked for
	Other        uint64 // responses, heartbeats, disconnect marks
	Skipped      uint64 // lines that were not frames (text formats)
	Truncated    error  // the file ended inside a block: what came before was replayed
	Start, End   time.Time
	Account      []sim.Position
	FeedErrors   uint64
}

// replay runs the plugins of cfg over the recording in lock step.
func replay(ctx context.Context, rd record.Reader, cfg fileConfig, o replayOptions) (*replayResult, error) {
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	res := &replayResult{Format: rd.Format()}
	// The frames before the first notification: the recorded instruments
	// (a public/get_instruments response) and the start time.
	var head []record.Frame
	var instruments []sim.Instrument
	instrReq := map[uint64]bool{}
	var readErr error
	for len(head) < 100_000 {
		f, err := rd.Next()
		if err != nil {
			readErr = err
			break
		}
		f.Data = append([]byte(nil), f.Data...)
		head = append(head, f)
		fr := conn.Classify(f.Data)
		if f.Dir == record.Out {
			if fr.HasID && strings.Contains(string(f.Data), `"public/get_instruments"`) {
				instrReq[fr.ID] = true
			}
			continue
		}
		if fr.Kind == conn.KindResponse && fr.HasID && instrReq[fr.ID] && instruments == nil {
			if raw, err := conn.ParseResult(f.Data, fr); err == nil {
				if list, err := instrumentsFrom(raw); err == nil && len(list) > 0 {
					instruments = list
				}
			}
		}
		if fr.Kind == conn.KindNotification {
			break
		}
	}
	if readErr != nil && readErr != io.EOF && !errors.Is(readErr, record.ErrTruncated) {
		return nil, readErr
	}
	if len(head) == 0 {
		if readErr != nil && readErr != io.EOF {
			return nil, readErr
		}
		return nil, errors.New("the recording has no frames")
	}
	start := time.Unix(0, head[0].Time).UTC()
	if instruments == nil {
		instruments = sim.DefaultInstruments(start)
	}
	clk := clock.NewFake(start)
	specs, err := replayPlugins(ctx, cfg, clk, o)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, s := range specs {
			s.Plugin.Close(context.Background())
		}
	}()
	ecfg, err := cfg.engineConfig(specs)
	if err != nil {
		return nil, err
	}
	eng, err := host.New(ecfg, host.WithClock(clk), host.WithLogger(o.log))
	if err != nil {
		return nil, err
	}
	x := newReplayExchange(instruments, o.fill, clk.Now)
	obs := newReplayObserver(o.out, o.report, specs)
	ls, err := host.NewLockstep(eng, clk, obs)
	if err != nil {
		return nil, err
	}
	x.deliver = ls.Deliver
	if err := ls.Start(ctx, x); err != nil {
		return nil, err
	}
	wallStart := time.Now()
	step := func(f record.Frame) {
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
		if err != nil {
			res.Other++
			return
		}
		if len(ch) > 5 && string(ch[:5]) == "user." {
			res.Private++
			return
		}
		if !x.subscribed(ch) {
			res.Unsubscribed++
			return
		}
		t := time.Unix(0, f.Time)
		if t.Before(clk.Now()) {
			t = clk.Now() // the host's clock never goes back
		}
		if o.speed > 0 {
			pace(ctx, wallStart, t.Sub(start), o.speed)
		}
		ls.AdvanceTo(t)
		x.feed(ch, data)
		ls.Deliver(conn.Notification{Channel: ch, Data: data, Received: t})
		res.Delivered++
		ls.Settle()
	}
	for _, f := range head {
		step(f)
	}
	if readErr == nil {
		for ctx.Err() == nil {
			f, err := rd.Next()
			if err != nil {
				readErr = err
				break
			}
			step(f)
			if o.progress != nil && res.Frames&0x3fff == 0 {
				o.progress.update(res.Frames, false)
			}
		}
	}
	if o.progress != nil {
		o.progress.update(res.Frames, true)
	}
	switch {
	case readErr == nil || readErr == io.EOF:
	case errors.Is(readErr, record.ErrTruncated):
		res.Truncated = readErr
	default:
		ls.Stop()
		return nil, readErr
	}
	stopErr := ls.Stop()
	if err := obs.flush(); err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	res.Stats = eng.Stats()
	res.Skipped = rd.Stats().Skipped
	res.Start, res.End = start, clk.Now()
	res.FeedErrors = x.rejectedFeed + x.l.Rejected()
	if o.fill {
		res.Account = x.l.Engine().Positions("replay", "", "")
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

// replayPlugins loads the plugins in process, on the replay clock, without
// a wall-clock call budget (a slow machine must not fault a plugin a fast
// one does not).
func replayPlugins(ctx context.Context, c fileConfig, clk clock.Clock, o replayOptions) ([]host.PluginSpec, error) {
	var specs []host.PluginSpec
	for i, pc := range c.Plugins {
		wasm, ok := o.plugins[pc.Path]
		if !ok {
			var err error
			if wasm, err = os.ReadFile(pc.Path); err != nil {
				return nil, fmt.Errorf("plugin[%d]: %w", i, err)
			}
		}
		opts := []sandbox.Option{sandbox.WithClock(clk), sandbox.WithLogger(o.log)}
		if o.cache != nil {
			opts = append(opts, sandbox.WithCache(o.cache))
		}
		p, err := sandbox.Load(ctx, pc.name(), wasm, sandbox.PluginConfig{MemoryLimitPages: pc.MemoryLimitPages,
			CallBudget: -1, Seed: pc.Seed, TimerMin: pc.TimerMin.Duration}, opts...)
		if err != nil {
			for _, s := range specs {
				s.Plugin.Close(context.Background())
			}
			return nil, err
		}
		prm, err := params(pc.Params)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: params: %w", pc.name(), err)
		}
		lim, err := c.Risk.merge(pc.Risk).limits("plugin " + pc.name() + " risk")
		if err != nil {
			return nil, err
		}
		specs = append(specs, host.PluginSpec{Name: pc.name(), Plugin: p, Instruments: pc.instruments(),
			Channels: pc.Channels, Params: prm, Risk: &lim})
	}
	return specs, nil
}

// replayObserver writes the intents and order events as JSON Lines and
// gathers the report's series.
type replayObserver struct {
	w     *bufio.Writer
	err   error
	rep   *reportData
	names map[string][]byte // plugin → its name as a JSON string
	line  []byte
}

func newReplayObserver(w io.Writer, rep *reportData, specs []host.PluginSpec) *replayObserver {
	o := &replayObserver{rep: rep, names: map[string][]byte{}}
	if w != nil {
		o.w = bufio.NewWriterSize(w, 64<<10)
	}
	return o
}

func (o *replayObserver) Events(plugin string, now time.Time, batch []byte) {
	if o.w == nil && o.rep == nil {
		return
	}
	for rec, err := range abi.Records(batch) {
		if err != nil {
			return
		}
		switch rec.Kind {
		case abi.KindOrderUpdate, abi.KindFill, abi.KindPosition, abi.KindIntentRejected:
			o.write(plugin, now, "event", rec.Bytes)
		case abi.KindTicker:
		default:
			continue
		}
		if o.rep != nil {
			o.rep.add(plugin, rec.Kind, rec.Bytes, now)
		}
	}
}

func (o *replayObserver) Intents(plugin string, now time.Time, intents []byte) {
	if o.w == nil {
		return
	}
	for rec, err := range abi.Records(intents) {
		if err != nil {
			return
		}
		o.write(plugin, now, "intent", rec.Bytes)
	}
}

func (o *replayObserver) write(plugin string, now time.Time, what string, rec []byte) {
	if o.w == nil || o.err != nil {
		return
	}
	j, err := abi.RecordJSON(rec)
	if err != nil {
		j = []byte(`{"kind":"unknown"}`)
	}
	o.line = append(o.line[:0], `{"t":`...)
	o.line = fmt.Appendf(o.line, "%d", now.UnixNano())
	o.line = append(o.line, `,"plugin":`...)
	o.line = append(o.line, o.quoted(plugin)...)
	o.line = append(o.line, `,"`...)
	o.line = append(o.line, what...)
	o.line = append(o.line, `":`...)
	o.line = append(o.line, j...)
	o.line = append(o.line, "}\n"...)
	_, o.err = o.w.Write(o.line)
}

// quoted is name as a JSON string (plugin names come from the config).
func (o *replayObserver) quoted(name string) []byte {
	if q, ok := o.names[name]; ok {
		return q
	}
	q, _ := json.Marshal(name)
	o.names[name] = q
	return q
}

func (o *replayObserver) flush() error {
	if o.w == nil {
		return nil
	}
	if o.err != nil {
		return o.err
	}
	return o.w.Flush()
}

func printReplaySummary(w io.Writer, r *replayResult, took time.Duration) {
	fmt.Fprintf(w, "replayed %s recording: %d frames (%v of recorded time) in %v, %.0f frames/s\n",
		r.Format, r.Frames, r.End.Sub(r.Start).Round(time.Millisecond), took.Round(time.Millisecond),
		float64(r.Frames)/max(took.Seconds(), 1e-9))
	fmt.Fprintf(w, "  frames      %d notifications replayed; not replayed: %d outbound, %d the recorded account's own, %d of channels no plugin wants, %d responses/heartbeats/disconnects, %d lines that were not frames\n",
		r.Delivered, r.Outbound, r.Private, r.Unsubscribed, r.Other, r.Skipped)
	if r.Truncated != nil {
		fmt.Fprintf(w, "  WARNING     %v: replayed what came before\n", r.Truncated)
	}
	if r.FeedErrors > 0 {
		fmt.Fprintf(w, "  fill sim    %d recorded levels or trades the matching engine refused (amount or price not allowed)\n", r.FeedErrors)
	}
	printEngineSummary(w, r.Stats, took)
	for _, p := range r.Account {
		if p.Size != 0 || p.TotalProfitLoss != 0 {
			fmt.Fprintf(w, "  account     %s %+g, total PnL %.8f (the simulator's matching engine)\n", p.InstrumentName, p.Size, p.TotalProfitLoss)
		}
	}
}

// countingReader counts the bytes read (the progress bar).
type countingReader struct {
	r io.Reader
	c int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.c += int64(n)
	return n, err
}

func (c *countingReader) n() int64 { return c.c }

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws "[=====>    ] 45%  1234567 frames" on a terminal.
type progressBar struct {
	w     io.Writer
	read  func() int64
	size  int64
	last  time.Time
	start time.Time
}

func (p *progressBar) update(frames uint64, done bool) {
	now := time.Now()
	if p.start.IsZero() {
		p.start = now
	}
	if !done && now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	frac := 0.0
	if p.size > 0 {
		frac = min(float64(p.read())/float64(p.size), 1)
	}
	if done {
		frac = 1
	}
	const width = 30
	n := int(frac * width)
	bar := strings.Repeat("=", n) + strings.Repeat(" ", width-n)
	if n < width {
		bar = bar[:n] + ">" + bar[n+1:]
	}
	rate := float64(frames) / max(now.Sub(p.start).Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\r[%s] %3.0f%%  %d frames  %.0f frames/s ", bar, frac*100, frames, rate)
	if done {
		fmt.Fprintln(p.w)
	}
}
