//! The KL calibration: the histogram of `|x|` it searches (log counts) with the thresholds of
//! KL, percentile and least-error marked, and below it the divergence of every candidate
//! threshold on the same `|x|` axis, its minimum marked.

use super::{
    begin, builder, dashed, decade, draw_all, drawing, num, pad, span, stroke, style_mesh, swatch,
    tick, titles, ChartResult, Legend, LogAxis, Theme, Ticked,
};
use crate::analysis::kl_view::KlView;
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The histogram of `|x|` (2048 bins, log counts) with the KL threshold (solid) and the
/// percentile and least-error thresholds (dashed), over the divergence of every candidate
/// threshold (log axis; infinite and NaN divergences are left out) with the least marked.
pub fn draw_kl<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    view: &KlView,
    theme: &Theme,
) -> ChartResult {
    if !begin(area, theme)? {
        return Ok(());
    }
    let pal = theme.palette();
    let kl = &view.kl;
    let h = &kl.histogram;
    let subtitle = format!(
        "{}-bit symmetric: KL clips at {} (bin {} of {}), p{} at {}, mse at {}, max |x| {}",
        view.bits,
        num(kl.threshold),
        kl.best,
        h.counts.len(),
        num(view.percentile),
        num(view.percentile_threshold),
        num(view.mse_threshold),
        num(view.absmax),
    );
    let plot = titles(
        area,
        theme,
        "KL calibration: the clip that loses the least information",
        &subtitle,
    )?;
    let (_, height) = plot.dim_in_pixel();
    let (top, bottom) = plot.split_vertically(height * 11 / 20);
    let right = h.edges.last().copied().unwrap_or(1.0);
    let x = pad(span(0.0, right), 0.02);
    let fx = |v: &f64| tick(*v, &x);
    let kl_colour = pal.calibration[3];
    let p_colour = pal.calibration[1];
    let mse_colour = pal.calibration[2];

    // The histogram, log10 of the counts; a bin of one value is drawn a tenth of a decade tall.
    let top_count = h.counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let y_hi = (top_count.log10() + 0.3).ceil().max(1.0);
    let floor = -0.1;
    let y_ticks: Vec<f64> = (0..=y_hi as i32).map(f64::from).collect();
    let mut chart = builder(&top, theme, 12.0)
        .build_cartesian_2d(Ticked::auto(x.clone()), Ticked::new(floor..y_hi, y_ticks))
        .map_err(drawing)?;
    let fy = |v: &f64| decade(*v);
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh, theme, "", "values per bin");
    mesh.x_labels(7)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .draw()
        .map_err(drawing)?;
    let bar = pal.original.mix(if theme.dark { 0.8 } else { 0.7 });
    let bars = h
        .counts
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(i, &c)| {
            let top = (c as f64).log10().max(0.0) + 0.1;
            Rectangle::new([(h.edges[i], floor), (h.edges[i + 1], top)], bar.filled()).into_dyn()
        })
        .collect();
    draw_all(&mut chart, bars)?;
    let mut legend = Legend::default();
    legend.add("|x| per bin (log)", swatch(theme, bar));
    let vertical = |v: f64, lo: f64, hi: f64| vec![(v, lo), (v, hi)];
    let dash = |c: RGBColor, v: f64, lo: f64, hi: f64| {
        dashed(
            vertical(v, lo, hi),
            theme.px(6.0),
            theme.px(4.0),
            c.stroke_width(theme.px(1.5)),
        )
    };
    let mut lines = Vec::new();
    for (c, v) in [
        (p_colour, view.percentile_threshold),
        (mse_colour, view.mse_threshold),
    ] {
        if v.is_finite() {
            lines.push(dash(c, v, floor, y_hi));
        }
    }
    let solid = kl_colour.stroke_width(theme.px(2.5));
    if kl.threshold.is_finite() {
        lines.push(PathElement::new(vertical(kl.threshold, floor, y_hi), solid).into_dyn());
    }
    draw_all(&mut chart, lines)?;
    legend.add(format!("KL {}", num(kl.threshold)), stroke(theme, solid));
    let dashed_key = |c: RGBColor| {
        super::Key::Dashed(
            c.stroke_width(theme.px(1.5)),
            theme.off(16.0),
            theme.px(6.0),
            theme.px(4.0),
        )
    };
    legend.add(
        format!(
            "p{} {}",
            num(view.percentile),
            num(view.percentile_threshold)
        ),
        dashed_key(p_colour),
    );
    legend.add(
        format!("mse {}", num(view.mse_threshold)),
        dashed_key(mse_colour),
    );
    let area_top = chart.plotting_area().strip_coord_spec();
    legend.draw(&area_top, theme, SeriesLabelPosition::UpperRight)?;

    // The divergence of each candidate, log10; the least marked.
    let finite: Vec<(f64, f64)> = view.candidates().filter(|(_, d)| d.is_finite()).collect();
    let log = LogAxis::of(finite.iter().map(|&(_, d)| d));
    let has_zero = finite.iter().any(|&(_, d)| d == 0.0);
    let fd = |v: &f64| log.label(*v, has_zero);
    let mut chart = builder(&bottom, theme, 12.0)
        .build_cartesian_2d(
            Ticked::auto(x.clone()),
            Ticked::new(log.range(), log.decades(4)),
        )
        .map_err(drawing)?;
    let mut mesh = chart.configure_mesh();
    style_mesh(
        &mut mesh,
        theme,
        "|x|: the candidate clip value (threshold)",
        "KL divergence",
    );
    mesh.x_labels(7)
        .x_label_formatter(&fx)
        .y_label_formatter(&fd)
        .draw()
        .map_err(drawing)?;
    let curve = pal.ink.stroke_width(theme.px(1.5));
    let points: Vec<(f64, f64)> = finite.iter().map(|&(e, d)| (e, log.y(d))).collect();
    let mut marks = vec![PathElement::new(points, curve).into_dyn()];
    if kl.threshold.is_finite() {
        marks.push(PathElement::new(vertical(kl.threshold, log.lo, log.hi), solid).into_dyn());
    }
    if let Some(d) = view.least_divergence() {
        let at = (h.edges[kl.best], log.y(d));
        let r = theme.px(5.0) as i32;
        marks.push(Circle::new(at, r, kl_colour.filled()).into_dyn());
        marks.push(Circle::new(at, r, pal.ink.stroke_width(theme.px(1.0))).into_dyn());
    }
    draw_all(&mut chart, marks)?;
    let mut legend = Legend::default();
    legend.add("divergence per candidate", stroke(theme, curve));
    if let Some(d) = view.least_divergence() {
        legend.add(
            format!("least: {} at {}", num(d), num(kl.threshold)),
            swatch(theme, kl_colour.to_rgba()),
        );
    }
    let area_bottom = chart.plotting_area().strip_coord_spec();
    legend.draw(&area_bottom, theme, SeriesLabelPosition::UpperRight)
}
