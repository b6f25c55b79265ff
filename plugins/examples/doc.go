// Package examples holds the example strategies, one main package each,
// built to WebAssembly plugins by `make plugins`:
//
//   - marketmaker: quotes a bid and an ask around mid with inventory skew,
//     amends on moves, pulls its quotes when the pool is degraded.
//   - taker: crosses the spread with immediate-or-cancel orders when the
//     public trade flow is one-sided, within a position limit.
//
// Two more are not Go and have no Go package here: taker-as (the taker in
// AssemblyScript) and minimal-wat (hand-written WAT); package
// plugins/conformance runs every example of every language.
//
// This package has no code: its test builds every example with
// GOOS=wasip1 GOARCH=wasm -buildmode=c-shared, checks the exports and
// imports against the ABI, and runs each plugin in wazero.
package examples
