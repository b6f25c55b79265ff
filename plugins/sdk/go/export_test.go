package strategy

import "github.com/stratbox/stratbox/abi"

// Hooks for the external tests.

// Queued returns the intent bytes queued in the outbox so far.
func (c *Context) Queued() []byte { return c.out }

// SetLastSeq sets the header seq of the last intent queued (the next is
// seq+1), so that a test can reproduce a vector's seq.
func (c *Context) SetLastSeq(seq uint32) { c.seq = seq }

// Marker returns the marker export name and the descriptor's version.
func Marker() (string, abi.Version) { return markerName, markerVersion }

// PluginInit is stratbox_init's portable part, with s registered.
func PluginInit(s Strategy, h Host, inbox, outbox []byte, n int32) (*Runner, int32) {
	old := registered
	registered = s
	defer func() { registered = old }()
	return pluginInit(h, inbox, outbox, n)
}

// PluginFeatures is the descriptor's features with s registered.
func PluginFeatures(s Strategy) uint32 {
	old := registered
	registered = s
	defer func() { registered = old }()
	return uint32(pluginFeatures())
}

// Unregister forgets the registered strategy.
func Unregister() { registered = nil }
