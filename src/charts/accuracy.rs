//! The model's test accuracy against the storage its weights cost: each int family a line over
//! its widths, each format a point, the float accuracy a dashed line, the current setting ringed.

use super::{
    begin, builder, dashed, draw_all, drawing, style_mesh, titles, At, ChartResult, Element, Key,
    Legend, Theme, Ticked,
};
use crate::model::SweepRow;
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The setting the page shows, which the chart rings: its weights' bits per weight and the
/// model's accuracy (0..1) there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccuracyMark {
    /// Bits per weight over all the layers, scales included.
    pub bits_per_weight: f64,
    /// Share of the test images right.
    pub accuracy: f64,
}

/// Accuracy in percent (linear axis) against bits per weight for every row of the model's
/// sweep that could run: the rows of one integer family (`bits` set) joined by a line in
/// order of width, one colour per family in the order they come; each format (no `bits`) a
/// square labelled with its name where the label covers nothing placed before it. The float
/// accuracy is a dashed line across, and `current`, where given, a ring; the legend sits low in
/// the right half.
pub fn draw_accuracy<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: &[SweepRow],
    float_accuracy: f64,
    current: Option<AccuracyMark>,
    theme: &Theme,
) -> ChartResult {
    if !begin(area, theme)? {
        return Ok(());
    }
    let pal = theme.palette();
    // (family, is int, bits per weight, accuracy %) of each row that ran.
    let ok: Vec<(&str, bool, f64, f64)> = rows
        .iter()
        .filter_map(|r| {
            let e = r.outcome.as_ref().ok()?;
            let (x, y) = (e.bits_per_weight(), 100.0 * e.accuracy());
            (x.is_finite() && y.is_finite()).then_some((
                r.point.family.as_str(),
                r.point.bits.is_some(),
                x,
                y,
            ))
        })
        .collect();
    let float_pct = 100.0 * float_accuracy;
    let current = current
        .filter(|c| c.bits_per_weight.is_finite() && c.accuracy.is_finite())
        .map(|c| (c.bits_per_weight, 100.0 * c.accuracy));
    let subtitle = match current {
        Some((b, a)) => format!("current: {a:.1} % at {b:.2} bits per weight (ringed)"),
        None => "the current setting cannot quantize the network".to_string(),
    };
    let plot = titles(
        area,
        theme,
        "The model's accuracy against storage",
        &subtitle,
    )?;

    let (mut x_lo, mut x_hi, mut y_lo) = (f64::INFINITY, f64::NEG_INFINITY, float_pct);
    for &(_, _, x, y) in ok
        .iter()
        .chain(current.map(|(x, y)| ("", false, x, y)).iter())
    {
        x_lo = x_lo.min(x);
        x_hi = x_hi.max(x);
        y_lo = y_lo.min(y);
    }
    if x_lo > x_hi {
        (x_lo, x_hi) = (2.0, 8.0);
    }
    let x = (x_lo.floor() - 0.4)..(x_hi.ceil() + 0.6);
    let x_ticks: Vec<f64> = ((x.start.ceil() as i64)..=(x.end.floor() as i64))
        .map(|b| b as f64)
        .collect();
    // Accuracy from a round ten below the lowest point (room for the legend) to 100 %.
    let y_lo = if y_lo.is_finite() {
        ((y_lo - 12.0) / 10.0).floor().clamp(0.0, 9.0) * 10.0
    } else {
        0.0
    };
    let y = y_lo..101.0;
    let step = if 100.0 - y_lo > 50.0 { 20.0 } else { 10.0 };
    let y_ticks: Vec<f64> = (0..=10)
        .map(|k| y_lo + step * f64::from(k))
        .filter(|&v| v <= 100.0)
        .collect();
    let mut chart = builder(&plot, theme, 12.0)
        .build_cartesian_2d(Ticked::new(x.clone(), x_ticks), Ticked::new(y, y_ticks))
        .map_err(drawing)?;
    let fx = |v: &f64| format!("{}", v.round());
    let fy = |v: &f64| format!("{} %", v.round());
    let mut mesh = chart.configure_mesh();
    style_mesh(
        &mut mesh,
        theme,
        "bits per weight (scales included)",
        "test accuracy",
    );
    mesh.x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .draw()
        .map_err(drawing)?;

    let mut legend = Legend::default();
    // The float accuracy: a dashed line across.
    let float_style = pal.muted.mix(0.9).stroke_width(theme.px(1.3));
    if float_pct.is_finite() {
        draw_all(
            &mut chart,
            vec![dashed(
                vec![(x.start, float_pct), (x.end, float_pct)],
                theme.px(6.0),
                theme.px(4.0),
                float_style,
            )],
        )?;
        let (dash, gap) = (theme.px(5.0), theme.px(3.0));
        legend.add(
            format!("float32: {float_pct:.1} %"),
            Key::Dashed(float_style, theme.off(18.0), dash, gap),
        );
    }

    // The integer families: a line each, in the colours of the calibrations' palette.
    let colours = [pal.original, pal.dequantized, pal.zero];
    let mut families: Vec<&str> = Vec::new();
    for &(f, int, _, _) in &ok {
        if int && !families.contains(&f) {
            families.push(f);
        }
    }
    for (k, fam) in families.iter().enumerate() {
        let colour = colours[k % colours.len()];
        let mut pts: Vec<(f64, f64)> = ok
            .iter()
            .filter(|&&(f, int, _, _)| int && f == *fam)
            .map(|&(_, _, x, y)| (x, y))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let style = colour.mix(0.9).stroke_width(theme.px(1.8));
        draw_all(&mut chart, LineSeries::new(pts.clone(), style).collect())?;
        let fill = colour.mix(0.9).filled();
        let r = theme.px(2.8);
        draw_all(
            &mut chart,
            pts.into_iter()
                .map(|p| Circle::new(p, r, fill).into_dyn())
                .collect(),
        )?;
        legend.add(
            format!("{fam}, 2–8 bits"),
            Key::Line(style, theme.off(18.0)),
        );
    }

    // The formats: a square each.
    let s = theme.off(4.5);
    let fill = pal.error.mix(0.95).filled();
    let squares: Vec<Element<DB>> = ok
        .iter()
        .filter(|&&(_, int, _, _)| !int)
        .map(|&(_, _, x, y)| {
            At {
                at: (x, y),
                inner: Rectangle::new([(-s, -s), (s, s)], fill),
            }
            .into_dyn()
        })
        .collect();
    if !squares.is_empty() {
        draw_all(&mut chart, squares)?;
        legend.add("a format", Key::Square(fill, theme.off(5.0)));
    }

    // The current setting: a ring.
    let ring = pal.ink.stroke_width(theme.px(2.2));
    let rr = theme.px(9.0);
    if let Some(p) = current {
        draw_all(&mut chart, vec![Circle::new(p, rr, ring).into_dyn()])?;
        legend.add("current setting", Key::Square(ring, theme.off(5.0)));
    }

    // The formats' names, each beside its square where it covers no name placed before it, the
    // ring nor the legend.
    let inner = chart.plotting_area().strip_coord_spec();
    let (ix, iy) = inner.get_base_pixel();
    let base = area.get_base_pixel();
    let (pw, ph) = inner.dim_in_pixel();
    let bounds = [ix, iy, ix + pw as i32, iy + ph as i32];
    // The legend goes low in the right half: the points lie high (a working network), and the
    // collapse at few bits is at the left.
    let (_, right) = inner.split_horizontally(pw / 2);
    let ([lx, ly, lw, lh], _) = legend.layout(&right, theme, SeriesLabelPosition::LowerLeft)?;
    let (rx, ry) = right.get_base_pixel();
    let mut placed: Vec<[i32; 4]> = vec![[rx + lx, ry + ly, rx + lx + lw, ry + ly + lh]];
    if let Some(p) = current {
        let (px, py) = chart.backend_coord(&p);
        let r = rr as i32;
        placed.push([px - r, py - r, px + r, py + r]);
    }
    let font = theme.font(10.5, pal.muted);
    let gap = theme.off(7.0);
    for &(name, _, x, y) in ok.iter().filter(|&&(_, int, _, _)| !int) {
        let (tw, th) = area.estimate_text_size(name, &font).map_err(drawing)?;
        let (tw, th) = (tw as i32, th as i32);
        let (px, py) = chart.backend_coord(&(x, y));
        let spots = [
            (px + gap, py - th / 2),
            (px - gap - tw, py - th / 2),
            (px - tw / 2, py + gap),
            (px - tw / 2, py - gap - th),
            (px + gap, py + gap - 2),
            (px - gap - tw, py + gap - 2),
        ];
        let fits = |b: [i32; 4]| {
            b[0] >= bounds[0]
                && b[1] >= bounds[1]
                && b[2] <= bounds[2]
                && b[3] <= bounds[3]
                && !placed
                    .iter()
                    .any(|p| b[0] < p[2] && p[0] < b[2] && b[1] < p[3] && p[1] < b[3])
        };
        if let Some(b) = spots
            .iter()
            .map(|&(x0, y0)| [x0, y0, x0 + tw, y0 + th])
            .find(|&b| fits(b))
        {
            let style = font.pos(Pos::new(HPos::Left, VPos::Top));
            area.draw_text(name, &style, (b[0] - base.0, b[1] - base.1))
                .map_err(drawing)?;
            placed.push(b);
        }
    }
    legend.draw(&right, theme, SeriesLabelPosition::LowerLeft)
}
