package deribit

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/abi"
)

func TestLabelRoundTrip(t *testing.T) {
	cases := [][2]uint64{{0, 1}, {1, 1}, {7, 1001}, {math.MaxUint32, math.MaxUint64}, {10, 10}}
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		cases = append(cases, [2]uint64{uint64(r.Uint32()), r.Uint64() | 1})
	}
	for _, c := range cases {
		l := EncodeLabel(uint32(c[0]), c[1])
		if len(l) > MaxLabelLen || len(l) > 64 {
			t.Fatalf("%q is too long", l)
		}
		in, cid, ok := DecodeLabel([]byte(l))
		if !ok || uint64(in) != c[0] || cid != c[1] {
			t.Fatalf("%q: %d %d %v", l, in, cid, ok)
		}
	}
	if l := EncodeLabel(math.MaxUint32, math.MaxUint64); l != "sbx:4294967295:18446744073709551615" {
		t.Fatalf("%q", l)
	}
	for k := range MaxChunks + 1 {
		c := cases[k]
		l := EncodeChunkLabel(uint32(c[0]), c[1], uint8(k))
		in, cid, chunk, ok := DecodeChunkLabel([]byte(l))
		if !ok || uint64(in) != c[0] || cid != c[1] || chunk != uint8(k) || (k == 0) != (l == EncodeLabel(in, cid)) {
			t.Fatalf("%q: %d %d %d %v", l, in, cid, chunk, ok)
		}
		if in2, cid2, ok2 := DecodeLabel([]byte(l)); !ok2 || in2 != in || cid2 != cid {
			t.Fatalf("DecodeLabel(%q) = %d %d %v: a chunk's label is the host's too", l, in2, cid2, ok2)
		}
	}
	if l := EncodeChunkLabel(math.MaxUint32, math.MaxUint64, MaxChunks); l != "sbx:4294967295:18446744073709551615.64" || len(l) != MaxLabelLen {
		t.Fatalf("%q", l)
	}
	if n := testing.AllocsPerRun(100, func() { DecodeLabel([]byte("sbx:7:1001")) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func TestLabelHostile(t *testing.T) {
	for _, l := range []string{
		"", "sbx", "sbx:", "sbx:1", "sbx:1:", "sbx::1", "sbx:1:0", "sbx:01:1", "sbx:1:01", "sbx:00:1",
		"sbx:-1:1", "sbx:+1:1", "sbx:1:-1", "sbx:4294967296:1", "sbx:1:18446744073709551616",
		"sbx:99999999999:1", "SBX:1:1", "Sbx:1:1", "sbx:1:1:1", "sbx:1:1 ", " sbx:1:1", "sbx: 1:1",
		"sbx:1:1\x00", "sbx:\u0661:1", "sbx:1:1\\u0000", `sbx\u003a1:1`, "xsbx:1:1", "sbx:1;1", "sbx:1:1e3",
		"sbx:1:0x10", "sbx:1:1.0", "mm-bid-1", strings.Repeat("sbx:1:1", 10),
		"sbx:1:" + strings.Repeat("1", 64), "sbx:1:1.", "sbx:1:1.0", "sbx:1:1.01", "sbx:1:1.65", "sbx:1:1.256",
		"sbx:1:1.-1", "sbx:1:1.1.1", "sbx:1:1..1", "sbx:1:.1", "sbx:1:1.1 ",
	} {
		if in, cid, ok := DecodeLabel([]byte(l)); ok {
			t.Errorf("%q decoded as %d %d", l, in, cid)
		}
	}
}

func FuzzDecodeLabel(f *testing.F) {
	for _, s := range []string{"sbx:7:1001", "sbx:0:1", "sbx:4294967295:18446744073709551615", "sbx:01:1", "x", "sbx:7:1001.3"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, cid, chunk, ok := DecodeChunkLabel(b)
		if ok && EncodeChunkLabel(in, cid, chunk) != string(b) {
			t.Fatalf("%q decodes to %d %d %d, which encodes to %q", b, in, cid, chunk, EncodeChunkLabel(in, cid, chunk))
		}
	})
}

func TestRejectFromError(t *testing.T) {
	for _, c := range []struct {
		code   int
		msg    string
		reason abi.Reason
		text   string
	}{
		{10009, "not_enough_funds", abi.ReasonExchangeError, "not_enough_funds"},
		{11054, "post_only_reject", abi.ReasonPostOnlyReject, "post_only_reject"},
		{10043, "price_wrong_tick", abi.ReasonExchangeError, "price_wrong_tick"},
		{10002, "qty_too_low", abi.ReasonExchangeError, "qty_too_low"},
		{10028, "too_many_requests", abi.ReasonRateLimited, "too_many_requests"},
		{10066, "", abi.ReasonRateLimited, "too_many_concurrent_requests"},
		{11051, "system_maintenance", abi.ReasonExchangeError, "system_maintenance"},
		{11044, "not_open_order", abi.ReasonExchangeError, "not_open_order"},
		{10004, "", abi.ReasonExchangeError, "order_not_found"},
		{-32602, "Invalid params", abi.ReasonExchangeError, "Invalid params"},
		{99999, "", abi.ReasonExchangeError, ""},
		// Cut at 32 bytes, on a rune boundary ("é" is 2 bytes at 31..32).
		{10001, strings.Repeat("a", 31) + "é and more", abi.ReasonExchangeError, strings.Repeat("a", 31)},
		{10001, "nul\x00inside", abi.ReasonExchangeError, "nul"},
	} {
		r := RejectFromError(c.code, c.msg)
		if r.Reason != c.reason || r.ExchangeCode != int32(c.code) || r.Text.String() != c.text {
			t.Errorf("%d %q: %v %d %q", c.code, c.msg, r.Reason, r.ExchangeCode, r.Text)
		}
		var o abi.OrderUpdate
		r.ApplyTo(&o)
		var x abi.IntentRejected
		r.ApplyToIntent(&x)
		if o.Reason != c.reason || x.Reason != c.reason || o.ExchangeCode != int32(c.code) || x.Text != r.Text {
			t.Errorf("%d: apply: %+v %+v", c.code, o, x)
		}
		if !r.Reason.IsRefusal() {
			t.Errorf("%d: %v is not in a refusal range", c.code, r.Reason)
		}
	}
	for code, want := range map[int]bool{10028: true, 11051: true, 10041: true, 10040: true, 13028: true,
		10047: true, 10066: true, 10009: false, 11054: false, 10043: false, 10004: false} {
		if Retryable(code) != want {
			t.Errorf("Retryable(%d) = %v", code, !want)
		}
	}
	if ErrorName(10009) != "not_enough_funds" || ErrorName(1) != "" {
		t.Fatal("ErrorName")
	}
}
