package strategy

import "github.com/stratbox/stratbox/abi"

// The plugin's buffers (abi/README.md section 7): static arrays, so they
// never move; the inbox holds any batch the host may send (64 KiB is the
// minimum, so that every record fits) and the outbox 800 places.
const (
	InboxSize  = 256 << 10
	OutboxSize = 64 << 10
)

// markerName is the version marker the SDK exports (exports_wasip1.go
// spells it again in its //go:wasmexport directive), and markerVersion the
// version the descriptor repeats.
const markerName = "stratbox_abi_v1_0"

var markerVersion = abi.Version{Major: 1, Minor: 0}

// registered is the plugin's strategy. It is package state because the
// exports are: a wasm instance is one plugin running one strategy.
var registered Strategy

// Register makes s the plugin's strategy. Call it once, from an init
// function of the plugin's main package: a plugin built with
// -buildmode=c-shared is a WASI reactor, whose package initialisers run
// (in _initialize) but whose main function never does.
//
//	func init() { strategy.Register(&MarketMaker{}) }
//	func main() {}
//
// It panics when called twice or with nil, which traps the plugin at load
// with the message in the host's log.
func Register(s Strategy) {
	if s == nil {
		panic("strategy: Register(nil)")
	}
	if registered != nil {
		panic("strategy: Register called twice; a plugin runs one strategy")
	}
	registered = s
}

// pluginFeatures returns the features the registered strategy supports.
func pluginFeatures() abi.Features {
	if fs, ok := registered.(FeatureSet); ok {
		return fs.Features()
	}
	return 0
}

// pluginInit starts the registered strategy (stratbox_init).
func pluginInit(h Host, inbox, outbox []byte, n int32) (*Runner, int32) {
	if registered == nil {
		h.Log(abi.LogError, []byte("strategy: no strategy is registered: call strategy.Register from an init function of package main"))
		return nil, int32(abi.PluginBadConf)
	}
	r := NewRunner(registered, h, inbox, outbox)
	return r, r.Init(n)
}
