//! The page's Model section as JSON: the accuracies in words, the images whose answer changed
//! (their pixels as grey levels to draw), and the evaluation as `quantviz model --json` gives it.

use super::accuracy::ModelJson;
use crate::model::{Evaluation, TestSet, PIXEL_SCALE};
use crate::settings::Settings;
use serde::Serialize;

/// How many of the flipped images the section draws at most (the count says how many there are).
pub const MAX_FLIPS_SHOWN: usize = 40;

/// One test image whose prediction changed: its index, its true digit, what the float network
/// and the quantized one answer, and its pixels row by row as grey levels (255 white for a
/// pixel of 0, 0 black for the largest, 16).
#[derive(Debug, Serialize)]
pub struct FlipJson {
    pub index: usize,
    pub label: u8,
    pub float: u32,
    pub predicted: u32,
    pub width: usize,
    pub grey: Vec<u8>,
}

/// The section: `float_text` and `accuracy_text` (`96.67 % (348 / 360)`), the flipped images
/// (at most [`MAX_FLIPS_SHOWN`]) and the evaluation; or, where the settings cannot quantize
/// the network, `error` (and `accuracy_text`, `model` null).
#[derive(Debug, Serialize)]
pub struct ModelSectionJson {
    pub float_text: String,
    pub accuracy_text: Option<String>,
    pub error: Option<String>,
    pub flipped_count: usize,
    pub flips: Vec<FlipJson>,
    pub model: Option<ModelJson>,
}

/// `correct / n` as the section says it: `96.67 % (348 / 360)`.
pub fn accuracy_text(correct: usize, n: usize) -> String {
    let pct = 100.0 * correct as f64 / n.max(1) as f64;
    format!("{pct:.2} % ({correct} / {n})")
}

impl ModelSectionJson {
    /// The section for `outcome`, the evaluation of the network quantized as `s` says (or why
    /// it cannot be), on `test` with the float network getting `float_correct` right.
    pub fn new(
        s: &Settings,
        outcome: &std::result::Result<Evaluation, String>,
        test: &TestSet,
        float_predictions: &[u32],
        float_correct: usize,
    ) -> ModelSectionJson {
        let float_text = accuracy_text(float_correct, test.n);
        let e = match outcome {
            Ok(e) => e,
            Err(message) => {
                return ModelSectionJson {
                    float_text,
                    accuracy_text: None,
                    error: Some(message.clone()),
                    flipped_count: 0,
                    flips: Vec::new(),
                    model: None,
                }
            }
        };
        let flips = e
            .flipped
            .iter()
            .take(MAX_FLIPS_SHOWN)
            .filter_map(|&i| {
                let pixels = test.images.get(i * test.width..(i + 1) * test.width)?;
                Some(FlipJson {
                    index: i,
                    label: *test.labels.get(i)?,
                    float: *float_predictions.get(i)?,
                    predicted: *e.predictions.get(i)?,
                    width: test.width,
                    grey: pixels.iter().map(|&p| grey(p)).collect(),
                })
            })
            .collect();
        ModelSectionJson {
            float_text,
            accuracy_text: Some(accuracy_text(e.correct, e.n_test)),
            error: None,
            flipped_count: e.flipped.len(),
            flips,
            model: Some(ModelJson::new(s, e)),
        }
    }
}

/// A raw pixel (0..16) as a grey level: ink dark on white paper.
fn grey(p: f32) -> u8 {
    let ink = if p.is_finite() {
        (p / PIXEL_SCALE).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (255.0 - 255.0 * ink).round() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_reads_as_percent_and_count() {
        assert_eq!(accuracy_text(348, 360), "96.67 % (348 / 360)");
        assert_eq!(accuracy_text(0, 0), "0.00 % (0 / 0)");
    }

    #[test]
    fn settings_the_network_cannot_take_give_their_message() {
        let test = TestSet {
            n: 2,
            width: 1,
            images: vec![0.0, 16.0],
            labels: vec![0, 1],
        };
        let outcome = Err("fc2.weight: blocks of 48 do not divide 1280 weights".to_string());
        let j = ModelSectionJson::new(&Settings::default(), &outcome, &test, &[0, 1], 2);
        assert_eq!(j.float_text, "100.00 % (2 / 2)");
        assert_eq!(j.accuracy_text, None);
        assert_eq!(
            j.error.as_deref(),
            outcome.as_ref().err().map(String::as_str)
        );
        assert!(j.flips.is_empty() && j.model.is_none());
    }

    #[test]
    fn pixels_become_ink_on_paper() {
        assert_eq!(grey(0.0), 255);
        assert_eq!(grey(16.0), 0);
        assert_eq!(grey(8.0), 128);
        assert_eq!(grey(f32::NAN), 255);
    }
}
