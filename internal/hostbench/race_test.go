//go:build race

package hostbench

// raceEnabled: the race detector is on (TestFloorFigures then leaves the
// suite's run to the build without it: instrumented, it takes a minute).
const raceEnabled = true
