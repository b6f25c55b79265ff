package heartbeat

import "time"

// Distribution is one of a Monitor's latency histograms folded into bucket
// bounds chosen by the reader (an exporter's explicit-bucket histogram): it
// is computed from the Monitor's own lock-free buckets when asked, so that
// exporting a histogram costs the heartbeat path nothing.
//
// Counts[i] counts the durations in (Bounds[i-1], Bounds[i]], and the last
// element those above every bound. A bound that is not the edge of one of
// the Monitor's buckets (eight per power of two of nanoseconds) is matched
// to within 12.5%: a bucket that straddles a bound is counted above it.
type Distribution struct {
	Bounds []time.Duration // ascending
	Counts []uint64        // len(Bounds)+1
	Count  uint64
	Sum    time.Duration
	Max    time.Duration
}

// AnswerDistribution folds the answer latencies (test_request read →
// public/test written) into bounds, which must be ascending.
func (m *Monitor) AnswerDistribution(bounds []time.Duration) Distribution {
	return m.answerLat.distribution(bounds)
}

// RoundTripDistribution folds the round trips (public/test written → its
// response read) into bounds, which must be ascending.
func (m *Monitor) RoundTripDistribution(bounds []time.Duration) Distribution {
	return m.roundTrip.distribution(bounds)
}

func (h *histogram) distribution(bounds []time.Duration) Distribution {
	d := Distribution{Bounds: bounds, Counts: make([]uint64, len(bounds)+1), Max: time.Duration(h.max.Load())}
	j := 0
	for i := range h.buckets {
		c := h.buckets[i].Load()
		if c == 0 {
			continue
		}
		up := time.Duration(bucketUpper(i))
		for j < len(bounds) && up > bounds[j] {
			j++
		}
		d.Counts[j] += c
		d.Count += c
	}
	d.Sum = time.Duration(h.sum.Load())
	return d
}
