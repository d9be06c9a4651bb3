//! ggml's block formats Q4_0, Q4_1 and Q8_0 (`quantize_row_*_ref`, `dequantize_row_*`).
//!
//! Blocks of 32 values, each with an fp16 scale (and for Q4_1 an fp16 minimum), computed in
//! float32 exactly as ggml's reference functions do, so that codes, stored scales and
//! dequantized values match them bit for bit. The caller ([`super::quantize`]) has checked
//! that the count is a multiple of 32 and that every value is finite.
//!
//! Two cases the reference leaves to the hardware, matched as x86 builds of ggml (and gguf's
//! numpy port) give them:
//! - a scale below about 3e-39 has an infinite reciprocal, so every `v·id` is infinite or NaN
//!   and C's float-to-integer cast of it is undefined; x86 gives the integer 0x80000000, whose
//!   low byte is the code 0. The fp16 scale of such a block is zero anyway (fp16 flushes
//!   anything below 2^-25), so the block dequantizes to zeros whatever the codes;
//! - a scale that fp16 rounds to infinity (|d| from 65520 up) would dequantize to infinities
//!   and NaNs: quantviz refuses the block with [`Error::ScaleOverflow`] instead.

use super::float::{
    abs_max, avx2_dispatch, concat, floor_small, fp16_round, in_parts, int_of, outputs,
    scales_with_capacity, FP16_MAX,
};
use super::{BlockScale, Quantized};
use crate::error::{Error, Result};

/// Values per block (`QK4_0`, `QK4_1`, `QK8_0`).
const QK: usize = 32;

/// A block's stored scale, or the float32 scale (or minimum) that fp16 rounds to infinity.
type BlockResult = std::result::Result<BlockScale, f32>;

/// Runs `B::block` over every block of 32 (in parts on threads for large data) and gathers the
/// result; the first block whose scale overflows fp16 is the error. A count 32 does not divide
/// is an error too: the dispatcher checks it first, but these functions are public and check it
/// again rather than drop a partial block.
fn run<B: Block>(xs: &[f32]) -> Result<Quantized> {
    let format = B::NAME;
    let n = xs.len();
    if !n.is_multiple_of(QK) {
        return Err(Error::BlockCount {
            format,
            n,
            block: QK,
        });
    }
    let (mut codes, mut deq) = outputs(n);
    let parts = in_parts(xs, &mut codes, &mut deq, QK, &|first, x, c, y| {
        part_fast::<B>((first, x, c, y))
    });
    // Parts are in order, so the first error is the first overflowing block.
    let scales = concat(parts.into_iter().collect::<Result<Vec<_>>>()?);
    Ok(Quantized {
        codes,
        dequantized: deq,
        scales,
        block: QK,
        saturated: 0,
    })
}

/// One of the three formats: its name and what it does to a block of 32.
trait Block {
    const NAME: &'static str;
    /// Quantizes one block: writes its codes and dequantized values, returns its stored
    /// scale or the float32 scale that overflows fp16.
    fn block(x: &[f32], c: &mut [i32], y: &mut [f32]) -> BlockResult;
}

/// A part of whole blocks for [`part`]: the index of its first block, its values, codes and
/// dequantized values.
type Part<'a> = (usize, &'a [f32], &'a mut [i32], &'a mut [f32]);

avx2_dispatch! {
    /// [`part`], compiled for AVX2 where the CPU has it.
    fn part_fast<B: Block>(p: Part<'_>) -> Result<Vec<BlockScale>> => part
}

/// `B::block` over a part's blocks: their scales, or the first overflow. Inlined into
/// [`part_fast`], with the block's code inlined into it (a static call).
#[inline(always)]
fn part<B: Block>((first, x, c, y): Part<'_>) -> Result<Vec<BlockScale>> {
    let format = B::NAME;
    let mut scales = scales_with_capacity(x.len() / QK);
    let blocks = x
        .chunks_exact(QK)
        .zip(c.chunks_exact_mut(QK))
        .zip(y.chunks_exact_mut(QK));
    for (i, ((x, c), y)) in blocks.enumerate() {
        match B::block(x, c, y) {
            Ok(s) => scales.push(s),
            Err(scale) => {
                return Err(Error::ScaleOverflow {
                    format,
                    block: first + i,
                    scale: f64::from(scale),
                    limit: FP16_MAX,
                })
            }
        }
    }
    Ok(scales)
}

/// Q4_0 of `xs`: `d = m / -8` with `m` the first value of largest magnitude (sign kept),
/// `q = min(15, trunc(v/d + 8.5))`, dequantized `(q - 8)·fp16(d)`.
pub fn q4_0(xs: &[f32]) -> Result<Quantized> {
    run::<Q40>(xs)
}

/// The first value of `x` whose magnitude is `amax` (`amax` is one of them), found through a
/// mask of the matches so that the comparisons vectorize.
#[inline(always)]
fn first_with_magnitude(x: &[f32], amax: f32) -> f32 {
    let mut mask = 0u64;
    for (j, v) in x.iter().enumerate().take(64) {
        mask |= u64::from(v.abs() == amax) << j;
    }
    x.get(mask.trailing_zeros() as usize)
        .copied()
        .unwrap_or(0.0)
}

/// The [`Block`] of Q4_0.
struct Q40;

impl Block for Q40 {
    const NAME: &'static str = "q4_0";
    #[inline(always)]
    fn block(x: &[f32], c: &mut [i32], y: &mut [f32]) -> BlockResult {
        q4_0_block(x, c, y)
    }
}

#[inline(always)]
fn q4_0_block(x: &[f32], c: &mut [i32], y: &mut [f32]) -> BlockResult {
    let amax = abs_max(x);
    // The reference keeps the first value whose magnitude beats the running maximum
    // (starting from 0.0), so an all-zero block has m = +0.0 whatever its zeros' signs.
    let m = if amax > 0.0 {
        first_with_magnitude(x, amax)
    } else {
        0.0
    };
    let d = m / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let (bits, d16) = fp16_round(d);
    if d16.is_infinite() {
        return Err(d);
    }
    if id.is_finite() {
        for ((&v, c), y) in x.iter().zip(c.iter_mut()).zip(y.iter_mut()) {
            // v·id lies in [-8, 8] (up to rounding), so the sum is at least 0.49 and its
            // truncation, C's cast to int8_t, is its floor.
            let q = floor_small(v * id + 8.5);
            let q = int_of(if q > 15.0 { 15.0 } else { q });
            *c = q;
            *y = (q - 8) as f32 * d16;
        }
    } else {
        // See the module comment: code 0 everywhere; d16 is ±0, so (0 - 8)·d16 is ∓0.
        c.fill(0);
        y.fill(-8.0 * d16);
    }
    Ok(BlockScale::Fp16 { d: bits })
}

/// The block's minimum and maximum as the reference's loop finds them (strict comparisons from
/// `FLT_MAX` and `-FLT_MAX`): the values are the same in any order, but for a zero the sign is
/// that of the first zero, which the stored fp16 minimum keeps.
#[inline(always)]
fn min_max(x: &[f32]) -> (f32, f32) {
    let (lo, hi) = min_max_lanes(x);
    let mut min = f32::MAX;
    let mut max = -f32::MAX;
    for (&l, &h) in lo.iter().zip(&hi) {
        min = if l < min { l } else { min };
        max = if h > max { h } else { max };
    }
    let first_zero = || x.iter().copied().find(|&v| v == 0.0).unwrap_or(0.0);
    if min == 0.0 {
        min = first_zero();
    }
    if max == 0.0 {
        max = first_zero();
    }
    (min, max)
}

/// The minimum and maximum of lane `j` (values `x[8k + j]`), by strict comparisons from
/// `FLT_MAX` and `-FLT_MAX`.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn min_max_lanes(x: &[f32]) -> ([f32; 8], [f32; 8]) {
    let mut lo = [f32::MAX; 8];
    let mut hi = [-f32::MAX; 8];
    for ch in x.chunks_exact(8) {
        for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(ch) {
            *l = if v < *l { v } else { *l };
            *h = if v > *h { v } else { *h };
        }
    }
    (lo, hi)
}

/// [`min_max_lanes`] in simd128: LLVM leaves the compare-and-select loop scalar on wasm32, and
/// `f32x4_pmin(l, v)` is defined as `if v < l { v } else { l }` (and `pmax(h, v)` as
/// `if h < v { v } else { h }`), so each lane takes the same values in the same order.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn min_max_lanes(x: &[f32]) -> ([f32; 8], [f32; 8]) {
    use core::arch::wasm32::*;
    let mut lo = [f32x4_splat(f32::MAX); 2];
    let mut hi = [f32x4_splat(-f32::MAX); 2];
    for ch in x.chunks_exact(8) {
        for (half, (l, h)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
            let v = f32x4(
                ch[4 * half],
                ch[4 * half + 1],
                ch[4 * half + 2],
                ch[4 * half + 3],
            );
            *l = f32x4_pmin(*l, v);
            *h = f32x4_pmax(*h, v);
        }
    }
    let lanes = |v: [v128; 2]| {
        let mut out = [0f32; 8];
        for (k, o) in out.iter_mut().enumerate() {
            let w = v[k / 4];
            *o = match k % 4 {
                0 => f32x4_extract_lane::<0>(w),
                1 => f32x4_extract_lane::<1>(w),
                2 => f32x4_extract_lane::<2>(w),
                _ => f32x4_extract_lane::<3>(w),
            };
        }
        out
    };
    (lanes(lo), lanes(hi))
}

/// Q4_1 of `xs`: `d = (max - min)/15`, `q = min(15, trunc((v - min)/d + 0.5))`, dequantized
/// `q·fp16(d) + fp16(min)`.
pub fn q4_1(xs: &[f32]) -> Result<Quantized> {
    run::<Q41>(xs)
}

/// The [`Block`] of Q4_1.
struct Q41;

impl Block for Q41 {
    const NAME: &'static str = "q4_1";
    #[inline(always)]
    fn block(x: &[f32], c: &mut [i32], y: &mut [f32]) -> BlockResult {
        q4_1_block(x, c, y)
    }
}

#[inline(always)]
fn q4_1_block(x: &[f32], c: &mut [i32], y: &mut [f32]) -> BlockResult {
    let (min, max) = min_max(x);
    let d = (max - min) / 15.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let (d_bits, d16) = fp16_round(d);
    let (m_bits, m16) = fp16_round(min);
    if d16.is_infinite() {
        return Err(d);
    }
    if m16.is_infinite() {
        return Err(min);
    }
    if id.is_finite() {
        for ((&v, c), y) in x.iter().zip(c.iter_mut()).zip(y.iter_mut()) {
            // (v - min)·id lies in [0, 15] up to rounding: the truncation is the floor.
            let q = floor_small((v - min) * id + 0.5);
            let q = int_of(if q > 15.0 { 15.0 } else { q });
            *c = q;
            *y = q as f32 * d16 + m16;
        }
    } else {
        // See the module comment: code 0, and 0·d16 + m16 with both zero is +0.
        c.fill(0);
        y.fill(0.0 * d16 + m16);
    }
    Ok(BlockScale::Fp16Min {
        d: d_bits,
        m: m_bits,
    })
}

/// C's `roundf` (half away from zero) of `t`, for |t| below 2^22: the floor of `|t|` plus one
/// where the dropped fraction is at least one half, with `t`'s sign. (`f32::round` is a
/// library call on targets without SSE4.1 and keeps the loop from vectorizing.)
#[inline(always)]
fn round_half_away(t: f32) -> i32 {
    let a = t.abs();
    let f = floor_small(a);
    // a - f is exact: f is a's integer part.
    let r = if a - f >= 0.5 { f + 1.0 } else { f };
    int_of(if t < 0.0 { -r } else { r })
}

/// Q8_0 of `xs`: `d = max|v|/127`, `q = roundf(v/d)` (the signed code, -127 to 127),
/// dequantized `q·fp16(d)`.
pub fn q8_0(xs: &[f32]) -> Result<Quantized> {
    run::<Q80>(xs)
}

/// The [`Block`] of Q8_0.
struct Q80;

impl Block for Q80 {
    const NAME: &'static str = "q8_0";
    #[inline(always)]
    fn block(x: &[f32], c: &mut [i32], y: &mut [f32]) -> BlockResult {
        q8_0_block(x, c, y)
    }
}

#[inline(always)]
fn q8_0_block(x: &[f32], c: &mut [i32], y: &mut [f32]) -> BlockResult {
    let amax = abs_max(x);
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let (bits, d16) = fp16_round(d);
    if d16.is_infinite() {
        return Err(d);
    }
    if id.is_finite() {
        for ((&v, c), y) in x.iter().zip(c.iter_mut()).zip(y.iter_mut()) {
            // |v·id| is at most 127 (up to rounding): the code fits int8 as in the reference.
            let q = round_half_away(v * id);
            *c = q;
            *y = q as f32 * d16;
        }
    } else {
        // See the module comment: code 0, and 0·d16 with d16 = +0 is +0.
        c.fill(0);
        y.fill(0.0);
    }
    Ok(BlockScale::Fp16 { d: bits })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_and_avx2_builds_agree() {
        let x = crate::quant::formats::float::test_values(1 << 14);
        let n = x.len();
        let run_with = |fast: bool| {
            let (mut c, mut y) = (vec![0; n], vec![0f32; n]);
            let s = if fast {
                part_fast::<Q40>((0, &x, &mut c, &mut y))
            } else {
                part::<Q40>((0, &x, &mut c, &mut y))
            };
            (s, c, y.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        };
        assert!(run_with(true) == run_with(false));
        let run_with = |fast: bool| {
            let (mut c, mut y) = (vec![0; n], vec![0f32; n]);
            let s1 = if fast {
                part_fast::<Q41>((0, &x, &mut c, &mut y))
            } else {
                part::<Q41>((0, &x, &mut c, &mut y))
            };
            let (mut c8, mut y8) = (vec![0; n], vec![0f32; n]);
            let s8 = if fast {
                part_fast::<Q80>((0, &x, &mut c8, &mut y8))
            } else {
                part::<Q80>((0, &x, &mut c8, &mut y8))
            };
            let bits = |y: &[f32]| y.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            (s1, c, bits(&y), s8, c8, bits(&y8))
        };
        assert!(run_with(true) == run_with(false));
    }

    fn block(first: &[f32]) -> Vec<f32> {
        let mut x = first.to_vec();
        x.resize(QK, 0.0);
        x
    }

    #[test]
    fn q4_0_keeps_the_sign_of_the_largest_magnitude() {
        // m = -4 (the first of -4 and 4): d = 0.5, so -4 is code 0 and 4 is code 16 -> 15.
        let q = q4_0(&block(&[1.0, -4.0, 4.0, 0.25])).unwrap();
        assert_eq!(q.scales[0], BlockScale::Fp16 { d: 0x3800 });
        assert_eq!(&q.codes[..5], &[10, 0, 15, 9, 8]);
        assert_eq!(&q.dequantized[..5], &[1.0, -4.0, 3.5, 0.5, 0.0]);
    }

    #[test]
    fn q8_0_rounds_half_away_from_zero() {
        assert_eq!(round_half_away(2.5), 3);
        assert_eq!(round_half_away(-2.5), -3);
        assert_eq!(round_half_away(0.49999997), 0);
        assert_eq!(round_half_away(-0.5), -1);
        assert_eq!(round_half_away(126.99999), 127);
        assert_eq!(round_half_away(-0.3), 0);
        // max 127: d = 1, so 2.5 and -0.5 sit exactly halfway.
        let q = q8_0(&block(&[127.0, 2.5, -0.5, -126.5])).unwrap();
        assert_eq!(&q.codes[..4], &[127, 3, -1, -127]);
    }

    #[test]
    fn scales_that_overflow_fp16_are_errors() {
        // d = 65519 rounds to 65504 and is kept, as the reference keeps it; 65520 overflows.
        assert!(q8_0(&block(&[65519.0 * 127.0])).is_ok());
        let e = q8_0(&[&[0.0; 32][..], &block(&[65520.0 * 127.0])].concat()).unwrap_err();
        assert!(matches!(e, Error::ScaleOverflow { block: 1, .. }), "{e:?}");
        assert!(q4_0(&block(&[-8.0 * 65520.0])).is_err());
        // Q4_1's minimum is stored in fp16 too.
        assert!(q4_1(&[70000.0; 32]).is_err());
    }

    #[test]
    fn tiny_scales_flush_to_zero() {
        let q = q4_0(&block(&[1e-39, -2e-39])).unwrap();
        assert!(q.codes.iter().all(|&c| c == 0));
        assert!(q.dequantized.iter().all(|&y| y.to_bits() == 0x8000_0000));
        let q = q8_0(&block(&[1e-39, -2e-39])).unwrap();
        assert!(q.dequantized.iter().all(|&y| y.to_bits() == 0));
    }

    #[test]
    fn zero_signs_as_the_reference() {
        // The reference's running maximum starts at +0.0: d = +0/-8 = -0.
        let q = q4_0(&block(&[-0.0])).unwrap();
        assert_eq!(q.scales[0], BlockScale::Fp16 { d: 0x8000 });
        assert!(q.dequantized.iter().all(|&y| y.to_bits() == 0x8000_0000));
        // Q4_1 keeps the first zero as its minimum.
        let q = q4_1(&block(&[-0.0])).unwrap();
        assert_eq!(q.scales[0], BlockScale::Fp16Min { d: 0, m: 0x8000 });
        let q = q4_1(&block(&[0.0, -0.0])).unwrap();
        assert_eq!(q.scales[0], BlockScale::Fp16Min { d: 0, m: 0 });
    }
}
