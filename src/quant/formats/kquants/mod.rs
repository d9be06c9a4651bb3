//! ggml's K-quants: super-blocks of 256 values (`quantize_row_q{2,3,4,5,6}_K_ref` and
//! `dequantize_row_q{2,3,4,5,6}_K` in ggml-quants.c), bit for bit.
//!
//! Each super-block of 256 values is cut into sub-blocks (16 of 16 values for Q2_K, Q3_K and
//! Q6_K, 8 of 32 for Q4_K and Q5_K). A small search per sub-block picks its scale (and, for
//! Q2_K, Q4_K and Q5_K, its min); the sub-block scales and mins are then themselves quantized
//! to 4, 6 or 8 bits against one or two fp16 super-scales, and the values are quantized again
//! against the scales as stored.
//!
//! Two implementations give the same bytes:
//! - [`reference`](mod@reference), a plain line-for-line port of ggml's C (the tests' oracle);
//! - the one [`q2_k`] ... [`q6_k`] and [`KQuant::quantize`] run (`fast`): the same float32
//!   operations in the same order for every sub-block, but sixteen sub-blocks run side by side
//!   (lane `k` of every loop is sub-block `k`, so each lane's sums are accumulated exactly as
//!   ggml's loop accumulates them, and the loops vectorize, with AVX2 where the CPU has it),
//!   and natively the super-blocks are shared among threads.
//!
//! Where ggml's own arithmetic breaks, the super-block is an error naming it rather than a
//! result: `nearest_int` would assert (a number beyond 2^22, or NaN: the fp16 super-scale
//! overflowed, or the search's inverse scale overflowed float32 on values near float32's
//! smallest), a stored fp16 super-scale is infinite or NaN (every value of the block would
//! dequantize to inf or NaN), or a sub-block's scale or min came out of the search as NaN or
//! infinite (float32 overflowed in its sums; ggml then writes an all-zero block without
//! asserting). The checks are `check_block`'s.
//!
//! The [`BlockScale::KQuant`] of a super-block holds its fp16 `d` and `dmin` bits (`dmin` 0 for
//! Q3_K and Q6_K) and its sub-block scales and mins as the integers the block stores, unpacked:
//! Q2_K 4-bit scales and mins, Q3_K 6-bit scales (stored plus 32: the scale is the value minus
//! 32), Q4_K and Q5_K 6-bit scales and mins, Q6_K 8-bit signed scales (as their byte: read back
//! with `as i8`). Codes are the unsigned integers the block stores for each value: Q2_K 0..=3,
//! Q3_K 0..=7 (the value is `code - 4` times the scale), Q4_K 0..=15, Q5_K 0..=31, Q6_K 0..=63
//! (the value is `code - 32` times the scale).

mod fast;
pub mod reference;

use super::{BlockScale, Quantized};
use crate::error::{Error, Result};
use crate::present::number::full;

/// Values per super-block (ggml's `QK_K`).
pub const QK_K: usize = 256;

/// The largest finite fp16.
const FP16_MAX: f64 = 65504.0;

/// One of the five K-quants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KQuant {
    /// Q2_K: 2-bit codes, 4-bit sub-block scales and mins, 84 bytes per super-block.
    Q2K,
    /// Q3_K: 3-bit codes, 6-bit sub-block scales, 110 bytes per super-block.
    Q3K,
    /// Q4_K: 4-bit codes, 6-bit sub-block scales and mins, 144 bytes per super-block.
    Q4K,
    /// Q5_K: 5-bit codes, 6-bit sub-block scales and mins, 176 bytes per super-block.
    Q5K,
    /// Q6_K: 6-bit codes, 8-bit sub-block scales, 210 bytes per super-block.
    Q6K,
}

impl KQuant {
    /// All five, smallest first.
    pub const ALL: [KQuant; 5] = [
        KQuant::Q2K,
        KQuant::Q3K,
        KQuant::Q4K,
        KQuant::Q5K,
        KQuant::Q6K,
    ];

    /// The name as ggml and the CLI spell it (`q4_K`).
    pub fn name(self) -> &'static str {
        match self {
            KQuant::Q2K => "q2_K",
            KQuant::Q3K => "q3_K",
            KQuant::Q4K => "q4_K",
            KQuant::Q5K => "q5_K",
            KQuant::Q6K => "q6_K",
        }
    }

    /// Bytes of one packed super-block (`sizeof(block_qN_K)`).
    pub fn block_bytes(self) -> usize {
        match self {
            KQuant::Q2K => 84,
            KQuant::Q3K => 110,
            KQuant::Q4K => 144,
            KQuant::Q5K => 176,
            KQuant::Q6K => 210,
        }
    }

    /// Where the fp16 `d` and `dmin` sit in a packed block (`dmin` `None` where there is none).
    fn super_scale_offsets(self) -> (usize, Option<usize>) {
        match self {
            KQuant::Q2K => (80, Some(82)),
            KQuant::Q3K => (108, None),
            KQuant::Q4K | KQuant::Q5K => (0, Some(2)),
            KQuant::Q6K => (208, None),
        }
    }

    /// The largest code magnitude times the largest sub-block scale integer: a value of `v`
    /// needs a super-scale of about `v / span`.
    fn span(self) -> f64 {
        match self {
            KQuant::Q2K => 3.0 * 15.0,
            KQuant::Q3K => 4.0 * 32.0,
            KQuant::Q4K => 15.0 * 63.0,
            KQuant::Q5K => 31.0 * 63.0,
            KQuant::Q6K => 32.0 * 128.0,
        }
    }

    /// `xs` (a multiple of 256 values, all finite) in this K-quant: the fast implementation.
    pub fn quantize(self, xs: &[f32]) -> Result<Quantized> {
        fast::quantize(self, xs, None, fast::Simd::Best)
    }

    /// The packed blocks ggml's `quantize_row_qN_K_ref` writes for `xs` (the fast
    /// implementation; [`reference::quantize_row`] is the line-for-line port).
    pub fn quantize_row(self, xs: &[f32]) -> Result<Vec<u8>> {
        let mut bytes = vec![0u8; xs.len() / QK_K * self.block_bytes()];
        fast::quantize(self, xs, Some(&mut bytes), fast::Simd::Best)?;
        Ok(bytes)
    }

    /// Both at once: the result and the packed blocks.
    pub fn quantize_with_bytes(self, xs: &[f32]) -> Result<(Quantized, Vec<u8>)> {
        let mut bytes = vec![0u8; xs.len() / QK_K * self.block_bytes()];
        let q = fast::quantize(self, xs, Some(&mut bytes), fast::Simd::Best)?;
        Ok((q, bytes))
    }

    /// [`KQuant::quantize_with_bytes`] with the portable compilation of the kernels (what
    /// wasm32 and x86-64 CPUs without AVX2 run), so that tests cover it on any machine.
    #[doc(hidden)]
    pub fn quantize_portable(self, xs: &[f32]) -> Result<(Quantized, Vec<u8>)> {
        let mut bytes = vec![0u8; xs.len() / QK_K * self.block_bytes()];
        let q = fast::quantize(self, xs, Some(&mut bytes), fast::Simd::Portable)?;
        Ok((q, bytes))
    }
}

/// Q2_K of `xs`.
pub fn q2_k(xs: &[f32]) -> Result<Quantized> {
    KQuant::Q2K.quantize(xs)
}

/// Q3_K of `xs`.
pub fn q3_k(xs: &[f32]) -> Result<Quantized> {
    KQuant::Q3K.quantize(xs)
}

/// Q4_K of `xs`.
pub fn q4_k(xs: &[f32]) -> Result<Quantized> {
    KQuant::Q4K.quantize(xs)
}

/// Q5_K of `xs`.
pub fn q5_k(xs: &[f32]) -> Result<Quantized> {
    KQuant::Q5K.quantize(xs)
}

/// Q6_K of `xs`.
pub fn q6_k(xs: &[f32]) -> Result<Quantized> {
    KQuant::Q6K.quantize(xs)
}

/// float32 to IEEE half, round to nearest even (ggml's `GGML_FP32_TO_FP16`; the two agree on
/// every finite float32, and the blocks where it meets NaN are errors anyway).
#[inline]
fn fp16(f: f32) -> u16 {
    half::f16::from_f32(f).to_bits()
}

/// IEEE half to float32, exact (ggml's `GGML_FP16_TO_FP32`).
#[inline]
fn fp32(h: u16) -> f32 {
    half::f16::from_bits(h).to_f32()
}

/// The fp16 `d` and `dmin` bits of a packed block (`dmin` 0 where there is none).
fn super_scales(kind: KQuant, blk: &[u8]) -> (u16, u16) {
    let (d, dmin) = kind.super_scale_offsets();
    let read = |o: usize| u16::from_le_bytes([blk[o], blk[o + 1]]);
    (read(d), dmin.map_or(0, read))
}

/// Whether super-block `block` (values `x`, packed into `blk`) is a result or an error. `broke`
/// says that ggml's `nearest_int` would have asserted or that a sub-block scale or min is not
/// finite; `d_in` and `dmin_in` are the float32 values the block gave the fp16 conversions.
///
/// An infinite or NaN fp16 super-scale is [`Error::ScaleOverflow`] with the scale the block
/// needed; a zero one, and any other break, is the same error when the block's largest magnitude needs a
/// super-scale beyond fp16 (about `max|x| / span`), and otherwise (values near float32's
/// smallest) an [`Error::Setting`] on the data naming the block.
fn check_block(
    kind: KQuant,
    block: usize,
    x: &[f32],
    blk: &[u8],
    broke: bool,
    d_in: f32,
    dmin_in: f32,
) -> Result<()> {
    let (d, dmin) = super_scales(kind, blk);
    let d_bad = !fp32(d).is_finite();
    let dmin_bad = !fp32(dmin).is_finite();
    // A zero super-scale is a result where the values are small enough (flushed to zero as
    // ggml flushes them), and an overflow where they need one beyond fp16: ggml's arithmetic
    // broke on the way (Q3_K's weights, x², past float32's largest make every scale 0).
    let zero = fp32(d) == 0.0;
    if !(broke || d_bad || dmin_bad || zero) {
        return Ok(());
    }
    let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let needed = f64::from(amax) / kind.span();
    if d_bad || dmin_bad {
        let given = if d_bad { d_in } else { dmin_in };
        let scale = if given.is_finite() {
            f64::from(given).abs()
        } else {
            needed
        };
        return Err(Error::ScaleOverflow {
            format: kind.name(),
            block,
            scale,
            limit: FP16_MAX,
        });
    }
    if needed > FP16_MAX {
        return Err(Error::ScaleOverflow {
            format: kind.name(),
            block,
            scale: needed,
            limit: FP16_MAX,
        });
    }
    if !broke {
        return Ok(());
    }
    Err(Error::Setting {
        name: "data",
        given: format!(
            "super-block {block} (values {} to {}, largest magnitude {})",
            block * QK_K,
            block * QK_K + QK_K - 1,
            full(f64::from(amax))
        ),
        expected: format!(
            "values whose {} scales float32 can compute: ggml's own arithmetic breaks on this \
             super-block (its nearest_int gets a number beyond 2^22 or not a number, as when \
             the values are near float32's smallest): rescale the data",
            kind.name()
        ),
    })
}

/// The codes of one packed block (written to `codes`, 256 of them) and its stored scales, read
/// back from the bytes as `dequantize_row_qN_K` reads them.
pub fn unpack_block(kind: KQuant, blk: &[u8], codes: &mut [i32]) -> BlockScale {
    let (d, dmin) = super_scales(kind, blk);
    // The 2-bit field of value `v` in Q2_K's and Q3_K's `qs` (64 bytes).
    let two_bits = |qs: &[u8], v: usize| {
        let (n, r) = (v / 128, v % 128);
        (qs[32 * n + r % 32] >> (2 * (r / 32))) & 3
    };
    // The 4-bit field of value `v` in Q4_K's and Q5_K's `qs` (128 bytes).
    let four_bits = |qs: &[u8], v: usize| {
        let (t, r) = (v / 64, v % 64);
        (qs[32 * t + r % 32] >> (4 * (r / 32))) & 0xF
    };
    match kind {
        KQuant::Q2K => {
            for (v, c) in codes.iter_mut().enumerate().take(QK_K) {
                *c = i32::from(two_bits(&blk[16..80], v));
            }
            BlockScale::KQuant {
                d,
                dmin,
                scales: blk[0..16].iter().map(|s| s & 0xF).collect(),
                mins: blk[0..16].iter().map(|s| s >> 4).collect(),
            }
        }
        KQuant::Q3K => {
            for (v, c) in codes.iter_mut().enumerate().take(QK_K) {
                let high = (blk[v % 32] >> (v / 32)) & 1;
                *c = i32::from(two_bits(&blk[32..96], v) | (high << 2));
            }
            BlockScale::KQuant {
                d,
                dmin: 0,
                scales: reference::q3_k_scales(&blk[96..108]).to_vec(),
                mins: Vec::new(),
            }
        }
        KQuant::Q4K | KQuant::Q5K => {
            let (qs, qh) = if kind == KQuant::Q4K {
                (&blk[16..144], None)
            } else {
                (&blk[48..176], Some(&blk[16..48]))
            };
            for (v, c) in codes.iter_mut().enumerate().take(QK_K) {
                let high = qh.map_or(0, |qh| (qh[v % 32] >> (2 * (v / 64) + (v % 64) / 32)) & 1);
                *c = i32::from(four_bits(qs, v) | (high << 4));
            }
            let (scales, mins) = (0..QK_K / 32)
                .map(|j| reference::get_scale_min_k4(j, &blk[4..16]))
                .unzip();
            BlockScale::KQuant {
                d,
                dmin,
                scales,
                mins,
            }
        }
        KQuant::Q6K => {
            for (v, c) in codes.iter_mut().enumerate().take(QK_K) {
                let (t, r) = (v / 128, v % 128);
                let (k, l) = (r / 32, r % 32);
                let low = (blk[64 * t + l + 32 * (k % 2)] >> (4 * (k / 2))) & 0xF;
                let high = (blk[128 + 32 * t + l] >> (2 * k)) & 3;
                *c = i32::from(low | (high << 4));
            }
            BlockScale::KQuant {
                d,
                dmin: 0,
                scales: blk[192..208].to_vec(),
                mins: Vec::new(),
            }
        }
    }
}
