//! Range calibration: which clip range `[beta, alpha]` the quantization grid covers.
//!
//! - `minmax`: the data's min and max (`max |x|` for symmetric), as the notebook.
//! - `percentile:P`: numpy's `np.percentile(x, P)` with its default linear method, exactly:
//!   rank `h = (n - 1) * (P / 100)`, then numpy's `_lerp` between the two neighbouring order
//!   statistics. The order statistics come from selection, not a full sort.
//! - `mse`: the clip range with the least mean squared error, by search (see [`mse_range`]).

use crate::error::{check_finite, Result};
use crate::quantize::QuantParams;
use crate::settings::{Calibration, QuantSettings, Scheme, ZeroPoint};
use crate::sum::pairwise_sum_map;

/// Facts about the data that every calibration needs, computed once per data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataStats {
    /// Number of values.
    pub n: usize,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// `max |x|`.
    pub absmax: f64,
    /// Signal power `mean(x²)` (numpy's pairwise order), the numerator of the SQNR.
    pub mean_sq: f64,
}

impl DataStats {
    /// Computes the stats, after checking that the data is non-empty and finite.
    pub fn of(xs: &[f64]) -> Result<DataStats> {
        check_finite(xs)?;
        let mut min = f64::INFINITY;
        let mut max = f64::NEG_INFINITY;
        for &x in xs {
            min = min.min(x);
            max = max.max(x);
        }
        let sum_sq = pairwise_sum_map(xs, &mut |x| x * x);
        Ok(DataStats {
            n: xs.len(),
            min,
            max,
            absmax: min.abs().max(max.abs()),
            mean_sq: sum_sq / xs.len() as f64,
        })
    }

    /// Whether every value is the same.
    pub fn is_constant(&self) -> bool {
        self.min == self.max
    }
}

/// numpy's `_lerp(a, b, t)`: `a + (b - a) * t`, or `b - (b - a) * (1 - t)` when `t >= 0.5`.
#[inline]
pub fn numpy_lerp(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// numpy's linear-method rank for percentile `p` of `n` values: the index of the lower order
/// statistic, of the upper one, and the interpolation weight.
fn rank(n: usize, p: f64) -> (usize, usize, f64) {
    let q = p / 100.0;
    let vi = (n - 1) as f64 * q;
    if vi >= (n - 1) as f64 {
        return (n - 1, n - 1, 0.0);
    }
    if vi < 0.0 {
        return (0, 0, 0.0);
    }
    let lo = vi.floor();
    (lo as usize, lo as usize + 1, vi - lo)
}

/// `np.percentile(sorted, p)` on data that is already sorted ascending.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let (i, j, t) = rank(sorted.len(), p);
    numpy_lerp(sorted[i], sorted[j], t)
}

fn min_of(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

/// The k-th and (k+1)-th smallest of `v` (reordering `v`); the second is the first at the end.
fn order_pair(v: &mut [f64], k: usize) -> (f64, f64) {
    let (_, &mut a, rest) = v.select_nth_unstable_by(k, f64::total_cmp);
    let b = if rest.is_empty() { a } else { min_of(rest) };
    (a, b)
}

/// `np.percentile(x, p)`, linear method, bit for bit, by selection on a copy (O(n)).
pub fn percentile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let (i, _, t) = rank(xs.len(), p);
    let mut v = xs.to_vec();
    let (a, b) = order_pair(&mut v, i);
    let b = if i + 1 >= xs.len() { a } else { b };
    numpy_lerp(a, b, t)
}

/// `(np.percentile(x, 100 - p), np.percentile(x, p))` for p > 50, with one copy of the data.
pub fn percentile_pair(xs: &[f64], p: f64) -> (f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let (hi_i, _, hi_t) = rank(n, p);
    // numpy computes the lower percentile as 100 - p in float64, then divides by 100.
    let (lo_i, _, lo_t) = rank(n, 100.0 - p);
    let mut v = xs.to_vec();
    let (ha, hb) = order_pair(&mut v, hi_i);
    let hb = if hi_i + 1 >= n { ha } else { hb };
    let hi = numpy_lerp(ha, hb, hi_t);
    // After selecting hi_i, v[..hi_i] holds the hi_i smallest values in some order.
    let (la, lb) = if lo_i < hi_i {
        let (la, lb) = order_pair(&mut v[..hi_i], lo_i);
        (la, if lo_i + 1 == hi_i { ha } else { lb })
    } else {
        (ha, hb)
    };
    (numpy_lerp(la, lb, lo_t), hi)
}

/// At most this many values take part in the `mse` search; larger data is strided down to it.
pub const MSE_SAMPLE: usize = 1 << 17;

/// Grid points of the coarse search, geometric from the full range down to 2^-12 of it.
const GRID: usize = 33;
/// Golden-section steps after the grid (the bracket shrinks to 0.618^24 ≈ 1e-5 of a grid step).
const GOLDEN: usize = 24;

/// Every `n / MSE_SAMPLE`-th value (all of them when there are few): the search's data.
fn search_sample(xs: &[f64]) -> std::borrow::Cow<'_, [f64]> {
    let n = xs.len();
    if n <= MSE_SAMPLE {
        return std::borrow::Cow::Borrowed(xs);
    }
    let m = MSE_SAMPLE as u64;
    std::borrow::Cow::Owned((0..m).map(|i| xs[((i * n as u64) / m) as usize]).collect())
}

/// Minimises `f` over `t` in `(0, 1]` where the candidate is `t` of the full width: a geometric
/// grid of [`GRID`] points, then golden-section search between the best point's neighbours.
/// Returns the best `t` seen and its value.
fn search_fraction(f: &mut impl FnMut(f64) -> f64) -> (f64, f64) {
    let ratio = 2f64.powf(-12.0 / (GRID - 1) as f64);
    let ts: Vec<f64> = (0..GRID).map(|i| ratio.powi(i as i32)).collect();
    let mut best = (1.0, f64::INFINITY);
    let mut best_i = 0;
    for (i, &t) in ts.iter().enumerate() {
        let v = f(t);
        if v < best.1 {
            best = (t, v);
            best_i = i;
        }
    }
    // ts decreases with i: the bracket is [ts[i + 1], ts[i - 1]].
    let mut a = ts.get(best_i + 1).copied().unwrap_or(ts[GRID - 1] * ratio);
    let mut b = if best_i == 0 { 1.0 } else { ts[best_i - 1] };
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..GOLDEN {
        if fc < best.1 {
            best = (c, fc);
        }
        if fd < best.1 {
            best = (d, fd);
        }
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    for (t, v) in [(c, fc), (d, fd)] {
        if v < best.1 {
            best = (t, v);
        }
    }
    best
}

/// The clip range with the least MSE (`mse` calibration).
///
/// Method: on the data (strided down to at most [`MSE_SAMPLE`] values), each candidate range is
/// quantized exactly and its squared error summed. Symmetric: a one-dimensional search over
/// `alpha` in `(0, max |x|]` for the range `[-alpha, alpha]` (codes `|q| <= 2^(b-1) - 1`), a
/// geometric grid of 33 points down to `max |x| / 4096` and 24 golden-section steps around the
/// best. Asymmetric: coordinate descent, the same search for the
/// upper end with the lower fixed, then the lower with the upper fixed, twice over.
pub fn mse_range(
    xs: &[f64],
    stats: &DataStats,
    scheme: Scheme,
    bits: u32,
    policy: ZeroPoint,
) -> Result<(f64, f64)> {
    if stats.is_constant() {
        return Ok((stats.min, stats.max));
    }
    let sample = search_sample(xs);
    let sample: &[f64] = &sample;
    match scheme {
        Scheme::Symmetric => {
            // The objective is the symmetric range [-alpha, alpha] (codes |q| <= 2^(b-1) - 1,
            // TensorRT's and REFERENCE.md's definition): the notebook's spare code -2^(b-1)
            // would pull the optimum about 4% lower at 4 bits, and it only lowers the error
            // of the final quantization further.
            let mut err = |t: f64| match QuantParams::symmetric(stats.absmax * t, bits, false) {
                Ok(mut p) => {
                    p.qmin = -p.qmax;
                    p.error_stats(sample).sum_sq
                }
                Err(_) => f64::INFINITY,
            };
            let (t, _) = search_fraction(&mut err);
            let alpha = stats.absmax * t;
            Ok((-alpha, alpha))
        }
        Scheme::Asymmetric => {
            let mut lo = stats.min;
            let mut hi = stats.max;
            let eval = |lo: f64, hi: f64| match QuantParams::asymmetric(lo, hi, bits, policy) {
                Ok(p) => p.error_stats(sample).sum_sq,
                Err(_) => f64::INFINITY,
            };
            for _ in 0..2 {
                let (t, _) = search_fraction(&mut |t| eval(lo, lo + (stats.max - lo) * t));
                hi = lo + (stats.max - lo) * t;
                let (t, _) = search_fraction(&mut |t| eval(hi - (hi - stats.min) * t, hi));
                lo = hi - (hi - stats.min) * t;
            }
            Ok((lo, hi))
        }
    }
}

/// The clip range `[beta, alpha]` that `settings.calibration` picks for this data.
pub fn clip_range(xs: &[f64], stats: &DataStats, settings: &QuantSettings) -> Result<(f64, f64)> {
    settings.validate()?;
    Ok(match (settings.calibration, settings.scheme) {
        (Calibration::MinMax, Scheme::Asymmetric) => (stats.min, stats.max),
        (Calibration::MinMax, Scheme::Symmetric) => (-stats.absmax, stats.absmax),
        (Calibration::Percentile(p), Scheme::Asymmetric) => percentile_pair(xs, p),
        (Calibration::Percentile(p), Scheme::Symmetric) => {
            let abs: Vec<f64> = xs.iter().map(|x| x.abs()).collect();
            let a = percentile(&abs, p);
            (-a, a)
        }
        (Calibration::Mse, scheme) => {
            mse_range(xs, stats, scheme, settings.bits, settings.zero_point)?
        }
    })
}

/// Quantization parameters for the range the calibration picks.
pub fn calibrate(xs: &[f64], stats: &DataStats, settings: &QuantSettings) -> Result<QuantParams> {
    let (lo, hi) = clip_range(xs, stats, settings)?;
    params_for_range(lo, hi, stats, settings)
}

/// Quantization parameters for a given clip range `[lo, hi]` under `settings`' scheme.
pub fn params_for_range(
    lo: f64,
    hi: f64,
    stats: &DataStats,
    settings: &QuantSettings,
) -> Result<QuantParams> {
    match settings.scheme {
        Scheme::Asymmetric => QuantParams::asymmetric(lo, hi, settings.bits, settings.zero_point),
        Scheme::Symmetric => QuantParams::symmetric(hi, settings.bits, stats.is_constant()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_sorted_definition() {
        let xs: Vec<f64> = (0..1001)
            .map(|i| ((i * 7919) % 1001) as f64 * 0.37)
            .collect();
        let mut sorted = xs.clone();
        sorted.sort_by(f64::total_cmp);
        for p in [50.5, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0] {
            let want_hi = percentile_sorted(&sorted, p);
            let want_lo = percentile_sorted(&sorted, 100.0 - p);
            assert_eq!(percentile(&xs, p).to_bits(), want_hi.to_bits(), "p={p}");
            let (lo, hi) = percentile_pair(&xs, p);
            assert_eq!(hi.to_bits(), want_hi.to_bits(), "p={p}");
            assert_eq!(lo.to_bits(), want_lo.to_bits(), "p={p}");
        }
    }

    #[test]
    fn percentile_pair_adjacent_ranks() {
        // n = 2: ranks 0 and 1 interpolate between the only two values.
        let (lo, hi) = percentile_pair(&[5.0, 1.0], 60.0);
        assert_eq!(hi, 1.0 + 4.0 * 0.6);
        assert!((lo - (1.0 + 4.0 * 0.4)).abs() < 1e-15);
        assert_eq!(percentile_pair(&[3.0], 99.0), (3.0, 3.0));
    }
}
