package hostbench

import (
	"math"
	"slices"
	"time"
)

// Figure is one measured quantity: one value per repetition (or one over
// every repetition: the "_pooled_" figures), summarised by
// the median and the spread (min, max).
type Figure struct {
	Title  string    `json:"title"`
	Unit   string    `json:"unit"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Reps   []float64 `json:"reps"`
	// Target is the figure's target from BENCHMARKS.md "Targets" ("" when
	// none); Met says whether the median meets it (nil when there is no
	// target).
	Target string `json:"target,omitempty"`
	Met    *bool  `json:"met,omitempty"`
	// Note says what a reader must know to read the figure (n/a reasons).
	Note string `json:"note,omitempty"`
	// better is "lower" or "higher": for the benchfmt rendering's unit.
	limit  float64
	higher bool // the target is a floor (≥ limit), not a ceiling
}

// Machine is where a run was made.
type Machine struct {
	OS        string  `json:"os"`
	Arch      string  `json:"arch"`
	CPUs      int     `json:"cpus"`
	CPUModel  string  `json:"cpu_model,omitempty"`
	Go        string  `json:"go"`
	Load1     float64 `json:"load1"`     // 1-minute load average at the start (-1: unknown)
	Load1End  float64 `json:"load1_end"` // and at the end
	MemTotalB uint64  `json:"mem_total_bytes,omitempty"`
}

// Result is one run of the suite: the JSON object of `host bench --json`.
type Result struct {
	Version int       `json:"version"`
	Time    time.Time `json:"time"`
	Machine Machine   `json:"machine"`
	Reps    int       `json:"reps"`
	Quick   bool      `json:"quick"`
	Plugin  string    `json:"plugin,omitempty"`
	Seconds float64   `json:"seconds"`
	// Figures by key (docs/host-bench.md lists every key).
	Figures map[string]*Figure `json:"figures"`
	// Order is the order in which the figures were measured (for the
	// table; not part of the JSON).
	Order []string `json:"-"`
}

// ResultVersion is Result.Version: bumped when a key changes meaning.
const ResultVersion = 1

// add records values (one per repetition) under key.
func (r *Result) add(key, title, unit string, reps []float64) *Figure {
	f := &Figure{Title: title, Unit: unit, Reps: reps}
	if len(reps) > 0 {
		s := slices.Clone(reps)
		slices.Sort(s)
		f.Min, f.Max = s[0], s[len(s)-1]
		if n := len(s); n%2 == 1 {
			f.Median = s[n/2]
		} else {
			f.Median = (s[n/2-1] + s[n/2]) / 2
		}
	}
	if r.Figures == nil {
		r.Figures = map[string]*Figure{}
	}
	if _, ok := r.Figures[key]; !ok {
		r.Order = append(r.Order, key)
	}
	r.Figures[key] = f
	return f
}

// atMost sets a ceiling target.
func (f *Figure) atMost(limit float64, text string) *Figure {
	f.Target, f.limit, f.higher = text, limit, false
	met := f.Median <= limit && len(f.Reps) > 0
	f.Met = &met
	return f
}

// atLeast sets a floor target.
func (f *Figure) atLeast(limit float64, text string) *Figure {
	f.Target, f.limit, f.higher = text, limit, true
	met := f.Median >= limit && len(f.Reps) > 0
	f.Met = &met
	return f
}

// quantile is the q-quantile of sorted (nearest rank, exact).
func quantile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(n)))
	rank = max(1, min(n, rank))
	return sorted[rank-1]
}

// pooled is the q-quantile of every repetition's samples (each sorted)
// taken together: one tail over all the answers of a scenario. The p99 of
// one repetition's window is a few dozen answers, and the ratio of two such
// tails swings several-fold from one repetition to the next on a shared
// machine; over every repetition the same quantile rests on seven times
// more.
func pooled(reps [][]time.Duration, q float64) time.Duration {
	var all []time.Duration
	for _, r := range reps {
		all = append(all, r...)
	}
	slices.Sort(all)
	return quantile(all, q)
}

// us is d in microseconds.
func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
