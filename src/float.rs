//! Parsing decimal numbers without core's `dec2flt` in the wasm.
//!
//! `str::parse::<f64>` links core's Eisel-Lemire tables and big-decimal fallback, about 16 KB
//! of the release wasm. [`parse_f64`] gives exactly the same results (same accepted syntax,
//! same correctly rounded value, checked against `str::parse` in `tests/float.rs` natively
//! and `tests/node.rs` in wasm) with a small exact path that covers the numbers people write
//! and files hold (up to 19 significant digits, moderate exponents); anything else goes to
//! `str::parse` natively and to JavaScript's `parseFloat` (also correctly rounded) in wasm.

/// A number as Rust's `f64::from_str` reads it: `[+-]`, then `inf`, `infinity` or `nan` (any
/// case), or digits with an optional `.` and fraction (at least one digit in all) and an
/// optional exponent `e`/`E`, `[+-]`, digits. `None` where `str::parse` gives an error.
pub fn parse_f64(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let (neg, rest) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let sign = |v: f64| if neg { -v } else { v };
    if rest.first().is_some_and(|c| c.is_ascii_alphabetic()) {
        let word = |w: &[u8]| rest.eq_ignore_ascii_case(w);
        return if word(b"inf") || word(b"infinity") {
            Some(sign(f64::INFINITY))
        } else if word(b"nan") {
            Some(sign(f64::NAN))
        } else {
            None
        };
    }
    // Significant digits (leading zeros dropped) as an integer while they fit in 19 digits.
    let mut w: u64 = 0;
    let mut digits = 0usize; // significant digits seen
    let mut any = false;
    let mut exp10: i64 = 0;
    let mut i = 0;
    let mut in_fraction = false;
    while i < rest.len() {
        let c = rest[i];
        if c.is_ascii_digit() {
            any = true;
            if in_fraction {
                exp10 -= 1;
            }
            if w != 0 || c != b'0' {
                digits += 1;
                if digits <= 19 {
                    w = w * 10 + u64::from(c - b'0');
                } else {
                    exp10 += 1;
                }
            }
        } else if c == b'.' && !in_fraction {
            in_fraction = true;
        } else {
            break;
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if i < rest.len() {
        if rest[i] != b'e' && rest[i] != b'E' {
            return None;
        }
        let e = &rest[i + 1..];
        let (eneg, e) = match e.first() {
            Some(b'-') => (true, &e[1..]),
            Some(b'+') => (false, &e[1..]),
            _ => (false, e),
        };
        if e.is_empty() || !e.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Saturate: beyond this the value is 0 or infinite whatever the digits.
        let mut x: i64 = 0;
        for &c in e {
            x = (x * 10 + i64::from(c - b'0')).min(1_000_000);
        }
        exp10 += if eneg { -x } else { x };
    }
    if w == 0 {
        return Some(sign(0.0));
    }
    if digits <= 19 {
        if let Some(v) = exact(w, exp10) {
            return Some(sign(v));
        }
    }
    slow(s)
}

/// `w * 10^e` correctly rounded (halves to even) when it can be done in 128-bit integers,
/// else `None`.
fn exact(w: u64, e: i64) -> Option<f64> {
    if e >= 0 {
        // w * 10^e as an integer, rounded to 53 bits.
        let mut x = u128::from(w);
        for _ in 0..e {
            x = x.checked_mul(10)?;
        }
        return Some(round_to_f64(x, false, 0));
    }
    // w / 10^k = (w * 2^s / 5^k) * 2^-(s + k), with the quotient holding at least 64 bits.
    let k = u32::try_from(-e).ok().filter(|&k| k <= 55)?;
    let five = 5u128.pow(k);
    let s = (w.leading_zeros() + 64) as i32; // w << s fills 128 bits
    let n = u128::from(w) << s;
    let q = n / five;
    if q >> 64 == 0 {
        return None;
    }
    let sticky = n % five != 0;
    Some(round_to_f64(q, sticky, -(s + k as i32)))
}

/// `(x + frac) * 2^shift` as the nearest f64, where `frac` in [0, 1) is non-zero exactly when
/// `sticky`; halves to even. `x` must be non-zero and the result a normal number.
fn round_to_f64(x: u128, sticky: bool, shift: i32) -> f64 {
    let bits = 128 - x.leading_zeros() as i32;
    let drop = (bits - 53).max(0);
    let mut m = (x >> drop) as u64;
    let mut exp = shift + drop;
    if drop > 0 {
        let half = 1u128 << (drop - 1);
        let rest = x & ((1u128 << drop) - 1);
        let above = rest > half || (rest == half && (sticky || m & 1 == 1));
        if above {
            m += 1;
            if m == 1 << 53 {
                m >>= 1;
                exp += 1;
            }
        }
    }
    // m < 2^53 is exact; the power of two is exact in two steps for |exp| up to about 2000.
    let half = exp / 2;
    m as f64 * pow2(half) * pow2(exp - half)
}

/// 2^e for -1022 <= e <= 1023.
fn pow2(e: i32) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

#[cfg(not(target_arch = "wasm32"))]
fn slow(s: &str) -> Option<f64> {
    s.parse().ok()
}

#[cfg(target_arch = "wasm32")]
fn slow(s: &str) -> Option<f64> {
    // The syntax is Rust's and was checked above; JavaScript's parseFloat reads all of it and
    // rounds correctly (V8 does so at any number of digits).
    Some(js_sys::parse_float(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exact_path_covers_ordinary_numbers() {
        // These must not need the fallback (which tests/float.rs cannot tell apart).
        assert_eq!(exact(7617254901960785, -16), Some(0.7617254901960785));
        assert_eq!(exact(14693, -2), Some(146.93));
        assert_eq!(exact(1, -5), Some(1e-5));
        assert_eq!(
            exact(12345678901234567890, -19),
            "1.234567890123456789".parse().ok()
        );
        assert_eq!(exact(15, 15), Some(1.5e16));
        assert_eq!(exact(9007199254740993, 0), Some(9007199254740992.0));
        assert_eq!(exact(1, 39), None);
    }
}
