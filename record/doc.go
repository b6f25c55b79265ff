// Package record is the file format of recorded exchange sessions and its
// readers and writers: what `host run --record` and `host record` write and
// what `host replay` reads.
//
// A recording is a sequence of frames, each with the time it was received
// or sent (Unix nanoseconds), the id of the connection it crossed and its
// direction (In from the exchange, Out to it). Three formats are read, told
// apart by their first bytes (Open sniffs them, gzip-compressed or not):
//
//   - The native format (Writer, Recorder): a file of independent gzip
//     members. The first holds the magic line "stratbox-record 1" and a JSON
//     header; each next one is a block of binary frame records, written and
//     flushed as a whole gzip member, so that a process that dies loses at
//     most the block it was filling, and a truncated file reads up to its
//     last complete block (the reader reports ErrTruncated after it). Every
//     block is checked (gzip's CRC-32 and length) before any of its frames is
//     returned: a frame that is returned is a frame that was written.
//   - JSON Lines: one raw exchange frame per line, or {"ts": <ns>, "frame":
//     {…}} (optionally with "dir": "in"|"out" and "conn": n). A raw frame's
//     time is its usOut (µs), else its data's timestamp (ms), else the time
//     of the frame before it.
//   - Tardis.dev's exchange-native format for Deribit: each line the ISO 8601
//     local arrival time, a space and the raw message; an empty line marks a
//     disconnect of the recording connection (Frame.Disconnect).
//
// Lines that are not JSON objects are skipped and counted
// (Reader.Stats().Skipped); damaged native blocks are errors (ErrCorrupt).
//
// Secrets never reach a file: every Writer redacts the values of
// access_token, refresh_token, client_secret, signature and similar keys
// (Redact) in both directions before writing. The Recorder is the
// connection tap (conn.Tap) of a live session: it never blocks the
// connection's read goroutine (a full buffer drops frames and counts them)
// and writes from a goroutine of its own.
//
// Text formats are read in one pass over each line with conn/jsonscan, the
// module's allocation-free JSON scanner (a leaf package of the standard
// library only); record imports nothing else of the module. Reading costs
// about 0.5 µs a frame (BenchmarkRead).
package record
