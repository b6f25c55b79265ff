// The stratbox plugin ABI 1.0 (abi/README.md): constants, the event and
// start-up records decoded from plugin memory, and the intent records
// written into it. Every integer is little-endian (wasm's own order), so a
// field is one load<T> or store<T> at its offset.

// Record kinds (§8).
export const KIND_BOOK_SNAPSHOT: u16 = 0x0001;
export const KIND_BOOK_CHANGE: u16 = 0x0002;
export const KIND_TICKER: u16 = 0x0003;
export const KIND_TRADE: u16 = 0x0004;
export const KIND_ORDER_UPDATE: u16 = 0x0005;
export const KIND_FILL: u16 = 0x0006;
export const KIND_POSITION: u16 = 0x0007;
export const KIND_POOL_STATE: u16 = 0x0008;
export const KIND_TIMER: u16 = 0x0009;
export const KIND_INTENT_REJECTED: u16 = 0x000a;
export const KIND_START: u16 = 0x0100;
export const KIND_INSTRUMENT: u16 = 0x0101;
export const KIND_PARAM: u16 = 0x0102;
export const KIND_PLACE: u16 = 0x0200;
export const KIND_AMEND: u16 = 0x0201;
export const KIND_CANCEL: u16 = 0x0202;
export const KIND_CANCEL_ALL: u16 = 0x0203;

// Minimum sizes of the fixed-size kinds, and fixed parts of the others.
export const SIZE_HEADER: u32 = 8;
export const SIZE_BOOK: u32 = 48;
export const SIZE_TICKER: u32 = 104;
export const SIZE_TRADE: u32 = 48;
export const SIZE_ORDER_UPDATE: u32 = 136;
export const SIZE_FILL: u32 = 72;
export const SIZE_POSITION: u32 = 56;
export const SIZE_POOL_STATE: u32 = 24;
export const SIZE_TIMER: u32 = 32;
export const SIZE_INTENT_REJECTED: u32 = 72;
export const SIZE_START: u32 = 80;
export const SIZE_INSTRUMENT: u32 = 160;
export const SIZE_PARAM: u32 = 24;
export const SIZE_PLACE: u32 = 80;
export const SIZE_AMEND: u32 = 40;
export const SIZE_CANCEL: u32 = 16;
export const SIZE_CANCEL_ALL: u32 = 16;
export const SIZE_DESCRIPTOR: u32 = 32;

/** The instrument index that means "none" or "all" (§2). */
export const NO_INSTRUMENT: u32 = 0xffffffff;
/** 10^8: one unit in fixed (§2 Numbers). */
export const FIXED_SCALE: i64 = 100_000_000;

// Enumerations (§13).
export const SIDE_NONE: u8 = 0, BUY: u8 = 1, SELL: u8 = 2;
export const LIMIT: u8 = 1, MARKET: u8 = 2;
export const GOOD_TIL_CANCELLED: u8 = 1, GOOD_TIL_DAY: u8 = 2, IMMEDIATE_OR_CANCEL: u8 = 3, FILL_OR_KILL: u8 = 4;
export const STATE_PENDING: u8 = 1, STATE_OPEN: u8 = 2, STATE_FILLED: u8 = 3, STATE_CANCELLED: u8 = 4, STATE_REJECTED: u8 = 5;
export const MAKER: u8 = 1, TAKER: u8 = 2;
export const FUTURE: u8 = 1, PERPETUAL: u8 = 2, OPTION: u8 = 3, SPOT: u8 = 4;
export const PARAM_STRING: u8 = 1, PARAM_INT: u8 = 2, PARAM_FLOAT: u8 = 3, PARAM_BOOL: u8 = 4, PARAM_TOML: u8 = 5;
export const LOG_DEBUG: i32 = 0, LOG_INFO: i32 = 1, LOG_WARN: i32 = 2, LOG_ERROR: i32 = 3;

// Flags (§13).
export const POST_ONLY: u16 = 1, REJECT_POST_ONLY: u16 = 2, REDUCE_ONLY: u16 = 4;
export const BOOK_CONTINUES: u16 = 1, BOOK_CONTINUATION: u16 = 2, BOOK_TRUNCATED: u16 = 4;
export const TICKER_TOP_ONLY: u32 = 1, TICKER_CLOSED: u32 = 2;
export const POSITION_ACCOUNT: u32 = 1;
export const POOL_DEGRADED: u32 = 1, POOL_MAINTENANCE: u32 = 2;
export const INSTRUMENT_INVERSE: u8 = 1;
export const FEATURE_BOOK_CONTINUATION: u32 = 1;

// Plugin errors (§13): the negative results of the exports.
export const PLUGIN_FAILED: i32 = -1, PLUGIN_BAD_INPUT: i32 = -2, PLUGIN_BAD_CONF: i32 = -3;

// Host function statuses (§5).
export const STATUS_OK: i32 = 0, STATUS_BAD_ARGUMENT: i32 = -1, STATUS_OUT_OF_BOUNDS: i32 = -2,
  STATUS_NOT_FOUND: i32 = -3, STATUS_LIMIT: i32 = -4;

/** The name of a reason code (§12), or its number. */
export function reasonName(r: u16): string {
  switch (r) {
    case 0: return "none";
    case 1: return "cancel_requested";
    case 2: return "cancel_on_disconnect";
    case 3: return "plugin_stopped";
    case 4: return "plugin_fault";
    case 5: return "kill_switch";
    case 6: return "unfilled";
    case 7: return "expired";
    case 8: return "exchange_cancel";
    case 100: return "malformed";
    case 101: return "unsupported";
    case 102: return "unknown_instrument";
    case 103: return "bad_tick";
    case 104: return "bad_price";
    case 105: return "below_min_amount";
    case 106: return "bad_amount";
    case 107: return "duplicate_cid";
    case 108: return "unknown_cid";
    case 109: return "not_open";
    case 200: return "risk_max_order_amount";
    case 201: return "risk_max_open_orders";
    case 202: return "risk_max_position";
    case 203: return "risk_max_notional";
    case 204: return "risk_rate";
    case 205: return "risk_kill_switch";
    case 206: return "risk_price_band";
    case 300: return "no_connection";
    case 301: return "timeout";
    case 302: return "exchange_error";
    case 303: return "post_only_reject";
    case 304: return "rate_limited";
  }
  return r.toString();
}

/** Reads a char[N] field (§2 Strings): the bytes up to the first zero. */
export function readStr(ptr: usize, n: i32): string {
  let len = 0;
  while (len < n && load<u8>(ptr + <usize>len) != 0) len++;
  return String.UTF8.decodeUnsafe(ptr, <usize>len);
}

/** Framing (§8): the size of the record at ptr if it lies whole within [ptr, end), else 0. */
export function frame(ptr: usize, end: usize): u32 {
  if (end - ptr < 8) return 0;
  const size = <u32>load<u16>(ptr, 2);
  if (size < 8 || (size & 7) != 0 || <usize>size > end - ptr) return 0;
  return size;
}

/** A book message (§9). Its levels are read from the inbox: valid during the call only. */
export class Book {
  seq: u32 = 0;
  instrument: u32 = 0;
  nBids: i32 = 0;
  nAsks: i32 = 0;
  flags: u16 = 0;
  changeId: u64 = 0;
  prevChangeId: u64 = 0;
  ts: u64 = 0;
  private levels: usize = 0;
  bidPrice(i: i32): i64 { return load<i64>(this.levels + (<usize>i << 4)); }
  bidAmount(i: i32): i64 { return load<i64>(this.levels + (<usize>i << 4), 8); }
  askPrice(i: i32): i64 { return load<i64>(this.levels + (<usize>(this.nBids + i) << 4)); }
  askAmount(i: i32): i64 { return load<i64>(this.levels + (<usize>(this.nBids + i) << 4), 8); }
  /** Decodes the record at p of size bytes; false when its counts disagree with its size. */
  decode(p: usize, size: u32): bool {
    if (size < SIZE_BOOK) return false;
    this.seq = load<u32>(p, 4);
    this.instrument = load<u32>(p, 8);
    this.nBids = <i32>load<u16>(p, 12);
    this.nAsks = <i32>load<u16>(p, 14);
    this.flags = load<u16>(p, 16);
    this.changeId = load<u64>(p, 24);
    this.prevChangeId = load<u64>(p, 32);
    this.ts = load<u64>(p, 40);
    this.levels = p + 48;
    return size == SIZE_BOOK + <u32>(this.nBids + this.nAsks) * 16;
  }
}

export class Ticker {
  seq: u32 = 0;
  instrument: u32 = 0;
  flags: u32 = 0;
  ts: u64 = 0;
  bestBidPrice: i64 = 0;
  bestBidAmount: i64 = 0;
  bestAskPrice: i64 = 0;
  bestAskAmount: i64 = 0;
  lastPrice: i64 = 0;
  markPrice: i64 = 0;
  indexPrice: i64 = 0;
  openInterest: i64 = 0;
  funding8h: i64 = 0;
  markIv: i64 = 0;
  decode(p: usize, size: u32): bool {
    if (size < SIZE_TICKER) return false;
    this.seq = load<u32>(p, 4);
    this.instrument = load<u32>(p, 8);
    this.flags = load<u32>(p, 12);
    this.ts = load<u64>(p, 16);
    this.bestBidPrice = load<i64>(p, 24);
    this.bestBidAmount = load<i64>(p, 32);
    this.bestAskPrice = load<i64>(p, 40);
    this.bestAskAmount = load<i64>(p, 48);
    this.lastPrice = load<i64>(p, 56);
    this.markPrice = load<i64>(p, 64);
    this.indexPrice = load<i64>(p, 72);
    this.openInterest = load<i64>(p, 80);
    this.funding8h = load<i64>(p, 88);
    this.markIv = load<i64>(p, 96);
    return true;
  }
}

export class Trade {
  seq: u32 = 0;
  instrument: u32 = 0;
  side: u8 = 0;
  flags: u8 = 0;
  ts: u64 = 0;
  tradeSeq: u64 = 0;
  price: i64 = 0;
  amount: i64 = 0;
  decode(p: usize, size: u32): bool {
    if (size < SIZE_TRADE) return false;
    this.seq = load<u32>(p, 4);
    this.instrument = load<u32>(p, 8);
    this.side = load<u8>(p, 12);
    this.flags = load<u8>(p, 13);
    this.ts = load<u64>(p, 16);
    this.tradeSeq = load<u64>(p, 24);
    this.price = load<i64>(p, 32);
    this.amount = load<i64>(p, 40);
    return true;
  }
}

export class OrderUpdate {
  seq: u32 = 0;
  cid: u64 = 0;
  instrument: u32 = 0;
  state: u8 = 0;
  side: u8 = 0;
  type: u8 = 0;
  tif: u8 = 0;
  flags: u16 = 0;
  reason: u16 = 0;
  exchangeCode: i32 = 0;
  ts: u64 = 0;
  price: i64 = 0;
  amount: i64 = 0;
  filledAmount: i64 = 0;
  avgPrice: i64 = 0;
  exchangeOrderId: string = "";
  text: string = "";
  decode(p: usize, size: u32): bool {
    if (size < SIZE_ORDER_UPDATE) return false;
    this.seq = load<u32>(p, 4);
    this.cid = load<u64>(p, 8);
    this.instrument = load<u32>(p, 16);
    this.state = load<u8>(p, 20);
    this.side = load<u8>(p, 21);
    this.type = load<u8>(p, 22);
    this.tif = load<u8>(p, 23);
    this.flags = load<u16>(p, 24);
    this.reason = load<u16>(p, 26);
    this.exchangeCode = load<i32>(p, 28);
    this.ts = load<u64>(p, 32);
    this.price = load<i64>(p, 40);
    this.amount = load<i64>(p, 48);
    this.filledAmount = load<i64>(p, 56);
    this.avgPrice = load<i64>(p, 64);
    this.exchangeOrderId = readStr(p + 72, 32);
    this.text = readStr(p + 104, 32);
    return true;
  }
  /** Whether the order is final: filled, cancelled or rejected (§12). */
  final(): bool { return this.state == STATE_FILLED || this.state == STATE_CANCELLED || this.state == STATE_REJECTED; }
}

export class Fill {
  seq: u32 = 0;
  cid: u64 = 0;
  instrument: u32 = 0;
  side: u8 = 0;
  liquidity: u8 = 0;
  ts: u64 = 0;
  tradeSeq: u64 = 0;
  price: i64 = 0;
  amount: i64 = 0;
  fee: i64 = 0;
  feeCurrency: string = "";
  decode(p: usize, size: u32): bool {
    if (size < SIZE_FILL) return false;
    this.seq = load<u32>(p, 4);
    this.cid = load<u64>(p, 8);
    this.instrument = load<u32>(p, 16);
    this.side = load<u8>(p, 20);
    this.liquidity = load<u8>(p, 21);
    this.ts = load<u64>(p, 24);
    this.tradeSeq = load<u64>(p, 32);
    this.price = load<i64>(p, 40);
    this.amount = load<i64>(p, 48);
    this.fee = load<i64>(p, 56);
    this.feeCurrency = readStr(p + 64, 8);
    return true;
  }
}

export class Position {
  seq: u32 = 0;
  instrument: u32 = 0;
  flags: u32 = 0;
  ts: u64 = 0;
  size: i64 = 0;
  avgPrice: i64 = 0;
  realizedPnl: i64 = 0;
  unrealizedPnl: i64 = 0;
  decode(p: usize, size: u32): bool {
    if (size < SIZE_POSITION) return false;
    this.seq = load<u32>(p, 4);
    this.instrument = load<u32>(p, 8);
    this.flags = load<u32>(p, 12);
    this.ts = load<u64>(p, 16);
    this.size = load<i64>(p, 24);
    this.avgPrice = load<i64>(p, 32);
    this.realizedPnl = load<i64>(p, 40);
    this.unrealizedPnl = load<i64>(p, 48);
    return true;
  }
}

export class PoolState {
  seq: u32 = 0;
  healthy: u16 = 0;
  total: u16 = 0;
  flags: u32 = 0;
  ts: u64 = 0;
  decode(p: usize, size: u32): bool {
    if (size < SIZE_POOL_STATE) return false;
    this.seq = load<u32>(p, 4);
    this.healthy = load<u16>(p, 8);
    this.total = load<u16>(p, 10);
    this.flags = load<u32>(p, 12);
    this.ts = load<u64>(p, 16);
    return true;
  }
}

export class Timer {
  seq: u32 = 0;
  id: u32 = 0;
  ts: u64 = 0;
  due: u64 = 0;
  decode(p: usize, size: u32): bool {
    if (size < SIZE_TIMER) return false;
    this.seq = load<u32>(p, 4);
    this.id = load<u32>(p, 8);
    this.ts = load<u64>(p, 16);
    this.due = load<u64>(p, 24);
    return true;
  }
}

export class IntentRejected {
  seq: u32 = 0;
  intentKind: u16 = 0;
  reason: u16 = 0;
  exchangeCode: i32 = 0;
  cid: u64 = 0;
  intentSeq: u32 = 0;
  instrument: u32 = 0;
  ts: u64 = 0;
  text: string = "";
  decode(p: usize, size: u32): bool {
    if (size < SIZE_INTENT_REJECTED) return false;
    this.seq = load<u32>(p, 4);
    this.intentKind = load<u16>(p, 8);
    this.reason = load<u16>(p, 10);
    this.exchangeCode = load<i32>(p, 12);
    this.cid = load<u64>(p, 16);
    this.intentSeq = load<u32>(p, 24);
    this.instrument = load<u32>(p, 28);
    this.ts = load<u64>(p, 32);
    this.text = readStr(p + 40, 32);
    return true;
  }
}

/** The start record of the start-up blob (§10). */
export class Start {
  hostMajor: u16 = 0;
  hostMinor: u16 = 0;
  features: u32 = 0;
  firstCid: u64 = 0;
  ts: u64 = 0;
  nInstruments: u32 = 0;
  nParams: u32 = 0;
  nPositions: u32 = 0;
  nOrders: u32 = 0;
  name: string = "";
  decode(p: usize, size: u32): bool {
    if (size < SIZE_START) return false;
    this.hostMajor = load<u16>(p, 8);
    this.hostMinor = load<u16>(p, 10);
    this.features = load<u32>(p, 12);
    this.firstCid = load<u64>(p, 16);
    this.ts = load<u64>(p, 24);
    this.nInstruments = load<u32>(p, 32);
    this.nParams = load<u32>(p, 36);
    this.nPositions = load<u32>(p, 40);
    this.nOrders = load<u32>(p, 44);
    this.name = readStr(p + 48, 32);
    return true;
  }
}

/** An instrument of the table (§10); copied out of the inbox, kept for the instance's life. */
export class Instrument {
  index: u32 = 0;
  kind: u8 = 0;
  optionType: u8 = 0;
  flags: u8 = 0;
  tickSize: i64 = 0;
  contractSize: i64 = 0;
  minAmount: i64 = 0;
  strike: i64 = 0;
  expiry: u64 = 0;
  makerFee: i64 = 0;
  takerFee: i64 = 0;
  baseCurrency: string = "";
  quoteCurrency: string = "";
  settlementCurrency: string = "";
  name: string = "";
  /** Tick steps: at prices above stepAbove[i] the tick is stepTick[i]. */
  stepAbove: StaticArray<i64> = new StaticArray<i64>(0);
  stepTick: StaticArray<i64> = new StaticArray<i64>(0);
  decode(p: usize, size: u32): bool {
    if (size < SIZE_INSTRUMENT) return false;
    this.index = load<u32>(p, 8);
    this.kind = load<u8>(p, 12);
    this.optionType = load<u8>(p, 13);
    this.flags = load<u8>(p, 14);
    const steps = <i32>load<u8>(p, 15);
    this.tickSize = load<i64>(p, 16);
    this.contractSize = load<i64>(p, 24);
    this.minAmount = load<i64>(p, 32);
    this.strike = load<i64>(p, 40);
    this.expiry = load<u64>(p, 48);
    this.makerFee = load<i64>(p, 56);
    this.takerFee = load<i64>(p, 64);
    this.baseCurrency = readStr(p + 72, 8);
    this.quoteCurrency = readStr(p + 80, 8);
    this.settlementCurrency = readStr(p + 88, 8);
    this.name = readStr(p + 96, 64);
    if (size != SIZE_INSTRUMENT + <u32>steps * 16) return false;
    this.stepAbove = new StaticArray<i64>(steps);
    this.stepTick = new StaticArray<i64>(steps);
    for (let i = 0; i < steps; i++) {
      this.stepAbove[i] = load<i64>(p + 160 + (<usize>i << 4));
      this.stepTick[i] = load<i64>(p + 168 + (<usize>i << 4));
    }
    return true;
  }
  /** The tick at price p: that of the last step whose above_price < p, else tick_size (§10). */
  tickAt(p: i64): i64 {
    let t = this.tickSize;
    for (let i = 0; i < this.stepAbove.length; i++) {
      if (this.stepAbove[i] < p) t = this.stepTick[i];
    }
    return t;
  }
}

/** A parameter of the start-up blob (§10); copied out of the inbox. */
export class Param {
  type: u8 = 0;
  key: string = "";
  text: string = "";
  intValue: i64 = 0;   // type int
  floatValue: f64 = 0; // type float
  boolValue: bool = false;
  decode(p: usize, size: u32): bool {
    if (size < SIZE_PARAM) return false;
    this.type = load<u8>(p, 8);
    const keyLen = <u32>load<u16>(p, 10);
    const textLen = load<u32>(p, 12);
    if (keyLen < 1 || <u64>size != ((<u64>SIZE_PARAM + <u64>keyLen + <u64>textLen + 7) & ~(<u64>7))) return false;
    const v = load<u64>(p, 16);
    this.intValue = <i64>v;
    this.floatValue = reinterpret<f64>(v);
    this.boolValue = v != 0;
    this.key = String.UTF8.decodeUnsafe(p + 24, keyLen);
    this.text = String.UTF8.decodeUnsafe(p + 24 + <usize>keyLen, textLen);
    return true;
  }
}

// Intents (§11). Each writer puts one whole record at out (zeroing the
// reserved bytes) and returns its size.

/** Writes a place record; label must be at most 32 bytes of UTF-8 without a zero byte. */
export function writePlace(out: usize, seq: u32, cid: u64, instrument: u32, side: u8, type: u8, tif: u8,
  flags: u16, price: i64, amount: i64, label: ArrayBuffer): u32 {
  store<u64>(out, <u64>KIND_PLACE | (<u64>SIZE_PLACE << 16) | (<u64>seq << 32));
  store<u64>(out, cid, 8);
  store<u32>(out, instrument, 16);
  store<u8>(out, side, 20);
  store<u8>(out, type, 21);
  store<u8>(out, tif, 22);
  store<u8>(out, 0, 23);
  store<u64>(out, <u64>flags, 24);
  store<i64>(out, price, 32);
  store<i64>(out, amount, 40);
  memory.fill(out + 48, 0, 32);
  memory.copy(out + 48, changetype<usize>(label), <usize>label.byteLength);
  return SIZE_PLACE;
}

export function writeAmend(out: usize, seq: u32, cid: u64, price: i64, amount: i64, flags: u16): u32 {
  store<u64>(out, <u64>KIND_AMEND | (<u64>SIZE_AMEND << 16) | (<u64>seq << 32));
  store<u64>(out, cid, 8);
  store<i64>(out, price, 16);
  store<i64>(out, amount, 24);
  store<u64>(out, <u64>flags, 32);
  return SIZE_AMEND;
}

export function writeCancel(out: usize, seq: u32, cid: u64): u32 {
  store<u64>(out, <u64>KIND_CANCEL | (<u64>SIZE_CANCEL << 16) | (<u64>seq << 32));
  store<u64>(out, cid, 8);
  return SIZE_CANCEL;
}

export function writeCancelAll(out: usize, seq: u32, instrument: u32, side: u8): u32 {
  store<u64>(out, <u64>KIND_CANCEL_ALL | (<u64>SIZE_CANCEL_ALL << 16) | (<u64>seq << 32));
  store<u64>(out, <u64>instrument | (<u64>side << 32), 8);
  return SIZE_CANCEL_ALL;
}
