package control

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// maxBody bounds a request's body: the largest is a swap's parameters.
const maxBody = 64 << 10

// maxSocketPath is the longest path a Unix socket can be bound to (the
// 108 bytes of sun_path, less its terminating zero).
const maxSocketPath = 107

// ListenUnix opens the endpoint's Unix socket at path, readable and
// writable by the host's user only (mode 0600). The socket is made under a
// temporary name, given its mode, then renamed into place, so that it is
// never reachable with a wider mode. A socket left at path by a host that
// is gone is replaced; one that a live host answers on is an error, as is
// any other file there.
func ListenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("control: %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%w: %s (set [control] socket to another path)", ErrInUse, path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control: remove the stale socket: %w", err)
		}
	}
	dir := filepath.Dir(path)
	tmp := filepath.Join(dir, fmt.Sprintf(".sbx%d", os.Getpid()))
	if n := max(len(path), len(tmp)); n > maxSocketPath {
		return nil, fmt.Errorf("control: socket path %s is %d bytes: a Unix socket's path may have at most %d (with the temporary name it is made under)", path, len(path), maxSocketPath)
	}
	_ = os.Remove(tmp)
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("control: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("control: %w", err)
	}
	return &unixListener{Listener: ln, path: path}, nil
}

// unixListener removes its socket file when closed.
type unixListener struct {
	net.Listener
	path string
}

func (l *unixListener) Close() error {
	err := l.Listener.Close()
	os.Remove(l.path)
	return err
}

// ListenTCP opens the endpoint on a TCP address, which must be on loopback:
// the endpoint steers a trading host and a bearer token is its only
// protection there (Serve requires one with a TCP listener).
func ListenTCP(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("control: http %q: want host:port", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("control: http %q is beyond loopback: the control endpoint serves loopback only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	return ln, nil
}

// Option configures Serve.
type Option func(*server)

// WithToken requires "Authorization: Bearer <token>" on every request.
// The token is compared in constant time and never logged.
func WithToken(token string) Option { return func(s *server) { s.token = []byte(token) } }

// WithLogger logs each request that fails (method, path, code), never its
// body or headers.
func WithLogger(l *slog.Logger) Option { return func(s *server) { s.log = l } }

type server struct {
	h     Host
	token []byte
	log   *slog.Logger
}

// Serve answers requests on ln until ctx ends, then closes ln and returns
// nil. A TCP listener needs WithToken.
func Serve(ctx context.Context, ln net.Listener, h Host, opts ...Option) error {
	s := &server{h: h, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	if _, tcp := ln.Addr().(*net.TCPAddr); tcp && len(s.token) == 0 {
		ln.Close()
		return errors.New("control: a TCP endpoint needs a bearer token")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.status)
	mux.HandleFunc("POST /v1/kill", s.kill)
	mux.HandleFunc("POST /v1/plugins/{name}/pause", s.pause)
	mux.HandleFunc("POST /v1/plugins/{name}/resume", s.resume)
	mux.HandleFunc("POST /v1/plugins/{name}/swap", s.swap)
	mux.HandleFunc("POST /v1/reload", s.reload)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errorf(ErrBadRequest, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	srv := &http.Server{Handler: s.auth(mux), ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		case <-done:
		}
	}()
	err := srv.Serve(ln)
	close(done)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *server) auth(next http.Handler) http.Handler {
	if len(s.token) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), s.token) != 1 {
			s.fail(w, r, errorf(ErrUnauthorized, "a valid bearer token is required"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.h.Status(r.Context())
	s.reply(w, r, st, err)
}

func (s *server) kill(w http.ResponseWriter, r *http.Request) {
	n, err := s.h.Kill(r.Context())
	s.reply(w, r, map[string]int{"cancelled": n}, err)
}

func (s *server) pause(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Cancel bool `json:"cancel"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	s.reply(w, r, struct{}{}, s.h.Pause(r.Context(), r.PathValue("name"), req.Cancel))
}

func (s *server) resume(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if !s.decode(w, r, &req) {
		return
	}
	s.reply(w, r, struct{}{}, s.h.Resume(r.Context(), r.PathValue("name")))
}

func (s *server) swap(w http.ResponseWriter, r *http.Request) {
	var req struct {
		File   string            `json:"file"`
		Params map[string]string `json:"params"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if req.File == "" {
		s.fail(w, r, errorf(ErrBadRequest, "swap: no file"))
		return
	}
	res, err := s.h.Swap(r.Context(), r.PathValue("name"), req.File, req.Params)
	s.reply(w, r, res, err)
}

func (s *server) reload(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if !s.decode(w, r, &req) {
		return
	}
	res, err := s.h.Reload(r.Context())
	s.reply(w, r, res, err)
}

// decode reads a JSON body (an empty body is {}); false after replying
// with the error.
func (s *server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.fail(w, r, errorf(ErrBadRequest, "body: %v", err))
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return true
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		s.fail(w, r, errorf(ErrBadRequest, "body: %v", err))
		return false
	}
	return true
}

func (s *server) reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, status := classify(err)
	s.log.Warn("control: request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error(), "code": code})
}
