package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/record"
	"github.com/stratbox/stratbox/sim"
)

// recording is an open --record file.
type recording struct {
	f   *os.File
	rec *record.Recorder
}

// openRecording creates path and starts a Recorder on it; the options
// make a connection (or every member of a pool) feed it. A nil recording
// (path "") gives no options.
func openRecording(path, exchange, source string) (*recording, []conn.Option, error) {
	if path == "" {
		return nil, nil, nil
	}
	// 0600: a recording holds the account's orders, trades and balances.
	// A file that existed keeps its inode, so its mode is narrowed too.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("--record: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("--record: %w", err)
	}
	rec, err := record.NewRecorder(f, record.Header{Created: time.Now().UnixNano(), Source: source,
		Exchange: redactedURL(exchange)}, record.RecorderConfig{})
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("--record: %w", err)
	}
	return &recording{f: f, rec: rec}, []conn.Option{conn.WithTap(rec.Tap)}, nil
}

// close flushes and closes the file and reports what was recorded.
func (r *recording) close(w io.Writer) error {
	if r == nil {
		return nil
	}
	err := r.rec.Close()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	s := r.rec.Stats()
	fmt.Fprintf(w, "  recording   %d frames written to %s", s.Written, r.f.Name())
	if s.Dropped > 0 {
		fmt.Fprintf(w, ", %d DROPPED (the disk could not keep up)", s.Dropped)
	}
	fmt.Fprintln(w)
	if err != nil {
		return fmt.Errorf("--record: %w", err)
	}
	return nil
}

// redactedURL drops a URL's query and user info (which may carry keys).
func redactedURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.LastIndexByte(u[i+3:], '@'); j >= 0 {
			u = u[:i+3] + u[i+3+j+1:]
		}
	}
	return u
}

// recordFlags are `host record`'s flags.
type recordFlags struct {
	exchange string
	channels string
	duration time.Duration
	out      string
	seed     int64
	logLevel string
}

// runRecord records market channels without any strategy.
func runRecord(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("host record", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f recordFlags
	fs.StringVar(&f.exchange, "exchange", "", "exchange ws:// or wss:// URL (default: the built-in simulator); public channels need no key, DERIBIT_CLIENT_ID / DERIBIT_CLIENT_SECRET are used when set")
	fs.StringVar(&f.channels, "channels", "book.BTC-PERPETUAL.100ms,ticker.BTC-PERPETUAL.100ms,trades.BTC-PERPETUAL.100ms", "comma-separated channels to record")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long (default: until interrupted)")
	fs.StringVar(&f.out, "out", "", "the recording to write (required)")
	fs.Int64Var(&f.seed, "seed", 1, "the built-in simulator's market seed")
	fs.StringVar(&f.logLevel, "log", "warn", "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: host record --out FILE [flags]\n\nRecords every frame of a connection subscribed to the channels (no strategy), for host replay.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if f.out == "" {
		return fmt.Errorf("%w: --out FILE is required", errUsage)
	}
	if f.duration < 0 {
		return fmt.Errorf("%w: --duration must not be negative", errUsage)
	}
	var channels []string
	for _, c := range strings.Split(f.channels, ",") {
		if c = strings.TrimSpace(c); c != "" {
			channels = append(channels, c)
		}
	}
	if len(channels) == 0 {
		return fmt.Errorf("%w: --channels names no channel", errUsage)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: parseLevel(f.logLevel)}))
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	cc := conn.DefaultConfig()
	if f.exchange != "" {
		cred, err := conn.CredentialsFromEnv()
		if err != nil {
			return err
		}
		cc.URL, cc.Credentials = f.exchange, cred
		cc.HeartbeatInterval = 10 * time.Second
	} else {
		srv, err := sim.Start(life, sim.Config{Seed: f.seed, MinHeartbeat: time.Second})
		if err != nil {
			return err
		}
		defer srv.Close()
		cc.URL = srv.URL()
		cc.Credentials = conn.Credentials{ClientID: sim.TestKeyID, ClientSecret: sim.TestKeySecret}
		cc.HeartbeatInterval = time.Second
		fmt.Fprintf(stdout, "built-in simulator on %s (seed %d)\n", srv.URL(), f.seed)
	}
	if err := cc.Validate(); err != nil {
		return err
	}
	rec, opts, err := openRecording(f.out, cc.URL, "host record")
	if err != nil {
		return err
	}
	c, err := conn.Dial(life, cc, append(opts, conn.WithLogger(log), conn.WithSink(discard{}))...)
	if err != nil {
		rec.close(io.Discard)
		return fmt.Errorf("connect to %s: %w", cc.URL, err)
	}
	if _, err := c.Subscribe(life, channels...); err != nil {
		c.Close()
		rec.close(io.Discard)
		return fmt.Errorf("subscribe: %w", err)
	}
	fmt.Fprintf(stdout, "recording %s from %s to %s\n", strings.Join(channels, ", "), redactedURL(cc.URL), f.out)
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	<-ctx.Done()
	c.Close()
	return rec.close(stdout)
}

// discard is a Sink that keeps nothing.
type discard struct{}

func (discard) Deliver(conn.Notification) bool { return true }
