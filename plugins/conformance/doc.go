// Package conformance is the one conformance suite that every plugin
// language runs: for each example strategy under plugins/examples (Go,
// AssemblyScript, hand-written WAT) its tests check the ABI version export,
// deliver the framing vectors of testdata/abi/vectors.json, and play a
// scripted scenario (a fixed sequence of events through the host's
// sandbox, in this process and in a child process) whose intents and log
// lines must match the example's golden file in testdata/ (go test
// ./plugins/conformance -update rewrites them). The AssemblyScript port of
// the taker must emit exactly what the Go taker emits, and the three takers
// started with an adopted order in flight (a keep_orders restart) must
// place nothing until it is final, then the same intents. The AssemblyScript
// SDK's decoders are checked against every record vector through a probe
// plugin, and a plugin that aborts must fault with its message.
//
// Go examples are built with go build (GOOS=wasip1 -buildmode=c-shared);
// the AssemblyScript and WAT ones are the committed .wasm next to their
// sources, which `make plugins` rebuilds with the pinned compilers and
// compares. The package has no code outside its tests; bench_test.go
// measures dispatch cost per language (BENCHMARKS.md).
package conformance
