package host

import "time"

// maxRestartBackoff caps the doubling of the wait before a restart (unless
// Config.RestartBackoff itself is longer).
const maxRestartBackoff = 5 * time.Minute

// breaker is a plugin's circuit breaker, as an Erlang supervisor's restart
// intensity: at most max restarts within window; a fault beyond them leaves
// the plugin stopped. The wait before a restart is the initial backoff
// doubled for each restart still within the window, so a plugin that
// faults once an hour restarts after the initial backoff every time, and
// one that faults in a loop waits longer each time, then stays down.
type breaker struct {
	max     int
	window  time.Duration
	initial time.Duration
	recent  []time.Time // restarts within the window, oldest first
}

func newBreaker(cfg Config) *breaker {
	return &breaker{max: cfg.MaxRestarts, window: cfg.RestartWindow, initial: cfg.RestartBackoff}
}

// fault records a fault at now. It returns the wait before the restart, or
// false when the breaker trips (max restarts already within the window).
func (b *breaker) fault(now time.Time) (wait time.Duration, restart bool) {
	keep := b.recent[:0]
	for _, t := range b.recent {
		if now.Sub(t) < b.window {
			keep = append(keep, t)
		}
	}
	b.recent = keep
	if len(b.recent) >= b.max {
		return 0, false
	}
	wait = b.initial
	for range len(b.recent) {
		if wait >= maxRestartBackoff {
			break
		}
		wait *= 2
	}
	if wait > maxRestartBackoff && b.initial <= maxRestartBackoff {
		wait = maxRestartBackoff
	}
	b.recent = append(b.recent, now)
	return wait, true
}
