//! The rotation: one block's values before the Hadamard rotation (bars) and after it (a line),
//! so that an outlier spread over its block is one look, with the error in both bases.

use super::{
    begin, builder, draw_all, drawing, hull, num, pad, sqnr_label, stroke, style_mesh, swatch,
    tick, titles, ChartResult, Legend, Theme, Ticked,
};
use crate::analysis::rotation_view::RotationView;
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The block's original values as bars from 0 and its rotated values as a line with points,
/// against the position in the block; the subtitle gives both peaks and the MSE and SQNR in
/// the original and the rotated basis.
pub fn draw_rotation<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    view: &RotationView,
    theme: &Theme,
) -> ChartResult {
    if !begin(area, theme)? {
        return Ok(());
    }
    let pal = theme.palette();
    let (before, after) = view.peaks();
    let subtitle = format!(
        "max |x| {} before, {} after; MSE {} ({}) original basis, {} ({}) rotated",
        num(before),
        num(after),
        num(view.original.mse),
        sqnr_label(view.original.sqnr_db),
        num(view.rotated.mse),
        sqnr_label(view.rotated.sqnr_db),
    );
    let title = format!(
        "Hadamard rotation of block {} of {} (row {}, columns {} to {})",
        view.block,
        view.blocks,
        view.row,
        view.column,
        view.column + view.k - 1,
    );
    let plot = titles(area, theme, &title, &subtitle)?;
    let k = view.k as f64;
    let x = 0.0..k.max(1.0);
    let y = pad(
        hull(view.before.iter().chain(&view.after).copied().chain([0.0])),
        0.08,
    );
    let mut chart = builder(&plot, theme, 12.0)
        .build_cartesian_2d(Ticked::auto(x.clone()), Ticked::auto(y.clone()))
        .map_err(drawing)?;
    let fx = |v: &f64| tick(*v, &x);
    let fy = |v: &f64| tick(*v, &y);
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh, theme, "position in the block", "value");
    mesh.x_labels(9)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .draw()
        .map_err(drawing)?;
    let bar = pal.original.mix(if theme.dark { 0.8 } else { 0.7 });
    let mut elements: Vec<_> = view
        .before
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite() && **v != 0.0)
        .map(|(i, &v)| {
            let i = i as f64;
            Rectangle::new([(i + 0.1, 0.0), (i + 0.9, v)], bar.filled()).into_dyn()
        })
        .collect();
    let line = pal.dequantized.stroke_width(theme.px(2.0));
    let points: Vec<(f64, f64)> = view
        .after
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, &v)| (i as f64 + 0.5, v))
        .collect();
    // Points only where they stay apart (a few pixels each).
    let (w, _) = chart.plotting_area().dim_in_pixel();
    if points.len() as u32 * theme.px(6.0) <= w {
        let r = theme.px(2.5) as i32;
        for &p in &points {
            elements.push(Circle::new(p, r, pal.dequantized.filled()).into_dyn());
        }
    }
    elements.insert(0, PathElement::new(points, line).into_dyn());
    draw_all(&mut chart, elements)?;
    let zero = pal.muted.stroke_width(theme.px(1.0));
    draw_all(
        &mut chart,
        vec![PathElement::new(vec![(0.0, 0.0), (k, 0.0)], zero).into_dyn()],
    )?;
    let mut legend = Legend::default();
    legend.add("before: the original values", swatch(theme, bar));
    legend.add(
        format!("after: rotated (H, {} values)", view.k),
        stroke(theme, line),
    );
    let area = chart.plotting_area().strip_coord_spec();
    legend.draw(&area, theme, SeriesLabelPosition::UpperRight)
}
