package conn

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"
)

// AuthMethod is the public/auth grant used with the client's key.
type AuthMethod string

// Auth methods.
const (
	// AuthSignature signs a timestamp and nonce with the secret
	// (grant_type client_signature): the secret never crosses the wire.
	// The default.
	AuthSignature AuthMethod = "client_signature"
	// AuthCredentials sends the secret itself (grant_type client_credentials).
	AuthCredentials AuthMethod = "client_credentials"
)

// Credentials are an API key. They are never logged: String, Format and
// LogValue print the client id and method only.
type Credentials struct {
	ClientID     string     `toml:"client_id"`
	ClientSecret string     `toml:"client_secret"`
	Method       AuthMethod `toml:"method"`
	// Scope is passed to public/auth when set (e.g. "session:name"); empty
	// means Deribit's default, connection scope.
	Scope string `toml:"scope"`
}

// Environment variables read by CredentialsFromEnv.
const (
	EnvClientID     = "DERIBIT_CLIENT_ID"
	EnvClientSecret = "DERIBIT_CLIENT_SECRET"
	EnvAuthMethod   = "DERIBIT_AUTH_METHOD"
)

// CredentialsFromEnv reads DERIBIT_CLIENT_ID, DERIBIT_CLIENT_SECRET and the
// optional DERIBIT_AUTH_METHOD. Neither id nor secret set gives zero
// Credentials and no error. Only the command line calls it: no constructor
// in this package reads the environment.
func CredentialsFromEnv() (Credentials, error) {
	id, secret := os.Getenv(EnvClientID), os.Getenv(EnvClientSecret)
	c := Credentials{ClientID: id, ClientSecret: secret, Method: AuthMethod(os.Getenv(EnvAuthMethod))}
	if id == "" && secret == "" {
		return Credentials{}, nil
	}
	if c.Method == "" {
		c.Method = AuthSignature
	}
	if err := c.validate(); err != nil {
		return Credentials{}, fmt.Errorf("%w (from %s/%s)", err, EnvClientID, EnvClientSecret)
	}
	return c, nil
}

// IsZero reports whether no key is configured.
func (c Credentials) IsZero() bool { return c.ClientID == "" && c.ClientSecret == "" }

func (c Credentials) validate() error {
	if c.IsZero() {
		return nil
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		return fmt.Errorf("%w: credentials need both a client id and a client secret", ErrConfig)
	}
	switch c.Method {
	case "", AuthSignature, AuthCredentials:
		return nil
	}
	return fmt.Errorf("%w: auth method %q is not client_signature or client_credentials", ErrConfig, c.Method)
}

func (c Credentials) redacted() string {
	if c.IsZero() {
		return "{none}"
	}
	return "{client_id:" + c.ClientID + " method:" + string(c.Method) + " secret:[redacted]}"
}

// String prints the client id and method, never the secret.
func (c Credentials) String() string { return c.redacted() }

// Format applies to every verb (%v, %+v, %#v, %s, …): the secret is never printed.
func (c Credentials) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.redacted())) }

// LogValue makes slog print the client id and method, never the secret.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", c.ClientID), slog.String("method", string(c.Method)))
}

var (
	_ fmt.Stringer   = Credentials{}
	_ fmt.Formatter  = Credentials{}
	_ slog.LogValuer = Credentials{}
)

// clientSignature is Deribit's client_signature: lowercase hex of
// HMAC-SHA256(secret, timestamp + "\n" + nonce + "\n" + data).
func clientSignature(secret string, timestampMs int64, nonce, data string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestampMs, 10)))
	m.Write([]byte{'\n'})
	m.Write([]byte(nonce))
	m.Write([]byte{'\n'})
	m.Write([]byte(data))
	return hex.EncodeToString(m.Sum(nil))
}

func newNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

type authParams struct {
	GrantType    string `json:"grant_type"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	Timestamp    int64  `json:"timestamp,omitempty"`
	Nonce        string `json:"nonce,omitempty"`
	Data         string `json:"data"`
	Signature    string `json:"signature,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

type authResult struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
}

// token is a session's authentication. It never leaves the session and is
// never logged.
type token struct {
	access, refresh string
	scope           string
	expiresAt       time.Time
	lifetime        time.Duration
}

// refreshAt is when to refresh a token: at 80% of its lifetime.
func (t *token) refreshAt() time.Time {
	return t.expiresAt.Add(-t.lifetime / 5)
}

func (c *Conn) authParams() authParams {
	cr := c.cfg.Credentials
	p := authParams{GrantType: string(cr.Method), ClientID: cr.ClientID, Scope: cr.Scope}
	if cr.Method == AuthCredentials {
		p.ClientSecret = cr.ClientSecret
		return p
	}
	p.Timestamp = c.clk.Now().UnixMilli()
	p.Nonce = newNonce()
	p.Signature = clientSignature(cr.ClientSecret, p.Timestamp, p.Nonce, "")
	return p
}

// authenticate runs public/auth with the configured grant, or with a refresh
// token when refresh is non-empty. Errors wrap ErrAuth and the cause; they
// and the log lines name the client id and grant, never a secret, signature
// or token (an exchange error's data member is left out too).
func (c *Conn) authenticate(ctx context.Context, s *session, refresh string) (*token, error) {
	p := c.authParams()
	if refresh != "" {
		p = authParams{GrantType: "refresh_token", RefreshToken: refresh}
	}
	params, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	raw, err := s.call(ctx, "public/auth", params)
	if err != nil {
		c.log.Warn("conn: authentication failed", "client_id", c.cfg.Credentials.ClientID,
			"grant", p.GrantType, "err", err)
		return nil, fmt.Errorf("%w: grant %s: %w", ErrAuth, p.GrantType, err)
	}
	var r authResult
	if err := json.Unmarshal(raw, &r); err != nil || r.AccessToken == "" {
		c.log.Warn("conn: authentication result unreadable", "client_id", c.cfg.Credentials.ClientID,
			"grant", p.GrantType)
		return nil, fmt.Errorf("%w: grant %s: %w: no access token in result", ErrAuth, p.GrantType, ErrDecode)
	}
	life := time.Duration(r.ExpiresIn) * time.Second
	t := &token{access: r.AccessToken, refresh: r.RefreshToken, scope: r.Scope,
		expiresAt: c.clk.Now().Add(life), lifetime: life}
	c.log.Debug("conn: authenticated", "client_id", c.cfg.Credentials.ClientID, "grant", p.GrantType,
		"scope", r.Scope, "expires_in", life)
	return t, nil
}

// MarshalJSON encodes the client id and method only, so that a dumped
// config never carries the secret. (Decoding is not affected.)
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ClientID string     `json:"client_id"`
		Method   AuthMethod `json:"method"`
		Secret   string     `json:"client_secret"`
	}{c.ClientID, c.Method, "[redacted]"})
}
