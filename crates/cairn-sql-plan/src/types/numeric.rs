//! NUMERIC: PostgreSQL's exact arbitrary-precision decimal, with its arithmetic, rounding,
//! result-scale rules, text and binary forms, and an order-preserving key form.
//!
//! Role: `types` wraps a [`Numeric`] in `Value::Numeric`; `expr` calls the arithmetic here;
//! `cairn-sql-exec` stores [`Numeric::to_string`] text in rows and [`Numeric::key_bytes`] in
//! keys; the protocol layer uses [`Numeric::to_binary`] / [`Numeric::from_binary`].
//!
//! Representation: a finite value is `(-1)^negative × mag × 10^-scale`, `mag` an unsigned
//! integer in base 10^9 limbs (least significant first), `scale` PostgreSQL's *display scale*
//! (`dscale`): the number of fractional digits the value prints with. PostgreSQL keeps values
//! exactly at their display scale too (every operation rounds its result to the scale it
//! reports), so `mag`/`scale` is exact, and `1.50` and `1.5` are equal but print differently.
//! Base 10^9 makes scaling by powers of ten and decimal printing cheap; the base-10^4 digits of
//! PostgreSQL's wire format are derived on demand.
//!
//! Invariants:
//! 1. `mag` has no most-significant zero limbs; zero is `mag = []` and never negative.
//!    Every constructor goes through `Finite::new`, which normalises. Test:
//!    `zero_is_never_negative`.
//! 2. Every value built from input or arithmetic is within PostgreSQL's format limits: at most
//!    131072 digits before the decimal point and a display scale of at most 16383, else
//!    22003 "value overflows numeric format". Test: `format_limits_match_postgres`.
//! 3. Results follow PostgreSQL 15's scale rules: `+`/`-`/`%` take the larger input scale,
//!    `*` the sum, `/` [`select_div_scale`] (at least 16 significant digits); rounding is half
//!    away from zero. Tests: `division_scale_matches_postgres`, proptests against `i128`.
//! 4. Order: NaN equals NaN and is greater than everything; -Infinity < finite < +Infinity;
//!    [`Numeric::key_bytes`] sorts bytewise exactly as [`Numeric::cmp_total`] and is equal for
//!    equal values of different scales. Proptest: `key_bytes_order_matches_numeric_order`.
//! 5. Parsing never panics and never allocates more than the format limits allow, whatever
//!    the input. Proptest: `parse_never_panics`.
//!
//! Key format (inside a keycode BYTES payload, so the column stays prefix-free):
//!
//! ```text
//! -Infinity   01
//! negative    02 | !E (4 bytes) | (254 - pair)... | FF
//! zero        03
//! positive    04 |  E (4 bytes) | (pair + 1)...
//! +Infinity   05
//! NaN         06
//! ```
//!
//! where the value is `±0.d1d2d3... × 10^E` with `d1 ≠ 0` and no trailing zero digits, `E` is
//! an i32 big-endian with its sign bit flipped, and `pair` is two decimal digits (the last one
//! padded with a 0) as a number 0..=99. Example: `12.5` = `0.125 × 10^2` →
//! `04 80 00 00 02 0D 33`; `-12.5` → `02 7F FF FF FD F2 CC FF`.

use std::cmp::Ordering;
use std::fmt;

use smallvec::{smallvec, SmallVec};

use crate::error::{code, Result, SqlError};

/// A magnitude's limbs: up to four (36 digits) inline, so the values of everyday columns
/// and their sums and products need no heap allocation.
type Mag = SmallVec<[u32; 4]>;

/// Limb base of `mag`.
const BASE: u64 = 1_000_000_000;
const BASE_DIGITS: u32 = 9;
/// PostgreSQL's NUMERIC_WEIGHT_MAX + 1 base-10^4 digits before the point.
pub const MAX_INTEGER_DIGITS: u64 = 131_072;
/// PostgreSQL's NUMERIC_DSCALE_MAX.
pub const MAX_DSCALE: u32 = 0x3FFF;
/// NUMERIC_MIN_SIG_DIGITS.
const MIN_SIG_DIGITS: i64 = 16;
/// NUMERIC_MAX_DISPLAY_SCALE.
const MAX_DISPLAY_SCALE: i64 = 1000;
/// NUMERIC_MAX_RESULT_SCALE (round/trunc scale argument clamp).
pub const MAX_RESULT_SCALE: i32 = 2000;
/// NUMERIC_MAX_PRECISION (typmod precision).
pub const MAX_PRECISION: i32 = 1000;

const POW10: [u32; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// `10^k` for `k` in 0..=38 (every power of ten a `u128` holds).
const POW10_U128: [u128; 39] = {
    let mut t = [1u128; 39];
    let mut k = 1;
    while k < 39 {
        t[k] = t[k - 1] * 10;
        k += 1;
    }
    t
};

// ----- unsigned magnitudes: little-endian base-10^9 limbs, no leading zero limbs -----

fn trim(v: &mut Mag) {
    while v.last() == Some(&0) {
        v.pop();
    }
}

fn nat_cmp(a: &[u32], b: &[u32]) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.iter().rev().cmp(b.iter().rev()))
}

fn nat_add(a: &[u32], b: &[u32]) -> Mag {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut out = Mag::with_capacity(long.len() + 1);
    let mut carry = 0u64;
    for (i, &x) in long.iter().enumerate() {
        let s = x as u64 + short.get(i).copied().unwrap_or(0) as u64 + carry;
        out.push((s % BASE) as u32);
        carry = s / BASE;
    }
    if carry > 0 {
        out.push(carry as u32);
    }
    out
}

/// `a - b`; the caller guarantees `a >= b`.
fn nat_sub(a: &[u32], b: &[u32]) -> Mag {
    debug_assert!(nat_cmp(a, b) != Ordering::Less, "nat_sub underflow");
    let mut out = Mag::with_capacity(a.len());
    let mut borrow = 0i64;
    for (i, &x) in a.iter().enumerate() {
        let mut d = x as i64 - b.get(i).copied().unwrap_or(0) as i64 - borrow;
        if d < 0 {
            d += BASE as i64;
            borrow = 1;
        } else {
            borrow = 0;
        }
        out.push(d as u32);
    }
    trim(&mut out);
    out
}

fn nat_mul(a: &[u32], b: &[u32]) -> Mag {
    if a.is_empty() || b.is_empty() {
        return Mag::new();
    }
    let mut out = vec![0u64; a.len() + b.len()];
    for (i, &x) in a.iter().enumerate() {
        let mut carry = 0u64;
        for (j, &y) in b.iter().enumerate() {
            let t = out[i + j] + x as u64 * y as u64 + carry;
            out[i + j] = t % BASE;
            carry = t / BASE;
        }
        let mut k = i + b.len();
        while carry > 0 {
            let t = out[k] + carry;
            out[k] = t % BASE;
            carry = t / BASE;
            k += 1;
        }
    }
    let mut out: Mag = out.into_iter().map(|x| x as u32).collect();
    trim(&mut out);
    out
}

fn nat_mul_small(a: &[u32], m: u32) -> Mag {
    if m == 0 {
        return Mag::new();
    }
    let mut out = Mag::with_capacity(a.len() + 1);
    let mut carry = 0u64;
    for &x in a {
        let t = x as u64 * m as u64 + carry;
        out.push((t % BASE) as u32);
        carry = t / BASE;
    }
    if carry > 0 {
        out.push(carry as u32);
    }
    out
}

fn nat_add_small(a: &[u32], m: u32) -> Mag {
    nat_add(a, &[m])
}

fn nat_divrem_small(a: &[u32], d: u32) -> (Mag, u32) {
    debug_assert!(d != 0, "division by zero limb");
    let mut q = smallvec![0u32; a.len()];
    let mut rem = 0u64;
    for i in (0..a.len()).rev() {
        let cur = rem * BASE + a[i] as u64;
        q[i] = (cur / d as u64) as u32;
        rem = cur % d as u64;
    }
    trim(&mut q);
    (q, rem as u32)
}

/// Knuth's algorithm D in base 10^9: `(a / b, a % b)`, `b` non-zero.
fn nat_divrem(a: &[u32], b: &[u32]) -> (Mag, Mag) {
    debug_assert!(!b.is_empty(), "division by zero");
    if nat_cmp(a, b) == Ordering::Less {
        return (Mag::new(), Mag::from_slice(a));
    }
    if b.len() == 1 {
        let (q, r) = nat_divrem_small(a, b[0]);
        let mut r = smallvec![r];
        trim(&mut r);
        return (q, r);
    }
    let n = b.len();
    let top = b[n - 1] as u64;
    let d = (BASE / (top + 1)) as u32;
    let v = nat_mul_small(b, d);
    let mut u = nat_mul_small(a, d);
    u.resize(a.len() + 1, 0);
    let m = u.len() - n - 1;
    let mut q = smallvec![0u32; m + 1];
    let v1 = v[n - 1] as u64;
    let v2 = v[n - 2] as u64;
    for j in (0..=m).rev() {
        let num = u[j + n] as u64 * BASE + u[j + n - 1] as u64;
        let mut qhat = num / v1;
        let mut rhat = num % v1;
        while qhat >= BASE || qhat * v2 > rhat * BASE + u[j + n - 2] as u64 {
            qhat -= 1;
            rhat += v1;
            if rhat >= BASE {
                break;
            }
        }
        // u[j..=j+n] -= qhat * v
        let mut borrow = 0i64;
        let mut carry = 0u64;
        for i in 0..n {
            let p = qhat * v[i] as u64 + carry;
            carry = p / BASE;
            let t = u[i + j] as i64 - (p % BASE) as i64 - borrow;
            if t < 0 {
                u[i + j] = (t + BASE as i64) as u32;
                borrow = 1;
            } else {
                u[i + j] = t as u32;
                borrow = 0;
            }
        }
        let t = u[j + n] as i64 - carry as i64 - borrow;
        if t < 0 {
            // qhat was one too large: add v back.
            u[j + n] = (t + BASE as i64) as u32;
            qhat -= 1;
            let mut c = 0u64;
            for i in 0..n {
                let s = u[i + j] as u64 + v[i] as u64 + c;
                u[i + j] = (s % BASE) as u32;
                c = s / BASE;
            }
            u[j + n] = ((u[j + n] as u64 + c) % BASE) as u32;
        } else {
            u[j + n] = t as u32;
        }
        q[j] = qhat as u32;
    }
    trim(&mut q);
    u.truncate(n);
    trim(&mut u);
    let (r, rest) = nat_divrem_small(&u, d);
    debug_assert_eq!(rest, 0, "normalisation left a remainder");
    (q, r)
}

/// `a × 10^k`.
fn nat_mul_pow10(a: &[u32], k: u32) -> Mag {
    if a.is_empty() {
        return Mag::new();
    }
    let mut out: Mag = smallvec![0u32; (k / BASE_DIGITS) as usize];
    out.extend_from_slice(a);
    nat_mul_small(&out, POW10[(k % BASE_DIGITS) as usize])
}

/// `(a / 10^k, a % 10^k)`.
fn nat_divrem_pow10(a: &[u32], k: u32) -> (Mag, Mag) {
    let limbs = (k / BASE_DIGITS) as usize;
    if limbs >= a.len() {
        return (Mag::new(), Mag::from_slice(a));
    }
    let (low, high) = a.split_at(limbs);
    let (q, r) = nat_divrem_small(high, POW10[(k % BASE_DIGITS) as usize]);
    let mut rem = Mag::from_slice(low);
    rem.push(r);
    trim(&mut rem);
    (q, rem)
}

fn nat_pow10(k: u32) -> Mag {
    nat_mul_pow10(&[1], k)
}

fn nat_is_odd(a: &[u32]) -> bool {
    a.first().is_some_and(|l| l % 2 == 1)
}

fn nat_to_string(a: &[u32]) -> String {
    let Some((last, rest)) = a.split_last() else {
        return "0".into();
    };
    let mut s = last.to_string();
    for limb in rest.iter().rev() {
        s.push_str(&format!("{limb:09}"));
    }
    s
}

/// From ASCII decimal digits (the caller has checked they are digits).
fn nat_from_digits(d: &[u8]) -> Mag {
    let mut out = Mag::with_capacity(d.len() / 9 + 1);
    let mut end = d.len();
    while end > 0 {
        let start = end.saturating_sub(BASE_DIGITS as usize);
        let mut limb = 0u32;
        for &c in &d[start..end] {
            limb = limb * 10 + (c - b'0') as u32;
        }
        out.push(limb);
        end = start;
    }
    trim(&mut out);
    out
}

fn nat_from_u128(mut v: u128) -> Mag {
    let mut out = Mag::new();
    if let Ok(mut small) = u64::try_from(v) {
        while small > 0 {
            out.push((small % BASE) as u32);
            small /= BASE;
        }
        return out;
    }
    while v > 0 {
        out.push((v % BASE as u128) as u32);
        v /= BASE as u128;
    }
    out
}

fn nat_to_u128(a: &[u32]) -> Option<u128> {
    let mut v: u128 = 0;
    for &l in a.iter().rev() {
        v = v.checked_mul(BASE as u128)?.checked_add(l as u128)?;
    }
    Some(v)
}

/// Number of decimal digits of `a` (0 for zero).
fn nat_digit_count(a: &[u32]) -> u64 {
    match a.last() {
        None => 0,
        Some(top) => (a.len() as u64 - 1) * 9 + (top.checked_ilog10().unwrap_or(0) as u64 + 1),
    }
}

/// Integer square root (floor) by Newton's method.
fn nat_isqrt(a: &[u32]) -> Mag {
    if a.is_empty() {
        return Mag::new();
    }
    // Start above the root: 10^ceil(digits/2).
    let digits = nat_digit_count(a);
    let mut x = nat_pow10(digits.div_ceil(2) as u32);
    loop {
        let (q, _) = nat_divrem(a, &x);
        let sum = nat_add(&x, &q);
        let (y, _) = nat_divrem_small(&sum, 2);
        if nat_cmp(&y, &x) != Ordering::Less {
            return x;
        }
        x = y;
    }
}

// ----- finite values -----

/// A finite NUMERIC value: `(-1)^negative × mag × 10^-scale` (see the module header).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Finite {
    negative: bool,
    mag: Mag,
    scale: u32,
}

impl Finite {
    fn new(negative: bool, mut mag: Mag, scale: u32) -> Finite {
        trim(&mut mag);
        Finite {
            negative: negative && !mag.is_empty(),
            mag,
            scale,
        }
    }

    fn zero(scale: u32) -> Finite {
        Finite::new(false, Mag::new(), scale)
    }

    fn is_zero(&self) -> bool {
        self.mag.is_empty()
    }

    /// Decimal digits before the point (0 for |x| < 1).
    fn integer_digits(&self) -> u64 {
        nat_digit_count(&self.mag).saturating_sub(self.scale as u64)
    }

    /// Invariant 2.
    fn check(self) -> Result<Finite> {
        // At most 9 digits a limb: most values are far inside the limit without counting.
        let surely_fits = self.mag.len() as u64 * BASE_DIGITS as u64 <= MAX_INTEGER_DIGITS;
        if self.scale > MAX_DSCALE || (!surely_fits && self.integer_digits() > MAX_INTEGER_DIGITS) {
            return Err(overflow());
        }
        Ok(self)
    }

    /// The magnitude at display scale `scale` (at least `self.scale`) as a `u128`, when it
    /// has at most three limbs (< 10^27) and the scaled value fits: the fast path of `+`,
    /// `-`, `*` and comparisons, which then need neither limb loops nor allocation.
    fn small_at(&self, scale: u32) -> Option<u128> {
        if self.mag.len() > 3 {
            return None;
        }
        let m = self
            .mag
            .iter()
            .rev()
            .fold(0u128, |acc, &l| acc * BASE as u128 + l as u128);
        m.checked_mul(*POW10_U128.get(scale.checked_sub(self.scale)? as usize)?)
    }

    /// The same value at a larger scale.
    fn upscale(&self, scale: u32) -> Mag {
        debug_assert!(scale >= self.scale, "upscale to a smaller scale");
        nat_mul_pow10(&self.mag, scale - self.scale)
    }

    fn cmp_mag(&self, other: &Finite) -> Ordering {
        let s = self.scale.max(other.scale);
        if let (Some(a), Some(b)) = (self.small_at(s), other.small_at(s)) {
            return a.cmp(&b);
        }
        nat_cmp(&self.upscale(s), &other.upscale(s))
    }

    fn cmp(&self, other: &Finite) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_mag(other),
            (true, true) => other.cmp_mag(self),
        }
    }

    fn add(&self, other: &Finite) -> Finite {
        let s = self.scale.max(other.scale);
        if let (Some(a), Some(b)) = (self.small_at(s), other.small_at(s)) {
            if self.negative != other.negative {
                return match a.cmp(&b) {
                    Ordering::Less => Finite::new(other.negative, nat_from_u128(b - a), s),
                    _ => Finite::new(self.negative, nat_from_u128(a - b), s),
                };
            }
            if let Some(sum) = a.checked_add(b) {
                return Finite::new(self.negative, nat_from_u128(sum), s);
            }
        }
        let (a, b) = (self.upscale(s), other.upscale(s));
        if self.negative == other.negative {
            return Finite::new(self.negative, nat_add(&a, &b), s);
        }
        match nat_cmp(&a, &b) {
            Ordering::Less => Finite::new(other.negative, nat_sub(&b, &a), s),
            _ => Finite::new(self.negative, nat_sub(&a, &b), s),
        }
    }

    fn neg(&self) -> Finite {
        Finite::new(!self.negative, self.mag.clone(), self.scale)
    }

    fn mul(&self, other: &Finite) -> Finite {
        let small = (self.small_at(self.scale), other.small_at(other.scale));
        if let (Some(a), Some(b)) = small {
            if let Some(p) = a.checked_mul(b) {
                return Finite::new(
                    self.negative != other.negative,
                    nat_from_u128(p),
                    self.scale + other.scale,
                );
            }
        }
        Finite::new(
            self.negative != other.negative,
            nat_mul(&self.mag, &other.mag),
            self.scale + other.scale,
        )
    }

    /// Rounds (half away from zero) or truncates to `scale` fractional digits; a negative
    /// scale rounds to tens, hundreds... The result's display scale is `max(scale, 0)`.
    fn round_to(&self, scale: i32, truncate: bool) -> Finite {
        let out_scale = scale.max(0) as u32;
        if scale >= 0 && scale as u32 >= self.scale {
            return Finite::new(self.negative, self.upscale(out_scale), out_scale);
        }
        // Drop `k` digits, then scale back up for negative `scale`.
        let k = (self.scale as i64 - scale as i64) as u32;
        let (mut q, r) = nat_divrem_pow10(&self.mag, k);
        if !truncate && !r.is_empty() {
            let half = nat_mul_pow10(&[5], k - 1);
            if nat_cmp(&r, &half) != Ordering::Less {
                q = nat_add_small(&q, 1);
            }
        }
        if scale < 0 {
            q = nat_mul_pow10(&q, scale.unsigned_abs());
        }
        Finite::new(self.negative, q, out_scale)
    }

    /// `self / other` rounded half away from zero to `rscale` digits; `other` non-zero.
    fn div(&self, other: &Finite, rscale: u32) -> Finite {
        let (q, _) = self.div_truncated(other, rscale + 1);
        // One extra exact digit decides the rounding (see the module tests).
        let (mut q, last) = nat_divrem_small(&q, 10);
        if last >= 5 {
            q = nat_add_small(&q, 1);
        }
        Finite::new(self.negative != other.negative, q, rscale)
    }

    /// `trunc(self / other × 10^digits)` as a magnitude, plus whether it was exact.
    fn div_truncated(&self, other: &Finite, digits: u32) -> (Mag, bool) {
        // self/other × 10^digits = A × 10^(sb + digits - sa) / B
        let e = other.scale as i64 + digits as i64 - self.scale as i64;
        let (num, den) = if e >= 0 {
            (nat_mul_pow10(&self.mag, e as u32), other.mag.clone())
        } else {
            (self.mag.clone(), nat_mul_pow10(&other.mag, (-e) as u32))
        };
        let (q, r) = nat_divrem(&num, &den);
        (q, r.is_empty())
    }

    /// Truncated remainder with the dividend's sign; scale = max of the two.
    fn rem(&self, other: &Finite) -> Finite {
        let s = self.scale.max(other.scale);
        let (_, r) = nat_divrem(&self.upscale(s), &other.upscale(s));
        Finite::new(self.negative, r, s)
    }

    /// Base-10^4 weight and digits (PostgreSQL's representation), without leading or
    /// trailing zero digits; zero is `(0, [])`.
    fn base10000(&self) -> (i32, Vec<u16>) {
        if self.is_zero() {
            return (0, Vec::new());
        }
        let s = nat_to_string(&self.mag);
        let int_len = s.len() as i64 - self.scale as i64;
        let lpad = (4 - int_len.rem_euclid(4)) % 4;
        let rpad = (4 - (self.scale as i64).rem_euclid(4)) % 4;
        let mut padded = String::with_capacity(s.len() + 8);
        for _ in 0..lpad {
            padded.push('0');
        }
        // Leading fractional zeros when |x| < 1: int_len is negative.
        let mut weight = (int_len + lpad) / 4 - 1;
        padded.push_str(&s);
        for _ in 0..rpad {
            padded.push('0');
        }
        let mut digits: Vec<u16> = padded
            .as_bytes()
            .chunks(4)
            .map(|c| c.iter().fold(0u16, |acc, d| acc * 10 + (d - b'0') as u16))
            .collect();
        let lead = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..lead);
        weight -= lead as i64;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        (weight as i32, digits)
    }

    fn to_text(&self) -> String {
        let digits = nat_to_string(&self.mag);
        let scale = self.scale as usize;
        let mut out = String::with_capacity(digits.len() + scale + 3);
        if self.negative {
            out.push('-');
        }
        if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            out.push_str(int);
            if scale > 0 {
                out.push('.');
                out.push_str(frac);
            }
        } else {
            out.push('0');
            if scale > 0 {
                out.push('.');
                for _ in 0..scale - digits.len() {
                    out.push('0');
                }
                // "0" stands for zero; it is all padding.
                if !self.is_zero() {
                    out.push_str(&digits);
                } else {
                    out.push('0');
                }
            }
        }
        out
    }
}

// ----- the public type -----

/// A NUMERIC value, special values included.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Numeric {
    NaN,
    PosInf,
    NegInf,
    Finite(Finite),
}

fn overflow() -> SqlError {
    SqlError::new(
        code::NUMERIC_VALUE_OUT_OF_RANGE,
        "value overflows numeric format",
    )
}

fn is_pg_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

impl Numeric {
    pub fn zero() -> Numeric {
        Numeric::Finite(Finite::zero(0))
    }

    pub fn from_i64(v: i64) -> Numeric {
        Numeric::from_i128(v as i128, 0)
    }

    /// `v × 10^-scale`.
    pub fn from_i128(v: i128, scale: u32) -> Numeric {
        Numeric::Finite(Finite::new(v < 0, nat_from_u128(v.unsigned_abs()), scale))
    }

    pub fn is_nan(&self) -> bool {
        matches!(self, Numeric::NaN)
    }

    pub fn is_zero(&self) -> bool {
        matches!(self, Numeric::Finite(f) if f.is_zero())
    }

    /// The display scale (0 for special values).
    pub fn scale(&self) -> u32 {
        match self {
            Numeric::Finite(f) => f.scale,
            _ => 0,
        }
    }

    /// PostgreSQL's `numeric_in`.
    pub fn parse(input: &str) -> Result<Numeric> {
        let bad = || SqlError::invalid_text("numeric", input);
        let t = input.trim_matches(is_pg_space);
        let is = |names: &[&str]| names.iter().any(|n| t.eq_ignore_ascii_case(n));
        if is(&["nan"]) {
            return Ok(Numeric::NaN);
        }
        if is(&["infinity", "+infinity", "inf", "+inf"]) {
            return Ok(Numeric::PosInf);
        }
        if is(&["-infinity", "-inf"]) {
            return Ok(Numeric::NegInf);
        }
        let b = t.as_bytes();
        let mut i = 0;
        let negative = match b.first() {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let mut digits: Vec<u8> = Vec::new();
        let mut frac_digits: i64 = 0;
        let mut seen_point = false;
        let mut seen_digit = false;
        while let Some(&c) = b.get(i) {
            if c.is_ascii_digit() {
                seen_digit = true;
                // Leading zeros carry no value; skip them so huge zero runs cost nothing.
                if !(digits.is_empty() && c == b'0') {
                    digits.push(c);
                }
                if seen_point {
                    frac_digits += 1;
                }
            } else if c == b'.' && !seen_point {
                seen_point = true;
            } else {
                break;
            }
            i += 1;
        }
        if !seen_digit {
            return Err(bad());
        }
        let mut exponent: i64 = 0;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            let exp_negative = match b.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let start = i;
            while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                exponent = (exponent * 10 + (c - b'0') as i64).min(1 << 40);
                i += 1;
            }
            if i == start {
                return Err(bad());
            }
            if exp_negative {
                exponent = -exponent;
            }
        }
        if i != b.len() {
            return Err(bad());
        }
        // Value = digits × 10^(exponent - frac_digits); display scale max(0, frac - exp).
        let shift = exponent - frac_digits;
        let scale = (frac_digits - exponent).max(0);
        if scale > MAX_DSCALE as i64 {
            return Err(overflow());
        }
        let int_digits = digits.len() as i64 + shift;
        if !digits.is_empty() && int_digits > MAX_INTEGER_DIGITS as i64 {
            return Err(overflow());
        }
        let mag = nat_from_digits(&digits);
        let mag = if shift > 0 {
            nat_mul_pow10(&mag, shift as u32)
        } else {
            // shift < 0 only when scale > 0; then mag is already at that scale.
            mag
        };
        Ok(Numeric::Finite(Finite::new(negative, mag, scale as u32)))
    }

    /// Total order of invariant 4.
    pub fn cmp_total(&self, other: &Numeric) -> Ordering {
        fn rank(n: &Numeric) -> u8 {
            match n {
                Numeric::NegInf => 0,
                Numeric::Finite(_) => 1,
                Numeric::PosInf => 2,
                Numeric::NaN => 3,
            }
        }
        match (self, other) {
            (Numeric::Finite(a), Numeric::Finite(b)) => a.cmp(b),
            _ => rank(self).cmp(&rank(other)),
        }
    }

    pub fn neg(&self) -> Numeric {
        match self {
            Numeric::NaN => Numeric::NaN,
            Numeric::PosInf => Numeric::NegInf,
            Numeric::NegInf => Numeric::PosInf,
            Numeric::Finite(f) => Numeric::Finite(f.neg()),
        }
    }

    pub fn abs(&self) -> Numeric {
        match self {
            Numeric::NegInf => Numeric::PosInf,
            Numeric::Finite(f) if f.negative => Numeric::Finite(f.neg()),
            other => other.clone(),
        }
    }

    /// -1, 0 or 1 (NaN for NaN), as numeric with scale 0.
    pub fn sign(&self) -> Numeric {
        match self {
            Numeric::NaN => Numeric::NaN,
            Numeric::PosInf => Numeric::from_i64(1),
            Numeric::NegInf => Numeric::from_i64(-1),
            Numeric::Finite(f) if f.is_zero() => Numeric::zero(),
            Numeric::Finite(f) => Numeric::from_i64(if f.negative { -1 } else { 1 }),
        }
    }

    fn sign_of(&self) -> i32 {
        match self {
            Numeric::NaN => 0,
            Numeric::PosInf => 1,
            Numeric::NegInf => -1,
            Numeric::Finite(f) if f.is_zero() => 0,
            Numeric::Finite(f) => {
                if f.negative {
                    -1
                } else {
                    1
                }
            }
        }
    }

    fn inf(negative: bool) -> Numeric {
        if negative {
            Numeric::NegInf
        } else {
            Numeric::PosInf
        }
    }

    pub fn add(&self, other: &Numeric) -> Result<Numeric> {
        Ok(match (self, other) {
            (Numeric::NaN, _) | (_, Numeric::NaN) => Numeric::NaN,
            (Numeric::PosInf, Numeric::NegInf) | (Numeric::NegInf, Numeric::PosInf) => Numeric::NaN,
            (Numeric::PosInf, _) | (_, Numeric::PosInf) => Numeric::PosInf,
            (Numeric::NegInf, _) | (_, Numeric::NegInf) => Numeric::NegInf,
            (Numeric::Finite(a), Numeric::Finite(b)) => Numeric::Finite(a.add(b).check()?),
        })
    }

    pub fn sub(&self, other: &Numeric) -> Result<Numeric> {
        self.add(&other.neg())
    }

    pub fn mul(&self, other: &Numeric) -> Result<Numeric> {
        Ok(match (self, other) {
            (Numeric::NaN, _) | (_, Numeric::NaN) => Numeric::NaN,
            (Numeric::Finite(a), Numeric::Finite(b)) => {
                let r = a.mul(b);
                // PostgreSQL rounds a product whose scale would exceed the format's limit.
                let r = if r.scale > MAX_DSCALE {
                    r.round_to(MAX_DSCALE as i32, false)
                } else {
                    r
                };
                Numeric::Finite(r.check()?)
            }
            _ => match self.sign_of() * other.sign_of() {
                0 => Numeric::NaN,
                s => Numeric::inf(s < 0),
            },
        })
    }

    /// Division with PostgreSQL's result scale ([`select_div_scale`]).
    pub fn div(&self, other: &Numeric) -> Result<Numeric> {
        match (self, other) {
            (Numeric::NaN, _) | (_, Numeric::NaN) => Ok(Numeric::NaN),
            (Numeric::Finite(a), Numeric::Finite(b)) => {
                if b.is_zero() {
                    return Err(SqlError::division_by_zero());
                }
                let rscale = select_div_scale(a, b);
                Ok(Numeric::Finite(a.div(b, rscale).check()?))
            }
            (Numeric::Finite(_), _) => Ok(Numeric::zero()),
            (_, Numeric::Finite(b)) => {
                if b.is_zero() {
                    return Err(SqlError::division_by_zero());
                }
                Ok(Numeric::inf((self.sign_of() * other.sign_of()) < 0))
            }
            _ => Ok(Numeric::NaN),
        }
    }

    /// `div` to an explicit result scale (used by `avg`).
    pub fn div_scale(&self, other: &Numeric, rscale: u32) -> Result<Numeric> {
        match (self, other) {
            (Numeric::Finite(a), Numeric::Finite(b)) => {
                if b.is_zero() {
                    return Err(SqlError::division_by_zero());
                }
                Ok(Numeric::Finite(a.div(b, rscale).check()?))
            }
            _ => self.div(other),
        }
    }

    /// `%` / `mod()`: truncated remainder with the dividend's sign.
    pub fn rem(&self, other: &Numeric) -> Result<Numeric> {
        match (self, other) {
            (Numeric::NaN, _) | (_, Numeric::NaN) => Ok(Numeric::NaN),
            (Numeric::Finite(a), Numeric::Finite(b)) => {
                if b.is_zero() {
                    return Err(SqlError::division_by_zero());
                }
                Ok(Numeric::Finite(a.rem(b)))
            }
            (Numeric::Finite(_), _) => Ok(self.clone()),
            (_, Numeric::Finite(b)) if b.is_zero() => Err(SqlError::division_by_zero()),
            _ => Ok(Numeric::NaN),
        }
    }

    /// `round(x, scale)`: half away from zero; display scale `max(scale, 0)`.
    pub fn round(&self, scale: i32) -> Numeric {
        let scale = scale.clamp(-MAX_RESULT_SCALE, MAX_RESULT_SCALE);
        match self {
            Numeric::Finite(f) => Numeric::Finite(f.round_to(scale, false)),
            other => other.clone(),
        }
    }

    /// `trunc(x, scale)`.
    pub fn trunc(&self, scale: i32) -> Numeric {
        let scale = scale.clamp(-MAX_RESULT_SCALE, MAX_RESULT_SCALE);
        match self {
            Numeric::Finite(f) => Numeric::Finite(f.round_to(scale, true)),
            other => other.clone(),
        }
    }

    pub fn floor(&self) -> Numeric {
        self.floor_ceil(true)
    }

    pub fn ceil(&self) -> Numeric {
        self.floor_ceil(false)
    }

    fn floor_ceil(&self, floor: bool) -> Numeric {
        let Numeric::Finite(f) = self else {
            return self.clone();
        };
        let t = f.round_to(0, true);
        let exact = t.cmp(f) == Ordering::Equal;
        if exact || f.negative != floor {
            return Numeric::Finite(t);
        }
        let step = Finite::new(floor, smallvec![1], 0);
        Numeric::Finite(t.add(&step))
    }

    /// `sqrt(x)` with PostgreSQL's result scale; 2201F for negative input.
    pub fn sqrt(&self) -> Result<Numeric> {
        let f = match self {
            Numeric::NaN | Numeric::PosInf => return Ok(self.clone()),
            Numeric::NegInf => return Err(negative_sqrt()),
            Numeric::Finite(f) => f,
        };
        if f.negative {
            return Err(negative_sqrt());
        }
        let (weight, _) = f.base10000();
        let sweight = (weight as i64 + 1) * 4 / 2 - 1;
        let rscale = (MIN_SIG_DIGITS - sweight)
            .max(f.scale as i64)
            .clamp(0, MAX_DISPLAY_SCALE) as u32;
        // floor(sqrt(A × 10^-s) × 10^(r+1)) = isqrt(A × 10^(2r+2-s)); 2r+2-s > 0 as r >= s.
        let e = 2 * (rscale as i64 + 1) - f.scale as i64;
        let n = nat_mul_pow10(&f.mag, e as u32);
        let root = nat_isqrt(&n);
        let (mut q, last) = nat_divrem_small(&root, 10);
        if last >= 5 {
            q = nat_add_small(&q, 1);
        }
        Ok(Numeric::Finite(Finite::new(false, q, rscale)))
    }

    /// Enforces `numeric(precision, scale)`: rounds to `scale` digits, then 22003 if the
    /// integer part needs more than `precision - scale` digits.
    pub fn apply_typmod(&self, precision: i32, scale: i32) -> Result<Numeric> {
        match self {
            Numeric::NaN => Ok(Numeric::NaN),
            Numeric::PosInf | Numeric::NegInf => Err(SqlError::new(
                code::NUMERIC_VALUE_OUT_OF_RANGE,
                "numeric field overflow",
            )
            .with_detail(format!(
                "A field with precision {precision}, scale {scale} cannot hold an infinite value."
            ))),
            Numeric::Finite(f) => {
                let r = f.round_to(scale, false);
                // Digits allowed before the point (negative scale: more, negative: fewer).
                let max_digits = precision - scale;
                let int_digits = r.integer_digits() as i64;
                // With a scale larger than the precision, leading fractional zeros count.
                let fits = if r.is_zero() {
                    true
                } else if max_digits <= 0 {
                    // |r| < 10^max_digits: count leading fractional zeros.
                    let s = nat_digit_count(&r.mag) as i64;
                    let exponent = s - r.scale as i64; // r = 0.ddd × 10^exponent
                    exponent <= max_digits as i64
                } else {
                    int_digits <= max_digits as i64
                };
                if !fits {
                    let limit = if max_digits != 0 {
                        format!("10^{max_digits}")
                    } else {
                        "1".into()
                    };
                    return Err(SqlError::new(
                        code::NUMERIC_VALUE_OUT_OF_RANGE,
                        "numeric field overflow",
                    )
                    .with_detail(format!(
                        "A field with precision {precision}, scale {scale} must round to an absolute value less than {limit}."
                    )));
                }
                Ok(Numeric::Finite(r))
            }
        }
    }

    /// Rounds half away from zero to an integer in `[min, max]`; errors as PostgreSQL's
    /// numeric → integer casts (`type_name` names the target in the message).
    pub fn to_i64(&self, min: i64, max: i64, type_name: &str) -> Result<i64> {
        match self {
            Numeric::NaN => Err(SqlError::new(
                code::FEATURE_NOT_SUPPORTED,
                format!("cannot convert NaN to {type_name}"),
            )),
            Numeric::PosInf | Numeric::NegInf => Err(SqlError::new(
                code::FEATURE_NOT_SUPPORTED,
                format!("cannot convert infinity to {type_name}"),
            )),
            Numeric::Finite(f) => {
                let r = f.round_to(0, false);
                let v = nat_to_u128(&r.mag)
                    .and_then(|m| i128::try_from(m).ok())
                    .map(|m| if r.negative { -m } else { m })
                    .filter(|v| *v >= min as i128 && *v <= max as i128)
                    .ok_or_else(|| SqlError::out_of_range(type_name))?;
                Ok(v as i64)
            }
        }
    }

    /// The exact value as `i128 × 10^-scale`, if it fits (used by aggregates and tests).
    pub fn to_i128_scaled(&self) -> Option<(i128, u32)> {
        match self {
            Numeric::Finite(f) => {
                let m = i128::try_from(nat_to_u128(&f.mag)?).ok()?;
                Some((if f.negative { -m } else { m }, f.scale))
            }
            _ => None,
        }
    }

    /// `numeric_float8`: the nearest double (via the decimal text, as PostgreSQL does).
    pub fn to_f64(&self) -> f64 {
        match self {
            Numeric::NaN => f64::NAN,
            Numeric::PosInf => f64::INFINITY,
            Numeric::NegInf => f64::NEG_INFINITY,
            Numeric::Finite(f) => f.to_text().parse().unwrap_or(f64::NAN),
        }
    }

    /// `float8_numeric` / `float4_numeric`: the float printed with `digits` significant
    /// digits (`%.15g` / `%.6g`), then parsed.
    pub fn from_f64(v: f64, digits: usize) -> Result<Numeric> {
        if v.is_nan() {
            return Ok(Numeric::NaN);
        }
        if v.is_infinite() {
            return Ok(Numeric::inf(v < 0.0));
        }
        let sci = format!("{:.*e}", digits.saturating_sub(1), v);
        let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
        // %g drops trailing zeros (and the point) from the mantissa.
        let mantissa = if mantissa.contains('.') {
            mantissa.trim_end_matches('0').trim_end_matches('.')
        } else {
            mantissa
        };
        Numeric::parse(&format!("{mantissa}e{exp}"))
    }

    /// PostgreSQL's binary form (`numeric_send`).
    pub fn to_binary(&self) -> Vec<u8> {
        let (ndigits, weight, sign, dscale, digits): (i16, i16, u16, u16, Vec<u16>) = match self {
            Numeric::NaN => (0, 0, 0xC000, 0, Vec::new()),
            // PostgreSQL sends 0x20 as the display scale of the infinities.
            Numeric::PosInf => (0, 0, 0xD000, 0x20, Vec::new()),
            Numeric::NegInf => (0, 0, 0xF000, 0x20, Vec::new()),
            Numeric::Finite(f) => {
                let (w, d) = f.base10000();
                (
                    d.len() as i16,
                    w as i16,
                    if f.negative { 0x4000 } else { 0 },
                    f.scale as u16,
                    d,
                )
            }
        };
        let mut out = Vec::with_capacity(8 + 2 * digits.len());
        out.extend_from_slice(&ndigits.to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    /// `numeric_recv`: validates every field; digits beyond the display scale are truncated.
    pub fn from_binary(b: &[u8]) -> Result<Numeric> {
        let bad = |what: &str| {
            SqlError::new(
                code::PROTOCOL_VIOLATION,
                format!("invalid {what} in external \"numeric\" value"),
            )
        };
        let word = |i: usize| -> Result<u16> {
            match b.get(i..i + 2) {
                Some(&[hi, lo]) => Ok(u16::from_be_bytes([hi, lo])),
                _ => Err(bad("length")),
            }
        };
        let ndigits = word(0)? as i16;
        let weight = word(2)? as i16;
        let sign = word(4)?;
        let dscale = word(6)?;
        if ndigits < 0 || b.len() != 8 + 2 * ndigits as usize {
            return Err(bad("length"));
        }
        match sign {
            0xC000 => return Ok(Numeric::NaN),
            0xD000 => return Ok(Numeric::PosInf),
            0xF000 => return Ok(Numeric::NegInf),
            0x0000 | 0x4000 => {}
            _ => return Err(bad("sign")),
        }
        if dscale as u32 > MAX_DSCALE {
            return Err(bad("scale"));
        }
        let mut text = String::with_capacity(4 * ndigits as usize);
        for i in 0..ndigits as usize {
            let d = word(8 + 2 * i)?;
            if d >= 10_000 {
                return Err(bad("digit"));
            }
            text.push_str(&format!("{d:04}"));
        }
        // value = digits × 10^(4 × (weight - ndigits + 1))
        let exponent = 4 * (weight as i64 - ndigits as i64 + 1);
        let digits_text = if text.is_empty() { "0" } else { &text };
        let mag = nat_from_digits(digits_text.as_bytes());
        let f = if exponent >= 0 {
            Finite::new(sign == 0x4000, nat_mul_pow10(&mag, exponent as u32), 0)
        } else {
            Finite::new(sign == 0x4000, mag, (-exponent) as u32)
        };
        let f = f.round_to(dscale as i32, true);
        Ok(Numeric::Finite(f.check()?))
    }

    /// Order-preserving bytes (module header, "Key format").
    pub fn key_bytes(&self) -> Vec<u8> {
        let f = match self {
            Numeric::NegInf => return vec![0x01],
            Numeric::PosInf => return vec![0x05],
            Numeric::NaN => return vec![0x06],
            Numeric::Finite(f) if f.is_zero() => return vec![0x03],
            Numeric::Finite(f) => f,
        };
        let digits = nat_to_string(&f.mag);
        let exponent = digits.len() as i64 - f.scale as i64;
        let digits = digits.trim_end_matches('0').as_bytes();
        let e = (exponent.clamp(i32::MIN as i64, i32::MAX as i64) as i32 as u32) ^ 0x8000_0000;
        let mut out = Vec::with_capacity(6 + digits.len() / 2);
        out.push(if f.negative { 0x02 } else { 0x04 });
        let e_bytes = if f.negative { !e } else { e }.to_be_bytes();
        out.extend_from_slice(&e_bytes);
        for pair in digits.chunks(2) {
            let hi = (pair[0] - b'0') as u16;
            let lo = pair.get(1).map_or(0, |d| (d - b'0') as u16);
            let p = hi * 10 + lo;
            out.push(if f.negative { 254 - p } else { p + 1 } as u8);
        }
        if f.negative {
            out.push(0xFF);
        }
        out
    }

    /// The value in base-10^4 terms `(weight, first non-zero digit)`, as `select_div_scale`
    /// and `sqrt` see it.
    pub fn weight_and_first_digit(&self) -> (i32, u16) {
        match self {
            Numeric::Finite(f) => {
                let (w, d) = f.base10000();
                (w, d.first().copied().unwrap_or(0))
            }
            _ => (0, 0),
        }
    }

    pub fn is_odd_integer(&self) -> bool {
        matches!(self, Numeric::Finite(f) if f.scale == 0 && nat_is_odd(&f.mag))
    }
}

fn negative_sqrt() -> SqlError {
    SqlError::new("2201F", "cannot take square root of a negative number")
}

/// PostgreSQL's `select_div_scale`: enough fractional digits for at least 16 significant
/// digits in the quotient, never fewer than either input's display scale, at most 1000.
fn select_div_scale(a: &Finite, b: &Finite) -> u32 {
    let (w1, d1) = a.base10000();
    let (w2, d2) = b.base10000();
    let (w1, f1) = if d1.is_empty() { (0, 0) } else { (w1, d1[0]) };
    let (w2, f2) = if d2.is_empty() { (0, 0) } else { (w2, d2[0]) };
    let mut qweight = w1 as i64 - w2 as i64;
    if f1 <= f2 {
        qweight -= 1;
    }
    (MIN_SIG_DIGITS - qweight * 4)
        .max(a.scale as i64)
        .max(b.scale as i64)
        .clamp(0, MAX_DISPLAY_SCALE) as u32
}

impl fmt::Display for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Numeric::NaN => f.write_str("NaN"),
            Numeric::PosInf => f.write_str("Infinity"),
            Numeric::NegInf => f.write_str("-Infinity"),
            Numeric::Finite(x) => f.write_str(&x.to_text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> Numeric {
        Numeric::parse(s).unwrap()
    }

    #[test]
    fn text_input_and_output_match_postgres() {
        // Verified against PostgreSQL 15.
        let cases = [
            (" 12.3400 ", "12.3400"),
            ("-0.0", "0.0"),
            (".5", "0.5"),
            ("5.", "5"),
            ("+5", "5"),
            ("1e3", "1000"),
            ("1.5e-3", "0.0015"),
            ("1.50e1", "15.0"),
            ("1e+3", "1000"),
            ("1E-2", "0.01"),
            ("0001.10", "1.10"),
            ("-0", "0"),
            ("0e10", "0"),
            ("0.000e-2", "0.00000"),
            ("0e-3", "0.000"),
            ("inf", "Infinity"),
            ("+inf", "Infinity"),
            ("  -inf", "-Infinity"),
            ("-Infinity", "-Infinity"),
            (" NaN ", "NaN"),
            ("nan", "NaN"),
            (
                "123456789012345678901234567890.123",
                "123456789012345678901234567890.123",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(n(input).to_string(), want, "{input}");
        }
        for bad in [
            "abc", "", "1e", "1.2.3", "-NaN", ".", "-", "1 2", "e5", "1e+",
        ] {
            assert_eq!(
                Numeric::parse(bad).unwrap_err().code,
                code::INVALID_TEXT_REPRESENTATION,
                "{bad}"
            );
        }
    }

    #[test]
    fn format_limits_match_postgres() {
        assert_eq!(n("1e131071").to_string().len(), 131_072);
        for over in ["1e131072", "1e200000", "1e-16384", "1e99999999999999999999"] {
            assert_eq!(
                Numeric::parse(over).unwrap_err().code,
                code::NUMERIC_VALUE_OUT_OF_RANGE,
                "{over}"
            );
        }
        assert!(Numeric::parse("1e-16383").is_ok());
        let big = n("1e131071");
        assert!(big.mul(&n("10")).is_err());
    }

    #[test]
    fn zero_is_never_negative() {
        assert_eq!(n("-0.00").to_string(), "0.00");
        assert_eq!(n("1.5").sub(&n("1.5")).unwrap().to_string(), "0.0");
        assert_eq!(n("-1.5").mul(&n("0")).unwrap().to_string(), "0.0");
        assert_eq!(n("-0.4").round(0).to_string(), "0");
    }

    #[test]
    fn arithmetic_matches_postgres() {
        // Verified against PostgreSQL 15.
        let cases: &[(&str, &str, &str, &str)] = &[
            ("0.1", "+", "0.2", "0.3"),
            ("1.5", "*", "2.25", "3.375"),
            ("1.5", "-", "2.25", "-0.75"),
            ("7.5", "%", "2", "1.5"),
            ("-7.5", "%", "2", "-1.5"),
            ("7", "%", "-2.5", "2.0"),
            ("10.00", "%", "3", "1.00"),
            ("NaN", "+", "1", "NaN"),
            ("Infinity", "-", "Infinity", "NaN"),
            ("Infinity", "*", "0", "NaN"),
            ("1", "/", "Infinity", "0"),
            ("Infinity", "/", "2", "Infinity"),
        ];
        for (a, op, b, want) in cases {
            let (a, b) = (n(a), n(b));
            let r = match *op {
                "+" => a.add(&b),
                "-" => a.sub(&b),
                "*" => a.mul(&b),
                "/" => a.div(&b),
                _ => a.rem(&b),
            };
            assert_eq!(r.unwrap().to_string(), *want, "{a} {op} {b}");
        }
        assert_eq!(
            n("1").div(&n("0.0")).unwrap_err().code,
            code::DIVISION_BY_ZERO
        );
        assert_eq!(
            n("1").rem(&n("0.0")).unwrap_err().code,
            code::DIVISION_BY_ZERO
        );
    }

    #[test]
    fn division_scale_matches_postgres() {
        // Verified against PostgreSQL 15.
        let cases = [
            ("1.0", "3", "0.33333333333333333333"),
            ("1", "3.0", "0.33333333333333333333"),
            ("10", "4", "2.5000000000000000"),
            ("2.0", "3", "0.66666666666666666667"),
            ("1234567.0", "7", "176366.714285714286"),
            ("1", "7000000.0", "0.000000142857142857142857"),
            ("0.000001", "3", "0.000000333333333333333333"),
            ("100000000", "3.0", "33333333.333333333333"),
            ("3", "2", "1.5000000000000000"),
            ("6.75", "3", "2.2500000000000000"),
        ];
        for (a, b, want) in cases {
            assert_eq!(n(a).div(&n(b)).unwrap().to_string(), want, "{a} / {b}");
        }
    }

    #[test]
    fn rounding_functions_match_postgres() {
        // Verified against PostgreSQL 15.
        assert_eq!(n("2.5").round(0).to_string(), "3");
        assert_eq!(n("-2.5").round(0).to_string(), "-3");
        assert_eq!(n("2.345").round(2).to_string(), "2.35");
        assert_eq!(n("1.5").round(3).to_string(), "1.500");
        assert_eq!(n("1234.5").round(-2).to_string(), "1200");
        assert_eq!(n("-2.789").trunc(1).to_string(), "-2.7");
        assert_eq!(n("1.5").trunc(3).to_string(), "1.500");
        assert_eq!(n("-2.5").floor().to_string(), "-3");
        assert_eq!(n("-2.5").ceil().to_string(), "-2");
        assert_eq!(n("2.1").ceil().to_string(), "3");
        assert_eq!(n("2.0").ceil().to_string(), "2");
        assert_eq!(n("-2.50").abs().to_string(), "2.50");
        assert_eq!(n("-2.5").sign().to_string(), "-1");
        assert_eq!(n("2.0").sqrt().unwrap().to_string(), "1.414213562373095");
        assert_eq!(n("2").sqrt().unwrap().to_string(), "1.414213562373095");
        assert_eq!(n("16").sqrt().unwrap().to_string(), "4.000000000000000");
        assert!(n("-1").sqrt().is_err());
    }

    #[test]
    fn typmod_matches_postgres() {
        // Verified against PostgreSQL 15.
        assert_eq!(n("12.5").apply_typmod(5, 2).unwrap().to_string(), "12.50");
        assert_eq!(n("2.345").apply_typmod(5, 2).unwrap().to_string(), "2.35");
        assert_eq!(n("-2.345").apply_typmod(5, 2).unwrap().to_string(), "-2.35");
        assert_eq!(n("1.5").apply_typmod(3, -1).unwrap().to_string(), "0");
        assert_eq!(n("15").apply_typmod(3, -1).unwrap().to_string(), "20");
        let e = n("999.995").apply_typmod(5, 2).unwrap_err();
        assert_eq!(e.code, code::NUMERIC_VALUE_OUT_OF_RANGE);
        assert_eq!(e.message, "numeric field overflow");
        assert_eq!(
            e.details().detail.unwrap(),
            "A field with precision 5, scale 2 must round to an absolute value less than 10^3."
        );
        let e = n("1").apply_typmod(3, 3).unwrap_err();
        assert_eq!(
            e.details().detail.unwrap(),
            "A field with precision 3, scale 3 must round to an absolute value less than 1."
        );
        assert_eq!(n("0.5").apply_typmod(3, 3).unwrap().to_string(), "0.500");
        assert_eq!(n("NaN").apply_typmod(3, 1).unwrap().to_string(), "NaN");
        assert!(n("Infinity").apply_typmod(3, 1).is_err());
        // Scale above precision: |x| < 10^-2.
        assert_eq!(n("0.001").apply_typmod(2, 4).unwrap().to_string(), "0.0010");
        assert!(n("0.01").apply_typmod(2, 4).is_err());
    }

    #[test]
    fn integer_and_float_conversions_match_postgres() {
        // Verified against PostgreSQL 15.
        assert_eq!(
            n("2.5")
                .to_i64(i32::MIN as i64, i32::MAX as i64, "integer")
                .unwrap(),
            3
        );
        assert_eq!(n("-2.5").to_i64(i64::MIN, i64::MAX, "bigint").unwrap(), -3);
        assert_eq!(
            n("1e20")
                .to_i64(i64::MIN, i64::MAX, "bigint")
                .unwrap_err()
                .message,
            "bigint out of range"
        );
        assert_eq!(
            n("NaN").to_i64(0, 1, "integer").unwrap_err().message,
            "cannot convert NaN to integer"
        );
        assert_eq!(
            n("Infinity").to_i64(0, 1, "integer").unwrap_err().code,
            code::FEATURE_NOT_SUPPORTED
        );
        assert_eq!(n("0.1").to_f64(), 0.1);
        let f = |v: f64| Numeric::from_f64(v, 15).unwrap().to_string();
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(1.0 / 3.0), "0.333333333333333");
        assert_eq!(f(1e20), "100000000000000000000");
        assert_eq!(f(100.0), "100");
        assert_eq!(f(123456789012345678.0), "123456789012346000");
        assert_eq!(f(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(
            Numeric::from_f64(1.5f32 as f64, 6).unwrap().to_string(),
            "1.5"
        );
        assert_eq!(
            Numeric::from_f64((1.0f32 / 3.0) as f64, 6)
                .unwrap()
                .to_string(),
            "0.333333"
        );
    }

    #[test]
    fn binary_form_matches_postgres() {
        // numeric_send output of PostgreSQL 15.
        let hex =
            |v: &Numeric| -> String { v.to_binary().iter().map(|b| format!("{b:02x}")).collect() };
        let cases = [
            ("1.50", "000200000000000200011388"),
            ("0", "0000000000000000"),
            ("-12345.678", "0003000140000003000109291a7c"),
            ("NaN", "00000000c0000000"),
            ("0.00012", "0002ffff00000005000107d0"),
            ("100000", "0001000100000000000a"),
            ("1e-5", "0001fffe0000000503e8"),
            ("10000.0", "00010001000000010001"),
            ("Infinity", "00000000d0000020"),
            ("-Infinity", "00000000f0000020"),
        ];
        for (v, want) in cases {
            let x = n(v);
            assert_eq!(hex(&x), want, "{v}");
            let back = Numeric::from_binary(&x.to_binary()).unwrap();
            assert_eq!(back.to_string(), x.to_string(), "{v}");
        }
        assert!(Numeric::from_binary(&[0, 1, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(Numeric::from_binary(&[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10]).is_err());
        assert!(Numeric::from_binary(&[0, 0, 0, 0, 0x12, 0, 0, 0]).is_err());
    }

    #[test]
    fn key_bytes_match_the_documented_example() {
        assert_eq!(
            n("12.5").key_bytes(),
            vec![0x04, 0x80, 0x00, 0x00, 0x02, 0x0D, 0x33]
        );
        assert_eq!(
            n("-12.5").key_bytes(),
            vec![0x02, 0x7F, 0xFF, 0xFF, 0xFD, 0xF2, 0xCC, 0xFF]
        );
        assert_eq!(n("1.0").key_bytes(), n("1.000").key_bytes());
    }

    fn scaled() -> impl Strategy<Value = (i128, u32)> {
        (
            prop_oneof![
                -1_000i128..1_000,
                -(1i128 << 60)..(1i128 << 60),
                Just(0i128),
                Just(999_999_999),
                Just(1_000_000_000),
                Just(-1_000_000_000_000_000_000)
            ],
            0u32..12,
        )
    }

    fn num((v, s): (i128, u32)) -> Numeric {
        Numeric::from_i128(v, s)
    }

    fn pow10(k: u32) -> i128 {
        10i128.pow(k)
    }

    proptest! {
        #[test]
        fn add_sub_mul_match_i128(a in scaled(), b in scaled()) {
            let s = a.1.max(b.1);
            let (x, y) = (a.0 * pow10(s - a.1), b.0 * pow10(s - b.1));
            prop_assert_eq!(num(a).add(&num(b)).unwrap().to_i128_scaled(), Some((x + y, s)));
            prop_assert_eq!(num(a).sub(&num(b)).unwrap().to_i128_scaled(), Some((x - y, s)));
            let small = |v: (i128, u32)| (v.0 % 1_000_000_000_000, v.1);
            let (p, q) = (small(a), small(b));
            prop_assert_eq!(
                num(p).mul(&num(q)).unwrap().to_i128_scaled(),
                Some((p.0 * q.0, p.1 + q.1))
            );
            prop_assert_eq!(
                num(a).cmp_total(&num(b)),
                x.cmp(&y)
            );
            if y != 0 {
                prop_assert_eq!(num(a).rem(&num(b)).unwrap().to_i128_scaled(), Some((x % y, s)));
            }
        }

        /// Magnitudes over three limbs take the limb loops instead of the `u128` fast
        /// path; mixing them with small ones must give the same values.
        #[test]
        fn fast_and_limb_paths_agree(a in scaled(), b in scaled()) {
            let big = Numeric::parse("1e40").unwrap();
            let (x, y) = (num(a), num(b));
            let xb = x.add(&big).unwrap();
            let yb = y.add(&big).unwrap();
            prop_assert_eq!(xb.cmp_total(&yb), x.cmp_total(&y));
            prop_assert_eq!(
                xb.add(&y).unwrap().sub(&big).unwrap().to_string(),
                x.add(&y).unwrap().to_string()
            );
            prop_assert_eq!(
                x.mul(&y).unwrap().mul(&big).unwrap().to_string(),
                x.mul(&y.mul(&big).unwrap()).unwrap().to_string()
            );
            prop_assert_eq!(
                xb.sub(&yb).unwrap().to_string(),
                x.sub(&y).unwrap().to_string()
            );
        }

        #[test]
        fn division_rounds_half_away_from_zero(a in scaled(), b in scaled(), r in 0u32..8) {
            let (a, b) = ((a.0 % 1_000_000_000, a.1.min(6)), (b.0 % 1_000_000, b.1.min(6)));
            prop_assume!(b.0 != 0);
            let q = num(a).div_scale(&num(b), r).unwrap().to_i128_scaled().unwrap();
            prop_assert_eq!(q.1, r);
            // exact: a.0/10^a.1 / (b.0/10^b.1) × 10^r = a.0 × 10^(b.1 + r) / (b.0 × 10^a.1)
            let num_ = a.0 * pow10(b.1 + r);
            let den = b.0 * pow10(a.1);
            let t = num_ / den; // truncated toward zero
            let rem = (num_ % den).abs() * 2;
            let want = if rem >= den.abs() { t + if (num_ < 0) != (den < 0) { -1 } else { 1 } } else { t };
            prop_assert_eq!(q.0, want);
        }

        #[test]
        fn text_and_binary_round_trip(a in scaled()) {
            let x = num(a);
            let back = Numeric::parse(&x.to_string()).unwrap();
            prop_assert_eq!(back.to_i128_scaled(), Some(a));
            let bin = Numeric::from_binary(&x.to_binary()).unwrap();
            prop_assert_eq!(bin.to_i128_scaled(), Some(a));
        }

        #[test]
        fn key_bytes_order_matches_numeric_order(a in scaled(), b in scaled()) {
            let (x, y) = (num(a), num(b));
            prop_assert_eq!(x.key_bytes().cmp(&y.key_bytes()), x.cmp_total(&y), "{} vs {}", x, y);
        }

        #[test]
        fn parse_never_panics(s in "[-+ .0-9eEinfatyINFATY]{0,24}") {
            let _ = Numeric::parse(&s);
        }

        #[test]
        fn isqrt_is_floor(v in 0u128..(1u128 << 100)) {
            let r = nat_to_u128(&nat_isqrt(&nat_from_u128(v))).unwrap();
            prop_assert!(r * r <= v && (r + 1) * (r + 1) > v);
        }

        #[test]
        fn long_division_matches_u128(a in any::<u128>(), b in 1u128..u128::MAX) {
            let (q, r) = nat_divrem(&nat_from_u128(a), &nat_from_u128(b));
            prop_assert_eq!(nat_to_u128(&q), Some(a / b));
            prop_assert_eq!(nat_to_u128(&r), Some(a % b));
        }
    }

    #[test]
    fn key_order_covers_special_values() {
        let ordered = [
            "-Infinity",
            "-1e10",
            "-12.5",
            "-12.45",
            "-1",
            "-0.5",
            "-0.05",
            "0",
            "0.05",
            "0.5",
            "1",
            "12.45",
            "12.5",
            "1e10",
            "Infinity",
            "NaN",
        ];
        for w in ordered.windows(2) {
            let (a, b) = (n(w[0]), n(w[1]));
            assert_eq!(a.cmp_total(&b), Ordering::Less, "{} < {}", w[0], w[1]);
            assert!(a.key_bytes() < b.key_bytes(), "{} < {}", w[0], w[1]);
        }
        assert_eq!(n("NaN").cmp_total(&n("NaN")), Ordering::Equal);
    }
}
