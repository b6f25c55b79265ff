// Package conn owns one exchange connection: a WebSocket speaking Deribit's
// JSON-RPC 2.0, kept up across its sockets. It dials (wss:// verified; ws://
// only to loopback unless Config.AllowInsecure), sets the heartbeat,
// authenticates (client_signature or client_credentials, refreshed before
// expiry), enables cancel-on-disconnect, restores subscriptions, answers
// every test_request, matches responses to requests, hands notifications to
// a Sink, and reconnects: at once (with a little jitter) after losing a
// socket that was Ready, with capped exponential backoff only over
// consecutive failed attempts, and never faster than an AttemptLimiter
// allows (Backoff; RATIONALE.md "Why back off on refusal, not on loss?").
// A pool shares one AttemptLimiter among its members (WithAttemptLimiter),
// paces their waits (WithPacer) and cuts a member's backoff short when
// another proves the exchange up (Redial).
//
// # Goroutines
//
// Per socket, exactly one reader and one writer goroutine use the
// *websocket.Conn (gorilla/websocket's rule), plus a watchdog and, when
// authenticated, a token refresher; per Conn, one supervisor (reconnects)
// and one observer dispatcher.
//
//   - The reader classifies each frame without decoding it (Classify). A
//     test_request is answered first: a public/test with a fresh id goes on
//     the writer's priority lane before the frame reaches anything else
//     (rule 1 of docs/architecture.md; RATIONALE.md "Why are heartbeats
//     answered on the read goroutine?"). Then a response completes its
//     waiting request, a notification goes to the Sink, and malformed,
//     binary, unknown and oversized frames are counted and skipped. The reader never blocks on
//     anything but the socket: the waiter map's mutex is held only around
//     map operations, the Sink must not block, the Observer runs elsewhere.
//   - The writer always drains the priority lane before taking the next
//     request, so a heartbeat answer waits at most for the one frame being
//     written (RATIONALE.md "How do the write lanes work?").
//   - The watchdog declares the socket stale after Config.SilenceMultiple
//     heartbeat intervals without a frame, by the injected clock.
//
// # Concurrency
//
// Call, CallRaw, Subscribe, Unsubscribe, Redial, State, Stats, Heartbeat,
// Notifications, Done and Close are safe for concurrent use from any number
// of goroutines. Requests are never carried over to the next socket: while
// no socket is ready they fail at once (ErrDisconnected with ErrNotSent),
// so that an order is never sent on a connection its caller did not choose.
//
// # Errors
//
// Every error wraps a sentinel (ErrClosed, ErrStale, ErrTimeout,
// ErrDisconnected, ErrAuth, ErrDial, ErrInsecure, ErrConfig,
// ErrFrameTooLarge, ErrMalformed, ErrDecode) or is an *RPCError (Deribit's
// code and message) or a *SubscribeError. ErrNotSent is wrapped as well when
// the request was never written, which makes it safe to retry elsewhere.
// Secrets, signatures and tokens never appear in errors or logs.
//
// # Dependencies
//
// Clock (package clock), Dialer, slog.Logger, Observer and Sink are
// injected with options. The package imports no OpenTelemetry: tracing and
// metrics are wired from outside, through the hooks it exports. Package
// telemetry turns the Observer's state changes (delivered for a pool's
// members by pool.ObserveMembers) into the conn.connect, conn.dial,
// conn.auth_subscribe and conn.reconnect spans, reads Stats (through
// pool.Stats) as observable metrics, and folds the heartbeat histograms
// from HeartbeatDistributions at collection time, so the read goroutine
// records nothing for them.
package conn
