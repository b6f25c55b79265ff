package host

import (
	"slices"
	"testing"

	"github.com/stratbox/stratbox/abi"
)

// ibRecords splits a batch taken from an inbox into copies of its records.
func ibRecords(t testing.TB, buf []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for r, err := range abi.Records(buf) {
		if err != nil {
			t.Fatalf("take returned a buffer that does not frame: %v", err)
		}
		out = append(out, slices.Clone(r.Bytes))
	}
	return out
}
