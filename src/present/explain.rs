//! Teaching text: the formulas with the current numbers in them, and a conclusion that follows
//! the data.

use crate::analysis::blocks::{
    code_bits, e8m0, fp16, fp8, step_of, sub_block, ue4m3, E2M1, NF4_LEVELS,
};
use crate::analysis::formats::FormatRun;
use crate::analysis::{Row, Run};
use crate::present::json::run_label;
use crate::present::number::{py_float, short};
use crate::quant::calibrate::DataStats;
use crate::quant::formats::{BlockScale, Format};
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

// ---------------------------------------------------------------------------------------------
// The formats

/// A float32 for formulas: 4 significant digits, negative numbers in parentheses.
#[inline(never)]
fn f(x: f32) -> String {
    let s = short(f64::from(x));
    if x < 0.0 {
        format!("({s})")
    } else {
        s
    }
}

/// Bits per weight as a label: `4.5`, `2.625`, `8.0001`.
pub fn short_bits(b: f64) -> String {
    let s = format!("{b:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The reconstruction of one value written out: `x̂ = (q − 8) · d = (11 − 8) · 0.0213 = 0.0639`.
/// `j` is the value's sub-block, `q` its code, `deq` its dequantized value.
pub fn reconstruction(format: Format, scale: &BlockScale, j: usize, q: i32, deq: f32) -> String {
    let (step, offset) = step_of(format, scale, j);
    let x = short(f64::from(deq));
    match (format, scale) {
        (Format::Q4_0, BlockScale::Fp16 { .. }) => {
            format!("x̂ = (q − 8) · d = ({q} − 8) · {} = {x}", f(step))
        }
        (Format::Q8_0, _) => format!("x̂ = q · d = {} · {} = {x}", g(f64::from(q)), f(step)),
        (Format::Q4_1, _) => format!("x̂ = q · d + m = {q} · {} + {} = {x}", f(step), f(offset)),
        (Format::Mxfp4, BlockScale::E8m0 { e }) => format!(
            "x̂ = E2M1(q) · 2^(e − 127) = E2M1({q}) · 2^({e} − 127) = {} · {} = {x}",
            f(E2M1.get(q as usize).copied().unwrap_or(f32::NAN)),
            f(step)
        ),
        (Format::Nvfp4, _) => format!(
            "x̂ = E2M1(q) · s[{j}] = E2M1({q}) · {} = {} · {} = {x}",
            f(step),
            f(E2M1.get(q as usize).copied().unwrap_or(f32::NAN)),
            f(step)
        ),
        (Format::Nf4, _) => format!(
            "x̂ = NF4[q] · absmax = NF4[{q}] · {} = {} · {} = {x}",
            f(step),
            f(NF4_LEVELS.get(q as usize).copied().unwrap_or(f32::NAN)),
            f(step)
        ),
        (Format::Fp8E4m3 | Format::Fp8E5m2, BlockScale::Tensor { scale }) => {
            let name = if format == Format::Fp8E4m3 {
                "E4M3"
            } else {
                "E5M2"
            };
            format!(
                "x̂ = {name}(q) / scale = {name}(0x{:02X}) / {} = {} / {} = {x}",
                q as u8,
                f(*scale),
                f(fp8(q as u8, format == Format::Fp8E5m2)),
                f(*scale)
            )
        }
        (Format::Q2_K | Format::Q4_K | Format::Q5_K, BlockScale::KQuant { d, dmin, .. }) => {
            let (sc, m) = kquant_ints(format, scale, j);
            format!(
                "x̂ = d·sc[{j}] · q − dmin·m[{j}] = {}·{sc} · {q} − {}·{m} = {} · {q} − {} = {x}",
                f(fp16(*d)),
                f(fp16(*dmin)),
                f(step),
                f(offset)
            )
        }
        (Format::Q3_K, BlockScale::KQuant { d, .. }) => {
            let (sc, _) = kquant_ints(format, scale, j);
            format!(
                "x̂ = d·(sc[{j}] − 32) · (q − 4) = {}·({} − 32) · ({q} − 4) = {} · {} = {x}",
                f(fp16(*d)),
                sc,
                f(step),
                g(f64::from(q - 4))
            )
        }
        (Format::Q6_K, BlockScale::KQuant { d, .. }) => {
            let (sc, _) = kquant_ints(format, scale, j);
            format!(
                "x̂ = d·sc[{j}] · (q − 32) = {}·{} · ({q} − 32) = {} · {} = {x}",
                f(fp16(*d)),
                g(f64::from(sc)),
                f(step),
                g(f64::from(q - 32))
            )
        }
        _ => format!("x̂ = {x}"),
    }
}

/// A K-quant's sub-block scale and min as the block stores them (Q3_K's scale plus 32, Q6_K's
/// as a signed byte).
fn kquant_ints(format: Format, scale: &BlockScale, j: usize) -> (i32, i32) {
    match scale {
        BlockScale::KQuant { scales, mins, .. } => {
            let s = scales.get(j).copied().unwrap_or(0);
            let s = if format == Format::Q6_K {
                i32::from(s as i8)
            } else {
                i32::from(s)
            };
            (s, i32::from(mins.get(j).copied().unwrap_or(0)))
        }
        _ => (0, 0),
    }
}

/// The board for a format's run: how block 0's scale is found and stored, how codes are picked,
/// the first value's reconstruction, and the error and storage. `first` is block 0's values
/// (float32, as the format takes them) and `absmax` the data's largest magnitude.
pub fn format_formulas(run: &FormatRun, first: &[f32], absmax: f64) -> Vec<String> {
    let q = &run.quantized;
    let format = run.format;
    let mut out = Vec::new();
    let amax = first.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let Some(s0) = q.scales.first() else {
        return out;
    };
    let hex16 = |b: u16| format!("0x{b:04X}");
    match (format, s0) {
        (Format::Q8_0, BlockScale::Fp16 { d }) => {
            out.push(format!(
                "blocks of 32, one scale each: d = max|v| / 127 = {} / 127 = {}  (block 0)",
                f(amax),
                f(amax / 127.0)
            ));
            out.push(format!(
                "d is stored as fp16: {} = {};   q = round(v / d), from −127 to 127",
                hex16(*d),
                f(fp16(*d))
            ));
            out.push("x̂ = q · fp16(d)".into());
        }
        (Format::Q4_0, BlockScale::Fp16 { d }) => {
            let m = first
                .iter()
                .copied()
                .find(|v| v.abs() == amax && amax > 0.0)
                .unwrap_or(0.0);
            out.push(format!(
                "blocks of 32: m = the value of largest magnitude, sign kept = {};   d = m / −8 = {}  (block 0)",
                f(m),
                f(m / -8.0)
            ));
            out.push(format!(
                "d is stored as fp16: {} = {};   q = min(15, trunc(v / d + 8.5))",
                hex16(*d),
                f(fp16(*d))
            ));
            out.push("x̂ = (q − 8) · fp16(d): code 8 is 0, and m is exactly −8·d".into());
        }
        (Format::Q4_1, BlockScale::Fp16Min { d, m }) => {
            let lo = first.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = first.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            out.push(format!(
                "blocks of 32: d = (max − min) / 15 = ({} − {}) / 15 = {},  m = min = {}  (block 0)",
                f(hi),
                f(lo),
                f((hi - lo) / 15.0),
                f(lo)
            ));
            out.push(format!(
                "stored as fp16: d = {} = {},  m = {} = {};   q = min(15, round((v − m) / d))",
                hex16(*d),
                f(fp16(*d)),
                hex16(*m),
                f(fp16(*m))
            ));
            out.push("x̂ = q · d + m".into());
        }
        (Format::Mxfp4, BlockScale::E8m0 { e }) => {
            out.push(format!(
                "blocks of 32: e = floor(log2(max|v|)) − 2 + 127 = floor(log2({})) + 125 = {e}  (block 0, an E8M0 byte 0x{e:02X})",
                f(amax)
            ));
            out.push(format!(
                "X = 2^(e − 127) = 2^{} = {}: max|v| / X = {} lies in [4, 8)",
                i32::from(*e) - 127,
                f(e8m0(*e)),
                f(amax / e8m0(*e))
            ));
            out.push(
                "q = the E2M1 element nearest to v / X, of 0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6;   x̂ = E2M1(q) · X"
                    .into(),
            );
        }
        (Format::Nvfp4, BlockScale::Ue4m3 { s }) => {
            let sub_amax = first.iter().take(16).fold(0.0f32, |m, v| m.max(v.abs()));
            out.push(format!(
                "sub-blocks of 16: s = UE4M3(max|v| / 6) = UE4M3({} / 6) = UE4M3({}) = 0x{:02X} = {}  (values 0 to 15)",
                f(sub_amax),
                f(sub_amax / 6.0),
                s[0],
                f(ue4m3(s[0]))
            ));
            out.push(
                "q = the E2M1 element nearest to v / s, of 0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6;   x̂ = E2M1(q) · s"
                    .into(),
            );
        }
        (Format::Nf4, BlockScale::AbsMax { absmax }) => {
            out.push(format!(
                "blocks of {}: absmax = max|v| = {}, kept as float32  (block 0)",
                run.block,
                f(*absmax)
            ));
            out.push(
                "NF4 = 16 quantiles of N(0, 1) scaled to [−1, 1]: −1, −0.696, −0.525, −0.395, −0.284, −0.185, −0.091, 0, 0.080, 0.161, 0.246, 0.338, 0.441, 0.563, 0.723, 1"
                    .into(),
            );
            out.push(
                "q = the index of the NF4 level nearest to v / absmax;   x̂ = NF4[q] · absmax"
                    .into(),
            );
        }
        (Format::Fp8E4m3 | Format::Fp8E5m2, BlockScale::Tensor { scale }) => {
            let (name, top) = if format == Format::Fp8E4m3 {
                ("E4M3", 448.0)
            } else {
                ("E5M2", 57344.0)
            };
            out.push(format!(
                "one scale for the tensor: scale = {top} / max|x| = {top} / {} = {}  ({name}'s largest is {top})",
                short(absmax),
                f(*scale)
            ));
            out.push(format!(
                "q = the {name} byte of x · scale, rounded to nearest even, saturating at ±{top};   x̂ = {name}(q) / scale"
            ));
        }
        (
            _,
            BlockScale::KQuant {
                d,
                dmin,
                scales,
                mins,
            },
        ) => {
            let sub = sub_block(format, run.block);
            let nsub = 256 / sub;
            let (sb, hasmin) = match format {
                Format::Q2_K => (4, true),
                Format::Q3_K => (6, false),
                Format::Q6_K => (8, false),
                _ => (6, true),
            };
            out.push(format!(
                "super-blocks of 256 = {nsub} sub-blocks of {sub}; each sub-block gets a scale{} from ggml's least-error search",
                if hasmin { " and a min" } else { "" }
            ));
            let list = |v: &[u8], signed: bool| {
                let shown: Vec<String> = v
                    .iter()
                    .take(8)
                    .map(|&b| {
                        if signed {
                            (b as i8).to_string()
                        } else {
                            b.to_string()
                        }
                    })
                    .collect();
                let more = if v.len() > 8 { ", …" } else { "" };
                format!("[{}{more}]", shown.join(", "))
            };
            out.push(format!(
                "scales of scales: d = {} = {} (fp16), sc = {} ({sb}-bit{})  (block 0)",
                hex16(*d),
                f(fp16(*d)),
                list(scales, format == Format::Q6_K),
                match format {
                    Format::Q3_K => ", stored plus 32",
                    Format::Q6_K => ", signed",
                    _ => "",
                }
            ));
            if hasmin {
                out.push(format!(
                    "and the mins: dmin = {} = {} (fp16), m = {} ({sb}-bit)",
                    hex16(*dmin),
                    f(fp16(*dmin)),
                    list(mins, false)
                ));
            }
            out.push(match format {
                Format::Q3_K => {
                    "q = clamp(round(v / (d·(sc − 32))), −4, 3) + 4;   x̂ = d·(sc − 32) · (q − 4)"
                        .into()
                }
                Format::Q6_K => {
                    "q = clamp(round(v / (d·sc)), −32, 31) + 32;   x̂ = d·sc · (q − 32)".into()
                }
                _ => format!(
                    "q = clamp(round((v + dmin·m) / (d·sc)), 0, {});   x̂ = d·sc · q − dmin·m",
                    (1 << code_bits(format)) - 1
                ),
            });
        }
        _ => {}
    }
    if let (Some(&c), Some(&dq), Some(&x)) = (q.codes.first(), q.dequantized.first(), first.first())
    {
        out.push(format!(
            "x = {}:  q = {c},  {}",
            short(f64::from(x)),
            reconstruction(format, s0, 0, c, dq)
        ));
    }
    let m = &run.metrics;
    out.push(format!(
        "MSE = mean((x − x̂)²) = {},  SQNR = {} dB,  cosine similarity {}",
        short(m.mse),
        short(m.sqnr_db),
        short(run.similarity.cosine)
    ));
    out
}

/// A sentence or two on a format's run: its storage and its error.
pub fn format_conclusion(run: &FormatRun) -> String {
    let m = &run.metrics;
    let blocks = match run.format {
        Format::Fp8E4m3 | Format::Fp8E5m2 => "one scale for all values".to_string(),
        _ => format!("{} blocks of {}", run.blocks, run.block),
    };
    let mut s = format!(
        "{}: {} bits per weight, scales included ({}× smaller than float32, {}× than float16), {blocks}. SQNR {} dB, relative error {}%, cosine similarity {}.",
        run.format,
        short_bits(run.bits_per_weight),
        short(run.compression_vs_f32()),
        short(run.compression_vs_f16()),
        short(m.sqnr_db),
        short(run.similarity.relative_error * 100.0),
        short(run.similarity.cosine)
    );
    match m.clipped {
        0 => {}
        1 => s.push_str(" 1 value met the format's largest magnitude."),
        c => s.push_str(&format!(" {c} values met the format's largest magnitude.")),
    }
    s
}
