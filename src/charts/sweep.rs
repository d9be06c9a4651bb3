//! The error against bit width for every scheme and calibration.

use super::{
    begin, builder, dashed, draw_all, drawing, fits, method_line, setting_label, style_mesh,
    title_height, titles, At, ChartResult, Key, Legend, LogAxis, Theme, Ticked,
};
use crate::analysis::Sweep;
use crate::settings::{QuantSettings, Scheme};
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// What of the sweep chart to draw: the page keeps the part that a Bits change leaves as it
/// is ([`SweepPart::Base`]) and draws only the current width's marker over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepPart {
    /// The whole chart: the base, then the marker.
    Full,
    /// Everything but the current width's marker (it does not depend on the bit width).
    Base,
    /// The current width's marker alone, over a base already there (no background).
    Marker,
}

/// MSE (log axis) against bits, one line per scheme and calibration (colour: calibration;
/// dashed: symmetric), the current series thick and the current bits as a vertical line. An
/// MSE of 0 (exact) is drawn on the floor.
pub fn draw_sweep<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    sweep: &Sweep,
    current: &QuantSettings,
    theme: &Theme,
) -> ChartResult {
    draw_sweep_part(area, sweep, current, theme, SweepPart::Full)
}

/// `part` of [`draw_sweep`]'s chart: the base and then the marker over it draw exactly the
/// whole chart. The marker is a dashed line at the current width, over the lines and stopping
/// short of the legend, with its label at the top.
pub fn draw_sweep_part<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    sweep: &Sweep,
    current: &QuantSettings,
    theme: &Theme,
    part: SweepPart,
) -> ChartResult {
    let room = if part == SweepPart::Marker {
        fits(area)
    } else {
        begin(area, theme)?
    };
    if !room {
        return Ok(());
    }
    let pal = theme.palette();
    let plot = if part == SweepPart::Marker {
        area.split_vertically(title_height(theme)).1
    } else {
        // The width is the marker's to name: the rest of the chart stays as it is when it changes.
        let mut subtitle = format!(
            "current: {} (thick), zero point {}",
            method_line(current),
            current.zero_point
        );
        if let Some(m) = sweep.sample {
            subtitle.push_str(&format!(" (on a {m}-value sample)"));
        }
        titles(area, theme, "MSE against bit width", &subtitle)?
    };

    let axis = {
        let mut a = LogAxis::of(sweep.series.iter().flat_map(|s| s.mse.iter().copied()));
        // Room above the lines, and below them at the left for the legend.
        a.hi += 0.5;
        a.lo -= 1.0;
        a
    };
    let (b_lo, b_hi) = sweep
        .bits
        .iter()
        .fold((u32::MAX, 0u32), |(lo, hi), &b| (lo.min(b), hi.max(b)));
    let (b_lo, b_hi) = if b_lo <= b_hi { (b_lo, b_hi) } else { (2, 16) };
    let step = if b_hi - b_lo > 8 { 2 } else { 1 };
    let ticks: Vec<f64> = (b_lo..=b_hi).step_by(step).map(f64::from).collect();
    let x = (b_lo as f64 - 0.5)..(b_hi as f64 + 0.5);

    let mut legend = Legend::default();
    let mut chart = builder(&plot, theme, 12.0)
        .build_cartesian_2d(
            Ticked::new(x.clone(), ticks),
            Ticked::new(axis.range(), axis.decades(7)),
        )
        .map_err(drawing)?;
    if part != SweepPart::Marker {
        let fx = |v: &f64| format!("{}", v.round());
        let has_zero = sweep.series.iter().any(|s| s.mse.contains(&0.0));
        let fy = |v: &f64| axis.label(*v, has_zero);
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh, theme, "bits", "MSE (log scale)");
        mesh.x_label_formatter(&fx)
            .y_label_formatter(&fy)
            .draw()
            .map_err(drawing)?;
    }

    // The current series last, so that it lies on top.
    let is_current = |s: &crate::analysis::SweepSeries| {
        s.scheme == current.scheme && s.calibration == current.calibration
    };
    let order = sweep
        .series
        .iter()
        .filter(|s| !is_current(s))
        .chain(sweep.series.iter().filter(|s| is_current(s)));
    for s in order {
        let now = is_current(s);
        let color = pal.of_calibration(&s.calibration);
        let style = color
            .mix(if now { 1.0 } else { 0.8 })
            .stroke_width(theme.px(if now { 3.5 } else { 1.6 }));
        let label = format!(
            "{}{}",
            setting_label(s.scheme, &s.calibration),
            if now { " (current)" } else { "" }
        );
        let is_dashed = s.scheme == Scheme::Symmetric;
        let l = theme.off(18.0);
        let (dash, gap) = (theme.px(5.0), theme.px(3.0));
        legend.add(
            label,
            if is_dashed {
                Key::Dashed(style, l, dash, gap)
            } else {
                Key::Line(style, l)
            },
        );
        if part == SweepPart::Marker {
            continue;
        }
        let pts: Vec<(f64, f64)> = sweep
            .bits
            .iter()
            .zip(&s.mse)
            // A width left out (NaN) or an error beyond f64 (inf) has no point.
            .filter(|(_, m)| m.is_finite())
            .map(|(&b, &m)| (f64::from(b), axis.y(m)))
            .collect();
        let line = if is_dashed {
            vec![dashed(pts.clone(), theme.px(7.0), theme.px(4.0), style)]
        } else {
            LineSeries::new(pts.clone(), style).collect()
        };
        draw_all(&mut chart, line)?;
        let r = theme.px(if now { 3.5 } else { 2.2 });
        let marker = color.mix(if now { 1.0 } else { 0.85 }).filled();
        let markers = pts.into_iter().map(|p| {
            if is_dashed {
                TriangleMarker::new(p, r + 1, marker).into_dyn()
            } else {
                Circle::new(p, r, marker).into_dyn()
            }
        });
        draw_all(&mut chart, markers.collect())?;
    }

    let inner = chart.plotting_area().strip_coord_spec();
    if part != SweepPart::Marker {
        legend.draw(&inner, theme, SeriesLabelPosition::LowerLeft)?;
    }
    if part == SweepPart::Base {
        return Ok(());
    }

    // The current width: a dashed line from the top of the plot down to its floor, or to just
    // above the legend where it would cross it, named at the top on the side with more room.
    let cb = f64::from(current.bits);
    if !(x.start <= cb && cb <= x.end) {
        return Ok(());
    }
    let (x0, y0) = inner.get_base_pixel();
    let (px, top) = chart.backend_coord(&(cb, axis.hi));
    let (_, floor) = chart.backend_coord(&(cb, axis.lo));
    let ([lx, ly, lw, _], _) = legend.layout(&inner, theme, SeriesLabelPosition::LowerLeft)?;
    let (gap, px) = (theme.off(3.0), px - x0);
    // Where it would cross the legend, the line ends `gap` above it (the axis is linear in
    // pixels: the value at that height).
    let end = if lx - gap <= px && px <= lx + lw + gap && floor > top {
        let stop = (y0 + ly - gap).clamp(top, floor);
        axis.hi - f64::from(stop - top) / f64::from(floor - top) * (axis.hi - axis.lo)
    } else {
        axis.lo
    };
    let bits_line = pal.ink.mix(0.6).stroke_width(theme.px(1.2));
    let line = vec![(cb, axis.hi), (cb, end)];
    draw_all(
        &mut chart,
        vec![dashed(line, theme.px(5.0), theme.px(4.0), bits_line)],
    )?;
    let right = cb <= (x.start + x.end) / 2.0;
    let (h, dx) = if right {
        (HPos::Left, theme.off(5.0))
    } else {
        (HPos::Right, -theme.off(5.0))
    };
    let style = theme.font(11.0, pal.muted).pos(Pos::new(h, VPos::Top));
    let text = format!("current: {} bits", current.bits);
    let inner = Text::new(text, (dx, theme.off(4.0)), style);
    draw_all(
        &mut chart,
        vec![At {
            at: (cb, axis.hi),
            inner,
        }
        .into_dyn()],
    )?;
    Ok(())
}
