//! Quantize and dequantize: the notebook's formulas, in f64, rounding halves to even like numpy.
//!
//! `q = clamp(round(x / scale + zero_point), qmin, qmax)` and `x̂ = (q - zero_point) * scale`.
//! The division (not a multiplication by 1 / scale) and the order of operations are numpy's, so
//! that codes match numpy bit for bit.

use crate::error::{Error, Result};
use crate::settings::{code_range, Scheme, ZeroPoint};
use crate::sum::{pairwise_sum_map, pairwise_sum_seq};

/// The smallest scale used where a range has zero width: float32's machine epsilon, as PyTorch.
pub const SCALE_FLOOR: f64 = f32::EPSILON as f64;

/// Rounds to the nearest integer, halves to even (numpy's `np.round`, IEEE `rint`).
///
/// On x86-64 without SSE4.1 `f64::round_ties_even` is a call into libm; adding and subtracting
/// 2^52 rounds the same way (the default rounding mode is to nearest, ties to even, and every
/// f64 at or above 2^52 is already an integer), in two instructions that vectorize. On wasm32
/// `round_ties_even` is the single instruction `f64.nearest`.
#[inline(always)]
pub fn round_half_even(x: f64) -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        x.round_ties_even()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        const TWO_52: f64 = 4_503_599_627_370_496.0;
        let a = x.abs();
        if a < TWO_52 {
            ((a + TWO_52) - TWO_52).copysign(x)
        } else {
            x
        }
    }
}

/// Everything needed to quantize: `q = clamp(round(x / scale + zero_point), qmin, qmax)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantParams {
    /// Asymmetric or symmetric.
    pub scheme: Scheme,
    /// Bit width.
    pub bits: u32,
    /// Step between adjacent levels; always finite and positive.
    pub scale: f64,
    /// The code that stands for 0.0 (a float, as in the notebook; 0 for symmetric).
    pub zero_point: f64,
    /// Smallest code.
    pub qmin: i32,
    /// Largest code.
    pub qmax: i32,
    /// Lower end of the calibrated range (beta; -alpha for symmetric).
    pub range_min: f64,
    /// Upper end of the calibrated range (alpha).
    pub range_max: f64,
}

/// The error of quantizing a set of values, gathered in one pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorStats {
    /// How many values were counted.
    pub n: usize,
    /// `Σ (x - x̂)²`, summed in numpy's pairwise order.
    pub sum_sq: f64,
    /// `max |x - x̂|`.
    pub max_abs: f64,
    /// How many values fell outside the codes' range before clamping.
    pub clipped: usize,
}

impl ErrorStats {
    /// Mean squared error `Σ (x - x̂)² / n` (numpy's `np.mean((x - x̂) ** 2)`); 0 when empty.
    pub fn mse(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum_sq / self.n as f64
        }
    }
}

impl QuantParams {
    /// Asymmetric parameters for the range `[beta, alpha]`:
    /// `scale = (alpha - beta) / (2^b - 1)`, `zero_point = -round(beta / scale)` (raw, the
    /// notebook), or PyTorch's `include-zero`: range widened to contain 0,
    /// `scale = max((alpha' - beta') / (qmax - qmin), eps)`,
    /// `zero_point = clamp(qmin - round(beta' / scale), qmin, qmax)`.
    /// A zero-width range `[c, c]` gets `scale = |c|` (eps for 0) so that `c` is exact.
    pub fn asymmetric(beta: f64, alpha: f64, bits: u32, policy: ZeroPoint) -> Result<Self> {
        crate::settings::check_bits(bits as i64)?;
        let (qmin, qmax) = code_range(Scheme::Asymmetric, bits);
        let (lo, hi) = match policy {
            ZeroPoint::Raw => (beta, alpha),
            ZeroPoint::IncludeZero => (beta.min(0.0), alpha.max(0.0)),
        };
        let width = hi - lo;
        if !width.is_finite() {
            return Err(Error::RangeOverflow { lo, hi });
        }
        let mut scale = width / (qmax - qmin) as f64;
        if policy == ZeroPoint::IncludeZero && scale > 0.0 {
            scale = scale.max(SCALE_FLOOR);
        }
        if beta == alpha || scale.is_nan() || scale < f64::MIN_POSITIVE {
            // A constant c: a step of |c| puts c exactly one level from zero, under either
            // policy; the formulas would divide by zero (the notebook gives NaN here).
            scale = if alpha == 0.0 {
                SCALE_FLOOR
            } else {
                alpha.abs()
            };
        }
        let zero_point = match policy {
            ZeroPoint::Raw => -(lo / scale).round_ties_even(),
            ZeroPoint::IncludeZero => {
                (qmin as f64 - (lo / scale).round_ties_even()).clamp(qmin as f64, qmax as f64)
            }
        };
        Ok(QuantParams {
            scheme: Scheme::Asymmetric,
            bits,
            scale,
            zero_point,
            qmin,
            qmax,
            range_min: beta,
            range_max: alpha,
        })
    }

    /// Symmetric parameters for `[-alpha, alpha]`: `scale = alpha / (2^(b-1) - 1)`, zero point 0
    /// (the notebook; PyTorch divides by 127.5 at 8 bits instead). With `constant`, the data is
    /// one value c and the scale is `|c|` (eps for 0), so that c is exact.
    pub fn symmetric(alpha: f64, bits: u32, constant: bool) -> Result<Self> {
        crate::settings::check_bits(bits as i64)?;
        let (qmin, qmax) = code_range(Scheme::Symmetric, bits);
        let alpha = alpha.abs();
        if !alpha.is_finite() {
            return Err(Error::RangeOverflow {
                lo: -alpha,
                hi: alpha,
            });
        }
        let mut scale = alpha / qmax as f64;
        if constant || scale.is_nan() || scale < f64::MIN_POSITIVE {
            scale = if alpha == 0.0 { SCALE_FLOOR } else { alpha };
        }
        Ok(QuantParams {
            scheme: Scheme::Symmetric,
            bits,
            scale,
            zero_point: 0.0,
            qmin,
            qmax,
            range_min: -alpha,
            range_max: alpha,
        })
    }

    /// The rounded code before clamping: `round(x / scale + zero_point)`, halves to even.
    #[inline(always)]
    pub fn unclamped(&self, x: f64) -> f64 {
        round_half_even(x / self.scale + self.zero_point)
    }

    /// One value's code: `clamp(round(x / scale + zero_point), qmin, qmax)`.
    #[inline(always)]
    pub fn quantize_value(&self, x: f64) -> i32 {
        self.unclamped(x).clamp(self.qmin as f64, self.qmax as f64) as i32
    }

    /// One code's value: `(q - zero_point) * scale`.
    #[inline(always)]
    pub fn dequantize_value(&self, q: i32) -> f64 {
        (q as f64 - self.zero_point) * self.scale
    }

    /// Quantize then dequantize one value.
    #[inline(always)]
    pub fn fake_quantize(&self, x: f64) -> f64 {
        self.dequantize_value(self.quantize_value(x))
    }

    /// The smallest value the codes can represent: `(qmin - zero_point) * scale`.
    pub fn clip_min(&self) -> f64 {
        self.dequantize_value(self.qmin)
    }

    /// The largest value the codes can represent: `(qmax - zero_point) * scale`.
    pub fn clip_max(&self) -> f64 {
        self.dequantize_value(self.qmax)
    }

    /// Codes of all values.
    pub fn quantize(&self, xs: &[f64]) -> Vec<i32> {
        xs.iter().map(|&x| self.quantize_value(x)).collect()
    }

    /// Values of all codes.
    pub fn dequantize(&self, qs: &[i32]) -> Vec<f64> {
        qs.iter().map(|&q| self.dequantize_value(q)).collect()
    }

    /// Codes and dequantized values together, in one pass.
    pub fn quantize_dequantize(&self, xs: &[f64]) -> (Vec<i32>, Vec<f64>) {
        let mut codes = Vec::with_capacity(xs.len());
        let mut deq = Vec::with_capacity(xs.len());
        for &x in xs {
            let q = self.quantize_value(x);
            codes.push(q);
            deq.push(self.dequantize_value(q));
        }
        (codes, deq)
    }

    /// The error of quantizing `xs`, fused: codes are never stored, one pass over the data.
    pub fn error_stats(&self, xs: &[f64]) -> ErrorStats {
        let (lo, hi) = (self.qmin as f64, self.qmax as f64);
        let mut max_abs = 0.0f64;
        let mut clipped = 0usize;
        let sum_sq = pairwise_sum_map(xs, &mut |x| {
            let r = self.unclamped(x);
            clipped += (r < lo || r > hi) as usize;
            let e = x - (r.clamp(lo, hi) - self.zero_point) * self.scale;
            max_abs = max_abs.max(e.abs());
            e * e
        });
        ErrorStats {
            n: xs.len(),
            sum_sq,
            max_abs,
            clipped,
        }
    }

    /// The error over the values whose `keep` flag is true (the notebook's "excluding the
    /// outlier"), summed in numpy's pairwise order over the kept values.
    pub fn error_stats_masked(&self, xs: &[f64], keep: &[bool]) -> ErrorStats {
        let n = xs.iter().zip(keep).filter(|(_, &k)| k).count();
        let mut kept = xs.iter().zip(keep).filter(|(_, &k)| k).map(|(&x, _)| x);
        let mut max_abs = 0.0f64;
        let mut clipped = 0usize;
        let (lo, hi) = (self.qmin as f64, self.qmax as f64);
        let sum_sq = pairwise_sum_seq(n, &mut || {
            let x = kept.next().unwrap_or(0.0);
            let r = self.unclamped(x);
            clipped += (r < lo || r > hi) as usize;
            let e = x - (r.clamp(lo, hi) - self.zero_point) * self.scale;
            max_abs = max_abs.max(e.abs());
            e * e
        });
        ErrorStats {
            n,
            sum_sq,
            max_abs,
            clipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_half_even_is_rint() {
        let cases = [
            0.5,
            1.5,
            2.5,
            -0.5,
            -1.5,
            -2.5,
            0.49999999999999994,
            2.0f64.powi(52) - 0.5,
            2.0f64.powi(52) + 1.0,
            1e300,
            -1e-300,
            -0.0,
            0.0,
            254.89,
            -7.5,
            1e15 + 0.5,
        ];
        for x in cases {
            let want = x.round_ties_even();
            assert_eq!(round_half_even(x).to_bits(), want.to_bits(), "{x}");
        }
        let mut s = 0x1234_5678_9abc_def0u64;
        for _ in 0..100_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let x = f64::from_bits(s);
            if x.is_finite() {
                assert_eq!(
                    round_half_even(x).to_bits(),
                    x.round_ties_even().to_bits(),
                    "{x}"
                );
            }
            let y = (s % 2_000_001) as f64 / 4.0 - 250_000.0;
            assert_eq!(
                round_half_even(y).to_bits(),
                y.round_ties_even().to_bits(),
                "{y}"
            );
        }
    }

    #[test]
    fn constant_tensors_reconstruct_exactly() {
        for c in [0.0, 3.0, -0.1, 1e-30, -7.25e12] {
            for policy in [ZeroPoint::Raw, ZeroPoint::IncludeZero] {
                for bits in [2, 8, 16] {
                    let p = QuantParams::asymmetric(c, c, bits, policy).unwrap();
                    assert!(p.scale.is_finite() && p.scale > 0.0);
                    assert_eq!(p.fake_quantize(c), c, "asym {c} {policy:?} {bits}");
                    let s = QuantParams::symmetric(c, bits, true).unwrap();
                    assert_eq!(s.fake_quantize(c), c, "sym {c} {bits}");
                }
            }
        }
    }

    #[test]
    fn include_zero_clamps_the_zero_point() {
        // All-positive data: raw gives a negative zero point, include-zero gives 0.
        let raw = QuantParams::asymmetric(10.0, 20.0, 8, ZeroPoint::Raw).unwrap();
        assert!(raw.zero_point < 0.0);
        let iz = QuantParams::asymmetric(10.0, 20.0, 8, ZeroPoint::IncludeZero).unwrap();
        assert_eq!(iz.zero_point, 0.0);
        assert_eq!(iz.fake_quantize(0.0), 0.0);
    }

    #[test]
    fn overflowing_range_is_an_error() {
        let e = QuantParams::asymmetric(-f64::MAX, f64::MAX, 8, ZeroPoint::Raw).unwrap_err();
        assert!(e.to_string().contains("too wide"));
    }
}
