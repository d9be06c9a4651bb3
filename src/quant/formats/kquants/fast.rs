//! The K-quants as [`super::KQuant::quantize`] runs them: the same float32 operations, in the
//! same order for every sub-block, as ggml's reference (and [`super::reference`]), restructured
//! for speed.
//!
//! - The searches (`make_qkx2_quants`, `make_q3_quants`, `make_qx_quants`) run sixteen
//!   sub-blocks side by side (those of one super-block for Q2_K, Q3_K and Q6_K, of two for
//!   Q4_K and Q5_K): the values are transposed so that `x[i][k]` is value `i` of sub-block `k`,
//!   and every loop is `for i { for k { ... } }`. Lane `k` accumulates its sums in ggml's
//!   order, so its results are ggml's bit for bit; the lanes are independent, so the inner
//!   loop vectorizes and the long dependency chains of the sums overlap.
//! - Branches become selects: a lane computes every step and keeps its result only where ggml
//!   would have taken the branch (a lane whose sub-block ggml returns early from is computed
//!   on harmless stand-in numbers and its results, breaks included, are dropped). Codes are
//!   blended arithmetically ([`blend`]) rather than selected in memory.
//! - `nearest_int(v)` clamped to `[lo, hi]` is computed as `(clamp(v, lo, hi) + 1.5·2^23) -
//!   1.5·2^23`: for `|v| <= 2^22` rounding to the nearest even integer and clamping to integer
//!   bounds commute, and the sum rounds exactly as ggml's does. A value beyond 2^22 (or NaN),
//!   where ggml asserts, is noted separately.
//! - On x86-64 the kernels are also compiled for AVX2 and chosen at run time; elsewhere (and
//!   on wasm32, with its 128-bit SIMD) the portable compilation runs. Both are the same IEEE
//!   operations lane by lane, so the same bits.
//! - Natively, super-blocks are shared among threads ([`crate::par::threads`]); each thread
//!   keeps its scratch arrays, so no block allocates except for its [`BlockScale`].

// Lane loops index several arrays (values, weights, sums) with the one lane counter.
#![allow(clippy::needless_range_loop)]

use super::reference::{get_scale_min_k4, q3_k_scales};
use super::{check_block, fp16, fp32, BlockScale, KQuant, Quantized, QK_K};
use crate::error::{Error, Result};

/// `GROUP_MAX_EPS`.
const GROUP_MAX_EPS: f32 = 1e-15;
/// `1.5 * 2^23`: adding it rounds a float32 of magnitude below 2^22 to an integer.
const MAGIC: f32 = 12582912.0;
/// The largest magnitude `nearest_int` accepts.
const LIMIT: f32 = 4194303.0;
/// Fewest super-blocks a thread takes: fewer would cost more to start than they save.
#[cfg(not(target_arch = "wasm32"))]
const MIN_BLOCKS_PER_THREAD: usize = 64;

/// `a < b ? a : b` (one `minps`; NaN only where ggml's own arithmetic already broke).
#[inline(always)]
fn fmin(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// `a > b ? a : b`.
#[inline(always)]
fn fmax(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// `MAX(lo, MIN(hi, nearest_int(v)))` as a float32, for `|v| <= 2^22` (see the module doc).
#[inline(always)]
fn round_clamp(v: f32, lo: f32, hi: f32) -> f32 {
    (fmin(fmax(v, lo), hi) + MAGIC) - MAGIC
}

/// [`round_clamp`] with `lo = 0`. On wasm32 the rounding is one `f32x4.nearest` (ties to even,
/// as the sum with [`MAGIC`] rounds), where the sum and difference are two instructions; the
/// clamped value is `+0` or more, so the two give the same zero too.
#[inline(always)]
fn round_clamp0(v: f32, hi: f32) -> f32 {
    #[cfg(target_arch = "wasm32")]
    return fmin(fmax(v, 0.0), hi).round_ties_even();
    #[cfg(not(target_arch = "wasm32"))]
    return round_clamp(v, 0.0, hi);
}

/// [`round_clamp`] where the sign of a zero code does not matter: it is only multiplied into
/// sums that start at `+0` (to which `±0` adds nothing) and offset by a positive number. On
/// wasm32, one `f32x4.nearest`, which gives `-0` where the sum with [`MAGIC`] gives `+0`.
#[inline(always)]
fn round_clamp_signed(v: f32, lo: f32, hi: f32) -> f32 {
    #[cfg(target_arch = "wasm32")]
    return fmin(fmax(v, lo), hi).round_ties_even();
    #[cfg(not(target_arch = "wasm32"))]
    return round_clamp(v, lo, hi);
}

/// 1 where ggml's `nearest_int(v)` would assert (`|v|` beyond 2^22, or NaN), else 0.
// The negated test is ggml's assert as written: it also fails for NaN.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
#[inline(always)]
fn breaks(v: f32) -> u32 {
    u32::from(!(v.abs() <= LIMIT))
}

/// `if t == 1 { a } else { b }` for codes (small integers, so `b + t * (a - b)` is exact), with
/// `t` 0 or 1. Written as arithmetic because a select stored back where `b` was read becomes
/// a masked store (AVX), slow on some CPUs and never forwarded to the next read.
#[inline(always)]
fn blend(t: f32, a: f32, b: f32) -> f32 {
    b + t * (a - b)
}

/// ggml's `nearest_int` for the few scalar calls per super-block, noting an assert in `bad`.
#[inline]
fn nearest_int(fval: f32, bad: &mut bool) -> i32 {
    *bad |= breaks(fval) != 0;
    let i = (fval + MAGIC).to_bits() as i32;
    (i & 0x007fffff) - 0x00400000
}

/// `make_qkx2_quants` on `LANES` sub-blocks of `N` values at once (`x[i][k]`: value `i` of
/// sub-block `k`; `w` likewise). Writes the codes to `codes` and returns each sub-block's
/// scale and `the_min`, and whether each lane's `nearest_int` would have asserted.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn qkx2_lanes<const LANES: usize, const N: usize>(
    x: &[[f32; LANES]; N],
    w: &[[f32; LANES]; N],
    nmax: f32,
    rmin: f32,
    rdelta: f32,
    nstep: i32,
    use_mad: bool,
    codes: &mut [[f32; LANES]; N],
    aux: &mut [[f32; LANES]; N],
) -> ([f32; LANES], [f32; LANES], [bool; LANES]) {
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = w[0];
    let mut sum_x = [0.0f32; LANES];
    for k in 0..LANES {
        sum_x[k] = sum_w[k] * x[0][k];
    }
    for i in 1..N {
        for k in 0..LANES {
            let xi = x[i][k];
            if xi < min[k] {
                min[k] = xi;
            }
            if xi > max[k] {
                max[k] = xi;
            }
            let wi = w[i][k];
            sum_w[k] += wi;
            sum_x[k] += wi * xi;
        }
    }
    // Each lane's smallest value, before `min` is limited to at most 0.
    let lowest = min;
    // A lane whose `max == min` returns early in ggml (codes 0, scale 0, `the_min = -min`); it
    // is computed below with a range of 1 and its results dropped.
    let mut active = [false; LANES];
    for k in 0..LANES {
        if min[k] > 0.0 {
            min[k] = 0.0;
        }
        active[k] = max[k] != min[k];
    }
    let min0 = min;
    let range = |min: &[f32; LANES], k: usize| {
        if active[k] {
            max[k] - min[k]
        } else {
            1.0
        }
    };

    let mut bad = [0u32; LANES];
    let mut iscale = [0.0f32; LANES];
    let mut scale = [0.0f32; LANES];
    for k in 0..LANES {
        iscale[k] = nmax / range(&min, k);
        scale[k] = 1.0 / iscale[k];
    }
    let mut best_error = [0.0f32; LANES];
    for i in 0..N {
        for k in 0..LANES {
            let xi = x[i][k];
            let v = iscale[k] * (xi - min[k]);
            bad[k] |= breaks(v);
            let l = round_clamp0(v, nmax);
            codes[i][k] = l;
            let diff = scale[k] * l + min[k] - xi;
            let diff = if use_mad { diff.abs() } else { diff * diff };
            best_error[k] += w[i][k] * diff;
        }
    }
    // Where each lane's best candidate came from: its `iscale` and the `min` its codes were
    // made from, and whether any candidate beat the first codes.
    let mut best_iscale = [0.0f32; LANES];
    let mut best_from = [0.0f32; LANES];
    let mut took = [false; LANES];
    for is in 0..=nstep {
        let top = rmin + rdelta * is as f32 + nmax;
        for k in 0..LANES {
            iscale[k] = top / range(&min, k);
            // ggml asserts on every value's `v` below; `fl(x - min)` and then `fl(iscale · d)`
            // are monotone in x, so the largest |v| is at the lane's smallest or largest value
            // (and a NaN `iscale`, or an infinite one, shows at its largest): testing those
            // two tests them all.
            bad[k] |=
                breaks(iscale[k] * (lowest[k] - min[k])) | breaks(iscale[k] * (max[k] - min[k]));
        }
        let mut sum_l = [0.0f32; LANES];
        let mut sum_l2 = [0.0f32; LANES];
        let mut sum_xl = [0.0f32; LANES];
        for i in 0..N {
            for k in 0..LANES {
                let xi = x[i][k];
                let v = iscale[k] * (xi - min[k]);
                let l = round_clamp0(v, nmax);
                aux[i][k] = l;
                let wl = w[i][k] * l;
                sum_l[k] += wl;
                sum_l2[k] += wl * l;
                sum_xl[k] += wl * xi;
            }
        }
        let mut this_scale = [0.0f32; LANES];
        let mut this_min = [0.0f32; LANES];
        let mut positive = [false; LANES];
        for k in 0..LANES {
            let d = sum_w[k] * sum_l2[k] - sum_l[k] * sum_l[k];
            positive[k] = d > 0.0;
            let mut s = (sum_w[k] * sum_xl[k] - sum_x[k] * sum_l[k]) / d;
            let mut m = (sum_l2[k] * sum_x[k] - sum_l[k] * sum_xl[k]) / d;
            if m > 0.0 {
                m = 0.0;
                s = sum_xl[k] / sum_l2[k];
            }
            this_scale[k] = s;
            this_min[k] = m;
        }
        if !positive.iter().any(|&p| p) {
            continue;
        }
        let mut cur_error = [0.0f32; LANES];
        for i in 0..N {
            for k in 0..LANES {
                let diff = this_scale[k] * aux[i][k] + this_min[k] - x[i][k];
                let diff = if use_mad { diff.abs() } else { diff * diff };
                cur_error[k] += w[i][k] * diff;
            }
        }
        for k in 0..LANES {
            if active[k] && positive[k] && cur_error[k] < best_error[k] {
                best_error[k] = cur_error[k];
                scale[k] = this_scale[k];
                // The codes of this candidate are made again after the search from what
                // made them here, rather than copied on every improvement.
                best_iscale[k] = iscale[k];
                best_from[k] = min[k];
                took[k] = true;
                min[k] = this_min[k];
            }
        }
    }
    if took.iter().any(|&t| t) {
        // The best candidate's codes, the same operations on the same numbers as in its `aux`.
        let t = took.map(|t| f32::from(u8::from(t)));
        for (cr, xr) in codes.iter_mut().zip(x.iter()) {
            for k in 0..LANES {
                let l = round_clamp0(best_iscale[k] * (xr[k] - best_from[k]), nmax);
                cr[k] = blend(t[k], l, cr[k]);
            }
        }
    }
    let mut the_min = [0.0f32; LANES];
    let mut broke = [false; LANES];
    for k in 0..LANES {
        if active[k] {
            the_min[k] = -min[k];
            broke[k] = bad[k] != 0;
        } else {
            the_min[k] = -min0[k];
            scale[k] = 0.0;
        }
    }
    // Codes are 0 or more, so multiplying by 0 gives +0 (and no per-lane branch).
    let keep = active.map(|a| f32::from(u8::from(a)));
    for row in codes.iter_mut() {
        for k in 0..LANES {
            row[k] *= keep[k];
        }
    }
    (scale, the_min, broke)
}

/// The largest magnitude of each lane and the value that has it (the first, sign kept), and
/// whether ggml would treat the lane as all zero (`amax < GROUP_MAX_EPS`).
#[inline(always)]
fn lane_max<const LANES: usize, const N: usize>(
    x: &[[f32; LANES]; N],
) -> ([f32; LANES], [bool; LANES]) {
    let mut max = [0.0f32; LANES];
    let mut amax = [0.0f32; LANES];
    for row in x {
        for k in 0..LANES {
            let ax = row[k].abs();
            if ax > amax[k] {
                amax[k] = ax;
                max[k] = row[k];
            }
        }
    }
    let mut active = [false; LANES];
    for k in 0..LANES {
        // `!(amax < GROUP_MAX_EPS)` in ggml; `amax` is never NaN (the values are finite).
        active[k] = amax[k] >= GROUP_MAX_EPS;
        // An all-zero lane returns early in ggml; 1 stands in so that it computes harmlessly.
        if !active[k] {
            max[k] = 1.0;
        }
    }
    (max, active)
}

/// `make_q3_quants(16, 4, x, L, true)` on 16 sub-blocks at once; codes `0..=7` (0 for an
/// all-zero sub-block, as ggml leaves it).
#[inline(always)]
fn q3_lanes(x: &[[f32; 16]; 16], codes: &mut [[f32; 16]; 16]) -> ([f32; 16], bool) {
    const NMAX: f32 = 4.0;
    let (max, active) = lane_max(x);
    let mut iscale = [0.0f32; 16];
    for k in 0..16 {
        iscale[k] = -NMAX / max[k];
    }
    let mut bad = [0u32; 16];
    let mut sumlx = [0.0f32; 16];
    let mut suml2 = [0.0f32; 16];
    for i in 0..16 {
        for k in 0..16 {
            let xi = x[i][k];
            let v = iscale[k] * xi;
            bad[k] |= breaks(v);
            let l = round_clamp(v, -NMAX, NMAX - 1.0);
            codes[i][k] = l;
            let w = xi * xi;
            sumlx[k] += w * xi * l;
            suml2[k] += w * l * l;
        }
    }
    // ggml's lane stops after an iteration that changed nothing; its state is then unchanged,
    // so a further iteration (run here while other lanes go on) changes nothing either.
    for _itry in 0..5 {
        let mut changed = [false; 16];
        // The running sums stay in locals (registers), and the codes are blended (see
        // [`blend`]).
        let (mut sx, mut s2) = (sumlx, suml2);
        for (xr, cr) in x.iter().zip(codes.iter_mut()) {
            let mut row = *cr;
            for k in 0..16 {
                let xi = xr[k];
                let w = xi * xi;
                let li = row[k];
                let slx = sx[k] - w * xi * li;
                let sl2 = s2[k] - w * li * li;
                let open = slx > 0.0;
                let v = xi * sl2 / slx;
                bad[k] |= u32::from(open) & breaks(v);
                let new_l = round_clamp(v, -NMAX, NMAX - 1.0);
                let slx_new = slx + w * xi * new_l;
                let sl2_new = sl2 + w * new_l * new_l;
                // Every condition evaluated (no short cut), so that the lanes stay in step.
                let take = open
                    & (new_l != li)
                    & (sl2_new > 0.0)
                    & (slx_new * slx_new * s2[k] > sx[k] * sx[k] * sl2_new);
                row[k] = blend(f32::from(u8::from(take)), new_l, li);
                sx[k] = if take { slx_new } else { sx[k] };
                s2[k] = if take { sl2_new } else { s2[k] };
                changed[k] |= take;
            }
            *cr = row;
        }
        sumlx = sx;
        suml2 = s2;
        if !changed.iter().any(|&c| c) {
            break;
        }
    }
    let mut scale = [0.0f32; 16];
    let mut broke = false;
    for k in 0..16 {
        if active[k] {
            scale[k] = if suml2[k] > 0.0 {
                sumlx[k] / suml2[k]
            } else {
                0.0
            };
            broke |= bad[k] != 0;
        }
    }
    let keep = active.map(|a| f32::from(u8::from(a)));
    for row in codes.iter_mut() {
        for k in 0..16 {
            row[k] = (row[k] + NMAX) * keep[k];
        }
    }
    (scale, broke)
}

/// `make_qx_quants(16, 32, x, L, 1, NULL)` on 16 sub-blocks at once; codes `0..=63`.
#[inline(always)]
fn qx_lanes(
    x: &[[f32; 16]; 16],
    codes: &mut [[f32; 16]; 16],
    aux: &mut [[f32; 16]; 16],
) -> ([f32; 16], bool) {
    const NMAX: f32 = 32.0;
    let (max, active) = lane_max(x);
    let mut bad = [0u32; 16];
    let mut iscale = [0.0f32; 16];
    for k in 0..16 {
        iscale[k] = -NMAX / max[k];
    }
    let mut sumlx = [0.0f32; 16];
    let mut suml2 = [0.0f32; 16];
    for i in 0..16 {
        for k in 0..16 {
            let xi = x[i][k];
            let v = iscale[k] * xi;
            bad[k] |= breaks(v);
            let l = round_clamp(v, -NMAX, NMAX - 1.0);
            codes[i][k] = l + NMAX;
            let w = xi * xi;
            sumlx[k] += w * xi * l;
            suml2[k] += w * l * l;
        }
    }
    let mut scale = [0.0f32; 16];
    let mut best = [0.0f32; 16];
    for k in 0..16 {
        scale[k] = if suml2[k] != 0.0 {
            sumlx[k] / suml2[k]
        } else {
            0.0
        };
        best[k] = scale[k] * sumlx[k];
    }
    for is in -9i32..=9 {
        if is == 0 {
            continue;
        }
        let top = -(NMAX + 0.1f32 * is as f32);
        for k in 0..16 {
            iscale[k] = top / max[k];
            // `fl(iscale · x)` is monotone in |x|: the lane's largest magnitude stands for
            // every value (an infinite `iscale` breaks there as at a zero's NaN).
            bad[k] |= breaks(iscale[k] * max[k]);
        }
        let mut sumlx = [0.0f32; 16];
        let mut suml2 = [0.0f32; 16];
        for i in 0..16 {
            for k in 0..16 {
                let xi = x[i][k];
                let v = iscale[k] * xi;
                let l = round_clamp_signed(v, -NMAX, NMAX - 1.0);
                aux[i][k] = l;
                let w = xi * xi;
                sumlx[k] += w * xi * l;
                suml2[k] += w * l * l;
            }
        }
        let mut take = [false; 16];
        for k in 0..16 {
            take[k] = suml2[k] > 0.0 && sumlx[k] * sumlx[k] > best[k] * suml2[k];
            if take[k] {
                scale[k] = sumlx[k] / suml2[k];
                best[k] = scale[k] * sumlx[k];
            }
        }
        if take.iter().any(|&t| t) {
            let t = take.map(|t| f32::from(u8::from(t)));
            for (cr, ar) in codes.iter_mut().zip(aux.iter()) {
                for k in 0..16 {
                    cr[k] = blend(t[k], ar[k] + NMAX, cr[k]);
                }
            }
        }
    }
    let mut broke = false;
    for k in 0..16 {
        if active[k] {
            broke |= bad[k] != 0;
        } else {
            scale[k] = 0.0;
        }
    }
    let keep = active.map(|a| f32::from(u8::from(a)));
    for row in codes.iter_mut() {
        for k in 0..16 {
            row[k] *= keep[k];
        }
    }
    (scale, broke)
}

/// Per-thread scratch: the transposed values and weights, the codes in both layouts.
struct Scratch {
    /// Q2_K, Q3_K, Q6_K: 16 sub-blocks of 16 (`[i][k]`: value `i` of sub-block `k`).
    xt: [[f32; 16]; 16],
    wt: [[f32; 16]; 16],
    ct: [[f32; 16]; 16],
    at: [[f32; 16]; 16],
    /// Q4_K, Q5_K: the 8 sub-blocks of 32 of two super-blocks side by side.
    xt32: [[f32; 16]; 32],
    wt32: [[f32; 16]; 32],
    ct32: [[f32; 16]; 32],
    at32: [[f32; 16]; 32],
    /// The codes of (up to two) blocks in value order.
    l: [[f32; QK_K]; 2],
    /// Codes as bytes, for the packing.
    q: [u8; QK_K],
}

impl Scratch {
    fn new() -> Box<Scratch> {
        Box::new(Scratch {
            xt: [[0.0; 16]; 16],
            wt: [[0.0; 16]; 16],
            ct: [[0.0; 16]; 16],
            at: [[0.0; 16]; 16],
            xt32: [[0.0; 16]; 32],
            wt32: [[0.0; 16]; 32],
            ct32: [[0.0; 16]; 32],
            at32: [[0.0; 16]; 32],
            l: [[0.0; QK_K]; 2],
            q: [0; QK_K],
        })
    }
}

/// What a block's quantization says besides its bytes and codes (see [`check_block`]).
#[derive(Default)]
struct Outcome {
    broke: bool,
    d_in: f32,
    dmin_in: f32,
}

/// The codes as bytes (they are integers from 0 to 63).
#[inline(always)]
fn to_bytes(l: &[f32; QK_K], q: &mut [u8; QK_K]) {
    // Adding 2^23 puts a whole number below 256 in the low byte of the float's bits, a
    // conversion that vectorizes (`as u8` saturates and does not).
    for (b, &v) in q.iter_mut().zip(l.iter()) {
        *b = (v + 8388608.0).to_bits() as u8;
    }
}

/// Q2_K's and Q3_K's `qs`: four 2-bit codes a byte, values `l`, `l + 32`, `l + 64`, `l + 96`
/// of each half of the block (for Q3_K the low two bits of each 3-bit code).
#[inline(always)]
fn pack_2bit(q: &[u8; QK_K], qs: &mut [u8]) {
    for t in 0..2 {
        for l in 0..32 {
            let c = |o: usize| q[128 * t + l + o] & 3;
            qs[32 * t + l] = c(0) | c(32) << 2 | c(64) << 4 | c(96) << 6;
        }
    }
}

/// Sixteen sub-blocks of 16, transposed: `xt[i][k] = x[16k + i]`.
#[inline(always)]
fn transpose16(x: &[f32; QK_K], xt: &mut [[f32; 16]; 16]) {
    for (k, sub) in x.chunks_exact(16).enumerate() {
        for (i, &v) in sub.iter().enumerate() {
            xt[i][k] = v;
        }
    }
}

/// Codes back from the transposed layout to value order.
#[inline(always)]
fn untranspose16(ct: &[[f32; 16]; 16], l: &mut [f32; QK_K]) {
    for (k, sub) in l.chunks_exact_mut(16).enumerate() {
        for (i, v) in sub.iter_mut().enumerate() {
            *v = ct[i][k];
        }
    }
}

/// `quantize_row_q2_K_ref` on one super-block.
#[inline(always)]
fn block_q2_k(x: &[f32; QK_K], s: &mut Scratch, y: &mut [u8]) -> Outcome {
    transpose16(x, &mut s.xt);
    for i in 0..16 {
        for k in 0..16 {
            s.wt[i][k] = s.xt[i][k].abs();
        }
    }
    let (scales, mins, lane_broke) =
        qkx2_lanes(&s.xt, &s.wt, 3.0, -0.5, 0.1, 15, true, &mut s.ct, &mut s.at);
    let mut broke = lane_broke.iter().any(|&b| b);
    untranspose16(&s.ct, &mut s.l[0]);
    broke |= scales.iter().chain(&mins).any(|v| !v.is_finite());

    let q4scale = 15.0f32;
    let mut max_scale = 0.0f32;
    let mut max_min = 0.0f32;
    for j in 0..16 {
        if scales[j] > max_scale {
            max_scale = scales[j];
        }
        if mins[j] > max_min {
            max_min = mins[j];
        }
    }
    let (ys, rest) = y.split_at_mut(16);
    let (qs, dd) = rest.split_at_mut(64);
    let (mut d_in, mut dmin_in) = (0.0f32, 0.0f32);
    let (d16, dmin16);
    if max_scale > 0.0 {
        let iscale = q4scale / max_scale;
        for j in 0..16 {
            ys[j] = nearest_int(iscale * scales[j], &mut broke) as u8;
        }
        d_in = max_scale / q4scale;
        d16 = fp16(d_in);
    } else {
        ys.fill(0);
        d16 = fp16(0.0);
    }
    if max_min > 0.0 {
        let iscale = q4scale / max_min;
        for j in 0..16 {
            let l = nearest_int(iscale * mins[j], &mut broke);
            ys[j] |= (l << 4) as u8;
        }
        dmin_in = max_min / q4scale;
        dmin16 = fp16(dmin_in);
    } else {
        dmin16 = fp16(0.0);
    }
    dd[0..2].copy_from_slice(&d16.to_le_bytes());
    dd[2..4].copy_from_slice(&dmin16.to_le_bytes());
    let (df, dminf) = (fp32(d16), fp32(dmin16));
    for j in 0..16 {
        let d = df * (ys[j] & 0xF) as f32;
        if d == 0.0 {
            continue;
        }
        let dm = dminf * (ys[j] >> 4) as f32;
        let mut bad = 0u32;
        for ii in 0..16 {
            let v = (x[16 * j + ii] + dm) / d;
            bad |= breaks(v);
            s.l[0][16 * j + ii] = round_clamp(v, 0.0, 3.0);
        }
        broke |= bad != 0;
    }
    to_bytes(&s.l[0], &mut s.q);
    pack_2bit(&s.q, qs);
    Outcome {
        broke,
        d_in,
        dmin_in,
    }
}

/// `quantize_row_q3_K_ref` on one super-block.
#[inline(always)]
fn block_q3_k(x: &[f32; QK_K], s: &mut Scratch, y: &mut [u8]) -> Outcome {
    transpose16(x, &mut s.xt);
    let (scales, mut broke) = q3_lanes(&s.xt, &mut s.ct);
    untranspose16(&s.ct, &mut s.l[0]);
    broke |= scales.iter().any(|v| !v.is_finite());

    let mut max_scale = 0.0f32;
    let mut amax = 0.0f32;
    for &sc in &scales {
        let a = sc.abs();
        if a > amax {
            amax = a;
            max_scale = sc;
        }
    }
    let (hmask, rest) = y.split_at_mut(32);
    let (qs, rest) = rest.split_at_mut(64);
    let (ys, dd) = rest.split_at_mut(12);
    ys.fill(0);
    let mut d_in = 0.0f32;
    let d16;
    if max_scale != 0.0 {
        let iscale = -32.0f32 / max_scale;
        for j in 0..16 {
            let mut l = nearest_int(iscale * scales[j], &mut broke) as i8;
            l = 31i8.min(l).max(-32) + 32;
            if j < 8 {
                ys[j] = (l & 0xF) as u8;
            } else {
                ys[j - 8] |= ((l & 0xF) << 4) as u8;
            }
            l >>= 4;
            ys[j % 4 + 8] |= (l << (2 * (j / 4))) as u8;
        }
        d_in = 1.0 / iscale;
        d16 = fp16(d_in);
    } else {
        d16 = fp16(0.0);
    }
    dd.copy_from_slice(&d16.to_le_bytes());
    let df = fp32(d16);
    let sc6 = q3_k_scales(ys);
    for j in 0..16 {
        let d = df * (i32::from(sc6[j]) - 32) as f32;
        if d == 0.0 {
            continue;
        }
        let mut bad = 0u32;
        for ii in 0..16 {
            let v = x[16 * j + ii] / d;
            bad |= breaks(v);
            s.l[0][16 * j + ii] = round_clamp(v, -4.0, 3.0) + 4.0;
        }
        broke |= bad != 0;
    }
    to_bytes(&s.l[0], &mut s.q);
    // The third bit of value `32h + m` is bit `h` of `hmask[m]`.
    hmask.fill(0);
    for h in 0..8 {
        for m in 0..32 {
            hmask[m] |= (s.q[32 * h + m] >> 2) << h;
        }
    }
    pack_2bit(&s.q, qs);
    Outcome {
        broke,
        d_in,
        dmin_in: 0.0,
    }
}

/// `quantize_row_q4_K_ref` (`q5` false) or `quantize_row_q5_K_ref` on two super-blocks at
/// once: their 16 sub-blocks of 32 run side by side through the search (sixteen lanes, as for
/// the other K-quants), then each block is finished on its own ([`finish_q45`]).
#[inline(always)]
fn blocks_q45(
    xa: &[f32; QK_K],
    xb: &[f32; QK_K],
    s: &mut Scratch,
    ya: &mut [u8],
    yb: &mut [u8],
    q5: bool,
) -> [Outcome; 2] {
    let (nmax, rmin, nstep) = if q5 {
        (31.0f32, -0.5f32, 15)
    } else {
        (15.0, -1.0, 20)
    };
    for (k, sub) in xa.chunks_exact(32).chain(xb.chunks_exact(32)).enumerate() {
        for (i, &v) in sub.iter().enumerate() {
            s.xt32[i][k] = v;
        }
    }
    let mut sum_x2 = [0.0f32; 16];
    for row in &s.xt32 {
        for k in 0..16 {
            sum_x2[k] += row[k] * row[k];
        }
    }
    let mut av_x = [0.0f32; 16];
    for k in 0..16 {
        av_x[k] = (sum_x2[k] / 32.0).sqrt();
    }
    for i in 0..32 {
        for k in 0..16 {
            s.wt32[i][k] = av_x[k] + s.xt32[i][k].abs();
        }
    }
    let (scales, mins, lane_broke) = qkx2_lanes(
        &s.xt32,
        &s.wt32,
        nmax,
        rmin,
        0.1,
        nstep,
        false,
        &mut s.ct32,
        &mut s.at32,
    );
    let [la, lb] = &mut s.l;
    for (k, sub) in la
        .chunks_exact_mut(32)
        .chain(lb.chunks_exact_mut(32))
        .enumerate()
    {
        for (i, v) in sub.iter_mut().enumerate() {
            *v = s.ct32[i][k];
        }
    }
    [
        finish_q45(
            xa,
            &scales[..8],
            &mins[..8],
            &lane_broke[..8],
            nmax,
            la,
            &mut s.q,
            ya,
            q5,
        ),
        finish_q45(
            xb,
            &scales[8..],
            &mins[8..],
            &lane_broke[8..],
            nmax,
            lb,
            &mut s.q,
            yb,
            q5,
        ),
    ]
}

/// The rest of `quantize_row_q4_K_ref` / `quantize_row_q5_K_ref` for one super-block after
/// its searches: the 6-bit scales and mins (bytes 4..16), `d` and `dmin`, the codes again
/// against the stored scales, and their packing.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn finish_q45(
    x: &[f32; QK_K],
    scales: &[f32],
    mins: &[f32],
    lane_broke: &[bool],
    nmax: f32,
    l: &mut [f32; QK_K],
    q: &mut [u8; QK_K],
    y: &mut [u8],
    q5: bool,
) -> Outcome {
    let mut broke = lane_broke.iter().any(|&b| b);
    broke |= scales.iter().chain(mins).any(|v| !v.is_finite());
    let mut max_scale = 0.0f32;
    let mut max_min = 0.0f32;
    for j in 0..8 {
        if scales[j] > max_scale {
            max_scale = scales[j];
        }
        if mins[j] > max_min {
            max_min = mins[j];
        }
    }
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let ys = &mut y[4..16];
    for j in 0..8 {
        let ls = (nearest_int(inv_scale * scales[j], &mut broke) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j], &mut broke) as u8).min(63);
        if j < 4 {
            ys[j] = ls;
            ys[j + 4] = lm;
        } else {
            ys[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
            ys[j - 4] |= (ls >> 4) << 6;
            ys[j] |= (lm >> 4) << 6;
        }
    }
    let d_in = max_scale / 63.0;
    let dmin_in = max_min / 63.0;
    let d16 = fp16(d_in);
    let dmin16 = fp16(dmin_in);
    y[0..2].copy_from_slice(&d16.to_le_bytes());
    y[2..4].copy_from_slice(&dmin16.to_le_bytes());
    let (df, dminf) = (fp32(d16), fp32(dmin16));
    for j in 0..8 {
        let (sc, m) = get_scale_min_k4(j, &y[4..16]);
        let d = df * sc as f32;
        if d == 0.0 {
            continue;
        }
        let dm = dminf * m as f32;
        let mut bad = 0u32;
        for ii in 0..32 {
            let v = (x[32 * j + ii] + dm) / d;
            bad |= breaks(v);
            l[32 * j + ii] = round_clamp(v, 0.0, nmax);
        }
        broke |= bad != 0;
    }
    to_bytes(l, q);
    if q5 {
        // qh[32] @16, qs[128] @48: bit 2t (2t + 1) of qh[j] is the fifth bit of value
        // 64t + j (64t + 32 + j).
        let (qh, ql) = y[16..176].split_at_mut(32);
        qh.fill(0);
        for t in 0..4 {
            for j in 0..32 {
                let l1 = q[64 * t + j];
                let l2 = q[64 * t + j + 32];
                qh[j] |= (l1 >> 4) << (2 * t) | (l2 >> 4) << (2 * t + 1);
                ql[32 * t + j] = (l1 & 0xF) | (l2 & 0xF) << 4;
            }
        }
    } else {
        // qs[128] @16: values 64t + j and 64t + 32 + j share a byte.
        let qs = &mut y[16..144];
        for t in 0..4 {
            for j in 0..32 {
                qs[32 * t + j] = q[64 * t + j] | q[64 * t + j + 32] << 4;
            }
        }
    }
    Outcome {
        broke,
        d_in,
        dmin_in,
    }
}

/// `quantize_row_q6_K_ref` on one super-block.
#[inline(always)]
fn block_q6_k(x: &[f32; QK_K], s: &mut Scratch, y: &mut [u8]) -> Outcome {
    transpose16(x, &mut s.xt);
    let (scales, mut broke) = qx_lanes(&s.xt, &mut s.ct, &mut s.at);
    broke |= scales.iter().any(|v| !v.is_finite());
    let mut max_scale = 0.0f32;
    let mut max_abs_scale = 0.0f32;
    for &sc in &scales {
        let a = sc.abs();
        if a > max_abs_scale {
            max_abs_scale = a;
            max_scale = sc;
        }
    }
    if max_abs_scale < GROUP_MAX_EPS {
        // ggml zeroes the whole block: every code reads back as 0.
        y.fill(0);
        y[208..210].copy_from_slice(&fp16(0.0).to_le_bytes());
        s.l[0].fill(0.0);
        return Outcome {
            broke,
            d_in: 0.0,
            dmin_in: 0.0,
        };
    }
    untranspose16(&s.ct, &mut s.l[0]);
    let iscale = -128.0f32 / max_scale;
    let d_in = 1.0 / iscale;
    let d16 = fp16(d_in);
    y[208..210].copy_from_slice(&d16.to_le_bytes());
    for j in 0..16 {
        y[192 + j] = 127.min(nearest_int(iscale * scales[j], &mut broke)) as i8 as u8;
    }
    let df = fp32(d16);
    for j in 0..16 {
        let d = df * y[192 + j] as i8 as f32;
        if d == 0.0 {
            continue;
        }
        let mut bad = 0u32;
        for ii in 0..16 {
            let v = x[16 * j + ii] / d;
            bad |= breaks(v);
            s.l[0][16 * j + ii] = round_clamp(v, -32.0, 31.0) + 32.0;
        }
        broke |= bad != 0;
    }
    to_bytes(&s.l[0], &mut s.q);
    let (ql, rest) = y.split_at_mut(128);
    let qh = &mut rest[..64];
    for t in 0..2 {
        for l in 0..32 {
            let q = |o: usize| s.q[128 * t + l + o];
            ql[64 * t + l] = (q(0) & 0xF) | (q(64) & 0xF) << 4;
            ql[64 * t + l + 32] = (q(32) & 0xF) | (q(96) & 0xF) << 4;
            qh[32 * t + l] =
                (q(0) >> 4) | (q(32) >> 4) << 2 | (q(64) >> 4) << 4 | (q(96) >> 4) << 6;
        }
    }
    Outcome {
        broke,
        d_in,
        dmin_in: 0.0,
    }
}

/// The codes and dequantized values of one packed block (`y`, whose codes in value order are
/// `l`), computed as `dequantize_row_qN_K` computes them from the bytes, and its scales.
#[inline(always)]
fn emit(
    kind: KQuant,
    y: &[u8],
    l: &[f32; QK_K],
    codes: &mut [i32; QK_K],
    deq: &mut [f32; QK_K],
) -> BlockScale {
    for (c, &v) in codes.iter_mut().zip(l.iter()) {
        // A whole number from 0 to 63 (see `to_bytes`).
        *c = ((v + 8388608.0).to_bits() & 0xFF) as i32;
    }
    let (d16, dmin16) = super::super_scales(kind, y);
    let (d, dmin) = (fp32(d16), fp32(dmin16));
    match kind {
        KQuant::Q2K => {
            for j in 0..16 {
                let sc = y[j];
                let dl = d * (sc & 0xF) as f32;
                let ml = dmin * (sc >> 4) as f32;
                for i in 16 * j..16 * j + 16 {
                    deq[i] = dl * l[i] - ml;
                }
            }
            BlockScale::KQuant {
                d: d16,
                dmin: dmin16,
                scales: y[0..16].iter().map(|s| s & 0xF).collect(),
                mins: y[0..16].iter().map(|s| s >> 4).collect(),
            }
        }
        KQuant::Q3K => {
            let sc6 = q3_k_scales(&y[96..108]);
            for j in 0..16 {
                let dl = d * (i32::from(sc6[j]) - 32) as f32;
                for i in 16 * j..16 * j + 16 {
                    deq[i] = dl * (l[i] - 4.0);
                }
            }
            BlockScale::KQuant {
                d: d16,
                dmin: 0,
                scales: sc6.to_vec(),
                mins: Vec::new(),
            }
        }
        KQuant::Q4K | KQuant::Q5K => {
            let mut scales = Vec::with_capacity(8);
            let mut mins = Vec::with_capacity(8);
            for j in 0..8 {
                let (sc, m) = get_scale_min_k4(j, &y[4..16]);
                scales.push(sc);
                mins.push(m);
                let d1 = d * sc as f32;
                let m1 = dmin * m as f32;
                for i in 32 * j..32 * j + 32 {
                    deq[i] = d1 * l[i] - m1;
                }
            }
            BlockScale::KQuant {
                d: d16,
                dmin: dmin16,
                scales,
                mins,
            }
        }
        KQuant::Q6K => {
            for j in 0..16 {
                let ds = d * y[192 + j] as i8 as f32;
                for i in 16 * j..16 * j + 16 {
                    deq[i] = ds * (l[i] - 32.0);
                }
            }
            BlockScale::KQuant {
                d: d16,
                dmin: 0,
                scales: y[192..208].to_vec(),
                mins: Vec::new(),
            }
        }
    }
}

/// Which compilation of the kernels to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Simd {
    /// The best the CPU has (AVX2 on x86-64 where present).
    Best,
    /// The portable one (what wasm32 and CPUs without AVX2 run), for the tests.
    Portable,
}

/// A run of consecutive super-blocks and the parts of the outputs they fill.
struct Part<'a> {
    first_block: usize,
    xs: &'a [f32],
    codes: &'a mut [i32],
    deq: &'a mut [f32],
    bytes: Option<&'a mut [u8]>,
}

/// Quantizes the super-blocks of one part in order; stops at the first that breaks. On x86-64
/// CPUs with AVX2 the kernels run compiled for it: eight lanes an instruction instead of four,
/// the same IEEE operations on each lane (no fused multiply-add: Rust never contracts `a * b +
/// c`), so the same bits.
fn run_part(kind: KQuant, part: Part<'_>, simd: Simd) -> Result<Vec<BlockScale>> {
    #[cfg(target_arch = "x86_64")]
    {
        if simd == Simd::Best && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { run_part_avx2(kind, part) };
        }
    }
    // Elsewhere there is only the portable compilation.
    #[cfg(not(target_arch = "x86_64"))]
    let _ = simd;
    run_blocks(kind, part)
}

/// [`run_blocks`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn run_part_avx2(kind: KQuant, part: Part<'_>) -> Result<Vec<BlockScale>> {
    run_blocks(kind, part)
}

/// Super-block `b` of `xs`, if there is one.
#[inline(always)]
fn block_at(xs: &[f32], b: usize) -> Option<&[f32; QK_K]> {
    xs.get(b * QK_K..(b + 1) * QK_K)?.try_into().ok()
}

/// The loop of [`run_part`], inlined into each of its compilations: one super-block at a time
/// (two for Q4_K and Q5_K), each checked, its codes, values and scales written, in order.
#[inline(always)]
fn run_blocks(kind: KQuant, part: Part<'_>) -> Result<Vec<BlockScale>> {
    let Part {
        first_block,
        xs,
        codes,
        deq,
        mut bytes,
    } = part;
    let size = kind.block_bytes();
    let nb = xs.len() / QK_K;
    let mut s = Scratch::new();
    let mut ya = [0u8; 210];
    let mut yb = [0u8; 210];
    // The partner of a last, unpaired Q4_K or Q5_K block: computed and dropped.
    let zero = [0.0f32; QK_K];
    let mut scales = Vec::with_capacity(nb);
    let mut b = 0;
    while let Some(xa) = block_at(xs, b) {
        let (ya, yb) = (&mut ya[..size], &mut yb[..size]);
        let (outs, count) = match kind {
            KQuant::Q2K => ([block_q2_k(xa, &mut s, ya), Outcome::default()], 1),
            KQuant::Q3K => ([block_q3_k(xa, &mut s, ya), Outcome::default()], 1),
            KQuant::Q6K => ([block_q6_k(xa, &mut s, ya), Outcome::default()], 1),
            KQuant::Q4K | KQuant::Q5K => {
                let xb = block_at(xs, b + 1);
                let count = if xb.is_some() { 2 } else { 1 };
                let q5 = kind == KQuant::Q5K;
                let xb = xb.unwrap_or(&zero);
                (blocks_q45(xa, xb, &mut s, ya, yb, q5), count)
            }
        };
        for (slot, out) in outs.iter().enumerate().take(count) {
            let i = b + slot;
            let (Some(x), Some(c), Some(d)) = (
                block_at(xs, i),
                codes
                    .get_mut(i * QK_K..(i + 1) * QK_K)
                    .and_then(|c| <&mut [i32; QK_K]>::try_from(c).ok()),
                deq.get_mut(i * QK_K..(i + 1) * QK_K)
                    .and_then(|d| <&mut [f32; QK_K]>::try_from(d).ok()),
            ) else {
                // Every output is as long as the values: not reachable.
                break;
            };
            let y: &[u8] = if slot == 0 { ya } else { yb };
            check_block(
                kind,
                first_block + i,
                x,
                y,
                out.broke,
                out.d_in,
                out.dmin_in,
            )?;
            scales.push(emit(kind, y, &s.l[slot], c, d));
            if let Some(bb) = bytes.as_deref_mut() {
                bb[i * size..(i + 1) * size].copy_from_slice(y);
            }
        }
        b += count;
    }
    Ok(scales)
}

/// Quantizes `xs` (a multiple of 256 values) in `kind`, writing the packed blocks to `bytes`
/// when given (as long as the blocks).
pub(super) fn quantize(
    kind: KQuant,
    xs: &[f32],
    bytes: Option<&mut [u8]>,
    simd: Simd,
) -> Result<Quantized> {
    if xs.is_empty() {
        return Err(Error::EmptyData);
    }
    if !xs.len().is_multiple_of(QK_K) {
        return Err(Error::BlockCount {
            format: kind.name(),
            n: xs.len(),
            block: QK_K,
        });
    }
    let n = xs.len();
    let nb = n / QK_K;
    let mut codes: Vec<i32> = crate::par::zeroed_vec(n);
    let mut deq: Vec<f32> = crate::par::zeroed_vec(n);
    let whole = Part {
        first_block: 0,
        xs,
        codes: &mut codes,
        deq: &mut deq,
        bytes,
    };
    let scales = run_parts(kind, whole, nb, simd)?;
    Ok(Quantized {
        codes,
        dequantized: deq,
        scales,
        block: QK_K,
        saturated: 0,
    })
}

/// One part on wasm32 (no threads).
#[cfg(target_arch = "wasm32")]
fn run_parts(kind: KQuant, whole: Part<'_>, _nb: usize, simd: Simd) -> Result<Vec<BlockScale>> {
    run_part(kind, whole, simd)
}

/// The super-blocks cut into one part per thread (at least [`MIN_BLOCKS_PER_THREAD`] each),
/// run on scoped threads, their scales joined in order; the error is that of the first part
/// that has one, so of the first super-block that breaks.
#[cfg(not(target_arch = "wasm32"))]
fn run_parts(kind: KQuant, whole: Part<'_>, nb: usize, simd: Simd) -> Result<Vec<BlockScale>> {
    use std::sync::{Mutex, PoisonError};

    let threads = crate::par::threads().min(nb / MIN_BLOCKS_PER_THREAD).max(1);
    if threads == 1 {
        return run_part(kind, whole, simd);
    }
    let size = kind.block_bytes();
    let mut parts = Vec::with_capacity(threads);
    let mut rest = whole;
    for t in 0..threads {
        let blocks = nb * (t + 1) / threads - nb * t / threads;
        if t + 1 == threads {
            parts.push(rest);
            break;
        }
        let (xa, xb) = rest.xs.split_at(blocks * QK_K);
        let (ca, cb) = rest.codes.split_at_mut(blocks * QK_K);
        let (da, db) = rest.deq.split_at_mut(blocks * QK_K);
        let (ba, bb) = match rest.bytes {
            Some(b) => {
                let (a, b) = b.split_at_mut(blocks * size);
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        parts.push(Part {
            first_block: rest.first_block,
            xs: xa,
            codes: ca,
            deq: da,
            bytes: ba,
        });
        rest = Part {
            first_block: rest.first_block + blocks,
            xs: xb,
            codes: cb,
            deq: db,
            bytes: bb,
        };
    }
    // Each part waits in a slot until a thread takes it; a part whose thread could not be
    // started is still in its slot afterwards and runs here.
    let slots: Vec<Mutex<Option<Part<'_>>>> =
        parts.into_iter().map(|p| Mutex::new(Some(p))).collect();
    let results: Vec<Mutex<Option<Result<Vec<BlockScale>>>>> =
        slots.iter().map(|_| Mutex::new(None)).collect();
    let work = |t: usize| {
        let part = slots[t]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(part) = part {
            let r = run_part(kind, part, simd);
            *results[t].lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
        }
    };
    let work = &work;
    std::thread::scope(|s| {
        let handles: Vec<_> = (1..slots.len())
            .map(|t| std::thread::Builder::new().spawn_scoped(s, move || work(t)))
            .collect();
        work(0);
        for h in handles.into_iter().flatten() {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    let mut scales = Vec::with_capacity(nb);
    for t in 0..slots.len() {
        work(t);
        let r = results[t]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match r {
            Some(r) => scales.extend(r?),
            // Not reachable: `work(t)` above ran every part still waiting.
            None => return Err(Error::EmptyData),
        }
    }
    Ok(scales)
}
