package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"time"
)

// runPinger plays the exchange: it listens on loopback TCP, starts `spike host <hostArgs>` as a
// separate process (so host stop-the-world pauses cannot hide in the measurement), sends a
// 16-byte ping every 1 ms and records ping->pong latency per ping (no coordinated omission:
// sending never waits for answers). Pings still unanswered at the end count with latency
// (end - sent) as a lower bound. The host is SIGKILLed at the end.
func runPinger(args []string) {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	dur := fs.Duration("dur", 10*time.Second, "measurement duration (after warmup)")
	warm := fs.Duration("warm", 1*time.Second, "warmup after host connects (not recorded)")
	label := fs.String("label", "", "label for the result line")
	fs.Parse(args)
	hostArgs := fs.Args()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	self, _ := os.Executable()
	cmd := exec.Command(self, append([]string{"host", "-addr", ln.Addr().String()}, hostArgs...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // host and its plugin child (own process group)
	go func() { err := cmd.Wait(); fmt.Fprintln(os.Stderr, "HOST PROCESS EXITED:", err) }()
	conn, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	base := time.Now()
	const maxPings = 200000
	sent := make([]int64, maxPings)  // send time (ns since base) by seq
	recvd := make([]int64, maxPings) // latency, -1 = not answered
	for i := range recvd {
		recvd[i] = -1
	}
	var mu sync.Mutex
	go func() {
		buf := make([]byte, 16)
		for {
			if _, err := io.ReadFull(conn, buf); err != nil {
				return
			}
			now := int64(time.Since(base))
			seq := binary.LittleEndian.Uint64(buf)
			ts := int64(binary.LittleEndian.Uint64(buf[8:]))
			mu.Lock()
			if seq < maxPings {
				recvd[seq] = now - ts
			}
			mu.Unlock()
		}
	}()
	tk := time.NewTicker(time.Millisecond)
	defer tk.Stop()
	start := time.Now()
	var seq uint64
	buf := make([]byte, 16)
	measureFrom := -1
	for time.Since(start) < *warm+*dur && seq < maxPings {
		<-tk.C
		if measureFrom < 0 && time.Since(start) >= *warm {
			measureFrom = int(seq)
		}
		ts := int64(time.Since(base))
		binary.LittleEndian.PutUint64(buf, seq)
		binary.LittleEndian.PutUint64(buf[8:], uint64(ts))
		sent[seq] = ts
		conn.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := conn.Write(buf); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
		}
		seq++
	}
	time.Sleep(20 * time.Millisecond) // grace for in-flight pongs
	end := int64(time.Since(base))
	mu.Lock()
	var lats []int64
	lost, over1ms := 0, 0
	for i := measureFrom; i < int(seq); i++ {
		l := recvd[i]
		if l < 0 {
			lost++
			l = end - sent[i]
		}
		if l > int64(time.Millisecond) {
			over1ms++
		}
		lats = append(lats, l)
	}
	mu.Unlock()
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	pct := func(p float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		i := int(p * float64(len(lats)-1))
		return time.Duration(lats[i])
	}
	fmt.Printf("RESULT %-28s n=%d p50=%v p99=%v p99.9=%v max=%v >1ms=%d unanswered=%d  host=%v\n",
		*label, len(lats), pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond),
		pct(0.999).Round(time.Microsecond), pct(1).Round(time.Microsecond), over1ms, lost, hostArgs)
}
