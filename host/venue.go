package host

import (
	"github.com/stratbox/stratbox/pool"
	"github.com/stratbox/stratbox/venue/deribit"
)

// PoolRates is what a request costs under the venue's rate limits
// (Deribit's, venue/deribit.RateOf), for pool.Config.Classify: the pool
// knows no venue's method names (RATIONALE.md "Why are Deribit's method
// names only in venue/deribit?").
func PoolRates(method string, params []byte) pool.RateClass {
	return pool.RateClass(deribit.RateOf(method, params))
}
