package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratbox/stratbox/conn"
	"github.com/stratbox/stratbox/heartbeat"
	"github.com/stratbox/stratbox/internal/lograte"
)

// Policy chooses the member that carries a new order.
type Policy string

// Policies.
const (
	// RoundRobin takes the healthy members in turn.
	RoundRobin Policy = "round_robin"
	// LeastLoaded takes the healthy member with the fewest orders and
	// requests in flight.
	LeastLoaded Policy = "least_loaded"
	// Split is LeastLoaded for the choice of a member, and it tells the
	// order manager to split an order larger than SplitAbove into chunks,
	// each on its own member (SplitRule), so that a connection's loss
	// cancels only part of it.
	Split Policy = "split"
)

// Defaults of Config.
const (
	DefaultSize          = 3
	DefaultOrderChannels = 2
	// MaxSize stays within Deribit's limits (16 sessions per API key, 32
	// connections per IP) with room for other programs.
	MaxSize = 16
)

// Config configures a Pool.
type Config struct {
	// Conn is every member's connection configuration.
	Conn conn.Config
	// Size is the number of connections. Default 3.
	Size int
	// MinHealthy is how many healthy members the pool needs not to be
	// degraded. Default Size.
	MinHealthy int
	// Policy spreads new orders. Default LeastLoaded.
	Policy Policy
	// SplitAbove is the amount (in the instrument's amount unit) above
	// which policy Split splits an order; it must be positive with Split.
	// SplitChunks is the most chunks an order is split into (default and
	// at most Size; never more than the healthy members).
	SplitAbove  float64
	SplitChunks int
	// OrderChannels is on how many members each private channel (user.*)
	// is subscribed. Default 2 (capped at Size).
	OrderChannels int
	// Limits is the client-side rate limiter of CallOn (limit.go). The
	// zero value keeps within Deribit's tier-1 limits (the simulator's
	// defaults); Limits.Disabled turns it off.
	Limits Limits
	// Classify says what a request costs under Limits: the venue's rate
	// classes of its methods. The host passes Deribit's, converted:
	// func(m string, p []byte) pool.RateClass { return
	// pool.RateClass(deribit.RateOf(m, p)) }. nil: every request costs a
	// matching token and credits, which keeps within the limits whatever
	// the methods are, at the price of counting reads as order flow.
	Classify func(method string, params []byte) RateClass
}

// Validate reports the first invalid field of the pool's own settings (New
// checks Conn as well).
func (c Config) Validate() error {
	switch {
	case c.Size < 0 || c.Size > MaxSize:
		return fmt.Errorf("pool: size %d: want 1..%d", c.Size, MaxSize)
	case c.MinHealthy < 0 || c.Size > 0 && c.MinHealthy > c.Size:
		return fmt.Errorf("pool: min_healthy %d: want 0..size", c.MinHealthy)
	case c.Policy != "" && c.Policy != RoundRobin && c.Policy != LeastLoaded && c.Policy != Split:
		return fmt.Errorf("pool: policy %q: want %s, %s or %s", c.Policy, RoundRobin, LeastLoaded, Split)
	case c.Policy == Split && !(c.SplitAbove > 0):
		return fmt.Errorf("pool: policy split needs split_above > 0")
	case c.SplitChunks < 0 || c.SplitChunks == 1 || c.SplitChunks > MaxSize:
		return fmt.Errorf("pool: split_chunks %d: want 2..%d", c.SplitChunks, MaxSize)
	case c.OrderChannels < 0:
		return fmt.Errorf("pool: order_channels is negative")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Size == 0 {
		c.Size = DefaultSize
	}
	if c.MinHealthy == 0 {
		c.MinHealthy = c.Size
	}
	if c.Policy == "" {
		c.Policy = LeastLoaded
	}
	if c.OrderChannels == 0 {
		c.OrderChannels = DefaultOrderChannels
	}
	c.OrderChannels = min(c.OrderChannels, c.Size)
	if c.SplitChunks == 0 || c.SplitChunks > c.Size {
		c.SplitChunks = c.Size
	}
	return c
}

// ErrNoHealthy: no member can take a request now.
var ErrNoHealthy = errors.New("pool: no healthy connection")

// Event is a change of a member's health, as told to the observer.
type Event struct {
	Member  int  // the member that changed
	Ready   bool // it is ready (healthy) now
	Lost    bool // it was ready and is not any more: the orders it carried are cancelled by the exchange
	Healthy int  // members ready now
	Total   int
	// Degraded: fewer than MinHealthy members are ready.
	Degraded bool
	// Resync: no member received the private channels (user.*) for a
	// while, and one does again: order and fill notifications may have
	// been lost meanwhile, so the consumer should read its orders back.
	// Member is -1.
	Resync bool
	Err    error
	At     time.Time
}

// up reports whether the member can take a request now: ready by its
// observer's account and by its connection's own state (which changes
// before the observer hears of it).
func (m *member) up() bool { return m.ready.Load() && m.c.State() == conn.StateReady }

// member is one connection of the pool.
type member struct {
	id      int
	c       *conn.Conn
	ready   atomic.Bool
	carried atomic.Int64 // orders the consumer says this member carries
	calls   atomic.Int64 // requests in flight
	losses  atomic.Uint64
	// dialling: reconnecting, from its first wait (pace) to its next Ready
	// (or Closed); the lead is chosen among these.
	dialling atomic.Bool
	// stateMu orders changed's calls for the member: the observer's and
	// Start's early Ready. early: Start counted the member ready before its
	// observer reported the Ready, so the transitions the observer still
	// has to report up to that Ready are old news.
	stateMu sync.Mutex
	early   bool
}

// Pool is a set of connections to one account.
type Pool struct {
	cfg     Config
	log     *slog.Logger
	members []*member
	observe func(Event)
	next    atomic.Uint64 // round robin

	mu      sync.Mutex          // subscriptions
	market  map[string]int      // market channel → the member carrying it
	orders  map[string][]int    // private channel → the members carrying it
	moving  sync.Mutex          // serialises rebalance
	gap     bool                // no member received the private channels for a while (guarded by mu)
	failed  atomic.Uint64       // losses of any member
	closing atomic.Bool         // Close was called: members going down are not losses
	moved   atomic.Uint64       // market channels moved to another member
	sinks   func(int) conn.Sink // the consumer's sink per member
	limit   *limiter            // nil when cfg.Limits.Disabled

	watch atomic.Pointer[func(int, conn.StateChange)] // ObserveMembers

	attempts *conn.AttemptLimiter // the account's connection attempts, shared by the members
	warns    lograte.Limiter      // repeated warnings (connection lost, subscribing failed)
}

// New checks cfg and returns a Pool; Start connects it. sinks gives the
// Sink of each member's notifications (one per member: a sink is called
// on that member's read goroutine); observe (may be nil) is told of every
// change of a member's health, from that member's observer goroutine, and
// must not block for long. opts apply to every member's connection.
func New(cfg Config, sinks func(member int) conn.Sink, observe func(Event), log *slog.Logger, opts ...conn.Option) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.Conn.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lim, err := newLimiter(cfg.Limits, cfg.Size, cfg.Classify)
	if err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, log: log, observe: observe, sinks: sinks,
		market: map[string]int{}, orders: map[string][]int{}, limit: lim,
		attempts: conn.NewAttemptLimiter(cfg.Conn.Backoff.AttemptsPerSecond, nil)}
	for i := range cfg.Size {
		m := &member{id: i}
		o := append(slices.Clone(opts), conn.WithObserver(conn.ObserverFunc(func(ch conn.StateChange) {
			p.changed(m, ch)
			if f := p.watch.Load(); f != nil {
				(*f)(m.id, ch)
			}
		})),
			conn.WithLogger(log.With("conn", i)),
			conn.WithAttemptLimiter(p.attempts),
			conn.WithPacer(conn.PacerFunc(func(refusals int, own time.Duration) time.Duration {
				return p.pace(m, refusals, own)
			})))
		if sinks != nil {
			o = append(o, conn.WithSink(sinks(i)))
		}
		c, err := conn.New(cfg.Conn, o...)
		if err != nil {
			return nil, err
		}
		m.c = c
		p.members = append(p.members, m)
	}
	return p, nil
}

// Start connects every member, concurrently. It returns once each has
// become ready or failed its first attempt; an error only when none is
// ready (the failed ones keep nothing: they are closed). ctx bounds the
// pool's life.
func (p *Pool) Start(ctx context.Context) error {
	errs := make([]error, len(p.members))
	var wg sync.WaitGroup
	for i, m := range p.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.c.Start(ctx)
		}()
	}
	wg.Wait()
	var up int
	for i, err := range errs {
		if err == nil {
			up++
			// Healthy from now on, without waiting for the observer's
			// report of the same transition (which then changes nothing).
			p.readyEarly(p.members[i])
		} else {
			p.log.Warn("pool: connection failed to start", "conn", i, "err", err)
		}
	}
	if up == 0 {
		return fmt.Errorf("pool: no connection could start: %w", errors.Join(errs...))
	}
	return nil
}

// readyEarly counts a member whose connection is ready as ready now, without
// waiting for its observer's report of the transition: the report, and those
// before it that the observer has not delivered yet (idle → connecting, …),
// then change nothing. Taken for news, they would count a loss that never
// happened (an observer behind by one transition at the start made a pool's
// losses one more than its connections lost).
func (p *Pool) readyEarly(m *member) {
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	if m.ready.Load() || m.c.State() != conn.StateReady {
		return // reported already, or no longer ready: the observer's reports tell
	}
	m.early = true
	p.changedLocked(m, conn.StateChange{From: conn.StateAuthenticating, To: conn.StateReady, At: time.Now()})
}

// changed follows a member's state as its observer reports it.
func (p *Pool) changed(m *member, ch conn.StateChange) {
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	if m.early {
		// Up to the Ready that readyEarly anticipated.
		m.early = ch.To != conn.StateReady
		return
	}
	p.changedLocked(m, ch)
}

// changedLocked is changed under m.stateMu.
func (p *Pool) changedLocked(m *member, ch conn.StateChange) {
	ready := ch.To == conn.StateReady
	if ready || ch.To == conn.StateClosed {
		m.dialling.Store(false)
	}
	was := m.ready.Swap(ready)
	if was == ready || p.closing.Load() {
		return
	}
	ev := Event{Member: m.id, Ready: ready, Lost: was && !ready, Err: ch.Err, At: ch.At, Total: len(p.members)}
	if ev.Lost {
		m.losses.Add(1)
		p.failed.Add(1)
		p.warns.Warn(p.log, "pool: connection lost", "conn", m.id, "err", ch.Err)
		p.noteGap(m.id)
	}
	if ready {
		p.redialOthers(m)
	}
	go p.rebalance()
	ev.Healthy = p.healthy()
	ev.Degraded = ev.Healthy < p.cfg.MinHealthy
	if p.observe != nil {
		p.observe(ev)
	}
}

func (p *Pool) healthy() int {
	n := 0
	for _, m := range p.members {
		if m.ready.Load() {
			n++
		}
	}
	return n
}

// Size is the number of members.
func (p *Pool) Size() int { return len(p.members) }

// Healthy reports whether member id is ready.
func (p *Pool) Healthy(id int) bool {
	return id >= 0 && id < len(p.members) && p.members[id].ready.Load()
}

// SplitRule returns the amount above which an order is split and into how
// many chunks at most: at most the members healthy now (0, 0: the policy
// does not split).
func (p *Pool) SplitRule() (above float64, chunks int) {
	if p.cfg.Policy != Split {
		return 0, 0
	}
	return p.cfg.SplitAbove, min(p.cfg.SplitChunks, p.healthy())
}

// Policy returns the policy that spreads new orders (Config.Policy, with
// its default).
func (p *Pool) Policy() Policy { return p.cfg.Policy }

// Conn returns member id's connection.
func (p *Pool) Conn(id int) *conn.Conn { return p.members[id].c }

// Pick chooses the member for a new order by the pool's policy, among the
// healthy ones.
func (p *Pool) Pick() (int, error) { return p.PickExcept(0) }

// PickExcept is Pick without the members whose bit is set in except (bit
// i: member i), e.g. those a request could not be sent on.
func (p *Pool) PickExcept(except uint64) (int, error) {
	ok := func(m *member) bool { return except&(1<<uint(m.id)) == 0 && m.up() }
	switch p.cfg.Policy {
	case RoundRobin:
		n := uint64(len(p.members))
		start := p.next.Add(1)
		for i := range n {
			if m := p.members[(start+i)%n]; ok(m) {
				return m.id, nil
			}
		}
	default:
		best, load := -1, int64(0)
		for _, m := range p.members {
			if !ok(m) {
				continue
			}
			if l := m.carried.Load() + m.calls.Load(); best < 0 || l < load {
				best, load = m.id, l
			}
		}
		if best >= 0 {
			return best, nil
		}
	}
	return -1, ErrNoHealthy
}

// Carry adds delta to the orders member id carries (the consumer's count,
// for LeastLoaded and Stats).
func (p *Pool) Carry(id int, delta int) {
	if id >= 0 && id < len(p.members) {
		p.members[id].carried.Add(int64(delta))
	}
}

// CallOn sends a request on member id. It fails with conn.ErrNotSent
// wrapped when the member is not ready, and with ErrRateLimited and
// conn.ErrNotSent wrapped when the rate limiter (Config.Limits) refuses it.
func (p *Pool) CallOn(ctx context.Context, id int, method string, params []byte) (json.RawMessage, error) {
	if id < 0 || id >= len(p.members) {
		return nil, fmt.Errorf("pool: no connection %d: %w", id, conn.ErrNotSent)
	}
	rc, err := p.limit.admit(ctx, id, method, params)
	if err != nil {
		return nil, err
	}
	m := p.members[id]
	m.calls.Add(1)
	defer m.calls.Add(-1)
	res, err := m.c.CallRaw(ctx, method, params)
	if errors.Is(err, conn.ErrNotSent) {
		p.limit.refund(rc) // the exchange never saw it: a retry elsewhere is not charged twice
	}
	return res, err
}

// CallRaw sends a request that any member may carry (queries): on the
// least loaded healthy member, and again on the next one if it could not
// be sent.
func (p *Pool) CallRaw(ctx context.Context, method string, params []byte) (json.RawMessage, error) {
	tried := map[int]bool{}
	var last error = ErrNoHealthy
	for range p.members {
		best, load := -1, int64(0)
		for _, m := range p.members {
			if tried[m.id] || !m.up() {
				continue
			}
			if l := m.calls.Load(); best < 0 || l < load {
				best, load = m.id, l
			}
		}
		if best < 0 {
			break
		}
		tried[best] = true
		raw, err := p.CallOn(ctx, best, method, params)
		if err == nil || !errors.Is(err, conn.ErrNotSent) {
			return raw, err
		}
		last = err
	}
	return nil, fmt.Errorf("pool: %s: %w", method, last)
}

// Subscribe subscribes channels: a private channel (user.*) on
// OrderChannels members, any other channel on exactly one healthy member
// (moved to another when that member fails). It returns the channels
// confirmed at least once.
func (p *Pool) Subscribe(ctx context.Context, channels ...string) ([]string, error) {
	byMember := map[int][]string{}
	p.mu.Lock()
	for _, ch := range channels {
		if strings.HasPrefix(ch, "user.") {
			if _, ok := p.orders[ch]; ok {
				continue
			}
			ids := p.spreadPrivate()
			p.orders[ch] = ids
			for _, id := range ids {
				byMember[id] = append(byMember[id], ch)
			}
			continue
		}
		if _, ok := p.market[ch]; ok {
			continue
		}
		id := p.marketMember(len(p.market))
		if id < 0 {
			p.mu.Unlock()
			return nil, fmt.Errorf("pool: subscribe: %w", ErrNoHealthy)
		}
		p.market[ch] = id
		byMember[id] = append(byMember[id], ch)
	}
	p.mu.Unlock()
	seen := map[string]bool{}
	var got []string
	var errs []error
	for id, chs := range byMember {
		ok, err := p.members[id].c.Subscribe(ctx, chs...)
		if err != nil {
			errs = append(errs, fmt.Errorf("conn %d: %w", id, err))
		}
		for _, ch := range ok {
			if !seen[ch] {
				seen[ch] = true
				got = append(got, ch)
			}
		}
	}
	return got, errors.Join(errs...)
}

// spreadPrivate picks the members for a private channel: the first
// OrderChannels healthy ones (all members when fewer are healthy: a
// member that is down restores the channel when it comes back).
func (p *Pool) spreadPrivate() []int {
	var ids []int
	for _, m := range p.members {
		if len(ids) < p.cfg.OrderChannels && m.ready.Load() {
			ids = append(ids, m.id)
		}
	}
	for _, m := range p.members {
		if len(ids) < p.cfg.OrderChannels && !slices.Contains(ids, m.id) {
			ids = append(ids, m.id)
		}
	}
	return ids
}

// marketMember picks a healthy member for the k-th market channel,
// spreading market data over the members. Called with p.mu held.
func (p *Pool) marketMember(k int) int {
	n := len(p.members)
	for i := range n {
		m := p.members[(k+i)%n]
		if m.ready.Load() {
			return m.id
		}
	}
	return -1
}

// rebalance puts every channel where it is received, after a change of a
// member's health (serialised):
//   - a market channel whose member is not up moves to a healthy one: the
//     old member forgets it (so that it does not restore it when it comes
//     back), the new one subscribes (Deribit starts a book channel with a
//     snapshot, so the consumer's books resynchronise). Without a healthy
//     member it stays, and moves at the next member that comes up;
//   - a channel whose member is up but does not keep it (its subscription
//     failed because that member went down meanwhile) is subscribed again;
//   - a private channel none of whose members is up is also subscribed on
//     a healthy member, so that order updates keep coming.
//
// When no member received the private channels for a while, updates may
// have been lost: once they are received again, the observer is told
// (Event.Resync) so that it can read its orders back.
func (p *Pool) rebalance() {
	p.moving.Lock()
	defer p.moving.Unlock()
	p.mu.Lock()
	chs := slices.Sorted(maps.Keys(p.market))
	subscribe := map[int][]string{}
	forget := map[int][]string{}
	var moved uint64
	for k, ch := range chs {
		id := p.market[ch]
		if m := p.members[id]; m.up() {
			if !m.c.Subscribed(ch) {
				subscribe[id] = append(subscribe[id], ch)
			}
			continue
		}
		to := p.marketMember(k + int(p.moved.Load()))
		if to < 0 || to == id {
			continue
		}
		p.market[ch] = to
		forget[id] = append(forget[id], ch)
		subscribe[to] = append(subscribe[to], ch)
		moved++
	}
	covered := true
	for _, ch := range slices.Sorted(maps.Keys(p.orders)) {
		ids := p.orders[ch]
		up := 0
		for _, id := range ids {
			if m := p.members[id]; m.up() {
				up++
				if !m.c.Subscribed(ch) {
					subscribe[id] = append(subscribe[id], ch)
				}
			}
		}
		if up == 0 {
			covered = false
			if to := p.upMemberNotIn(ids); to >= 0 {
				p.orders[ch] = append(ids, to)
				subscribe[to] = append(subscribe[to], ch)
			}
		}
	}
	if !covered {
		p.gap = true
	}
	private := map[int]bool{} // members subscribing private channels in this pass
	for _, ids := range p.orders {
		for _, id := range ids {
			private[id] = true
		}
	}
	p.mu.Unlock()
	for id, chs := range forget {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = p.members[id].c.Unsubscribe(ctx, chs...) // forgets them; the socket is gone anyway
		cancel()
	}
	for id, chs := range subscribe {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := p.members[id].c.Subscribe(ctx, chs...); err != nil {
			p.warns.Warn(p.log, "pool: subscribing failed", "conn", id, "channels", chs, "err", err, "private", private[id])
		}
		cancel()
	}
	p.moved.Add(moved)
	p.mu.Lock()
	resync := p.gap && p.privateUp()
	if resync {
		p.gap = false
	}
	retry := p.gap && !p.closing.Load()
	p.mu.Unlock()
	if retry {
		// Still not received (a subscription failed, or nobody is up):
		// look again soon, whether or not another change of health comes.
		time.AfterFunc(rebalanceRetry, p.rebalance)
	}
	if resync && p.observe != nil {
		p.log.Info("pool: private channels received again after a gap: orders must be read back")
		p.observe(Event{Member: -1, Resync: true, Healthy: p.healthy(), Total: len(p.members), At: time.Now()})
	}
}

// noteGap records a gap in the private channels when member lost carried
// one whose other members are all down too: found at the loss itself, so
// that members that come back before the next rebalance do not hide it.
func (p *Pool) noteGap(lost int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ids := range p.orders {
		if !slices.Contains(ids, lost) {
			continue
		}
		if !slices.ContainsFunc(ids, func(id int) bool { return id != lost && p.members[id].ready.Load() }) {
			p.gap = true
			return
		}
	}
}

// rebalanceRetry is how soon rebalance runs again while the private
// channels are not received.
const rebalanceRetry = 200 * time.Millisecond

// upMemberNotIn returns a member that is up and not in ids, or -1. Called
// with p.mu held.
func (p *Pool) upMemberNotIn(ids []int) int {
	for _, m := range p.members {
		if m.up() && !slices.Contains(ids, m.id) {
			return m.id
		}
	}
	return -1
}

// privateUp reports whether every private channel has a member that is up
// and keeps it. Called with p.mu held.
func (p *Pool) privateUp() bool {
	for ch, ids := range p.orders {
		if !slices.ContainsFunc(ids, func(id int) bool { m := p.members[id]; return m.up() && m.c.Subscribed(ch) }) {
			return false
		}
	}
	return true
}

// Stats are the pool's health.
type Stats struct {
	Total, Healthy int
	Degraded       bool
	Losses         uint64 // connections lost, all members
	Moved          uint64 // market channels moved after a loss
	// AnswerP99 and AnswerMean are over the members' heartbeat answers
	// (the worst p99, the mean of the means).
	AnswerP99, AnswerMean time.Duration
	Members               []MemberStats
}

// MemberStats is one member's health.
type MemberStats struct {
	ID         int
	State      conn.State
	Carried    int64 // orders the consumer says it carries
	InFlight   int64
	Losses     uint64
	Reconnects uint64
	Heartbeat  heartbeat.Snapshot
}

// Stats returns the pool's health.
func (p *Pool) Stats() Stats {
	s := Stats{Total: len(p.members), Losses: p.failed.Load(), Moved: p.moved.Load()}
	var sum time.Duration
	for _, m := range p.members {
		cs := m.c.Stats()
		ms := MemberStats{ID: m.id, State: cs.State, Carried: m.carried.Load(), InFlight: m.calls.Load(),
			Losses: m.losses.Load(), Reconnects: cs.Reconnects, Heartbeat: cs.Heartbeat}
		if m.ready.Load() {
			s.Healthy++
		}
		s.AnswerP99 = max(s.AnswerP99, cs.Heartbeat.AnswerLatency.P99)
		sum += cs.Heartbeat.AnswerLatency.Mean
		s.Members = append(s.Members, ms)
	}
	if len(p.members) > 0 {
		s.AnswerMean = sum / time.Duration(len(p.members))
	}
	s.Degraded = s.Healthy < p.cfg.MinHealthy
	return s
}

// Close closes every member.
func (p *Pool) Close() {
	p.closing.Store(true)
	for _, m := range p.members {
		m.c.Close()
	}
}
