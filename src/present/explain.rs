//! Teaching text: the formulas with the current numbers in them, and a conclusion that follows
//! the data.

use crate::analysis::{Row, Run};
use crate::present::json::run_label;
use crate::present::number::{py_float, short};
use crate::quant::calibrate::DataStats;
use crate::settings::{Calibration, Scheme, ZeroPoint};

#[inline(never)]
fn g(x: f64) -> String {
    // Shortest round-trip form, with negative numbers in parentheses inside expressions.
    let s = format!("{x}");
    if x < 0.0 {
        format!("({s})")
    } else {
        s
    }
}

/// The formulas of a run written out with its numbers, the way a teacher writes on the board.
/// `first` is a value to walk through quantize and dequantize (the data's first, say).
pub fn formulas(run: &Run, stats: &DataStats, first: Option<&Row>) -> Vec<String> {
    let p = &run.params;
    let s = &run.settings;
    let b = p.bits;
    let mut out = Vec::new();
    let constant = stats.is_constant();
    match (s.scheme, s.calibration) {
        (Scheme::Asymmetric, Calibration::MinMax) => out.push(format!(
            "α = max(x) = {},  β = min(x) = {}",
            p.range_max, p.range_min
        )),
        (Scheme::Asymmetric, Calibration::Percentile(q)) => out.push(format!(
            "α = percentile(x, {q}) = {},  β = percentile(x, 100 − {q}) = {}",
            p.range_max, p.range_min
        )),
        (Scheme::Asymmetric, Calibration::Mse) => out.push(format!(
            "[β, α] = the range with the least MSE = [{}, {}]",
            p.range_min, p.range_max
        )),
        (Scheme::Symmetric, Calibration::MinMax) => {
            out.push(format!("α = max|x| = {}", p.range_max))
        }
        (Scheme::Symmetric, Calibration::Percentile(q)) => {
            out.push(format!("α = percentile(|x|, {q}) = {}", p.range_max))
        }
        (Scheme::Symmetric, Calibration::Mse) => out.push(format!(
            "α = the clip value with the least MSE = {}",
            p.range_max
        )),
        (Scheme::Symmetric, Calibration::Kl) => out.push(format!(
            "α = the edge of the 2048-bin |x| histogram with the least KL divergence = {}",
            p.range_max
        )),
        // Settings refuse kl with asymmetric; said plainly should one get here.
        (Scheme::Asymmetric, Calibration::Kl) => {
            out.push(crate::error::Error::KlAsymmetric.to_string())
        }
    }
    match s.scheme {
        Scheme::Asymmetric => {
            let (lo, hi) = match s.zero_point {
                ZeroPoint::Raw => (p.range_min, p.range_max),
                ZeroPoint::IncludeZero => {
                    out.push(format!(
                        "include zero: β' = min(β, 0) = {},  α' = max(α, 0) = {}",
                        p.range_min.min(0.0),
                        p.range_max.max(0.0)
                    ));
                    (p.range_min.min(0.0), p.range_max.max(0.0))
                }
            };
            let (a, bb) = if s.zero_point == ZeroPoint::Raw {
                ("α", "β")
            } else {
                ("α'", "β'")
            };
            if constant {
                out.push(format!(
                    "constant data: {a} − {bb} = 0 would divide by zero, so scale = |c| = {}",
                    py_float(p.scale)
                ));
            } else {
                out.push(format!(
                    "scale = ({a} − {bb}) / (2^{b} − 1) = ({} − {}) / {} = {}",
                    hi,
                    g(lo),
                    p.qmax - p.qmin,
                    py_float(p.scale)
                ));
            }
            match s.zero_point {
                ZeroPoint::Raw => out.push(format!(
                    "zero = −round(β / scale) = −round({} / {}) = {}",
                    g(lo),
                    p.scale,
                    p.zero_point
                )),
                ZeroPoint::IncludeZero => out.push(format!(
                    "zero = clamp(0 − round(β' / scale), 0, {}) = clamp(−round({} / {}), 0, {}) = {}",
                    p.qmax,
                    g(lo),
                    p.scale,
                    p.qmax,
                    p.zero_point
                )),
            }
            out.push(format!(
                "q = clamp(round(x / scale + zero), 0, {}),   x̂ = (q − zero) · scale",
                p.qmax
            ));
        }
        Scheme::Symmetric => {
            if constant {
                out.push(format!(
                    "constant data: scale = |c| = {} so that c is exactly one step from 0",
                    py_float(p.scale)
                ));
            } else {
                out.push(format!(
                    "scale = α / (2^({b}−1) − 1) = {} / {} = {}",
                    p.range_max,
                    p.qmax,
                    py_float(p.scale)
                ));
            }
            out.push(format!(
                "q = clamp(round(x / scale), {}, {}),   x̂ = q · scale",
                p.qmin, p.qmax
            ));
        }
    }
    if let Some(r) = first {
        let raw = r.original / p.scale + p.zero_point;
        let zero = if s.scheme == Scheme::Asymmetric {
            format!(" + {}", g(p.zero_point))
        } else {
            String::new()
        };
        let clip = if raw.round_ties_even() != r.code as f64 {
            format!(", clamped to {}", r.code)
        } else {
            String::new()
        };
        out.push(format!(
            "x = {}:  q = round({} / {}{}) = round({}) = {}{}",
            r.original,
            g(r.original),
            short(p.scale),
            zero,
            short(raw),
            raw.round_ties_even(),
            clip
        ));
        let deq = if s.scheme == Scheme::Asymmetric {
            format!("({} − {}) · {}", r.code, g(p.zero_point), short(p.scale))
        } else {
            format!("{} · {}", r.code, short(p.scale))
        };
        out.push(format!(
            "x̂ = {} = {},  error x − x̂ = {}",
            deq,
            r.dequantized,
            short(r.error)
        ));
    }
    let m = &run.metrics;
    out.push(format!(
        "MSE = mean((x − x̂)²) = {},  SQNR = 10·log10(mean(x²) / MSE) = {} dB",
        short(m.mse),
        short(m.sqnr_db)
    ));
    out
}

/// One sentence on which scheme and calibration wins on this data, and why.
pub fn conclusion(compare: &[Run], current: &Run, stats: &DataStats, outliers: usize) -> String {
    if stats.is_constant() {
        return "Every value is the same, so every scheme reconstructs it exactly (MSE 0)."
            .to_string();
    }
    // With injected outliers, judge by the error on the other values: that is what clipping buys.
    let err = |r: &Run| r.inliers.map(|m| m.mse).unwrap_or(r.metrics.mse);
    let Some(best) = compare.iter().min_by(|a, b| err(a).total_cmp(&err(b))) else {
        return String::new();
    };
    let on = if outliers > 0 {
        " on the values that are not outliers"
    } else {
        ""
    };
    let mut s = format!(
        "Least error here{on}: {} (MSE {}).",
        run_label(best),
        short(err(best))
    );
    let one_sided = stats.min >= 0.0 || stats.max <= 0.0;
    let minmax_of = |scheme| {
        compare
            .iter()
            .find(|r| r.settings.scheme == scheme && r.settings.calibration == Calibration::MinMax)
    };
    let reason = if best.settings.calibration != Calibration::MinMax
        && (outliers > 0 || best.metrics.clipped > 0)
    {
        let mm = minmax_of(best.settings.scheme).map(err).unwrap_or(f64::NAN);
        format!(
            " Far values stretch the min-max range so that every value gets a coarse step; clipping {} of them gives the rest finer steps ({}× less error than min-max).",
            best.metrics.clipped,
            short(mm / err(best))
        )
    } else if one_sided && best.settings.scheme == Scheme::Asymmetric {
        let sign = if stats.min >= 0.0 {
            "positive"
        } else {
            "negative"
        };
        " Every value is ".to_string()
            + sign
            + ", so symmetric spends half its codes on values that never occur; asymmetric moves the zero point instead."
    } else if best.settings.scheme == Scheme::Asymmetric {
        " The data is not centred on zero, so the zero point lets asymmetric use its codes where the values are."
            .to_string()
    } else {
        " The data is centred on zero, so symmetric loses nothing and needs no zero point."
            .to_string()
    };
    s.push_str(&reason);
    if current.settings != best.settings && err(current) > 0.0 {
        s.push_str(&format!(
            " The current choice, {}, has {}× its error.",
            run_label(current),
            short(err(current) / err(best))
        ));
    }
    s
}
