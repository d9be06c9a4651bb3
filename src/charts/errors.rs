//! The histogram of the quantization error `x - x̂`.

use super::{
    begin, builder, count, count_ticks, dashed, draw_all, drawing, histogram_bars, min_bar, num,
    pad, span, sqnr_label, stroke, style_mesh, swatch, tick, titles, ChartResult, Legend, Theme,
    Ticked,
};
use crate::analysis::View;
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The error `x - x̂` as bars per bin, with `±max |error|` and `±scale/2` (the largest error
/// of a value inside the clip range) marked; the view must have its errors binned.
pub fn draw_error<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    view: &View,
    theme: &Theme,
) -> ChartResult {
    let Some(h) = view.errors.as_ref() else {
        return Err("errors not binned: call Analysis::add_errors".to_string());
    };
    if !begin(area, theme)? {
        return Ok(());
    }
    let pal = theme.palette();
    let m = &view.run.metrics;
    let p = &view.run.params;
    let subtitle = format!(
        "MSE {}, SQNR {}, {} of {} values clipped",
        num(m.mse),
        sqnr_label(m.sqnr_db),
        m.clipped,
        m.n
    );
    let plot = titles(
        area,
        theme,
        "Quantization error: original - dequantized",
        &subtitle,
    )?;

    let half_step = p.scale / 2.0;
    let reach = [h.lo.abs(), h.hi.abs(), half_step, m.max_abs_error]
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let x = pad(span(-reach, reach), 0.04);
    let y_max = (h.max_count() as f64 * 1.4).max(1.0);

    let y = Ticked::new(0.0..y_max, count_ticks(h.max_count() as f64, 7));
    let mut legend = Legend::default();
    let mut chart = builder(&plot, theme, 12.0)
        .build_cartesian_2d(Ticked::auto(x.clone()), y)
        .map_err(drawing)?;
    let fx = |v: &f64| tick(*v, &x);
    let fy = |v: &f64| count(*v);
    let mut mesh = chart.configure_mesh();
    style_mesh(
        &mut mesh,
        theme,
        "error = original - dequantized value",
        "values per bin",
    );
    mesh.x_labels(7)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .draw()
        .map_err(drawing)?;

    let least = min_bar(y_max, chart.plotting_area().dim_in_pixel().1, theme, 2.0);
    let bar = pal.error.mix(if theme.dark { 0.75 } else { 0.65 });
    draw_all(&mut chart, histogram_bars(h, least, bar))?;
    legend.add("error (values per bin)", swatch(theme, bar));

    let vertical = |v: f64| vec![(v, 0.0), (v, y_max)];
    let max = pal.clip.stroke_width(theme.px(1.5));
    if m.max_abs_error.is_finite() {
        let e = m.max_abs_error;
        let lines = [-e, e].map(|v| PathElement::new(vertical(v), max).into_dyn());
        draw_all(&mut chart, lines.into())?;
        legend.add(
            format!("\u{b1}max |error| = \u{b1}{}", num(e)),
            stroke(theme, max),
        );
    }

    // Drawn after max |error|, dashed, so that both show where they coincide.
    let half = pal.zero.stroke_width(theme.px(1.5));
    if half_step.is_finite() {
        let lines = [-half_step, half_step]
            .map(|v| dashed(vertical(v), theme.px(6.0), theme.px(4.0), half));
        draw_all(&mut chart, lines.into())?;
        legend.add(
            format!("\u{b1}scale/2 = \u{b1}{}", num(half_step)),
            stroke(theme, half),
        );
    }
    let area = chart.plotting_area().strip_coord_spec();
    legend.draw(&area, theme, SeriesLabelPosition::UpperRight)
}
