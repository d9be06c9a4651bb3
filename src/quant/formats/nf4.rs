//! QLoRA's NF4 (bitsandbytes' `quantize_4bit` and `_dequantize_4bit_impl`, the torch backend).
//!
//! Per block: `absmax = max|v|`, `s = clamp(v·(1/absmax), -1, 1)` in float32, the code the index
//! `k` of the smallest float32 `|s - NF4[k]|` (the first on a tie, as torch's `argmin`), and the
//! dequantized value `NF4[k]·absmax`. A last partial block has its own absmax.
//!
//! An all-zero block has `1/absmax = inf` and `s = 0·inf = NaN`. torch's `argmin` takes NaN as
//! the smallest value and returns the first index of a row of NaNs, 0, so every value of such a
//! block gets code 0 (the element -1) and dequantizes to `-1·0 = -0.0`. quantviz does the same.
//! The same NaN, and code 0, meets a zero in a block whose absmax is below 2^-128, where
//! `1/absmax` overflows too; that block's non-zero values scale to ±inf and clamp to ±1.

use super::float::{
    abs_max, avx2_dispatch, concat, crossover, in_parts, outputs, scales_with_capacity,
};
use super::{BlockScale, Format, Quantized};
use crate::error::Result;
use std::sync::OnceLock;

/// The 16 NF4 values (bitsandbytes' `CODE["nf4"]`, float32), in code order; each literal is
/// the shortest text that reads back as that float32.
pub const NF4: [f32; 16] = [
    -1.0,
    -0.696_192_8,
    -0.525_073_05,
    -0.394_917_5,
    -0.284_441_38,
    -0.184_773_43,
    -0.091_050_036,
    0.0,
    0.079_580_3,
    0.160_930_2,
    0.246_112_3,
    0.337_915_24,
    0.440_709_83,
    0.562_617,
    0.722_956_84,
    1.0,
];

/// Where each code takes over from the one below ([`crossover`]): the smallest float32 `s`
/// whose float32 distance to `NF4[k + 1]` is below its distance to `NF4[k]`. Made on first use.
fn thresholds() -> &'static [f32; 15] {
    static T: OnceLock<[f32; 15]> = OnceLock::new();
    T.get_or_init(|| std::array::from_fn(|k| crossover(NF4[k], NF4[k + 1])))
}

/// The code of the scaled value `s` and its NF4 value: the first index of the smallest float32
/// `|s - NF4[k]|`, found as the number of thresholds at or below `s` (only neighbouring codes
/// can tie, see [`crossover`]). A NaN `s` passes none and keeps index 0, as torch's `argmin`
/// gives it.
#[inline(always)]
fn nearest(s: f32, t: &[f32; 15]) -> (i32, f32) {
    let mut idx = 0i32;
    let mut val = NF4[0];
    for (&t, &c) in t.iter().zip(&NF4[1..]) {
        let past = s >= t;
        idx += i32::from(past);
        val = if past { c } else { val };
    }
    (idx, val)
}

/// A part for [`part`]: the block size, the thresholds, the values, codes and dequantized
/// values.
type Part<'a> = (
    usize,
    &'a [f32; 15],
    &'a [f32],
    &'a mut [i32],
    &'a mut [f32],
);

avx2_dispatch! {
    /// [`part`], compiled for AVX2 where the CPU has it.
    fn part_fast(p: Part<'_>) -> Vec<BlockScale> => part
}

/// NF4 on a part of whole blocks (the last may be partial): their absmax scales. Inlined into
/// [`part_fast`].
#[inline(always)]
fn part((block, t, x, c, y): Part<'_>) -> Vec<BlockScale> {
    // A local copy: the compiler then knows that writing the outputs cannot change it.
    let t = *t;
    let mut scales = scales_with_capacity(x.len().div_ceil(block));
    // The last block may be partial: chunks, not chunks_exact.
    for ((x, c), y) in x
        .chunks(block)
        .zip(c.chunks_mut(block))
        .zip(y.chunks_mut(block))
    {
        let absmax = abs_max(x);
        let inv = 1.0 / absmax;
        for ((&v, c), y) in x.iter().zip(c.iter_mut()).zip(y.iter_mut()) {
            // torch.clamp keeps NaN, as these comparisons do.
            let s = v * inv;
            let s = if s < -1.0 { -1.0 } else { s };
            let s = if s > 1.0 { 1.0 } else { s };
            let (k, q) = nearest(s, &t);
            *c = k;
            *y = q * absmax;
        }
        scales.push(BlockScale::AbsMax { absmax });
    }
    scales
}

/// NF4 of `xs` in blocks of `block` (a power of two from 32 to 4096; another is an error).
pub fn quantize(xs: &[f32], block: usize) -> Result<Quantized> {
    let block = Format::Nf4.block(Some(block))?;
    let n = xs.len();
    let (mut codes, mut deq) = outputs(n);
    let t = thresholds();
    let parts = in_parts(xs, &mut codes, &mut deq, block, &|_, x, c, y| {
        part_fast((block, t, x, c, y))
    });
    let scales = concat(parts);
    Ok(Quantized {
        codes,
        dequantized: deq,
        scales,
        block,
        saturated: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// torch's `argmin(|s - code|)`: every distance, the first minimum (NaN first of all).
    fn argmin(s: f32) -> i32 {
        if s.is_nan() {
            return 0;
        }
        let mut best = 0;
        for (k, &c) in NF4.iter().enumerate().skip(1) {
            if (s - c).abs() < (s - NF4[best]).abs() {
                best = k;
            }
        }
        best as i32
    }

    #[test]
    fn ties_take_the_lower_code() {
        let t = thresholds();
        // Halfway between the codes 7 (0.0) and 8 in float32: |s - 0| = |s - c8| exactly.
        let s = NF4[8] / 2.0;
        assert_eq!((s - NF4[8]).abs(), s);
        assert_eq!(nearest(s, t).0, 7);
        assert_eq!(nearest(f32::NAN, t), (0, -1.0));
        assert_eq!(nearest(1.0, t).0, 15);
        assert_eq!(nearest(-1.0, t).0, 0);
    }

    #[test]
    fn thresholds_pick_what_the_argmin_picks() {
        let t = thresholds();
        let mut probes = vec![0.0f32, -0.0, 1.0, -1.0, f32::NAN];
        for &p in NF4.iter().chain(t.iter()) {
            for k in -40i32..=40 {
                let b = p.to_bits() as i32 + k;
                probes.push(f32::from_bits(b as u32));
            }
        }
        for i in 0..=20_000 {
            probes.push(i as f32 / 10_000.0 - 1.0);
        }
        for s in probes.into_iter().filter(|s| s.is_nan() || s.abs() <= 1.0) {
            let (k, v) = nearest(s, t);
            assert_eq!(k, argmin(s), "s = {s:e}");
            assert_eq!(v.to_bits(), NF4[k as usize].to_bits(), "s = {s:e}");
        }
    }

    #[test]
    fn portable_and_avx2_builds_agree() {
        let mut x = crate::quant::formats::float::test_values(1 << 14);
        x.truncate(x.len() - 13);
        let n = x.len();
        let run_with = |fast: bool| {
            let (mut c, mut y) = (vec![0; n], vec![0f32; n]);
            let p = (64, thresholds(), &x[..], &mut c[..], &mut y[..]);
            let s = if fast { part_fast(p) } else { part(p) };
            (s, c, y.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        };
        assert!(run_with(true) == run_with(false));
    }

    #[test]
    fn zero_blocks_and_partial_blocks() {
        let mut x = vec![0.0f32; 64];
        x.extend([2.0, -1.0, 0.0]);
        let q = quantize(&x, 64).unwrap();
        assert_eq!(q.scales.len(), 2);
        assert!(q.codes[..64].iter().all(|&c| c == 0));
        assert!(q.dequantized[..64]
            .iter()
            .all(|&y| y.to_bits() == 0x8000_0000));
        assert_eq!(q.scales[1], BlockScale::AbsMax { absmax: 2.0 });
        // -1/2 = -0.5 is nearest -0.525 (code 2).
        assert_eq!(&q.codes[64..], &[15, 2, 7]);
        assert!(quantize(&x, 48).is_err());
        assert!(quantize(&x, 0).is_err());
    }
}
