#![cfg(not(target_arch = "wasm32"))]
//! The seed notebook's first example, number for number: every expected value below is copied
//! from the numpy notebook's printed output (its cells 22 to 24), not computed.

use quantviz::data::presets::NOTEBOOK_VALUES;
use quantviz::quant::calibrate::{self, DataStats};
use quantviz::quant::params::QuantParams;
use quantviz::settings::{Calibration, QuantSettings, Scheme, ZeroPoint};

/// `print(params)` in cell 14 (and "Original" in cells 22 and 23).
const PRINTED_VALUES: [f64; 20] = [
    146.93, -47.31, 0., -36.45, 144.12, 116.43, 145.93, 86.63, -15.27, 26.39, 53.16, 24.85, -26.28,
    97.77, -46.31, 64.6, 123.86, 60.37, 58.95, 10.8,
];

/// "Asymmetric Scale : 0.7617254901960785, Zero : 62.0" and the codes printed under it.
const ASYM_SCALE: f64 = 0.7617254901960785;
const ASYM_ZERO: f64 = 62.0;
const ASYM_CODES: [i32; 20] = [
    255, 0, 62, 14, 251, 215, 254, 176, 42, 97, 132, 95, 27, 190, 1, 147, 225, 141, 139, 76,
];

/// "Symmetric Scale : 1.1569291338582677" and the codes printed under it.
const SYM_SCALE: f64 = 1.1569291338582677;
const SYM_CODES: [i32; 20] = [
    127, -41, 0, -32, 125, 101, 126, 75, -13, 23, 46, 21, -23, 85, -40, 56, 107, 52, 51, 9,
];

/// "Dequantize Asymmetric :" (np.round(..., 2)).
const ASYM_DEQ: [f64; 20] = [
    147.01, -47.23, 0., -36.56, 143.97, 116.54, 146.25, 86.84, -15.23, 26.66, 53.32, 25.14, -26.66,
    97.5, -46.47, 64.75, 124.16, 60.18, 58.65, 10.66,
];

/// "Dequantize Symmetric :" (np.round(..., 2)).
const SYM_DEQ: [f64; 20] = [
    146.93, -47.43, 0., -37.02, 144.62, 116.85, 145.77, 86.77, -15.04, 26.61, 53.22, 24.3, -26.61,
    98.34, -46.28, 64.79, 123.79, 60.16, 59., 10.41,
];

/// " Asymmetric Error : 0.04" and "  Symmetric Error : 0.09" (np.round(..., 2)).
const ASYM_ERROR: f64 = 0.04;
const SYM_ERROR: f64 = 0.09;

/// numpy's `np.round(x, 2)`: `rint(x * 100) / 100`.
fn round2(x: f64) -> f64 {
    (x * 100.0).round_ties_even() / 100.0
}

fn minmax(scheme: Scheme) -> QuantParams {
    let xs = &NOTEBOOK_VALUES[..];
    let stats = DataStats::of(xs).unwrap();
    let settings = QuantSettings {
        bits: 8,
        scheme,
        calibration: Calibration::MinMax,
        zero_point: ZeroPoint::Raw,
    };
    calibrate::calibrate(xs, &stats, &settings).unwrap()
}

fn rounded(xs: &[f64]) -> Vec<f64> {
    xs.iter().map(|&x| round2(x)).collect()
}

#[test]
fn the_values_are_the_printed_ones() {
    assert_eq!(NOTEBOOK_VALUES, PRINTED_VALUES);
    // np.round(params, 2) of already rounded values prints them unchanged.
    assert_eq!(rounded(&NOTEBOOK_VALUES), PRINTED_VALUES.to_vec());
}

#[test]
fn asymmetric_8_bit() {
    let p = minmax(Scheme::Asymmetric);
    assert_eq!(p.scale, ASYM_SCALE);
    assert_eq!(p.zero_point, ASYM_ZERO);
    assert_eq!((p.qmin, p.qmax), (0, 255));
    let codes = p.quantize(&NOTEBOOK_VALUES);
    assert_eq!(codes, ASYM_CODES.to_vec());
    let deq = p.dequantize(&codes);
    assert_eq!(rounded(&deq), ASYM_DEQ.to_vec());
    let mse = p.error_stats(&NOTEBOOK_VALUES).mse();
    assert_eq!(round2(mse), ASYM_ERROR, "mse {mse}");
}

#[test]
fn symmetric_8_bit() {
    let p = minmax(Scheme::Symmetric);
    assert_eq!(p.scale, SYM_SCALE);
    assert_eq!(p.zero_point, 0.0);
    assert_eq!((p.qmin, p.qmax), (-128, 127));
    let codes = p.quantize(&NOTEBOOK_VALUES);
    assert_eq!(codes, SYM_CODES.to_vec());
    let deq = p.dequantize(&codes);
    assert_eq!(rounded(&deq), SYM_DEQ.to_vec());
    let mse = p.error_stats(&NOTEBOOK_VALUES).mse();
    assert_eq!(round2(mse), SYM_ERROR, "mse {mse}");
}

#[test]
fn fused_paths_agree_with_the_separate_ones() {
    for scheme in [Scheme::Asymmetric, Scheme::Symmetric] {
        let p = minmax(scheme);
        let (codes, deq) = p.quantize_dequantize(&NOTEBOOK_VALUES);
        assert_eq!(codes, p.quantize(&NOTEBOOK_VALUES));
        assert_eq!(deq, p.dequantize(&codes));
        // np.mean((params - params_q) ** 2) with 20 values: numpy's pairwise sum of 20 terms is
        // eight accumulators over the first 16, combined as a tree, then the last 4 one by one.
        let sq: Vec<f64> = NOTEBOOK_VALUES
            .iter()
            .zip(&deq)
            .map(|(x, d)| (x - d) * (x - d))
            .collect();
        let mut r = [0.0f64; 8];
        for (i, &s) in sq[..16].iter().enumerate() {
            r[i % 8] += s;
        }
        let mut sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &s in &sq[16..] {
            sum += s;
        }
        let e = p.error_stats(&NOTEBOOK_VALUES);
        assert_eq!(e.mse().to_bits(), (sum / 20.0).to_bits(), "{scheme:?}");
        assert_eq!(e.n, 20);
        assert_eq!(e.clipped, 0);
    }
}
