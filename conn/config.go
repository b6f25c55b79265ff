package conn

import (
	"fmt"
	"github.com/stratbox/stratbox/internal/netaddr"
	"log/slog"
	"net/url"
	"time"

	"github.com/stratbox/stratbox/heartbeat"
)

// Defaults of Config's fields.
const (
	DefaultRequestTimeout = 10 * time.Second
	DefaultDialTimeout    = 10 * time.Second
	DefaultWriteTimeout   = 5 * time.Second
	DefaultMaxFrameSize   = 4 << 20
	DefaultSinkQueue      = 4096
	DefaultWriteQueue     = 256
	DefaultBackoffMin     = 100 * time.Millisecond
	DefaultBackoffMax     = 10 * time.Second
	DefaultBackoffJitter  = 0.2
	// DefaultAttemptsPerSecond caps connection attempts; see
	// Backoff.AttemptsPerSecond.
	DefaultAttemptsPerSecond = 10
)

// Overflow is what the built-in notification queue does when it is full.
type Overflow string

// Overflow policies. Each drop is counted (QueueStats) and the first of a run
// turns the connection's state to StateDegraded with ErrSlowConsumer.
const (
	// DropOldest discards the oldest queued notification to make room: the
	// consumer sees the most recent data. The default.
	DropOldest Overflow = "drop_oldest"
	// DropNewest discards the notification that did not fit.
	DropNewest Overflow = "drop_newest"
)

// Backoff is the reconnect schedule. It backs off on refusal, not on loss
// (RATIONALE.md "Why back off on refusal, not on loss?"):
//
//   - a socket that reached Ready and is then lost proves the exchange up:
//     the connection re-dials after a random wait below Min × Jitter (Redial),
//     so that connections lost together do not dial together;
//   - the n-th consecutive failed attempt (dial, WebSocket handshake,
//     heartbeat, authentication, cancel-on-disconnect or re-subscription)
//     waits Min × 2^(n-1), capped at Max, less a random fraction of up to
//     Jitter of it (Delay); the next Ready starts the count over;
//   - every attempt takes a token of AttemptsPerSecond, the storm guard: a
//     pool shares one bucket among its members (per account).
type Backoff struct {
	// Min is the wait after the first refused attempt. Default 100ms.
	Min time.Duration `toml:"min"`
	// Max caps the wait. Default 10s.
	Max time.Duration `toml:"max"`
	// Jitter is the largest fraction (0 to 1) taken off each wait at random,
	// and the fraction of Min below which a lost session re-dials at random.
	// Default 0.2; negative means none (a lost session re-dials at once).
	Jitter float64 `toml:"jitter"`
	// AttemptsPerSecond caps connection attempts per second, with a burst
	// of as many (at least 1): an attempt that finds the bucket empty waits
	// for it. Deribit publishes no rate of connection attempts, only 32
	// simultaneous connections per IP and 16 sessions per API key
	// (docs/operations.md "Reconnecting"); the cap keeps a client that is
	// cut again and again from turning into a storm of dials. Default 10.
	AttemptsPerSecond float64 `toml:"attempts_per_second"`
}

// Delay is the wait before the next attempt after refusals (≥ 1)
// consecutive failed attempts, given r in [0, 1).
func (b Backoff) Delay(refusals int, r float64) time.Duration {
	b = b.withDefaults()
	d := b.Min
	for i := 1; i < refusals && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	if b.Jitter > 0 {
		d -= time.Duration(float64(d) * b.Jitter * r)
	}
	return d
}

// Redial is the wait before re-dialing a session that was lost after it
// reached Ready, given r in [0, 1): Min × Jitter × r.
func (b Backoff) Redial(r float64) time.Duration {
	b = b.withDefaults()
	if b.Jitter <= 0 {
		return 0
	}
	return time.Duration(float64(b.Min) * b.Jitter * r)
}

func (b Backoff) withDefaults() Backoff {
	if b.Min == 0 {
		b.Min = DefaultBackoffMin
	}
	if b.Max == 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Jitter == 0 {
		b.Jitter = DefaultBackoffJitter
	}
	if b.AttemptsPerSecond == 0 {
		b.AttemptsPerSecond = DefaultAttemptsPerSecond
	}
	return b
}

// Validate reports an invalid field of b, defaults applied; errors wrap
// ErrConfig.
func (b Backoff) Validate() error {
	b = b.withDefaults()
	switch {
	case b.Min < 0 || b.Max < b.Min:
		return fmt.Errorf("%w: backoff min %v, max %v", ErrConfig, b.Min, b.Max)
	case b.Jitter > 1:
		return fmt.Errorf("%w: backoff jitter %v is above 1", ErrConfig, b.Jitter)
	case !(b.AttemptsPerSecond > 0) || b.AttemptsPerSecond > 1000:
		return fmt.Errorf("%w: backoff attempts_per_second %v: want above 0, at most 1000", ErrConfig, b.AttemptsPerSecond)
	}
	return nil
}

// Config configures one exchange connection. Zero fields take the defaults
// documented on them; DefaultConfig returns them filled in. Config holds
// secrets (Credentials); it redacts them when printed or logged.
type Config struct {
	// URL is the WebSocket endpoint, ws:// or wss://. Required. wss:// is
	// verified against the system roots unless the injected Dialer says
	// otherwise.
	URL string `toml:"url"`
	// AllowInsecure permits ws:// to a host that is not loopback. Default false.
	AllowInsecure bool `toml:"allow_insecure"`
	// Credentials authenticate the connection after every (re)connect. Zero:
	// the connection stays public.
	Credentials Credentials `toml:"credentials"`
	// CancelOnDisconnect enables Deribit's cancel-on-disconnect (scope
	// connection) after every authentication. Ignored without Credentials.
	// Default false; DefaultConfig sets it.
	CancelOnDisconnect bool `toml:"cancel_on_disconnect"`

	// HeartbeatInterval is sent with public/set_heartbeat after every connect.
	// Default 10s, Deribit's minimum; shorter intervals are only accepted by
	// the simulator's test option.
	HeartbeatInterval time.Duration `toml:"heartbeat_interval"`
	// SilenceMultiple: no frame for HeartbeatInterval × SilenceMultiple and
	// the connection is stale. Default 3, at least 2.
	SilenceMultiple int `toml:"silence_multiple"`

	// RequestTimeout bounds every request, from queueing to response.
	// Default 10s.
	RequestTimeout time.Duration `toml:"request_timeout"`
	// DialTimeout bounds the TCP, TLS and WebSocket handshake. Default 10s.
	DialTimeout time.Duration `toml:"dial_timeout"`
	// WriteTimeout is the socket deadline of each frame written. Default 5s.
	WriteTimeout time.Duration `toml:"write_timeout"`
	// Backoff is the reconnect schedule.
	Backoff Backoff `toml:"backoff"`

	// MaxFrameSize is the largest frame read, in bytes; larger frames are
	// counted and skipped. Default 4 MiB.
	MaxFrameSize int `toml:"max_frame_size"`
	// SinkQueue is the capacity, in notifications, of the built-in queue.
	// Default 4096.
	SinkQueue int `toml:"sink_queue"`
	// Overflow is the built-in queue's policy when full. Default drop_oldest.
	Overflow Overflow `toml:"overflow"`
	// WriteQueue is how many requests may wait for the writer before Call
	// blocks (bounded by its context and RequestTimeout). Default 256.
	WriteQueue int `toml:"write_queue"`
}

// DefaultConfig returns a Config with every default filled in and
// cancel-on-disconnect enabled; only URL (and Credentials, for a private
// connection) remain to be set.
func DefaultConfig() Config {
	c := Config{CancelOnDisconnect: true}.withDefaults()
	return c
}

func (c Config) withDefaults() Config {
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = heartbeat.DefaultInterval
	}
	if c.SilenceMultiple == 0 {
		c.SilenceMultiple = heartbeat.DefaultSilenceMultiple
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	c.Backoff = c.Backoff.withDefaults()
	if c.MaxFrameSize == 0 {
		c.MaxFrameSize = DefaultMaxFrameSize
	}
	if c.SinkQueue == 0 {
		c.SinkQueue = DefaultSinkQueue
	}
	if c.Overflow == "" {
		c.Overflow = DropOldest
	}
	if c.WriteQueue == 0 {
		c.WriteQueue = DefaultWriteQueue
	}
	if c.Credentials.Method == "" {
		c.Credentials.Method = AuthSignature
	}
	return c
}

func (c Config) heartbeat() heartbeat.Config {
	return heartbeat.Config{Interval: c.HeartbeatInterval, SilenceMultiple: c.SilenceMultiple}
}

// Validate reports the first invalid field of c, defaults applied. Errors
// wrap ErrConfig (or ErrInsecure for a plaintext URL to a remote host).
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.URL == "" {
		return fmt.Errorf("%w: url is required", ErrConfig)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("%w: url: %w", ErrConfig, err)
	}
	switch u.Scheme {
	case "wss":
	case "ws":
		if !c.AllowInsecure && !isLoopback(u.Hostname()) {
			return fmt.Errorf("%w: %s (set allow_insecure to permit it)", ErrInsecure, u.Host)
		}
	default:
		return fmt.Errorf("%w: url scheme %q is not ws or wss", ErrConfig, u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("%w: url must not carry user information", ErrConfig)
	}
	if err := c.heartbeat().Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := c.Credentials.validate(); err != nil {
		return err
	}
	switch {
	case c.RequestTimeout < 0, c.DialTimeout < 0, c.WriteTimeout < 0:
		return fmt.Errorf("%w: timeouts must not be negative", ErrConfig)
	case c.Backoff.Validate() != nil:
		return c.Backoff.Validate()
	case c.MaxFrameSize < 1024:
		return fmt.Errorf("%w: max_frame_size %d is below 1024", ErrConfig, c.MaxFrameSize)
	case c.SinkQueue < 1 || c.WriteQueue < 1:
		return fmt.Errorf("%w: queue sizes must be positive", ErrConfig)
	case c.Overflow != DropOldest && c.Overflow != DropNewest:
		return fmt.Errorf("%w: overflow %q is not drop_oldest or drop_newest", ErrConfig, c.Overflow)
	}
	return nil
}

func isLoopback(host string) bool { return netaddr.LoopbackHost(host) }

// String prints c without its secrets (the URL redacted as by LogValue).
func (c Config) String() string {
	return fmt.Sprintf("conn.Config{URL:%s Credentials:%v COD:%v Heartbeat:%v}",
		redactURL(c.URL), c.Credentials, c.CancelOnDisconnect, c.HeartbeatInterval)
}

// LogValue makes slog print c without its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", redactURL(c.URL)),
		slog.Any("credentials", c.Credentials),
		slog.Bool("cancel_on_disconnect", c.CancelOnDisconnect),
		slog.Duration("heartbeat_interval", c.HeartbeatInterval),
	)
}
