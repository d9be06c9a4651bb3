//! A small real network and its test accuracy under quantization: what the weights' error
//! does to the predictions.
//!
//! The network is a multilayer perceptron trained on the UCI optical digits
//! (`scripts/train_digits.py`): `logits = fc2(relu(fc1(pixels / 16)))`, each `fcN` a fully
//! connected layer `y = W x + b` with `W` of shape `[out, in]` (rows = output channels). It and
//! its 360 test images are read from safetensors bytes ([`Model::from_bytes`]); natively the two
//! files in `models/` are built in ([`Model::embedded`]).
//!
//! [`Model::evaluate`] quantizes and dequantizes every weight matrix with the current settings
//! ([`quantize_matrix`]), keeps the biases and activations in float32, and runs the test set
//! through: the accuracy, the images whose prediction changed, and each layer's weight error.
//! The float predictions are computed once, when the model is made.

use crate::error::{Error, Result};
use crate::quant::granularity::Granularity;
use crate::quant::rotate::Rotation;
use crate::settings::{Format, Settings};
use std::cell::OnceCell;
use std::ops::RangeInclusive;

use crate::analysis::Analysis;
use crate::data::generate::Dataset;

mod read;
mod weights;

pub use read::{read_layers, read_test_set, MAX_LAYERS};
pub use weights::{quantize_matrix, QuantizedMatrix};

/// The network file built into the native binary (`models/digits-mlp.safetensors`).
#[cfg(not(target_arch = "wasm32"))]
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../../models/digits-mlp.safetensors");
/// The test set built into the native binary (`models/digits-test.safetensors`).
#[cfg(not(target_arch = "wasm32"))]
pub const EMBEDDED_TEST_SET: &[u8] = include_bytes!("../../models/digits-test.safetensors");

/// What the test images' pixels are divided by before the first layer (their range is 0..16).
pub const PIXEL_SCALE: f32 = 16.0;

/// A weight matrix, row-major `[rows, cols]`: `rows` output channels of `cols` inputs each.
#[derive(Debug)]
pub struct WeightMatrix {
    /// Output channels.
    pub rows: usize,
    /// Inputs per channel.
    pub cols: usize,
    /// The float32 weights, `rows * cols` of them, row by row.
    pub values: Vec<f32>,
    /// The weights prepared for quantizing (stats and the calibrations' caches), made on first
    /// use and kept, so that a setting seen before costs no new calibration.
    analysis: OnceCell<Analysis>,
}

impl WeightMatrix {
    /// A matrix of `rows * cols` values (the caller has checked the count).
    pub fn new(rows: usize, cols: usize, values: Vec<f32>) -> WeightMatrix {
        WeightMatrix {
            rows,
            cols,
            values,
            analysis: OnceCell::new(),
        }
    }

    /// The weights as an [`Analysis`] (their float64 values), made on first use.
    pub fn analysis(&self) -> Result<&Analysis> {
        if let Some(a) = self.analysis.get() {
            return Ok(a);
        }
        let values: Vec<f64> = self.values.iter().map(|&x| f64::from(x)).collect();
        let mut data = Dataset::from_values(values, "weights")?;
        // Rows are the output channels: what per-channel and per-group scales divide.
        data.shape = Some((self.rows, self.cols));
        let a = Analysis::new(data)?;
        Ok(self.analysis.get_or_init(|| a))
    }
}

/// One fully connected layer: `y = W x + b`.
#[derive(Debug)]
pub struct Layer {
    /// `fc1`, `fc2`, ... as the file names it (without `.weight`).
    pub name: String,
    /// `W`, `[out, in]`.
    pub weight: WeightMatrix,
    /// `b`, one per output.
    pub bias: Vec<f32>,
}

/// The labelled test images.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSet {
    /// How many images.
    pub n: usize,
    /// Pixels per image (64: 8 by 8, row by row).
    pub width: usize,
    /// The raw pixels, 0..16, image by image.
    pub images: Vec<f32>,
    /// Each image's digit.
    pub labels: Vec<u8>,
}

/// A fully connected layer's parameters as [`forward`] takes them.
#[derive(Debug, Clone, Copy)]
pub struct Dense<'a> {
    /// Outputs.
    pub rows: usize,
    /// Inputs.
    pub cols: usize,
    /// `W`, row-major `[rows, cols]`.
    pub weight: &'a [f32],
    /// `b`, `rows` values.
    pub bias: &'a [f32],
}

/// The logits of each input (`inputs`: row-major `[n, layers[0].cols]`) through the layers with
/// ReLU between them (not after the last): row-major `[n, last.rows]`, float32 throughout.
///
/// Each output is `(Σ_i W[o,i]·x[i], summed in order of i from 0.0) + b[o]`, each product
/// and sum rounded to float32 (no fused multiply-add): bit for bit the plain loop
/// `s = 0; for i { s += w[o][i] * x[i] }; s + b[o]`. The loop runs over the outputs for each
/// input (the weights transposed), which vectorizes without changing any sum's order; a zero
/// input is skipped, which changes nothing (`s + W·0 = s` for finite `W`, and `s` starts at
/// `+0.0`, so it is never `-0.0`).
pub fn forward(layers: &[Dense<'_>], inputs: &[f32]) -> Result<Vec<f32>> {
    let shape_err = |message: String| Error::Load {
        source: "the network".into(),
        message,
    };
    let Some(first) = layers.first() else {
        return Err(shape_err("it has no layers: give at least one".into()));
    };
    for (k, l) in layers.iter().enumerate() {
        if l.rows == 0 || l.cols == 0 || l.rows.checked_mul(l.cols) != Some(l.weight.len()) {
            return Err(shape_err(format!(
                "layer {} has {} weights for a shape [{}, {}]: expected rows * cols of them",
                k + 1,
                l.weight.len(),
                l.rows,
                l.cols
            )));
        }
        if l.bias.len() != l.rows {
            return Err(shape_err(format!(
                "layer {} has {} biases: expected one per output, {}",
                k + 1,
                l.bias.len(),
                l.rows
            )));
        }
        if k > 0 && l.cols != layers[k - 1].rows {
            return Err(shape_err(format!(
                "layer {} takes {} inputs but layer {} gives {}",
                k + 1,
                l.cols,
                k,
                layers[k - 1].rows
            )));
        }
    }
    if !inputs.len().is_multiple_of(first.cols) {
        return Err(shape_err(format!(
            "{} input values are not whole inputs of {} values each",
            inputs.len(),
            first.cols
        )));
    }
    let transposed: Vec<Vec<f32>> = layers.iter().map(transpose).collect();
    let last = layers.len() - 1;
    let classes = layers[last].rows;
    let widest = layers.iter().map(|l| l.rows).max().unwrap_or(0);
    let n = inputs.len() / first.cols;
    let mut logits = Vec::with_capacity(n * classes);
    let buffer = widest.max(first.cols);
    let (mut cur, mut next) = (vec![0.0f32; buffer], vec![0.0f32; buffer]);
    for x in inputs.chunks_exact(first.cols) {
        cur[..x.len()].copy_from_slice(x);
        let mut width = x.len();
        for (k, (l, wt)) in layers.iter().zip(&transposed).enumerate() {
            let out = &mut next[..l.rows];
            out.fill(0.0);
            for (&xi, col) in cur[..width].iter().zip(wt.chunks_exact(l.rows)) {
                if xi != 0.0 {
                    for (s, &w) in out.iter_mut().zip(col) {
                        *s += w * xi;
                    }
                }
            }
            for (s, &bias) in out.iter_mut().zip(l.bias) {
                *s += bias;
                if k < last {
                    *s = s.max(0.0);
                }
            }
            std::mem::swap(&mut cur, &mut next);
            width = l.rows;
        }
        logits.extend_from_slice(&cur[..width]);
    }
    Ok(logits)
}

/// `W` transposed: `[cols, rows]`, the weights of one input to every output together.
fn transpose(l: &Dense<'_>) -> Vec<f32> {
    let mut t = vec![0.0f32; l.rows * l.cols];
    for (o, row) in l.weight.chunks_exact(l.cols).enumerate() {
        for (i, &w) in row.iter().enumerate() {
            t[i * l.rows + o] = w;
        }
    }
    t
}

/// The predicted class of each row of `logits` (`classes` per row): the index of the largest,
/// the first of equals (as numpy's `argmax`).
pub fn predictions(logits: &[f32], classes: usize) -> Vec<u32> {
    logits
        .chunks_exact(classes.max(1))
        .map(|row| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = j;
                }
            }
            best as u32
        })
        .collect()
}

/// One layer's weight error under the current settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerError {
    /// `fc1`, `fc2`, ...
    pub name: String,
    /// How many weights.
    pub n: usize,
    /// Mean squared error of its weights.
    pub mse: f64,
    /// SQNR of its weights in dB.
    pub sqnr_db: f64,
    /// Bits per weight, the scales included.
    pub bits_per_weight: f64,
}

/// The test set through the quantized network, beside the float one.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// How many test images.
    pub n_test: usize,
    /// How many the float network gets right.
    pub float_correct: usize,
    /// How many the quantized network gets right.
    pub correct: usize,
    /// The quantized network's prediction for each image.
    pub predictions: Vec<u32>,
    /// The images (indices into the test set) whose prediction differs from the float one's.
    pub flipped: Vec<usize>,
    /// Each layer's weight error, in layer order.
    pub layers: Vec<LayerError>,
}

impl Evaluation {
    /// The quantized network's accuracy, `correct / n_test`.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.n_test.max(1) as f64
    }

    /// The float network's accuracy.
    pub fn float_accuracy(&self) -> f64 {
        self.float_correct as f64 / self.n_test.max(1) as f64
    }

    /// Bits per weight over the whole network: each layer's weighted by its count.
    pub fn bits_per_weight(&self) -> f64 {
        weighted_bits(self.layers.iter().map(|l| (l.bits_per_weight, l.n)))
    }
}

fn weighted_bits(layers: impl Iterator<Item = (f64, usize)>) -> f64 {
    let (bits, n) = layers.fold((0.0, 0usize), |(b, n), (lb, ln)| {
        (b + lb * ln as f64, n + ln)
    });
    bits / n.max(1) as f64
}

/// The bit widths the sweep runs the integer schemes at.
pub const SWEEP_BITS: RangeInclusive<u32> = 2..=8;

/// The formats the sweep runs, each at its own width: the 4-bit ones, and FP8 for reference.
pub const SWEEP_FORMATS: [Format; 7] = [
    Format::Nf4,
    Format::Mxfp4,
    Format::Nvfp4,
    Format::Q4_0,
    Format::Q4_1,
    Format::Q4_K,
    Format::Fp8E4m3,
];

/// One point of the sweep: a family of settings at one width.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// `int per tensor`, or the format's name.
    pub family: String,
    /// The integer width; `None` for a format.
    pub bits: Option<u32>,
    /// The settings the model is evaluated with.
    pub settings: Settings,
}

/// The integer families of the sweep: each a name and the settings it runs, at any width.
/// One scale per tensor for now; one per channel and one per group of 32 join this list as
/// one line each once the settings carry a granularity.
fn int_families(base: &Settings) -> Vec<(&'static str, Settings)> {
    let int = |granularity| Settings {
        format: None,
        block: None,
        granularity,
        rotate: Rotation::None,
        ..*base
    };
    vec![
        ("int per tensor", int(Granularity::Tensor)),
        ("int per channel", int(Granularity::Channel)),
        ("int group:32", int(Granularity::Group(32))),
    ]
}

/// Every point of the sweep, in order: each integer family at [`SWEEP_BITS`] (the scheme,
/// calibration and zero-point policy of `base`), then each of [`SWEEP_FORMATS`].
pub fn sweep_points(base: &Settings) -> Vec<SweepPoint> {
    let mut points = Vec::new();
    for (family, s) in int_families(base) {
        for bits in SWEEP_BITS {
            let mut s = s;
            s.quant.bits = bits;
            points.push(SweepPoint {
                family: family.to_string(),
                bits: Some(bits),
                settings: s,
            });
        }
    }
    for f in SWEEP_FORMATS {
        points.push(SweepPoint {
            family: f.name().to_string(),
            bits: None,
            settings: Settings {
                format: Some(f),
                block: None,
                granularity: Granularity::Tensor,
                rotate: Rotation::None,
                ..*base
            },
        });
    }
    points
}

/// What the weights are quantized as, in words: the format's name (`q4_K`, `nf4 block 128`), or
/// the integer scheme (`int8 asymmetric min-max, zero point raw`).
pub fn weights_label(s: &Settings) -> String {
    let base = match (s.format, s.block) {
        (Some(f), Some(b)) => format!("{f} block {b}"),
        (Some(f), None) => f.to_string(),
        (None, _) => {
            let q = &s.quant;
            let per = match s.granularity {
                Granularity::Tensor => "per tensor".to_string(),
                Granularity::Channel => "per channel".to_string(),
                Granularity::Group(g) => format!("per group of {g}"),
            };
            format!(
                "int{} {} {}, zero point {}, {per}",
                q.bits,
                q.scheme,
                q.calibration.label(),
                q.zero_point
            )
        }
    };
    match s.rotate {
        Rotation::None => base,
        r => format!("{base}, rotated ({r})"),
    }
}

/// One row of the sweep: a point and the accuracy there.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    /// What was run.
    pub point: SweepPoint,
    /// The evaluation, or why these settings cannot quantize the network.
    pub outcome: std::result::Result<Evaluation, String>,
}

/// The network and its test set, with the float predictions made once.
#[derive(Debug)]
pub struct Model {
    layers: Vec<Layer>,
    test: TestSet,
    /// The test images as the first layer takes them, `pixels / 16`.
    inputs: Vec<f32>,
    float_predictions: Vec<u32>,
    float_correct: usize,
}

impl Model {
    /// The model built into the native binary: the network and test set in `models/`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn embedded() -> Result<Model> {
        Model::from_bytes(EMBEDDED_MODEL, EMBEDDED_TEST_SET)
    }

    /// Reads a network file and a test-set file (safetensors bytes; see [`read_layers`] and
    /// [`read_test_set`]) and checks that they fit together.
    pub fn from_bytes(model: &[u8], test_set: &[u8]) -> Result<Model> {
        let layers = read_layers(model, "the network (digits-mlp.safetensors)")?;
        let test = read_test_set(test_set, "the test set (digits-test.safetensors)")?;
        Model::new(layers, test)
    }

    /// A model from its layers and test set: the first layer must take one image's pixels,
    /// every label must be one of the last layer's outputs.
    pub fn new(layers: Vec<Layer>, test: TestSet) -> Result<Model> {
        let mismatch = |message: String| Error::Load {
            source: "the network and test set".into(),
            message,
        };
        let (Some(first), Some(last)) = (layers.first(), layers.last()) else {
            return Err(mismatch(
                "the network has no layers: expected fc1 at least".into(),
            ));
        };
        if first.weight.cols != test.width {
            return Err(mismatch(format!(
                "fc1 takes {} inputs but the test images have {} pixels each: they must agree",
                first.weight.cols, test.width
            )));
        }
        if test.images.len() != test.n.saturating_mul(test.width) || test.labels.len() != test.n {
            return Err(mismatch(format!(
                "the test set has {} pixel values and {} labels for {} images of {} pixels: expected n * pixels values and n labels",
                test.images.len(),
                test.labels.len(),
                test.n,
                test.width
            )));
        }
        let classes = last.weight.rows;
        if classes == 0 {
            return Err(mismatch(format!(
                "{} has no outputs: the last layer gives one per class",
                last.name
            )));
        }
        if let Some(i) = test.labels.iter().position(|&l| usize::from(l) >= classes) {
            return Err(mismatch(format!(
                "test image {i} is labelled {} but the network has {classes} outputs: labels must be 0 to {}",
                test.labels[i],
                classes - 1
            )));
        }
        let inputs: Vec<f32> = test.images.iter().map(|&p| p / PIXEL_SCALE).collect();
        let mut model = Model {
            layers,
            test,
            inputs,
            float_predictions: Vec::new(),
            float_correct: 0,
        };
        let weights: Vec<&[f32]> = model
            .layers
            .iter()
            .map(|l| l.weight.values.as_slice())
            .collect();
        let predicted = model.predict(&weights)?;
        model.float_correct = model.count_correct(&predicted);
        model.float_predictions = predicted;
        Ok(model)
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The test set.
    pub fn test_set(&self) -> &TestSet {
        &self.test
    }

    /// How many classes the network tells apart (the last layer's outputs).
    pub fn classes(&self) -> usize {
        self.layers.last().map_or(0, |l| l.weight.rows)
    }

    /// The float network's prediction for each test image.
    pub fn float_predictions(&self) -> &[u32] {
        &self.float_predictions
    }

    /// How many test images the float network gets right.
    pub fn float_correct(&self) -> usize {
        self.float_correct
    }

    /// The float network's test accuracy.
    pub fn float_accuracy(&self) -> f64 {
        self.float_correct as f64 / self.test.n.max(1) as f64
    }

    /// The predictions of the network with these weight matrices (one per layer, each the
    /// layer's shape) and the model's own biases.
    pub fn predict(&self, weights: &[&[f32]]) -> Result<Vec<u32>> {
        let dense: Vec<Dense<'_>> = self
            .layers
            .iter()
            .zip(weights)
            .map(|(l, &w)| Dense {
                rows: l.weight.rows,
                cols: l.weight.cols,
                weight: w,
                bias: &l.bias,
            })
            .collect();
        if dense.len() != self.layers.len() {
            return Err(Error::Load {
                source: "the weights".into(),
                message: format!(
                    "{} weight matrices for {} layers: give one per layer",
                    weights.len(),
                    self.layers.len()
                ),
            });
        }
        let logits = forward(&dense, &self.inputs)?;
        Ok(predictions(&logits, self.classes()))
    }

    fn count_correct(&self, predicted: &[u32]) -> usize {
        predicted
            .iter()
            .zip(&self.test.labels)
            .filter(|(&p, &l)| p == u32::from(l))
            .count()
    }

    /// The test set through the network with every weight matrix quantized and dequantized as
    /// `s` says ([`quantize_matrix`]); biases and activations stay float32.
    pub fn evaluate(&self, s: &Settings) -> Result<Evaluation> {
        let mut quantized = Vec::with_capacity(self.layers.len());
        let mut layers = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let q = quantize_matrix(&l.weight, s).map_err(|e| in_layer(&l.name, e))?;
            layers.push(LayerError {
                name: l.name.clone(),
                n: l.weight.values.len(),
                mse: q.mse,
                sqnr_db: q.sqnr_db,
                bits_per_weight: q.bits_per_weight,
            });
            quantized.push(q.dequantized);
        }
        let weights: Vec<&[f32]> = quantized.iter().map(Vec::as_slice).collect();
        let predicted = self.predict(&weights)?;
        let flipped = predicted
            .iter()
            .zip(&self.float_predictions)
            .enumerate()
            .filter(|(_, (q, f))| q != f)
            .map(|(i, _)| i)
            .collect();
        Ok(Evaluation {
            n_test: self.test.n,
            float_correct: self.float_correct,
            correct: self.count_correct(&predicted),
            predictions: predicted,
            flipped,
            layers,
        })
    }

    /// The accuracy at every point of [`sweep_points`] (`base` gives the integer scheme,
    /// calibration and zero-point policy). A point whose settings cannot quantize a layer
    /// says why in its row; the others are run as alone.
    pub fn sweep(&self, base: &Settings) -> Vec<SweepRow> {
        sweep_points(base)
            .into_iter()
            .map(|point| SweepRow {
                outcome: self.evaluate(&point.settings).map_err(|e| e.to_string()),
                point,
            })
            .collect()
    }
}

/// An error quantizing a layer's weights, with the layer named.
fn in_layer(name: &str, e: Error) -> Error {
    Error::Layer {
        layer: format!("{name}.weight"),
        error: Box::new(e),
    }
}
