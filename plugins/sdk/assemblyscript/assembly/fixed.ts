// Fixed-point helpers (abi/README.md §2 Numbers): prices and amounts are
// i64 counts of 10^-8. The same functions, with the same rounding, as the
// Go SDK's fixed.go, so that a strategy ported from Go decides the same.

import { FIXED_SCALE, Instrument } from "./abi";

const MAX_I64: i64 = 0x7fffffffffffffff;
const MIN_I64: i64 = -0x8000000000000000;

/** x rounded down to a multiple of step (toward -infinity); x when step <= 0. */
export function floorTo(x: i64, step: i64): i64 {
  if (step <= 0) return x;
  let q = x / step;
  if (x % step != 0 && x < 0) q--;
  return q * step;
}

/** x rounded up to a multiple of step (toward +infinity); x when step <= 0. */
export function ceilTo(x: i64, step: i64): i64 {
  if (step <= 0) return x;
  let q = x / step;
  if (x % step != 0 && x > 0) q++;
  return q * step;
}

/** p rounded down to the instrument's tick at that price (tick steps included). */
export function priceDown(inst: Instrument, p: i64): i64 {
  let r = floorTo(p, inst.tickAt(p));
  const t = inst.tickAt(r);
  if (t > 0 && r % t != 0) r = floorTo(r, t); // rounded across a tick step
  return r;
}

/** p rounded up to the instrument's tick at that price. */
export function priceUp(inst: Instrument, p: i64): i64 {
  let r = ceilTo(p, inst.tickAt(p));
  const t = inst.tickAt(r);
  if (t > 0 && r % t != 0) r = ceilTo(r, t);
  return r;
}

/** a rounded down to the instrument's amount step (its minimum amount). */
export function amountDown(inst: Instrument, a: i64): i64 { return floorTo(a, inst.minAmount); }

/** The mid price, rounded toward the bid. */
export function mid(bid: i64, ask: i64): i64 { return bid + (ask - bid) / 2; }

/** a × b of two fixed values, rounded half away from zero, saturating. */
export function mul(a: i64, b: i64): i64 { return mulDiv(a, b, <u64>FIXED_SCALE); }

/** bps basis points of x (bps is fixed: 5 bps is 5 × 10^8), rounded half away from zero. */
export function bps(x: i64, b: i64): i64 { return mulDiv(x, b, <u64>FIXED_SCALE * 10_000); }

/** |x|, saturating at the maximum. */
export function abs(x: i64): i64 {
  if (x >= 0) return x;
  if (x == MIN_I64) return MAX_I64;
  return -x;
}

/** x / 10^8 as the nearest f64. */
export function toFloat(x: i64): f64 { return <f64>x / <f64>FIXED_SCALE; }

/** Whether f × 10^8, rounded half away from zero, fits an i64 (see fromFloat). */
export function fromFloatOK(f: f64): bool {
  const v = roundHalfAway(f * <f64>FIXED_SCALE);
  return !isNaN(v) && v < 9223372036854775808.0 && v >= -9223372036854775808.0;
}

/** f × 10^8 rounded half away from zero (0 when it does not fit: check fromFloatOK). */
export function fromFloat(f: f64): i64 {
  if (!fromFloatOK(f)) return 0;
  return <i64>roundHalfAway(f * <f64>FIXED_SCALE);
}

/** Go's math.Round: half away from zero, exact (Math.round rounds half up). */
export function roundHalfAway(x: f64): f64 {
  const t = Math.trunc(x);
  if (Math.abs(x - t) >= 0.5) return t + (x < 0 ? -1.0 : 1.0);
  return t;
}

/** x as an exact decimal: no exponent, no trailing zeros ("65000.5", "-0.0005", "10"). */
export function fixedToString(x: i64): string {
  let u = <u64>x;
  let s = "";
  if (x < 0) {
    s = "-";
    u = <u64>0 - u;
  }
  s += (u / <u64>FIXED_SCALE).toString();
  let frac = u % <u64>FIXED_SCALE;
  if (frac == 0) return s;
  let digits = 8;
  while (frac % 10 == 0) {
    frac /= 10;
    digits--;
  }
  let f = frac.toString();
  while (f.length < digits) f = "0" + f;
  return s + "." + f;
}

/** Whether parseFixed accepts text: [-]digits[.digits] with at most 8 fractional digits, in range. */
export function parseFixedOK(text: string): bool {
  return parse(text, true) == 1;
}

/** text as fixed (0 when invalid: check parseFixedOK). */
export function parseFixed(text: string): i64 {
  return parse(text, false);
}

function parse(text: string, check: bool): i64 {
  let i = 0;
  const n = text.length;
  let neg = false;
  if (i < n && text.charCodeAt(i) == 45) { // '-'
    neg = true;
    i++;
  }
  let whole: u64 = 0;
  let digits = 0;
  while (i < n && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) {
    if (whole > 92233720368) return check ? 0 : 0;
    whole = whole * 10 + <u64>(text.charCodeAt(i) - 48);
    digits++;
    i++;
  }
  let frac: u64 = 0;
  let fdigits = 0;
  if (i < n && text.charCodeAt(i) == 46) { // '.'
    i++;
    while (i < n && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) {
      if (fdigits == 8) return 0;
      frac = frac * 10 + <u64>(text.charCodeAt(i) - 48);
      fdigits++;
      i++;
    }
    if (fdigits == 0) return 0;
  }
  if (digits == 0 || i != n) return 0;
  for (let k = fdigits; k < 8; k++) frac *= 10;
  const u = whole * <u64>FIXED_SCALE + frac;
  if (u > (neg ? <u64>1 << 63 : <u64>MAX_I64)) return 0;
  if (check) return 1;
  return neg ? <i64>(<u64>0 - u) : <i64>u;
}

// mulDiv is a × b / d rounded half away from zero, saturating, with a
// 128-bit intermediate (AssemblyScript has no i128: 32-bit halves and a
// long division).
function mulDiv(a: i64, b: i64, d: u64): i64 {
  const neg = (a < 0) != (b < 0);
  const x = absU(a), y = absU(b);
  // 64 × 64 → 128 bits: hi:lo.
  const x0 = x & 0xffffffff, x1 = x >> 32, y0 = y & 0xffffffff, y1 = y >> 32;
  const p00 = x0 * y0, p01 = x0 * y1, p10 = x1 * y0, p11 = x1 * y1;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  const lo = (p00 & 0xffffffff) | (mid << 32);
  const hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
  if (hi >= d) return neg ? MIN_I64 : MAX_I64;
  // (hi:lo) / d with hi < d: shift-subtract, one bit at a time.
  let r = hi, q: u64 = 0;
  for (let i = 63; i >= 0; i--) {
    const carry = r >> 63;
    r = (r << 1) | ((lo >> <u64>i) & 1);
    q <<= 1;
    if (carry != 0 || r >= d) {
      r -= d;
      q |= 1;
    }
  }
  if (r >= d - r) q++; // r >= d/2 without rounding d
  if (q > <u64>MAX_I64) return neg ? MIN_I64 : MAX_I64;
  return neg ? -<i64>q : <i64>q;
}

function absU(x: i64): u64 {
  return x < 0 ? <u64>0 - <u64>x : <u64>x;
}
