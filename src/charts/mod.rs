//! Views: charts drawn by plotters onto any `DrawingBackend` (the page's canvas, SVG, PNG).
//!
//! Each chart is one function, generic over the backend, that draws fields the analysis already
//! computed ([`View`](crate::analysis::View), [`Run`](crate::analysis::Run),
//! [`Sweep`](crate::analysis::Sweep)); it measures nothing itself. Every chart fills its
//! background, scales text, strokes and margins by [`Theme::scale`] (the canvas's
//! devicePixelRatio) and returns `Err` rather than panicking on odd input: constant data, one
//! value, an MSE of 0, non-finite numbers.
//!
//! Helpers that several charts call are `#[inline(never)]`: drawing is cold, and a copy of each
//! helper inlined into every chart only makes the wasm bigger.

mod accuracy;
mod blocks;
mod compare;
mod errors;
#[cfg(not(target_arch = "wasm32"))]
mod export;
mod formats;
mod heatmap;
mod histogram;
mod kl;
mod mapping;
mod rotation;
mod sweep;

pub use accuracy::{draw_accuracy, AccuracyMark};
pub use blocks::{draw_blocks, draw_blocks_chart};
pub use compare::draw_compare;
pub use errors::draw_error;
#[cfg(not(target_arch = "wasm32"))]
pub use export::{
    png_with, register_native_font, render_png, render_png_themed, render_svg, render_svg_themed,
    svg_with,
};
pub use formats::{draw_formats, Choice};
pub use heatmap::{draw_heatmap, draw_scales, HeatGrid, HeatPlot, HeatValue, Reduce};
pub use histogram::{draw_format_histogram, draw_histogram};
pub use kl::draw_kl;
pub use mapping::draw_mapping;
pub use rotation::draw_rotation;
pub use sweep::{draw_sweep, draw_sweep_part, SweepPart};
mod axis;
mod frame;
mod legend;
mod theme;

use crate::analysis::Analysis;
use crate::settings::{Calibration, QuantSettings, Scheme};
pub use axis::key_points;
use axis::*;
use frame::*;
use legend::*;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt;
use std::str::FromStr;
pub use theme::{ChartResult, Theme};

/// One of the five charts, by the name the CLI and the page use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChartKind {
    /// Original values overlaid with the dequantized values, clip range and levels.
    Histogram,
    /// Histogram of the error `x - x̂`.
    Error,
    /// MSE and SQNR of every scheme and calibration.
    Compare,
    /// The staircase `x -> x̂`.
    Mapping,
    /// MSE against bit width.
    Sweep,
}

impl ChartKind {
    /// All five, in the page's order.
    pub const ALL: [ChartKind; 5] = [
        ChartKind::Histogram,
        ChartKind::Error,
        ChartKind::Compare,
        ChartKind::Mapping,
        ChartKind::Sweep,
    ];

    /// The name: `histogram`, `error`, `compare`, `mapping`, `sweep`.
    pub fn name(&self) -> &'static str {
        match self {
            ChartKind::Histogram => "histogram",
            ChartKind::Error => "error",
            ChartKind::Compare => "compare",
            ChartKind::Mapping => "mapping",
            ChartKind::Sweep => "sweep",
        }
    }
}

impl FromStr for ChartKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        ChartKind::ALL
            .into_iter()
            .find(|k| k.name() == t)
            .ok_or_else(|| {
                format!("unknown chart '{s}': expected histogram, error, compare, mapping or sweep")
            })
    }
}

impl fmt::Display for ChartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Computes what one chart needs from the analysis (view, compare or sweep) and draws it.
pub fn draw_chart<DB: DrawingBackend>(
    kind: ChartKind,
    area: &DrawingArea<DB, Shift>,
    analysis: &Analysis,
    q: &QuantSettings,
    theme: &Theme,
) -> ChartResult {
    let fail = |e: crate::Error| format!("cannot draw the {kind} chart: {e}");
    match kind {
        ChartKind::Histogram => draw_histogram(area, &analysis.view(q).map_err(fail)?, theme),
        ChartKind::Error => draw_error(area, &analysis.view(q).map_err(fail)?, theme),
        ChartKind::Mapping => draw_mapping(area, &analysis.view(q).map_err(fail)?, theme),
        ChartKind::Compare => draw_compare(area, &analysis.compare(q).map_err(fail)?, q, theme),
        ChartKind::Sweep => draw_sweep(area, &analysis.sweep(q).map_err(fail)?, q, theme),
    }
}

/// A short name for a scheme and calibration, as legends and axis labels show it.
#[inline(never)]
fn setting_label(scheme: Scheme, calibration: &Calibration) -> String {
    let s = match scheme {
        Scheme::Asymmetric => "asym",
        Scheme::Symmetric => "sym",
    };
    format!("{s} {}", calibration.label())
}

/// The settings in one line: `8-bit asymmetric min-max`.
#[inline(never)]
fn settings_line(q: &QuantSettings) -> String {
    format!("{}-bit {}", q.bits, method_line(q))
}

/// The scheme and calibration: `asymmetric min-max`.
fn method_line(q: &QuantSettings) -> String {
    format!("{} {}", q.scheme, q.calibration.label())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_finite_and_non_empty() {
        for (lo, hi) in [
            (0.0, 0.0),
            (3.0, 3.0),
            (f64::NAN, 1.0),
            (f64::NEG_INFINITY, f64::INFINITY),
            (-f64::MAX, f64::MAX),
            (1e10, 1e10 + 1e-6),
        ] {
            let r = span(lo, hi);
            assert!(r.start.is_finite() && r.end.is_finite(), "{lo} {hi}");
            assert!(r.end > r.start, "{lo} {hi}");
            assert!((r.end - r.start).is_finite(), "{lo} {hi}");
        }
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(0.7617254901960785), "0.7617");
        assert_eq!(num(62.0), "62");
        assert_eq!(num(1.5e-4), "1.5e-4");
        assert_eq!(num(0.0), "0");
        assert_eq!(count(12_345.0), "12.35k");
        assert_eq!(decade(-4.0), "1e-4");
        assert_eq!(decade(2.0), "100");
        assert_eq!(sqnr_label(f64::INFINITY), "exact");
    }

    #[test]
    fn count_ticks_are_whole_and_nice() {
        assert_eq!(count_ticks(3.5, 5), vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(count_ticks(1400.0, 5), vec![0.0, 500.0, 1000.0]);
        assert_eq!(count_ticks(0.0, 5), vec![0.0]);
        assert_eq!(count_ticks(f64::NAN, 5), vec![0.0]);
    }

    #[test]
    fn log_axis_puts_zero_on_the_floor() {
        let a = LogAxis::of([0.0, 1e-4, 1e-2]);
        assert_eq!(a.lo, -5.0);
        assert!(a.hi >= -1.0);
        assert_eq!(a.y(0.0), a.lo);
        assert_eq!(a.y(1e-4), -4.0);
        let none = LogAxis::of([0.0, f64::NAN]);
        assert!(none.hi > none.lo);
    }

    #[test]
    fn chart_kinds_round_trip() {
        for k in ChartKind::ALL {
            assert_eq!(k.to_string().parse::<ChartKind>(), Ok(k));
        }
        assert!("pie"
            .parse::<ChartKind>()
            .unwrap_err()
            .contains("histogram"));
    }
}
