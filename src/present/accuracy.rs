//! The model's accuracy under quantization as JSON: `quantviz model --json` and
//! `quantviz model --sweep --json`.

use crate::model::{weights_label, Evaluation, SweepRow};
use crate::settings::Settings;
use serde::Serialize;

/// One layer's weight error: `name`, `n`, `mse`, `sqnr_db`, `bits_per_weight`.
#[derive(Debug, Serialize)]
pub struct LayerJson {
    pub name: String,
    pub n: usize,
    pub mse: f64,
    pub sqnr_db: f64,
    pub bits_per_weight: f64,
}

/// The test set through the quantized network: the accuracies (fractions of `n_test`), the
/// flipped images (indices into the test set) and each layer's weight error.
#[derive(Debug, Serialize)]
pub struct ModelJson {
    pub weights: String,
    pub n_test: usize,
    pub float_accuracy: f64,
    pub accuracy: f64,
    pub float_correct: usize,
    pub correct: usize,
    pub bits_per_weight: f64,
    pub flipped: Vec<usize>,
    pub layers: Vec<LayerJson>,
}

impl ModelJson {
    /// The evaluation of the network quantized as `s` says.
    pub fn new(s: &Settings, e: &Evaluation) -> ModelJson {
        ModelJson {
            weights: weights_label(s),
            n_test: e.n_test,
            float_accuracy: e.float_accuracy(),
            accuracy: e.accuracy(),
            float_correct: e.float_correct,
            correct: e.correct,
            bits_per_weight: e.bits_per_weight(),
            flipped: e.flipped.clone(),
            layers: e
                .layers
                .iter()
                .map(|l| LayerJson {
                    name: l.name.clone(),
                    n: l.n,
                    mse: l.mse,
                    sqnr_db: l.sqnr_db,
                    bits_per_weight: l.bits_per_weight,
                })
                .collect(),
        }
    }
}

/// One row of the sweep: the family (`int per tensor`, a format's name), the integer width
/// (`null` for a format), and the accuracy there; `error` where the settings cannot quantize
/// the network (the numbers are then `null`).
#[derive(Debug, Serialize)]
pub struct SweepRowJson {
    pub family: String,
    pub bits: Option<u32>,
    pub bits_per_weight: Option<f64>,
    pub accuracy: Option<f64>,
    pub correct: Option<usize>,
    pub flipped: Option<usize>,
    pub error: Option<String>,
}

/// The sweep: the float accuracy, then one row per point.
#[derive(Debug, Serialize)]
pub struct SweepJson {
    pub n_test: usize,
    pub float_accuracy: f64,
    pub float_correct: usize,
    pub rows: Vec<SweepRowJson>,
}

impl SweepJson {
    /// The sweep's rows beside the float network's accuracy.
    pub fn new(n_test: usize, float_correct: usize, rows: &[SweepRow]) -> SweepJson {
        SweepJson {
            n_test,
            float_accuracy: float_correct as f64 / n_test.max(1) as f64,
            float_correct,
            rows: rows
                .iter()
                .map(|r| {
                    let ok = r.outcome.as_ref().ok();
                    SweepRowJson {
                        family: r.point.family.clone(),
                        bits: r.point.bits,
                        bits_per_weight: ok.map(Evaluation::bits_per_weight),
                        accuracy: ok.map(Evaluation::accuracy),
                        correct: ok.map(|e| e.correct),
                        flipped: ok.map(|e| e.flipped.len()),
                        error: r.outcome.as_ref().err().cloned(),
                    }
                })
                .collect(),
        }
    }
}
