//! The 2-D tensor as a heatmap (|x| or the error, rows by columns, downsampled to the plot's
//! pixels by max or mean) and the scales of its units, sorted.
//!
//! The heatmap's pixels go to the backend as one bitmap ([`Pixels`], the backend's
//! `blit_bitmap`: one `putImageData` on the page), not one rectangle per cell. The grid they
//! show is computed by [`HeatGrid::of`] in one pass over the values.

use super::{
    begin, builder, decade, draw_all, drawing, key_points, num, style_mesh, titles, ChartResult,
    Theme, Ticked,
};
use crate::quant::granularity::Units;
use plotters::coord::Shift;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters_backend::{BackendCoord, DrawingErrorKind};

/// What each heatmap cell shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HeatValue {
    /// `|x|`.
    #[default]
    Magnitude,
    /// `|x - x̂|`.
    Error,
}

impl HeatValue {
    /// `abs` or `error`, as the page names them.
    pub fn parse(s: &str) -> Option<HeatValue> {
        match s {
            "abs" => Some(HeatValue::Magnitude),
            "error" => Some(HeatValue::Error),
            _ => None,
        }
    }
}

/// How the values a cell covers become one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Reduce {
    /// The largest (an outlier stays visible however small its share of the cell).
    #[default]
    Max,
    /// The mean.
    Mean,
}

impl Reduce {
    /// `max` or `mean`.
    pub fn parse(s: &str) -> Option<Reduce> {
        match s {
            "max" => Some(Reduce::Max),
            "mean" => Some(Reduce::Mean),
            _ => None,
        }
    }

    /// `max` or `mean`.
    pub fn name(self) -> &'static str {
        match self {
            Reduce::Max => "max",
            Reduce::Mean => "mean",
        }
    }
}

/// A `rows x cols` tensor reduced to `h x w` cells (`w <= cols`, `h <= rows`): cell `(i, j)`
/// covers the rows `r` with `⌊r·h/rows⌋ = i` and the columns `c` with `⌊c·w/cols⌋ = j`.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatGrid {
    /// The tensor's rows.
    pub rows: usize,
    /// The tensor's columns.
    pub cols: usize,
    /// Cells across.
    pub w: usize,
    /// Cells down.
    pub h: usize,
    /// How the cells were reduced.
    pub reduce: Reduce,
    /// The cells, row by row; non-finite values count as 0.
    pub cells: Vec<f64>,
    /// The largest cell (0 if none is positive).
    pub hi: f64,
}

impl HeatGrid {
    /// Reduces `value(i)` (`i` the flattened row-major position, `value` non-negative) of a
    /// `rows x cols` tensor to at most `max_w x max_h` cells (see [`HeatGrid::of_rows`]).
    pub fn of(
        rows: usize,
        cols: usize,
        max_w: usize,
        max_h: usize,
        reduce: Reduce,
        value: impl Fn(usize) -> f64,
    ) -> HeatGrid {
        HeatGrid::of_rows(rows, cols, max_w, max_h, reduce, &mut |r, out| {
            for (c, o) in out.iter_mut().enumerate() {
                *o = value(r * cols + c);
            }
        })
    }

    /// Reduces a `rows x cols` tensor to at most `max_w x max_h` cells in one pass: `fill(r,
    /// out)` writes row `r`'s values (non-negative) into `out` (`cols` long). One call per row,
    /// so the reduction's loops are compiled once whatever the values are.
    pub fn of_rows(
        rows: usize,
        cols: usize,
        max_w: usize,
        max_h: usize,
        reduce: Reduce,
        fill: &mut dyn FnMut(usize, &mut [f64]),
    ) -> HeatGrid {
        let w = cols.min(max_w.max(1));
        let h = rows.min(max_h.max(1));
        let mut cells = vec![0.0f64; w * h];
        if w > 0 && h > 0 {
            // The cell column of each tensor column, once.
            let col_cell: Vec<usize> = (0..cols).map(|c| c * w / cols).collect();
            let mut row = vec![0.0f64; cols];
            for r in 0..rows {
                fill(r, &mut row);
                let line = &mut cells[(r * h / rows) * w..][..w];
                match reduce {
                    Reduce::Max => {
                        for (&v, &j) in row.iter().zip(&col_cell) {
                            if v > line[j] {
                                line[j] = v;
                            }
                        }
                    }
                    Reduce::Mean => {
                        for (&v, &j) in row.iter().zip(&col_cell) {
                            if v.is_finite() {
                                line[j] += v;
                            }
                        }
                    }
                }
            }
            if reduce == Reduce::Mean {
                // How many rows and columns each cell covers, by the same mapping.
                let mut per_row = vec![0usize; h];
                for r in 0..rows {
                    per_row[r * h / rows] += 1;
                }
                let mut per_col = vec![0usize; w];
                for &j in &col_cell {
                    per_col[j] += 1;
                }
                for (i, line) in cells.chunks_exact_mut(w).enumerate() {
                    for (c, &nc) in line.iter_mut().zip(&per_col) {
                        *c /= (per_row[i] * nc).max(1) as f64;
                    }
                }
            }
        }
        for c in cells.iter_mut() {
            if !c.is_finite() {
                *c = 0.0;
            }
        }
        let hi = cells.iter().copied().fold(0.0, f64::max);
        HeatGrid {
            rows,
            cols,
            w,
            h,
            reduce,
            cells,
            hi,
        }
    }

    /// Whether each cell is one value (nothing was reduced).
    pub fn exact(&self) -> bool {
        self.w == self.cols && self.h == self.rows
    }
}

/// A colour scale from dark (0) to bright (1): five stops of viridis, interpolated.
fn colour(t: f64) -> (u8, u8, u8) {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let at = t * (STOPS.len() - 1) as f64;
    let i = (at as usize).min(STOPS.len() - 2);
    let f = at - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// An RGB bitmap placed at a pixel position: drawn by the backend's `blit_bitmap` in one call.
struct Pixels {
    pos: (i32, i32),
    size: (u32, u32),
    rgb: Vec<u8>,
}

impl<'a> PointCollection<'a, (i32, i32)> for &'a Pixels {
    type Point = &'a (i32, i32);
    type IntoIter = std::iter::Once<&'a (i32, i32)>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.pos)
    }
}

impl<DB: DrawingBackend> Drawable<DB> for Pixels {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut points: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        match points.next() {
            Some(at) => backend.blit_bitmap(at, self.size, &self.rgb),
            None => Ok(()),
        }
    }
}

/// Where the heatmap's plot lies on the canvas, in device pixels: `x0..x1` across the
/// columns, `y0..y1` down the rows; what pointing at it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeatPlot {
    pub x0: i32,
    pub x1: i32,
    pub y0: i32,
    pub y1: i32,
}

impl HeatPlot {
    /// The tensor's `(row, column)` under the pixel `(x, y)`, if it is on the plot.
    pub fn cell_at(&self, x: f64, y: f64, rows: usize, cols: usize) -> Option<(usize, usize)> {
        let inside =
            |v: f64, a: i32, b: i32| v.is_finite() && b > a && v >= a as f64 && v < b as f64;
        if !(inside(x, self.x0, self.x1) && inside(y, self.y0, self.y1)) || rows == 0 || cols == 0 {
            return None;
        }
        let c = ((x - self.x0 as f64) / (self.x1 - self.x0) as f64 * cols as f64) as usize;
        let r = ((y - self.y0 as f64) / (self.y1 - self.y0) as f64 * rows as f64) as usize;
        Some((r.min(rows - 1), c.min(cols - 1)))
    }
}

/// Draws the heatmap of a `rows x cols` tensor: `grid(max_w, max_h)` gives the cells for the
/// plot's size in pixels; `units` (if any) draws their boundaries where at least 4 pixels lie
/// between two. Returns where the plot lies (`None` when the canvas is too small for one).
pub fn draw_heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: usize,
    cols: usize,
    what: HeatValue,
    units: Option<&Units>,
    grid: &mut dyn FnMut(usize, usize) -> HeatGrid,
    theme: &Theme,
) -> Result<Option<HeatPlot>, String> {
    if !begin(area, theme)? || rows == 0 || cols == 0 {
        return Ok(None);
    }
    let pal = theme.palette();
    let title = match what {
        HeatValue::Magnitude => "|x| of every value, rows by columns",
        HeatValue::Error => "|x - x\u{302}| of every value, rows by columns",
    };
    // The subtitle says the reduction, which needs the plot's size: laid out first.
    let (aw, _) = area.dim_in_pixel();
    let bar_w = theme.px(64.0);
    let (plot_area, bar_area) = area.split_horizontally(aw.saturating_sub(bar_w));
    let probe = {
        let inner = plot_area.margin(
            super::title_height(theme) + theme.px(4.0),
            theme.px(46.0),
            theme.px(70.0),
            theme.px(8.0),
        );
        inner.dim_in_pixel()
    };
    let g = grid(probe.0 as usize, probe.1 as usize);
    let subtitle = if g.exact() {
        format!("{rows} x {cols}: one value per cell")
    } else {
        format!(
            "{rows} x {cols} in {} x {} cells, each the {} of about {} values",
            g.h,
            g.w,
            g.reduce.name(),
            num(((rows as f64 / g.h as f64) * (cols as f64 / g.w as f64)).round())
        )
    };
    let plot = titles(&plot_area, theme, title, &subtitle)?;
    let (rf, cf) = (rows as f64, cols as f64);
    // Row 0 at the top: the y axis runs from `rows` down to 0.
    let mut chart = builder(&plot, theme, 8.0)
        .build_cartesian_2d(
            Ticked::new(0f64..cf, key_points(0f64..cf, 6)),
            Ticked::new(rf..0f64, key_points(0f64..rf, 6)),
        )
        .map_err(drawing)?;
    let whole = |v: &f64| format!("{}", v.round() as i64);
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh, theme, "column", "row");
    mesh.disable_mesh()
        .x_label_formatter(&whole)
        .y_label_formatter(&whole)
        .draw()
        .map_err(drawing)?;
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let (pw, ph) = ((xr.end - xr.start).max(0), (yr.end - yr.start).max(0));
    if pw == 0 || ph == 0 {
        return Ok(None);
    }
    // The grid for the plot's real size (the probe's, unless the layout differs).
    let g = if g.w == cols.min(pw as usize) && g.h == rows.min(ph as usize) {
        g
    } else {
        grid(pw as usize, ph as usize)
    };
    let scale = if g.hi > 0.0 { 1.0 / g.hi } else { 0.0 };
    let (pwu, phu) = (pw as usize, ph as usize);
    let col_cell: Vec<usize> = (0..pwu).map(|x| x * g.w / pwu).collect();
    let mut rgb = vec![0u8; pwu * phu * 3];
    for y in 0..phu {
        let row = &g.cells[(y * g.h / phu) * g.w..][..g.w];
        for (x, &j) in col_cell.iter().enumerate() {
            let (r, gg, b) = colour(row[j] * scale);
            let o = (y * pwu + x) * 3;
            rgb[o] = r;
            rgb[o + 1] = gg;
            rgb[o + 2] = b;
        }
    }
    chart
        .plotting_area()
        .strip_coord_spec()
        .draw(&Pixels {
            pos: (0, 0),
            size: (pw as u32, ph as u32),
            rgb,
        })
        .map_err(drawing)?;
    // Unit boundaries, where they are far enough apart to see.
    if let Some(u) = units {
        let line = pal.bg.mix(0.85).stroke_width(theme.px(1.0));
        let min_gap = theme.px(4.0) as f64;
        if u.per_row > 1 && pw as f64 / u.per_row as f64 >= min_gap && u.size < cols {
            let lines = (1..u.per_row)
                .map(|k| {
                    let x = (k * u.size) as f64;
                    PathElement::new(vec![(x, 0.0), (x, rf)], line).into_dyn()
                })
                .collect();
            draw_all(&mut chart, lines)?;
        }
        let row_units = u.count() > 1 && (u.per_row > 1 || u.size == cols);
        if row_units && rows > 1 && ph as f64 / rows as f64 >= min_gap {
            let lines = (1..rows)
                .map(|r| {
                    let y = r as f64;
                    PathElement::new(vec![(0.0, y), (cf, y)], line).into_dyn()
                })
                .collect();
            draw_all(&mut chart, lines)?;
        }
    }
    draw_colour_bar(&bar_area, theme, g.hi, yr.start, yr.end)?;
    Ok(Some(HeatPlot {
        x0: xr.start,
        x1: xr.end,
        y0: yr.start,
        y1: yr.end,
    }))
}

/// The colour scale beside the heatmap, 0 at the bottom, `hi` at the top, from canvas row
/// `y0` to `y1`.
fn draw_colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    hi: f64,
    y0: i32,
    y1: i32,
) -> ChartResult {
    let pal = theme.palette();
    let (_, by) = area.get_base_pixel();
    let h = (y1 - y0).max(0) as u32;
    let w = theme.px(12.0);
    if h == 0 {
        return Ok(());
    }
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        let c = colour(1.0 - y as f64 / (h.max(2) - 1) as f64);
        for _ in 0..w {
            rgb.extend_from_slice(&[c.0, c.1, c.2]);
        }
    }
    let x = theme.off(4.0);
    let top = y0 - by;
    area.draw(&Pixels {
        pos: (x, top),
        size: (w, h),
        rgb,
    })
    .map_err(drawing)?;
    let font = theme.font(10.5, pal.ink);
    let lx = x + w as i32 + theme.off(3.0);
    area.draw_text(&num(hi), &font, (lx, top))
        .map_err(drawing)?;
    area.draw_text("0", &font, (lx, top + h as i32 - theme.off(11.0)))
        .map_err(drawing)?;
    Ok(())
}

/// Each unit's scale, sorted from the smallest, on a log axis, against the per-tensor scale
/// (dashed). `scales` empty: per-tensor, one scale, said so.
pub fn draw_scales<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scales: &[f64],
    unit_name: &str,
    tensor_scale: f64,
    theme: &Theme,
) -> ChartResult {
    if !begin(area, theme)? {
        return Ok(());
    }
    let pal = theme.palette();
    let mut sorted: Vec<f64> = scales.iter().copied().filter(|s| s.is_finite()).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let subtitle = match (sorted.first(), sorted.last()) {
        (Some(&lo), Some(&hi)) if sorted.len() > 1 => format!(
            "{} {unit_name}s: {} to {} ({}x); one scale for the tensor: {}",
            sorted.len(),
            num(lo),
            num(hi),
            num(if lo > 0.0 { hi / lo } else { f64::INFINITY }),
            num(tensor_scale)
        ),
        _ => format!(
            "per tensor: one scale, {}, for every value",
            num(tensor_scale)
        ),
    };
    let plot = titles(area, theme, "Scales per unit, sorted", &subtitle)?;
    let all = sorted.iter().copied().chain(std::iter::once(tensor_scale));
    let axis = super::LogAxis::of(all);
    let n = sorted.len().max(1) as f64;
    let mut chart = builder(&plot, theme, 12.0)
        .build_cartesian_2d(
            Ticked::new(0f64..n, key_points(0f64..n, 6)),
            Ticked::new(axis.range(), axis.decades(6)),
        )
        .map_err(drawing)?;
    let fy = |v: &f64| decade(*v);
    let fx = |v: &f64| format!("{}", v.round() as i64);
    let mut mesh = chart.configure_mesh();
    style_mesh(
        &mut mesh,
        theme,
        &format!("{unit_name}s, from the smallest scale"),
        "scale (log)",
    );
    mesh.x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .draw()
        .map_err(drawing)?;
    let line = pal.original.stroke_width(theme.px(2.0));
    if !sorted.is_empty() {
        // At most two points per pixel column: the sorted curve is monotone, so evenly spaced
        // ranks draw it.
        let (xr, _) = chart.plotting_area().get_pixel_range();
        let most = ((xr.end - xr.start).max(1) as usize) * 2;
        let step = sorted.len().div_ceil(most).max(1);
        let mut pts: Vec<(f64, f64)> = (0..sorted.len())
            .step_by(step)
            .map(|i| (i as f64 + 0.5, axis.y(sorted[i])))
            .collect();
        let last = sorted.len() - 1;
        if !last.is_multiple_of(step) {
            pts.push((last as f64 + 0.5, axis.y(sorted[last])));
        }
        if pts.len() == 1 {
            pts = vec![(0.0, pts[0].1), (n, pts[0].1)];
        }
        draw_all(&mut chart, vec![PathElement::new(pts, line).into_dyn()])?;
    }
    if tensor_scale.is_finite() && tensor_scale > 0.0 {
        let y = axis.y(tensor_scale);
        let dash = pal.clip.stroke_width(theme.px(1.5));
        draw_all(
            &mut chart,
            vec![super::dashed(
                vec![(0.0, y), (n, y)],
                theme.px(6.0),
                theme.px(4.0),
                dash,
            )],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_and_mean_cover_every_value_once() {
        // 4 x 6 values i, into 2 x 3 cells of 2 x 2.
        let g = HeatGrid::of(4, 6, 3, 2, Reduce::Max, |i| i as f64);
        assert_eq!((g.w, g.h), (3, 2));
        assert_eq!(g.cells, vec![7.0, 9.0, 11.0, 19.0, 21.0, 23.0]);
        assert_eq!(g.hi, 23.0);
        let m = HeatGrid::of(4, 6, 3, 2, Reduce::Mean, |i| i as f64);
        assert_eq!(m.cells, vec![3.5, 5.5, 7.5, 15.5, 17.5, 19.5]);
        // Uneven: 5 rows into 2 cells, of rows 0 to 2 and 3 to 4.
        let u = HeatGrid::of(5, 1, 1, 2, Reduce::Mean, |i| i as f64);
        assert_eq!(u.cells, vec![1.0, 3.5]);
        // Not reduced where the canvas is larger.
        let e = HeatGrid::of(2, 3, 100, 100, Reduce::Max, |i| i as f64);
        assert!(e.exact());
        assert_eq!(e.cells, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn odd_values_and_sizes_do_not_panic() {
        let g = HeatGrid::of(3, 3, 2, 2, Reduce::Mean, |i| {
            if i == 4 {
                f64::NAN
            } else {
                f64::INFINITY
            }
        });
        assert!(g.cells.iter().all(|c| c.is_finite()));
        let z = HeatGrid::of(0, 0, 10, 10, Reduce::Max, |_| 1.0);
        assert!(z.cells.is_empty());
        let one = HeatGrid::of(1, 1, 0, 0, Reduce::Max, |_| 2.0);
        assert_eq!(one.cells, vec![2.0]);
    }

    #[test]
    fn pixels_map_back_to_cells() {
        let p = HeatPlot {
            x0: 10,
            x1: 110,
            y0: 20,
            y1: 70,
        };
        assert_eq!(p.cell_at(10.0, 20.0, 50, 100), Some((0, 0)));
        assert_eq!(p.cell_at(109.9, 69.9, 50, 100), Some((49, 99)));
        assert_eq!(p.cell_at(110.0, 30.0, 50, 100), None);
        assert_eq!(p.cell_at(f64::NAN, 30.0, 50, 100), None);
        assert_eq!(colour(0.0), (68, 1, 84));
        assert_eq!(colour(1.0), (253, 231, 37));
    }
}
