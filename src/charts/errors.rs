//! The histogram of the quantization error `x - x̂`.

use super::{
    begin, builder, count, drawing, num, pad, span, sqnr_label, stroke, style_legend,
    style_mesh, swatch, tick, titles, ChartResult, Theme,
};
use crate::analysis::View;
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// The error `x - x̂` as bars per bin, with `±max |error|` and `±scale/2` (the largest error
/// of a value inside the clip range) marked.
pub fn draw_error<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    view: &View,
    theme: &Theme,
) -> ChartResult {
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

    let h = &view.errors;
    let half_step = p.scale / 2.0;
    let reach = [h.lo.abs(), h.hi.abs(), half_step, m.max_abs_error]
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let x = pad(span(-reach, reach), 0.04);
    let y_max = (h.max_count() as f64 * 1.4).max(1.0);

    let mut chart = builder(&plot, theme, 12.0)
        .build_cartesian_2d(x.clone(), 0.0..y_max)
        .map_err(drawing)?;
    let fx = |v: &f64| tick(*v, &x);
    let fy = |v: &f64| count(*v);
    let mut mesh = chart.configure_mesh();
    style_mesh(
        &mut mesh,
        theme,
        "error x - dequantized x\u{302}",
        "values per bin",
    );
    mesh.x_labels(7)
        .y_labels(6)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .draw()
        .map_err(drawing)?;

    let bar = pal.error.mix(if theme.dark { 0.75 } else { 0.65 });
    chart
        .draw_series(
            h.counts
                .iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(|(i, &c)| {
                    Rectangle::new([(h.edge(i), 0.0), (h.edge(i + 1), c as f64)], bar.filled())
                }),
        )
        .map_err(drawing)?
        .label("error (values per bin)")
        .legend(swatch(theme, bar));

    let vertical = |v: f64| vec![(v, 0.0), (v, y_max)];
    let half = pal.zero.stroke_width(theme.px(1.5));
    if half_step.is_finite() {
        chart
            .draw_series([-half_step, half_step].map(|v| {
                DashedPathElement::new(vertical(v), theme.px(6.0), theme.px(4.0), half)
            }))
            .map_err(drawing)?
            .label(format!("\u{b1}scale/2 = \u{b1}{}", num(half_step)))
            .legend(stroke(theme, half));
    }
    let max = pal.clip.stroke_width(theme.px(1.5));
    if m.max_abs_error.is_finite() {
        let e = m.max_abs_error;
        chart
            .draw_series([-e, e].map(|v| PathElement::new(vertical(v), max)))
            .map_err(drawing)?
            .label(format!("\u{b1}max |error| = \u{b1}{}", num(e)))
            .legend(stroke(theme, max));
    }

    let mut legend = chart.configure_series_labels();
    style_legend(&mut legend, theme, SeriesLabelPosition::UpperRight);
    legend.draw().map_err(drawing)
}
