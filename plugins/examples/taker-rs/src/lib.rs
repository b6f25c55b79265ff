//! taker-rs: the example taker (plugins/examples/taker) ported to Rust with
//! the stratbox Rust SDK. It watches the flow of public trades on one
//! instrument over a sliding window and, when buyers or sellers dominate it,
//! crosses the spread with an immediate-or-cancel order in their direction,
//! within a position limit. Same parameters, same decisions, same intents
//! and log lines as the Go taker (the conformance suite checks it).
//!
//! It has one order in flight at a time and places nothing until that order
//! is final. Restarted with keep_orders or hot-swapped (`host ctl swap`), it
//! adopts its predecessor's order: the first adopted order
//! (`Context::adopted`) on its instrument that is not final becomes its
//! order in flight, so it does not take again (and double its position)
//! before that order's update says it is final.
//!
//! Parameters (the params table of its section in the host's configuration):
//!
//! ```toml
//! instrument   = "BTC-PERPETUAL" # default: the first of the instrument table
//! window       = "10s"           # how far back the trade flow counts
//! threshold    = 0.6             # act when |buy - sell| / (buy + sell) reaches this
//! size         = 100             # per order (default: 10 × the minimum amount)
//! min_volume   = 1000            # act only when buy + sell reaches this (default: 5 × size)
//! max_position = 500             # never take |position| past this (default: 5 × size)
//! slippage_bps = 5               # limit price: this far through the best opposite price
//! cooldown     = "5s"            # at least this long between two orders
//! status_every = "1m"            # log the state this often
//! ```
//!
//! Build it with `make plugins` (plugins/examples/taker-rs/taker-rs.wasm,
//! copied to bin/plugins/), or with cargo:
//! `cargo build --release --target wasm32-unknown-unknown`.

use stratbox::abi::{self, Fill, Fixed, Instrument, OrderUpdate, PoolState, Position, Reason, Ticker, Timer, Trade, FIXED_SCALE};
use stratbox::fixed::{self, display};
use stratbox::{Context, Order, Params, Strategy, MINUTE, SECOND};

const STATUS_TIMER: u32 = 1;
const RING: usize = 1024;

/// The public trade flow of a sliding window: a ring of the last trades
/// with running sums per side. When the ring is full the oldest trade
/// leaves early.
struct Flow {
    ring: [FlowTrade; RING],
    head: usize,
    n: usize,
    buy: Fixed,
    sell: Fixed,
}

#[derive(Clone, Copy, Default)]
struct FlowTrade {
    ts: u64,
    side: u8,
    amount: Fixed,
}

impl Default for Flow {
    fn default() -> Self {
        Flow { ring: [FlowTrade::default(); RING], head: 0, n: 0, buy: 0, sell: 0 }
    }
}

impl Flow {
    fn add(&mut self, ts: u64, side: u8, amount: Fixed) {
        if side != abi::BUY && side != abi::SELL {
            return;
        }
        if self.n == RING {
            self.pop();
        }
        self.ring[(self.head + self.n) % RING] = FlowTrade { ts, side, amount };
        self.n += 1;
        self.sum(side, amount);
    }

    /// Drops the trades before since.
    fn expire(&mut self, since: u64) {
        while self.n > 0 && self.ring[self.head].ts < since {
            self.pop();
        }
    }

    fn pop(&mut self) {
        let t = self.ring[self.head];
        self.head = (self.head + 1) % RING;
        self.n -= 1;
        self.sum(t.side, -t.amount);
    }

    fn sum(&mut self, side: u8, amount: Fixed) {
        if side == abi::BUY {
            self.buy += amount;
        } else {
            self.sell += amount;
        }
    }

    fn reset(&mut self) {
        self.head = 0;
        self.n = 0;
        self.buy = 0;
        self.sell = 0;
    }
}

/// Taker trades on trade-flow imbalance.
#[derive(Default)]
pub struct Taker {
    // configuration, from the parameters
    inst: u32,
    inst_info: Instrument,
    window: u64, // ns
    threshold: f64,
    min_volume: Fixed,
    size: Fixed,
    max_position: Fixed,
    slippage: Fixed, // bps
    cooldown: u64,   // ns
    every: i64,      // ns

    // market and own state, from the events
    flow: Flow,
    best_bid: Fixed,
    best_ask: Fixed,
    position: Fixed,
    inflight: u64,   // cid of the order on its way, 0 when none
    last_order: u64, // host time of the last order, ns
    pool_down: bool,
    closed: bool,
}

impl Strategy for Taker {
    fn init(&mut self, ctx: &mut Context, params: &Params, instruments: &[Instrument]) -> Result<(), String> {
        if instruments.is_empty() {
            return Err("taker: no instruments".into());
        }
        let name = params.string("instrument", "");
        if !name.is_empty() {
            match ctx.lookup(name) {
                Some(i) => self.inst = i,
                None => params.fail("instrument", &format!("names no instrument of the table: {}", name)),
            }
        }
        self.inst_info = instruments[self.inst as usize].clone();
        let min_amount = self.inst_info.min_amount;
        self.window = params.duration("window", 10 * SECOND) as u64;
        self.threshold = params.float("threshold", 0.6);
        self.size = params.fixed("size", 10 * min_amount);
        self.min_volume = params.fixed("min_volume", 5 * self.size);
        self.max_position = params.fixed("max_position", 5 * self.size);
        self.slippage = params.fixed("slippage_bps", 5 * FIXED_SCALE);
        self.cooldown = params.duration("cooldown", 5 * SECOND) as u64;
        self.every = params.duration("status_every", MINUTE);
        if self.threshold <= 0.0 || self.threshold > 1.0 {
            params.fail("threshold", "must be in (0, 1]");
        }
        if self.size <= 0 || min_amount <= 0 || self.size % min_amount != 0 {
            params.fail("size", "must be a positive multiple of the instrument's minimum amount");
        }
        params.err()?;
        self.adopt(ctx);
        if self.every > 0 {
            ctx.set_timer(STATUS_TIMER, self.every).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn on_ticker(&mut self, _ctx: &mut Context, t: &Ticker) {
        if t.instrument == self.inst {
            self.best_bid = t.best_bid_price;
            self.best_ask = t.best_ask_price;
            self.closed = t.flags & abi::TICKER_CLOSED != 0;
        }
    }

    fn on_trade(&mut self, ctx: &mut Context, t: &Trade) {
        if t.instrument != self.inst {
            return;
        }
        self.flow.add(t.ts, t.side, t.amount);
        if t.ts > self.window {
            self.flow.expire(t.ts - self.window);
        }
        self.decide(ctx);
    }

    fn on_order(&mut self, ctx: &mut Context, o: &OrderUpdate) {
        if o.cid != self.inflight {
            return;
        }
        match o.state {
            abi::STATE_FILLED | abi::STATE_CANCELLED => self.inflight = 0, // an IOC's unfilled rest is cancelled
            abi::STATE_REJECTED => {
                self.inflight = 0;
                ctx.logf(abi::LOG_WARN, format_args!("taker: order {} rejected: {} {}", o.cid, Reason(o.reason), o.text));
            }
            _ => {}
        }
    }

    /// Keeps the position current between position events.
    fn on_fill(&mut self, _ctx: &mut Context, f: &Fill) {
        if f.instrument != self.inst {
            return;
        }
        if f.side == abi::BUY {
            self.position += f.amount;
        } else {
            self.position -= f.amount;
        }
    }

    /// Takes the host's figure, which includes every fill so far.
    fn on_position(&mut self, _ctx: &mut Context, p: &Position) {
        if p.instrument == self.inst && p.flags & abi::POSITION_ACCOUNT == 0 {
            self.position = p.size;
        }
    }

    fn on_pool_state(&mut self, _ctx: &mut Context, p: &PoolState) {
        self.pool_down = p.healthy == 0;
    }

    fn on_timer(&mut self, ctx: &mut Context, t: &Timer) {
        if t.id != STATUS_TIMER {
            return;
        }
        ctx.logf(
            abi::LOG_INFO,
            format_args!(
                "taker: position {}, flow buy {} sell {} over {} trades",
                display(self.position),
                display(self.flow.buy),
                display(self.flow.sell),
                self.flow.n
            ),
        );
        let _ = ctx.set_timer(STATUS_TIMER, self.every);
    }
}

impl Taker {
    /// Takes over the order an earlier instance left in flight (a restart
    /// with keep_orders, a hot swap): the first adopted order on the
    /// instrument that is not final becomes the order in flight, and the
    /// taker waits for its final update before it places again.
    fn adopt(&mut self, ctx: &Context) {
        if let Some(o) = ctx.adopted().iter().find(|o| o.instrument == self.inst && matches!(o.state, abi::STATE_PENDING | abi::STATE_OPEN)) {
            self.inflight = o.cid;
        }
    }

    /// Sends an order when the flow is one-sided enough and nothing stands
    /// in the way.
    fn decide(&mut self, ctx: &mut Context) {
        let total = self.flow.buy + self.flow.sell;
        if total <= 0 || total < self.min_volume {
            return;
        }
        let imbalance = fixed::to_float(self.flow.buy - self.flow.sell) / fixed::to_float(total);
        let side = if imbalance >= self.threshold {
            abi::BUY
        } else if imbalance <= -self.threshold {
            abi::SELL
        } else {
            return;
        };
        let now = ctx.now();
        if self.inflight != 0 || self.pool_down || self.closed || (self.last_order != 0 && now < self.last_order + self.cooldown) {
            return;
        }
        // Room left under the position limit on that side.
        let inst = &self.inst_info;
        let (room, price) = if side == abi::SELL {
            (self.max_position + self.position, fixed::price_down(inst, self.best_bid - fixed::bps(self.best_bid, self.slippage)))
        } else {
            (self.max_position - self.position, fixed::price_up(inst, self.best_ask + fixed::bps(self.best_ask, self.slippage)))
        };
        let amount = fixed::amount_down(inst, self.size.min(room));
        if amount <= 0 || self.best_bid <= 0 || self.best_ask <= 0 || price <= 0 {
            return; // at the limit, or no price to cross yet
        }
        let cid = ctx.place(Order { instrument: self.inst, side, tif: abi::IMMEDIATE_OR_CANCEL, price, amount, label: "taker", ..Order::default() });
        if cid != 0 {
            self.inflight = cid;
            self.last_order = now;
            self.flow.reset(); // the next order needs a new burst
        }
    }
}

stratbox::export_strategy!(Taker);

#[cfg(test)]
mod tests {
    use super::*;
    use stratbox::testing::{self, Harness};

    const F: Fixed = FIXED_SCALE;
    const T0: u64 = 1_767_344_400_000_000_000; // 2026-01-02 09:00 UTC

    fn param(t: u8, key: &str, text: &str, value: u64) -> abi::Param {
        abi::Param { param_type: t, key: key.into(), text: text.into(), value }
    }

    fn places(out: &[u8]) -> Vec<(u64, u8, u8, Fixed, Fixed)> {
        let mut v = Vec::new();
        let mut o = 0;
        while o < out.len() {
            let size = abi::frame(&out[o..]).expect("framed intents");
            let r = &out[o..o + size];
            assert_eq!(abi::kind_of(r), abi::KIND_PLACE);
            let g = |a: usize| i64::from_le_bytes(r[a..a + 8].try_into().unwrap());
            v.push((g(8) as u64, r[20], r[22], g(32), g(40)));
            o += size;
        }
        v
    }

    // The Go example's script (plugins/examples/wasm_test.go): a buy burst
    // after a ticker places one IOC buy through the ask plus 5 bps.
    #[test]
    fn buy_burst() {
        testing::with_host(|h| h.now = T0 as i64);
        let mut h = Harness::new(Taker::default());
        let blob = testing::startup(100, T0, &[("BTC-PERPETUAL", F / 2, 10 * F)], &[param(abi::PARAM_INT, "size", "", 100), param(abi::PARAM_INT, "min_volume", "", 300)]);
        assert_eq!(h.init(&blob), Ok(vec![]));
        let mut batch = testing::ticker(T0, 64990 * F, 65010 * F);
        batch.extend(testing::trade(T0, abi::BUY, 65000 * F, 100 * F));
        batch.extend(testing::trade(T0, abi::BUY, 65000 * F, 200 * F));
        batch.extend(testing::trade(T0, abi::SELL, 65000 * F, 10 * F));
        let out = h.send(&batch).unwrap();
        assert_eq!(places(&out), vec![(100, abi::BUY, abi::IMMEDIATE_OR_CANCEL, 65043 * F, 100 * F)]);
        // The status timer logs the flow and re-arms.
        testing::with_host(|h| h.logs.clear());
        assert_eq!(h.send(&testing::timer(STATUS_TIMER)), Ok(vec![]));
        let logs = testing::with_host(|h| h.logs.clone());
        assert_eq!(logs, vec![(abi::LOG_INFO, "taker: position 0, flow buy 0 sell 10 over 1 trades".to_string())]);
        // A rejection frees the taker and is logged with its reason.
        h.send(&testing::order_update(100, abi::STATE_REJECTED, 202, "too big")).unwrap();
        assert_eq!(h.strategy().inflight, 0);
        assert!(testing::with_host(|h| h.logs.last().unwrap().1.clone()) == "taker: order 100 rejected: risk_max_position too big");
        // A batch that cannot be framed is bad input.
        assert_eq!(h.send(&[4, 0, 48, 0, 1, 0, 0, 0]), Err(abi::PLUGIN_BAD_INPUT));
    }

    #[test]
    fn bad_parameters() {
        let mut h = Harness::new(Taker::default());
        let blob = testing::startup(1, T0, &[("BTC-PERPETUAL", F / 2, 10 * F)], &[param(abi::PARAM_INT, "size", "", 15), param(abi::PARAM_STRING, "windw", "1s", 0)]);
        assert_eq!(h.init(&blob), Err(abi::PLUGIN_BAD_CONF));
        let line = testing::with_host(|h| h.logs.last().unwrap().1.clone());
        assert!(line.contains("\"size\" must be a positive multiple") && line.contains("unknown parameters \"windw\""), "{}", line);
    }
}
