//! Arithmetic on [`Fixed`] (an `i64` count of 10^-8) that strategies need:
//! rounding to a tick or an amount step, exact products, basis points, and
//! the decimal text. The same functions, with the same rounding, as the Go
//! SDK's `fixed.go`, so that a strategy ported from Go decides the same.
//! None allocates.

use crate::abi::{Fixed, Instrument, FIXED_SCALE};
use core::fmt;

/// The largest multiple of step that is <= x (x when step <= 0).
pub fn floor_to(x: Fixed, step: Fixed) -> Fixed {
    if step <= 0 {
        return x;
    }
    let mut q = x / step;
    if x % step != 0 && x < 0 {
        q -= 1;
    }
    q * step
}

/// The smallest multiple of step that is >= x (x when step <= 0).
pub fn ceil_to(x: Fixed, step: Fixed) -> Fixed {
    if step <= 0 {
        return x;
    }
    let mut q = x / step;
    if x % step != 0 && x > 0 {
        q += 1;
    }
    q * step
}

/// p rounded down to the instrument's tick at that price (tick steps
/// included): a bid, or a sell limit that must not cross.
pub fn price_down(inst: &Instrument, p: Fixed) -> Fixed {
    let mut r = floor_to(p, inst.tick_at(p));
    let t = inst.tick_at(r);
    if t > 0 && r % t != 0 {
        r = floor_to(r, t); // rounded across a tick step
    }
    r
}

/// p rounded up to the instrument's tick at that price.
pub fn price_up(inst: &Instrument, p: Fixed) -> Fixed {
    let mut r = ceil_to(p, inst.tick_at(p));
    let t = inst.tick_at(r);
    if t > 0 && r % t != 0 {
        r = ceil_to(r, t);
    }
    r
}

/// a rounded down to the instrument's amount step (its minimum amount); the
/// result may be 0.
pub fn amount_down(inst: &Instrument, a: Fixed) -> Fixed {
    floor_to(a, inst.min_amount)
}

/// The middle of bid and ask, rounded down to 10^-8.
pub fn mid(bid: Fixed, ask: Fixed) -> Fixed {
    bid + (ask - bid) / 2
}

/// a × b of two fixed values (a price times an amount, a price times a
/// rate), rounded half away from zero, saturating; exact before rounding.
pub fn mul(a: Fixed, b: Fixed) -> Fixed {
    mul_div(a, b, FIXED_SCALE as u128)
}

/// x × bps / 10,000, where bps is a number of basis points as a fixed (5
/// bps is `5 * FIXED_SCALE`). Rounded and saturated like [`mul`].
pub fn bps(x: Fixed, bps: Fixed) -> Fixed {
    mul_div(x, bps, FIXED_SCALE as u128 * 10_000)
}

/// |x|, saturating (|i64::MIN| is i64::MAX).
pub fn abs(x: Fixed) -> Fixed {
    x.checked_abs().unwrap_or(i64::MAX)
}

/// x / 10^8 as the nearest f64.
pub fn to_float(x: Fixed) -> f64 {
    x as f64 / FIXED_SCALE as f64
}

/// f × 10^8 rounded half away from zero, or `None` when it does not fit
/// (or f is NaN).
pub fn from_float(f: f64) -> Option<Fixed> {
    let v = (f * FIXED_SCALE as f64).round();
    if v.is_nan() || v >= 9_223_372_036_854_775_808.0 || v < -9_223_372_036_854_775_808.0 {
        return None;
    }
    Some(v as i64)
}

/// n units (n × 10^8), or `None` on overflow.
pub fn from_int(n: i64) -> Option<Fixed> {
    n.checked_mul(FIXED_SCALE)
}

/// Parses an exact decimal, `[-]digits[.digits]` with at most 8 fractional
/// digits ("65000.5", "-0.0005"), or `None`.
pub fn parse(s: &str) -> Option<Fixed> {
    let b = s.as_bytes();
    let (neg, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let dot = b.iter().position(|&c| c == b'.').unwrap_or(b.len());
    let (whole, frac) = (&b[..dot], if dot < b.len() { &b[dot + 1..] } else { &b[b.len()..] });
    if whole.is_empty() || (dot < b.len() && frac.is_empty()) || frac.len() > 8 {
        return None;
    }
    let mut u: u128 = 0;
    for &c in whole.iter().chain(frac.iter()) {
        if !c.is_ascii_digit() {
            return None;
        }
        u = u * 10 + (c - b'0') as u128;
        if u > 1 << 100 {
            return None;
        }
    }
    for _ in frac.len()..8 {
        u *= 10;
    }
    let limit = if neg { 1u128 << 63 } else { i64::MAX as u128 };
    if u > limit {
        return None;
    }
    Some(if neg { (u as u64).wrapping_neg() as i64 } else { u as i64 })
}

/// x as an exact decimal, for `{}`: no exponent, no trailing zeros, no
/// fraction for whole numbers ("65000.5", "-0.0005", "10"), as Go's
/// `abi.Fixed.String`. Formatting it does not allocate.
///
/// ```
/// assert_eq!(format!("{}", stratbox::fixed::display(6_500_050_000_000)), "65000.5");
/// ```
pub fn display(x: Fixed) -> Display {
    Display(x)
}

/// See [`display`].
#[derive(Clone, Copy, Debug)]
pub struct Display(pub Fixed);

impl fmt::Display for Display {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        let u = x.unsigned_abs();
        if x < 0 {
            f.write_str("-")?;
        }
        write!(f, "{}", u / FIXED_SCALE as u64)?;
        let mut frac = u % FIXED_SCALE as u64;
        if frac == 0 {
            return Ok(());
        }
        let mut digits = 8;
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        write!(f, ".{:0width$}", frac, width = digits)
    }
}

// a × b / d rounded half away from zero, saturated (128-bit intermediate).
fn mul_div(a: Fixed, b: Fixed, d: u128) -> Fixed {
    let neg = (a < 0) != (b < 0);
    let p = a.unsigned_abs() as u128 * b.unsigned_abs() as u128;
    let (mut q, r) = (p / d, p % d);
    if r >= d - r {
        q += 1; // r >= d/2 without rounding d
    }
    if q > i64::MAX as u128 {
        return if neg { i64::MIN } else { i64::MAX };
    }
    if neg {
        -(q as i64)
    } else {
        q as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst() -> Instrument {
        Instrument {
            tick_size: 50_000_000,
            min_amount: 10 * FIXED_SCALE,
            tick_steps: vec![crate::abi::TickStep { above_price: 1000 * FIXED_SCALE, tick_size: FIXED_SCALE }],
            ..Default::default()
        }
    }

    #[test]
    fn rounding() {
        assert_eq!(floor_to(-5, 2), -6);
        assert_eq!(ceil_to(5, 2), 6);
        assert_eq!(floor_to(7, 0), 7);
        let i = inst();
        assert_eq!(price_up(&i, 999 * FIXED_SCALE + 70_000_000), 1000 * FIXED_SCALE);
        assert_eq!(price_up(&i, 1000 * FIXED_SCALE + 10), 1001 * FIXED_SCALE);
        assert_eq!(price_down(&i, 1000 * FIXED_SCALE + 60_000_000), 1000 * FIXED_SCALE);
        assert_eq!(amount_down(&i, 25 * FIXED_SCALE), 20 * FIXED_SCALE);
    }

    #[test]
    fn products() {
        // 65000 + 5 bps = 65032.5 (the Go SDK's figure)
        assert_eq!(bps(65000 * FIXED_SCALE, 5 * FIXED_SCALE), 3_250_000_000);
        assert_eq!(mul(3 * FIXED_SCALE, 50_000_000), 150_000_000);
        assert_eq!(mul(-1, 50_000_000), -1); // -0.5e-8 rounds away from zero
        assert_eq!(mul(i64::MAX, 2 * FIXED_SCALE), i64::MAX);
        assert_eq!(mul(i64::MIN, 2 * FIXED_SCALE), i64::MIN);
        assert_eq!(abs(i64::MIN), i64::MAX);
    }

    #[test]
    fn text() {
        for (x, s) in [(6_500_050_000_000, "65000.5"), (-50_000, "-0.0005"), (1000 * FIXED_SCALE, "1000"), (-46, "-0.00000046"), (0, "0"), (i64::MIN, "-92233720368.54775808")] {
            assert_eq!(format!("{}", display(x)), s);
            assert_eq!(parse(s), Some(x), "{}", s);
        }
        for bad in ["", "-", "1.", ".5", "1.000000001", "1e5", "92233720369", "1,5"] {
            assert_eq!(parse(bad), None, "{}", bad);
        }
        assert_eq!(from_float(0.0005), Some(50_000));
        assert_eq!(from_float(f64::NAN), None);
        assert_eq!(from_float(1e12), None);
        assert_eq!(from_int(92_233_720_369), None);
    }
}
