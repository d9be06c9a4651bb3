#![cfg(not(target_arch = "wasm32"))]
//! The matrix's charts drawn natively into a bitmap: the heatmap's pixels where its plot lies,
//! bright where the outlier channels are, and the scales per unit; and odd inputs.

mod common;
use common::coloured_in_plot;
use plotters::prelude::*;
use quantviz::charts::{draw_heatmap, draw_scales, register_native_font, HeatGrid, Reduce, Theme};
use quantviz::charts::{HeatPlot, HeatValue};
use quantviz::quant::granularity::{Granularity, Units};

const W: u32 = 640;
const H: u32 = 400;

/// Draws a `rows x cols` heatmap of `value` into an RGB bitmap; returns it and the plot.
fn heatmap(
    rows: usize,
    cols: usize,
    units: Option<&Units>,
    value: impl Fn(usize) -> f64,
) -> (Vec<u8>, Option<HeatPlot>) {
    register_native_font().unwrap();
    let mut buf = vec![0u8; (W * H * 3) as usize];
    let plot;
    {
        let area = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        let mut grid = |w: usize, h: usize| HeatGrid::of(rows, cols, w, h, Reduce::Max, &value);
        plot = draw_heatmap(
            &area,
            rows,
            cols,
            HeatValue::Magnitude,
            units,
            &mut grid,
            &Theme::default(),
        )
        .unwrap();
        area.present().unwrap();
    }
    (buf, plot)
}

#[test]
fn the_heatmap_fills_its_plot_and_shows_the_outlier_column() {
    // 300 rows x 2000 columns (more than the plot's pixels across), column 1500 large.
    let (rows, cols) = (300, 2000);
    let (buf, plot) = heatmap(rows, cols, None, |i| {
        if i % cols == 1500 {
            50.0
        } else {
            (i % 7) as f64 * 0.1
        }
    });
    let p = plot.expect("a plot");
    assert!(p.x1 - p.x0 > 300 && p.y1 - p.y0 > 150, "{p:?}");
    image_out(&buf, &std::env::temp_dir().join("quantviz-heatmap.png"));
    assert!(coloured_in_plot(&buf, W, H, 3) > 10_000);
    let px = |x: i32, y: i32| {
        let i = ((y as u32 * W + x as u32) * 3) as usize;
        (buf[i], buf[i + 1], buf[i + 2])
    };
    // The outlier column is the brightest colour (viridis' yellow), a column elsewhere dark.
    let x = p.x0 + ((1500.5 / cols as f64) * f64::from(p.x1 - p.x0)) as i32;
    let y = (p.y0 + p.y1) / 2;
    let bright = px(x, y);
    assert!(
        bright.0 > 200 && bright.1 > 200 && bright.2 < 100,
        "{bright:?}"
    );
    let dark = px(p.x0 + 5, y);
    assert!(dark.1 < 120, "{dark:?}");
    // The plot maps back to the tensor's cells.
    assert_eq!(
        p.cell_at(f64::from(p.x0), f64::from(p.y0), rows, cols),
        Some((0, 0))
    );
}

#[test]
fn unit_boundaries_are_drawn_only_when_there_is_room() {
    let (rows, cols) = (16, 64);
    let units = Units::new(rows * cols, Some((rows, cols)), Granularity::Group(16)).unwrap();
    let (with, p) = heatmap(rows, cols, Some(&units), |_| 1.0);
    let (without, _) = heatmap(rows, cols, None, |_| 1.0);
    let p = p.unwrap();
    // At the boundary between column 15 and 16 a line differs from the plain map.
    let x = p.x0 + ((16.0 / cols as f64) * f64::from(p.x1 - p.x0)) as i32;
    let y = p.y0 + (p.y1 - p.y0) / 3 + 3;
    let at = |b: &[u8]| {
        let i = ((y as u32 * W + x as u32) * 3) as usize;
        (b[i], b[i + 1], b[i + 2])
    };
    assert_ne!(at(&with), at(&without));
    // 2000 groups across and 300 rows down are too many to see: none drawn.
    let (rows, cols) = (300, 4000);
    let fine = Units::new(rows * cols, Some((rows, cols)), Granularity::Group(2)).unwrap();
    let (a, _) = heatmap(rows, cols, Some(&fine), |_| 1.0);
    let (b, _) = heatmap(rows, cols, None, |_| 1.0);
    assert!(a == b, "no boundaries drawn");
}

#[test]
fn odd_tensors_draw_without_error() {
    for (r, c) in [(1, 1), (1, 5000), (5000, 1), (3, 3)] {
        let (_, p) = heatmap(r, c, None, |i| if i == 0 { f64::NAN } else { 0.0 });
        assert!(p.is_some(), "{r}x{c}");
    }
    let (_, p) = heatmap(0, 0, None, |_| 1.0);
    assert!(p.is_none());
}

#[test]
fn scales_draw_sorted_and_per_tensor() {
    register_native_font().unwrap();
    for scales in [
        vec![],
        vec![0.5],
        (1..5000).map(|i| (i as f64).sqrt() * 1e-3).collect(),
        vec![0.0, f64::NAN, 1.0],
    ] {
        let mut buf = vec![0u8; (W * H * 3) as usize];
        {
            let area = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
            draw_scales(&area, &scales, "group", 0.07, &Theme::default()).unwrap();
            area.present().unwrap();
        }
        if scales.len() > 100 {
            let path = std::env::temp_dir().join("quantviz-scales.png");
            image_out(&buf, &path);
            // The sorted curve: blue pixels (the palette's "original").
            let blue = buf
                .chunks_exact(3)
                .filter(|p| i32::from(p[2]) > i32::from(p[0]) + 60)
                .count();
            assert!(blue > 500, "{blue} blue pixels; see {}", path.display());
        }
    }
}

/// A 64 x 256 matrix whose rows differ in scale (row spread 1).
fn spread_matrix() -> quantviz::analysis::Analysis {
    let s = quantviz::settings::Settings::from_query("shape=64,256&row_spread=1").unwrap();
    let data = quantviz::data::generate::dataset_for(&s).unwrap();
    quantviz::analysis::Analysis::new(data).unwrap()
}

#[test]
fn every_format_gains_finer_scales_and_rotations_on_2d_data() {
    use quantviz::quant::formats::Format;
    use quantviz::settings::{QuantSettings, Rotation, Scheme};
    let a = spread_matrix();
    let rows = a.every_format(&Format::ALL, None, &QuantSettings::default(), &[2, 4, 8]);
    let fine: Vec<_> = rows.iter().filter(|r| r.fine.is_some()).collect();
    // 2 widths x (4 granularities, then tensor and 4 rotated).
    assert_eq!(
        fine.len(),
        2 * (4 + 5),
        "{:?}",
        fine.iter().map(|r| &r.label).collect::<Vec<_>>()
    );
    let find = |g: Granularity, rot: Rotation, bits: u32| {
        fine.iter()
            .find(|r| r.fine == Some((g, rot)) && r.int.unwrap().bits == bits)
            .unwrap_or_else(|| panic!("{g} {rot:?} {bits}"))
    };
    // Bits per weight count one float32 scale per unit (symmetric: no zero point).
    assert_eq!(
        find(Granularity::Group(32), Rotation::None, 4).bits_per_weight,
        5.0
    );
    assert_eq!(
        find(Granularity::Group(128), Rotation::None, 4).bits_per_weight,
        4.25
    );
    assert_eq!(
        find(Granularity::Channel, Rotation::None, 8).bits_per_weight,
        8.125
    );
    // On rows of different scales, a scale per row or group beats one per tensor at 4 bits.
    let tensor = rows
        .iter()
        .find(|r| {
            r.fine.is_none()
                && r.int
                    .is_some_and(|q| q.bits == 4 && q.scheme == Scheme::Symmetric)
        })
        .unwrap();
    let mse = |r: &quantviz::analysis::formats::FormatRow| r.outcome.as_ref().unwrap().mse;
    assert!(mse(find(Granularity::Channel, Rotation::None, 4)) < mse(tensor));
    assert!(
        mse(find(Granularity::Group(32), Rotation::None, 4))
            <= mse(find(Granularity::Channel, Rotation::None, 4))
    );
    // 1-D data: none.
    let one = quantviz::analysis::Analysis::new(
        quantviz::data::generate::Dataset::from_values((0..1024).map(|i| i as f64).collect(), "t")
            .unwrap(),
    )
    .unwrap();
    assert!(one
        .every_format(&[], None, &QuantSettings::default(), &[4])
        .iter()
        .all(|r| r.fine.is_none()));
}

#[test]
fn the_formats_chart_draws_the_finer_scales() {
    use quantviz::analysis::front::pareto_front;
    use quantviz::charts::{draw_formats, Choice};
    use quantviz::quant::formats::Format;
    use quantviz::settings::{Calibration, QuantSettings, Rotation, Scheme};
    register_native_font().unwrap();
    let a = spread_matrix();
    let rows = a.every_format(
        &Format::ALL,
        None,
        &QuantSettings::default(),
        &[2, 3, 4, 5, 6, 7, 8],
    );
    let points: Vec<(f64, Option<f64>)> = rows
        .iter()
        .map(|r| (r.bits_per_weight, r.outcome.as_ref().ok().map(|m| m.mse)))
        .collect();
    let front = pareto_front(&points);
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        let current = Choice::Fine(
            4,
            Scheme::Symmetric,
            Calibration::MinMax,
            Granularity::Group(32),
            Rotation::None,
        );
        draw_formats(&area, &rows, &front, current, &Theme::default()).unwrap();
        area.present().unwrap();
    }
    assert!(
        svg.contains("group 128/64/32"),
        "the legend names the finer scales"
    );
    assert!(svg.contains("Hadamard rotation"), "and the rotated ones");
    assert!(
        svg.contains("current: int4 symmetric group:32"),
        "the current one is a fine row"
    );
}

/// Writes an RGB bitmap as PNG, to look at after a failure.
fn image_out(buf: &[u8], path: &std::path::Path) {
    let root = BitMapBackend::new(path, (W, H)).into_drawing_area();
    if let Some(img) = plotters::element::BitMapElement::<(i32, i32)>::with_owned_buffer(
        (0, 0),
        (W, H),
        buf.to_vec(),
    ) {
        let _ = root.draw(&img);
        let _ = root.present();
    }
}
