package pool

import "github.com/stratbox/stratbox/venue/deribit"

// deribitRates is Deribit's rate classes (what the host passes as
// Config.Classify).
func deribitRates(method string, params []byte) RateClass {
	return RateClass(deribit.RateOf(method, params))
}
