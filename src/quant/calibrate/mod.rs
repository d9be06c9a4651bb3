//! Range calibration: which clip range `[beta, alpha]` the quantization grid covers.
//!
//! - `minmax`: the data's min and max (`max |x|` for symmetric), as the notebook.
//! - `percentile:P`: numpy's `np.percentile(x, P)` with its default linear method, exactly:
//!   rank `h = (n - 1) * (P / 100)`, then numpy's `_lerp` between the two neighbouring order
//!   statistics. The order statistics come from selection, not a full sort.
//! - `mse`: the clip range with the least mean squared error, by search, never with more
//!   error than min-max (see [`mse_range`]).
//! - `kl`: NVIDIA pytorch-quantization's entropy calibration, symmetric only (see [`kl`]).

pub mod kl;
pub mod percentile;
pub mod search;
pub mod stats;

pub use kl::{kl_calibrate, AbsHistogram, KlCalibration, KL_BINS, KL_START_BIN};
pub use percentile::{
    numpy_lerp, percentile, percentile_abs, percentile_pair, percentile_sorted,
    stats_and_percentile_pair,
};
pub use search::{
    least_error, min_max_range, mse_range, mse_range_with, mse_search, SearchData, MSE_SAMPLE,
};
pub use stats::{min_max, DataStats};

use crate::error::{Error, Result};
use crate::quant::params::QuantParams;
use crate::settings::{Calibration, QuantSettings, Scheme};

/// The clip range `[beta, alpha]` that `settings.calibration` picks for this data.
///
/// A range that is not finite (numpy's `_lerp` between neighbouring values whose difference
/// overflows gives inf or NaN) is `RangeOverflow` over the data's own range, which is then too
/// wide for f64 as well: the message names the data, not a NaN.
pub fn clip_range(xs: &[f64], stats: &DataStats, settings: &QuantSettings) -> Result<(f64, f64)> {
    settings.validate()?;
    let (lo, hi) = match (settings.calibration, settings.scheme) {
        (Calibration::MinMax, scheme) => return finite_range(min_max_range(stats, scheme), stats),
        (Calibration::Percentile(p), Scheme::Asymmetric) => percentile_pair(xs, p),
        (Calibration::Percentile(p), Scheme::Symmetric) => {
            let a = percentile_abs(xs, p);
            (-a, a)
        }
        (Calibration::Mse, scheme) => {
            mse_range(xs, stats, scheme, settings.bits, settings.zero_point)?
        }
        (Calibration::Kl, Scheme::Symmetric) => {
            let a = kl_calibrate(xs, stats.absmax, settings.bits, false)?.threshold;
            (-a, a)
        }
        (Calibration::Kl, Scheme::Asymmetric) => return Err(Error::KlAsymmetric),
    };
    finite_range((lo, hi), stats)
}

/// `(lo, hi)` where both are finite, else `RangeOverflow` over the data's own range.
#[inline]
fn finite_range((lo, hi): (f64, f64), stats: &DataStats) -> Result<(f64, f64)> {
    if lo.is_finite() && hi.is_finite() {
        Ok((lo, hi))
    } else {
        Err(Error::RangeOverflow {
            lo: stats.min,
            hi: stats.max,
        })
    }
}

/// Quantization parameters for the range the calibration picks.
pub fn calibrate(xs: &[f64], stats: &DataStats, settings: &QuantSettings) -> Result<QuantParams> {
    if settings.calibration == Calibration::MinMax {
        return calibrate_min_max(stats, settings);
    }
    let (lo, hi) = clip_range(xs, stats, settings)?;
    params_for_range(lo, hi, stats, settings)
}

/// [`calibrate`] under min-max calibration (whatever `settings.calibration` says), which reads
/// the statistics alone: small enough to inline into a pass over many small units.
#[inline]
pub fn calibrate_min_max(stats: &DataStats, settings: &QuantSettings) -> Result<QuantParams> {
    settings.validate()?;
    let (lo, hi) = finite_range(min_max_range(stats, settings.scheme), stats)?;
    params_for_range(lo, hi, stats, settings)
}

/// Quantization parameters for a given clip range `[lo, hi]` under `settings`' scheme.
///
/// Only constant data may have levels beyond f64 (its one value is exact, see
/// [`QuantParams::asymmetric`]); a one-point range of data that is not constant (a percentile
/// range on ties, say) must have every level finite, since other values reach the others.
#[inline]
pub fn params_for_range(
    lo: f64,
    hi: f64,
    stats: &DataStats,
    settings: &QuantSettings,
) -> Result<QuantParams> {
    let p = match settings.scheme {
        Scheme::Asymmetric => QuantParams::asymmetric(lo, hi, settings.bits, settings.zero_point),
        Scheme::Symmetric => QuantParams::symmetric(hi, settings.bits, stats.is_constant()),
    }?;
    if stats.is_constant() || p.levels_finite() {
        Ok(p)
    } else {
        Err(Error::RangeOverflow { lo, hi })
    }
}

#[cfg(test)]
mod tests {
    use super::percentile::*;
    use super::search::*;
    use super::stats::*;
    use super::*;
    use crate::quant::pairwise::pairwise_tree;
    use crate::settings::ZeroPoint;

    /// `run_end` is the bisection on the codes, whatever the hint: on random sorted samples
    /// (with repeated values, values on the rounding edges and a constant stretch), for every
    /// code of several parameter sets, from run starts and from arbitrary starts.
    #[test]
    fn run_ends_are_the_bisection() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 0..200 {
            let n = 1 + (next() % 400) as usize;
            let mut xs: Vec<f64> = (0..n)
                .map(|_| match next() % 4 {
                    0 => (next() % 9) as f64 * 0.5 - 2.0,
                    _ => (next() % 2_000_001) as f64 / 1e5 - 10.0,
                })
                .collect();
            if case % 3 == 0 {
                let k = n / 2;
                for x in xs.iter_mut().take(k) {
                    *x = 1.25;
                }
            }
            let data = SearchData::new(&xs);
            let (lo, hi) = (data.sorted[0], data.sorted[data.len() - 1]);
            for bits in [2, 3, 4, 8] {
                for p in [
                    QuantParams::asymmetric(lo, hi, bits, ZeroPoint::Raw),
                    QuantParams::asymmetric(lo * 0.7, hi * 0.4, bits, ZeroPoint::Raw),
                    QuantParams::symmetric(lo.abs().max(hi.abs()) * 0.5, bits, false),
                ]
                .into_iter()
                .flatten()
                {
                    let xs = &data.sorted;
                    for q in p.qmin..=p.qmax {
                        let truth = |i0: usize| {
                            i0 + xs[i0..].partition_point(|&x| p.quantize_value(x) <= q)
                        };
                        let start = xs.partition_point(|&x| p.quantize_value(x) < q);
                        for i0 in [start, (next() as usize) % (start + 1)] {
                            if i0 > 0 && p.quantize_value(xs[i0 - 1]) > q {
                                continue;
                            }
                            for hint in [i0, i0 + 1, truth(i0), (next() as usize) % (n + 3)] {
                                assert_eq!(
                                    data.run_end(&p, q, i0, hint),
                                    truth(i0),
                                    "case {case}, {bits} bits, q {q}, from {i0}, hint {hint}"
                                );
                            }
                        }
                    }
                }
            }
        }
        // Values a few ulps either side of every code's estimated end, where the estimate and
        // the codes disagree (the steps go both ways), for scales that are not round numbers.
        let up = |x: f64, k: i64| f64::from_bits((x.to_bits() as i64 + k) as u64);
        for (lo, hi, bits) in [
            (-1.0, 3.0, 3),
            (-0.37, 0.91, 4),
            (0.1, 7.3, 2),
            (-5.5, 2.25, 5),
        ] {
            let p = QuantParams::asymmetric(lo, hi, bits, ZeroPoint::Raw).unwrap();
            let mut xs = vec![lo, hi];
            let end = crate::quant::sorted::code_end(&p);
            for q in p.qmin..p.qmax {
                let edge = end(i64::from(q));
                for k in -3..=3 {
                    for _ in 0..3 {
                        xs.push(up(edge, k * edge.signum() as i64));
                    }
                }
            }
            let data = SearchData::new(&xs);
            let xs = &data.sorted;
            let mut i0 = 0;
            let mut stepped_back = false;
            for q in p.qmin..=p.qmax {
                let truth = i0 + xs[i0..].partition_point(|&x| p.quantize_value(x) <= q);
                stepped_back |=
                    crate::quant::sorted::first_at_least(xs, i0, i0, end(i64::from(q))) > truth;
                assert_eq!(data.run_end(&p, q, i0, i0), truth, "{bits} bits, q {q}");
                i0 = truth;
            }
            assert!(stepped_back || bits != 3, "the estimate overshot somewhere");
            // A scale that is not positive (never made here): the bisection's answer, as before.
            let flipped = QuantParams {
                scale: -p.scale,
                ..p
            };
            for q in p.qmin..=p.qmax {
                let truth = xs.partition_point(|&x| flipped.quantize_value(x) <= q);
                assert_eq!(
                    data.run_end(&flipped, q, 0, 3),
                    truth,
                    "negative scale, q {q}"
                );
            }
        }
    }

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
    fn min_max_is_the_stats_min_and_max() {
        let big = crate::bench::workload(4 * crate::par::MIN_PART + 21);
        let same = |xs: &[f64], what: &str| {
            let stats = DataStats::of(xs).unwrap();
            let (min, max) = min_max(xs).unwrap();
            assert_eq!(
                (min.to_bits(), max.to_bits()),
                (stats.min.to_bits(), stats.max.to_bits()),
                "{what}"
            );
        };
        for n in [
            1,
            2,
            7,
            8,
            9,
            15,
            16,
            17,
            255,
            256,
            257,
            1000,
            70_001,
            big.len(),
        ] {
            let xs = &big[..n];
            same(xs, &format!("n={n}"));
            // The extremes anywhere: the start, the end, the unrolled rest, the second
            // thread's part, one at a time.
            for at in [
                0,
                n - 1,
                (n - 1).saturating_sub(n % 8),
                n / 2,
                n / 2 + 3 * n / 8,
            ] {
                for v in [-1e9, 2e9] {
                    let mut ys = xs.to_vec();
                    ys[at.min(n - 1)] = v;
                    same(&ys, &format!("n={n} at={at} v={v}"));
                }
            }
            // A value that is not finite anywhere is the same error as the stats'.
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                for at in [0, n / 3, n - 1] {
                    let mut ys = xs.to_vec();
                    ys[at] = bad;
                    let want = DataStats::of(&ys).unwrap_err().to_string();
                    assert_eq!(min_max(&ys).unwrap_err().to_string(), want, "n={n} at={at}");
                }
            }
        }
        // Ties of -0.0 and +0.0: each lane keeps the first it saw, as the stats do.
        let mut zeros = vec![-0.0; 8];
        zeros.extend([0.0; 7]);
        zeros.push(1.0);
        let mut flipped: Vec<f64> = zeros
            .iter()
            .map(|z| if *z == 0.0 { -*z } else { *z })
            .collect();
        flipped.extend([-0.0, 0.0, -0.0]);
        for xs in [
            zeros.clone(),
            flipped,
            [zeros.clone(), zeros].concat(),
            vec![-0.0, 0.0],
        ] {
            same(&xs, &format!("{xs:?}"));
        }
        assert!(min_max(&[]).is_err());
    }

    #[test]
    fn stats_of_large_data_match_the_definition() {
        let n = 4 * crate::par::MIN_PART + 5;
        let mut xs = uniforms(n, 3);
        xs[n - 1] = 1000.0;
        xs[17] = -7.5;
        let s = DataStats::of(&xs).unwrap();
        assert_eq!((s.min, s.max, s.absmax), (-7.5, 1000.0, 1000.0));
        let sq: Vec<f64> = xs.iter().map(|x| x * x).collect();
        let want = crate::quant::pairwise::pairwise_sum(&sq) / n as f64;
        assert_eq!(s.mean_sq.to_bits(), want.to_bits());
        xs[n / 2 + 1] = f64::NAN;
        assert!(DataStats::of(&xs).is_err());
        check_against_sort(&xs[..n / 2], "large, threaded");
    }

    #[test]
    fn stats_in_one_pass_match_the_definition() {
        let mut xs = crate::data::generate::sample(
            crate::settings::Distribution::StudentT { dof: 2.0 },
            1001,
            5,
        );
        xs[17] = -1e300;
        xs[1000] = 1e300;
        let s = DataStats::of(&xs).unwrap();
        assert_eq!(s.min, -1e300);
        assert_eq!(s.max, 1e300);
        assert_eq!(s.absmax, 1e300);
        for n in 1..20 {
            let s = DataStats::of(&xs[..n]).unwrap();
            assert_eq!(s.min, xs[..n].iter().copied().fold(f64::INFINITY, f64::min));
            assert_eq!(
                s.max,
                xs[..n].iter().copied().fold(f64::NEG_INFINITY, f64::max)
            );
        }
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut ys = xs.clone();
            ys[999] = bad;
            let e = DataStats::of(&ys).unwrap_err().to_string();
            assert!(e.contains("index 999"), "{e}");
        }
        assert!(DataStats::of(&[]).is_err());
    }

    /// The AVX2 leaf (where the CPU has it) and the portable one agree lane by lane, bit for
    /// bit, signed zeros and NaN included.
    #[test]
    fn fast_stats_leaf_is_the_portable_one() {
        let mut xs = uniforms(5000, 11);
        for (i, x) in xs.iter_mut().enumerate() {
            *x = match i % 13 {
                0 => -0.0,
                1 => 0.0,
                2 => -*x * 1e200,
                _ => *x - 0.5,
            };
        }
        let bits = |l: &MinMaxLanes| [l.lo, l.hi, l.poison].map(|a| a.map(f64::to_bits));
        for n in [0, 1, 7, 8, 9, 127, 128, 129, 1000, 4999] {
            for data in [xs[..n].to_vec(), {
                let mut v = xs[..n].to_vec();
                if n > 3 {
                    v[n / 2] = f64::NAN;
                }
                v
            }] {
                let (sum, lanes) = stats_part(&data);
                let mut portable = MinMaxLanes::new();
                let want = pairwise_tree(&data, &mut |b| stats_leaf(b, &mut portable));
                assert_eq!(sum.to_bits(), want.to_bits(), "n={n}");
                assert_eq!(bits(&lanes), bits(&portable), "n={n}");
            }
        }
    }

    #[test]
    fn stats_and_percentiles_in_one_pass_are_the_two_calls() {
        for (n, seed) in [(10, 1), (70_000, 2), (4 * crate::par::MIN_PART + 9, 3)] {
            let mut xs = uniforms(n, seed);
            xs[n - 1] = 1000.0;
            for p in [99.99, 99.0, 75.0, 100.0] {
                let (stats, pair) = stats_and_percentile_pair(&xs, p).unwrap();
                assert_eq!(stats, DataStats::of(&xs).unwrap(), "n={n}");
                assert_eq!(pair, percentile_pair(&xs, p), "n={n} p={p}");
            }
            xs[n / 3] = f64::NAN;
            let e = stats_and_percentile_pair(&xs, 99.0)
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("index {}", n / 3)), "{e}");
        }
    }

    #[test]
    fn level_sums_match_value_by_value() {
        let xs = crate::data::generate::sample(
            crate::settings::Distribution::Laplace {
                loc: 3.0,
                scale: 2.0,
            },
            50_000,
            3,
        );
        let data = SearchData::new(&xs);
        for bits in [2, 3, 4, 6, 8] {
            for (lo, hi) in [(-4.0, 9.0), (0.5, 4.0), (-30.0, 30.0)] {
                let p = QuantParams::asymmetric(lo, hi, bits, ZeroPoint::Raw).unwrap();
                let want = p.error_stats(&xs).sum_sq;
                let got = data.sum_sq_error(&p);
                assert!(
                    (got - want).abs() <= 1e-9 * want,
                    "{bits} {lo} {hi}: {got} vs {want}"
                );
            }
        }
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

    fn check_against_sort(xs: &[f64], what: &str) {
        let mut sorted = xs.to_vec();
        sorted.sort_by(f64::total_cmp);
        for p in [50.5, 75.0, 90.0, 99.0, 99.9, 99.99, 99.9999, 100.0] {
            let want_hi = percentile_sorted(&sorted, p);
            let want_lo = percentile_sorted(&sorted, 100.0 - p);
            let (lo, hi) = percentile_pair(xs, p);
            assert_eq!(hi.to_bits(), want_hi.to_bits(), "{what} hi p={p}");
            assert_eq!(lo.to_bits(), want_lo.to_bits(), "{what} lo p={p}");
            let one = percentile(xs, p);
            assert_eq!(one.to_bits(), want_hi.to_bits(), "{what} one p={p}");
        }
    }

    #[test]
    fn fast_percentile_matches_sort_on_large_data() {
        // Sizes where the sampling filter is used, with ties, duplicates, both zeros, outliers.
        let n = 3 * FAST_SELECT_MIN + 5;
        let u = uniforms(n, 1);
        let uniform: Vec<f64> = u.iter().map(|x| -50.0 + 200.0 * x).collect();
        check_against_sort(&uniform, "uniform");
        let mut outlier = uniform.clone();
        *outlier.last_mut().unwrap() = 1000.0;
        check_against_sort(&outlier, "outlier");
        let rounded: Vec<f64> = uniform
            .iter()
            .map(|x| (x * 100.0).round() / 100.0)
            .collect();
        check_against_sort(&rounded, "rounded to 2 decimals");
        let few: Vec<f64> = u.iter().map(|x| (x * 5.0).floor() - 2.0).collect();
        check_against_sort(&few, "five values");
        let zeros: Vec<f64> = u
            .iter()
            .map(|&x| match (x * 4.0) as u32 {
                0 => -0.0,
                1 => 0.0,
                2 => x * 1e-300,
                _ => -x,
            })
            .collect();
        check_against_sort(&zeros, "signed zeros");
        check_against_sort(&vec![7.5; n], "constant");
        let mut sorted = uniform.clone();
        sorted.sort_by(f64::total_cmp);
        check_against_sort(&sorted, "sorted");
        sorted.reverse();
        check_against_sort(&sorted, "reversed");
        let heavy: Vec<f64> = u.iter().map(|&x| (x - 0.5).powi(7) * 1e9).collect();
        check_against_sort(&heavy, "heavy tails");
        let mut inf = uniform.clone();
        inf[10] = f64::INFINITY;
        inf[20] = f64::NEG_INFINITY;
        check_against_sort(&inf, "infinities");
        // A period equal to the sample stride would fool a plain strided sample.
        let stride = n / SELECT_SAMPLE;
        let periodic: Vec<f64> = (0..n)
            .map(|i| {
                if i % stride == 0 {
                    1e6
                } else {
                    (i % 97) as f64
                }
            })
            .collect();
        check_against_sort(&periodic, "periodic");
    }

    #[test]
    fn fast_percentile_falls_back_on_nan() {
        let n = FAST_SELECT_MIN + 1;
        let mut xs: Vec<f64> = uniforms(n, 2);
        xs[5] = f64::NAN;
        let by_copy = order_pairs_by_copy(&xs, [10, n - 10]);
        assert_eq!(order_pairs(&xs, [10, n - 10]), by_copy);
        assert!(filter_select(&xs, [10, n - 10], [(0.0, 0.1), (0.9, 1.0)]).is_none());
    }

    #[test]
    fn filter_select_is_exact_for_any_window_that_holds_the_ranks() {
        let n = 5000;
        let xs: Vec<f64> = uniforms(n, 3).iter().map(|x| (x * 50.0).floor()).collect();
        let mut sorted = xs.clone();
        sorted.sort_by(f64::total_cmp);
        for (k0, k1) in [
            (0, n - 1),
            (1, n - 2),
            (100, 4000),
            (2500, 2500),
            (n - 2, 3),
        ] {
            let want = [
                (sorted[k0], sorted[(k0 + 1).min(n - 1)]),
                (sorted[k1], sorted[(k1 + 1).min(n - 1)]),
            ];
            assert_eq!(order_pairs_by_copy(&xs, [k0, k1]), want);
            // Windows from exact order statistics, and wider ones.
            for pad in [0, 1, 50] {
                let w = |k: usize| {
                    (
                        sorted[k.saturating_sub(pad)],
                        sorted[(k + 1 + pad).min(n - 1)],
                    )
                };
                let got = filter_select(&xs, [k0, k1], [w(k0), w(k1)]);
                assert_eq!(got, Some(want), "k={k0},{k1} pad={pad}");
            }
            // A window that misses the rank says so.
            let miss = (sorted[n - 1] + 1.0, sorted[n - 1] + 2.0);
            assert_eq!(filter_select(&xs, [k0, k1], [miss, miss]), None);
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
