#![cfg(not(target_arch = "wasm32"))]
//! The digits network: its files and stated accuracy, its accuracy under quantization, the
//! forward pass against a plain implementation, and every bad file.

mod common;

use common::safetensors;
use proptest::collection::vec;
use proptest::prelude::*;
use quantviz::model::{
    forward, predictions, quantize_matrix, read_layers, read_test_set, sweep_points, Dense, Model,
    TestSet, WeightMatrix, SWEEP_BITS, SWEEP_FORMATS,
};
use quantviz::quant::granularity::Granularity;
use quantviz::quant::rotate::Rotation;
use quantviz::settings::{Format, QuantSettings, Scheme, Settings};
use std::process::Command;

/// What `scripts/train_digits.py` prints for the files in `models/`: 348 of the 360 test images
/// right in float32. A change to the weights or to the split changes it.
const FLOAT_CORRECT: usize = 348;

fn int(bits: u32, scheme: Scheme) -> Settings {
    Settings {
        quant: QuantSettings {
            bits,
            scheme,
            ..QuantSettings::default()
        },
        ..Settings::default()
    }
}

fn format(f: Format) -> Settings {
    Settings {
        format: Some(f),
        ..Settings::default()
    }
}

#[test]
fn the_files_load_and_give_the_stated_float_accuracy() {
    let m = Model::embedded().unwrap();
    let shapes: Vec<(String, usize, usize, usize)> = m
        .layers()
        .iter()
        .map(|l| (l.name.clone(), l.weight.rows, l.weight.cols, l.bias.len()))
        .collect();
    assert_eq!(
        shapes,
        [("fc1".into(), 128, 64, 128), ("fc2".into(), 10, 128, 10)]
    );
    let t = m.test_set();
    assert_eq!((t.n, t.width, t.images.len()), (360, 64, 360 * 64));
    // The split is stratified: each digit's share of the 1,797 images, by largest remainder.
    let per_digit: Vec<usize> = (0..10u8)
        .map(|d| t.labels.iter().filter(|&&l| l == d).count())
        .collect();
    assert_eq!(per_digit, [36, 37, 35, 37, 36, 36, 36, 36, 35, 36]);
    assert!(t
        .images
        .iter()
        .all(|&p| (0.0..=16.0).contains(&p) && p.fract() == 0.0));
    assert_eq!(m.float_correct(), FLOAT_CORRECT);
    assert!(m.float_accuracy() >= 0.96, "{}", m.float_accuracy());
}

#[test]
fn int8_is_within_one_image_of_float() {
    let m = Model::embedded().unwrap();
    let per_channel = |scheme| Settings {
        granularity: Granularity::Channel,
        ..int(8, scheme)
    };
    for (scheme, s) in [
        (Scheme::Asymmetric, int(8, Scheme::Asymmetric)),
        (Scheme::Symmetric, int(8, Scheme::Symmetric)),
        (Scheme::Asymmetric, per_channel(Scheme::Asymmetric)),
        (Scheme::Symmetric, per_channel(Scheme::Symmetric)),
    ] {
        let e = m.evaluate(&s).unwrap();
        assert_eq!(e.float_correct, FLOAT_CORRECT);
        assert!(
            e.correct.abs_diff(FLOAT_CORRECT) <= 1,
            "{scheme}: {}",
            e.correct
        );
        assert!(e.flipped.len() <= 1, "{scheme}: {:?}", e.flipped);
        for l in &e.layers {
            assert!(l.sqnr_db > 35.0, "{scheme} {}: {}", l.name, l.sqnr_db);
        }
    }
}

#[test]
fn finer_scales_and_rotation_reach_the_layers() {
    let m = Model::embedded().unwrap();
    let tensor = m.evaluate(&int(3, Scheme::Symmetric)).unwrap();
    let channel = m
        .evaluate(&Settings {
            granularity: Granularity::Channel,
            ..int(3, Scheme::Symmetric)
        })
        .unwrap();
    // One scale per output channel fits each row: less error in every layer, and each layer's
    // bits per weight count its scales (32 bits a row).
    for ((t, c), layer) in tensor.layers.iter().zip(&channel.layers).zip(m.layers()) {
        assert!(c.mse < t.mse, "{}: {} vs {}", t.name, c.mse, t.mse);
        let w = &layer.weight;
        assert_eq!(
            c.bits_per_weight,
            3.0 + 32.0 * w.rows as f64 / (w.rows * w.cols) as f64,
            "{}",
            t.name
        );
    }
    // A rotation changes the weights quantized, so their error.
    let rotated = m
        .evaluate(&Settings {
            rotate: Rotation::Hadamard(Some(32)),
            ..format(Format::Q4_0)
        })
        .unwrap();
    let plain = m.evaluate(&format(Format::Q4_0)).unwrap();
    assert_ne!(rotated.layers[0].mse, plain.layers[0].mse);
    // Granularity is the int format's: with a format it is refused, naming the layer.
    let err = m
        .evaluate(&Settings {
            granularity: Granularity::Channel,
            ..format(Format::Nf4)
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("fc1.weight"), "{err}");
}

#[test]
fn two_bits_per_tensor_hurts_and_the_flips_are_the_changed_predictions() {
    let m = Model::embedded().unwrap();
    let e = m.evaluate(&int(2, Scheme::Asymmetric)).unwrap();
    assert!(e.correct + 50 < FLOAT_CORRECT, "{}", e.correct);
    let changed: Vec<usize> = (0..e.n_test)
        .filter(|&i| e.predictions[i] != m.float_predictions()[i])
        .collect();
    assert_eq!(e.flipped, changed);
    let right = (0..e.n_test)
        .filter(|&i| e.predictions[i] == u32::from(m.test_set().labels[i]))
        .count();
    assert_eq!(e.correct, right);
    // Each layer's error is the one `quantize` reports for the same values.
    for (l, layer) in e.layers.iter().zip(m.layers()) {
        let run = layer
            .weight
            .analysis()
            .unwrap()
            .run(&int(2, Scheme::Asymmetric).quant);
        assert_eq!(l.mse, run.unwrap().metrics.mse);
    }
}

#[test]
fn every_format_of_the_sweep_quantizes_both_layers() {
    let m = Model::embedded().unwrap();
    let rows = m.sweep(&Settings::default());
    assert_eq!(rows.len(), 3 * SWEEP_BITS.count() + SWEEP_FORMATS.len());
    for r in &rows {
        let e = r
            .outcome
            .as_ref()
            .unwrap_or_else(|msg| panic!("{}: {msg}", r.point.family));
        assert_eq!(e.n_test, 360);
        if r.point.bits.is_some_and(|b| b >= 6) || r.point.family == "fp8-e4m3" {
            assert!(e.correct.abs_diff(FLOAT_CORRECT) <= 1, "{:?}", r.point);
        }
        // 4-bit formats keep a digit classifier working.
        if r.point.bits.is_none() {
            assert!(e.accuracy() > 0.9, "{}: {}", r.point.family, e.accuracy());
        }
    }
}

#[test]
fn the_sweep_points_are_each_int_width_then_each_format() {
    let base = Settings {
        quant: QuantSettings {
            scheme: Scheme::Symmetric,
            ..QuantSettings::default()
        },
        ..Settings::default()
    };
    let points = sweep_points(&base);
    let ints: Vec<u32> = points.iter().filter_map(|p| p.bits).collect();
    let widths: Vec<u32> = (2..=8).collect();
    assert_eq!(ints, [widths.clone(), widths.clone(), widths].concat());
    let grains: Vec<Granularity> = points[..ints.len()]
        .iter()
        .map(|p| p.settings.granularity)
        .collect();
    for (k, g) in [
        Granularity::Tensor,
        Granularity::Channel,
        Granularity::Group(32),
    ]
    .into_iter()
    .enumerate()
    {
        assert!(
            grains[7 * k..7 * (k + 1)].iter().all(|&x| x == g),
            "{grains:?}"
        );
    }
    for p in &points[..ints.len()] {
        assert_eq!(p.settings.format, None);
        assert_eq!(p.settings.quant.scheme, Scheme::Symmetric);
        assert_eq!(Some(p.settings.quant.bits), p.bits);
    }
    let formats: Vec<Option<Format>> = points[ints.len()..]
        .iter()
        .map(|p| p.settings.format)
        .collect();
    assert_eq!(formats, SWEEP_FORMATS.map(Some).to_vec());
}

#[test]
fn the_predicted_class_is_the_first_largest_logit() {
    assert_eq!(
        predictions(&[1.0, 3.0, 3.0, 0.0, -1.0, -1.0], 3),
        vec![1, 0]
    );
}

/// The forward pass as written in the textbook: naive loops, float32.
fn reference(layers: &[(usize, usize, Vec<f32>, Vec<f32>)], x: &[f32]) -> Vec<f32> {
    let mut a = x.to_vec();
    for (k, (rows, cols, w, b)) in layers.iter().enumerate() {
        let mut out = vec![0.0f32; *rows];
        for o in 0..*rows {
            let mut s = 0.0f32;
            for i in 0..*cols {
                s += w[o * cols + i] * a[i];
            }
            s += b[o];
            if k + 1 < layers.len() {
                s = s.max(0.0);
            }
            out[o] = s;
        }
        a = out;
    }
    a
}

/// A value that is often exactly zero (the pixels and ReLU outputs the pass skips).
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![Just(0.0f32), Just(-0.0f32), -10.0f32..10.0]
}

/// 1 to 3 layers of 1 to 20 units, their weights and biases, and 1 to 5 inputs.
type Layers = Vec<(usize, usize, Vec<f32>, Vec<f32>)>;
fn network() -> impl Strategy<Value = (Layers, Vec<f32>)> {
    (vec(1usize..20, 2..5), 1usize..5).prop_flat_map(|(widths, n)| {
        let layers: Vec<_> = widths
            .windows(2)
            .map(|w| {
                let (cols, rows) = (w[0], w[1]);
                (vec(value(), rows * cols), vec(value(), rows))
                    .prop_map(move |(wt, b)| (rows, cols, wt, b))
            })
            .collect();
        (layers, vec(value(), n * widths[0]))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_forward_pass_is_the_plain_loops_bit_for_bit((layers, inputs) in network()) {
        let dense: Vec<Dense<'_>> = layers
            .iter()
            .map(|(rows, cols, w, b)| Dense { rows: *rows, cols: *cols, weight: w, bias: b })
            .collect();
        let got = forward(&dense, &inputs).unwrap();
        let cols = layers[0].1;
        let want: Vec<f32> = inputs.chunks(cols).flat_map(|x| reference(&layers, x)).collect();
        prop_assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(g.to_bits(), w.to_bits(), "{} vs {}", g, w);
        }
    }

    /// Mutated and cut files: an error with a message or a model, never a panic.
    #[test]
    fn the_readers_take_any_bytes(
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        random in vec(any::<u8>(), 0..64),
        which in any::<bool>(),
    ) {
        let (mut model, mut test) = (small_model(&[]), small_test(&[]));
        let target = if which { &mut model } else { &mut test };
        for (at, byte) in &flips {
            let i = at.index(target.len());
            target[i] = *byte;
        }
        let keep = cut.index(target.len() + 1);
        let cut_copy = target[..keep].to_vec();
        for (m, t) in [(&model, &test), (&cut_copy, &test), (&model, &cut_copy), (&random, &test), (&model, &random)] {
            if let Err(e) = Model::from_bytes(m, t) {
                prop_assert!(!e.to_string().is_empty());
            }
        }
        let _ = Model::from_bytes(&random, &random);
    }
}

#[test]
fn the_forward_pass_refuses_shapes_that_do_not_fit() {
    let w = [1.0f32; 6];
    let b = [0.0f32; 3];
    let ok = Dense {
        rows: 3,
        cols: 2,
        weight: &w,
        bias: &b,
    };
    assert_eq!(forward(&[ok], &[1.0, 2.0]).unwrap().len(), 3);
    let cases: [(&[Dense<'_>], &[f32], &str); 4] = [
        (&[], &[1.0], "no layers"),
        (
            &[Dense { rows: 2, ..ok }],
            &[1.0, 2.0],
            "6 weights for a shape [2, 2]",
        ),
        (
            &[ok, ok],
            &[1.0, 2.0],
            "layer 2 takes 2 inputs but layer 1 gives 3",
        ),
        (&[ok], &[1.0, 2.0, 3.0], "not whole inputs of 2"),
    ];
    for (layers, inputs, says) in cases {
        let e = forward(layers, inputs).unwrap_err().to_string();
        assert!(e.contains(says), "{e}");
    }
}

fn f32s(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| ((i % 7) as f32 * 0.25 - 0.5).to_le_bytes())
        .collect()
}

type Tensor = (&'static str, &'static str, Vec<usize>, Vec<u8>);

/// A network 4 -> 3 -> 2, with `changes` replacing or adding tensors by name (an empty data
/// removes the tensor).
fn small_model(changes: &[Tensor]) -> Vec<u8> {
    let mut t: Vec<Tensor> = vec![
        ("fc1.weight", "F32", vec![3, 4], f32s(12)),
        ("fc1.bias", "F32", vec![3], f32s(3)),
        ("fc2.weight", "F32", vec![2, 3], f32s(6)),
        ("fc2.bias", "F32", vec![2], f32s(2)),
    ];
    apply(&mut t, changes);
    safetensors(&t)
}

/// Five images of 4 pixels labelled 0 or 1, with `changes` as [`small_model`]'s.
fn small_test(changes: &[Tensor]) -> Vec<u8> {
    let mut t: Vec<Tensor> = vec![
        ("images", "F32", vec![5, 4], f32s(20)),
        ("labels", "U8", vec![5], vec![0, 1, 1, 0, 1]),
    ];
    apply(&mut t, changes);
    safetensors(&t)
}

fn apply(t: &mut Vec<Tensor>, changes: &[Tensor]) {
    for c in changes {
        t.retain(|x| x.0 != c.0);
        if !c.3.is_empty() {
            t.push(c.clone());
        }
    }
}

#[test]
fn a_small_network_loads_and_its_accuracy_is_counted() {
    let m = Model::from_bytes(&small_model(&[]), &small_test(&[])).unwrap();
    assert_eq!(m.layers().len(), 2);
    assert_eq!(m.test_set().n, 5);
    assert_eq!(m.float_predictions().len(), 5);
}

#[test]
fn bad_files_say_what_is_wrong() {
    let nan: Vec<u8> = [1.0f32, f32::NAN, 0.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let model_cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not a file".to_vec(), "not a safetensors file"),
        (
            small_model(&[("fc1.bias", "F32", vec![3], vec![])]),
            "no tensor 'fc1.bias'",
        ),
        (
            small_model(&[("fc1.weight", "F64", vec![3, 4], vec![0; 96])]),
            "'fc1.weight' is F64: expected float32",
        ),
        (
            small_model(&[("fc1.weight", "F32", vec![12], f32s(12))]),
            "'fc1.weight' has shape [12]: expected a 2-D weight [out, in]",
        ),
        (
            small_model(&[("fc1.bias", "F32", vec![4], f32s(4))]),
            "fc1.bias has shape [4]: expected [3]",
        ),
        (
            small_model(&[("fc2.weight", "F32", vec![2, 4], f32s(8))]),
            "its inputs (4) must be fc1's outputs (3)",
        ),
        (
            small_model(&[("fc1.bias", "F32", vec![3], nan)]),
            "not finite (NaN at index 1)",
        ),
        (
            small_model(&[("fc3.bias", "F32", vec![2], f32s(2))]),
            "it has fc3.bias but no fc3.weight",
        ),
        (
            small_model(&[("head.weight", "F32", vec![2], f32s(2))]),
            "unexpected tensor 'head.weight'",
        ),
        (
            small_model(&[("fc1.weight", "F32", vec![], vec![])]),
            "no tensor 'fc1.weight'",
        ),
    ];
    for (bytes, says) in model_cases {
        let e = Model::from_bytes(&bytes, &small_test(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("the network") && e.contains(says), "{says}: {e}");
    }
    let test_cases: Vec<(Vec<u8>, &str)> = vec![
        (
            small_test(&[("labels", "I64", vec![5], vec![0; 40])]),
            "'labels' is I64: expected uint8",
        ),
        (
            small_test(&[("labels", "U8", vec![4], vec![0; 4])]),
            "'labels' has shape [4]: expected [5]",
        ),
        (
            small_test(&[("labels", "U8", vec![], vec![])]),
            "no tensor 'labels'",
        ),
        (
            small_test(&[("images", "F32", vec![20], f32s(20))]),
            "'images' has shape [20]",
        ),
        (
            small_test(&[("extra", "U8", vec![1], vec![0])]),
            "unexpected tensor 'extra'",
        ),
    ];
    for (bytes, says) in test_cases {
        let e = Model::from_bytes(&small_model(&[]), &bytes)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the test set") && e.contains(says),
            "{says}: {e}"
        );
    }
    let together: Vec<(Vec<u8>, &str)> = vec![
        (
            small_test(&[("images", "F32", vec![5, 5], f32s(25))]),
            "fc1 takes 4 inputs but the test images have 5 pixels",
        ),
        (
            small_test(&[("labels", "U8", vec![5], vec![0, 1, 2, 0, 1])]),
            "test image 2 is labelled 2 but the network has 2 outputs",
        ),
    ];
    for (bytes, says) in together {
        let e = Model::from_bytes(&small_model(&[]), &bytes)
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{says}: {e}");
    }
}

#[test]
fn a_test_set_that_does_not_add_up_is_refused() {
    let layers = || read_layers(&small_model(&[]), "m").unwrap();
    let test = TestSet {
        n: 5,
        width: 4,
        images: vec![0.0; 19],
        labels: vec![0; 5],
    };
    let e = Model::new(layers(), test).unwrap_err().to_string();
    assert!(
        e.contains("19 pixel values and 5 labels for 5 images of 4 pixels"),
        "{e}"
    );
    let e = Model::new(Vec::new(), read_test_set(&small_test(&[]), "t").unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no layers"), "{e}");
}

#[test]
fn a_format_that_cannot_take_a_layer_names_it() {
    // 12 weights are not whole blocks of 32.
    let m = Model::from_bytes(&small_model(&[]), &small_test(&[])).unwrap();
    let e = m.evaluate(&format(Format::Q4_0)).unwrap_err().to_string();
    assert!(
        e.starts_with("quantizing fc1.weight: q4_0 quantizes blocks of 32"),
        "{e}"
    );
    let w = WeightMatrix::new(1, 32, vec![0.5; 32]);
    let q = quantize_matrix(&w, &format(Format::Q4_0)).unwrap();
    assert_eq!(q.dequantized, vec![0.5; 32]);
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

#[test]
fn the_command_prints_the_accuracies_flips_and_layers() {
    let (code, out, err) = quantviz(&["model", "--bits", "2", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["n_test"], 360);
    assert_eq!(v["float_accuracy"], FLOAT_CORRECT as f64 / 360.0);
    assert!(v["accuracy"].as_f64().unwrap() < 0.9);
    assert!(!v["flipped"].as_array().unwrap().is_empty());
    let names: Vec<&str> = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert!(l["mse"].as_f64().unwrap() > 0.0 && l["sqnr_db"].as_f64().is_some());
            l["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(names, ["fc1", "fc2"]);

    let (code, out, _) = quantviz(&["model", "--format", "q4_K"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("float accuracy      96.67% (348 of 360)"),
        "{out}"
    );

    let (code, out, err) = quantviz(&["model", "--sweep", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3 * 7 + 7);
    assert!(rows.iter().all(|r| r["error"].is_null()));
    assert_eq!(rows[7]["family"], "int per channel");
    assert_eq!(rows[14]["family"], "int group:32");

    let (code, _, err) = quantviz(&["model", "--sweep", "--bits", "4"]);
    assert_eq!(code, 2);
    assert!(err.contains("drop --format, --block, --bits"), "{err}");
    let (code, _, err) = quantviz(&["model", "--sweep", "--granularity", "channel"]);
    assert_eq!(code, 2);
    assert!(err.contains("--granularity and --rotate"), "{err}");
    let (code, out, err) =
        quantviz(&["model", "--bits", "8", "--granularity", "channel", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["correct"]
            .as_u64()
            .unwrap()
            .abs_diff(FLOAT_CORRECT as u64)
            <= 1,
        "{out}"
    );
    let (code, _, err) = quantviz(&["model", "--format", "q4_0", "--bits", "4"]);
    assert_eq!(code, 2);
    assert!(err.contains("--bits belongs to --format int"), "{err}");
}
