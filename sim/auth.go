package sim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// maxSessionsPerKey is Deribit's limit of named sessions per API key; the
// oldest is removed when a new one is opened.
const maxSessionsPerKey = 16

// signatureWindow is how far a client_signature timestamp may be from the
// server's clock.
const signatureWindow = 60 * time.Second

// Signature is Deribit's client_signature for WebSocket auth:
// lowercase hex HMAC-SHA256(secret, timestamp + "\n" + nonce + "\n" + data).
func Signature(secret string, timestampMs int64, nonce, data string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestampMs, 10)))
	m.Write([]byte("\n"))
	m.Write([]byte(nonce))
	m.Write([]byte("\n"))
	m.Write([]byte(data))
	return hex.EncodeToString(m.Sum(nil))
}

type token struct {
	access, refresh string
	keyID, account  string
	connID          uint64 // connection scope: the only connection it is valid on
	session         string // session scope: the session's name
	scope           string
	trade, acct     string // granted levels: "read_write", "read", "none"
	expires         time.Time
	refreshExpires  time.Time
}

type authState struct {
	keys     map[string]APIKey
	access   map[string]*token
	refresh  map[string]*token
	nonces   map[string]time.Time // keyID + "\x00" + nonce → when it may be forgotten
	sessions map[string][]string  // keyID → session names, oldest first
}

func newAuthState(keys []APIKey) *authState {
	a := &authState{
		keys:     make(map[string]APIKey, len(keys)),
		access:   make(map[string]*token),
		refresh:  make(map[string]*token),
		nonces:   make(map[string]time.Time),
		sessions: make(map[string][]string),
	}
	for _, k := range keys {
		if k.Account == "" {
			k.Account = k.ID
		}
		a.keys[k.ID] = k
	}
	return a
}

func randomToken() string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sim: crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

type authParams struct {
	GrantType    string  `json:"grant_type"`
	ClientID     string  `json:"client_id"`
	ClientSecret string  `json:"client_secret"`
	RefreshToken string  `json:"refresh_token"`
	Timestamp    integer `json:"timestamp"`
	Signature    string  `json:"signature"`
	Nonce        string  `json:"nonce"`
	Data         string  `json:"data"`
	State        string  `json:"state"`
	Scope        string  `json:"scope"`
}

type authResult struct {
	AccessToken     string   `json:"access_token"`
	ExpiresIn       int64    `json:"expires_in"`
	RefreshToken    string   `json:"refresh_token"`
	Scope           string   `json:"scope"`
	TokenType       string   `json:"token_type"`
	State           string   `json:"state,omitempty"`
	EnabledFeatures []string `json:"enabled_features"`
}

func invalidCredentials(reason string) *Error {
	return NewError(CodeInvalidCredentials, map[string]string{"reason": reason})
}

func unauthorized(reason string) *Error {
	return NewError(CodeUnauthorized, map[string]string{"reason": reason})
}

// public/auth
func methodAuth(k *call) (any, *Error) {
	var p authParams
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	s, c := k.c.srv, k.c
	a := s.auth
	now := s.clk.Now()
	var key APIKey
	var old *token
	switch p.GrantType {
	case "client_credentials":
		kk, ok := a.keys[p.ClientID]
		if !ok || subtle.ConstantTimeCompare([]byte(kk.Secret), []byte(p.ClientSecret)) != 1 {
			return nil, invalidCredentials("invalid client_id or client_secret")
		}
		key = kk
	case "client_signature":
		kk, ok := a.keys[p.ClientID]
		if !ok {
			return nil, invalidCredentials("invalid client_id")
		}
		if p.Timestamp == 0 || p.Signature == "" {
			return nil, NewError(CodeValueRequired, map[string]string{"reason": "timestamp and signature are required"})
		}
		ts := time.UnixMilli(int64(p.Timestamp))
		if d := now.Sub(ts); d > signatureWindow || d < -signatureWindow {
			return nil, invalidCredentials("timestamp outside the 60 s window")
		}
		want := Signature(kk.Secret, int64(p.Timestamp), p.Nonce, p.Data)
		if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(p.Signature))) != 1 {
			return nil, invalidCredentials("bad signature")
		}
		nk := kk.ID + "\x00" + p.Nonce
		if _, used := a.nonces[nk]; used {
			return nil, invalidCredentials("nonce already used")
		}
		a.forgetNonces(now)
		a.nonces[nk] = ts.Add(2 * signatureWindow)
		key = kk
	case "refresh_token":
		t, ok := a.refresh[p.RefreshToken]
		if !ok || p.RefreshToken == "" {
			return nil, unauthorized("invalid refresh token")
		}
		if now.After(t.refreshExpires) {
			a.revoke(t)
			return nil, unauthorized("refresh token has expired")
		}
		if t.connID != 0 && t.connID != c.id {
			return nil, unauthorized("'connection' scope can't be reused for other connections")
		}
		key = a.keys[t.keyID]
		old = t
		if p.Scope == "" {
			p.Scope = t.scope
		}
	case "":
		return nil, paramError("grant_type", "value required")
	default:
		return nil, paramError("grant_type", "must be client_credentials, client_signature or refresh_token")
	}

	t := &token{keyID: key.ID, account: key.Account, trade: "read_write", acct: "read_write"}
	scopes := []string{}
	sessionName := ""
	for _, f := range strings.Fields(p.Scope) {
		switch {
		case f == "connection":
		case strings.HasPrefix(f, "session:"):
			sessionName = strings.TrimPrefix(f, "session:")
		case strings.HasPrefix(f, "trade:"):
			t.trade = strings.TrimPrefix(f, "trade:")
			scopes = append(scopes, f)
		case strings.HasPrefix(f, "account:"):
			t.acct = strings.TrimPrefix(f, "account:")
			scopes = append(scopes, f)
		case f == "mainaccount":
		default:
			scopes = append(scopes, f)
		}
	}
	if sessionName != "" {
		t.session = sessionName
		t.scope = "session:" + sessionName
		a.openSession(key.ID, sessionName)
	} else {
		t.connID = c.id
		t.scope = "connection"
	}
	granted := strings.Join(append([]string{t.scope}, append(scopes, "mainaccount")...), " ")
	if old != nil {
		a.revoke(old)
	}
	t.access = randomToken()
	t.refresh = randomToken()
	t.expires = now.Add(s.cfg.TokenTTL)
	t.refreshExpires = now.Add(s.cfg.TokenTTL + 24*time.Hour)
	t.scope = granted
	a.access[t.access] = t
	a.refresh[t.refresh] = t

	c.account = key.Account
	c.authed = true
	c.token = t
	s.accountLocked(key.Account)
	return authResult{
		AccessToken:     t.access,
		ExpiresIn:       int64(s.cfg.TokenTTL / time.Second),
		RefreshToken:    t.refresh,
		Scope:           granted,
		TokenType:       "bearer",
		State:           p.State,
		EnabledFeatures: []string{},
	}, nil
}

func (a *authState) forgetNonces(now time.Time) {
	for k, until := range a.nonces {
		if now.After(until) {
			delete(a.nonces, k)
		}
	}
}

func (a *authState) revoke(t *token) {
	delete(a.access, t.access)
	delete(a.refresh, t.refresh)
}

// openSession records a named session; beyond 16 per key the oldest goes,
// with its tokens.
func (a *authState) openSession(keyID, name string) {
	list := a.sessions[keyID]
	for i, n := range list {
		if n == name {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	list = append(list, name)
	for len(list) > maxSessionsPerKey {
		gone := list[0]
		list = list[1:]
		for _, t := range a.access {
			if t.keyID == keyID && t.session == gone {
				a.revoke(t)
			}
		}
	}
	a.sessions[keyID] = list
}

// authorizeLocked decides whether a private request may run, and for which
// account. A request may carry access_token; otherwise the connection's own
// authentication counts.
func (c *session) authorizeLocked(k *call, scope string) *Error {
	s := c.srv
	now := s.clk.Now()
	var tp struct {
		AccessToken string `json:"access_token"`
	}
	_ = k.decode(&tp) // a type error is reported by the handler's own decode
	var t *token
	if tp.AccessToken != "" {
		t = s.auth.access[tp.AccessToken]
		if t == nil {
			return unauthorized("invalid token")
		}
		if t.connID != 0 && t.connID != c.id {
			return unauthorized("'connection' scope can't be reused for other connections")
		}
	} else {
		if !c.authed || c.token == nil {
			return NewError(CodeAuthorizationRequired, nil)
		}
		t = c.token
		if s.auth.access[t.access] == nil {
			return unauthorized("token revoked")
		}
	}
	if now.After(t.expires) {
		return unauthorized("token has expired")
	}
	if scope != "" {
		kind, level, _ := strings.Cut(scope, ":")
		have := t.acct
		if kind == "trade" {
			have = t.trade
		}
		if have == "none" || (level == "read_write" && have != "read_write") {
			return NewError(CodeScopeExceeded, map[string]string{"reason": "token scope does not allow " + scope})
		}
	}
	k.account = t.account
	k.tok = t
	return nil
}

type logoutParams struct {
	InvalidateToken *flag `json:"invalidate_token"`
}

// private/logout: no response body, a graceful close, and no
// cancel-on-disconnect.
func methodLogout(k *call) (any, *Error) {
	var p logoutParams
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	c := k.c
	if p.InvalidateToken == nil || bool(*p.InvalidateToken) {
		c.srv.auth.revoke(k.tok)
	}
	c.loggedOut = true
	c.hangUp("logout")
	return nil, errNoResponse
}
