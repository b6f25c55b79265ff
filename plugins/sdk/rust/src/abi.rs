//! The stratbox plugin ABI 1.0 (`abi/README.md`): constants, the event and
//! start-up records decoded from the inbox, and the intent records written
//! into the outbox. Every integer is little-endian. A decoder takes one
//! framed record (`frame` checked its size) and fails only when the record
//! is shorter than its kind or its counts disagree with its size.

/// A decimal quantity: an `i64` count of 10^-8 (§2 Numbers). `65000.5` is
/// `6_500_050_000_000`. [`crate::fixed`] has the arithmetic and the text.
pub type Fixed = i64;

/// 10^8: one unit in [`Fixed`].
pub const FIXED_SCALE: Fixed = 100_000_000;

/// The instrument index that means "none" or "all" (§2 Instruments).
pub const NO_INSTRUMENT: u32 = 0xFFFF_FFFF;

// Record kinds (§8).
pub const KIND_BOOK_SNAPSHOT: u16 = 0x0001;
pub const KIND_BOOK_CHANGE: u16 = 0x0002;
pub const KIND_TICKER: u16 = 0x0003;
pub const KIND_TRADE: u16 = 0x0004;
pub const KIND_ORDER_UPDATE: u16 = 0x0005;
pub const KIND_FILL: u16 = 0x0006;
pub const KIND_POSITION: u16 = 0x0007;
pub const KIND_POOL_STATE: u16 = 0x0008;
pub const KIND_TIMER: u16 = 0x0009;
pub const KIND_INTENT_REJECTED: u16 = 0x000A;
pub const KIND_START: u16 = 0x0100;
pub const KIND_INSTRUMENT: u16 = 0x0101;
pub const KIND_PARAM: u16 = 0x0102;
pub const KIND_PLACE: u16 = 0x0200;
pub const KIND_AMEND: u16 = 0x0201;
pub const KIND_CANCEL: u16 = 0x0202;
pub const KIND_CANCEL_ALL: u16 = 0x0203;

// Sizes: the minimum of a fixed-size kind, the fixed part of the others.
pub const SIZE_HEADER: usize = 8;
pub const SIZE_BOOK: usize = 48;
pub const SIZE_LEVEL: usize = 16;
pub const SIZE_TICKER: usize = 104;
pub const SIZE_TRADE: usize = 48;
pub const SIZE_ORDER_UPDATE: usize = 136;
pub const SIZE_FILL: usize = 72;
pub const SIZE_POSITION: usize = 56;
pub const SIZE_POOL_STATE: usize = 24;
pub const SIZE_TIMER: usize = 32;
pub const SIZE_INTENT_REJECTED: usize = 72;
pub const SIZE_START: usize = 80;
pub const SIZE_INSTRUMENT: usize = 160;
pub const SIZE_PARAM: usize = 24;
pub const SIZE_PLACE: usize = 80;
pub const SIZE_AMEND: usize = 40;
pub const SIZE_CANCEL: usize = 16;
pub const SIZE_CANCEL_ALL: usize = 16;
pub const SIZE_DESCRIPTOR: usize = 32;

// Enumerations (§13).
pub const SIDE_NONE: u8 = 0;
pub const BUY: u8 = 1;
pub const SELL: u8 = 2;
pub const LIMIT: u8 = 1;
pub const MARKET: u8 = 2;
pub const GOOD_TIL_CANCELLED: u8 = 1;
pub const GOOD_TIL_DAY: u8 = 2;
pub const IMMEDIATE_OR_CANCEL: u8 = 3;
pub const FILL_OR_KILL: u8 = 4;
pub const STATE_PENDING: u8 = 1;
pub const STATE_OPEN: u8 = 2;
pub const STATE_FILLED: u8 = 3;
pub const STATE_CANCELLED: u8 = 4;
pub const STATE_REJECTED: u8 = 5;
pub const MAKER: u8 = 1;
pub const TAKER: u8 = 2;
pub const FUTURE: u8 = 1;
pub const PERPETUAL: u8 = 2;
pub const OPTION: u8 = 3;
pub const SPOT: u8 = 4;
pub const FUTURE_COMBO: u8 = 5;
pub const OPTION_COMBO: u8 = 6;
pub const PARAM_STRING: u8 = 1;
pub const PARAM_INT: u8 = 2;
pub const PARAM_FLOAT: u8 = 3;
pub const PARAM_BOOL: u8 = 4;
pub const PARAM_TOML: u8 = 5;
pub const LOG_DEBUG: i32 = 0;
pub const LOG_INFO: i32 = 1;
pub const LOG_WARN: i32 = 2;
pub const LOG_ERROR: i32 = 3;

// Flags (§13).
pub const POST_ONLY: u16 = 1;
pub const REJECT_POST_ONLY: u16 = 2;
pub const REDUCE_ONLY: u16 = 4;
pub const BOOK_CONTINUES: u16 = 1;
pub const BOOK_CONTINUATION: u16 = 2;
pub const BOOK_TRUNCATED: u16 = 4;
pub const TICKER_TOP_ONLY: u32 = 1;
pub const TICKER_CLOSED: u32 = 2;
pub const TRADE_MAKER_LIQUIDATION: u8 = 1;
pub const TRADE_TAKER_LIQUIDATION: u8 = 2;
pub const TRADE_BLOCK: u8 = 4;
pub const POSITION_ACCOUNT: u32 = 1;
pub const POOL_DEGRADED: u32 = 1;
pub const POOL_MAINTENANCE: u32 = 2;
pub const INSTRUMENT_INVERSE: u8 = 1;
pub const FEATURE_BOOK_CONTINUATION: u32 = 1;

// Plugin errors (§13): the negative results of the exports.
pub const PLUGIN_FAILED: i32 = -1;
pub const PLUGIN_BAD_INPUT: i32 = -2;
pub const PLUGIN_BAD_CONF: i32 = -3;

// Host function statuses (§5).
pub const STATUS_OK: i32 = 0;
pub const STATUS_BAD_ARGUMENT: i32 = -1;
pub const STATUS_OUT_OF_BOUNDS: i32 = -2;
pub const STATUS_NOT_FOUND: i32 = -3;
pub const STATUS_LIMIT: i32 = -4;

/// The name of a reason code (§12), or `None` for a code this version does
/// not know (act on its range: 1–99 order ended, 100–199 validation, 200–299
/// risk, 300–399 connection or exchange).
pub fn reason_name(r: u16) -> Option<&'static str> {
    Some(match r {
        0 => "none",
        1 => "cancel_requested",
        2 => "cancel_on_disconnect",
        3 => "plugin_stopped",
        4 => "plugin_fault",
        5 => "kill_switch",
        6 => "unfilled",
        7 => "expired",
        8 => "exchange_cancel",
        100 => "malformed",
        101 => "unsupported",
        102 => "unknown_instrument",
        103 => "bad_tick",
        104 => "bad_price",
        105 => "below_min_amount",
        106 => "bad_amount",
        107 => "duplicate_cid",
        108 => "unknown_cid",
        109 => "not_open",
        200 => "risk_max_order_amount",
        201 => "risk_max_open_orders",
        202 => "risk_max_position",
        203 => "risk_max_notional",
        204 => "risk_rate",
        205 => "risk_kill_switch",
        206 => "risk_price_band",
        300 => "no_connection",
        301 => "timeout",
        302 => "exchange_error",
        303 => "post_only_reject",
        304 => "rate_limited",
        _ => return None,
    })
}

/// A reason code that prints as its name (or its number), as Go's `%v` of
/// `abi.Reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reason(pub u16);

impl core::fmt::Display for Reason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match reason_name(self.0) {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

/// A fixed-size string field, `char[N]` (§2 Strings): UTF-8, then zeros.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Str<const N: usize>(pub [u8; N]);

impl<const N: usize> Default for Str<N> {
    fn default() -> Self {
        Str([0; N])
    }
}

impl<const N: usize> Str<N> {
    /// The text's bytes: up to the first zero byte, or all N.
    pub fn bytes(&self) -> &[u8] {
        let n = self.0.iter().position(|&b| b == 0).unwrap_or(N);
        &self.0[..n]
    }

    /// The text; bytes after an invalid UTF-8 sequence are left out.
    pub fn as_str(&self) -> &str {
        let b = self.bytes();
        match core::str::from_utf8(b) {
            Ok(s) => s,
            // The prefix up to valid_up_to is valid UTF-8.
            Err(e) => core::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or(""),
        }
    }

    /// A field holding s, or `None` when s is longer than N bytes or holds a
    /// zero byte.
    pub fn new(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() > N || b.contains(&0) {
            return None;
        }
        let mut f = [0u8; N];
        f[..b.len()].copy_from_slice(b);
        Some(Str(f))
    }
}

impl<const N: usize> core::fmt::Display for Str<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> core::fmt::Debug for Str<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

// Field readers at constant offsets of a record whose length was checked:
// the compiler removes the bounds checks once inlined.
#[inline(always)]
fn u8_at(b: &[u8], o: usize) -> u8 {
    b[o]
}
#[inline(always)]
fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
#[inline(always)]
fn u32_at(b: &[u8], o: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[o..o + 4]);
    u32::from_le_bytes(a)
}
#[inline(always)]
fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}
#[inline(always)]
fn i64_at(b: &[u8], o: usize) -> i64 {
    u64_at(b, o) as i64
}
#[inline(always)]
fn str_at<const N: usize>(b: &[u8], o: usize) -> Str<N> {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[o..o + N]);
    Str(a)
}

/// The kind of the record at the start of b (b holds at least a header).
#[inline(always)]
pub fn kind_of(b: &[u8]) -> u16 {
    u16_at(b, 0)
}

/// Framing (§8): the size of the record at the start of b if it lies whole
/// within b, else `None` (the buffer is malformed from there on).
#[inline(always)]
pub fn frame(b: &[u8]) -> Option<usize> {
    if b.len() < SIZE_HEADER {
        return None;
    }
    let size = u16_at(b, 2) as usize;
    if size < SIZE_HEADER || size % 8 != 0 || size > b.len() {
        return None;
    }
    Some(size)
}

/// Why a record could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than its kind (`short_record`).
    Short,
    /// Its counts disagree with its size (`bad_length`).
    BadLength,
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DecodeError::Short => "short_record",
            DecodeError::BadLength => "bad_length",
        })
    }
}

fn need(rec: &[u8], n: usize) -> Result<(), DecodeError> {
    if rec.len() < n {
        Err(DecodeError::Short)
    } else {
        Ok(())
    }
}

/// One level of a book: the amount at a price (amount 0 deletes the level).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level {
    pub price: Fixed,
    pub amount: Fixed,
}

/// A `book_snapshot` or `book_change` record (§9). The levels are read from
/// the inbox: valid during the call only ([`crate::OrderBook`] keeps a book).
#[derive(Clone, Copy, Debug, Default)]
pub struct Book<'a> {
    pub seq: u32,
    pub instrument: u32,
    pub flags: u16,
    pub change_id: u64,
    pub prev_change_id: u64,
    pub ts: u64,
    n_bids: usize,
    levels: &'a [u8],
}

impl<'a> Book<'a> {
    pub fn decode(rec: &'a [u8]) -> Result<Self, DecodeError> {
        need(rec, SIZE_BOOK)?;
        let n_bids = u16_at(rec, 12) as usize;
        let n_asks = u16_at(rec, 14) as usize;
        if rec.len() != SIZE_BOOK + SIZE_LEVEL * (n_bids + n_asks) {
            return Err(DecodeError::BadLength);
        }
        Ok(Book {
            seq: u32_at(rec, 4),
            instrument: u32_at(rec, 8),
            flags: u16_at(rec, 16),
            change_id: u64_at(rec, 24),
            prev_change_id: u64_at(rec, 32),
            ts: u64_at(rec, 40),
            n_bids,
            levels: &rec[SIZE_BOOK..],
        })
    }
    pub fn n_bids(&self) -> usize {
        self.n_bids
    }
    pub fn n_asks(&self) -> usize {
        self.levels.len() / SIZE_LEVEL - self.n_bids
    }
    fn level(&self, i: usize) -> Level {
        let b = &self.levels[i * SIZE_LEVEL..(i + 1) * SIZE_LEVEL];
        Level { price: i64_at(b, 0), amount: i64_at(b, 8) }
    }
    /// Bid level i, best (highest) first as the exchange sent them.
    pub fn bid(&self, i: usize) -> Level {
        assert!(i < self.n_bids, "stratbox: bid level out of range");
        self.level(i)
    }
    /// Ask level i.
    pub fn ask(&self, i: usize) -> Level {
        self.level(self.n_bids + i)
    }
    pub fn bids(&self) -> impl Iterator<Item = Level> + 'a {
        let b = *self;
        (0..b.n_bids).map(move |i| b.level(i))
    }
    pub fn asks(&self) -> impl Iterator<Item = Level> + 'a {
        let b = *self;
        (b.n_bids..b.levels.len() / SIZE_LEVEL).map(move |i| b.level(i))
    }
}

/// A `ticker` record (§9): the top of the book and reference prices.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ticker {
    pub seq: u32,
    pub instrument: u32,
    pub flags: u32,
    pub ts: u64,
    pub best_bid_price: Fixed,
    pub best_bid_amount: Fixed,
    pub best_ask_price: Fixed,
    pub best_ask_amount: Fixed,
    pub last_price: Fixed,
    pub mark_price: Fixed,
    pub index_price: Fixed,
    pub open_interest: Fixed,
    pub funding_8h: Fixed,
    pub mark_iv: Fixed,
}

impl Ticker {
    pub fn decode(rec: &[u8]) -> Result<Self, DecodeError> {
        need(rec, SIZE_TICKER)?;
        let b = &rec[..SIZE_TICKER];
        Ok(Ticker {
            seq: u32_at(b, 4),
            instrument: u32_at(b, 8),
            flags: u32_at(b, 12),
            ts: u64_at(b, 16),
            best_bid_price: i64_at(b, 24),
            best_bid_amount: i64_at(b, 32),
            best_ask_price: i64_at(b, 40),
            best_ask_amount: i64_at(b, 48),
            last_price: i64_at(b, 56),
            mark_price: i64_at(b, 64),
            index_price: i64_at(b, 72),
            open_interest: i64_at(b, 80),
            funding_8h: i64_at(b, 88),
            mark_iv: i64_at(b, 96),
        })
    }
}

/// A `trade` record (§9): one public trade.
#[derive(Clone, Copy, Debug, Default)]
pub struct Trade {
    pub seq: u32,
    pub instrument: u32,
    /// The taker's side.
    pub side: u8,
    pub flags: u8,
    pub ts: u64,
    pub trade_seq: u64,
    pub price: Fixed,
    pub amount: Fixed,
}

impl Trade {
    pub fn decode(rec: &[u8]) -> Result<Self, DecodeError> {
        need(rec, SIZE_TRADE)?;
        let b = &rec[..SIZE_TRADE];
        Ok(Trade {
            seq: u32_at(b, 4),
            instrument: u32_at(b, 8),
            side: u8_at(b, 12),
            flags: u8_at(b, 13),
            ts: u64_at(b, 16),
            trade_seq: u64_at(b, 24),
            price: i64_at(b, 32),
            amount: i64_at(b, 40),
        })
    }
}

/// An `order_update` record (§9, §12): one of the instance's orders changed.
#[derive(Clone, Copy, Debug, Default)]
pub struct OrderUpdate {
    pub seq: u32,
    pub cid: u64,
    pub instrument: u32,
    pub state: u8,
    pub side: u8,
    pub order_type: u8,
    pub tif: u8,
    pub flags: u16,
    pub reason: u16,
    pub exchange_code: i32,
    pub ts: u64,
    pub price: Fixed,
    pub amount: Fixed,
    pub filled_amount: Fixed,
    pub avg_price: Fixed,
    pub exchange_order_id: Str<32>,
    pub text: Str<32>,
}

impl OrderUpdate {
    pub fn decode(rec: &[u8]) -> Result<Self, DecodeError> {
        need(rec, SIZE_ORDER_UPDATE)?;
        let b = &rec[..SIZE_ORDER_UPDATE];
        Ok(OrderUpdate {
            seq: u32_at(b, 4),
            cid: u64_at(b, 8),
            instrument: u32_at(b, 16),
            state: u8_at(b, 20),
            side: u8_at(b, 21),
            order_type: u8_at(b, 22),
            tif: u8_at(b, 23),
            flags: u16_at(b, 24),
            reason: u16_at(b, 26),
            exchange_code: u32_at(b, 28) as i32,
            ts: u64_at(b, 32),
            price: i64_at(b, 40),
            amount: i64_at(b, 48),
            filled_amount: i64_at(b, 56),
            avg_price: i64_at(b, 64),
            exchange_order_id: str_at(b, 72),
            text: str_at(b, 104),
        })
    }

    /// Whether the order is final: filled, cancelled or rejected (§12).
    pub fn is_final(&self) -> bool {
        matches!(self.state, STATE_FILLED | STATE_CANCELLED | STATE_REJECTED)
    }
}

/// A `fill` record (§9): one of the instance's orders traded.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fill {
    pub seq: u32,
    pub cid: u64,
    pub instrument: u32,
    pub side: u8,
    pub liquidity: u8,
    pub ts: u64,
    pub trade_seq: u64,
    pub price: Fixed,
    pub amount: Fixed,
    pub fee: Fixed,
    pub fee_currency: Str<8>,
}

impl Fill {
    pub fn decode(rec: &[u8]) -> Result<Self, DecodeError> {
        need(rec, SIZE_FILL)?;
        let b = &rec[..SIZE_FILL];
        Ok(Fill {
            seq: u32_at(b, 4),
            cid: u64_at(b, 8),
            instrument: u32_at(b, 16),
            side: u8_at(b, 20),
            liquidity: u8_at(b, 21),
            ts: u64_at(b, 24),
            trade_seq: u64_at(b, 32),
            price: i64_at(b, 40),
            amount: i64_at(b, 48),
            fee: i64_at(b, 56),
            fee_currency: str_at(b, 64),
        })
    }
}

/// A `position` record (§9): the instance's own position, or the account's
/// (flag [`POSITION_ACCOUNT`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Position {
    pub seq: u32,
    pub instrument: u32,
    pub flags: u32,
    pub ts: u64,
    pub size: Fixed,
    pub avg_price: Fixed,
    pub realized_pnl: Fixed,
    pub unrealized_pnl: Fixed,
}

impl Position {
    pub fn decode(rec: &[u8]) -> Result<Self, DecodeError> {
        need(rec, SIZE_POSITION)?;
        let b = &rec[..SIZE_POSITION];
        Ok(Position {
            seq: u32_at(b, 4),
            instrument: u32_at(b, 8),
            flags: u32_at(b, 12),
            ts: u64_at(b, 16),
            size: i64_at(b, 24),
            avg_price: i64_at(b, 32),
            realized_pnl: i64_at(b, 40),
            unrealized_pnl: i64_at(b, 48),
        })
    }
}

/// A `pool_state` record (§9): the health of the connections.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolState {
    pub seq: u32,
    pub healthy: u16,
    pub total: u16,
    pub flags: u32,
    pub ts: u64,
}

impl PoolState {
    pub fn decode(rec: &[u8]) -> Result<Self, DecodeError> {
        need(rec, SIZE_POOL_STATE)?;
        let b = &rec[..SIZE_POOL_STATE];
        Ok(PoolState {
            seq: u32_at(b, 4),
            healthy: u16_at(b, 8),
            total: u16_at(b, 10),
            flags: u32_at(b, 12),
            ts: u64_at(b, 16),
        })
    }
}

/// A `timer` record (§9): a timer set with `Context::set_timer` fired.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timer {
    pub seq: u32,
    pub id: u32,
    pub ts: u64,
    pub due: u64,
}

impl Timer {
    pub fn decode(rec: &[u8]) -> Result<Self, DecodeError> {
        need(rec, SIZE_TIMER)?;
        let b = &rec[..SIZE_TIMER];
        Ok(Timer { seq: u32_at(b, 4), id: u32_at(b, 8), ts: u64_at(b, 16), due: u64_at(b, 24) })
    }
}

/// An `intent_rejected` record (§9): an amend, cancel or cancel_all (or an
/// unsupported intent) was refused.
#[derive(Clone, Copy, Debug, Default)]
pub struct IntentRejected {
    pub seq: u32,
    pub intent_kind: u16,
    pub reason: u16,
    pub exchange_code: i32,
    pub cid: u64,
    pub intent_seq: u32,
    pub instrument: u32,
    pub ts: u64,
    pub text: Str<32>,
}

impl IntentRejected {
    pub fn decode(rec: &[u8]) -> Result<Self, DecodeError> {
        need(rec, SIZE_INTENT_REJECTED)?;
        let b = &rec[..SIZE_INTENT_REJECTED];
        Ok(IntentRejected {
            seq: u32_at(b, 4),
            intent_kind: u16_at(b, 8),
            reason: u16_at(b, 10),
            exchange_code: u32_at(b, 12) as i32,
            cid: u64_at(b, 16),
            intent_seq: u32_at(b, 24),
            instrument: u32_at(b, 28),
            ts: u64_at(b, 32),
            text: str_at(b, 40),
        })
    }
}

/// The `start` record of the start-up blob (§10).
#[derive(Clone, Copy, Debug, Default)]
pub struct Start {
    pub host_major: u16,
    pub host_minor: u16,
    /// The feature bits in effect.
    pub features: u32,
    pub first_cid: u64,
    pub ts: u64,
    pub n_instruments: u32,
    pub n_params: u32,
    pub n_positions: u32,
    pub n_orders: u32,
    /// The instance's name in the host's configuration.
    pub name: Str<32>,
}

impl Start {
    pub fn decode(rec: &[u8]) -> Result<Self, DecodeError> {
        need(rec, SIZE_START)?;
        let b = &rec[..SIZE_START];
        Ok(Start {
            host_major: u16_at(b, 8),
            host_minor: u16_at(b, 10),
            features: u32_at(b, 12),
            first_cid: u64_at(b, 16),
            ts: u64_at(b, 24),
            n_instruments: u32_at(b, 32),
            n_params: u32_at(b, 36),
            n_positions: u32_at(b, 40),
            n_orders: u32_at(b, 44),
            name: str_at(b, 48),
        })
    }
}

/// A tick step of an instrument: above `above_price` the tick is `tick_size`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickStep {
    pub above_price: Fixed,
    pub tick_size: Fixed,
}

/// An `instrument` record of the start-up blob (§10), kept for the life of
/// the instance.
#[derive(Clone, Debug, Default)]
pub struct Instrument {
    pub index: u32,
    pub kind: u8,
    pub option_type: u8,
    pub flags: u8,
    pub tick_size: Fixed,
    pub contract_size: Fixed,
    /// The minimum amount, and the amount step.
    pub min_amount: Fixed,
    pub strike: Fixed,
    pub expiry: u64,
    pub maker_fee: Fixed,
    pub taker_fee: Fixed,
    pub base_currency: Str<8>,
    pub quote_currency: Str<8>,
    pub settlement_currency: Str<8>,
    pub name: Str<64>,
    /// Ascending `above_price`.
    pub tick_steps: Vec<TickStep>,
}

impl Instrument {
    pub fn decode(rec: &[u8]) -> Result<Self, DecodeError> {
        need(rec, SIZE_INSTRUMENT)?;
        let steps = u8_at(rec, 15) as usize;
        if rec.len() != SIZE_INSTRUMENT + 16 * steps {
            return Err(DecodeError::BadLength);
        }
        let b = &rec[..SIZE_INSTRUMENT];
        let tick_steps = (0..steps)
            .map(|i| {
                let s = &rec[SIZE_INSTRUMENT + 16 * i..SIZE_INSTRUMENT + 16 * i + 16];
                TickStep { above_price: i64_at(s, 0), tick_size: i64_at(s, 8) }
            })
            .collect();
        Ok(Instrument {
            index: u32_at(b, 8),
            kind: u8_at(b, 12),
            option_type: u8_at(b, 13),
            flags: u8_at(b, 14),
            tick_size: i64_at(b, 16),
            contract_size: i64_at(b, 24),
            min_amount: i64_at(b, 32),
            strike: i64_at(b, 40),
            expiry: u64_at(b, 48),
            maker_fee: i64_at(b, 56),
            taker_fee: i64_at(b, 64),
            base_currency: str_at(b, 72),
            quote_currency: str_at(b, 80),
            settlement_currency: str_at(b, 88),
            name: str_at(b, 96),
            tick_steps,
        })
    }

    /// The tick at price p: that of the last step whose `above_price` < p,
    /// else `tick_size` (§10).
    pub fn tick_at(&self, p: Fixed) -> Fixed {
        let mut t = self.tick_size;
        for s in &self.tick_steps {
            if s.above_price < p {
                t = s.tick_size;
            }
        }
        t
    }
}

/// A `param` record of the start-up blob (§10): one of the plugin's
/// parameters. [`crate::Params`] reads them by key and type.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Param {
    pub param_type: u8,
    pub key: String,
    /// Types string and toml.
    pub text: String,
    /// The raw value: an i64 (int), f64 bits (float), 0 or 1 (bool).
    pub value: u64,
}

impl Param {
    pub fn decode(rec: &[u8]) -> Result<Self, DecodeError> {
        need(rec, SIZE_PARAM)?;
        let key_len = u16_at(rec, 10) as usize;
        let text_len = u32_at(rec, 12) as usize;
        if key_len < 1 || rec.len() != (SIZE_PARAM + key_len + text_len + 7) & !7 {
            return Err(DecodeError::BadLength);
        }
        let key = &rec[SIZE_PARAM..SIZE_PARAM + key_len];
        let text = &rec[SIZE_PARAM + key_len..SIZE_PARAM + key_len + text_len];
        Ok(Param {
            param_type: u8_at(rec, 8),
            key: String::from_utf8_lossy(key).into_owned(),
            text: String::from_utf8_lossy(text).into_owned(),
            value: u64_at(rec, 16),
        })
    }
    pub fn int(&self) -> i64 {
        self.value as i64
    }
    pub fn float(&self) -> f64 {
        f64::from_bits(self.value)
    }
    pub fn boolean(&self) -> bool {
        self.value != 0
    }
}

// Intent writers (§11): each fills one whole record, reserved bytes zero.

#[inline(always)]
fn header(b: &mut [u8], kind: u16, size: usize, seq: u32) {
    b[0..2].copy_from_slice(&kind.to_le_bytes());
    b[2..4].copy_from_slice(&(size as u16).to_le_bytes());
    b[4..8].copy_from_slice(&seq.to_le_bytes());
}

/// Writes a `place` record into b (80 bytes).
#[allow(clippy::too_many_arguments)]
pub fn write_place(
    b: &mut [u8; SIZE_PLACE],
    seq: u32,
    cid: u64,
    instrument: u32,
    side: u8,
    order_type: u8,
    tif: u8,
    flags: u16,
    price: Fixed,
    amount: Fixed,
    label: &Str<32>,
) {
    header(b, KIND_PLACE, SIZE_PLACE, seq);
    b[8..16].copy_from_slice(&cid.to_le_bytes());
    b[16..20].copy_from_slice(&instrument.to_le_bytes());
    b[20] = side;
    b[21] = order_type;
    b[22] = tif;
    b[23] = 0;
    b[24..32].copy_from_slice(&(flags as u64).to_le_bytes());
    b[32..40].copy_from_slice(&price.to_le_bytes());
    b[40..48].copy_from_slice(&amount.to_le_bytes());
    b[48..80].copy_from_slice(&label.0);
}

/// Writes an `amend` record into b (40 bytes).
pub fn write_amend(b: &mut [u8; SIZE_AMEND], seq: u32, cid: u64, price: Fixed, amount: Fixed, flags: u16) {
    header(b, KIND_AMEND, SIZE_AMEND, seq);
    b[8..16].copy_from_slice(&cid.to_le_bytes());
    b[16..24].copy_from_slice(&price.to_le_bytes());
    b[24..32].copy_from_slice(&amount.to_le_bytes());
    b[32..40].copy_from_slice(&(flags as u64).to_le_bytes());
}

/// Writes a `cancel` record into b (16 bytes).
pub fn write_cancel(b: &mut [u8; SIZE_CANCEL], seq: u32, cid: u64) {
    header(b, KIND_CANCEL, SIZE_CANCEL, seq);
    b[8..16].copy_from_slice(&cid.to_le_bytes());
}

/// Writes a `cancel_all` record into b (16 bytes).
pub fn write_cancel_all(b: &mut [u8; SIZE_CANCEL_ALL], seq: u32, instrument: u32, side: u8) {
    header(b, KIND_CANCEL_ALL, SIZE_CANCEL_ALL, seq);
    b[8..16].copy_from_slice(&(instrument as u64 | (side as u64) << 32).to_le_bytes());
}

/// Writes the 32-byte descriptor (§7).
pub fn write_descriptor(b: &mut [u8; SIZE_DESCRIPTOR], features: u32, inbox: u32, inbox_cap: u32, outbox: u32, outbox_cap: u32) {
    b[0..2].copy_from_slice(&1u16.to_le_bytes());
    b[2..4].copy_from_slice(&0u16.to_le_bytes());
    b[4..8].copy_from_slice(&features.to_le_bytes());
    b[8..12].copy_from_slice(&inbox.to_le_bytes());
    b[12..16].copy_from_slice(&inbox_cap.to_le_bytes());
    b[16..20].copy_from_slice(&outbox.to_le_bytes());
    b[20..24].copy_from_slice(&outbox_cap.to_le_bytes());
    b[24..32].copy_from_slice(&0u64.to_le_bytes());
}
