//! FP8 with a per-tensor scale (torchao's tensorwise recipe: `amax_to_scale`,
//! `to_fp8_saturated`, and the division by the scale that reads the float8 tensor back).
//!
//! `amax = max|v|`; `scale = fmax / max(amax, 1e-12)` in float64, stored as float32; each value
//! `y = fp8(clamp(v·scale, -fmax, fmax))` with `v·scale` in float32 and the cast rounding to
//! nearest even, subnormals included; dequantized `y / scale` in float32. The clamp comes
//! before the cast, so nothing becomes NaN or infinite.

use super::float::{abs_max, avx2_dispatch, in_parts, outputs};
use super::{BlockScale, Quantized};
use crate::error::Result;

/// The two FP8 encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fp8 {
    /// E4M3 (fn): max 448, no infinities.
    E4m3,
    /// E5M2: max 57344.
    E5m2,
}

/// An FP8 encoding: `MBITS` mantissa bits, exponent bias `BIAS`, `MAX` the byte of its largest
/// finite value (E4M3 0x7E, as 0x7F is NaN; E5M2 0x7B, as 0x7C is infinity). Constants, so that
/// every shift in the cast is by a constant and the loop vectorizes.
struct Enc<const MBITS: u32, const BIAS: u32, const MAX: u32>;

impl<const MBITS: u32, const BIAS: u32, const MAX: u32> Enc<MBITS, BIAS, MAX> {
    /// float32 mantissa bits below the encoding's.
    const SHIFT: u32 = 23 - MBITS;
    const LOW: u32 = (1 << Self::SHIFT) - 1;
    /// The largest finite value: the byte `MAX` read as float32.
    const FMAX: f32 = f32::from_bits(
        (((MAX >> MBITS) + 127 - BIAS) << 23) | ((MAX & ((1 << MBITS) - 1)) << Self::SHIFT),
    );
    /// The smallest normal value, `2^(1 - BIAS)`: below it values round in subnormal units of
    /// `2^(1 - BIAS - MBITS)`.
    const MIN_NORMAL: f32 = f32::from_bits((128 - BIAS) << 23);
    /// 2^23 subnormal units: adding it to a value below `MIN_NORMAL` rounds the value to a
    /// whole number of units (float32's spacing there is one unit), to nearest even.
    const MAGIC: f32 = f32::from_bits((151 - BIAS - MBITS) << 23);

    /// The byte of `y` (|y| at most `FMAX`, not NaN) rounded to nearest even, and its value as
    /// float32. Both roundings are computed and the range picks one, without branches: normal
    /// values round the float32 mantissa to `MBITS` bits by integer addition (a carry into the
    /// exponent is the correct next binade), subnormal ones by the float addition of `MAGIC`.
    /// A subnormal that rounds up to the smallest normal counts `2^MBITS` units, which is that
    /// normal's byte, so the two ranges meet without a seam.
    #[inline(always)]
    fn cast(y: f32) -> (u32, f32) {
        let bits = y.to_bits();
        let sign = bits & 0x8000_0000;
        let a_bits = bits & 0x7FFF_FFFF;
        let a = f32::from_bits(a_bits);
        let rounded = a_bits
            .wrapping_add(Self::LOW >> 1)
            .wrapping_add((a_bits >> Self::SHIFT) & 1);
        let normal_code = (rounded >> Self::SHIFT).wrapping_sub((127 - BIAS) << MBITS);
        let normal_val = f32::from_bits(rounded & !Self::LOW);
        let t = a + Self::MAGIC;
        let sub_code = t.to_bits().wrapping_sub(Self::MAGIC.to_bits());
        let sub_val = t - Self::MAGIC;
        let sub = a < Self::MIN_NORMAL;
        let code = if sub { sub_code } else { normal_code };
        let val = if sub { sub_val } else { normal_val };
        ((sign >> 24) | code, f32::from_bits(val.to_bits() | sign))
    }

    /// [`Self::part`], compiled for AVX2 where the CPU has it (as `avx2_dispatch!` in the
    /// formats' float module does, written out for the encoding's constants).
    fn part_fast(p: (f32, &[f32], &mut [i32], &mut [f32])) -> usize {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2")]
            unsafe fn avx2<const M: u32, const B: u32, const X: u32>(
                p: (f32, &[f32], &mut [i32], &mut [f32]),
            ) -> usize {
                Enc::<M, B, X>::part(p)
            }
            if crate::quant::kernels::has_avx2() {
                // SAFETY: the CPU has AVX2, all that `avx2` requires.
                return unsafe { avx2::<MBITS, BIAS, MAX>(p) };
            }
        }
        Self::part(p)
    }

    /// Casts a part of the values scaled by `scale`: how many saturated. Inlined into
    /// [`Self::part_fast`].
    #[inline(always)]
    fn part((scale, x, c, y): (f32, &[f32], &mut [i32], &mut [f32])) -> usize {
        let mut saturated = 0usize;
        let chunks = x
            .chunks(PART)
            .zip(c.chunks_mut(PART))
            .zip(y.chunks_mut(PART));
        for ((x, c), y) in chunks {
            // A narrow counter keeps the loop's lanes 32 bits wide.
            let mut top = 0u32;
            for ((&v, c), y) in x.iter().zip(c.iter_mut()).zip(y.iter_mut()) {
                // torch's clamp; the values are finite, so no NaN meets it.
                let t = v * scale;
                let t = if t < -Self::FMAX { -Self::FMAX } else { t };
                let t = if t > Self::FMAX { Self::FMAX } else { t };
                let (code, val) = Self::cast(t);
                // The byte is below 256: the cast to i32 keeps it.
                *c = code as i32;
                *y = val / scale;
                top += u32::from(code & 0x7F == MAX);
            }
            saturated += top as usize;
        }
        saturated
    }

    /// The tensor's scale, `fmax / max(amax, 1e-12)` in float64 stored as float32.
    fn scale(xs: &[f32]) -> f32 {
        // The largest magnitude, by parts (a maximum is the same in any order).
        let amax = crate::par::pairwise_map(xs, &abs_max_fast, &|a, b| if b > a { b } else { a });
        (f64::from(Self::FMAX) / f64::from(amax).max(1e-12)) as f32
    }

    /// Every value cast with the tensor's scale `scale` (from [`Self::scale`]).
    fn quantize_with(xs: &[f32], scale: f32) -> Quantized {
        let n = xs.len();
        let (mut codes, mut deq) = outputs(n);
        let saturated = in_parts(xs, &mut codes, &mut deq, PART, &|_, x, c, y| {
            Self::part_fast((scale, x, c, y))
        })
        .into_iter()
        .sum();
        Quantized {
            codes,
            dequantized: deq,
            scales: vec![BlockScale::Tensor { scale }],
            block: n,
            saturated,
        }
    }
}

/// An encoding's constants as values, for the fused error pass ([`super::fast`]), which casts
/// eight values at a time by the same steps as [`Enc::cast`].
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Constants {
    pub shift: u32,
    pub low: u32,
    /// `(127 - BIAS) << MBITS`: what the float32 exponent's bias is off by, in code units.
    pub rebias: u32,
    pub fmax: f32,
    pub min_normal: f32,
    pub magic: f32,
    pub max: u32,
}

#[cfg(target_arch = "x86_64")]
impl<const MBITS: u32, const BIAS: u32, const MAX: u32> Enc<MBITS, BIAS, MAX> {
    const CONSTANTS: Constants = Constants {
        shift: Self::SHIFT,
        low: Self::LOW,
        rebias: (127 - BIAS) << MBITS,
        fmax: Self::FMAX,
        min_normal: Self::MIN_NORMAL,
        magic: Self::MAGIC,
        max: MAX,
    };
}

/// [`Constants`] of `kind`.
#[cfg(target_arch = "x86_64")]
pub(super) fn constants(kind: Fp8) -> Constants {
    match kind {
        Fp8::E4m3 => E4m3::CONSTANTS,
        Fp8::E5m2 => E5m2::CONSTANTS,
    }
}

avx2_dispatch! {
    /// [`abs_max`] of a part of the tensor, compiled for AVX2 where the CPU has it: the pass
    /// that finds the tensor's scale reads every value once more.
    fn abs_max_fast(xs: &[f32]) -> f32 => abs_max
}

/// E4M3 (fn): 3 mantissa bits, bias 7, largest 448 (0x7E).
type E4m3 = Enc<3, 7, 0x7E>;
/// E5M2: 2 mantissa bits, bias 15, largest 57344 (0x7B).
type E5m2 = Enc<2, 15, 0x7B>;

/// Values per step of the loop: the saturation count of a step fits 32 bits.
const PART: usize = 4096;

/// FP8 of `xs` with one scale for the tensor (see the module comment).
///
/// `saturated` counts the values whose cast is ±fmax: those `v·scale` clamped at fmax and those
/// that round to it (from fmax minus half its spacing below, e.g. 432 for E4M3). The value of
/// largest magnitude always maps to about fmax, so the count is at least 1 for data that is not
/// all zero.
pub fn quantize(xs: &[f32], kind: Fp8) -> Result<Quantized> {
    Ok(quantize_with_scale(xs, kind, tensor_scale(xs, kind)))
}

/// The one scale [`quantize`] gives `xs`: `fmax / max(max|v|, 1e-12)`.
pub fn tensor_scale(xs: &[f32], kind: Fp8) -> f32 {
    match kind {
        Fp8::E4m3 => E4m3::scale(xs),
        Fp8::E5m2 => E5m2::scale(xs),
    }
}

/// `xs` cast with the tensor scale `scale`: on a piece of a tensor with the whole tensor's
/// [`tensor_scale`], that piece of the tensor's [`quantize`] (its `block` is the piece's
/// length).
pub fn quantize_with_scale(xs: &[f32], kind: Fp8, scale: f32) -> Quantized {
    match kind {
        Fp8::E4m3 => E4m3::quantize_with(xs, scale),
        Fp8::E5m2 => E5m2::quantize_with(xs, scale),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e4m3(y: f32) -> (u32, f32) {
        E4m3::cast(y.clamp(-448.0, 448.0))
    }

    fn e5m2(y: f32) -> (u32, f32) {
        E5m2::cast(y.clamp(-57344.0, 57344.0))
    }

    #[test]
    fn constants_of_the_encodings() {
        assert_eq!(E4m3::FMAX, 448.0);
        assert_eq!(E5m2::FMAX, 57344.0);
        assert_eq!(E4m3::MIN_NORMAL, 2f32.powi(-6));
        assert_eq!(E5m2::MIN_NORMAL, 2f32.powi(-14));
        assert_eq!(E4m3::MAGIC, 16384.0);
        assert_eq!(E5m2::MAGIC, 128.0);
    }

    #[test]
    fn e4m3_saturates_at_448() {
        // 464 is halfway between 448 and 480 (which E4M3fn lacks: 0x7F is NaN), 480 and 1e6
        // are beyond: the clamp makes each 448 before the cast.
        for y in [448.0, 464.0, 480.0, 1e6] {
            assert_eq!(e4m3(y), (0x7E, 448.0), "{y}");
            assert_eq!(e4m3(-y), (0xFE, -448.0), "{y}");
        }
        // 432 is halfway between 416 (mantissa 5, odd) and 448: to even.
        assert_eq!(e4m3(432.0), (0x7E, 448.0));
        assert_eq!(e4m3(431.99997), (0x7D, 416.0));
    }

    #[test]
    fn rounding_to_nearest_even_with_subnormals() {
        // E4M3 subnormals are k·2^-9; half a unit rounds to even.
        let u = 2f32.powi(-9);
        assert_eq!(e4m3(0.5 * u), (0, 0.0));
        assert_eq!(e4m3(1.5 * u), (2, 2.0 * u));
        assert_eq!(e4m3(2.5 * u), (2, 2.0 * u));
        assert_eq!(e4m3(-0.25 * u), (0x80, -0.0));
        // Just below the smallest normal 2^-6 = 8 units, 7.5 units rounds up to it (even).
        assert_eq!(e4m3(7.5 * u), (0x08, 2f32.powi(-6)));
        assert_eq!(e4m3(1.0), (0x38, 1.0));
        assert_eq!(e4m3(1.0625), (0x38, 1.0));
        assert_eq!(e4m3(1.1875), (0x3A, 1.25));
        assert_eq!(e5m2(57344.0), (0x7B, 57344.0));
        assert_eq!(e5m2(61440.0), (0x7B, 57344.0));
        assert_eq!(e5m2(1.125), (0x3C, 1.0));
        assert_eq!(e5m2(1.375), (0x3E, 1.5));
        assert_eq!(e5m2(2f32.powi(-17)), (0, 0.0));
        assert_eq!(e5m2(3.0 * 2f32.powi(-17)), (2, 2f32.powi(-15)));
    }

    #[test]
    fn portable_and_avx2_builds_agree() {
        let x = crate::quant::formats::float::test_values(1 << 14);
        let n = x.len();
        for scale in [1.0f32, 3.7e-3, 2.5e5] {
            let run_with = |fast: bool| {
                let (mut c, mut y) = (vec![0; n], vec![0f32; n]);
                let p = (scale, &x[..], &mut c[..], &mut y[..]);
                let s = if fast {
                    E4m3::part_fast(p)
                } else {
                    E4m3::part(p)
                };
                let (mut c2, mut y2) = (vec![0; n], vec![0f32; n]);
                let p = (scale, &x[..], &mut c2[..], &mut y2[..]);
                let s2 = if fast {
                    E5m2::part_fast(p)
                } else {
                    E5m2::part(p)
                };
                let bits = |y: &[f32]| y.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                (s, c, bits(&y), s2, c2, bits(&y2))
            };
            assert!(run_with(true) == run_with(false), "scale {scale}");
        }
    }

    #[test]
    fn tensor_scale_and_saturation_count() {
        let q = quantize(&[448.0, -448.0, 1.0, 0.0], Fp8::E4m3).unwrap();
        assert_eq!(q.scales, vec![BlockScale::Tensor { scale: 1.0 }]);
        assert_eq!(q.codes, vec![0x7E, 0xFE, 0x38, 0]);
        assert_eq!(q.saturated, 2);
        assert_eq!(q.block, 4);
        let q = quantize(&[0.0; 3], Fp8::E5m2).unwrap();
        assert_eq!(q.scales, vec![BlockScale::Tensor { scale: 5.7344e16 }]);
        assert_eq!(q.dequantized, vec![0.0; 3]);
    }
}
