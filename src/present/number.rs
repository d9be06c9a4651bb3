//! One way to print numbers for people: Python's `repr` of a float (what the notebook prints),
//! numpy's `np.round(x, 2)`, and a short form for tables and labels.

/// Python's `repr` of a float: shortest round-trip digits, `62.0` for whole numbers, exponent
/// form (`1e-05`, `1.5e+16`) outside `[1e-4, 1e16)`.
pub fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        // Shortest digits in exponent form, exponent with a sign and at least two digits.
        let s = format!("{x:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = exp.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", e.abs());
    }
    let s = format!("{x}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// A number in full: its shortest round-trip digits (`0.7617254901960785`, `62`), in exponent
/// form (`1e300`, `1.5e-7`) outside `[1e-5, 1e16)` so that no number prints as hundreds of
/// digits; `inf`, `-inf` and `NaN` as such.
pub fn full(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() || a == 0.0 || (1e-5..1e16).contains(&a) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// numpy's `np.round(x, 2)`: `rint(x * 100) / 100`, halves to even.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round_ties_even() / 100.0
}

/// A number for people: 4 significant digits, or scientific when very small or large.
#[inline(never)]
pub fn short(x: f64) -> String {
    if !x.is_finite() {
        return if x > 0.0 { "∞".into() } else { x.to_string() };
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{x:.3e}");
    }
    let digits = (3 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_repr() {
        assert_eq!(py_float(62.0), "62.0");
        assert_eq!(py_float(-0.0), "-0.0");
        assert_eq!(py_float(0.7617254901960785), "0.7617254901960785");
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(1.5e16), "1.5e+16");
        assert_eq!(py_float(0.04), "0.04");
    }

    #[test]
    fn full_numbers_never_print_hundreds_of_digits() {
        assert_eq!(full(0.7617254901960785), "0.7617254901960785");
        assert_eq!(full(62.0), "62");
        assert_eq!(full(1e300), "1e300");
        assert_eq!(full(-1.5e-7), "-1.5e-7");
        assert_eq!(full(f64::MAX), "1.7976931348623157e308");
        assert_eq!(full(f64::INFINITY), "inf");
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(0.041612), "0.04161");
        assert_eq!(short(38.1234), "38.12");
        assert_eq!(short(1e-7), "1.000e-7");
        assert_eq!(short(f64::INFINITY), "∞");
    }
}
