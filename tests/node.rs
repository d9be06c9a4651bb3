//! Runs natively (`cargo test`) and in wasm under node (`wasm-pack test --node -- --test node`):
//! the same seed gives the same numbers on both, and the exported `Session` keeps its state on
//! bad input.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use quantviz::data::generate::sample;
use quantviz::settings::Distribution;

/// FNV-1a over the bit patterns: one number that changes if any value changes in any bit.
fn fingerprint(v: &[f64]) -> u64 {
    v.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        (h ^ x.to_bits()).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn same_seed_same_bits_on_every_target() {
    // Fingerprints recorded natively on x86-64; the wasm run must reproduce them bit for bit.
    let cases = [
        (
            Distribution::Uniform {
                lo: -50.0,
                hi: 150.0,
            },
            0x46e6_f743_c45d_a707u64,
        ),
        (
            Distribution::Normal {
                mean: 0.0,
                std: 1.0,
            },
            0x0dfb_e00c_6329_0317,
        ),
        (
            Distribution::Laplace {
                loc: 0.0,
                scale: 1.0,
            },
            0xf73f_6f5a_a1e8_27cd,
        ),
        (Distribution::StudentT { dof: 3.0 }, 0xbe39_147c_223b_0a50),
        (Distribution::StudentT { dof: 0.7 }, 0xa695_1309_7f55_63dc),
    ];
    for (dist, want) in cases {
        let v = sample(dist, 10_000, 42);
        assert_eq!(fingerprint(&v), want, "{dist}");
    }
    assert_eq!(
        sample(
            Distribution::Uniform {
                lo: -50.0,
                hi: 150.0
            },
            2,
            42
        ),
        vec![112.86102902458197, 13.764208012332226]
    );
}

#[test]
fn notebook_numbers_on_every_target() {
    use quantviz::analysis::Analysis;
    use quantviz::settings::{QuantSettings, Scheme};
    let a = Analysis::new(quantviz::data::presets::minmax_dataset()).unwrap();
    let p = a.params(&QuantSettings::default()).unwrap();
    assert_eq!(p.scale, 0.7617254901960785);
    assert_eq!(p.zero_point, 62.0);
    let s = a
        .params(&QuantSettings {
            scheme: Scheme::Symmetric,
            ..QuantSettings::default()
        })
        .unwrap();
    assert_eq!(s.scale, 1.1569291338582677);
    assert_eq!(
        p.quantize(a.values()),
        vec![
            255, 0, 62, 14, 251, 215, 254, 176, 42, 97, 132, 95, 27, 190, 1, 147, 225, 141, 139, 76
        ]
    );
}

#[cfg(target_arch = "wasm32")]
mod session {
    use quantviz::web::Session;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn update_returns_the_summary_and_keeps_state_on_bad_input() {
        let mut s = Session::new();
        let summary = s.update("?preset=notebook-minmax").ok().unwrap();
        assert!(
            summary.contains("\"scale\":0.7617254901960785"),
            "{summary}"
        );
        let v: serde_json::Value = serde_json::from_str(&summary).unwrap();
        assert_eq!(v["result"]["zero_point"].as_f64(), Some(62.0), "{summary}");
        let q = s.query();
        for bad in [
            "bits=1",
            "n=0",
            "n=-5",
            "n=20000000",
            "seed=abc",
            "calibration=percentile:20",
        ] {
            assert!(s.update(bad).is_err(), "{bad} should be rejected");
            assert_eq!(s.query(), q, "state kept after {bad}");
        }
        let csv = s.csv().ok().unwrap();
        assert!(
            csv.starts_with("index,original,code,dequantized,error\n0,146.93,255,"),
            "{csv}"
        );
        let again = s
            .update("?preset=notebook-minmax&scheme=symmetric")
            .ok()
            .unwrap();
        assert!(again.contains("\"scale\":1.1569291338582677"), "{again}");
    }

    #[test]
    fn load_reads_text_and_rejects_bad_files() {
        let mut s = Session::new();
        let summary = s.load(b"1 2 3 4 100", "w.txt", "bits=4").ok().unwrap();
        assert!(summary.contains("\"source\":\"file\""), "{summary}");
        assert!(s.load(b"1 nan 3", "bad.txt", "bits=4").is_err());
        // The earlier file is still the data.
        let again = s.update("bits=5").ok().unwrap();
        assert!(again.contains("\"n\":5"), "{again}");
        s.use_generated();
        let gen = s.update("n=1000").ok().unwrap();
        assert!(gen.contains("\"source\":\"generated\""), "{gen}");
    }

    /// A .npy file: its header's keys are found (`load::parse_npy`) in the wasm too.
    #[test]
    fn load_reads_npy() {
        let npy = |descr: &str, body: &[u8]| {
            let h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (2, 2), }}\n");
            let mut v = b"\x93NUMPY\x01\x00".to_vec();
            v.extend_from_slice(&(h.len() as u16).to_le_bytes());
            v.extend_from_slice(h.as_bytes());
            v.extend_from_slice(body);
            v
        };
        let body: Vec<u8> = [1.5f32, -2.0, 3.25, 4.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let mut s = Session::new();
        let summary = s.load(&npy("<f4", &body), "w.npy", "bits=4").ok().unwrap();
        assert!(summary.contains("\"n\":4"), "{summary}");
        let v: serde_json::Value = serde_json::from_str(&summary).unwrap();
        assert_eq!(v["data"]["min"].as_f64(), Some(-2.0), "{summary}");
        assert_eq!(v["data"]["max"].as_f64(), Some(4.0), "{summary}");
        assert!(s.load(&npy("<i4", &body), "i.npy", "bits=4").is_err());
    }
}

/// The page's fused kernels (`quantviz::quant::kernels::fused`, simd128 on wasm32) against the one-by-one
/// functions, bit for bit, on every target: all six compared runs (with outliers, so also the
/// inliers' error) and the view's counts, at several bit widths, on data with exact ties.
#[test]
fn fused_page_kernels_equal_the_one_by_one_functions() {
    use quantviz::analysis::{compare_settings, Analysis};
    use quantviz::data::generate::{generate, Dataset};
    use quantviz::settings::{Calibration, DataSpec, QuantSettings, ZeroPoint};
    let mut sets = vec![
        generate(&DataSpec {
            n: 20_011,
            outliers: 3,
            ..DataSpec::default()
        })
        .unwrap(),
        generate(&DataSpec {
            n: 1_003,
            ..DataSpec::default()
        })
        .unwrap(),
    ];
    // Values exactly halfway between codes (symmetric over [-1500, 1500] at low widths puts
    // some on ties); 12,000 of them, so that the view also counts over the sorted values.
    let ties: Vec<f64> = (0..12_000).map(|i| (i as f64 - 6000.0) * 0.25).collect();
    sets.push(Dataset::from_values(ties, "ties").unwrap());
    sets.push(Dataset::from_values(vec![2.5; 77], "constant").unwrap());
    let mut sets: Vec<(Dataset, f64)> = sets.into_iter().map(|d| (d, 99.9)).collect();
    // Zeros and one tiny value: at the 99.99th percentile a subnormal scale that clips the
    // tiny value, where 1 / scale is infinite and 0 · inf NaN (the pass must not multiply).
    let mut zeros = vec![0.0; 9_999];
    zeros.push(1e-310);
    sets.push((Dataset::from_values(zeros, "zeros").unwrap(), 99.99));
    for (data, percentile) in sets {
        let a = Analysis::new(data).unwrap();
        for bits in [2, 3, 4, 7, 8, 12, 16] {
            for zero_point in [ZeroPoint::Raw, ZeroPoint::IncludeZero] {
                let q = QuantSettings {
                    bits,
                    zero_point,
                    calibration: Calibration::Percentile(percentile),
                    ..QuantSettings::default()
                };
                let fused = a.compare(&q).unwrap();
                for (s, r) in compare_settings(&q).iter().zip(&fused) {
                    let one = a.run(s).unwrap();
                    assert_eq!(one, *r, "{bits} bits {s:?}");
                    assert_eq!(one.metrics.mse.to_bits(), r.metrics.mse.to_bits());
                    let p = one.params;
                    let view = a.view_of(one);
                    let (mut codes, mut dq) =
                        (vec![0u64; view.code_counts.len()], view.dequantized.clone());
                    let mut vals = view.values.clone();
                    let mut errs = view.errors.clone().expect("view_of bins the errors");
                    dq.counts.iter_mut().for_each(|c| *c = 0);
                    vals.counts.iter_mut().for_each(|c| *c = 0);
                    errs.counts.iter_mut().for_each(|c| *c = 0);
                    for &x in a.values() {
                        let c = p.quantize_value(x);
                        let d = p.dequantize_value(c);
                        codes[(c - p.qmin) as usize] += 1;
                        vals.add(x);
                        dq.add(d);
                        errs.add(x - d);
                    }
                    assert_eq!(view.code_counts, codes);
                    assert_eq!(view.values, vals);
                    assert_eq!(view.dequantized, dq);
                    assert_eq!(view.errors, Some(errs));
                }
            }
        }
    }
}

/// The sweep (every width's six quantizations together, one fused pass each on wasm32) equals
/// each run measured on its own with `error_stats`, bit for bit, below and above the size at
/// which it strides the values down to a sample. Below it the wasm pass leaves out what the
/// sorted values tell, and at the widths with few codes only sums, by `1 / scale` (2 and 3 bits
/// at 5,003 values, 2 to 7 at 100,000); natively the pass finds everything itself.
#[test]
fn sweep_equals_each_run_measured_alone() {
    use quantviz::analysis::metrics::Metrics;
    use quantviz::analysis::{compare_settings, Analysis, SWEEP_SAMPLE};
    use quantviz::data::generate::generate;
    use quantviz::settings::{DataSpec, QuantSettings};
    for n in [5_003, 100_000, SWEEP_SAMPLE + 1_001] {
        let a = Analysis::new(
            generate(&DataSpec {
                n,
                outliers: 2,
                ..DataSpec::default()
            })
            .unwrap(),
        )
        .unwrap();
        let q = QuantSettings::default();
        let sweep = a.sweep(&q).unwrap();
        let values = a.values();
        let sample: Vec<f64> = if n > SWEEP_SAMPLE {
            let m = SWEEP_SAMPLE as u64;
            (0..m)
                .map(|i| values[((i * n as u64) / m) as usize])
                .collect()
        } else {
            values.to_vec()
        };
        let power = if n > SWEEP_SAMPLE {
            sample.iter().map(|x| x * x).sum::<f64>() / sample.len() as f64
        } else {
            a.stats.mean_sq
        };
        for (base, series) in compare_settings(&q).iter().zip(&sweep.series) {
            assert_eq!(
                (base.scheme, base.calibration),
                (series.scheme, series.calibration)
            );
            for (i, &bits) in sweep.bits.iter().enumerate() {
                let p = a.run(&QuantSettings { bits, ..*base }).unwrap().params;
                let m = Metrics::new(&p.error_stats(&sample), power);
                assert_eq!(
                    series.mse[i].to_bits(),
                    m.mse.to_bits(),
                    "n {n}, {bits} bits {base:?}"
                );
                if n <= SWEEP_SAMPLE {
                    assert_eq!(series.sqnr_db[i].to_bits(), m.sqnr_db.to_bits());
                }
            }
        }
    }
}

/// NaN through the page's fused kernel (simd128 on wasm32): not clipped, not the max, and a
/// NaN sum, as `QuantParams::error_stats` has it.
#[test]
fn fused_page_kernel_treats_nan_as_the_plain_path() {
    use quantviz::quant::params::QuantParams;
    use quantviz::settings::ZeroPoint;
    let mut xs: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
    xs[17] = f64::NAN;
    xs[600] = f64::NAN;
    let params = [
        QuantParams::asymmetric(-1.0, 2.0, 4, ZeroPoint::Raw).unwrap(),
        QuantParams::symmetric(2.5, 8, false).unwrap(),
    ];
    let many = quantviz::quant::kernels::fused::error_stats_many(&xs, &params);
    let fused = quantviz::quant::kernels::fused::error_stats_fused(&xs, &params);
    for (p, f) in params.iter().chain(&params).zip(many.iter().chain(&fused)) {
        let plain = p.error_stats(&xs);
        assert!(f.sum_sq.is_nan() && plain.sum_sq.is_nan());
        assert_eq!(f.max_abs.to_bits(), plain.max_abs.to_bits(), "{p:?}");
        assert_eq!((f.clipped, f.n), (plain.clipped, plain.n), "{p:?}");
    }
}

/// The page's passes (simd128 on wasm32) in every form (finding everything; the sum and the
/// max, dividing and multiplying; the sum alone, with and without the clamp and the zero
/// point), and the clipped count and `max |e|` over the
/// sorted values, against `QuantParams::error_stats`, bit for bit: values on
/// the rounding ties and a few ulps either side, signed zeros, odd lengths, tiny and huge scales.
#[test]
fn page_passes_on_ties_equal_error_stats() {
    use quantviz::quant::kernels::fused::{error_stats_fused, error_stats_many_known, Known};
    use quantviz::quant::params::QuantParams;
    use quantviz::quant::sorted::{
        by_reciprocal, clipped_sorted, clips, known_sorted, max_abs_sorted,
    };
    use quantviz::settings::{code_range, Scheme};
    let mut params = Vec::new();
    for (scale, zero_point) in [
        (0.5, 0.0),
        (0.25, 0.5),
        (0.1, 7.0),
        (0.013, 3.3),
        (1e-300, 12.0),
        (1e300, 0.0),
        (f64::MIN_POSITIVE, 0.0),
        (3.0, -1e6),
        // A zero point of -0.0 (`ZeroPoint::Raw` where round(beta / scale) is 0).
        (0.5, -0.0),
        (1e300, -0.0),
    ] {
        for (scheme, bits) in [
            (Scheme::Asymmetric, 4),
            (Scheme::Symmetric, 3),
            (Scheme::Symmetric, 12),
        ] {
            let (qmin, qmax) = code_range(scheme, bits);
            params.push(QuantParams {
                scheme,
                bits,
                scale,
                zero_point,
                qmin,
                qmax,
                range_min: -1.0,
                range_max: 1.0,
            });
        }
    }
    // How often the sum-only pass multiplied (`by_reciprocal`), and how often it divided.
    let (mut multiplied, mut divided) = (0, 0);
    for p in &params {
        // Signed zeros, and subnormals whose x / scale underflows to a signed zero at large scales.
        let mut xs = vec![0.0, -0.0, -5e-324, 5e-324, -1e-310, 1e-310];
        for k in -2100..2100 {
            let t = (k as f64 + 0.5 - p.zero_point) * p.scale;
            for d in [-2i64, -1, 0, 1, 2] {
                let y = f64::from_bits((t.to_bits() as i64 + d) as u64);
                if y.is_finite() {
                    xs.push(y);
                }
            }
            xs.push(-0.0);
        }
        for n in [xs.len(), 4097, 129, 9, 7] {
            let xs = &xs[..n.min(xs.len())];
            let mut sorted = xs.to_vec();
            sorted.sort_unstable_by(f64::total_cmp);
            let one = p.error_stats(xs);
            let fused = error_stats_fused(xs, &[*p])[0];
            let counted = clipped_sorted(&sorted, p);
            let known = known_sorted(&sorted, p);
            let given = error_stats_many_known(xs, &[*p], Some(&[known]))[0];
            // The leaf without the count, clamp (where nothing is clipped), max and zero point.
            let max = max_abs_sorted(&sorted, p);
            let with_max = Known {
                clipped: counted,
                max_abs: Some(max),
                by_reciprocal: by_reciprocal(&sorted, p),
            };
            if with_max.by_reciprocal {
                multiplied += 1;
            } else {
                divided += 1;
            }
            let sum_only = error_stats_many_known(xs, &[*p], Some(&[with_max]))[0];
            // The leaf that finds the max too, multiplying where the codes agree (the inliers').
            let max_too = Known {
                max_abs: None,
                ..with_max
            };
            let max_too = error_stats_many_known(xs, &[*p], Some(&[max_too]))[0];
            assert_eq!(max.to_bits(), one.max_abs.to_bits(), "n={n} {p:?}");
            assert_eq!(known.clipped, one.clipped);
            for r in [fused, given, sum_only, max_too] {
                assert_eq!(r.sum_sq.to_bits(), one.sum_sq.to_bits(), "n={n} {p:?}");
                assert_eq!(r.max_abs.to_bits(), one.max_abs.to_bits(), "n={n} {p:?}");
                assert_eq!(r.n, one.n);
            }
            assert_eq!(
                (fused.clipped, counted),
                (one.clipped, one.clipped),
                "{p:?}"
            );
            assert_eq!(given, one);
            assert_eq!(sum_only, one);
            // The values it does not clip: the sum-only leaf without the clamp.
            let inside: Vec<f64> = xs.iter().copied().filter(|&x| !clips(p, x)).collect();
            let mut sorted = inside.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            let one = p.error_stats(&inside);
            let known = Known {
                clipped: 0,
                max_abs: Some(max_abs_sorted(&sorted, p)),
                by_reciprocal: by_reciprocal(&sorted, p),
            };
            assert_eq!(one.clipped, 0);
            assert_eq!(
                error_stats_many_known(&inside, &[*p], Some(&[known]))[0],
                one,
                "n={} {p:?}",
                inside.len()
            );
        }
    }
    // Both forms ran: scales whose reciprocal is exact (0.5, 0.25) multiply even on the ties.
    assert!(
        multiplied > 20 && divided > 10,
        "{multiplied} multiplied, {divided} divided"
    );
}

/// The per-unit passes of a finer granularity (simd128 leaves on wasm32) against the plain
/// definition, value by value: each unit's min and max (as values: which zero a unit of +0.0
/// and -0.0 reports is the lanes' choice), its codes, and its squared errors summed in numpy's
/// pairwise order, with `max |e|` and the clipped count. The data has zeros of both signs and
/// outliers that clip, on units of sizes around the leaves' groups of 8, and rows; and groups
/// of 16 whose min-max scale is exactly 1/8 with values exactly halfway between two codes.
#[test]
fn per_unit_passes_equal_the_plain_definition() {
    use quantviz::quant::granularity::{quantize_units, Granularity, Units};
    use quantviz::quant::pairwise::pairwise_sum;
    use quantviz::settings::{Calibration, QuantSettings, Scheme, ZeroPoint};
    let (rows, cols) = (7, 203);
    let normal = sample(
        Distribution::Normal {
            mean: 0.0,
            std: 1.0,
        },
        rows * cols,
        5,
    );
    let xs: Vec<f64> = normal
        .iter()
        .enumerate()
        .map(|(i, &x)| match i % 23 {
            0 => 0.0,
            1 => -0.0,
            2 => (x * 8.0).round() / 8.0 + 1.0 / 16.0,
            3 => x * 40.0,
            _ => x,
        })
        .collect();
    let mut checked = 0;
    for g in [
        Granularity::Group(5),
        Granularity::Group(8),
        Granularity::Group(19),
        Granularity::Group(64),
        Granularity::Channel,
    ] {
        for (bits, scheme, calibration) in [
            (4, Scheme::Asymmetric, Calibration::MinMax),
            (3, Scheme::Symmetric, Calibration::MinMax),
            (8, Scheme::Asymmetric, Calibration::Percentile(90.0)),
        ] {
            let q = QuantSettings {
                bits,
                scheme,
                calibration,
                zero_point: ZeroPoint::Raw,
            };
            let units = Units::new(xs.len(), Some((rows, cols)), g).unwrap();
            let mut codes = vec![0i32; xs.len()];
            let run = quantize_units(&xs, &units, &q, &mut codes).unwrap();
            for u in 0..units.count() {
                let r = units.range(u);
                let x = &xs[r.clone()];
                let p = run.params[u];
                if calibration == Calibration::MinMax && scheme == Scheme::Asymmetric {
                    let min = x.iter().fold(f64::INFINITY, |m, &v| m.min(v));
                    let max = x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
                    assert_eq!((p.range_min, p.range_max), (min, max), "{g:?} unit {u}");
                }
                let want: Vec<i32> = x.iter().map(|&v| p.quantize_value(v)).collect();
                assert_eq!(&codes[r.clone()], &want[..], "{g:?} {q:?} unit {u}");
                let e: Vec<f64> = x.iter().map(|&v| v - p.fake_quantize(v)).collect();
                let sq: Vec<f64> = e.iter().map(|e| e * e).collect();
                let clipped = x
                    .iter()
                    .filter(|&&v| {
                        let r = p.unclamped(v);
                        r < p.qmin as f64 || r > p.qmax as f64
                    })
                    .count();
                let got = &run.errors[u];
                assert_eq!(
                    got.sum_sq.to_bits(),
                    pairwise_sum(&sq).to_bits(),
                    "{g:?} {q:?} unit {u}"
                );
                assert_eq!(got.max_abs, e.iter().fold(0.0, |m: f64, e| m.max(e.abs())));
                assert_eq!(got.clipped, clipped, "{g:?} {q:?} unit {u}");
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "{checked}");

    // Ties: each group of 16 holds 0 and 15/8 (4 bits asymmetric: scale 1/8, zero point 0)
    // and values k/8 + 1/16, halfway between codes k and k + 1 (rounded to the even one).
    let ties: Vec<f64> = (0..4 * 64)
        .map(|i| match i % 16 {
            0 => 0.0,
            1 => 15.0 / 8.0,
            j => ((j + i / 16) % 15) as f64 / 8.0 + 1.0 / 16.0,
        })
        .collect();
    let q = QuantSettings {
        bits: 4,
        scheme: Scheme::Asymmetric,
        calibration: Calibration::MinMax,
        zero_point: ZeroPoint::Raw,
    };
    let units = Units::new(ties.len(), Some((4, 64)), Granularity::Group(16)).unwrap();
    let mut codes = vec![0i32; ties.len()];
    let run = quantize_units(&ties, &units, &q, &mut codes).unwrap();
    let mut halfway = 0;
    for u in 0..units.count() {
        let r = units.range(u);
        let p = run.params[u];
        assert_eq!((p.scale, p.zero_point), (0.125, 0.0), "unit {u}");
        for (i, &v) in ties[r.clone()].iter().enumerate() {
            let t = v / p.scale + p.zero_point;
            halfway += usize::from(t.fract() == 0.5);
            assert_eq!(
                codes[r.start + i],
                p.quantize_value(v),
                "unit {u} value {v}"
            );
        }
        let sq: Vec<f64> = ties[r.clone()]
            .iter()
            .map(|&v| (v - p.fake_quantize(v)).powi(2))
            .collect();
        assert_eq!(run.errors[u].sum_sq.to_bits(), pairwise_sum(&sq).to_bits());
    }
    assert!(halfway > 200, "{halfway} values on a halfway point");
}

/// Every format's codes, dequantized values and stored scales, bit for bit the same on every
/// target: on wasm32 some block loops are written in simd128 (`abs_max`, Q4_1's min and max),
/// natively they are portable or AVX2. The data has what those loops decide on: a minimum that
/// is a zero of either sign beside other values, all-zero blocks, ties of magnitude with
/// opposite signs, tiny and large magnitudes, and a count that is not a multiple of 8.
#[test]
fn every_format_gives_the_same_bits_on_every_target() {
    use quantviz::quant::formats::{quantize, Format};
    let normal = sample(
        Distribution::Normal {
            mean: 0.0,
            std: 1.0,
        },
        8192,
        7,
    );
    let mut xs: Vec<f32> = normal.iter().map(|&x| x as f32).collect();
    for (b, block) in xs.chunks_mut(32).enumerate() {
        match b % 8 {
            0 => block[0] = -0.0,
            1 => block.fill(0.0),
            2 => {
                block.fill(-0.0);
                block[5] = 0.0;
            }
            3 => {
                block[3] = 2.5;
                block[9] = -2.5;
            }
            4 => block.iter_mut().for_each(|x| *x *= 1e-30),
            5 => block.iter_mut().for_each(|x| *x *= 1e3),
            6 => block[31] = -block.iter().fold(0f32, |m, x| m.max(x.abs())),
            // Non-negative with both zeros (+0 first): the minimum is a zero beside non-zero
            // values, and its sign is the first zero's.
            _ => {
                block.iter_mut().for_each(|x| *x = x.abs());
                block[4] = 0.0;
                block[9] = -0.0;
            }
        }
    }
    // Fingerprints recorded natively on x86-64.
    let want: [(Format, u64); 13] = [
        (Format::Nf4, 0x6c61_7763_f4a4_682d),
        (Format::Fp8E4m3, 0x54e5_f87a_086f_f5a5),
        (Format::Fp8E5m2, 0x946b_c6ca_d68b_aa1d),
        (Format::Mxfp4, 0x9ced_efe9_bf08_c65f),
        (Format::Nvfp4, 0xcc76_7d73_f371_fbdf),
        (Format::Q4_0, 0x06a4_d236_9386_debf),
        (Format::Q4_1, 0x0aad_9f8d_d95a_01df),
        (Format::Q8_0, 0xcc7e_ad98_0cad_27f5),
        (Format::Q2_K, 0x87ae_8e0d_d623_ddf7),
        (Format::Q3_K, 0x8f8e_4896_b282_4d77),
        (Format::Q4_K, 0x23a3_ca2b_6c34_e4df),
        (Format::Q5_K, 0xc65b_8cef_ec34_e4df),
        (Format::Q6_K, 0xc235_54b5_5bff_026f),
    ];
    let mut got = Vec::new();
    for (format, _) in want {
        let q = quantize(format, format.block(None).unwrap(), &xs).unwrap();
        let mut v: Vec<f64> = q.codes.iter().map(|&c| f64::from(c)).collect();
        v.extend(q.dequantized.iter().map(|&d| f64::from(d)));
        v.extend(format!("{:?}", q.scales).bytes().map(f64::from));
        v.push(q.saturated as f64);
        got.push((format, fingerprint(&v)));
    }
    assert_eq!(got, want);
    // A count that is not a multiple of 8: FP8's one scale comes from every value, the last
    // five through `abs_max`'s remainder loop (the largest magnitude is put there).
    let mut odd = xs[..8189].to_vec();
    odd[8187] = -40.0;
    let q = quantize(Format::Fp8E4m3, 0, &odd).unwrap();
    let mut v: Vec<f64> = q.codes.iter().map(|&c| f64::from(c)).collect();
    v.extend(q.dequantized.iter().map(|&d| f64::from(d)));
    v.extend(format!("{:?}", q.scales).bytes().map(f64::from));
    assert_eq!(fingerprint(&v), 0xdd5d_af68_fb6e_817f);
}
