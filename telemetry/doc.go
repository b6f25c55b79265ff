// Package telemetry builds stratbox's OpenTelemetry traces and metrics
// from configuration: the tracer and meter providers with their exporters
// (none by default; stdout, OTLP over HTTP or gRPC, a Prometheus /metrics
// endpoint; the standard OTEL_* environment variables honoured by the SDK
// and the exporters), the observable instruments that read the engine's
// and the pool's counters at collection time, the per-connection heartbeat
// histograms, and the spans of the connections' lifecycle.
//
// # Roles
//
// The engine (package host) records what only it can see, through the otel
// API and a host.Telemetry given to host.WithTelemetry: the trace of a
// routed frame that leads to an order (frame received → decoded → plugin
// call → intents → risk → order request → exchange response → order event
// delivered to the plugin), the failover of a lost connection's orders,
// and three histograms and counters that need one measurement per event
// (plugin call duration, order round trip; refusals, faults and exchange
// rejections by reason, kind and code). Everything else is read, not
// recorded: Observe registers observable instruments over Engine.Stats and
// pool.Stats, and the heartbeat histograms are folded at collection time
// from the connections' own lock-free buckets
// (conn.Conn.HeartbeatDistributions) by a metric Producer. So the
// heartbeat path and the hot path pay nothing for metrics, and with traces
// off the engine's hooks are nil checks.
//
// Connection lifecycle spans (dial, auth and subscribe, reconnect) come
// from the connections' state changes (ConnTracer, fed by
// pool.ObserveMembers), so that conn and heartbeat stay free of otel.
//
// # Use
//
//	tel, err := telemetry.New(ctx, telemetry.Config{Traces: "otlp-http", Metrics: "prometheus"})
//	defer tel.Shutdown(context.Background())
//	eng, _ := host.New(cfg, host.WithTelemetry(tel.Engine()))
//	p, _ := pool.New(pc, eng.Sink, eng.PoolEvent, log)
//	tel.ConnTracer().WatchPool(p)
//	tel.Observe(eng, p)
//
// The package may import host, pool, conn and the otel SDK; nothing but
// cmd/host imports it.
package telemetry
