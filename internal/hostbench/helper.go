package hostbench

// The helper process: the simulator and, in front of it, a WebSocket relay
// that times the heartbeat answers on the wire, in a process of their own
// (the host binary again: `host bench --helper`), so that the exchange's
// work and memory are not counted as the host's and its clock runs while
// the host's process is stopped. The parent drives it with lines on its
// standard input and reads the answers on its standard output.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/stratbox/stratbox/internal/benchkit"
	"github.com/stratbox/stratbox/sim"
	"github.com/stratbox/stratbox/venue/deribit"
)

// ServeHelper runs the helper process: it starts the simulator and the
// relay, prints "ready <relay address> <simulator URL>", then answers each
// command line of in until its end:
//
//	flood <frames/s>  publish ticker and trade notifications of BTC-PERPETUAL at that rate (0: stop)
//	report            "report n p50 p99 p999 max": test_request forwarded → public/test back, ns, exact, since the last report
//	samples           "samples n t1 … tn": those answer times themselves, ns, sorted, since the last report or samples
//	tick <i> <ms>     publish the i-th ticker and answer "tick <ns>": its publication → the next order request read (or "tick timeout" after ms)
//	rss               "rss <bytes>": this process's resident memory
//
// It returns the process's exit code.
func ServeHelper(in io.Reader, out io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := sim.Start(ctx, sim.Config{Seed: 1, MinHeartbeat: time.Millisecond, AlwaysTestRequest: true,
		HeartbeatGrace: 2 * time.Second, Tick: time.Hour, NoMarket: true, SendQueue: 1 << 18,
		RateLimits: sim.RateLimits{Disabled: true}})
	if err != nil {
		fmt.Fprintln(out, "error", err)
		return 1
	}
	defer srv.Close()
	rl, err := benchkit.StartHeartbeatRelay(srv.Addr().String())
	if err != nil {
		fmt.Fprintln(out, "error", err)
		return 1
	}
	defer rl.Close()
	orders := make(chan time.Time, 1024)
	srv.OnRequest(func(method string, read time.Time) {
		if deribit.Op(method).Opens() {
			select {
			case orders <- read:
			default:
			}
		}
	})
	w := bufio.NewWriter(out)
	say := func(format string, args ...any) {
		fmt.Fprintf(w, format+"\n", args...)
		_ = w.Flush()
	}
	say("ready %s %s", rl.Addr(), srv.URL())
	var stopFlood func()
	endFlood := func() {
		if stopFlood != nil {
			stopFlood()
			stopFlood = nil
		}
	}
	defer endFlood()
	var frame []byte
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "flood":
			endFlood()
			rate, err := strconv.Atoi(f[1])
			if err != nil {
				say("error %v", err)
				continue
			}
			if rate > 0 {
				fctx, cancel := context.WithCancel(ctx)
				done := make(chan struct{})
				go func() { defer close(done); flood(fctx, srv, rate) }()
				stopFlood = func() { cancel(); <-done }
			}
			say("ok")
		case "report":
			l := rl.Take()
			say("report %d %d %d %d %d", len(l), quantile(l, 0.50), quantile(l, 0.99), quantile(l, 0.999), quantile(l, 1))
		case "samples":
			l := rl.Take()
			b := strconv.AppendInt([]byte("samples "), int64(len(l)), 10)
			for _, d := range l {
				b = strconv.AppendInt(append(b, ' '), int64(d), 10)
			}
			fmt.Fprintf(w, "%s\n", b)
			_ = w.Flush()
		case "tick":
			if len(f) != 3 {
				say("error tick <i> <ms>")
				continue
			}
			i, _ := strconv.Atoi(f[1])
			ms, _ := strconv.Atoi(f[2])
			for len(orders) > 0 { // requests that no ticker of ours caused
				<-orders
			}
			frame = tickerFrame(frame[:0], tickerBid(i), time.Now())
			t0 := time.Now()
			srv.PublishFrame(tickerChannel, frame)
			select {
			case at := <-orders:
				say("tick %d", at.Sub(t0))
			case <-time.After(time.Duration(ms) * time.Millisecond):
				say("tick timeout")
			}
		case "rss":
			kb, _ := procStatus("/proc/self/status", "VmRSS")
			say("rss %d", kb*1024)
		default:
			say("error unknown command %q", f[0])
		}
	}
	return 0
}

// flood publishes pre-encoded ticker and trade notifications at rate
// frames a second, in bursts every millisecond, until ctx ends.
func flood(ctx context.Context, srv *sim.Server, rate int) {
	now := time.Now()
	var frames [][]byte
	var channels []string
	for i := range 16 {
		frames = append(frames, tickerFrame(nil, tickerBid(i), now))
		channels = append(channels, tickerChannel)
		dir := "buy"
		if i%2 == 1 {
			dir = "sell"
		}
		frames = append(frames, fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.100ms","data":[{"trade_seq":%d,"trade_id":"%d","timestamp":%d,"tick_direction":0,"price":60001,"mark_price":60000.5,"instrument_name":"BTC-PERPETUAL","index_price":60000.12,"direction":"%s","amount":10}]}}`,
			i+1, i+1, now.UnixMilli(), dir))
		channels = append(channels, "trades.BTC-PERPETUAL.100ms")
	}
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	t0 := time.Now()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		due := int(time.Since(t0).Seconds() * float64(rate))
		for ; sent < due; sent++ {
			srv.PublishFrame(channels[sent%len(frames)], frames[sent%len(frames)])
		}
	}
}

// helper is the parent's handle on the helper process.
type helper struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	exited chan struct{}
	relay  string // host:port of the relay
	simURL string // ws:// URL of the simulator
}

// startHelper starts the helper process.
func (r *runner) startHelper() (*helper, error) {
	if r.opt.Helper == nil {
		return nil, errors.New("no helper process configured (Options.Helper)")
	}
	cmd := r.opt.Helper()
	h := &helper{cmd: cmd, lines: make(chan string, 64), exited: make(chan struct{})}
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("helper process: %w", err)
	}
	go func() {
		defer close(h.exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<20) // "samples" lines: ~8 bytes an answer
		for sc.Scan() {
			h.lines <- sc.Text()
		}
	}()
	line, err := h.line()
	if err != nil {
		h.close()
		return nil, err
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ready" {
		h.close()
		return nil, fmt.Errorf("helper process: %q", line)
	}
	h.relay, h.simURL = f[1], f[2]
	return h, nil
}

func (h *helper) line() (string, error) {
	select {
	case l := <-h.lines:
		return l, nil
	case <-h.exited:
		return "", errors.New("the helper process exited")
	case <-time.After(60 * time.Second):
		return "", errors.New("the helper process does not answer")
	}
}

// do sends a command and returns the answer's fields after its first word,
// which must be want.
func (h *helper) do(want, format string, args ...any) ([]string, error) {
	if _, err := fmt.Fprintf(h.stdin, format+"\n", args...); err != nil {
		return nil, fmt.Errorf("helper process: %w", err)
	}
	line, err := h.line()
	if err != nil {
		return nil, err
	}
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != want {
		return nil, fmt.Errorf("helper process: %q", line)
	}
	return f[1:], nil
}

// report is the relay's latencies since the last report.
func (h *helper) report() (n int, p50, p99, p999, mx time.Duration, err error) {
	f, err := h.do("report", "report")
	if err != nil {
		return 0, 0, 0, 0, 0, err
	}
	if len(f) != 5 {
		return 0, 0, 0, 0, 0, fmt.Errorf("helper process: report %q", f)
	}
	var v [5]int64
	for i := range f {
		if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
			return 0, 0, 0, 0, 0, err
		}
	}
	return int(v[0]), time.Duration(v[1]), time.Duration(v[2]), time.Duration(v[3]), time.Duration(v[4]), nil
}

// samples returns the heartbeat answer times on the wire since the last
// report or samples, sorted.
func (h *helper) samples() ([]time.Duration, error) {
	f, err := h.do("samples", "samples")
	if err != nil {
		return nil, err
	}
	if len(f) == 0 {
		return nil, fmt.Errorf("helper process: samples %q", f)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n != len(f)-1 {
		return nil, fmt.Errorf("helper process: samples: %d fields for %q answers", len(f)-1, f[0])
	}
	l := make([]time.Duration, n)
	for i, s := range f[1:] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("helper process: samples: %w", err)
		}
		l[i] = time.Duration(v)
	}
	return l, nil
}

func (h *helper) close() {
	_ = h.stdin.Close() // the helper exits at the end of its input
	select {
	case <-h.exited:
	case <-time.After(5 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.exited
	}
	_ = h.cmd.Wait()
}
