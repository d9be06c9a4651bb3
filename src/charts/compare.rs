//! The error of every scheme and calibration on the same data, side by side.

use super::{
    begin, builder, draw_all, drawing, fitted, min_bar, setting_label, sqnr_label, style_mesh,
    swatch, titles, At, ChartResult, Key, Legend, LogAxis, Theme, Ticked,
};
use crate::analysis::Run;
use crate::settings::{QuantSettings, Scheme};
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One bar per run: its MSE on a log axis with its SQNR in dB above it, and beside it a second
/// bar for the MSE without the injected outliers where the run has one. The run whose settings
/// equal `current` is outlined. An MSE of 0 sits on the floor, labelled "exact".
pub fn draw_compare<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    runs: &[Run],
    current: &QuantSettings,
    theme: &Theme,
) -> ChartResult {
    if !begin(area, theme)? {
        return Ok(());
    }
    let pal = theme.palette();
    let with_inliers = runs.iter().any(|r| r.inliers.is_some());
    let current_at = runs.iter().position(|r| r.settings == *current);
    let subtitle = format!(
        "{}-bit, zero point {}; current: {}",
        current.bits,
        current.zero_point,
        match current_at {
            Some(i) => format!(
                "{} (outlined)",
                setting_label(runs[i].settings.scheme, &runs[i].settings.calibration)
            ),
            None => "not among these".to_string(),
        },
    );
    let plot = titles(
        area,
        theme,
        "MSE of every scheme and calibration (SQNR above bars)",
        &subtitle,
    )?;

    let mse = runs
        .iter()
        .flat_map(|r| [Some(r.metrics.mse), r.inliers.map(|m| m.mse)])
        .flatten();
    let mut axis = LogAxis::of(mse);
    // Room above the tallest bar for its label and for the legend.
    axis.hi += if with_inliers { 2.0 } else { 1.2 };

    let n = runs.len().max(1);
    let x = Ticked::new(
        -0.6..n as f64 - 0.4,
        (0..runs.len()).map(|i| i as f64).collect(),
    );
    let y = Ticked::new(axis.range(), axis.decades(6));
    let mut b = builder(&plot, theme, 12.0);
    // Two lines of labels under each bar: calibration, then scheme.
    b.x_label_area_size(theme.px(58.0));
    let mut legend = Legend::default();
    let mut chart = b.build_cartesian_2d(x, y).map_err(drawing)?;
    let fx = |_: &f64| String::new();
    let has_zero = runs
        .iter()
        .flat_map(|r| [Some(r.metrics.mse), r.inliers.map(|m| m.mse)])
        .any(|m| m == Some(0.0));
    let fy = |v: &f64| axis.label(*v, has_zero);
    let mut mesh = chart.configure_mesh();
    style_mesh(
        &mut mesh,
        theme,
        "scheme and calibration",
        "MSE (log scale)",
    );
    mesh.disable_x_mesh()
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .draw()
        .map_err(drawing)?;
    let slot_px = chart.plotting_area().dim_in_pixel().0 as f64 / (n as f64 + 0.2);
    let base = area.get_base_pixel();
    for (i, r) in runs.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(i as f64, axis.lo));
        let (x, y) = (px - base.0, py - base.1);
        let lines = [
            r.settings.calibration.label(),
            match r.settings.scheme {
                Scheme::Asymmetric => "asym".to_string(),
                Scheme::Symmetric => "sym".to_string(),
            },
        ];
        for (k, text) in lines.iter().enumerate() {
            let style = fitted(area, theme, text, 11.0, pal.ink, (slot_px * 0.92) as u32)
                .pos(Pos::new(HPos::Center, VPos::Top));
            let dy = theme.off(8.0 + 14.0 * k as f64);
            area.draw_text(text, &style, (x, y + dy)).map_err(drawing)?;
        }
    }

    // The bars' half-width and where each bar of a run sits around its slot.
    let (half, offsets): (f64, &[f64]) = if with_inliers {
        (0.19, &[-0.2, 0.2])
    } else {
        (0.3, &[0.0])
    };
    let floor = axis.lo;
    let plot_h = chart.plotting_area().dim_in_pixel().1;
    // Every bar shows, however small; an exact one (MSE 0) is a short stub labelled "exact".
    let stub = min_bar(axis.hi - axis.lo, plot_h, theme, 2.0);
    let exact = min_bar(axis.hi - axis.lo, plot_h, theme, 5.0);
    let bars: Vec<Bar> = runs
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            let color = pal.of_calibration(&r.settings.calibration);
            let strong = Some(i) == current_at || current_at.is_none();
            let all = Bar {
                slot: i,
                x: i as f64 + offsets[0],
                mse: r.metrics.mse,
                sqnr: r.metrics.sqnr_db,
                color,
                alpha: if strong { 0.95 } else { 0.55 },
                inliers: false,
            };
            let kept = r.inliers.filter(|_| offsets.len() > 1).map(|m| Bar {
                slot: i,
                x: i as f64 + offsets[1],
                mse: m.mse,
                sqnr: m.sqnr_db,
                color,
                alpha: if strong { 0.4 } else { 0.18 },
                inliers: true,
            });
            std::iter::once(all).chain(kept)
        })
        .collect();

    let top = |b: &Bar| {
        if b.mse == 0.0 {
            floor + exact
        } else {
            axis.y(b.mse).max(floor + stub)
        }
    };
    let corners = |b: &Bar| [(b.x - half, floor), (b.x + half, top(b))];
    let all = bars.iter().filter(|b| !b.inliers);
    let all = all.map(|b| Rectangle::new(corners(b), b.color.mix(b.alpha).filled()).into_dyn());
    draw_all(&mut chart, all.collect())?;
    legend.add("MSE over all values", swatch(theme, pal.muted.mix(0.9)));
    if with_inliers {
        let edge = theme.px(1.0);
        let kept = bars.iter().filter(|b| b.inliers).flat_map(|b| {
            [
                Rectangle::new(corners(b), b.color.mix(b.alpha).filled()).into_dyn(),
                Rectangle::new(corners(b), b.color.stroke_width(edge)).into_dyn(),
            ]
        });
        draw_all(&mut chart, kept.collect())?;
        legend.add(
            "MSE without the outliers",
            swatch(theme, pal.muted.mix(0.3)),
        );
    }

    // SQNR labels: upright when they fit over a bar, else turned to read upwards.
    let plot_px = chart.plotting_area().dim_in_pixel().0.max(1) as f64;
    let bar_px = 2.0 * half * plot_px / (n as f64 + 0.2);
    let font = theme.font(if with_inliers { 10.0 } else { 11.0 }, pal.ink);
    let label = |b: &Bar| {
        if b.mse == 0.0 {
            "exact".to_string()
        } else {
            sqnr_label(b.sqnr)
        }
    };
    let widest = bars
        .iter()
        .filter_map(|b| area.estimate_text_size(&label(b), &font).ok())
        .map(|(w, _)| w)
        .max()
        .unwrap_or(0) as f64;
    let upright = widest <= bar_px * 1.9;
    let label_style = if upright {
        font.pos(Pos::new(HPos::Center, VPos::Bottom))
    } else {
        font.transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Left, VPos::Center))
    };
    let lift = -theme.off(4.0);
    let labels = bars.iter().map(|b| {
        let inner = Text::new(label(b), (0, lift), label_style.clone());
        At {
            at: (b.x, top(b)),
            inner,
        }
        .into_dyn()
    });
    draw_all(&mut chart, labels.collect())?;

    if let Some(i) = current_at {
        let ring = pal.ink.stroke_width(theme.px(2.0));
        let highest = bars
            .iter()
            .filter(|b| b.slot == i)
            .map(top)
            .fold(floor + stub, f64::max);
        let reach = half * offsets.len() as f64 + 0.05;
        let s = theme.off(5.0);
        let corners = [(i as f64 - reach, floor), (i as f64 + reach, highest)];
        draw_all(&mut chart, vec![Rectangle::new(corners, ring).into_dyn()])?;
        legend.add("current settings", Key::Square(ring, s));
    }

    let area = chart.plotting_area().strip_coord_spec();
    legend.draw(&area, theme, SeriesLabelPosition::UpperLeft)
}

/// One bar: which run, where, how tall, its label and colour.
struct Bar {
    slot: usize,
    x: f64,
    mse: f64,
    sqnr: f64,
    color: RGBColor,
    alpha: f64,
    inliers: bool,
}
