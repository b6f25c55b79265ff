package hostbench

// The transport's floor (issue 18), measured in the same run beside the
// figures it bounds: a bare child (sandbox.StartFloor: the host binary
// started as a plugin's child is, with the same limits, priority,
// confinement, shared-memory ring and wake-up, but no plugin) that sends
// every request back as it came. What a figure of a child process costs
// above it is the host's own work (the engine, the plugin, the wire
// format); the floor itself is what any call to another process costs on
// this machine.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/host/sandbox/shm"
)

// e2eRoundTripSpin is the bare child's spin limit in e2e.roundtrip_us:
// none, so that it waits asleep in the kernel when each request comes, as
// the quoter's child does at most of e2e's requests (the engine's work
// between its calls outlasts its spin). The round trips
// follow each other without a pause, as e2e's tickers do: a pause that
// lets both processes go idle measures the wake-up of an idle CPU instead
// (BENCHMARKS.md: 98–130 µs after a 50–200 µs pause on a 2-core VM, where
// e2e's own figure was 54–111 µs).
const e2eRoundTripSpin = 0

// floorDeadline bounds one round trip: a bare child that does not answer
// within it is broken.
const floorDeadline = 10 * time.Second

// floorRig is a bare child and the request being sent, reused.
type floorRig struct {
	f   *sandbox.Floor
	req []byte
}

// startFloor starts a bare child as the run's plugin children are started
// (Options.Child); nil, and no error, where there is no shared memory
// (outside Linux: the floor's figures are left out).
func (r *runner) startFloor(childSpin time.Duration) (*floorRig, error) {
	f, err := sandbox.StartFloor(r.opt.Child, childSpin, r.log)
	if errors.Is(err, shm.ErrNotSupported) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &floorRig{f: f}, nil
}

func (g *floorRig) close() { _ = g.f.Close() }

// roundTrip sends a request as a plugin's child gets a Deliver (the time,
// then the batch) and waits for it to come back.
func (g *floorRig) roundTrip(batch []byte) error {
	g.req = binary.LittleEndian.AppendUint64(g.req[:0], uint64(time.Now().UnixNano()))
	g.req = append(g.req, batch...)
	if _, err := g.f.RoundTrip(g.req, time.Now().Add(floorDeadline)); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	return nil
}

// timedRoundTrip is one sample of e2e.roundtrip_us: one timed round trip of
// batch.
func (g *floorRig) timedRoundTrip(batch []byte) (time.Duration, error) {
	t0 := time.Now()
	err := g.roundTrip(batch)
	return time.Since(t0), err
}

// measure makes back-to-back round trips of batches (of n events each, in
// turn) for about d and returns the time per event, as
// dispatchSubject.measure does for a plugin.
func (g *floorRig) measure(batches [][]byte, n int, d time.Duration) (float64, error) {
	return perEvent(len(batches), n, d, func(i int) error { return g.roundTrip(batches[i]) })
}
