//! The 4-bit floats with block scales: MXFP4 (E8M0 per 32) and NVFP4 (UE4M3 per 16), as
//! ggml's `quantize_row_mxfp4_ref` and `quantize_row_nvfp4_ref` compute them.
//!
//! Both store E2M1 elements (codes 0 to 15 in ggml's order: 0, 0.5, 1, 1.5, 2, 3, 4, 6, then
//! the same negated) and pick for each value the element nearest to it, comparing the float32
//! errors `|element·X - v|` over the codes in order and keeping the first minimum. ggml works
//! with the elements doubled and the scale halved; the products are the same floats.
//!
//! `saturated` counts the values given the largest element, ±6: the values a block's scale
//! maps at or beyond the end of the grid. In MXFP4 the power-of-two scale leaves the largest
//! magnitude between 4X and 8X, so values above 6X are clamped to 6X; NVFP4's scale saturates
//! at 448, which clamps every value of a sub-block beyond 2688.

use super::float::{
    abs_max, concat, e8m0_exponent, e8m0_half, in_parts, outputs, scales_with_capacity,
    ue4m3_from_f32, ue4m3_half, E2M1_DOUBLED_MAGNITUDES,
};
use super::{BlockScale, Quantized};
use crate::error::{Error, Result};

/// MXFP4's block (`QK_MXFP4`).
const QK_MXFP4: usize = 32;
/// NVFP4's block (`QK_NVFP4`) and sub-block (`QK_NVFP4_SUB`), one UE4M3 scale each.
const QK_NVFP4: usize = 64;
const QK_NVFP4_SUB: usize = 16;

/// The error of a count the block does not divide (the dispatcher checks it first; these
/// functions are public and check it again rather than drop a partial block).
fn whole_blocks(format: &'static str, n: usize, block: usize) -> Result<()> {
    if n % block == 0 {
        Ok(())
    } else {
        Err(Error::BlockCount { format, n, block })
    }
}

/// The doubled element magnitudes times the half scale `d`, as the reference's
/// `kvalues_mxfp4[i]*e` computes them (exact but for overflow at the largest scales).
#[inline]
fn scaled_elements(d: f32) -> [f32; 8] {
    E2M1_DOUBLED_MAGNITUDES.map(|k| k * d)
}

/// Quantizes one block (or sub-block) against the scaled elements `kd`: writes each value's
/// code and dequantized value, and returns how many took the largest element.
///
/// The reference scans all 16 codes; this scans the 8 magnitudes of `|v|`, which picks the same
/// code: for `v > 0` a negative element's error `k·d + v` is at least `v`, the error of code 0,
/// so it never beats it (the comparison is strict), and for `v < 0` the positive elements lose
/// the same way while each negative element's error is the positive one's for `|v|` (negating
/// both operands of a subtraction negates its rounded result). Code 8 (the negative zero) ties
/// code 0 and so never wins either; a negative value whose nearest element is zero gets code 0.
#[inline]
fn e2m1_block(x: &[f32], kd: &[f32; 8], codes: &mut [i32], deq: &mut [f32]) -> usize {
    // A narrow counter keeps the loop's lanes 32 bits wide.
    let mut top = 0u32;
    for ((&v, c), y) in x.iter().zip(codes.iter_mut()).zip(deq.iter_mut()) {
        let a = v.abs();
        // Code 0's error |0·d - v| is |v|.
        let mut best = a;
        let mut idx = 0i32;
        let mut val = 0f32;
        for (i, &k) in kd.iter().enumerate().skip(1) {
            let err = (k - a).abs();
            let better = err < best;
            best = if better { err } else { best };
            idx = if better { i as i32 } else { idx };
            val = if better { k } else { val };
        }
        let neg = v < 0.0 && idx > 0;
        *c = if neg { idx + 8 } else { idx };
        // The reference's kvalues[code]·d: the magnitude's product, negated for codes 9 to 15.
        *y = if neg { -val } else { val };
        top += u32::from(idx == 7);
    }
    top as usize
}

/// MXFP4 of `xs`: per block of 32, `X = 2^(e - 127)` with `e = floor(log2(max|v|)) - 2 + 127`
/// (see [`e8m0_exponent`] for how the reference's float32 `log2f` and cast decide it), and each
/// value's nearest E2M1 element times X.
pub fn mxfp4(xs: &[f32]) -> Result<Quantized> {
    let n = xs.len();
    whole_blocks("mxfp4", n, QK_MXFP4)?;
    let (mut codes, mut deq) = outputs(n);
    let parts = in_parts(xs, &mut codes, &mut deq, QK_MXFP4, &|_, x, c, y| {
        let mut scales = scales_with_capacity(x.len() / QK_MXFP4);
        let mut saturated = 0;
        let blocks = x
            .chunks_exact(QK_MXFP4)
            .zip(c.chunks_exact_mut(QK_MXFP4))
            .zip(y.chunks_exact_mut(QK_MXFP4));
        for ((x, c), y) in blocks {
            let e = e8m0_exponent(abs_max(x));
            saturated += e2m1_block(x, &scaled_elements(e8m0_half(e)), c, y);
            scales.push(BlockScale::E8m0 { e });
        }
        (scales, saturated)
    });
    Ok(gather(codes, deq, parts, QK_MXFP4))
}

/// The result from the parts' scales and saturation counts, in order.
fn gather(
    codes: Vec<i32>,
    deq: Vec<f32>,
    parts: Vec<(Vec<BlockScale>, usize)>,
    block: usize,
) -> Quantized {
    let saturated = parts.iter().map(|(_, k)| k).sum();
    let scales = concat(parts.into_iter().map(|(s, _)| s).collect());
    Quantized {
        codes,
        dequantized: deq,
        scales,
        block,
        saturated,
    }
}

/// NVFP4 of `xs` as ggml stores it: blocks of 64, each sub-block of 16 with the UE4M3 scale
/// `s = ue4m3(max|v| / 6)` (see [`ue4m3_from_f32`] for ggml's rounding) and each value's nearest
/// E2M1 element times `s`. No per-tensor scale: a sub-block whose `max|v|/6` is below 2^-6 gets
/// a subnormal scale (and zero below 2^-10), one above 448 the saturated 448.
pub fn nvfp4(xs: &[f32]) -> Result<Quantized> {
    let n = xs.len();
    whole_blocks("nvfp4", n, QK_NVFP4)?;
    let (mut codes, mut deq) = outputs(n);
    let parts = in_parts(xs, &mut codes, &mut deq, QK_NVFP4, &|_, x, c, y| {
        let mut scales = scales_with_capacity(x.len() / QK_NVFP4);
        let mut saturated = 0;
        let blocks = x
            .chunks_exact(QK_NVFP4)
            .zip(c.chunks_exact_mut(QK_NVFP4))
            .zip(y.chunks_exact_mut(QK_NVFP4));
        for ((x, c), y) in blocks {
            let mut s = [0u8; 4];
            let subs = x
                .chunks_exact(QK_NVFP4_SUB)
                .zip(c.chunks_exact_mut(QK_NVFP4_SUB))
                .zip(y.chunks_exact_mut(QK_NVFP4_SUB));
            for (sb, ((x, c), y)) in s.iter_mut().zip(subs) {
                *sb = ue4m3_from_f32(abs_max(x) / 6.0);
                saturated += e2m1_block(x, &scaled_elements(ue4m3_half(*sb)), c, y);
            }
            scales.push(BlockScale::Ue4m3 { s });
        }
        (scales, saturated)
    });
    Ok(gather(codes, deq, parts, QK_NVFP4))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ggml's `kvalues_mxfp4`, all 16 codes.
    const E2M1_DOUBLED: [i8; 16] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

    /// The reference's search over all 16 codes, for comparison.
    fn best_index_16(v: f32, d: f32) -> i32 {
        let mut best = 0;
        let mut err0 = (f32::from(E2M1_DOUBLED[0]) * d - v).abs();
        for (i, &k) in E2M1_DOUBLED.iter().enumerate().skip(1) {
            let err = (f32::from(k) * d - v).abs();
            if err < err0 {
                best = i as i32;
                err0 = err;
            }
        }
        best
    }

    #[test]
    fn eight_magnitudes_pick_what_sixteen_codes_pick() {
        let d = 0.25f32;
        let kd = scaled_elements(d);
        let mut x = Vec::new();
        for i in -400..=400 {
            x.push(i as f32 * 0.0078125);
            x.push(i as f32 * 0.01 + 1e-3);
        }
        x.push(-0.0);
        let mut c = vec![0; x.len()];
        let mut y = vec![0.0; x.len()];
        e2m1_block(&x, &kd, &mut c, &mut y);
        for (i, &v) in x.iter().enumerate() {
            let want = best_index_16(v, d);
            assert_eq!(c[i], want, "value {v}");
            let ref_y = f32::from(E2M1_DOUBLED[want as usize]) * d;
            assert_eq!(y[i].to_bits(), ref_y.to_bits(), "value {v}");
        }
    }

    #[test]
    fn mxfp4_ties_take_the_first_element() {
        // max 7 gives e = floor(log2 7) - 2 + 127 = 127: X = 1. 0.75 lies halfway between 0.5
        // (code 1) and 1 (code 2), 5 halfway between 4 (code 6) and 6 (code 7).
        let mut x = vec![0.0f32; 32];
        x[..5].copy_from_slice(&[4.0, 0.75, -0.75, 5.0, 7.0]);
        let q = mxfp4(&x).unwrap();
        assert_eq!(q.scales[0], BlockScale::E8m0 { e: 127 });
        assert_eq!(&q.codes[..5], &[6, 1, 9, 6, 7]);
        assert_eq!(&q.dequantized[..5], &[4.0, 0.5, -0.5, 4.0, 6.0]);
        // 7 is beyond 6X: clamped to the largest element.
        assert_eq!(q.saturated, 1);
    }
}
