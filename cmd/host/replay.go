package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/record"
	"github.com/stratbox/stratbox/replay"
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
	sweeps   sweepFlags
	jobs     int
	json     bool
	progress string
	perFrame bool
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
	fs.Var(&f.sweeps, "sweep", "key=v1,v2,… (or plugin.key=…): replay once per value; several --sweep replay every combination (repeatable)")
	fs.IntVar(&f.jobs, "jobs", 0, "with --sweep: replays at a time (0: one per CPU)")
	fs.BoolVar(&f.json, "json", false, "with --sweep: print the table as JSON")
	fs.BoolVar(&f.perFrame, "per-frame", false, "deliver every frame in a plugin call of its own (default: frames that share a recorded time share a call, as live)")
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
	if len(f.sweeps) == 0 && (f.jobs != 0 || f.json) {
		return fmt.Errorf("%w: --jobs and --json go with --sweep", errUsage)
	}
	if len(f.sweeps) > 0 && (f.out != "" || f.speed != 0) {
		return fmt.Errorf("%w: --out and --speed are a single replay's, not a sweep's", errUsage)
	}
	if f.jobs < 0 {
		return fmt.Errorf("%w: --jobs %d: must not be negative", errUsage, f.jobs)
	}
	rf := runFlags{config: f.config, cacheDir: f.cacheDir, status: -1}
	cfg, err := rf.load(fs.Args()[1:])
	if err != nil {
		return err
	}
	rc, err := cfg.replayConfig(f.fill, f.speed)
	if err != nil {
		return err
	}
	rc.PerFrame = f.perFrame
	if len(f.sweeps) > 0 {
		return f.sweep(ctx, fs.Arg(0), cfg.Host.cacheDir(), rc, stdout, stderr)
	}
	return f.replay(ctx, fs.Arg(0), cfg.Host.cacheDir(), rc, stdout, stderr)
}

// sweepFlags are the --sweep flags.
type sweepFlags []replay.SweepParam

func (s *sweepFlags) String() string { return "" }
func (s *sweepFlags) Set(v string) error {
	p, err := replay.ParseSweep(v)
	if err != nil {
		return err
	}
	*s = append(*s, p)
	return nil
}

// replay replays the recording at path with rc and prints the summary;
// the output file, the report and the progress bar are the flags'.
func (f replayFlags) replay(ctx context.Context, path, cacheDir string, rc replay.Config, stdout, stderr io.Writer) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	size := int64(-1)
	if st, err := file.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	opts := []replay.Option{replay.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: parseLevel(f.logLevel)})))}
	showBar := f.progress == "on" || f.progress == "auto" && isTerminal(stderr)
	if size >= 0 {
		var scanOut io.Writer
		if showBar {
			scanOut = stderr
		}
		counts, err := scanChannels(path, scanOut)
		if err != nil {
			return err
		}
		plan := replay.PlanChannels(rc, counts)
		if err := plan.Check(counts); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, ch := range slices.Sorted(maps.Keys(plan.Derived)) {
			fmt.Fprintf(stderr, "replay: %s is derived from the recorded %s, as Deribit derives it (every 100 ms)\n", ch, plan.Derived[ch])
		}
		if len(plan.Missing) > 0 {
			fmt.Fprintf(stderr, "replay: WARNING: nothing in %s serves %s; it holds %s\n", path, plan.MissingText(), replay.HaveText(counts, 12))
		}
		opts = append(opts, replay.WithChannels(counts))
	}
	cr := &countingReader{r: file}
	rd, err := record.Open(cr)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var outFile *os.File
	switch f.out {
	case "":
	case "-":
		opts = append(opts, replay.WithOutput(stdout))
	default:
		if outFile, err = os.Create(f.out); err != nil {
			return err
		}
		defer outFile.Close()
		opts = append(opts, replay.WithOutput(outFile))
	}
	if f.report != "" {
		opts = append(opts, replay.WithReport())
	}
	var bar *progressBar
	var frames uint64
	if showBar {
		bar = &progressBar{w: stderr, read: cr.n, size: size, label: "replay"}
		opts = append(opts, replay.WithProgress(func(n uint64) { frames = n; bar.update(n, false) }))
	}
	cache, err := sandbox.NewCache(cacheDir)
	if err != nil {
		return err
	}
	defer cache.Close(context.Background())
	opts = append(opts, replay.WithCache(cache))
	began := time.Now()
	res, err := replay.Run(ctx, rd, rc, opts...)
	if bar != nil {
		bar.update(frames, true)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if outFile != nil {
		if err := outFile.Close(); err != nil {
			return err
		}
	}
	if f.report != "" {
		if err := writeReportFile(f.report, path, res); err != nil {
			return err
		}
	}
	printReplaySummary(stdout, res, time.Since(began))
	return nil
}

// scanChannels reads the recording at path once and counts its channels
// (replay.Channels), so that the replay can derive what it does not hold
// and say up front what nothing serves; with bar not nil, a progress bar
// labelled "scan" shows on it.
func scanChannels(path string, bar io.Writer) (map[string]uint64, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	size := int64(-1)
	if st, err := file.Stat(); err == nil {
		size = st.Size()
	}
	cr := &countingReader{r: file}
	rd, err := record.Open(cr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if bar != nil {
		pb := &progressBar{w: bar, read: cr.n, size: size, label: "scan"}
		fr := &framesReader{Reader: rd, every: func(n uint64) { pb.update(n, false) }}
		defer func() { pb.update(fr.n, true) }()
		rd = fr
	}
	counts, err := replay.Channels(rd)
	if err != nil && !errors.Is(err, record.ErrTruncated) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return counts, nil
}

// writeReportFile writes res's HTML report to path.
func writeReportFile(path, source string, res *replay.Result) error {
	var b bytes.Buffer
	if err := res.WriteReport(&b, source); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// replayConfig is the replay.Config of the [[plugin]] sections, [risk] and
// [host] of c, with the flags' fill and speed.
func (c fileConfig) replayConfig(fill string, speed float64) (replay.Config, error) {
	rc := replay.Config{Fill: replay.Fill(fill), Speed: speed, KeepOrders: c.Host.KeepOrders,
		MaxReestablish: c.Host.MaxReestablish, RestartBackoff: c.Host.RestartBackoff.Duration,
		RestartWindow: c.Host.RestartWindow.Duration}
	var err error
	if rc.Risk, err = c.Risk.limits("risk"); err != nil {
		return rc, err
	}
	if m := c.Host.MaxRestarts; m != nil {
		rc.MaxRestarts = *m
		if rc.MaxRestarts == 0 {
			rc.MaxRestarts = -1 // max_restarts = 0: never restart (host.Config's 0 is the default)
		}
	}
	for _, pc := range c.Plugins {
		prm, err := params(pc.Params)
		if err != nil {
			return rc, fmt.Errorf("plugin %s: params: %w", pc.name(), err)
		}
		lim, err := c.Risk.merge(pc.Risk).limits("plugin " + pc.name() + " risk")
		if err != nil {
			return rc, err
		}
		rc.Plugins = append(rc.Plugins, replay.Plugin{Name: pc.name(), Path: pc.Path, Instruments: pc.instruments(),
			Channels: pc.Channels, Params: prm, Risk: &lim, MemoryLimitPages: pc.MemoryLimitPages, Seed: pc.Seed,
			TimerMin: pc.TimerMin.Duration})
	}
	return rc, nil
}

func printReplaySummary(w io.Writer, r *replay.Result, took time.Duration) {
	fmt.Fprintf(w, "replayed %s recording: %d frames (%v of recorded time) in %v, %.0f frames/s\n",
		r.Format, r.Frames, r.End.Sub(r.Start).Round(time.Millisecond), took.Round(time.Millisecond),
		float64(r.Frames)/max(took.Seconds(), 1e-9))
	fmt.Fprintf(w, "  frames      %d notifications replayed; not replayed: %d outbound, %d the recorded account's own, %d of channels no plugin wants, %d responses/heartbeats/disconnects, %d lines that were not frames\n",
		r.Delivered, r.Outbound, r.Private, r.Unsubscribed, r.Other, r.Skipped)
	if r.Batched > 0 {
		fmt.Fprintf(w, "  batched     %d of them shared a plugin call with an earlier frame of the same recorded time (--per-frame: one call each)\n", r.Batched)
	}
	if r.Derived > 0 || r.Sources > 0 {
		fmt.Fprintf(w, "  derived     %d of them derived from %d recorded raw notifications (%d that could not be read)\n", r.Derived, r.Sources, r.BadSource)
	}
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
	label string // before the bar
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
	fmt.Fprintf(p.w, "\r%s[%s] %3.0f%%  %d frames  %.0f frames/s ", p.label+strings.Repeat(" ", min(len(p.label), 1)), bar, frac*100, frames, rate)
	if done {
		fmt.Fprintln(p.w)
	}
}

// framesReader counts the frames read through it and calls every each
// 16,384 of them (the scan's progress bar).
type framesReader struct {
	record.Reader
	n     uint64
	every func(frames uint64)
}

func (r *framesReader) Next() (record.Frame, error) {
	f, err := r.Reader.Next()
	if err == nil {
		r.n++
		if r.n&0x3fff == 0 {
			r.every(r.n)
		}
	}
	return f, err
}
