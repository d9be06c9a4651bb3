//! The histogram of the original values overlaid with the dequantized values.

use super::{
    begin, builder, count, count_ticks, dashed, draw_all, drawing, histogram_bars, hull, min_bar,
    num, pad, settings_line, stroke, style_mesh, swatch, tick, titles, At, Chart, ChartResult,
    Element, Legend, Theme, Ticked,
};
use crate::analysis::blocks::FormatView;
use crate::analysis::histogram::Histogram;
use crate::analysis::View;
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::ops::Range;

/// At most this many levels inside the x range are drawn one by one, as spikes and ticks.
const FEW_LEVELS: i64 = 64;

/// Original values as bars per bin; the dequantized values as spikes at each level (right
/// axis) when at most 64 levels fall in the range, else as an outline on the same bins; the
/// clip range as dashed vertical lines; the levels as ticks when there are few.
pub fn draw_histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    view: &View,
    theme: &Theme,
) -> ChartResult {
    if !begin(area, theme)? {
        return Ok(());
    }
    let pal = theme.palette();
    let run = &view.run;
    let p = &run.params;
    let subtitle = format!(
        "{} values, {}: scale {}, zero point {}",
        run.metrics.n,
        settings_line(&run.settings),
        num(p.scale),
        num(p.zero_point)
    );
    let plot = titles(area, theme, "Original vs dequantized values", &subtitle)?;

    let h = &view.values;
    let d = &view.dequantized;
    // The bins span every representable level; show where the data and the clip range are.
    let x = pad(
        hull(
            occupied(h)
                .into_iter()
                .chain(occupied(d))
                .chain([p.range_min, p.range_max]),
        ),
        0.03,
    );
    let levels = few_levels(view, &x);
    let bins_max = match levels {
        Some(_) => h.max_count(),
        None => h.max_count().max(d.max_count()),
    };
    // Headroom above the tallest bar for the legend: its top third or so, with four entries
    // (few levels) about two fifths (at 1.4 it covered the central spikes' tops at 4 bits).
    let headroom = if levels.is_some() { 1.75 } else { 1.5 };
    let y_max = (bins_max as f64 * headroom).max(1.0);
    let y = Ticked::new(0.0..y_max, count_ticks(bins_max as f64, 7));

    let mut b = builder(&plot, theme, 12.0);
    if levels.is_some() {
        b.right_y_label_area_size(theme.px(58.0));
    }
    let chart = b
        .build_cartesian_2d(Ticked::auto(x.clone()), y)
        .map_err(drawing)?;
    let mut legend = Legend::default();
    let x_desc = "value (original and dequantized)";
    let y_desc = "original values per bin";
    let Some(levels) = levels else {
        let mut chart = chart;
        draw_common(&mut chart, &mut legend, view, theme, &x, x_desc, y_desc)?;
        let line = pal.dequantized.stroke_width(theme.px(1.6));
        draw_all(&mut chart, LineSeries::new(outline(d), line).collect())?;
        legend.add("dequantized values (same bins)", stroke(theme, line));
        let area = chart.plotting_area().strip_coord_spec();
        return legend.draw(&area, theme, SeriesLabelPosition::UpperRight);
    };

    // Few levels: the dequantized values are spikes at the levels, counted on a right axis
    // (a level holds many bins' worth of values, so on the left axis they would dwarf the bars).
    let per_level = levels.iter().map(|&(_, c)| c).max().unwrap_or(0);
    let y2_max = (per_level as f64 * headroom).max(1.0);
    let y2 = Ticked::new(0.0..y2_max, count_ticks(per_level as f64, 7));
    let mut dual = chart.set_secondary_coord(Ticked::auto(x.clone()), y2);
    draw_common(&mut dual, &mut legend, view, theme, &x, x_desc, y_desc)?;
    let fy2 = |v: &f64| count(*v);
    dual.configure_secondary_axes()
        .axis_style(pal.muted.stroke_width(theme.px(1.0)))
        .label_style(theme.font(11.0, pal.ink))
        .axis_desc_style(theme.font(12.0, pal.ink))
        .set_all_tick_mark_size(theme.px(4.0))
        .y_label_formatter(&fy2)
        .y_desc("dequantized values per level")
        .draw()
        .map_err(drawing)?;

    let tick_style = pal.muted.stroke_width(theme.px(1.5));
    let tick_len = -theme.off(7.0);
    let ticks = levels.iter().map(|&(v, _)| {
        let inner = PathElement::new(vec![(0, 0), (0, tick_len)], tick_style);
        At {
            at: (v, 0.0),
            inner,
        }
        .into_dyn()
    });
    draw_all(&mut dual, ticks.collect())?;
    legend.add(
        format!("quantization levels ({} in view)", levels.len()),
        stroke(theme, tick_style),
    );

    // Spikes a few pixels wide, narrower than the gap between levels.
    let (plot_w, plot_h) = dual.plotting_area().dim_in_pixel();
    let plot_w = plot_w.max(1) as f64;
    let gap_px = match levels.as_slice() {
        [a, b, ..] => (b.0 - a.0).abs() / (x.end - x.start) * plot_w,
        _ => plot_w,
    };
    let spike_px = (gap_px * 0.3).clamp(theme.px(2.0) as f64, theme.px(9.0) as f64);
    let half = spike_px / 2.0 * (x.end - x.start) / plot_w;
    let least = min_bar(y2_max, plot_h, theme, 2.0);
    let spike = pal.dequantized.mix(0.95);
    let spikes: Vec<Element<DB>> = levels
        .iter()
        .filter(|&&(_, c)| c > 0)
        .map(|&(v, c)| {
            let corners = [(v - half, 0.0), (v + half, (c as f64).max(least))];
            Rectangle::new(corners, spike.filled()).into_dyn()
        })
        .collect();
    dual.draw_secondary_series(spikes).map_err(drawing)?;
    legend.add(
        "dequantized values (per level, right axis)",
        swatch(theme, spike),
    );
    let area = dual.plotting_area().strip_coord_spec();
    legend.draw(&area, theme, SeriesLabelPosition::UpperRight)
}

/// What both layouts draw on the left axis: mesh, the original values' bars, the clip range.
fn draw_common<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    legend: &mut Legend,
    view: &View,
    theme: &Theme,
    x: &Range<f64>,
    x_desc: &str,
    y_desc: &str,
) -> ChartResult {
    let pal = theme.palette();
    let p = &view.run.params;
    let h = &view.values;
    let fx = |v: &f64| tick(*v, x);
    let fy = |v: &f64| count(*v);
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh, theme, x_desc, y_desc);
    mesh.x_labels(8)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .draw()
        .map_err(drawing)?;

    let y_max = chart.y_range().end;
    let least = min_bar(y_max, chart.plotting_area().dim_in_pixel().1, theme, 2.0);
    let bar = pal.original.mix(if theme.dark { 0.6 } else { 0.5 });
    draw_all(chart, histogram_bars(h, least, bar))?;
    legend.add("original values", swatch(theme, bar));

    let clip = pal.clip.stroke_width(theme.px(1.5));
    let lines = [p.range_min, p.range_max]
        .into_iter()
        .filter(|r| r.is_finite())
        .map(|r| {
            dashed(
                vec![(r, 0.0), (r, y_max)],
                theme.px(6.0),
                theme.px(4.0),
                clip,
            )
        });
    draw_all(chart, lines.collect())?;
    legend.add(
        format!("clip range [{}, {}]", num(p.range_min), num(p.range_max)),
        stroke(theme, clip),
    );
    Ok(())
}

/// The span of the bins that hold any value, as its two ends.
fn occupied(h: &Histogram) -> Vec<f64> {
    let first = h.counts.iter().position(|&c| c > 0);
    let last = h.counts.iter().rposition(|&c| c > 0);
    match (first, last) {
        (Some(a), Some(b)) => vec![h.edge(a), h.edge(b + 1)],
        _ => vec![h.lo, h.hi],
    }
}

/// The levels `(value, count)` inside `x`, when there are at most [`FEW_LEVELS`] of them.
fn few_levels(view: &View, x: &Range<f64>) -> Option<Vec<(f64, u64)>> {
    let p = &view.run.params;
    if !(p.scale.is_finite() && p.scale > 0.0 && p.zero_point.is_finite()) {
        return None;
    }
    // Codes whose level (q - zero_point) * scale can lie in x, then checked exactly.
    let first = ((x.start / p.scale + p.zero_point).floor() as i64).max(p.qmin as i64);
    let last = ((x.end / p.scale + p.zero_point).ceil() as i64).min(p.qmax as i64);
    if last - first + 1 > FEW_LEVELS + 2 {
        return None;
    }
    let levels: Vec<(f64, u64)> = (first..=last)
        .filter_map(|q| {
            let v = p.dequantize_value(q as i32);
            let c = view
                .code_counts
                .get((q - p.qmin as i64) as usize)
                .copied()
                .unwrap_or(0);
            (v >= x.start && v <= x.end).then_some((v, c))
        })
        .collect();
    (levels.len() as i64 <= FEW_LEVELS).then_some(levels)
}

/// A histogram's outline as a step polyline: up and down at every bin edge.
fn outline(h: &Histogram) -> Vec<(f64, f64)> {
    let mut pts = Vec::with_capacity(2 * h.counts.len() + 2);
    pts.push((h.lo, 0.0));
    for (i, &c) in h.counts.iter().enumerate() {
        pts.push((h.edge(i), c as f64));
        pts.push((h.edge(i + 1), c as f64));
    }
    pts.push((h.hi, 0.0));
    pts
}

/// The histogram of a format's run: the original values as bars, the dequantized values as an
/// outline over the same bins, and the values the codes of the block with the largest scale
/// stand for (of its sub-block with the largest scale) as ticks under the axis when at most 256
/// of them are in view, with that block's range as dashed lines.
pub fn draw_format_histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    view: &FormatView,
    theme: &Theme,
) -> ChartResult {
    if !begin(area, theme)? {
        return Ok(());
    }
    let pal = theme.palette();
    let (top, sub) = view.top;
    let subtitle = format!(
        "{} values in {} ({} bits per weight); ticks: the levels of block {top}{}, the largest scale",
        view.n,
        view.format,
        crate::present::explain::short_bits(view.format.bits_per_weight(view.n, view.block)),
        if crate::analysis::blocks::subs(view.format, view.block) > 1 {
            format!(", sub-block {sub}")
        } else {
            String::new()
        }
    );
    let plot = titles(area, theme, "Original vs dequantized values", &subtitle)?;
    let h = &view.values;
    let d = &view.dequantized;
    let (lv_lo, lv_hi) = (
        view.levels.first().copied().unwrap_or(f64::NAN),
        view.levels.last().copied().unwrap_or(f64::NAN),
    );
    let x = pad(
        hull(
            occupied(h)
                .into_iter()
                .chain(occupied(d))
                .chain([lv_lo, lv_hi]),
        ),
        0.03,
    );
    let bins_max = h.max_count().max(d.max_count());
    let y_max = (bins_max as f64 * 1.5).max(1.0);
    let y = Ticked::new(0.0..y_max, count_ticks(bins_max as f64, 7));
    let mut chart = builder(&plot, theme, 12.0)
        .build_cartesian_2d(Ticked::auto(x.clone()), y)
        .map_err(drawing)?;
    let fx = |v: &f64| tick(*v, &x);
    let fy = |v: &f64| count(*v);
    let mut mesh = chart.configure_mesh();
    style_mesh(
        &mut mesh,
        theme,
        "value (original and dequantized)",
        "values per bin",
    );
    mesh.x_labels(8)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .draw()
        .map_err(drawing)?;
    let mut legend = Legend::default();
    let least = min_bar(y_max, chart.plotting_area().dim_in_pixel().1, theme, 2.0);
    let bar = pal.original.mix(if theme.dark { 0.6 } else { 0.5 });
    draw_all(&mut chart, histogram_bars(h, least, bar))?;
    legend.add("original values", swatch(theme, bar));
    let line = pal.dequantized.stroke_width(theme.px(1.6));
    draw_all(&mut chart, LineSeries::new(outline(d), line).collect())?;
    legend.add("dequantized values (same bins)", stroke(theme, line));

    let range = pal.clip.stroke_width(theme.px(1.5));
    let ends: Vec<Element<DB>> = [lv_lo, lv_hi]
        .into_iter()
        .filter(|r| r.is_finite())
        .map(|r| {
            dashed(
                vec![(r, 0.0), (r, y_max)],
                theme.px(6.0),
                theme.px(4.0),
                range,
            )
        })
        .collect();
    if !ends.is_empty() {
        draw_all(&mut chart, ends)?;
        legend.add(
            format!("block {top}'s range [{}, {}]", num(lv_lo), num(lv_hi)),
            stroke(theme, range),
        );
    }
    let in_view: Vec<f64> = view
        .levels
        .iter()
        .copied()
        .filter(|v| *v >= x.start && *v <= x.end)
        .collect();
    if !in_view.is_empty() && in_view.len() <= 256 {
        let tick_style = pal.muted.stroke_width(theme.px(1.2));
        let tick_len = -theme.off(7.0);
        let ticks = in_view.iter().map(|&v| {
            let inner = PathElement::new(vec![(0, 0), (0, tick_len)], tick_style);
            At {
                at: (v, 0.0),
                inner,
            }
            .into_dyn()
        });
        draw_all(&mut chart, ticks.collect())?;
        legend.add(
            format!("block {top}'s levels ({} in view)", in_view.len()),
            stroke(theme, tick_style),
        );
    }
    let area = chart.plotting_area().strip_coord_spec();
    legend.draw(&area, theme, SeriesLabelPosition::UpperRight)
}
