//! The leaf loops of the per-unit passes in wasm simd128, two values per instruction (`f64x2`):
//! the same IEEE operations lane by lane as the portable [`Kernel::error_leaf`] and
//! [`MinMaxLanes::update`], so the same bits (but for the sign of a NaN sum, which finite data,
//! all the passes take, never makes). LLVM does not turn those loops' compare-and-select
//! on `f64` into wasm vector code, and a granularity of small groups runs them once per group,
//! so the page spends most of a Granularity change in them without this.
//!
//! The selects map onto `pmin`/`pmax`, which are defined as selects: `f64x2_pmin(a, b)` is
//! `if b < a { b } else { a }` and `f64x2_pmax(a, b)` is `if a < b { b } else { a }`, lane by
//! lane, NaN and signed zeros included.

use super::{ErrorLanes, Kernel};
use crate::quant::calibrate::stats::MinMaxLanes;
use core::arch::wasm32::*;

/// [`Kernel::error_leaf`] in simd128: the 8 accumulators are four `f64x2` (lane `j` of the leaf's
/// groups of 8 in vector `j / 2`), summed at the end in the scalar's order; the max and the
/// clipped count do not depend on order, so one vector each holds them. With `STORE` the codes
/// go into `codes` (as long as `block`).
#[inline(always)]
pub(crate) fn error_leaf_simd<const STORE: bool>(
    k: &Kernel,
    block: &[f64],
    codes: &mut [i32],
    acc: &mut ErrorLanes,
) -> f64 {
    let n = block.len();
    if n < 8 || (STORE && codes.len() < n) {
        return k.error_leaf::<STORE>(block, codes, acc);
    }
    let whole = n - n % 8;
    let scale = f64x2_splat(k.scale);
    let zp = f64x2_splat(k.zero_point);
    let (lo, hi) = (f64x2_splat(k.lo), f64x2_splat(k.hi));
    let mut r = [f64x2_splat(0.0); 4];
    let mut max = f64x2_splat(0.0);
    let mut clipped = i64x2_splat(0);
    let mut i = 0;
    while i < whole {
        for (j, r) in r.iter_mut().enumerate() {
            // SAFETY: i + 2j + 2 <= whole <= n = block.len(); v128_load reads 16 unaligned
            // bytes.
            let x = unsafe { v128_load(block.as_ptr().add(i + 2 * j) as *const v128) };
            // `nearest` rounds any float, so the scalar's limit to [lo - 1, hi + 1] (there for
            // its add-and-subtract rounding) is left out: the same code and clip test.
            let v = f64x2_nearest(f64x2_add(f64x2_div(x, scale), zp));
            let q = f64x2_pmin(f64x2_pmax(v, lo), hi);
            // Clipped where the clamp moved the code, and not NaN (as `r < lo || r > hi`).
            clipped = i64x2_sub(clipped, v128_and(f64x2_ne(v, q), f64x2_eq(v, v)));
            let e = f64x2_sub(x, f64x2_mul(f64x2_sub(q, zp), scale));
            // +0.0 + e² = e² (a square is never -0.0): numpy's first terms.
            *r = f64x2_add(*r, f64x2_mul(e, e));
            max = f64x2_pmax(max, f64x2_abs(e));
            if STORE {
                // `q as i32` (saturating, NaN to 0) in the two low lanes.
                let c = i64x2_extract_lane::<0>(i32x4_trunc_sat_f64x2_zero(q));
                // SAFETY: i + 2j + 2 <= n <= codes.len(): the two codes' 8 bytes, unaligned.
                unsafe { (codes.as_mut_ptr().add(i + 2 * j) as *mut i64).write_unaligned(c) };
            }
        }
        i += 8;
    }
    for (l, m) in [f64x2_extract_lane::<0>(max), f64x2_extract_lane::<1>(max)]
        .into_iter()
        .enumerate()
    {
        acc.max[l] = if m > acc.max[l] { m } else { acc.max[l] };
    }
    acc.clipped[0] += i64x2_extract_lane::<0>(clipped) as u64;
    acc.clipped[1] += i64x2_extract_lane::<1>(clipped) as u64;
    let s = |j: usize| (f64x2_extract_lane::<0>(r[j]), f64x2_extract_lane::<1>(r[j]));
    let ((r0, r1), (r2, r3), (r4, r5), (r6, r7)) = (s(0), s(1), s(2), s(3));
    let res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    k.error_rest::<STORE, f64>(block, whole, codes, acc, res)
}

/// [`MinMaxLanes::update`] in simd128: lane `j` in vector `j / 2`, each taking its values in
/// order (`pmin(lo, x)` is `if x < lo { x } else { lo }`, `pmax(hi, x)` is `if x > hi { x }
/// else { hi }`).
#[inline(always)]
// `x - x` is deliberate: 0 for a finite x, NaN for NaN and ±inf.
#[allow(clippy::eq_op)]
pub(crate) fn min_max_update_simd(lanes: &mut MinMaxLanes, xs: &[f64]) {
    let whole = xs.len() - xs.len() % 8;
    let load = |a: &[f64; 8], j: usize| f64x2(a[2 * j], a[2 * j + 1]);
    let mut lo = [0, 1, 2, 3].map(|j| load(&lanes.lo, j));
    let mut hi = [0, 1, 2, 3].map(|j| load(&lanes.hi, j));
    let mut poison = [0, 1, 2, 3].map(|j| load(&lanes.poison, j));
    let mut i = 0;
    while i < whole {
        for j in 0..4 {
            // SAFETY: i + 2j + 2 <= whole <= xs.len(); 16 unaligned bytes read.
            let x = unsafe { v128_load(xs.as_ptr().add(i + 2 * j) as *const v128) };
            lo[j] = f64x2_pmin(lo[j], x);
            hi[j] = f64x2_pmax(hi[j], x);
            poison[j] = f64x2_add(poison[j], f64x2_sub(x, x));
        }
        i += 8;
    }
    for j in 0..4 {
        lanes.lo[2 * j] = f64x2_extract_lane::<0>(lo[j]);
        lanes.lo[2 * j + 1] = f64x2_extract_lane::<1>(lo[j]);
        lanes.hi[2 * j] = f64x2_extract_lane::<0>(hi[j]);
        lanes.hi[2 * j + 1] = f64x2_extract_lane::<1>(hi[j]);
        lanes.poison[2 * j] = f64x2_extract_lane::<0>(poison[j]);
        lanes.poison[2 * j + 1] = f64x2_extract_lane::<1>(poison[j]);
    }
    for (j, &x) in xs[whole..].iter().enumerate() {
        lanes.lo[j] = if x < lanes.lo[j] { x } else { lanes.lo[j] };
        lanes.hi[j] = if x > lanes.hi[j] { x } else { lanes.hi[j] };
        lanes.poison[j] += x - x;
    }
}
