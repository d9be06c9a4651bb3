//! The integer kernels' AVX2 loops, each the same operations in the same order as its portable
//! twin, 4 values per instruction (the formats' fused error pass has its own, in
//! `quant::formats::fast`). Each is an `unsafe fn` with `#[target_feature(enable =
//! "avx2")]`; callers check [`super::has_avx2`] first.

use super::{ErrorLanes, Kernel};
use crate::quant::calibrate::percentile::Filtered;
use crate::quant::calibrate::stats::stats_leaf;
use crate::quant::calibrate::stats::MinMaxLanes;
use crate::quant::pairwise::leaf_sum;

/// [`Kernel::fill`] in AVX2, 4 values per instruction, the same operations in the same
/// order (`max_pd(lo, v)` is `if v < lo { lo } else { v }`, NaN included).
///
/// # Safety
/// The CPU must have AVX2; `codes` and `deq` are as long as `xs`.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn fill_avx2(k: &Kernel, xs: &[f64], codes: &mut [i32], deq: &mut [f64]) {
    use std::arch::x86_64::*;
    let n = xs.len().min(codes.len()).min(deq.len());
    let v = Vectors::new(k);
    let whole = n - n % 4;
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 4 <= n for all three slices.
        let x = _mm256_loadu_pd(xs.as_ptr().add(i));
        let (q, _) = v.code(x);
        let qi = v.to_i32(q);
        _mm_storeu_si128(codes.as_mut_ptr().add(i) as *mut __m128i, qi);
        let d = _mm256_mul_pd(_mm256_sub_pd(_mm256_cvtepi32_pd(qi), v.zp), v.scale);
        _mm256_storeu_pd(deq.as_mut_ptr().add(i), d);
        i += 4;
    }
    k.fill(&xs[whole..n], &mut codes[whole..n], &mut deq[whole..n]);
}

/// How many values ahead the AVX2 error pass asks for the data (8 KiB). The pass is bound
/// by memory; with this hint on top of the hardware prefetcher, the bench's `asym` at 10M
/// went from a median of 13.1 to 11.2 ms (6 interleaved rounds; 128 and 512 values ahead
/// did less, 2048 no better). Non-temporal stores of the codes, tried with it, made no
/// measurable difference and were taken out. A prefetch never faults, and `wrapping_add`
/// keeps the address arithmetic defined past the end of the data.
pub(crate) const AHEAD: usize = 1024;

/// [`Kernel::error_leaf`] in AVX2: the 8 accumulators are two vectors of 4; with `STORE`
/// the codes go into `codes` (as long as `block`).
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn error_leaf_avx2<const STORE: bool>(
    k: &Kernel,
    block: &[f64],
    codes: &mut [i32],
    acc: &mut ErrorLanes,
) -> f64 {
    use std::arch::x86_64::*;
    let n = block.len();
    if STORE && codes.len() < n {
        // No room for the codes (callers never do this): the error alone.
        return k.error_leaf::<false>(block, &mut [], acc);
    }
    if n < 8 {
        return k.error_leaf::<STORE>(block, codes, acc);
    }
    let whole = n - n % 8;
    let v = Vectors::new(k);
    let p = block.as_ptr();
    let cp = codes.as_mut_ptr();
    let mut m0 = _mm256_loadu_pd(acc.max.as_ptr());
    let mut m1 = _mm256_loadu_pd(acc.max.as_ptr().add(4));
    let mut c0 = _mm256_loadu_si256(acc.clipped.as_ptr() as *const __m256i);
    let mut c1 = _mm256_loadu_si256(acc.clipped.as_ptr().add(4) as *const __m256i);
    let mut r0 = _mm256_setzero_pd();
    let mut r1 = _mm256_setzero_pd();
    let mut i = 0;
    while i < whole {
        // A hint 8 KiB ahead (see [`AHEAD`]).
        _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(i + AHEAD) as *const i8);
        // SAFETY (loads and stores): i + 8 <= whole <= n <= codes.len() when STORE.
        let (q0, e0, a0, k0) = v.error(_mm256_loadu_pd(p.add(i)));
        let (q1, e1, a1, k1) = v.error(_mm256_loadu_pd(p.add(i + 4)));
        if STORE {
            _mm_storeu_si128(cp.add(i) as *mut __m128i, v.to_i32(q0));
            _mm_storeu_si128(cp.add(i + 4) as *mut __m128i, v.to_i32(q1));
        }
        // +0.0 + e = e (e is never -0.0): the first add is numpy's first assignment.
        r0 = _mm256_add_pd(r0, e0);
        r1 = _mm256_add_pd(r1, e1);
        m0 = _mm256_max_pd(a0, m0);
        m1 = _mm256_max_pd(a1, m1);
        c0 = _mm256_sub_epi64(c0, k0);
        c1 = _mm256_sub_epi64(c1, k1);
        i += 8;
    }
    _mm256_storeu_pd(acc.max.as_mut_ptr(), m0);
    _mm256_storeu_pd(acc.max.as_mut_ptr().add(4), m1);
    _mm256_storeu_si256(acc.clipped.as_mut_ptr() as *mut __m256i, c0);
    _mm256_storeu_si256(acc.clipped.as_mut_ptr().add(4) as *mut __m256i, c1);
    let mut r = [0.0f64; 8];
    _mm256_storeu_pd(r.as_mut_ptr(), r0);
    _mm256_storeu_pd(r.as_mut_ptr().add(4), r1);
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    k.error_rest::<STORE, f64>(block, whole, codes, acc, res)
}

/// The leaf sum of squared errors alone in AVX2: `q = round(clamp(v, lo, hi))`, which is
/// `clamp(round(v), lo, hi)` (rounding is monotone and keeps the integer bounds; NaN stays
/// NaN), in numpy's eight-accumulator order.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn sum_sq_leaf_avx2(k: &Kernel, block: &[f64]) -> f64 {
    use std::arch::x86_64::*;
    let n = block.len();
    if n < 8 {
        return crate::quant::pairwise::leaf_sum(block, &mut |x| k.error(x).1);
    }
    let whole = n - n % 8;
    let (scale, zp) = (_mm256_set1_pd(k.scale), _mm256_set1_pd(k.zero_point));
    let (lo, hi) = (_mm256_set1_pd(k.lo), _mm256_set1_pd(k.hi));
    let e2 = |x: __m256d| {
        let v = _mm256_add_pd(_mm256_div_pd(x, scale), zp);
        // max_pd(lo, v) is v when v is NaN, as min_pd(hi, v): NaN goes through.
        let v = _mm256_min_pd(hi, _mm256_max_pd(lo, v));
        let q = _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v);
        let e = _mm256_sub_pd(x, _mm256_mul_pd(_mm256_sub_pd(q, zp), scale));
        _mm256_mul_pd(e, e)
    };
    let p = block.as_ptr();
    let mut r0 = _mm256_setzero_pd();
    let mut r1 = _mm256_setzero_pd();
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 8 <= whole <= n.
        r0 = _mm256_add_pd(r0, e2(_mm256_loadu_pd(p.add(i))));
        r1 = _mm256_add_pd(r1, e2(_mm256_loadu_pd(p.add(i + 4))));
        i += 8;
    }
    let mut r = [0.0f64; 8];
    _mm256_storeu_pd(r.as_mut_ptr(), r0);
    _mm256_storeu_pd(r.as_mut_ptr().add(4), r1);
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for &x in &block[whole..] {
        res += k.error(x).1;
    }
    res
}

/// The kernel's constants broadcast to AVX vectors, and its steps on 4 values at a time.
pub(crate) struct Vectors {
    scale: std::arch::x86_64::__m256d,
    zp: std::arch::x86_64::__m256d,
    lo: std::arch::x86_64::__m256d,
    hi: std::arch::x86_64::__m256d,
    abs: std::arch::x86_64::__m256d,
}

impl Vectors {
    #[target_feature(enable = "avx2")]
    pub(crate) fn new(k: &Kernel) -> Vectors {
        use std::arch::x86_64::*;
        Vectors {
            scale: _mm256_set1_pd(k.scale),
            zp: _mm256_set1_pd(k.zero_point),
            lo: _mm256_set1_pd(k.lo),
            hi: _mm256_set1_pd(k.hi),
            abs: _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX)),
        }
    }

    /// [`Kernel::code`]: the clamped code as floats and the clipped mask (all ones).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn code(
        &self,
        x: std::arch::x86_64::__m256d,
    ) -> (std::arch::x86_64::__m256d, std::arch::x86_64::__m256d) {
        use std::arch::x86_64::*;
        let v = _mm256_add_pd(_mm256_div_pd(x, self.scale), self.zp);
        // `roundpd` to nearest, halves to even, at any magnitude. The scalar path first
        // limits v to [lo - 1, hi + 1] so that adding and subtracting 2^52 rounds it; that
        // gives the same integer and the same clamp, in 4 more instructions. NaN stays NaN.
        let r = _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v);
        // max_pd(a, b) = a > b ? a : b, min_pd(a, b) = a < b ? a : b (b when NaN).
        let q = _mm256_min_pd(self.hi, _mm256_max_pd(self.lo, r));
        // Clipped: the clamp moved it (false for NaN, as `r < lo || r > hi` is).
        let clipped = _mm256_cmp_pd::<_CMP_NEQ_OQ>(r, q);
        (q, clipped)
    }

    /// [`Kernel::error`]: the code (as floats), squared error, `|error|` and the clipped
    /// mask (as -1 per lane).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn error(
        &self,
        x: std::arch::x86_64::__m256d,
    ) -> (
        std::arch::x86_64::__m256d,
        std::arch::x86_64::__m256d,
        std::arch::x86_64::__m256d,
        std::arch::x86_64::__m256i,
    ) {
        let (q, clipped) = self.code(x);
        self.error_of(x, q, clipped)
    }

    /// The error of `x` coded as `q` (as floats, `clipped` its mask): what [`Vectors::error`]
    /// returns.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn error_of(
        &self,
        x: std::arch::x86_64::__m256d,
        q: std::arch::x86_64::__m256d,
        clipped: std::arch::x86_64::__m256d,
    ) -> (
        std::arch::x86_64::__m256d,
        std::arch::x86_64::__m256d,
        std::arch::x86_64::__m256d,
        std::arch::x86_64::__m256i,
    ) {
        use std::arch::x86_64::*;
        let e = _mm256_sub_pd(x, _mm256_mul_pd(_mm256_sub_pd(q, self.zp), self.scale));
        (
            q,
            _mm256_mul_pd(e, e),
            _mm256_and_pd(e, self.abs),
            _mm256_castpd_si256(clipped),
        )
    }

    /// [`Vectors::error`] with `x * rcp` in place of `x / scale`, and a mask of the lanes where
    /// that may round to another integer than the division would: those whose `x * rcp +
    /// zero_point` lies within `0.5 - limit` of a half-integer. Where no lane is marked, every
    /// result is [`Vectors::error`]'s (see [`error_leaf_f32_avx2`]). Without `CLAMP` the code
    /// is not clamped (see [`error_leaf_f32_avx512`]).
    #[inline]
    #[target_feature(enable = "avx2")]
    #[allow(clippy::type_complexity)]
    fn error_by_reciprocal<const CLAMP: bool>(
        &self,
        x: std::arch::x86_64::__m256d,
        rcp: std::arch::x86_64::__m256d,
        limit: std::arch::x86_64::__m256d,
    ) -> (
        std::arch::x86_64::__m256d,
        std::arch::x86_64::__m256d,
        std::arch::x86_64::__m256d,
        std::arch::x86_64::__m256i,
        std::arch::x86_64::__m256d,
    ) {
        use std::arch::x86_64::*;
        let v = _mm256_add_pd(_mm256_mul_pd(x, rcp), self.zp);
        let r = _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v);
        let near = _mm256_cmp_pd::<_CMP_GE_OQ>(_mm256_and_pd(_mm256_sub_pd(v, r), self.abs), limit);
        let (q, clipped) = if CLAMP {
            let q = _mm256_min_pd(self.hi, _mm256_max_pd(self.lo, r));
            (q, _mm256_cmp_pd::<_CMP_NEQ_OQ>(r, q))
        } else {
            (r, _mm256_setzero_pd())
        };
        let (q, e2, a, c) = self.error_of(x, q, clipped);
        (q, e2, a, c, near)
    }

    /// Codes as floats to `i32`, as `q as i32` does: NaN becomes 0 (`cvttpd2dq` alone
    /// would give `i32::MIN`).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn to_i32(&self, q: std::arch::x86_64::__m256d) -> std::arch::x86_64::__m128i {
        use std::arch::x86_64::*;
        let q = _mm256_andnot_pd(_mm256_cmp_pd::<_CMP_UNORD_Q>(q, q), q);
        _mm256_cvttpd_epi32(q)
    }
}

/// [`MinMaxLanes::update`] over a whole part in AVX2: the eight lanes are two vectors of four,
/// each lane taking its values in order, as `update` does (on a tie, `_mm256_min_pd(x, lo)`
/// keeps `lo`, the earlier value, as `if x < lo { x } else { lo }`: -0.0 and +0.0 stay apart).
/// A software prefetch 8 KiB ahead: the pass is bound by memory, and reads 10M values in about
/// 3.6 ms on two threads with it, 4.3 ms without.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn min_max_avx2(xs: &[f64], lanes: &mut MinMaxLanes) {
    use std::arch::x86_64::*;
    const AHEAD: usize = 1024;
    let n = xs.len();
    let whole = n - n % 8;
    let p = xs.as_ptr();
    let mut v = MinMaxVectors::load(lanes);
    let mut i = 0;
    while i < whole {
        // A prefetch is only a hint (it never faults), and wrapping_add keeps the address
        // arithmetic defined past the end.
        _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(i + AHEAD) as *const i8);
        // SAFETY: i + 8 <= whole <= n.
        v.take(_mm256_loadu_pd(p.add(i)), _mm256_loadu_pd(p.add(i + 4)));
        i += 8;
    }
    v.store(lanes);
    lanes.update(&xs[whole..]);
}

/// [`min_max_avx2`] of float32 values then [`MinMaxLanes::finish`]: the min, the max and
/// whether every value is finite, as those give on the widened values, bit for bit. Each lane's
/// min, max and poison are kept in float32 (the comparisons of two float32 values are those of
/// their float64 widenings, and `x - x` is 0 or NaN alike). Where the values fill whole groups
/// of 8, the lanes are reduced in any order: a min or max other than zero has one encoding,
/// so only a zero (whose sign is the first zero lane's in `finish`) needs the lanes in order.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) unsafe fn min_max_f32_avx2(xs: &[f32]) -> (f64, f64, bool) {
    use std::arch::x86_64::*;
    let n = xs.len();
    let whole = n - n % 8;
    let p = xs.as_ptr();
    let mut lo = _mm256_set1_ps(f32::INFINITY);
    let mut hi = _mm256_set1_ps(f32::NEG_INFINITY);
    let mut poison = _mm256_setzero_ps();
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 8 <= whole <= n.
        let x = _mm256_loadu_ps(p.add(i));
        lo = _mm256_min_ps(x, lo);
        hi = _mm256_max_ps(x, hi);
        poison = _mm256_add_ps(poison, _mm256_sub_ps(x, x));
        i += 8;
    }
    if whole == n && n > 0 {
        // Any order: min and max of the eight lanes (no lane is NaN).
        let m = _mm_min_ps(_mm256_castps256_ps128(lo), _mm256_extractf128_ps::<1>(lo));
        let m = _mm_min_ps(m, _mm_movehl_ps(m, m));
        let min = _mm_cvtss_f32(_mm_min_ps(m, _mm_shuffle_ps::<1>(m, m)));
        let m = _mm_max_ps(_mm256_castps256_ps128(hi), _mm256_extractf128_ps::<1>(hi));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        let max = _mm_cvtss_f32(_mm_max_ps(m, _mm_shuffle_ps::<1>(m, m)));
        let finite =
            _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_NEQ_UQ>(poison, _mm256_setzero_ps())) == 0;
        if min != 0.0 && max != 0.0 {
            return (f64::from(min), f64::from(max), finite);
        }
    }
    let mut lanes = MinMaxLanes::new();
    // SAFETY: each array has 8 values; the stores write 4 at index 0 and 4 at index 4.
    let widen = |a: &mut [f64; 8], v: __m256| unsafe {
        _mm256_storeu_pd(a.as_mut_ptr(), _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        _mm256_storeu_pd(
            a.as_mut_ptr().add(4),
            _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)),
        );
    };
    widen(&mut lanes.lo, lo);
    widen(&mut lanes.hi, hi);
    widen(&mut lanes.poison, poison);
    let mut rest = [0.0f64; 8];
    for (r, &x) in rest.iter_mut().zip(&xs[whole..]) {
        *r = f64::from(x);
    }
    lanes.update(&rest[..n - whole]);
    lanes.finish()
}

/// [`error_leaf_avx2`] of float32 values (each widened to float64 as read), with `x * rcp`
/// (`rcp` is `1 / scale`) in place of the division `x / scale`, several times faster.
///
/// The product is within 2.0001 units in the last place of the quotient, so `v = x * rcp +
/// zero_point` is within `6u(|x / scale| + |zero_point|)` (u = 2^-53) of the division's `v`,
/// and both round to the same integer unless a half-integer lies between them. `limit` is
/// `0.5` less a bound of that distance (the caller's, over the whole unit): a lane whose
/// `|v - round(v)|` reaches it sets `near`, and the caller then measures the unit by division
/// instead. Where no lane does, every code, squared error, `|error|` and clipped flag is the
/// division's, so the sums are too. The values after the groups of 8 are measured by division.
/// `CLAMP` as in [`error_leaf_f32_avx512`].
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn error_leaf_f32_avx2<const STORE: bool, const CLAMP: bool>(
    k: &Kernel,
    rcp: f64,
    limit: f64,
    block: &[f32],
    codes: &mut [i32],
    acc: &mut ErrorLanes,
    near: &mut bool,
) -> f64 {
    use std::arch::x86_64::*;
    let n = block.len();
    if STORE && codes.len() < n {
        // No room for the codes (callers never do this): the caller measures it the other way.
        *near = true;
        return 0.0;
    }
    let whole = n - n % 8;
    let v = Vectors::new(k);
    let (rv, lim) = (_mm256_set1_pd(rcp), _mm256_set1_pd(limit));
    let p = block.as_ptr();
    let cp = codes.as_mut_ptr();
    let mut m0 = _mm256_loadu_pd(acc.max.as_ptr());
    let mut m1 = _mm256_loadu_pd(acc.max.as_ptr().add(4));
    let mut c0 = _mm256_loadu_si256(acc.clipped.as_ptr() as *const __m256i);
    let mut c1 = _mm256_loadu_si256(acc.clipped.as_ptr().add(4) as *const __m256i);
    let mut r0 = _mm256_setzero_pd();
    let mut r1 = _mm256_setzero_pd();
    let mut ties = _mm256_setzero_pd();
    let mut i = 0;
    while i < whole {
        // SAFETY (loads and stores): i + 8 <= whole <= n <= codes.len() when STORE.
        let x8 = _mm256_loadu_ps(p.add(i));
        let x0 = _mm256_cvtps_pd(_mm256_castps256_ps128(x8));
        let x1 = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(x8));
        let (q0, e0, a0, k0, t0) = v.error_by_reciprocal::<CLAMP>(x0, rv, lim);
        let (q1, e1, a1, k1, t1) = v.error_by_reciprocal::<CLAMP>(x1, rv, lim);
        if STORE {
            _mm_storeu_si128(cp.add(i) as *mut __m128i, v.to_i32(q0));
            _mm_storeu_si128(cp.add(i + 4) as *mut __m128i, v.to_i32(q1));
        }
        ties = _mm256_or_pd(ties, _mm256_or_pd(t0, t1));
        // +0.0 + e = e (e is never -0.0): the first add is numpy's first assignment.
        r0 = _mm256_add_pd(r0, e0);
        r1 = _mm256_add_pd(r1, e1);
        m0 = _mm256_max_pd(a0, m0);
        m1 = _mm256_max_pd(a1, m1);
        c0 = _mm256_sub_epi64(c0, k0);
        c1 = _mm256_sub_epi64(c1, k1);
        i += 8;
    }
    *near |= _mm256_movemask_pd(ties) != 0;
    _mm256_storeu_pd(acc.max.as_mut_ptr(), m0);
    _mm256_storeu_pd(acc.max.as_mut_ptr().add(4), m1);
    _mm256_storeu_si256(acc.clipped.as_mut_ptr() as *mut __m256i, c0);
    _mm256_storeu_si256(acc.clipped.as_mut_ptr().add(4) as *mut __m256i, c1);
    let mut r = [0.0f64; 8];
    _mm256_storeu_pd(r.as_mut_ptr(), r0);
    _mm256_storeu_pd(r.as_mut_ptr().add(4), r1);
    leaf_rest::<STORE>(k, &r, block, whole, codes, acc)
}

/// The end of a float32 leaf: numpy's eight accumulators `r` combined (none where the leaf is
/// shorter than 8), then the values after the groups of 8 one by one, by division.
#[inline(always)]
fn leaf_rest<const STORE: bool>(
    k: &Kernel,
    r: &[f64; 8],
    block: &[f32],
    whole: usize,
    codes: &mut [i32],
    acc: &mut ErrorLanes,
) -> f64 {
    let res = if whole == 0 {
        0.0
    } else {
        ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    };
    k.error_rest::<STORE, f32>(block, whole, codes, acc, res)
}

/// [`error_leaf_f32_avx2`] in AVX-512: numpy's eight accumulators are one vector of eight,
/// and `x * rcp + zero_point` one fused step, rounded once, whose distance from the division's
/// `v` is within the same bound (`4u|x / scale| + 2u|zero_point|`). Without `CLAMP` the codes
/// are not clamped nor counted as clipped: the caller passes it where no code of the unit can
/// leave the range (the codes rise with the values, so where neither the unit's min nor its
/// max is clipped).
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn error_leaf_f32_avx512<const STORE: bool, const CLAMP: bool>(
    k: &Kernel,
    rcp: f64,
    limit: f64,
    block: &[f32],
    codes: &mut [i32],
    acc: &mut ErrorLanes,
    near: &mut bool,
) -> f64 {
    use std::arch::x86_64::*;
    let n = block.len();
    if STORE && codes.len() < n {
        *near = true;
        return 0.0;
    }
    let whole = n - n % 8;
    let (rv, lim) = (_mm512_set1_pd(rcp), _mm512_set1_pd(limit));
    let (scale, zp) = (_mm512_set1_pd(k.scale), _mm512_set1_pd(k.zero_point));
    let (lo, hi) = (_mm512_set1_pd(k.lo), _mm512_set1_pd(k.hi));
    let p = block.as_ptr();
    let cp = codes.as_mut_ptr();
    let mut m = _mm512_loadu_pd(acc.max.as_ptr());
    let mut c = _mm512_loadu_si512(acc.clipped.as_ptr() as *const __m512i);
    let one = _mm512_set1_epi64(1);
    let mut r = _mm512_setzero_pd();
    // The largest `|v - round(v)|` seen: a lane near a half-integer shows in it.
    let mut off = _mm512_setzero_pd();
    let mut i = 0;
    while i < whole {
        let x = _mm512_cvtps_pd(_mm256_loadu_ps(p.add(i)));
        let v = _mm512_fmadd_pd(x, rv, zp);
        let rd = _mm512_roundscale_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v);
        off = _mm512_max_pd(_mm512_abs_pd(_mm512_sub_pd(v, rd)), off);
        let q = if CLAMP {
            let q = _mm512_min_pd(hi, _mm512_max_pd(lo, rd));
            c = _mm512_mask_add_epi64(c, _mm512_cmp_pd_mask::<_CMP_NEQ_OQ>(rd, q), c, one);
            q
        } else {
            rd
        };
        if STORE {
            _mm256_storeu_si256(cp.add(i) as *mut __m256i, _mm512_cvttpd_epi32(q));
        }
        let e = _mm512_sub_pd(x, _mm512_mul_pd(_mm512_sub_pd(q, zp), scale));
        r = _mm512_add_pd(r, _mm512_mul_pd(e, e));
        m = _mm512_max_pd(_mm512_abs_pd(e), m);
        i += 8;
    }
    *near |= _mm512_cmp_pd_mask::<_CMP_GE_OQ>(off, lim) != 0;
    _mm512_storeu_pd(acc.max.as_mut_ptr(), m);
    _mm512_storeu_si512(acc.clipped.as_mut_ptr() as *mut __m512i, c);
    let mut rr = [0.0f64; 8];
    _mm512_storeu_pd(rr.as_mut_ptr(), r);
    leaf_rest::<STORE>(k, &rr, block, whole, codes, acc)
}

/// [`MinMaxLanes`] in two AVX vectors of four lanes each (lanes 0-3 and 4-7): the AVX2 passes'
/// min, max and poison. `_mm256_min_pd(x, lo)` is `if x < lo { x } else { lo }` and
/// `_mm256_max_pd(x, hi)` is `if x > hi { x } else { hi }`, NaN and ties included, so every
/// lane is [`MinMaxLanes::update`]'s.
pub(crate) struct MinMaxVectors {
    lo: [std::arch::x86_64::__m256d; 2],
    hi: [std::arch::x86_64::__m256d; 2],
    poison: [std::arch::x86_64::__m256d; 2],
}

impl MinMaxVectors {
    /// The lanes as vectors.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn load(l: &MinMaxLanes) -> MinMaxVectors {
        use std::arch::x86_64::*;
        // SAFETY: each array has 8 values; the loads read 4 from index 0 and 4 from index 4.
        let two = |a: &[f64; 8]| unsafe {
            [
                _mm256_loadu_pd(a.as_ptr()),
                _mm256_loadu_pd(a.as_ptr().add(4)),
            ]
        };
        MinMaxVectors {
            lo: two(&l.lo),
            hi: two(&l.hi),
            poison: two(&l.poison),
        }
    }

    /// Takes in the next 8 values, lanes 0-3 then 4-7.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn take(&mut self, x0: std::arch::x86_64::__m256d, x1: std::arch::x86_64::__m256d) {
        use std::arch::x86_64::*;
        for (j, x) in [x0, x1].into_iter().enumerate() {
            self.lo[j] = _mm256_min_pd(x, self.lo[j]);
            self.hi[j] = _mm256_max_pd(x, self.hi[j]);
            self.poison[j] = _mm256_add_pd(self.poison[j], _mm256_sub_pd(x, x));
        }
    }

    /// Writes the vectors back to the lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn store(&self, l: &mut MinMaxLanes) {
        use std::arch::x86_64::*;
        // SAFETY: as in `load`, 4 values at index 0 and 4 at index 4 of arrays of 8.
        let two = |a: &mut [f64; 8], v: &[__m256d; 2]| unsafe {
            _mm256_storeu_pd(a.as_mut_ptr(), v[0]);
            _mm256_storeu_pd(a.as_mut_ptr().add(4), v[1]);
        };
        two(&mut l.lo, &self.lo);
        two(&mut l.hi, &self.hi);
        two(&mut l.poison, &self.poison);
    }
}

/// [`stats_leaf`] in AVX2 intrinsics: the eight lanes are two vectors of four, for the min,
/// the max and the poison ([`MinMaxVectors`]) and numpy's eight accumulators alike.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn stats_leaf_avx2(b: &[f64], lanes: &mut MinMaxLanes) -> f64 {
    use std::arch::x86_64::*;
    let n = b.len();
    if n < 8 {
        return stats_leaf(b, lanes);
    }
    let whole = n - n % 8;
    let p = b.as_ptr();
    let mut v = MinMaxVectors::load(lanes);
    let mut r0 = _mm256_setzero_pd();
    let mut r1 = _mm256_setzero_pd();
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 8 <= whole <= n.
        let x0 = _mm256_loadu_pd(p.add(i));
        let x1 = _mm256_loadu_pd(p.add(i + 4));
        v.take(x0, x1);
        // +0.0 + x² is x² (never -0.0): the first add is numpy's first assignment.
        r0 = _mm256_add_pd(r0, _mm256_mul_pd(x0, x0));
        r1 = _mm256_add_pd(r1, _mm256_mul_pd(x1, x1));
        i += 8;
    }
    v.store(lanes);
    let mut r = [0.0f64; 8];
    _mm256_storeu_pd(r.as_mut_ptr(), r0);
    _mm256_storeu_pd(r.as_mut_ptr().add(4), r1);
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    let rest = &b[whole..];
    lanes.update(rest);
    for &x in rest {
        res += x * x;
    }
    res
}

/// [`Filtered::take`] compiled for AVX2 (the same operations, four values per instruction).
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn filter_take_avx2(f: &mut Filtered, xs: &[f64], windows: [(f64, f64); 2]) {
    f.take(xs, windows)
}

/// [`leaf_sum`] compiled for AVX2.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn leaf_sum_avx2(xs: &[f64], f: &mut impl FnMut(f64) -> f64) -> f64 {
    leaf_sum(xs, f)
}

/// What [`asymmetric_raw_batch_avx512`] finds for each of eight units, lane by lane: the
/// scale and zero point, `1 / scale`, the leaves' limit `0.5 - bound`, whether a code can be
/// clipped (bit `k` of `clamp`), and which lanes it found them for (bit `k` of `found`).
pub(crate) struct Batch {
    pub(crate) scale: [f64; 8],
    pub(crate) zero_point: [f64; 8],
    pub(crate) rcp: [f64; 8],
    pub(crate) limit: [f64; 8],
    pub(crate) clamp: u8,
    pub(crate) found: u8,
}

/// Eight units' asymmetric min-max parameters under the notebook's zero point, with what
/// their float32 leaves take, from each unit's `(min, max, finite)`: the scalar steps of
/// [`crate::quant::params::QuantParams::asymmetric`] and of the float32 pass's checks, each
/// the same IEEE operation on eight lanes at once (five divisions a unit were the longest
/// chain of a unit's work). A lane is found only where every scalar check would pass (finite
/// values, `max > min`, a normal scale and reciprocal, finite levels, a bound below 0.25);
/// the others are left to the scalar steps, which say what is wrong or take the float64 way.
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn asymmetric_raw_batch_avx512(
    units: &[(f64, f64, bool); 8],
    (qmin, qmax): (i32, i32),
    slack: f64,
) -> Batch {
    use std::arch::x86_64::*;
    let min = _mm512_loadu_pd(units.map(|u| u.0).as_ptr());
    let max = _mm512_loadu_pd(units.map(|u| u.1).as_ptr());
    let finite = units
        .iter()
        .enumerate()
        .fold(0u8, |m, (k, u)| m | (u8::from(u.2) << k));
    let (lo, hi) = (qmin as f64, qmax as f64);
    let (vlo, vhi) = (_mm512_set1_pd(lo), _mm512_set1_pd(hi));
    let (lo1, hi1) = (_mm512_set1_pd(lo - 1.0), _mm512_set1_pd(hi + 1.0));
    let big = _mm512_set1_pd(f64::MAX);
    let tiny = _mm512_set1_pd(f64::MIN_POSITIVE);
    let magic = _mm512_set1_pd(super::ROUND_MAGIC);
    let width = _mm512_sub_pd(max, min);
    let scale = _mm512_div_pd(width, _mm512_set1_pd((qmax - qmin) as f64));
    let lo_q = _mm512_div_pd(min, scale);
    let rounded = _mm512_roundscale_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(lo_q);
    // `-x`: the sign bit flipped, as the scalar negation does (0 becomes -0).
    let zp = _mm512_castsi512_pd(_mm512_xor_si512(
        _mm512_castpd_si512(rounded),
        _mm512_set1_epi64(i64::MIN),
    ));
    let level_lo = _mm512_mul_pd(_mm512_sub_pd(vlo, zp), scale);
    let level_hi = _mm512_mul_pd(_mm512_sub_pd(vhi, zp), scale);
    let rcp = _mm512_div_pd(_mm512_set1_pd(1.0), scale);
    let absmax = _mm512_max_pd(_mm512_abs_pd(min), _mm512_abs_pd(max));
    let bound = _mm512_mul_pd(
        _mm512_set1_pd(slack),
        _mm512_add_pd(
            _mm512_add_pd(_mm512_mul_pd(absmax, rcp), _mm512_abs_pd(zp)),
            _mm512_set1_pd(1.0),
        ),
    );
    let limit = _mm512_sub_pd(_mm512_set1_pd(0.5), bound);
    // `Kernel::code` of the min (whose quotient is the zero point's) and of the max.
    let clipped = |quotient: __m512d| {
        let v = _mm512_add_pd(quotient, zp);
        let v = _mm512_mask_blend_pd(_mm512_cmp_pd_mask::<_CMP_LT_OQ>(v, lo1), v, lo1);
        let v = _mm512_mask_blend_pd(_mm512_cmp_pd_mask::<_CMP_GT_OQ>(v, hi1), v, hi1);
        let r = _mm512_sub_pd(_mm512_add_pd(v, magic), magic);
        _mm512_cmp_pd_mask::<_CMP_LT_OQ>(r, vlo) | _mm512_cmp_pd_mask::<_CMP_GT_OQ>(r, vhi)
    };
    let clamp = clipped(lo_q) | clipped(_mm512_div_pd(max, scale));
    // Each a comparison that is false for NaN.
    let normal = |x: __m512d| {
        _mm512_cmp_pd_mask::<_CMP_GE_OQ>(x, tiny) & _mm512_cmp_pd_mask::<_CMP_LE_OQ>(x, big)
    };
    let is_finite = |x: __m512d| _mm512_cmp_pd_mask::<_CMP_LE_OQ>(_mm512_abs_pd(x), big);
    let found = finite
        & _mm512_cmp_pd_mask::<_CMP_GT_OQ>(max, min)
        & is_finite(width)
        & normal(scale)
        & is_finite(level_lo)
        & is_finite(level_hi)
        & normal(rcp)
        & _mm512_cmp_pd_mask::<_CMP_LT_OQ>(bound, _mm512_set1_pd(0.25));
    let store = |v: __m512d| {
        let mut out = [0.0; 8];
        _mm512_storeu_pd(out.as_mut_ptr(), v);
        out
    };
    Batch {
        scale: store(scale),
        zero_point: store(zp),
        rcp: store(rcp),
        limit: store(limit),
        clamp,
        found,
    }
}
