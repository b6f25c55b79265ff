// taker-as: the example taker (plugins/examples/taker) ported to
// AssemblyScript with the stratbox AssemblyScript SDK. It watches the flow
// of public trades on one instrument over a sliding window and, when buyers
// or sellers dominate it, crosses the spread with an immediate-or-cancel
// order in their direction, within a position limit. Same parameters, same
// decisions, same intents as the Go taker (the conformance suite checks it).
//
// It has one order in flight at a time and places nothing until that order
// is final. Restarted with keep_orders or hot-swapped (`host ctl swap`), it
// adopts its predecessor's order: the first adopted order (ctx.adopted) on
// its instrument that is not final becomes its order in flight, so it does
// not take again (and double its position) before that order's update says
// it is final.
//
// Parameters (the params table of its section in the host's configuration):
//
//   instrument   = "BTC-PERPETUAL" # default: the first of the instrument table
//   window       = "10s"           # how far back the trade flow counts
//   threshold    = 0.6             # act when |buy - sell| / (buy + sell) reaches this
//   size         = 100             # per order (default: 10 × the minimum amount)
//   min_volume   = 1000            # act only when buy + sell reaches this (default: 5 × size)
//   max_position = 500             # never take |position| past this (default: 5 × size)
//   slippage_bps = 5               # limit price: this far through the best opposite price
//   cooldown     = "5s"            # at least this long between two orders
//   status_every = "1m"            # log the state this often
//
// Build it with `make plugins` (plugins/examples/taker-as/taker-as.wasm, copied to bin/plugins/).

import {
  amountDown, bps, BUY, Context, Fill, fixedToString, IMMEDIATE_OR_CANCEL, Instrument, LOG_INFO, LOG_WARN, Order,
  OrderUpdate, Params, PoolState, Position, POSITION_ACCOUNT, priceDown, priceUp, reasonName, register, SELL,
  SIDE_NONE, STATE_CANCELLED, STATE_FILLED, STATE_OPEN, STATE_PENDING, STATE_REJECTED, Strategy, Ticker, TICKER_CLOSED, Timer, toFloat, Trade,
} from "../../../sdk/assemblyscript/assembly";

export * from "../../../sdk/assemblyscript/assembly/exports";

const STATUS_TIMER: u32 = 1;
const SECOND: i64 = 1_000_000_000;
const UNIT: i64 = 100_000_000;
const RING: i32 = 1024;

/** The public trade flow of a sliding window: a ring of the last trades with running sums per side. */
class Flow {
  ts: StaticArray<u64> = new StaticArray<u64>(RING);
  side: StaticArray<u8> = new StaticArray<u8>(RING);
  amount: StaticArray<i64> = new StaticArray<i64>(RING);
  head: i32 = 0;
  n: i32 = 0;
  buy: i64 = 0;
  sell: i64 = 0;

  add(ts: u64, side: u8, amount: i64): void {
    if (side != BUY && side != SELL) return;
    if (this.n == RING) this.pop();
    const i = (this.head + this.n) % RING;
    this.ts[i] = ts;
    this.side[i] = side;
    this.amount[i] = amount;
    this.n++;
    this.sum(side, amount);
  }

  /** Drops the trades before since. */
  expire(since: u64): void {
    while (this.n > 0 && this.ts[this.head] < since) this.pop();
  }

  pop(): void {
    const i = this.head;
    this.head = (this.head + 1) % RING;
    this.n--;
    this.sum(this.side[i], -this.amount[i]);
  }

  sum(side: u8, amount: i64): void {
    if (side == BUY) this.buy += amount;
    else this.sell += amount;
  }

  reset(): void {
    this.head = 0;
    this.n = 0;
    this.buy = 0;
    this.sell = 0;
  }
}

class Taker extends Strategy {
  // configuration, from the parameters
  inst: u32 = 0;
  in: Instrument = new Instrument();
  window: u64 = 0; // ns
  threshold: f64 = 0;
  minVolume: i64 = 0;
  size: i64 = 0;
  maxPosition: i64 = 0;
  slippage: i64 = 0; // bps
  cooldown: u64 = 0; // ns
  every: i64 = 0;    // ns

  // market and own state, from the events
  flow: Flow = new Flow();
  bestBid: i64 = 0;
  bestAsk: i64 = 0;
  position: i64 = 0;
  inflight: u64 = 0;  // cid of the order on its way, 0 when none
  lastOrder: u64 = 0; // host time of the last order, ns
  poolDown: bool = false;
  closed: bool = false;

  init(ctx: Context, params: Params, instruments: Instrument[]): string | null {
    if (instruments.length == 0) return "taker: no instruments";
    const name = params.string("instrument", "");
    if (name != "") {
      const i = ctx.lookup(name);
      if (i < 0) params.fail("instrument", "names no instrument of the table: " + name);
      else this.inst = <u32>i;
    }
    this.in = instruments[this.inst];
    this.window = <u64>params.duration("window", 10 * SECOND);
    this.threshold = params.float("threshold", 0.6);
    this.size = params.fixed("size", 10 * this.in.minAmount);
    this.minVolume = params.fixed("min_volume", 5 * this.size);
    this.maxPosition = params.fixed("max_position", 5 * this.size);
    this.slippage = params.fixed("slippage_bps", 5 * UNIT);
    this.cooldown = <u64>params.duration("cooldown", 5 * SECOND);
    this.every = params.duration("status_every", 60 * SECOND);
    if (this.threshold <= 0 || this.threshold > 1) params.fail("threshold", "must be in (0, 1]");
    if (this.size <= 0 || this.size % this.in.minAmount != 0) {
      params.fail("size", "must be a positive multiple of the instrument's minimum amount");
    }
    const err = params.err();
    if (err != null) return err;
    this.adopt(ctx);
    if (this.every > 0 && ctx.setTimer(STATUS_TIMER, this.every) != 0) return "taker: cannot arm the status timer";
    return null;
  }

  /**
   * Takes over the order an earlier instance left in flight (a restart with
   * keep_orders, a hot swap): the first adopted order on the instrument that
   * is not final becomes the order in flight, and the taker waits for its
   * final update before it places again.
   */
  adopt(ctx: Context): void {
    for (let i = 0; i < ctx.adopted.length; i++) {
      const o = ctx.adopted[i];
      if (o.instrument == this.inst && (o.state == STATE_PENDING || o.state == STATE_OPEN)) {
        this.inflight = o.cid;
        return;
      }
    }
  }

  onTicker(ctx: Context, t: Ticker): void {
    if (t.instrument != this.inst) return;
    this.bestBid = t.bestBidPrice;
    this.bestAsk = t.bestAskPrice;
    this.closed = (t.flags & TICKER_CLOSED) != 0;
  }

  onTrade(ctx: Context, t: Trade): void {
    if (t.instrument != this.inst) return;
    this.flow.add(t.ts, t.side, t.amount);
    if (t.ts > this.window) this.flow.expire(t.ts - this.window);
    this.decide(ctx);
  }

  /** Sends an order when the flow is one-sided enough and nothing stands in the way. */
  decide(ctx: Context): void {
    const total = this.flow.buy + this.flow.sell;
    if (total <= 0 || total < this.minVolume) return;
    const imbalance = toFloat(this.flow.buy - this.flow.sell) / toFloat(total);
    let side = SIDE_NONE;
    if (imbalance >= this.threshold) side = BUY;
    else if (imbalance <= -this.threshold) side = SELL;
    else return;
    const now = ctx.now();
    if (this.inflight != 0 || this.poolDown || this.closed || (this.lastOrder != 0 && now < this.lastOrder + this.cooldown)) {
      return;
    }
    // Room left under the position limit on that side.
    let room = this.maxPosition - this.position;
    let price = priceUp(this.in, this.bestAsk + bps(this.bestAsk, this.slippage));
    if (side == SELL) {
      room = this.maxPosition + this.position;
      price = priceDown(this.in, this.bestBid - bps(this.bestBid, this.slippage));
    }
    const amount = amountDown(this.in, min(this.size, room));
    if (amount <= 0 || this.bestBid <= 0 || this.bestAsk <= 0 || price <= 0) return; // at the limit, or no price yet
    const o = new Order();
    o.instrument = this.inst;
    o.side = side;
    o.tif = IMMEDIATE_OR_CANCEL;
    o.price = price;
    o.amount = amount;
    o.label = "taker";
    const cid = ctx.place(o);
    if (cid != 0) {
      this.inflight = cid;
      this.lastOrder = now;
      this.flow.reset(); // the next order needs a new burst
    }
  }

  onOrder(ctx: Context, o: OrderUpdate): void {
    if (o.cid != this.inflight) return;
    if (o.state == STATE_FILLED || o.state == STATE_CANCELLED) { // an IOC's unfilled rest is cancelled
      this.inflight = 0;
    } else if (o.state == STATE_REJECTED) {
      this.inflight = 0;
      ctx.log(LOG_WARN, "taker: order " + o.cid.toString() + " rejected: " + reasonName(o.reason) + " " + o.text);
    }
  }

  /** Keeps the position current between position events. */
  onFill(ctx: Context, f: Fill): void {
    if (f.instrument != this.inst) return;
    if (f.side == BUY) this.position += f.amount;
    else this.position -= f.amount;
  }

  /** Takes the host's figure, which includes every fill so far. */
  onPosition(ctx: Context, p: Position): void {
    if (p.instrument == this.inst && (p.flags & POSITION_ACCOUNT) == 0) this.position = p.size;
  }

  onPoolState(ctx: Context, p: PoolState): void {
    this.poolDown = p.healthy == 0;
  }

  onTimer(ctx: Context, t: Timer): void {
    if (t.id != STATUS_TIMER) return;
    ctx.log(LOG_INFO, "taker: position " + fixedToString(this.position) + ", flow buy " + fixedToString(this.flow.buy) +
      " sell " + fixedToString(this.flow.sell) + " over " + this.flow.n.toString() + " trades");
    ctx.setTimer(STATUS_TIMER, this.every);
  }
}

register(new Taker());
