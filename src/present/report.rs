//! Reports: the results as JSON (the CLI's `--json` and the page's summary) and as text.
//!
//! JSON is written by hand (no serde): numbers use Rust's shortest round-trip form, so a scale
//! prints as `0.7617254901960785`, exactly as Python prints it; non-finite numbers (an exact
//! reconstruction's infinite SQNR) are written as `null`.
//!
//! Helpers called from many places are `#[inline(never)]`: this is cold code, and inlined copies
//! only make the wasm bigger (issue 4).

use crate::analysis::metrics::Metrics;
use crate::analysis::{Row, Run};
use crate::quant::calibrate::DataStats;
use std::fmt::Write;

/// A JSON value under construction.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number; non-finite ones are written as `null`.
    Num(f64),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, its keys in order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// An object from `(key, value)` pairs.
    #[inline(never)]
    pub fn obj(pairs: Vec<(&str, Json)>) -> Json {
        Json::Obj(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// A string value.
    #[inline(never)]
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    /// Writes compact JSON.
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(x) => {
                if x.is_finite() {
                    let _ = write!(out, "{x}");
                } else {
                    out.push_str("null")
                }
            }
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::Str(s) => write_str(out, s),
            Json::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Json::Obj(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// The compact JSON text.
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number as JSON (`null` when not finite).
pub fn num(x: f64) -> Json {
    Json::Num(x)
}

/// The metrics as a JSON object: `n`, `mse`, `sqnr_db`, `max_abs_error`, `clipped`.
#[inline(never)]
pub fn metrics_json(m: &Metrics) -> Json {
    Json::obj(vec![
        ("n", Json::Int(m.n as i64)),
        ("mse", num(m.mse)),
        ("sqnr_db", num(m.sqnr_db)),
        ("max_abs_error", num(m.max_abs_error)),
        ("clipped", Json::Int(m.clipped as i64)),
    ])
}

/// One run as the CLI's `--json` object: settings, parameters and metrics.
///
/// `clip_min`/`clip_max` are the calibrated range `[beta, alpha]`; `level_min`/`level_max` are
/// the values of the smallest and largest codes, `(qmin - zero_point) * scale` and
/// `(qmax - zero_point) * scale`.
#[inline(never)]
pub fn run_json(run: &Run) -> Vec<(&'static str, Json)> {
    let p = &run.params;
    let m = &run.metrics;
    vec![
        ("n", Json::Int(m.n as i64)),
        ("bits", Json::Int(p.bits as i64)),
        ("scheme", Json::str(p.scheme.to_string())),
        (
            "calibration",
            Json::str(run.settings.calibration.to_string()),
        ),
        (
            "zero_point_policy",
            Json::str(run.settings.zero_point.to_string()),
        ),
        ("scale", num(p.scale)),
        ("zero_point", num(p.zero_point)),
        ("qmin", Json::Int(p.qmin as i64)),
        ("qmax", Json::Int(p.qmax as i64)),
        ("clip_min", num(p.range_min)),
        ("clip_max", num(p.range_max)),
        ("level_min", num(p.clip_min())),
        ("level_max", num(p.clip_max())),
        ("mse", num(m.mse)),
        ("sqnr_db", num(m.sqnr_db)),
        ("max_abs_error", num(m.max_abs_error)),
        ("clipped", Json::Int(m.clipped as i64)),
        (
            "inliers",
            run.inliers.as_ref().map(metrics_json).unwrap_or(Json::Null),
        ),
    ]
}

/// The comparison of every scheme and calibration as a JSON array, `current` marked.
#[inline(never)]
pub fn compare_json(runs: &[Run], current: Option<&Run>) -> Json {
    Json::Arr(
        runs.iter()
            .map(|r| {
                Json::obj(vec![
                    ("scheme", Json::str(r.settings.scheme.to_string())),
                    ("calibration", Json::str(r.settings.calibration.to_string())),
                    ("label", Json::str(run_label(r))),
                    ("scale", num(r.params.scale)),
                    ("zero_point", num(r.params.zero_point)),
                    ("clip_min", num(r.params.range_min)),
                    ("clip_max", num(r.params.range_max)),
                    ("mse", num(r.metrics.mse)),
                    ("sqnr_db", num(r.metrics.sqnr_db)),
                    ("max_abs_error", num(r.metrics.max_abs_error)),
                    ("clipped", Json::Int(r.metrics.clipped as i64)),
                    (
                        "inliers_mse",
                        r.inliers.map(|m| num(m.mse)).unwrap_or(Json::Null),
                    ),
                    (
                        "inliers_sqnr_db",
                        r.inliers.map(|m| num(m.sqnr_db)).unwrap_or(Json::Null),
                    ),
                    (
                        "current",
                        Json::Bool(current.is_some_and(|c| c.settings == r.settings)),
                    ),
                ])
            })
            .collect(),
    )
}

/// `asymmetric min-max`, `symmetric p99.99`, ...
#[inline(never)]
pub fn run_label(r: &Run) -> String {
    format!("{} {}", r.settings.scheme, r.settings.calibration.label())
}

/// Table rows as JSON objects.
#[inline(never)]
pub fn table_json(rows: &[Row]) -> Json {
    Json::Arr(
        rows.iter()
            .map(|r| {
                Json::obj(vec![
                    ("index", Json::Int(r.index as i64)),
                    ("original", num(r.original)),
                    ("code", Json::Int(r.code as i64)),
                    ("dequantized", num(r.dequantized)),
                    ("error", num(r.error)),
                ])
            })
            .collect(),
    )
}

/// The data's stats as JSON.
#[inline(never)]
pub fn data_json(label: &str, source: &str, stats: &DataStats, outliers: usize) -> Json {
    Json::obj(vec![
        ("label", Json::str(label)),
        ("source", Json::str(source)),
        ("n", Json::Int(stats.n as i64)),
        ("min", num(stats.min)),
        ("max", num(stats.max)),
        ("absmax", num(stats.absmax)),
        ("outliers", Json::Int(outliers as i64)),
    ])
}

/// A number the way Python's `repr(float)` writes it: `62.0`, `0.7617254901960785`, `1e-05`.
#[inline(never)]
pub fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        // Shortest digits in exponent form, exponent with a sign and at least two digits.
        let s = format!("{x:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = exp.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", e.abs());
    }
    let s = format!("{x}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// numpy's `np.round(x, 2)`: `rint(x * 100) / 100`, halves to even.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round_ties_even() / 100.0
}

/// A number for people: 4 significant digits, or scientific when very small or large.
#[inline(never)]
pub fn short(x: f64) -> String {
    if !x.is_finite() {
        return if x > 0.0 { "∞".into() } else { x.to_string() };
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{x:.3e}");
    }
    let digits = (3 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The settings as a JSON object, with the names the URL uses.
#[inline(never)]
pub fn settings_json(s: &crate::settings::Settings) -> Json {
    Json::obj(vec![
        ("dist", Json::str(s.data.dist.to_string())),
        ("n", Json::Int(s.data.n as i64)),
        ("seed", Json::str(s.data.seed.to_string())),
        ("outliers", Json::Int(s.data.outliers as i64)),
        ("outlier_value", num(s.data.outlier_value)),
        ("bits", Json::Int(s.quant.bits as i64)),
        ("scheme", Json::str(s.quant.scheme.to_string())),
        ("calibration", Json::str(s.quant.calibration.to_string())),
        ("zero_point", Json::str(s.quant.zero_point.to_string())),
        (
            "preset",
            s.preset
                .map(|p| Json::str(p.to_string()))
                .unwrap_or(Json::Null),
        ),
    ])
}

/// Rows the page's table and the summary show.
pub const TABLE_ROWS: usize = 20;

/// Everything the page shows in numbers and words for one state, as one JSON object:
/// `query`, `settings`, `data`, `result`, `formulas`, `table`, `compare`, `conclusion`.
pub fn summary_json(
    settings: &crate::settings::Settings,
    source: &str,
    analysis: &crate::analysis::Analysis,
    run: &Run,
    compare: &[Run],
) -> String {
    let table = analysis.table(&run.params, TABLE_ROWS);
    let formulas = crate::present::explain::formulas(run, &analysis.stats, table.first());
    let conclusion = crate::present::explain::conclusion(
        compare,
        run,
        &analysis.stats,
        analysis.data.outliers.len(),
    );
    Json::obj(vec![
        ("query", Json::str(settings.to_query())),
        ("settings", settings_json(settings)),
        (
            "data",
            data_json(
                &analysis.data.label,
                source,
                &analysis.stats,
                analysis.data.outliers.len(),
            ),
        ),
        ("result", Json::obj(run_json(run))),
        (
            "formulas",
            Json::Arr(formulas.into_iter().map(Json::Str).collect()),
        ),
        ("table", table_json(&table)),
        ("compare", compare_json(compare, Some(run))),
        ("conclusion", Json::Str(conclusion)),
    ])
    .to_json()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_repr() {
        assert_eq!(py_float(62.0), "62.0");
        assert_eq!(py_float(-0.0), "-0.0");
        assert_eq!(py_float(0.7617254901960785), "0.7617254901960785");
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(1.5e16), "1.5e+16");
        assert_eq!(py_float(0.04), "0.04");
    }

    #[test]
    fn json_escapes_and_nulls() {
        let j = Json::obj(vec![
            ("a", Json::str("q\"\n")),
            ("b", num(f64::INFINITY)),
            ("c", num(0.1)),
        ]);
        assert_eq!(j.to_json(), r#"{"a":"q\"\n","b":null,"c":0.1}"#);
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(0.041612), "0.04161");
        assert_eq!(short(38.1234), "38.12");
        assert_eq!(short(1e-7), "1.000e-7");
        assert_eq!(short(f64::INFINITY), "∞");
    }
}
