package shm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// far is a deadline no test reaches: waits end on events.
func far() time.Time { return time.Now().Add(time.Hour) }

// pair maps one region twice, as two processes would: the creator's and
// the opener's mappings of the same memfd.
func pair(t *testing.T, opts ...Option) (parent, child *Endpoint) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("shared memory: Linux only")
	}
	a, err := Create(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	fd, err := unix.Dup(int(a.File().Fd()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenFD(fd, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if b.RingSize() != a.RingSize() {
		t.Fatalf("opened ring size %d, created %d", b.RingSize(), a.RingSize())
	}
	return a.Parent(), b.Child()
}

// memPair is a region over process memory (for the fuzz target and the
// hostile-peer tests, which write the peer's fields directly).
func memPair(size int) (mem []byte, parent, child *Endpoint) {
	words := make([]uint64, regionSize(size)/8)
	mem = unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
	writeHeader(mem, size)
	life := &lifetime{}
	return mem, newEndpoint(mem, size, 0, 0, life), newEndpoint(mem, size, 1, 0, life)
}

func payload(i, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i + j*7)
	}
	return b
}

// TestEchoGoroutines: a parent and a child goroutine exchange records of
// every size around the ring's wrap, both ways, in order and intact.
func TestEchoGoroutines(t *testing.T) {
	for _, spin := range []time.Duration{0, DefaultSpin} {
		t.Run(fmt.Sprintf("spin=%v", spin), func(t *testing.T) {
			p, c := pair(t, WithRingSize(MinRingSize), WithSpin(spin))
			const n = 2000
			errc := make(chan error, 1)
			go func() {
				var buf []byte
				for range n {
					typ, b, err := c.Recv(buf, far())
					if err != nil {
						errc <- err
						return
					}
					buf = b
					if err := c.Send(typ+1, far(), b[:len(b)/2], b[len(b)/2:]); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			var buf []byte
			for i := range n {
				want := payload(i, (i*37)%(MinRingSize/2))
				typ, got, err := p.Call(byte(i%200), want, buf, far())
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if typ != byte(i%200)+1 || !bytes.Equal(got, want) {
					t.Fatalf("call %d: type %d, %d bytes; want type %d, %d bytes", i, typ, len(got), i%200+1, len(want))
				}
				buf = got
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if st := p.Stats(); st.Received != n || st.Spun+st.Slept > n {
				t.Fatalf("%d calls: %+v", n, st)
			}
		})
	}
}

// TestStreamFillsTheRing: a producer far ahead of its consumer waits for
// space and loses nothing.
func TestStreamFillsTheRing(t *testing.T) {
	p, c := pair(t, WithRingSize(MinRingSize))
	const n = 3000
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if err := p.Send('s', far(), payload(i, 1+i%1500)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var buf []byte
	for i := range n {
		typ, got, err := c.Recv(buf, far())
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if typ != 's' || !bytes.Equal(got, payload(i, 1+i%1500)) {
			t.Fatalf("record %d differs", i)
		}
		buf = got
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestDeadline(t *testing.T) {
	p, c := pair(t, WithRingSize(MinRingSize), WithSpin(0))
	if _, _, err := p.Recv(nil, time.Now()); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Recv on an empty ring: %v, want a deadline error", err)
	}
	// A full ring: Send waits for space until its deadline.
	big := make([]byte, MinRingSize/2)
	if err := p.Send('a', far(), big); err != nil {
		t.Fatal(err)
	}
	if err := p.Send('b', time.Now(), big); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Send into a full ring: %v, want a deadline error", err)
	}
	if _, _, err := c.Recv(nil, far()); err != nil {
		t.Fatal(err)
	}
	if err := p.Send('b', far(), big); err != nil {
		t.Fatalf("Send after the consumer made room: %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	p, _ := pair(t, WithRingSize(MinRingSize))
	if err := p.Send('x', far(), make([]byte, p.MaxRecord()+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Send of MaxRecord+1 bytes: %v, want ErrTooLarge", err)
	}
	if err := p.Send('x', far(), make([]byte, p.MaxRecord())); err != nil {
		t.Fatalf("Send of MaxRecord bytes: %v", err)
	}
}

// TestAbortWakesAWaiter: Abort from another goroutine ends a wait that
// would otherwise last an hour, with the error given, and every later call.
func TestAbortWakesAWaiter(t *testing.T) {
	p, _ := pair(t, WithSpin(0))
	gone := errors.New("child exited")
	errc := make(chan error, 1)
	go func() {
		_, _, err := p.Recv(nil, far())
		errc <- err
	}()
	p.Abort(gone)
	p.Abort(errors.New("second")) // the first error stays
	if err := <-errc; !errors.Is(err, gone) {
		t.Fatalf("Recv after Abort: %v, want %v", err, gone)
	}
	if err := p.Send('x', far(), nil); !errors.Is(err, gone) {
		t.Fatalf("Send after Abort: %v, want %v", err, gone)
	}
}

// TestHostilePeer: every index or header a peer can break gives
// ErrCorrupt, sticky, and no panic.
func TestHostilePeer(t *testing.T) {
	const size = MinRingSize
	for _, tc := range []struct {
		name string
		harm func(mem []byte, peer *Endpoint)
		send bool // the victim's Send meets it (else its Recv)
	}{
		{"head beyond the ring", func(_ []byte, c *Endpoint) { c.tx.head.Store(size + 8) }, false},
		{"head behind the tail", func(_ []byte, c *Endpoint) { c.tx.head.Store(^uint64(7)) }, false},
		{"head not aligned", func(_ []byte, c *Endpoint) { c.tx.head.Store(12) }, false},
		{"length beyond the head", func(mem []byte, c *Endpoint) {
			_ = c.Send('x', far(), []byte("hello"))
			binary.LittleEndian.PutUint32(mem[headerSize+size:], 64)
		}, false},
		{"length of 4 GiB", func(mem []byte, c *Endpoint) {
			_ = c.Send('x', far(), []byte("hello"))
			binary.LittleEndian.PutUint32(mem[headerSize+size:], ^uint32(0))
		}, false},
		{"header padding not zero", func(mem []byte, c *Endpoint) {
			_ = c.Send('x', far(), []byte("hello"))
			mem[headerSize+size+6] = 1
		}, false},
		{"tail beyond the head", func(_ []byte, c *Endpoint) { c.rx.tail.Store(8) }, true},
		{"tail far behind", func(_ []byte, c *Endpoint) { c.rx.tail.Store(^uint64(size)) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, victim, peer := memPair(size)
			tc.harm(mem, peer)
			var err error
			if tc.send {
				err = victim.Send('y', far(), []byte("z"))
			} else {
				_, _, err = victim.Recv(nil, far())
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
			if _, _, err2 := victim.Recv(nil, time.Now()); !errors.Is(err2, ErrCorrupt) {
				t.Fatalf("the next call: %v, want ErrCorrupt (sticky)", err2)
			}
		})
	}
}

// TestCloseEndsAWaiter: Close while a call waits for an hour ends the
// call with ErrClosed before it unmaps; an Abort and calls after Close
// touch no unmapped memory.
func TestCloseEndsAWaiter(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	r, err := Create(WithRingSize(MinRingSize), WithSpin(0))
	if err != nil {
		t.Fatal(err)
	}
	ep := r.Parent()
	errc := make(chan error, 1)
	go func() {
		_, _, err := ep.Recv(nil, far())
		errc <- err
	}()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Recv across Close: %v, want ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ep.Abort(nil)
	if err := ep.Send('x', far(), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
	if _, _, err := ep.Recv(nil, far()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Recv after Close: %v, want ErrClosed", err)
	}
}

// TestHammer: both sides send and receive at once, each on its own
// goroutine, records of many sizes, until both have all of the other's.
func TestHammer(t *testing.T) {
	p, c := pair(t, WithRingSize(MinRingSize))
	const n = 5000
	side := func(ep *Endpoint, mine, theirs byte) error {
		var buf []byte
		for i := range n {
			if err := ep.Send(mine, far(), payload(i, i%700)); err != nil {
				return err
			}
			tp, got, err := ep.Recv(buf, far())
			if err != nil {
				return err
			}
			if tp != theirs || !bytes.Equal(got, payload(i, i%700)) {
				return fmt.Errorf("record %d of %c differs", i, theirs)
			}
			buf = got
		}
		return nil
	}
	errs := make(chan error, 2)
	go func() { errs <- side(p, 'p', 'c') }()
	go func() { errs <- side(c, 'c', 'p') }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestAbortKeepsPublishedRecords: a reply the peer published before it
// went (and before whoever saw it go aborted the endpoint) is still
// received; the abort's error comes once the ring is empty.
func TestAbortKeepsPublishedRecords(t *testing.T) {
	p, c := pair(t, WithSpin(0))
	if err := c.Send('r', far(), []byte("last words")); err != nil {
		t.Fatal(err)
	}
	gone := errors.New("child exited")
	p.Abort(gone)
	if typ, got, err := p.Recv(nil, far()); err != nil || typ != 'r' || string(got) != "last words" {
		t.Fatalf("Recv of a published record after Abort: %c %q %v", typ, got, err)
	}
	if _, _, err := p.Recv(nil, far()); !errors.Is(err, gone) {
		t.Fatalf("Recv of an empty ring after Abort: %v, want %v", err, gone)
	}
}

// TestAbortAfterAWaitKeepsPublishedRecords: a record published while the
// consumer sleeps, and then the abort (a child that replies and exits: the
// liveness goroutine's abort may wake the wait before the reply's wake-up
// does), is still received before the abort's error.
func TestAbortAfterAWaitKeepsPublishedRecords(t *testing.T) {
	p, c := pair(t, WithSpin(0))
	type result struct {
		typ byte
		got []byte
		err error
	}
	res := make(chan result, 1)
	go func() {
		typ, got, err := p.Recv(nil, far())
		res <- result{typ, got, err}
	}()
	for p.rx.dataWait.Load() == 0 { // the consumer is in its wait
		runtime.Gosched()
	}
	// Published without the wake-up, which the abort brings instead.
	c.tx.put('r', uint64(len("last words")), [][]byte{[]byte("last words")})
	gone := errors.New("child exited")
	p.Abort(gone)
	if r := <-res; r.err != nil || r.typ != 'r' || string(r.got) != "last words" {
		t.Fatalf("Recv of a record published during its wait, then Abort: %c %q %v", r.typ, r.got, r.err)
	}
	if _, _, err := p.Recv(nil, far()); !errors.Is(err, gone) {
		t.Fatalf("Recv of an empty ring after Abort: %v, want %v", err, gone)
	}
}

// TestWords: a word one side stores the other reads; words are zero at
// first and out-of-range indexes panic.
func TestWords(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("shared memory: Linux only")
	}
	a, err := Create(WithRingSize(MinRingSize))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	fd, err := unix.Dup(int(a.File().Fd()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenFD(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range NumWords {
		if v := a.Word(i).Load(); v != 0 {
			t.Fatalf("word %d is %d at first", i, v)
		}
		b.Word(i).Store(uint64(1000 + i))
	}
	for i := range NumWords {
		if v := a.Word(i).Load(); v != uint64(1000+i) {
			t.Fatalf("word %d: the other side reads %d", i, v)
		}
	}
	// The words do not overlap the rings: a full round trip leaves them.
	pe, ce := a.Parent(), b.Child()
	if err := pe.Send('x', far(), make([]byte, pe.MaxRecord())); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ce.Recv(nil, far()); err != nil {
		t.Fatal(err)
	}
	if v := a.Word(NumWords - 1).Load(); v != uint64(1000+NumWords-1) {
		t.Fatalf("last word %d after a full ring", v)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Word(NumWords) did not panic")
		}
	}()
	a.Word(NumWords)
}

// A consumer that sleeps is told when the producer woke it, and only then;
// its wait counts its data as late until that moment, not until its own
// wake-up ended (which on a VM can take longer than the whole spin).
func TestWakeTellsWhen(t *testing.T) {
	_, parent, child := memPair(MinRingSize)
	r := &child.tx // parent.rx's ring: the child produces into it
	if err := child.Send('x', far(), []byte("a")); err != nil {
		t.Fatal(err)
	}
	if r.dataWoke.Load() != 0 {
		t.Fatal("a producer stamped a wake-up with nobody asleep")
	}
	parent.rx.dataWait.Store(1) // the parent sleeps
	before := time.Now().UnixNano()
	seq := r.dataSeq.Load()
	if err := child.Send('x', far(), []byte("b")); err != nil {
		t.Fatal(err)
	}
	woke := int64(r.dataWoke.Load())
	if woke < before || woke > time.Now().UnixNano() || r.dataSeq.Load() != seq+1 {
		t.Fatalf("wake-up stamped %d (sent after %d), futex word %d → %d", woke, before, seq, r.dataSeq.Load())
	}

	start := time.Unix(0, 1_000_000)
	for _, c := range []struct {
		took time.Duration
		woke uint64
		want time.Duration
	}{
		{5 * time.Millisecond, 1_000_000 + 3000, 3 * time.Microsecond}, // woken 3 µs in, awake 5 ms later
		{5 * time.Millisecond, 1_000_000, 0},
		{5 * time.Millisecond, 999_999, 5 * time.Millisecond},         // a mark from before the wait
		{5 * time.Millisecond, 1_000_000 + 6e6, 5 * time.Millisecond}, // after it: a lie
		{5 * time.Millisecond, 0, 5 * time.Millisecond},
		{5 * time.Millisecond, ^uint64(0), 5 * time.Millisecond},
	} {
		if got := lateness(start, c.took, c.woke); got != c.want {
			t.Errorf("lateness(took %v, woke %d) = %v, want %v", c.took, c.woke, got, c.want)
		}
	}
}

// The spin limit doubles after a sleep that a longer spin would have
// caught and halves after a longer one, down to none; a spin of none comes
// back as soon as a wait's data comes within the longest spin.
func TestAdapt(t *testing.T) {
	e := &Endpoint{maxSpin: 20 * time.Microsecond, spin: 20 * time.Microsecond}
	want := []time.Duration{10e3, 5e3, 2500, 1250, 625, 0, 0}
	for i, w := range want {
		e.adapt(30 * time.Microsecond)
		if e.spin != w {
			t.Fatalf("after %d late waits: spin %v, want %v", i+1, e.spin, w)
		}
	}
	for _, w := range []time.Duration{minSpin, 2 * minSpin, 4 * minSpin} {
		e.adapt(12 * time.Microsecond)
		if e.spin != w {
			t.Fatalf("spin %v, want %v", e.spin, w)
		}
	}
	for range 10 {
		e.adapt(12 * time.Microsecond)
	}
	if e.spin != e.maxSpin {
		t.Fatalf("spin %v, want the longest, %v", e.spin, e.maxSpin)
	}
	off := &Endpoint{}
	off.adapt(time.Microsecond)
	if off.spin != 0 {
		t.Fatalf("an endpoint without spin spins %v", off.spin)
	}
}
