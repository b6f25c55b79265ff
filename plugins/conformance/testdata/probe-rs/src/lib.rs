//! probe-rs: the conformance suite's check of the Rust SDK's decoders
//! against testdata/abi/vectors.json (as probe-as checks the AssemblyScript
//! SDK's). It decodes every record the host sends (the start-up blob and
//! event batches) with the SDK's `abi` types and logs each as one line of
//! JSON with the field names of abi/README.md §17 (enumerations as numbers,
//! flags as "bit<N>", kinds as "0x…"), which the Go test turns back into
//! bytes with abi.AppendRecordFromJSON and compares with the vector. It is
//! not a strategy: it has its own exports and never writes an intent. A
//! record it cannot decode makes it return -2.

use std::fmt::Write;

use stratbox::abi::{self, Book, Fill, Instrument, IntentRejected, OrderUpdate, Param, PoolState, Position, Start, Ticker, Timer, Trade};
use stratbox::fixed::display;

const INBOX_SIZE: usize = 256 << 10;
const OUTBOX_SIZE: usize = 1024;

#[repr(C, align(8))]
struct Buffers {
    inbox: [u8; INBOX_SIZE],
    outbox: [u8; OUTBOX_SIZE],
    desc: [u8; abi::SIZE_DESCRIPTOR],
}

static mut BUF: Buffers = Buffers { inbox: [0; INBOX_SIZE], outbox: [0; OUTBOX_SIZE], desc: [0; abi::SIZE_DESCRIPTOR] };

fn buffers() -> &'static mut Buffers {
    // SAFETY: one thread, and the host never calls exports concurrently.
    unsafe { &mut *core::ptr::addr_of_mut!(BUF) }
}

#[link(wasm_import_module = "stratbox")]
extern "C" {
    #[link_name = "log"]
    fn host_log(level: i32, ptr: *const u8, len: i32) -> i32;
}

#[no_mangle]
pub extern "C" fn stratbox_abi_v1_0() {}

#[no_mangle]
pub extern "C" fn stratbox_buffers() -> u32 {
    let b = buffers();
    let (inbox, outbox) = (b.inbox.as_ptr() as u32, b.outbox.as_ptr() as u32);
    abi::write_descriptor(&mut b.desc, 0, inbox, INBOX_SIZE as u32, outbox, OUTBOX_SIZE as u32);
    b.desc.as_ptr() as u32
}

#[no_mangle]
pub extern "C" fn stratbox_init(n: i32) -> i32 {
    walk(n)
}

#[no_mangle]
pub extern "C" fn stratbox_on_events(n: i32) -> i32 {
    walk(n)
}

fn walk(n: i32) -> i32 {
    let b = buffers();
    if n < 0 || n as usize > INBOX_SIZE {
        return abi::PLUGIN_BAD_INPUT;
    }
    let mut rest = &b.inbox[..n as usize];
    let mut line = String::new();
    while !rest.is_empty() {
        let size = match abi::frame(rest) {
            Some(size) => size,
            None => return abi::PLUGIN_BAD_INPUT,
        };
        line.clear();
        if render(&mut line, &rest[..size]).is_err() {
            return abi::PLUGIN_BAD_INPUT;
        }
        if !line.is_empty() {
            // SAFETY: the host reads [ptr, ptr+len) during the call only.
            unsafe { host_log(abi::LOG_INFO, line.as_ptr(), line.len() as i32) };
        }
        rest = &rest[size..];
    }
    0
}

/// A JSON string (the vectors' texts need no escapes beyond these).
fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn flags(f: u32) -> String {
    let bits: Vec<String> = (0..32).filter(|i| f & (1u32 << i) != 0).map(|i| format!("\"bit{}\"", i)).collect();
    format!("[{}]", bits.join(","))
}

fn head(s: &mut String, kind: u16, seq: u32) {
    let _ = write!(s, "{{\"kind\":\"0x{:04x}\",\"seq\":{}", kind, seq);
}

fn render(s: &mut String, rec: &[u8]) -> Result<(), abi::DecodeError> {
    let kind = abi::kind_of(rec);
    match kind {
        abi::KIND_BOOK_SNAPSHOT | abi::KIND_BOOK_CHANGE => {
            let b = Book::decode(rec)?;
            head(s, kind, b.seq);
            let _ = write!(
                s,
                ",\"instrument\":{},\"flags\":{},\"change_id\":{},\"prev_change_id\":{},\"ts\":{},\"bids\":[",
                b.instrument,
                flags(b.flags as u32),
                b.change_id,
                b.prev_change_id,
                b.ts
            );
            for (i, l) in b.bids().enumerate() {
                let _ = write!(s, "{}[{},{}]", if i > 0 { "," } else { "" }, display(l.price), display(l.amount));
            }
            s.push_str("],\"asks\":[");
            for (i, l) in b.asks().enumerate() {
                let _ = write!(s, "{}[{},{}]", if i > 0 { "," } else { "" }, display(l.price), display(l.amount));
            }
            s.push_str("]}");
        }
        abi::KIND_TICKER => {
            let t = Ticker::decode(rec)?;
            head(s, kind, t.seq);
            let _ = write!(
                s,
                ",\"instrument\":{},\"flags\":{},\"ts\":{},\"best_bid_price\":{},\"best_bid_amount\":{},\"best_ask_price\":{},\"best_ask_amount\":{},\"last_price\":{},\"mark_price\":{},\"index_price\":{},\"open_interest\":{},\"funding_8h\":{},\"mark_iv\":{}}}",
                t.instrument,
                flags(t.flags),
                t.ts,
                display(t.best_bid_price),
                display(t.best_bid_amount),
                display(t.best_ask_price),
                display(t.best_ask_amount),
                display(t.last_price),
                display(t.mark_price),
                display(t.index_price),
                display(t.open_interest),
                display(t.funding_8h),
                display(t.mark_iv)
            );
        }
        abi::KIND_TRADE => {
            let t = Trade::decode(rec)?;
            head(s, kind, t.seq);
            let _ = write!(
                s,
                ",\"instrument\":{},\"side\":{},\"flags\":{},\"ts\":{},\"trade_seq\":{},\"price\":{},\"amount\":{}}}",
                t.instrument,
                t.side,
                flags(t.flags as u32),
                t.ts,
                t.trade_seq,
                display(t.price),
                display(t.amount)
            );
        }
        abi::KIND_ORDER_UPDATE => {
            let o = OrderUpdate::decode(rec)?;
            head(s, kind, o.seq);
            let _ = write!(
                s,
                ",\"cid\":{},\"instrument\":{},\"state\":{},\"side\":{},\"type\":{},\"tif\":{},\"flags\":{},\"reason\":{},\"exchange_code\":{},\"ts\":{},\"price\":{},\"amount\":{},\"filled_amount\":{},\"avg_price\":{},\"exchange_order_id\":{},\"text\":{}}}",
                o.cid,
                o.instrument,
                o.state,
                o.side,
                o.order_type,
                o.tif,
                flags(o.flags as u32),
                o.reason,
                o.exchange_code,
                o.ts,
                display(o.price),
                display(o.amount),
                display(o.filled_amount),
                display(o.avg_price),
                q(o.exchange_order_id.as_str()),
                q(o.text.as_str())
            );
        }
        abi::KIND_FILL => {
            let f = Fill::decode(rec)?;
            head(s, kind, f.seq);
            let _ = write!(
                s,
                ",\"cid\":{},\"instrument\":{},\"side\":{},\"liquidity\":{},\"ts\":{},\"trade_seq\":{},\"price\":{},\"amount\":{},\"fee\":{},\"fee_currency\":{}}}",
                f.cid,
                f.instrument,
                f.side,
                f.liquidity,
                f.ts,
                f.trade_seq,
                display(f.price),
                display(f.amount),
                display(f.fee),
                q(f.fee_currency.as_str())
            );
        }
        abi::KIND_POSITION => {
            let p = Position::decode(rec)?;
            head(s, kind, p.seq);
            let _ = write!(
                s,
                ",\"instrument\":{},\"flags\":{},\"ts\":{},\"size\":{},\"avg_price\":{},\"realized_pnl\":{},\"unrealized_pnl\":{}}}",
                p.instrument,
                flags(p.flags),
                p.ts,
                display(p.size),
                display(p.avg_price),
                display(p.realized_pnl),
                display(p.unrealized_pnl)
            );
        }
        abi::KIND_POOL_STATE => {
            let p = PoolState::decode(rec)?;
            head(s, kind, p.seq);
            let _ = write!(s, ",\"healthy\":{},\"total\":{},\"flags\":{},\"ts\":{}}}", p.healthy, p.total, flags(p.flags), p.ts);
        }
        abi::KIND_TIMER => {
            let t = Timer::decode(rec)?;
            head(s, kind, t.seq);
            let _ = write!(s, ",\"id\":{},\"ts\":{},\"due\":{}}}", t.id, t.ts, t.due);
        }
        abi::KIND_INTENT_REJECTED => {
            let r = IntentRejected::decode(rec)?;
            head(s, kind, r.seq);
            let _ = write!(
                s,
                ",\"intent_kind\":\"0x{:04x}\",\"reason\":{},\"exchange_code\":{},\"cid\":{},\"intent_seq\":{},\"instrument\":{},\"ts\":{},\"text\":{}}}",
                r.intent_kind,
                r.reason,
                r.exchange_code,
                r.cid,
                r.intent_seq,
                r.instrument,
                r.ts,
                q(r.text.as_str())
            );
        }
        abi::KIND_START => {
            let o = Start::decode(rec)?;
            head(s, kind, 0);
            let _ = write!(
                s,
                ",\"host_version\":\"{}.{}\",\"features\":{},\"first_cid\":{},\"ts\":{},\"n_instruments\":{},\"n_params\":{},\"n_positions\":{},\"n_orders\":{},\"name\":{}}}",
                o.host_major,
                o.host_minor,
                flags(o.features),
                o.first_cid,
                o.ts,
                o.n_instruments,
                o.n_params,
                o.n_positions,
                o.n_orders,
                q(o.name.as_str())
            );
        }
        abi::KIND_INSTRUMENT => {
            let o = Instrument::decode(rec)?;
            head(s, kind, 0);
            let _ = write!(
                s,
                ",\"index\":{},\"instrument_kind\":{},\"option_type\":{},\"flags\":{},\"tick_size\":{},\"contract_size\":{},\"min_amount\":{},\"strike\":{},\"expiry\":{},\"maker_fee\":{},\"taker_fee\":{},\"base_currency\":{},\"quote_currency\":{},\"settlement_currency\":{},\"name\":{},\"tick_steps\":[",
                o.index,
                o.kind,
                o.option_type,
                flags(o.flags as u32),
                display(o.tick_size),
                display(o.contract_size),
                display(o.min_amount),
                display(o.strike),
                o.expiry,
                display(o.maker_fee),
                display(o.taker_fee),
                q(o.base_currency.as_str()),
                q(o.quote_currency.as_str()),
                q(o.settlement_currency.as_str()),
                q(o.name.as_str())
            );
            for (i, st) in o.tick_steps.iter().enumerate() {
                let _ = write!(
                    s,
                    "{}{{\"above_price\":{},\"tick_size\":{}}}",
                    if i > 0 { "," } else { "" },
                    display(st.above_price),
                    display(st.tick_size)
                );
            }
            s.push_str("]}");
        }
        abi::KIND_PARAM => {
            let p = Param::decode(rec)?;
            head(s, kind, 0);
            let value = match p.param_type {
                abi::PARAM_INT => p.int().to_string(),
                abi::PARAM_BOOL => p.boolean().to_string(),
                abi::PARAM_FLOAT => format!("{:?}", p.float()),
                _ => q(&p.text),
            };
            let _ = write!(s, ",\"key\":{},\"type\":{},\"value\":{}}}", q(&p.key), p.param_type, value);
        }
        _ => {} // a kind the SDK does not decode: skipped by its size
    }
    Ok(())
}
