package heartbeat

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram is a lock-free log-linear histogram of durations: eight
// sub-buckets per power of two, so a reported quantile is within 12.5% of the
// true value (it reports the bucket's upper bound, never an underestimate).
// Durations from 0 to 2^40 ns (about 18 minutes) are kept; longer ones land in
// the last bucket. The exact maximum, count and sum are kept alongside.
//
// Record is safe to call concurrently with itself and with summary; a summary
// taken during Records may see some counters one value behind the others.
type histogram struct {
	buckets [histBuckets]atomic.Uint64
	count   atomic.Uint64
	sum     atomic.Uint64 // ns; wraps after 584 years of latency
	max     atomic.Int64  // ns
}

const (
	histSubBits = 3
	histSub     = 1 << histSubBits
	histMaxExp  = 40
	histBuckets = (histMaxExp-histSubBits+1)*histSub + histSub
)

func bucketOf(ns int64) int {
	if ns < 0 {
		ns = 0
	}
	v := uint64(ns)
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - 1
	if e > histMaxExp {
		return histBuckets - 1
	}
	sub := int(v>>(e-histSubBits)) & (histSub - 1)
	return (e-histSubBits+1)*histSub + sub
}

// bucketUpper is the largest value that falls in bucket i.
func bucketUpper(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	e := i/histSub + histSubBits - 1
	sub := i % histSub
	lower := int64(histSub+sub) << (e - histSubBits)
	return lower + int64(1)<<(e-histSubBits) - 1
}

func (h *histogram) record(d time.Duration) {
	ns := int64(d)
	if ns < 0 {
		ns = 0
	}
	h.buckets[bucketOf(ns)].Add(1)
	h.count.Add(1)
	h.sum.Add(uint64(ns))
	for {
		m := h.max.Load()
		if ns <= m || h.max.CompareAndSwap(m, ns) {
			break
		}
	}
}

// Latency summarises a histogram of durations.
type Latency struct {
	Count uint64
	// P50 and P99 are upper bounds within 12.5% of the true quantiles.
	P50, P99 time.Duration
	// Max and Mean are exact.
	Max, Mean time.Duration
}

func (h *histogram) summary() Latency {
	var counts [histBuckets]uint64
	var total uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		total += counts[i]
	}
	l := Latency{Count: total, Max: time.Duration(h.max.Load())}
	if total == 0 {
		return l
	}
	if n := h.count.Load(); n > 0 {
		l.Mean = time.Duration(h.sum.Load() / n)
	}
	l.P50 = quantile(&counts, total, 0.50, l.Max)
	l.P99 = quantile(&counts, total, 0.99, l.Max)
	return l
}

func quantile(counts *[histBuckets]uint64, total uint64, q float64, max time.Duration) time.Duration {
	rank := uint64(q*float64(total) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			d := time.Duration(bucketUpper(i))
			if d > max {
				d = max // the bucket's upper bound never exceeds the exact maximum
			}
			return d
		}
	}
	return max
}
