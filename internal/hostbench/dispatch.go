package hostbench

import (
	"context"
	"fmt"
	"github.com/stratbox/stratbox/internal/benchkit"
	"time"

	"github.com/stratbox/stratbox/abi"
	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/host/sandbox/shm"
	"github.com/stratbox/stratbox/plugins/bench/quoter"
)

// dispatchTarget is dispatch's target (BENCHMARKS.md "Targets"): ≤ 300 ns
// an event in batches of 64.
const dispatchTarget = 300

// dispatchProcessTarget is the target of the quoter in a child process
// (issue 18): ≤ 400 ns an event in batches of 64.
const dispatchProcessTarget = 400

// dispatchSubject is one plugin of the dispatch figures.
type dispatchSubject struct {
	key, title string
	sb         sandbox.Sandbox
	mkt        *benchkit.Market
	batches    map[int][][]byte
	books      map[int][][]int
}

// dispatch measures one Deliver of a batch of 1 or 64 market events, per
// event, in this process with the call budget on (as `host run` with
// isolation "none"; BenchmarkDispatch's approach), and for the quoter in a
// child process too (`host run`'s default).
func (r *runner) dispatch(ctx context.Context) error {
	now := time.Now()
	type spec struct {
		key, title string
		wasm       []byte
		native     bool
		params     []abi.Param
		process    bool // in a child process (r.opt.Child)
	}
	specs := []spec{
		{"noop", "no-op WAT plugin (the boundary)", NoopWasm, false, nil, false},
		{"quoter_wasm", "quoter, Go → wasm", QuoterWasm(), false, quoterParams(), false},
		{"quoter_process", "quoter, Go → wasm, child process", QuoterWasm(), false, quoterParams(), true},
		{"quoter_native", "quoter, Go native (no wasm)", nil, true, quoterParams(), false},
	}
	if r.opt.Plugin != nil {
		specs = append(specs, spec{"plugin", r.opt.PluginName, r.opt.Plugin, false, r.opt.PluginParams, false})
	}
	var subjects []*dispatchSubject
	defer func() {
		for _, s := range subjects {
			_ = s.sb.Close()
		}
	}()
	for _, sp := range specs {
		var sb sandbox.Sandbox
		if sp.native {
			sb = newNativeBox(quoter.New())
		} else if sp.process {
			p, err := r.load(sp.key, sp.wasm, sandbox.PluginConfig{}, sandbox.WithChildProcess())
			if err != nil {
				return fmt.Errorf("%s: %w", sp.title, err)
			}
			defer p.Close(context.Background())
			sb = sandbox.NewProcess(p, r.opt.Child)
		} else {
			p, err := r.load(sp.key, sp.wasm, sandbox.PluginConfig{})
			if err != nil {
				return fmt.Errorf("%s: %w", sp.title, err)
			}
			defer p.Close(context.Background())
			sb = sandbox.NewInProcess(p)
		}
		s := &dispatchSubject{key: sp.key, title: sp.title, sb: sb, batches: map[int][][]byte{}, books: map[int][][]int{}}
		subjects = append(subjects, s)
		blob, err := startup(sp.key, sp.params, now)
		if err != nil {
			return err
		}
		out, err := sb.Start(ctx, blob, now)
		if err != nil {
			return fmt.Errorf("%s: start with BTC-PERPETUAL: %w", sp.title, err)
		}
		if s.mkt, err = benchkit.NewMarket(now); err != nil {
			return err
		}
		for _, n := range []int{1, benchkit.Cycle} {
			s.batches[n], s.books[n] = s.mkt.Batches(n)
		}
		// Warm up as BenchmarkDispatch: the book, three cycles, the
		// acknowledgements of the orders placed.
		pending, err := benchkit.Acks(out)
		if err != nil {
			return err
		}
		// deliver gives the plugin b and queues the acknowledgements of
		// what it placed.
		deliver := func(b []byte) error {
			got, err := sb.Deliver(ctx, b, now)
			if err != nil {
				return fmt.Errorf("%s: %w", sp.title, err)
			}
			a, err := benchkit.Acks(got)
			pending = append(pending, a...)
			return err
		}
		if err := deliver(s.mkt.Snapshot); err != nil {
			return err
		}
		for range 3 {
			for i, b := range s.batches[1] {
				s.mkt.Chain(b, s.books[1][i])
				if err := deliver(b); err != nil {
					return err
				}
			}
			if len(pending) > 0 {
				acks := pending
				pending = nil
				if err := deliver(acks); err != nil {
					return err
				}
			}
		}
		for _, n := range []int{1, benchkit.Cycle} { // and one untimed window
			if _, err := s.measure(ctx, n, r.window(50*time.Millisecond)); err != nil {
				return err
			}
		}
	}
	// The floor: a bare child sent the same batches back to back, after
	// the subjects in each repetition (floor.go).
	floor, err := r.startFloor(shm.DefaultSpin)
	if err != nil {
		return err
	}
	if floor != nil {
		defer floor.close()
	}
	mkt, err := benchkit.NewMarket(now)
	if err != nil {
		return err
	}
	floorBatches := map[int][][]byte{}
	for _, n := range []int{1, benchkit.Cycle} {
		if floor == nil {
			break
		}
		floorBatches[n], _ = mkt.Batches(n)
		if _, err := floor.measure(floorBatches[n], n, r.window(50*time.Millisecond)); err != nil { // warm-up
			return err
		}
	}
	vals := map[string][]float64{}
	for range r.reps {
		for _, s := range subjects {
			for _, n := range []int{1, benchkit.Cycle} {
				v, err := s.measure(ctx, n, r.window(200*time.Millisecond))
				if err != nil {
					return err
				}
				k := fmt.Sprintf("dispatch.%s.batch%d", s.key, n)
				vals[k] = append(vals[k], v)
			}
		}
		if floor == nil {
			continue
		}
		for _, n := range []int{1, benchkit.Cycle} {
			v, err := floor.measure(floorBatches[n], n, r.window(200*time.Millisecond))
			if err != nil {
				return err
			}
			k := fmt.Sprintf("dispatch.floor.batch%d", n)
			vals[k] = append(vals[k], v)
		}
		last := func(k string) float64 { return vals[k][len(vals[k])-1] }
		vals["over_floor"] = append(vals["over_floor"], last("dispatch.quoter_process.batch64")/last("dispatch.floor.batch64"))
	}
	for _, s := range subjects {
		for _, n := range []int{1, benchkit.Cycle} {
			k := fmt.Sprintf("dispatch.%s.batch%d", s.key, n)
			f := r.res.add(k, fmt.Sprintf("dispatch, %s, batch of %d", s.title, n), "ns/event", vals[k])
			switch {
			case n == benchkit.Cycle && s.key == "quoter_process":
				f.atMost(dispatchProcessTarget, "≤ 400 ns/event at batch 64 in a child process")
			case n == benchkit.Cycle && s.key != "quoter_native":
				f.atMost(dispatchTarget, "≤ 300 ns/event at batch 64")
			}
			r.progress("%-40s %10.1f ns/event", k, f.Median)
		}
	}
	if floor == nil {
		return nil
	}
	for _, n := range []int{1, benchkit.Cycle} {
		k := fmt.Sprintf("dispatch.floor.batch%d", n)
		f := r.res.add(k, fmt.Sprintf("dispatch's floor: a batch of %d to a bare child and back (same ring and wake-up, no plugin)", n), "ns/event", vals[k])
		r.progress("%-40s %10.1f ns/event", k, f.Median)
	}
	k := "dispatch.quoter_process.batch64_over_floor"
	f := r.res.add(k, "dispatch, quoter in a child process ÷ the floor, batch of 64 (same repetition)", "×", vals["over_floor"])
	r.progress("%-40s %10.2f ×", k, f.Median)
	return nil
}

// measure delivers batches of n for about d and returns the time per event.
func (s *dispatchSubject) measure(ctx context.Context, n int, d time.Duration) (float64, error) {
	batches, books := s.batches[n], s.books[n]
	now := time.Now()
	return perEvent(len(batches), n, d, func(i int) error {
		s.mkt.Chain(batches[i], books[i])
		if _, err := s.sb.Deliver(ctx, batches[i], now); err != nil {
			return fmt.Errorf("%s: %w", s.title, err)
		}
		return nil
	})
}

// perEvent makes call(0), call(1), … call(nb-1), call(0), … back to back
// for about d (the clock read every 16 calls) and returns the time an
// event, each call carrying n.
func perEvent(nb, n int, d time.Duration, call func(i int) error) (float64, error) {
	var calls, i int
	t0 := time.Now()
	var el time.Duration
	for {
		if err := call(i); err != nil {
			return 0, err
		}
		calls++
		if i++; i == nb {
			i = 0
		}
		if calls%16 == 0 {
			if el = time.Since(t0); el >= d {
				break
			}
		}
	}
	return float64(el.Nanoseconds()) / float64(calls*n), nil
}
