package control

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeHost records what it was asked and knows one plugin, "mm".
type fakeHost struct {
	mu     sync.Mutex
	calls  []string
	paused bool
}

func (f *fakeHost) log(s string) { f.mu.Lock(); f.calls = append(f.calls, s); f.mu.Unlock() }

func (f *fakeHost) plugin(name string) error {
	if name != "mm" {
		return errorf(ErrUnknownPlugin, "unknown plugin %q (plugins: mm)", name)
	}
	return nil
}

func (f *fakeHost) Status(context.Context) (Status, error) {
	f.log("status")
	return Status{Version: "test", Plugins: []Plugin{{Name: "mm", State: "running", Calls: 7,
		Positions: []Position{{Instrument: "BTC-PERPETUAL", Size: 10, RealizedPnL: -0.5}}}},
		Pool: Pool{Healthy: 2, Size: 3, Connections: []Connection{{ID: 0, State: "ready", Answered: 4}}}}, nil
}

func (f *fakeHost) Kill(context.Context) (int, error) { f.log("kill"); return 3, nil }

func (f *fakeHost) Pause(_ context.Context, name string, cancel bool) error {
	if err := f.plugin(name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paused {
		return errorf(ErrConflict, "%s is paused already", name)
	}
	f.paused = true
	if cancel {
		f.calls = append(f.calls, "pause+cancel "+name)
	} else {
		f.calls = append(f.calls, "pause "+name)
	}
	return nil
}

func (f *fakeHost) Resume(_ context.Context, name string) error {
	if err := f.plugin(name); err != nil {
		return err
	}
	f.log("resume " + name)
	return nil
}

func (f *fakeHost) Swap(_ context.Context, name, file string, params map[string]string) (Swapped, error) {
	if err := f.plugin(name); err != nil {
		return Swapped{}, err
	}
	if !strings.HasSuffix(file, ".wasm") {
		return Swapped{}, errors.New("swap: " + file + ": not a wasm module; mm keeps running")
	}
	f.log("swap " + name + " " + file + " size=" + params["size"])
	return Swapped{Adopted: 2, FirstCID: 7}, nil
}

func (f *fakeHost) Reload(context.Context) (Reload, error) {
	f.log("reload")
	return Reload{Applied: []string{"risk.max_position"}, Restart: []string{"pool.size"}}, nil
}

// serve starts the endpoint on a socket in a temporary directory.
func serve(t *testing.T, h Host, opts ...Option) (path string, stop func()) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, opts...) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return path, stop
}

func TestCommandsOverUnixSocket(t *testing.T) {
	h := &fakeHost{}
	path, stop := serve(t, h)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket mode %v, want a socket of mode 0600", fi.Mode())
	}
	c, err := NewClient(path, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil || len(st.Plugins) != 1 || st.Plugins[0].Calls != 7 || st.Plugins[0].Positions[0].RealizedPnL != -0.5 || st.Pool.Healthy != 2 {
		t.Fatalf("status %+v, %v", st, err)
	}
	if n, err := c.Kill(ctx); n != 3 || err != nil {
		t.Errorf("kill: %d, %v", n, err)
	}
	if err := c.Pause(ctx, "mm", true); err != nil {
		t.Error(err)
	}
	if err := c.Pause(ctx, "mm", false); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "paused already") {
		t.Errorf("second pause: %v", err)
	}
	if err := c.Resume(ctx, "mm"); err != nil {
		t.Error(err)
	}
	err = c.Resume(ctx, "nope")
	if !errors.Is(err, ErrUnknownPlugin) || !strings.Contains(err.Error(), `unknown plugin "nope" (plugins: mm)`) {
		t.Errorf("unknown plugin: %v", err)
	}
	if res, err := c.Swap(ctx, "mm", "new.wasm", map[string]string{"size": "20"}); err != nil || res != (Swapped{Adopted: 2, FirstCID: 7}) {
		t.Errorf("swap: %+v, %v", res, err)
	}
	_, err = c.Swap(ctx, "mm", "notes.txt", nil)
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "mm keeps running") {
		t.Errorf("failed swap: %v", err)
	}
	if r, err := c.Reload(ctx); err != nil || r.Applied[0] != "risk.max_position" || r.Restart[0] != "pool.size" {
		t.Errorf("reload %+v, %v", r, err)
	}
	abs, _ := filepath.Abs("new.wasm")
	want := []string{"status", "kill", "pause+cancel mm", "resume mm", "swap mm " + abs + " size=20", "reload"}
	if strings.Join(h.calls, "|") != strings.Join(want, "|") {
		t.Errorf("the host was asked\n%q\nwant\n%q", h.calls, want)
	}
	stop()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the socket outlives the endpoint: %v", err)
	}
	if _, err := c.Status(ctx); !errors.Is(err, ErrNoHost) || !strings.Contains(err.Error(), path) {
		t.Errorf("status after stop: %v", err)
	}
}

// Requests that are not the API's get bad_request, never reach the host,
// and lose nothing.
func TestBadRequests(t *testing.T) {
	h := &fakeHost{}
	path, _ := serve(t, h)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/v1/plugins/mm/pause", `{"cancel": true, "everything": true}`, `unknown field \"everything\"`},
		{"POST", "/v1/plugins/mm/pause", `{"cancel": "yes"}`, "cannot unmarshal"},
		{"POST", "/v1/plugins/mm/swap", `{"params": {"a": "b"}}`, "swap: no file"},
		{"POST", "/v1/plugins/mm/swap", `{"file": "x.wasm", "params": {"a": ` + strings.Repeat("1", maxBody) + `}}`, "too large"},
		{"GET", "/v1/kill", ``, "no such endpoint: GET /v1/kill"},
		{"POST", "/v2/status", ``, "no such endpoint"},
	} {
		req, _ := http.NewRequest(c.method, "http://x"+c.path, strings.NewReader(c.body))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), c.want) || !strings.Contains(string(b), `"code":"bad_request"`) {
			t.Errorf("%s %s %.40s: %s %s; want 400 naming %q", c.method, c.path, c.body, resp.Status, b, c.want)
		}
	}
	if len(h.calls) != 0 {
		t.Errorf("bad requests reached the host: %q", h.calls)
	}
}

// A socket left by a host that is gone is replaced; a live one, or a file
// that is not a socket, is refused with a reason.
func TestListenUnix(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // the file stays, nothing listens
	ln, err := ListenUnix(stale)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	if _, err := ListenUnix(stale); err == nil || !strings.Contains(err.Error(), "another host is listening") {
		t.Errorf("over a live socket: %v", err)
	}
	ln.Close()
	file := filepath.Join(dir, "notes")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("over a file: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "x" {
		t.Error("the file was touched")
	}
	if _, err := ListenUnix(filepath.Join(dir, "no", "such", "dir.sock")); err == nil {
		t.Error("a socket in a directory that does not exist")
	}
}

// Over TCP the endpoint serves loopback only and requires its token; the
// client says so when the token is wrong, and when the address is not a
// control endpoint at all.
func TestTCPNeedsTokenAndLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:9000", "[::]:0", "9000"} {
		if _, err := ListenTCP(addr); err == nil {
			t.Errorf("ListenTCP(%s) accepted", addr)
		}
	}
	ln, err := ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := Serve(context.Background(), ln, &fakeHost{}); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("TCP without a token: %v", err)
	}
	ln, err = ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h := &fakeHost{}
	go func() { done <- Serve(ctx, ln, h, WithToken("s3cret")) }()
	defer func() { cancel(); <-done }()
	url := "http://" + ln.Addr().String()
	for _, tok := range []string{"", "s3cre", "s3cret2"} {
		c, _ := NewClient(url, tok)
		if _, err := c.Status(context.Background()); !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("token %q: %v", tok, err)
		}
	}
	c, _ := NewClient(url, "s3cret")
	if st, err := c.Status(context.Background()); err != nil || st.Version != "test" {
		t.Errorf("with the token: %+v, %v", st, err)
	}
	if len(h.calls) != 1 {
		t.Errorf("calls %q: unauthorized requests reached the host", h.calls)
	}

	// Something else listens: the client says it is not a control endpoint.
	other, _ := net.Listen("tcp", "127.0.0.1:0")
	go http.Serve(other, http.NotFoundHandler())
	defer other.Close()
	c, _ = NewClient("http://"+other.Addr().String(), "")
	if _, err := c.Status(context.Background()); err == nil || !strings.Contains(err.Error(), "not the control endpoint's reply") {
		t.Errorf("a web server that is not a host: %v", err)
	}
	for _, bad := range []string{"", "ftp://x", "http://"} {
		if _, err := NewClient(bad, ""); err == nil {
			t.Errorf("NewClient(%q) accepted", bad)
		}
	}
}

// The socket's directory may not be a link or another user's; a path too
// long for a Unix socket is refused naming it; the client sends no token
// beyond loopback.
func TestSocketPlaceAndClientLoopback(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := MakeSocketDir(filepath.Join(link, "h.sock")); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("a linked directory: %v", err)
	}
	if err := MakeSocketDir(filepath.Join(real, "h.sock")); err != nil {
		t.Errorf("a private directory: %v", err)
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	if err := MakeSocketDir(filepath.Join(open, "h.sock")); err == nil || !strings.Contains(err.Error(), "written by others") {
		t.Errorf("a directory others write to: %v", err)
	}
	long := filepath.Join(real, strings.Repeat("x", 120)+".sock")
	if _, err := ListenUnix(long); err == nil || !strings.Contains(err.Error(), "at most 107") {
		t.Errorf("a path too long: %v", err)
	}
	for _, u := range []string{"http://10.1.2.3:7400", "http://example.com:7400"} {
		if _, err := NewClient(u, "tok"); err == nil || !strings.Contains(err.Error(), "beyond loopback") {
			t.Errorf("NewClient(%s): %v", u, err)
		}
	}
	for _, u := range []string{"http://127.0.0.1:7400", "http://[::1]:7400", "http://localhost:7400"} {
		if _, err := NewClient(u, "tok"); err != nil {
			t.Errorf("NewClient(%s): %v", u, err)
		}
	}
}
