//! A format's blocks side by side: each block's scale and error, the selected block marked.

use super::{
    begin, builder, count_ticks, draw_all, drawing, num, style_mesh, titles, At, ChartResult,
    LogAxis, Theme, Ticked,
};
use crate::analysis::blocks::BlockSummary;
use crate::quant::formats::Format;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Two strips over the block index: above, each block's scale (its largest step, linear from
/// 0); below, its MSE (log axis). Where the summary groups blocks, a bar is the largest of its
/// group. The `selected` block is marked by a line through both, the block with the largest
/// scale by a triangle. Returns where block 0's left edge and the last block's right edge lie
/// in the backend's pixels (`None` when the area is too small to draw), for the page to map a
/// pointer to a block.
pub fn draw_blocks<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    summary: &BlockSummary,
    format: Format,
    block: usize,
    selected: usize,
    theme: &Theme,
) -> Result<Option<(i32, i32)>, String> {
    if !begin(area, theme)? {
        return Ok(None);
    }
    let pal = theme.palette();
    let n = summary.blocks.max(1);
    let grouped = if summary.per_entry > 1 {
        format!(" (a bar: the largest of {} blocks)", summary.per_entry)
    } else {
        String::new()
    };
    let subtitle = format!(
        "{} block{} of {block}{grouped}; selected: block {selected}, largest scale: block {}",
        summary.blocks,
        if summary.blocks == 1 { "" } else { "s" },
        summary.top
    );
    let plot = titles(
        area,
        theme,
        &format!("{format}: each block's scale and error"),
        &subtitle,
    )?;
    let (_, h) = plot.dim_in_pixel();
    let (upper, lower) = plot.split_vertically(h * 45 / 100);
    let x = 0.0..n as f64;
    // Whole block numbers only.
    let x_ticks = count_ticks(n as f64, 8);
    let fx = |v: &f64| format!("{}", v.round());

    // Above: the scales.
    let top = summary.scale.iter().copied().fold(0.0, f64::max);
    let top = if top > 0.0 && top.is_finite() {
        top
    } else {
        1.0
    };
    let y = 0.0..top * 1.15;
    let y_ticks = super::key_points(y.clone(), 4);
    let mut b = builder(&upper, theme, 12.0);
    b.x_label_area_size(theme.px(8.0));
    let mut chart = b
        .build_cartesian_2d(
            Ticked::new(x.clone(), x_ticks.clone()),
            Ticked::new(y, y_ticks),
        )
        .map_err(drawing)?;
    let fy = |v: &f64| num(*v);
    let no_x = |_: &f64| String::new();
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh, theme, "", "scale");
    mesh.x_label_formatter(&no_x)
        .y_label_formatter(&fy)
        .draw()
        .map_err(drawing)?;
    let per = summary.per_entry.max(1) as f64;
    let bar = pal.original.mix(0.75).filled();
    let bars = summary.scale.iter().enumerate().map(|(i, &s)| {
        let x0 = i as f64 * per;
        let x1 = (x0 + per).min(n as f64);
        Rectangle::new([(x0, 0.0), (x1, s.max(0.0))], bar).into_dyn()
    });
    draw_all(&mut chart, bars.collect())?;
    let mark = pal.muted.filled();
    let t = theme.off(5.0);
    let tri = At {
        at: (summary.top as f64 + 0.5, top * 1.15),
        inner: Polygon::new(vec![(-t, 0), (t, 0), (0, 2 * t)], mark),
    };
    draw_all(&mut chart, vec![tri.into_dyn()])?;
    let sel_style = pal.clip.stroke_width(theme.px(2.0));
    let sx = (selected.min(n - 1)) as f64 + 0.5;
    draw_all(
        &mut chart,
        vec![PathElement::new(vec![(sx, 0.0), (sx, top * 1.15)], sel_style).into_dyn()],
    )?;
    let (x0, _) = chart.backend_coord(&(0.0, 0.0));
    let (x1, _) = chart.backend_coord(&(n as f64, 0.0));
    let label_style = theme
        .font(11.0, pal.clip)
        .pos(Pos::new(HPos::Left, VPos::Top));
    let left = sx < n as f64 * 0.75;
    let label = Text::new(
        format!("block {selected}"),
        (
            if left {
                theme.off(5.0)
            } else {
                -theme.off(60.0)
            },
            theme.off(2.0),
        ),
        label_style,
    );
    draw_all(
        &mut chart,
        vec![At {
            at: (sx, top * 1.15),
            inner: label,
        }
        .into_dyn()],
    )?;

    // Below: the errors.
    let mut axis = LogAxis::of(summary.mse.iter().copied());
    axis.hi += 0.3;
    let has_zero = summary.mse.contains(&0.0);
    let mut b = builder(&lower, theme, 12.0);
    b.x_label_area_size(theme.px(36.0));
    let mut chart = b
        .build_cartesian_2d(
            Ticked::new(x, x_ticks),
            Ticked::new(axis.range(), axis.decades(4)),
        )
        .map_err(drawing)?;
    let fy = |v: &f64| axis.label(*v, has_zero);
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh, theme, "block", "MSE (log)");
    mesh.x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .draw()
        .map_err(drawing)?;
    let bar = pal.error.mix(0.75).filled();
    let floor = axis.lo;
    let bars = summary.mse.iter().enumerate().map(|(i, &m)| {
        let x0 = i as f64 * per;
        let x1 = (x0 + per).min(n as f64);
        Rectangle::new([(x0, floor), (x1, axis.y(m))], bar).into_dyn()
    });
    draw_all(&mut chart, bars.collect())?;
    draw_all(
        &mut chart,
        vec![PathElement::new(vec![(sx, axis.lo), (sx, axis.hi)], sel_style).into_dyn()],
    )?;
    Ok(Some((x0, x1)))
}

/// [`draw_blocks`] as a chart result, for callers that do not need the strip's position.
pub fn draw_blocks_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    summary: &BlockSummary,
    format: Format,
    block: usize,
    selected: usize,
    theme: &Theme,
) -> ChartResult {
    draw_blocks(area, summary, format, block, selected, theme).map(|_| ())
}
