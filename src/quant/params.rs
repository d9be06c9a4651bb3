//! Quantize and dequantize: the notebook's formulas, in f64, rounding halves to even like numpy.
//!
//! `q = clamp(round(x / scale + zero_point), qmin, qmax)` and `x̂ = (q - zero_point) * scale`.
//! The division (not a multiplication by 1 / scale) and the order of operations are numpy's, so
//! that codes match numpy bit for bit.

use crate::error::{Error, Result};
use crate::quant::kernels::{error_pass, fill, sum_sq_leaf, Kernel, MANY};
use crate::quant::pairwise::{pairwise_sum_map, pairwise_sum_seq};
use crate::settings::{code_range, Scheme, ZeroPoint};

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

/// A mean of squares `mean(v²)` that may lie beyond f64's range, in two forms: numpy's, and
/// one scaled by a power of two so that it is always a normal number.
///
/// Squares of values above about 1.3e154 overflow and squares below about 1e-162 underflow, so
/// `np.mean(v ** 2)` can be inf or 0 for data whose mean square is a perfectly good ratio to
/// another's. Scaling every `v` by `2^-k`, with `k` the binary exponent of `max |v|`, is exact
/// (a power of two only moves the exponent, for results in the normal range) and leaves each
/// scaled value below 2 in magnitude and the largest at least 1: `mean(v²) = scaled · 4^k`, with
/// `scaled` in `[1 / n, 4)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanSquare {
    /// numpy's `np.mean(v ** 2)`, pairwise: inf where the squares or their sum overflow, 0 or
    /// subnormal where they underflow.
    pub plain: f64,
    /// `mean((v · 2^-k)²)`: the same mean, scaled; `plain` itself (with `k` 0) where `plain`
    /// is a normal number, 0 only where every `v` is 0.
    pub scaled: f64,
    /// The scale's exponent: the mean is `scaled · 4^k`.
    pub k: i32,
}

impl MeanSquare {
    /// A mean square whose plain form is already a normal number (or exactly 0).
    pub fn plain(plain: f64) -> MeanSquare {
        MeanSquare {
            plain,
            scaled: plain,
            k: 0,
        }
    }

    /// Whether `plain` can be used as it is: a normal number, or exactly 0 with every value 0.
    fn plain_is_exact(plain: f64, max_abs: f64) -> bool {
        plain.is_normal() || (plain == 0.0 && max_abs == 0.0)
    }

    /// The mean square of `n` terms `v`, each from `term`, with `max |v|` = `max_abs` and
    /// numpy's mean `plain`: a second pass, scaled, only where `plain` is not a normal number.
    pub(crate) fn of_terms(
        n: usize,
        plain: f64,
        max_abs: f64,
        scaled_sum: &mut dyn FnMut(i32) -> f64,
    ) -> MeanSquare {
        if Self::plain_is_exact(plain, max_abs) || n == 0 {
            return MeanSquare::plain(plain);
        }
        if !max_abs.is_finite() {
            // A term beyond f64 (x - x̂ overflowed): no scale brings it back.
            return MeanSquare {
                plain,
                scaled: f64::INFINITY,
                k: 0,
            };
        }
        let k = libm::ilogb(max_abs);
        MeanSquare {
            plain,
            scaled: scaled_sum(k) / n as f64,
            k,
        }
    }

    /// `mean(x²)` of the values, given numpy's `plain` mean of them (the signal power).
    pub fn of_values(xs: &[f64], plain: f64) -> MeanSquare {
        if Self::plain_is_exact(plain, 1.0) {
            return MeanSquare::plain(plain);
        }
        let max_abs = xs.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        Self::of_terms(xs.len(), plain, max_abs, &mut |k| {
            pairwise_sum_map(xs, &mut |x| {
                let v = libm::scalbn(x, -k);
                v * v
            })
        })
    }

    /// The mean square as one f64: `plain` where it is finite (numpy's, bit for bit), else
    /// `scaled · 4^k`, which is inf only where the mean itself is beyond f64.
    pub fn value(&self) -> f64 {
        if self.plain.is_finite() {
            self.plain
        } else {
            libm::scalbn(self.scaled, 2 * self.k)
        }
    }

    /// `10 log10(self / other)` in dB, from the scaled forms where a plain one is not a normal
    /// number; `plain`'s formula, `10 log10(plain / other.plain)`, bit for bit where both are.
    /// +inf where `other` is exactly 0.
    pub fn ratio_db(&self, other: &MeanSquare) -> f64 {
        if self.plain.is_normal() && other.plain.is_normal() {
            return 10.0 * (self.plain / other.plain).log10();
        }
        if other.scaled == 0.0 {
            return f64::INFINITY;
        }
        // 10 log10(s · 4^k / (o · 4^j)) = 10 log10(s / o) + 20 log10(2) (k - j).
        const DB_PER_BINADE: f64 = 20.0 * std::f64::consts::LOG10_2;
        10.0 * (self.scaled / other.scaled).log10() + DB_PER_BINADE * f64::from(self.k - other.k)
    }
}

impl QuantParams {
    /// Asymmetric parameters for the range `[beta, alpha]`:
    /// `scale = (alpha - beta) / (2^b - 1)`, `zero_point = -round(beta / scale)` (raw, the
    /// notebook), or PyTorch's `include-zero`: range widened to contain 0,
    /// `scale = max((alpha' - beta') / (qmax - qmin), eps)`,
    /// `zero_point = clamp(qmin - round(beta' / scale), qmin, qmax)`.
    /// A range whose step would be subnormal gets the larger end's magnitude as its step.
    /// A zero-width range `[c, c]` gets `scale = |c|` (eps for 0) so that `c` is exact; its
    /// outer levels may then lie beyond f64 (`256 · c` for c near f64::MAX), which no value of
    /// the range reaches (see [`QuantParams::levels_finite`]).
    #[inline]
    pub fn asymmetric(beta: f64, alpha: f64, bits: u32, policy: ZeroPoint) -> Result<Self> {
        crate::settings::check_bits(bits as i64)?;
        if !beta.is_finite() || !alpha.is_finite() {
            // Checked before include-zero's min/max, which would turn inf into 0 and hide it.
            return Err(Error::RangeOverflow {
                lo: beta,
                hi: alpha,
            });
        }
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
            // policy; the formulas would divide by zero (the notebook gives NaN here). A range
            // whose step would be subnormal takes the larger end's magnitude m as its step: the
            // range is at most 2m wide, which the 3 or more steps of every width hold, so no
            // value lies more than half a step from a level.
            let m = alpha.abs().max(beta.abs());
            scale = if m == 0.0 { SCALE_FLOOR } else { m };
        }
        let zero_point = match policy {
            ZeroPoint::Raw => -(lo / scale).round_ties_even(),
            ZeroPoint::IncludeZero => {
                (qmin as f64 - (lo / scale).round_ties_even()).clamp(qmin as f64, qmax as f64)
            }
        };
        QuantParams {
            scheme: Scheme::Asymmetric,
            bits,
            scale,
            zero_point,
            qmin,
            qmax,
            range_min: beta,
            range_max: alpha,
        }
        .checked((beta == alpha).then_some(alpha))
    }

    /// Symmetric parameters for `[-alpha, alpha]`: `scale = alpha / (2^(b-1) - 1)`, zero point 0
    /// (the notebook; PyTorch divides by 127.5 at 8 bits instead). With `constant`, the data is
    /// one value c and the scale is `|c|` (eps for 0), so that c is exact (`alpha = |c|`; its
    /// outer levels may lie beyond f64, as for an asymmetric constant).
    #[inline]
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
        QuantParams {
            scheme: Scheme::Symmetric,
            bits,
            scale,
            zero_point: 0.0,
            qmin,
            qmax,
            range_min: -alpha,
            range_max: alpha,
        }
        .checked(constant.then_some(alpha))
    }

    /// The parameters, or `RangeOverflow` when a level that values can reach would not be a
    /// finite number (ranges near f64::MAX, where `(q - zero_point) * scale` overflows).
    ///
    /// With `point`, the range is the one value c (constant data): only c's own level must be
    /// finite. The rule `scale = |c|` puts c one level from zero, so the outer levels are up to
    /// `2^b · |c|`, beyond f64 for |c| above f64::MAX / 2^b, yet c itself is exact; any other
    /// scale would give up exactness. Otherwise every level must be finite.
    fn checked(self, point: Option<f64>) -> Result<Self> {
        let ok = self.scale.is_finite()
            && self.scale > 0.0
            && match point {
                Some(c) => self.fake_quantize(c).is_finite(),
                None => self.levels_finite(),
            };
        if ok {
            Ok(self)
        } else {
            Err(Error::RangeOverflow {
                lo: self.range_min,
                hi: self.range_max,
            })
        }
    }

    /// Whether every level, from `clip_min` to `clip_max`, is a finite number: always, but for
    /// the parameters of a constant near f64::MAX (see [`QuantParams::asymmetric`]).
    pub fn levels_finite(&self) -> bool {
        self.clip_min().is_finite() && self.clip_max().is_finite()
    }

    /// Whether the codes rise with the values: `scale > 0` (not NaN). Then `x / scale +
    /// zero_point`, its rounding and its clamping are all non-decreasing in `x` (IEEE division
    /// by a positive number, addition and rounding are monotone), so over sorted values each
    /// code is one run: what the shortcuts over sorted values count on.
    #[inline]
    pub fn codes_rise(&self) -> bool {
        self.scale > 0.0
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
    ///
    /// Bit for bit `quantize` then `dequantize`; the loop is written to vectorize (see
    /// [`Kernel`]), large inputs are split over threads ([`crate::par`]), and large outputs are
    /// allocated as huge pages where the OS allows.
    pub fn quantize_dequantize(&self, xs: &[f64]) -> (Vec<i32>, Vec<f64>) {
        let mut codes = crate::par::zeroed_vec::<i32>(xs.len());
        let mut deq = crate::par::zeroed_vec::<f64>(xs.len());
        self.quantize_dequantize_into(xs, &mut codes, &mut deq);
        (codes, deq)
    }

    /// [`QuantParams::quantize_dequantize`] into buffers the caller keeps (`codes` and `deq`
    /// as long as `xs`; where shorter, only that many values are written).
    pub fn quantize_dequantize_into(&self, xs: &[f64], codes: &mut [i32], deq: &mut [f64]) {
        let n = xs.len().min(codes.len()).min(deq.len());
        let k = Kernel::new(self);
        if n < 2 * crate::par::MIN_PART || crate::par::threads() == 1 {
            fill(&k, &xs[..n], &mut codes[..n], &mut deq[..n]);
            return;
        }
        // Two threads, one half each (no sum here, so any cut keeps the results).
        let (xa, xb) = xs[..n].split_at(n / 2);
        let (ca, cb) = codes[..n].split_at_mut(n / 2);
        let (da, db) = deq[..n].split_at_mut(n / 2);
        let right = std::sync::Mutex::new(Some((cb, db)));
        let take = || match right.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        std::thread::scope(|s| {
            let spawned = std::thread::Builder::new().spawn_scoped(s, || {
                if let Some((cb, db)) = take() {
                    fill(&k, xb, cb, db);
                }
            });
            fill(&k, xa, ca, da);
            match spawned.map(|h| h.join()) {
                Ok(Ok(())) => {}
                Ok(Err(panic)) => std::panic::resume_unwind(panic),
                Err(_) => {
                    if let Some((cb, db)) = take() {
                        fill(&k, xb, cb, db);
                    }
                }
            }
        });
    }

    /// The error of quantizing `xs`, fused: codes are never stored, one pass over the data.
    ///
    /// The squared errors are summed in numpy's pairwise order, so `sum_sq / n` is bit for bit
    /// `np.mean((x - x̂) ** 2)`; each leaf block of 128 values is one vectorized loop
    /// ([`Kernel::error_leaf`]), and large inputs run on several threads, cut where the
    /// pairwise tree cuts ([`crate::par`]).
    pub fn error_stats(&self, xs: &[f64]) -> ErrorStats {
        let mut none: [i32; 0] = [];
        error_pass::<false>(&Kernel::new(self), xs, &mut none)
    }

    /// Codes into `codes` (as long as `xs`) and the error, in one pass: the dequantized values
    /// are streamed into the error instead of stored. The codes are [`QuantParams::quantize`]'s
    /// and the error is [`QuantParams::error_stats`]'s, bit for bit. If `codes` is shorter than
    /// `xs`, only the error is computed and `codes` is left as it was.
    pub fn quantize_into(&self, xs: &[f64], codes: &mut [i32]) -> ErrorStats {
        let k = Kernel::new(self);
        if codes.len() < xs.len() {
            let mut none: [i32; 0] = [];
            return error_pass::<false>(&k, xs, &mut none);
        }
        error_pass::<true>(&k, xs, &mut codes[..xs.len()])
    }

    /// `Σ (x - x̂)²` of several parameter sets over the same data in one read of it, and
    /// nothing else (no max, no clipped count: a leaner loop than
    /// [`crate::quant::kernels::fused::error_stats_many`]). Element `i` is `params[i].error_stats(xs).sum_sq`,
    /// bit for bit: `clamp(round(v), lo, hi)` is `round(clamp(v, lo, hi))` for integer bounds.
    pub fn sum_sq_many(params: &[QuantParams], xs: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(params.len());
        for group in params.chunks(MANY) {
            let mut kernels = [Kernel::new(&group[0]); MANY];
            for (k, p) in kernels.iter_mut().zip(group) {
                *k = Kernel::new(p);
            }
            let m = group.len();
            let part = |part: &[f64]| -> [f64; MANY] {
                crate::quant::pairwise::pairwise_tree_with(
                    part,
                    &mut |b: &[f64]| {
                        let mut r = [0.0; MANY];
                        for j in 0..m {
                            r[j] = sum_sq_leaf(&kernels[j], b);
                        }
                        r
                    },
                    &|a: [f64; MANY], b: [f64; MANY]| std::array::from_fn(|j| a[j] + b[j]),
                )
            };
            let sums =
                crate::par::pairwise_map(xs, &part, &|a, b| std::array::from_fn(|j| a[j] + b[j]));
            out.extend_from_slice(&sums[..m]);
        }
        out
    }

    /// `error_stats` as plainly as it can be written (the definition the fast path is tested
    /// against).
    #[cfg(test)]
    pub(crate) fn error_stats_simple(&self, xs: &[f64]) -> ErrorStats {
        let (lo, hi) = (self.qmin as f64, self.qmax as f64);
        let mut max_abs = 0.0f64;
        let mut clipped = 0usize;
        let mut terms = Vec::with_capacity(xs.len());
        for &x in xs {
            let r = self.unclamped(x);
            clipped += (r < lo || r > hi) as usize;
            let e = x - (r.clamp(lo, hi) - self.zero_point) * self.scale;
            max_abs = max_abs.max(e.abs());
            terms.push(e * e);
        }
        ErrorStats {
            n: xs.len(),
            sum_sq: crate::quant::pairwise::pairwise_sum_seq(terms.len(), &mut {
                let mut it = terms.iter().copied();
                move || it.next().unwrap_or(0.0)
            }),
            max_abs,
            clipped,
        }
    }

    /// The mean squared error of quantizing `xs`, whose error pass gave `e`, as a
    /// [`MeanSquare`]: numpy's `e.mse()` where it is a normal number (or 0 with every error 0),
    /// otherwise also scaled, from a second pass over the errors `x - x̂`, each exactly
    /// [`QuantParams::fake_quantize`]'s (the error pass's arithmetic).
    pub fn error_mean_square(&self, xs: &[f64], e: &ErrorStats) -> MeanSquare {
        MeanSquare::of_terms(xs.len(), e.mse(), e.max_abs, &mut |k| {
            pairwise_sum_map(xs, &mut |x| {
                let v = libm::scalbn(x - self.fake_quantize(x), -k);
                v * v
            })
        })
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
    use crate::quant::kernels::ErrorLanes;
    use crate::quant::pairwise::pairwise_tree;

    /// A range whose min-max step would be subnormal (under f64::MIN_POSITIVE) is held by its
    /// levels: no value of it lies more than half a step from its level, at any width.
    #[test]
    fn a_range_with_a_subnormal_step_keeps_its_values_within_half_a_step() {
        let ranges = [
            (-4.700430040349744e-308, 1.5668100134499147e-308),
            (0.0, 2e-308),
            (-2e-308, 0.0),
            (-1e-310, 3e-310),
        ];
        for (lo, hi) in ranges {
            for bits in [2, 3, 8, 16] {
                let p = QuantParams::asymmetric(lo, hi, bits, ZeroPoint::Raw).unwrap();
                for x in [lo, hi, (lo + hi) / 2.0, 0.0] {
                    let xh = p.dequantize_value(p.quantize_value(x));
                    assert!(
                        (x - xh).abs() <= p.scale / 2.0,
                        "[{lo:e}, {hi:e}] at {bits} bits: {x:e} -> {xh:e}, step {:e}",
                        p.scale
                    );
                }
            }
        }
    }

    #[test]
    fn codes_rise_only_with_a_positive_scale() {
        let p = QuantParams::asymmetric(-1.0, 3.0, 4, ZeroPoint::Raw).unwrap();
        assert!(p.codes_rise());
        for scale in [0.0, -0.0, -1.0, f64::NAN, f64::NEG_INFINITY] {
            assert!(!QuantParams { scale, ..p }.codes_rise(), "{scale}");
        }
        assert!(QuantParams {
            scale: f64::MIN_POSITIVE / 4.0,
            ..p
        }
        .codes_rise());
    }

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

    /// Deterministic test data: xorshift64 uniforms in [0, 1).
    fn uniforms(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    /// Parameter sets: the notebook's, PyTorch's, exact power-of-two steps (so that halves are
    /// exact ties), a narrowed symmetric range (the mse search's), 2 to 16 bits.
    fn param_sets() -> Vec<QuantParams> {
        let mut ps = Vec::new();
        for bits in [2, 3, 4, 8, 16] {
            ps.push(QuantParams::asymmetric(-50.0, 1000.0, bits, ZeroPoint::Raw).unwrap());
            ps.push(QuantParams::asymmetric(-3.0, 7.0, bits, ZeroPoint::IncludeZero).unwrap());
            ps.push(QuantParams::asymmetric(10.0, 20.0, bits, ZeroPoint::Raw).unwrap());
            ps.push(QuantParams::symmetric(150.0, bits, false).unwrap());
            let mut narrow = QuantParams::symmetric(40.0, bits, false).unwrap();
            narrow.qmin = -narrow.qmax;
            ps.push(narrow);
        }
        // scale 0.25: x = m / 8 gives x / scale = m / 2, every other one an exact tie.
        let mut pow2 = QuantParams::asymmetric(-16.0, 47.75, 8, ZeroPoint::Raw).unwrap();
        assert_eq!(pow2.scale, 0.25);
        ps.push(pow2);
        pow2.zero_point = 3.0;
        ps.push(pow2);
        ps.push(QuantParams::symmetric(0.25 * 127.0, 8, false).unwrap());
        ps
    }

    fn data_sets() -> Vec<Vec<f64>> {
        let u = uniforms(100_003, 7);
        let mut sets = Vec::new();
        let mut notebook: Vec<f64> = u.iter().map(|x| -50.0 + 200.0 * x).collect();
        *notebook.last_mut().unwrap() = 1000.0;
        sets.push(notebook);
        // Exact halves and duplicates: m / 8 for integers m in [-200, 600).
        sets.push(
            u.iter()
                .map(|x| ((x * 800.0).floor() - 200.0) / 8.0)
                .collect(),
        );
        sets.push(u.iter().map(|x| (x * 6.0).floor() * 0.5 - 1.5).collect());
        // Far outside every range (clipped both ways), tiny values, both zeros; values whose
        // x / scale overflows to infinity, and infinities.
        sets.push(
            u.iter()
                .enumerate()
                .map(|(i, x)| match i % 9 {
                    0 => -1e300 * x,
                    1 => 1e300 * x,
                    2 => 1e-310 * (x - 0.5),
                    3 => -0.0,
                    4 => f64::MAX * x,
                    5 => -f64::MAX,
                    6 if i % 1000 == 6 => f64::INFINITY,
                    7 if i % 1000 == 7 => f64::NEG_INFINITY,
                    _ => 0.0,
                })
                .collect(),
        );
        sets
    }

    const LENGTHS: [usize; 12] = [0, 1, 7, 8, 9, 15, 127, 128, 129, 1000, 4099, 100_003];

    #[test]
    fn fast_error_stats_is_the_simple_definition_bit_for_bit() {
        for p in param_sets() {
            let k = Kernel::new(&p);
            for xs in data_sets() {
                for n in LENGTHS {
                    let xs = &xs[..n];
                    let want = p.error_stats_simple(xs);
                    let got = p.error_stats(xs);
                    let mut acc = ErrorLanes::default();
                    let portable =
                        pairwise_tree(xs, &mut |b| k.error_leaf::<false>(b, &mut [], &mut acc));
                    let what = format!("{p:?} n={n}");
                    // Codes stored on the way, by the fast and the portable leaf.
                    let mut codes = vec![7; n];
                    let fused = p.quantize_into(xs, &mut codes);
                    assert_eq!(fused, got, "{what}");
                    let want_codes: Vec<i32> = xs.iter().map(|&x| p.quantize_value(x)).collect();
                    assert_eq!(codes, want_codes, "{what}");
                    let (mut acc2, mut off, mut portable_codes) =
                        (ErrorLanes::default(), 0, vec![7; n]);
                    let portable2 = pairwise_tree(xs, &mut |b| {
                        let cs = &mut portable_codes[off..off + b.len()];
                        off += b.len();
                        k.error_leaf::<true>(b, cs, &mut acc2)
                    });
                    assert_eq!(portable2.to_bits(), want.sum_sq.to_bits(), "{what}");
                    assert_eq!(portable_codes, want_codes, "portable {what}");
                    assert_eq!(got.sum_sq.to_bits(), want.sum_sq.to_bits(), "{what}");
                    assert_eq!(portable.to_bits(), want.sum_sq.to_bits(), "portable {what}");
                    assert_eq!(got.max_abs.to_bits(), want.max_abs.to_bits(), "{what}");
                    assert_eq!(got.clipped, want.clipped, "{what}");
                    assert_eq!(got.n, n);
                }
            }
        }
    }

    #[test]
    fn many_at_once_is_each_alone() {
        let sets = param_sets();
        for xs in data_sets() {
            for n in LENGTHS {
                let xs = &xs[..n];
                // More sets than one group of MANY, to cross a group boundary.
                let many: Vec<QuantParams> = sets.iter().chain(&sets).copied().collect();
                // The page's fused pass over all of them (crate::quant::kernels::fused).
                let got = crate::quant::kernels::fused::error_stats_fused(xs, &many);
                assert_eq!(got.len(), many.len());
                let sums = QuantParams::sum_sq_many(&many, xs);
                for (p, g) in many.iter().zip(&sums) {
                    let want = p.error_stats_simple(xs).sum_sq;
                    assert_eq!(g.to_bits(), want.to_bits(), "sum_sq_many {p:?} n={n}");
                }
                for (p, g) in many.iter().zip(&got) {
                    let want = p.error_stats_simple(xs);
                    assert_eq!(g.sum_sq.to_bits(), want.sum_sq.to_bits(), "{p:?} n={n}");
                    assert_eq!(g.max_abs.to_bits(), want.max_abs.to_bits(), "{p:?} n={n}");
                    assert_eq!((g.clipped, g.n), (want.clipped, want.n), "{p:?} n={n}");
                }
            }
        }
    }

    /// Large enough to run on threads (where the machine has more than one core): the parts
    /// are cut where numpy's pairwise tree cuts, so every result is still the simple one.
    #[test]
    fn threaded_passes_are_the_simple_definition() {
        let n = 4 * crate::par::MIN_PART + 13;
        let mut xs = uniforms(n, 77);
        xs[n - 1] = 1000.0;
        xs[5] = -0.0;
        for p in param_sets().into_iter().take(6) {
            let want = p.error_stats_simple(&xs);
            let got = p.error_stats(&xs);
            assert_eq!(got.sum_sq.to_bits(), want.sum_sq.to_bits(), "{p:?}");
            assert_eq!((got.max_abs, got.clipped), (want.max_abs, want.clipped));
            let mut codes = vec![0; n];
            assert_eq!(p.quantize_into(&xs, &mut codes), got);
            let (c, d) = p.quantize_dequantize(&xs);
            assert_eq!(c, codes);
            for i in (0..n).step_by(997).chain([n / 2 - 1, n / 2, n - 1]) {
                assert_eq!(codes[i], p.quantize_value(xs[i]), "{p:?} {i}");
                assert_eq!(d[i].to_bits(), p.fake_quantize(xs[i]).to_bits(), "{i}");
            }
            assert_eq!(
                crate::quant::kernels::fused::error_stats_fused(&xs, &[p, p]),
                vec![got, got]
            );
            let sums = QuantParams::sum_sq_many(&[p, p], &xs);
            let bits: Vec<u64> = sums.iter().map(|s| s.to_bits()).collect();
            assert_eq!(bits, vec![got.sum_sq.to_bits(); 2]);
        }
    }

    #[test]
    fn fast_quantize_dequantize_is_quantize_then_dequantize() {
        for p in param_sets() {
            let k = Kernel::new(&p);
            for xs in data_sets() {
                for n in LENGTHS {
                    let xs = &xs[..n];
                    let codes: Vec<i32> = xs.iter().map(|&x| p.quantize_value(x)).collect();
                    let deq: Vec<u64> = codes
                        .iter()
                        .map(|&q| p.dequantize_value(q).to_bits())
                        .collect();
                    let (c, d) = p.quantize_dequantize(xs);
                    assert_eq!(c, codes, "{p:?} n={n}");
                    assert_eq!(d.iter().map(|d| d.to_bits()).collect::<Vec<_>>(), deq);
                    let (mut c2, mut d2) = (vec![0; n], vec![0.0; n]);
                    k.fill(xs, &mut c2, &mut d2);
                    assert_eq!(c2, codes, "portable {p:?} n={n}");
                    assert_eq!(d2.iter().map(|d| d.to_bits()).collect::<Vec<_>>(), deq);
                }
            }
        }
    }

    #[test]
    fn nan_is_handled_as_the_scalar_definition() {
        let p = QuantParams::asymmetric(-1.0, 1.0, 8, ZeroPoint::Raw).unwrap();
        let mut xs = uniforms(300, 9);
        xs[3] = f64::NAN;
        xs[200] = f64::NAN;
        let (c, d) = p.quantize_dequantize(&xs);
        assert_eq!(c[3], p.quantize_value(f64::NAN));
        assert_eq!(d[200].to_bits(), p.fake_quantize(f64::NAN).to_bits());
        let (got, want) = (p.error_stats(&xs), p.error_stats_simple(&xs));
        assert!(got.sum_sq.is_nan() && want.sum_sq.is_nan());
        assert_eq!((got.max_abs, got.clipped), (want.max_abs, want.clipped));
    }

    #[test]
    fn mean_squares_scale_exactly_and_keep_numpy_where_they_can() {
        // Ordinary values: numpy's mean, unscaled, and the plain SQNR formula bit for bit.
        let xs = uniforms(1000, 5);
        let plain = pairwise_sum_map(&xs, &mut |x| x * x) / xs.len() as f64;
        let m = MeanSquare::of_values(&xs, plain);
        assert_eq!(m, MeanSquare::plain(plain));
        let e = MeanSquare::plain(0.01);
        assert_eq!(
            m.ratio_db(&e).to_bits(),
            (10.0 * (plain / 0.01).log10()).to_bits()
        );
        assert_eq!(m.ratio_db(&MeanSquare::plain(0.0)), f64::INFINITY);
        // The same values times 2^600 and 2^-600: squares beyond f64 either way, the same
        // ratio to an error scaled alike, and the mean itself where it fits.
        for shift in [600, -600] {
            let ys: Vec<f64> = xs.iter().map(|&x| libm::scalbn(x, shift)).collect();
            let p = pairwise_sum_map(&ys, &mut |x| x * x) / ys.len() as f64;
            assert!(!p.is_normal());
            let big = MeanSquare::of_values(&ys, p);
            assert!(big.scaled.is_normal());
            let want = m.ratio_db(&e);
            // The error of 0.01 on the shifted values: 0.01 · 4^shift.
            let e_big = MeanSquare {
                plain: if shift > 0 { f64::INFINITY } else { 0.0 },
                scaled: 0.01,
                k: shift,
            };
            assert!((big.ratio_db(&e_big) - want).abs() < 1e-9, "{shift}");
        }
        // A mean beyond f64 is inf; one whose sum alone overflows comes back finite.
        let huge = MeanSquare {
            plain: f64::INFINITY,
            scaled: 1.0,
            k: 600,
        };
        assert_eq!(huge.value(), f64::INFINITY);
        let fits = MeanSquare {
            plain: f64::INFINITY,
            scaled: 1.5,
            k: 500,
        };
        assert_eq!(fits.value(), 1.5 * 2f64.powi(1000));
    }

    #[test]
    fn error_mean_square_is_the_errors_scaled() {
        // Errors of up to 1.7e153: squares up to 2.8e306, whose sum overflows and mean does not.
        let xs: Vec<f64> = uniforms(3000, 8).iter().map(|x| x * 5e154).collect();
        let p = QuantParams::asymmetric(0.0, 5e154, 4, ZeroPoint::Raw).unwrap();
        let e = p.error_stats(&xs);
        assert_eq!(e.sum_sq, f64::INFINITY);
        let m = p.error_mean_square(&xs, &e);
        // The same errors divided by 1e150 (not exact, but close): mean about m / 1e300.
        let direct = xs
            .iter()
            .map(|&x| {
                let d = (x - p.fake_quantize(x)) / 1e150;
                d * d
            })
            .sum::<f64>()
            / xs.len() as f64;
        assert!(m.value().is_finite());
        assert!((m.value() / 1e300 / direct - 1.0).abs() < 1e-12);
        // An error pass with every error 0, or a normal MSE, needs no second pass.
        let exact = ErrorStats {
            n: 3,
            sum_sq: 0.0,
            max_abs: 0.0,
            clipped: 0,
        };
        assert_eq!(
            p.error_mean_square(&[1.0; 3], &exact),
            MeanSquare::plain(0.0)
        );
    }

    #[test]
    fn overflowing_range_is_an_error() {
        let e = QuantParams::asymmetric(-f64::MAX, f64::MAX, 8, ZeroPoint::Raw).unwrap_err();
        assert!(e.to_string().contains("too wide"));
    }
}
