package strategy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/stratbox/stratbox/abi"
)

// Order is a new order for Context.Place. The zero Type is a limit order;
// the zero TIF is good_til_cancelled for a limit order and
// immediate_or_cancel for a market order.
type Order struct {
	Instrument uint32          // index into the instrument table
	Side       abi.Side        // abi.Buy or abi.Sell
	Type       abi.OrderType   // abi.Limit (default) or abi.Market
	TIF        abi.TimeInForce // see above for the default
	Flags      abi.OrderFlags  // abi.PostOnly, abi.RejectPostOnly, abi.ReduceOnly
	Price      abi.Fixed       // the limit price; 0 for a market order
	Amount     abi.Fixed       // > 0, in the instrument's amount unit
	Label      string          // for logs and traces: at most 32 bytes, no zero byte
}

// Context is a strategy's handle on the host during a call: it queues
// intents into the plugin's outbox (Place, Amend, Cancel, CancelAll), reads
// the host clock, arms timers and logs. One Context lives as long as the
// instance; it is valid only inside the Strategy method it is passed to, and
// is not safe for concurrent use (the host never calls a plugin
// concurrently).
//
// # A full outbox
//
// Intents go straight into the outbox (64 KiB in a plugin: 800 places). When
// an intent does not fit, it is dropped: Place returns 0 and Amend, Cancel
// and CancelAll return false, and when the call returns the SDK logs one
// warning with the number of intents dropped. The last 16 bytes are kept
// for CancelAll, so that one CancelAll always fits whatever was queued
// before it (abi/README.md section 7: "keep the intents that matter most").
// A dropped intent is not retried; the strategy decides again on its next
// event.
type Context struct {
	host        Host
	out         []byte // the outbox; len is what is queued
	nextCID     uint64
	seq         uint32
	dropped     int
	start       abi.Start
	instruments []abi.Instrument
	adopted     []abi.OrderUpdate
	line        [256]byte // log formatting scratch

	// The intent being appended: a field of the Context rather than a
	// literal on the stack, which Go compiles to wasm as a memory.fill
	// (wazero: a loop of memmove calls) before the fields are set.
	place     abi.Place
	amend     abi.Amend
	cancel    abi.Cancel
	cancelAll abi.CancelAll
}

// reserve is the room at the end of the outbox that only CancelAll may use.
const reserve = abi.SizeCancelAll

func (c *Context) begin(outbox []byte) {
	c.out = outbox[:0]
	c.dropped = 0
}

// finish reports dropped intents and returns the byte count of the outbox.
func (c *Context) finish() int32 {
	if c.dropped > 0 {
		b := append(c.line[:0], "strategy: outbox full: dropped "...)
		b = strconv.AppendInt(b, int64(c.dropped), 10)
		b = append(b, " intents in this call"...)
		c.host.Log(abi.LogWarn, b)
	}
	return int32(len(c.out))
}

// room reports whether size more bytes fit, counting a drop when not.
func (c *Context) room(size int, cancelAll bool) bool {
	limit := cap(c.out)
	if !cancelAll {
		limit -= reserve
	}
	if len(c.out)+size > limit {
		c.dropped++
		return false
	}
	return true
}

func (c *Context) nextSeq() uint32 {
	c.seq++
	return c.seq
}

// Place queues a new order and returns its client order id (cid), which the
// order's updates and fills carry. It returns 0 when the order was not
// queued: the outbox is full, or the label is longer than 32 bytes or holds
// a zero byte (the SDK refuses such labels rather than cutting them). The
// host checks everything else; a refused order comes back as an OrderUpdate
// with state rejected and a reason.
func (c *Context) Place(o Order) uint64 {
	if len(o.Label) > len(abi.Str32{}) || strings.IndexByte(o.Label, 0) >= 0 {
		c.Log(abi.LogError, "strategy: Place refused: the label is longer than 32 bytes or holds a zero byte")
		return 0
	}
	if !c.room(abi.SizePlace, false) {
		return 0
	}
	if o.Type == 0 {
		o.Type = abi.Limit
	}
	if o.TIF == 0 {
		o.TIF = abi.GoodTilCancelled
		if o.Type == abi.Market {
			o.TIF = abi.ImmediateOrCancel
		}
	}
	cid := c.nextCID
	c.nextCID++
	p := &c.place
	p.Seq, p.CID, p.Instrument, p.Side, p.Type = c.nextSeq(), cid, o.Instrument, o.Side, o.Type
	p.TIF, p.Flags, p.Price, p.Amount = o.TIF, o.Flags, o.Price, o.Amount
	clear(p.Label[copy(p.Label[:], o.Label):]) // zeros after the label: AppendPlace copies all 32 bytes
	c.out = abi.AppendPlace(c.out, p)
	return cid
}

// Amend queues a change of an open order's price and total amount (filled
// part included), with the order flags for the edit: the amend record
// carries its own flags, so pass the order's flags again to keep post_only
// or reduce_only. It returns false when the outbox is full. A refused amend comes
// back through OnIntentRejected; an accepted one as an OrderUpdate.
func (c *Context) Amend(cid uint64, price, amount abi.Fixed, flags abi.OrderFlags) bool {
	if !c.room(abi.SizeAmend, false) {
		return false
	}
	a := &c.amend
	a.Seq, a.CID, a.Price, a.Amount, a.Flags = c.nextSeq(), cid, price, amount, flags
	c.out = abi.AppendAmend(c.out, a)
	return true
}

// Cancel queues the cancellation of one order. It returns false when the
// outbox is full.
func (c *Context) Cancel(cid uint64) bool {
	if !c.room(abi.SizeCancel, false) {
		return false
	}
	x := &c.cancel
	x.Seq, x.CID = c.nextSeq(), cid
	c.out = abi.AppendCancel(c.out, x)
	return true
}

// AllInstruments is CancelAll's instrument for "every instrument".
const AllInstruments uint32 = abi.NoInstrument

// CancelAll queues the cancellation of every open order of this instance
// on instrument (AllInstruments: every instrument) and side (abi.SideNone:
// both). The end of the outbox is kept for it, so the first CancelAll of a
// call always fits; it returns false only for a second one in a full
// outbox.
func (c *Context) CancelAll(instrument uint32, side abi.Side) bool {
	if !c.room(abi.SizeCancelAll, true) {
		return false
	}
	x := &c.cancelAll
	x.Seq, x.Instrument, x.Side = c.nextSeq(), instrument, side
	c.out = abi.AppendCancelAll(c.out, x)
	return true
}

// Dropped returns the number of intents dropped in this call because the
// outbox was full.
func (c *Context) Dropped() int { return c.dropped }

// Now returns the host clock in ns since the Unix epoch: the wall clock when
// trading live, the recorded clock in a replay. Read time only from here and
// from events, so that a replay is deterministic.
func (c *Context) Now() uint64 { return uint64(c.host.Now()) }

// SetTimer arms timer id (the strategy's choice) to fire once after d. The
// host raises a shorter d (0 and negative included) to its minimum timer
// interval, the plugin's timer_min (2ms by default), and wakes the plugin
// for its timers at most once per that interval. Re-arming an armed id
// replaces it. OnTimer receives it. The error is ErrLimit when 256 other
// timers are armed.
func (c *Context) SetTimer(id uint32, d time.Duration) error {
	return statusErr(c.host.SetTimer(id, int64(d)))
}

// CancelTimer disarms timer id. The error is ErrNotFound when it is not
// armed (or already fired).
func (c *Context) CancelTimer(id uint32) error {
	return statusErr(c.host.CancelTimer(id))
}

// Log writes msg to the host's log at level, tagged with the instance. It
// does not allocate. Lines over 4096 bytes are cut; the host drops lines
// over its rate limit.
func (c *Context) Log(level abi.LogLevel, msg string) {
	c.host.Log(level, unsafe.Slice(unsafe.StringData(msg), len(msg)))
}

// Logf formats like fmt.Sprintf and logs the result. Unlike Log it
// allocates (fmt boxes its arguments): keep it off the per-event path.
func (c *Context) Logf(level abi.LogLevel, format string, args ...any) {
	c.host.Log(level, fmt.Appendf(c.line[:0], format, args...))
}

// Start returns the start record of the start-up blob: the host's ABI
// version, the features in effect, the first cid, the start time and the
// instance's name. Do not modify it.
func (c *Context) Start() *abi.Start { return &c.start }

// Features returns the optional ABI features in effect (the strategy's
// FeatureSet and the host's).
func (c *Context) Features() abi.Features { return c.start.Features }

// Adopted returns the orders this instance adopted at start: the open
// orders an earlier instance of the plugin left, which a hot swap (`host
// ctl swap`) or a restart with keep_orders hands over, as they were then
// (abi/README.md §10). They are this instance's from the start: their
// updates and fills come to it, and it amends and cancels them by their
// cids (which are below Start().FirstCID, so never reused). They also reach
// OnOrder once each right after Init. Read it in Init to take them over
// instead of placing new orders; do not modify it.
func (c *Context) Adopted() []abi.OrderUpdate { return c.adopted }

// Instruments returns the instrument table; an instrument's index in it is
// the index events and intents use. Do not modify it.
func (c *Context) Instruments() []abi.Instrument { return c.instruments }

// Instrument returns instrument i of the table, or nil.
func (c *Context) Instrument(i uint32) *abi.Instrument {
	if uint64(i) >= uint64(len(c.instruments)) {
		return nil
	}
	return &c.instruments[i]
}

// Lookup returns the index of the instrument named name ("BTC-PERPETUAL").
func (c *Context) Lookup(name string) (uint32, bool) {
	for i := range c.instruments {
		if string(c.instruments[i].Name.Bytes()) == name {
			return uint32(i), true
		}
	}
	return 0, false
}
