//! Fused kernels for the page: the error of several quantizations of the same data in one pass,
//! the current view's value histogram and code counts in another, and its error histogram in a
//! third, which the page runs only when it draws the error chart.
//!
//! A Bits change on the page measures six quantizations (the comparison) and bins the current
//! one; done one by one that is seven passes over the data, plus seven over the inliers when
//! there are outliers. Here the data is read once for all six (each leaf block of 128 values is
//! quantized six ways while it sits in cache) and once for the view. Every result is bit for bit
//! what [`QuantParams::error_stats`] and [`crate::analysis::Analysis::view_of`]'s plain loop give:
//! the same operations in the same order, each error summed in numpy's pairwise order (tested
//! below and in `tests/node.rs` for the wasm build). On wasm32 with simd128 the leaf loop runs
//! two values per instruction (`f64x2`), the same operations lane by lane. Where the values are
//! also sorted, what they tell directly ([`known_sorted`]: the clipped counts and, with few
//! codes, `max |e|`) is left out of the pass, which then mostly only sums, and multiplies by
//! `1 / scale` instead of dividing where the sorted values show that no code changes by it
//! ([`by_reciprocal`]).

use crate::histogram::Histogram;
use crate::quantize::{ErrorStats, Kernel, QuantParams};
use crate::sum::pairwise_tree_with;

/// Running `max |e|` and clipped count of one quantization.
#[derive(Debug, Default, Clone, Copy)]
struct Acc {
    max: f64,
    clipped: u64,
}

impl Acc {
    #[inline(always)]
    fn add(&mut self, a: f64, c: u64) {
        if a > self.max {
            self.max = a;
        }
        self.clipped += c;
    }
}

/// At most this many quantizations share a pass (their accumulators stay in registers).
const MANY: usize = 8;

/// The error of quantizing `xs` with each of `params`: `error_stats_many(xs, ps)[k]` is bit for
/// bit `ps[k].error_stats(xs)`. On wasm32, in one pass over `xs` for every 8 of `params`
/// ([`error_stats_fused`]); natively one by one, where `error_stats`' AVX2 loop is faster.
pub fn error_stats_many(xs: &[f64], params: &[QuantParams]) -> Vec<ErrorStats> {
    if cfg!(target_arch = "wasm32") {
        error_stats_fused(xs, params)
    } else {
        params.iter().map(|p| p.error_stats(xs)).collect()
    }
}

/// What is already known of one quantization's error over some data, from the same values
/// sorted ([`known_sorted`]): the pass then leaves out what it would find again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Known {
    /// How many values it clips ([`clipped_sorted`]).
    pub clipped: usize,
    /// `max |x - x̂|` ([`max_abs_sorted`]), where it was worth finding that way.
    pub max_abs: Option<f64>,
    /// Whether every value's code comes out the same with `x · (1 / scale)` in place of
    /// `x / scale` ([`by_reciprocal`]): the pass may then multiply. With `max_abs` known (the
    /// pass that only sums, [`known_sorted`]) it must hold clamped where `clipped > 0` and
    /// unclamped otherwise; with `max_abs` unknown (the pass that also finds the max, which
    /// always clamps) clamped is enough. Agreement on some values, either way, is clamped
    /// agreement on any part of them: the inliers' pass takes the whole set's.
    pub by_reciprocal: bool,
}

/// [`error_stats_many`] where some of the results are already known (`known[k]` for
/// `params[k]`): on wasm32 the pass then leaves out the clipped test, and multiplies by `1/s`
/// instead of dividing where the codes are the same that way ([`Known::by_reciprocal`]); where
/// `max |e|` is known too, it only sums: without the max, without the clamp where nothing is
/// clipped and without the zero point where it is zero ([`leaf_for`]). The same results when
/// the given ones are right; natively `error_stats` finds them anyway (and debug builds check
/// the given ones against it).
pub fn error_stats_many_known(
    xs: &[f64],
    params: &[QuantParams],
    known: Option<&[Known]>,
) -> Vec<ErrorStats> {
    match known {
        Some(kn) if kn.len() == params.len() && cfg!(target_arch = "wasm32") => {
            let mut out = fused(xs, params, Some(kn));
            for (o, k) in out.iter_mut().zip(kn) {
                o.clipped = k.clipped;
                if let Some(m) = k.max_abs {
                    o.max_abs = m;
                }
            }
            out
        }
        _ => {
            let out = error_stats_many(xs, params);
            if let Some(kn) = known {
                debug_assert!(out.iter().zip(kn).all(|(o, k)| o.clipped == k.clipped
                    && k.max_abs.is_none_or(|m| m.to_bits() == o.max_abs.to_bits())));
            }
            out
        }
    }
}

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
fn max_abs_runs(sorted: &[f64], p: &QuantParams, clamp: bool) -> (f64, bool) {
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

/// [`error_stats_many`] in one pass over `xs` for every 8 of `params`.
pub fn error_stats_fused(xs: &[f64], params: &[QuantParams]) -> Vec<ErrorStats> {
    fused(xs, params, None)
}

/// The fused pass. Without `known` it finds everything; with it, where `max |e|` is known and
/// [`Known::by_reciprocal`] holds, only the sum (see [`leaf_for`]; the max and count it gives
/// are then not the real ones). (One tree walk for all; only the leaf is compiled several ways.)
fn fused(xs: &[f64], params: &[QuantParams], known: Option<&[Known]>) -> Vec<ErrorStats> {
    let mut out = Vec::with_capacity(params.len());
    for (g, group) in params.chunks(MANY).enumerate() {
        let ks: Vec<Kernel> = group.iter().map(Kernel::new).collect();
        let leaves: Vec<Leaf> = group
            .iter()
            .enumerate()
            .map(|(j, p)| leaf_for(known.and_then(|kn| kn.get(g * MANY + j)), p))
            .collect();
        let mut acc = [Acc::default(); MANY];
        // numpy's pairwise tree, every leaf quantized by each kernel of the group in turn.
        let sums = pairwise_tree_with(
            xs,
            &mut |b: &[f64]| {
                let mut r = [0.0; MANY];
                for (((k, leaf), a), o) in
                    ks.iter().zip(&leaves).zip(acc.iter_mut()).zip(r.iter_mut())
                {
                    *o = leaf(k, b, a);
                }
                r
            },
            &|l: [f64; MANY], r: [f64; MANY]| std::array::from_fn(|j| l[j] + r[j]),
        );
        out.extend(
            sums.iter()
                .zip(&acc)
                .take(ks.len())
                .map(|(&sum_sq, a)| ErrorStats {
                    n: xs.len(),
                    sum_sq,
                    max_abs: a.max,
                    clipped: a.clipped as usize,
                }),
        );
    }
    out
}

/// One form of [`leaf`].
type Leaf = fn(&Kernel, &[f64], &mut Acc) -> f64;

/// The leaf that one quantization's pass runs: without `known`, everything (sum, `max |e|`,
/// clipped count); with the count known, the sum and the max, by `x · (1/s)` instead of `x / s`
/// where the codes are the same that way ([`Known::by_reciprocal`]); with the max known too
/// and the codes the same, the sum alone, by `x · (1/s)`, with the clamp only where something
/// is clipped and the zero point only where it is not zero (`x · (1/s) + 0` and `q - 0` change
/// at most a zero's sign, which neither `e²` nor `|e|` shows). (Chosen once a pass: the leaf
/// is then called through the pointer.)
fn leaf_for(known: Option<&Known>, p: &QuantParams) -> Leaf {
    match known {
        None => leaf::<true, true, true, true, false>,
        Some(k) if !k.by_reciprocal => leaf::<false, true, true, true, false>,
        Some(k) if k.max_abs.is_none() => leaf::<false, true, true, true, true>,
        Some(k) => match (k.clipped > 0, p.zero_point != 0.0) {
            (true, true) => leaf::<false, true, false, true, true>,
            (true, false) => leaf::<false, true, false, false, true>,
            (false, true) => leaf::<false, false, false, true, true>,
            (false, false) => leaf::<false, false, false, false, true>,
        },
    }
}

/// One leaf's sum of squared errors in numpy's order: fewer than 8 values left to right;
/// otherwise 8 accumulators over the whole groups of 8, combined as
/// `((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))`, then the rest one by one. `CLIP`:
/// count the clipped values; `MAX`: track `max |e|`; `RECIP`: multiply by `1 / s`; `CLAMP`,
/// `ZP`: see [`leaf_for`] (the rest of fewer than 8 always does everything by division, to
/// the same results).
#[inline(never)]
fn leaf<const CLIP: bool, const CLAMP: bool, const MAX: bool, const ZP: bool, const RECIP: bool>(
    k: &Kernel,
    xs: &[f64],
    acc: &mut Acc,
) -> f64 {
    debug_assert!(CLAMP || !CLIP, "a clipped count needs the clamp");
    debug_assert!(!(RECIP && CLIP), "the clipped count is the division's");
    let n = xs.len();
    let whole = if n < 8 { 0 } else { n - n % 8 };
    let res = if whole == 0 {
        0.0
    } else {
        lanes::<CLIP, CLAMP, MAX, ZP, RECIP>(k, &xs[..whole], acc)
    };
    rest(k, &xs[whole..], acc, CLIP, res)
}

/// The values after a leaf's whole groups of 8, one by one, added to `res`. (Not inlined:
/// one copy for every form of the leaf keeps the wasm smaller.)
#[inline(never)]
fn rest(k: &Kernel, xs: &[f64], acc: &mut Acc, clip: bool, mut res: f64) -> f64 {
    for &x in xs {
        let (_, e2, a, c) = k.error(x);
        acc.add(a, if clip { c } else { 0 });
        res += e2;
    }
    res
}

/// The 8-accumulator part of a leaf (`xs.len()` a multiple of 8, at least 8). Each accumulator
/// starts at +0.0, and `+0.0 + e2` is `e2` (a square is never -0.0): numpy's first terms.
/// (Natively the max is always tracked, which changes nothing; the `RECIP` forms multiply by
/// `1 / s` as on wasm32, so that native tests check that path too.)
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn lanes<
    const CLIP: bool,
    const CLAMP: bool,
    const MAX: bool,
    const ZP: bool,
    const RECIP: bool,
>(
    k: &Kernel,
    xs: &[f64],
    acc: &mut Acc,
) -> f64 {
    let mut r = [0.0f64; 8];
    let mut max = [acc.max; 8];
    let mut clipped = [0u64; 8];
    let inv = 1.0 / k.scale;
    for chunk in xs.chunks_exact(8) {
        for j in 0..8 {
            let (e2, a, c) = if RECIP {
                // The multiplying forms, as on wasm32 (see `leaf_for`; no clipped count).
                let q = code_by_reciprocal(k, inv, chunk[j], CLAMP);
                let d = if ZP { q - k.zero_point } else { q };
                let e = chunk[j] - d * k.scale;
                (e * e, e.abs(), 0)
            } else {
                let (_, e2, a, c) = k.error(chunk[j]);
                (e2, a, c)
            };
            r[j] += e2;
            max[j] = if a > max[j] { a } else { max[j] };
            if CLIP {
                clipped[j] += c;
            }
        }
    }
    for j in 0..8 {
        acc.add(max[j], clipped[j]);
    }
    ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
}

/// The 8-accumulator part of a leaf in wasm simd128: accumulators `(r0, r1)`, `(r2, r3)`, ...
/// as four `f64x2`, each lane the scalar's result (`nearest` rounds half to even, `pmax(r, lo)`
/// is `if r < lo { lo } else { r }`, `pmin(q, hi)` is `if q > hi { hi } else { q }`). The max
/// and the clipped count do not depend on order, so one `f64x2` each holds them (fewer live
/// registers than one per sum: no spills).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn lanes<
    const CLIP: bool,
    const CLAMP: bool,
    const MAX: bool,
    const ZP: bool,
    const RECIP: bool,
>(
    k: &Kernel,
    xs: &[f64],
    acc: &mut Acc,
) -> f64 {
    use core::arch::wasm32::*;
    let scale = f64x2_splat(k.scale);
    // The `RECIP` forms multiply by `1 / s` (the same codes: `Known::by_reciprocal`).
    let inv = f64x2_splat(1.0 / k.scale);
    let zp = f64x2_splat(k.zero_point);
    let (lo, hi) = (f64x2_splat(k.lo), f64x2_splat(k.hi));
    debug_assert!(xs.len() % 8 == 0 && xs.len() >= 8);
    // SAFETY: called with i + 2 <= xs.len() (the loop below reads xs[i..i + 8] only while
    // i + 8 <= xs.len()); v128_load reads 16 unaligned bytes.
    let load = |i: usize| unsafe { v128_load(xs.as_ptr().add(i) as *const v128) };
    let mut r = [f64x2_splat(0.0); 4];
    let mut max = f64x2_splat(acc.max);
    let mut clipped = i64x2_splat(0);
    let mut i = 0;
    while i + 8 <= xs.len() {
        for (j, r) in r.iter_mut().enumerate() {
            let x = load(i + 2 * j);
            // `nearest` rounds any float, so the scalar's limit to [lo - 1, hi + 1] (there for
            // the add-and-subtract rounding) is left out: limiting, then rounding, is rounding,
            // then limiting (integer bounds), and neither the code nor the clip test can tell.
            let u = if RECIP {
                f64x2_mul(x, inv)
            } else {
                f64x2_div(x, scale)
            };
            let v = f64x2_nearest(if ZP { f64x2_add(u, zp) } else { u });
            let q = if CLAMP {
                f64x2_pmin(f64x2_pmax(v, lo), hi)
            } else {
                v
            };
            if CLIP {
                // Clipped where the clamp moved the code (`v != q`), and not NaN (a NaN is
                // not clipped, as in the scalar definition); a clipped lane's mask is -1.
                let c = v128_and(f64x2_ne(v, q), f64x2_eq(v, v));
                clipped = i64x2_sub(clipped, c);
            }
            let d = if ZP { f64x2_sub(q, zp) } else { q };
            let e = f64x2_sub(x, f64x2_mul(d, scale));
            *r = f64x2_add(*r, f64x2_mul(e, e));
            if MAX {
                max = f64x2_pmax(max, f64x2_abs(e));
            }
        }
        i += 8;
    }
    acc.add(
        f64x2_extract_lane::<0>(max),
        i64x2_extract_lane::<0>(clipped) as u64,
    );
    acc.add(
        f64x2_extract_lane::<1>(max),
        i64x2_extract_lane::<1>(clipped) as u64,
    );
    let s = |j: usize| (f64x2_extract_lane::<0>(r[j]), f64x2_extract_lane::<1>(r[j]));
    let ((r0, r1), (r2, r3), (r4, r5), (r6, r7)) = (s(0), s(1), s(2), s(3));
    ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
}

/// The current view's counts, in one pass: the original values binned, and how many values got
/// each code. `values` is an empty histogram over its range; `code_counts` has
/// `qmax - qmin + 1` zeros. Bit for bit the plain loop of `quantize_value`, `Histogram::add`.
/// (The errors' histogram is [`error_counts`]: the page bins them only when it draws them.)
pub fn view_counts(xs: &[f64], p: &QuantParams, values: &mut Histogram, code_counts: &mut [u64]) {
    let k = Kernel::new(p);
    let qmin = p.qmin;
    for &x in xs {
        let (q, _) = k.code(x);
        values.add(x);
        if let Some(c) = code_counts.get_mut((q as i32 - qmin) as usize) {
            *c += 1;
        }
    }
}

/// The errors `x - x̂` of `xs` binned into `errors` (an empty histogram over its range). Bit for
/// bit the plain loop of `quantize_value`, `dequantize_value`, `Histogram::add`.
pub fn error_counts(xs: &[f64], p: &QuantParams, errors: &mut Histogram) {
    let k = Kernel::new(p);
    for &x in xs {
        let (q, _) = k.code(x);
        errors.add(x - p.dequantize_value(q as i32));
    }
}

/// [`view_counts`] over the values sorted ascending (any order of the same values gives the
/// same counts): the code and the value's bin are non-decreasing functions of the value, so
/// each is counted run by run instead of value by value ([`runs`]). Bit for bit the same
/// counts; about two evaluations a run, which at the page's 120 bins and few levels is a small
/// fraction of a pass. Many levels make runs short: then `view_counts` is the faster.
pub fn view_counts_sorted(
    sorted: &[f64],
    p: &QuantParams,
    values: &mut Histogram,
    code_counts: &mut [u64],
) {
    let (vkey, vnext) = bin_key(values);
    runs(sorted, &vkey, &vnext, &mut |b, run| {
        if let Some(c) = usize::try_from(b)
            .ok()
            .and_then(|b| values.counts.get_mut(b))
        {
            *c += run.len() as u64;
        }
    });
    let qmin = p.qmin;
    code_runs(sorted, p, &mut |q, run| {
        if let Some(c) = code_counts.get_mut((q - qmin) as usize) {
            *c += run.len() as u64;
        }
    });
}

/// Calls `add` with each code of `sorted` (ascending) and its run of values ([`runs`]; one copy
/// for the view's counts and the errors').
fn code_runs(sorted: &[f64], p: &QuantParams, add: &mut dyn FnMut(i32, &[f64])) {
    let k = Kernel::new(p);
    runs(
        sorted,
        &|x| k.code(x).0 as i64,
        &code_end(p),
        &mut |q, run| add(q as i32, run),
    );
}

/// [`error_counts`] over the values sorted ascending: code by code, and within a code's run
/// (where the error `x - x̂` rises with `x`) bin by bin where the bins hold many values each.
/// Bit for bit the same counts.
pub fn error_counts_sorted(sorted: &[f64], p: &QuantParams, errors: &mut Histogram) {
    let (ekey, enext) = bin_key(errors);
    code_runs(sorted, p, &mut |q, run| {
        let dq = p.dequantize_value(q);
        // Runs pay where the error's bins hold many values each; where the run's values spread
        // over many bins (many levels: a run spans all of them) one by one is cheaper.
        let spread = match (run.first(), run.last()) {
            (Some(&a), Some(&b)) => (ekey(b - dq) - ekey(a - dq)).unsigned_abs() as usize + 1,
            _ => 1,
        };
        if run.len() <= SHORT_RUN || run.len() < RUN_FACTOR * spread {
            bin_errors(run, dq, errors);
        } else {
            runs(run, &|x| ekey(x - dq), &|b| dq + enext(b), &mut |b, r| {
                if let Some(c) = usize::try_from(b)
                    .ok()
                    .and_then(|b| errors.counts.get_mut(b))
                {
                    *c += r.len() as u64;
                }
            });
        }
    });
}

/// Bins the errors `x - dq` of `xs` one by one, as [`Histogram::add`] does. (Two at a time in
/// wasm simd128 measured slower: the counting, not the arithmetic, takes the time.)
#[inline(never)]
fn bin_errors(xs: &[f64], dq: f64, errors: &mut Histogram) {
    for &x in xs {
        errors.add(x - dq);
    }
}

/// Runs this short are binned value by value.
const SHORT_RUN: usize = 24;
/// A code's run is binned bin by bin when it holds at least this many values per bin it spans.
const RUN_FACTOR: usize = 8;

/// A histogram's bin as a non-decreasing key (-1 below the range, the bin count above it),
/// and where each key's values end, about: the next bin's left edge (a hint for [`runs`]).
fn bin_key(h: &Histogram) -> (impl Fn(f64) -> i64, impl Fn(i64) -> f64) {
    let h = Histogram {
        lo: h.lo,
        hi: h.hi,
        counts: vec![0; h.counts.len()],
    };
    let (lo, hi, bins) = (h.lo, h.hi, h.counts.len() as i64);
    let key = move |x| match h.bin_of(x) {
        Some(b) => b as i64,
        None if x < h.lo => -1,
        None => h.counts.len() as i64,
    };
    let next = move |b: i64| {
        if b >= bins - 1 {
            if b >= bins {
                f64::INFINITY
            } else {
                hi
            }
        } else {
            lo + (hi - lo) * ((b + 1) as f64 / bins as f64)
        }
    };
    (key, next)
}

/// Calls `add(key, run)` for each run of equal `key` in `xs`, where `key` is non-decreasing
/// over `xs`. `next(k)` estimates the least value whose key exceeds `k`; it only guides the
/// search. Each run's end is looked for by comparisons with that estimate (doubling steps from
/// where the previous run's length puts it, then bisection), then settled by `key` itself from
/// there (about two evaluations when the estimate is close, a few more the further it is off).
fn runs(
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

/// The dequantized values' histogram from the code counts: every value with code `q` has the
/// value `dequantize_value(q)`, so its bin is found once per code instead of once per value.
pub fn dequantized_from_codes(p: &QuantParams, code_counts: &[u64], h: &mut Histogram) {
    for (i, &c) in code_counts.iter().enumerate() {
        if c > 0 {
            if let Some(b) = h.bin_of(p.dequantize_value(p.qmin + i as i32)) {
                h.counts[b] += c;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Scheme, ZeroPoint};

    /// Data that exercises every path: ties exactly halfway between codes, clipping on both
    /// sides, a constant, lengths around the block edges.
    fn data_sets() -> Vec<Vec<f64>> {
        let mut sets = Vec::new();
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        for n in [
            1usize, 7, 8, 9, 127, 128, 129, 255, 256, 1000, 4097, 100_003,
        ] {
            sets.push((0..n).map(|_| next() * 6.0 - 3.0).collect());
        }
        // Halfway values for scale 0.5 and zero point 0: k * 0.25.
        sets.push((0..3000).map(|i| (i as f64 - 1500.0) * 0.25).collect());
        sets.push(vec![2.5; 300]);
        // Signed zeros among ties, an odd length.
        sets.push(
            (0..1001)
                .map(|i| match i % 4 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => (i as f64 - 500.0) * 0.125,
                    _ => next() - 0.5,
                })
                .collect(),
        );
        let mut outl: Vec<f64> = (0..5000).map(|_| next() * 2.0 - 1.0).collect();
        outl[17] = 1000.0;
        outl[4000] = -250.0;
        sets.push(outl);
        sets
    }

    fn params_for(xs: &[f64]) -> Vec<QuantParams> {
        let (mn, mx) = xs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        let mut ps = Vec::new();
        for bits in [2, 3, 4, 8, 16] {
            ps.push(QuantParams::asymmetric(mn, mx, bits, ZeroPoint::Raw).unwrap());
            ps.push(
                QuantParams::asymmetric(mn * 0.5, mx * 0.3, bits, ZeroPoint::IncludeZero).unwrap(),
            );
            ps.push(QuantParams::symmetric(mx.abs().max(mn.abs()) * 0.4, bits, false).unwrap());
            ps.push(QuantParams::symmetric(1.0, bits, false).unwrap());
        }
        let raw = |scale: f64, zero_point: f64, qmin: i32, qmax: i32| QuantParams {
            scheme: Scheme::Symmetric,
            bits: 3,
            scale,
            zero_point,
            qmin,
            qmax,
            range_min: -1.5,
            range_max: 1.5,
        };
        ps.push(raw(0.5, 0.0, -4, 3));
        // Ties at odd and even codes (zero point 0.5), tiny and huge scales.
        ps.push(raw(0.25, 0.5, -8, 7));
        ps.push(raw(1e-300, 3.0, 0, 255));
        ps.push(raw(1e300, 0.0, -128, 127));
        ps.push(raw(f64::MIN_POSITIVE, 0.0, -128, 127));
        ps
    }

    #[test]
    fn many_at_once_equals_one_by_one() {
        for xs in data_sets() {
            let ps = params_for(&xs);
            let many = error_stats_fused(&xs, &ps);
            let mut sorted = xs.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            let counts: Vec<usize> = ps.iter().map(|p| clipped_sorted(&sorted, p)).collect();
            let known: Vec<Known> = ps.iter().map(|p| known_sorted(&sorted, p)).collect();
            let given = error_stats_many_known(&xs, &ps, Some(&known));
            // Every max found by runs, whatever the number of codes.
            let all_max: Vec<Known> = ps
                .iter()
                .zip(&counts)
                .map(|(p, &clipped)| Known {
                    clipped,
                    max_abs: Some(max_abs_sorted(&sorted, p)),
                    by_reciprocal: by_reciprocal(&sorted, p),
                })
                .collect();
            let given_max = error_stats_many_known(&xs, &ps, Some(&all_max));
            for (k, (p, m)) in ps.iter().zip(&many).enumerate() {
                let one = p.error_stats(&xs);
                let simple = p.error_stats_simple(&xs);
                assert_eq!(one.sum_sq.to_bits(), simple.sum_sq.to_bits());
                assert_eq!(one.max_abs.to_bits(), simple.max_abs.to_bits());
                assert_eq!(one.clipped, simple.clipped);
                assert_eq!(counts[k], one.clipped, "n={} {p:?}", xs.len());
                assert_eq!(xs.iter().filter(|&&x| clips(p, x)).count(), one.clipped);
                assert_eq!(given[k], one);
                assert_eq!(given_max[k], one);
                assert_eq!(known[k].clipped, one.clipped);
                let by_runs = all_max[k].max_abs.map(f64::to_bits);
                assert_eq!(by_runs, Some(one.max_abs.to_bits()), "n={} {p:?}", xs.len());
                assert_eq!(
                    one.sum_sq.to_bits(),
                    m.sum_sq.to_bits(),
                    "n={} {p:?}",
                    xs.len()
                );
                assert_eq!(one.max_abs.to_bits(), m.max_abs.to_bits());
                assert_eq!(one.clipped, m.clipped);
                assert_eq!(one.n, m.n);
            }
        }
    }

    /// The pass that only sums multiplies by `1 / s` where [`by_reciprocal`] says every code
    /// comes out the same: then its sums are the division's, bit for bit, on every data set
    /// and parameter set here (ties included, where it must say no). Where it says no, the
    /// product would indeed have changed a sum.
    #[test]
    fn sums_by_reciprocal_are_the_division_s() {
        let (mut agreed, mut refused) = (0, 0);
        for base in data_sets() {
            for (p, ties) in params_for(&base)
                .into_iter()
                .flat_map(|p| [(p, false), (p, true)])
            {
                // The data set, then (`ties`) values on the ties `(k + 1/2 - z) * s` and 1 or 2
                // ulps off.
                let mut xs = base.clone();
                for k in if ties { -300..300 } else { 0..0 } {
                    let t = (k as f64 + 0.5 - p.zero_point) * p.scale;
                    for d in [-2i64, -1, 0, 1, 2] {
                        let y = f64::from_bits((t.to_bits() as i64 + d) as u64);
                        if y.is_finite() {
                            xs.push(y);
                        }
                    }
                }
                let mut sorted = xs.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                let one = p.error_stats(&xs);
                let clipped = clipped_sorted(&sorted, &p);
                let agree = by_reciprocal(&sorted, &p);
                let known = known_sorted(&sorted, &p);
                assert_eq!(known.by_reciprocal, agree && known.max_abs.is_some());
                let known = Known {
                    clipped,
                    max_abs: Some(max_abs_sorted(&sorted, &p)),
                    by_reciprocal: agree,
                };
                let got = fused(&xs, &[p], Some(&[known]))[0];
                assert_eq!(got.sum_sq.to_bits(), one.sum_sq.to_bits(), "{p:?}");
                // A part of the values (as the inliers' pass): the pass that also finds the max,
                // multiplying where the whole agreed.
                let part: Vec<f64> = xs.iter().copied().step_by(3).collect();
                let part_one = p.error_stats(&part);
                let part_known = Known {
                    clipped: part_one.clipped,
                    max_abs: None,
                    by_reciprocal: agree,
                };
                let got = fused(&part, &[p], Some(&[part_known]))[0];
                assert_eq!(got.sum_sq.to_bits(), part_one.sum_sq.to_bits(), "{p:?}");
                assert_eq!(got.max_abs.to_bits(), part_one.max_abs.to_bits(), "{p:?}");
                // What it claims, value by value: each code by the product is the division's.
                let (k, inv) = (Kernel::new(&p), 1.0 / p.scale);
                let same = xs
                    .iter()
                    .all(|&x| code_by_reciprocal(&k, inv, x, clipped > 0) == k.code(x).0);
                assert!(same || !agree, "{p:?}");
                if agree {
                    agreed += 1;
                } else {
                    refused += 1;
                }
            }
        }
        assert!(
            agreed > 50 && refused > 5,
            "{agreed} agreed, {refused} refused"
        );
        // 0.35 / 0.1 is 3.4999999999999996 (code 3), 0.35 * (1 / 0.1) is 3.5 (code 4): refused,
        // the division's sum, and the product's would indeed differ. With the top code 3 and
        // nothing clipped, the clamp (which would hide the 4) must not be part of the check.
        // A subnormal scale makes `1 / scale` infinite and `0 · inf` NaN: refused too.
        let raw = |scale: f64, zero_point: f64, qmin: i32, qmax: i32| QuantParams {
            scheme: Scheme::Symmetric,
            bits: 4,
            scale,
            zero_point,
            qmin,
            qmax,
            range_min: -0.8,
            range_max: 0.7,
        };
        let mut point_35 = vec![0.35; 4000];
        point_35[3] = -0.2;
        let mut zeros = vec![0.0; 2047];
        zeros.push(1e-310);
        for (p, xs) in [
            (raw(0.1, 0.0, -8, 7), point_35.clone()),
            (raw(0.1, 0.0, -4, 3), point_35),
            (raw(1e-314, -0.0, 0, 3), zeros),
        ] {
            let one = p.error_stats(&xs);
            let mut sorted = xs.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            let known = known_sorted(&sorted, &p);
            assert!(known.max_abs.is_some() && !known.by_reciprocal, "{p:?}");
            assert!(!by_reciprocal(&sorted, &p));
            let got = fused(&xs, &[p], Some(&[known]))[0];
            assert_eq!(got.sum_sq.to_bits(), one.sum_sq.to_bits(), "{p:?}");
            let forced = Known {
                by_reciprocal: true,
                ..known
            };
            let wrong = fused(&xs, &[p], Some(&[forced]))[0];
            assert_ne!(wrong.sum_sq.to_bits(), one.sum_sq.to_bits(), "{p:?}");
        }
        assert!(by_reciprocal(&[0.34, 0.36], &raw(0.1, 0.0, -8, 7)));
    }

    /// `runs` finds exactly the runs of equal keys, whatever its estimates: right, off by a
    /// little or a lot, NaN or infinite; runs of one value, of all of them, and every length
    /// between, next to each other.
    #[test]
    fn runs_are_exact_whatever_the_estimate() {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |m: u64| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s % m
        };
        for case in 0..200 {
            // Sorted values with repeats; the key is floor(x / w) for a width w.
            let n = 1 + next(3000) as usize;
            let spread = 1 << next(20);
            let mut xs: Vec<f64> = (0..n).map(|_| next(spread) as f64 * 0.37).collect();
            xs.sort_unstable_by(f64::total_cmp);
            let w = [0.5, 1.0, 7.3, 1000.0, 1e9][case % 5];
            let key = |x: f64| (x / w).floor() as i64;
            let mut want: Vec<(i64, usize)> = Vec::new();
            for &x in &xs {
                match want.last_mut() {
                    Some((k, c)) if *k == key(x) => *c += 1,
                    _ => want.push((key(x), 1)),
                }
            }
            let estimates: [&dyn Fn(i64) -> f64; 6] = [
                &|k| (k + 1) as f64 * w,
                &|k| (k + 1) as f64 * w * 1.01,
                &|k| (k + 1) as f64 * w * 0.9 - 3.0,
                &|_| f64::NAN,
                &|_| f64::INFINITY,
                &|_| f64::NEG_INFINITY,
            ];
            for est in estimates {
                let mut got: Vec<(i64, usize)> = Vec::new();
                let mut seen = 0;
                runs(&xs, &key, &|k| est(k), &mut |k, run| {
                    assert!(std::ptr::eq(run.as_ptr(), xs[seen..].as_ptr()));
                    seen += run.len();
                    got.push((k, run.len()));
                });
                assert_eq!(got, want, "case {case}");
            }
        }
    }

    /// A scale that is not positive (never made by the calibrations, but the functions are
    /// public): the sorted shortcuts measure value by value and still agree with the pass.
    #[test]
    fn sorted_shortcuts_with_a_scale_that_is_not_positive() {
        let xs = [-3.0, 0.0, 3.0];
        for scale in [-1.0, 0.0, f64::NAN] {
            let p = QuantParams {
                scheme: Scheme::Asymmetric,
                bits: 4,
                scale,
                zero_point: 0.0,
                qmin: 0,
                qmax: 15,
                range_min: -3.0,
                range_max: 3.0,
            };
            let one = p.error_stats(&xs);
            let m = max_abs_sorted(&xs, &p);
            assert!(m.to_bits() == one.max_abs.to_bits() || (m.is_nan() && one.max_abs.is_nan()));
            let k = known_sorted(&xs, &p);
            assert_eq!((k.clipped, k.max_abs), (one.clipped, None), "{scale}");
        }
    }

    #[test]
    fn view_and_error_counts_equal_the_plain_loop() {
        for xs in data_sets() {
            for p in params_for(&xs) {
                let levels = (p.qmax - p.qmin + 1) as usize;
                let (lo, hi) = (-4.0, 4.0);
                let e = p.scale;
                let mut values = Histogram::new(lo, hi, 120);
                let mut errors = Histogram::new(-e, e, 120);
                let mut codes = vec![0u64; levels];
                view_counts(&xs, &p, &mut values, &mut codes);
                error_counts(&xs, &p, &mut errors);
                let mut dq = Histogram::new(lo, hi, 120);
                dequantized_from_codes(&p, &codes, &mut dq);
                let mut v2 = Histogram::new(lo, hi, 120);
                let mut e2 = Histogram::new(-e, e, 120);
                let mut d2 = Histogram::new(lo, hi, 120);
                let mut c2 = vec![0u64; levels];
                for &x in &xs {
                    let q = p.quantize_value(x);
                    let d = p.dequantize_value(q);
                    v2.add(x);
                    d2.add(d);
                    c2[(q - p.qmin) as usize] += 1;
                    e2.add(x - d);
                }
                assert_eq!(values, v2);
                assert_eq!(errors, e2);
                assert_eq!(dq, d2);
                assert_eq!(codes, c2);
                let mut sorted = xs.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                let mut v3 = Histogram::new(lo, hi, 120);
                let mut e3 = Histogram::new(-e, e, 120);
                let mut c3 = vec![0u64; levels];
                view_counts_sorted(&sorted, &p, &mut v3, &mut c3);
                error_counts_sorted(&sorted, &p, &mut e3);
                assert_eq!(v3, v2);
                assert_eq!(e3, e2);
                assert_eq!(c3, c2);
            }
        }
    }
}
