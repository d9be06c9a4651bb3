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
    abs_max, avx2_dispatch, concat, crossover, e8m0_exponent, e8m0_half, in_parts, outputs,
    scales_with_capacity, ue4m3_from_f32, ue4m3_half, E2M1_DOUBLED_MAGNITUDES,
};
use super::{BlockScale, Quantized};
use crate::error::{Error, Result};
use std::sync::OnceLock;

/// MXFP4's block (`QK_MXFP4`).
const QK_MXFP4: usize = 32;
/// NVFP4's block (`QK_NVFP4`) and sub-block (`QK_NVFP4_SUB`), one UE4M3 scale each.
const QK_NVFP4: usize = 64;
const QK_NVFP4_SUB: usize = 16;

/// The error of a count the block does not divide (the dispatcher checks it first; these
/// functions are public and check it again rather than drop a partial block).
fn whole_blocks(format: &'static str, n: usize, block: usize) -> Result<()> {
    if n.is_multiple_of(block) {
        Ok(())
    } else {
        Err(Error::BlockCount { format, n, block })
    }
}

/// The elements of one scale: the doubled magnitudes times the half scale `d`, as the
/// reference's `kvalues_mxfp4[i]*e` computes them (exact but for overflow to infinity at the
/// largest scales), the thresholds where each takes over from the one below ([`crossover`]),
/// and how far the thresholds hold.
///
/// Neighbouring elements are at least `d` apart, so the float32 errors of two elements differ
/// by at least `d` minus rounding; rounding can merge them only where an ulp of the error
/// exceeds `d`, beyond `2^23·d`. Up to `far = 2^22·d` only neighbours can tie and the
/// thresholds decide. Beyond it the errors of several elements can round to one float and the
/// reference's first minimum takes the smallest of them (a huge value in an NVFP4 sub-block
/// whose scale saturated at 448 gets code 0): blocks reaching past `far` are scanned as the
/// reference scans them. MXFP4's scale follows its block's largest magnitude, so its blocks
/// never do; NVFP4's do only above about 6e9.
struct Grid {
    kd: [f32; 8],
    t: [f32; 7],
    far: f32,
}

impl Grid {
    fn new(d: f32) -> Grid {
        let kd = E2M1_DOUBLED_MAGNITUDES.map(|k| k * d);
        let t = std::array::from_fn(|i| crossover(kd[i], kd[i + 1]));
        // A zero scale makes every element 0 and every threshold infinite: code 0 everywhere,
        // which is the reference's answer too.
        let far = if d == 0.0 {
            f32::INFINITY
        } else {
            d * 4_194_304.0
        };
        Grid { kd, t, far }
    }
}

/// MXFP4's grids, one per exponent byte `e`, made on first use.
fn mxfp4_grids() -> &'static [Grid; 256] {
    static GRIDS: OnceLock<Box<[Grid; 256]>> = OnceLock::new();
    GRIDS.get_or_init(|| Box::new(std::array::from_fn(|e| Grid::new(e8m0_half(e as u8)))))
}

/// NVFP4's grids, one per UE4M3 byte `s` (below 0x80), made on first use.
fn nvfp4_grids() -> &'static [Grid; 128] {
    static GRIDS: OnceLock<Box<[Grid; 128]>> = OnceLock::new();
    GRIDS.get_or_init(|| Box::new(std::array::from_fn(|s| Grid::new(ue4m3_half(s as u8)))))
}

/// Quantizes one block (or sub-block) on the grid `g`: writes each value's code and
/// dequantized value, and returns how many took the largest element.
///
/// The reference scans all 16 codes for the first smallest float32 error; this picks the same
/// code from `|v|` and the grid's thresholds. For `v > 0` a negative element's error `k·d + v`
/// is at least `v`, the error of code 0, so it never beats it (the comparison is strict); for
/// `v < 0` the positive elements lose the same way, and each negative element's error is the
/// positive one's for `|v|` (negating both operands of a subtraction negates its rounded
/// result). Code 8 (the negative zero) ties code 0 and never wins either: a negative value
/// whose nearest element is zero gets code 0. Among the magnitudes, the nearest is the number
/// of thresholds at or below `|v|` ([`crossover`]): seven comparisons that vectorize instead of
/// sixteen error computations.
///
/// `amax` is the block's largest magnitude: past the grid's `far`, the block is scanned
/// instead ([`e2m1_scan`]).
#[inline(always)]
fn e2m1_block(x: &[f32], g: &Grid, amax: f32, codes: &mut [i32], deq: &mut [f32]) -> usize {
    if amax > g.far {
        return e2m1_scan(x, &g.kd, codes, deq);
    }
    // Local copies: the compiler then knows that writing the outputs cannot change them.
    let (t, kd) = (g.t, g.kd);
    // A narrow counter keeps the loop's lanes 32 bits wide.
    let mut top = 0u32;
    for ((&v, c), y) in x.iter().zip(codes.iter_mut()).zip(deq.iter_mut()) {
        let a = v.abs();
        let mut idx = 0i32;
        let mut val = 0f32;
        for (&t, &k) in t.iter().zip(&kd[1..]) {
            let past = a >= t;
            idx += i32::from(past);
            val = if past { k } else { val };
        }
        let neg = v < 0.0 && idx > 0;
        *c = if neg { idx + 8 } else { idx };
        // The reference's kvalues[code]·d: the magnitude's product, negated for codes 9 to 15.
        *y = if neg { -val } else { val };
        top += u32::from(idx == 7);
    }
    top as usize
}

/// [`e2m1_block`] the reference's way, for blocks beyond the thresholds' reach: every
/// magnitude's float32 error, the first minimum kept.
#[cold]
fn e2m1_scan(x: &[f32], kd: &[f32; 8], codes: &mut [i32], deq: &mut [f32]) -> usize {
    let mut top = 0;
    for ((&v, c), y) in x.iter().zip(codes.iter_mut()).zip(deq.iter_mut()) {
        let a = v.abs();
        // Code 0's error |0·d - v| is |v|.
        let mut best = a;
        let mut idx = 0;
        for (i, &k) in kd.iter().enumerate().skip(1) {
            let err = (k - a).abs();
            if err < best {
                best = err;
                idx = i;
            }
        }
        let neg = v < 0.0 && idx > 0;
        *c = if neg { idx as i32 + 8 } else { idx as i32 };
        *y = if neg { -kd[idx % 8] } else { kd[idx % 8] };
        top += usize::from(idx == 7);
    }
    top
}

/// MXFP4 of `xs`: per block of 32, `X = 2^(e - 127)` with `e = floor(log2(max|v|)) - 2 + 127`
/// (see [`e8m0_exponent`] for how the reference's float32 `log2f` and cast decide it), and each
/// value's nearest E2M1 element times X.
pub fn mxfp4(xs: &[f32]) -> Result<Quantized> {
    let n = xs.len();
    whole_blocks("mxfp4", n, QK_MXFP4)?;
    let (mut codes, mut deq) = outputs(n);
    let grids = mxfp4_grids();
    let parts = in_parts(xs, &mut codes, &mut deq, QK_MXFP4, &|_, x, c, y| {
        mxfp4_fast((grids, x, c, y))
    });
    Ok(gather(codes, deq, parts, QK_MXFP4))
}

/// A part's values, codes and dequantized values, with the grids of its format.
type MxPart<'a, const G: usize> = (&'a [Grid; G], &'a [f32], &'a mut [i32], &'a mut [f32]);

avx2_dispatch! {
    /// [`mxfp4_part`], compiled for AVX2 where the CPU has it.
    fn mxfp4_fast(p: MxPart<'_, 256>) -> (Vec<BlockScale>, usize) => mxfp4_part
}

avx2_dispatch! {
    /// [`nvfp4_part`], compiled for AVX2 where the CPU has it.
    fn nvfp4_fast(p: MxPart<'_, 128>) -> (Vec<BlockScale>, usize) => nvfp4_part
}

/// MXFP4 on a part of whole blocks: its scales and how many values saturated. Inlined into
/// [`mxfp4_fast`].
#[inline(always)]
fn mxfp4_part((grids, x, c, y): MxPart<'_, 256>) -> (Vec<BlockScale>, usize) {
    let mut scales = scales_with_capacity(x.len() / QK_MXFP4);
    let mut saturated = 0;
    let blocks = x
        .chunks_exact(QK_MXFP4)
        .zip(c.chunks_exact_mut(QK_MXFP4))
        .zip(y.chunks_exact_mut(QK_MXFP4));
    for ((x, c), y) in blocks {
        let amax = abs_max(x);
        let e = e8m0_exponent(amax);
        saturated += e2m1_block(x, &grids[usize::from(e)], amax, c, y);
        scales.push(BlockScale::E8m0 { e });
    }
    (scales, saturated)
}

/// NVFP4 on a part of whole blocks, as [`mxfp4_part`]; inlined into [`nvfp4_fast`].
#[inline(always)]
fn nvfp4_part((grids, x, c, y): MxPart<'_, 128>) -> (Vec<BlockScale>, usize) {
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
            let amax = abs_max(x);
            *sb = ue4m3_from_f32(amax / 6.0);
            saturated += e2m1_block(x, &grids[usize::from(*sb & 0x7F)], amax, c, y);
        }
        scales.push(BlockScale::Ue4m3 { s });
    }
    (scales, saturated)
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
    let grids = nvfp4_grids();
    let parts = in_parts(xs, &mut codes, &mut deq, QK_NVFP4, &|_, x, c, y| {
        nvfp4_fast((grids, x, c, y))
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

    /// Values to try on a grid: its elements, the thresholds, the floats next to both, values
    /// in between, both signs.
    fn probes(g: &Grid) -> Vec<f32> {
        let mut v = vec![0.0, -0.0, f32::MAX, -f32::MAX, f32::from_bits(1)];
        let step = |x: f32, k: i32| f32::from_bits((x.to_bits() as i32 + k).max(0) as u32);
        for &p in
            g.kd.iter()
                .chain(g.t.iter())
                .chain([&g.far])
                .filter(|p| p.is_finite())
        {
            for k in -3..=3 {
                v.push(step(p, k));
            }
            v.push(p * 0.75);
            v.push(p * 1.3);
            v.push(p * 3e6);
        }
        let neg: Vec<f32> = v.iter().map(|x| -x).collect();
        v.extend(neg);
        v.retain(|x| x.is_finite());
        v
    }

    #[test]
    fn thresholds_pick_what_sixteen_codes_pick() {
        let grids = (0..=255u8)
            .map(|e| (e8m0_half(e), &mxfp4_grids()[usize::from(e)]))
            .chain((0..0x7Fu8).map(|s| (ue4m3_half(s), &nvfp4_grids()[usize::from(s)])));
        for (d, g) in grids {
            // Within reach of the thresholds, then beyond (scanned).
            let (near, far): (Vec<f32>, Vec<f32>) =
                probes(g).into_iter().partition(|v| v.abs() <= g.far);
            for x in [near, far] {
                let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
                let mut c = vec![0; x.len()];
                let mut y = vec![0f32; x.len()];
                e2m1_block(&x, g, amax, &mut c, &mut y);
                for (i, &v) in x.iter().enumerate() {
                    let want = best_index_16(v, d);
                    assert_eq!(c[i], want, "value {v:e}, half scale {d:e}");
                    let ref_y = f32::from(E2M1_DOUBLED[want as usize]) * d;
                    let got = y[i].to_bits();
                    assert_eq!(got, ref_y.to_bits(), "value {v:e}, half scale {d:e}");
                }
            }
        }
    }

    #[test]
    fn portable_and_avx2_builds_agree() {
        let x = crate::quant::formats::float::test_values(1 << 14);
        let n = x.len();
        let bits = |y: &[f32]| y.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let run_with = |fast: bool| {
            let (mut c, mut y) = (vec![0; n], vec![0f32; n]);
            let p = (mxfp4_grids(), &x[..], &mut c[..], &mut y[..]);
            let r = if fast { mxfp4_fast(p) } else { mxfp4_part(p) };
            let (mut c2, mut y2) = (vec![0; n], vec![0f32; n]);
            let p = (nvfp4_grids(), &x[..], &mut c2[..], &mut y2[..]);
            let r2 = if fast { nvfp4_fast(p) } else { nvfp4_part(p) };
            (r, c, bits(&y), r2, c2, bits(&y2))
        };
        assert!(run_with(true) == run_with(false));
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
