package hostbench

import (
	"bytes"
	"context"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/internal/benchkit"
	"github.com/stratbox/stratbox/internal/testplugins"

	"github.com/stratbox/stratbox/host/sandbox"
	"github.com/stratbox/stratbox/plugins/bench/quoter"
)

// The embedded quoter is the same strategy as the native one: the same
// market gives the same intents, byte for byte.
func TestQuoterWasmMatchesNative(t *testing.T) {
	ctx := context.Background()
	p, err := sandbox.Load(ctx, "quoter", QuoterWasm(), sandbox.PluginConfig{CallBudget: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	boxes := []sandbox.Sandbox{sandbox.NewInProcess(p), newNativeBox(quoter.New())}
	now := time.Unix(1_767_225_600, 0)
	var transcripts [2]bytes.Buffer
	for i, sb := range boxes {
		defer sb.Close()
		blob, err := startup("quoter", quoterParams(), now)
		if err != nil {
			t.Fatal(err)
		}
		out, err := sb.Start(ctx, blob, now)
		if err != nil {
			t.Fatal(err)
		}
		m, err := benchkit.NewMarket(now)
		if err != nil {
			t.Fatal(err)
		}
		batches, books := m.Batches(1)
		pending, err := benchkit.Acks(out)
		if err != nil {
			t.Fatal(err)
		}
		for round := range 3 {
			for j, b := range batches {
				m.Chain(b, books[j])
				got, err := sb.Deliver(ctx, b, now)
				if err != nil {
					t.Fatalf("round %d batch %d: %v", round, j, err)
				}
				transcripts[i].Write(got)
				a, err := benchkit.Acks(got)
				if err != nil {
					t.Fatal(err)
				}
				pending = append(pending, a...)
			}
			if len(pending) > 0 {
				got, err := sb.Deliver(ctx, pending, now)
				if err != nil {
					t.Fatal(err)
				}
				transcripts[i].Write(got)
				pending, _ = benchkit.Acks(got)
			}
		}
	}
	if transcripts[0].Len() == 0 {
		t.Fatal("the quoter made no intent")
	}
	if !bytes.Equal(transcripts[0].Bytes(), transcripts[1].Bytes()) {
		t.Fatalf("wasm and native quoters differ: %d and %d bytes of intents", transcripts[0].Len(), transcripts[1].Len())
	}
}

// The embedded quoter is what plugins/bench/quoter builds to with the Go
// version it was built with (`go generate ./internal/hostbench` rebuilds
// it); with another Go version the bytes may differ, and the test says so.
func TestEmbeddedQuoterCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the quoter")
	}
	if v := strings.TrimSpace(quoterBuiltWith); v != runtime.Version() {
		t.Skipf("wasm/quoter.wasm.gz was built with %s, this is %s: run go generate ./internal/hostbench to rebuild it", v, runtime.Version())
	}
	if b := testplugins.Build(t, "plugins/bench/quoter/wasm"); !bytes.Equal(b, QuoterWasm()) {
		t.Fatal("wasm/quoter.wasm.gz is not what plugins/bench/quoter builds to: run go generate ./internal/hostbench")
	}
}

func TestFigureSummary(t *testing.T) {
	var r Result
	f := r.add("x.y", "t", "ns/event", []float64{5, 1, 3, 400})
	if f.Median != 4 || f.Min != 1 || f.Max != 400 {
		t.Fatalf("%+v", f)
	}
	if f.atMost(300, "≤ 300"); f.Met == nil || !*f.Met {
		t.Fatalf("median 4 ≤ 300: %+v", f)
	}
	g := r.add("x.z", "t", "frames/s", []float64{7, 9, 8})
	if g.atLeast(10, "≥ 10"); g.Median != 8 || *g.Met {
		t.Fatalf("%+v", g)
	}
	if r.Order[0] != "x.y" || r.Order[1] != "x.z" {
		t.Fatalf("order %v", r.Order)
	}
	var out bytes.Buffer
	if err := r.WriteBenchfmt(&out); err != nil {
		t.Fatal(err)
	}
	if n := len(regexp.MustCompile(`(?m)^BenchmarkHost/x\.y 1 \S+ ns/event$`).FindAllString(out.String(), -1)); n != 4 {
		t.Fatalf("%d lines of x.y:\n%s", n, out.String())
	}
	out.Reset()
	if err := r.WriteTable(&out); err != nil || !strings.Contains(out.String(), "1.00–400") {
		t.Fatalf("%v\n%s", err, out.String())
	}
}

func TestQuantileAndNum(t *testing.T) {
	var l []time.Duration
	for i := 1; i <= 1000; i++ {
		l = append(l, time.Duration(i))
	}
	for q, want := range map[float64]time.Duration{0.5: 500, 0.99: 990, 0.999: 999, 1: 1000} {
		if got := quantile(l, q); got != want {
			t.Errorf("q%v = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing")
	}
	for v, want := range map[float64]string{1234567: "1,234,567", 42.25: "42.2", 3.14159: "3.14", -1500: "-1,500"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestCheckOnly(t *testing.T) {
	if err := CheckOnly([]string{"dispatch", "memory"}); err != nil {
		t.Fatal(err)
	}
	if err := CheckOnly([]string{"dispatch", "nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("%v", err)
	}
}
