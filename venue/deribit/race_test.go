//go:build race

package deribit

// raceEnabled: the race detector's instrumentation defeats the compiler's
// append(dst, make([]byte, n)...) optimisation that abi's record encoders
// rely on, so allocation counts are only meaningful without it.
const raceEnabled = true
