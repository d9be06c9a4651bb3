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

/// The tester's case: five values of 1e306 were refused as "too wide (max - min overflows)".
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
