#![cfg(not(target_arch = "wasm32"))]
//! The chart functions drawn natively: into SVG, checked for what their text says, and into a
//! bitmap, checked for what was drawn inside the plot area.

mod common;
use common::coloured_in_plot;
use plotters::prelude::*;
use quantviz::analysis::{Analysis, Sweep, View};
use quantviz::charts::{
    draw_chart, draw_compare, draw_error, draw_histogram, draw_mapping, draw_sweep,
    draw_sweep_part, register_native_font, render_png_themed, render_svg, ChartKind, SweepPart,
    Theme,
};
use quantviz::data::generate::{generate, Dataset};
use quantviz::data::presets::minmax_dataset;
use quantviz::settings::{Calibration, DataSpec, QuantSettings, Scheme, ZeroPoint};

const W: u32 = 600;
const H: u32 = 400;

fn analysis(data: Dataset) -> Analysis {
    Analysis::new(data).expect("valid data")
}

/// The data sets every chart must draw: (name, data).
fn data_sets() -> Vec<(&'static str, Dataset)> {
    vec![
        ("normal", generate(&DataSpec::default()).unwrap()),
        ("notebook", minmax_dataset()),
        (
            "constant",
            Dataset::from_values(vec![3.0; 50], "constant").unwrap(),
        ),
        (
            "zeros",
            Dataset::from_values(vec![0.0; 7], "zeros").unwrap(),
        ),
        (
            "one value",
            Dataset::from_values(vec![-2.5], "one").unwrap(),
        ),
        (
            "outliers",
            generate(&DataSpec {
                outliers: 3,
                ..DataSpec::default()
            })
            .unwrap(),
        ),
    ]
}

/// A spread of settings: the default, few levels, symmetric percentile, mse with include-zero.
fn settings() -> Vec<QuantSettings> {
    vec![
        QuantSettings::default(),
        QuantSettings {
            bits: 3,
            ..QuantSettings::default()
        },
        QuantSettings {
            bits: 4,
            scheme: Scheme::Symmetric,
            calibration: Calibration::Percentile(99.0),
            ..QuantSettings::default()
        },
        QuantSettings {
            bits: 16,
            calibration: Calibration::Mse,
            zero_point: ZeroPoint::IncludeZero,
            ..QuantSettings::default()
        },
    ]
}

/// Text every chart of this kind must show, whatever the data.
fn expected_text(kind: ChartKind) -> &'static [&'static str] {
    match kind {
        ChartKind::Histogram => &[
            "Original vs dequantized values",
            "original values",
            "dequantized values",
            "clip range",
            "value (original and dequantized)",
            "original values per bin",
        ],
        ChartKind::Error => &[
            "Quantization error: original - dequantized",
            "error = original - dequantized value",
            "values per bin",
            "max |error|",
            "scale/2",
            "SQNR",
        ],
        ChartKind::Compare => &[
            "MSE of every scheme and calibration",
            "MSE (log scale)",
            "scheme and calibration",
            ">\nmin-max\n<",
            ">\nmse\n<",
            ">\nasym\n<",
            ">\nsym\n<",
            "MSE over all values",
            "current settings",
        ],
        ChartKind::Mapping => &[
            "Quantize-dequantize mapping",
            "original value x",
            "dequantized value",
            "identity",
            "clip range",
            "zero",
        ],
        ChartKind::Sweep => &[
            "MSE against bit width",
            "bits",
            "MSE (log scale)",
            "asym min-max",
            "asym mse",
            "sym min-max",
            "sym mse",
            "(current)",
            "current: 8 bits",
        ],
    }
}

#[test]
fn every_chart_says_what_it_plots_in_svg() {
    for (name, data) in data_sets() {
        let a = analysis(data);
        let q = QuantSettings::default();
        for kind in ChartKind::ALL {
            let svg =
                render_svg(kind, &a, &q, W, H).unwrap_or_else(|e| panic!("{kind} on {name}: {e}"));
            assert!(svg.starts_with("<svg"), "{kind} on {name}");
            for text in expected_text(kind) {
                let text = text.replace('&', "&amp;");
                assert!(svg.contains(&text), "{kind} on {name}: no '{text}'");
            }
        }
    }
}

#[test]
fn every_chart_draws_for_every_setting() {
    for (name, data) in data_sets() {
        let a = analysis(data);
        for q in settings() {
            for kind in ChartKind::ALL {
                render_svg(kind, &a, &q, W, H)
                    .unwrap_or_else(|e| panic!("{kind} on {name} with {q:?}: {e}"));
            }
        }
    }
}

#[test]
fn histogram_shows_levels_as_spikes_when_few_and_an_outline_when_many() {
    let a = analysis(generate(&DataSpec::default()).unwrap());
    let few = QuantSettings {
        bits: 4,
        ..QuantSettings::default()
    };
    let svg = render_svg(ChartKind::Histogram, &a, &few, W, H).unwrap();
    assert!(svg.contains("dequantized values (per level, right axis)"));
    assert!(svg.contains("dequantized values per level"));
    assert!(svg.contains("quantization levels (16 in view)"));
    let many = render_svg(ChartKind::Histogram, &a, &QuantSettings::default(), W, H).unwrap();
    assert!(many.contains("dequantized values (same bins)"));
    assert!(!many.contains("quantization levels"));
}

#[test]
fn notebook_numbers_appear_in_the_charts() {
    let a = analysis(minmax_dataset());
    let q = QuantSettings::default();
    let svg = render_svg(ChartKind::Histogram, &a, &q, W, H).unwrap();
    // scale 0.7617254901960785 and zero point 62, as the notebook prints them.
    assert!(svg.contains("scale 0.7617"), "{svg}");
    assert!(svg.contains("zero point 62"));
    assert!(svg.contains("clip range [-47.31, 146.9]"));
    let mapping = render_svg(ChartKind::Mapping, &a, &q, W, H).unwrap();
    assert!(mapping.contains("zero: x = 0 and code 62 (dequantized 0)"));
}

#[test]
fn compare_shows_the_bars_without_outliers_and_sqnr() {
    let a = analysis(
        generate(&DataSpec {
            outliers: 3,
            ..DataSpec::default()
        })
        .unwrap(),
    );
    let svg = render_svg(ChartKind::Compare, &a, &QuantSettings::default(), W, H).unwrap();
    assert!(svg.contains("MSE without the outliers"));
    assert!(svg.contains(" dB"));
    assert!(svg.contains("current: asym min-max (outlined)"));
    let plain = analysis(generate(&DataSpec::default()).unwrap());
    let svg = render_svg(ChartKind::Compare, &plain, &QuantSettings::default(), W, H).unwrap();
    assert!(!svg.contains("without the outliers"));
}

#[test]
fn exact_reconstruction_is_labelled_exact() {
    let a = analysis(Dataset::from_values(vec![3.0; 50], "constant").unwrap());
    let svg = render_svg(ChartKind::Compare, &a, &QuantSettings::default(), W, H).unwrap();
    // A whole text element, not part of a longer label.
    assert!(svg.contains(">\nexact\n</text>"), "{svg}");
    // The sweep's log axis puts 0 on its floor and names it.
    let sweep = render_svg(ChartKind::Sweep, &a, &QuantSettings::default(), W, H).unwrap();
    assert!(sweep.contains(">\nexact\n</text>"), "{sweep}");
    let normal = analysis(generate(&DataSpec::default()).unwrap());
    let sweep = render_svg(ChartKind::Sweep, &normal, &QuantSettings::default(), W, H).unwrap();
    assert!(!sweep.contains("exact"));
}

#[test]
fn sweep_says_when_it_ran_on_a_sample() {
    register_native_font().unwrap();
    let a = analysis(generate(&DataSpec::default()).unwrap());
    let q = QuantSettings::default();
    let mut sweep = a.sweep(&q).unwrap();
    assert_eq!(sweep.sample, None);
    sweep.sample = Some(131_072);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        draw_sweep(&root, &sweep, &q, &Theme::default()).unwrap();
        root.present().unwrap();
    }
    assert!(svg.contains("(on a 131072-value sample)"));
}

/// The sweep chart drawn as the page draws it on a Bits change (the base kept, the marker over
/// it) is the chart drawn whole, pixel for pixel; the base does not depend on the width, and the
/// marker names it.
#[test]
fn sweep_in_two_parts_is_the_whole_chart() {
    register_native_font().unwrap();
    let a = analysis(generate(&DataSpec::default()).unwrap());
    let q = QuantSettings::default();
    let sweep = a.sweep(&q).unwrap();
    let bitmap = |parts: &[(SweepPart, u32)], theme: &Theme| {
        let mut buf = vec![0u8; (W * H * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
            for &(part, bits) in parts {
                let q = QuantSettings { bits, ..q };
                draw_sweep_part(&root, &sweep, &q, theme, part).unwrap();
            }
            root.present().unwrap();
        }
        buf
    };
    for theme in [
        Theme::default(),
        Theme {
            dark: true,
            scale: 2.0,
        },
    ] {
        let base = bitmap(&[(SweepPart::Base, 8)], &theme);
        for bits in [2, 3, 8, 12, 16] {
            let whole = bitmap(&[(SweepPart::Full, bits)], &theme);
            // The base, drawn at another width, then the marker for this one.
            let parts = bitmap(&[(SweepPart::Base, 4), (SweepPart::Marker, bits)], &theme);
            assert!(
                whole == parts,
                "{bits} bits: base + marker differ from the whole chart"
            );
            assert_eq!(
                bitmap(&[(SweepPart::Base, bits)], &theme),
                base,
                "{bits} bits: base"
            );
            assert!(whole != base, "{bits} bits: the marker draws something");
        }
    }
    let svg = |part: SweepPart| {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
            let q = QuantSettings { bits: 5, ..q };
            draw_sweep_part(&root, &sweep, &q, &Theme::default(), part).unwrap();
            root.present().unwrap();
        }
        svg
    };
    assert!(svg(SweepPart::Marker).contains("current: 5 bits"));
    assert!(!svg(SweepPart::Base).contains("5 bits"));
    assert!(!svg(SweepPart::Marker).contains("MSE against bit width"));
}

/// Draws a chart into an RGB buffer.
fn bitmap(kind: ChartKind, a: &Analysis, q: &QuantSettings, theme: &Theme) -> Vec<u8> {
    register_native_font().unwrap();
    let mut buf = vec![0u8; (W * H * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        draw_chart(kind, &root, a, q, theme).unwrap_or_else(|e| panic!("{kind}: {e}"));
        root.present().unwrap();
    }
    buf
}

#[test]
fn every_chart_draws_its_data_inside_the_plot_area() {
    for (name, data) in data_sets() {
        let a = analysis(data);
        for dark in [false, true] {
            let theme = Theme { dark, scale: 1.0 };
            for kind in ChartKind::ALL {
                let buf = bitmap(kind, &a, &QuantSettings::default(), &theme);
                // The corner is background: the chart filled it.
                let bg = theme.background();
                assert_eq!(&buf[0..3], &[bg.0, bg.1, bg.2], "{kind} on {name}");
                let n = coloured_in_plot(&buf, W, H, 3);
                assert!(
                    n > 150,
                    "{kind} on {name} (dark {dark}): {n} coloured pixels"
                );
            }
        }
    }
}

#[test]
fn a_blank_chart_has_no_coloured_pixels() {
    // The pixel check above can fail: a background-only bitmap has none.
    let theme = Theme::default();
    let mut buf = vec![0u8; (W * H * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        root.fill(&theme.background()).unwrap();
        root.present().unwrap();
    }
    assert_eq!(coloured_in_plot(&buf, W, H, 3), 0);
}

#[test]
fn hidpi_scale_makes_text_larger() {
    let a = analysis(minmax_dataset());
    let q = QuantSettings::default();
    let mut sizes = Vec::new();
    for scale in [1.0, 2.0] {
        register_native_font().unwrap();
        let mut svg = String::new();
        {
            let (w, h) = ((W as f64 * scale) as u32, (H as f64 * scale) as u32);
            let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
            draw_chart(
                ChartKind::Histogram,
                &root,
                &a,
                &q,
                &Theme { dark: false, scale },
            )
            .unwrap();
            root.present().unwrap();
        }
        // The axis description's font size, as the SVG writes it.
        let at = svg.find("original values per bin").unwrap();
        let tag = &svg[svg[..at].rfind("<text").unwrap()..at];
        let size: f64 = tag
            .split("font-size=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .and_then(|s| s.parse().ok())
            .unwrap();
        sizes.push(size);
    }
    assert!((sizes[1] / sizes[0] - 2.0).abs() < 0.05, "{sizes:?}");
}

#[test]
fn odd_inputs_draw_without_panicking() {
    register_native_font().unwrap();
    let a = analysis(generate(&DataSpec::default()).unwrap());
    let q = QuantSettings::default();
    let mut view = a.view(&q).unwrap();
    view.run.metrics.mse = f64::NAN;
    view.run.metrics.sqnr_db = f64::NEG_INFINITY;
    view.run.metrics.max_abs_error = f64::INFINITY;
    view.run.params.range_min = f64::NAN;
    view.run.params.range_max = f64::INFINITY;
    view.mapping.push((f64::NAN, f64::INFINITY));
    let mut runs = a.compare(&q).unwrap();
    runs[0].metrics.mse = 0.0;
    runs[0].metrics.sqnr_db = f64::INFINITY;
    runs[1].metrics.mse = f64::NAN;
    runs[2].metrics.mse = f64::INFINITY;
    let sweep = Sweep {
        bits: (2..=16).collect(),
        series: a
            .sweep(&q)
            .unwrap()
            .series
            .into_iter()
            .map(|mut s| {
                s.mse.iter_mut().for_each(|m| *m = 0.0);
                s.mse[3] = f64::NAN;
                s
            })
            .collect(),
        sample: None,
    };
    let empty = Sweep {
        bits: Vec::new(),
        series: Vec::new(),
        sample: None,
    };
    for (w, h) in [(W, H), (50, 40), (1, 1), (2000, 120)] {
        for theme in [
            Theme::default(),
            Theme {
                dark: true,
                scale: f64::NAN,
            },
            Theme {
                dark: false,
                scale: 3.0,
            },
        ] {
            let mut svg = String::new();
            let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
            draw_histogram(&root, &view, &theme).unwrap();
            draw_error(&root, &view, &theme).unwrap();
            draw_mapping(&root, &view, &theme).unwrap();
            draw_compare(&root, &runs, &q, &theme).unwrap();
            draw_compare(&root, &[], &q, &theme).unwrap();
            draw_sweep(&root, &sweep, &q, &theme).unwrap();
            draw_sweep(&root, &empty, &q, &theme).unwrap();
        }
    }
    // A view whose errors are not binned yet (the page bins them when it draws that chart):
    // a message, nothing drawn.
    let mut svg = String::new();
    let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
    let later = View {
        errors: None,
        ..view.clone()
    };
    let e = draw_error(&root, &later, &Theme::default());
    assert!(e.is_err_and(|m| m.contains("add_errors")));
}

#[test]
fn ten_million_values_draw_like_any_other() {
    // Bars per bin, never a point per value: the SVG stays small whatever n is.
    let n = 10_000_000;
    let a = analysis(
        generate(&DataSpec {
            n,
            ..DataSpec::default()
        })
        .unwrap(),
    );
    let q = QuantSettings::default();
    for kind in [ChartKind::Histogram, ChartKind::Error, ChartKind::Mapping] {
        let svg = render_svg(kind, &a, &q, W, H).unwrap();
        assert!(svg.len() < 400_000, "{kind}: {} bytes", svg.len());
        assert!(svg.contains(&format!("{n} values")) || kind != ChartKind::Histogram);
    }
}

#[test]
fn export_rejects_bad_sizes_and_paths_with_a_message() {
    let a = analysis(minmax_dataset());
    let q = QuantSettings::default();
    let e = render_svg(ChartKind::Sweep, &a, &q, 0, 400).unwrap_err();
    assert!(e.contains("width and height"), "{e}");
    let theme = Theme::default();
    let bad = std::path::Path::new("/nonexistent-dir/chart.png");
    let e = render_png_themed(ChartKind::Histogram, &a, &q, 300, 200, &theme, bad).unwrap_err();
    assert!(e.contains("/nonexistent-dir/chart.png"), "{e}");
}

#[test]
fn png_export_writes_a_png() {
    let a = analysis(minmax_dataset());
    let dir = std::env::temp_dir().join(format!("quantviz-charts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("histogram.png");
    quantviz::charts::render_png(
        ChartKind::Histogram,
        &a,
        &QuantSettings::default(),
        W,
        H,
        &path,
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes every chart, light and dark, at 2x, into `QUANTVIZ_CHART_DIR` (default /tmp/charts)
/// for looking at: `cargo test --release --test charts_native -- --ignored`.
#[test]
#[ignore]
fn gallery() {
    let dir = std::env::var("QUANTVIZ_CHART_DIR").unwrap_or_else(|_| "/tmp/charts".to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "normal",
            generate(&DataSpec::default()).unwrap(),
            QuantSettings::default(),
        ),
        ("notebook", minmax_dataset(), QuantSettings::default()),
        (
            "outliers-4bit",
            generate(&DataSpec {
                outliers: 3,
                ..DataSpec::default()
            })
            .unwrap(),
            QuantSettings {
                bits: 4,
                calibration: Calibration::Percentile(99.9),
                ..QuantSettings::default()
            },
        ),
        (
            "constant",
            Dataset::from_values(vec![3.0; 50], "constant").unwrap(),
            QuantSettings::default(),
        ),
    ];
    // A phone-width canvas: labels must shrink or turn, not overlap.
    let outliers = analysis(
        generate(&DataSpec {
            outliers: 3,
            ..DataSpec::default()
        })
        .unwrap(),
    );
    for kind in ChartKind::ALL {
        let file = format!("{dir}/{kind}-narrow-light.png");
        let theme = Theme {
            dark: false,
            scale: 2.0,
        };
        let q = QuantSettings::default();
        render_png_themed(
            kind,
            &outliers,
            &q,
            720,
            560,
            &theme,
            std::path::Path::new(&file),
        )
        .unwrap();
    }
    for (name, data, q) in cases {
        let a = analysis(data);
        for dark in [false, true] {
            let theme = Theme { dark, scale: 2.0 };
            for kind in ChartKind::ALL {
                let file = format!(
                    "{dir}/{kind}-{name}-{}.png",
                    if dark { "dark" } else { "light" }
                );
                render_png_themed(
                    kind,
                    &a,
                    &q,
                    2 * W,
                    2 * H,
                    &theme,
                    std::path::Path::new(&file),
                )
                .unwrap();
            }
        }
    }
}
