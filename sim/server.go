package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stratbox/stratbox/clock"
)

// The documented test key pair, accepted when Config.Keys is empty.
const (
	TestKeyID     = "stratbox-test"
	TestKeySecret = "stratbox-test-secret"
)

// Path is the WebSocket endpoint, as on Deribit.
const Path = "/ws/api/v2"

// DefaultMinHeartbeat is Deribit's minimum heartbeat interval.
const DefaultMinHeartbeat = 10 * time.Second

// APIKey is one client_id/client_secret pair. Account names the account the
// key trades for; empty means an account of the key's own (named after ID).
type APIKey struct {
	ID      string
	Secret  string
	Account string
}

// Config configures a Server. The zero value is a working simulator on
// 127.0.0.1 with Deribit's limits and the test key pair.
type Config struct {
	// Listen is the TCP address to listen on. Default "127.0.0.1:0".
	Listen string
	// Keys are the accepted API keys. Default: TestKeyID/TestKeySecret.
	Keys []APIKey
	// Seed seeds the synthetic market. Default 1.
	Seed int64
	// Clock drives heartbeats, token expiry, timestamps and the market.
	// Default: the wall clock.
	Clock clock.Clock
	// Logger receives the simulator's own log lines. Default: discarded.
	Logger *slog.Logger

	// MinHeartbeat is the smallest interval public/set_heartbeat accepts.
	// Default 10s, Deribit's minimum; tests lower it to run fast.
	MinHeartbeat time.Duration
	// HeartbeatGrace is how long a test_request may stay unanswered before
	// the connection is closed. Default: one heartbeat interval. It is
	// checked at the connection's heartbeat ticks, so it takes effect
	// rounded up to a whole number of intervals.
	HeartbeatGrace time.Duration
	// AlwaysTestRequest sends a test_request at every heartbeat interval,
	// even to a client that was active; by default only a quiet client gets
	// one (RATIONALE.md). For tests and demos that must see answers.
	AlwaysTestRequest bool

	// TokenTTL is the lifetime of access tokens (expires_in). Default 15m.
	TokenTTL time.Duration

	// Tick is the period of the market and of the 100ms/agg2 channels.
	// Default 100ms. Negative: no ticker runs (tests call Step themselves).
	Tick time.Duration
	// Market configures the synthetic market. Seed defaults to Config.Seed.
	Market MarketConfig
	// NoMarket turns the synthetic market off: the books hold only the
	// clients' orders.
	NoMarket bool
	// StartingBalances per currency for every new account (see EngineConfig).
	StartingBalances map[string]float64

	// RateLimits configures the credit model. The zero value is Deribit's
	// defaults; set Disabled to turn it off.
	RateLimits RateLimits

	// MaxFrameSize is the largest frame a client may send, in bytes. A larger
	// one closes the connection (WebSocket status 1009). Default 1 MiB.
	MaxFrameSize int64
	// SendQueue is how many outbound frames may wait for a slow client before
	// it is disconnected (connection_too_slow). Default 16384.
	SendQueue int
}

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if len(c.Keys) == 0 {
		c.Keys = []APIKey{{ID: TestKeyID, Secret: TestKeySecret}}
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.MinHeartbeat == 0 {
		c.MinHeartbeat = DefaultMinHeartbeat
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = 15 * time.Minute
	}
	if c.Tick == 0 {
		c.Tick = 100 * time.Millisecond
	}
	if c.Market.Seed == 0 {
		c.Market.Seed = c.Seed
	}
	if c.MaxFrameSize == 0 {
		c.MaxFrameSize = 1 << 20
	}
	if c.SendQueue == 0 {
		c.SendQueue = 16384
	}
	c.RateLimits = c.RateLimits.withDefaults()
	return c
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	for i, k := range c.Keys {
		if k.ID == "" || k.Secret == "" {
			return fmt.Errorf("sim: keys[%d]: client id and secret must both be set", i)
		}
	}
	if c.MinHeartbeat < 0 || c.HeartbeatGrace < 0 || c.TokenTTL < 0 {
		return errors.New("sim: durations must not be negative")
	}
	if c.MaxFrameSize < 0 || c.SendQueue < 0 {
		return errors.New("sim: sizes must not be negative")
	}
	return nil
}

// ConnInfo describes one client connection.
type ConnInfo struct {
	ID                 uint64
	Remote             string
	Account            string
	Authenticated      bool
	HeartbeatInterval  time.Duration
	COD                bool
	Channels           []string
	TestRequestsSent   int64
	TestRequestsAnswer int64
}

// Stats are the simulator's counters.
type Stats struct {
	Connections       int   // open now
	Accepted          int64 // since start
	Requests          int64
	Notifications     int64 // frames of method "subscription" queued
	HeartbeatKills    int64 // connections closed for an unanswered test_request
	RateLimitKills    int64
	SlowConsumerKills int64
	CODCancelled      int64 // orders cancelled by cancel-on-disconnect
	SilentDropped     int64 // frames read and ignored while silenced
	Refused           int64 // WebSocket handshakes answered 503 (RefuseConnections)
	Cut               int64 // connections closed by DropRandom
}

// Server is a running simulator.
type Server struct {
	cfg   Config
	clk   clock.Clock
	log   *slog.Logger
	ln    net.Listener
	http  *http.Server
	url   string
	up    websocket.Upgrader
	start time.Time

	mu          sync.Mutex // guards everything below, and the engine
	engine      *Engine
	market      *Market
	sessions    map[uint64]*session
	subs        map[string]map[uint64]*session // channel → subscribers
	auth        *authState
	accounts    map[string]*account
	books       map[string]*bookFlush // 100ms book state per instrument
	pending     pendingBatches        // 100ms batches of trades and user data
	subKinds    map[string]channel    // parsed form of every subscribed channel
	groupedSent map[string]int64      // change_id last sent per grouped book channel
	instruments map[string]Instrument // immutable after start
	maint       bool

	nextConn  atomic.Uint64
	silent    atomic.Bool
	frozen    atomic.Bool // the synthetic market stands still (Freeze)
	refusing  atomic.Bool // RefuseConnections
	cutMu     sync.Mutex  // DropRandom's source
	cutRand   *rand.Rand
	delay     atomic.Int64                   // ns of delay before each outbound frame
	onRequest atomic.Pointer[RequestHook]    // OnRequest (hooks.go)
	refuse    atomic.Pointer[RefuseHook]     // Refuse (hooks.go)
	onCOD     atomic.Pointer[DisconnectHook] // OnCancelOnDisconnect (hooks.go)
	closed    chan struct{}
	closeOnce sync.Once
	chMu      sync.Mutex
	change    chan struct{} // closed and replaced whenever Stats may have changed
	wg        sync.WaitGroup

	stats struct {
		accepted, requests, notifications         atomic.Int64
		hbKills, rlKills, slowKills, codCancelled atomic.Int64
		silentDropped, refused, cut               atomic.Int64
	}
}

// account is the per-account state the session layer needs (the engine keeps
// balances and positions).
type account struct {
	name       string
	codAccount bool // cancel-on-disconnect with scope account
	me         bucket
	cancelAll  bucket
}

// Start listens on cfg.Listen and serves until ctx ends or Close is called.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("sim: listen: %w", err)
	}
	s := newServer(cfg)
	s.ln = ln
	s.url = "ws://" + ln.Addr().String() + Path
	mux := http.NewServeMux()
	mux.HandleFunc(Path, s.serveWS)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("sim: serve", "err", err)
		}
	}()
	if cfg.Tick > 0 {
		s.wg.Add(1)
		go s.tickLoop()
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.closed:
		}
	}()
	return s, nil
}

func newServer(cfg Config) *Server {
	s := &Server{
		cfg:         cfg,
		clk:         cfg.Clock,
		log:         cfg.Logger,
		sessions:    make(map[uint64]*session),
		subs:        make(map[string]map[uint64]*session),
		accounts:    make(map[string]*account),
		books:       make(map[string]*bookFlush),
		subKinds:    make(map[string]channel),
		groupedSent: make(map[string]int64),
		instruments: make(map[string]Instrument),
		closed:      make(chan struct{}),
		change:      make(chan struct{}),
	}
	s.pending.init()
	s.start = s.clk.Now()
	s.up = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	s.auth = newAuthState(cfg.Keys)
	instruments := DefaultInstruments(s.start)
	for _, in := range instruments {
		s.instruments[in.InstrumentName] = in
	}
	s.engine = NewEngine(EngineConfig{
		Instruments:      instruments,
		StartingBalances: cfg.StartingBalances,
		Listener:         (*listener)(s),
	})
	if !cfg.NoMarket {
		s.market = NewMarket(s.engine, cfg.Market)
		s.market.Step(s.nowMs())
	}
	return s
}

// URL is the ws:// address clients dial.
func (s *Server) URL() string { return s.url }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server and drops every connection (as a crash would:
// cancel-on-disconnect fires). It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		if s.http != nil {
			_ = s.http.Close()
		}
		s.DropAll()
	})
	s.wg.Wait()
	return nil
}

func (s *Server) nowMs() int64 { return s.clk.Now().UnixMilli() }

func (s *Server) tickLoop() {
	defer s.wg.Done()
	t := s.clk.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C():
			s.Step()
		}
	}
}

// Step advances the synthetic market by one tick and flushes the 100ms and
// agg2 channels. The server calls it every Config.Tick; tests that set a
// negative Tick call it themselves.
func (s *Server) Step() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowMs()
	if s.market != nil && !s.maint && !s.frozen.Load() {
		s.market.Step(now)
	}
	s.flushLocked(now)
}

// Stats returns the simulator's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	n := len(s.sessions)
	s.mu.Unlock()
	return Stats{
		Connections:       n,
		Accepted:          s.stats.accepted.Load(),
		Requests:          s.stats.requests.Load(),
		Notifications:     s.stats.notifications.Load(),
		HeartbeatKills:    s.stats.hbKills.Load(),
		RateLimitKills:    s.stats.rlKills.Load(),
		SlowConsumerKills: s.stats.slowKills.Load(),
		CODCancelled:      s.stats.codCancelled.Load(),
		SilentDropped:     s.stats.silentDropped.Load(),
		Refused:           s.stats.refused.Load(),
		Cut:               s.stats.cut.Load(),
	}
}

// Conns describes the open connections, by ID.
func (s *Server) Conns() []ConnInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ConnInfo, 0, len(s.sessions))
	for _, c := range s.sessions {
		out = append(out, c.infoLocked())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// OpenOrders returns the open orders of an account, for tests that compare
// the exchange's view with a client's.
func (s *Server) OpenOrders(account string) []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.engine.OpenOrders(account, nil)
}

// Position returns an account's position in an instrument.
func (s *Server) Position(account, instrument string) (Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.engine.Position(account, instrument)
	if err != nil {
		return Position{}, err
	}
	return p, nil
}

func (s *Server) accountLocked(name string) *account {
	a := s.accounts[name]
	if a == nil {
		a = &account{name: name}
		a.me = newBucket(s.cfg.RateLimits.MatchingBurst, s.cfg.RateLimits.MatchingRate)
		a.cancelAll = newBucket(s.cfg.RateLimits.MatchingBurst, s.cfg.RateLimits.MatchingRate)
		s.accounts[name] = a
	}
	return a
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.closed:
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	default:
	}
	if s.refusing.Load() {
		s.stats.refused.Add(1)
		http.Error(w, "refusing connections (fault injection)", http.StatusServiceUnavailable)
		return
	}
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the client
	}
	ws.SetReadLimit(s.cfg.MaxFrameSize)
	c := newSession(s, ws)
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		_ = ws.Close()
		return
	default:
	}
	s.sessions[c.id] = c
	s.changed()
	s.wg.Add(2) // Close waits for both goroutines of every session
	s.mu.Unlock()
	s.stats.accepted.Add(1)
	s.log.Debug("sim: connection", "id", c.id, "remote", r.RemoteAddr)
	go func() {
		defer s.wg.Done()
		c.writeLoop()
	}()
	defer s.wg.Done()
	c.readLoop()
}

// changed wakes WaitStats.
func (s *Server) changed() {
	s.chMu.Lock()
	close(s.change)
	s.change = make(chan struct{})
	s.chMu.Unlock()
}

// WaitStats waits until pred accepts the server's Stats, for at most
// timeout, and reports whether it did. Tests use it to synchronise with the
// server's goroutines instead of sleeping.
func (s *Server) WaitStats(pred func(Stats) bool, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		s.chMu.Lock()
		ch := s.change
		s.chMu.Unlock()
		if pred(s.Stats()) {
			return true
		}
		select {
		case <-ch:
		case <-t.C:
			return false
		}
	}
}

// WaitConns waits until exactly n client connections are open, for at most
// timeout. A connection counts as closed once the server has finished with
// it (cancel-on-disconnect included).
func (s *Server) WaitConns(n int, timeout time.Duration) bool {
	return s.WaitStats(func(st Stats) bool { return st.Connections == n }, timeout)
}
