// Package lograte keeps a repeated log line from flooding a log: the first
// line of a run is written at once, and then at most one every Limiter.Every,
// with how many times it happened since the last one written and over how
// long ("… (x290 in 47 s)").
//
// A Limiter is safe for concurrent use; its zero value is ready to use (one
// line per DefaultEvery per key, by the wall clock). Keys name the kind of a
// line (the message, plus whatever makes two lines different for a reader,
// such as a pool's name); the Limiter keeps one small entry per key, so keys
// must come from a small set, never from unbounded data such as an order id.
package lograte

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/stratbox/stratbox/clock"
)

// DefaultEvery is Limiter.Every's default.
const DefaultEvery = 10 * time.Second

// Limiter rate-limits log lines by key.
type Limiter struct {
	// Every is the least time between two lines of one key. Default
	// DefaultEvery.
	Every time.Duration
	// Clock tells the time. Default: the wall clock.
	Clock clock.Clock

	mu   sync.Mutex
	runs map[string]*run
}

type run struct {
	last  time.Time // the last line written
	first time.Time // the first line held back since then
	held  int       // lines held back since then
}

// Allow reports whether a line of key is to be written now, and if so how
// many lines it stands for (itself and those held back since the previous
// one written: 1 when none was) and the time from the first of them to now.
func (l *Limiter) Allow(key string) (n int, span time.Duration, ok bool) {
	clk := l.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	every := l.Every
	if every <= 0 {
		every = DefaultEvery
	}
	now := clk.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.runs == nil {
		l.runs = map[string]*run{}
	}
	r := l.runs[key]
	if r == nil {
		l.runs[key] = &run{last: now}
		return 1, 0, true
	}
	if now.Sub(r.last) < every {
		if r.held == 0 {
			r.first = now
		}
		r.held++
		return 0, 0, false
	}
	n, span = 1+r.held, 0
	if r.held > 0 {
		span = now.Sub(r.first)
	}
	r.last, r.held = now, 0
	return n, span, true
}

// Log writes msg at level to log unless a line of key was written less
// than Every ago; a line that stands for others held back gets their count
// and span appended to msg: "msg (x290 in 47 s)".
func (l *Limiter) Log(log *slog.Logger, level slog.Level, key, msg string, args ...any) {
	if log == nil || !log.Enabled(context.Background(), level) {
		return
	}
	n, span, ok := l.Allow(key)
	if !ok {
		return
	}
	log.Log(context.Background(), level, Suffix(msg, n, span), args...)
}

// Warn is Log at slog.LevelWarn with msg as the key.
func (l *Limiter) Warn(log *slog.Logger, msg string, args ...any) {
	l.Log(log, slog.LevelWarn, msg, msg, args...)
}

// Suffix appends " (xN in S s)" to msg when n > 1.
func Suffix(msg string, n int, span time.Duration) string {
	if n <= 1 {
		return msg
	}
	return fmt.Sprintf("%s (x%d in %s)", msg, n, seconds(span))
}

// seconds renders d as "47 s" (whole seconds from 10 s on), "1.5 s" or
// "0.2 s".
func seconds(d time.Duration) string {
	s := d.Seconds()
	if s >= 10 {
		return fmt.Sprintf("%.0f s", s)
	}
	return fmt.Sprintf("%.1f s", s)
}
