//! A format's run block by block: each block's stored scale read back as numbers, the values its
//! codes stand for, its error, and a summary of every block small enough for the page's strip.
//!
//! Reading a scale back follows the formats' dequantization: a code's value is computed here in
//! float32 in the reference's order (`(q - 8)·d`, `d·sc·q - dmin·m`, ...), the same float the
//! format's own dequantization gives (checked against it in the tests), so that the page can
//! write the reconstruction of any value with the numbers that make it.

use crate::analysis::histogram::Histogram;
use crate::quant::formats::{BlockScale, Format, Quantized};
use half::f16;

/// QLoRA's NF4 levels (bitsandbytes' table): the code is the index.
pub use crate::quant::formats::nf4::NF4 as NF4_LEVELS;

/// The E2M1 elements of MXFP4 and NVFP4 in ggml's code order (codes 8 to 15 are 0 to 7 negated).
pub const E2M1: [f32; 16] = [
    0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0,
];

/// The most entries [`BlockSummary`] keeps: more blocks than this are taken in equal groups.
pub const SUMMARY_ENTRIES: usize = 2048;

/// `2^k` as a float32, exactly (subnormal from 2^-127 down to 2^-149; 0 below, inf above 127).
pub fn pow2(k: i32) -> f32 {
    match k {
        128.. => f32::INFINITY,
        -126..=127 => f32::from_bits(((k + 127) as u32) << 23),
        -149..=-127 => f32::from_bits(1u32 << (k + 149)),
        _ => 0.0,
    }
}

/// An fp16's value.
#[inline(never)]
pub fn fp16(bits: u16) -> f32 {
    f16::from_bits(bits).to_f32()
}

/// MXFP4's E8M0 scale `2^(e - 127)` (255, NaN in the OCP encoding, reads as 2^128 = inf).
#[inline(never)]
pub fn e8m0(e: u8) -> f32 {
    pow2(i32::from(e) - 127)
}

/// An unsigned E4M3 byte's value (NVFP4's scales): 4 exponent bits (bias 7), 3 mantissa bits,
/// subnormal below 2^-6; the top bit is ignored, as the format has no sign.
#[inline(never)]
pub fn ue4m3(b: u8) -> f32 {
    let (e, m) = ((b >> 3) & 0x0f, f32::from(b & 7));
    if e == 0 {
        m / 8.0 * pow2(-6)
    } else {
        (1.0 + m / 8.0) * pow2(i32::from(e) - 7)
    }
}

/// An FP8 byte's value: E4M3 (fn: no infinities, 0x7f and 0xff NaN) or E5M2 (IEEE-like).
#[inline(never)]
pub fn fp8(b: u8, e5m2: bool) -> f32 {
    let sign = if b & 0x80 != 0 { -1.0 } else { 1.0 };
    let (ebits, mbits, bias) = if e5m2 { (5, 2, 15) } else { (4, 3, 7) };
    let e = i32::from((b & 0x7f) >> mbits);
    let m = f32::from(b & ((1 << mbits) - 1));
    let top = (1 << ebits) - 1;
    let full = (1u32 << mbits) as f32;
    if e5m2 && e == top {
        return if m == 0.0 {
            sign * f32::INFINITY
        } else {
            f32::NAN
        };
    }
    if !e5m2 && e == top && m == 7.0 {
        return f32::NAN;
    }
    if e == 0 {
        sign * m / full * pow2(1 - bias)
    } else {
        sign * (1.0 + m / full) * pow2(e - bias)
    }
}

/// Values per sub-block of a format's block (its own scale inside the block), or the block.
pub fn sub_block(format: Format, block: usize) -> usize {
    match format {
        Format::Nvfp4 | Format::Q2_K | Format::Q3_K | Format::Q6_K => 16,
        Format::Q4_K | Format::Q5_K => 32,
        _ => block.max(1),
    }
}

/// The codes a format stores, smallest to largest.
pub fn codes(format: Format) -> std::ops::RangeInclusive<i32> {
    match format {
        Format::Fp8E4m3 | Format::Fp8E5m2 => 0..=255,
        Format::Q8_0 => -127..=127,
        Format::Q2_K => 0..=3,
        Format::Q3_K => 0..=7,
        Format::Q5_K => 0..=31,
        Format::Q6_K => 0..=63,
        _ => 0..=15,
    }
}

/// Bits a code takes.
pub fn code_bits(format: Format) -> u32 {
    match format {
        Format::Fp8E4m3 | Format::Fp8E5m2 | Format::Q8_0 => 8,
        Format::Q2_K => 2,
        Format::Q3_K => 3,
        Format::Q5_K => 5,
        Format::Q6_K => 6,
        _ => 4,
    }
}

/// A K-quant's sub-block scale and min as the integers the dequantization multiplies by:
/// Q3_K's scale is stored plus 32, Q6_K's is a signed byte, the others' are as stored.
#[inline(never)]
fn kquant_sub(format: Format, scales: &[u8], mins: &[u8], j: usize) -> (f32, f32) {
    let s = scales.get(j).copied().unwrap_or(0);
    let m = mins.get(j).copied().unwrap_or(0);
    let s = match format {
        Format::Q3_K => f32::from(s) - 32.0,
        Format::Q6_K => f32::from(s as i8),
        _ => f32::from(s),
    };
    (s, f32::from(m))
}

/// What multiplies the codes of sub-block `j` of a block with `scale`, as numbers: the step
/// (for the 4-bit floats and NF4, the factor of their elements) and the offset subtracted
/// (K-quants' `dmin·m`) or added (Q4_1's `m`), in float32 as the dequantization computes them.
#[inline(never)]
pub fn step_of(format: Format, scale: &BlockScale, j: usize) -> (f32, f32) {
    match scale {
        BlockScale::Fp16 { d } => (fp16(*d), 0.0),
        BlockScale::Fp16Min { d, m } => (fp16(*d), fp16(*m)),
        BlockScale::E8m0 { e } => (e8m0(*e), 0.0),
        BlockScale::Ue4m3 { s } => (ue4m3(s.get(j).copied().unwrap_or(0)), 0.0),
        BlockScale::AbsMax { absmax } => (*absmax, 0.0),
        BlockScale::Tensor { scale } => (1.0 / *scale, 0.0),
        BlockScale::KQuant {
            d,
            dmin,
            scales,
            mins,
        } => {
            let (s, m) = kquant_sub(format, scales, mins, j);
            (fp16(*d) * s, fp16(*dmin) * m)
        }
    }
}

/// The value code `q` of sub-block `j` stands for in a block with `scale`: the format's
/// dequantization, in float32 in its order.
#[inline(never)]
pub fn value_of(format: Format, scale: &BlockScale, j: usize, q: i32) -> f32 {
    let (step, offset) = step_of(format, scale, j);
    let q4 = |q: i32| E2M1.get(q as usize).copied().unwrap_or(f32::NAN);
    match (format, scale) {
        (Format::Q4_0, _) => (q - 8) as f32 * step,
        (Format::Q4_1, _) => q as f32 * step + offset,
        (Format::Q8_0, _) => q as f32 * step,
        (Format::Mxfp4 | Format::Nvfp4, _) => q4(q) * step,
        (Format::Nf4, _) => NF4_LEVELS.get(q as usize).copied().unwrap_or(f32::NAN) * step,
        (Format::Fp8E4m3 | Format::Fp8E5m2, BlockScale::Tensor { scale }) => {
            fp8(q as u8, format == Format::Fp8E5m2) / *scale
        }
        (Format::Fp8E4m3 | Format::Fp8E5m2, _) => f32::NAN,
        (Format::Q2_K | Format::Q4_K | Format::Q5_K, _) => step * q as f32 - offset,
        (Format::Q3_K, _) => step * (q - 4) as f32,
        (Format::Q6_K, _) => step * (q - 32) as f32,
    }
}

/// How many sub-blocks (each with its own scale) a block of `block` values has.
pub fn subs(format: Format, block: usize) -> usize {
    block.div_ceil(sub_block(format, block)).max(1)
}

/// The block's largest step, `|step_of|` over its sub-blocks: the scale the page plots per
/// block (for FP8 the tensor's `1 / scale`).
pub fn block_scale(format: Format, block: usize, scale: &BlockScale) -> f64 {
    (0..subs(format, block))
        .map(|j| f64::from(step_of(format, scale, j).0.abs()))
        .fold(0.0, f64::max)
}

/// The sub-block with the largest step (the first of equals).
pub fn largest_sub(format: Format, block: usize, scale: &BlockScale) -> usize {
    let mut best = (0, -1.0f32);
    for j in 0..subs(format, block) {
        let s = step_of(format, scale, j).0.abs();
        if s > best.1 {
            best = (j, s);
        }
    }
    best.0
}

/// The values sub-block `j` of a block with `scale` can take, ascending, without repeats (the
/// finite ones: FP8's NaN and infinities are left out).
#[inline(never)]
pub fn levels(format: Format, scale: &BlockScale, j: usize) -> Vec<f64> {
    let mut v: Vec<f64> = codes(format)
        .map(|q| f64::from(value_of(format, scale, j, q)))
        .filter(|x| x.is_finite())
        .map(|x| if x == 0.0 { 0.0 } else { x })
        .collect();
    v.sort_unstable_by(f64::total_cmp);
    v.dedup();
    v
}

/// Every block's scale and error, taken in equal groups where there are more blocks than
/// [`SUMMARY_ENTRIES`]: each entry is the largest scale and the largest MSE of its group, so
/// that a block that stands out still shows.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSummary {
    /// How many blocks.
    pub blocks: usize,
    /// Blocks per entry (the last entry may have fewer).
    pub per_entry: usize,
    /// Each entry's largest block scale ([`block_scale`]).
    pub scale: Vec<f64>,
    /// Each entry's largest block MSE, `mean((x - x̂)²)` over the block's values.
    pub mse: Vec<f64>,
    /// The block with the largest scale (the first of equals).
    pub top: usize,
}

/// Each block's MSE: `mean((x - f64(x̂))²)` over its values (summed in order).
pub fn block_mse(xs: &[f64], q: &Quantized, block: usize) -> Vec<f64> {
    let block = block.max(1);
    xs.chunks(block)
        .zip(q.dequantized.chunks(block))
        .map(|(x, d)| {
            let s: f64 = x
                .iter()
                .zip(d)
                .map(|(&x, &d)| {
                    let e = x - f64::from(d);
                    e * e
                })
                .sum();
            s / x.len().max(1) as f64
        })
        .collect()
}

impl BlockSummary {
    /// The summary of `q`, the values `xs` quantized in `format` with blocks of `block`.
    pub fn of(format: Format, xs: &[f64], q: &Quantized, block: usize) -> BlockSummary {
        BlockSummary::from_mse(format, q, block, block_mse(xs, q, block))
    }

    /// [`BlockSummary::of`] given each block's MSE ([`block_mse`]).
    pub fn from_mse(format: Format, q: &Quantized, block: usize, mse: Vec<f64>) -> BlockSummary {
        let scales: Vec<f64> = q
            .scales
            .iter()
            .map(|s| block_scale(format, block, s))
            .collect();
        let blocks = mse.len();
        let top = scales
            .iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |(bi, bs), (i, &s)| {
                if s > bs {
                    (i, s)
                } else {
                    (bi, bs)
                }
            })
            .0;
        let per_entry = blocks.div_ceil(SUMMARY_ENTRIES).max(1);
        let group_max = |v: &[f64]| -> Vec<f64> {
            v.chunks(per_entry)
                .map(|c| c.iter().copied().fold(0.0, f64::max))
                .collect()
        };
        BlockSummary {
            blocks,
            per_entry,
            scale: group_max(&scales),
            mse: group_max(&mse),
            top,
        }
    }
}

/// What the histogram shows of a format's run: the original and dequantized values over the
/// same bins, and the levels of the block with the largest scale.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatView {
    /// The original values.
    pub values: Histogram,
    /// The dequantized values, over the same bins.
    pub dequantized: Histogram,
    /// The values the codes of the block with the largest scale stand for (of its sub-block
    /// with the largest scale), ascending.
    pub levels: Vec<f64>,
    /// That block, and its sub-block.
    pub top: (usize, usize),
    /// The format's name and block, for the titles.
    pub format: Format,
    /// Values per block.
    pub block: usize,
    /// How many values.
    pub n: usize,
    /// Values at the format's largest magnitude.
    pub saturated: usize,
}

impl FormatView {
    /// The view of `q` (`format` in blocks of `block`), with the original values' histogram
    /// `values` (bins over the data's range) and `top` the block with the largest scale.
    pub fn new(
        format: Format,
        block: usize,
        q: &Quantized,
        values: Histogram,
        top: usize,
    ) -> FormatView {
        let mut dequantized = Histogram::new(values.lo, values.hi, values.counts.len());
        for &d in &q.dequantized {
            dequantized.add(f64::from(d));
        }
        FormatView::with_dequantized(format, block, q, values, dequantized, top)
    }

    /// [`FormatView::new`] given the dequantized values' histogram (over `values`' bins).
    pub fn with_dequantized(
        format: Format,
        block: usize,
        q: &Quantized,
        values: Histogram,
        dequantized: Histogram,
        top: usize,
    ) -> FormatView {
        let (levels, sub) = match q.scales.get(top) {
            Some(s) => {
                let j = largest_sub(format, block, s);
                (levels(format, s, j), j)
            }
            None => (Vec::new(), 0),
        };
        FormatView {
            values,
            dequantized,
            levels,
            top: (top, sub),
            format,
            block,
            n: q.codes.len(),
            saturated: q.saturated,
        }
    }
}

/// The range the format histogram's bins cover: the data's, widened by 2% on each side (the
/// dequantized values lie within a rounding of it).
pub fn histogram_range(min: f64, max: f64) -> (f64, f64) {
    let pad = (max - min) * 0.02;
    if pad.is_finite() {
        (min - pad, max + pad)
    } else {
        (min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_floats_read_back() {
        assert_eq!(fp16(0x3c00), 1.0);
        assert_eq!(fp16(0xc000), -2.0);
        assert_eq!(e8m0(127), 1.0);
        assert_eq!(e8m0(124), 0.125);
        assert_eq!(e8m0(0), 2f32.powi(-127));
        assert_eq!(e8m0(255), f32::INFINITY);
        assert_eq!(pow2(-149), f32::from_bits(1));
        assert_eq!(pow2(-150), 0.0);
        assert_eq!(ue4m3(0x7e), 448.0);
        assert_eq!(ue4m3(0x38), 1.0);
        assert_eq!(ue4m3(0x01), 2f32.powi(-9));
        assert_eq!(fp8(0x7e, false), 448.0);
        assert!(fp8(0x7f, false).is_nan());
        assert_eq!(fp8(0x7b, true), 57344.0);
        assert_eq!(fp8(0x7c, true), f32::INFINITY);
        assert_eq!(fp8(0x01, false), 2f32.powi(-9));
        assert_eq!(fp8(0x01, true), 2f32.powi(-16));
        assert_eq!(fp8(0xb8, false), -1.0);
        // Every finite E4M3 value and its negative: 126 magnitudes above zero.
        let finite = (0u8..=255).filter(|&b| fp8(b, false).is_finite()).count();
        assert_eq!(finite, 254);
    }

    #[test]
    fn nf4_levels_are_bitsandbytes_float32s() {
        let bnb: [f64; 16] = [
            -1.0,
            -0.6961928009986877,
            -0.5250730514526367,
            -0.39491748809814453,
            -0.28444138169288635,
            -0.18477343022823334,
            -0.09105003625154495,
            0.0,
            0.07958029955625534,
            0.16093020141124725,
            0.24611230194568634,
            0.33791524171829224,
            0.44070982933044434,
            0.5626170039176941,
            0.7229568362236023,
            1.0,
        ];
        for (a, b) in NF4_LEVELS.iter().zip(bnb) {
            assert_eq!(f64::from(*a), b);
        }
    }

    #[test]
    fn values_of_codes_follow_each_format() {
        let d = BlockScale::Fp16 { d: 0x3c00 };
        assert_eq!(value_of(Format::Q4_0, &d, 0, 11), 3.0);
        assert_eq!(value_of(Format::Q8_0, &d, 0, -5), -5.0);
        let dm = BlockScale::Fp16Min {
            d: 0x3800,
            m: 0xbc00,
        };
        assert_eq!(value_of(Format::Q4_1, &dm, 0, 3), 0.5);
        let k = BlockScale::KQuant {
            d: 0x3c00,
            dmin: 0x3800,
            scales: vec![2, 3],
            mins: vec![4, 1],
        };
        assert_eq!(value_of(Format::Q4_K, &k, 1, 5), 3.0 * 5.0 - 0.5);
        let k3 = BlockScale::KQuant {
            d: 0x3c00,
            dmin: 0,
            scales: vec![30],
            mins: vec![],
        };
        assert_eq!(value_of(Format::Q3_K, &k3, 0, 7), -2.0 * 3.0);
        let k6 = BlockScale::KQuant {
            d: 0x3c00,
            dmin: 0,
            scales: vec![0xfe],
            mins: vec![],
        };
        assert_eq!(value_of(Format::Q6_K, &k6, 0, 40), -16.0);
        let e = BlockScale::E8m0 { e: 128 };
        assert_eq!(value_of(Format::Mxfp4, &e, 0, 15), -12.0);
        let a = BlockScale::AbsMax { absmax: 2.0 };
        assert_eq!(value_of(Format::Nf4, &a, 0, 0), -2.0);
        assert_eq!(levels(Format::Nf4, &a, 0).len(), 16);
        assert_eq!(levels(Format::Mxfp4, &e, 0).len(), 15, "±0 is one level");
        let t = BlockScale::Tensor { scale: 2.0 };
        assert_eq!(value_of(Format::Fp8E4m3, &t, 0, 0x7e), 224.0);
    }

    /// Every format's dequantized values are the values of their codes read back here, bit for
    /// bit, and lie among their block's levels: what the page writes as a value's
    /// reconstruction is what the format computed.
    #[test]
    fn codes_read_back_as_each_format_dequantizes_them() {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut xs: Vec<f32> = (0..4096)
            .map(|i| {
                let u = next() * 2.0 - 1.0;
                // Blocks of very different magnitudes, a one-sided block, a zero block.
                let mag = [1.0, 0.01, 30.0, 1e-3][(i / 256) % 4];
                (u * mag) as f32
            })
            .collect();
        for x in &mut xs[512..544] {
            *x = x.abs();
        }
        for x in &mut xs[1024..1056] {
            *x = 0.0;
        }
        for format in Format::ALL {
            let block = format.block(None).unwrap();
            let q = crate::quant::formats::quantize(format, block, &xs)
                .unwrap_or_else(|e| panic!("{format}: {e}"));
            let block = if block == 0 { xs.len() } else { block };
            let sub = sub_block(format, block);
            for (i, (&c, &d)) in q.codes.iter().zip(&q.dequantized).enumerate() {
                let (b, j) = (i / block, (i % block) / sub);
                let scale = &q.scales[b];
                let v = value_of(format, scale, j, c);
                assert!(
                    v.to_bits() == d.to_bits() || (v == 0.0 && d == 0.0),
                    "{format} value {i} (block {b}, sub-block {j}, code {c}): {v} read back, {d} dequantized"
                );
                assert!(
                    levels(format, scale, j).contains(&f64::from(d)),
                    "{format} value {i}: {d} among its levels"
                );
            }
        }
    }

    #[test]
    fn the_summary_keeps_the_largest_of_each_group() {
        let n = 32 * 5000;
        let xs: Vec<f64> = (0..n).map(|i| (i % 97) as f64 / 97.0).collect();
        let q = Quantized {
            codes: vec![0; n],
            dequantized: vec![0.0; n],
            scales: (0..5000)
                .map(|b| BlockScale::AbsMax {
                    absmax: if b == 4321 { 9.0 } else { 1.0 },
                })
                .collect(),
            block: 32,
            saturated: 0,
        };
        let s = BlockSummary::of(Format::Nf4, &xs, &q, 32);
        assert_eq!(s.blocks, 5000);
        assert_eq!(s.per_entry, 3);
        assert_eq!(s.scale.len(), 1667);
        assert_eq!(s.top, 4321);
        assert_eq!(s.scale[4321 / 3], 9.0);
        assert!(s.mse.iter().all(|&m| m > 0.0));
    }
}
