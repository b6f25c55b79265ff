package conn_test

import (
	"strings"
	"testing"
)

// TestIdlessErrorLogRateLimited: a flood of exchange errors without an id
// logs at counts 1, 2, 4, 8…, not once per frame.
func TestIdlessErrorLogRateLimited(t *testing.T) {
	h := start(t, nil)
	for i := 0; i < 10; i++ {
		h.fc.send([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`))
	}
	h.fc.send(testRequestFrame)
	h.fc.expect(t, "public/test")
	if n := strings.Count(h.log.String(), "exchange error without id"); n != 4 {
		t.Fatalf("%d log lines for 10 errors, want 4", n)
	}
}
