//! What every chart shares: the background and titles, the plotting area fitted to the canvas,
//! the mesh's style, and drawing elements (bars, dashed lines) through one call.

use super::*;
use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::Ranged;
use plotters::coord::Shift;
use plotters::element::{DashedPathElement, Drawable, DynElement, PointCollection};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{BackendCoord, DrawingErrorKind};
use std::borrow::Borrow;
use std::fmt;

/// A plotters error as the message a chart returns.
pub(crate) fn drawing<E: fmt::Display>(e: E) -> String {
    format!("drawing the chart failed: {e}")
}

/// One element of a chart in data coordinates, boxed. Every chart draws its series as a `Vec`
/// of these through [`draw_all`], so that plotters' generic series code is compiled once rather
/// than once per element and iterator type: that keeps the wasm small. Drawing is the same:
/// a boxed element draws exactly what the element itself draws.
pub(crate) type Element<DB> = DynElement<'static, DB, (f64, f64)>;

/// The chart type every chart draws on: both axes [`Ticked`].
pub(crate) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

/// A histogram's non-empty bins as filled bars from 0, each at least `least` tall so that a bin
/// of a few values still shows.
pub(crate) fn histogram_bars<DB: DrawingBackend>(
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
pub(crate) fn draw_all<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    elements: Vec<Element<DB>>,
) -> ChartResult {
    chart.draw_series(elements).map_err(drawing)?;
    Ok(())
}

/// `inner`, laid out in pixels, placed at the data point `at`: what plotters'
/// `EmptyElement::at(at) + inner` draws (`BoxedElement::draw`), but without the backend in its
/// type, which a boxed [`Element`] cannot have.
pub(crate) struct At<E> {
    pub(crate) at: (f64, f64),
    pub(crate) inner: E,
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
pub(crate) fn dashed<DB: DrawingBackend>(
    points: Vec<(f64, f64)>,
    dash: u32,
    gap: u32,
    style: ShapeStyle,
) -> Element<DB> {
    DashedPathElement::new(points, dash, gap, style).into_dyn()
}

/// Below this size (device pixels) a chart only fills its background: axes would not fit.
pub(crate) const MIN_WIDTH: u32 = 120;
pub(crate) const MIN_HEIGHT: u32 = 90;

/// Fills the background; `false` when the area is too small for anything else.
#[inline(never)]
pub(crate) fn begin<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
) -> Result<bool, String> {
    area.fill(&theme.background()).map_err(drawing)?;
    Ok(fits(area))
}

/// Whether `area` is large enough for a chart's axes (see [`MIN_WIDTH`], [`MIN_HEIGHT`]).
pub(crate) fn fits<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> bool {
    let (w, h) = area.dim_in_pixel();
    w >= MIN_WIDTH && h >= MIN_HEIGHT
}

/// The largest font size (up to `size`, down to 60% of it) at which `text` fits in `width`.
#[inline(never)]
pub(crate) fn fitted<DB: DrawingBackend>(
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
pub(crate) fn titles<DB: DrawingBackend>(
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
pub(crate) fn title_height(theme: &Theme) -> u32 {
    theme.px(44.0)
}

/// The chart builder every chart starts from: margins and label areas in device pixels.
#[inline(never)]
pub(crate) fn builder<'a, 'b, DB: DrawingBackend>(
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
pub(crate) fn style_mesh<'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend>(
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
