package shm

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenRejects: Open takes only a sealed memfd with a valid header.
func TestOpenRejects(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	memfd := func(t *testing.T, size int, seal bool) *os.File {
		fd, err := unix.MemfdCreate("t", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
		if err != nil {
			t.Fatal(err)
		}
		f := os.NewFile(uintptr(fd), "t")
		if err := f.Truncate(int64(size)); err != nil {
			t.Fatal(err)
		}
		if seal {
			if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW); err != nil {
				t.Fatal(err)
			}
		}
		return f
	}
	t.Run("not a memfd", func(t *testing.T) {
		f, err := os.CreateTemp(t.TempDir(), "x")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(f); err == nil || !bytes.Contains([]byte(err.Error()), []byte("sealed")) {
			t.Fatalf("Open of a plain file: %v", err)
		}
	})
	t.Run("not sealed", func(t *testing.T) {
		if _, err := Open(memfd(t, regionSize(MinRingSize), false)); err == nil {
			t.Fatal("Open of an unsealed memfd succeeded")
		}
	})
	t.Run("no header", func(t *testing.T) {
		if _, err := Open(memfd(t, regionSize(MinRingSize), true)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open of a zeroed memfd: %v, want ErrCorrupt", err)
		}
	})
	t.Run("bad ring size", func(t *testing.T) {
		if _, err := Create(WithRingSize(MinRingSize + 8)); err == nil {
			t.Fatal("Create with a ring size not a power of two succeeded")
		}
	})
}

// TestPeerCannotResize: the memfd is sealed; a peer that tries to shrink it
// (which would end the other side with SIGBUS) gets an error.
func TestPeerCannotResize(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	r, err := Create(WithRingSize(MinRingSize))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.File().Truncate(0); err == nil {
		t.Fatal("shrinking the memfd succeeded")
	}
	if err := r.File().Truncate(int64(regionSize(MinRingSize) * 2)); err == nil {
		t.Fatal("growing the memfd succeeded")
	}
}
