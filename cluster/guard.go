package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stratbox/stratbox/venue/deribit"
)

// RemoteAllowed reports whether method is one of the only requests a node
// executes for another member (or for the controller): placing, amending
// and cancelling an order, and reading an order's state (the venue's
// methods, venue/deribit.Op). Anything else (withdrawals, account reads,
// cancel-on-disconnect, subscriptions, cancel_all) is refused before it
// reaches a connection.
func RemoteAllowed(method string) bool {
	switch deribit.Op(method) {
	case deribit.OpPlace, deribit.OpEdit, deribit.OpCancel, deribit.OpCancelByLabel,
		deribit.OpOrderState, deribit.OpOrderStateByLabel:
		return true
	}
	return false
}

// RemoteOrder is an order request that reached this node from another
// member, as Config.Guard sees it.
type RemoteOrder struct {
	Pool, Method string
	// Params are the request's parameters (a JSON object).
	Params json.RawMessage
	// Instrument is, for an amend, the instrument of the order it
	// changes, read from the exchange before the guard is asked; "" for the
	// other methods, whose params name it.
	Instrument string
}

// ErrRefused wraps a request this node refused (a method not allowed, the
// guard's refusal); it also wraps conn.ErrNotSent: nothing was sent.
var ErrRefused = errors.New("refused")

// admit applies the allow-list and the guard to a request for this node's
// connections that did not come from its own engine.
func (n *Node) admit(ctx context.Context, pool, id, method string, params []byte) error {
	if !RemoteAllowed(method) {
		n.stats.refused.Add(1)
		return fmt.Errorf("method %q is not one a member may ask for (place, amend, cancel, order state): %w", method, ErrRefused)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(params, &obj); err != nil || obj == nil {
		n.stats.refused.Add(1)
		return fmt.Errorf("%s: params are not a JSON object: %w", method, ErrRefused)
	}
	if n.cfg.Guard == nil {
		return nil
	}
	o := RemoteOrder{Pool: pool, Method: method, Params: params}
	if deribit.Op(method) == deribit.OpEdit {
		// The edit names only the order: its instrument (for the price
		// band and the notional) is the exchange's word, not the sender's.
		var p struct {
			OrderID string `json:"order_id"`
		}
		_ = json.Unmarshal(params, &p)
		if p.OrderID == "" {
			n.stats.refused.Add(1)
			return fmt.Errorf("%s without an order_id: %w", method, ErrRefused)
		}
		q := deribit.GetOrderState(p.OrderID)
		raw, err := n.placer.Place(ctx, pool, id, q.Method, q.Params)
		var st struct {
			Instrument string `json:"instrument_name"`
		}
		if err == nil {
			err = json.Unmarshal(raw, &st)
		}
		if err != nil || st.Instrument == "" {
			n.stats.refused.Add(1)
			return fmt.Errorf("%s of %s: its order's instrument is not known (%v): %w", method, p.OrderID, err, ErrRefused)
		}
		o.Instrument = st.Instrument
	}
	if err := n.cfg.Guard(o); err != nil {
		n.stats.refused.Add(1)
		return fmt.Errorf("%s: %w: %w", method, err, ErrRefused)
	}
	return nil
}
