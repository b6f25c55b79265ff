package strategy

import (
	"errors"

	"github.com/stratbox/stratbox/abi"
)

// Host is what the SDK needs from the host: the four host functions of
// abi/README.md section 5. In a plugin it is the wasm imports of module
// "stratbox"; in tests, a fake (package strategytest).
type Host interface {
	// Log writes msg at level; the host reads msg during the call only.
	Log(level abi.LogLevel, msg []byte) abi.Status
	// Now is the host clock, ns since the Unix epoch.
	Now() int64
	// SetTimer arms timer id to fire after afterNs, which the host raises
	// to the plugin's timer_min (2ms by default) when shorter (<= 0 too).
	SetTimer(id uint32, afterNs int64) abi.Status
	// CancelTimer disarms timer id.
	CancelTimer(id uint32) abi.Status
}

// Errors of the host functions (abi.Status) and of the SDK.
var (
	ErrBadArgument = errors.New("strategy: bad argument")
	ErrOutOfBounds = errors.New("strategy: out of bounds")
	ErrNotFound    = errors.New("strategy: timer not armed")
	ErrLimit       = errors.New("strategy: limit reached")
	ErrStatus      = errors.New("strategy: unknown host status")
)

func statusErr(s abi.Status) error {
	switch s {
	case abi.StatusOK:
		return nil
	case abi.StatusBadArgument:
		return ErrBadArgument
	case abi.StatusOutOfBounds:
		return ErrOutOfBounds
	case abi.StatusNotFound:
		return ErrNotFound
	case abi.StatusLimit:
		return ErrLimit
	}
	return ErrStatus
}
