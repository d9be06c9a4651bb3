//! What the KL card shows: the `kl` calibration of the data at a bit width (its histogram of
//! `|x|`, every candidate's divergence and the pick) beside the thresholds the symmetric
//! scheme's other calibrations choose at the same width, so that "how much does KL clip" is one
//! look.

use crate::analysis::Analysis;
use crate::error::Result;
use crate::quant::calibrate::KlCalibration;
use crate::settings::{Calibration, QuantSettings, Scheme};
use std::sync::Arc;

/// The KL calibration at one width and the other calibrations' thresholds (symmetric scheme,
/// each a clip value `amax`: the grid covers `[-amax, amax]`).
#[derive(Debug, Clone, PartialEq)]
pub struct KlView {
    /// The bit width.
    pub bits: u32,
    /// The KL calibration (histogram, divergences, chosen bin, threshold).
    pub kl: Arc<KlCalibration>,
    /// `max |x|`: min-max's threshold, the histogram's right edge.
    pub absmax: f64,
    /// The percentile compared with.
    pub percentile: f64,
    /// The symmetric percentile calibration's threshold.
    pub percentile_threshold: f64,
    /// The symmetric least-error (`mse`) calibration's threshold.
    pub mse_threshold: f64,
}

impl Analysis {
    /// The KL calibration at `bits` with the symmetric `percentile` and `mse` thresholds at the
    /// same width (each cached by the analysis: the KL search per width, the least-error search
    /// per width).
    pub fn kl_view(&self, bits: u32, percentile: f64) -> Result<KlView> {
        let kl = self.kl(bits)?;
        let q = |calibration| QuantSettings {
            bits,
            scheme: Scheme::Symmetric,
            calibration,
            ..QuantSettings::default()
        };
        let (_, percentile_threshold) = self.clip_range(&q(Calibration::Percentile(percentile)))?;
        let (_, mse_threshold) = self.clip_range(&q(Calibration::Mse))?;
        Ok(KlView {
            bits,
            kl,
            absmax: self.stats.absmax,
            percentile,
            percentile_threshold,
            mse_threshold,
        })
    }
}

impl KlView {
    /// The candidate thresholds (edge `i` for `i` from 128 to 2048) with their divergences, in
    /// the order the search visits them.
    pub fn candidates(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let start = crate::quant::calibrate::KL_START_BIN;
        let edges = &self.kl.histogram.edges;
        self.kl
            .divergences
            .iter()
            .enumerate()
            .filter_map(move |(k, &d)| edges.get(start + k).map(|&e| (e, d)))
    }

    /// The least finite divergence (the chosen candidate's, unless a NaN was chosen).
    pub fn least_divergence(&self) -> Option<f64> {
        let at = self
            .kl
            .best
            .checked_sub(crate::quant::calibrate::KL_START_BIN)?;
        self.kl
            .divergences
            .get(at)
            .copied()
            .filter(|d| d.is_finite())
    }
}
