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

/// What a format stores, why it is shaped so, and when it loses: a short paragraph.
pub fn format_about(format: Format) -> &'static str {
    match format {
        Format::Nf4 => "NF4 (QLoRA's 4-bit NormalFloat) stores a 4-bit index into 16 fixed levels and one float32 absmax per block. The levels are the quantiles of a normal distribution scaled to [−1, 1], with 0 among them: for weights that are normal, each level is used about equally often, which is what a 4-bit code can do best. It loses on data that is not bell-shaped (uniform or one-sided values waste its dense middle levels), and a single large value in a block stretches its absmax so that the block's other values crowd into the few levels near 0.",
        Format::Fp8E4m3 | Format::Fp8E5m2 => "FP8 stores each value as an 8-bit float, with one float32 scale for the whole tensor that maps its largest magnitude to FP8's largest. A float spends its bits on an exponent and a mantissa: exponent bits buy range (E5M2 spans 2^-16 to 57344), mantissa bits buy precision (E4M3 has 3, so steps are at most 1/16 of a value, but its range ends at 448). The error is relative: small values keep small errors, which integer grids cannot do. It loses when values span more than its range allows (below the smallest subnormal they become 0) and, at 8 bits per weight, against an 8-bit integer grid on data without a wide spread of magnitudes.",
        Format::Mxfp4 => "MXFP4 (the OCP Microscaling format) stores 4-bit floats, E2M1: the 15 values 0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6, times one power of two (an E8M0 byte) per 32 values. A power of two is cheap to store (8 bits for 32 values, 4.25 bits per weight) and to apply in hardware (an exponent add), but it cannot fit the block exactly: the block's largest value lands anywhere between 4 and 8 times the scale, so up to half the grid goes unused and values beyond 6 times the scale saturate. The E2M1 grid is coarse at its top (4 to 6), so it loses on blocks whose values are spread evenly.",
        Format::Nvfp4 => "NVFP4 stores the same 4-bit floats as MXFP4 (E2M1: 0, ±0.5 ... ±6) but with a finer scale: an 8-bit float (UE4M3) per 16 values instead of a power of two per 32. The scale can then map each sub-block's largest value to 6 almost exactly, so the grid is used fully, for 4.5 bits per weight. ggml stores it without a per-tensor scale, so a sub-block whose largest value is above 2688 saturates, and very small values lose the scale's precision (its subnormal range starts at 2^-6).",
        Format::Q4_0 => "Q4_0 (ggml, llama.cpp) stores a 4-bit code per value and one fp16 scale d per 32 values: x̂ = (q − 8)·d, with d = m / −8 where m is the block's value of largest magnitude, so that value is exact and the grid is symmetric around 0. 4.5 bits per weight. It loses where a block is one-sided (all positive, say: half of its 16 levels go unused) and where one large value makes the step of the whole block coarse.",
        Format::Q4_1 => "Q4_1 (ggml) stores a 4-bit code per value, an fp16 scale d and an fp16 minimum m per 32 values: x̂ = q·d + m, an asymmetric grid from the block's min to its max. The minimum costs 0.5 bits per weight more than Q4_0 (5 in all) and uses all 16 levels on one-sided blocks; 0 is generally not exactly representable, and on blocks centred on 0 it gains little over Q4_0.",
        Format::Q8_0 => "Q8_0 (ggml) stores an 8-bit signed code per value and one fp16 scale d = max|v| / 127 per 32 values: x̂ = q·d. With 255 levels per block the rounding error is small almost everywhere, at 8.5 bits per weight; ggml uses it as the reference against which the smaller formats are judged. It loses only on size, and a little against FP8 on blocks whose values span many orders of magnitude.",
        Format::Q2_K | Format::Q3_K | Format::Q4_K | Format::Q5_K | Format::Q6_K => "The K-quants (ggml, llama.cpp) quantize scales of scales: a super-block of 256 values is cut into sub-blocks (of 16 or 32) that each get their own scale (and, for Q2_K, Q4_K and Q5_K, a min) found by a small search for the least weighted error; those scales are themselves quantized to a few bits against one or two fp16 super-scales per 256. Sub-block scales cost 4 to 8 bits per 16 or 32 values instead of 16, so the codes get most of the budget: Q4_K is 4.5 bits per weight like Q4_0, with a finer grid fitted to each 32. They lose where the sub-blocks' scales differ by more than their few bits can say relative to the largest: a sub-block of small values next to one of large values gets a coarse scale.",
    }
}

/// The formats' one line on what the int controls would set: code bits, scheme, calibration
/// and zero point, each as the format fixes it, and a sentence saying why they are greyed.
pub struct Fixes {
    pub bits: String,
    pub scheme: String,
    pub calibration: String,
    pub zero_point: String,
    pub reason: String,
}

/// What `format` (blocks of `block`) fixes of the int controls.
pub fn format_fixes(format: Format, block: usize) -> Fixes {
    let bits = code_bits(format);
    let (scheme, calibration, zero_point) = match format {
        Format::Nf4 => (
            "16 normal quantiles × absmax".to_string(),
            format!("absmax of each block of {block}"),
            "none: 0 is a level".to_string(),
        ),
        Format::Fp8E4m3 | Format::Fp8E5m2 => (
            "a float: sign, exponent, mantissa".to_string(),
            "max|x| of the tensor to FP8's largest".to_string(),
            "none".to_string(),
        ),
        Format::Mxfp4 => (
            "E2M1 floats × 2^(e − 127)".to_string(),
            "a power of two per 32 from max|v|".to_string(),
            "none".to_string(),
        ),
        Format::Nvfp4 => (
            "E2M1 floats × a UE4M3 scale".to_string(),
            "max|v| / 6 per 16".to_string(),
            "none".to_string(),
        ),
        Format::Q4_0 => (
            "symmetric, (q − 8)·d".to_string(),
            "largest magnitude per 32".to_string(),
            "none: 8 is 0".to_string(),
        ),
        Format::Q4_1 => (
            "asymmetric, q·d + m".to_string(),
            "min-max per 32".to_string(),
            "an fp16 min per 32".to_string(),
        ),
        Format::Q8_0 => (
            "symmetric, q·d".to_string(),
            "max|v| / 127 per 32".to_string(),
            "none".to_string(),
        ),
        Format::Q3_K | Format::Q6_K => (
            "symmetric, sub-block scales".to_string(),
            "ggml's least-error search per 16".to_string(),
            "none".to_string(),
        ),
        Format::Q2_K | Format::Q4_K | Format::Q5_K => (
            "asymmetric, d·sc·q − dmin·m".to_string(),
            format!("ggml's least-error search per {}", sub_block(format, block)),
            "a min per sub-block".to_string(),
        ),
    };
    Fixes {
        bits: bits.to_string(),
        scheme,
        calibration,
        zero_point,
        reason: format!(
            "{format} fixes these: {bits}-bit codes, its own grid and its own scales ({} bits per weight in all). Choose Format int to set them.",
            short_bits(format.bits_per_weight(block, block))
        ),
    }
}

/// Bits per weight as a label: `4.5`, `2.625`, `8.0001`.
pub fn short_bits(b: f64) -> String {
    let s = format!("{b:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// What the Scale and Zero point metrics show for a format: a short value and a line on it.
pub struct FormatMetricText {
    pub scale: String,
    pub scale_what: String,
    pub zero_point: String,
    pub zero_point_what: String,
    pub clipped_what: String,
}

/// The Scale and Zero point metrics' texts for a format's run (`tensor_scale`: FP8's).
pub fn format_metric_text(format: Format, block: usize, scale: &BlockScale) -> FormatMetricText {
    let per = |what: &str| format!("{what}: inspect a block below");
    let (scale_v, scale_what, zero, zero_what) = match format {
        Format::Nf4 => (
            "per block".into(),
            per(&format!("a float32 absmax per {block} values")),
            "none".into(),
            "0 is one of NF4's 16 levels".into(),
        ),
        Format::Fp8E4m3 | Format::Fp8E5m2 => {
            let s = match scale {
                BlockScale::Tensor { scale } => short(f64::from(*scale)),
                _ => "per tensor".into(),
            };
            (
                s,
                "one float32 scale for the tensor: x·scale is cast to FP8".into(),
                "none".into(),
                "a float has a sign and 0 exactly".into(),
            )
        }
        Format::Mxfp4 => (
            "per block".into(),
            per("a power of two (E8M0) per 32 values"),
            "none".into(),
            "E2M1 has 0 and a sign".into(),
        ),
        Format::Nvfp4 => (
            "per 16 values".into(),
            per("a UE4M3 scale per 16 values"),
            "none".into(),
            "E2M1 has 0 and a sign".into(),
        ),
        Format::Q4_0 => (
            "per block".into(),
            per("an fp16 d per 32 values"),
            "none".into(),
            "symmetric: code 8 is 0".into(),
        ),
        Format::Q4_1 => (
            "per block".into(),
            per("an fp16 d per 32 values"),
            "per block".into(),
            "an fp16 minimum m per 32 values".into(),
        ),
        Format::Q8_0 => (
            "per block".into(),
            per("an fp16 d per 32 values"),
            "none".into(),
            "symmetric: code 0 is 0".into(),
        ),
        Format::Q3_K | Format::Q6_K => (
            "per sub-block".into(),
            per("a small-integer scale per 16 values under an fp16 d per 256"),
            "none".into(),
            "symmetric sub-blocks".into(),
        ),
        Format::Q2_K | Format::Q4_K | Format::Q5_K => (
            "per sub-block".into(),
            per(&format!(
                "a small-integer scale per {} values under an fp16 d per 256",
                sub_block(format, block)
            )),
            "per sub-block".into(),
            "a small-integer min per sub-block under an fp16 dmin".into(),
        ),
    };
    FormatMetricText {
        scale: scale_v,
        scale_what,
        zero_point: zero,
        zero_point_what: zero_what,
        clipped_what: match format {
            Format::Fp8E4m3 | Format::Fp8E5m2 => "values cast to FP8's largest magnitude",
            _ => "values given the grid's largest magnitude",
        }
        .into(),
    }
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
            f(x),
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
    let mut s = format!(
        "{} stores {} bits per weight, scales included ({}× smaller than float32): SQNR {} dB, relative error {}%, cosine similarity {}.",
        run.format,
        short_bits(run.bits_per_weight),
        short(run.compression_vs_f32()),
        short(m.sqnr_db),
        short(run.similarity.relative_error * 100.0),
        short(run.similarity.cosine)
    );
    match m.clipped {
        0 => {}
        1 => s.push_str(" 1 value met the format's largest magnitude."),
        c => s.push_str(&format!(" {c} values met the format's largest magnitude.")),
    }
    s.push_str(" The chart of every format below puts it beside the others on this data.");
    s
}
