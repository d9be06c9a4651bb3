//! Several quantizations of the same data measured in one pass: each leaf block of 128 values is
//! quantized every way while it sits in cache. Every result is bit for bit what
//! [`QuantParams::error_stats`] gives: the same operations in the same order, each error summed
//! in numpy's pairwise order (tested here and in `tests/node.rs` for the wasm build). On wasm32
//! with simd128 the leaf loop runs two values per instruction (`f64x2`), the same operations lane
//! by lane. Where the values are also sorted, what they tell directly
//! ([`known_sorted`](crate::quant::sorted::known_sorted): the clipped counts and, with few codes,
//! `max |e|`) is left out of the pass, which then mostly only sums, and multiplies by
//! `1 / scale` instead of dividing where the sorted values show that no code changes by it.

use super::Kernel;
use crate::quant::pairwise::pairwise_tree_with;
use crate::quant::params::{ErrorStats, QuantParams};

/// Running `max |e|` and clipped count of one quantization.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Acc {
    pub(crate) max: f64,
    pub(crate) clipped: u64,
}

impl Acc {
    #[inline(always)]
    pub(crate) fn add(&mut self, a: f64, c: u64) {
        if a > self.max {
            self.max = a;
        }
        self.clipped += c;
    }
}

/// At most this many quantizations share a pass (their accumulators stay in registers).
pub(crate) const MANY: usize = 8;

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

/// [`error_stats_many`] in one pass over `xs` for every 8 of `params`.
pub fn error_stats_fused(xs: &[f64], params: &[QuantParams]) -> Vec<ErrorStats> {
    fused(xs, params, None)
}

/// The fused pass. Without `known` it finds everything; with it, where `max |e|` is known and
/// [`Known::by_reciprocal`] holds, only the sum (see [`leaf_for`]; the max and count it gives
/// are then not the real ones). (One tree walk for all; only the leaf is compiled several ways.)
pub(crate) fn fused(
    xs: &[f64],
    params: &[QuantParams],
    known: Option<&[Known]>,
) -> Vec<ErrorStats> {
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
pub(crate) type Leaf = fn(&Kernel, &[f64], &mut Acc) -> f64;

/// The leaf that one quantization's pass runs: without `known`, everything (sum, `max |e|`,
/// clipped count); with the count known, the sum and the max, by `x · (1/s)` instead of `x / s`
/// where the codes are the same that way ([`Known::by_reciprocal`]); with the max known too
/// and the codes the same, the sum alone, by `x · (1/s)`, with the clamp only where something
/// is clipped and the zero point only where it is not zero (`x · (1/s) + 0` and `q - 0` change
/// at most a zero's sign, which neither `e²` nor `|e|` shows). (Chosen once a pass: the leaf
/// is then called through the pointer.)
pub(crate) fn leaf_for(known: Option<&Known>, p: &QuantParams) -> Leaf {
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
pub(crate) fn leaf<
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
pub(crate) fn rest(k: &Kernel, xs: &[f64], acc: &mut Acc, clip: bool, mut res: f64) -> f64 {
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
pub(crate) fn lanes<
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
                let q = crate::quant::sorted::code_by_reciprocal(k, inv, chunk[j], CLAMP);
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
pub(crate) fn lanes<
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
    debug_assert!(xs.len().is_multiple_of(8) && xs.len() >= 8);
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
