package conn

import (
	"time"

	"github.com/stratbox/stratbox/heartbeat"
)

// HeartbeatDistributions returns the connection's heartbeat answer
// latencies and round trips folded into bounds (ascending), cumulative
// over its sockets, for an exporter's histogram; computed from the
// heartbeat Monitor's buckets, so the heartbeat path pays nothing for it.
func (c *Conn) HeartbeatDistributions(bounds []time.Duration) (answer, roundTrip heartbeat.Distribution) {
	return c.mon.AnswerDistribution(bounds), c.mon.RoundTripDistribution(bounds)
}
