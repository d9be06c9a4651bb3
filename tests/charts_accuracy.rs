#![cfg(not(target_arch = "wasm32"))]
//! The model's accuracy chart drawn natively: into SVG, checked for what its text says, and into
//! a bitmap, checked for what was drawn inside the plot area; on the shipped model's sweep, with
//! and without a current setting, and on odd rows.

mod common;
use common::coloured_in_plot;
use plotters::prelude::*;
use quantviz::charts::{draw_accuracy, register_native_font, AccuracyMark, Theme};
use quantviz::model::{Model, SweepRow};
use quantviz::settings::Settings;

const W: u32 = 640;
const H: u32 = 400;

fn sweep() -> (Model, Vec<SweepRow>) {
    let m = Model::embedded().unwrap();
    let rows = m.sweep(&Settings::default());
    (m, rows)
}

/// The chart into an SVG string.
fn svg(rows: &[SweepRow], float: f64, current: Option<AccuracyMark>) -> String {
    register_native_font().unwrap();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        draw_accuracy(&root, rows, float, current, &Theme::default()).unwrap();
        root.present().unwrap();
    }
    out
}

#[test]
fn the_sweep_is_drawn_with_its_formats_named_and_the_current_setting_ringed() {
    let (m, rows) = sweep();
    let e = m.evaluate(&Settings::default()).unwrap();
    let mark = AccuracyMark {
        bits_per_weight: e.bits_per_weight(),
        accuracy: e.accuracy(),
    };
    let out = svg(&rows, m.float_accuracy(), Some(mark));
    assert!(out.contains("accuracy against storage"), "title");
    assert!(
        out.contains("current: 96.7 % at 8.01 bits per weight"),
        "subtitle"
    );
    assert!(
        out.contains("float32: 96.7 %"),
        "the float line in the legend"
    );
    assert!(
        out.contains("int per tensor, 2–8 bits"),
        "the int family in the legend"
    );
    assert!(out.contains("current setting"));
    // The collapse at 2 bits (213 of 360, 59 %) is on the axis: it starts at 40 %.
    assert!(
        out.lines().any(|l| l.trim() == "40 %"),
        "the axis reaches below the collapse"
    );
    assert!(out.lines().any(|l| l.trim() == "100 %"));
    // At least some formats are named beside their squares.
    let named = ["nf4", "mxfp4", "nvfp4", "q4_0", "q4_1", "q4_K", "fp8-e4m3"]
        .iter()
        .filter(|f| out.lines().any(|l| l.trim() == **f))
        .count();
    assert!(named >= 3, "{named} formats named");
}

#[test]
fn settings_that_cannot_run_leave_no_ring_and_say_so() {
    let (m, rows) = sweep();
    let out = svg(&rows, m.float_accuracy(), None);
    assert!(out.contains("the current setting cannot quantize the network"));
    assert!(
        !out.lines().any(|l| l.trim() == "current setting"),
        "no ring in the legend"
    );
    // A non-finite mark is no mark either.
    let nan = AccuracyMark {
        bits_per_weight: f64::NAN,
        accuracy: 0.5,
    };
    assert!(svg(&rows, m.float_accuracy(), Some(nan)).contains("cannot quantize"));
}

#[test]
fn the_collapse_is_drawn_inside_the_plot() {
    let (m, rows) = sweep();
    register_native_font().unwrap();
    // Coloured pixels in the plot's lower half: the int line falling to 2 bits' 59 %, and the
    // legend's keys, which a chart of no rows has too.
    let coloured = |rows: &[SweepRow]| {
        let mut buf = vec![0u8; (W * H * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
            let mark = AccuracyMark {
                bits_per_weight: 4.5,
                accuracy: 0.96,
            };
            draw_accuracy(
                &root,
                rows,
                m.float_accuracy(),
                Some(mark),
                &Theme::default(),
            )
            .unwrap();
            root.present().unwrap();
        }
        coloured_in_plot(&buf, W, H, 3)
    };
    let (full, empty) = (coloured(&rows), coloured(&[]));
    assert!(
        full > empty + 150,
        "{full} coloured pixels with the sweep, {empty} without"
    );
}

#[test]
fn odd_rows_draw_without_panicking() {
    let (m, mut rows) = sweep();
    let theme = Theme::default();
    register_native_font().unwrap();
    // No rows, every row failed, a tiny canvas, dark mode at dpr 2.
    for (rows, size, theme) in [
        (Vec::new(), (W, H), theme),
        (
            rows.iter_mut()
                .map(|r| SweepRow {
                    point: r.point.clone(),
                    outcome: Err("cannot".into()),
                })
                .collect(),
            (W, H),
            theme,
        ),
        (rows.clone(), (60, 40), theme),
        (
            rows.clone(),
            (2 * W, 2 * H),
            Theme {
                dark: true,
                scale: 2.0,
            },
        ),
    ] {
        let mut out = String::new();
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        draw_accuracy(&root, &rows, m.float_accuracy(), None, &theme).unwrap();
        draw_accuracy(&root, &rows, f64::NAN, None, &theme).unwrap();
    }
}
