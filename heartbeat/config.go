package heartbeat

import (
	"errors"
	"fmt"
	"time"
)

// DefaultInterval is the heartbeat interval used when Config.Interval is zero.
// It is also the smallest interval Deribit accepts: anything shorter is refused
// by the exchange and is only useful against the simulator's test option.
const DefaultInterval = 10 * time.Second

// DefaultSilenceMultiple is used when Config.SilenceMultiple is zero.
//
// With FIX-style heartbeats (the peer sends a frame at each interval only when
// the interval was otherwise quiet in one direction) the largest legitimate gap
// between two frames from a healthy peer is about two intervals, so three is
// the smallest multiple that cannot misfire on a healthy connection.
const DefaultSilenceMultiple = 3

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("heartbeat: invalid config")

// Config configures one connection's heartbeat.
type Config struct {
	// Interval is the heartbeat interval asked of the exchange with
	// public/set_heartbeat. Default 10s (DefaultInterval), Deribit's minimum.
	// Fractions of a second are sent as a fractional number of seconds.
	Interval time.Duration `toml:"interval"`
	// SilenceMultiple: after Interval × SilenceMultiple without any frame from
	// the peer, the peer is declared dead. Default 3; at least 2.
	SilenceMultiple int `toml:"silence_multiple"`
	// AnswerDeadline: a public/test written later than this after its
	// test_request was read counts as missed (late). Default: Interval.
	AnswerDeadline time.Duration `toml:"answer_deadline"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.SilenceMultiple == 0 {
		c.SilenceMultiple = DefaultSilenceMultiple
	}
	if c.AnswerDeadline == 0 {
		c.AnswerDeadline = c.Interval
	}
	return c
}

// Validate reports the first invalid field of c (after defaults are applied).
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Interval < time.Millisecond:
		return fmt.Errorf("%w: interval %v is below 1ms", ErrConfig, c.Interval)
	case c.SilenceMultiple < 2:
		return fmt.Errorf("%w: silence_multiple %d is below 2", ErrConfig, c.SilenceMultiple)
	case c.AnswerDeadline < 0:
		return fmt.Errorf("%w: answer_deadline %v is negative", ErrConfig, c.AnswerDeadline)
	}
	return nil
}

// SilenceTimeout is how long the peer may stay silent before it is declared
// dead: Interval × SilenceMultiple (defaults applied).
func (c Config) SilenceTimeout() time.Duration {
	c = c.WithDefaults()
	return c.Interval * time.Duration(c.SilenceMultiple)
}
