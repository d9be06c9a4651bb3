//! A plain, single-threaded, line-for-line port of ggml's reference K-quants
//! (`quantize_row_q{2,3,4,5,6}_K_ref` and `dequantize_row_q{2,3,4,5,6}_K` in ggml-quants.c,
//! with their helpers `nearest_int`, `make_qkx2_quants`, `make_qx_quants`, `make_q3_quants` and
//! `get_scale_min_k4`). It is the oracle of the tests and the baseline of the fast version
//! ([`super::KQuant::quantize`]): the loops, the order of every float32 operation and the
//! integer conversions are ggml's, so that the block bytes are ggml's.
//!
//! C's implicit conversions are spelled out: `int` to `uint8_t`/`int8_t` truncates (`as u8`,
//! `as i8`), an integer meeting a float becomes a float (`as f32`), `if (!d)` is `d == 0.0`
//! (false for NaN) and `if (x)` on a float is `x != 0.0` (true for NaN). Where `nearest_int`
//! would assert (an argument beyond 2^22 or NaN) the port notes it in a flag instead; the block
//! is then an error (see `check_block` in the parent module).

// A line-for-line port indexes several arrays with one loop counter, as the C does.
#![allow(clippy::needless_range_loop)]

use super::{check_block, fp16, fp32, KQuant, Quantized, QK_K};
use crate::error::Result;

/// `GROUP_MAX_EPS`: below this largest magnitude a group counts as all zero.
const GROUP_MAX_EPS: f32 = 1e-15;

/// The flag `nearest_int`'s assert raises instead of aborting.
#[derive(Default)]
struct Breaks {
    assert: bool,
}

/// ggml's `nearest_int`: round half to even through the float32 sum with `1.5 * 2^23`, valid
/// for `|fval| <= 4194303` (ggml asserts it; here the assert sets `b.assert`).
// The negated test is ggml's assert as written: it also fails for NaN.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
#[inline]
fn nearest_int(fval: f32, b: &mut Breaks) -> i32 {
    if !(fval.abs() <= 4194303.0) {
        b.assert = true;
    }
    let val = fval + 12582912.0;
    let i = val.to_bits() as i32;
    (i & 0x007fffff) - 0x00400000
}

/// `make_qx_quants` with `qw == NULL` (the only way `quantize_row_q6_K_ref` calls it).
fn make_qx_quants(
    n: usize,
    nmax: i32,
    x: &[f32],
    l_out: &mut [i8],
    rmse_type: i32,
    b: &mut Breaks,
) -> f32 {
    let mut max = 0.0f32;
    let mut amax = 0.0f32;
    for &xi in &x[..n] {
        let ax = xi.abs();
        if ax > amax {
            amax = ax;
            max = xi;
        }
    }
    if amax < GROUP_MAX_EPS {
        // all zero
        for l in &mut l_out[..n] {
            *l = 0;
        }
        return 0.0;
    }
    let mut iscale = -(nmax as f32) / max;
    let mut rmse_type = rmse_type;
    if rmse_type == 0 {
        for i in 0..n {
            let l = nearest_int(iscale * x[i], b);
            l_out[i] = (nmax + (nmax - 1).min(l).max(-nmax)) as i8;
        }
        return 1.0 / iscale;
    }
    let mut return_early = false;
    if rmse_type < 0 {
        rmse_type = -rmse_type;
        return_early = true;
    }
    let weight = |xi: f32| -> f32 {
        match rmse_type {
            1 => xi * xi,
            2 => 1.0,
            3 => xi.abs(),
            _ => xi.abs().sqrt(),
        }
    };
    let mut sumlx = 0.0f32;
    let mut suml2 = 0.0f32;
    for i in 0..n {
        let mut l = nearest_int(iscale * x[i], b);
        l = (nmax - 1).min(l).max(-nmax);
        l_out[i] = (l + nmax) as i8;
        let w = weight(x[i]);
        sumlx += w * x[i] * l as f32;
        suml2 += w * l as f32 * l as f32;
    }
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    if return_early {
        return if suml2 > 0.0 {
            0.5 * (scale + 1.0 / iscale)
        } else {
            1.0 / iscale
        };
    }
    let mut best = scale * sumlx;
    for is in -9i32..=9 {
        if is == 0 {
            continue;
        }
        iscale = -(nmax as f32 + 0.1f32 * is as f32) / max;
        sumlx = 0.0;
        suml2 = 0.0;
        for i in 0..n {
            let mut l = nearest_int(iscale * x[i], b);
            l = (nmax - 1).min(l).max(-nmax);
            let w = weight(x[i]);
            sumlx += w * x[i] * l as f32;
            suml2 += w * l as f32 * l as f32;
        }
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            for i in 0..n {
                let l = nearest_int(iscale * x[i], b);
                l_out[i] = (nmax + (nmax - 1).min(l).max(-nmax)) as i8;
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// `make_q3_quants`.
fn make_q3_quants(
    n: usize,
    nmax: i32,
    x: &[f32],
    l_out: &mut [i8],
    do_rmse: bool,
    b: &mut Breaks,
) -> f32 {
    let mut max = 0.0f32;
    let mut amax = 0.0f32;
    for &xi in &x[..n] {
        let ax = xi.abs();
        if ax > amax {
            amax = ax;
            max = xi;
        }
    }
    if amax < GROUP_MAX_EPS {
        // all zero
        for l in &mut l_out[..n] {
            *l = 0;
        }
        return 0.0;
    }
    let iscale = -(nmax as f32) / max;
    if do_rmse {
        let mut sumlx = 0.0f32;
        let mut suml2 = 0.0f32;
        for i in 0..n {
            let mut l = nearest_int(iscale * x[i], b);
            l = (nmax - 1).min(l).max(-nmax);
            l_out[i] = l as i8;
            let w = x[i] * x[i];
            sumlx += w * x[i] * l as f32;
            suml2 += w * l as f32 * l as f32;
        }
        for _itry in 0..5 {
            let mut n_changed = 0;
            for i in 0..n {
                let w = x[i] * x[i];
                let li = l_out[i] as f32;
                let mut slx = sumlx - w * x[i] * li;
                if slx > 0.0 {
                    let mut sl2 = suml2 - w * li * li;
                    let mut new_l = nearest_int(x[i] * sl2 / slx, b);
                    new_l = (nmax - 1).min(new_l).max(-nmax);
                    if new_l != l_out[i] as i32 {
                        slx += w * x[i] * new_l as f32;
                        sl2 += w * new_l as f32 * new_l as f32;
                        if sl2 > 0.0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                            l_out[i] = new_l as i8;
                            sumlx = slx;
                            suml2 = sl2;
                            n_changed += 1;
                        }
                    }
                }
            }
            if n_changed == 0 {
                break;
            }
        }
        for l in &mut l_out[..n] {
            *l += nmax as i8;
        }
        return if suml2 > 0.0 { sumlx / suml2 } else { 0.0 };
    }
    for i in 0..n {
        let mut l = nearest_int(iscale * x[i], b);
        l = (nmax - 1).min(l).max(-nmax);
        l_out[i] = (l + nmax) as i8;
    }
    1.0 / iscale
}

/// `make_qkx2_quants`: returns the scale and sets `*the_min` (here the second value).
#[allow(clippy::too_many_arguments)]
fn make_qkx2_quants(
    n: usize,
    nmax: i32,
    x: &[f32],
    weights: &[f32],
    l_out: &mut [u8],
    laux: &mut [u8],
    rmin: f32,
    rdelta: f32,
    nstep: i32,
    use_mad: bool,
    b: &mut Breaks,
) -> (f32, f32) {
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..n {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        let w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        for l in &mut l_out[..n] {
            *l = 0;
        }
        return (0.0, -min);
    }
    let mut iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0.0f32;
    for i in 0..n {
        let l = nearest_int(iscale * (x[i] - min), b);
        l_out[i] = nmax.min(l).max(0) as u8;
        let mut diff = scale * l_out[i] as f32 + min - x[i];
        diff = if use_mad { diff.abs() } else { diff * diff };
        let w = weights[i];
        best_error += w * diff;
    }
    if nstep < 1 {
        return (scale, -min);
    }
    for is in 0..=nstep {
        iscale = (rmin + rdelta * is as f32 + nmax as f32) / (max - min);
        let mut sum_l = 0.0f32;
        let mut sum_l2 = 0.0f32;
        let mut sum_xl = 0.0f32;
        for i in 0..n {
            let mut l = nearest_int(iscale * (x[i] - min), b);
            l = nmax.min(l).max(0);
            laux[i] = l as u8;
            let w = weights[i];
            sum_l += w * l as f32;
            sum_l2 += w * l as f32 * l as f32;
            sum_xl += w * l as f32 * x[i];
        }
        let d = sum_w * sum_l2 - sum_l * sum_l;
        if d > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / d;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / d;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0.0f32;
            for i in 0..n {
                let mut diff = this_scale * laux[i] as f32 + this_min - x[i];
                diff = if use_mad { diff.abs() } else { diff * diff };
                let w = weights[i];
                cur_error += w * diff;
            }
            if cur_error < best_error {
                l_out[..n].copy_from_slice(&laux[..n]);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

/// `get_scale_min_k4`: the 6-bit scale and min of sub-block `j` from the 12 packed bytes.
#[inline]
pub(super) fn get_scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// What one super-block's quantization leaves besides its bytes: whether ggml's arithmetic
/// broke, and the float32 values given to the fp16 conversions (for the error message).
struct BlockOut {
    breaks: Breaks,
    nonfinite_scale: bool,
    d_in: f32,
    dmin_in: f32,
}

// ---- Q2_K: scales[16] @0, qs[64] @16, d @80, dmin @82 -----------------------------------------

fn quantize_block_q2_k(x: &[f32], y: &mut [u8]) -> BlockOut {
    let mut b = Breaks::default();
    let mut l_all = [0u8; QK_K];
    let mut laux = [0u8; 16];
    let mut weights = [0.0f32; 16];
    let mut mins = [0.0f32; QK_K / 16];
    let mut scales = [0.0f32; QK_K / 16];
    let q4scale = 15.0f32;
    let (ys, rest) = y.split_at_mut(16);
    let (qs, dd) = rest.split_at_mut(64);

    let mut max_scale = 0.0f32; // as we are deducting the min, scales are always positive
    let mut max_min = 0.0f32;
    for j in 0..QK_K / 16 {
        for l in 0..16 {
            weights[l] = x[16 * j + l].abs();
        }
        let (s, m) = make_qkx2_quants(
            16,
            3,
            &x[16 * j..],
            &weights,
            &mut l_all[16 * j..],
            &mut laux,
            -0.5,
            0.1,
            15,
            true,
            &mut b,
        );
        scales[j] = s;
        mins[j] = m;
        let scale = scales[j];
        if scale > max_scale {
            max_scale = scale;
        }
        let min = mins[j];
        if min > max_min {
            max_min = min;
        }
    }
    let nonfinite_scale = scales.iter().chain(&mins).any(|v| !v.is_finite());

    let (mut d_in, mut dmin_in) = (0.0f32, 0.0f32);
    let (d16, dmin16);
    if max_scale > 0.0 {
        let iscale = q4scale / max_scale;
        for j in 0..QK_K / 16 {
            let l = nearest_int(iscale * scales[j], &mut b);
            ys[j] = l as u8;
        }
        d_in = max_scale / q4scale;
        d16 = fp16(d_in);
    } else {
        for s in ys.iter_mut() {
            *s = 0;
        }
        d16 = fp16(0.0);
    }
    if max_min > 0.0 {
        let iscale = q4scale / max_min;
        for j in 0..QK_K / 16 {
            let l = nearest_int(iscale * mins[j], &mut b);
            ys[j] |= (l << 4) as u8;
        }
        dmin_in = max_min / q4scale;
        dmin16 = fp16(dmin_in);
    } else {
        dmin16 = fp16(0.0);
    }
    dd[0..2].copy_from_slice(&d16.to_le_bytes());
    dd[2..4].copy_from_slice(&dmin16.to_le_bytes());
    for j in 0..QK_K / 16 {
        let d = fp32(d16) * (ys[j] & 0xF) as f32;
        if d == 0.0 {
            continue;
        }
        let dm = fp32(dmin16) * (ys[j] >> 4) as f32;
        for ii in 0..16 {
            let mut l = nearest_int((x[16 * j + ii] + dm) / d, &mut b);
            l = l.clamp(0, 3);
            l_all[16 * j + ii] = l as u8;
        }
    }

    for j in (0..QK_K).step_by(128) {
        for l in 0..32 {
            qs[j / 4 + l] = l_all[j + l]
                | (l_all[j + l + 32] << 2)
                | (l_all[j + l + 64] << 4)
                | (l_all[j + l + 96] << 6);
        }
    }
    BlockOut {
        breaks: b,
        nonfinite_scale,
        d_in,
        dmin_in,
    }
}

fn dequantize_block_q2_k(x: &[u8], y: &mut [f32]) {
    let d = fp32(u16::from_le_bytes([x[80], x[81]]));
    let min = fp32(u16::from_le_bytes([x[82], x[83]]));
    let scales = &x[0..16];
    let mut q = &x[16..80];
    let mut yi = 0;
    let mut is = 0;
    for _n in (0..QK_K).step_by(128) {
        let mut shift = 0;
        for _j in 0..4 {
            let sc = scales[is];
            is += 1;
            let dl = d * (sc & 0xF) as f32;
            let ml = min * (sc >> 4) as f32;
            for l in 0..16 {
                y[yi] = dl * ((q[l] >> shift) & 3) as i8 as f32 - ml;
                yi += 1;
            }
            let sc = scales[is];
            is += 1;
            let dl = d * (sc & 0xF) as f32;
            let ml = min * (sc >> 4) as f32;
            for l in 0..16 {
                y[yi] = dl * ((q[l + 16] >> shift) & 3) as i8 as f32 - ml;
                yi += 1;
            }
            shift += 2;
        }
        q = &q[32..];
    }
}

// ---- Q3_K: hmask[32] @0, qs[64] @32, scales[12] @96, d @108 -----------------------------------

fn quantize_block_q3_k(x: &[f32], y: &mut [u8]) -> BlockOut {
    let mut b = Breaks::default();
    let mut l_all = [0i8; QK_K];
    let mut scales = [0.0f32; QK_K / 16];
    let (hmask, rest) = y.split_at_mut(32);
    let (qs, rest) = rest.split_at_mut(64);
    let (ys, dd) = rest.split_at_mut(12);

    let mut max_scale = 0.0f32;
    let mut amax = 0.0f32;
    for j in 0..QK_K / 16 {
        scales[j] = make_q3_quants(16, 4, &x[16 * j..], &mut l_all[16 * j..], true, &mut b);
        let scale = scales[j].abs();
        if scale > amax {
            amax = scale;
            max_scale = scales[j];
        }
    }
    let nonfinite_scale = scales.iter().any(|v| !v.is_finite());

    ys.fill(0);
    let mut d_in = 0.0f32;
    let d16;
    if max_scale != 0.0 {
        let iscale = -32.0f32 / max_scale;
        for j in 0..QK_K / 16 {
            let mut l = nearest_int(iscale * scales[j], &mut b) as i8;
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

    for j in 0..QK_K / 16 {
        let mut sc: i8 = if j < 8 {
            (ys[j] & 0xF) as i8
        } else {
            (ys[j - 8] >> 4) as i8
        };
        sc = (sc | ((((ys[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) as i8)) - 32;
        let d = fp32(d16) * sc as f32;
        if d == 0.0 {
            continue;
        }
        for ii in 0..16 {
            let mut l = nearest_int(x[16 * j + ii] / d, &mut b);
            l = l.clamp(-4, 3);
            l_all[16 * j + ii] = (l + 4) as i8;
        }
    }

    hmask.fill(0);
    // We put the high-bit for the 1st 8 quants into bit 0, the next 8 into bit 1, etc.
    let mut m = 0;
    let mut hm: u8 = 1;
    for j in 0..QK_K {
        if l_all[j] > 3 {
            hmask[m] |= hm;
            l_all[j] -= 4;
        }
        m += 1;
        if m == QK_K / 8 {
            m = 0;
            hm = hm.wrapping_shl(1);
        }
    }
    for j in (0..QK_K).step_by(128) {
        for l in 0..32 {
            qs[j / 4 + l] = (l_all[j + l]
                | (l_all[j + l + 32] << 2)
                | (l_all[j + l + 64] << 4)
                | (l_all[j + l + 96] << 6)) as u8;
        }
    }
    BlockOut {
        breaks: b,
        nonfinite_scale,
        d_in,
        dmin_in: 0.0,
    }
}

/// The sixteen 6-bit scales of a Q3_K block, unpacked as `dequantize_row_q3_K` does with its
/// `kmask1`/`kmask2` words (each `0..=63`; the scale is this minus 32).
pub(super) fn q3_k_scales(packed: &[u8]) -> [u8; 16] {
    const KMASK1: u32 = 0x03030303;
    const KMASK2: u32 = 0x0f0f0f0f;
    let word = |i: usize| {
        u32::from_le_bytes([
            packed[4 * i],
            packed[4 * i + 1],
            packed[4 * i + 2],
            packed[4 * i + 3],
        ])
    };
    let mut aux = [word(0), word(1), word(2), 0];
    let tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & KMASK2) | (((tmp >> 4) & KMASK1) << 4);
    aux[3] = ((aux[1] >> 4) & KMASK2) | (((tmp >> 6) & KMASK1) << 4);
    aux[0] = (aux[0] & KMASK2) | ((tmp & KMASK1) << 4);
    aux[1] = (aux[1] & KMASK2) | (((tmp >> 2) & KMASK1) << 4);
    let mut out = [0u8; 16];
    for (i, a) in aux.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&a.to_le_bytes());
    }
    out
}

fn dequantize_block_q3_k(x: &[u8], y: &mut [f32]) {
    let d_all = fp32(u16::from_le_bytes([x[108], x[109]]));
    let mut q = &x[32..96];
    let hm = &x[0..32];
    let mut m: u8 = 1;
    // The scales as int8_t, as the C reads them through its `aux` words.
    let scales = q3_k_scales(&x[96..108]).map(|s| s as i8);
    let mut yi = 0;
    let mut is = 0;
    for _n in (0..QK_K).step_by(128) {
        let mut shift = 0;
        for _j in 0..4 {
            let dl = d_all * (scales[is] as i32 - 32) as f32;
            is += 1;
            for l in 0..16 {
                let v = ((q[l] >> shift) & 3) as i8 as i32 - if hm[l] & m != 0 { 0 } else { 4 };
                y[yi] = dl * v as f32;
                yi += 1;
            }
            let dl = d_all * (scales[is] as i32 - 32) as f32;
            is += 1;
            for l in 0..16 {
                let v = ((q[l + 16] >> shift) & 3) as i8 as i32
                    - if hm[l + 16] & m != 0 { 0 } else { 4 };
                y[yi] = dl * v as f32;
                yi += 1;
            }
            shift += 2;
            m = m.wrapping_shl(1);
        }
        q = &q[32..];
    }
}

// ---- Q4_K and Q5_K: d @0, dmin @2, scales[12] @4, then (Q5_K) qh[32] @16, qs @16 or @48 ------

/// The scale and min search and the 6-bit packing shared by `quantize_row_q4_K_ref` and
/// `quantize_row_q5_K_ref` (the two differ in `nmax`, the search's `rmin` and `nstep`, and the
/// packing of the codes). Fills `l_all` with the codes.
fn quantize_scales_q45(
    x: &[f32],
    y: &mut [u8],
    nmax: i32,
    rmin: f32,
    nstep: i32,
    l_all: &mut [u8; QK_K],
) -> BlockOut {
    let mut b = Breaks::default();
    let mut laux = [0u8; 32];
    let mut weights = [0.0f32; 32];
    let mut mins = [0.0f32; QK_K / 32];
    let mut scales = [0.0f32; QK_K / 32];

    let mut max_scale = 0.0f32; // as we are deducting the min, scales are always positive
    let mut max_min = 0.0f32;
    for j in 0..QK_K / 32 {
        let mut sum_x2 = 0.0f32;
        for l in 0..32 {
            sum_x2 += x[32 * j + l] * x[32 * j + l];
        }
        let av_x = (sum_x2 / 32.0).sqrt();
        for l in 0..32 {
            weights[l] = av_x + x[32 * j + l].abs();
        }
        let (s, m) = make_qkx2_quants(
            32,
            nmax,
            &x[32 * j..],
            &weights,
            &mut l_all[32 * j..],
            &mut laux,
            rmin,
            0.1,
            nstep,
            false,
            &mut b,
        );
        scales[j] = s;
        mins[j] = m;
        let scale = scales[j];
        if scale > max_scale {
            max_scale = scale;
        }
        let min = mins[j];
        if min > max_min {
            max_min = min;
        }
    }
    let nonfinite_scale = scales.iter().chain(&mins).any(|v| !v.is_finite());

    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let ys = &mut y[4..16];
    for j in 0..QK_K / 32 {
        let mut ls = nearest_int(inv_scale * scales[j], &mut b) as u8;
        let mut lm = nearest_int(inv_min * mins[j], &mut b) as u8;
        ls = ls.min(63);
        lm = lm.min(63);
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

    for j in 0..QK_K / 32 {
        let (sc, m) = get_scale_min_k4(j, &y[4..16]);
        let d = fp32(d16) * sc as f32;
        if d == 0.0 {
            continue;
        }
        let dm = fp32(dmin16) * m as f32;
        for ii in 0..32 {
            let mut l = nearest_int((x[32 * j + ii] + dm) / d, &mut b);
            l = l.min(nmax).max(0);
            l_all[32 * j + ii] = l as u8;
        }
    }
    BlockOut {
        breaks: b,
        nonfinite_scale,
        d_in,
        dmin_in,
    }
}

fn quantize_block_q4_k(x: &[f32], y: &mut [u8]) -> BlockOut {
    let mut l_all = [0u8; QK_K];
    let out = quantize_scales_q45(x, y, 15, -1.0, 20, &mut l_all);
    let q = &mut y[16..144];
    for (t, j) in (0..QK_K).step_by(64).enumerate() {
        for l in 0..32 {
            q[32 * t + l] = l_all[j + l] | (l_all[j + l + 32] << 4);
        }
    }
    out
}

fn dequantize_block_q4_k(x: &[u8], y: &mut [f32]) {
    let d = fp32(u16::from_le_bytes([x[0], x[1]]));
    let min = fp32(u16::from_le_bytes([x[2], x[3]]));
    let scales = &x[4..16];
    let mut q = &x[16..144];
    let mut yi = 0;
    let mut is = 0;
    for _j in (0..QK_K).step_by(64) {
        let (sc, m) = get_scale_min_k4(is, scales);
        let d1 = d * sc as f32;
        let m1 = min * m as f32;
        let (sc, m) = get_scale_min_k4(is + 1, scales);
        let d2 = d * sc as f32;
        let m2 = min * m as f32;
        for l in 0..32 {
            y[yi] = d1 * (q[l] & 0xF) as f32 - m1;
            yi += 1;
        }
        for l in 0..32 {
            y[yi] = d2 * (q[l] >> 4) as f32 - m2;
            yi += 1;
        }
        q = &q[32..];
        is += 2;
    }
}

fn quantize_block_q5_k(x: &[f32], y: &mut [u8]) -> BlockOut {
    let mut l_all = [0u8; QK_K];
    let out = quantize_scales_q45(x, y, 31, -0.5, 15, &mut l_all);
    let (qh, ql) = y[16..176].split_at_mut(32);
    qh.fill(0);
    let mut m1: u8 = 1;
    let mut m2: u8 = 2;
    for (t, n) in (0..QK_K).step_by(64).enumerate() {
        for j in 0..32 {
            let mut l1 = l_all[n + j];
            if l1 > 15 {
                l1 -= 16;
                qh[j] |= m1;
            }
            let mut l2 = l_all[n + j + 32];
            if l2 > 15 {
                l2 -= 16;
                qh[j] |= m2;
            }
            ql[32 * t + j] = l1 | (l2 << 4);
        }
        m1 = m1.wrapping_shl(2);
        m2 = m2.wrapping_shl(2);
    }
    out
}

fn dequantize_block_q5_k(x: &[u8], y: &mut [f32]) {
    let d = fp32(u16::from_le_bytes([x[0], x[1]]));
    let min = fp32(u16::from_le_bytes([x[2], x[3]]));
    let scales = &x[4..16];
    let qh = &x[16..48];
    let mut ql = &x[48..176];
    let mut yi = 0;
    let mut is = 0;
    let mut u1: u8 = 1;
    let mut u2: u8 = 2;
    for _j in (0..QK_K).step_by(64) {
        let (sc, m) = get_scale_min_k4(is, scales);
        let d1 = d * sc as f32;
        let m1 = min * m as f32;
        let (sc, m) = get_scale_min_k4(is + 1, scales);
        let d2 = d * sc as f32;
        let m2 = min * m as f32;
        for l in 0..32 {
            let v = (ql[l] & 0xF) as i32 + if qh[l] & u1 != 0 { 16 } else { 0 };
            y[yi] = d1 * v as f32 - m1;
            yi += 1;
        }
        for l in 0..32 {
            let v = (ql[l] >> 4) as i32 + if qh[l] & u2 != 0 { 16 } else { 0 };
            y[yi] = d2 * v as f32 - m2;
            yi += 1;
        }
        ql = &ql[32..];
        is += 2;
        u1 = u1.wrapping_shl(2);
        u2 = u2.wrapping_shl(2);
    }
}

// ---- Q6_K: ql[128] @0, qh[64] @128, scales[16] @192, d @208 -----------------------------------

fn quantize_block_q6_k(x: &[f32], y: &mut [u8]) -> BlockOut {
    let mut b = Breaks::default();
    let mut l_all = [0i8; QK_K];
    let mut scales = [0.0f32; QK_K / 16];

    let mut max_scale = 0.0f32;
    let mut max_abs_scale = 0.0f32;
    for ib in 0..QK_K / 16 {
        let scale = make_qx_quants(16, 32, &x[16 * ib..], &mut l_all[16 * ib..], 1, &mut b);
        scales[ib] = scale;
        let abs_scale = scale.abs();
        if abs_scale > max_abs_scale {
            max_abs_scale = abs_scale;
            max_scale = scale;
        }
    }
    let nonfinite_scale = scales.iter().any(|v| !v.is_finite());

    if max_abs_scale < GROUP_MAX_EPS {
        y.fill(0);
        y[208..210].copy_from_slice(&fp16(0.0).to_le_bytes());
        return BlockOut {
            breaks: b,
            nonfinite_scale,
            d_in: 0.0,
            dmin_in: 0.0,
        };
    }

    let iscale = -128.0f32 / max_scale;
    let d_in = 1.0 / iscale;
    let d16 = fp16(d_in);
    y[208..210].copy_from_slice(&d16.to_le_bytes());
    for ib in 0..QK_K / 16 {
        y[192 + ib] = 127.min(nearest_int(iscale * scales[ib], &mut b)) as i8 as u8;
    }

    for j in 0..QK_K / 16 {
        let d = fp32(d16) * y[192 + j] as i8 as f32;
        if d == 0.0 {
            continue;
        }
        for ii in 0..16 {
            let mut l = nearest_int(x[16 * j + ii] / d, &mut b);
            l = l.clamp(-32, 31);
            l_all[16 * j + ii] = (l + 32) as i8;
        }
    }

    let (ql, rest) = y.split_at_mut(128);
    let qh = &mut rest[..64];
    for (t, j) in (0..QK_K).step_by(128).enumerate() {
        let (ql, qh) = (&mut ql[64 * t..], &mut qh[32 * t..]);
        for l in 0..32 {
            let q1 = (l_all[j + l] & 0xF) as u8;
            let q2 = (l_all[j + l + 32] & 0xF) as u8;
            let q3 = (l_all[j + l + 64] & 0xF) as u8;
            let q4 = (l_all[j + l + 96] & 0xF) as u8;
            ql[l] = q1 | (q3 << 4);
            ql[l + 32] = q2 | (q4 << 4);
            qh[l] = ((l_all[j + l] >> 4)
                | ((l_all[j + l + 32] >> 4) << 2)
                | ((l_all[j + l + 64] >> 4) << 4)
                | ((l_all[j + l + 96] >> 4) << 6)) as u8;
        }
    }
    BlockOut {
        breaks: b,
        nonfinite_scale,
        d_in,
        dmin_in: 0.0,
    }
}

fn dequantize_block_q6_k(x: &[u8], y: &mut [f32]) {
    let d = fp32(u16::from_le_bytes([x[208], x[209]]));
    let mut ql = &x[0..128];
    let mut qh = &x[128..192];
    let mut sc = &x[192..208];
    let mut y = &mut y[..];
    for _n in (0..QK_K).step_by(128) {
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i8 - 32;
            let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
            y[l] = d * sc[is] as i8 as f32 * q1 as f32;
            y[l + 32] = d * sc[is + 2] as i8 as f32 * q2 as f32;
            y[l + 64] = d * sc[is + 4] as i8 as f32 * q3 as f32;
            y[l + 96] = d * sc[is + 6] as i8 as f32 * q4 as f32;
        }
        y = &mut y[128..];
        ql = &ql[64..];
        qh = &qh[32..];
        sc = &sc[8..];
    }
}

// ---- Rows -------------------------------------------------------------------------------------

/// `quantize_row_qN_K_ref` over all of `xs` (a multiple of 256 values): ggml's block bytes, or
/// the error of the first super-block whose arithmetic breaks.
pub fn quantize_row(kind: KQuant, xs: &[f32]) -> Result<Vec<u8>> {
    let bytes = kind.block_bytes();
    let nb = xs.len() / QK_K;
    let mut out = vec![0u8; nb * bytes];
    for (i, (x, y)) in xs
        .chunks_exact(QK_K)
        .zip(out.chunks_exact_mut(bytes))
        .enumerate()
    {
        let o = match kind {
            KQuant::Q2K => quantize_block_q2_k(x, y),
            KQuant::Q3K => quantize_block_q3_k(x, y),
            KQuant::Q4K => quantize_block_q4_k(x, y),
            KQuant::Q5K => quantize_block_q5_k(x, y),
            KQuant::Q6K => quantize_block_q6_k(x, y),
        };
        check_block(
            kind,
            i,
            x,
            y,
            o.breaks.assert || o.nonfinite_scale,
            o.d_in,
            o.dmin_in,
        )?;
    }
    Ok(out)
}

/// `dequantize_row_qN_K` over whole blocks of `bytes` (a trailing partial block is ignored).
pub fn dequantize_row(kind: KQuant, bytes: &[u8]) -> Vec<f32> {
    let size = kind.block_bytes();
    let nb = bytes.len() / size;
    let mut out = vec![0.0f32; nb * QK_K];
    for (x, y) in bytes.chunks_exact(size).zip(out.chunks_exact_mut(QK_K)) {
        match kind {
            KQuant::Q2K => dequantize_block_q2_k(x, y),
            KQuant::Q3K => dequantize_block_q3_k(x, y),
            KQuant::Q4K => dequantize_block_q4_k(x, y),
            KQuant::Q5K => dequantize_block_q5_k(x, y),
            KQuant::Q6K => dequantize_block_q6_k(x, y),
        }
    }
    out
}

/// The whole result from the reference: the packed blocks, their codes and scales unpacked
/// ([`super::unpack_block`]) and their dequantization.
pub fn quantize(kind: KQuant, xs: &[f32]) -> Result<Quantized> {
    let bytes = quantize_row(kind, xs)?;
    let dequantized = dequantize_row(kind, &bytes);
    let mut codes = vec![0i32; xs.len()];
    let mut scales = Vec::with_capacity(xs.len() / QK_K);
    for (blk, c) in bytes
        .chunks_exact(kind.block_bytes())
        .zip(codes.chunks_exact_mut(QK_K))
    {
        scales.push(super::unpack_block(kind, blk, c));
    }
    Ok(Quantized {
        codes,
        dequantized,
        scales,
        block: QK_K,
        saturated: 0,
    })
}
