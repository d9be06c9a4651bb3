//! The formats the field ships, each exact against its reference implementation: llama.cpp's
//! block formats (Q4_0, Q4_1, Q8_0) and K-quants (Q2_K ... Q6_K), the 4-bit floats MXFP4 and
//! NVFP4, QLoRA's NF4, and FP8 (E4M3, E5M2) with a per-tensor scale.
//!
//! Every format computes in float32 like its reference: data given as float64 is rounded to
//! float32 first ([`to_f32`]); the error is measured against the values as given, in float64,
//! by the analysis. The integer schemes with a scale and zero point (the notebook's) are not
//! here: they compute in float64 and live in [`crate::quant::params`].
//!
//! A format quantizes a whole tensor, flattened in C order, in consecutive blocks, and gives
//! each value's code (an index into the format's codes), its dequantized value, and each
//! block's stored scale in the format's own encoding ([`BlockScale`]).

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

mod float;
#[cfg(test)]
pub(crate) use float::lcg;
#[cfg(target_arch = "x86_64")]
pub(crate) mod fast;
pub mod fp8;
pub mod ggml;
pub mod kquants;
pub mod mx;
pub mod nf4;
pub mod parts;
pub mod stream;

/// A quantization format other than the integer schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum Format {
    /// QLoRA's 4-bit NormalFloat: 16 quantiles of a normal, one float32 absmax per block.
    Nf4,
    /// FP8 E4M3 (fn: max 448, no infinities), one float32 scale per tensor.
    Fp8E4m3,
    /// FP8 E5M2 (max 57344), one float32 scale per tensor.
    Fp8E5m2,
    /// OCP MXFP4: E2M1 elements, one power-of-two (E8M0) scale per 32 values.
    Mxfp4,
    /// NVFP4 as ggml stores it: E2M1 elements, one UE4M3 scale per 16 values, blocks of 64.
    Nvfp4,
    /// ggml Q4_0: 4-bit codes, one fp16 scale per 32 values.
    Q4_0,
    /// ggml Q4_1: 4-bit codes, an fp16 scale and minimum per 32 values.
    Q4_1,
    /// ggml Q8_0: 8-bit codes, one fp16 scale per 32 values.
    Q8_0,
    /// ggml Q2_K: super-blocks of 256, 2-bit codes, 4-bit sub-block scales and mins.
    Q2_K,
    /// ggml Q3_K: super-blocks of 256, 3-bit codes, 6-bit sub-block scales.
    Q3_K,
    /// ggml Q4_K: super-blocks of 256, 4-bit codes, 6-bit sub-block scales and mins.
    Q4_K,
    /// ggml Q5_K: super-blocks of 256, 5-bit codes, 6-bit sub-block scales and mins.
    Q5_K,
    /// ggml Q6_K: super-blocks of 256, 6-bit codes, 8-bit sub-block scales.
    Q6_K,
}

/// The block sizes NF4 accepts: powers of two from 32 to 4096.
pub const NF4_BLOCKS: std::ops::RangeInclusive<usize> = 32..=4096;

impl Format {
    /// Every format, in the order tables list them.
    pub const ALL: [Format; 13] = [
        Format::Nf4,
        Format::Fp8E4m3,
        Format::Fp8E5m2,
        Format::Mxfp4,
        Format::Nvfp4,
        Format::Q4_0,
        Format::Q4_1,
        Format::Q8_0,
        Format::Q2_K,
        Format::Q3_K,
        Format::Q4_K,
        Format::Q5_K,
        Format::Q6_K,
    ];

    /// The name the CLI, the URL and the page use (`nf4`, `fp8-e4m3`, `q4_K`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Format::Nf4 => "nf4",
            Format::Fp8E4m3 => "fp8-e4m3",
            Format::Fp8E5m2 => "fp8-e5m2",
            Format::Mxfp4 => "mxfp4",
            Format::Nvfp4 => "nvfp4",
            Format::Q4_0 => "q4_0",
            Format::Q4_1 => "q4_1",
            Format::Q8_0 => "q8_0",
            Format::Q2_K => "q2_K",
            Format::Q3_K => "q3_K",
            Format::Q4_K => "q4_K",
            Format::Q5_K => "q5_K",
            Format::Q6_K => "q6_K",
        }
    }

    /// Values per block by default; `None` for a per-tensor scale (FP8).
    pub fn default_block(self) -> Option<usize> {
        match self {
            Format::Nf4 => Some(64),
            Format::Fp8E4m3 | Format::Fp8E5m2 => None,
            Format::Mxfp4 | Format::Q4_0 | Format::Q4_1 | Format::Q8_0 => Some(32),
            Format::Nvfp4 => Some(64),
            Format::Q2_K | Format::Q3_K | Format::Q4_K | Format::Q5_K | Format::Q6_K => Some(256),
        }
    }

    /// Whether this is one of ggml's K-quants, whose scales are found by a search over
    /// candidates: the formats that take longest to quantize, by several times.
    pub fn is_k_quant(self) -> bool {
        matches!(
            self,
            Format::Q2_K | Format::Q3_K | Format::Q4_K | Format::Q5_K | Format::Q6_K
        )
    }

    /// Whether the value count must be a multiple of the block (ggml asserts it); NF4's last
    /// block may be partial, FP8 has one scale for any count.
    pub fn needs_whole_blocks(self) -> bool {
        !matches!(self, Format::Nf4 | Format::Fp8E4m3 | Format::Fp8E5m2)
    }

    /// Whether a run counts the values it saturates ([`saturated_codes`]): FP8 and the 4-bit
    /// floats, whose largest magnitude is a code of its own.
    pub fn counts_saturated(self) -> bool {
        matches!(
            self,
            Format::Fp8E4m3 | Format::Fp8E5m2 | Format::Mxfp4 | Format::Nvfp4
        )
    }

    /// Bits per weight, scales included, for `n` values in blocks of `block`: the scales
    /// actually stored over the values. NF4 stores one float32 absmax per block, its last block
    /// partial where `block` does not divide `n` (`4 + 32·⌈n/block⌉/n`, which is `4 + 32/block`
    /// where it divides, bit for bit: the block is a power of two); FP8's one float32 scale is
    /// spread over all `n` values. The other formats take whole blocks only, each of a fixed
    /// size.
    // Not inlined: it is called in many places, none of them hot, where a copy of its division
    // in each would only make the wasm larger.
    #[inline(never)]
    pub fn bits_per_weight(self, n: usize, block: usize) -> f64 {
        let count = n.max(1);
        let n = count as f64;
        match self {
            Format::Nf4 => 4.0 + 32.0 * count.div_ceil(block.max(1)) as f64 / n,
            Format::Fp8E4m3 | Format::Fp8E5m2 => 8.0 + 32.0 / n,
            Format::Mxfp4 => 4.25,
            Format::Nvfp4 => 4.5,
            Format::Q4_0 => 4.5,
            Format::Q4_1 => 5.0,
            Format::Q8_0 => 8.5,
            Format::Q2_K => 2.625,
            Format::Q3_K => 3.4375,
            Format::Q4_K => 4.5,
            Format::Q5_K => 5.5,
            Format::Q6_K => 6.5625,
        }
    }

    /// The block `requested` resolves to: NF4 takes any power of two in [`NF4_BLOCKS`]
    /// (default 64); every other format has a fixed block and refuses another.
    pub fn block(self, requested: Option<usize>) -> Result<usize> {
        match (self, requested) {
            (Format::Nf4, Some(b)) if b.is_power_of_two() && NF4_BLOCKS.contains(&b) => Ok(b),
            (Format::Nf4, Some(b)) => Err(Error::Setting {
                name: "block",
                given: b.to_string(),
                expected: "a power of two from 32 to 4096 (nf4's block)".into(),
            }),
            (f, None) => Ok(f.default_block().unwrap_or(0)),
            (f, Some(b)) => Err(Error::Setting {
                name: "block",
                given: b.to_string(),
                expected: match f.default_block() {
                    Some(fixed) => format!("no --block: {f} has a fixed block of {fixed}"),
                    None => format!("no --block: {f} has one scale for the whole tensor"),
                },
            }),
        }
    }

    /// Checks that `n` values can be quantized in blocks of `block`: a count the block does not
    /// divide is an error naming the nearest valid counts.
    pub fn check_count(self, n: usize, block: usize) -> Result<()> {
        if n == 0 {
            return Err(Error::EmptyData);
        }
        if self.needs_whole_blocks() && block > 0 && !n.is_multiple_of(block) {
            return Err(Error::BlockCount {
                format: self.name(),
                n,
                block,
            });
        }
        Ok(())
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The names `FromStr` accepts, for messages.
pub const FORMAT_NAMES: &str =
    "int, nf4, fp8-e4m3, fp8-e5m2, mxfp4, nvfp4, q4_0, q4_1, q8_0, q2_K, q3_K, q4_K, q5_K or q6_K";

impl FromStr for Format {
    type Err = Error;

    /// A format by name, in any case (`Q4_K`, `q4_k`, `FP8-E4M3` all read).
    fn from_str(s: &str) -> Result<Format> {
        let t = s.trim();
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| Error::Setting {
                name: "format",
                given: s.into(),
                expected: FORMAT_NAMES.into(),
            })
    }
}

/// One block's stored scale, in the format's own encoding.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockScale {
    /// Q4_0, Q8_0: the fp16 scale `d` (its bits).
    Fp16 { d: u16 },
    /// Q4_1: the fp16 scale `d` and minimum `m` (their bits).
    Fp16Min { d: u16, m: u16 },
    /// MXFP4: the E8M0 exponent byte `e` (the scale is `2^(e - 127)`).
    E8m0 { e: u8 },
    /// NVFP4: the UE4M3 byte of each of the four sub-blocks of 16.
    Ue4m3 { s: [u8; 4] },
    /// NF4: the float32 absmax of the block.
    AbsMax { absmax: f32 },
    /// FP8: the float32 scale of the whole tensor (`x·scale` is cast).
    Tensor { scale: f32 },
    /// K-quants: the fp16 super-scale `d` and super-min `dmin` (bits; `dmin` 0 where the format
    /// has none), and the sub-block scales (and mins) as the quantized integers the block
    /// stores, unpacked, in sub-block order.
    KQuant {
        d: u16,
        dmin: u16,
        scales: Vec<u8>,
        mins: Vec<u8>,
    },
}

/// A tensor quantized in a format.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantized {
    /// Each value's code: the index the format stores for it (for Q8_0 the signed integer, for
    /// FP8 the byte, for the 4-bit formats 0 to 15).
    pub codes: Vec<i32>,
    /// Each value dequantized, in float32 as the reference computes it.
    pub dequantized: Vec<f32>,
    /// One stored scale per block (one for FP8).
    pub scales: Vec<BlockScale>,
    /// Values per block (the value count for a per-tensor scale).
    pub block: usize,
    /// Values that met the format's largest magnitude after scaling (FP8's saturation).
    pub saturated: usize,
}

/// The values rounded to float32, as every format's reference takes them.
pub fn to_f32(xs: &[f64]) -> Vec<f32> {
    to_f32_exact(xs).0
}

/// An error naming the first value that is not finite, and how many are not.
fn check_finite(xs: &[f32]) -> Result<()> {
    match xs.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::NonFinite {
            count: xs.iter().filter(|x| !x.is_finite()).count(),
            first_index: i,
            first_value: f64::from(xs[i]),
        }),
    }
}

/// An error where a value of `xs` is finite but beyond float32's range (it rounds to
/// infinity): every format computes in float32, so it cannot take such data. The error counts
/// them and names the first.
pub fn check_f32_range(xs: &[f64]) -> Result<()> {
    let beyond = |x: &f64| x.is_finite() && (*x as f32).is_infinite();
    match xs.iter().position(beyond) {
        None => Ok(()),
        Some(i) => Err(Error::BeyondFloat32 {
            count: xs[i..].iter().filter(|x| beyond(x)).count(),
            first_index: i,
            first_value: xs[i],
        }),
    }
}

/// How many of `codes` (a run of `format`) [`Quantized::saturated`] counts: the codes of the
/// format's largest magnitude, for FP8 and the 4-bit floats (0 for the other formats).
pub fn saturated_codes(format: Format, codes: &[i32]) -> usize {
    let count = |code: i32| codes.iter().filter(|&&c| c & 0x7F == code).count();
    match format {
        _ if !format.counts_saturated() => 0,
        Format::Fp8E4m3 => count(0x7E),
        Format::Fp8E5m2 => count(0x7B),
        // E2M1's codes are 0 to 15, ±6 being 7 and 15.
        _ => codes.iter().filter(|&&c| c & 7 == 7).count(),
    }
}

/// The values rounded to float32, and whether every one reads back as the value it came from
/// (the data was float32, or float16, to begin with).
pub fn to_f32_exact(xs: &[f64]) -> (Vec<f32>, bool) {
    let mut exact = true;
    let v = xs
        .iter()
        .map(|&x| {
            let y = x as f32;
            exact &= f64::from(y) == x;
            y
        })
        .collect();
    (v, exact)
}

/// Quantizes `xs` (float32) in `format` with blocks of `block` (from [`Format::block`]).
/// Errors: a count the block does not divide, a scale that overflows the type the format stores
/// it in, a value that is not finite.
pub fn quantize(format: Format, block: usize, xs: &[f32]) -> Result<Quantized> {
    format.check_count(xs.len(), block)?;
    check_finite(xs)?;
    match format {
        Format::Nf4 => nf4::quantize(xs, block),
        Format::Fp8E4m3 => fp8::quantize(xs, fp8::Fp8::E4m3),
        Format::Fp8E5m2 => fp8::quantize(xs, fp8::Fp8::E5m2),
        Format::Mxfp4 => mx::mxfp4(xs),
        Format::Nvfp4 => mx::nvfp4(xs),
        Format::Q4_0 => ggml::q4_0(xs),
        Format::Q4_1 => ggml::q4_1(xs),
        Format::Q8_0 => ggml::q8_0(xs),
        Format::Q2_K => kquants::q2_k(xs),
        Format::Q3_K => kquants::q3_k(xs),
        Format::Q4_K => kquants::q4_k(xs),
        Format::Q5_K => kquants::q5_k(xs),
        Format::Q6_K => kquants::q6_k(xs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_in_any_case() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
            assert_eq!(f.name().to_uppercase().parse::<Format>().unwrap(), f);
        }
        assert!("q4_2".parse::<Format>().is_err());
    }

    /// NF4 counts the absmax of every block stored, a partial last one too; where the block
    /// divides the count, that is `4 + 32/block` exactly.
    #[test]
    fn nf4_bits_count_the_scales_stored() {
        assert_eq!(Format::Nf4.bits_per_weight(1024, 2048), 4.03125);
        assert_eq!(Format::Nf4.bits_per_weight(33, 64), 4.0 + 32.0 / 33.0);
        assert_eq!(Format::Nf4.bits_per_weight(100, 64), 4.0 + 64.0 / 100.0);
        for block in [32, 64, 128, 256, 512, 1024, 2048, 4096] {
            for k in [1, 2, 3, 7, 1000, 12345] {
                let bits = Format::Nf4.bits_per_weight(k * block, block);
                assert_eq!(bits, 4.0 + 32.0 / block as f64, "{k} x {block}");
            }
        }
        // FP8's one scale and the fixed blocks are unchanged.
        assert_eq!(Format::Fp8E4m3.bits_per_weight(33, 0), 8.0 + 32.0 / 33.0);
        assert_eq!(Format::Q4_0.bits_per_weight(64, 32), 4.5);
    }

    #[test]
    fn values_beyond_float32_are_found_and_counted() {
        assert_eq!(check_f32_range(&[1.0, -3.4e38, f64::MIN_POSITIVE]), Ok(()));
        // Not finite is another error's business.
        assert_eq!(check_f32_range(&[f64::INFINITY, f64::NAN]), Ok(()));
        assert_eq!(
            check_f32_range(&[0.0, 1e39, 2.0, -1e300, 5.0]),
            Err(Error::BeyondFloat32 {
                count: 2,
                first_index: 1,
                first_value: 1e39
            })
        );
        let e = check_f32_range(&[1e300]).unwrap_err().to_string();
        assert!(
            e.starts_with("1 value is beyond float32's range (the first is 1e300 at index 0)"),
            "{e}"
        );
    }

    #[test]
    fn blocks_and_counts() {
        assert_eq!(Format::Nf4.block(None).unwrap(), 64);
        assert_eq!(Format::Nf4.block(Some(128)).unwrap(), 128);
        assert!(Format::Nf4.block(Some(48)).is_err());
        assert!(Format::Nf4.block(Some(8192)).is_err());
        assert!(Format::Q4_0.block(Some(64)).is_err());
        assert!(Format::Fp8E4m3.block(Some(32)).is_err());
        assert!(Format::Q4_K.check_count(512, 256).is_ok());
        let e = Format::Q4_K.check_count(1000, 256).unwrap_err().to_string();
        assert!(e.contains("768") && e.contains("1024"), "{e}");
        assert!(Format::Nf4.check_count(100, 64).is_ok());
    }
}
