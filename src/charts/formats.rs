//! Every format and the int schemes on the same data: the error against the storage it costs.

use super::{
    begin, builder, dashed, draw_all, drawing, style_mesh, titles, At, ChartResult, Element, Key,
    Legend, LogAxis, Theme, Ticked,
};
use crate::analysis::formats::FormatRow;
use crate::quant::formats::Format;
use crate::settings::{Calibration, Granularity, Rotation, Scheme};
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The current choice, which the chart rings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Choice {
    /// A format.
    Format(Format),
    /// An int scheme at a width.
    Int(u32, Scheme),
    /// An int scheme at a width and calibration with finer scales or a rotation.
    Fine(u32, Scheme, Calibration, Granularity, Rotation),
}

/// The families the points are coloured by.
#[derive(Clone, Copy, PartialEq)]
enum Family {
    /// Int with finer scales (2-D data), without and with a rotation.
    IntFine,
    IntRotated,
    IntAsym,
    IntSym,
    Ggml,
    KQuant,
    Float,
    Nf4,
}

fn family(r: &FormatRow) -> Family {
    match r.fine {
        Some((_, Rotation::None)) => return Family::IntFine,
        Some(_) => return Family::IntRotated,
        None => {}
    }
    match (r.format, r.int) {
        (Some(Format::Nf4), _) => Family::Nf4,
        (Some(Format::Q4_0 | Format::Q4_1 | Format::Q8_0), _) => Family::Ggml,
        (Some(Format::Fp8E4m3 | Format::Fp8E5m2 | Format::Mxfp4 | Format::Nvfp4), _) => {
            Family::Float
        }
        (Some(_), _) => Family::KQuant,
        (None, Some(q)) if q.scheme == Scheme::Symmetric => Family::IntSym,
        (None, _) => Family::IntAsym,
    }
}

/// Whether row `r` is the current choice.
fn is_current(r: &FormatRow, c: Choice) -> bool {
    match (c, r.format, r.int) {
        (Choice::Format(f), Some(rf), _) => f == rf,
        (Choice::Int(b, s), None, Some(q)) => r.fine.is_none() && q.bits == b && q.scheme == s,
        (Choice::Fine(b, s, c, g, rot), None, Some(q)) => {
            r.fine == Some((g, rot)) && q.bits == b && q.scheme == s && q.calibration == c
        }
        _ => false,
    }
}

/// MSE (log axis) against bits per weight for every row that could take the data: the int
/// schemes as two lines (solid asymmetric, dashed symmetric) over their widths, each format
/// as a square coloured by its family (orange ggml's Q4_0, Q4_1, Q8_0; purple the K-quants;
/// green the floats FP8, MXFP4, NVFP4; blue NF4), the lower-left front (`front`: no other point has both
/// fewer bits and less error) as a thick line through its points, the current choice ringed.
/// Formats are labelled by name (the front's first), an int point where it is current; a label
/// that would cover another or the legend is left out (the page's table lists every row). An
/// MSE of 0 sits on the floor.
pub fn draw_formats<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: &[FormatRow],
    front: &[bool],
    current: Choice,
    theme: &Theme,
) -> ChartResult {
    if !begin(area, theme)? {
        return Ok(());
    }
    let pal = theme.palette();
    let ok: Vec<(usize, &FormatRow, f64)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.outcome.as_ref().ok().map(|m| (i, r, m.mse)))
        .filter(|(_, r, m)| r.bits_per_weight.is_finite() && !m.is_nan())
        .collect();
    let refused = rows.len() - ok.len();
    let current_label = rows
        .iter()
        .find(|r| is_current(r, current))
        .map_or_else(|| "not among these".to_string(), |r| r.label.clone());
    let mut subtitle = format!("lower-left is better; line: the front; current: {current_label}");
    if refused > 0 {
        subtitle.push_str(&format!(
            "; {refused} cannot take this data (see the table)"
        ));
    }
    let plot = titles(
        area,
        theme,
        "Every format on this data: error against storage",
        &subtitle,
    )?;

    // Decades around the points, with room below them for the legend (lower left, where few bits
    // meet little error, is empty on any data).
    let mut axis = LogAxis::of(ok.iter().map(|&(_, _, m)| m));
    axis.lo -= 0.2;
    axis.hi -= 0.3;
    let (b_lo, b_hi) = ok
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1.bits_per_weight), hi.max(p.1.bits_per_weight))
        });
    let (b_lo, b_hi) = if b_lo <= b_hi {
        (b_lo, b_hi)
    } else {
        (2.0, 8.0)
    };
    let x = (b_lo.floor() - 0.4)..(b_hi.ceil() + 0.9);
    let ticks: Vec<f64> = ((x.start.ceil() as i64)..=(x.end.floor() as i64))
        .map(|b| b as f64)
        .collect();
    let mut chart = builder(&plot, theme, 12.0)
        .build_cartesian_2d(
            Ticked::new(x.clone(), ticks),
            Ticked::new(axis.range(), axis.decades(7)),
        )
        .map_err(drawing)?;
    let has_zero = ok.iter().any(|&(_, _, m)| m == 0.0);
    let fx = |v: &f64| format!("{}", v.round());
    let fy = |v: &f64| axis.label(*v, has_zero);
    let mut mesh = chart.configure_mesh();
    style_mesh(
        &mut mesh,
        theme,
        "bits per weight (scales included)",
        "MSE (log scale)",
    );
    mesh.x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .draw()
        .map_err(drawing)?;

    let colour = |f: Family| match f {
        Family::IntAsym | Family::IntSym => pal.muted,
        Family::IntFine => pal.ink,
        Family::IntRotated => pal.dequantized,
        Family::Ggml => pal.dequantized,
        Family::KQuant => pal.error,
        Family::Float => pal.zero,
        Family::Nf4 => pal.original,
    };
    let at = |r: &FormatRow, m: f64| (r.bits_per_weight, axis.y(m));
    let mut legend = Legend::default();

    // The front first, under the points: a thick translucent line through them by bits.
    let front_pts = by_x(
        ok.iter()
            .filter(|&&(i, _, _)| front.get(i).copied().unwrap_or(false))
            .map(|&(_, r, m)| at(r, m))
            .collect(),
    );
    let front_style = pal.clip.mix(0.45).stroke_width(theme.px(6.0));
    if front_pts.len() > 1 {
        draw_all(
            &mut chart,
            LineSeries::new(front_pts.clone(), front_style).collect(),
        )?;
    }
    legend.add("lower-left front", Key::Line(front_style, theme.off(18.0)));

    // The int schemes: a line each over their widths.
    // The legend names them as one entry, asymmetric solid and symmetric dashed.
    for (fam, label) in [
        (Family::IntAsym, ""),
        (
            Family::IntSym,
            "int, 2–8 bits: asymmetric solid, symmetric dashed",
        ),
    ] {
        let pts = by_x(
            ok.iter()
                .filter(|(_, r, _)| family(r) == fam)
                .map(|&(_, r, m)| at(r, m))
                .collect(),
        );
        let style = colour(fam).mix(0.9).stroke_width(theme.px(1.6));
        let line: Vec<Element<DB>> = if fam == Family::IntSym {
            vec![dashed(pts.clone(), theme.px(6.0), theme.px(4.0), style)]
        } else {
            LineSeries::new(pts.clone(), style).collect()
        };
        draw_all(&mut chart, line)?;
        let r = theme.px(2.6);
        let fill = colour(fam).mix(0.9).filled();
        let markers = pts.into_iter().map(|p| {
            if fam == Family::IntSym {
                TriangleMarker::new(p, r + 1, fill).into_dyn()
            } else {
                Circle::new(p, r, fill).into_dyn()
            }
        });
        draw_all(&mut chart, markers.collect())?;
        if fam == Family::IntSym {
            let (dash, gap) = (theme.px(5.0), theme.px(3.0));
            legend.add(label, Key::Dashed(style, theme.off(18.0), dash, gap));
        }
    }

    // Finer scales and rotation (2-D data): per width, a line from one scale per tensor
    // through per channel to groups of 128, 64, 32 (without rotation, from the int line's
    // symmetric point), crosses; rotated, circles.
    for fam in [Family::IntFine, Family::IntRotated] {
        let mut any = false;
        for bits in crate::analysis::formats::FINE_BITS {
            let mut pts: Vec<(f64, f64)> = ok
                .iter()
                .filter(|(_, r, _)| family(r) == fam && r.int.is_some_and(|q| q.bits == bits))
                .map(|&(_, r, m)| at(r, m))
                .collect();
            if pts.is_empty() {
                continue;
            }
            any = true;
            let markers: Vec<(f64, f64)> = pts.clone();
            if fam == Family::IntFine {
                pts.extend(
                    ok.iter()
                        .filter(|(_, r, _)| {
                            family(r) == Family::IntSym && r.int.is_some_and(|q| q.bits == bits)
                        })
                        .map(|&(_, r, m)| at(r, m)),
                );
            }
            let pts = by_x(pts);
            let style = colour(fam).mix(0.85).stroke_width(theme.px(1.4));
            draw_all(&mut chart, LineSeries::new(pts, style).collect())?;
            let r = theme.px(3.2);
            let fine = markers.into_iter().map(|p| {
                let style = colour(fam).stroke_width(theme.px(1.6));
                Circle::new(
                    p,
                    r,
                    if fam == Family::IntFine {
                        style.filled()
                    } else {
                        style
                    },
                )
                .into_dyn()
            });
            draw_all(&mut chart, fine.collect())?;
        }
        if any {
            let style = colour(fam).mix(0.85).stroke_width(theme.px(1.4));
            // The calibration of the finer rows (min-max where kl is chosen: see `fine_rows`).
            let calibration = rows
                .iter()
                .find(|r| r.fine.is_some())
                .and_then(|r| r.int)
                .map_or(String::new(), |q| format!(" {}", q.calibration.label()));
            let label = if fam == Family::IntFine {
                format!("int4, int8 sym{calibration} per channel, group 128/64/32 (●)")
            } else {
                "the same after a Hadamard rotation (○)".to_string()
            };
            legend.add(label, Key::Line(style, theme.off(18.0)));
        }
    }

    // The formats: a square each.
    let s = theme.off(4.5);
    // Coloured by family, labelled by name (the page's caption gives the colours).
    for fam in [Family::Ggml, Family::KQuant, Family::Float, Family::Nf4] {
        let fill = colour(fam).mix(0.95).filled();
        let squares: Vec<Element<DB>> = ok
            .iter()
            .filter(|(_, r, _)| family(r) == fam)
            .map(|&(_, r, m)| {
                At {
                    at: at(r, m),
                    inner: Rectangle::new([(-s, -s), (s, s)], fill),
                }
                .into_dyn()
            })
            .collect();
        if squares.is_empty() {
            continue;
        }
        draw_all(&mut chart, squares)?;
    }

    // The current choice: a ring.
    let ring = pal.ink.stroke_width(theme.px(2.2));
    let rr = theme.px(9.0);
    let rings: Vec<Element<DB>> = ok
        .iter()
        .filter(|(_, r, _)| is_current(r, current))
        .map(|&(_, r, m)| Circle::new(at(r, m), rr, ring).into_dyn())
        .collect();
    if !rings.is_empty() {
        draw_all(&mut chart, rings)?;
        legend.add("current choice", Key::Square(ring, theme.off(5.0)));
    }

    // Labels, the current one first, then the front, then the other formats, each where it
    // covers no label placed before it, no format's square, the current ring nor the legend, or
    // not at all (the table under the chart names every point).
    let inner = chart.plotting_area().strip_coord_spec();
    let ([lx, ly, lw, lh], _) = legend.layout(&inner, theme, SeriesLabelPosition::LowerLeft)?;
    let (ix, iy) = inner.get_base_pixel();
    let base = area.get_base_pixel();
    let (pw, ph) = inner.dim_in_pixel();
    let bounds = [ix, iy, ix + pw as i32, iy + ph as i32];
    let mut placed: Vec<[i32; 4]> = vec![[ix + lx, iy + ly, ix + lx + lw, iy + ly + lh]];
    for &(_, r, m) in &ok {
        let (px, py) = chart.backend_coord(&at(r, m));
        let half = if is_current(r, current) {
            rr as i32
        } else if r.format.is_some() {
            s
        } else {
            continue;
        };
        placed.push([px - half, py - half, px + half, py + half]);
    }
    // The int lines are named by the legend; an int point is labelled where it is current.
    let rank = |i: usize, r: &FormatRow| {
        if is_current(r, current) {
            0
        } else if r.format.is_none() {
            3
        } else if front.get(i).copied().unwrap_or(false) {
            1
        } else {
            2
        }
    };
    let order = (0..3).flat_map(|k| ok.iter().filter(move |&&(i, r, _)| rank(i, r) == k));
    let gap = theme.off(7.0);
    for &(_, r, m) in order {
        let now = is_current(r, current);
        let text = match r.int {
            Some(q) if r.fine.is_some() => {
                let (g, rot) = r.fine.unwrap_or_default();
                let g = match g {
                    Granularity::Tensor => "tensor".to_string(),
                    Granularity::Channel => "channel".to_string(),
                    Granularity::Group(k) => format!("g{k}"),
                };
                let rot = if rot == Rotation::None { "" } else { " +H" };
                format!("int{} {g}{rot}", q.bits)
            }
            Some(q) if r.format.is_none() => {
                let scheme = match q.scheme {
                    Scheme::Symmetric => "sym",
                    Scheme::Asymmetric => "asym",
                };
                format!("int{} {scheme}", q.bits)
            }
            _ => r.label.clone(),
        };
        let font = theme.font(
            if now { 12.0 } else { 10.5 },
            if now { pal.ink } else { pal.muted },
        );
        let (tw, th) = area.estimate_text_size(&text, &font).map_err(drawing)?;
        let (tw, th) = (tw as i32, th as i32);
        let (px, py) = chart.backend_coord(&at(r, m));
        // The current point's label clears its ring.
        let gap = if now { rr as i32 + theme.off(4.0) } else { gap };
        // Right, left, above, below, and the four corners.
        let spots = [
            (px + gap, py - th / 2),
            (px - gap - tw, py - th / 2),
            (px - tw / 2, py - gap - th),
            (px - tw / 2, py + gap),
            (px + gap, py - gap - th + 2),
            (px + gap, py + gap - 2),
            (px - gap - tw, py - gap - th + 2),
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
        let spot = spots
            .iter()
            .map(|&(x0, y0)| [x0, y0, x0 + tw, y0 + th])
            .find(|&b| fits(b));
        if let Some(b) = spot {
            let style = font.pos(Pos::new(HPos::Left, VPos::Top));
            area.draw_text(&text, &style, (b[0] - base.0, b[1] - base.1))
                .map_err(drawing)?;
            placed.push(b);
        }
    }
    legend.draw(&inner, theme, SeriesLabelPosition::LowerLeft)
}

/// `pts` in order of x (a few dozen points: an insertion sort, which adds no sort code).
fn by_x(mut pts: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    for i in 1..pts.len() {
        let mut j = i;
        while j > 0 && pts[j - 1].0 > pts[j].0 {
            pts.swap(j - 1, j);
            j -= 1;
        }
    }
    pts
}
