// Requests and subscriptions on a connection: what callers do with a Conn
// once it is ready.

package conn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// readySession is the socket requests go to, or the reason there is none.
func (c *Conn) readySession() (*session, error) {
	s := c.cur.Load()
	if s != nil && s.ready.Load() {
		return s, nil
	}
	if c.State() == StateClosed || c.isClosed() {
		return nil, fmt.Errorf("%w: %w", ErrNotSent, ErrClosed)
	}
	return nil, fmt.Errorf("%w: %w", ErrNotSent, ErrDisconnected)
}

func (c *Conn) isClosed() bool {
	c.lifeMu.Lock()
	defer c.lifeMu.Unlock()
	return c.closed
}

// CallRaw sends method with params (a JSON object, or nil for {}) and returns
// the raw JSON result, which the caller owns. It fails fast with ErrNotSent
// and ErrDisconnected (or ErrClosed) when no socket is ready: requests are
// never carried over to the next socket. Errors: *RPCError from the exchange;
// ErrTimeout after Config.RequestTimeout; the context's error; ErrStale,
// ErrDisconnected or ErrClosed when the socket goes away. Any of these also
// wraps ErrNotSent when the request was never written.
func (c *Conn) CallRaw(ctx context.Context, method string, params []byte) (json.RawMessage, error) {
	s, err := c.readySession()
	if err != nil {
		return nil, fmt.Errorf("conn: %s: %w", method, err)
	}
	return s.call(ctx, method, params)
}

// Call is CallRaw with params encoded by encoding/json (nil for none) and
// the result decoded into result (unless it is nil). Decoding failures wrap
// ErrDecode.
func (c *Conn) Call(ctx context.Context, method string, params, result any) error {
	var p []byte
	if params != nil {
		var err error
		if p, err = json.Marshal(params); err != nil {
			return fmt.Errorf("conn: %s: %w: %w", method, ErrNotSent, err)
		}
	}
	raw, err := c.CallRaw(ctx, method, p)
	if err != nil || result == nil {
		return err
	}
	if err := json.Unmarshal(raw, result); err != nil {
		return fmt.Errorf("conn: %s: %w: %w", method, ErrDecode, err)
	}
	return nil
}

// Subscribe subscribes to channels (private/subscribe when authenticated,
// public/subscribe otherwise), remembers them for every later reconnect, and
// returns the channels the exchange confirmed. Channels it left out are
// reported with a *SubscribeError (and not remembered). When the request was
// not sent (ErrNotSent) or the exchange refused it (*RPCError), the channels
// this call added are forgotten; channels remembered before it stay. After
// any other failure (timeout, cancellation, lost socket) the channels stay
// remembered, since the exchange may have subscribed, and are subscribed on
// the next socket.
func (c *Conn) Subscribe(ctx context.Context, channels ...string) ([]string, error) {
	if len(channels) == 0 {
		return nil, nil
	}
	s, err := c.readySession()
	if err != nil {
		return nil, fmt.Errorf("conn: subscribe: %w", err)
	}
	var added []string // not remembered before this call
	c.subsMu.Lock()
	for _, ch := range channels {
		if _, ok := c.subs[ch]; !ok {
			c.subs[ch] = struct{}{}
			added = append(added, ch)
		}
	}
	c.subsMu.Unlock()
	got, err := c.subscribe(ctx, s, channels, false)
	var re *RPCError
	if err != nil && (errors.Is(err, ErrNotSent) || errors.As(err, &re)) {
		// Nothing was subscribed: forget what this call added. After a
		// timeout, a cancellation or a lost socket once the request was
		// written the exchange may have subscribed, so the channels stay
		// remembered (and are subscribed on the next socket).
		c.forget(added)
	}
	return got, err
}

// Unsubscribe unsubscribes from channels and forgets them.
func (c *Conn) Unsubscribe(ctx context.Context, channels ...string) error {
	c.forget(channels)
	s, err := c.readySession()
	if err != nil {
		return fmt.Errorf("conn: unsubscribe: %w", err)
	}
	method := "public/unsubscribe"
	if s.authed {
		method = "private/unsubscribe"
	}
	p, _ := json.Marshal(struct {
		Channels []string `json:"channels"`
	}{channels})
	_, err = s.call(ctx, method, p)
	return err
}

func (c *Conn) forget(channels []string) {
	c.subsMu.Lock()
	for _, ch := range channels {
		delete(c.subs, ch)
	}
	c.subsMu.Unlock()
}

// subscribe runs one subscribe call on s and checks the confirmed list;
// channels the exchange left out are forgotten and reported.
// MaxChannelsPerSubscribe is Deribit's limit of channels in one subscribe
// request; longer lists are sent in batches.
const MaxChannelsPerSubscribe = 500

// subscribe subscribes channels in batches of at most
// MaxChannelsPerSubscribe. Channels the exchange leaves out of its answer
// are forgotten and reported in a *SubscribeError. A batch the exchange
// refuses with an error is, on re-subscription (restore), forgotten and
// reported the same way, so that one bad channel cannot keep the connection
// from becoming ready; on a caller's Subscribe the *RPCError is returned and
// Subscribe decides what to forget. A lost socket or a timeout stops at once.
func (c *Conn) subscribe(ctx context.Context, s *session, channels []string, restore bool) ([]string, error) {
	var got, missing []string
	var refused error
	for len(channels) > 0 {
		n := min(len(channels), MaxChannelsPerSubscribe)
		batch := channels[:n]
		channels = channels[n:]
		ok, err := c.subscribeBatch(ctx, s, batch)
		var rpc *RPCError
		switch {
		case errors.As(err, &rpc) && restore:
			refused = errors.Join(refused, err)
			missing = append(missing, batch...)
			continue
		case err != nil:
			return got, err
		}
		confirmed := make(map[string]bool, len(ok))
		for _, ch := range ok {
			confirmed[ch] = true
		}
		got = append(got, ok...)
		for _, ch := range batch {
			if !confirmed[ch] {
				missing = append(missing, ch)
			}
		}
	}
	if len(missing) > 0 {
		c.forget(missing)
		if refused != nil {
			c.log.Warn("conn: re-subscription refused", "channels", len(missing), "err", refused)
		}
		return got, &SubscribeError{Missing: missing}
	}
	return got, nil
}

func (c *Conn) subscribeBatch(ctx context.Context, s *session, channels []string) ([]string, error) {
	method := "public/subscribe"
	if s.authed {
		method = "private/subscribe"
	}
	p, err := json.Marshal(struct {
		Channels []string `json:"channels"`
	}{channels})
	if err != nil {
		return nil, fmt.Errorf("conn: subscribe: %w: %w", ErrNotSent, err)
	}
	raw, err := s.call(ctx, method, p)
	if err != nil {
		return nil, err
	}
	var got []string
	if err := json.Unmarshal(raw, &got); err != nil {
		return nil, fmt.Errorf("conn: %s: %w: %w", method, ErrDecode, err)
	}
	return got, nil
}
