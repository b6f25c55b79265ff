package hostbench

import (
	"testing"
	"time"
)

// The paired ratio divides the tails of the two sides, and its interval
// comes from resampling whole runs: when every run's active side is the
// paused side doubled, each resampling gives 2 as well; when one run alone
// is slow, the interval is wide around the ratio.
func TestPairedRatio(t *testing.T) {
	mk := func(base time.Duration, scale float64) []time.Duration {
		l := make([]time.Duration, 200)
		for i := range l {
			l[i] = time.Duration(float64(base+time.Duration(i)*time.Microsecond) * scale)
		}
		return l
	}
	var doubled [][]hostilePair
	for i := range 8 {
		base := time.Duration(100+10*i) * time.Microsecond
		doubled = append(doubled, []hostilePair{{active: mk(base, 2), paused: mk(base, 1)}, {active: mk(2*base, 2), paused: mk(2*base, 1)}})
	}
	r, lo, hi, ok := pairedRatio(doubled, 0.99)
	if !ok || r < 1.99 || r > 2.01 || lo < 1.9 || hi > 2.1 {
		t.Errorf("doubled: %v (%v–%v) ok %v, want 2 (≈2–2)", r, lo, hi, ok)
	}
	var bursty [][]hostilePair
	for i := range 8 {
		p := hostilePair{active: mk(100*time.Microsecond, 1), paused: mk(100*time.Microsecond, 1)}
		if i == 3 {
			p.active = mk(100*time.Microsecond, 10) // one run hit by a burst
		}
		bursty = append(bursty, []hostilePair{p})
	}
	r, lo, hi, ok = pairedRatio(bursty, 0.99)
	if !ok || r <= 1.5 || lo > 1.05 || hi < r {
		t.Errorf("bursty: %v (%v–%v) ok %v, want above 1.5 with an interval reaching 1", r, lo, hi, ok)
	}
	if r2, lo2, hi2, _ := pairedRatio(bursty, 0.99); r2 != r || lo2 != lo || hi2 != hi {
		t.Errorf("the same pairs gave %v (%v–%v), then %v (%v–%v)", r, lo, hi, r2, lo2, hi2)
	}
	if _, _, _, ok := pairedRatio([][]hostilePair{{{active: mk(time.Millisecond, 1)}}}, 0.99); ok {
		t.Error("no paused answer gave a ratio")
	}
	if _, _, _, ok := pairedRatio(nil, 0.99); ok {
		t.Error("no pair gave a ratio")
	}
}
