// Package benchkit is what the host's Go benchmarks (package host) and
// `host bench` (package hostbench) measure with alike: a cycle of market
// events with its acknowledgements, and a WebSocket relay that times the
// frames crossing it. It imports neither, so that both can use it: the
// host's internal tests cannot import a package that imports host.
package benchkit
