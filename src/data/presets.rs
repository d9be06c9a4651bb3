//! The seed notebook's two experiments: its own 20 values, and 10,000 uniform values with an
//! outlier at 1000.

use crate::data::generate::{round_decimals, sample, Dataset};
use crate::settings::Distribution;

/// The notebook's first example, as it printed them (uniform(-50, 150) with its touches, rounded
/// to 2 decimals). Asymmetric 8-bit min-max gives scale 0.7617254901960785 and zero point 62.
pub const NOTEBOOK_VALUES: [f64; 20] = [
    146.93, -47.31, 0.0, -36.45, 144.12, 116.43, 145.93, 86.63, -15.27, 26.39, 53.16, 24.85,
    -26.28, 97.77, -46.31, 64.6, 123.86, 60.37, 58.95, 10.8,
];

/// Size of the notebook's second experiment.
pub const PERCENTILE_N: usize = 10_000;

/// The notebook's 20 values as a data set.
pub fn minmax_dataset() -> Dataset {
    Dataset {
        values: NOTEBOOK_VALUES.to_vec(),
        outliers: Vec::new(),
        label: "the notebook's 20 values".to_string(),
        shape: None,
    }
}

/// The notebook's second experiment, seeded: 10,000 uniform(-50, 150) values, the last set to
/// `outlier` (1000 in the notebook), all rounded to 2 decimals. The notebook drew them unseeded,
/// so its exact values cannot be had; the procedure is the same.
pub fn percentile_dataset(seed: u64, outlier: f64) -> Dataset {
    let mut values = sample(
        Distribution::Uniform {
            lo: -50.0,
            hi: 150.0,
        },
        PERCENTILE_N,
        seed,
    );
    values[PERCENTILE_N - 1] = outlier;
    round_decimals(&mut values, 2);
    Dataset {
        values,
        outliers: vec![PERCENTILE_N - 1],
        label: format!("10000 uniform(-50, 150) values, seed={seed}, the last set to {outlier}"),
        shape: None,
    }
}
