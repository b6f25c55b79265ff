package conn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stratbox/stratbox/clock"
	"github.com/stratbox/stratbox/heartbeat"
	"github.com/stratbox/stratbox/internal/lograte"
)

// degradedLogEvery is the least time between two "conn: degraded" lines of
// one connection; the next one counts those held back.
const degradedLogEvery = 10 * time.Second

// Dialer opens the WebSocket. *websocket.Dialer implements it; the default
// verifies TLS against the system roots and honours the proxy environment.
type Dialer interface {
	DialContext(ctx context.Context, url string, header http.Header) (*websocket.Conn, *http.Response, error)
}

// Option injects a dependency into New.
type Option func(*options)

type options struct {
	clock    clock.Clock
	dialer   Dialer
	logger   *slog.Logger
	observer Observer
	sink     Sink
	tap      TapFunc
	attempts *AttemptLimiter
	pacer    Pacer

	refreshArmed func() // tests only: the refresher armed its timer
}

// WithClock sets the clock for heartbeats, timeouts, backoff and token
// refresh. Default: the wall clock. (Socket deadlines and the dial timeout
// are the kernel's and always use wall time.)
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// WithDialer sets the WebSocket dialer.
func WithDialer(d Dialer) Option { return func(o *options) { o.dialer = d } }

// WithLogger sets the logger. Default: discard. Secrets, signatures and
// tokens are never logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithObserver sets the observer of state changes.
func WithObserver(obs Observer) Option { return func(o *options) { o.observer = obs } }

// WithSink replaces the built-in Queue (Config.SinkQueue, Config.Overflow)
// with s; Notifications then returns nil.
func WithSink(s Sink) Option { return func(o *options) { o.sink = s } }

// Conn is one exchange connection that survives its sockets: it dials,
// authenticates, sets the heartbeat, enables cancel-on-disconnect and
// restores subscriptions after every reconnect. See the package
// documentation for its goroutines and what is safe to call concurrently.
type Conn struct {
	cfg   Config
	clk   clock.Clock
	dial  Dialer
	log   *slog.Logger
	sink  Sink
	queue *Queue // nil with WithSink
	obs   *dispatcher
	mon   *heartbeat.Monitor
	tap   TapFunc // nil: none (tap.go)
	id    uint64
	lim   *AttemptLimiter
	pacer Pacer         // nil: the Backoff alone
	kick  chan struct{} // Redial: cut a backoff wait short
	warns *lograte.Limiter

	refreshArmed func() // tests only (export_test.go); nil otherwise

	nextID  atomic.Uint64
	nextAns atomic.Uint64
	cur     atomic.Pointer[session]

	stateMu    sync.Mutex // serialises transitions and their reports; never held across I/O
	state      atomic.Int32
	sinkDegr   bool // guarded by stateMu: the current Degraded is the sink's
	lifeMu     sync.Mutex
	started    bool
	closed     bool
	cancel     context.CancelFunc
	finishOnce sync.Once
	down       chan struct{} // closed when the goroutines have ended
	done       chan struct{} // closed after down, once the Observer's last call returned

	subsMu sync.Mutex
	subs   map[string]struct{}

	frames, notifications, responses, unmatched atomic.Uint64
	malformed, oversized, other, sinkDropped    atomic.Uint64
	reconnects                                  atomic.Uint64
	idlessErrors                                atomic.Uint64 // exchange errors without id, for the log's rate limit
}

// New validates cfg and returns an idle Conn. It does no I/O.
func New(cfg Config, opts ...Option) (*Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.clock == nil {
		o.clock = clock.Real{}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.dialer == nil {
		o.dialer = &websocket.Dialer{
			Proxy:            http.ProxyFromEnvironment,
			HandshakeTimeout: cfg.DialTimeout,
			ReadBufferSize:   32 << 10,
			WriteBufferSize:  8 << 10,
		}
	}
	c := &Conn{
		cfg:   cfg,
		clk:   o.clock,
		dial:  o.dialer,
		log:   o.logger.With("url", redactURL(cfg.URL)),
		sink:  o.sink,
		obs:   newDispatcher(o.observer),
		mon:   heartbeat.NewMonitor(cfg.heartbeat()),
		tap:   o.tap,
		id:    connIDs.Add(1),
		lim:   o.attempts,
		pacer: o.pacer,
		kick:  make(chan struct{}, 1),
		warns: &lograte.Limiter{Every: degradedLogEvery, Clock: o.clock},

		refreshArmed: o.refreshArmed,
		down:         make(chan struct{}),
		done:         make(chan struct{}),
		subs:         make(map[string]struct{}),
	}
	if c.lim == nil {
		c.lim = NewAttemptLimiter(cfg.Backoff.AttemptsPerSecond, c.clk)
	} else {
		c.lim.adopt(c.clk)
	}
	if c.sink == nil {
		c.queue = NewQueue(cfg.SinkQueue, cfg.Overflow)
		c.sink = c.queue
	}
	return c, nil
}

// Dial is New followed by Start.
func Dial(ctx context.Context, cfg Config, opts ...Option) (*Conn, error) {
	c, err := New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Start connects and brings the connection to StateReady, then keeps it
// there, reconnecting with backoff, until Close is called or ctx ends (which
// closes it). If the first connection fails, Start returns the error and the
// Conn is closed. Start may be called once.
func (c *Conn) Start(ctx context.Context) error {
	c.lifeMu.Lock()
	if c.closed {
		c.lifeMu.Unlock()
		return ErrClosed
	}
	if c.started {
		c.lifeMu.Unlock()
		return fmt.Errorf("%w: Start called twice", ErrConfig)
	}
	c.started = true
	c.obs.start()
	ctx, cancel := context.WithCancel(ctx)
	c.cancel = cancel
	c.lifeMu.Unlock()

	err := c.lim.Wait(ctx)
	var s *session
	if err == nil {
		s, err = c.connect(ctx, 0)
	}
	if err != nil {
		cancel()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", ErrClosed, err)
		}
		c.finish(err)
		return err
	}
	go c.run(ctx, s)
	return nil
}

// Close closes the connection: the socket, every pending request (which
// fails with ErrClosed) and the reconnect loop. It waits for the
// connection's goroutines, and the Observer's last call, to finish. It is
// idempotent and always returns nil. It may be called from the Observer
// (a pool closing a failed connection from its StateChanged): it then waits
// for everything but the Observer's own pending reports, which are
// delivered, ending with StateClosed, after that call returns.
func (c *Conn) Close() error {
	c.lifeMu.Lock()
	first := !c.closed
	c.closed = true
	started, cancel := c.started, c.cancel
	c.lifeMu.Unlock()
	if first {
		if cancel != nil {
			cancel()
		}
		if !started {
			c.finish(nil)
		}
	}
	<-c.down
	if c.obs.inside() {
		return nil // called by the Observer: its own last reports follow
	}
	<-c.done
	return nil
}

// Done is closed when the connection is closed and the Observer has returned
// from its last call.
func (c *Conn) Done() <-chan struct{} { return c.done }

func (c *Conn) finish(err error) {
	c.finishOnce.Do(func() {
		if err == nil {
			err = ErrClosed
		}
		c.setState(StateClosed, err, 0)
		close(c.down) // before waiting for the Observer, which may be in Close
		c.obs.close()
		close(c.done)
	})
}

// run keeps the connection up until ctx ends: it backs off on refusal, not
// on loss (Backoff; RATIONALE.md "Why back off on refusal, not on loss?").
func (c *Conn) run(ctx context.Context, s *session) {
	defer func() { c.finish(nil) }()
	for {
		select {
		case <-s.done:
		case <-ctx.Done():
			s.fail(ErrClosed)
		}
		s.wait()
		if ctx.Err() != nil {
			return
		}
		c.setState(StateDegraded, s.cause(), 0)
		refusals := 0 // consecutive failed attempts since the socket was lost
		throttled := s.throttled.Load()
		for {
			if !c.pause(ctx, &refusals, throttled) {
				return
			}
			throttled = false
			var err error
			s, err = c.connect(ctx, refusals+1)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			refusals++
			c.setState(StateDegraded, err, refusals)
		}
	}
}

// pause waits before the next attempt: the Redial wait after a loss
// (refusals 0), the Delay after refusals, either as the Pacer decides; a
// Redial call cuts a wait after refusals short and starts the count over.
// A session the exchange ended for its rate limit (throttled: it answered
// too_many_requests, 10028) waits Backoff.Max, whatever the Pacer says:
// Deribit asks for the credits to refill before a new connection. Then it
// takes a token of the attempt limiter. It reports false when ctx ended.
func (c *Conn) pause(ctx context.Context, refusals *int, throttled bool) bool {
	select { // a Redial meant for an earlier wait
	case <-c.kick:
	default:
	}
	for {
		d := c.cfg.Backoff.Redial(rand.Float64())
		if *refusals > 0 {
			d = c.cfg.Backoff.Delay(*refusals, rand.Float64())
		}
		switch {
		case throttled:
			d, throttled = c.cfg.Backoff.Max, false
		case c.pacer != nil:
			d = max(0, c.pacer.Wait(*refusals, d))
		}
		if d > 0 {
			t := c.clk.NewTimer(d)
			redial := false
		wait:
			for {
				select {
				case <-t.C():
					break wait
				case <-c.kick:
					if *refusals > 0 { // a loss's short wait keeps its stagger
						t.Stop()
						redial = true
						break wait
					}
				case <-ctx.Done():
					t.Stop()
					return false
				}
			}
			if redial {
				*refusals = 0
				continue // the Redial wait instead
			}
		}
		return c.lim.Wait(ctx) == nil
	}
}

// Redial tells a connection waiting after refused attempts that the
// exchange is up (another connection of its account just became ready):
// it starts its count of refusals over and re-dials after the short wait of
// a lost session (Backoff.Redial). It does nothing otherwise.
func (c *Conn) Redial() {
	if State(c.state.Load()) != StateDegraded {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// connect dials one socket and sets it up: heartbeat, authentication,
// cancel-on-disconnect, subscriptions. On error the socket is gone.
func (c *Conn) connect(ctx context.Context, attempt int) (*session, error) {
	c.setState(StateConnecting, nil, attempt)
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	ws, resp, err := c.dial.DialContext(dctx, c.cfg.URL, nil)
	cancel()
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotSent, ctx.Err())
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrDial, redactURL(c.cfg.URL), err)
	}
	s := c.newSession(ws)
	subErr, err := c.setup(ctx, s)
	if err != nil {
		s.fail(err)
		s.wait()
		return nil, err
	}
	s.readyAt = c.clk.Now()
	s.ready.Store(true)
	if attempt > 0 {
		c.reconnects.Add(1) // before Ready is reported, so observers see it counted
	}
	c.setState(StateReady, subErr, 0)
	if s.tok != nil {
		s.goRefresh()
	}
	return s, nil
}

func (c *Conn) setup(ctx context.Context, s *session) (subErr, err error) {
	if _, err = s.call(ctx, heartbeat.MethodSetHeartbeat,
		heartbeat.AppendSetParams(nil, c.cfg.HeartbeatInterval)); err != nil {
		return nil, fmt.Errorf("conn: set heartbeat: %w", err)
	}
	if !c.cfg.Credentials.IsZero() {
		c.setState(StateAuthenticating, nil, 0)
		tok, err := c.authenticate(ctx, s, "")
		if err != nil {
			return nil, err
		}
		s.tok, s.authed = tok, true
		if c.cfg.CancelOnDisconnect {
			if _, err := s.call(ctx, "private/enable_cancel_on_disconnect",
				[]byte(`{"scope":"connection"}`)); err != nil {
				return nil, fmt.Errorf("conn: enable cancel-on-disconnect: %w", err)
			}
		}
	}
	chans := c.wanted()
	if len(chans) == 0 {
		return nil, nil
	}
	_, err = c.subscribe(ctx, s, chans, true)
	var se *SubscribeError
	if errors.As(err, &se) {
		c.log.Warn("conn: channels not restored", "channels", se.Missing)
		return err, nil
	}
	return nil, err
}

// Subscribed reports whether the connection keeps channel: subscribed now,
// or restored on its next socket.
func (c *Conn) Subscribed(channel string) bool {
	c.subsMu.Lock()
	defer c.subsMu.Unlock()
	_, ok := c.subs[channel]
	return ok
}

func (c *Conn) wanted() []string {
	c.subsMu.Lock()
	defer c.subsMu.Unlock()
	out := make([]string, 0, len(c.subs))
	for ch := range c.subs {
		out = append(out, ch)
	}
	sort.Strings(out)
	return out
}

// setState records a transition and reports it to the Observer.
func (c *Conn) setState(to State, err error, attempt int) {
	c.stateMu.Lock()
	from := State(c.state.Load())
	if from == StateClosed || (from == to && to != StateDegraded) {
		c.stateMu.Unlock()
		return
	}
	c.state.Store(int32(to))
	c.sinkDegr = false
	ch := StateChange{From: from, To: to, Err: err, Attempt: attempt, At: c.clk.Now()}
	c.obs.push(ch)
	c.stateMu.Unlock()
	switch to {
	case StateDegraded:
		// Every loss, and every refusal while the exchange is away (one a
		// Backoff.Min for a pool's lead member): rate-limited with a count.
		c.warns.Warn(c.log, "conn: degraded", "err", err, "attempt", attempt)
	case StateClosed:
		c.log.Info("conn: closed", "err", err)
	default:
		c.log.Debug("conn: state", "state", to.String(), "attempt", attempt)
	}
}

// sinkOverflow moves Ready ↔ Degraded(ErrSlowConsumer) for the read
// goroutine; it only changes a state the sink itself caused. It reports
// whether the state now shows the overflow (over) or its end (!over).
func (c *Conn) sinkOverflow(over bool) bool {
	c.stateMu.Lock()
	cur := State(c.state.Load())
	var ch StateChange
	switch {
	case over && cur == StateReady:
		ch = StateChange{From: cur, To: StateDegraded, Err: ErrSlowConsumer, At: c.clk.Now()}
		c.sinkDegr = true
	case !over && cur == StateDegraded && c.sinkDegr:
		ch = StateChange{From: cur, To: StateReady, At: c.clk.Now()}
		c.sinkDegr = false
	default:
		ok := over && cur == StateDegraded && c.sinkDegr
		c.stateMu.Unlock()
		return ok
	}
	c.state.Store(int32(ch.To))
	c.obs.push(ch)
	c.stateMu.Unlock()
	return true
}

// State is the current state.
func (c *Conn) State() State { return State(c.state.Load()) }

// Notifications is the built-in queue's channel (nil with WithSink).
func (c *Conn) Notifications() <-chan Notification {
	if c.queue == nil {
		return nil
	}
	return c.queue.C()
}

// Heartbeat is a snapshot of the heartbeat measurements, cumulative over
// the connection's sockets.
func (c *Conn) Heartbeat() heartbeat.Snapshot { return c.mon.Snapshot() }

// Stats are a connection's counters, cumulative over its sockets.
type Stats struct {
	State         State
	Reconnects    uint64 // sockets set up after the first
	Frames        uint64 // frames read
	Notifications uint64 // handed to the sink
	SinkDropped   uint64 // deliveries the sink reported as dropping
	Responses     uint64 // responses matched to a waiting request
	Unmatched     uint64 // responses nobody waited for any more (timed out, cancelled)
	Malformed     uint64 // frames that could not be parsed, or binary frames; skipped
	Oversized     uint64 // frames above MaxFrameSize; skipped
	Other         uint64 // requests of unknown methods from the exchange; skipped
	Heartbeat     heartbeat.Snapshot
	Queue         QueueStats // the built-in queue; zero with WithSink
}

// Stats returns the counters.
func (c *Conn) Stats() Stats {
	s := Stats{
		State:         c.State(),
		Reconnects:    c.reconnects.Load(),
		Frames:        c.frames.Load(),
		Notifications: c.notifications.Load(),
		SinkDropped:   c.sinkDropped.Load(),
		Responses:     c.responses.Load(),
		Unmatched:     c.unmatched.Load(),
		Malformed:     c.malformed.Load(),
		Oversized:     c.oversized.Load(),
		Other:         c.other.Load(),
		Heartbeat:     c.mon.Snapshot(),
	}
	if c.queue != nil {
		s.Queue = c.queue.Stats()
	}
	return s
}

// redactURL drops user information and the query from u for logs and errors.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparseable url)"
	}
	p.User = nil
	p.RawQuery = ""
	p.Fragment = ""
	return p.String()
}
