package control

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Host is what the endpoint controls: the running host. Every method is
// called from the server's goroutines and must be safe for concurrent use.
// A method returns an error that wraps one of this package's sentinels
// (ErrUnknownPlugin, ErrConflict, ErrBadRequest, ErrUnsupported) to choose
// the reply's code; any other error is "failed".
type Host interface {
	// Status describes the host now.
	Status(ctx context.Context) (Status, error)
	// Kill turns the kill switch on and returns the number of orders it
	// cancelled.
	Kill(ctx context.Context) (cancelled int, err error)
	// Pause stops delivering events to a plugin (its timers too); its
	// orders stay unless cancel is true.
	Pause(ctx context.Context, plugin string, cancel bool) error
	// Resume delivers events to a paused plugin again.
	Resume(ctx context.Context, plugin string) error
	// Swap replaces a plugin's module by the one in file, with params
	// overriding its configured parameters, without touching its orders;
	// when the new module does not load or start, the old one keeps
	// running and the error says why.
	Swap(ctx context.Context, plugin, file string, params map[string]string) (Swapped, error)
	// Reload re-reads the configuration file and applies what can change
	// live, all or nothing.
	Reload(ctx context.Context) (Reload, error)
}

// Status is a running host's state, as `host ctl status` prints it.
type Status struct {
	Version   string        `json:"version"`
	Started   time.Time     `json:"started"`
	Uptime    time.Duration `json:"uptime_ns"`
	Exchange  string        `json:"exchange"`
	Killed    bool          `json:"killed"`
	Plugins   []Plugin      `json:"plugins"`
	Accounts  []Account     `json:"accounts,omitempty"`
	Pool      Pool          `json:"pool"`
	Limits    []Limit       `json:"limits,omitempty"`
	OpenOrder int           `json:"open_orders"`
}

// Plugin is one plugin's state.
type Plugin struct {
	Name       string     `json:"name"`
	Module     string     `json:"module,omitempty"`
	State      string     `json:"state"` // running, paused, restarting, down
	Calls      uint64     `json:"calls"`
	AvgCall    string     `json:"avg_call,omitempty"`
	MaxCall    string     `json:"max_call,omitempty"`
	Faults     uint64     `json:"faults"`
	LastFault  string     `json:"last_fault,omitempty"`
	Restarts   uint64     `json:"restarts"`
	Swaps      uint64     `json:"swaps,omitempty"`
	OpenOrders int        `json:"open_orders"`
	Positions  []Position `json:"positions,omitempty"`
}

// Position is a plugin's or an account's position on one instrument.
type Position struct {
	Instrument    string  `json:"instrument"`
	Size          float64 `json:"size"`
	AvgPrice      float64 `json:"avg_price"`
	RealizedPnL   float64 `json:"realized_pnl"`
	UnrealizedPnL float64 `json:"unrealized_pnl"`
}

// Account is an exchange account's positions, as the exchange reports them.
type Account struct {
	Name      string     `json:"name"`
	Positions []Position `json:"positions,omitempty"`
}

// Pool is the connection pool's state.
type Pool struct {
	Healthy     int          `json:"healthy"`
	Size        int          `json:"size"`
	Degraded    bool         `json:"degraded"`
	Connections []Connection `json:"connections"`
}

// Connection is one pooled connection's state and heartbeat figures.
type Connection struct {
	ID           int    `json:"id"`
	State        string `json:"state"`
	Orders       int64  `json:"orders"`
	Reconnects   uint64 `json:"reconnects"`
	Losses       uint64 `json:"losses"`
	TestRequests uint64 `json:"test_requests"`
	Answered     uint64 `json:"answered"`
	Missed       uint64 `json:"missed"`
	AnswerP50    string `json:"answer_p50,omitempty"`
	AnswerP99    string `json:"answer_p99,omitempty"`
	AnswerMax    string `json:"answer_max,omitempty"`
}

// Limit is one limit in force, by its configuration key.
type Limit struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Swapped is what a swap did.
type Swapped struct {
	Adopted  int    `json:"adopted"`   // open orders the new module took over
	FirstCID uint64 `json:"first_cid"` // the new instance's first client order id
}

// Reload is what a reload applied and what it could not.
type Reload struct {
	Applied []string `json:"applied,omitempty"` // keys whose new values are in force
	Restart []string `json:"restart,omitempty"` // keys that changed but take a restart
}

// The errors a Host returns (wrapped) and a Client's errors match.
var (
	ErrUnknownPlugin = errors.New("unknown plugin")
	ErrConflict      = errors.New("conflict")
	ErrBadRequest    = errors.New("bad request")
	ErrUnsupported   = errors.New("not supported by this host")
	ErrUnauthorized  = errors.New("unauthorized")
	ErrFailed        = errors.New("failed")
	// ErrNoHost: nothing listens at the address (the host is not running,
	// or the socket is another one).
	ErrNoHost = errors.New("no host is listening")
	// ErrInUse: ListenUnix found a live endpoint at the path.
	ErrInUse = errors.New("control: another host is listening there")
)

// codes names each sentinel on the wire.
var codes = []struct {
	err    error
	code   string
	status int
}{
	{ErrUnknownPlugin, "unknown_plugin", 404},
	{ErrConflict, "conflict", 409},
	{ErrBadRequest, "bad_request", 400},
	{ErrUnsupported, "unsupported", 501},
	{ErrUnauthorized, "unauthorized", 401},
	{ErrFailed, "failed", 500},
}

// Error is an error reply of the endpoint.
type Error struct {
	Code    string // unknown_plugin, conflict, bad_request, unsupported, unauthorized, failed
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is matches the sentinel of e's code.
func (e *Error) Is(target error) bool {
	for _, c := range codes {
		if c.code == e.Code {
			return c.err == target
		}
	}
	return false
}

// classify returns the wire code and HTTP status of a Host's error.
func classify(err error) (string, int) {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code, c.status
		}
	}
	return "failed", 500
}

// errorf wraps a sentinel with a message.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}

// DefaultSocket is the socket path `host run` and `host ctl` use when none
// is configured: $XDG_RUNTIME_DIR/stratbox.sock when that directory is set
// (it is the user's own, mode 0700), else stratbox-<uid>/host.sock under
// the temporary directory (MakeSocketDir makes it 0700).
func DefaultSocket() string {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "stratbox.sock")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("stratbox-%d", os.Getuid()), "host.sock")
}

// MakeSocketDir makes the directory of a socket path when it does not
// exist (mode 0700), and refuses a symbolic link, a directory another user
// owns, and one that others may write to unless it is sticky (as /tmp is:
// there no one else can remove or rename this user's socket): a socket in
// such a place could be replaced by someone else's.
func MakeSocketDir(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("control: %s is a symbolic link: choose another socket path", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("control: %s belongs to another user: choose another socket path", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&os.ModeSticky == 0 {
		return fmt.Errorf("control: %s can be written by others (mode %v): choose another socket path", dir, fi.Mode().Perm())
	}
	return nil
}
