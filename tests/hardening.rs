#![cfg(not(target_arch = "wasm32"))]
//! Numeric edge cases through the public API: data near the ends of float64 (powers and errors
//! that overflow or underflow), constant data of any magnitude, and the least-error calibration
//! against min-max, one of its own candidates.

use quantviz::analysis::Analysis;
use quantviz::data::generate::Dataset;
use quantviz::error::Error;
use quantviz::settings::{Calibration, QuantSettings, Scheme, ZeroPoint};

const SCHEMES: [Scheme; 2] = [Scheme::Asymmetric, Scheme::Symmetric];
const POLICIES: [ZeroPoint; 2] = [ZeroPoint::Raw, ZeroPoint::IncludeZero];

fn analysis(values: Vec<f64>) -> Analysis {
    Analysis::new(Dataset::from_values(values, "test").unwrap()).unwrap()
}

fn settings(bits: u32, scheme: Scheme, calibration: Calibration, zp: ZeroPoint) -> QuantSettings {
    QuantSettings {
        bits,
        scheme,
        calibration,
        zero_point: zp,
    }
}

/// Every width, scheme, zero-point policy and calibration the page and the CLI offer.
fn every_setting() -> Vec<QuantSettings> {
    let mut out = Vec::new();
    for bits in 2..=16 {
        for scheme in SCHEMES {
            for zp in POLICIES {
                for calibration in [
                    Calibration::MinMax,
                    Calibration::Percentile(99.99),
                    Calibration::Percentile(100.0),
                    Calibration::Percentile(50.5),
                    Calibration::Mse,
                ] {
                    out.push(settings(bits, scheme, calibration, zp));
                }
            }
        }
    }
    out
}

// ---- Constant data ----------------------------------------------------------------------------

/// The README's promise: a constant reconstructs exactly, whatever its magnitude, at every
/// width, scheme, policy and calibration, with `scale = |c|` (float32's epsilon for 0).
#[test]
fn constant_data_reconstructs_exactly_everywhere() {
    let constants = [
        0.0,
        -0.0,
        3.0,
        -2.5,
        1e-300,
        -1e-300,
        f64::from_bits(1),
        1e306,
        -1e306,
        f64::MAX,
        -f64::MAX,
        f64::MAX / 3.0,
    ];
    for c in constants {
        let a = analysis(vec![c; 5]);
        for q in every_setting() {
            let what = format!("c = {c:e}, {q:?}");
            let run = a.run(&q).unwrap_or_else(|e| panic!("{what}: {e}"));
            let p = run.params;
            let want_scale = if c == 0.0 {
                f32::EPSILON as f64
            } else {
                c.abs()
            };
            assert_eq!(p.scale, want_scale, "{what}");
            assert_eq!(p.fake_quantize(c), c, "{what}");
            let (_, deq) = a.quantize_all(&p);
            assert!(deq.iter().all(|&d| d == c), "{what}: {deq:?}");
            assert_eq!(run.metrics.mse, 0.0, "{what}");
            assert_eq!(run.metrics.max_abs_error, 0.0, "{what}");
            assert_eq!(run.metrics.sqnr_db, f64::INFINITY, "{what}");
            assert_eq!(run.metrics.clipped, 0, "{what}");
            // What the page draws of it: every value counted, on finite bins.
            let v = a.view(&q).unwrap();
            assert!(v.values.lo.is_finite() && v.values.hi.is_finite(), "{what}");
            assert!((v.values.hi - v.values.lo).is_finite(), "{what}");
            assert_eq!(v.values.total(), 5, "{what}");
            assert_eq!(v.dequantized.total(), 5, "{what}");
            assert_eq!(v.code_counts.iter().sum::<u64>(), 5, "{what}");
            assert!(
                v.mapping
                    .iter()
                    .all(|(x, y)| x.is_finite() && y.is_finite()),
                "{what}"
            );
        }
        // The six of the comparison, and the sweep of every width.
        for zp in POLICIES {
            let q = settings(8, Scheme::Asymmetric, Calibration::MinMax, zp);
            for r in a.compare(&q).unwrap() {
                assert_eq!(r.params.fake_quantize(c), c, "c = {c:e}, {:?}", r.settings);
                assert_eq!(r.metrics.mse, 0.0);
            }
            let sweep = a.sweep(&q).unwrap();
            for s in &sweep.series {
                assert!(s.mse.iter().all(|&m| m == 0.0), "c = {c:e}: {s:?}");
            }
        }
    }
}

/// Five values of 1e306 (or of f64::MAX): the outer levels of `scale = |c|` pass f64, but the
/// range is not too wide, and c is exact.
#[test]
fn five_values_of_1e306_are_not_too_wide() {
    for c in [1e306, f64::MAX] {
        let a = analysis(vec![c; 5]);
        for bits in [2, 8, 16] {
            for scheme in SCHEMES {
                for zp in POLICIES {
                    let q = settings(bits, scheme, Calibration::MinMax, zp);
                    let run = a.run(&q).unwrap();
                    assert_eq!(run.params.fake_quantize(c), c, "{c:e} {q:?}");
                }
            }
        }
        // include-zero widens the range to [0, c]; c is still one level from zero.
        let q = settings(
            8,
            Scheme::Asymmetric,
            Calibration::MinMax,
            ZeroPoint::IncludeZero,
        );
        let p = a.run(&q).unwrap().params;
        assert_eq!((p.zero_point, p.quantize_value(c)), (0.0, 1));
        assert_eq!(p.fake_quantize(0.0), 0.0);
    }
}

/// Views of data whose window runs past float64 (the step reaches beyond f64::MAX): finite
/// bins, every value counted.
#[test]
fn views_near_float64s_ends_have_finite_bins() {
    // On the 8-bit grid: c / 255 and c / 127 are exact, so every error is 0 and the MSE fits.
    let c = 32385.0 * 2f64.powi(1009);
    // (Data from -c to c, whose own width is beyond f64, is left out: no window of f64 holds it.)
    for values in [vec![0.0, c, c], vec![-c, -c, 0.0], vec![c; 3]] {
        let a = analysis(values.clone());
        for scheme in SCHEMES {
            let q = settings(8, scheme, Calibration::MinMax, ZeroPoint::Raw);
            let v = match a.view(&q) {
                Ok(v) => v,
                Err(e) => {
                    assert!(
                        matches!(e, Error::RangeOverflow { .. }),
                        "{values:?} {q:?}: {e}"
                    );
                    continue;
                }
            };
            assert!(
                (v.values.hi - v.values.lo).is_finite(),
                "{values:?} {q:?}: {:?}",
                (v.values.lo, v.values.hi)
            );
            assert_eq!(v.values.total(), 3, "{values:?} {q:?}");
            assert_eq!(v.dequantized.total(), 3, "{values:?} {q:?}");
        }
    }
}

/// A one-point clip range of data that is not constant (a percentile on ties) must have every
/// level finite: the other values reach them.
#[test]
fn a_one_point_range_of_varied_data_keeps_finite_levels() {
    let mut values = vec![1e306; 1000];
    values[0] = -1e306;
    let a = analysis(values);
    let q = settings(
        8,
        Scheme::Asymmetric,
        Calibration::Percentile(99.0),
        ZeroPoint::Raw,
    );
    match a.run(&q) {
        Ok(run) => {
            assert!(run.params.levels_finite(), "{:?}", run.params);
            assert!(run.metrics.mse.is_finite());
        }
        Err(e) => assert!(matches!(e, Error::RangeOverflow { .. }), "{e}"),
    }
}

// ---- SQNR of data whose squares overflow or underflow ----------------------------------------

/// `mean(x²)` of values above 1.3e154 overflows float64; the SQNR is still finite wherever the
/// error is not zero (infinite would print as null in JSON, as for exact data).
#[test]
fn sqnr_is_finite_for_values_near_1e155() {
    let a = analysis(vec![1e155, -1e155, 3e154]);
    for q in every_setting() {
        let run = match a.run(&q) {
            Ok(run) => run,
            // At 2 and 3 bits the step is 1e154 and more, and the median's range clips 1e155
            // to about 3e154: errors of 3e154 and more have a mean square beyond f64, which is
            // an error of its own (below).
            Err(Error::MseOverflow { .. })
                if q.bits <= 3 || q.calibration == Calibration::Percentile(50.5) =>
            {
                continue
            }
            Err(e) => panic!("{q:?}: {e}"),
        };
        let m = run.metrics;
        if m.max_abs_error > 0.0 {
            assert!(m.sqnr_db.is_finite(), "{q:?}: {m:?}");
            assert!(m.mse.is_finite() && m.mse > 0.0, "{q:?}: {m:?}");
        }
    }
    // The same data scaled by an exact power of two has the same SQNR, to rounding: the
    // scaled path is the plain one, moved.
    let small = analysis(vec![
        1e155 / 2f64.powi(600),
        -1e155 / 2f64.powi(600),
        3e154 / 2f64.powi(600),
    ]);
    for bits in [4, 8, 16] {
        for scheme in SCHEMES {
            let q = settings(bits, scheme, Calibration::MinMax, ZeroPoint::Raw);
            let (big, plain) = (a.run(&q).unwrap().metrics, small.run(&q).unwrap().metrics);
            assert!(
                (big.sqnr_db - plain.sqnr_db).abs() < 1e-9,
                "{q:?}: {} vs {}",
                big.sqnr_db,
                plain.sqnr_db
            );
        }
    }
    // 8-bit asymmetric min-max: power (2e310 + 9e308) / 3 against an MSE of 1.153e305, about
    // 47.8 dB (computed here in units of 1e300, where nothing overflows).
    let m = a
        .run(&settings(
            8,
            Scheme::Asymmetric,
            Calibration::MinMax,
            ZeroPoint::Raw,
        ))
        .unwrap()
        .metrics;
    let want = 10.0 * ((2e10 + 9e8) / 3.0 / (m.mse / 1e300)).log10();
    assert!((m.sqnr_db - want).abs() < 1e-9, "{} vs {want}", m.sqnr_db);
}

/// The page's `?outliers=5&outlier_value=1e300&bits=16`: an MSE of about 1, a finite SQNR. The
/// values themselves carry a power of about 5e597 / 1000; the error, about 1, is far below.
#[test]
fn sqnr_is_finite_with_one_far_outlier() {
    let spec = quantviz::settings::DataSpec {
        n: 1000,
        outliers: 5,
        outlier_value: 1e300,
        ..Default::default()
    };
    let a = Analysis::new(quantviz::data::generate::generate(&spec).unwrap()).unwrap();
    let q = settings(16, Scheme::Asymmetric, Calibration::MinMax, ZeroPoint::Raw);
    for r in a.compare(&q).unwrap() {
        let m = r.metrics;
        assert!(m.mse > 0.1 && m.mse < 10.0, "{:?}: {m:?}", r.settings);
        // 10 log10(5 · 1e600 / 1000 / mse): about 5.97e3 dB.
        let want = 10.0 * (5f64.log10() + 597.0 - m.mse.log10());
        assert!(
            (m.sqnr_db - want).abs() < 1e-6,
            "{:?}: {} vs {want}",
            r.settings,
            m.sqnr_db
        );
        // The inliers' own power is ordinary: their numbers are the plain formulas.
        let kept = r.inliers.unwrap();
        assert!(kept.sqnr_db.is_finite());
    }
}

/// Tiny values: squares below 1e-324 underflow to 0, and an MSE of 0 read as exact.
#[test]
fn sqnr_is_finite_for_tiny_values() {
    let xs: Vec<f64> = (0..200).map(|i| (i as f64 * 0.37).sin() * 1e-300).collect();
    let a = analysis(xs);
    for bits in [2, 8, 16] {
        for scheme in SCHEMES {
            let q = settings(bits, scheme, Calibration::MinMax, ZeroPoint::Raw);
            let m = a.run(&q).unwrap().metrics;
            assert!(m.max_abs_error > 0.0);
            // The MSE is numpy's (0 or subnormal); the SQNR is not fooled by it.
            assert!(m.sqnr_db.is_finite() && m.sqnr_db > 0.0, "{q:?}: {m:?}");
            assert!(m.sqnr_db < 6.03 * bits as f64 + 12.0, "{q:?}: {m:?}");
        }
    }
}

/// Ordinary data keeps the plain formulas, bit for bit: `10 log10(mean(x²) / mse)`.
#[test]
fn ordinary_data_keeps_the_plain_sqnr() {
    let xs: Vec<f64> = (0..5000)
        .map(|i| (i as f64 * 0.7).sin() * 3.0 + 0.5)
        .collect();
    let sq: Vec<f64> = xs.iter().map(|x| x * x).collect();
    let power = quantviz::quant::pairwise::pairwise_sum(&sq) / xs.len() as f64;
    let a = analysis(xs.clone());
    for q in every_setting() {
        let run = a.run(&q).unwrap();
        let e = run.params.error_stats(&xs);
        let plain = quantviz::analysis::metrics::Metrics::new(&e, power);
        assert_eq!(run.metrics.mse.to_bits(), plain.mse.to_bits(), "{q:?}");
        assert_eq!(
            run.metrics.sqnr_db.to_bits(),
            plain.sqnr_db.to_bits(),
            "{q:?}"
        );
    }
}

// ---- An MSE beyond float64 -------------------------------------------------------------------

/// uniform(1e308, 1.7e308) has errors of 1e305, whose mean square is beyond float64: one clear
/// error, not an MSE left out (null in JSON).
#[test]
fn an_mse_beyond_float64_is_an_error_not_null() {
    let xs = quantviz::data::generate::sample(
        quantviz::settings::Distribution::Uniform {
            lo: 1e308,
            hi: 1.7e308,
        },
        10_000,
        42,
    );
    let a = analysis(xs);
    let q = QuantSettings::default();
    let e = a.run(&q).unwrap_err();
    assert!(matches!(e, Error::MseOverflow { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("overflows float64") && msg.contains("rescale"),
        "{msg}"
    );
    assert!(!msg.contains("0000000000"), "{msg}");
    assert!(a.compare(&q).is_err());
    // Every calibration agrees that the data cannot be measured.
    for q in every_setting() {
        match a.run(&q) {
            Ok(r) => panic!("{q:?}: {:?}", r.metrics),
            Err(e) => assert!(
                matches!(e, Error::MseOverflow { .. } | Error::RangeOverflow { .. }),
                "{q:?}: {e}"
            ),
        }
    }
}

/// student-t with dof 1e-300: values out to ±f64::MAX. Min-max refuses the range, and so does
/// every other calibration, each with a message that names no NaN or inf (not a null MSE, not a
/// range "[NaN, NaN]").
#[test]
fn huge_tails_are_refused_by_every_calibration_alike() {
    let xs = quantviz::data::generate::sample(
        quantviz::settings::Distribution::StudentT { dof: 1e-300 },
        10_000,
        42,
    );
    let a = analysis(xs);
    for q in every_setting() {
        match a.run(&q) {
            Ok(r) => {
                assert!(r.metrics.mse.is_finite(), "{q:?}: {:?}", r.metrics);
                assert!(!r.metrics.sqnr_db.is_nan(), "{q:?}: {:?}", r.metrics);
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(!msg.contains("NaN") && !msg.contains("inf"), "{q:?}: {msg}");
                assert!(msg.contains("rescale"), "{q:?}: {msg}");
            }
        }
        let min_max = settings(q.bits, q.scheme, Calibration::MinMax, q.zero_point);
        assert_eq!(
            a.run(&q).is_ok(),
            a.run(&min_max).is_ok(),
            "{q:?} and min-max disagree on whether the data can be quantized"
        );
    }
}

/// Where numpy's sum of squared errors overflows but their mean does not, the MSE is the
/// mean, not inf: 4,000 errors of about 2e153 (squares 4e306, sum 1.6e310, mean 4e306).
#[test]
fn an_mse_whose_sum_overflows_is_still_reported() {
    let xs: Vec<f64> = (0..4000)
        .map(|i| {
            if i % 2 == 0 {
                1e156
            } else {
                1e156 + 4e153 * ((i % 7) as f64 - 3.0)
            }
        })
        .collect();
    let a = analysis(xs.clone());
    let q = settings(2, Scheme::Symmetric, Calibration::MinMax, ZeroPoint::Raw);
    let run = a.run(&q).unwrap();
    let e = run.params.error_stats(&xs);
    assert_eq!(
        e.sum_sq,
        f64::INFINITY,
        "the case needs numpy's sum to overflow"
    );
    let direct: f64 = xs
        .iter()
        .map(|&x| {
            let d = (x - run.params.fake_quantize(x)) / 1e150;
            d * d
        })
        .sum::<f64>()
        / xs.len() as f64
        * 1e300;
    assert!(run.metrics.mse.is_finite());
    assert!(
        (run.metrics.mse / direct - 1.0).abs() < 1e-12,
        "{} vs {direct}",
        run.metrics.mse
    );
}

// ---- The least-error calibration against min-max ---------------------------------------------

/// `mse`'s and min-max's MSE for `q` over all the values, as the run reports them.
fn mse_and_min_max(a: &Analysis, q: &QuantSettings) -> (f64, f64) {
    let mse = a
        .run(&QuantSettings {
            calibration: Calibration::Mse,
            ..*q
        })
        .unwrap()
        .metrics
        .mse;
    let min_max = a
        .run(&QuantSettings {
            calibration: Calibration::MinMax,
            ..*q
        })
        .unwrap()
        .metrics
        .mse;
    (mse, min_max)
}

/// 0..255 repeated 12 times at 8 bits are exact under min-max (MSE 0), and symmetric min-max
/// has 0.3346, where the search's pick has 0.0023 and 0.3706: it models the middle codes' error
/// as scale²/12 instead of measuring it. uniform(3, 7) with include-zero is a second such case.
#[test]
fn mse_never_loses_to_min_max_on_integers_and_uniform_data() {
    let ramp: Vec<f64> = (0..12).flat_map(|_| (0..256).map(f64::from)).collect();
    let a = analysis(ramp);
    for zp in POLICIES {
        let q = settings(8, Scheme::Asymmetric, Calibration::Mse, zp);
        assert_eq!(mse_and_min_max(&a, &q), (0.0, 0.0), "{zp:?}");
    }
    let q = settings(8, Scheme::Symmetric, Calibration::Mse, ZeroPoint::Raw);
    let (mse, min_max) = mse_and_min_max(&a, &q);
    assert!(mse <= min_max, "symmetric: mse {mse} > min-max {min_max}");
    assert!(min_max < 0.34, "{min_max}");

    let uniform = quantviz::data::generate::sample(
        quantviz::settings::Distribution::Uniform { lo: 3.0, hi: 7.0 },
        3000,
        42,
    );
    let a = analysis(uniform);
    for bits in 2..=16 {
        for scheme in SCHEMES {
            for zp in POLICIES {
                let q = settings(bits, scheme, Calibration::Mse, zp);
                let (mse, min_max) = mse_and_min_max(&a, &q);
                assert!(mse <= min_max, "{q:?}: mse {mse} > min-max {min_max}");
            }
        }
    }
    // The comparison and the sweep say the same (the sweep measures every value here).
    for zp in POLICIES {
        let q = settings(8, Scheme::Asymmetric, Calibration::MinMax, zp);
        let runs = a.compare(&q).unwrap();
        for scheme in SCHEMES {
            let of = |c: Calibration| {
                runs.iter()
                    .find(|r| r.settings.scheme == scheme && r.settings.calibration == c)
                    .unwrap()
                    .metrics
                    .mse
            };
            assert!(
                of(Calibration::Mse) <= of(Calibration::MinMax),
                "{scheme} {zp:?}"
            );
        }
        let sweep = a.sweep(&q).unwrap();
        assert_sweep_mse_at_most_min_max(&sweep);
    }
}

fn assert_sweep_mse_at_most_min_max(sweep: &quantviz::analysis::Sweep) {
    for scheme in SCHEMES {
        let of = |c: Calibration| {
            sweep
                .series
                .iter()
                .find(|s| s.scheme == scheme && s.calibration == c)
                .unwrap()
        };
        let (mse, mm) = (of(Calibration::Mse), of(Calibration::MinMax));
        for (i, bits) in sweep.bits.iter().enumerate() {
            assert!(
                mse.mse[i] <= mm.mse[i],
                "sweep {scheme} {bits} bits: mse {} > min-max {}",
                mse.mse[i],
                mm.mse[i]
            );
        }
    }
}

/// Data larger than the search's sample (`MSE_SAMPLE` values, strided): the guarantee holds
/// over all the values, which the run reports, and the sweep's over its own sample.
#[test]
fn mse_never_loses_to_min_max_beyond_the_sample() {
    use quantviz::quant::calibrate::MSE_SAMPLE;
    // The search's stride is 4 here: it sees only the values at multiples of 4, spread over
    // [0, 1), and none of the three quarters at 10 (which its range of fractions of [min, max]
    // still allows for). Its pick fits [0, 1) and clips the 10s: min-max is far better.
    let n = 4 * MSE_SAMPLE;
    let values: Vec<f64> = (0..n)
        .map(|i| {
            if i % 4 == 0 {
                ((i / 4) % 1000) as f64 / 1000.0
            } else {
                10.0
            }
        })
        .collect();
    let a = analysis(values);
    for bits in [2, 4, 8, 12] {
        for scheme in SCHEMES {
            for zp in POLICIES {
                let q = settings(bits, scheme, Calibration::Mse, zp);
                let (mse, min_max) = mse_and_min_max(&a, &q);
                assert!(mse <= min_max, "{q:?}: mse {mse} > min-max {min_max}");
            }
        }
    }
    let sweep = a.sweep(&QuantSettings::default()).unwrap();
    assert!(sweep.sample.is_some());
    assert_sweep_mse_at_most_min_max(&sweep);
}

/// Where the search already beats min-max it keeps its own pick (one far outlier, the
/// notebook's second experiment: the least error clips a little of the range).
#[test]
fn mse_keeps_its_pick_where_it_wins() {
    let xs: Vec<f64> = (0..10_000)
        .map(|i| ((i * 7919) % 10_000) as f64 * 0.02 - 50.0)
        .chain([1000.0])
        .collect();
    let a = analysis(xs);
    let q = settings(4, Scheme::Symmetric, Calibration::Mse, ZeroPoint::Raw);
    let (mse, min_max) = mse_and_min_max(&a, &q);
    assert!(mse < min_max, "mse {mse}, min-max {min_max}");
    let p = a.run(&q).unwrap().params;
    assert!(p.range_max < 1000.0, "{p:?}");
}

/// The comparison measures the search's pick beside min-max in its own pass; each of its six
/// runs is still, bit for bit, what a run alone on a fresh analysis reports (whose `mse` range
/// is checked in a pass of its own), whether the pick or min-max wins.
#[test]
fn the_comparison_chooses_as_a_run_alone_does() {
    let ramp: Vec<f64> = (0..12).flat_map(|_| (0..256).map(f64::from)).collect();
    let normal = quantviz::data::generate::sample(
        quantviz::settings::Distribution::Normal {
            mean: 0.0,
            std: 1.0,
        },
        5000,
        3,
    );
    let mut outlier = normal.clone();
    outlier[17] = 40.0;
    for values in [ramp, normal, outlier] {
        for bits in [2, 4, 8, 16] {
            for zp in POLICIES {
                let q = settings(bits, Scheme::Asymmetric, Calibration::MinMax, zp);
                let compared = analysis(values.clone()).compare(&q).unwrap();
                let alone = analysis(values.clone());
                for r in &compared {
                    assert_eq!(*r, alone.run(&r.settings).unwrap(), "{:?}", r.settings);
                }
                // And again from the analysis that compared (its ranges now cached).
                let a = analysis(values.clone());
                let first = a.compare(&q).unwrap();
                assert_eq!(first, compared);
                assert_eq!(a.compare(&q).unwrap(), compared);
            }
        }
    }
}

// ---- Properties --------------------------------------------------------------------------------

mod properties {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// A power of ten from 1e-300 to 1e300, or one of float64's ends.
    fn magnitude() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => (-300i32..=300).prop_map(|e| 10f64.powi(e)),
            1 => Just(f64::MAX / 4.0),
            1 => Just(f64::MIN_POSITIVE),
        ]
    }

    /// Any one value: ordinary, huge, tiny, zero.
    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            3 => -1000.0f64..1000.0,
            2 => (-1.0f64..1.0, magnitude()).prop_map(|(m, s)| m * s),
            1 => Just(0.0),
            1 => Just(-0.0),
            1 => prop_oneof![Just(f64::MAX), Just(-f64::MAX), Just(1e300), Just(-1e-300)],
        ]
    }

    /// Data the search's model of the error gets wrong, or that sits at float64's ends.
    fn adversarial() -> impl Strategy<Value = Vec<f64>> {
        prop_oneof![
            // Small integers, often repeated: exact on many grids.
            2 => (vec(-8i32..=8, 1..200), 0i32..=2)
                .prop_map(|(ks, e)| ks.into_iter().map(|k| f64::from(k) * f64::from(1 << e)).collect()),
            // Ramps of integers repeated, as 0..255 twelve times.
            1 => (1u32..=9, 1usize..12).prop_map(|(b, reps)| {
                (0..reps).flat_map(|_| (0..(1u32 << b)).map(f64::from)).collect()
            }),
            // Halves between integers times a power of two: ties for round-half-even.
            2 => (vec(-40i32..40, 1..150), -4i32..=4).prop_map(|(ks, e)| {
                ks.into_iter().map(|k| (f64::from(k) + 0.5) * 2f64.powi(e)).collect()
            }),
            // Constants.
            1 => (value(), 1usize..20).prop_map(|(c, n)| vec![c; n]),
            // Two distinct values, repeated in any order.
            2 => (value(), value(), vec(any::<bool>(), 2..100)).prop_map(|(a, b, picks)| {
                picks.into_iter().map(|p| if p { a } else { b }).collect()
            }),
            // One magnitude, huge to tiny.
            2 => (vec(-1.0f64..1.0, 1..80), magnitude())
                .prop_map(|(v, s)| v.into_iter().map(|x| x * s).collect()),
            // Mixtures of all of the above's values.
            2 => vec(value(), 1..60),
        ]
    }

    /// The least-error calibration against min-max at every width, scheme and policy.
    fn never_above_min_max(xs: &[f64]) -> Result<(), TestCaseError> {
        let a = analysis(xs.to_vec());
        for bits in 2..=16 {
            for scheme in SCHEMES {
                for zp in POLICIES {
                    let q = settings(bits, scheme, Calibration::Mse, zp);
                    let mm = settings(bits, scheme, Calibration::MinMax, zp);
                    match (a.run(&q), a.run(&mm)) {
                        (Ok(s), Ok(m)) => prop_assert!(
                            s.metrics.mse <= m.metrics.mse,
                            "{q:?}: mse {:e} > min-max {:e}",
                            s.metrics.mse,
                            m.metrics.mse
                        ),
                        (Err(e), Ok(_)) => {
                            prop_assert!(false, "{q:?}: mse fails where min-max works: {e}")
                        }
                        // Its own range can have an MSE that fits where min-max's does not.
                        (Ok(_), Err(e)) => prop_assert!(
                            matches!(e, Error::MseOverflow { .. }),
                            "{q:?}: min-max fails ({e}) but mse does not"
                        ),
                        (Err(e), Err(f)) => prop_assert!(
                            matches!(f, Error::MseOverflow { .. })
                                || matches!(e, Error::RangeOverflow { .. }),
                            "{q:?}: min-max {f}, mse {e}"
                        ),
                    }
                }
            }
        }
        // The sweep, where it can be made, says the same at every width.
        for zp in POLICIES {
            if let Ok(sweep) = a.sweep(&settings(8, Scheme::Asymmetric, Calibration::MinMax, zp)) {
                for scheme in SCHEMES {
                    let of = |c: Calibration| {
                        sweep
                            .series
                            .iter()
                            .find(|s| s.scheme == scheme && s.calibration == c)
                            .map(|s| s.mse.clone())
                            .unwrap_or_default()
                    };
                    for (s, m) in of(Calibration::Mse).iter().zip(of(Calibration::MinMax)) {
                        prop_assert!(*s <= m, "sweep {scheme} {zp:?}: mse {s:e} > min-max {m:e}");
                    }
                }
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn least_error_is_never_above_min_max(xs in adversarial()) {
            never_above_min_max(&xs)?;
        }

        #[test]
        fn any_constant_reconstructs_exactly(
            c in prop_oneof![
                3 => value(),
                1 => any::<f64>().prop_filter("finite", |x| x.is_finite()),
            ],
            n in 1usize..12,
            bits in 2u32..=16,
        ) {
            let a = analysis(vec![c; n]);
            for scheme in SCHEMES {
                for zp in POLICIES {
                    for calibration in [Calibration::MinMax, Calibration::Percentile(99.9), Calibration::Mse] {
                        let q = settings(bits, scheme, calibration, zp);
                        let run = a.run(&q).map_err(|e| TestCaseError::fail(format!("{c:e} {q:?}: {e}")))?;
                        prop_assert_eq!(run.params.fake_quantize(c), c, "{:e} {:?}", c, q);
                        prop_assert_eq!(run.metrics.mse, 0.0);
                        prop_assert_eq!(run.metrics.sqnr_db, f64::INFINITY);
                    }
                }
            }
        }
    }
}

/// A generated set too wide for float64 is refused for its parameters, not for values the user
/// never wrote.
#[test]
fn a_distribution_too_wide_for_float64_names_its_parameters() {
    use quantviz::data::generate::generate;
    use quantviz::settings::{DataSpec, Distribution};
    for dist in [
        Distribution::Normal {
            mean: 0.0,
            std: 1e308,
        },
        Distribution::Laplace {
            loc: 0.0,
            scale: 1e308,
        },
    ] {
        let spec = DataSpec {
            dist,
            n: 1000,
            ..DataSpec::default()
        };
        let e = generate(&spec).unwrap_err().to_string();
        assert!(
            e.contains("smaller range or scale") && !e.contains("remove or replace"),
            "{e}"
        );
    }
}
