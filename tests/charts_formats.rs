#![cfg(not(target_arch = "wasm32"))]
//! The formats' charts drawn natively (charts_native.rs does the same for the int scheme's):
//! into SVG, checked for what their text says, and into a bitmap, checked for what was drawn
//! inside the plot area; on data that every format takes, on data some cannot, and on odd data.

mod common;
use common::coloured_in_plot;
use plotters::prelude::*;
use quantviz::analysis::blocks::{histogram_range, BlockSummary, FormatView};
use quantviz::analysis::formats::FormatRow;
use quantviz::analysis::front::pareto_front;
use quantviz::analysis::histogram::Histogram;
use quantviz::analysis::{Analysis, HISTOGRAM_BINS};
use quantviz::charts::{
    draw_blocks, draw_format_histogram, draw_formats, register_native_font, Choice, Theme,
};
use quantviz::data::generate::{generate, Dataset};
use quantviz::quant::formats::Format;
use quantviz::settings::{DataSpec, QuantSettings, Scheme};

const W: u32 = 640;
const H: u32 = 400;

fn analysis(values: Vec<f64>) -> Analysis {
    Analysis::new(Dataset::from_values(values, "test").unwrap()).unwrap()
}

fn normal(n: usize) -> Analysis {
    Analysis::new(
        generate(&DataSpec {
            n,
            ..DataSpec::default()
        })
        .unwrap(),
    )
    .unwrap()
}

/// Every format and the int schemes at 2 to 8 bits, with the front.
fn every(a: &Analysis) -> (Vec<FormatRow>, Vec<bool>) {
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
    (rows, front)
}

/// `draw` into an SVG string.
fn svg(draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>)) -> String {
    register_native_font().unwrap();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        draw(&root);
        root.present().unwrap();
    }
    out
}

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

/// A format's run on `a`, with the page's blocks summary and histogram view.
fn format_view(a: &Analysis, f: Format) -> (BlockSummary, FormatView, usize) {
    let run = a.format_run(f, None).unwrap();
    let blocks = BlockSummary::of(f, a.values(), &run.quantized, run.block);
    let (lo, hi) = histogram_range(a.stats.min, a.stats.max);
    let values = Histogram::of(a.values(), lo, hi, HISTOGRAM_BINS);
    let view = FormatView::new(f, run.block, &run.quantized, values, blocks.top);
    (blocks, view, run.block)
}

#[test]
fn every_format_says_what_it_plots_and_draws_it() {
    let a = normal(8192);
    let (rows, front) = every(&a);
    assert!(
        rows.iter().all(|r| r.outcome.is_ok()),
        "8192 values suit every format"
    );
    for current in [
        Choice::Format(Format::Q4_K),
        Choice::Int(4, Scheme::Symmetric),
    ] {
        let text = svg(|area| {
            draw_formats(area, &rows, &front, current, &Theme::default()).unwrap();
        });
        for want in [
            "Every format on this data: error against storage",
            "bits per weight (scales included)",
            "MSE (log scale)",
            "lower-left front",
            "int, 2–8 bits: asymmetric solid, symmetric dashed",
            "current choice",
        ] {
            assert!(text.contains(want), "{current:?}: no '{want}'");
        }
        let label = match current {
            Choice::Format(_) => "current: q4_K",
            Choice::Int(..) | Choice::Fine(..) => "current: int4 symmetric",
        };
        assert!(text.contains(label), "{label}");
        for theme in [
            Theme::default(),
            Theme {
                dark: true,
                scale: 1.0,
            },
        ] {
            let px = bitmap(|area| {
                draw_formats(area, &rows, &front, current, &theme).unwrap();
            });
            let n = coloured_in_plot(&px, W, H, 3);
            assert!(n > 500, "{current:?}: {n} coloured pixels in the plot");
        }
    }
}

#[test]
fn every_format_says_which_cannot_take_the_data() {
    // 1000 values: no whole number of blocks of 32, 64 or 256.
    let a = normal(1000);
    let (rows, front) = every(&a);
    let refused = rows.iter().filter(|r| r.outcome.is_err()).count();
    assert_eq!(refused, 10, "all but NF4 and the two FP8s");
    let text = svg(|area| {
        draw_formats(
            area,
            &rows,
            &front,
            Choice::Format(Format::Nf4),
            &Theme::default(),
        )
        .unwrap();
    });
    assert!(text.contains("10 cannot take this data (see the table)"));
}

#[test]
fn the_blocks_strip_draws_both_strips_and_says_where_the_blocks_are() {
    let a = normal(8192);
    for f in Format::ALL {
        let (blocks, _, block) = format_view(&a, f);
        let mut at = None;
        let px = bitmap(|area| {
            at = draw_blocks(
                area,
                &blocks,
                f,
                block,
                3.min(blocks.blocks - 1),
                &Theme::default(),
            )
            .unwrap();
        });
        let (x0, x1) = at.expect("room to draw");
        assert!(0 < x0 && x0 < x1 && x1 < W as i32, "{f}: {x0}..{x1}");
        let n = coloured_in_plot(&px, W, H, 3);
        assert!(n > 500, "{f}: {n} coloured pixels");
        let text = svg(|area| {
            draw_blocks(area, &blocks, f, block, 0, &Theme::default()).unwrap();
        });
        // SVG writes the apostrophe as an entity.
        assert!(text.contains(&format!("{f}: each block&apos;s scale and error")));
        assert!(
            text.contains("MSE (log)") && text.contains("block 0"),
            "{f}"
        );
    }
    // Too small to draw: nothing, and no strip to point at.
    let (blocks, _, block) = format_view(&a, Format::Q4_0);
    register_native_font().unwrap();
    let mut buf = vec![0u8; 60 * 40 * 3];
    let root = BitMapBackend::with_buffer(&mut buf, (60, 40)).into_drawing_area();
    assert_eq!(
        draw_blocks(&root, &blocks, Format::Q4_0, block, 0, &Theme::default()).unwrap(),
        None
    );
}

#[test]
fn the_format_histogram_shows_the_levels_of_its_largest_block() {
    let a = normal(8192);
    for f in Format::ALL {
        let (_, view, _) = format_view(&a, f);
        let text = svg(|area| {
            draw_format_histogram(area, &view, &Theme::default()).unwrap();
        });
        assert!(text.contains("Original vs dequantized values"), "{f}");
        assert!(
            text.contains(&format!("block {}&apos;s range", view.top.0)),
            "{f}"
        );
        assert!(text.contains("dequantized values (same bins)"), "{f}");
        let px = bitmap(|area| {
            draw_format_histogram(area, &view, &Theme::default()).unwrap();
        });
        assert!(coloured_in_plot(&px, W, H, 3) > 500, "{f}");
    }
    let (_, view, _) = format_view(&a, Format::Q4_0);
    let text = svg(|area| {
        draw_format_histogram(area, &view, &Theme::default()).unwrap();
    });
    assert!(text.contains("levels (16 in view)"), "Q4_0's 16 levels");
}

#[test]
fn odd_data_draws_without_panicking() {
    let sets = [
        vec![0.0; 512],
        vec![3.0; 512],
        (0..512).map(|i| i as f64).collect::<Vec<_>>(),
        (0..512)
            .map(|i| if i == 7 { 1e4 } else { 0.001 * i as f64 })
            .collect(),
    ];
    for values in sets {
        let a = analysis(values);
        let (rows, front) = every(&a);
        for f in Format::ALL {
            svg(|area| {
                draw_formats(area, &rows, &front, Choice::Format(f), &Theme::default()).unwrap();
            });
            let Ok(run) = a.format_run(f, None) else {
                continue;
            };
            let blocks = BlockSummary::of(f, a.values(), &run.quantized, run.block);
            let (lo, hi) = histogram_range(a.stats.min, a.stats.max);
            let values = Histogram::of(a.values(), lo, hi, HISTOGRAM_BINS);
            let view = FormatView::new(f, run.block, &run.quantized, values, blocks.top);
            svg(|area| {
                draw_blocks(area, &blocks, f, run.block, 0, &Theme::default()).unwrap();
                draw_format_histogram(area, &view, &Theme::default()).unwrap();
            });
        }
    }
}
