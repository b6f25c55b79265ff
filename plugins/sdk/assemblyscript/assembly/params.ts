// Params: the strategy's parameters from the start-up blob (the params
// table of its section in the host's configuration), as the Go SDK's
// Params: typed getters with defaults, errors collected, and unknown keys
// reported by err().

import { Param, PARAM_BOOL, PARAM_FLOAT, PARAM_INT, PARAM_STRING } from "./abi";
import { fromFloat, fromFloatOK, parseFixed, parseFixedOK } from "./fixed";

const TYPE_NAMES: string[] = ["0", "string", "int", "float", "bool", "toml"];

function typeName(t: u8): string { return t < 6 ? TYPE_NAMES[t] : t.toString(); }

export class Params {
  private read: bool[];
  private errs: string[] = [];

  constructor(public list: Param[]) {
    this.read = new Array<bool>(list.length);
  }

  private find(key: string): Param | null {
    for (let i = 0; i < this.list.length; i++) {
      if (this.list[i].key == key) {
        this.read[i] = true;
        return this.list[i];
      }
    }
    return null;
  }

  private wrong(q: Param, want: string): void {
    this.errs.push('strategy: parameter "' + q.key + '" is a ' + typeName(q.type) + ", want " + want);
  }

  /** Whether the parameter is set (it counts as read). */
  has(key: string): bool { return this.find(key) != null; }

  string(key: string, def: string): string {
    const q = this.find(key);
    if (q == null) return def;
    if (q.type == PARAM_STRING) return q.text;
    this.wrong(q, "string");
    return def;
  }

  int(key: string, def: i64): i64 {
    const q = this.find(key);
    if (q == null) return def;
    if (q.type == PARAM_INT) return q.intValue;
    if (q.type == PARAM_FLOAT && q.floatValue == Math.trunc(q.floatValue) && Math.abs(q.floatValue) < 9223372036854775808.0) {
      return <i64>q.floatValue;
    }
    this.wrong(q, "int");
    return def;
  }

  float(key: string, def: f64): f64 {
    const q = this.find(key);
    if (q == null) return def;
    if (q.type == PARAM_FLOAT) return q.floatValue;
    if (q.type == PARAM_INT) return <f64>q.intValue;
    this.wrong(q, "float");
    return def;
  }

  bool(key: string, def: bool): bool {
    const q = this.find(key);
    if (q == null) return def;
    if (q.type == PARAM_BOOL) return q.boolValue;
    this.wrong(q, "bool");
    return def;
  }

  /** A decimal quantity: an int, a float or a decimal string ("0.0005"), as fixed. */
  fixed(key: string, def: i64): i64 {
    const q = this.find(key);
    if (q == null) return def;
    if (q.type == PARAM_INT && q.intValue <= 92233720368 && q.intValue >= -92233720368) return q.intValue * 100_000_000;
    if (q.type == PARAM_FLOAT && fromFloatOK(q.floatValue)) return fromFloat(q.floatValue);
    if (q.type == PARAM_STRING && parseFixedOK(q.text)) return parseFixed(q.text);
    this.errs.push('strategy: parameter "' + key + '" is not a decimal with at most 8 fractional digits');
    return def;
  }

  /** A duration string in Go's syntax ("300ms", "10s", "1m30s", "1.5h"), in ns. */
  duration(key: string, def: i64): i64 {
    const q = this.find(key);
    if (q == null) return def;
    if (q.type != PARAM_STRING) {
      this.wrong(q, 'duration string ("30s")');
      return def;
    }
    const d = parseDuration(q.text);
    if (d == DURATION_INVALID) {
      this.errs.push('strategy: parameter "' + key + '": invalid duration "' + q.text + '"');
      return def;
    }
    return d;
  }

  /** Records a problem with a parameter (a value out of range, say); err() reports it. */
  fail(key: string, problem: string): void {
    this.errs.push('strategy: parameter "' + key + '" ' + problem);
  }

  /** Every problem so far, and the parameters never read (misspelt keys), one per line; null when none. */
  err(): string | null {
    const lines = this.errs.slice(0);
    let unread = "";
    for (let i = 0; i < this.list.length; i++) {
      if (!this.read[i]) unread += (unread.length > 0 ? ", " : "") + '"' + this.list[i].key + '"';
    }
    if (unread.length > 0) lines.push("strategy: unknown parameters " + unread);
    return lines.length == 0 ? null : lines.join("\n");
  }
}

/** parseDuration's result for text that is not a duration. */
export const DURATION_INVALID: i64 = -0x8000000000000000;

/** Parses Go's duration syntax (units ns, us, µs, ms, s, m, h; fractions; a sign) into ns. */
export function parseDuration(s: string): i64 {
  let i = 0;
  const n = s.length;
  let neg = false;
  if (i < n && (s.charCodeAt(i) == 45 || s.charCodeAt(i) == 43)) {
    neg = s.charCodeAt(i) == 45;
    i++;
  }
  if (s.slice(i) == "0") return 0;
  if (i == n) return DURATION_INVALID;
  let total: f64 = 0;
  while (i < n) {
    const start = i;
    while (i < n && ((s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) || s.charCodeAt(i) == 46)) i++;
    if (i == start) return DURATION_INVALID;
    const num = s.slice(start, i);
    if (num == "." ) return DURATION_INVALID;
    const value = parseFloat(num);
    const ustart = i;
    while (i < n && !(s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) && s.charCodeAt(i) != 46) i++;
    const unit = s.slice(ustart, i);
    let scale: f64 = 0;
    if (unit == "ns") scale = 1;
    else if (unit == "us" || unit == "µs" || unit == "μs") scale = 1e3;
    else if (unit == "ms") scale = 1e6;
    else if (unit == "s") scale = 1e9;
    else if (unit == "m") scale = 60e9;
    else if (unit == "h") scale = 3600e9;
    else return DURATION_INVALID;
    total += value * scale;
  }
  if (total >= 9.2e18) return DURATION_INVALID;
  const ns = <i64>total;
  return neg ? -ns : ns;
}
