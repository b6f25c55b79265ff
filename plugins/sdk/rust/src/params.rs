//! The strategy's parameters from the start-up blob (the `params` table of
//! its section in the host's configuration), as the Go SDK's `Params`:
//! typed getters with defaults, problems collected, and the parameters no
//! getter read (misspelt keys) reported by [`Params::err`].

use crate::abi::{Fixed, Param, PARAM_BOOL, PARAM_FLOAT, PARAM_INT, PARAM_STRING};
use crate::fixed;
use core::cell::{Cell, RefCell};

/// The parameters handed to `Strategy::init`. Getters take `&self`.
pub struct Params {
    list: Vec<Param>,
    read: Vec<Cell<bool>>,
    errs: RefCell<Vec<String>>,
}

fn type_name(t: u8) -> String {
    match t {
        1 => "string".into(),
        2 => "int".into(),
        3 => "float".into(),
        4 => "bool".into(),
        5 => "toml".into(),
        _ => t.to_string(),
    }
}

impl Params {
    /// Parameters from a list (the SDK makes them from the start-up blob;
    /// tests make their own).
    pub fn new(list: Vec<Param>) -> Params {
        let read = list.iter().map(|_| Cell::new(false)).collect();
        Params { list, read, errs: RefCell::new(Vec::new()) }
    }

    fn find(&self, key: &str) -> Option<&Param> {
        let i = self.list.iter().position(|q| q.key == key)?;
        self.read[i].set(true);
        Some(&self.list[i])
    }

    fn wrong(&self, q: &Param, want: &str) {
        self.fail(&q.key, &format!("is a {}, want {}", type_name(q.param_type), want));
    }

    /// Whether the parameter is set (it counts as read).
    pub fn has(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    /// A string parameter.
    pub fn string<'a>(&'a self, key: &str, def: &'a str) -> &'a str {
        match self.find(key) {
            None => def,
            Some(q) if q.param_type == PARAM_STRING => &q.text,
            Some(q) => {
                self.wrong(q, "string");
                def
            }
        }
    }

    /// An integer parameter (a float with an integral value is accepted).
    pub fn int(&self, key: &str, def: i64) -> i64 {
        match self.find(key) {
            None => def,
            Some(q) if q.param_type == PARAM_INT => q.int(),
            Some(q) if q.param_type == PARAM_FLOAT && q.float() == q.float().trunc() && q.float().abs() < 9.223372036854775808e18 => q.float() as i64,
            Some(q) => {
                self.wrong(q, "int");
                def
            }
        }
    }

    /// A float parameter (an integer is accepted).
    pub fn float(&self, key: &str, def: f64) -> f64 {
        match self.find(key) {
            None => def,
            Some(q) if q.param_type == PARAM_FLOAT => q.float(),
            Some(q) if q.param_type == PARAM_INT => q.int() as f64,
            Some(q) => {
                self.wrong(q, "float");
                def
            }
        }
    }

    /// A boolean parameter.
    pub fn boolean(&self, key: &str, def: bool) -> bool {
        match self.find(key) {
            None => def,
            Some(q) if q.param_type == PARAM_BOOL => q.boolean(),
            Some(q) => {
                self.wrong(q, "bool");
                def
            }
        }
    }

    /// A decimal parameter (a price, an amount, a rate) from an integer (10
    /// is 10 units), a float (0.0005) or a string holding an exact decimal
    /// ("65000.5").
    pub fn fixed(&self, key: &str, def: Fixed) -> Fixed {
        let q = match self.find(key) {
            None => return def,
            Some(q) => q,
        };
        let x = match q.param_type {
            PARAM_INT => fixed::from_int(q.int()),
            PARAM_FLOAT => fixed::from_float(q.float()),
            PARAM_STRING => fixed::parse(&q.text),
            _ => None,
        };
        x.unwrap_or_else(|| {
            self.fail(key, "is not a decimal with at most 8 fractional digits");
            def
        })
    }

    /// A duration parameter written as a string in Go's syntax ("250ms",
    /// "30s", "1m30s", "1.5h"), in ns.
    pub fn duration(&self, key: &str, def: i64) -> i64 {
        match self.find(key) {
            None => def,
            Some(q) if q.param_type == PARAM_STRING => parse_duration(&q.text).unwrap_or_else(|| {
                self.errs.borrow_mut().push(format!("strategy: parameter {}: time: invalid duration {}", Quoted(key), Quoted(&q.text)));
                def
            }),
            Some(q) => {
                self.wrong(q, "duration string (\"30s\")");
                def
            }
        }
    }

    /// Records a problem of the strategy's own with parameter key (a value
    /// out of range, say), for [`Params::err`] to return.
    pub fn fail(&self, key: &str, problem: &str) {
        self.errs.borrow_mut().push(format!("strategy: parameter {} {}", Quoted(key), problem));
    }

    /// Every parameter, read or not.
    pub fn all(&self) -> &[Param] {
        &self.list
    }

    /// The problems recorded by the getters and by [`Params::fail`], and one
    /// naming the parameters no getter read, one per line; `Ok` when none.
    pub fn err(&self) -> Result<(), String> {
        let mut lines = self.errs.borrow().clone();
        let unread: Vec<String> = self.list.iter().zip(&self.read).filter(|(_, r)| !r.get()).map(|(q, _)| Quoted(&q.key).to_string()).collect();
        if !unread.is_empty() {
            lines.push(format!("strategy: unknown parameters {}", unread.join(", ")));
        }
        if lines.is_empty() {
            Ok(())
        } else {
            Err(lines.join("\n"))
        }
    }
}

/// s in double quotes, `"` and `\` escaped: Go's `%q` for the keys and
/// texts of parameters (without `{:?}`, whose Unicode tables would add 20 KB
/// to a plugin).
struct Quoted<'a>(&'a str);

impl core::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("\"")?;
        for part in self.0.split_inclusive(|c| c == '"' || c == '\\') {
            match part.strip_suffix(|c| c == '"' || c == '\\') {
                Some(head) => write!(f, "{}\\{}", head, &part[head.len()..])?,
                None => f.write_str(part)?,
            }
        }
        f.write_str("\"")
    }
}

/// Parses a duration in Go's syntax (`time.ParseDuration`: a sign, then
/// decimal numbers with optional fractions, each with a unit of ns, us, µs,
/// ms, s, m, h) into ns; `None` when it is not one or overflows.
pub fn parse_duration(s: &str) -> Option<i64> {
    let mut b = s.as_bytes();
    let mut neg = false;
    if let Some(&c) = b.first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            b = &b[1..];
        }
    }
    if b == b"0" {
        return Some(0);
    }
    if b.is_empty() {
        return None;
    }
    let mut d: u64 = 0;
    while !b.is_empty() {
        // the integer part
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &b[..n] {
            v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
            if v > 1 << 63 {
                return None;
            }
        }
        b = &b[n..];
        // the fraction
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if b.first() == Some(&b'.') {
            b = &b[1..];
            let m = b.iter().take_while(|c| c.is_ascii_digit()).count();
            post = m > 0;
            let mut overflow = false;
            for &c in &b[..m] {
                if overflow || f > (u64::MAX - 9) / 10 {
                    overflow = true; // Go drops the digits that do not fit
                    continue;
                }
                f = f * 10 + (c - b'0') as u64;
                scale *= 10.0;
            }
            b = &b[m..];
        }
        if n == 0 && !post {
            return None; // no digits: ".s", "s"
        }
        // the unit
        let u = b.iter().take_while(|&&c| c != b'.' && !c.is_ascii_digit()).count();
        let unit: u64 = match &b[..u] {
            b"ns" => 1,
            b"us" | [0xC2, 0xB5, b's'] | [0xCE, 0xBC, b's'] => 1_000, // µs (U+00B5), μs (U+03BC)
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            _ => return None,
        };
        b = &b[u..];
        if v > (1 << 63) / unit {
            return None;
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > 1 << 63 {
                return None;
            }
        }
        d += v;
        if d > 1 << 63 {
            return None;
        }
    }
    if neg {
        return Some((d as i64).wrapping_neg());
    }
    if d > (1 << 63) - 1 {
        return None;
    }
    Some(d as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: u8, key: &str, text: &str, value: u64) -> Param {
        Param { param_type: t, key: key.into(), text: text.into(), value }
    }

    #[test]
    fn durations() {
        for (s, ns) in [("0", 0), ("10s", 10_000_000_000), ("1m30s", 90_000_000_000), ("1.5h", 5_400_000_000_000), ("-250ms", -250_000_000), ("2µs", 2000), ("1.000000001s", 1_000_000_001), ("+3ns", 3)] {
            assert_eq!(parse_duration(s), Some(ns), "{}", s);
        }
        for s in ["", "10", "s", ".s", "1x", "-", "3000000h", "1.5"] {
            assert_eq!(parse_duration(s), None, "{}", s);
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(Quoted(r#"a"b\c"#).to_string(), r#""a\"b\\c""#);
        assert_eq!(Quoted("size").to_string(), "\"size\"");
    }

    #[test]
    fn getters() {
        let ps = Params::new(vec![
            p(PARAM_INT, "size", "", 100),
            p(PARAM_FLOAT, "rate", "", 0.0005f64.to_bits()),
            p(PARAM_STRING, "price", "65000.5", 0),
            p(PARAM_STRING, "cooldown", "2s", 0),
            p(PARAM_BOOL, "on", "", 1),
            p(PARAM_STRING, "typo", "x", 0),
        ]);
        assert_eq!(ps.fixed("size", 0), 100 * crate::abi::FIXED_SCALE);
        assert_eq!(ps.fixed("rate", 0), 50_000);
        assert_eq!(ps.fixed("price", 0), 6_500_050_000_000);
        assert_eq!(ps.duration("cooldown", 0), 2_000_000_000);
        assert!(ps.boolean("on", false));
        assert_eq!(ps.int("missing", 7), 7);
        assert_eq!(ps.err(), Err("strategy: unknown parameters \"typo\"".to_string()));
        assert_eq!(ps.int("on", 3), 3);
        ps.fail("size", "must be positive");
        assert_eq!(
            ps.err(),
            Err("strategy: parameter \"on\" is a bool, want int\nstrategy: parameter \"size\" must be positive\nstrategy: unknown parameters \"typo\"".to_string())
        );
    }
}
