//! The results as JSON: the CLI's `--json` objects and the page's summary, written by
//! `serde_json`. Each object is a struct here, its fields in the order they are written.
//!
//! Numbers are written in their shortest round-trip form, so a scale reads back as exactly the
//! float64 computed; non-finite numbers (an exact reconstruction's infinite SQNR) are written as
//! `null`.

use crate::analysis::formats::{int_bits_per_weight, FormatRow, FormatRun, Similarity};
use crate::analysis::granular::GranularRun;
use crate::analysis::metrics::Metrics;
use crate::analysis::{Analysis, Row, Run};
use crate::settings::Settings;
use serde::Serialize;

/// How many rows of values the page's summary holds.
pub const TABLE_ROWS: usize = 20;

/// The metrics of one run: `n`, `mse`, `sqnr_db`, `max_abs_error`, `clipped`.
#[derive(Debug, Serialize)]
pub struct MetricsJson {
    pub n: usize,
    pub mse: f64,
    pub sqnr_db: f64,
    pub max_abs_error: f64,
    pub clipped: usize,
}

impl From<&Metrics> for MetricsJson {
    fn from(m: &Metrics) -> Self {
        MetricsJson {
            n: m.n,
            mse: m.mse,
            sqnr_db: m.sqnr_db,
            max_abs_error: m.max_abs_error,
            clipped: m.clipped,
        }
    }
}

/// One run: settings, parameters and metrics.
///
/// `clip_min`/`clip_max` are the calibrated range `[beta, alpha]`; `level_min`/`level_max` are
/// the values of the smallest and largest codes, `(qmin - zero_point) * scale` and
/// `(qmax - zero_point) * scale`.
#[derive(Debug, Serialize)]
pub struct RunJson {
    pub n: usize,
    pub bits: u32,
    pub scheme: String,
    pub calibration: String,
    pub zero_point_policy: String,
    pub scale: f64,
    pub zero_point: f64,
    pub qmin: i32,
    pub qmax: i32,
    pub clip_min: f64,
    pub clip_max: f64,
    pub level_min: f64,
    pub level_max: f64,
    pub mse: f64,
    pub sqnr_db: f64,
    pub max_abs_error: f64,
    pub clipped: usize,
    /// The error without the injected outliers, where there are some.
    pub inliers: Option<MetricsJson>,
}

impl From<&Run> for RunJson {
    fn from(run: &Run) -> Self {
        let p = &run.params;
        let m = &run.metrics;
        RunJson {
            n: m.n,
            bits: p.bits,
            scheme: p.scheme.to_string(),
            calibration: run.settings.calibration.to_string(),
            zero_point_policy: run.settings.zero_point.to_string(),
            scale: p.scale,
            zero_point: p.zero_point,
            qmin: p.qmin,
            qmax: p.qmax,
            clip_min: p.range_min,
            clip_max: p.range_max,
            level_min: p.clip_min(),
            level_max: p.clip_max(),
            mse: m.mse,
            sqnr_db: m.sqnr_db,
            max_abs_error: m.max_abs_error,
            clipped: m.clipped,
            inliers: run.inliers.as_ref().map(MetricsJson::from),
        }
    }
}

/// What every format's run reports beside its error: the storage it takes and how alike the
/// dequantized values are to the originals.
#[derive(Debug, Serialize)]
pub struct FormatFacts {
    /// `int`, or the format's name.
    pub format: String,
    /// Values per block; `null` for one scale per tensor.
    pub block: Option<usize>,
    /// How many blocks (1 for one scale per tensor).
    pub blocks: usize,
    /// Bits per weight, the scales included.
    pub bits_per_weight: f64,
    pub cosine_similarity: f64,
    /// RMS error / RMS value.
    pub relative_error: f64,
    pub compression_vs_f32: f64,
    pub compression_vs_f16: f64,
}

impl FormatFacts {
    /// The facts of an integer run with one scale for the `n` values.
    pub fn int(run: &Run, similarity: &Similarity) -> FormatFacts {
        let bpw = int_bits_per_weight(&run.params, run.metrics.n);
        FormatFacts {
            format: "int".into(),
            block: None,
            blocks: 1,
            bits_per_weight: bpw,
            cosine_similarity: similarity.cosine,
            relative_error: similarity.relative_error,
            compression_vs_f32: 32.0 / bpw,
            compression_vs_f16: 16.0 / bpw,
        }
    }

    /// The facts of a format's run.
    pub fn of(run: &FormatRun) -> FormatFacts {
        FormatFacts {
            format: run.format.to_string(),
            block: run.format.default_block().map(|_| run.block),
            blocks: run.blocks,
            bits_per_weight: run.bits_per_weight,
            cosine_similarity: run.similarity.cosine,
            relative_error: run.similarity.relative_error,
            compression_vs_f32: run.compression_vs_f32(),
            compression_vs_f16: run.compression_vs_f16(),
        }
    }
}

/// `quantviz quantize --format F --json` for a format other than int.
#[derive(Debug, Serialize)]
pub struct FormatQuantizeJson {
    pub data: String,
    pub n: usize,
    #[serde(flatten)]
    pub facts: FormatFacts,
    pub mse: f64,
    pub sqnr_db: f64,
    pub max_abs_error: f64,
    /// Values the format saturated (met its largest magnitude after scaling).
    pub clipped: usize,
    /// With `--codes`: each value's code, the format's index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codes: Option<Vec<i32>>,
    /// With `--codes`: each value dequantized, the float32 result widened to float64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dequantized: Option<Vec<f64>>,
}

impl FormatQuantizeJson {
    /// The run as JSON, with the codes and dequantized values where `codes` is set.
    pub fn new(data: &str, run: &FormatRun, codes: bool) -> FormatQuantizeJson {
        let m = &run.metrics;
        FormatQuantizeJson {
            data: data.into(),
            n: m.n,
            facts: FormatFacts::of(run),
            mse: m.mse,
            sqnr_db: m.sqnr_db,
            max_abs_error: m.max_abs_error,
            clipped: m.clipped,
            codes: codes.then(|| run.quantized.codes.clone()),
            dequantized: codes.then(|| {
                run.quantized
                    .dequantized
                    .iter()
                    .map(|&d| f64::from(d))
                    .collect()
            }),
        }
    }
}

/// `quantviz quantize --json`: the data's name, then the run; with `--codes`, every value's
/// code and dequantized value.
#[derive(Debug, Serialize)]
pub struct QuantizeJson {
    pub data: String,
    #[serde(flatten)]
    pub run: RunJson,
    #[serde(flatten)]
    pub facts: FormatFacts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codes: Option<Vec<i32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dequantized: Option<Vec<f64>>,
}

/// The layout of the units: `count` units of `size` values (a row's last may be shorter),
/// `per_row` to each of `rows` rows of `cols` values.
#[derive(Debug, Serialize)]
pub struct UnitsJson {
    pub count: usize,
    pub size: usize,
    pub rows: usize,
    pub cols: usize,
    pub per_row: usize,
}

/// `quantviz quantize --json` with a granularity or rotation: the settings, the units, bits
/// per weight, the error in the original basis (and the rotated one); with `--codes`, each
/// unit's scale and zero point and every value's code and dequantized value.
#[derive(Debug, Serialize)]
pub struct GranularJson {
    pub data: String,
    pub format: String,
    pub granularity: String,
    pub rotate: String,
    pub rotate_block: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zero_point_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<UnitsJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block: Option<usize>,
    pub bits_per_weight: f64,
    #[serde(flatten)]
    pub metrics: MetricsJson,
    pub rotated_basis: Option<MetricsJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scales: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zero_points: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codes: Option<Vec<i32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dequantized: Option<Vec<f64>>,
}

impl GranularJson {
    /// The object for `run` of `data`; `codes` adds the per-unit and per-value arrays.
    pub fn new(data: &str, run: &GranularRun, codes: bool) -> GranularJson {
        let s = &run.settings;
        let int = s.format.is_none();
        let q = &s.quant;
        GranularJson {
            data: data.to_string(),
            format: s.format.map_or("int".into(), |(f, _)| f.to_string()),
            granularity: s.granularity.to_string(),
            rotate: s.rotate.to_string(),
            rotate_block: run.rotate_block,
            bits: int.then_some(q.bits),
            scheme: int.then(|| q.scheme.to_string()),
            calibration: int.then(|| q.calibration.to_string()),
            zero_point_policy: int.then(|| q.zero_point.to_string()),
            units: run.units.as_ref().map(|u| UnitsJson {
                count: u.units.count(),
                size: u.units.size,
                rows: u.units.rows,
                cols: u.units.cols,
                per_row: u.units.per_row,
            }),
            block: run.format_block,
            bits_per_weight: run.bits_per_weight,
            metrics: MetricsJson::from(&run.metrics),
            rotated_basis: run.rotated_metrics.as_ref().map(MetricsJson::from),
            scales: run.units.as_ref().filter(|_| codes).map(|u| u.scales()),
            zero_points: run
                .units
                .as_ref()
                .filter(|_| codes)
                .map(|u| u.zero_points()),
            codes: if codes { run.codes.clone() } else { None },
            dequantized: if codes { run.dequantized.clone() } else { None },
        }
    }
}

/// One row of the comparison of every scheme and calibration.
#[derive(Debug, Serialize)]
pub struct CompareRow {
    pub scheme: String,
    pub calibration: String,
    pub label: String,
    pub scale: f64,
    pub zero_point: f64,
    pub clip_min: f64,
    pub clip_max: f64,
    pub mse: f64,
    pub sqnr_db: f64,
    pub max_abs_error: f64,
    pub clipped: usize,
    pub inliers_mse: Option<f64>,
    pub inliers_sqnr_db: Option<f64>,
    /// Whether this is the run of the current settings.
    pub current: bool,
}

/// The comparison's rows, `current` marking the run of `current` where given.
pub fn compare_rows(runs: &[Run], current: Option<&Run>) -> Vec<CompareRow> {
    runs.iter()
        .map(|r| CompareRow {
            scheme: r.settings.scheme.to_string(),
            calibration: r.settings.calibration.to_string(),
            label: run_label(r),
            scale: r.params.scale,
            zero_point: r.params.zero_point,
            clip_min: r.params.range_min,
            clip_max: r.params.range_max,
            mse: r.metrics.mse,
            sqnr_db: r.metrics.sqnr_db,
            max_abs_error: r.metrics.max_abs_error,
            clipped: r.metrics.clipped,
            inliers_mse: r.inliers.map(|m| m.mse),
            inliers_sqnr_db: r.inliers.map(|m| m.sqnr_db),
            current: current.is_some_and(|c| c.settings == r.settings),
        })
        .collect()
}

/// `quantviz compare --json`.
#[derive(Debug, Serialize)]
pub struct CompareJson {
    pub data: String,
    pub n: usize,
    pub bits: u32,
    pub zero_point_policy: String,
    pub runs: Vec<CompareRow>,
}

/// One row of `compare --formats --json`.
#[derive(Debug, Serialize)]
pub struct FormatRowJson {
    pub label: String,
    /// `int` or the format's name.
    pub format: String,
    /// The int scheme's width; `null` for a format.
    pub bits: Option<u32>,
    pub scheme: Option<String>,
    pub bits_per_weight: f64,
    pub mse: Option<f64>,
    pub sqnr_db: Option<f64>,
    pub max_abs_error: Option<f64>,
    /// Why this format cannot take the data, where it cannot.
    pub error: Option<String>,
}

impl From<&FormatRow> for FormatRowJson {
    fn from(r: &FormatRow) -> Self {
        let m = r.outcome.as_ref().ok();
        FormatRowJson {
            label: r.label.clone(),
            format: r.format.map_or("int".into(), |f| f.to_string()),
            bits: r.int.map(|q| q.bits),
            scheme: r.int.map(|q| q.scheme.to_string()),
            bits_per_weight: r.bits_per_weight,
            mse: m.map(|m| m.mse),
            sqnr_db: m.map(|m| m.sqnr_db),
            max_abs_error: m.map(|m| m.max_abs_error),
            error: r.outcome.as_ref().err().cloned(),
        }
    }
}

/// `quantviz compare --formats ... --json`.
#[derive(Debug, Serialize)]
pub struct FormatsJson {
    pub data: String,
    pub n: usize,
    pub rows: Vec<FormatRowJson>,
}

/// A run's name for people: `asymmetric min-max`, `symmetric percentile 99.99`.
pub fn run_label(r: &Run) -> String {
    format!("{} {}", r.settings.scheme, r.settings.calibration.label())
}

/// One value of the table: index, original, code, dequantized, error.
#[derive(Debug, Serialize)]
pub struct RowJson {
    pub index: usize,
    pub original: f64,
    pub code: i32,
    pub dequantized: f64,
    pub error: f64,
}

impl From<&Row> for RowJson {
    fn from(r: &Row) -> Self {
        RowJson {
            index: r.index,
            original: r.original,
            code: r.code,
            dequantized: r.dequantized,
            error: r.error,
        }
    }
}

/// What the data is: its name, where it came from, its size and range.
#[derive(Debug, Serialize)]
pub struct DataJson {
    pub label: String,
    /// `generated`, `preset` or `file`.
    pub source: String,
    pub n: usize,
    pub min: f64,
    pub max: f64,
    pub absmax: f64,
    pub outliers: usize,
    /// What the file's reader says the user should know (a skipped header line), if anything.
    pub note: Option<String>,
}

impl DataJson {
    fn new(analysis: &Analysis, source: &str, note: Option<&str>) -> DataJson {
        let (label, stats, outliers) = (
            &analysis.data.label,
            &analysis.stats,
            analysis.data.outliers.len(),
        );
        DataJson {
            label: label.into(),
            source: source.into(),
            n: stats.n,
            min: stats.min,
            max: stats.max,
            absmax: stats.absmax,
            outliers,
            note: note.map(str::to_string),
        }
    }
}

/// The settings, with the names the URL uses (the seed as a string: a u64 does not fit a JS
/// number exactly).
#[derive(Debug, Serialize)]
pub struct SettingsJson {
    pub dist: String,
    pub n: usize,
    pub seed: String,
    pub outliers: usize,
    pub outlier_value: f64,
    pub bits: u32,
    pub scheme: String,
    pub calibration: String,
    pub zero_point: String,
    pub preset: Option<String>,
}

impl From<&Settings> for SettingsJson {
    fn from(s: &Settings) -> Self {
        SettingsJson {
            dist: s.data.dist.to_string(),
            n: s.data.n,
            seed: s.data.seed.to_string(),
            outliers: s.data.outliers,
            outlier_value: s.data.outlier_value,
            bits: s.quant.bits,
            scheme: s.quant.scheme.to_string(),
            calibration: s.quant.calibration.to_string(),
            zero_point: s.quant.zero_point.to_string(),
            preset: s.preset.map(|p| p.to_string()),
        }
    }
}

/// The page's summary of one state (`Session.update`): everything the page shows in numbers
/// and words. The page's `www/types.js` describes the same object for JavaScript.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub query: String,
    pub settings: SettingsJson,
    pub data: DataJson,
    pub result: RunJson,
    pub formulas: Vec<String>,
    pub table: Vec<RowJson>,
    pub compare: Vec<CompareRow>,
    pub conclusion: String,
}

/// The summary as JSON text.
pub fn summary_json(
    settings: &Settings,
    source: &str,
    note: Option<&str>,
    analysis: &Analysis,
    run: &Run,
    compare: &[Run],
) -> String {
    let table = analysis.table(&run.params, TABLE_ROWS);
    let outliers = analysis.data.outliers.len();
    let summary = Summary {
        query: settings.to_query(),
        settings: settings.into(),
        data: DataJson::new(analysis, source, note),
        result: run.into(),
        formulas: crate::present::explain::formulas(run, &analysis.stats, table.first()),
        table: table.iter().map(RowJson::from).collect(),
        compare: compare_rows(compare, Some(run)),
        conclusion: crate::present::explain::conclusion(compare, run, &analysis.stats, outliers),
    };
    to_json(&summary)
}

/// Compact JSON of any of these objects. Serializing plain structs of numbers and strings
/// cannot fail; were it to, the error is said in the JSON itself rather than panicking.
pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|e| format!("{{\"error\":{}}}", serde_json::Value::String(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_numbers_are_null_and_strings_escaped() {
        let m = MetricsJson {
            n: 3,
            mse: 0.1,
            sqnr_db: f64::INFINITY,
            max_abs_error: f64::NAN,
            clipped: 0,
        };
        assert_eq!(
            to_json(&m),
            r#"{"n":3,"mse":0.1,"sqnr_db":null,"max_abs_error":null,"clipped":0}"#
        );
        assert_eq!(to_json(&"q\"\n"), r#""q\"\n""#);
    }

    #[test]
    fn floats_read_back_exactly() {
        for x in [
            0.7617254901960785f64,
            62.0,
            1e-300,
            1.7e308,
            -0.04447330111495594,
        ] {
            let back: f64 = serde_json::from_str(&to_json(&x)).unwrap();
            assert_eq!(back.to_bits(), x.to_bits());
        }
    }
}
