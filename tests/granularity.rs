#![cfg(not(target_arch = "wasm32"))]
//! Per-channel and per-group scales, 2-D data and the Hadamard rotation: per-unit results are
//! the per-tensor results on each unit alone, the rotation is checked against the plain matrix
//! product, and every bad input is an error that says what would be right.

use proptest::prelude::*;
use quantviz::analysis::granular::GranularSettings;
use quantviz::analysis::Analysis;
use quantviz::data::generate::{generate, generate_matrix, Dataset};
use quantviz::quant::granularity::{quantize_units, Granularity, Units};
use quantviz::quant::rotate::{hadamard_matrix, Rotation};
use quantviz::settings::{
    Calibration, DataSpec, Distribution, Format, Matrix, QuantSettings, Scheme, ZeroPoint,
};
use std::process::Command;

/// Values with the shapes that stress a calibration: a normal bulk, outliers, a constant row
/// stretch, repeated values.
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut xs = quantviz::data::generate::sample(
        Distribution::Laplace {
            loc: 0.5,
            scale: 2.0,
        },
        n,
        seed,
    );
    let mut s = seed | 1;
    for (i, x) in xs.iter_mut().enumerate() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        match s % 37 {
            0 => *x *= 40.0,
            1 => *x = 1.25,
            2 => *x = (*x * 4.0).round() / 4.0,
            _ if seed.is_multiple_of(5) && i < n / 3 => *x = -3.5,
            _ => {}
        }
    }
    xs
}

fn calibration(k: u8, p: f64) -> Calibration {
    match k % 3 {
        0 => Calibration::MinMax,
        1 => Calibration::Percentile(p),
        _ => Calibration::Mse,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Every unit's parameters, codes and error are those of today's per-tensor run
    /// ([`Analysis::run`]) on that unit's values alone, for every granularity, scheme,
    /// calibration and zero-point policy; the whole's counts are the units' together.
    #[test]
    fn per_unit_is_per_tensor_on_each_unit(
        rows in 1usize..6,
        cols in 2usize..260,
        g in 0u8..3,
        gsize in 2usize..300,
        bits in 2u32..9,
        sym in any::<bool>(),
        include_zero in any::<bool>(),
        cal in 0u8..3,
        p in 90.0f64..100.0,
        seed in 0u64..1000,
    ) {
        let n = rows * cols;
        let xs = values(n, seed);
        let granularity = match g {
            0 => Granularity::Tensor,
            1 => Granularity::Channel,
            _ => Granularity::Group(gsize.min(cols)),
        };
        let q = QuantSettings {
            bits,
            scheme: if sym { Scheme::Symmetric } else { Scheme::Asymmetric },
            calibration: calibration(cal, p),
            zero_point: if include_zero { ZeroPoint::IncludeZero } else { ZeroPoint::Raw },
        };
        let units = Units::new(n, Some((rows, cols)), granularity).unwrap();
        let mut codes = vec![0i32; n];
        let run = quantize_units(&xs, &units, &q, &mut codes).unwrap();
        prop_assert_eq!(run.params.len(), units.count());
        let mut clipped = 0;
        for i in 0..units.count() {
            let r = units.range(i);
            let alone = Analysis::new(Dataset::from_values(xs[r.clone()].to_vec(), "unit").unwrap())
                .unwrap();
            let want = alone.run(&q).unwrap();
            prop_assert_eq!(format!("{:?}", run.params[i]), format!("{:?}", want.params), "unit {}", i);
            let e = &run.errors[i];
            prop_assert_eq!(e.mse().to_bits(), want.metrics.mse.to_bits(), "unit {}", i);
            prop_assert_eq!(e.max_abs.to_bits(), want.metrics.max_abs_error.to_bits());
            prop_assert_eq!(e.clipped, want.metrics.clipped);
            prop_assert_eq!(&codes[r.clone()], &want.params.quantize(&xs[r])[..]);
            clipped += e.clipped;
        }
        prop_assert_eq!(run.total.clipped, clipped);
        prop_assert_eq!(run.total.n, n);
        // Tensor granularity is today's run, whole.
        if granularity == Granularity::Tensor {
            let a = Analysis::new(Dataset::from_values(xs.clone(), "all").unwrap()).unwrap();
            prop_assert_eq!(run.total.mse().to_bits(), a.run(&q).unwrap().metrics.mse.to_bits());
        }
    }
}

/// The same units on many threads (large data) as on one: the results do not depend on how
/// the units were split.
#[test]
fn threads_change_no_bit() {
    let (rows, cols) = (640, 512);
    let xs = values(rows * cols, 7);
    let q = QuantSettings {
        bits: 4,
        ..QuantSettings::default()
    };
    let units = Units::new(xs.len(), Some((rows, cols)), Granularity::Group(100)).unwrap();
    let mut codes = vec![0; xs.len()];
    let run = quantize_units(&xs, &units, &q, &mut codes).unwrap();
    let mut sums = Vec::new();
    for i in 0..units.count() {
        let r = units.range(i);
        let p = run.params[i];
        assert_eq!(
            p.quantize(&xs[r.clone()]),
            codes[r.clone()].to_vec(),
            "unit {i}"
        );
        sums.push(p.error_stats(&xs[r]).sum_sq);
    }
    let want = quantviz::quant::pairwise::pairwise_sum(&sums);
    assert_eq!(run.total.sum_sq.to_bits(), want.to_bits());
}

/// `y = H x` by the plain `O(k^2)` product with the matrix, per block of `k` in each row.
fn rotate_plain(xs: &[f64], k: usize) -> Vec<f64> {
    let h = hadamard_matrix(k);
    let mut out = vec![0.0; xs.len()];
    for (block, o) in xs.chunks_exact(k).zip(out.chunks_exact_mut(k)) {
        for i in 0..k {
            o[i] = (0..k).map(|j| h[i * k + j] * block[j]).sum();
        }
    }
    out
}

/// The rotated run against the plain matrix: the rotated values, the dequantized values
/// brought back, and the error in both bases, for int at every granularity and for formats.
#[test]
fn rotated_runs_match_the_plain_matrix_product() {
    for (rows, cols, rotate, k) in [
        (8, 256, Rotation::Hadamard(None), 256),
        (4, 96, Rotation::Hadamard(None), 32),
        (16, 64, Rotation::Hadamard(Some(8)), 8),
        (2, 1024, Rotation::Hadamard(Some(2)), 2),
    ] {
        let spec = DataSpec {
            n: rows * cols,
            ..DataSpec::default()
        };
        let m = Matrix {
            shape: Some((rows, cols)),
            row_spread: 0.5,
            outlier_channels: Some((2, 30.0)),
        };
        let a = Analysis::new(generate_matrix(&spec, &m).unwrap()).unwrap();
        let xs = a.values().to_vec();
        let ys = rotate_plain(&xs, k);
        for (format, granularity) in [
            (None, Granularity::Tensor),
            (None, Granularity::Channel),
            (None, Granularity::Group(32)),
            (Some((Format::Nf4, None)), Granularity::Tensor),
            (Some((Format::Fp8E4m3, None)), Granularity::Tensor),
        ] {
            let s = GranularSettings {
                quant: QuantSettings {
                    bits: 4,
                    scheme: Scheme::Symmetric,
                    ..QuantSettings::default()
                },
                format,
                granularity,
                rotate,
            };
            let run = a.granular(&s, true).unwrap();
            assert_eq!(run.rotate_block, Some(k));
            let rotated = run.rotated.as_ref().unwrap();
            let big = xs.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            for (f, p) in rotated.iter().zip(&ys) {
                assert!((f - p).abs() <= 1e-12 * big, "{f} vs {p}");
            }
            // Quantize the fast rotation's values with the same run's grid, bring them back
            // with the matrix: the same values and the same errors.
            let deq_rot: Vec<f64> = match &run.units {
                Some(u) => {
                    let codes = run.codes.as_ref().unwrap();
                    (0..xs.len())
                        .map(|i| u.params[u.units.unit_of(i)].dequantize_value(codes[i]))
                        .collect()
                }
                None => {
                    let (f, b) = format.unwrap();
                    let b = f.block(b).unwrap();
                    let q = quantviz::quant::formats::quantize(
                        f,
                        b,
                        &quantviz::quant::formats::to_f32(rotated),
                    )
                    .unwrap();
                    q.dequantized.iter().map(|&d| f64::from(d)).collect()
                }
            };
            let back = rotate_plain(&deq_rot, k);
            let deq = run.dequantized.as_ref().unwrap();
            for (f, p) in deq.iter().zip(&back) {
                assert!((f - p).abs() <= 1e-12 * big, "{f} vs {p}");
            }
            let mse = |a: &[f64], b: &[f64]| {
                a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>() / a.len() as f64
            };
            let (orig, rot) = (mse(&xs, &back), mse(&ys, &deq_rot));
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-300);
            assert!(
                close(run.metrics.mse, orig),
                "{} vs {orig}",
                run.metrics.mse
            );
            let rm = run.rotated_metrics.unwrap();
            assert!(close(rm.mse, rot), "{} vs {rot}", rm.mse);
            // An orthogonal rotation keeps the squared error.
            assert!(close(orig, rot), "{orig} vs {rot}");
            // A run that keeps nothing (it dequantizes the rotated values in place) measures
            // the same, in both bases.
            let lean = a.granular(&s, false).unwrap();
            assert_eq!(lean.metrics, run.metrics);
            assert_eq!(lean.rotated_metrics, run.rotated_metrics);
            assert!(lean.dequantized.is_none() && lean.codes.is_none());
        }
    }
}

/// Rotation spreads an outlier column: group scales in the rotated basis are closer together,
/// and the error of int4 per-tensor drops.
#[test]
fn rotation_helps_outlier_channels() {
    let spec = DataSpec {
        n: 64 * 256,
        ..DataSpec::default()
    };
    let m = Matrix {
        shape: Some((64, 256)),
        row_spread: 0.0,
        outlier_channels: Some((2, 50.0)),
    };
    let a = Analysis::new(generate_matrix(&spec, &m).unwrap()).unwrap();
    let q = QuantSettings {
        bits: 4,
        ..QuantSettings::default()
    };
    let run = |rotate| {
        a.granular(
            &GranularSettings {
                quant: q,
                format: None,
                granularity: Granularity::Tensor,
                rotate,
            },
            false,
        )
        .unwrap()
        .metrics
        .mse
    };
    let (plain, rotated) = (run(Rotation::None), run(Rotation::Hadamard(None)));
    assert!(rotated < plain / 2.0, "{rotated} vs {plain}");
}

/// The 2-D patterns: outlier columns are exactly the plain values times F, the spread scales
/// whole rows, the injected outliers keep their value, and a shape without patterns is the
/// 1-D data laid out.
#[test]
fn two_d_generation_is_the_plain_data_patterned() {
    let spec = DataSpec {
        n: 48,
        outliers: 2,
        outlier_value: 99.0,
        ..DataSpec::default()
    };
    let flat = generate(&DataSpec {
        outliers: 0,
        ..spec
    })
    .unwrap();
    let shape = Some((6, 8));
    let plain = generate_matrix(
        &spec,
        &Matrix {
            shape,
            ..Matrix::default()
        },
    )
    .unwrap();
    assert_eq!(plain.shape, Some((6, 8)));
    let with = generate_matrix(
        &spec,
        &Matrix {
            shape,
            row_spread: 0.0,
            outlier_channels: Some((3, 10.0)),
        },
    )
    .unwrap();
    let mut scaled_cols = std::collections::BTreeSet::new();
    for i in 0..48 {
        if plain.outliers.contains(&i) {
            assert_eq!((plain.values[i], with.values[i]), (99.0, 99.0));
            continue;
        }
        assert_eq!(plain.values[i], flat.values[i]);
        if with.values[i] != plain.values[i] {
            assert_eq!(with.values[i], plain.values[i] * 10.0);
            scaled_cols.insert(i % 8);
        }
    }
    assert_eq!(scaled_cols.len(), 3);
    let spread = generate_matrix(
        &DataSpec {
            outliers: 0,
            ..spec
        },
        &Matrix {
            shape,
            row_spread: 1.0,
            outlier_channels: None,
        },
    )
    .unwrap();
    for r in 0..6 {
        let f = spread.values[r * 8] / flat.values[r * 8];
        for c in 0..8 {
            let g = spread.values[r * 8 + c] / flat.values[r * 8 + c];
            assert!((g - f).abs() <= 1e-12 * f, "row {r}");
        }
    }
}

fn quantviz(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_quantviz"))
        .args(args)
        .output()
        .expect("the quantviz binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fails(args: &[&str], says: &str) {
    let (code, out, err) = quantviz(args);
    assert_ne!(code, 0, "{args:?} succeeded: {out}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(err.contains(says), "{args:?}: expected '{says}' in {err}");
}

/// Every bad input the issue lists, as a user meets it: one `error:` line that says what
/// would be right, and no panic.
#[test]
fn bad_input_says_what_would_be_right() {
    let g = ["quantize", "--generate", "normal:0,1"];
    fn with<'a>(g: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [g, extra].concat()
    }
    fails(
        &with(&g, &["--n", "100", "--granularity", "channel"]),
        "2-D data",
    );
    fails(
        &with(&g, &["--shape", "4,64", "--granularity", "group:1"]),
        "group:G",
    );
    fails(
        &with(&g, &["--shape", "4,64", "--granularity", "group:65"]),
        "row length (64",
    );
    fails(&with(&g, &["--shape", "4,64", "--n", "100"]), "--n is 100");
    fails(
        &with(&g, &["--shape", "4,8", "--outliers", "40:9"]),
        "at most as many outliers as values (32)",
    );
    fails(&with(&g, &["--shape", "5000,5000"]), "more than");
    fails(
        &with(&g, &["--shape", "4,64", "--row-spread", "-1"]),
        "from 0",
    );
    fails(
        &with(&g, &["--shape", "4,64", "--row-spread", "nan"]),
        "from 0",
    );
    fails(
        &with(&g, &["--shape", "4,64", "--row-spread", "inf"]),
        "from 0",
    );
    fails(&with(&g, &["--n", "64", "--row-spread", "1"]), "2-D data");
    fails(
        &with(&g, &["--shape", "4,64", "--outlier-channels", "65:10"]),
        "at most as many outlier columns as columns (64)",
    );
    fails(
        &with(&g, &["--shape", "4,96", "--rotate", "hadamard:64"]),
        "2 to 32",
    );
    fails(
        &with(&g, &["--shape", "4,63", "--rotate", "hadamard"]),
        "odd",
    );
    fails(
        &with(&g, &["--shape", "4,64", "--rotate", "hadamard:6"]),
        "power of two",
    );
    fails(
        &with(
            &g,
            &[
                "--shape",
                "4,64",
                "--format",
                "nf4",
                "--granularity",
                "channel",
            ],
        ),
        "int format",
    );
    fails(
        &[
            "compare",
            "--generate",
            "normal:0,1",
            "--granularity",
            "group:32",
        ],
        "go with 'quantize', 'bench' and 'model'",
    );
    // A file's values with a shape that does not hold them.
    let dir = std::env::temp_dir().join(format!("quantviz-gran-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("v.txt");
    std::fs::write(&f, "1 2 3 4 5 6").unwrap();
    let path = f.to_str().unwrap();
    fails(
        &["quantize", "--input", path, "--shape", "4,2"],
        "equal to the data's 6 values",
    );
    let (code, out, _) = quantviz(&[
        "quantize",
        "--input",
        path,
        "--shape",
        "2,3",
        "--granularity",
        "channel",
        "--json",
        "--codes",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("\"granularity\":\"channel\"") || out.contains("\"granularity\": \"channel\""),
        "{out}"
    );
    assert!(out.contains("\"scales\""), "{out}");
    assert!(out.contains("\"zero_points\""), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A 2-D `.npy` keeps its shape and an N-D one flattens every axis but the last into rows.
#[test]
fn npy_files_keep_their_rows() {
    let npy = |shape: &str, n: usize| {
        let mut h = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((h.len() as u16).to_le_bytes());
        b.extend(h.bytes());
        for i in 0..n {
            b.extend((i as f64).to_le_bytes());
        }
        b
    };
    let l = quantviz::data::load::read_bytes(&npy("(3, 4)", 12), "a.npy").unwrap();
    assert_eq!((l.shape.clone(), l.rows_cols()), (vec![3, 4], Some((3, 4))));
    let l = quantviz::data::load::read_bytes(&npy("(2, 3, 4)", 24), "b.npy").unwrap();
    assert_eq!(l.rows_cols(), Some((6, 4)));
    let l = quantviz::data::load::read_bytes(&npy("(5,)", 5), "c.npy").unwrap();
    assert_eq!((l.shape.clone(), l.rows_cols()), (vec![5], None));
    let l = quantviz::data::load::read_bytes(b"1 2 3", "d.txt").unwrap();
    assert_eq!((l.shape.clone(), l.rows_cols()), (vec![3], None));
}

/// The bench's granular path runs and reports; the int per-unit MSE is the analysis'.
#[test]
fn bench_runs_with_a_granularity() {
    let q = QuantSettings {
        bits: 4,
        ..QuantSettings::default()
    };
    let r = quantviz::bench::run_granular(
        (64, 256),
        1,
        None,
        &q,
        Granularity::Group(128),
        Rotation::None,
    )
    .unwrap();
    assert_eq!(r.units, 128);
    assert!(r.mse > 0.0 && r.mse.is_finite());
    assert!(r.to_json().contains("\"units\": 128"));
    let r = quantviz::bench::run_granular(
        (64, 256),
        1,
        None,
        &q,
        Granularity::Group(128),
        Rotation::Hadamard(None),
    )
    .unwrap();
    assert!(r.mse > 0.0 && r.mse.is_finite());
}

/// `--granularity tensor` given: the per-unit output, one unit, with today's MSE to the bit.
#[test]
fn tensor_granularity_is_todays_run() {
    let base = [
        "quantize",
        "--generate",
        "laplace:0,1",
        "--n",
        "5000",
        "--bits",
        "3",
        "--json",
    ];
    let field = |json: &str, key: &str| {
        let at = json.find(&format!("\"{key}\":")).unwrap() + key.len() + 3;
        json[at..]
            .split([',', '}'])
            .next()
            .unwrap()
            .trim()
            .to_string()
    };
    let (_, plain, _) = quantviz(&base);
    let (code, unit, err) = quantviz(&[&base[..], &["--granularity", "tensor"]].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(field(&unit, "granularity"), "\"tensor\"");
    assert_eq!(field(&unit, "count"), "1");
    assert_eq!(field(&unit, "mse"), field(&plain, "mse"));
    assert_eq!(
        field(&unit, "bits_per_weight"),
        (3.0 + 35.0 / 5000.0).to_string()
    );
}
