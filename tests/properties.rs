#![cfg(not(target_arch = "wasm32"))]
//! Properties of the core for any finite input, checked with proptest.
//!
//! The reconstruction bound is stated honestly for floating point. With `r = x / s + z` computed
//! as `fl(fl(x / s) + z)`, the code `q = round(r)` and `x̂ = fl((q - z) · s)`, rounding error adds
//! at most a few ulps of `|x|`, `|x̂|` and `|z · s|` to the ideal `s / 2`:
//!
//! `|x - x̂| <= s/2 + 4ε (|x| + |x̂| + s (|z| + |q| + 1))` (ε = 2^-52),
//!
//! which for a zero point inside the code range (symmetric, `include-zero`, or raw on data that
//! straddles 0) is `s/2 · (1 + 2^-30)` at most. With the notebook's raw zero point on a range
//! that is narrow relative to its distance from 0 (`(max - min) / |min|` below about 2^-36), the
//! `ε|x|` term dominates: `x / s` is then so large that its rounding error exceeds one code, in
//! numpy as here (see `raw_zero_point_far_from_zero_loses_codes`).

use proptest::collection::vec;
use proptest::prelude::*;
use quantviz::data::load::{parse_bytes, parse_text};
use quantviz::error::{check_finite, Error};
use quantviz::quant::calibrate::{self, DataStats};
use quantviz::quant::pairwise::pairwise_sum;
use quantviz::quant::params::QuantParams;
use quantviz::settings::{Calibration, QuantSettings, Scheme, Settings, ZeroPoint};

const EPS: f64 = f64::EPSILON;

// ---- Strategies -------------------------------------------------------------------------------

/// A finite value: any sign, magnitudes from subnormal to 1e300, exact zeros and exact halves.
fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (-1.0f64..1.0, -300i32..=300).prop_map(|(m, e)| m * 10f64.powi(e)),
        1 => any::<f64>().prop_filter("finite, |x| <= 1e300", |x| x.is_finite() && x.abs() <= 1e300),
        1 => Just(0.0),
        1 => Just(-0.0),
        1 => (-1000i32..1000).prop_map(|k| k as f64 * 0.5),
    ]
}

/// Finite data sets of many shapes.
fn data() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        // One magnitude, shifted so that some sets are one-sided.
        3 => (vec(-1.0f64..1.0, 1..150), -300i32..=300, -2.0f64..2.0).prop_map(|(v, e, shift)| {
            let m = 10f64.powi(e);
            v.into_iter().map(|x| (x + shift) * m).collect()
        }),
        // Mixed magnitudes.
        2 => vec(finite(), 1..60),
        // Constant.
        1 => (finite(), 1usize..40).prop_map(|(c, n)| vec![c; n]),
        // A single value.
        1 => finite().prop_map(|x| vec![x]),
        // One-sided, positive or negative.
        1 => (vec(0.0f64..1.0, 1..80), -30i32..=30, any::<bool>()).prop_map(|(v, e, neg)| {
            let m = if neg { -(10f64.powi(e)) } else { 10f64.powi(e) };
            v.into_iter().map(|x| (x + 0.01) * m).collect()
        }),
        // Narrow relative to the distance from zero: c (1 + t·rel), rel from 1e-15 to 1e-3.
        1 => (finite(), vec(-1.0f64..1.0, 2..40), -15i32..=-3).prop_map(|(c, v, e)| {
            let rel = 10f64.powi(e);
            v.into_iter().map(|t| c * (1.0 + t * rel)).collect()
        }),
        // Few distinct values, many repeats (percentiles on ties).
        1 => (vec(-3i32..4, 1..100), finite()).prop_map(|(v, c)| {
            v.into_iter().map(|k| k as f64 * c).collect()
        }),
    ]
}

fn scheme() -> impl Strategy<Value = Scheme> {
    prop_oneof![Just(Scheme::Asymmetric), Just(Scheme::Symmetric)]
}

fn policy() -> impl Strategy<Value = ZeroPoint> {
    prop_oneof![Just(ZeroPoint::Raw), Just(ZeroPoint::IncludeZero)]
}

fn calibration() -> impl Strategy<Value = Calibration> {
    prop_oneof![
        2 => Just(Calibration::MinMax),
        1 => prop_oneof![Just(99.99), Just(99.9), Just(100.0), 50.0001f64..=100.0]
            .prop_map(Calibration::Percentile),
        1 => Just(Calibration::Mse),
    ]
}

fn settings() -> impl Strategy<Value = QuantSettings> {
    (2u32..=16, scheme(), calibration(), policy()).prop_map(|(bits, scheme, calibration, zp)| {
        QuantSettings {
            bits,
            scheme,
            calibration,
            zero_point: zp,
        }
    })
}

// ---- Checks -----------------------------------------------------------------------------------

/// The honest reconstruction bound for a value x in the clip range (see the module docs).
fn bound(p: &QuantParams, x: f64, q: i32, xh: f64) -> f64 {
    let s = p.scale;
    // The last term covers results that land among the subnormals.
    s / 2.0
        + 4.0 * EPS * (x.abs() + xh.abs() + s * (p.zero_point.abs() + (q as f64).abs() + 1.0))
        + 4.0 * f64::from_bits(1)
}

/// Every property of one calibrated quantization of finite data.
fn check(xs: &[f64], s: &QuantSettings) -> Result<(), TestCaseError> {
    let stats = DataStats::of(xs).map_err(|e| TestCaseError::fail(format!("stats: {e}")))?;
    // |x| <= 1e300 keeps max - min finite: calibration must succeed.
    let p = calibrate::calibrate(xs, &stats, s)
        .map_err(|e| TestCaseError::fail(format!("calibrate: {e}")))?;
    let (qmin, qmax) = s.code_range();
    prop_assert_eq!((p.qmin, p.qmax), (qmin, qmax));
    prop_assert!(p.scale.is_finite() && p.scale > 0.0, "scale {}", p.scale);
    prop_assert!(p.zero_point.is_finite(), "zero point {}", p.zero_point);
    prop_assert!(p.range_min.is_finite() && p.range_max.is_finite());
    prop_assert!(
        p.range_min <= p.range_max,
        "range [{}, {}]",
        p.range_min,
        p.range_max
    );
    prop_assert_eq!(p.zero_point, p.zero_point.round_ties_even());
    if s.scheme == Scheme::Symmetric {
        prop_assert_eq!(p.zero_point, 0.0);
    }
    if s.scheme == Scheme::Symmetric || s.zero_point == ZeroPoint::IncludeZero {
        prop_assert!(
            (qmin as f64..=qmax as f64).contains(&p.zero_point),
            "zero point {} outside [{qmin}, {qmax}]",
            p.zero_point
        );
    }
    let (cmin, cmax) = (p.clip_min(), p.clip_max());
    // (Equal only when |zero_point| > 2^53 makes qmin - z and qmax - z round to one float.)
    prop_assert!(
        cmin.is_finite() && cmax.is_finite() && cmin <= cmax,
        "clip [{cmin}, {cmax}]"
    );

    // Codes in range; dequantized values finite.
    let (codes, deq) = p.quantize_dequantize(xs);
    prop_assert!(codes.iter().all(|&q| (qmin..=qmax).contains(&q)));
    prop_assert!(deq.iter().all(|d| d.is_finite()));

    // Reconstruction within scale / 2 (plus rounding) inside the clip range: the data's own
    // values there, and points spread over the range.
    let near_zero_point = p.zero_point.abs() <= 65536.0;
    let probes = (0..=64).map(|i| cmin + (cmax - cmin) * (i as f64 / 64.0));
    for x in xs.iter().copied().chain(probes) {
        if !(cmin..=cmax).contains(&x) {
            continue;
        }
        let q = p.quantize_value(x);
        let xh = p.dequantize_value(q);
        let err = (x - xh).abs();
        prop_assert!(
            err <= bound(&p, x, q, xh),
            "x {x:e} -> q {q} -> {xh:e}: error {err:e} > bound {:e} (scale {:e}, zero {})",
            bound(&p, x, q, xh),
            p.scale,
            p.zero_point
        );
        if near_zero_point {
            prop_assert!(
                err <= p.scale / 2.0 * (1.0 + 2f64.powi(-30)) + 4.0 * f64::from_bits(1),
                "x {x:e}: error {err:e} > scale/2 {:e} with zero point {}",
                p.scale / 2.0,
                p.zero_point
            );
        }
    }

    // Idempotence: the dequantized values quantize to the same codes, whenever the zero point
    // is small enough that x / s + z is computed to better than half a code (|z| < 2^49).
    if p.zero_point.abs() < 2f64.powi(49) {
        let again = p.quantize(&deq);
        prop_assert_eq!(&again, &codes);
    }

    // Zero is exact when the zero point is a code.
    if (qmin as f64..=qmax as f64).contains(&p.zero_point) {
        prop_assert_eq!(p.fake_quantize(0.0), 0.0);
    }

    // Constant data reconstructs exactly.
    if stats.is_constant() {
        for (&x, &d) in xs.iter().zip(&deq) {
            prop_assert_eq!(
                d,
                x,
                "constant {:e}: scale {:e}, zero {}",
                x,
                p.scale,
                p.zero_point
            );
        }
    }

    // The fused error is the separate one, bit for bit.
    let e = p.error_stats(xs);
    prop_assert_eq!(e.n, xs.len());
    let sq: Vec<f64> = xs
        .iter()
        .zip(&deq)
        .map(|(x, d)| (x - d) * (x - d))
        .collect();
    prop_assert_eq!(e.sum_sq.to_bits(), pairwise_sum(&sq).to_bits());
    let max_abs = xs
        .iter()
        .zip(&deq)
        .map(|(x, d)| (x - d).abs())
        .fold(0.0, f64::max);
    prop_assert_eq!(e.max_abs, max_abs);
    let clipped = xs
        .iter()
        .filter(|&&x| {
            let r = p.unclamped(x);
            r < qmin as f64 || r > qmax as f64
        })
        .count();
    prop_assert_eq!(e.clipped, clipped);
    if s.calibration == Calibration::MinMax {
        // Min-max: every value, not only those inside [clip_min, clip_max], reconstructs within
        // the bound. (The max itself may lie up to half a step beyond clip_max, because the zero
        // point is rounded; it is then counted as clipped but still within scale / 2.)
        for (&x, (&q, &xh)) in xs.iter().zip(codes.iter().zip(&deq)) {
            prop_assert!(
                (x - xh).abs() <= bound(&p, x, q, xh),
                "min-max x {x:e} -> {xh:e}"
            );
        }
    }
    check_page_kernels(xs, &p)?;
    let masked = p.error_stats_masked(xs, &vec![true; xs.len()]);
    prop_assert_eq!(masked.sum_sq.to_bits(), e.sum_sq.to_bits());
    prop_assert!(!e.mse().is_nan() && e.mse() >= 0.0);
    Ok(())
}

/// The page's fused pass (`quantviz::quant::kernels::fused`, run here in its portable form), and the
/// clipped count and `max |e|` over the sorted values, are `error_stats`, bit for bit. (The
/// pass's wasm forms that use what the sorted values tell run in `tests/node.rs`; natively
/// `error_stats_many_known` is `error_stats`, checking the given counts and max in debug.)
fn check_page_kernels(xs: &[f64], p: &QuantParams) -> Result<(), TestCaseError> {
    use quantviz::quant::kernels::fused::{error_stats_fused, error_stats_many_known, Known};
    use quantviz::quant::sorted::{
        by_reciprocal, clipped_sorted, clips, known_sorted, max_abs_sorted,
    };
    let e = p.error_stats(xs);
    let fused = error_stats_fused(xs, &[*p, *p])[1];
    prop_assert_eq!(fused.sum_sq.to_bits(), e.sum_sq.to_bits(), "{:?}", p);
    prop_assert_eq!(fused.max_abs.to_bits(), e.max_abs.to_bits());
    prop_assert_eq!((fused.n, fused.clipped), (e.n, e.clipped));
    let mut sorted = xs.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    prop_assert_eq!(clipped_sorted(&sorted, p), e.clipped, "{:?}", p);
    let max = max_abs_sorted(&sorted, p);
    prop_assert_eq!(max.to_bits(), e.max_abs.to_bits(), "{:?}", p);
    let known = known_sorted(&sorted, p);
    prop_assert_eq!(known.clipped, e.clipped);
    prop_assert!(known.max_abs.is_none_or(|m| m.to_bits() == max.to_bits()));
    let given = Known {
        clipped: e.clipped,
        max_abs: Some(max),
        by_reciprocal: by_reciprocal(&sorted, p),
    };
    prop_assert_eq!(error_stats_many_known(xs, &[*p], Some(&[given]))[0], e);
    prop_assert_eq!(xs.iter().filter(|&&x| clips(p, x)).count(), e.clipped);
    Ok(())
}

/// Values exactly on the ties between codes `k + 1/2` of `p` (as `(k + 1/2 - z) * s` rounds),
/// and a few ulps either side of them, with `-0.0` and `+0.0`.
fn near_ties(p: &QuantParams, ks: &[i32], ulps: &[i64]) -> Vec<f64> {
    let mut xs = vec![0.0, -0.0];
    for (i, &k) in ks.iter().enumerate() {
        let t = (k as f64 + 0.5 - p.zero_point) * p.scale;
        let d = ulps.get(i).copied().unwrap_or(0);
        xs.push(t);
        let b = t.to_bits() as i64 + d;
        let y = f64::from_bits(b as u64);
        if y.is_finite() {
            xs.push(y);
        }
    }
    xs
}

// ---- Properties -------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The page kernels on data built to sit on and next to the rounding ties, for any scale
    /// (tiny to huge), zero point (integer or not, inside the codes or far off) and width.
    #[test]
    fn page_kernels_on_ties(
        m in 0.5f64..1.0,
        e in -300i32..=300,
        zp in prop_oneof![(-70000i32..70000).prop_map(f64::from), -1e6f64..1e6, Just(0.0), Just(0.5)],
        bits in 2u32..=16,
        sym in any::<bool>(),
        ks in vec(-70000i32..70000, 0..300),
        ulps in vec(-3i64..=3, 0..300),
        extra in vec(finite(), 0..20),
    ) {
        let scheme = if sym { Scheme::Symmetric } else { Scheme::Asymmetric };
        let (qmin, qmax) = quantviz::settings::code_range(scheme, bits);
        let scale = m * 10f64.powi(e);
        prop_assume!(scale.is_finite() && scale > 0.0);
        let p = QuantParams {
            scheme, bits, scale, zero_point: zp, qmin, qmax, range_min: -1.0, range_max: 1.0,
        };
        // Ties at codes inside the range and around its ends.
        let ks: Vec<i32> = ks
            .iter()
            .enumerate()
            .map(|(i, &k)| match i % 3 { 0 => k, 1 => qmin - 1 + k.rem_euclid(3), _ => qmax - 1 + k.rem_euclid(3) })
            .collect();
        let mut xs = near_ties(&p, &ks, &ulps);
        xs.extend(extra);
        check_page_kernels(&xs, &p)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn quantization_properties(xs in data(), s in settings()) {
        check(&xs, &s)?;
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_setting_on_one_data_set(xs in data()) {
        // All schemes, calibrations and both policies at a few widths on the same data.
        for bits in [2, 3, 8, 16] {
            for scheme in [Scheme::Asymmetric, Scheme::Symmetric] {
                for calibration in [
                    Calibration::MinMax,
                    Calibration::Percentile(99.0),
                    Calibration::Mse,
                ] {
                    for zero_point in [ZeroPoint::Raw, ZeroPoint::IncludeZero] {
                        check(&xs, &QuantSettings { bits, scheme, calibration, zero_point })?;
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_finite_bits_never_panic(
        xs in vec(any::<f64>().prop_filter("finite", |x| x.is_finite()), 1..40),
        s in settings(),
    ) {
        // Values up to f64::MAX: the range may overflow, which must be a clean error.
        let stats = DataStats::of(&xs).unwrap();
        match calibrate::calibrate(&xs, &stats, &s) {
            Ok(p) => {
                prop_assert!(p.scale.is_finite() && p.scale > 0.0, "scale {}", p.scale);
                prop_assert!(p.zero_point.is_finite(), "zero point {}", p.zero_point);
                prop_assert!(
                    p.range_min.is_finite() && p.range_max.is_finite(),
                    "range [{}, {}]",
                    p.range_min,
                    p.range_max
                );
                let codes = p.quantize(&xs);
                prop_assert!(codes.iter().all(|&q| (p.qmin..=p.qmax).contains(&q)));
                let _ = p.error_stats(&xs);
            }
            Err(e) => prop_assert!(matches!(e, Error::RangeOverflow { .. }), "{}", e),
        }
    }

    #[test]
    fn constant_tensors_reconstruct_exactly(c in finite(), n in 1usize..30, s in settings()) {
        let xs = vec![c; n];
        let stats = DataStats::of(&xs).unwrap();
        let p = calibrate::calibrate(&xs, &stats, &s).unwrap();
        prop_assert!(p.scale.is_finite() && p.scale > 0.0);
        prop_assert_eq!(p.fake_quantize(c), c);
        prop_assert_eq!(p.error_stats(&xs).mse(), 0.0);
    }

    #[test]
    fn check_finite_names_count_and_first_index(
        base in vec(finite(), 0..60),
        bad in vec((any::<prop::sample::Index>(), 0u8..3), 0..8),
    ) {
        let mut xs = base;
        if !xs.is_empty() {
            for (i, k) in &bad {
                let n = xs.len();
                xs[i.index(n)] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][*k as usize];
            }
        }
        let count = xs.iter().filter(|x| !x.is_finite()).count();
        let first = xs.iter().position(|x| !x.is_finite());
        match check_finite(&xs) {
            Ok(()) => prop_assert!(!xs.is_empty() && count == 0),
            Err(Error::EmptyData) => prop_assert!(xs.is_empty()),
            Err(Error::NonFinite { count: c, first_index, first_value }) => {
                prop_assert_eq!(c, count);
                prop_assert_eq!(Some(first_index), first);
                let want = xs[first_index];
                prop_assert!(first_value.to_bits() == want.to_bits() || (want.is_nan() && first_value.is_nan()));
                let msg = Error::NonFinite { count: c, first_index, first_value }.to_string();
                let index_text = format!("index {first_index}");
                prop_assert!(msg.contains(&index_text), "{}", msg);
                prop_assert!(msg.starts_with(&count.to_string()), "{}", msg);
            }
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }

    #[test]
    fn from_query_never_panics(q in ".{0,80}") {
        let _ = Settings::from_query(&q);
    }

    #[test]
    fn from_query_structured_never_panics_and_round_trips(
        pairs in vec((
            prop_oneof![
                Just("dist"), Just("n"), Just("seed"), Just("outliers"), Just("outlier_value"),
                Just("bits"), Just("scheme"), Just("calibration"), Just("zero_point"),
                Just("preset"), Just("other"),
            ],
            prop_oneof![
                "[a-z:_-]{0,12}",
                "-?[0-9]{0,8}(\\.[0-9]{0,4})?(e-?[0-9]{1,3})?",
                "(uniform|normal|laplace|student-t|t):-?[0-9.e]{0,6}(,-?[0-9.e]{0,6})?",
                "percentile(:[0-9.]{0,7})?|minmax|mse|raw|include-zero|asymmetric|symmetric",
                "notebook-(minmax|percentile)",
                "(%[0-9A-Fa-f+]{0,2}|[+&=?])*",
            ],
        ), 0..8),
        leading in prop_oneof![Just(""), Just("?"), Just(" ?")],
    ) {
        let q = format!(
            "{leading}{}",
            pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
        );
        if let Ok(s) = Settings::from_query(&q) {
            let again = Settings::from_query(&s.to_query());
            prop_assert_eq!(again, Ok(s), "{} -> {}", q, s.to_query());
        }
    }

    #[test]
    fn parse_bytes_never_panics(bytes in vec(any::<u8>(), 0..300)) {
        let _ = parse_bytes(&bytes, "fuzz");
    }

    #[test]
    fn parse_bytes_npy_like_never_panics(
        version in prop_oneof![Just(1u8), Just(2), Just(3), any::<u8>()],
        header in "\\{('(descr|fortran_order|shape)': *('[<>|]?[fiu][0-9]'|True|False|\\(([0-9]{0,12}, *){0,3}[0-9]{0,12}\\)|[^,}]{0,5}), *){0,4}\\} *\n?",
        len_delta in -8i32..8,
        body in vec(any::<u8>(), 0..100),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut v = b"\x93NUMPY".to_vec();
        v.push(version);
        v.push(0);
        let len = (header.len() as i32 + len_delta).max(0) as u32;
        if version == 1 {
            v.extend_from_slice(&(len as u16).to_le_bytes());
        } else {
            v.extend_from_slice(&len.to_le_bytes());
        }
        v.extend_from_slice(header.as_bytes());
        v.extend_from_slice(&body);
        let _ = parse_bytes(&v, "fuzz.npy");
        // And every prefix of it.
        let k = cut.index(v.len() + 1);
        let _ = parse_bytes(&v[..k], "fuzz.npy");
    }

    #[test]
    fn parse_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_text(&text, "fuzz");
    }

    #[test]
    fn parse_text_never_panics_on_numberish_text(
        text in "([-+]?[0-9.eE]{0,6}|inf|nan|NaN|x|[,; \t\r\n]{1,3}|é){0,40}",
    ) {
        let _ = parse_text(&text, "fuzz.csv");
        let _ = parse_bytes(text.as_bytes(), "fuzz.csv");
    }

    #[test]
    fn written_npy_reads_back(
        xs in vec(finite(), 1..50),
        f32_data in any::<bool>(),
        fortran_key_first in any::<bool>(),
        version in prop_oneof![Just(1u8), Just(2)],
    ) {
        let (descr, body): (&str, Vec<u8>) = if f32_data {
            ("<f4", xs.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect())
        } else {
            ("<f8", xs.iter().flat_map(|x| x.to_le_bytes()).collect())
        };
        let want: Vec<f64> = if f32_data {
            xs.iter().map(|&x| x as f32 as f64).collect()
        } else {
            xs.clone()
        };
        let shape = format!("({},)", xs.len());
        let mut h = if fortran_key_first {
            format!("{{'fortran_order': False, 'descr': '{descr}', 'shape': {shape}, }}")
        } else {
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}")
        };
        let prefix = if version == 1 { 10 } else { 12 };
        while (prefix + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut v = b"\x93NUMPY".to_vec();
        v.extend_from_slice(&[version, 0]);
        if version == 1 {
            v.extend_from_slice(&(h.len() as u16).to_le_bytes());
        } else {
            v.extend_from_slice(&(h.len() as u32).to_le_bytes());
        }
        v.extend_from_slice(h.as_bytes());
        v.extend_from_slice(&body);
        let got = parse_bytes(&v, "w.npy").unwrap();
        prop_assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(g.to_bits(), w.to_bits());
        }
    }

    #[test]
    fn written_text_reads_back(
        xs in vec(finite(), 1..50),
        seps in vec(prop_oneof![Just(","), Just(", "), Just(" "), Just("\n"), Just("\t"), Just(";"), Just("\r\n")], 1..50),
    ) {
        let mut text = String::new();
        for (i, x) in xs.iter().enumerate() {
            if i > 0 {
                text.push_str(seps[i % seps.len()]);
            }
            text.push_str(&format!("{x:e}"));
        }
        let got = parse_text(&text, "t.csv").unwrap();
        prop_assert_eq!(got.len(), xs.len());
        for (g, w) in got.iter().zip(&xs) {
            prop_assert_eq!(g.to_bits(), w.to_bits());
        }
    }
}

// ---- Documented limits ------------------------------------------------------------------------

/// The notebook's raw zero point on a range narrow relative to its distance from 0: `x / s` is
/// about 2^60 here, whose ulp is 256 codes, so values inside the clip range land codes away from
/// where they belong. numpy computes the same (the same operations in the same order); the
/// `include-zero` policy does not suffer from it (its zero point is a code).
#[test]
fn raw_zero_point_far_from_zero_loses_codes() {
    let xs = [1.0e6, 1.0e6 + 1e-9, 1.0e6 + 2e-9];
    let stats = DataStats::of(&xs).unwrap();
    let raw = QuantSettings {
        bits: 16,
        scheme: Scheme::Asymmetric,
        calibration: Calibration::MinMax,
        zero_point: ZeroPoint::Raw,
    };
    let p = calibrate::calibrate(&xs, &stats, &raw).unwrap();
    assert!(
        p.zero_point.abs() > 2f64.powi(53),
        "zero point {}",
        p.zero_point
    );
    let worst = xs
        .iter()
        .map(|&x| (x - p.fake_quantize(x)).abs() / p.scale)
        .fold(0.0, f64::max);
    assert!(worst > 0.5, "worst error {worst} steps");
    // ...but the honest bound holds.
    for &x in &xs {
        let q = p.quantize_value(x);
        let xh = p.dequantize_value(q);
        assert!((x - xh).abs() <= bound(&p, x, q, xh));
    }
    // Idempotence fails there too, once x / s + z is off by half a code: 20 values
    // 1e6 (1 + k 1e-15) at 8 bits have a zero point of about -1.3e16 (above 2^53).
    let xs: Vec<f64> = (0..20).map(|k| 1.0e6 * (1.0 + 1e-15 * k as f64)).collect();
    let stats8 = DataStats::of(&xs).unwrap();
    let p8 = calibrate::calibrate(&xs, &stats8, &QuantSettings { bits: 8, ..raw }).unwrap();
    assert!(p8.zero_point.abs() > 2f64.powi(53));
    let (codes, deq) = p8.quantize_dequantize(&xs);
    assert_ne!(p8.quantize(&deq), codes);
    let xs = [1.0e6, 1.0e6 + 1e-9, 1.0e6 + 2e-9];
    let iz = QuantSettings {
        zero_point: ZeroPoint::IncludeZero,
        ..raw
    };
    let p = calibrate::calibrate(&xs, &stats, &iz).unwrap();
    for &x in &xs {
        assert!((x - p.fake_quantize(x)).abs() <= p.scale / 2.0 * (1.0 + 1e-9));
    }
}

/// When `max - min` overflows, the clip ranges of the percentile and mse calibrations are not
/// finite: numpy's `_lerp` gives `np.percentile([-1.5e308, 1.5e308], 99.99)` = -inf and
/// `np.percentile(..., 0.01)` = inf (at P = 100 the lower one is NaN, inf * 0), and the mse
/// search's candidates `lo + (max - lo) * t` are NaN. `raw` then reports `RangeOverflow`, but
/// `include-zero` widens the range with `min(lo, 0)` / `max(hi, 0)`, which hides a non-finite
/// end: scale inf (percentile), a NaN `range_min` (P = 100), or scale, zero point and range all
/// NaN (mse).
#[test]
fn overflowing_range_is_a_clean_error() {
    for xs in [vec![-1.5e308, 1.5e308], vec![1.0, 1.5e308, -1.0e308, 3.0]] {
        let stats = DataStats::of(&xs).unwrap();
        for calibration in [
            Calibration::Percentile(99.99),
            Calibration::Percentile(100.0),
            Calibration::Mse,
        ] {
            for zero_point in [ZeroPoint::Raw, ZeroPoint::IncludeZero] {
                let s = QuantSettings {
                    bits: 8,
                    scheme: Scheme::Asymmetric,
                    calibration,
                    zero_point,
                };
                match calibrate::calibrate(&xs, &stats, &s) {
                    Ok(q) => assert!(
                        q.scale.is_finite()
                            && q.zero_point.is_finite()
                            && q.range_min.is_finite()
                            && q.range_max.is_finite(),
                        "{xs:?} {calibration:?} {zero_point:?}: {q:?}"
                    ),
                    Err(e) => assert!(
                        matches!(e, Error::RangeOverflow { .. }),
                        "{xs:?} {calibration:?} {zero_point:?}: {e}"
                    ),
                }
            }
        }
    }
}
