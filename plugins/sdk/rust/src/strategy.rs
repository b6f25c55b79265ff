//! Strategy: what a strategy implements, the same methods as the Go SDK's
//! `Strategy` interface. Every method has a no-op default (`init` accepts
//! any parameters): implement what you need.

use crate::abi::{Book, Fill, Instrument, IntentRejected, OrderUpdate, PoolState, Position, Ticker, Timer, Trade};
use crate::context::Context;
use crate::params::Params;

/// A trading strategy. The host calls `init` once, then one method per
/// event in the order it delivers them, then `on_stop` at an orderly stop.
///
/// Every method runs inside one call from the host and must return
/// promptly. The event values are decoded for the call: copy what you keep
/// (a [`Book`]'s levels point into the inbox and cannot be kept). Intents
/// are queued through `ctx` and reach the host when the call returns. A
/// panic is a fault: the SDK logs its message, the plugin traps, and the
/// host stops the instance and cancels its orders.
#[allow(unused_variables)]
pub trait Strategy {
    /// Receives the instance's parameters and the instrument table, whose
    /// indexes the events and intents use. An `Err` refuses to start: the
    /// SDK logs it and returns "bad configuration" (-3). After `init` the
    /// starting positions arrive through `on_position` and the orders an
    /// earlier instance left open through `on_order`, in the same call.
    fn init(&mut self, ctx: &mut Context, params: &Params, instruments: &[Instrument]) -> Result<(), String> {
        Ok(())
    }
    /// A book message: a snapshot (replace the book of `b.instrument`) or a
    /// change (update it). [`crate::OrderBook`] applies both.
    fn on_book(&mut self, ctx: &mut Context, b: &Book, snapshot: bool) {}
    /// The top of the book and reference prices.
    fn on_ticker(&mut self, ctx: &mut Context, t: &Ticker) {}
    /// One public trade.
    fn on_trade(&mut self, ctx: &mut Context, t: &Trade) {}
    /// A change of one of the instance's orders (a refused place arrives
    /// here as rejected, with its reason).
    fn on_order(&mut self, ctx: &mut Context, o: &OrderUpdate) {}
    /// A trade of one of the instance's orders; the order update that
    /// includes it follows.
    fn on_fill(&mut self, ctx: &mut Context, f: &Fill) {}
    /// The instance's own position, or the account's (`POSITION_ACCOUNT`).
    fn on_position(&mut self, ctx: &mut Context, p: &Position) {}
    /// A change of health of the connections that carry the orders.
    fn on_pool_state(&mut self, ctx: &mut Context, p: &PoolState) {}
    /// A timer set with [`Context::set_timer`] fired.
    fn on_timer(&mut self, ctx: &mut Context, t: &Timer) {}
    /// The refusal of an amend, cancel or cancel_all.
    fn on_intent_rejected(&mut self, ctx: &mut Context, r: &IntentRejected) {}
    /// Once before an orderly stop (not after a fault): queue a
    /// `cancel_all` here.
    fn on_stop(&mut self, ctx: &mut Context) {}
    /// The optional ABI features the strategy supports
    /// (`FEATURE_BOOK_CONTINUATION`), for the descriptor.
    fn features(&self) -> u32 {
        0
    }
}
