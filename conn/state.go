package conn

import (
	"sync"
	"time"
)

// State is where a connection is in its life.
type State int32

// States. A Conn goes Connecting → (Authenticating →) Ready; when its socket
// is lost it goes Degraded and back to Connecting after a backoff; Close (or
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
	// Attempt counts consecutive failed connection attempts (0 when none).
	Attempt int
	At      time.Time
}

// Observer is told of every state change, in order, from a goroutine of its
// own: a slow Observer delays only later reports, never the connection.
// Close waits for the Observer to return from its last call.
type Observer interface {
	StateChanged(StateChange)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(StateChange)

// StateChanged calls f.
func (f ObserverFunc) StateChanged(c StateChange) { f(c) }

// dispatcher delivers state changes to the Observer from its own goroutine.
// push never blocks: changes wait in an unbounded slice (there are a handful
// per reconnect).
type dispatcher struct {
	obs     Observer
	mu      sync.Mutex
	pending []StateChange
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

func newDispatcher(obs Observer) *dispatcher {
	d := &dispatcher{obs: obs, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go d.run()
	return d
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

// close delivers what is pending, then stops the goroutine and waits for it.
func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	<-d.done
}

func (d *dispatcher) run() {
	defer close(d.done)
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
