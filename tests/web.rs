#![cfg(target_arch = "wasm32")]
//! The chart functions in a real browser: each draws into a fresh `<canvas>` through
//! the page's backend (`quantviz::web::canvas`), and the test reads the pixels back to see that the data was drawn inside
//! the plot area (a data URL would exist even for a blank canvas).

mod common;
use common::coloured_in_plot;
use plotters::prelude::*;
use quantviz::analysis::Analysis;
use quantviz::charts::{draw_chart, ChartKind, Theme};
use quantviz::data::generate::{generate, Dataset};
use quantviz::data::presets::minmax_dataset;
use quantviz::settings::{DataSpec, QuantSettings};
use quantviz::web::canvas::PageCanvas;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

wasm_bindgen_test_configure!(run_in_browser);

/// A fresh canvas of `w` x `h` device pixels, not attached to the page.
fn canvas(w: u32, h: u32) -> HtmlCanvasElement {
    let document = web_sys::window()
        .expect("a window")
        .document()
        .expect("a document");
    let canvas: HtmlCanvasElement = document
        .create_element("canvas")
        .expect("a canvas element")
        .dyn_into()
        .expect("an HtmlCanvasElement");
    canvas.set_width(w);
    canvas.set_height(h);
    canvas
}

/// The canvas's pixels, RGBA.
fn pixels(canvas: &HtmlCanvasElement) -> Vec<u8> {
    let ctx: CanvasRenderingContext2d = canvas
        .get_context("2d")
        .expect("get_context")
        .expect("a 2d context")
        .dyn_into()
        .expect("a CanvasRenderingContext2d");
    ctx.get_image_data(0.0, 0.0, canvas.width() as f64, canvas.height() as f64)
        .expect("image data")
        .data()
        .0
}

/// Draws one chart into a fresh canvas and returns its pixels.
fn draw(
    kind: ChartKind,
    a: &Analysis,
    q: &QuantSettings,
    theme: &Theme,
    w: u32,
    h: u32,
) -> Vec<u8> {
    let c = canvas(w, h);
    let backend = PageCanvas::new(c.clone()).expect("a canvas backend");
    let root = backend.into_drawing_area();
    draw_chart(kind, &root, a, q, theme).unwrap_or_else(|e| panic!("{kind}: {e}"));
    root.present().expect("present");
    pixels(&c)
}

fn data_sets() -> Vec<(&'static str, Dataset)> {
    vec![
        (
            "normal",
            generate(&DataSpec {
                n: 2000,
                ..DataSpec::default()
            })
            .unwrap(),
        ),
        ("notebook", minmax_dataset()),
        (
            "constant",
            Dataset::from_values(vec![3.0; 20], "constant").unwrap(),
        ),
        (
            "outliers",
            generate(&DataSpec {
                n: 2000,
                outliers: 3,
                ..DataSpec::default()
            })
            .unwrap(),
        ),
    ]
}

fn check_every_chart(theme: Theme, w: u32, h: u32) {
    for (name, data) in data_sets() {
        let a = Analysis::new(data).unwrap();
        let q = QuantSettings::default();
        for kind in ChartKind::ALL {
            let px = draw(kind, &a, &q, &theme, w, h);
            assert_eq!(px.len(), (w * h * 4) as usize);
            // The chart filled its background (the top-left corner is never drawn over).
            let bg = theme.background();
            assert_eq!(&px[0..4], &[bg.0, bg.1, bg.2, 255], "{kind} on {name}");
            let n = coloured_in_plot(&px, w, h, 4);
            assert!(
                n > 150,
                "{kind} on {name} (dark {}): only {n} coloured pixels in the plot area",
                theme.dark
            );
        }
    }
}

#[wasm_bindgen_test]
fn every_chart_draws_its_data_on_a_light_canvas() {
    check_every_chart(Theme::default(), 600, 400);
}

#[wasm_bindgen_test]
fn every_chart_draws_its_data_on_a_dark_hidpi_canvas() {
    check_every_chart(
        Theme {
            dark: true,
            scale: 2.0,
        },
        1200,
        800,
    );
}

#[wasm_bindgen_test]
fn a_blank_canvas_has_no_coloured_pixels() {
    // The check above can fail: a canvas filled with the background alone has none.
    let c = canvas(600, 400);
    let root = PageCanvas::new(c.clone())
        .expect("a canvas backend")
        .into_drawing_area();
    root.fill(&Theme::default().background()).unwrap();
    root.present().unwrap();
    assert_eq!(coloured_in_plot(&pixels(&c), 600, 400, 4), 0);
}

#[wasm_bindgen_test]
fn a_tiny_canvas_draws_without_panicking() {
    let a = Analysis::new(minmax_dataset()).unwrap();
    for kind in ChartKind::ALL {
        let px = draw(
            kind,
            &a,
            &QuantSettings::default(),
            &Theme::default(),
            40,
            30,
        );
        assert_eq!(&px[0..4], &[255, 255, 255, 255], "{kind}");
    }
}

#[wasm_bindgen_test]
fn the_session_computes_the_sweep_when_its_chart_is_drawn() {
    use quantviz::web::canvas::Surface;
    use quantviz::web::Session;
    let (w, h) = (480, 320);
    // Draws `chart` of the session onto `c`; whether it drew.
    let draw_on = |s: &mut Session, chart: &str, c: &HtmlCanvasElement| {
        s.draw(chart, c.clone().unchecked_into::<Surface>(), 1.0, false)
            .is_ok()
    };
    let mut s = Session::new();
    assert!(s.update("n=5000&bits=4").is_ok());
    let count = s.sweep_count();
    // The first draw of the sweep's base computes the sweep (update leaves it out).
    let base = canvas(w, h);
    assert!(
        draw_on(&mut s, "sweep-base", &base),
        "the sweep's base is drawn"
    );
    assert!(
        coloured_in_plot(&pixels(&base), w, h, 4) > 100,
        "with its lines"
    );
    // A Bits change keeps the sweep (and its count), so the page keeps the base it drew.
    assert!(s.update("n=5000&bits=6").is_ok());
    assert_eq!(s.sweep_count(), count);
    assert!(draw_on(&mut s, "sweep-marker", &base));
    // A new zero point or new data is a new sweep, computed on the next draw.
    assert!(s.update("n=5000&bits=6&zero_point=include-zero").is_ok());
    assert_ne!(s.sweep_count(), count);
    let count = s.sweep_count();
    assert!(s.update("n=6000&bits=6&zero_point=include-zero").is_ok());
    assert_ne!(s.sweep_count(), count);
    let whole = canvas(w, h);
    assert!(draw_on(&mut s, "sweep", &whole));
    assert!(coloured_in_plot(&pixels(&whole), w, h, 4) > 100);
    // Values 8 bits can scale but the sweep's 2 bits cannot (symmetric clips at -2·1e308): the
    // update fails at once, as when it made the sweep, and the session keeps its state.
    let count = s.sweep_count();
    assert!(s.load(b"1e308\n1\n-3\n", "far.txt", "bits=8").is_err());
    assert_eq!(s.sweep_count(), count);
    let kept = canvas(w, h);
    assert!(draw_on(&mut s, "sweep", &kept));
    assert!(coloured_in_plot(&pixels(&kept), w, h, 4) > 100);
}
