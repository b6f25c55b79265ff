package shm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// childEnv names the mode in which the test binary, re-executed, serves as
// the peer process (TestMain).
const childEnv = "STRATBOX_SHM_TEST_CHILD"

// Request types of the test child.
const (
	typEcho    = 'E' // reply with the same payload
	typCPU     = 'Q' // reply with the child's CPU time (ns, u64)
	typDie     = 'K' // exit without replying (a peer that dies mid-call)
	typCorrupt = 'C' // publish a head that does not fit the ring, and wake
	typExit    = 'X' // reply, then exit 0
)

func TestMain(m *testing.M) {
	switch mode := os.Getenv(childEnv); mode {
	case "":
		os.Exit(m.Run())
	case "ring":
		os.Exit(serveRing())
	case "pipe":
		os.Exit(servePipe())
	default:
		fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
		os.Exit(2)
	}
}

// serveRing is the child over the region at descriptor 3: stdin is the
// liveness pipe (its end aborts the endpoint).
func serveRing() int {
	r, err := OpenFD(3)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	ep := r.Child()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		ep.Abort(ErrPeerGone)
	}()
	var buf []byte
	far := time.Now().Add(time.Hour)
	for {
		typ, p, err := ep.Recv(buf, far)
		if errors.Is(err, ErrPeerGone) {
			return 0
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 2
		}
		buf = p
		switch typ {
		case typEcho:
			err = ep.Send(typEcho, far, p)
		case typCPU:
			err = ep.Send(typCPU, far, binary.LittleEndian.AppendUint64(nil, uint64(cpuTime())))
		case typDie:
			return 3
		case typCorrupt:
			ep.tx.head.Store(ep.tx.pos + ep.tx.size + 8)
			ep.tx.dataSeq.Add(1)
			futexWake(ep.tx.dataSeq)
		case typExit:
			_ = ep.Send(typExit, far)
			return 0
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 2
		}
	}
}

// servePipe is the same echo over stdin/stdout frames (u32 length, u8
// type, 3 zero bytes, payload): the pipe transport's floor.
func servePipe() int {
	in, out := bufio.NewReaderSize(os.Stdin, 64<<10), bufio.NewWriterSize(os.Stdout, 64<<10)
	var hdr [8]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(in, hdr[:]); err != nil {
			return 0
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(in, buf); err != nil {
			return 2
		}
		reply := buf
		if hdr[4] == typCPU {
			reply = binary.LittleEndian.AppendUint64(nil, uint64(cpuTime()))
			binary.LittleEndian.PutUint32(hdr[:], uint32(len(reply)))
		}
		_, _ = out.Write(hdr[:])
		_, _ = out.Write(reply)
		if out.Flush() != nil {
			return 2
		}
	}
}

// cpuTime is this process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ringChild is a child process serving a region.
type ringChild struct {
	cmd    *exec.Cmd
	r      *Region
	ep     *Endpoint
	stdin  io.WriteCloser
	exited chan struct{} // closed when the child was reaped
}

// startRingChild starts the test binary as the ring child; the parent's
// endpoint is aborted when the child exits.
func startRingChild(tb testing.TB, opts ...Option) *ringChild {
	tb.Helper()
	if runtime.GOOS != "linux" {
		tb.Skip("shared memory: Linux only")
	}
	r, err := Create(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// atexit_sleep_ms: the race detector would hold every exit a second.
	cmd.Env = append(os.Environ(), childEnv+"=ring", "GORACE=atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	if fd := r.Attach(cmd); fd != 3 {
		tb.Fatalf("Attach gave descriptor %d, want 3", fd)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	c := &ringChild{cmd: cmd, r: r, ep: r.Parent(), stdin: stdin, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		c.ep.Abort(ErrPeerGone)
		close(c.exited)
	}()
	tb.Cleanup(func() {
		_ = stdin.Close()
		<-c.exited
		_ = r.Close()
	})
	return c
}
