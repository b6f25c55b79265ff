//go:build linux

package shm

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Create makes a region: a memfd of the rings' size, sealed so that neither
// side can shrink or grow it, and mapped shared.
func Create(opts ...Option) (*Region, error) {
	o := buildOptions(opts)
	if !validRingSize(o.ring) {
		return nil, fmt.Errorf("shm: ring size %d: want a power of two from %d to %d", o.ring, MinRingSize, MaxRingSize)
	}
	fd, err := unix.MemfdCreate("stratbox-shm", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("shm: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "stratbox-shm")
	size := regionSize(o.ring)
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		return nil, fmt.Errorf("shm: size the memfd: %w", err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, fmt.Errorf("shm: seal the memfd: %w", err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("shm: mmap: %w", err)
	}
	writeHeader(mem, o.ring)
	return &Region{f: f, mem: mem, size: o.ring, spin: o.spin, life: &lifetime{}, unmap: unix.Munmap}, nil
}

// OpenFD opens the region the parent attached as descriptor fd (Attach).
func OpenFD(fd int, opts ...Option) (*Region, error) {
	return Open(os.NewFile(uintptr(fd), "stratbox-shm"), opts...)
}

// Open maps the region of f (a memfd from Create, sealed at its size) and
// checks its header. The region owns f from then on, also on an error.
func Open(f *os.File, opts ...Option) (*Region, error) {
	o := buildOptions(opts)
	fail := func(err error) (*Region, error) {
		f.Close()
		return nil, err
	}
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		return fail(fmt.Errorf("shm: %s is not a sealed memfd: %w", f.Name(), err))
	}
	if want := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW; seals&want != want {
		return fail(fmt.Errorf("shm: %s: memfd not sealed at its size (seals %#x)", f.Name(), seals))
	}
	st, err := f.Stat()
	if err != nil {
		return fail(fmt.Errorf("shm: %w", err))
	}
	if st.Size() < headerSize || st.Size() > int64(regionSize(MaxRingSize)) {
		return fail(fmt.Errorf("%w: region of %d bytes", ErrCorrupt, st.Size()))
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail(fmt.Errorf("shm: mmap: %w", err))
	}
	ring, err := readHeader(mem)
	if err != nil {
		_ = unix.Munmap(mem)
		return fail(err)
	}
	return &Region{f: f, mem: mem, size: ring, spin: o.spin, life: &lifetime{}, unmap: unix.Munmap}, nil
}

// The futex operations (linux/futex.h), shared (no FUTEX_PRIVATE_FLAG):
// the word is in memory another process maps.
const (
	futexWaitOp = 0
	futexWakeOp = 1
)

// futexWait sleeps while *w == val, for d at most (a shared futex: the
// word is in memory that another process maps). A wake, a change of the
// word, a signal and the timeout all return; the caller looks again.
func futexWait(w *atomic.Uint32, val uint32, d time.Duration) {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWaitOp, uintptr(val),
		uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// futexWake wakes the one waiter on w, if any.
func futexWake(w *atomic.Uint32) {
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWakeOp, 1, 0, 0, 0)
}
