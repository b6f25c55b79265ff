package conformance_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratbox/stratbox/host"
)

var update = flag.Bool("update", false, "rewrite the golden files of the scenario")

// testCacheDir is the compilation cache shared with the child processes.
var testCacheDir string

// TestMain serves a plugin instance when the test binary is started as a
// child process (host.ChildArg); otherwise it runs the tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == host.ChildArg {
		os.Exit(host.ServeChild(os.Stdin, os.Stdout))
	}
	flag.Parse()
	dir, err := os.MkdirTemp("", "stratbox-conformance-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testCacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Languages of the example plugins.
const (
	langGo  = "Go"
	langAS  = "AssemblyScript"
	langWAT = "WAT"
	langRS  = "Rust"
)

// example is one example plugin.
type example struct {
	name, lang string
	dir        string // plugins/examples/<name>, relative to this package
	wasm       []byte
}

var (
	buildMu sync.Mutex
	built   = map[string][]byte{}
	cache   *host.Cache
	cacheMu sync.Mutex
)

// examples finds every example under ../examples and returns its module:
// a Go example built as `make plugins` builds it, an AssemblyScript, WAT or
// Rust one from the committed .wasm next to its source (logged).
func examples(t testing.TB) []example {
	t.Helper()
	dirs, err := filepath.Glob("../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		name := filepath.Base(dir)
		ex := example{name: name, dir: dir}
		switch {
		case exists(filepath.Join(dir, "main.go")):
			ex.lang, ex.wasm = langGo, buildGo(t, dir)
		case exists(filepath.Join(dir, "assembly", "index.ts")):
			ex.lang, ex.wasm = langAS, committed(t, dir, "assembly/index.ts")
		case exists(filepath.Join(dir, name+".wat")):
			ex.lang, ex.wasm = langWAT, committed(t, dir, name+".wat")
		case exists(filepath.Join(dir, "Cargo.toml")):
			ex.lang, ex.wasm = langRS, committed(t, dir, "src/lib.rs")
		default:
			t.Errorf("example %s has no source this suite knows (main.go, assembly/index.ts, %s.wat, Cargo.toml)", dir, name)
			continue
		}
		out = append(out, ex)
	}
	langs := map[string]bool{}
	for _, ex := range out {
		langs[ex.lang] = true
	}
	if !langs[langGo] || !langs[langAS] || !langs[langWAT] || !langs[langRS] {
		t.Fatalf("examples in %v only; want Go, AssemblyScript, WAT and Rust", langs)
	}
	return out
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// committed reads the committed binary of a non-Go example (or fixture):
// `make plugins` checks that its source builds to it.
func committed(t testing.TB, dir, source string) []byte {
	t.Helper()
	path := filepath.Join(dir, filepath.Base(dir)+".wasm")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s has no committed binary (make plugins UPDATE=1 builds it): %v", dir, err)
	}
	t.Logf("%s: using the committed %s (%d bytes; `make plugins` checks that %s builds to it)", filepath.Base(dir), path, len(b), source)
	return b
}

// buildGo builds a Go example with GOOS=wasip1 -buildmode=c-shared, once
// per test binary.
func buildGo(t testing.TB, dir string) []byte {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := built[dir]; ok {
		return b
	}
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to build %s: %v", dir, err)
	}
	tmp, err := os.MkdirTemp("", "stratbox-conformance-build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "plugin.wasm")
	cmd := exec.Command(gotool, "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s", "-o", out, "./"+dir)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	built[dir] = b
	return b
}

// fixture reads a committed fixture plugin of testdata/<name>/<name>.wasm.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	dir := filepath.Join("testdata", name)
	if exists(filepath.Join(dir, "Cargo.toml")) {
		return committed(t, dir, "src/lib.rs")
	}
	return committed(t, dir, "assembly/index.ts")
}

// logLines collects a plugin's log lines (the host's slog records).
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "plugin fault" { // the host's own line, not the plugin's
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.ToLower(r.Level.String())+" "+r.Message)
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

// take returns the lines logged since the last take.
func (l *logLines) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// load compiles a plugin for the isolation (shared in-memory cache for
// this process, the disk cache for child processes).
func load(t testing.TB, name string, wasm []byte, isolation host.Isolation, opts ...host.Option) *host.Plugin {
	t.Helper()
	cacheMu.Lock()
	if cache == nil {
		c, err := host.NewCache(testCacheDir)
		if err != nil {
			cacheMu.Unlock()
			t.Fatal(err)
		}
		cache = c
	}
	cacheMu.Unlock()
	opts = append(opts, host.WithCache(cache))
	if isolation == host.IsolateProcess {
		opts = append(opts, host.ForProcess())
	}
	// A generous budget: conformance is about what a plugin does, and a
	// loaded CI machine (the whole suite runs at once) must not turn a slow
	// call into a fault. The budget itself is tested in host.
	p, err := host.Load(context.Background(), name, wasm, host.PluginConfig{CallBudget: 10 * time.Second}, opts...)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func sandbox(p *host.Plugin, isolation host.Isolation) host.Sandbox {
	if isolation == host.IsolateProcess {
		return host.NewProcess(p, host.ProcessConfig{CacheDir: testCacheDir})
	}
	return host.NewInProcess(p)
}

// faultOf returns the fault in err, or nil.
func faultOf(err error) *host.Fault {
	var f *host.Fault
	if errors.As(err, &f) {
		return f
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
