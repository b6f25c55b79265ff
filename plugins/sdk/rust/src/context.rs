//! Context: a strategy's handle on the host during a call, as the Go SDK's:
//! it queues intents into the outbox (place, amend, cancel, cancel_all),
//! reads the host clock, arms timers and logs.

use crate::abi::{self, Fixed, Instrument, OrderUpdate, Start, Str};
use crate::host;
use core::fmt::{self, Write};
use std::rc::Rc;

/// A new order for [`Context::place`]. `order_type` 0 is a limit order;
/// `tif` 0 is good_til_cancelled for a limit order and immediate_or_cancel
/// for a market order.
#[derive(Clone, Copy, Debug, Default)]
pub struct Order<'a> {
    /// Index into the instrument table.
    pub instrument: u32,
    /// [`abi::BUY`] or [`abi::SELL`].
    pub side: u8,
    /// [`abi::LIMIT`] (default) or [`abi::MARKET`].
    pub order_type: u8,
    /// See above for the default.
    pub tif: u8,
    /// [`abi::POST_ONLY`], [`abi::REJECT_POST_ONLY`], [`abi::REDUCE_ONLY`].
    pub flags: u16,
    /// The limit price; 0 for a market order.
    pub price: Fixed,
    /// > 0, in the instrument's amount unit.
    pub amount: Fixed,
    /// For logs and traces: at most 32 bytes, no zero byte.
    pub label: &'a str,
}

/// [`Context::cancel_all`]'s instrument for "every instrument".
pub const ALL_INSTRUMENTS: u32 = abi::NO_INSTRUMENT;

/// A host function's refusal (abi/README.md §5 status codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub i32);

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            abi::STATUS_BAD_ARGUMENT => "stratbox: bad argument",
            abi::STATUS_OUT_OF_BOUNDS => "stratbox: out of bounds",
            abi::STATUS_NOT_FOUND => "stratbox: not found",
            abi::STATUS_LIMIT => "stratbox: limit reached",
            _ => return write!(f, "stratbox: status {}", self.0),
        })
    }
}

fn status(s: i32) -> Result<(), Status> {
    if s == 0 {
        Ok(())
    } else {
        Err(Status(s))
    }
}

/// The room at the end of the outbox that only `cancel_all` may use.
const RESERVE: usize = abi::SIZE_CANCEL_ALL;

/// A strategy's handle on the host during a call. One Context lives as long
/// as the instance; it is valid only inside the method it is passed to.
///
/// # A full outbox
///
/// Intents go straight into the outbox (64 KiB: 800 places). When an intent
/// does not fit it is dropped: `place` returns 0 and `amend`, `cancel` and
/// `cancel_all` return false, and when the call returns the SDK logs one
/// warning with the number dropped. The last 16 bytes are kept for
/// `cancel_all`, so that one `cancel_all` always fits.
pub struct Context {
    out: *mut u8,
    cap: usize,
    len: usize,
    next_cid: u64,
    seq: u32,
    dropped: usize,
    pub(crate) start: Start,
    pub(crate) instruments: Rc<[Instrument]>,
    pub(crate) adopted: Rc<[OrderUpdate]>,
}

impl Context {
    pub(crate) fn new() -> Self {
        Context { out: core::ptr::null_mut(), cap: 0, len: 0, next_cid: 1, seq: 0, dropped: 0, start: Start::default(), instruments: Rc::from(Vec::new()), adopted: Rc::from(Vec::new()) }
    }

    /// Starts a call: an empty outbox.
    pub(crate) fn begin(&mut self, outbox: &mut [u8]) {
        self.out = outbox.as_mut_ptr();
        self.cap = outbox.len();
        self.len = 0;
        self.dropped = 0;
    }

    /// Ends a call: warns of dropped intents, returns the outbox byte count.
    pub(crate) fn finish(&mut self) -> i32 {
        if self.dropped > 0 {
            let n = self.dropped;
            self.logf(abi::LOG_WARN, format_args!("strategy: outbox full: dropped {} intents in this call", n));
        }
        self.out = core::ptr::null_mut();
        self.len as i32
    }

    pub(crate) fn set_first_cid(&mut self, cid: u64) {
        self.next_cid = cid.max(1);
    }

    /// The next N bytes of the outbox, or None (a drop is counted).
    #[inline(always)]
    fn slot<const N: usize>(&mut self, cancel_all: bool) -> Option<&mut [u8; N]> {
        let limit = if cancel_all { self.cap } else { self.cap.saturating_sub(RESERVE) };
        if self.len + N > limit {
            self.dropped += 1;
            return None;
        }
        // SAFETY: [out, out+cap) is the outbox of this call (begin), and
        // len + N <= cap; the outbox is not the inbox.
        let b = unsafe { &mut *(self.out.add(self.len) as *mut [u8; N]) };
        self.len += N;
        Some(b)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Queues a new order and returns its client order id (cid), which the
    /// order's updates and fills carry. It returns 0 when the order was not
    /// queued: the outbox is full, or the label is longer than 32 bytes or
    /// holds a zero byte (refused rather than cut). The host checks the rest;
    /// a refused order comes back through `on_order` as rejected.
    pub fn place(&mut self, o: Order) -> u64 {
        let label = match Str::<32>::new(o.label) {
            Some(l) => l,
            None => {
                self.log(abi::LOG_ERROR, "strategy: place refused: the label is longer than 32 bytes or holds a zero byte");
                return 0;
            }
        };
        let order_type = if o.order_type == 0 { abi::LIMIT } else { o.order_type };
        let tif = match o.tif {
            0 if order_type == abi::MARKET => abi::IMMEDIATE_OR_CANCEL,
            0 => abi::GOOD_TIL_CANCELLED,
            t => t,
        };
        let (cid, seq) = (self.next_cid, self.seq.wrapping_add(1));
        let b = match self.slot::<{ abi::SIZE_PLACE }>(false) {
            Some(b) => b,
            None => return 0,
        };
        abi::write_place(b, seq, cid, o.instrument, o.side, order_type, tif, o.flags, o.price, o.amount, &label);
        self.seq = seq;
        self.next_cid += 1;
        cid
    }

    /// Queues a change of an open order's price and total amount (filled
    /// part included) with the order flags for the edit (pass the order's
    /// flags again to keep post_only or reduce_only). False when the outbox
    /// is full. A refusal comes back through `on_intent_rejected`.
    pub fn amend(&mut self, cid: u64, price: Fixed, amount: Fixed, flags: u16) -> bool {
        let seq = self.seq.wrapping_add(1);
        match self.slot::<{ abi::SIZE_AMEND }>(false) {
            Some(b) => abi::write_amend(b, seq, cid, price, amount, flags),
            None => return false,
        }
        self.next_seq();
        true
    }

    /// Queues the cancellation of one order. False when the outbox is full.
    pub fn cancel(&mut self, cid: u64) -> bool {
        let seq = self.seq.wrapping_add(1);
        match self.slot::<{ abi::SIZE_CANCEL }>(false) {
            Some(b) => abi::write_cancel(b, seq, cid),
            None => return false,
        }
        self.next_seq();
        true
    }

    /// Queues the cancellation of every open order of this instance on
    /// instrument ([`ALL_INSTRUMENTS`]: every one) and side
    /// ([`abi::SIDE_NONE`]: both). The end of the outbox is kept for it.
    pub fn cancel_all(&mut self, instrument: u32, side: u8) -> bool {
        let seq = self.seq.wrapping_add(1);
        match self.slot::<{ abi::SIZE_CANCEL_ALL }>(true) {
            Some(b) => abi::write_cancel_all(b, seq, instrument, side),
            None => return false,
        }
        self.next_seq();
        true
    }

    /// Intents dropped in this call because the outbox was full.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// The host clock in ns since the Unix epoch: the wall clock live, the
    /// recorded clock in a replay. Read time only from here and the events.
    pub fn now(&self) -> u64 {
        host::now() as u64
    }

    /// Arms timer id (the strategy's choice) to fire once after after_ns.
    /// The host raises a shorter after_ns (0 and negative included) to its
    /// minimum timer interval, the plugin's `timer_min` (2 ms by default),
    /// and wakes the plugin for its timers at most once per that interval.
    /// Re-arming an armed id replaces it. `on_timer` receives it.
    /// `Err(Status(STATUS_LIMIT))` when 256 other timers are armed.
    pub fn set_timer(&mut self, id: u32, after_ns: i64) -> Result<(), Status> {
        status(host::set_timer(id, after_ns))
    }

    /// Disarms timer id; `Err(Status(STATUS_NOT_FOUND))` when not armed.
    pub fn cancel_timer(&mut self, id: u32) -> Result<(), Status> {
        status(host::cancel_timer(id))
    }

    /// Writes msg to the host's log at level ([`abi::LOG_DEBUG`] …
    /// [`abi::LOG_ERROR`]), tagged with the instance. It does not allocate.
    pub fn log(&mut self, level: i32, msg: &str) {
        host::log(level, msg.as_bytes());
    }

    /// Formats and logs: `ctx.logf(LOG_INFO, format_args!("x {}", x))`. It
    /// formats into a 512-byte buffer on the stack (longer lines are cut)
    /// and does not allocate.
    pub fn logf(&mut self, level: i32, args: fmt::Arguments) {
        let mut line = Line { buf: [0; 512], len: 0 };
        let _ = line.write_fmt(args);
        host::log(level, &line.buf[..line.len]);
    }

    /// The start record of the start-up blob: the host's ABI version, the
    /// features in effect, the first cid, the start time, the instance name.
    pub fn start(&self) -> &Start {
        &self.start
    }

    /// The optional ABI features in effect.
    pub fn features(&self) -> u32 {
        self.start.features
    }

    /// The orders this instance adopted at start: the open orders an earlier
    /// instance left, which a hot swap (or a restart with keep_orders) hands
    /// over (abi/README.md §10). They are its own from the start: it amends
    /// and cancels them by cid. Read them in `init` to take them over
    /// instead of placing new orders; each also reaches `on_order` after
    /// `init`.
    pub fn adopted(&self) -> &[OrderUpdate] {
        &self.adopted
    }

    /// The instrument table; an instrument's index in it is the index events
    /// and intents use.
    pub fn instruments(&self) -> &[Instrument] {
        &self.instruments
    }

    /// Instrument i of the table.
    pub fn instrument(&self, i: u32) -> Option<&Instrument> {
        self.instruments.get(i as usize)
    }

    /// The index of the instrument named name ("BTC-PERPETUAL").
    pub fn lookup(&self, name: &str) -> Option<u32> {
        self.instruments.iter().position(|i| i.name.bytes() == name.as_bytes()).map(|i| i as u32)
    }
}

// A log line being formatted: cut at the buffer's end, at a UTF-8 boundary.
struct Line {
    buf: [u8; 512],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}
