// Package sim is a Deribit-compatible exchange simulator: a WebSocket
// JSON-RPC 2.0 server that speaks enough of Deribit's API v2 for a client
// written against the real exchange to work against it unchanged.
//
// It is the default venue of `host run` and the counterpart every test of
// the client packages runs against. It imports none of them (conn, pool,
// host), so that those tests are honest.
//
// # What it models
//
//   - Sessions: public/hello, public/test (with expected_result "exception"),
//     public/set_heartbeat and public/disable_heartbeat, public/auth with
//     client_credentials, client_signature (Deribit's HMAC recipe, 60 s
//     timestamp window, single-use nonces) and refresh_token, connection- and
//     session-scoped tokens, private/logout.
//   - Heartbeats: after set_heartbeat, at every interval the server sends a
//     test_request when it received nothing from the client during the
//     interval (FIX's TestRequest rule) and a heartbeat frame otherwise; a
//     test_request left unanswered by a public/test for the grace period
//     closes the connection, which fires cancel-on-disconnect.
//   - Cancel-on-disconnect with scopes connection and account: only the
//     orders the dropped connection created are cancelled, with
//     cancel_reason "cancel_on_disconnect"; private/logout does not fire it.
//   - Orders, positions and account summaries through a price-time priority
//     matching engine (engine.go), against a seeded synthetic market
//     (market.go) and between clients.
//   - Subscriptions to book, grouped book, ticker, quote, trades, user.orders,
//     user.trades, user.portfolio and platform_state channels.
//   - Parameters as Deribit reads them: a number may come as a JSON string
//     ("amount": "10", as ccxt sends it) and a boolean as "true" or "false";
//     a parameter of the wrong type is -32602 "Invalid params" with
//     data.reason "wrong format" and data.param naming it. No Go type or
//     field name ever reaches a client (params.go).
//   - Deribit's credit-based rate limits (error 10028 then the session is
//     terminated) and fault injection: drop connections (all, one, or one
//     picked at random: the churn fault), refuse new connections, go
//     silent, delay frames, send raw (malformed or oversized) frames,
//     maintenance windows.
//
// # Concurrency
//
// Each client connection has one read goroutine, which handles its requests
// in order, and one write goroutine fed by a bounded queue; a client that
// does not read fast enough to keep that queue from filling is disconnected
// (Deribit's connection_too_slow). The engine, the subscription index and the
// accounts sit behind one Server mutex: the simulator favours being obviously
// correct over being fast, and its benchmark says how fast it is. All
// exported methods of Server are safe for concurrent use.
package sim
