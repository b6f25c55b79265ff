package conn_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stratbox/stratbox/conn"
)

func TestConfigValidate(t *testing.T) {
	ok := func(c *conn.Config) {}
	tests := []struct {
		name   string
		mutate func(*conn.Config)
		want   error
	}{
		{"defaults with a wss url", ok, nil},
		{"loopback plaintext", func(c *conn.Config) { c.URL = "ws://127.0.0.1:8080/ws/api/v2" }, nil},
		{"localhost plaintext", func(c *conn.Config) { c.URL = "ws://localhost/ws" }, nil},
		{"ipv6 loopback", func(c *conn.Config) { c.URL = "ws://[::1]:9/ws" }, nil},
		{"remote plaintext", func(c *conn.Config) { c.URL = "ws://test.deribit.com/ws/api/v2" }, conn.ErrInsecure},
		{"remote plaintext allowed", func(c *conn.Config) { c.URL = "ws://10.0.0.1/ws"; c.AllowInsecure = true }, nil},
		{"no url", func(c *conn.Config) { c.URL = "" }, conn.ErrConfig},
		{"http url", func(c *conn.Config) { c.URL = "https://www.deribit.com" }, conn.ErrConfig},
		{"user info", func(c *conn.Config) { c.URL = "wss://u:p@www.deribit.com/ws" }, conn.ErrConfig},
		{"id without secret", func(c *conn.Config) { c.Credentials.ClientID = "x" }, conn.ErrConfig},
		{"bad auth method", func(c *conn.Config) {
			c.Credentials = conn.Credentials{ClientID: "x", ClientSecret: "y", Method: "password"}
		}, conn.ErrConfig},
		{"silence multiple 1", func(c *conn.Config) { c.SilenceMultiple = 1 }, conn.ErrConfig},
		{"tiny heartbeat", func(c *conn.Config) { c.HeartbeatInterval = time.Microsecond }, conn.ErrConfig},
		{"backoff max below min", func(c *conn.Config) { c.Backoff = conn.Backoff{Min: time.Second, Max: time.Millisecond} }, conn.ErrConfig},
		{"jitter above 1", func(c *conn.Config) { c.Backoff.Jitter = 2 }, conn.ErrConfig},
		{"negative attempts per second", func(c *conn.Config) { c.Backoff.AttemptsPerSecond = -1 }, conn.ErrConfig},
		{"attempts per second above 1000", func(c *conn.Config) { c.Backoff.AttemptsPerSecond = 5000 }, conn.ErrConfig},
		{"tiny frames", func(c *conn.Config) { c.MaxFrameSize = 10 }, conn.ErrConfig},
		{"negative queue", func(c *conn.Config) { c.SinkQueue = -1 }, conn.ErrConfig},
		{"bad overflow", func(c *conn.Config) { c.Overflow = "block" }, conn.ErrConfig},
		{"negative timeout", func(c *conn.Config) { c.RequestTimeout = -1 }, conn.ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := conn.DefaultConfig()
			c.URL = "wss://www.deribit.com/ws/api/v2"
			tt.mutate(&c)
			err := c.Validate()
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
	d := conn.DefaultConfig()
	if d.HeartbeatInterval != 10*time.Second || d.SilenceMultiple != 3 || !d.CancelOnDisconnect ||
		d.Overflow != conn.DropOldest || d.Credentials.Method != conn.AuthSignature {
		t.Fatalf("defaults %+v", d)
	}
}

// TestClientSignatureVector is Deribit's official example (deribit.md §2).
func TestClientSignatureVector(t *testing.T) {
	got := conn.ClientSignature("AMANDASECRECT", 1576074319000, "1iqt2wls", "")
	if want := "56590594f97921b09b18f166befe0d1319b198bbcdad7ca73382de2f88fe9aa1"; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

func TestCredentialsNeverPrinted(t *testing.T) {
	const secret = "s3cr3t-value"
	c := conn.Config{URL: "wss://x/ws", Credentials: conn.Credentials{ClientID: "id1", ClientSecret: secret}}
	var logs bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&logs, nil))
	l.Info("config", "credentials", c.Credentials, "config", c)
	outs := []string{
		fmt.Sprintf("%v %+v %#v %s", c.Credentials, c.Credentials, c.Credentials, c.Credentials),
		fmt.Sprintf("%v %+v %s", c, c, c),
		fmt.Sprint(&c.Credentials),
		logs.String(),
	}
	for _, out := range outs {
		if strings.Contains(out, secret) || !strings.Contains(out, "id1") {
			t.Fatalf("printed: %s", out)
		}
	}
}

func TestCredentialsFromEnv(t *testing.T) {
	tests := []struct {
		name, id, secret, method string
		want                     conn.Credentials
		err                      bool
	}{
		{"none", "", "", "", conn.Credentials{}, false},
		{"both", "a", "b", "", conn.Credentials{ClientID: "a", ClientSecret: "b", Method: conn.AuthSignature}, false},
		{"credentials grant", "a", "b", "client_credentials", conn.Credentials{ClientID: "a", ClientSecret: "b", Method: conn.AuthCredentials}, false},
		{"id only", "a", "", "", conn.Credentials{}, true},
		{"bad method", "a", "b", "x", conn.Credentials{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(conn.EnvClientID, tt.id)
			t.Setenv(conn.EnvClientSecret, tt.secret)
			t.Setenv(conn.EnvAuthMethod, tt.method)
			got, err := conn.CredentialsFromEnv()
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("got %v, %v", got, err)
			}
			if err != nil && strings.Contains(err.Error(), tt.secret) && tt.secret != "" {
				t.Fatalf("error names the secret: %v", err)
			}
		})
	}
}

func TestBackoffRedial(t *testing.T) {
	b := conn.Backoff{Min: 100 * time.Millisecond, Jitter: 0.2}
	if d := b.Redial(0); d != 0 {
		t.Fatalf("Redial(0) = %v", d)
	}
	if d := b.Redial(0.5); d != 10*time.Millisecond {
		t.Fatalf("Redial(0.5) = %v, want 10ms", d)
	}
	if d := (conn.Backoff{Min: time.Second, Jitter: -1}).Redial(0.9); d != 0 {
		t.Fatalf("no jitter: Redial = %v, want 0", d)
	}
}

func TestBackoffDelay(t *testing.T) {
	b := conn.Backoff{Min: 100 * time.Millisecond, Max: time.Second, Jitter: 0.5}
	tests := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{1, 0, 100 * time.Millisecond},
		{2, 0, 200 * time.Millisecond},
		{4, 0, 800 * time.Millisecond},
		{5, 0, time.Second},
		{1000, 0, time.Second},
		{1, 0.5, 75 * time.Millisecond},
		{5, 0.999, 500500 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.attempt, tt.r), func(t *testing.T) {
			if got := b.Delay(tt.attempt, tt.r); got != tt.want {
				t.Fatalf("Delay = %v, want %v", got, tt.want)
			}
		})
	}
	if d := (conn.Backoff{Min: time.Second, Max: time.Second, Jitter: -1}).Delay(3, 0.9); d != time.Second {
		t.Fatalf("no jitter: %v", d)
	}
}

func TestQueuePolicies(t *testing.T) {
	n := func(i int) conn.Notification {
		return conn.Notification{Channel: []byte("c"), Data: []byte(fmt.Sprint(i))}
	}
	tests := []struct {
		policy conn.Overflow
		want   []string
	}{
		{conn.DropOldest, []string{"3", "4"}},
		{conn.DropNewest, []string{"0", "1"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			q := conn.NewQueue(2, tt.policy)
			var accepted int
			for i := 0; i < 5; i++ {
				src := n(i)
				if q.Deliver(src) {
					accepted++
				}
				src.Data[0] = 'X' // the queue owns a copy
			}
			if accepted != 2 {
				t.Fatalf("accepted %d", accepted)
			}
			st := q.Stats()
			if st.Dropped != 3 || st.Len != 2 || st.Cap != 2 {
				t.Fatalf("stats %+v", st)
			}
			for _, w := range tt.want {
				if got := <-q.C(); string(got.Data) != w || string(got.Channel) != "c" {
					t.Fatalf("got %s want %s", got.Data, w)
				}
			}
		})
	}
}

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		max      int
		wantOver bool
	}{
		{"small", 10, 1024, false},
		{"exactly max", 1024, 1024, false},
		{"grows", 100000, 1 << 20, false},
		{"over", 5000, 1024, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := bytes.Repeat([]byte("a"), tt.size)
			r := iotest.OneByteReader(bytes.NewReader(src))
			if tt.size > 10000 {
				r = bytes.NewReader(src)
			}
			got, over, err := conn.ReadFrame(r, make([]byte, 0, 16), tt.max)
			if err != nil || over != tt.wantOver {
				t.Fatalf("over %v err %v", over, err)
			}
			if !over && !bytes.Equal(got, src) {
				t.Fatalf("len %d", len(got))
			}
			if over && len(got) != tt.max {
				t.Fatalf("prefix %d", len(got))
			}
		})
	}
	_, _, err := conn.ReadFrame(iotest.ErrReader(io.ErrUnexpectedEOF), nil, 1024)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
}

func TestConfigStringRedactsURL(t *testing.T) {
	c := conn.Config{URL: "wss://www.deribit.com/ws/api/v2?token=SECRETQ#frag"}
	if s := c.String(); strings.Contains(s, "SECRETQ") || strings.Contains(s, "frag") || !strings.Contains(s, "wss://www.deribit.com/ws/api/v2") {
		t.Fatalf("String %s", s)
	}
	if s := fmt.Sprint(c); strings.Contains(s, "SECRETQ") {
		t.Fatalf("Sprint %s", s)
	}
}
