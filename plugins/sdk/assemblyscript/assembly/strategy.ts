// Strategy: what a strategy implements, the same methods as the Go SDK's
// Strategy interface. Extend it and override what you need; every method
// has a no-op default (init accepts any parameters).

import { Book, Fill, Instrument, IntentRejected, OrderUpdate, PoolState, Position, Ticker, Timer, Trade } from "./abi";
import { Context } from "./context";
import { Params } from "./params";

export class Strategy {
  /**
   * Receives the parameters and the instrument table. Return an error
   * message to refuse to start (the SDK logs it and the plugin returns
   * "bad configuration", -3), or null. After init the starting positions
   * arrive through onPosition and the orders kept from an earlier instance
   * (adopted: ctx.adopted lists them already in init) through onOrder, in
   * the same call.
   */
  init(ctx: Context, params: Params, instruments: Instrument[]): string | null { return null; }
  /** A book message: a snapshot (replace the book) or a change (update it). */
  onBook(ctx: Context, b: Book, snapshot: bool): void {}
  onTicker(ctx: Context, t: Ticker): void {}
  onTrade(ctx: Context, t: Trade): void {}
  /** A change of one of the instance's orders (a refused place arrives here as rejected). */
  onOrder(ctx: Context, o: OrderUpdate): void {}
  /** A trade of one of the instance's orders; the order update that includes it follows. */
  onFill(ctx: Context, f: Fill): void {}
  onPosition(ctx: Context, p: Position): void {}
  onPoolState(ctx: Context, p: PoolState): void {}
  onTimer(ctx: Context, t: Timer): void {}
  /** The refusal of an amend, cancel or cancel_all. */
  onIntentRejected(ctx: Context, r: IntentRejected): void {}
  /** Once before an orderly stop (not after a fault): queue a cancelAll here. */
  onStop(ctx: Context): void {}
  /** The optional ABI features the strategy supports (FEATURE_BOOK_CONTINUATION). */
  features(): u32 { return 0; }
}
