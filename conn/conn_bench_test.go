package conn_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stratbox/stratbox/conn"
)

// BenchmarkClassify classifies each hot frame kind (target ≤ 100 ns).
func BenchmarkClassify(b *testing.B) {
	for _, bc := range []struct{ name, frame string }{
		{"test_request", frameTestRequest},
		{"book_change", frameBookChange},
		{"order", frameOrder},
		{"response", frameResponse},
		{"error", frameError},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := []byte(bc.frame)
			b.ReportAllocs()
			for b.Loop() {
				if conn.Classify(in).Kind == conn.KindInvalid {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// BenchmarkParseNotification finds the channel and the data of a book change.
func BenchmarkParseNotification(b *testing.B) {
	in := []byte(frameBookChange)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		f := conn.Classify(in)
		if _, _, err := conn.ParseNotification(in, f); err != nil {
			b.Fatal(err)
		}
	}
}

// The heartbeat-latency benchmark runs its fake exchange either in the
// benchmark's own process (inprocess) or in a child process (childprocess):
// the test binary re-executed with -test.run=^TestHelperExchange$ and
// envHelperExchange=1. On 2 cores the in-process exchange and its flooder
// compete with the client for the same Go Ps, so the in-process figure mixes
// the client's latency with the benchmark's own load (see RATIONALE.md, "Why
// are plugin calls interruptible, and why will plugins move to a child
// process?").
//
// The child's protocol, on its stdin and stdout:
//   - it prints "url ws://127.0.0.1:port/" once it listens;
//   - the line "go N" on its stdin starts the flood; it prints "done" once it
//     has read N public/test answers;
//   - it exits when its stdin closes, or after helperExchangeLimit.
//
// In both variants the exchange counts the answers itself and signals once:
// the benchmark's own goroutine does nothing per answer.
const (
	envHelperExchange = "STRATBOX_CONN_BENCH_EXCHANGE"       // "1" in the child
	envHelperRate     = "STRATBOX_CONN_BENCH_RATE"           // notifications per second
	envHelperLimit    = "STRATBOX_CONN_BENCH_EXCHANGE_LIMIT" // a time.Duration: the child's lifetime bound

	// envChildCPUs, when set in the benchmark's environment, runs the child
	// under "taskset -c $value" (Linux). With the benchmark itself under
	// "taskset -c 0" and this at "1", client and exchange no longer share a
	// core, which separates the client's own latency from the OS-level
	// contention with the exchange that the default run includes.
	envChildCPUs = "STRATBOX_CONN_BENCH_CHILD_CPUS"

	benchNoteRate       = 50_000           // notifications per second
	helperExchangeLimit = 10 * time.Minute // a child outlives a killed parent at most this long
	benchWait           = 10 * time.Second // bound on every wait, beyond the run's expected length
)

// BenchmarkHeartbeatAnswerLatency measures, on loopback, the time from a
// test_request read to its public/test written while 50,000 notifications/s
// arrive (50 per millisecond, with one test_request per millisecond) and a
// consumer drains them. Target: p99 ≤ 50 µs. One op is one test_request.
//
// inprocess runs the fake exchange and its flooder in the benchmark's
// process, where they compete with the client for its Ps; childprocess runs
// them in a child process, which keeps them off the client's Ps but still on
// the same cores (see envChildCPUs for a run with a core each).
func BenchmarkHeartbeatAnswerLatency(b *testing.B) {
	b.Run("inprocess", benchHeartbeatInProcess)
	b.Run("childprocess", benchHeartbeatChildProcess)
}

// benchHeartbeatInProcess runs the fake exchange in this process.
func benchHeartbeatInProcess(b *testing.B) {
	start := make(chan int, 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	srv := httptest.NewServer(floodExchange(benchNoteRate/1000, start, stop, func() { close(done) }))
	b.Cleanup(func() {
		close(stop)
		srv.Close()
	})
	measureHeartbeat(b, "ws"+srv.URL[len("http"):], func(n int) { start <- n }, done)
}

// benchHeartbeatChildProcess runs the fake exchange in a child process.
func benchHeartbeatChildProcess(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHelperExchange$", "-test.count=1",
		"-test.timeout="+(helperExchangeLimit+time.Minute).String())
	cmd.Env = append(os.Environ(),
		envHelperExchange+"=1",
		envHelperRate+"="+strconv.Itoa(benchNoteRate),
		envHelperLimit+"="+helperExchangeLimit.String())
	if cpus := os.Getenv(envChildCPUs); cpus != "" { // an experiment: see envChildCPUs
		env := cmd.Env
		cmd = exec.Command("taskset", append([]string{"-c", cpus, exe}, cmd.Args[1:]...)...)
		cmd.Env = env
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	urls := make(chan string, 1)
	done := make(chan struct{})
	exited := make(chan struct{})
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // closes stdout, which ends the reader
		<-exited
	})
	go func() { // the child's stdout: its URL, then "done"
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			switch line := sc.Text(); {
			case strings.HasPrefix(line, "url "):
				urls <- strings.TrimPrefix(line, "url ")
			case line == "done":
				close(done)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var url string
	select {
	case url = <-urls:
	case <-exited:
		b.Fatal("exchange child exited before it listened")
	case <-time.After(benchWait):
		b.Fatal("exchange child did not report its URL")
	}
	measureHeartbeat(b, url, func(n int) {
		if _, err := fmt.Fprintf(stdin, "go %d\n", n); err != nil {
			b.Fatal(err)
		}
	}, done)
}

// measureHeartbeat dials url, drains the notifications, calls start(b.N) and
// waits until done is closed (the exchange has read b.N answers), then
// reports the connection's heartbeat measurements.
func measureHeartbeat(b *testing.B, url string, start func(n int), done <-chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), benchWait)
	defer cancel()
	c, err := conn.Dial(ctx, conn.Config{URL: url, SinkQueue: 1 << 14})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	stop := make(chan struct{})
	consumed := make(chan struct{})
	go func() { // a consumer that keeps up
		defer close(consumed)
		for {
			select {
			case <-c.Notifications():
			case <-stop:
				return
			}
		}
	}()
	defer func() { close(stop); <-consumed }()
	limit := time.Duration(b.N)*time.Millisecond*2 + benchWait // one test_request per millisecond
	timeout := time.NewTimer(limit)
	defer timeout.Stop()
	b.ResetTimer()
	start(b.N)
	select {
	case <-done:
	case <-timeout.C:
		b.Fatalf("fewer than %d answers after %v: %+v", b.N, limit, c.Heartbeat())
	}
	b.StopTimer()
	st := c.Stats()
	hb := st.Heartbeat
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(hb.AnswerLatency.P50), "p50-µs")
	b.ReportMetric(us(hb.AnswerLatency.P99), "p99-µs")
	b.ReportMetric(us(hb.AnswerLatency.Max), "max-µs")
	b.ReportMetric(us(hb.RoundTrip.P99), "rtt-p99-µs")
	b.ReportMetric(float64(st.Notifications)/b.Elapsed().Seconds(), "notes/s")
	if hb.Missed != 0 || st.Reconnects != 0 {
		b.Fatalf("heartbeat %+v", hb)
	}
}

// floodExchange is a fake exchange for one connection. It answers every
// request with "ok". Once public/set_heartbeat has been read and n has
// arrived on start, it sends notesPerMs notifications and a test_request
// every millisecond until stop is closed or the socket fails, and calls done
// once it has read n public/test answers.
func floodExchange(notesPerMs int, start <-chan int, stop <-chan struct{}, done func()) http.Handler {
	note := []byte(frameBookChange)
	up := websocket.Upgrader{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		var wmu sync.Mutex
		send := func(b []byte) error {
			wmu.Lock()
			defer wmu.Unlock()
			return ws.WriteMessage(websocket.TextMessage, b)
		}
		var want atomic.Int64 // n, once it has arrived
		answers := int64(0)
		var flooding sync.WaitGroup
		defer flooding.Wait()
		defer ws.Close() // before the wait: a blocked send must fail
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var req struct {
				ID     uint64 `json:"id"`
				Method string `json:"method"`
			}
			_ = json.Unmarshal(msg, &req)
			out, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": "ok"})
			if send(out) != nil {
				return
			}
			switch req.Method {
			case "public/test":
				// test_requests are sent only after want is set.
				if answers++; answers == want.Load() {
					done()
				}
			case "public/set_heartbeat":
				flooding.Add(1)
				go func() {
					defer flooding.Done()
					select {
					case n := <-start:
						want.Store(int64(n))
					case <-stop:
						return
					}
					tk := time.NewTicker(time.Millisecond)
					defer tk.Stop()
					for {
						select {
						case <-tk.C:
						case <-stop:
							return
						}
						for range notesPerMs {
							if send(note) != nil {
								return
							}
						}
						if send(testRequestFrame) != nil {
							return
						}
					}
				}()
			}
		}
	})
}

// TestHelperExchange is the child process of
// BenchmarkHeartbeatAnswerLatency/childprocess; it is skipped unless
// envHelperExchange is set.
func TestHelperExchange(t *testing.T) {
	if os.Getenv(envHelperExchange) != "1" {
		t.Skip("helper process for BenchmarkHeartbeatAnswerLatency/childprocess")
	}
	rate, err := strconv.Atoi(os.Getenv(envHelperRate))
	if err != nil || rate < 0 {
		t.Fatalf("%s=%q", envHelperRate, os.Getenv(envHelperRate))
	}
	limit, err := time.ParseDuration(os.Getenv(envHelperLimit))
	if err != nil || limit <= 0 {
		limit = helperExchangeLimit
	}
	start := make(chan int, 1)
	stop := make(chan struct{})
	var once sync.Once
	done := func() { once.Do(func() { fmt.Println("done") }) }
	srv := httptest.NewServer(floodExchange(rate/1000, start, stop, done))
	defer srv.Close()
	defer close(stop)
	eof := make(chan struct{})
	go func() { // "go N" starts the flood; EOF ends the child
		defer close(eof)
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			var n int
			if _, err := fmt.Sscanf(in.Text(), "go %d", &n); err == nil && n > 0 {
				select {
				case start <- n:
				default:
				}
			}
		}
	}()
	fmt.Printf("url ws%s/\n", srv.URL[len("http"):])
	select {
	case <-eof:
	case <-time.After(limit):
	}
}
