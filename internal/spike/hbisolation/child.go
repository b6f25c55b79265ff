package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Shared-memory layout (memfd, 64 KiB).
const (
	shmSize    = 64 << 10
	offReqSeq  = 0   // u64, written by parent
	offRespSeq = 64  // u64, written by child (own cache line)
	offN       = 128 // u32 events in request
	offK       = 192 // u32 intents in response
	offReq     = 4096
	offResp    = 8192
	cmdBatch   = 1
	cmdSpin    = 2
	cmdShm     = 3
	shmExit    = ^uint64(0)
)

type childProc struct {
	cmd   *exec.Cmd
	conn  net.Conn
	shm   []byte
	memfd int
	memf  *os.File // keep referenced: its finalizer would close the memfd
	seq   uint64
	hdr   [8]byte
	resp  []byte
}

func u64at(b []byte, off int) *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(&b[off])) }

func spawnChild() *childProc {
	c := &childProc{resp: make([]byte, 8+batchN*16)}
	fd, err := unix.MemfdCreate("spike-ring", 0)
	if err != nil {
		panic(err)
	}
	if err := unix.Ftruncate(fd, shmSize); err != nil {
		panic(err)
	}
	c.memfd = fd
	c.memf = os.NewFile(uintptr(fd), "memfd")
	c.shm, err = unix.Mmap(fd, 0, shmSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		panic(err)
	}
	c.start()
	return c
}

func (c *childProc) start() {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		panic(err)
	}
	parentEnd := os.NewFile(uintptr(fds[0]), "parent")
	childEnd := os.NewFile(uintptr(fds[1]), "child")
	self, _ := os.Executable()
	if niceVal != 0 {
		c.cmd = exec.Command("nice", "-n", fmt.Sprint(niceVal), self, "child")
	} else {
		c.cmd = exec.Command(self, "child")
	}
	c.cmd.Stderr = os.Stderr
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // die with the host
	c.cmd.ExtraFiles = []*os.File{childEnd, c.memf}                      // fd 3, fd 4
	if err := c.cmd.Start(); err != nil {
		panic(err)
	}
	childEnd.Close()
	c.conn, err = net.FileConn(parentEnd)
	if err != nil {
		panic(err)
	}
	parentEnd.Close()
	var b [1]byte
	if _, err := io.ReadFull(c.conn, b[:]); err != nil { // ready
		panic(err)
	}
	u64at(c.shm, offReqSeq).Store(0)
	u64at(c.shm, offRespSeq).Store(0)
	c.seq = 0
}

// respawn SIGKILLs the child and starts a fresh one (plugin state lost). Returns time to ready.
func (c *childProc) respawn() time.Duration {
	t := time.Now()
	c.cmd.Process.Kill()
	c.cmd.Wait()
	c.conn.Close()
	c.start()
	return time.Since(t)
}

func (c *childProc) spinForeverWithDeadline(d time.Duration) bool {
	binary.LittleEndian.PutUint32(c.hdr[0:], cmdSpin)
	c.conn.Write(c.hdr[:])
	c.conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.ReadFull(c.conn, c.resp[:8])
	c.conn.SetReadDeadline(time.Time{})
	return err == nil
}

// dispatchSock: one batch over the unix socket, wait for the reply.
func (c *childProc) dispatchSock(frame []byte) int {
	if _, err := c.conn.Write(frame); err != nil {
		panic(err)
	}
	if _, err := io.ReadFull(c.conn, c.resp[:8]); err != nil {
		panic(err)
	}
	k := int(binary.LittleEndian.Uint32(c.resp))
	if _, err := io.ReadFull(c.conn, c.resp[8:8+k*16]); err != nil {
		panic(err)
	}
	return k
}

func (c *childProc) enterShm() {
	binary.LittleEndian.PutUint32(c.hdr[0:], cmdShm)
	c.conn.Write(c.hdr[:])
}

// dispatchShm: one batch through the shared-memory slot; spin/yield handshake, no futex.
func (c *childProc) dispatchShm(batch []byte, n int) int {
	copy(c.shm[offReq:], batch[:n*eventSize])
	binary.LittleEndian.PutUint32(c.shm[offN:], uint32(n))
	c.seq++
	u64at(c.shm, offReqSeq).Store(c.seq)
	resp := u64at(c.shm, offRespSeq)
	for i := 0; resp.Load() != c.seq; i++ {
		if i&63 == 63 {
			runtime.Gosched()
		}
	}
	k := int(binary.LittleEndian.Uint32(c.shm[offK:]))
	copy(c.resp[8:], c.shm[offResp:offResp+k*16])
	return k
}

func (c *childProc) exitShm() {
	u64at(c.shm, offReqSeq).Store(shmExit)
	resp := u64at(c.shm, offRespSeq)
	for resp.Load() != shmExit {
		runtime.Gosched()
	}
}

func (c *childProc) close() {
	c.cmd.Process.Kill()
	c.cmd.Wait()
	c.conn.Close()
}

// runChild: the plugin host process. Option off: the parent kills us if a call overruns.
func runChild(args []string) {
	ctx := context.Background()
	p := newPlugin(ctx, false)
	sock := os.NewFile(3, "sock")
	shm, err := unix.Mmap(4, 0, shmSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		panic(err)
	}
	sock.Write([]byte{1}) // ready
	hdr := make([]byte, 8)
	buf := make([]byte, batchN*eventSize)
	out := make([]byte, 8+batchN*16)
	for {
		if _, err := io.ReadFull(sock, hdr); err != nil {
			os.Exit(0)
		}
		cmd, n := binary.LittleEndian.Uint32(hdr), int(binary.LittleEndian.Uint32(hdr[4:]))
		switch cmd {
		case cmdBatch:
			if _, err := io.ReadFull(sock, buf[:n*eventSize]); err != nil {
				os.Exit(0)
			}
			k, err := p.dispatch(ctx, buf, n)
			if err != nil {
				k = 0
			}
			binary.LittleEndian.PutUint32(out, uint32(k))
			ob, _ := p.mem.Read(outPtr, uint32(k*16))
			copy(out[8:], ob)
			sock.Write(out[:8+k*16])
		case cmdSpin:
			p.stack[0] = 0
			p.spin.CallWithStack(ctx, p.stack) // never returns
		case cmdShm:
			serveShm(ctx, p, shm)
		}
	}
}

func serveShm(ctx context.Context, p *plugin, shm []byte) {
	req, resp := u64at(shm, offReqSeq), u64at(shm, offRespSeq)
	last := resp.Load()
	for {
		var s uint64
		for i := 0; ; i++ {
			if s = req.Load(); s != last {
				break
			}
			if i&63 == 63 {
				runtime.Gosched()
				if i > 1<<20 { // long idle: back off so an idle ring does not burn a core forever
					syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
				}
			}
		}
		if s == shmExit {
			resp.Store(shmExit)
			return
		}
		n := int(binary.LittleEndian.Uint32(shm[offN:]))
		p.mem.Write(inPtr, shm[offReq:offReq+n*eventSize])
		p.stack[0] = uint64(n)
		k := 0
		if err := p.onEvents.CallWithStack(ctx, p.stack); err == nil {
			k = int(uint32(p.stack[0]))
		}
		ob, _ := p.mem.Read(outPtr, uint32(k*16))
		copy(shm[offResp:], ob)
		binary.LittleEndian.PutUint32(shm[offK:], uint32(k))
		last = s
		resp.Store(s)
	}
}
