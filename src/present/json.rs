//! The results as JSON: the CLI's `--json` objects and the page's summary, written by
//! `serde_json`. Each object is a struct here, its fields in the order they are written.
//!
//! Numbers are written in their shortest round-trip form, so a scale reads back as exactly the
//! float64 computed; non-finite numbers (an exact reconstruction's infinite SQNR) are written as
//! `null`.

use crate::analysis::blocks::{
    block_scale, code_bits, fp16, step_of, sub_block, subs, ue4m3, BlockSummary,
};
use crate::analysis::formats::{int_bits_per_weight, FormatRow, FormatRun, Similarity};
use crate::analysis::granular::GranularRun;
use crate::analysis::metrics::Metrics;
use crate::analysis::{Analysis, Row, Run};
use crate::present::explain;
use crate::quant::formats::{BlockScale, Format};
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
    /// The format's block; `null` for int, whose units say how it is cut.
    pub block: Option<usize>,
    /// How many blocks (a format) or units (int).
    pub blocks: usize,
    pub bits_per_weight: f64,
    #[serde(flatten)]
    pub metrics: MetricsJson,
    pub cosine_similarity: f64,
    /// RMS error / RMS value.
    pub relative_error: f64,
    pub compression_vs_f32: f64,
    pub compression_vs_f16: f64,
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
    /// The object for `run` of `data`, whose cosine similarity and relative error are
    /// `similarity`; `codes` adds the per-unit and per-value arrays.
    pub fn new(
        data: &str,
        run: &GranularRun,
        similarity: &Similarity,
        codes: bool,
    ) -> GranularJson {
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
            // A format with one scale for the tensor (FP8) has block 0: null, as per tensor.
            block: run.format_block.filter(|&b| b > 0),
            blocks: match (&run.units, run.format_block) {
                (Some(u), _) => u.units.count(),
                (None, Some(b)) if b > 0 => run.metrics.n.div_ceil(b),
                _ => 1,
            },
            bits_per_weight: run.bits_per_weight,
            metrics: MetricsJson::from(&run.metrics),
            cosine_similarity: similarity.cosine,
            relative_error: similarity.relative_error,
            compression_vs_f32: 32.0 / run.bits_per_weight,
            compression_vs_f16: 16.0 / run.bits_per_weight,
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
    /// `[rows, columns]` of 2-D data (generated with a shape, or a file's 2-D tensor); null
    /// for 1-D.
    pub shape: Option<[usize; 2]>,
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
            shape: analysis.data.shape.map(|(r, c)| [r, c]),
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
    /// `int`, or the format's name.
    pub format: String,
    /// The block asked for (NF4's); `null` for the format's own.
    pub block: Option<usize>,
    /// `[rows, cols]` of 2-D data; `null` for 1-D.
    pub shape: Option<[usize; 2]>,
    /// The spread of the rows' magnitudes (0: none).
    pub row_spread: f64,
    /// `K:F`, or `null` for none.
    pub outlier_channels: Option<String>,
    /// `tensor`, `channel` or `group:G`.
    pub granularity: String,
    /// `none`, `hadamard` or `hadamard:K`.
    pub rotate: String,
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
            format: s.format.map_or_else(|| "int".into(), |f| f.to_string()),
            block: s.block,
            shape: s.matrix.shape.map(|(r, c)| [r, c]),
            row_spread: s.matrix.row_spread,
            outlier_channels: s
                .matrix
                .outlier_channels
                .map(|(k, f)| format!("{k}:{}", crate::present::number::full(f))),
            granularity: s.granularity.to_string(),
            rotate: s.rotate.to_string(),
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
    /// The format's run, where a format other than int is chosen (then `formulas`, `table`
    /// and `conclusion` are the format's; `result` and `compare` stay the int scheme's).
    pub format: Option<FormatJson>,
    /// The run at the settings' granularity and rotation (units, bits per weight, the error in
    /// both bases), where they ask for one.
    pub granular: Option<PageGranularJson>,
}

/// The page's part of a [`GranularRun`]: the format, the units, bits per weight and the error
/// in both bases (the metrics nested, not flattened as [`GranularJson`]'s: serde's flattening
/// machinery would add to the wasm).
#[derive(Debug, Serialize)]
pub struct PageGranularJson {
    pub format: String,
    pub units: Option<UnitsJson>,
    pub bits_per_weight: f64,
    pub rotate_block: Option<usize>,
    /// The smallest and largest of the int units' scales; null for a format.
    pub scales: Option<[f64; 2]>,
    /// The first unit's zero point (the one zero point where there is one unit); null for a
    /// format.
    pub zero_point: Option<f64>,
    pub metrics: MetricsJson,
    pub rotated_basis: Option<MetricsJson>,
}

impl From<&GranularRun> for PageGranularJson {
    fn from(run: &GranularRun) -> Self {
        PageGranularJson {
            format: run
                .settings
                .format
                .map_or("int".into(), |(f, _)| f.to_string()),
            units: run.units.as_ref().map(|u| UnitsJson {
                count: u.units.count(),
                size: u.units.size,
                rows: u.units.rows,
                cols: u.units.cols,
                per_row: u.units.per_row,
            }),
            bits_per_weight: run.bits_per_weight,
            rotate_block: run.rotate_block,
            scales: run.units.as_ref().map(|u| {
                u.params
                    .iter()
                    .fold([f64::INFINITY, f64::NEG_INFINITY], |[lo, hi], p| {
                        [lo.min(p.scale), hi.max(p.scale)]
                    })
            }),
            zero_point: run
                .units
                .as_ref()
                .and_then(|u| u.params.first())
                .map(|p| p.zero_point),
            metrics: MetricsJson::from(&run.metrics),
            rotated_basis: run.rotated_metrics.as_ref().map(MetricsJson::from),
        }
    }
}

/// The summary (`to_json` makes its text; `granular` is for the caller to add).
pub fn summary_json(
    settings: &Settings,
    source: &str,
    note: Option<&str>,
    analysis: &Analysis,
    run: &Run,
    compare: &[Run],
    format: Option<&FormatRun>,
) -> Summary {
    let outliers = analysis.data.outliers.len();
    let mut summary = Summary {
        query: settings.to_query(),
        settings: settings.into(),
        data: DataJson::new(analysis, source, note),
        result: run.into(),
        formulas: Vec::new(),
        table: Vec::new(),
        compare: compare_rows(compare, Some(run)),
        conclusion: String::new(),
        format: None,
        granular: None,
    };
    match format {
        None => {
            let table = analysis.table(&run.params, TABLE_ROWS);
            summary.formulas = explain::formulas(run, &analysis.stats, table.first());
            summary.table = table.iter().map(RowJson::from).collect();
            summary.conclusion = explain::conclusion(compare, run, &analysis.stats, outliers);
        }
        Some(f) => {
            let xs = analysis.values();
            let first: Vec<f32> = xs
                .iter()
                .take(f.block.min(4096))
                .map(|&x| x as f32)
                .collect();
            summary.formulas = explain::format_formulas(f, &first, analysis.stats.absmax);
            summary.table = format_rows(xs, f, 0, TABLE_ROWS);
            summary.conclusion = explain::format_conclusion(f);
            summary.format = Some(FormatJson::new(f));
        }
    }
    summary
}

/// Values `start..start + k` of a format's run as table rows.
pub fn format_rows(xs: &[f64], run: &FormatRun, start: usize, k: usize) -> Vec<RowJson> {
    let q = &run.quantized;
    (start..xs.len().min(start.saturating_add(k)))
        .map(|i| {
            let d = f64::from(q.dequantized[i]);
            RowJson {
                index: i,
                original: xs[i],
                code: q.codes[i],
                dequantized: d,
                error: xs[i] - d,
            }
        })
        .collect()
}

/// One part of what a block stores: `count` fields of `bits_each` bits.
#[derive(Debug, Serialize, PartialEq)]
pub struct BudgetPart {
    /// What it is: `codes`, `fp16 d`, `sub-block scales`, ...
    pub label: &'static str,
    /// `code`, `scale` or `min`: which kind of bits (the bar's colour).
    pub kind: &'static str,
    pub count: usize,
    pub bits_each: u32,
    /// `count · bits_each`.
    pub bits: u64,
}

/// The bit budget of one block: what it stores, part by part.
#[derive(Debug, Serialize)]
pub struct BudgetJson {
    /// Values per block (the value count for a per-tensor scale).
    pub values: usize,
    pub parts: Vec<BudgetPart>,
    pub total_bits: u64,
    /// `total_bits / values`.
    pub bits_per_weight: f64,
}

/// What one block of `format` (of `block` values) stores.
pub fn budget(format: Format, block: usize) -> BudgetJson {
    use Format::*;
    let code = ("codes", "code", block, code_bits(format));
    let d = ("fp16 d", "scale", 1, 16);
    let dmin = ("fp16 dmin", "min", 1, 16);
    let rest: &[(&'static str, &'static str, usize, u32)] = match format {
        Nf4 => &[("float32 absmax", "scale", 1, 32)],
        Fp8E4m3 | Fp8E5m2 => &[("float32 tensor scale", "scale", 1, 32)],
        Mxfp4 => &[("E8M0 scale", "scale", 1, 8)],
        Nvfp4 => &[("UE4M3 scales (one per 16)", "scale", 4, 8)],
        Q4_0 | Q8_0 => &[d],
        Q4_1 => &[d, ("fp16 min m", "min", 1, 16)],
        Q2_K => &[
            ("sub-block scales", "scale", 16, 4),
            ("sub-block mins", "min", 16, 4),
            d,
            dmin,
        ],
        Q3_K => &[("sub-block scales", "scale", 16, 6), d],
        Q4_K | Q5_K => &[
            ("sub-block scales", "scale", 8, 6),
            ("sub-block mins", "min", 8, 6),
            d,
            dmin,
        ],
        Q6_K => &[("sub-block scales", "scale", 16, 8), d],
    };
    let parts: Vec<BudgetPart> = std::iter::once(&code)
        .chain(rest)
        .map(|&(label, kind, count, bits_each)| BudgetPart {
            label,
            kind,
            count,
            bits_each,
            bits: count as u64 * u64::from(bits_each),
        })
        .collect();
    let total_bits = parts.iter().map(|p| p.bits).sum::<u64>();
    BudgetJson {
        values: block,
        total_bits,
        bits_per_weight: total_bits as f64 / block.max(1) as f64,
        parts,
    }
}

/// Every block's scale and error for the page's strip (see [`BlockSummary`]).
#[derive(Debug, Serialize)]
pub struct BlocksJson {
    /// How many blocks.
    pub count: usize,
    /// Values per block.
    pub block: usize,
    /// Blocks per entry of `scale` and `mse`.
    pub per_entry: usize,
    /// Each entry's largest block scale.
    pub scale: Vec<f64>,
    /// Each entry's largest block MSE.
    pub mse: Vec<f64>,
    /// The block with the largest scale.
    pub top: usize,
}

impl BlocksJson {
    /// The summary of a run in blocks of `block`.
    pub fn new(b: &BlockSummary, block: usize) -> BlocksJson {
        BlocksJson {
            count: b.blocks,
            block,
            per_entry: b.per_entry,
            scale: b.scale.clone(),
            mse: b.mse.clone(),
            top: b.top,
        }
    }
}

/// The summary's part for a format's run: its facts (as [`FormatFacts`]), its metrics and what
/// the page shows of it.
#[derive(Debug, Serialize)]
pub struct FormatJson {
    pub format: String,
    /// Values per block; `null` for one scale per tensor.
    pub block: Option<usize>,
    pub blocks: usize,
    pub bits_per_weight: f64,
    pub cosine_similarity: f64,
    pub relative_error: f64,
    pub compression_vs_f32: f64,
    pub compression_vs_f16: f64,
    /// Bits per code.
    pub code_bits: u32,
    /// Values per sub-block (its own scale); the block where there is none.
    pub sub_block: usize,
    pub metrics: MetricsJson,
    /// FP8's one float32 scale for the tensor; `null` for the block formats.
    pub tensor_scale: Option<f64>,
    pub budget: BudgetJson,
}

impl FormatJson {
    /// The format's part of the summary.
    pub fn new(run: &FormatRun) -> FormatJson {
        let format = run.format;
        let facts = FormatFacts::of(run);
        FormatJson {
            format: facts.format,
            block: facts.block,
            blocks: facts.blocks,
            bits_per_weight: facts.bits_per_weight,
            cosine_similarity: facts.cosine_similarity,
            relative_error: facts.relative_error,
            compression_vs_f32: facts.compression_vs_f32,
            compression_vs_f16: facts.compression_vs_f16,
            code_bits: code_bits(format),
            sub_block: sub_block(format, run.block),
            metrics: (&run.metrics).into(),
            tensor_scale: match run.quantized.scales.as_slice() {
                [BlockScale::Tensor { scale }] => Some(f64::from(*scale)),
                _ => None,
            },
            budget: budget(format, run.block),
        }
    }
}

/// One field of a block's stored scale, in its own encoding.
#[derive(Debug, Serialize)]
pub struct StoredField {
    /// `d`, `m`, `e`, `s[2]`, `absmax`, `scale`.
    pub name: String,
    /// `fp16`, `E8M0`, `UE4M3`, `float32`.
    pub encoding: &'static str,
    /// The stored bits in hex: `0x2B5E`.
    pub hex: String,
    /// Their value.
    pub value: f64,
    /// How the value follows from the bits, where it is not plain: `2^(124 − 127)`.
    pub note: Option<String>,
}

/// One sub-block's scale (and min) in a block: the small integers stored and what they make.
#[derive(Debug, Serialize)]
pub struct SubJson {
    pub index: usize,
    /// The stored scale integer (K-quants: as stored; Q6_K signed) or byte (NVFP4).
    pub scale_q: i32,
    /// The stored min integer, where the format has mins.
    pub min_q: Option<i32>,
    /// The step its codes are multiplied by.
    pub step: f64,
    /// The offset subtracted (K-quants' `dmin·m`), where there is one.
    pub offset: Option<f64>,
}

/// One value of a block, with its reconstruction written out.
#[derive(Debug, Serialize)]
pub struct BlockRowJson {
    pub index: usize,
    pub original: f64,
    pub code: i32,
    pub dequantized: f64,
    pub error: f64,
    /// `x̂ = (q − 8) · d = (11 − 8) · 0.0213 = 0.0639`.
    pub reconstruction: String,
}

/// What the page's block inspector shows of one block (`Session::block`).
#[derive(Debug, Serialize)]
pub struct BlockJson {
    pub format: String,
    pub index: usize,
    pub blocks: usize,
    /// The first value's index.
    pub start: usize,
    /// How many values the block has.
    pub len: usize,
    /// The block's largest step, as the strip plots it.
    pub scale: f64,
    pub mse: f64,
    pub max_abs_error: f64,
    /// The stored scale, field by field.
    pub stored: Vec<StoredField>,
    /// The sub-blocks' scales (K-quants, NVFP4); empty where the block has one scale.
    pub subs: Vec<SubJson>,
    /// The first values of the block (at most [`BLOCK_ROWS`]).
    pub rows: Vec<BlockRowJson>,
    /// The values the codes of its first sub-block stand for.
    pub levels: Vec<f64>,
}

/// Values of a block the inspector lists.
pub const BLOCK_ROWS: usize = 32;

/// Block `index` of a format's run on `xs` (the values as given), for the inspector; `None` past
/// the last block.
pub fn block_json(xs: &[f64], run: &FormatRun, index: usize) -> Option<BlockJson> {
    let q = &run.quantized;
    let format = run.format;
    let scale = q.scales.get(index)?;
    let start = index.checked_mul(run.block)?;
    let end = xs.len().min(start.saturating_add(run.block));
    if start >= end {
        return None;
    }
    let sub = sub_block(format, run.block);
    // One block for the tensor (FP8's, a short NF4 run's): its error is the run's.
    let (mse, worst) = if q.scales.len() == 1 {
        (run.metrics.mse, run.metrics.max_abs_error)
    } else {
        let (mut sum, mut worst) = (0.0f64, 0.0f64);
        for (&x, &d) in xs[start..end].iter().zip(&q.dequantized[start..end]) {
            let e = x - f64::from(d);
            sum += e * e;
            worst = worst.max(e.abs());
        }
        (sum / (end - start) as f64, worst)
    };
    let hex16 = |b: u16| format!("0x{b:04X}");
    let field = |name: &str, encoding, hex: String, value: f32, note: Option<String>| StoredField {
        name: name.into(),
        encoding,
        hex,
        value: f64::from(value),
        note,
    };
    let stored = match scale {
        BlockScale::Fp16 { d } => vec![field("d", "fp16", hex16(*d), fp16(*d), None)],
        BlockScale::Fp16Min { d, m } => vec![
            field("d", "fp16", hex16(*d), fp16(*d), None),
            field("m", "fp16", hex16(*m), fp16(*m), None),
        ],
        BlockScale::E8m0 { e } => vec![field(
            "e",
            "E8M0",
            format!("0x{e:02X}"),
            crate::analysis::blocks::e8m0(*e),
            Some(format!("2^({e} − 127)")),
        )],
        BlockScale::Ue4m3 { s } => s
            .iter()
            .enumerate()
            .map(|(j, &b)| {
                field(
                    &format!("s[{j}]"),
                    "UE4M3",
                    format!("0x{b:02X}"),
                    ue4m3(b),
                    Some(format!("values {}–{}", j * 16, j * 16 + 15)),
                )
            })
            .collect(),
        BlockScale::AbsMax { absmax } => vec![field(
            "absmax",
            "float32",
            format!("0x{:08X}", absmax.to_bits()),
            *absmax,
            None,
        )],
        BlockScale::Tensor { scale } => vec![field(
            "scale",
            "float32",
            format!("0x{:08X}", scale.to_bits()),
            *scale,
            Some("one for the whole tensor: x̂ = fp8(q) / scale".into()),
        )],
        BlockScale::KQuant { d, dmin, .. } => {
            let mut v = vec![field("d", "fp16", hex16(*d), fp16(*d), None)];
            if matches!(format, Format::Q2_K | Format::Q4_K | Format::Q5_K) {
                v.push(field("dmin", "fp16", hex16(*dmin), fp16(*dmin), None));
            }
            v
        }
    };
    let subs_json = match scale {
        BlockScale::KQuant { scales, mins, .. } => (0..subs(format, run.block))
            .map(|j| {
                let (step, offset) = step_of(format, scale, j);
                let s = scales.get(j).copied().unwrap_or(0);
                let has_min = matches!(format, Format::Q2_K | Format::Q4_K | Format::Q5_K);
                SubJson {
                    index: j,
                    scale_q: if format == Format::Q6_K {
                        i32::from(s as i8)
                    } else {
                        i32::from(s)
                    },
                    min_q: has_min.then(|| i32::from(mins.get(j).copied().unwrap_or(0))),
                    step: f64::from(step),
                    offset: has_min.then_some(f64::from(offset)),
                }
            })
            .collect(),
        BlockScale::Ue4m3 { s } => s
            .iter()
            .enumerate()
            .map(|(j, &b)| SubJson {
                index: j,
                scale_q: i32::from(b),
                min_q: None,
                step: f64::from(ue4m3(b)),
                offset: None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let rows = (start..end.min(start + BLOCK_ROWS))
        .map(|i| {
            let d = q.dequantized[i];
            let j = (i - start) / sub;
            BlockRowJson {
                index: i,
                original: xs[i],
                code: q.codes[i],
                dequantized: f64::from(d),
                error: xs[i] - f64::from(d),
                reconstruction: explain::reconstruction(format, scale, j, q.codes[i], d),
            }
        })
        .collect();
    Some(BlockJson {
        format: format.to_string(),
        index,
        blocks: q.scales.len(),
        start,
        len: end - start,
        scale: block_scale(format, run.block, scale),
        mse,
        max_abs_error: worst,
        stored,
        subs: subs_json,
        rows,
        levels: crate::analysis::blocks::levels(format, scale, 0),
    })
}

/// One row of the page's table of every format (`Session::formats_table`): a
/// [`FormatRowJson`]'s fields, whether it is on the front and whether it is the current choice.
#[derive(Debug, Serialize)]
pub struct FormatTableRow {
    pub label: String,
    pub format: String,
    pub bits: Option<u32>,
    pub scheme: Option<String>,
    pub bits_per_weight: f64,
    pub mse: Option<f64>,
    pub sqnr_db: Option<f64>,
    pub max_abs_error: Option<f64>,
    pub error: Option<String>,
    /// On the lower-left front: no other row has both fewer bits and less error.
    pub front: bool,
    /// The current choice.
    pub current: bool,
}

impl FormatTableRow {
    /// `row` with its place on the front and whether it is the current choice.
    pub fn new(row: &FormatRow, front: bool, current: bool) -> FormatTableRow {
        let r = FormatRowJson::from(row);
        FormatTableRow {
            label: r.label,
            format: r.format,
            bits: r.bits,
            scheme: r.scheme,
            bits_per_weight: r.bits_per_weight,
            mse: r.mse,
            sqnr_db: r.sqnr_db,
            max_abs_error: r.max_abs_error,
            error: r.error,
            front,
            current,
        }
    }
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
    fn a_block_s_budget_is_the_format_s_bits_per_weight() {
        for f in Format::ALL {
            let block = match f.block(None).unwrap() {
                0 => 4096,
                b => b,
            };
            let b = budget(f, block);
            assert_eq!(b.bits_per_weight, f.bits_per_weight(block, block), "{f}");
            assert_eq!(b.parts[0].kind, "code");
        }
        assert_eq!(budget(Format::Q4_K, 256).total_bits, 1152);
        assert_eq!(budget(Format::Nf4, 128).bits_per_weight, 4.25);
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
