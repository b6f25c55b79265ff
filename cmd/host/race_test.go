//go:build race

package main

// raceEnabled: the race detector is on (the benchmark suite's tests then
// run a part of it: instrumented, it is ten times slower).
const raceEnabled = true
