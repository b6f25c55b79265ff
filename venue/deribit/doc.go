// Package deribit owns what is specific to Deribit in the client: for now,
// the fast decoders of the notifications that arrive thousands of times a
// second, book changes (book.{instrument}.{interval} and the grouped
// book.{instrument}.{group}.{depth}.{interval}) and order updates
// (user.orders.*), into reusable Go values without reflection.
//
// The decoders take params.data as conn.ParseNotification returns it, use
// conn/jsonscan, and allocate only for strings that changed since the value
// was last decoded into (an instrument name is reused when it is the same).
// Decoding into abi events comes with the ABI (DESIGN.md: venue/deribit).
//
// Every decoder is a pure function of its input and the destination value;
// they are safe for concurrent use on distinct destinations. Errors wrap
// ErrDecode.
package deribit
