package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Client speaks to a host's control endpoint.
type Client struct {
	target string // what the user gave, for errors
	unix   bool
	base   string
	token  string
	hc     *http.Client
}

// NewClient returns a client of the endpoint at target: a Unix socket's
// path, or an http:// URL on loopback (then token is its bearer token).
// Nothing is dialled until the first call.
func NewClient(target, token string) (*Client, error) {
	c := &Client{target: target, token: token}
	tr := &http.Transport{DisableKeepAlives: true, ResponseHeaderTimeout: time.Minute}
	switch {
	case strings.HasPrefix(target, "http://"):
		u, err := url.Parse(target)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("control: %q: want a socket path or http://host:port", target)
		}
		if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("control: %s is beyond loopback: the control endpoint serves loopback only, and its token must not cross a network", target)
		}
		c.base = strings.TrimSuffix(target, "/")
	case strings.Contains(target, "://"):
		return nil, fmt.Errorf("control: %q: want a socket path or http://host:port", target)
	case target == "":
		return nil, errors.New("control: no socket path")
	default:
		c.base, c.unix = "http://stratbox", true
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", target)
		}
	}
	c.hc = &http.Client{Transport: tr}
	return c, nil
}

// Status returns the host's state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.call(ctx, "GET", "/v1/status", nil, &st)
	return st, err
}

// Kill turns the host's kill switch on; it returns the orders cancelled.
func (c *Client) Kill(ctx context.Context) (int, error) {
	var r struct{ Cancelled int }
	err := c.call(ctx, "POST", "/v1/kill", nil, &r)
	return r.Cancelled, err
}

// Pause stops event delivery to a plugin, cancelling its orders if asked.
func (c *Client) Pause(ctx context.Context, plugin string, cancel bool) error {
	return c.call(ctx, "POST", "/v1/plugins/"+url.PathEscape(plugin)+"/pause", map[string]bool{"cancel": cancel}, nil)
}

// Resume delivers events to a paused plugin again.
func (c *Client) Resume(ctx context.Context, plugin string) error {
	return c.call(ctx, "POST", "/v1/plugins/"+url.PathEscape(plugin)+"/resume", nil, nil)
}

// Swap replaces a plugin's module without touching its orders. file is
// read by the host: over a Unix socket a relative path is made absolute
// here; over HTTP it is sent as given.
func (c *Client) Swap(ctx context.Context, plugin, file string, params map[string]string) (Swapped, error) {
	if abs, err := filepath.Abs(file); err == nil && c.unix {
		file = abs // over a Unix socket the host shares this file system
	}
	body := map[string]any{"file": file}
	if len(params) > 0 {
		body["params"] = params
	}
	var res Swapped
	err := c.call(ctx, "POST", "/v1/plugins/"+url.PathEscape(plugin)+"/swap", body, &res)
	return res, err
}

// Reload makes the host re-read its configuration file.
func (c *Client) Reload(ctx context.Context) (Reload, error) {
	var r Reload
	err := c.call(ctx, "POST", "/v1/reload", nil, &r)
	return r, err
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return fmt.Errorf("%w at %s (is `host run` running? it prints its control socket when it starts): %v", ErrNoHost, c.target, op.Err)
		}
		return fmt.Errorf("control: %s: %w", c.target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("control: %s: %w", c.target, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Code string }
		if json.Unmarshal(b, &e) != nil || e.Code == "" {
			return fmt.Errorf("control: %s answered %s, not the control endpoint's reply: is it a stratbox host?", c.target, resp.Status)
		}
		return &Error{Code: e.Code, Message: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("control: %s: reply: %w", c.target, err)
	}
	return nil
}
