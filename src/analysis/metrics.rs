//! Error metrics of one quantization: MSE, SQNR, max error, clipped count.

use crate::quant::params::ErrorStats;

/// How far the dequantized values are from the originals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Number of values measured.
    pub n: usize,
    /// Mean squared error `mean((x - x̂)²)`, numpy's `np.mean` bit for bit.
    pub mse: f64,
    /// Signal-to-quantization-noise ratio `10 log10(mean(x²) / mse)` in dB; +inf when exact.
    pub sqnr_db: f64,
    /// `max |x - x̂|`.
    pub max_abs_error: f64,
    /// How many values lay outside the representable range and were clipped.
    pub clipped: usize,
}

/// SQNR in dB: `10 log10(signal_power / mse)`; +inf when the reconstruction is exact.
pub fn sqnr_db(signal_power: f64, mse: f64) -> f64 {
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (signal_power / mse).log10()
    }
}

impl Metrics {
    /// Metrics from one pass's error stats and the data's signal power `mean(x²)`.
    pub fn new(e: &ErrorStats, signal_power: f64) -> Metrics {
        let mse = e.mse();
        Metrics {
            n: e.n,
            mse,
            sqnr_db: sqnr_db(signal_power, mse),
            max_abs_error: e.max_abs,
            clipped: e.clipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqnr_of_exact_is_infinite_and_of_noise_is_finite() {
        assert_eq!(sqnr_db(1.0, 0.0), f64::INFINITY);
        assert!((sqnr_db(1.0, 0.01) - 20.0).abs() < 1e-12);
    }
}
