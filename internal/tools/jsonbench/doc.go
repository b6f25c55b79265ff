// Package jsonbench measures the module's hand-written JSON scanner
// (conn/jsonscan, through conn.Classify and conn.ParseNotification) against
// the well-kept zero-allocation Go parsers, buger/jsonparser and
// valyala/fastjson, on the same Deribit frames and the same job: tell a
// notification, find its channel and its data, read the data's timestamp.
//
// It is a module of its own so that the product's go.mod never depends on
// the parsers it is compared with:
//
//	cd internal/tools/jsonbench && go test -bench . -cpu 1
package jsonbench
