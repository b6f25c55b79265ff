// Context: a strategy's handle on the host during a call, as the Go SDK's:
// it queues intents into the outbox (place, amend, cancel, cancelAll),
// reads the host clock, arms timers and logs.

import {
  GOOD_TIL_CANCELLED, IMMEDIATE_OR_CANCEL, Instrument, LIMIT, LOG_ERROR, LOG_WARN, MARKET, NO_INSTRUMENT, OrderUpdate,
  SIZE_AMEND, SIZE_CANCEL, SIZE_CANCEL_ALL, SIZE_PLACE, Start, writeAmend, writeCancel, writeCancelAll, writePlace,
} from "./abi";
import { hostCancelTimer, hostLog, hostNow, hostSetTimer } from "./host";

/** A new order for Context.place. type 0 is limit; tif 0 is good_til_cancelled (immediate_or_cancel for market). */
export class Order {
  instrument: u32 = 0;
  side: u8 = 0;
  type: u8 = 0;
  tif: u8 = 0;
  flags: u16 = 0;
  price: i64 = 0;
  amount: i64 = 0;
  label: string = "";
}

/** CancelAll's instrument for "every instrument". */
export const ALL_INSTRUMENTS: u32 = NO_INSTRUMENT;

export class Context {
  /** The start record of the start-up blob (host version, features in effect, first cid, name). */
  start: Start = new Start();
  /** The instrument table: an instrument's index is the index events and intents use. */
  instruments: Instrument[] = [];
  /**
   * The orders this instance adopted at start: the open orders an earlier
   * instance left, which a hot swap (or a restart with keep_orders) hands
   * over (abi/README.md §10). Its own from the start: it amends and cancels
   * them by cid. Set before init (read it there to take them over instead of
   * placing new orders); each also reaches onOrder after init.
   */
  adopted: OrderUpdate[] = [];
  nextCid: u64 = 1;
  private seq: u32 = 0;
  private out: usize = 0; // the outbox
  private cap: u32 = 0;   // its capacity
  private len: u32 = 0;   // bytes queued in this call
  private droppedN: i32 = 0;

  constructor(outbox: usize, cap: u32) {
    this.out = outbox;
    this.cap = cap;
  }

  /** Starts a call: an empty outbox. */
  begin(): void {
    this.len = 0;
    this.droppedN = 0;
  }

  /** Ends a call: warns of dropped intents, returns the outbox byte count. */
  finish(): i32 {
    if (this.droppedN > 0) {
      this.log(LOG_WARN, "strategy: outbox full: dropped " + this.droppedN.toString() + " intents in this call");
    }
    return <i32>this.len;
  }

  // room reports whether size more bytes fit; the last 16 bytes are kept for cancelAll.
  private room(size: u32, cancelAll: bool): bool {
    const limit = cancelAll ? this.cap : this.cap - SIZE_CANCEL_ALL;
    if (this.len + size > limit) {
      this.droppedN++;
      return false;
    }
    return true;
  }

  /**
   * Queues a new order and returns its client order id (cid), which its
   * updates and fills carry; 0 when it was not queued (the outbox is full,
   * or the label is over 32 bytes of UTF-8 or holds a zero byte).
   */
  place(o: Order): u64 {
    const label = String.UTF8.encode(o.label);
    let zero = false;
    for (let i = 0; i < label.byteLength; i++) if (load<u8>(changetype<usize>(label) + <usize>i) == 0) zero = true;
    if (label.byteLength > 32 || zero) {
      this.log(LOG_ERROR, "strategy: place refused: the label is longer than 32 bytes or holds a zero byte");
      return 0;
    }
    if (!this.room(SIZE_PLACE, false)) return 0;
    const type = o.type == 0 ? LIMIT : o.type;
    let tif = o.tif;
    if (tif == 0) tif = type == MARKET ? IMMEDIATE_OR_CANCEL : GOOD_TIL_CANCELLED;
    const cid = this.nextCid++;
    this.len += writePlace(this.out + this.len, ++this.seq, cid, o.instrument, o.side, type, tif, o.flags,
      o.price, o.amount, label);
    return cid;
  }

  /** Queues a change of an open order's price and total amount, with the flags for the edit. */
  amend(cid: u64, price: i64, amount: i64, flags: u16): bool {
    if (!this.room(SIZE_AMEND, false)) return false;
    this.len += writeAmend(this.out + this.len, ++this.seq, cid, price, amount, flags);
    return true;
  }

  /** Queues the cancellation of one order. */
  cancel(cid: u64): bool {
    if (!this.room(SIZE_CANCEL, false)) return false;
    this.len += writeCancel(this.out + this.len, ++this.seq, cid);
    return true;
  }

  /** Queues the cancellation of every open order of this instance on instrument (ALL_INSTRUMENTS) and side (0: both). */
  cancelAll(instrument: u32, side: u8): bool {
    if (!this.room(SIZE_CANCEL_ALL, true)) return false;
    this.len += writeCancelAll(this.out + this.len, ++this.seq, instrument, side);
    return true;
  }

  /** Intents dropped in this call because the outbox was full. */
  dropped(): i32 { return this.droppedN; }

  /** The host clock, ns since the Unix epoch. Read time only from here and from events. */
  now(): u64 { return <u64>hostNow(); }

  /** Arms timer id to fire once after afterNs, raised by the host to the plugin's timer_min (2 ms by default) when shorter (<= 0 too); a status (STATUS_LIMIT: 256 other timers armed). */
  setTimer(id: u32, afterNs: i64): i32 { return hostSetTimer(id, afterNs); }

  /** Disarms timer id; STATUS_NOT_FOUND when it is not armed. */
  cancelTimer(id: u32): i32 { return hostCancelTimer(id); }

  /** Writes msg to the host's log at level (LOG_DEBUG … LOG_ERROR). */
  log(level: i32, msg: string): i32 {
    const b = String.UTF8.encode(msg);
    return hostLog(level, changetype<usize>(b), b.byteLength);
  }

  /** The features in effect (the strategy's and the host's). */
  features(): u32 { return this.start.features; }

  /** Instrument i of the table, or null. */
  instrument(i: u32): Instrument | null {
    return i < <u32>this.instruments.length ? this.instruments[i] : null;
  }

  /** The index of the instrument named name, or -1. */
  lookup(name: string): i64 {
    for (let i = 0; i < this.instruments.length; i++) {
      if (this.instruments[i].name == name) return i;
    }
    return -1;
  }
}
