// Package cluster lets several stratbox hosts act as one: they share what
// they know about their exchange connections, and one of them at a time
// (the controller) replaces the connections that are lost.
//
// It runs on NATS (an existing distributed engine, embedded in the host by
// default): a JetStream KV registry of every node's connections (pool,
// state, heartbeat answer time, open orders) and fitness (CPU, memory,
// latency to the exchange, active connections), whose entries expire when
// their node stops writing them; liveness messages over plain NATS
// subjects, so that detecting a lost node never waits on a KV write (a
// stream-leader election after a hard crash stalls those for 4-9 s);
// request/reply for the orders a node sends to another node's connections
// and for the controller's commands; a KV lease, whose creation revision
// fences the controller's commands, and KV claims created once per lost
// connection and per lost order, which make each re-establishment happen
// at most once.
//
// Heartbeats stay local: each connection answers its exchange's
// test_request on its own read goroutine (package conn). What the cluster
// shares is the intelligence about them: who holds which connection, how
// healthy each is (folded into cluster-wide pool health, metrics and
// alerts), where a replacement should go (the fittest node, by region:
// Spread or Closest), and where an order should be sent (Exchange).
//
// The package knows NATS, the pool's health snapshot (pool.Stats) and
// conn's errors, and nothing about plugins: a node's connections are a
// Holder and a Placer (PoolHolder adapts pool.Pools), and the host wires
// them. Modes: no configuration gives one in-process server with no port
// (the same code path as a cluster, this node its only member); embedded
// makes this host's process a member of a NATS cluster over routes;
// external connects to an existing NATS cluster. One node, or three and
// more: two cannot keep a quorum through the loss of one.
//
// Security (auth.go, guard.go): no listener admits an anonymous client;
// the node connects to its own server in-process with an nkey made at
// start, under member permissions (its own liveness subject and records,
// requests to the others, replies; no $JS administration; the buckets are
// created at start with a second, admin key). Routes require a route
// password or mutual TLS, and a node listening beyond loopback needs TLS
// and route authentication (Auth). Another member's request reaches a
// connection only if RemoteAllowed admits its method (place, amend, cancel,
// order state) and Config.Guard (the host's kill switch, validation and
// per-order limits) admits it. Redact hides the passwords of URLs.
//
// Lifecycle: New validates the configuration and returns a node that has
// started nothing; Start(ctx) starts its NATS server (or connects to the
// external cluster), opens the shared buckets and runs its four loops
// (liveness, publish, registry watch, controller) until Close, which is
// idempotent and safe on a node never started or whose start failed. The
// node reads time and takes its timers from the clock given with
// WithClock (clock.Real by default; NATS's own TTLs stay on the wall
// clock), and logs to the logger given with WithLogger.
package cluster
