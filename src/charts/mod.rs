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

mod compare;
mod errors;
#[cfg(not(target_arch = "wasm32"))]
mod export;
mod histogram;
mod mapping;
mod sweep;

pub use compare::draw_compare;
pub use errors::draw_error;
#[cfg(not(target_arch = "wasm32"))]
pub use export::{
    register_native_font, render_png, render_png_themed, render_svg, render_svg_themed,
};
pub use histogram::draw_histogram;
pub use mapping::draw_mapping;
pub use sweep::{draw_sweep, draw_sweep_part, SweepPart};

use crate::analysis::Analysis;
use crate::settings::{Calibration, QuantSettings, Scheme};
use plotters::chart::{MeshStyle, SeriesLabelPosition};
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::{DashedPathElement, Drawable, DynElement, PointCollection};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{BackendCoord, DrawingErrorKind};
use std::borrow::Borrow;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// How to draw: light or dark colours, and the device pixel ratio that sizes text and lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theme {
    /// Dark background with light ink (the page's `prefers-color-scheme: dark`).
    pub dark: bool,
    /// devicePixelRatio: font sizes, stroke widths and margins are multiplied by it.
    pub scale: f64,
}

/// What a chart function returns: `Err` with a message instead of a panic.
pub type ChartResult = Result<(), String>;

impl Default for Theme {
    fn default() -> Self {
        Theme {
            dark: false,
            scale: 1.0,
        }
    }
}

impl Theme {
    /// The background colour every chart fills first.
    pub fn background(&self) -> RGBColor {
        if self.dark {
            RGBColor(0x15, 0x18, 0x1e)
        } else {
            WHITE
        }
    }

    /// The scale, kept finite and within 0.25..=8 so that a bad ratio cannot blow up sizes.
    fn ratio(&self) -> f64 {
        if self.scale.is_finite() {
            self.scale.clamp(0.25, 8.0)
        } else {
            1.0
        }
    }

    /// `v` CSS pixels in device pixels, at least 1.
    fn px(&self, v: f64) -> u32 {
        (v * self.ratio()).round().max(1.0) as u32
    }

    /// `v` CSS pixels in device pixels, signed (for offsets).
    fn off(&self, v: f64) -> i32 {
        (v * self.ratio()).round() as i32
    }

    /// A sans-serif font of `size` CSS pixels in `color`.
    fn font(&self, size: f64, color: RGBColor) -> TextStyle<'static> {
        FontDesc::new(
            FontFamily::SansSerif,
            size * self.ratio(),
            FontStyle::Normal,
        )
        .color(&color)
    }

    /// The colours of this theme.
    fn palette(&self) -> Palette {
        if self.dark {
            Palette {
                bg: self.background(),
                ink: RGBColor(0xe6, 0xed, 0xf3),
                muted: RGBColor(0x9d, 0xa7, 0xb3),
                grid: RGBColor(0x2d, 0x33, 0x3b),
                original: RGBColor(0x6c, 0xa8, 0xe8),
                dequantized: RGBColor(0xff, 0xa6, 0x57),
                clip: RGBColor(0xff, 0x7b, 0x72),
                zero: RGBColor(0x56, 0xd3, 0x64),
                error: RGBColor(0xc2, 0x97, 0xff),
                calibration: [
                    RGBColor(0x6c, 0xa8, 0xe8),
                    RGBColor(0xff, 0xa6, 0x57),
                    RGBColor(0x56, 0xd3, 0x64),
                ],
            }
        } else {
            Palette {
                bg: self.background(),
                ink: RGBColor(0x1f, 0x23, 0x28),
                muted: RGBColor(0x5c, 0x66, 0x70),
                grid: RGBColor(0xe3, 0xe6, 0xea),
                original: RGBColor(0x3a, 0x75, 0xc4),
                dequantized: RGBColor(0xe0, 0x6c, 0x00),
                clip: RGBColor(0xd0, 0x21, 0x2a),
                zero: RGBColor(0x1e, 0x8e, 0x3e),
                error: RGBColor(0x86, 0x3b, 0xc4),
                calibration: [
                    RGBColor(0x3a, 0x75, 0xc4),
                    RGBColor(0xe0, 0x6c, 0x00),
                    RGBColor(0x1e, 0x8e, 0x3e),
                ],
            }
        }
    }
}

/// The colours of one theme: ink for text, one colour per idea.
#[derive(Debug, Clone, Copy)]
struct Palette {
    bg: RGBColor,
    ink: RGBColor,
    muted: RGBColor,
    grid: RGBColor,
    original: RGBColor,
    dequantized: RGBColor,
    clip: RGBColor,
    zero: RGBColor,
    error: RGBColor,
    /// min-max, percentile, mse.
    calibration: [RGBColor; 3],
}

impl Palette {
    /// The colour of a calibration (the same in the compare and the sweep charts).
    fn of_calibration(&self, c: &Calibration) -> RGBColor {
        match c {
            Calibration::MinMax => self.calibration[0],
            Calibration::Percentile(_) => self.calibration[1],
            Calibration::Mse => self.calibration[2],
        }
    }
}

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

/// A plotters error as the message a chart returns.
fn drawing<E: fmt::Display>(e: E) -> String {
    format!("drawing the chart failed: {e}")
}

/// One element of a chart in data coordinates, boxed. Every chart draws its series as a `Vec`
/// of these through [`draw_all`], so that plotters' generic series code is compiled once rather
/// than once per element and iterator type: that keeps the wasm small. Drawing is the same:
/// a boxed element draws exactly what the element itself draws.
type Element<DB> = DynElement<'static, DB, (f64, f64)>;

/// The chart type every chart draws on: both axes [`Ticked`].
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

/// A histogram's non-empty bins as filled bars from 0, each at least `least` tall so that a bin
/// of a few values still shows.
fn histogram_bars<DB: DrawingBackend>(
    h: &crate::analysis::histogram::Histogram,
    least: f64,
    color: RGBAColor,
) -> Vec<Element<DB>> {
    h.counts
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(i, &c)| {
            let top = (c as f64).max(least);
            Rectangle::new([(h.edge(i), 0.0), (h.edge(i + 1), top)], color.filled()).into_dyn()
        })
        .collect()
}

/// Draws `elements` in order on the chart's plotting area.
#[inline(never)]
fn draw_all<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    elements: Vec<Element<DB>>,
) -> ChartResult {
    chart.draw_series(elements).map_err(drawing)?;
    Ok(())
}

/// `inner`, laid out in pixels, placed at the data point `at`: what plotters'
/// `EmptyElement::at(at) + inner` draws (`BoxedElement::draw`), but without the backend in its
/// type, which a boxed [`Element`] cannot have.
struct At<E> {
    at: (f64, f64),
    inner: E,
}

impl<'b, E> PointCollection<'b, (f64, f64)> for &'b At<E> {
    type Point = &'b (f64, f64);
    type IntoIter = std::iter::Once<&'b (f64, f64)>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<DB: DrawingBackend, E: Drawable<DB>> Drawable<DB> for At<E>
where
    for<'a> &'a E: PointCollection<'a, BackendCoord>,
{
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        parent_dim: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        if let Some((x0, y0)) = pos.next() {
            let shifted = self.inner.point_iter().into_iter().map(|p| {
                let p = p.borrow();
                (p.0 + x0, p.1 + y0)
            });
            self.inner.draw(shifted, backend, parent_dim)?;
        }
        Ok(())
    }
}

/// A dashed polyline through `points` in `style`: dashes `dash` long, `gap` between them.
#[inline(never)]
fn dashed<DB: DrawingBackend>(
    points: Vec<(f64, f64)>,
    dash: u32,
    gap: u32,
    style: ShapeStyle,
) -> Element<DB> {
    DashedPathElement::new(points, dash, gap, style).into_dyn()
}

/// Below this size (device pixels) a chart only fills its background: axes would not fit.
const MIN_WIDTH: u32 = 120;
const MIN_HEIGHT: u32 = 90;

/// Fills the background; `false` when the area is too small for anything else.
#[inline(never)]
fn begin<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, theme: &Theme) -> Result<bool, String> {
    area.fill(&theme.background()).map_err(drawing)?;
    Ok(fits(area))
}

/// Whether `area` is large enough for a chart's axes (see [`MIN_WIDTH`], [`MIN_HEIGHT`]).
fn fits<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> bool {
    let (w, h) = area.dim_in_pixel();
    w >= MIN_WIDTH && h >= MIN_HEIGHT
}

/// The largest font size (up to `size`, down to 60% of it) at which `text` fits in `width`.
#[inline(never)]
fn fitted<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    text: &str,
    size: f64,
    color: RGBColor,
    width: u32,
) -> TextStyle<'static> {
    let style = theme.font(size, color);
    match area.estimate_text_size(text, &style) {
        Ok((w, _)) if w > width && w > 0 => {
            let shrunk = (size * width as f64 / w as f64).max(size * 0.6);
            theme.font(shrunk, color)
        }
        _ => style,
    }
}

/// Draws a title and a muted subtitle at the top and returns the area below them.
#[inline(never)]
fn titles<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    let pal = theme.palette();
    let (w, _) = area.dim_in_pixel();
    let room = w.saturating_sub(theme.px(16.0));
    let (top, rest) = area.split_vertically(title_height(theme));
    let centre = (w / 2) as i32;
    let t = fitted(&top, theme, title, 15.0, pal.ink, room).pos(Pos::new(HPos::Center, VPos::Top));
    top.draw_text(title, &t, (centre, theme.off(6.0)))
        .map_err(drawing)?;
    let s =
        fitted(&top, theme, subtitle, 11.5, pal.muted, room).pos(Pos::new(HPos::Center, VPos::Top));
    top.draw_text(subtitle, &s, (centre, theme.off(26.0)))
        .map_err(drawing)?;
    Ok(rest)
}

/// The height of the title and subtitle above every chart, in device pixels.
fn title_height(theme: &Theme) -> u32 {
    theme.px(44.0)
}

/// The chart builder every chart starts from: margins and label areas in device pixels.
#[inline(never)]
fn builder<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    theme: &Theme,
    right: f64,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    b.margin_top(theme.px(4.0))
        .margin_left(theme.px(8.0))
        .margin_bottom(theme.px(6.0))
        .margin_right(theme.px(right))
        .x_label_area_size(theme.px(40.0))
        .y_label_area_size(theme.px(62.0));
    b
}

/// Grid, axes, tick labels and axis descriptions in the theme's colours and sizes.
#[inline(never)]
fn style_mesh<'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend>(
    mesh: &mut MeshStyle<'a, 'b, X, Y, DB>,
    theme: &Theme,
    x_desc: &str,
    y_desc: &str,
) {
    let pal = theme.palette();
    mesh.bold_line_style(pal.grid.stroke_width(theme.px(1.0)))
        .light_line_style(TRANSPARENT)
        .max_light_lines(0)
        .axis_style(pal.muted.stroke_width(theme.px(1.0)))
        .label_style(theme.font(11.0, pal.ink))
        .axis_desc_style(theme.font(12.0, pal.ink))
        .set_all_tick_mark_size(theme.px(4.0))
        .x_desc(x_desc)
        .y_desc(y_desc);
}

/// A chart's legend: one label and key per entry, in the order added, drawn in one box.
///
/// Ours rather than plotters' series labels: plotters' legend code turns the name
/// "sans-serif" into a font with `str::to_lowercase`, which links Unicode case tables (about
/// 17 KB) into the wasm. [`Legend::draw`] lays the box out exactly as plotters' does.
#[derive(Default)]
struct Legend {
    entries: Vec<(String, Key)>,
}

/// What a legend entry shows left of its label, at the entry's middle-left point.
#[derive(Clone, Copy)]
enum Key {
    /// A square of side `2 * s`: filled with the style's colour, or outlined.
    Square(ShapeStyle, i32),
    /// A line of length `l`.
    Line(ShapeStyle, i32),
    /// A dashed line of length `l`, dashes `dash` long with `gap` between them.
    Dashed(ShapeStyle, i32, u32, u32),
}

impl Legend {
    /// Adds an entry.
    fn add(&mut self, label: impl Into<String>, key: Key) {
        self.entries.push((label.into(), key));
    }

    /// Where the box goes at `position` in `area` (the chart's plotting area): `[x, y, w, h]`,
    /// its top-left corner, width and height in the area's pixels, and each label's measured
    /// height. plotters' layout (`SeriesLabelStyle::draw`) with our margins and font.
    #[inline(never)]
    fn layout<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        theme: &Theme,
        position: SeriesLabelPosition,
    ) -> Result<([i32; 4], Vec<i32>), String> {
        let margin = theme.px(6.0) as i32;
        let key_size = theme.px(22.0) as i32;
        let font = theme.font(10.5, theme.palette().ink);
        // plotters' MultiLineText layout (lines 1.25 font sizes apart, each as tall as it
        // measures), but measured through the drawing backend: the page's canvas answers with
        // measureText (`crate::web::canvas`), where plotters' own font code lays out the page.
        let line = font.font.get_size() * 1.25;
        let mut heights = Vec::with_capacity(self.entries.len());
        let (mut w, mut h) = (0i32, 0i32);
        for (i, (label, _)) in self.entries.iter().enumerate() {
            let (dx, dy) = area.estimate_text_size(label, &font).map_err(drawing)?;
            w = w.max(dx as i32);
            h = h.max(legend_line(0, i, line) + dy as i32);
            heights.push(dy as i32);
        }
        let (w, h) = (w + key_size + 2 * margin, h + 2 * margin);
        let (area_w, area_h) = area.dim_in_pixel();
        let (area_w, area_h) = (area_w as i32, area_h as i32);
        let x = match position {
            SeriesLabelPosition::UpperRight => area_w - w - 5,
            _ => 5,
        };
        let y = match position {
            SeriesLabelPosition::LowerLeft => area_h - h - 5,
            _ => 5,
        };
        Ok(([x, y, w, h], heights))
    }

    /// Draws the box at `position` in `area` (the chart's plotting area) in the theme's
    /// colours, where [`Legend::layout`] puts it.
    #[inline(never)]
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        theme: &Theme,
        position: SeriesLabelPosition,
    ) -> ChartResult {
        let pal = theme.palette();
        let margin = theme.px(6.0) as i32;
        let key_size = theme.px(22.0) as i32;
        let font = theme.font(10.5, pal.ink);
        let line = font.font.get_size() * 1.25;
        let at = |y0: i32, i: usize| legend_line(y0, i, line);
        let ([x, y, w, h], heights) = self.layout(area, theme, position)?;
        let corners = [(x, y), (x + w, y + h)];
        let background = ShapeStyle::from(pal.bg.mix(0.88)).filled();
        area.draw(&Rectangle::new(corners, background))
            .map_err(drawing)?;
        let border = pal.muted.stroke_width(theme.px(1.0));
        area.draw(&Rectangle::new(corners, border))
            .map_err(drawing)?;
        for (i, (label, _)) in self.entries.iter().enumerate() {
            let at_line = (x + key_size + margin, at(y + margin, i));
            area.draw_text(label, &font, at_line).map_err(drawing)?;
        }
        for (i, ((_, key), dy)) in self.entries.iter().zip(heights).enumerate() {
            let y0 = at(y + margin, i);
            let (kx, ky) = (x + margin, (y0 + y0 + dy) / 2);
            match *key {
                Key::Square(style, s) => {
                    area.draw(&Rectangle::new([(kx, ky - s), (kx + 2 * s, ky + s)], style))
                }
                Key::Line(style, l) => {
                    area.draw(&PathElement::new(vec![(kx, ky), (kx + l, ky)], style))
                }
                Key::Dashed(style, l, dash, gap) => area.draw(&DashedPathElement::new(
                    vec![(kx, ky), (kx + l, ky)],
                    dash,
                    gap,
                    style,
                )),
            }
            .map_err(drawing)?;
        }
        Ok(())
    }
}

/// The top of a legend's entry `i` below `y0`, entries `line` apart (plotters' layout).
fn legend_line(y0: i32, i: usize, line: f64) -> i32 {
    (f64::from(y0) + i as f64 * line).round() as i32
}

/// A legend swatch: a filled square of `color`.
fn swatch(theme: &Theme, color: RGBAColor) -> Key {
    Key::Square(color.filled(), theme.off(5.0))
}

/// A legend line of `style`.
fn stroke(theme: &Theme, style: ShapeStyle) -> Key {
    Key::Line(style, theme.off(16.0))
}

/// A linear axis whose ticks (and grid lines) are exactly the given values, or, made with
/// [`Ticked::auto`], plotters' own key points. Every chart uses this one axis type for both
/// axes, so that plotters' generic chart code (builder, mesh, legend, drawing) is compiled once
/// instead of once per coordinate combination: that keeps the wasm small.
#[derive(Clone)]
struct Ticked {
    inner: RangedCoordf64,
    ticks: Option<Vec<f64>>,
}

impl Ticked {
    /// The axis over `range` with ticks at `ticks`.
    fn new(range: Range<f64>, ticks: Vec<f64>) -> Ticked {
        Ticked {
            inner: range.into(),
            ticks: Some(ticks),
        }
    }

    /// The axis over `range` with plotters' key points (as a plain `Range<f64>` axis has).
    fn auto(range: Range<f64>) -> Ticked {
        Ticked {
            inner: range.into(),
            ticks: None,
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(v, limit)
    }
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        match &self.ticks {
            None => key_points(self.inner.range(), hint.max_num_points()),
            Some(_) if hint.weight().allow_light_points() => Vec::new(),
            Some(ticks) => ticks.clone(),
        }
    }
    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// The key points of a linear axis over `range`, at most `max_points` of them: plotters'
/// own for an `f64` range (`compute_f64_key_points` in plotters 0.3.7, MIT licensed), ported
/// line for line with two changes. Its `10f64.powf` and `f64::log` are libm's in the wasm: std's
/// are a second copy of the same functions there (compiler_builtins'), about 2.8 KB, which
/// nothing else needs. And a NaN end gives no key points where plotters' asserts.
pub fn key_points(range: Range<f64>, max_points: usize) -> Vec<f64> {
    if max_points == 0 {
        return vec![];
    }
    let range = (range.start.min(range.end), range.end.max(range.start));
    if range.0.is_nan() || range.1.is_nan() {
        return vec![];
    }
    if (range.0 - range.1).abs() < f64::EPSILON {
        return vec![range.0];
    }
    let mut scale = pow10_floor_log10(range.1 - range.0);
    // The value granularity controls how values are rounded: to a multiple of it, 1/10 of
    // the scale at first, so that no key point reads like 1.00000000001.
    let mut value_granularity = scale / 10.0;
    fn rem_euclid(a: f64, b: f64) -> f64 {
        let ret = if b > 0.0 {
            a - (a / b).floor() * b
        } else {
            a - (a / b).ceil() * b
        };
        if (ret - b).abs() < f64::EPSILON {
            0.0
        } else {
            ret
        }
    }
    // The loop's invariant: the scale yields no more points than requested.
    if 1 + ((range.1 - range.0) / scale).floor() as usize > max_points {
        scale *= 10.0;
        value_granularity *= 10.0;
    }
    'outer: loop {
        let old_scale = scale;
        for nxt in [2.0, 5.0, 10.0] {
            let mut new_left = range.0 - rem_euclid(range.0, old_scale / nxt);
            if new_left < range.0 {
                new_left += old_scale / nxt;
            }
            let new_right = range.1 - rem_euclid(range.1, old_scale / nxt);
            let npoints = 1.0 + ((new_right - new_left) / old_scale * nxt);
            if npoints.round() as usize > max_points {
                break 'outer;
            }
            scale = old_scale / nxt;
        }
        scale = old_scale / 10.0;
        value_granularity /= 10.0;
    }
    let mut ret = vec![];
    // Left as a base plus a relative part: when left is so large that (left + scale) - left
    // is 0, a single variable would loop forever.
    let left = {
        let mut value = range.0 - rem_euclid(range.0, scale);
        if value < range.0 {
            value += scale;
        }
        value
    };
    let left_base = (left / value_granularity).floor() * value_granularity;
    let mut left_relative = left - left_base;
    let right = range.1 - rem_euclid(range.1, scale);
    while (right - left_relative - left_base) >= -f64::EPSILON {
        let new_left_relative = (left_relative / value_granularity).round() * value_granularity;
        if new_left_relative < 0.0 {
            left_relative += value_granularity;
        }
        ret.push(left_relative + left_base);
        left_relative += scale;
    }
    ret
}

/// `10^floor(log10(w))` as plotters computes it: `10f64.powf(w.log(10.0).floor())`, where
/// `w.log(10.0)` is `w.ln() / 10f64.ln()`. In the wasm through libm, natively through std (the
/// platform's libm, as plotters' own code), so that native charts keep every tick.
fn pow10_floor_log10(w: f64) -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        libm::pow(10.0, (libm::log(w) / libm::log(10.0)).floor())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        10f64.powf(w.log(10.0).floor())
    }
}

/// The labels of an axis that has no formatter of its own. Every drawn axis sets one; plotters
/// still formats the key points of the secondary x axis (which has no label area, so nothing
/// is drawn).
impl ValueFormatter<f64> for Ticked {
    fn format(v: &f64) -> String {
        num(*v)
    }
}

/// A finite, non-empty range: `[lo, hi]` when sensible, else padded or `[-1, 1]`.
///
/// A range narrower than about 1e-9 of its magnitude is widened, so that tick labels stay
/// distinct and plotters' key-point search has something to work with.
#[inline(never)]
fn span(lo: f64, hi: f64) -> Range<f64> {
    let (lo, hi) = match (lo.is_finite(), hi.is_finite()) {
        (true, true) => (lo.min(hi), lo.max(hi)),
        (true, false) => (lo, lo),
        (false, true) => (hi, hi),
        (false, false) => (-1.0, 1.0),
    };
    let mag = lo.abs().max(hi.abs());
    let min_width = (mag * 1e-9).max(1e-300);
    if hi - lo >= min_width && (hi - lo).is_finite() {
        return lo..hi;
    }
    if (hi - lo).is_finite() {
        let c = lo / 2.0 + hi / 2.0;
        let pad = if c == 0.0 { 1.0 } else { c.abs() * 0.5 };
        (c - pad)..(c + pad)
    } else {
        // max - min overflows: keep the halves, which are finite.
        (lo / 2.0)..(hi / 2.0)
    }
}

/// `r` widened by `frac` of its width on each side.
#[inline(never)]
fn pad(r: Range<f64>, frac: f64) -> Range<f64> {
    let w = r.end - r.start;
    let p = if (w * frac).is_finite() {
        w * frac
    } else {
        0.0
    };
    span(r.start - p, r.end + p)
}

/// The smallest range holding all finite `xs` (`[-1, 1]` if there are none).
#[inline(never)]
fn hull(xs: impl IntoIterator<Item = f64>) -> Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in xs.into_iter().filter(|x| x.is_finite()) {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    span(lo, hi)
}

/// Ticks for a count axis `[0, max]`: about `n` of them, whole numbers, steps of 1, 2 or 5
/// times a power of ten.
#[inline(never)]
fn count_ticks(max: f64, n: usize) -> Vec<f64> {
    if !(max.is_finite() && max > 0.0) {
        return vec![0.0];
    }
    let raw = (max / n.max(1) as f64).max(1.0);
    let pow = libm::pow(10.0, raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * pow);
    (0..=n * 3)
        .map(|i| i as f64 * step)
        .take_while(|t| *t <= max)
        .collect()
}

/// The height in data units of `px` CSS pixels on a y axis of `span` over `height` device
/// pixels: bars with a count are never thinner than this, so that a lone outlier shows.
fn min_bar(span: f64, height: u32, theme: &Theme, px: f64) -> f64 {
    span * theme.px(px) as f64 / height.max(1) as f64
}

/// A number for a label or legend: 4 significant digits, exponent form when very large or small.
#[inline(never)]
fn num(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "n/a".to_string()
        } else if v > 0.0 {
            "inf".to_string()
        } else {
            "-inf".to_string()
        };
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        let s = format!("{v:.3e}");
        // 1.500e-4 -> 1.5e-4
        match s.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                let m = m.trim_end_matches('0').trim_end_matches('.');
                format!("{m}e{e}")
            }
            _ => s,
        }
    } else {
        let digits = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// A tick label for a linear axis over `r`: as many decimals as the tick spacing needs.
#[inline(never)]
fn tick(v: f64, r: &Range<f64>) -> String {
    let w = r.end - r.start;
    let mag = r.start.abs().max(r.end.abs());
    if v == 0.0 || v.abs() < w * 1e-9 {
        return "0".to_string();
    }
    if !(1e-3..1e6).contains(&mag) || !w.is_finite() || w <= 0.0 {
        return num(v);
    }
    // Ticks are about w / 10 apart; show one digit of that spacing.
    let step = w / 10.0;
    let decimals = (-(step.log10().floor()) as i32).clamp(0, 8) as usize;
    format!("{v:.decimals$}")
}

/// A count for an axis: `950`, `12k`, `1.2M`.
#[inline(never)]
fn count(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", num(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", num(v / 1e3))
    } else {
        format!("{}", v.round())
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

/// A log10 axis for MSE: whole decades from below the smallest positive value to above the
/// largest, so that bars and lines have room; 0 (exact) sits on the floor.
#[derive(Debug, Clone, Copy)]
struct LogAxis {
    lo: f64,
    hi: f64,
}

impl LogAxis {
    /// The axis for the positive finite values among `vs` (a default decade span if none).
    #[inline(never)]
    fn of(vs: impl IntoIterator<Item = f64>) -> LogAxis {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in vs.into_iter().filter(|v| v.is_finite() && *v > 0.0) {
            let l = v.log10();
            lo = lo.min(l);
            hi = hi.max(l);
        }
        if !lo.is_finite() {
            return LogAxis { lo: -2.0, hi: 1.0 };
        }
        LogAxis {
            lo: lo.floor() - 1.0,
            hi: (hi + 0.6).ceil(),
        }
    }

    /// Where `v` sits: `log10(v)`, or the floor for 0, negative and non-finite values.
    fn y(&self, v: f64) -> f64 {
        if v.is_finite() && v > 0.0 {
            v.log10().clamp(self.lo, self.hi)
        } else {
            self.lo
        }
    }

    /// The range of the axis.
    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }

    /// A tick label: the decade, or "exact" for the floor when some value is 0 (drawn there).
    fn label(&self, v: f64, has_zero: bool) -> String {
        if has_zero && (v - self.lo).abs() < 1e-9 {
            "exact".to_string()
        } else {
            decade(v)
        }
    }

    /// Whole decades, at most about `max` of them.
    fn decades(&self, max: usize) -> Vec<f64> {
        let n = (self.hi - self.lo).max(1.0);
        let step = (n / max.max(1) as f64).ceil().max(1.0);
        let mut out = Vec::new();
        let mut d = self.lo.ceil();
        while d <= self.hi && out.len() < 64 {
            out.push(d);
            d += step;
        }
        out
    }
}

/// A decade as a tick label: `1e-4`, `0.01`, `1`, `100`, `1e4`.
#[inline(never)]
fn decade(v: f64) -> String {
    let k = v.round() as i32;
    match k {
        -2..=3 => num(10f64.powi(k)),
        _ => format!("1e{k}"),
    }
}

/// SQNR as a bar label: `48.2 dB`, or `exact` for an infinite SQNR.
#[inline(never)]
fn sqnr_label(db: f64) -> String {
    if db == f64::INFINITY {
        "exact".to_string()
    } else if db.is_finite() {
        format!("{db:.1} dB")
    } else {
        "n/a".to_string()
    }
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
