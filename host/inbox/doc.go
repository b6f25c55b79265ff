// Package inbox is a plugin instance's queue of event records, between the
// engine's router, which pushes on an exchange connection's read goroutine
// and must never block, and the plugin's goroutine, which takes batches for
// its next call. It carries out the delivery guarantees of abi/README.md
// §14: order events are never dropped, merged or reordered; tickers and
// positions conflate to the latest per instrument; book changes merge into
// the pending book record they follow; trades are dropped, oldest first,
// over a byte limit.
//
// An Inbox is safe for concurrent use; Ready signals that records are
// pending. It reads the records' fields in place, at the offsets package abi
// exports (abi.OffInstrument and the rest).
package inbox
