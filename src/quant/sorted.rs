//! Facts that sorted values give without a pass over them: how many values a quantization clips
//! (two binary searches), its largest error (at the two ends of each code's run), whether
//! multiplying by `1 / scale` gives the same codes as dividing, and the searches that find where
//! each code's run of values ends.

use super::kernels::fused::Known;
use super::kernels::Kernel;
use super::params::QuantParams;

/// What the sorted values tell of `p`'s error without a pass over them: the clipped count, and
/// `max |e|` where the codes in use are few enough (at most one per [`MAX_BY_RUNS`] values)
/// for [`max_abs_sorted`] to be cheaper than finding it in the pass.
pub fn known_sorted(sorted: &[f64], p: &QuantParams) -> Known {
    if !p.codes_rise() {
        // Not a valid scale (the codes need not grow with x): nothing is known that way.
        return Known {
            clipped: clipped_sorted(sorted, p),
            max_abs: None,
            by_reciprocal: false,
        };
    }
    let k = Kernel::new(p);
    let spanned = match (sorted.first(), sorted.last()) {
        (Some(&a), Some(&b)) => (k.code(b).0 - k.code(a).0).abs() + 1.0,
        _ => 1.0,
    };
    let clipped = clipped_sorted(sorted, p);
    let (max_abs, by_reciprocal) = if spanned * MAX_BY_RUNS as f64 <= sorted.len() as f64 {
        let (m, r) = max_abs_runs(sorted, p, clipped > 0);
        (Some(m), r)
    } else {
        (None, false)
    };
    Known {
        clipped,
        max_abs,
        by_reciprocal,
    }
}

/// [`known_sorted`] finds `max |e|` by runs where there are at least this many values a code.
/// (The same walk tells whether the pass may multiply; at 1,000,000 values in wasm, 512 rather
/// than 2048 made 9 bits 2 ms faster and 10 bits 0.6; 256 made 11 bits 0.8 ms slower.)
pub const MAX_BY_RUNS: usize = 512;

/// `max |x - x̂|` of `p` over `sorted` (ascending, no NaN), as the passes find it (0 when
/// empty): with a positive scale the code is a non-decreasing function of `x`, and within one
/// code's run so is the error `x - x̂`, so its largest magnitude is at one of the run's two
/// ends. About two evaluations a code. Any other scale is measured value by value.
pub fn max_abs_sorted(sorted: &[f64], p: &QuantParams) -> f64 {
    max_abs_runs(sorted, p, true).0
}

/// Whether, for every value of `sorted` (ascending, no NaN), its code by `x · (1 / scale)`
/// ([`code_by_reciprocal`]; clamped to the codes where `p` clips some value, as the pass that
/// only sums clamps then, otherwise not) is its clamped code by `x / scale`, the one every pass
/// finds ([`known_sorted`]'s `by_reciprocal`). Where it is, the pass may multiply: the same
/// codes, so the same errors, maxima and sums, bit for bit. (A division is the
/// slowest step of the pass; the two differ by an ulp at most, which changes a code only for a
/// value within about an ulp of a tie.) Checked at both ends of each code's run: both codes are
/// non-decreasing in `x` (a product or quotient by a positive number, a sum, rounding and
/// clamping are all monotone in IEEE arithmetic), so where they agree at a run's two ends they
/// agree on every value between. (Where `1 / scale` is infinite, `0 · inf` is NaN, which is
/// not monotone, but a NaN code never agrees: the check then fails, as it should.)
pub fn by_reciprocal(sorted: &[f64], p: &QuantParams) -> bool {
    max_abs_runs(sorted, p, clipped_sorted(sorted, p) > 0).1
}

/// [`max_abs_sorted`] and [`by_reciprocal`] in one walk over the runs.
pub(crate) fn max_abs_runs(sorted: &[f64], p: &QuantParams, clamp: bool) -> (f64, bool) {
    let k = Kernel::new(p);
    let mut max = 0.0f64;
    if !p.codes_rise() {
        for &x in sorted {
            let (_, _, a, _) = k.error(x);
            if a > max {
                max = a;
            }
        }
        return (max, false);
    }
    let inv = 1.0 / p.scale;
    let mut agree = true;
    runs(
        sorted,
        &|x| k.code(x).0 as i64,
        &code_end(p),
        &mut |q, run| {
            let dq = p.dequantize_value(q as i32);
            for &x in [run.first(), run.last()].into_iter().flatten() {
                let a = (x - dq).abs();
                if a > max {
                    max = a;
                }
                agree &= code_by_reciprocal(&k, inv, x, clamp) == q as f64;
            }
        },
    );
    (max, agree)
}

/// `round(x · inv + zero_point)` (half to even), clamped to the codes with `clamp`: the code
/// the pass's multiplying forms find ([`by_reciprocal`]; `inv` is `1 / scale`).
/// Clamped as wasm's `pmax` and `pmin` do, so a NaN stays NaN and fails the check (`0 · inf`
/// where the scale is subnormal and `1 / scale` infinite; `f64::max` would make it `lo`).
#[inline(always)]
pub(crate) fn code_by_reciprocal(k: &Kernel, inv: f64, x: f64, clamp: bool) -> f64 {
    let v = (x * inv + k.zero_point).round_ties_even();
    if clamp {
        let v = if v < k.lo { k.lo } else { v };
        if v > k.hi {
            k.hi
        } else {
            v
        }
    } else {
        v
    }
}

/// About where code `q`'s values end: where `x / scale + zero_point` reaches `q + 1/2` (a
/// hint for [`runs`] and the `mse` search's level sums; infinite for the top code).
pub(crate) fn code_end(p: &QuantParams) -> impl Fn(i64) -> f64 + '_ {
    move |q: i64| {
        if q >= p.qmax as i64 {
            f64::INFINITY
        } else {
            (q as f64 + 0.5 - p.zero_point) * p.scale
        }
    }
}

/// How many of `sorted` (ascending, no NaN) `p` clips, that is, whose rounded code
/// `round(x / scale + zero_point)` lies outside `[qmin, qmax]` ([`QuantParams::error_stats`]'
/// count), by two binary searches: with a positive scale the rounded code is a non-decreasing
/// function of the value (division by a positive number, addition and rounding are all
/// monotone in IEEE arithmetic), so the values below `qmin` are a prefix and those above `qmax`
/// a suffix. Any other scale is counted value by value.
pub fn clipped_sorted(sorted: &[f64], p: &QuantParams) -> usize {
    let (lo, hi) = (p.qmin as f64, p.qmax as f64);
    if !p.codes_rise() {
        return sorted.iter().filter(|&&x| clips(p, x)).count();
    }
    let above = |x: f64| p.unclamped(x) > hi;
    let below = sorted.partition_point(|&x| p.unclamped(x) < lo);
    let not_above = sorted.partition_point(|&x| !above(x));
    below + (sorted.len() - not_above.max(below))
}

/// Whether `p` clips `x` (its rounded code is outside `[qmin, qmax]`; NaN is not clipped): the
/// clipped flag of the kernel every pass uses.
pub fn clips(p: &QuantParams, x: f64) -> bool {
    Kernel::new(p).code(x).1
}

/// Runs this short are binned value by value.
pub(crate) const SHORT_RUN: usize = 24;
/// A code's run is binned bin by bin when it holds at least this many values per bin it spans.
pub(crate) const RUN_FACTOR: usize = 8;

/// Calls `add(key, run)` for each run of equal `key` in `xs`, where `key` is non-decreasing
/// over `xs`. `next(k)` estimates the least value whose key exceeds `k`; it only guides the
/// search. Each run's end is looked for by comparisons with that estimate (doubling steps from
/// where the previous run's length puts it, then bisection), then settled by `key` itself from
/// there (about two evaluations when the estimate is close, a few more the further it is off).
pub(crate) fn runs(
    xs: &[f64],
    key: &impl Fn(f64) -> i64,
    next: &impl Fn(i64) -> f64,
    add: &mut impl FnMut(i64, &[f64]),
) {
    let n = xs.len();
    let mut i = 0;
    let mut guess = 1;
    while i < n {
        let k = key(xs[i]);
        let t = next(k);
        let near = first_at_least(xs, i + 1, i + guess, t);
        let end = first_false(xs, i + 1, near, &|x| key(x) <= k);
        add(k, &xs[i..end]);
        guess = end - i;
        i = end;
    }
}

/// [`first_false`] with `x < t`: where the values reach `t` (one copy for every `runs`, and
/// for the `mse` search's level sums).
#[inline(never)]
pub(crate) fn first_at_least(xs: &[f64], from: usize, hint: usize, t: f64) -> usize {
    first_false(xs, from, hint, &|x| x < t)
}

/// The least `j` in `from..=xs.len()` with `j == xs.len()` or `!pred(xs[j])`, where `pred` holds
/// on a prefix of `xs[from..]` and nowhere after it. Searched by doubling steps away from
/// `hint` (in either direction), then bisection: `2 log2 |answer - hint|` evaluations or so.
pub(crate) fn first_false(
    xs: &[f64],
    from: usize,
    hint: usize,
    pred: &impl Fn(f64) -> bool,
) -> usize {
    let n = xs.len();
    let from = from.min(n);
    let h = hint.clamp(from, n);
    // The answer stays in [lo, hi].
    let (mut lo, mut hi);
    if h < n && pred(xs[h]) {
        (lo, hi) = (h + 1, n);
        let mut step = 1;
        loop {
            let m = lo + step - 1;
            if m >= n {
                break;
            }
            if !pred(xs[m]) {
                hi = m;
                break;
            }
            lo = m + 1;
            step *= 2;
        }
    } else {
        (lo, hi) = (from, h);
        let mut step = 1;
        while hi - lo > step {
            let m = hi - step;
            if pred(xs[m]) {
                lo = m + 1;
                break;
            }
            hi = m;
            step *= 2;
        }
    }
    while lo < hi {
        let m = lo + (hi - lo) / 2;
        if pred(xs[m]) {
            lo = m + 1;
        } else {
            hi = m;
        }
    }
    lo
}
