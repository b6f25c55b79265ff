// Package testplugins builds the repository's Go plugins for tests, as
// `make plugins` builds them (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared
// -trimpath -ldflags=-s), once per test binary.
//
// It is the one helper every package's tests use to get a Go plugin, so that
// they all build it the same way and follow the same rule when they cannot:
// a test is skipped only when there is no go command (neither on PATH nor
// in GOROOT); a plugin that does not build fails the test. Build and Example
// are safe to call from concurrent tests.
package testplugins

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	built = map[string]*result{} // dir → its build, once per process
)

type result struct {
	once sync.Once
	wasm []byte
	err  error
}

// ErrNoGo is the reason a test is skipped: no go command to build with.
var ErrNoGo = errors.New("testplugins: no go command to build the plugins")

// Example builds plugins/examples/<name>.
func Example(tb testing.TB, name string) []byte {
	tb.Helper()
	return Build(tb, "plugins/examples/"+name)
}

// Build builds the Go plugin in dir, a path relative to the repository
// root (such as "plugins/bench/quoter/wasm"), once per test binary, and
// returns the module. It skips tb when there is no go command and fails it
// when the plugin does not build.
func Build(tb testing.TB, dir string) []byte {
	tb.Helper()
	wasm, err := build(dir)
	if errors.Is(err, ErrNoGo) {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return wasm
}

func build(dir string) ([]byte, error) {
	mu.Lock()
	r := built[dir]
	if r == nil {
		r = &result{}
		built[dir] = r
	}
	mu.Unlock()
	r.once.Do(func() { r.wasm, r.err = compile(dir) })
	return r.wasm, r.err
}

func compile(dir string) ([]byte, error) {
	gotool := goCommand()
	if gotool == "" {
		return nil, ErrNoGo
	}
	root, err := Root()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "stratbox-testplugins-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "plugin.wasm")
	cmd := exec.Command(gotool, "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s", "-o", out, "./"+filepath.ToSlash(dir))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("testplugins: go build %s: %w\n%s", dir, err, b)
	}
	return os.ReadFile(out)
}

// goCommand is the go command on PATH, else GOROOT's, else "".
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if runtime.GOOS == "windows" {
		p += ".exe"
	}
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// Root is the repository root: the nearest directory above the working
// directory (a test's package directory) whose go.mod is this module's.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(string(b), "module github.com/stratbox/stratbox\n") {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("testplugins: not inside the stratbox module")
		}
		dir = up
	}
}

// RunWithCache runs m's tests with *dir set to a new temporary directory,
// removed at the end: the compilation cache a test binary's tests and their
// plugin child processes share, so that each module compiles once, not once
// a test (under -race, compiling the Go examples is most of a package's
// time). It returns m.Run's exit code, for os.Exit in TestMain.
func RunWithCache(m *testing.M, dir *string) int {
	d, err := os.MkdirTemp("", "stratbox-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(d)
	*dir = d
	return m.Run()
}
