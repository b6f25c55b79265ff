//! A fake host for native tests (`cargo test`): the host functions of a
//! native build read and write this thread's fake host, and [`Harness`]
//! runs a strategy through the SDK's runner with the same code path as the
//! plugin: start-up blob in, intent records out.

use crate::abi::{self, Fixed};
use crate::runner::Runner;
use crate::strategy::Strategy;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// The host's default minimum timer interval (a plugin's `timer_min`,
/// abi/README.md §5 `set_timer`): 2 ms.
pub const DEFAULT_TIMER_MIN: i64 = 2_000_000;

/// This thread's fake host.
pub struct FakeHost {
    /// The host clock, ns since the Unix epoch.
    pub now: i64,
    /// The log lines: (level, text).
    pub logs: Vec<(i32, String)>,
    /// The armed timers: id → due time.
    pub timers: BTreeMap<u32, i64>,
    /// The minimum timer interval in ns: `set_timer` raises a shorter
    /// `after_ns` (0 and negative included) to it, as the host does.
    /// [`DEFAULT_TIMER_MIN`] unless a test sets it (a plugin's `timer_min`).
    pub timer_min: i64,
}

impl Default for FakeHost {
    fn default() -> Self {
        FakeHost { now: 0, logs: Vec::new(), timers: BTreeMap::new(), timer_min: DEFAULT_TIMER_MIN }
    }
}

thread_local! {
    pub(crate) static FAKE: RefCell<FakeHost> = RefCell::new(FakeHost::default());
}

/// Runs f on this thread's fake host.
pub fn with_host<R>(f: impl FnOnce(&mut FakeHost) -> R) -> R {
    FAKE.with(|h| f(&mut h.borrow_mut()))
}

/// A strategy run natively through the SDK's runner, with an inbox and an
/// outbox of the plugin's sizes.
pub struct Harness<S: Strategy> {
    runner: Runner<S>,
    inbox: Vec<u64>,
    outbox: Vec<u64>,
}

impl<S: Strategy> Harness<S> {
    pub fn new(s: S) -> Self {
        Harness { runner: Runner::new(s), inbox: vec![0; crate::INBOX_CAP / 8], outbox: vec![0; crate::OUTBOX_CAP / 8] }
    }

    fn call(&mut self, input: &[u8], f: impl FnOnce(&mut Runner<S>, &[u8], &mut [u8]) -> i32) -> Result<Vec<u8>, i32> {
        bytes_mut(&mut self.inbox)[..input.len()].copy_from_slice(input);
        let inbox = &bytes_mut(&mut self.inbox)[..input.len()];
        let res = f(&mut self.runner, inbox, bytes_mut(&mut self.outbox));
        if res < 0 {
            return Err(res);
        }
        Ok(bytes_mut(&mut self.outbox)[..res as usize].to_vec())
    }

    /// stratbox_init with a start-up blob; the intent bytes or the plugin error.
    pub fn init(&mut self, blob: &[u8]) -> Result<Vec<u8>, i32> {
        self.call(blob, |r, i, o| r.init(i, o))
    }

    /// stratbox_on_events with a batch of event records.
    pub fn send(&mut self, batch: &[u8]) -> Result<Vec<u8>, i32> {
        self.call(batch, |r, i, o| r.on_events(i, o))
    }

    /// stratbox_on_stop.
    pub fn stop(&mut self) -> Result<Vec<u8>, i32> {
        self.call(&[], |r, _, o| r.on_stop(o))
    }

    /// The strategy.
    pub fn strategy(&mut self) -> &mut S {
        self.runner.strategy()
    }
}

fn bytes_mut(v: &mut [u64]) -> &mut [u8] {
    unsafe { core::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, v.len() * 8) }
}

// Record builders for tests: the host's side of the layouts (abi/README.md
// §9, §10).

fn rec(kind: u16, size: usize) -> Vec<u8> {
    let mut b = vec![0u8; size];
    b[0..2].copy_from_slice(&kind.to_le_bytes());
    b[2..4].copy_from_slice(&(size as u16).to_le_bytes());
    b
}

fn put(b: &mut [u8], o: usize, v: &[u8]) {
    b[o..o + v.len()].copy_from_slice(v);
}

/// A start-up blob: a start record (first cid, time), the instruments
/// (name, tick, min amount) and the parameters.
pub fn startup(first_cid: u64, ts: u64, instruments: &[(&str, Fixed, Fixed)], params: &[abi::Param]) -> Vec<u8> {
    let mut b = rec(abi::KIND_START, abi::SIZE_START);
    put(&mut b, 8, &1u16.to_le_bytes());
    put(&mut b, 16, &first_cid.to_le_bytes());
    put(&mut b, 24, &ts.to_le_bytes());
    put(&mut b, 32, &(instruments.len() as u32).to_le_bytes());
    put(&mut b, 36, &(params.len() as u32).to_le_bytes());
    for (i, (name, tick, min)) in instruments.iter().enumerate() {
        let mut r = rec(abi::KIND_INSTRUMENT, abi::SIZE_INSTRUMENT);
        put(&mut r, 8, &(i as u32).to_le_bytes());
        r[12] = abi::PERPETUAL;
        put(&mut r, 16, &tick.to_le_bytes());
        put(&mut r, 32, &min.to_le_bytes());
        put(&mut r, 96, name.as_bytes());
        b.extend_from_slice(&r);
    }
    for q in params {
        let size = (abi::SIZE_PARAM + q.key.len() + q.text.len() + 7) & !7;
        let mut r = rec(abi::KIND_PARAM, size);
        r[8] = q.param_type;
        put(&mut r, 10, &(q.key.len() as u16).to_le_bytes());
        put(&mut r, 12, &(q.text.len() as u32).to_le_bytes());
        put(&mut r, 16, &q.value.to_le_bytes());
        put(&mut r, 24, q.key.as_bytes());
        put(&mut r, 24 + q.key.len(), q.text.as_bytes());
        b.extend_from_slice(&r);
    }
    b
}

/// A ticker record of instrument 0.
pub fn ticker(ts: u64, bid: Fixed, ask: Fixed) -> Vec<u8> {
    let mut b = rec(abi::KIND_TICKER, abi::SIZE_TICKER);
    put(&mut b, 16, &ts.to_le_bytes());
    put(&mut b, 24, &bid.to_le_bytes());
    put(&mut b, 40, &ask.to_le_bytes());
    b
}

/// A trade record of instrument 0.
pub fn trade(ts: u64, side: u8, price: Fixed, amount: Fixed) -> Vec<u8> {
    let mut b = rec(abi::KIND_TRADE, abi::SIZE_TRADE);
    b[12] = side;
    put(&mut b, 16, &ts.to_le_bytes());
    put(&mut b, 32, &price.to_le_bytes());
    put(&mut b, 40, &amount.to_le_bytes());
    b
}

/// A book record of instrument 0 (snapshot or change).
pub fn book(snapshot: bool, prev: u64, change: u64, bids: &[(Fixed, Fixed)], asks: &[(Fixed, Fixed)], flags: u16) -> Vec<u8> {
    let kind = if snapshot { abi::KIND_BOOK_SNAPSHOT } else { abi::KIND_BOOK_CHANGE };
    let mut b = rec(kind, abi::SIZE_BOOK + 16 * (bids.len() + asks.len()));
    put(&mut b, 12, &(bids.len() as u16).to_le_bytes());
    put(&mut b, 14, &(asks.len() as u16).to_le_bytes());
    put(&mut b, 16, &flags.to_le_bytes());
    put(&mut b, 24, &change.to_le_bytes());
    put(&mut b, 32, &prev.to_le_bytes());
    for (i, (p, a)) in bids.iter().chain(asks.iter()).enumerate() {
        put(&mut b, 48 + 16 * i, &p.to_le_bytes());
        put(&mut b, 56 + 16 * i, &a.to_le_bytes());
    }
    b
}

/// An order_update record.
pub fn order_update(cid: u64, state: u8, reason: u16, text: &str) -> Vec<u8> {
    let mut b = rec(abi::KIND_ORDER_UPDATE, abi::SIZE_ORDER_UPDATE);
    put(&mut b, 8, &cid.to_le_bytes());
    b[20] = state;
    put(&mut b, 26, &reason.to_le_bytes());
    put(&mut b, 104, text.as_bytes());
    b
}

/// A timer record.
pub fn timer(id: u32) -> Vec<u8> {
    let mut b = rec(abi::KIND_TIMER, abi::SIZE_TIMER);
    put(&mut b, 8, &id.to_le_bytes());
    b
}
