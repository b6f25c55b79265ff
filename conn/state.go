package conn

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// State is where a connection is in its life.
type State int32

// States. A Conn goes Connecting → (Authenticating →) Ready; when its socket
// is lost it goes Degraded and back to Connecting at once (after a little
// jitter), and after a failed attempt Degraded again, with backoff; Close (or
// the end of Start's context) takes it to Closed, which is final.
const (
	// StateIdle: built by New, not started.
	StateIdle State = iota
	// StateConnecting: dialing, then setting the heartbeat.
	StateConnecting
	// StateAuthenticating: public/auth, cancel-on-disconnect.
	StateAuthenticating
	// StateReady: heartbeat set, authenticated, subscriptions restored;
	// requests are accepted.
	StateReady
	// StateDegraded: the socket was lost and a reconnect is pending (Err says
	// why), or the socket is up but the notification sink overflowed (Err is
	// ErrSlowConsumer; requests are still accepted).
	StateDegraded
	// StateClosed: final.
	StateClosed
)

var stateNames = [...]string{"idle", "connecting", "authenticating", "ready", "degraded", "closed"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(?)"
}

// StateChange is one transition, as reported to the Observer.
type StateChange struct {
	From, To State
	// Err is the cause of a Degraded or Closed state, or, with Ready, a
	// *SubscribeError for channels that could not be restored.
	Err error
	// Attempt is, with Connecting, the attempt since the last socket was
	// lost (1 for the first re-dial; 0 for the first socket of Start), and
	// with Degraded the consecutive failed attempts so far (0 right after a
	// loss): the count the backoff escalates on, which the next Ready starts
	// over (Backoff).
	Attempt int
	At      time.Time
}

// Observer is told of every state change, in order, from a goroutine of its
// own: a slow Observer delays only later reports, never the connection.
// Close waits for the Observer to return from its last call, except when
// the Observer itself calls Close (as a pool closing a failed connection
// does): then Close returns once the connection is closed, and the
// remaining reports (ending with StateClosed) follow when the Observer
// returns.
type Observer interface {
	StateChanged(StateChange)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(StateChange)

// StateChanged calls f.
func (f ObserverFunc) StateChanged(c StateChange) { f(c) }

// dispatcher delivers state changes to the Observer from its own goroutine.
// push never blocks: changes wait in an unbounded slice (there are a handful
// per reconnect). The goroutine starts with start (Conn.Start) or close,
// so that a Conn built by New and never started holds none.
type dispatcher struct {
	obs       Observer
	mu        sync.Mutex
	pending   []StateChange
	closed    bool
	startOnce sync.Once
	gid       atomic.Uint64 // the goroutine's id, once it runs
	wake      chan struct{}
	done      chan struct{}
}

func newDispatcher(obs Observer) *dispatcher {
	return &dispatcher{obs: obs, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// start starts the goroutine; it is idempotent.
func (d *dispatcher) start() {
	d.startOnce.Do(func() {
		ready := make(chan struct{})
		go d.run(ready)
		<-ready
	})
}

func (d *dispatcher) push(c StateChange) {
	d.mu.Lock()
	if !d.closed {
		d.pending = append(d.pending, c)
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// close delivers what is pending, then stops the goroutine and waits for it,
// unless called from the goroutine itself (an Observer closing its Conn).
func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.start()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	d.wait()
}

// wait waits for the goroutine to end, unless called from it.
func (d *dispatcher) wait() {
	if d.inside() {
		return
	}
	<-d.done
}

// inside reports whether the caller runs on the dispatcher's goroutine.
func (d *dispatcher) inside() bool {
	id := d.gid.Load()
	return id != 0 && id == goroutineID()
}

func (d *dispatcher) run(ready chan<- struct{}) {
	defer close(d.done)
	d.gid.Store(goroutineID())
	close(ready)
	for range d.wake {
		for {
			d.mu.Lock()
			batch := d.pending
			d.pending = nil
			closed := d.closed
			d.mu.Unlock()
			if len(batch) == 0 {
				if closed {
					return
				}
				break
			}
			for _, c := range batch {
				if d.obs != nil {
					d.obs.StateChanged(c)
				}
			}
		}
	}
}

// goroutineID is the calling goroutine's id, parsed from the first line of
// its stack ("goroutine 123 [running]:"). Only Close uses it, to tell a call
// from the Observer (which must not wait for itself) from any other.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
