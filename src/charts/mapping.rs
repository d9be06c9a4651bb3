//! The quantize-dequantize function `x -> x̂` as a staircase.

use super::{
    begin, builder, dashed, draw_all, drawing, hull, num, pad, settings_line, stroke, style_mesh,
    tick, titles, ChartResult, Legend, Theme, Ticked,
};
use crate::analysis::View;
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The staircase `x -> x̂` (the polyline `view.mapping`), the identity `x̂ = x` faintly, the
/// clip range as dashed verticals and zero: the line `x = 0` and the zero point's level.
pub fn draw_mapping<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    view: &View,
    theme: &Theme,
) -> ChartResult {
    if !begin(area, theme)? {
        return Ok(());
    }
    let pal = theme.palette();
    let p = &view.run.params;
    let subtitle = format!(
        "{}: {} levels, scale {}, zero point {}",
        settings_line(&view.run.settings),
        p.qmax as i64 - p.qmin as i64 + 1,
        num(p.scale),
        num(p.zero_point)
    );
    let plot = titles(
        area,
        theme,
        "Quantize-dequantize mapping: original to dequantized",
        &subtitle,
    )?;

    let pts: Vec<(f64, f64)> = view
        .mapping
        .iter()
        .copied()
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .collect();
    let x = pad(
        hull(
            pts.iter()
                .map(|&(a, _)| a)
                .chain([p.range_min, p.range_max]),
        ),
        0.02,
    );
    // The identity spans the x range, so the y range holds it as well as the steps; the top
    // third is left free for the legend.
    let y = pad(
        hull(pts.iter().map(|&(_, b)| b).chain([x.start, x.end])),
        0.02,
    );
    let y = y.start..y.end + (y.end - y.start) * 0.45;

    let mut legend = Legend::default();
    let mut chart = builder(&plot, theme, 14.0)
        .build_cartesian_2d(Ticked::auto(x.clone()), Ticked::auto(y.clone()))
        .map_err(drawing)?;
    let fx = |v: &f64| tick(*v, &x);
    let fy = |v: &f64| tick(*v, &y);
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh, theme, "original value x", "dequantized value");
    mesh.x_labels(8)
        .y_labels(7)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .draw()
        .map_err(drawing)?;

    let identity = pal.muted.mix(0.7).stroke_width(theme.px(1.0));
    let diagonal = vec![(x.start, x.start), (x.end, x.end)];
    let px4 = theme.px(4.0);
    draw_all(&mut chart, vec![dashed(diagonal, px4, px4, identity)])?;
    legend.add("identity (no error)", stroke(theme, identity));

    let zero = pal.zero.stroke_width(theme.px(1.2));
    let zero_in_x = x.start <= 0.0 && 0.0 <= x.end;
    let level = (p.zero_point >= p.qmin as f64 && p.zero_point <= p.qmax as f64)
        .then(|| p.dequantize_value(p.zero_point as i32))
        .filter(|v| v.is_finite() && y.start <= *v && *v <= y.end);
    let mut zero_lines = Vec::new();
    if zero_in_x {
        zero_lines.push(vec![(0.0, y.start), (0.0, y.end)]);
    }
    if let Some(v) = level {
        zero_lines.push(vec![(x.start, v), (x.end, v)]);
    }
    let zero_label = match (zero_in_x, level) {
        (_, Some(v)) => format!(
            "zero: x = 0 and code {} (dequantized {})",
            num(p.zero_point),
            num(v)
        ),
        (true, None) => format!("x = 0 (zero point {} is no code)", num(p.zero_point)),
        (false, None) => format!("zero point {} (0 is outside the range)", num(p.zero_point)),
    };
    let zero_lines = zero_lines
        .into_iter()
        .map(|l| dashed(l, theme.px(2.0), theme.px(3.0), zero));
    draw_all(&mut chart, zero_lines.collect())?;
    legend.add(zero_label, stroke(theme, zero));

    let clip = pal.clip.stroke_width(theme.px(1.5));
    let clip_lines = [p.range_min, p.range_max]
        .into_iter()
        .filter(|r| r.is_finite())
        .map(|r| {
            dashed(
                vec![(r, y.start), (r, y.end)],
                theme.px(6.0),
                theme.px(4.0),
                clip,
            )
        });
    draw_all(&mut chart, clip_lines.collect())?;
    legend.add(
        format!("clip range [{}, {}]", num(p.range_min), num(p.range_max)),
        stroke(theme, clip),
    );

    let stairs = pal.dequantized.stroke_width(theme.px(2.0));
    draw_all(&mut chart, LineSeries::new(pts, stairs).collect())?;
    legend.add(
        "dequantized (q - zero point) * scale",
        stroke(theme, stairs),
    );

    let area = chart.plotting_area().strip_coord_spec();
    legend.draw(&area, theme, SeriesLabelPosition::UpperLeft)
}
