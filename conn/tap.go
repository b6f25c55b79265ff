package conn

import (
	"sync/atomic"
	"time"
)

// TapFunc sees every frame a connection reads or writes: out is its
// direction (true: sent to the exchange), conn the connection's id (ID), t
// when it was read or handed to the socket (by the injected clock) and
// frame its bytes, valid only during the call (a tap that keeps them must
// copy them).
//
// Inbound frames are tapped on the read goroutine, after a test_request has
// been answered and before anything else is done with the frame; outbound
// ones on the write goroutine, just before they are written. A TapFunc must
// therefore return at once and never wait for anything (rule 1 of
// docs/architecture.md):
// record.Recorder.Tap copies the frame into a bounded queue and drops what
// does not fit.
type TapFunc func(out bool, conn uint64, t time.Time, frame []byte)

// WithTap sets the tap (default: none, which costs one nil check per frame).
func WithTap(f TapFunc) Option { return func(o *options) { o.tap = f } }

// connIDs numbers the Conns of the process, from 1, in the order New
// returns them.
var connIDs atomic.Uint64

// ID is the connection's id in this process: 1 for the first Conn made by
// New, 2 for the next, and so on. It is what a TapFunc receives.
func (c *Conn) ID() uint64 { return c.id }
