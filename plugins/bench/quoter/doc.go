// Package quoter is the benchmark strategy: the smallest strategy that turns
// every ticker into exactly one order intent, so that the cost of one event
// through the host can be measured against the same strategy run natively.
//
// On the first ticker of its instrument it places a post-only limit buy
// distance_ticks ticks below the best bid (rounded down to the tick). Until
// the exchange acknowledges that order it queues nothing more; once the
// order is open, every ticker amends it to distance_ticks below the new best
// bid, one tick lower again when that is where the order already rests, so
// that every amend really changes the price. A filled, cancelled or
// rejected order is forgotten and the next ticker places a new one. It sets
// no timers and allocates nothing per event.
//
// Parameters:
//
//	instrument     = "BTC-PERPETUAL" # default: the first of the instrument table
//	size           = 10              # default: the instrument's minimum amount
//	distance_ticks = 10              # how far below the best bid, in ticks
//
// The plugin is package plugins/bench/quoter/wasm; the host's benchmarks
// (host/bench_test.go) run it in wasm, in a child process, and natively
// through strategy.NewRunner. go build compiles it with profile-guided
// optimisation from wasm/default.pgo, a CPU profile of the native run;
// after a change to this package, the SDK or package abi, make it again
// (a stale profile still builds, it only optimises less) with
//
//	go test -run '^$' -bench 'BenchmarkDispatch/example=quoter/isolation=native/batch=64' \
//		-benchtime 5s -cpuprofile plugins/bench/quoter/wasm/default.pgo ./host
//
// then go generate ./internal/hostbench (host bench embeds the plugin).
package quoter
