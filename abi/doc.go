// Package abi is the contract between the host and strategy plugins: the
// versioned binary layout of the events the host writes into a plugin's
// inbox and of the intents the plugin writes into its outbox, the start-up
// blob, the plugin's exports and the host's imports, with their exact Wasm
// signatures, status codes and limits. README.md in this directory is the
// specification, written for authors in any language; this package is its
// Go implementation, used by the host and by the Go guest SDK, and
// testdata/abi/vectors.json holds the vectors every SDK tests itself
// against.
//
// # Records
//
// Everything that crosses the boundary is a sequence of little-endian
// records, each an 8-byte header (u16 kind, u16 size, u32 seq) and a body
// whose size is a multiple of 8. NextRecord, Records and Reader frame a
// buffer and hand back records of any kind, so that a reader skips kinds it
// does not know. For every kind there is an AppendX function, which appends
// the record to a caller's buffer, and a DecodeX function, which decodes
// one record into a caller's value; neither allocates once the caller's
// buffers have capacity (DecodeParam and DecodeStartup, which run once at
// start, do), and neither uses reflection. Prices and amounts are Fixed,
// integers of 10^-8.
//
// # JSON
//
// RecordJSON, EventJSON, IntentJSON and BatchJSON render records as JSON
// for logs, traces and golden files, and AppendRecordFromJSON parses that
// rendering back. They use encoding/json and allocate: never on the hot
// path.
//
// # Versions
//
// A plugin declares its ABI version with a marker export
// ("stratbox_abi_v1_0"); the host reads it from the compiled module's
// export names with PluginVersion and refuses a mismatch before it
// instantiates anything, with a *VersionError that names the plugin, its
// version and the versions the host runs. CheckExports and CheckImport
// check the rest of the module's interface.
//
// # Concurrency and errors
//
// Every function is a pure function of its arguments and safe for
// concurrent use on distinct destinations. Decoding errors are
// *DecodeError values wrapping one of ErrTruncated, ErrBadSize,
// ErrShortRecord, ErrBadLength and ErrWrongKind; the package never panics
// on malformed input (FuzzRecords, FuzzRoundTrip).
//
// The package imports only the standard library and builds for
// GOOS=wasip1 GOARCH=wasm, so that guest SDKs can use it.
package abi
