// The runner: reads the inbox, calls the registered strategy's methods and
// leaves the intents they queue in the outbox. exports.ts holds the wasm
// exports that call it.

import {
  Book, Fill, frame, Instrument, IntentRejected, KIND_BOOK_CHANGE, KIND_BOOK_SNAPSHOT, KIND_FILL, KIND_INSTRUMENT,
  KIND_INTENT_REJECTED, KIND_ORDER_UPDATE, KIND_PARAM, KIND_POOL_STATE, KIND_POSITION, KIND_START, KIND_TICKER,
  KIND_TIMER, KIND_TRADE, LOG_ERROR, OrderUpdate, Param, PLUGIN_BAD_CONF, PLUGIN_BAD_INPUT, PLUGIN_FAILED, PoolState,
  Position, Ticker, Timer, Trade,
} from "./abi";
import { Context } from "./context";
import { Params } from "./params";
import { Strategy } from "./strategy";

/** Inbox and outbox sizes: as the Go SDK (the inbox holds any batch the host may send). */
export const INBOX_SIZE: u32 = 256 << 10;
export const OUTBOX_SIZE: u32 = 64 << 10;

export const INBOX: usize = memory.data(INBOX_SIZE, 8);
export const OUTBOX: usize = memory.data(OUTBOX_SIZE, 8);

let registered: Strategy | null = null;

/** Makes s the plugin's strategy: call it once, at the top level of the plugin's entry file. */
export function register(s: Strategy): void {
  if (registered != null) abort("strategy: register called twice; a plugin runs one strategy");
  registered = s;
}

/** The registered strategy's features (for the descriptor). */
export function registeredFeatures(): u32 {
  const s = registered;
  return s == null ? 0 : s.features();
}

export class Runner {
  ctx: Context = new Context(OUTBOX, OUTBOX_SIZE);
  ready: bool = false;
  private book: Book = new Book();
  private ticker: Ticker = new Ticker();
  private trade: Trade = new Trade();
  private order: OrderUpdate = new OrderUpdate();
  private fill: Fill = new Fill();
  private pos: Position = new Position();
  private pool: PoolState = new PoolState();
  private timer: Timer = new Timer();
  private rej: IntentRejected = new IntentRejected();

  constructor(public s: Strategy) {}

  private badInput(what: string, off: usize): i32 {
    this.ctx.log(LOG_ERROR, "strategy: cannot read the " + what + " at offset " + off.toString());
    return PLUGIN_BAD_INPUT;
  }

  /** stratbox_init: decode the start-up blob, call init, then starting positions and kept orders. */
  init(n: i32): i32 {
    this.ready = false;
    this.ctx.begin();
    if (n < 0 || <u32>n > INBOX_SIZE) return this.badInput("start-up blob (size)", 0);
    const end = INBOX + <usize>n;
    const instruments: Instrument[] = [];
    const params: Param[] = [];
    const positions: Position[] = [];
    const orders: OrderUpdate[] = [];
    let started = false;
    for (let p = INBOX; p < end;) {
      const size = frame(p, end);
      if (size == 0) return this.badInput("start-up blob", p - INBOX);
      const kind = load<u16>(p);
      let ok = true;
      if (kind == KIND_START) {
        ok = this.ctx.start.decode(p, size);
        started = ok;
      } else if (kind == KIND_INSTRUMENT) {
        const inst = new Instrument();
        ok = inst.decode(p, size) && inst.index == <u32>instruments.length;
        instruments.push(inst);
      } else if (kind == KIND_PARAM) {
        const q = new Param();
        ok = q.decode(p, size);
        params.push(q);
      } else if (kind == KIND_POSITION) {
        const q = new Position();
        ok = q.decode(p, size);
        positions.push(q);
      } else if (kind == KIND_ORDER_UPDATE) {
        const q = new OrderUpdate();
        ok = q.decode(p, size);
        orders.push(q);
      }
      if (!ok) return this.badInput("start-up record", p - INBOX);
      p += size;
    }
    if (!started) return this.badInput("start-up blob (no start record)", 0);
    this.ctx.instruments = instruments;
    this.ctx.adopted = orders;
    this.ctx.nextCid = this.ctx.start.firstCid > 0 ? this.ctx.start.firstCid : 1;
    const err = this.s.init(this.ctx, new Params(params), instruments);
    if (err != null) {
      this.ctx.log(LOG_ERROR, "strategy: init: " + err);
      return PLUGIN_BAD_CONF;
    }
    for (let i = 0; i < positions.length; i++) this.s.onPosition(this.ctx, positions[i]);
    for (let i = 0; i < orders.length; i++) this.s.onOrder(this.ctx, orders[i]);
    this.ready = true;
    return this.ctx.finish();
  }

  /** stratbox_on_events: one method call per event, in order; unknown kinds skipped by size. */
  onEvents(n: i32): i32 {
    this.ctx.begin();
    if (!this.ready) {
      this.ctx.log(LOG_ERROR, "strategy: stratbox_on_events before a successful stratbox_init");
      return PLUGIN_FAILED;
    }
    if (n < 0 || <u32>n > INBOX_SIZE) return this.badInput("batch (size)", 0);
    const end = INBOX + <usize>n;
    const s = this.s, c = this.ctx;
    for (let p = INBOX; p < end;) {
      const size = frame(p, end);
      if (size == 0) return this.badInput("batch", p - INBOX);
      const kind = load<u16>(p);
      let ok = true;
      switch (kind) {
        case KIND_BOOK_SNAPSHOT:
        case KIND_BOOK_CHANGE:
          if ((ok = this.book.decode(p, size))) s.onBook(c, this.book, kind == KIND_BOOK_SNAPSHOT);
          break;
        case KIND_TICKER:
          if ((ok = this.ticker.decode(p, size))) s.onTicker(c, this.ticker);
          break;
        case KIND_TRADE:
          if ((ok = this.trade.decode(p, size))) s.onTrade(c, this.trade);
          break;
        case KIND_ORDER_UPDATE:
          if ((ok = this.order.decode(p, size))) s.onOrder(c, this.order);
          break;
        case KIND_FILL:
          if ((ok = this.fill.decode(p, size))) s.onFill(c, this.fill);
          break;
        case KIND_POSITION:
          if ((ok = this.pos.decode(p, size))) s.onPosition(c, this.pos);
          break;
        case KIND_POOL_STATE:
          if ((ok = this.pool.decode(p, size))) s.onPoolState(c, this.pool);
          break;
        case KIND_TIMER:
          if ((ok = this.timer.decode(p, size))) s.onTimer(c, this.timer);
          break;
        case KIND_INTENT_REJECTED:
          if ((ok = this.rej.decode(p, size))) s.onIntentRejected(c, this.rej);
          break;
        default:
          // a kind this version does not know, or one that does not belong in a batch
      }
      if (!ok) return this.badInput("record of kind " + kind.toString(), p - INBOX);
      p += size;
    }
    return c.finish();
  }

  /** stratbox_on_stop: onStop's intents. */
  onStop(): i32 {
    this.ctx.begin();
    if (!this.ready) return 0;
    this.s.onStop(this.ctx);
    this.ready = false;
    return this.ctx.finish();
  }
}

let runner: Runner | null = null;

/** The runner of the registered strategy, made at stratbox_init. */
export function startRunner(n: i32): i32 {
  const s = registered;
  if (s == null) {
    new Context(OUTBOX, OUTBOX_SIZE).log(LOG_ERROR, "strategy: no strategy is registered: call register() in the entry file");
    return PLUGIN_BAD_CONF;
  }
  const r = new Runner(s);
  runner = r;
  return r.init(n);
}

export function currentRunner(): Runner | null { return runner; }
