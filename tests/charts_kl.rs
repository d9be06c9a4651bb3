#![cfg(not(target_arch = "wasm32"))]
//! The KL and rotation charts drawn natively into a bitmap: each threshold's line where its
//! value says, and the rotated block's spread drawn.

use plotters::prelude::*;
use quantviz::analysis::granular::GranularSettings;
use quantviz::analysis::rotation_view::RotationView;
use quantviz::analysis::Analysis;
use quantviz::charts::{draw_kl, draw_rotation, register_native_font, Theme};
use quantviz::data::generate::Dataset;
use quantviz::quant::granularity::Granularity;
use quantviz::quant::rotate::Rotation;
use quantviz::session::Session;
use quantviz::settings::{QuantSettings, Scheme};

const W: u32 = 800;
const H: u32 = 600;

/// `draw` into an RGB bitmap; returns its pixels.
fn bitmap(draw: impl FnOnce(&DrawingArea<BitMapBackend, plotters::coord::Shift>)) -> Vec<u8> {
    register_native_font().unwrap();
    let mut buf = vec![0u8; (W * H * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        draw(&root);
        root.present().unwrap();
    }
    buf
}

/// Whether the pixel at `(x, y)` is within a small distance of `c`.
fn is(px: &[u8], x: usize, y: usize, c: (u8, u8, u8)) -> bool {
    let i = (y * W as usize + x) * 3;
    let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs();
    d(px[i], c.0) + d(px[i + 1], c.1) + d(px[i + 2], c.2) < 24
}

/// The pixel column holding the most pixels of colour `c` between rows `y0` and `y1` (a
/// vertical line's column), and how many.
fn column_of(px: &[u8], c: (u8, u8, u8), y0: usize, y1: usize) -> (usize, usize) {
    (0..W as usize)
        .map(|x| (x, (y0..y1).filter(|&y| is(px, x, y, c)).count()))
        .max_by_key(|&(x, n)| (n, std::cmp::Reverse(x)))
        .unwrap()
}

// The light theme's calibration colours: percentile, mse, kl.
const PERCENTILE: (u8, u8, u8) = (0xe0, 0x6c, 0x00);
const MSE: (u8, u8, u8) = (0x1e, 0x8e, 0x3e);
const KL: (u8, u8, u8) = (0x86, 0x3b, 0xc4);
const ROTATED: (u8, u8, u8) = (0xe0, 0x6c, 0x00);

#[test]
fn the_kl_chart_draws_each_threshold_where_its_value_says() {
    // Laplace values with outliers: KL, the 95th percentile and least-error clip at three
    // visibly different values.
    let mut s = Session::new();
    s.update("dist=laplace:0,1&n=20000&seed=5&outliers=20&outlier_value=40&bits=4&calibration=kl")
        .unwrap();
    let kl: serde_json::Value = serde_json::from_str(&s.kl().unwrap()).unwrap();
    let mut s = Session::new();
    s.update("dist=laplace:0,1&n=20000&seed=5&outliers=20&outlier_value=40&bits=4&scheme=symmetric&calibration=percentile:95")
        .unwrap();
    let px = bitmap(|area| s.draw("kl", area, &Theme::default()).unwrap());

    let view: serde_json::Value = serde_json::from_str(&s.kl().unwrap()).unwrap();
    assert_eq!(
        view["threshold"], kl["threshold"],
        "the same KL at 95 as at 99.99"
    );
    let t = |k: &str| view[k].as_f64().unwrap();
    let (h0, h1) = (H as usize * 15 / 100, H as usize * 50 / 100);
    let (k_col, k_n) = column_of(&px, KL, h0, h1);
    let (p_col, p_n) = column_of(&px, PERCENTILE, h0, h1);
    let (m_col, m_n) = column_of(&px, MSE, h0, h1);
    // Solid: most of the histogram's height; dashed: more than a third of it.
    assert!(k_n > (h1 - h0) / 2, "KL line {k_n} px tall");
    assert!(p_n > (h1 - h0) / 4 && m_n > (h1 - h0) / 4, "{p_n} {m_n}");
    // The three lines in the order of their thresholds, the gaps in proportion.
    let mut by_value = [
        ("kl", t("threshold"), k_col),
        ("p", t("percentile_threshold"), p_col),
        ("mse", t("mse_threshold"), m_col),
    ];
    by_value.sort_by(|a, b| a.1.total_cmp(&b.1));
    assert!(
        by_value.windows(2).all(|w| w[0].2 < w[1].2),
        "lines out of order: {by_value:?}"
    );
    let per_unit = (k_col as f64 - p_col as f64) / (t("threshold") - t("percentile_threshold"));
    let predicted = k_col as f64 + (t("mse_threshold") - t("threshold")) * per_unit;
    assert!(
        (predicted - m_col as f64).abs() < 4.0,
        "{predicted} vs {m_col}: {by_value:?}"
    );
    // The KL line goes on through the divergence panel, where the least divergence is marked.
    let (b0, b1) = (H as usize * 60 / 100, H as usize * 90 / 100);
    let (k2, n2) = column_of(&px, KL, b0, b1);
    assert!(k2.abs_diff(k_col) <= 1 && n2 > (b1 - b0) / 2, "{k2} {n2}");
}

#[test]
fn the_rotation_chart_spreads_the_outlier() {
    let mut values: Vec<f64> = (0..256)
        .map(|i| ((i * 37 % 17) as f64 - 8.0) / 8.0)
        .collect();
    values[70] = 40.0;
    let data = Dataset::from_values(values, "spike")
        .unwrap()
        .with_shape(Some((4, 64)))
        .unwrap();
    let a = Analysis::new(data).unwrap();
    let g = a
        .granular(
            &GranularSettings {
                quant: QuantSettings {
                    bits: 4,
                    scheme: Scheme::Symmetric,
                    ..QuantSettings::default()
                },
                format: None,
                granularity: Granularity::Tensor,
                rotate: Rotation::Hadamard(Some(32)),
            },
            true,
        )
        .unwrap();
    let v = RotationView::of(&g, a.values(), 64, None).unwrap();
    assert_eq!((v.block, v.row, v.column), (2, 1, 0));
    let (before, after) = v.peaks();
    assert_eq!(before, 40.0);
    assert!(after < 40.0 / 4.0, "{after}");
    let px = bitmap(|area| draw_rotation(area, &v, &Theme::default()).unwrap());
    // The rotated values' line crosses most of the plot's width.
    let cols = (0..W as usize)
        .filter(|&x| (0..H as usize).any(|y| is(&px, x, y, ROTATED)))
        .count();
    assert!(cols > W as usize / 2, "{cols}");
    // Out of range: an error, no panic.
    assert!(RotationView::of(&g, a.values(), 64, Some(8)).is_err());
}

#[test]
fn the_kl_chart_draws_odd_data_without_panicking() {
    for values in [vec![0.0; 10], vec![3.0], vec![1.0, -1.0, 1e-300, 1e300]] {
        let a = Analysis::new(Dataset::from_values(values, "odd").unwrap()).unwrap();
        let Ok(view) = a.kl_view(4, 99.0) else {
            continue;
        };
        bitmap(|area| draw_kl(area, &view, &Theme::default()).unwrap());
    }
}
