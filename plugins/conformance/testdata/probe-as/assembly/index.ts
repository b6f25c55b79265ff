// probe-as: the conformance suite's check of the AssemblyScript SDK's
// decoders against testdata/abi/vectors.json. It decodes every record the
// host sends (the start-up blob and event batches) with the SDK's classes
// and logs each as one line of JSON with the field names of abi/README.md
// §17 (enumerations as numbers, flags as "bit<N>", kinds as "0x…"), which
// the Go test turns back into bytes with abi.AppendRecordFromJSON and
// compares with the vector. It is not a strategy: it has its own exports
// and never writes an intent. A record it cannot decode makes it return -2.

import {
  Book, Fill, fixedToString, frame, Instrument, IntentRejected, KIND_BOOK_CHANGE, KIND_BOOK_SNAPSHOT, KIND_FILL,
  KIND_INSTRUMENT, KIND_INTENT_REJECTED, KIND_ORDER_UPDATE, KIND_PARAM, KIND_POOL_STATE, KIND_POSITION, KIND_START,
  KIND_TICKER, KIND_TIMER, KIND_TRADE, LOG_INFO, OrderUpdate, Param, PARAM_BOOL, PARAM_FLOAT, PARAM_INT, PoolState,
  Position, Start, Ticker, Timer, Trade,
} from "../../../../sdk/assemblyscript/assembly";
import { hostLog } from "../../../../sdk/assemblyscript/assembly/host";

const INBOX_SIZE: u32 = 256 << 10;
const INBOX: usize = memory.data(INBOX_SIZE, 8);
const OUTBOX: usize = memory.data(1024, 8);
const DESC: usize = memory.data(32, 8);

export function stratbox_abi_v1_0(): void {}

export function stratbox_buffers(): usize {
  store<u32>(DESC, 1, 0);
  store<u32>(DESC, <u32>INBOX, 8);
  store<u32>(DESC, INBOX_SIZE, 12);
  store<u32>(DESC, <u32>OUTBOX, 16);
  store<u32>(DESC, 1024, 20);
  return DESC;
}

export function stratbox_init(n: i32): i32 { return walk(n); }
export function stratbox_on_events(n: i32): i32 { return walk(n); }

function log(s: string): void {
  const b = String.UTF8.encode(s);
  hostLog(LOG_INFO, changetype<usize>(b), b.byteLength);
}

function walk(n: i32): i32 {
  const end = INBOX + <usize>n;
  for (let p = INBOX; p < end;) {
    const size = frame(p, end);
    if (size == 0) return -2;
    const js = render(load<u16>(p), p, size);
    if (js == "!") return -2;
    if (js.length > 0) log(js);
    p += size;
  }
  return 0;
}

function q(s: string): string { // a JSON string (the vectors' texts need no escapes beyond these)
  return '"' + s.replaceAll("\\", "\\\\").replaceAll('"', '\\"') + '"';
}

function flags(f: u32): string {
  let s = "[";
  for (let i = 0; i < 32; i++) {
    if ((f & (<u32>1 << i)) != 0) s += (s.length > 1 ? "," : "") + '"bit' + i.toString() + '"';
  }
  return s + "]";
}

function fx(x: i64): string { return fixedToString(x); }

function head(kind: u16, seq: u32): string {
  let h = kind.toString(16);
  while (h.length < 4) h = "0" + h;
  return '{"kind":"0x' + h + '","seq":' + seq.toString();
}

function render(kind: u16, p: usize, size: u32): string {
  if (kind == KIND_BOOK_SNAPSHOT || kind == KIND_BOOK_CHANGE) {
    const b = new Book();
    if (!b.decode(p, size)) return "!";
    let s = head(kind, b.seq) + ',"instrument":' + b.instrument.toString() + ',"flags":' + flags(b.flags) +
      ',"change_id":' + b.changeId.toString() + ',"prev_change_id":' + b.prevChangeId.toString() + ',"ts":' + b.ts.toString();
    s += ',"bids":[';
    for (let i = 0; i < b.nBids; i++) s += (i > 0 ? "," : "") + "[" + fx(b.bidPrice(i)) + "," + fx(b.bidAmount(i)) + "]";
    s += '],"asks":[';
    for (let i = 0; i < b.nAsks; i++) s += (i > 0 ? "," : "") + "[" + fx(b.askPrice(i)) + "," + fx(b.askAmount(i)) + "]";
    return s + "]}";
  }
  if (kind == KIND_TICKER) {
    const t = new Ticker();
    if (!t.decode(p, size)) return "!";
    return head(kind, t.seq) + ',"instrument":' + t.instrument.toString() + ',"flags":' + flags(t.flags) +
      ',"ts":' + t.ts.toString() + ',"best_bid_price":' + fx(t.bestBidPrice) + ',"best_bid_amount":' + fx(t.bestBidAmount) +
      ',"best_ask_price":' + fx(t.bestAskPrice) + ',"best_ask_amount":' + fx(t.bestAskAmount) +
      ',"last_price":' + fx(t.lastPrice) + ',"mark_price":' + fx(t.markPrice) + ',"index_price":' + fx(t.indexPrice) +
      ',"open_interest":' + fx(t.openInterest) + ',"funding_8h":' + fx(t.funding8h) + ',"mark_iv":' + fx(t.markIv) + "}";
  }
  if (kind == KIND_TRADE) {
    const t = new Trade();
    if (!t.decode(p, size)) return "!";
    return head(kind, t.seq) + ',"instrument":' + t.instrument.toString() + ',"side":' + t.side.toString() +
      ',"flags":' + flags(t.flags) + ',"ts":' + t.ts.toString() + ',"trade_seq":' + t.tradeSeq.toString() +
      ',"price":' + fx(t.price) + ',"amount":' + fx(t.amount) + "}";
  }
  if (kind == KIND_ORDER_UPDATE) {
    const o = new OrderUpdate();
    if (!o.decode(p, size)) return "!";
    return head(kind, o.seq) + ',"cid":' + o.cid.toString() + ',"instrument":' + o.instrument.toString() +
      ',"state":' + o.state.toString() + ',"side":' + o.side.toString() + ',"type":' + o.type.toString() +
      ',"tif":' + o.tif.toString() + ',"flags":' + flags(o.flags) + ',"reason":' + o.reason.toString() +
      ',"exchange_code":' + o.exchangeCode.toString() + ',"ts":' + o.ts.toString() + ',"price":' + fx(o.price) +
      ',"amount":' + fx(o.amount) + ',"filled_amount":' + fx(o.filledAmount) + ',"avg_price":' + fx(o.avgPrice) +
      ',"exchange_order_id":' + q(o.exchangeOrderId) + ',"text":' + q(o.text) + "}";
  }
  if (kind == KIND_FILL) {
    const f = new Fill();
    if (!f.decode(p, size)) return "!";
    return head(kind, f.seq) + ',"cid":' + f.cid.toString() + ',"instrument":' + f.instrument.toString() +
      ',"side":' + f.side.toString() + ',"liquidity":' + f.liquidity.toString() + ',"ts":' + f.ts.toString() +
      ',"trade_seq":' + f.tradeSeq.toString() + ',"price":' + fx(f.price) + ',"amount":' + fx(f.amount) +
      ',"fee":' + fx(f.fee) + ',"fee_currency":' + q(f.feeCurrency) + "}";
  }
  if (kind == KIND_POSITION) {
    const o = new Position();
    if (!o.decode(p, size)) return "!";
    return head(kind, o.seq) + ',"instrument":' + o.instrument.toString() + ',"flags":' + flags(o.flags) +
      ',"ts":' + o.ts.toString() + ',"size":' + fx(o.size) + ',"avg_price":' + fx(o.avgPrice) +
      ',"realized_pnl":' + fx(o.realizedPnl) + ',"unrealized_pnl":' + fx(o.unrealizedPnl) + "}";
  }
  if (kind == KIND_POOL_STATE) {
    const o = new PoolState();
    if (!o.decode(p, size)) return "!";
    return head(kind, o.seq) + ',"healthy":' + o.healthy.toString() + ',"total":' + o.total.toString() +
      ',"flags":' + flags(o.flags) + ',"ts":' + o.ts.toString() + "}";
  }
  if (kind == KIND_TIMER) {
    const o = new Timer();
    if (!o.decode(p, size)) return "!";
    return head(kind, o.seq) + ',"id":' + o.id.toString() + ',"ts":' + o.ts.toString() + ',"due":' + o.due.toString() + "}";
  }
  if (kind == KIND_INTENT_REJECTED) {
    const o = new IntentRejected();
    if (!o.decode(p, size)) return "!";
    let k = o.intentKind.toString(16);
    while (k.length < 4) k = "0" + k;
    return head(kind, o.seq) + ',"intent_kind":"0x' + k + '","reason":' + o.reason.toString() +
      ',"exchange_code":' + o.exchangeCode.toString() + ',"cid":' + o.cid.toString() +
      ',"intent_seq":' + o.intentSeq.toString() + ',"instrument":' + o.instrument.toString() +
      ',"ts":' + o.ts.toString() + ',"text":' + q(o.text) + "}";
  }
  if (kind == KIND_START) {
    const o = new Start();
    if (!o.decode(p, size)) return "!";
    return head(kind, 0) + ',"host_version":"' + o.hostMajor.toString() + "." + o.hostMinor.toString() +
      '","features":' + flags(o.features) + ',"first_cid":' + o.firstCid.toString() + ',"ts":' + o.ts.toString() +
      ',"n_instruments":' + o.nInstruments.toString() + ',"n_params":' + o.nParams.toString() +
      ',"n_positions":' + o.nPositions.toString() + ',"n_orders":' + o.nOrders.toString() + ',"name":' + q(o.name) + "}";
  }
  if (kind == KIND_INSTRUMENT) {
    const o = new Instrument();
    if (!o.decode(p, size)) return "!";
    let s = head(kind, 0) + ',"index":' + o.index.toString() + ',"instrument_kind":' + o.kind.toString() +
      ',"option_type":' + o.optionType.toString() + ',"flags":' + flags(o.flags) + ',"tick_size":' + fx(o.tickSize) +
      ',"contract_size":' + fx(o.contractSize) + ',"min_amount":' + fx(o.minAmount) + ',"strike":' + fx(o.strike) +
      ',"expiry":' + o.expiry.toString() + ',"maker_fee":' + fx(o.makerFee) + ',"taker_fee":' + fx(o.takerFee) +
      ',"base_currency":' + q(o.baseCurrency) + ',"quote_currency":' + q(o.quoteCurrency) +
      ',"settlement_currency":' + q(o.settlementCurrency) + ',"name":' + q(o.name) + ',"tick_steps":[';
    for (let i = 0; i < o.stepAbove.length; i++) {
      s += (i > 0 ? "," : "") + '{"above_price":' + fx(o.stepAbove[i]) + ',"tick_size":' + fx(o.stepTick[i]) + "}";
    }
    return s + "]}";
  }
  if (kind == KIND_PARAM) {
    const o = new Param();
    if (!o.decode(p, size)) return "!";
    let v = q(o.text);
    if (o.type == PARAM_INT) v = o.intValue.toString();
    else if (o.type == PARAM_BOOL) v = o.boolValue ? "true" : "false";
    else if (o.type == PARAM_FLOAT) v = o.floatValue.toString();
    return head(kind, 0) + ',"key":' + q(o.key) + ',"type":' + o.type.toString() + ',"value":' + v + "}";
  }
  return ""; // a kind the SDK does not decode: skipped by its size
}
