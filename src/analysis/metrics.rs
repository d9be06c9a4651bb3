//! Error metrics of one quantization: MSE, SQNR, max error, clipped count.

use crate::error::{Error, Result};
use crate::quant::params::{ErrorStats, MeanSquare, QuantParams};

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
    /// Metrics from one pass's error stats and the data's signal power `mean(x²)`, by the
    /// plain formulas (what [`Metrics::measure`] gives wherever neither overflows nor
    /// underflows).
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

    /// The metrics of quantizing `xs` with `p`, whose error pass gave `e`, against the signal
    /// power `power` of `xs`, for data of any magnitude.
    ///
    /// Where the power and the MSE are normal numbers, these are [`Metrics::new`]'s, bit for
    /// bit (the MSE numpy's). Otherwise the SQNR comes from their scaled forms
    /// ([`MeanSquare::ratio_db`]), so that it is finite wherever the error is not zero: data
    /// above 1.3e154, whose squares overflow, and data below 1e-162, whose squares underflow.
    /// The MSE stays numpy's where that is finite; where numpy's sum overflows, it is the
    /// scaled mean brought back, and `Err(MseOverflow)` where the mean itself is beyond f64.
    pub fn measure(
        xs: &[f64],
        p: &QuantParams,
        e: &ErrorStats,
        power: &MeanSquare,
    ) -> Result<Metrics> {
        let m = Metrics::measure_unchecked(xs, p, e, power);
        if m.mse.is_finite() {
            Ok(m)
        } else {
            Err(Error::MseOverflow {
                absmax: xs.iter().fold(0.0f64, |m, x| m.max(x.abs())),
                max_abs_error: e.max_abs,
            })
        }
    }

    /// [`Metrics::measure`], but an MSE beyond f64 is +inf instead of an error (the sweep's
    /// curves leave such a point out); the SQNR is finite even then.
    pub fn measure_unchecked(
        xs: &[f64],
        p: &QuantParams,
        e: &ErrorStats,
        power: &MeanSquare,
    ) -> Metrics {
        let mse = p.error_mean_square(xs, e);
        Metrics {
            n: e.n,
            mse: mse.value(),
            sqnr_db: power.ratio_db(&mse),
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
