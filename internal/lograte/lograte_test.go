package lograte_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/internal/lograte"
)

func TestAllowCountsHeldLines(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	l := &lograte.Limiter{Every: 10 * time.Second, Clock: clk}
	if n, _, ok := l.Allow("a"); !ok || n != 1 {
		t.Fatalf("first line: n %d ok %v, want 1 true", n, ok)
	}
	for i := range 289 {
		clk.Advance(100 * time.Millisecond)
		if _, _, ok := l.Allow("a"); ok && i < 99 {
			t.Fatalf("line %d written within Every", i+2)
		}
	}
	// 289 lines over 28.9 s: written at 10 s (x100 in 9.9 s), 20 s, and held since.
	clk.Set(time.Unix(47, 0))
	n, span, ok := l.Allow("a")
	if !ok {
		t.Fatal("a line after Every was held back")
	}
	if n < 2 || span <= 0 {
		t.Fatalf("n %d span %v: want the held lines counted", n, span)
	}
	// Another key is independent.
	if n, _, ok := l.Allow("b"); !ok || n != 1 {
		t.Fatalf("key b: n %d ok %v", n, ok)
	}
}

func TestAllowExactCount(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	l := &lograte.Limiter{Every: time.Minute, Clock: clk}
	l.Allow("k")
	clk.Advance(time.Second)
	for range 289 {
		if _, _, ok := l.Allow("k"); ok {
			t.Fatal("held line written")
		}
	}
	clk.Set(time.Unix(60, 0))
	n, span, ok := l.Allow("k")
	if !ok || n != 290 || span != 59*time.Second {
		t.Fatalf("n %d span %v ok %v, want 290 59s true", n, span, ok)
	}
	if got := lograte.Suffix("m", n, span); got != "m (x290 in 59 s)" {
		t.Fatalf("suffix %q", got)
	}
	// A quiet key writes its next line alone.
	clk.Advance(2 * time.Minute)
	if n, _, ok := l.Allow("k"); !ok || n != 1 {
		t.Fatalf("after a quiet period: n %d ok %v", n, ok)
	}
}

func TestWarnWritesSuffix(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	clk := clock.NewFake(time.Unix(0, 0))
	l := &lograte.Limiter{Every: 10 * time.Second, Clock: clk}
	for range 3 {
		l.Warn(log, "cluster: no live node", "pool", "p")
		clk.Advance(2 * time.Second)
	}
	clk.Advance(10 * time.Second)
	l.Warn(log, "cluster: no live node", "pool", "p")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[1], `msg="cluster: no live node (x3 in 14 s)"`) || !strings.Contains(lines[1], "pool=p") {
		t.Fatalf("second line %q", lines[1])
	}
}

func TestZeroValueAndSuffix(t *testing.T) {
	var l lograte.Limiter
	if _, _, ok := l.Allow("x"); !ok {
		t.Fatal("zero Limiter held the first line")
	}
	if _, _, ok := l.Allow("x"); ok {
		t.Fatal("zero Limiter wrote a second line at once (default Every)")
	}
	for _, c := range []struct {
		n    int
		span time.Duration
		want string
	}{{1, 0, "m"}, {2, 1500 * time.Millisecond, "m (x2 in 1.5 s)"}, {290, 47 * time.Second, "m (x290 in 47 s)"}} {
		if got := lograte.Suffix("m", c.n, c.span); got != c.want {
			t.Errorf("Suffix(%d, %v) = %q, want %q", c.n, c.span, got, c.want)
		}
	}
	l.Log(nil, slog.LevelWarn, "k", "m") // a nil logger is no logger
}
