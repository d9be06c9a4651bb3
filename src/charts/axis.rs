//! Axes: ranges padded to be readable, tick positions at round numbers (linear and
//! logarithmic), and tick labels.

use super::*;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use std::ops::Range;

/// A linear axis whose ticks (and grid lines) are exactly the given values, or, made with
/// [`Ticked::auto`], plotters' own key points. Every chart uses this one axis type for both
/// axes, so that plotters' generic chart code (builder, mesh, legend, drawing) is compiled once
/// instead of once per coordinate combination: that keeps the wasm small.
#[derive(Clone)]
pub(crate) struct Ticked {
    pub(crate) inner: RangedCoordf64,
    pub(crate) ticks: Option<Vec<f64>>,
}

impl Ticked {
    /// The axis over `range` with ticks at `ticks`.
    pub(crate) fn new(range: Range<f64>, ticks: Vec<f64>) -> Ticked {
        Ticked {
            inner: range.into(),
            ticks: Some(ticks),
        }
    }

    /// The axis over `range` with plotters' key points (as a plain `Range<f64>` axis has).
    pub(crate) fn auto(range: Range<f64>) -> Ticked {
        Ticked {
            inner: range.into(),
            ticks: None,
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(v, limit)
    }
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        match &self.ticks {
            None => key_points(self.inner.range(), hint.max_num_points()),
            Some(_) if hint.weight().allow_light_points() => Vec::new(),
            Some(ticks) => ticks.clone(),
        }
    }
    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// The key points of a linear axis over `range`, at most `max_points` of them: plotters' own
/// for an `f64` range, except that a NaN end gives none (plotters' would assert).
pub fn key_points(range: Range<f64>, max_points: usize) -> Vec<f64> {
    if range.start.is_nan() || range.end.is_nan() {
        return vec![];
    }
    RangedCoordf64::from(range).key_points(max_points)
}

/// The labels of an axis that has no formatter of its own. Every drawn axis sets one; plotters
/// still formats the key points of the secondary x axis (which has no label area, so nothing
/// is drawn).
impl ValueFormatter<f64> for Ticked {
    fn format(v: &f64) -> String {
        num(*v)
    }
}

/// A finite, non-empty range: `[lo, hi]` when sensible, else padded or `[-1, 1]`.
///
/// A range narrower than about 1e-9 of its magnitude is widened, so that tick labels stay
/// distinct and plotters' key-point search has something to work with.
#[inline(never)]
pub(crate) fn span(lo: f64, hi: f64) -> Range<f64> {
    let (lo, hi) = match (lo.is_finite(), hi.is_finite()) {
        (true, true) => (lo.min(hi), lo.max(hi)),
        (true, false) => (lo, lo),
        (false, true) => (hi, hi),
        (false, false) => (-1.0, 1.0),
    };
    let mag = lo.abs().max(hi.abs());
    let min_width = (mag * 1e-9).max(1e-300);
    if hi - lo >= min_width && (hi - lo).is_finite() {
        return lo..hi;
    }
    if (hi - lo).is_finite() {
        let c = lo / 2.0 + hi / 2.0;
        let pad = if c == 0.0 { 1.0 } else { c.abs() * 0.5 };
        (c - pad)..(c + pad)
    } else {
        // max - min overflows: keep the halves, which are finite.
        (lo / 2.0)..(hi / 2.0)
    }
}

/// `r` widened by `frac` of its width on each side.
#[inline(never)]
pub(crate) fn pad(r: Range<f64>, frac: f64) -> Range<f64> {
    let w = r.end - r.start;
    let p = if (w * frac).is_finite() {
        w * frac
    } else {
        0.0
    };
    span(r.start - p, r.end + p)
}

/// The smallest range holding all finite `xs` (`[-1, 1]` if there are none).
#[inline(never)]
pub(crate) fn hull(xs: impl IntoIterator<Item = f64>) -> Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in xs.into_iter().filter(|x| x.is_finite()) {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    span(lo, hi)
}

/// Ticks for a count axis `[0, max]`: about `n` of them, whole numbers, steps of 1, 2 or 5
/// times a power of ten.
#[inline(never)]
pub(crate) fn count_ticks(max: f64, n: usize) -> Vec<f64> {
    if !(max.is_finite() && max > 0.0) {
        return vec![0.0];
    }
    let raw = (max / n.max(1) as f64).max(1.0);
    let pow = libm::pow(10.0, raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * pow);
    (0..=n * 3)
        .map(|i| i as f64 * step)
        .take_while(|t| *t <= max)
        .collect()
}

/// The height in data units of `px` CSS pixels on a y axis of `span` over `height` device
/// pixels: bars with a count are never thinner than this, so that a lone outlier shows.
pub(crate) fn min_bar(span: f64, height: u32, theme: &Theme, px: f64) -> f64 {
    span * theme.px(px) as f64 / height.max(1) as f64
}

/// A number for a label or legend: 4 significant digits, exponent form when very large or small.
#[inline(never)]
pub(crate) fn num(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "n/a".to_string()
        } else if v > 0.0 {
            "inf".to_string()
        } else {
            "-inf".to_string()
        };
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        let s = format!("{v:.3e}");
        // 1.500e-4 -> 1.5e-4
        match s.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                let m = m.trim_end_matches('0').trim_end_matches('.');
                format!("{m}e{e}")
            }
            _ => s,
        }
    } else {
        let digits = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// A tick label for a linear axis over `r`: as many decimals as the tick spacing needs.
#[inline(never)]
pub(crate) fn tick(v: f64, r: &Range<f64>) -> String {
    let w = r.end - r.start;
    let mag = r.start.abs().max(r.end.abs());
    if v == 0.0 || v.abs() < w * 1e-9 {
        return "0".to_string();
    }
    if !(1e-3..1e6).contains(&mag) || !w.is_finite() || w <= 0.0 {
        return num(v);
    }
    // Ticks are about w / 10 apart; show one digit of that spacing.
    let step = w / 10.0;
    let decimals = (-(step.log10().floor()) as i32).clamp(0, 8) as usize;
    format!("{v:.decimals$}")
}

/// A count for an axis: `950`, `12k`, `1.2M`.
#[inline(never)]
pub(crate) fn count(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", num(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", num(v / 1e3))
    } else {
        format!("{}", v.round())
    }
}

/// A log10 axis for MSE: whole decades from below the smallest positive value to above the
/// largest, so that bars and lines have room; 0 (exact) sits on the floor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogAxis {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
}

impl LogAxis {
    /// The axis for the positive finite values among `vs` (a default decade span if none).
    #[inline(never)]
    pub(crate) fn of(vs: impl IntoIterator<Item = f64>) -> LogAxis {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in vs.into_iter().filter(|v| v.is_finite() && *v > 0.0) {
            let l = v.log10();
            lo = lo.min(l);
            hi = hi.max(l);
        }
        if !lo.is_finite() {
            return LogAxis { lo: -2.0, hi: 1.0 };
        }
        LogAxis {
            lo: lo.floor() - 1.0,
            hi: (hi + 0.6).ceil(),
        }
    }

    /// Where `v` sits: `log10(v)`, or the floor for 0, negative and non-finite values.
    pub(crate) fn y(&self, v: f64) -> f64 {
        if v.is_finite() && v > 0.0 {
            v.log10().clamp(self.lo, self.hi)
        } else {
            self.lo
        }
    }

    /// The range of the axis.
    pub(crate) fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }

    /// A tick label: the decade, or "exact" for the floor when some value is 0 (drawn there).
    pub(crate) fn label(&self, v: f64, has_zero: bool) -> String {
        if has_zero && (v - self.lo).abs() < 1e-9 {
            "exact".to_string()
        } else {
            decade(v)
        }
    }

    /// Whole decades, at most about `max` of them.
    pub(crate) fn decades(&self, max: usize) -> Vec<f64> {
        let n = (self.hi - self.lo).max(1.0);
        let step = (n / max.max(1) as f64).ceil().max(1.0);
        let mut out = Vec::new();
        let mut d = self.lo.ceil();
        while d <= self.hi && out.len() < 64 {
            out.push(d);
            d += step;
        }
        out
    }
}

/// A decade as a tick label: `1e-4`, `0.01`, `1`, `100`, `1e4`.
#[inline(never)]
pub(crate) fn decade(v: f64) -> String {
    let k = v.round() as i32;
    match k {
        -2..=3 => num(10f64.powi(k)),
        _ => format!("1e{k}"),
    }
}

/// SQNR as a bar label: `48.2 dB`, or `exact` for an infinite SQNR.
#[inline(never)]
pub(crate) fn sqnr_label(db: f64) -> String {
    if db == f64::INFINITY {
        "exact".to_string()
    } else if db.is_finite() {
        format!("{db:.1} dB")
    } else {
        "n/a".to_string()
    }
}
