package hostid

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain lets a test start this binary as a second host process that
// holds an id until its stdin closes.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "hold" {
		l, err := Acquire(os.Args[2], os.Args[3])
		if err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("held " + l.ID + " " + l.Run + "\n")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the test closes stdin
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holdIn starts another process that holds id (or a free one, id "") in
// dir; it returns the id and a function that ends the process.
func holdIn(t *testing.T, dir, id string) (string, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "hold", dir, id)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "held" {
		t.Fatalf("the other process: %q", line)
	}
	stop := func() {
		in.Close()
		_ = cmd.Wait()
	}
	t.Cleanup(stop)
	return f[1], stop
}

// A configured id that another live process holds is refused with an
// error that names the id, the lock file and the holder's pid; once that
// process is gone the id is free, and its run count goes on.
func TestConfiguredIDHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	_, stop := holdIn(t, dir, "alpha")
	_, err := Acquire(dir, "alpha")
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), `"alpha"`) || !strings.Contains(err.Error(), "host-alpha.lock") ||
		!strings.Contains(err.Error(), "pid ") || strings.Contains(err.Error(), "pid ?") {
		t.Fatalf("err = %v", err)
	}
	stop()
	l, err := Acquire(dir, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.ID != "alpha" || l.Run != "2" || l.New {
		t.Fatalf("lease %+v, want alpha run 2", l)
	}
}

// Without a configured id, a second host on the machine takes another id
// and says which ids were busy; a later run takes the free id of an earlier
// one (whose leftover orders its reconciliation then cancels).
func TestDefaultIDsNeverShared(t *testing.T) {
	dir := t.TempDir()
	first, _ := holdIn(t, dir, "")
	l, err := Acquire(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if l.ID == first || !l.New || len(l.Busy) != 1 || l.Busy[0] != first || l.Run != "1" {
		t.Fatalf("second host: %+v; the first holds %s", l, first)
	}
	// In one process too: each Acquire is a lock of its own.
	l2, err := Acquire(dir, l.ID)
	if !errors.Is(err, ErrHeld) {
		t.Fatalf("a held id taken twice: %+v %v", l2, err)
	}
	l.Close()
	l3, err := Acquire(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer l3.Close()
	if l3.ID != l.ID || l3.New || l3.Run != "2" {
		t.Fatalf("after the second host stopped: %+v, want its id %s back, run 2", l3, l.ID)
	}
	if fi, err := os.Stat(l3.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file %v %v", fi, err)
	}
}

func TestInvalidID(t *testing.T) {
	for _, id := range []string{"Alpha", "-a", "a b", "a:b", strings.Repeat("a", 17)} {
		if _, err := Acquire(t.TempDir(), id); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), id) {
			t.Errorf("%q: %v", id, err)
		}
	}
}
