//! The legend: a key (a colour swatch or a line) and a label per series, laid out in rows
//! that fit the chart's width.

use super::*;
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// A chart's legend: one label and key per entry, in the order added, drawn in one box.
///
/// Ours rather than plotters' series labels: plotters' legend code turns the name
/// "sans-serif" into a font with `str::to_lowercase`, which links Unicode case tables (about
/// 17 KB) into the wasm. [`Legend::draw`] lays the box out exactly as plotters' does.
#[derive(Default)]
pub(crate) struct Legend {
    pub(crate) entries: Vec<(String, Key)>,
}

/// What a legend entry shows left of its label, at the entry's middle-left point.
#[derive(Clone, Copy)]
pub(crate) enum Key {
    /// A square of side `2 * s`: filled with the style's colour, or outlined.
    Square(ShapeStyle, i32),
    /// A line of length `l`.
    Line(ShapeStyle, i32),
    /// A dashed line of length `l`, dashes `dash` long with `gap` between them.
    Dashed(ShapeStyle, i32, u32, u32),
}

impl Legend {
    /// Adds an entry.
    pub(crate) fn add(&mut self, label: impl Into<String>, key: Key) {
        self.entries.push((label.into(), key));
    }

    /// Where the box goes at `position` in `area` (the chart's plotting area): `[x, y, w, h]`,
    /// its top-left corner, width and height in the area's pixels, and each label's measured
    /// height. plotters' layout (`SeriesLabelStyle::draw`) with our margins and font.
    #[inline(never)]
    pub(crate) fn layout<DB: DrawingBackend>(
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
    pub(crate) fn draw<DB: DrawingBackend>(
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
pub(crate) fn legend_line(y0: i32, i: usize, line: f64) -> i32 {
    (f64::from(y0) + i as f64 * line).round() as i32
}

/// A legend swatch: a filled square of `color`.
pub(crate) fn swatch(theme: &Theme, color: RGBAColor) -> Key {
    Key::Square(color.filled(), theme.off(5.0))
}

/// A legend line of `style`.
pub(crate) fn stroke(theme: &Theme, style: ShapeStyle) -> Key {
    Key::Line(style, theme.off(16.0))
}
