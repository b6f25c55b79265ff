package shm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"
)

// The floor benchmarks: two bare processes hand a 64-event batch (64 × 64
// bytes, the size of a busy tick's batch) to each other and back, nothing
// else, through the ring and its wake-up and through a pipe (the framing
// of the child-process transport), interleaved in chunks so that both meet
// the same load. Metrics per round trip (rt) and per event; cpu-ns counts
// both processes' CPU time.
//
//	go test -run '^$' -bench . ./host/sandbox/shm
const (
	benchEvents = 64
	benchEvent  = 64
	benchChunk  = 50 // round trips of one transport before the next one's turn
)

// transport is one way of making a round trip to an echo child.
type transport interface {
	roundTrip(req []byte, deadline time.Time) error
	childCPU() (time.Duration, error)
}

type ringTransport struct {
	c   *ringChild
	buf []byte
}

func (t *ringTransport) roundTrip(req []byte, deadline time.Time) error {
	typ, got, err := t.c.ep.Call(typEcho, req, t.buf, deadline)
	if err != nil {
		return err
	}
	t.buf = got
	if typ != typEcho || len(got) != len(req) {
		return fmt.Errorf("reply of type %c, %d bytes", typ, len(got))
	}
	return nil
}

func (t *ringTransport) childCPU() (time.Duration, error) {
	_, got, err := t.c.ep.Call(typCPU, nil, nil, far())
	if err != nil || len(got) != 8 {
		return 0, fmt.Errorf("cpu query: %v (%d bytes)", err, len(got))
	}
	return time.Duration(binary.LittleEndian.Uint64(got)), nil
}

type pipeTransport struct {
	w   io.Writer
	r   *bufio.Reader
	req []byte
	buf []byte
	hdr [8]byte
}

func startPipeChild(tb testing.TB) *pipeTransport {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=pipe", "GORACE=atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = w.Close()
		_ = cmd.Wait()
	})
	return &pipeTransport{w: w, r: bufio.NewReaderSize(r, 64<<10)}
}

func (t *pipeTransport) call(typ byte, req []byte) ([]byte, error) {
	b := binary.LittleEndian.AppendUint32(t.req[:0], uint32(len(req)))
	b = append(append(b, typ, 0, 0, 0), req...)
	t.req = b
	if _, err := t.w.Write(b); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(t.r, t.hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(t.hdr[:])
	if cap(t.buf) < int(n) {
		t.buf = make([]byte, n)
	}
	t.buf = t.buf[:n]
	_, err := io.ReadFull(t.r, t.buf)
	return t.buf, err
}

func (t *pipeTransport) roundTrip(req []byte, _ time.Time) error {
	got, err := t.call(typEcho, req)
	if err == nil && !bytes.Equal(got[:8], req[:8]) {
		err = fmt.Errorf("reply of %d bytes differs", len(got))
	}
	return err
}

func (t *pipeTransport) childCPU() (time.Duration, error) {
	got, err := t.call(typCPU, nil)
	if err != nil || len(got) != 8 {
		return 0, fmt.Errorf("cpu query: %v (%d bytes)", err, len(got))
	}
	return time.Duration(binary.LittleEndian.Uint64(got)), nil
}

// sideBySide makes b.N round trips through each transport, interleaved in
// chunks, and reports each one's ns per round trip, ns per event and CPU
// ns per round trip (both processes), under its name.
func sideBySide(b *testing.B, names []string, ts []transport) []float64 {
	batch := payload(1, benchEvents*benchEvent)
	deadline := far()
	for _, t := range ts { // warm up: page faults, the spin's adaptation
		for range 200 {
			if err := t.roundTrip(batch, deadline); err != nil {
				b.Fatal(err)
			}
		}
	}
	wall := make([]time.Duration, len(ts))
	cpu := make([]time.Duration, len(ts))
	child0 := make([]time.Duration, len(ts))
	for i, t := range ts {
		c, err := t.childCPU()
		if err != nil {
			b.Fatal(err)
		}
		child0[i] = c
	}
	b.ResetTimer()
	for done := 0; done < b.N; done += benchChunk {
		n := min(benchChunk, b.N-done)
		for i, t := range ts {
			c0, t0 := cpuTime(), time.Now()
			for range n {
				if err := t.roundTrip(batch, deadline); err != nil {
					b.Fatal(err)
				}
			}
			wall[i] += time.Since(t0)
			cpu[i] += cpuTime() - c0
		}
	}
	b.StopTimer()
	nsPerRT := make([]float64, len(ts))
	for i, t := range ts {
		c, err := t.childCPU()
		if err != nil {
			b.Fatal(err)
		}
		cpu[i] += c - child0[i]
		nsPerRT[i] = float64(wall[i].Nanoseconds()) / float64(b.N)
		b.ReportMetric(nsPerRT[i], names[i]+"-ns/rt")
		b.ReportMetric(nsPerRT[i]/benchEvents, names[i]+"-ns/event")
		b.ReportMetric(float64(cpu[i].Nanoseconds())/float64(b.N), names[i]+"-cpu-ns/rt")
	}
	b.ReportMetric(0, "ns/op") // the per-transport metrics say it
	return nsPerRT
}

// BenchmarkFloor: the ring (default spin) against the pipe, and the ratio
// pipe/ring of their round-trip times.
func BenchmarkFloor(b *testing.B) {
	ring := &ringTransport{c: startRingChild(b)}
	pipe := startPipeChild(b)
	ns := sideBySide(b, []string{"ring", "pipe"}, []transport{ring, pipe})
	b.ReportMetric(ns[1]/ns[0], "pipe/ring")
}

// BenchmarkSpin: the ring with each spin limit (both sides), side by side:
// what a longer spin buys in round-trip time and costs in CPU.
func BenchmarkSpin(b *testing.B) {
	spins := []time.Duration{0, 2 * time.Microsecond, 5 * time.Microsecond, 20 * time.Microsecond, 50 * time.Microsecond}
	var names []string
	var ts []transport
	for _, s := range spins {
		names = append(names, "spin"+s.String())
		ts = append(ts, &ringTransport{c: startRingChild(b, WithSpin(s))})
	}
	sideBySide(b, names, ts)
}

// BenchmarkGoroutines: the ring between two goroutines of one process (no
// second process, both mappings the same): the cost of the ring itself.
func BenchmarkGoroutines(b *testing.B) {
	r, err := Create()
	if err != nil {
		b.Skip(err)
	}
	defer r.Close()
	p, c := r.Parent(), r.Child()
	go func() {
		var buf []byte
		for {
			typ, got, err := c.Recv(buf, far())
			if err != nil || c.Send(typ, far(), got) != nil {
				return
			}
			buf = got
		}
	}()
	batch := payload(1, benchEvents*benchEvent)
	deadline := far()
	var buf []byte
	b.ResetTimer()
	for range b.N {
		_, got, err := p.Call(typEcho, batch, buf, deadline)
		if err != nil {
			b.Fatal(err)
		}
		buf = got
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchEvents, "ns/event")
	st := p.Stats()
	b.ReportMetric(float64(st.Slept)/float64(st.Spun+st.Slept), "slept/wait")
}

// BenchmarkFloorIdle: the same round trips, each after a pause long enough
// that the child waits asleep in the kernel (its spin is at most
// DefaultSpin), as a plugin's child between the calls of an engine that
// meets each event idle (host bench's e2e figure): the wake-up of a sleeping
// process is then part of every round trip. Only the round trips are timed.
func BenchmarkFloorIdle(b *testing.B) {
	const pause = 500 * time.Microsecond
	ring := &ringTransport{c: startRingChild(b)}
	pipe := startPipeChild(b)
	names := []string{"ring", "pipe"}
	ts := []transport{ring, pipe}
	batch := payload(1, benchEvents*benchEvent)
	deadline := far()
	wall := make([]time.Duration, len(ts))
	for range 20 { // warm up
		for _, t := range ts {
			if err := t.roundTrip(batch, deadline); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		for i, t := range ts {
			time.Sleep(pause)
			t0 := time.Now()
			if err := t.roundTrip(batch, deadline); err != nil {
				b.Fatal(err)
			}
			wall[i] += time.Since(t0)
		}
	}
	b.StopTimer()
	for i := range ts {
		b.ReportMetric(float64(wall[i].Nanoseconds())/float64(b.N), names[i]+"-ns/rt")
	}
	b.ReportMetric(0, "ns/op")
}
