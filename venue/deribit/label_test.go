package deribit

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/abi"
)

// testOwner owns the orders of the package's tests.
var testOwner = Owner{Host: "h1", Run: "r1"}

// ownedTranslator is a Translator whose orders are testOwner's.
func ownedTranslator(tab *Table) *Translator {
	tr := NewTranslator(tab)
	tr.Owner = testOwner
	return tr
}

func TestLabelRoundTrip(t *testing.T) {
	cases := [][2]uint64{{0, 1}, {1, 1}, {7, 1001}, {math.MaxUint32, math.MaxUint64}, {10, 10}}
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		cases = append(cases, [2]uint64{uint64(r.Uint32()), r.Uint64() | 1})
	}
	longest := Owner{Host: strings.Repeat("z", MaxHostIDLen), Run: strings.Repeat("9", MaxRunIDLen)}
	for _, w := range []Owner{testOwner, longest, {Host: "a", Run: "0"}, {Host: "host-2", Run: "1a"}} {
		if err := w.Validate(); err != nil {
			t.Fatal(err)
		}
		for k, c := range cases {
			chunk := uint8(k % (MaxChunks + 1))
			l := w.Label(uint32(c[0]), c[1], chunk)
			if len(l) > MaxLabelLen || len(l) > 64 {
				t.Fatalf("%q is too long", l)
			}
			in, cid, ch, ok := w.Decode([]byte(l))
			if !ok || uint64(in) != c[0] || cid != c[1] || ch != chunk {
				t.Fatalf("%q: %d %d %d %v", l, in, cid, ch, ok)
			}
			p, ok := ParseLabel([]byte(l))
			if !ok || string(p.Host) != w.Host || string(p.Run) != w.Run || p.Instance != in || p.CID != cid || p.Chunk != chunk {
				t.Fatalf("ParseLabel(%q) = %+v %v", l, p, ok)
			}
		}
	}
	if l := longest.Label(math.MaxUint32, math.MaxUint64, MaxChunks); len(l) != MaxLabelLen || MaxLabelLen != 64 ||
		l != "sbx:zzzzzzzzzzzzzzzz:99999999:4294967295:18446744073709551615.64" {
		t.Fatalf("%q (%d bytes; Deribit's limit is 64)", l, len(l))
	}
	if n := testing.AllocsPerRun(100, func() { testOwner.Decode([]byte("sbx:h1:r1:7:1001")) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// TestLabelOtherOwners: another host's label, and this host's other runs',
// are not this run's.
func TestLabelOtherOwners(t *testing.T) {
	for _, l := range []string{"sbx:h2:r1:7:1001", "sbx:h1:r2:7:1001", "sbx:h1:r1x:7:1001", "sbx:h:r1:7:1001",
		"sbx:h1h:r1:7:1001", "sbx:7:1001"} {
		if in, cid, _, ok := testOwner.Decode([]byte(l)); ok {
			t.Errorf("%q decoded as %d %d: not h1/r1's", l, in, cid)
		}
	}
	if _, ok := ParseLabel([]byte("sbx:h2:r1:7:1001")); !ok {
		t.Fatal("another host's label is a host's label")
	}
}

func TestOwnerValidate(t *testing.T) {
	for _, w := range []Owner{{}, {Host: "h"}, {Run: "1"}, {Host: "-h", Run: "1"}, {Host: "H", Run: "1"},
		{Host: "h", Run: "-1"}, {Host: "h:1", Run: "1"}, {Host: "h", Run: "r:1"}, {Host: strings.Repeat("h", 17), Run: "1"},
		{Host: "h", Run: "123456789"}, {Host: "h ", Run: "1"}, {Host: "h", Run: "R"}, {Host: "hé", Run: "1"}} {
		err := w.Validate()
		if !errors.Is(err, ErrOwner) {
			t.Errorf("%+v: %v", w, err)
		}
	}
	if err := (Owner{Host: "bad host"}).Validate(); err == nil || !strings.Contains(err.Error(), `"bad host"`) {
		t.Fatalf("the error names the id: %v", err)
	}
}

func TestLabelHostile(t *testing.T) {
	for _, l := range []string{
		"", "sbx", "sbx:", "sbx:1", "sbx:1:", "sbx::1", "sbx:1:0", "sbx:01:1", "sbx:1:01", "sbx:00:1",
		"sbx:-1:1", "sbx:+1:1", "sbx:1:-1", "sbx:4294967296:1", "sbx:1:18446744073709551616",
		"sbx:h1:r1:0:0", "sbx:h1:r1:01:1", "sbx:h1:r1:1:01", "sbx:h1:r1:4294967296:1", "sbx:h1:r1:1:18446744073709551616",
		"sbx:h1:r1:1", "sbx:h1:r1:1:", "sbx:h1:r1::1", "sbx::r1:1:1", "sbx:h1::1:1", "sbx:H1:r1:1:1", "sbx:h1:R1:1:1",
		"sbx:-h:r1:1:1", "sbx:h1:r-1:1:1", "sbx:h1:r1:1:1:1", "sbx:h1:r1:1:1 ", " sbx:h1:r1:1:1", "sbx:h1:r1: 1:1",
		"sbx:h1:r1:1:1\x00", "sbx:h1:r1:\u0661:1", `sbx\u003ah1:r1:1:1`, "SBX:h1:r1:1:1", "xsbx:h1:r1:1:1",
		"sbx:h1:r1:1:1e3", "sbx:h1:r1:1:0x10", "sbx:h1:r1:1:1.", "sbx:h1:r1:1:1.0", "sbx:h1:r1:1:1.01",
		"sbx:h1:r1:1:1.65", "sbx:h1:r1:1:1.256", "sbx:h1:r1:1:1.1.1", "sbx:h1:r1:1:.1",
		"sbx:" + strings.Repeat("h", 17) + ":r1:1:1", "sbx:h1:123456789:1:1", "sbx:h1:r1:1:" + strings.Repeat("1", 64),
		"mm-bid-1", strings.Repeat("sbx:h1:r1:1:1", 10),
	} {
		if p, ok := ParseLabel([]byte(l)); ok {
			t.Errorf("%q parsed as %+v", l, p)
		}
	}
}

func FuzzDecodeLabel(f *testing.F) {
	for _, s := range []string{"sbx:h1:r1:7:1001", "sbx:a:0:0:1", "sbx:zzzzzzzzzzzzzzzz:99999999:4294967295:18446744073709551615.64",
		"sbx:h1:r1:01:1", "x", "sbx:h1:r1:7:1001.3", "sbx:7:1001"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok := ParseLabel(b)
		if !ok {
			return
		}
		w := Owner{Host: string(p.Host), Run: string(p.Run)}
		if err := w.Validate(); err != nil {
			t.Fatalf("%q parses with an invalid owner: %v", b, err)
		}
		if l := w.Label(p.Instance, p.CID, p.Chunk); l != string(b) {
			t.Fatalf("%q parses to %+v, which encodes to %q", b, p, l)
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
