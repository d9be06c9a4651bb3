//! The `mse` calibration: the clip range with the least mean squared error, found by a grid
//! search then golden-section steps around the best, on the data strided down to
//! [`MSE_SAMPLE`] values; the pick is then measured exactly against min-max, one of its
//! candidates, on all the values, and the one with less error is the range ([`least_error`]).

use super::stats::DataStats;
use crate::error::Result;
use crate::quant::params::QuantParams;
use crate::settings::{Calibration, QuantSettings, Scheme, ZeroPoint};

/// At most this many values take part in the `mse` search; larger data is strided down to it.
pub const MSE_SAMPLE: usize = 1 << 17;

/// Grid points of the coarse search, geometric from the full range down to 2^-12 of it.
pub(crate) const GRID: usize = 33;
/// Golden-section steps after the grid (the bracket shrinks to 0.618^24 ≈ 1e-5 of a grid step).
pub(crate) const GOLDEN: usize = 24;

/// The `mse` search's data: the values (strided down to at most [`MSE_SAMPLE`]) sorted, with
/// prefix sums of `x - c` and `(x - c)²` around their midpoint `c`, so that the squared error of
/// a grid is summed level by level in O(levels · log n) instead of value by value.
#[derive(Debug, Clone)]
pub struct SearchData {
    pub(crate) sorted: Vec<f64>,
    pub(crate) centre: f64,
    pub(crate) s1: Vec<f64>,
    pub(crate) s2: Vec<f64>,
}

impl SearchData {
    /// Samples (every `n / MSE_SAMPLE`-th value), sorts and sums.
    pub fn new(xs: &[f64]) -> SearchData {
        let n = xs.len();
        let mut sorted: Vec<f64> = if n <= MSE_SAMPLE {
            xs.to_vec()
        } else {
            let m = MSE_SAMPLE as u64;
            (0..m).map(|i| xs[((i * n as u64) / m) as usize]).collect()
        };
        sorted.sort_unstable_by(f64::total_cmp);
        let centre = match (sorted.first(), sorted.last()) {
            (Some(&a), Some(&b)) => a / 2.0 + b / 2.0,
            _ => 0.0,
        };
        let mut s1 = Vec::with_capacity(sorted.len() + 1);
        let mut s2 = Vec::with_capacity(sorted.len() + 1);
        let (mut a, mut b) = (0.0, 0.0);
        s1.push(0.0);
        s2.push(0.0);
        for &x in &sorted {
            let d = x - centre;
            a += d;
            b += d * d;
            s1.push(a);
            s2.push(b);
        }
        SearchData {
            sorted,
            centre,
            s1,
            s2,
        }
    }

    /// How many values the search uses.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// `Σ (x - x̂)²` over the sample for these parameters: per level from the prefix sums when
    /// the levels in use are few, otherwise value by value.
    pub fn sum_sq_error(&self, p: &QuantParams) -> f64 {
        let n = self.sorted.len();
        let (Some(&first), Some(&last)) = (self.sorted.first(), self.sorted.last()) else {
            return 0.0;
        };
        let q_first = p.quantize_value(first);
        let q_last = p.quantize_value(last);
        let levels = (q_last as i64 - q_first as i64 + 1) as usize;
        let log_n = usize::BITS - n.leading_zeros();
        if levels * 2 * log_n as usize >= n {
            // More levels than a level-by-level sum can afford: the values at the two end codes
            // (which hold every clipped value) are summed exactly, and each value in between is
            // taken to round off by a uniform amount, scale²/12 on average.
            let lo_end = self
                .sorted
                .partition_point(|&x| p.quantize_value(x) <= p.qmin);
            let hi_start = self
                .sorted
                .partition_point(|&x| p.quantize_value(x) < p.qmax);
            let run = |i0: usize, i1: usize, q: i32| {
                if i1 <= i0 {
                    return 0.0;
                }
                let level = p.dequantize_value(q) - self.centre;
                let a = self.s1[i1] - self.s1[i0];
                let b = self.s2[i1] - self.s2[i0];
                (b - 2.0 * level * a + (i1 - i0) as f64 * level * level).max(0.0)
            };
            let middle = hi_start.saturating_sub(lo_end) as f64;
            return run(0, lo_end, p.qmin)
                + run(hi_start.max(lo_end), n, p.qmax)
                + middle * p.scale * p.scale / 12.0;
        }
        let mut err = 0.0;
        let mut i0 = 0;
        let mut guess = 1;
        for q in q_first..=q_last {
            // quantize_value is monotone in x, so the values with code q are one run.
            let i1 = if q == q_last {
                n
            } else {
                self.run_end(p, q, i0, i0 + guess)
            };
            guess = i1 - i0;
            if i1 > i0 {
                let level = p.dequantize_value(q) - self.centre;
                let count = (i1 - i0) as f64;
                let a = self.s1[i1] - self.s1[i0];
                let b = self.s2[i1] - self.s2[i0];
                err += (b - 2.0 * level * a + count * level * level).max(0.0);
            }
            i0 = i1;
        }
        err
    }

    /// The end of code `q`'s run of the sorted values that starts at `i0`: the first index from
    /// `i0` on whose code exceeds `q`, what a bisection on the codes finds. Found by comparing
    /// values with where the code should end ([`crate::quant::sorted::code_end`], no division; from
    /// `hint`, about where the last run's length puts it), then settled by the codes themselves,
    /// in doubling steps out from there: two evaluations when the edge is right, as it is but
    /// for values within rounding of it, and a logarithmic number where many equal values sit
    /// on the edge (ties, say). With a scale that is not positive the codes do not rise with
    /// the values: the bisection itself, as before.
    pub(crate) fn run_end(&self, p: &QuantParams, q: i32, i0: usize, hint: usize) -> usize {
        let xs = &self.sorted;
        let within = |x: f64| p.quantize_value(x) <= q;
        if !p.codes_rise() {
            return i0 + xs[i0..].partition_point(|&x| within(x));
        }
        let edge = crate::quant::sorted::code_end(p)(i64::from(q));
        let near = crate::quant::sorted::first_at_least(xs, i0, hint, edge);
        crate::quant::sorted::first_false(xs, i0, near, &within)
    }
}

/// Minimises `f` over `t` in `(0, 1]` where the candidate is `t` of the full width: a geometric
/// grid of [`GRID`] points, then golden-section search between the best point's neighbours.
/// Returns the best `t` seen and its value. (`dyn`: one copy for the three searches; a call
/// costs nothing beside the error sum it makes.)
pub(crate) fn search_fraction(f: &mut dyn FnMut(f64) -> f64) -> (f64, f64) {
    let ratio = libm::pow(2.0, -12.0 / (GRID - 1) as f64);
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
///
/// The search models the error of the codes between the two ends (where they are many) and
/// works on a sample, so its pick can lose to min-max, the first candidate it considered: the
/// pick and min-max are then measured exactly on all of `xs` and the one with less error is
/// returned ([`least_error`]). Where min-max's own parameters fail (a range too wide for f64),
/// this fails the same way.
pub fn mse_range(
    xs: &[f64],
    stats: &DataStats,
    scheme: Scheme,
    bits: u32,
    policy: ZeroPoint,
) -> Result<(f64, f64)> {
    if stats.is_constant() {
        // One value: min-max's range reconstructs it exactly (the search would find the same).
        params_of(min_max_range(stats, scheme), stats, scheme, bits, policy)?;
        return Ok(min_max_range(stats, scheme));
    }
    mse_range_with(xs, &SearchData::new(xs), stats, scheme, bits, policy)
}

/// [`mse_range`] on search data prepared once from `xs` (the sweep runs 30 searches on the
/// same data).
pub fn mse_range_with(
    xs: &[f64],
    data: &SearchData,
    stats: &DataStats,
    scheme: Scheme,
    bits: u32,
    policy: ZeroPoint,
) -> Result<(f64, f64)> {
    let searched = mse_search(data, stats, scheme, bits, policy)?;
    least_error(xs, stats, scheme, bits, policy, searched)
}

/// The min-max range of the scheme: `[min, max]`, or `[-max |x|, max |x|]`.
#[inline]
pub fn min_max_range(stats: &DataStats, scheme: Scheme) -> (f64, f64) {
    match scheme {
        Scheme::Asymmetric => (stats.min, stats.max),
        Scheme::Symmetric => (-stats.absmax, stats.absmax),
    }
}

/// The parameters the `mse` calibration reports for the range `[lo, hi]`.
fn params_of(
    range: (f64, f64),
    stats: &DataStats,
    scheme: Scheme,
    bits: u32,
    policy: ZeroPoint,
) -> Result<QuantParams> {
    let settings = QuantSettings {
        bits,
        scheme,
        calibration: Calibration::Mse,
        zero_point: policy,
    };
    super::params_for_range(range.0, range.1, stats, &settings)
}

/// Of the `searched` range and min-max's, the one whose MSE over `xs` (the MSE reported for
/// it, measured by the error pass itself) is smaller; min-max where they tie. An error where
/// min-max's parameters fail: the two calibrations agree on which data they can quantize.
pub fn least_error(
    xs: &[f64],
    stats: &DataStats,
    scheme: Scheme,
    bits: u32,
    policy: ZeroPoint,
    searched: (f64, f64),
) -> Result<(f64, f64)> {
    let min_max = min_max_range(stats, scheme);
    let pm = params_of(min_max, stats, scheme, bits, policy)?;
    if searched == min_max {
        return Ok(min_max);
    }
    let Ok(ps) = params_of(searched, stats, scheme, bits, policy) else {
        return Ok(min_max);
    };
    // Both sums in one read of the data, each bit for bit its `error_stats(xs).sum_sq`.
    let sums = QuantParams::sum_sq_many(&[ps, pm], xs);
    Ok(if searched_wins(xs, (&ps, sums[0]), (&pm, sums[1])) {
        searched
    } else {
        min_max
    })
}

/// Whether the searched parameters have strictly less error over `xs` than min-max's, each
/// given with its `error_stats(xs).sum_sq`: the MSEs as reported, `sum_sq / n` (numpy's), or
/// where a sum overflowed, the mean brought back from its scaled form
/// ([`QuantParams::error_mean_square`]).
pub(crate) fn searched_wins(
    xs: &[f64],
    searched: (&QuantParams, f64),
    min_max: (&QuantParams, f64),
) -> bool {
    let n = xs.len() as f64;
    let (s, m) = (searched.1 / n, min_max.1 / n);
    if s.is_finite() && m.is_finite() {
        return s < m;
    }
    let reported = |p: &QuantParams| p.error_mean_square(xs, &p.error_stats(xs)).value();
    reported(searched.0) < reported(min_max.0)
}

/// The search of [`mse_range`] alone, on the sample: its pick, not yet measured against
/// min-max. An error where min-max's parameters fail (the candidates are fractions of its
/// range, whose width must be a finite number).
pub fn mse_search(
    data: &SearchData,
    stats: &DataStats,
    scheme: Scheme,
    bits: u32,
    policy: ZeroPoint,
) -> Result<(f64, f64)> {
    let min_max = min_max_range(stats, scheme);
    params_of(min_max, stats, scheme, bits, policy)?;
    if stats.is_constant() || data.is_empty() {
        return Ok(min_max);
    }
    match scheme {
        Scheme::Symmetric => {
            // The objective is the symmetric range [-alpha, alpha] (codes |q| <= 2^(b-1) - 1,
            // TensorRT's definition): the notebook's spare code -2^(b-1)
            // would pull the optimum about 4% lower at 4 bits, and it only lowers the error
            // of the final quantization further.
            let mut err = |t: f64| match QuantParams::symmetric(stats.absmax * t, bits, false) {
                Ok(mut p) => {
                    p.qmin = -p.qmax;
                    data.sum_sq_error(&p)
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
                Ok(p) => data.sum_sq_error(&p),
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
