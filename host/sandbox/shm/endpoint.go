package shm

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Endpoint is one side of a region: it produces into one ring and consumes
// from the other. See the package doc for its concurrency rules.
type Endpoint struct {
	tx, rx ring

	maxSpin time.Duration
	spin    time.Duration // the adaptive spin limit, ≤ maxSpin

	abort  atomic.Pointer[error]
	broken error // a corrupt ring: sticky
	life   *lifetime

	stats Stats
}

// Stats count an endpoint's records and how its waits ended.
type Stats struct {
	// Received counts the records Recv returned.
	Received uint64
	// Spun counts waits that ended while spinning, Slept those that slept
	// in the kernel at least once (a record already there when Recv
	// looks needs no wait).
	Spun, Slept uint64
	// Spin is the current spin limit.
	Spin time.Duration
}

// lifetime guards the mapping: every call holds its read lock, Close its
// write lock, so that nothing touches the memory once it is unmapped.
type lifetime struct {
	mu        sync.RWMutex
	closed    bool
	endpoints []*Endpoint // aborted by Close, under mu
}

// enter starts a call on the mapping; false once it is closed. A true
// return must be followed by leave.
func (l *lifetime) enter() bool {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return false
	}
	return true
}

func (l *lifetime) leave() { l.mu.RUnlock() }

func newEndpoint(mem []byte, size, txRing int, maxSpin time.Duration, life *lifetime) *Endpoint {
	e := &Endpoint{tx: newRing(mem, txRing, size), rx: newRing(mem, 1-txRing, size),
		maxSpin: maxSpin, spin: maxSpin, life: life}
	life.mu.Lock()
	life.endpoints = append(life.endpoints, e)
	life.mu.Unlock()
	return e
}

// MaxRecord is the largest payload Send takes.
func (e *Endpoint) MaxRecord() int { return MaxRecord(int(e.tx.size)) }

// Stats returns the endpoint's wait counters (from the goroutine that uses
// it).
func (e *Endpoint) Stats() Stats {
	s := e.stats
	s.Spin = e.spin
	return s
}

// Send writes one record of type typ whose payload is the concatenation of
// parts, and wakes the peer if it sleeps. When the ring is full it waits for
// space until deadline.
func (e *Endpoint) Send(typ byte, deadline time.Time, parts ...[]byte) error {
	if !e.life.enter() {
		return ErrClosed
	}
	defer e.life.leave()
	if err := e.check(); err != nil {
		return err
	}
	var n uint64
	for _, p := range parts {
		n += uint64(len(p))
	}
	need := recordHeader + align8(n)
	if n > uint64(e.MaxRecord()) {
		return fmt.Errorf("%w: %d bytes, ring of %d", ErrTooLarge, n, e.tx.size)
	}
	free, err := e.tx.free()
	if err != nil {
		return e.fail(err)
	}
	if free < need {
		if err := e.wait(&e.tx, need, deadline); err != nil {
			return err
		}
	}
	e.tx.put(typ, n, parts)
	e.tx.wakeConsumer()
	return nil
}

// Recv waits until deadline for the next record and returns its type and
// payload, copied into buf (grown when too small; pass the last payload
// back to reuse it). A record already published is returned even after an
// Abort; the abort's error comes once the ring is empty.
func (e *Endpoint) Recv(buf []byte, deadline time.Time) (byte, []byte, error) {
	if !e.life.enter() {
		return 0, buf, ErrClosed
	}
	defer e.life.leave()
	for {
		// A record the peer published before it went is still taken: its
		// last reply is not lost to the Abort of whoever saw it exit. So
		// the abort is read before the look at the ring (a record
		// published before the abort is then seen by the look), and an
		// abort that ends a wait is returned only after one more look.
		if e.broken != nil {
			return 0, buf, e.broken
		}
		aborted := e.abort.Load()
		ok, typ, payload, next, err := e.rx.take(buf)
		if err != nil {
			return 0, buf, e.fail(err)
		}
		if ok {
			e.rx.release(next)
			e.stats.Received++
			return typ, payload, nil
		}
		if aborted != nil {
			return 0, buf, *aborted
		}
		if err := e.wait(&e.rx, 0, deadline); err != nil {
			if e.abort.Load() != nil && e.broken == nil {
				continue // look once more
			}
			return 0, buf, err
		}
	}
}

// Call sends a request record and waits until deadline for the next record
// of the peer: "write the batch, wake, wait for the reply".
func (e *Endpoint) Call(typ byte, req, buf []byte, deadline time.Time) (byte, []byte, error) {
	if err := e.Send(typ, deadline, req); err != nil {
		return 0, buf, err
	}
	return e.Recv(buf, deadline)
}

// Abort fails a waiting call at once, and every later one, with err
// (ErrPeerGone when nil); the first error given stays. Safe from any
// goroutine, also after Region.Close.
func (e *Endpoint) Abort(err error) {
	if err == nil {
		err = ErrPeerGone
	}
	if !e.life.enter() {
		e.abort.CompareAndSwap(nil, &err)
		return
	}
	defer e.life.leave()
	e.wake(err)
}

// wake sets the abort error and wakes this side's waits; the mapping is
// held.
func (e *Endpoint) wake(err error) {
	e.abort.CompareAndSwap(nil, &err)
	// Bump the words this side sleeps on: a wait about to sleep sees the
	// change and returns (the futex compares), one asleep is woken.
	e.rx.dataSeq.Add(1)
	futexWake(e.rx.dataSeq)
	e.tx.spaceSeq.Add(1)
	futexWake(e.tx.spaceSeq)
}

// check is the error that ends every call: an abort or a corrupt ring.
func (e *Endpoint) check() error {
	if p := e.abort.Load(); p != nil {
		return *p
	}
	return e.broken
}

func (e *Endpoint) fail(err error) error {
	if e.broken == nil {
		e.broken = err
	}
	return e.broken
}

// ready says whether a wait on r is over: data to consume (need 0) or need
// bytes free to produce.
func (e *Endpoint) ready(r *ring, need uint64) (bool, error) {
	if need == 0 {
		return r.hasData(), nil
	}
	free, err := r.free()
	return free >= need, err
}

// wait spins for up to the adaptive limit, then sleeps on r's futex word
// until r is ready, the endpoint is aborted or deadline passes.
func (e *Endpoint) wait(r *ring, need uint64, deadline time.Time) error {
	seq, flag := r.dataSeq, r.dataWait
	if need != 0 {
		seq, flag = r.spaceSeq, r.spaceWait
	}
	start := time.Now()
	if limit := e.spin; limit > 0 {
		for i := 0; ; i++ {
			ok, err := e.ready(r, need)
			if err != nil {
				return e.fail(err)
			}
			if ok {
				e.stats.Spun++
				return nil
			}
			if i&63 == 63 && time.Since(start) >= limit {
				break
			}
		}
	}
	for {
		if err := e.check(); err != nil {
			return err
		}
		s := seq.Load()
		flag.Swap(1) // before the last look, a full barrier: the producer looks at the flag after it publishes (ring.put)
		ok, err := e.ready(r, need)
		if err != nil {
			flag.Store(0)
			return e.fail(err)
		}
		if ok {
			flag.Store(0)
			break
		}
		remain := time.Until(deadline)
		if remain <= 0 {
			flag.Store(0)
			return deadlineErr("wait for the peer")
		}
		futexWait(seq, s, min(remain, maxSleep))
		flag.Store(0)
	}
	e.stats.Slept++
	took := time.Since(start)
	if need == 0 {
		took = lateness(start, took, r.dataWoke.Load())
	}
	e.adapt(took)
	return nil
}

// lateness is how late the data of a wait that began at start and took
// took came: until woke, the wall clock at which the producer woke this
// side (Unix ns), where that falls within the wait; else took (a stale
// mark, a wake-up by Abort or by the sleep's own bound, or a peer's lie).
func lateness(start time.Time, took time.Duration, woke uint64) time.Duration {
	if d := int64(woke) - start.UnixNano(); d >= 0 && d <= int64(took) {
		return time.Duration(d)
	}
	return took
}

// adapt sets the spin limit after a wait that slept, from how late the
// peer's data or space came (w): a wait that a longer spin would have caught
// doubles it (up to maxSpin), a longer one halves it, so that a peer slow
// to answer costs no spinning. w is from the wait's start to the peer's
// wake-up where the peer says when that was (a data wait), not to the end
// of this side's own wake-up: counting that would make a spin, once
// shortened, stay too short for waits it would catch (on a VM the wake-up
// of a sleeping thread can take longer than the whole spin). A peer that
// lies about the time only moves this side's spin within its limits.
func (e *Endpoint) adapt(w time.Duration) {
	if e.maxSpin <= 0 {
		return
	}
	if w <= e.maxSpin {
		e.spin = min(e.maxSpin, max(2*e.spin, minSpin))
	} else {
		e.spin /= 2
		if e.spin < minSpin {
			e.spin = 0
		}
	}
}
