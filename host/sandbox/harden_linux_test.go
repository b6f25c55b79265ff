//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testChildConfined makes the test binary a child that confines itself as
// a plugin's child does after the load, then tries what a plugin that
// escaped wasm would, and reports on stdout, one line each:
//
//	fd <n> <target>   each descriptor it has before confining
//	open <errno>      os.Open of a file after confining (0: opened)
//	socket <errno>    a TCP socket after confining
//	exec <errno>      an execve after confining
//
// then waits for its stdin to close.
const testChildConfined = "__stratbox_test_child_confined"

func serveConfinedProbe() int {
	w := bufio.NewWriter(os.Stdout)
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(w, "fd %s %s\n", e.Name(), target)
	}
	if err := confine(); err != nil {
		fmt.Fprintf(w, "confine %v\n", err)
		w.Flush()
		return 1
	}
	errno := func(err error) int {
		var e syscall.Errno
		if errors.As(err, &e) {
			return int(e)
		}
		if err != nil {
			return -1
		}
		return 0
	}
	f, err := os.Open("/etc/hostname")
	if err == nil {
		f.Close()
	}
	fmt.Fprintf(w, "open %d\n", errno(err))
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.Close(fd)
	}
	fmt.Fprintf(w, "socket %d\n", errno(err))
	err = syscall.Exec("/bin/true", []string{"true"}, nil)
	fmt.Fprintf(w, "exec %d\n", errno(err))
	fmt.Fprintln(w, "end")
	w.Flush()
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes it
	return 0
}

// leakFile opens a file in the parent without close-on-exec, as a
// descriptor the host inherited would be (`host run 7<file`).
func leakFile(t *testing.T) (fd int, path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "parent-secret")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Open(path, syscall.O_RDONLY, 0) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return fd, path
}

// Issue 15, reproduction 5: the child inherits its pipes only (a
// descriptor the parent holds without close-on-exec is not in it), and,
// once confined, cannot open a file, create a socket or execute a program.
func TestChildConfined(t *testing.T) {
	fd, path := leakFile(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := procLoad(t, "count", PluginConfig{})
	s := procNew(t, p, ProcessConfig{Path: exe, Args: []string{testChildConfined}})
	if err := s.spawn(1); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[string]string{}
	var fds []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("child report: %v (so far %q)", err, got)
		}
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "end" {
			break
		}
		if f[0] == "fd" {
			fds = append(fds, strings.Join(f[1:], " "))
			if len(f) > 2 && f[2] == path {
				t.Errorf("the child has the parent's descriptor %d as its %s", fd, f[1])
			}
			continue
		}
		got[f[0]] = strings.Join(f[1:], " ")
	}
	// Beyond 0-2, only the shared-memory region of the transport and what
	// the child's runtime opened itself: its poller, the cgroup files it
	// reads GOMAXPROCS from, the listing's directory.
	for _, d := range fds {
		f := strings.Fields(d)
		n, _ := strconv.Atoi(f[0])
		if n <= 2 || len(f) < 2 {
			continue
		}
		if tg := f[1]; !strings.HasPrefix(tg, "anon_inode:") && !strings.HasPrefix(tg, "/sys/fs/cgroup/") && !strings.HasPrefix(tg, "/proc/") &&
			!strings.HasPrefix(tg, "/memfd:stratbox-shm") {
			t.Errorf("the child has descriptor %s", d)
		}
	}
	eperm := strconv.Itoa(int(syscall.EPERM))
	for _, k := range []string{"open", "socket", "exec"} {
		if got[k] != eperm {
			t.Errorf("%s after confining: errno %q, want EPERM (%s)", k, got[k], eperm)
		}
	}
}

// The real child of a plugin, started as the engine starts it: only its
// pipes from the parent, no_new_privs, the seccomp filter, the limits.
func TestChildHardened(t *testing.T) {
	fd, path := leakFile(t)
	p := procLoad(t, "count", PluginConfig{MemoryLimitPages: 100})
	s := procNew(t, p, ProcessConfig{Limits: ProcessLimits{CPUTime: 90 * time.Second}})
	if _, err := s.Start(context.Background(), procStartup(t), procT0); err != nil {
		t.Fatal(err)
	}
	pid := s.cmd.Process.Pid
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		if target == path {
			t.Errorf("the child has the parent's descriptor %d as its %s", fd, e.Name())
		}
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NoNewPrivs:\t1", "Seccomp:\t2"} {
		if auditArch == 0 && want == "Seccomp:\t2" {
			continue
		}
		if !strings.Contains(string(status), want) {
			t.Errorf("child status lacks %q", want)
		}
	}
	var lim unix.Rlimit
	for _, c := range []struct {
		res  int
		name string
		want uint64
	}{
		{unix.RLIMIT_AS, "RLIMIT_AS", DefaultAddressSpaceBase + 3*100*65536},
		{unix.RLIMIT_CPU, "RLIMIT_CPU", 90},
		{unix.RLIMIT_NOFILE, "RLIMIT_NOFILE", DefaultOpenFiles},
	} {
		if err := unix.Prlimit(pid, c.res, nil, &lim); err != nil {
			t.Fatal(err)
		}
		if lim.Cur != c.want || lim.Max != c.want {
			t.Errorf("%s of the child: %d/%d, want %d", c.name, lim.Cur, lim.Max, c.want)
		}
	}
	// And it still works, confined.
	if _, err := s.Deliver(context.Background(), procTrades(3), procT0); err != nil {
		t.Fatal(err)
	}
}

// An address-space limit below what the child needs fails its start with
// a process fault, not a hang.
func TestChildAddressSpaceTooSmall(t *testing.T) {
	p := procLoad(t, "count", PluginConfig{})
	s := procNew(t, p, ProcessConfig{Limits: ProcessLimits{AddressSpace: 64 << 20}})
	_, err := s.Start(context.Background(), procStartup(t), procT0)
	wantFault(t, err, FaultProcess, "")
}

// A host that runs as root starts its children as another user
// (ProcessConfig.Credential; cmd/host's default is nobody): the child's
// uid and gid are that user's, and it still serves the plugin.
func TestChildRunsAsAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change the child's user")
	}
	const nobody = 65534
	dir, err := os.MkdirTemp("", "stratbox-uid-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(dir, "host.test")
	if err := os.WriteFile(child, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	if err := os.Mkdir(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(cache, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	p := procLoad(t, "count", PluginConfig{})
	s := procNew(t, p, ProcessConfig{Path: child, CacheDir: cache, Credential: &syscall.Credential{Uid: nobody, Gid: nobody}})
	if _, err := s.Start(context.Background(), procStartup(t), procT0); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Uid:\t65534\t65534\t65534\t65534", "Gid:\t65534\t65534\t65534\t65534"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("child status lacks %q:\n%s", want, status)
		}
	}
	for _, line := range strings.Split(string(status), "\n") {
		if g, ok := strings.CutPrefix(line, "Groups:"); ok && strings.TrimSpace(g) != "" {
			t.Errorf("the child keeps supplementary groups %q", g)
		}
	}
	if _, err := s.Deliver(context.Background(), procTrades(3), procT0); err != nil {
		t.Fatal(err)
	}
	// Without a Path, the host's own binary, wherever it is: the test binary sits in go test's 0700
	// build directory, which nobody cannot enter (as `go run`'s does: make run as root), so the
	// child is started from /proc/self/exe.
	s = procNew(t, p, ProcessConfig{CacheDir: cache, Credential: &syscall.Credential{Uid: nobody, Gid: nobody}})
	if _, err := s.Start(context.Background(), procStartup(t), procT0); err != nil {
		t.Fatalf("a child of an unreachable binary as another user: %v", err)
	}
	if _, err := s.Deliver(context.Background(), procTrades(3), procT0); err != nil {
		t.Fatal(err)
	}
}
