// Package hostid gives a host process the id its orders' labels carry
// (deribit.Owner) and a run id, and guarantees that no two live processes
// hold the same host id: each id is a lock file in a state directory,
// flock'd by the process that holds it for as long as it lives. The kernel
// drops the lock when the process dies, however it dies, so an id is never
// left held by a crashed host.
//
// Acquire with a configured id takes that id or fails (ErrHeld, naming the
// lock file and the holder's pid). Without one it takes the first id of the
// directory that no live process holds (an earlier run's: the new run's
// start-up reconciliation cancels that run's leftover orders), or makes a
// new one. The run id counts the runs of the id (base 36), persisted in its
// lock file.
//
// A Lease is not safe for concurrent use; Close releases it. Errors wrap
// ErrHeld or the file system's error, and name the file.
package hostid

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/stratbox/stratbox/venue/deribit"
)

// ErrHeld is the error of a host id that another live process holds.
var ErrHeld = errors.New("hostid: the host id is held by another running process")

// ErrInvalid is the error of a configured id that cannot be a label's.
var ErrInvalid = errors.New("hostid: invalid host id")

// Lease is a held host id.
type Lease struct {
	// ID is the host id; Run this run's id (1..8 of 0-9, a-z).
	ID, Run string
	// New: the id was made for this run (no free id in the directory).
	New bool
	// Busy are the ids of the directory that live processes hold.
	Busy []string
	// Path is the lock file.
	Path string
	f    *os.File
}

const (
	prefix = "host-"
	suffix = ".lock"
)

// Acquire takes a host id in dir (created, mode 0700, if missing): want,
// or, when want is "", the first free one of dir or a new one.
func Acquire(dir, want string) (*Lease, error) {
	if want != "" && !deribit.ValidHostID(want) {
		return nil, fmt.Errorf("%w %q: want 1 to %d characters of a-z, 0-9 and '-', not starting with '-'",
			ErrInvalid, want, deribit.MaxHostIDLen)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("hostid: state dir: %w", err)
	}
	if want != "" {
		l, err := tryLock(dir, want, false)
		if err != nil {
			return nil, err
		}
		return l, l.nextRun()
	}
	names, err := filepath.Glob(filepath.Join(dir, prefix+"*"+suffix))
	if err != nil {
		return nil, fmt.Errorf("hostid: %w", err)
	}
	slices.Sort(names)
	var busy []string
	for _, n := range names {
		id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), prefix), suffix)
		if !deribit.ValidHostID(id) {
			continue
		}
		l, err := tryLock(dir, id, false)
		if errors.Is(err, ErrHeld) {
			busy = append(busy, id)
			continue
		}
		if err != nil {
			return nil, err
		}
		l.Busy = busy
		return l, l.nextRun()
	}
	for range 10 {
		id := "h" + random(7)
		l, err := tryLock(dir, id, true)
		if errors.Is(err, os.ErrExist) || errors.Is(err, ErrHeld) {
			continue // taken meanwhile
		}
		if err != nil {
			return nil, err
		}
		l.New, l.Busy = true, busy
		return l, l.nextRun()
	}
	return nil, fmt.Errorf("hostid: no new host id could be made in %s", dir)
}

// tryLock opens (or, with create, creates) the lock file of id and locks
// it without waiting.
func tryLock(dir, id string, create bool) (*Lease, error) {
	path := filepath.Join(dir, prefix+id+suffix)
	flags := os.O_RDWR | os.O_CREATE
	if create {
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("hostid: %w", err)
	}
	if err := lock(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("%w: host id %q (lock file %s, held by pid %s): set another [host] id, or leave it unset to take a free one",
				ErrHeld, id, path, holder(path))
		}
		return nil, fmt.Errorf("hostid: lock %s: %w", path, err)
	}
	return &Lease{ID: id, Path: path, f: f}, nil
}

// holder reads the pid a lock file's holder wrote ("?" if not known).
func holder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "?"
	}
	for _, field := range strings.Fields(string(b)) {
		if pid, ok := strings.CutPrefix(field, "pid="); ok {
			return pid
		}
	}
	return "?"
}

// nextRun reads the id's run count, counts this run and writes it back
// with this process's pid.
func (l *Lease) nextRun() error {
	b := make([]byte, 128)
	n, _ := l.f.ReadAt(b, 0)
	var runs uint64
	for _, field := range strings.Fields(string(b[:n])) {
		if v, ok := strings.CutPrefix(field, "runs="); ok {
			runs, _ = strconv.ParseUint(v, 10, 64)
		}
	}
	runs++
	l.Run = strconv.FormatUint(runs%(1<<41), 36) // ≤ 8 characters
	line := fmt.Sprintf("runs=%d pid=%d\n", runs, os.Getpid())
	if err := l.f.Truncate(0); err != nil {
		l.Close()
		return fmt.Errorf("hostid: %s: %w", l.Path, err)
	}
	if _, err := l.f.WriteAt([]byte(line), 0); err != nil {
		l.Close()
		return fmt.Errorf("hostid: %s: %w", l.Path, err)
	}
	if err := l.f.Sync(); err != nil {
		l.Close()
		return fmt.Errorf("hostid: %s: %w", l.Path, err)
	}
	return nil
}

// Close releases the id (idempotent).
func (l *Lease) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the only descriptor drops the flock
	l.f = nil
	return err
}

func random(n int) string {
	const digits = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = digits[int(b[i])%len(digits)]
	}
	return string(b)
}
