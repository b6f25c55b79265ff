package hostbench

import (
	"context"
	"log/slog"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/stratbox/stratbox/internal/benchkit"
)

// The floor's rig hands the market's batches to a bare child and back, and
// times them: positive, finite figures, per event and per round trip.
func TestFloorRig(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the floor needs shared memory (Linux)")
	}
	r := &runner{opt: Options{Quick: true}, log: slog.New(slog.DiscardHandler)}
	for _, spin := range []time.Duration{0, 20 * time.Microsecond} {
		g, err := r.startFloor(spin)
		if err != nil {
			t.Fatal(err)
		}
		mkt, err := benchkit.NewMarket(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, benchkit.Cycle} {
			batches, _ := mkt.Batches(n)
			v, err := g.measure(batches, n, time.Millisecond)
			if err != nil || !(v > 0) || math.IsInf(v, 0) {
				t.Fatalf("spin %v, batch %d: %v ns/event, %v", spin, n, v, err)
			}
			d, err := g.timedRoundTrip(batches[0])
			if err != nil || d <= 0 {
				t.Fatalf("spin %v, batch %d: round trip %v, %v", spin, n, d, err)
			}
		}
		g.close()
		if _, err := g.timedRoundTrip([]byte("x")); err == nil {
			t.Fatal("a round trip to a closed floor went through")
		}
	}
}

// The floors come in the same run as the figures they bound, one value per
// repetition, and each ratio and difference is of the same repetition's
// figures.
func TestFloorFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("runs part of the benchmark suite")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the floor needs shared memory (Linux)")
	}
	if raceEnabled {
		t.Skip("instrumented, the suite's run takes a minute: TestFloorRig and the build without -race cover it")
	}
	res, err := Run(context.Background(), Options{Quick: true, Reps: 2, Only: []string{"dispatch", "e2e"}})
	if err != nil {
		t.Fatal(err)
	}
	fig := func(k string) *Figure {
		t.Helper()
		f, ok := res.Figures[k]
		if !ok {
			t.Fatalf("no figure %s", k)
		}
		if len(f.Reps) != 2 || f.Title == "" || f.Unit == "" {
			t.Fatalf("%s: %+v", k, f)
		}
		return f
	}
	for _, k := range []string{"e2e.floor_us", "e2e.roundtrip_us", "dispatch.floor.batch1", "dispatch.floor.batch64"} {
		for _, v := range fig(k).Reps {
			if !(v > 0) || math.IsInf(v, 0) {
				t.Errorf("%s: implausible value %v", k, v)
			}
		}
	}
	proc, floor, native := fig("e2e.process_us"), fig("e2e.floor_us"), fig("e2e.native_us")
	over, minus := fig("e2e.process_over_floor"), fig("e2e.process_minus_floor_us")
	rt, rtOver := fig("e2e.roundtrip_us"), fig("e2e.roundtrip_over_native")
	dproc, dfloor, dover := fig("dispatch.quoter_process.batch64"), fig("dispatch.floor.batch64"), fig("dispatch.quoter_process.batch64_over_floor")
	for i := range 2 {
		if want := proc.Reps[i] / floor.Reps[i]; !near(over.Reps[i], want) {
			t.Errorf("repetition %d: e2e.process_over_floor %v, want %v", i, over.Reps[i], want)
		}
		if want := proc.Reps[i] - floor.Reps[i]; !near(minus.Reps[i], want) {
			t.Errorf("repetition %d: e2e.process_minus_floor_us %v, want %v", i, minus.Reps[i], want)
		}
		if want := rt.Reps[i] / native.Reps[i]; !near(rtOver.Reps[i], want) {
			t.Errorf("repetition %d: e2e.roundtrip_over_native %v, want %v", i, rtOver.Reps[i], want)
		}
		if want := dproc.Reps[i] / dfloor.Reps[i]; !near(dover.Reps[i], want) {
			t.Errorf("repetition %d: dispatch.quoter_process.batch64_over_floor %v, want %v", i, dover.Reps[i], want)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
