package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratbox/stratbox/conn"
)

// Against a real exchange, host run refuses to
// start while a plugin lacks explicit risk limits, naming the missing keys;
// unlimited = true is the explicit way out; the built-in and loopback
// simulators need none.
func TestRunRefusesARealExchangeWithoutLimits(t *testing.T) {
	t.Setenv(conn.EnvClientID, "")
	t.Setenv(conn.EnvClientSecret, "")
	for _, tc := range []struct {
		name, url, body, want string
	}{
		{"no risk section", "wss://exchange.example/ws/api/v2", "", "max_order_amount, max_open_orders, max_position, max_notional"},
		{"some limits", "wss://exchange.example/ws/api/v2", "[risk]\nmax_order_amount = 100.0\nmax_position = 1000.0\n",
			"set max_open_orders, max_notional in [risk]"},
		{"plugin limits complete the global ones", "wss://exchange.example/ws/api/v2",
			"[risk]\nmax_order_amount = 100.0\nmax_position = 1000.0\n[[plugin]]\npath = \"mm.wasm\"\n[plugin.risk]\nmax_open_orders = 4\nmax_notional = 1e5\n", "needs a key pair"},
		{"unlimited", "wss://exchange.example/ws/api/v2", "[risk]\nunlimited = true\n", "needs a key pair"},
		{"loopback simulator", "ws://127.0.0.1:1/ws/api/v2", "", "needs a key pair"},
		{"localhost simulator", "ws://localhost:1/ws/api/v2", "", "needs a key pair"},
		{"a password in the url is not printed", "wss://user:pw-secret@exchange.example/ws/api/v2", "", "max_notional"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			body := fmt.Sprintf("[exchange]\nurl = %q\n%s", tc.url, tc.body)
			if !strings.Contains(body, "[[plugin]]") {
				body += "[[plugin]]\npath = \"mm.wasm\"\n"
			}
			cfg := filepath.Join(dir, "host.toml")
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "mm.wasm"), timerWasm(t), 0o600); err != nil {
				t.Fatal(err)
			}
			err := run(context.Background(), []string{"run", "--config", cfg, "--isolation", "none"}, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "pw-secret") {
				t.Fatalf("the URL's password is in the error: %v", err)
			}
			if strings.Contains(tc.want, "max_") && !strings.Contains(err.Error(), `plugin "mm"`) {
				t.Fatalf("the error does not name the plugin: %v", err)
			}
		})
	}
}

// client_secret_file: the secret is read from a file only its owner can
// read; anything else is refused with an error that names the file (and
// never holds the secret).
func TestClientSecretFile(t *testing.T) {
	const secret = "s3cr3t-value"
	dir := t.TempDir()
	good := filepath.Join(dir, "secret")
	if err := os.WriteFile(good, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(conn.EnvClientID, "")
	t.Setenv(conn.EnvClientSecret, "")
	cred, err := exchangeConfig{ClientID: "key-id", ClientSecretFile: good}.credentials()
	if err != nil || cred.ClientID != "key-id" || cred.ClientSecret != secret {
		t.Fatalf("credentials %+v, %v", cred.ClientID, err)
	}
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		if err := os.Chmod(open, mode); err != nil {
			t.Fatal(err)
		}
		_, err := exchangeConfig{ClientID: "key-id", ClientSecretFile: open}.credentials()
		if err == nil || !strings.Contains(err.Error(), open) || !strings.Contains(err.Error(), fmt.Sprintf("%04o", mode)) ||
			!strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  exchangeConfig
		env  string
		want string
	}{
		{"missing file", exchangeConfig{ClientID: "k", ClientSecretFile: filepath.Join(dir, "nope")}, "", "nope"},
		{"a directory", exchangeConfig{ClientID: "k", ClientSecretFile: dir}, "", "not a regular file"},
		{"empty", exchangeConfig{ClientID: "k", ClientSecretFile: empty}, "", "want the secret"},
		{"no client id", exchangeConfig{ClientSecretFile: good}, "", "client_id"},
		{"the environment's secret too", exchangeConfig{ClientID: "k", ClientSecretFile: good}, "env-secret", conn.EnvClientSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(conn.EnvClientSecret, tc.env)
			_, err := tc.cfg.credentials()
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), secret) {
				t.Fatalf("error %v, want one naming %q (without the secret)", err, tc.want)
			}
		})
	}
	// Through host run: the config's relative path, a world-readable file.
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "host.toml")
	body := "[exchange]\nurl = \"ws://127.0.0.1:1/ws/api/v2\"\nclient_id = \"k\"\nclient_secret_file = \"open\"\n[[plugin]]\npath = \"x.wasm\"\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x.wasm"), timerWasm(t), 0o600); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"run", "--config", cfg, "--isolation", "none"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), open) || !strings.Contains(err.Error(), "0644") || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %v, want one naming %s and its mode", err, open)
	}
}

// Recordings hold the account's orders, trades
// and balances: created 0600, and an existing file is narrowed to 0600.
func TestRecordingIsPrivate(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.rec")
	old := filepath.Join(dir, "old.rec")
	if err := os.WriteFile(old, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fresh, old} {
		rec, _, err := openRecording(p, "ws://127.0.0.1:1/ws/api/v2", "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.close(io.Discard); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", p, fi.Mode().Perm())
		}
	}
}

// A Prometheus listener beyond loopback is
// refused unless prometheus_allow_remote says so.
func TestPrometheusBeyondLoopbackNeedsOptIn(t *testing.T) {
	dir := t.TempDir()
	for _, listen := range []string{"0.0.0.0:9464", ":9464", "[::]:9464"} {
		cfg := writeSimConfig(t, dir, fmt.Sprintf("[telemetry]\nmetrics = \"prometheus\"\nprometheus_listen = %q\n[[plugin]]\npath = \"x.wasm\"\n", listen))
		err := run(context.Background(), []string{"run", "--config", cfg}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "prometheus_allow_remote") || !strings.Contains(err.Error(), listen) {
			t.Errorf("%s: %v", listen, err)
		}
		if errors.Is(err, errUsage) {
			t.Errorf("%s: a config error, not a usage error: %v", listen, err)
		}
	}
}

// timerWasm is a small real plugin (testdata/abi/cancel_on_timer.wasm).
func timerWasm(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/abi/cancel_on_timer.wasm")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The plugin children's user: a root host runs them as nobody unless
// child_uid says otherwise (0: root); a host that is not root cannot
// change it.
func TestChildCredential(t *testing.T) {
	uid := func(v int) *int { return &v }
	if os.Geteuid() != 0 {
		if _, err := (hostConfig{ChildUID: uid(12345)}).childCredential(); err == nil || !strings.Contains(err.Error(), "root") {
			t.Fatalf("not root, child_uid set: %v", err)
		}
		return
	}
	defer func(d int) { childUserDefault = d }(childUserDefault)
	childUserDefault = 65534
	for _, tc := range []struct {
		h        hostConfig
		uid, gid int // -1: the host's user
	}{
		{hostConfig{}, 65534, 65534},
		{hostConfig{ChildUID: uid(1000)}, 1000, 65534},
		{hostConfig{ChildUID: uid(1000), ChildGID: uid(1000)}, 1000, 1000},
		{hostConfig{ChildUID: uid(0)}, -1, -1},
	} {
		c, err := tc.h.childCredential()
		if err != nil {
			t.Fatal(err)
		}
		if tc.uid < 0 && c != nil || tc.uid >= 0 && (c == nil || int(c.Uid) != tc.uid || int(c.Gid) != tc.gid) {
			t.Errorf("%+v: %+v, want %d/%d", tc.h, c, tc.uid, tc.gid)
		}
	}
	if _, err := (hostConfig{ChildUID: uid(-5)}).childCredential(); err == nil || !strings.Contains(err.Error(), "child_uid") {
		t.Fatalf("bad uid: %v", err)
	}
}

func TestProcessLimitKeys(t *testing.T) {
	for _, body := range []string{"address_space_mib = -2\n", "open_files = -3\n", "cpu_seconds = -1\n"} {
		cfg := writeSimConfig(t, t.TempDir(), "[[plugin]]\npath = \"a.wasm\"\n"+body)
		err := run(context.Background(), []string{"run", "--config", cfg}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "plugin[0]") || !strings.Contains(err.Error(), "cpu_seconds") {
			t.Errorf("%q: %v", body, err)
		}
	}
}
