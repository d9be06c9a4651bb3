//! The numbers the page's KL and rotation cards show beside their charts, as JSON.

use crate::analysis::kl_view::KlView;
use crate::analysis::rotation_view::RotationView;
use crate::present::json::MetricsJson;
use serde::Serialize;

/// The KL card's numbers: the KL threshold and its bin, and the other symmetric calibrations'
/// thresholds at the same width. Non-finite numbers are `null`.
#[derive(Debug, Serialize)]
pub struct KlJson {
    pub bits: u32,
    /// The KL threshold (`amax`), the symmetric clip range's right end.
    pub threshold: f64,
    /// The chosen candidate bin, and how many bins the histogram has.
    pub best_bin: usize,
    pub bins: usize,
    /// The chosen candidate's divergence (`null` where it is not finite).
    pub divergence: Option<f64>,
    /// `max |x|`, min-max's threshold.
    pub absmax: f64,
    pub percentile: f64,
    pub percentile_threshold: f64,
    pub mse_threshold: f64,
}

impl From<&KlView> for KlJson {
    fn from(v: &KlView) -> Self {
        KlJson {
            bits: v.bits,
            threshold: v.kl.threshold,
            best_bin: v.kl.best,
            bins: v.kl.histogram.counts.len(),
            divergence: v.least_divergence(),
            absmax: v.absmax,
            percentile: v.percentile,
            percentile_threshold: v.percentile_threshold,
            mse_threshold: v.mse_threshold,
        }
    }
}

/// The rotation card's numbers: which block is shown, its peak before and after the rotation,
/// and the error in the original and the rotated basis.
#[derive(Debug, Serialize)]
pub struct RotationJson {
    /// The rotation's block length.
    pub k: usize,
    pub block: usize,
    pub blocks: usize,
    pub row: usize,
    pub column: usize,
    /// `max |x|` of the block before and after the rotation.
    pub peak_before: f64,
    pub peak_after: f64,
    /// The error against the original values.
    pub original: MetricsJson,
    /// The error against the rotated values (what the quantizer saw).
    pub rotated: MetricsJson,
}

impl From<&RotationView> for RotationJson {
    fn from(v: &RotationView) -> Self {
        let (peak_before, peak_after) = v.peaks();
        RotationJson {
            k: v.k,
            block: v.block,
            blocks: v.blocks,
            row: v.row,
            column: v.column,
            peak_before,
            peak_after,
            original: MetricsJson::from(&v.original),
            rotated: MetricsJson::from(&v.rotated),
        }
    }
}
