//! The runner: reads the inbox, calls the strategy's methods and leaves the
//! intents they queue in the outbox; and the plugin's static buffers and
//! the bodies of the wasm exports that [`crate::export_strategy!`] defines.

use crate::abi::{self, Book, Fill, Instrument, IntentRejected, OrderUpdate, Param, PoolState, Position, Start, Ticker, Timer, Trade};
use crate::context::Context;
use crate::params::Params;
use crate::strategy::Strategy;

/// Runs one strategy: the SDK's side of `stratbox_init`,
/// `stratbox_on_events` and `stratbox_on_stop`, on an inbox and an outbox
/// given per call. A plugin has one, made by [`crate::export_strategy!`];
/// tests run one through [`crate::testing::Harness`].
pub struct Runner<S> {
    s: S,
    ctx: Context,
    ready: bool,
}

impl<S: Strategy> Runner<S> {
    pub fn new(s: S) -> Self {
        Runner { s, ctx: Context::new(), ready: false }
    }

    /// The strategy.
    pub fn strategy(&mut self) -> &mut S {
        &mut self.s
    }

    fn bad_input(&mut self, what: &str, off: usize) -> i32 {
        self.ctx.logf(abi::LOG_ERROR, format_args!("strategy: cannot read the {} at offset {}", what, off));
        abi::PLUGIN_BAD_INPUT
    }

    /// stratbox_init: input holds the start-up blob. Decodes it, calls
    /// `init`, then `on_position` for each starting position and `on_order`
    /// for each order kept from an earlier instance (adopted: `Context::adopted`
    /// lists them already in `init`). Returns the intent
    /// byte count, -2 when the blob cannot be read, -3 when `init` refuses.
    pub fn init(&mut self, input: &[u8], out: &mut [u8]) -> i32 {
        self.ready = false;
        self.ctx.begin(out);
        let mut start: Option<Start> = None;
        let mut instruments: Vec<Instrument> = Vec::new();
        let mut params: Vec<Param> = Vec::new();
        let mut positions: Vec<Position> = Vec::new();
        let mut orders: Vec<OrderUpdate> = Vec::new();
        let mut o = 0;
        while o < input.len() {
            let size = match abi::frame(&input[o..]) {
                Some(n) => n,
                None => return self.bad_input("start-up blob (framing)", o),
            };
            let rec = &input[o..o + size];
            let ok = match (abi::kind_of(rec), start.is_some()) {
                (abi::KIND_START, false) => Start::decode(rec).map(|s| start = Some(s)).is_ok(),
                (_, false) => false, // the start record comes first
                (abi::KIND_START, true) => false,
                (abi::KIND_INSTRUMENT, true) => match Instrument::decode(rec) {
                    Ok(i) if i.index as usize == instruments.len() => {
                        instruments.push(i);
                        true
                    }
                    _ => false,
                },
                (abi::KIND_PARAM, true) => Param::decode(rec).map(|q| params.push(q)).is_ok(),
                (abi::KIND_POSITION, true) => Position::decode(rec).map(|q| positions.push(q)).is_ok(),
                (abi::KIND_ORDER_UPDATE, true) => OrderUpdate::decode(rec).map(|q| orders.push(q)).is_ok(),
                _ => true, // a kind this version does not know: skipped
            };
            if !ok {
                return self.bad_input("start-up record", o);
            }
            o += size;
        }
        let start = match start {
            Some(s) => s,
            None => return self.bad_input("start-up blob (no start record)", 0),
        };
        self.ctx.start = start;
        self.ctx.set_first_cid(start.first_cid);
        self.ctx.instruments = instruments.into();
        self.ctx.adopted = orders.into();
        let table = self.ctx.instruments.clone();
        if let Err(e) = self.s.init(&mut self.ctx, &Params::new(params), &table) {
            self.ctx.logf(abi::LOG_ERROR, format_args!("strategy: init: {}", e));
            return abi::PLUGIN_BAD_CONF;
        }
        for p in &positions {
            self.s.on_position(&mut self.ctx, p);
        }
        let adopted = self.ctx.adopted.clone();
        for u in adopted.iter() {
            self.s.on_order(&mut self.ctx, u);
        }
        self.ready = true;
        self.ctx.finish()
    }

    /// stratbox_on_events: input holds a batch of event records. Calls the
    /// strategy once per event, in order, and skips kinds it does not know.
    /// A record that cannot be framed or decoded ends the call with -2; a
    /// call before a successful init returns -1.
    pub fn on_events(&mut self, input: &[u8], out: &mut [u8]) -> i32 {
        self.ctx.begin(out);
        if !self.ready {
            self.ctx.log(abi::LOG_ERROR, "strategy: stratbox_on_events before a successful stratbox_init");
            return abi::PLUGIN_FAILED;
        }
        let (s, c) = (&mut self.s, &mut self.ctx);
        let mut o = 0;
        while o < input.len() {
            let size = match abi::frame(&input[o..]) {
                Some(n) => n,
                None => return self.bad_input("batch (framing)", o),
            };
            let rec = &input[o..o + size];
            let kind = abi::kind_of(rec);
            let ok = match kind {
                abi::KIND_BOOK_SNAPSHOT | abi::KIND_BOOK_CHANGE => Book::decode(rec).map(|b| s.on_book(c, &b, kind == abi::KIND_BOOK_SNAPSHOT)),
                abi::KIND_TICKER => Ticker::decode(rec).map(|t| s.on_ticker(c, &t)),
                abi::KIND_TRADE => Trade::decode(rec).map(|t| s.on_trade(c, &t)),
                abi::KIND_ORDER_UPDATE => OrderUpdate::decode(rec).map(|u| s.on_order(c, &u)),
                abi::KIND_FILL => Fill::decode(rec).map(|f| s.on_fill(c, &f)),
                abi::KIND_POSITION => Position::decode(rec).map(|p| s.on_position(c, &p)),
                abi::KIND_POOL_STATE => PoolState::decode(rec).map(|p| s.on_pool_state(c, &p)),
                abi::KIND_TIMER => Timer::decode(rec).map(|t| s.on_timer(c, &t)),
                abi::KIND_INTENT_REJECTED => IntentRejected::decode(rec).map(|r| s.on_intent_rejected(c, &r)),
                // A kind this version does not know (a newer minor's event),
                // or one that does not belong in a batch: skipped by size.
                _ => Ok(()),
            };
            if let Err(e) = ok {
                c.logf(abi::LOG_ERROR, format_args!("strategy: cannot read the record of kind 0x{:04X} at offset {}: {}", kind, o, e));
                return abi::PLUGIN_BAD_INPUT;
            }
            o += size;
        }
        self.ctx.finish()
    }

    /// stratbox_on_stop: the intents `on_stop` queues. Nothing before a
    /// successful init.
    pub fn on_stop(&mut self, out: &mut [u8]) -> i32 {
        self.ctx.begin(out);
        if !self.ready {
            return 0;
        }
        self.s.on_stop(&mut self.ctx);
        self.ready = false;
        self.ctx.finish()
    }
}

/// The bodies of the wasm exports (see [`crate::export_strategy!`]), over
/// the plugin's static buffers. Not an API: the macro's expansion calls it.
#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub mod rt {
    use super::Runner;
    use crate::abi;
    use crate::strategy::Strategy;
    use crate::{INBOX_CAP, OUTBOX_CAP};

    // The buffers (abi/README.md §7): static, so they never move, and
    // 8-aligned as the descriptor requires. Zeroed statics take no room in
    // the module (they are not in a data segment).
    #[repr(C, align(8))]
    struct Buffers {
        inbox: [u8; INBOX_CAP],
        outbox: [u8; OUTBOX_CAP],
        descriptor: [u8; abi::SIZE_DESCRIPTOR],
    }

    static mut BUFFERS: Buffers = Buffers { inbox: [0; INBOX_CAP], outbox: [0; OUTBOX_CAP], descriptor: [0; abi::SIZE_DESCRIPTOR] };

    fn buffers() -> &'static mut Buffers {
        // SAFETY: a wasm instance has one thread and the host never calls
        // an export while another runs; no reference outlives an export.
        unsafe { &mut *core::ptr::addr_of_mut!(BUFFERS) }
    }

    fn runner<S: Strategy>(slot: &mut Option<Box<Runner<S>>>, make: impl FnOnce() -> S) -> &mut Runner<S> {
        if slot.is_none() {
            // A panic's message reaches the host's log before the trap.
            std::panic::set_hook(Box::new(|info| {
                let mut ctx = crate::context::Context::new();
                ctx.logf(abi::LOG_ERROR, format_args!("strategy: {}", info));
            }));
            *slot = Some(Box::new(Runner::new(make())));
        }
        slot.as_mut().unwrap()
    }

    pub fn stratbox_buffers<S: Strategy>(slot: &mut Option<Box<Runner<S>>>, make: impl FnOnce() -> S) -> u32 {
        let features = runner(slot, make).s.features();
        let b = buffers();
        let (inbox, outbox) = (b.inbox.as_ptr() as u32, b.outbox.as_ptr() as u32);
        abi::write_descriptor(&mut b.descriptor, features, inbox, INBOX_CAP as u32, outbox, OUTBOX_CAP as u32);
        b.descriptor.as_ptr() as u32
    }

    pub fn stratbox_init<S: Strategy>(slot: &mut Option<Box<Runner<S>>>, make: impl FnOnce() -> S, n: i32) -> i32 {
        let r = runner(slot, make);
        let b = buffers();
        if n < 0 || n as usize > INBOX_CAP {
            return abi::PLUGIN_BAD_INPUT;
        }
        r.init(&b.inbox[..n as usize], &mut b.outbox)
    }

    pub fn stratbox_on_events<S: Strategy>(slot: &mut Option<Box<Runner<S>>>, n: i32) -> i32 {
        let r = match slot.as_mut() {
            Some(r) => r,
            None => return abi::PLUGIN_FAILED,
        };
        let b = buffers();
        if n < 0 || n as usize > INBOX_CAP {
            return abi::PLUGIN_BAD_INPUT;
        }
        r.on_events(&b.inbox[..n as usize], &mut b.outbox)
    }

    pub fn stratbox_on_stop<S: Strategy>(slot: &mut Option<Box<Runner<S>>>) -> i32 {
        match slot.as_mut() {
            Some(r) => r.on_stop(&mut buffers().outbox),
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::abi::{self, Instrument, OrderUpdate};
    use crate::testing::{self, Harness};
    use crate::{Context, Params, Strategy};

    #[derive(Default)]
    struct Adopter {
        in_init: Vec<u64>,
        on_order: Vec<u64>,
    }

    impl Strategy for Adopter {
        fn init(&mut self, ctx: &mut Context, _: &Params, _: &[Instrument]) -> Result<(), String> {
            self.in_init = ctx.adopted().iter().map(|o| o.cid).collect();
            Ok(())
        }
        fn on_order(&mut self, _: &mut Context, o: &OrderUpdate) {
            self.on_order.push(o.cid);
        }
    }

    // The orders of the start-up blob are adopted: Context::adopted lists
    // them in init, and each reaches on_order after it.
    #[test]
    fn adopted_orders() {
        let mut blob = testing::startup(50, 1, &[("BTC-PERPETUAL", 50_000_000, 1_000_000_000)], &[]);
        blob[44..48].copy_from_slice(&2u32.to_le_bytes());
        blob.extend(testing::order_update(7, abi::STATE_OPEN, 0, ""));
        blob.extend(testing::order_update(9, abi::STATE_OPEN, 0, ""));
        let mut h = Harness::new(Adopter::default());
        h.init(&blob).unwrap();
        assert_eq!(h.strategy().in_init, vec![7, 9]);
        assert_eq!(h.strategy().on_order, vec![7, 9]);
    }
}
