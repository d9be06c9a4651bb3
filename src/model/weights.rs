//! Quantizing one weight matrix with the current settings: the one place where the settings
//! meet the network, so that every way of quantizing a tensor (schemes, formats, and the
//! granularities and rotations as they are added to the settings) reaches the model here.

use super::WeightMatrix;
use crate::analysis::formats::int_bits_per_weight;
use crate::analysis::granular::GranularSettings;
use crate::error::{Error, Result};
use crate::quant::granularity::Granularity;
use crate::quant::rotate::Rotation;
use crate::settings::Settings;

/// A weight matrix quantized and dequantized: what the forward pass multiplies by, and how far
/// it is from the float weights.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedMatrix {
    /// The dequantized weights, float32, row-major `[rows, cols]` as the float ones.
    pub dequantized: Vec<f32>,
    /// Mean squared error of the weights, `mean((w - ŵ)²)` in float64.
    pub mse: f64,
    /// Signal-to-quantization-noise ratio of the weights, `10 log10(mean(w²) / mse)`, in dB
    /// (infinite where the quantization is exact).
    pub sqnr_db: f64,
    /// Bits per weight, the scales included.
    pub bits_per_weight: f64,
}

/// Quantizes and dequantizes the weight matrix `w` as `s` says: `s.format` (`None` for the
/// integer scheme `s.quant`) and `s.block`; the data and preset settings play no part.
///
/// - Integer: the scale and zero point calibrated on the whole matrix by
///   [`crate::analysis::Analysis::run`] (per tensor), each weight fake-quantized in float64 as
///   the `quantize` command does, then rounded to float32 for the forward pass.
/// - A format: [`crate::analysis::Analysis::format_run`], the matrix flattened row by row (C
///   order) into the format's blocks, dequantized in float32 as the format's reference does.
///
/// - A granularity other than per tensor (one scale per row, the output channels, or per group
///   of a row) or a rotation: [`crate::analysis::Analysis::granular`] on the matrix as 2-D data
///   (`w.rows` rows of `w.cols` weights), dequantized in float64 as the `quantize` command does,
///   then rounded to float32.
///
/// The error is the one the `quantize` command reports for these values: float64, against the
/// float32 weights.
pub fn quantize_matrix(w: &WeightMatrix, s: &Settings) -> Result<QuantizedMatrix> {
    let a = w.analysis()?;
    if s.granularity != Granularity::Tensor || s.rotate != Rotation::None {
        let g = GranularSettings {
            quant: s.quant,
            format: s.format.map(|f| (f, s.block)),
            granularity: s.granularity,
            rotate: s.rotate,
        };
        let run = a.granular(&g, true)?;
        let deq = run.dequantized.ok_or(Error::EmptyData)?;
        return Ok(QuantizedMatrix {
            dequantized: deq.iter().map(|&x| x as f32).collect(),
            mse: run.metrics.mse,
            sqnr_db: run.metrics.sqnr_db,
            bits_per_weight: run.bits_per_weight,
        });
    }
    match s.format {
        None => {
            let run = a.run(&s.quant)?;
            let p = &run.params;
            Ok(QuantizedMatrix {
                dequantized: w
                    .values
                    .iter()
                    .map(|&x| p.fake_quantize(f64::from(x)) as f32)
                    .collect(),
                mse: run.metrics.mse,
                sqnr_db: run.metrics.sqnr_db,
                bits_per_weight: int_bits_per_weight(p, w.values.len()),
            })
        }
        Some(f) => {
            let run = a.format_run(f, s.block)?;
            Ok(QuantizedMatrix {
                mse: run.metrics.mse,
                sqnr_db: run.metrics.sqnr_db,
                bits_per_weight: run.bits_per_weight,
                dequantized: run.quantized.dequantized,
            })
        }
    }
}
