// Package jsonscan is a small, allocation-free JSON scanner for the hot path:
// classifying exchange frames and decoding the few payloads that arrive
// thousands of times a second, without reflection.
//
// A Scanner walks one JSON text in place. Callers pull values in the order
// they appear (Object/Key, Array/Elem, String, Float, Int, Uint, Bool, Null)
// and Skip whatever they do not need; every slice returned points into the
// input, so nothing is copied or allocated unless the caller asks for an
// unescaped copy of a string (AppendUnescaped). Errors are sticky, as with
// bufio.Scanner: check Err once at the end.
//
// What it checks: strings, numbers and literals it reads are validated
// against JSON's grammar; values it skips are checked only for balanced,
// matching brackets and terminated strings. It is therefore a decoder for
// frames whose shape is known, not a validator: encoding/json remains the
// reference, and the fuzz targets compare the two.
//
// A Scanner is not safe for concurrent use; it is a few words on the stack.
package jsonscan
