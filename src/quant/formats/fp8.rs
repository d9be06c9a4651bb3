//! FP8 with a per-tensor scale (torchao's tensorwise recipe: `amax_to_scale`,
//! `to_fp8_saturated`, and the division by the scale that reads the float8 tensor back).
//!
//! `amax = max|v|`; `scale = fmax / max(amax, 1e-12)` in float64, stored as float32; each value
//! `y = fp8(clamp(v·scale, -fmax, fmax))` with `v·scale` in float32 and the cast rounding to
//! nearest even, subnormals included; dequantized `y / scale` in float32. The clamp comes
//! before the cast, so nothing becomes NaN or infinite.

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

/// What the cast needs to know of an encoding.
struct Spec {
    /// The largest finite value.
    fmax: f32,
    /// Its byte without the sign (E4M3 0x7E, E5M2 0x7B).
    max_code: u32,
    /// Mantissa bits.
    mbits: u32,
    /// Exponent bias.
    bias: u32,
    /// The smallest normal value: below it the value rounds in steps of the subnormal unit.
    min_normal: f32,
    /// 2^23 subnormal units: adding it to a value below `min_normal` rounds the value to a
    /// whole number of units (float32's ulp there is one unit), to nearest even.
    magic: f32,
}

impl Fp8 {
    fn spec(self) -> Spec {
        match self {
            Fp8::E4m3 => Spec {
                fmax: 448.0,
                max_code: 0x7E,
                mbits: 3,
                bias: 7,
                min_normal: 1.0 / 64.0,
                // The unit is 2^-9.
                magic: 16384.0,
            },
            Fp8::E5m2 => Spec {
                fmax: 57344.0,
                max_code: 0x7B,
                mbits: 2,
                bias: 15,
                min_normal: 1.0 / 16384.0,
                // The unit is 2^-16.
                magic: 128.0,
            },
        }
    }
}

/// The FP8 byte of `y` (|y| at most `fmax`, not NaN) rounded to nearest even, and its value as
/// float32. Both roundings are computed without branches and the range picks one: normal
/// values round the float32 mantissa to `mbits` bits by integer addition (a carry into the
/// exponent is the correct next binade), subnormal ones by the float addition of `magic`.
/// A value at `2^-6·(1 - 2^-4)` or so rounds up to the smallest normal: the subnormal count
/// reaches `2^mbits`, which is that normal's byte, so both ranges meet without a seam.
#[inline]
fn cast(y: f32, sp: &Spec) -> (u32, f32) {
    let bits = y.to_bits();
    let sign = bits & 0x8000_0000;
    let a = f32::from_bits(bits & 0x7FFF_FFFF);
    let a_bits = a.to_bits();
    let shift = 23 - sp.mbits;
    let low = (1u32 << shift) - 1;
    let rounded = a_bits
        .wrapping_add(low >> 1)
        .wrapping_add((a_bits >> shift) & 1);
    let normal_code = (rounded >> shift).wrapping_sub((127 - sp.bias) << sp.mbits);
    let normal_val = f32::from_bits(rounded & !low);
    let t = a + sp.magic;
    let sub_code = t.to_bits().wrapping_sub(sp.magic.to_bits());
    let sub_val = t - sp.magic;
    let (code, val) = if a < sp.min_normal {
        (sub_code, sub_val)
    } else {
        (normal_code, normal_val)
    };
    ((sign >> 24) | code, f32::from_bits(val.to_bits() | sign))
}

/// FP8 of `xs` with one scale for the tensor (see the module comment).
///
/// `saturated` counts the values whose cast is ±fmax: those `v·scale` clamped at fmax and those
/// that round to it (from fmax minus half its spacing below, e.g. 432 for E4M3). The value of
/// largest magnitude always maps to about fmax, so the count is at least 1 for data that is not
/// all zero.
pub fn quantize(xs: &[f32], kind: Fp8) -> Result<Quantized> {
    let sp = kind.spec();
    let amax = super::float::abs_max(xs);
    let scale = (f64::from(sp.fmax) / f64::from(amax).max(1e-12)) as f32;
    let n = xs.len();
    let mut codes = vec![0i32; n];
    let mut deq = vec![0f32; n];
    let mut saturated = 0usize;
    for ((&v, c), d) in xs.iter().zip(codes.iter_mut()).zip(deq.iter_mut()) {
        let (code, val) = cast((v * scale).clamp(-sp.fmax, sp.fmax), &sp);
        // The byte is below 256: the cast to i32 keeps it.
        *c = code as i32;
        *d = val / scale;
        saturated += usize::from(code & 0x7F == sp.max_code);
    }
    Ok(Quantized {
        codes,
        dequantized: deq,
        scales: vec![BlockScale::Tensor { scale }],
        block: n,
        saturated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e4m3(y: f32) -> (u32, f32) {
        cast(y.clamp(-448.0, 448.0), &Fp8::E4m3.spec())
    }

    fn e5m2(y: f32) -> (u32, f32) {
        cast(y.clamp(-57344.0, 57344.0), &Fp8::E5m2.spec())
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
