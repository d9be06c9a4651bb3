//! `inspect` and `report`: a model file's tensors, read through a memory map a tensor at a
//! time, so a file larger than memory can be inspected and reported on.

use super::{args, usage_err, CliError, Out};
use quantviz::analysis::granular::GranularSettings;
use quantviz::analysis::report::{self, Measure, Signal, TensorBytes};
use quantviz::analysis::Analysis;
use quantviz::data::generate::Dataset;
use quantviz::data::load::model::{self, Elem, ModelFile, TensorInfo};
use quantviz::present::json;
use quantviz::present::number::{full, short};
use quantviz::settings::{
    Calibration, Format, Granularity, QuantSettings, Rotation, Scheme, ZeroPoint,
};
use serde::Serialize;
use std::fmt::Write;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

// ---- inspect -----------------------------------------------------------------------------------

/// One tensor's line of `inspect --json`.
#[derive(Serialize)]
struct TensorStats {
    name: String,
    dtype: String,
    shape: Vec<usize>,
    params: u64,
    min: Option<f64>,
    max: Option<f64>,
    mean: Option<f64>,
    std: Option<f64>,
    nonfinite: Option<u64>,
    /// Why the values cannot be read (a quantized or integer tensor); absent where they can.
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
}

#[derive(Serialize)]
struct InspectJson {
    file: String,
    format: &'static str,
    params: u64,
    tensors: Vec<TensorStats>,
}

/// Min, max, mean and population std (numpy's `std`, ddof 0) of the finite values, and the
/// count of the others, in two passes over the tensor's bytes a chunk at a time.
fn stats(info: &TensorInfo, file: &ModelFile) -> TensorStats {
    let mut s = TensorStats {
        name: info.name.clone(),
        dtype: info.dtype.clone(),
        shape: info.shape.clone(),
        params: info.params,
        min: None,
        max: None,
        mean: None,
        std: None,
        nonfinite: None,
        refused: info.refused.clone(),
    };
    let Some(elem) = info.elem else { return s };
    let bytes = file.bytes(info);
    let step = report::CHUNK * elem.width();
    let mut buf = Vec::new();
    let (mut min, mut max, mut sum, mut count, mut bad) =
        (f64::INFINITY, f64::NEG_INFINITY, 0.0f64, 0u64, 0u64);
    for c in bytes.chunks(step) {
        buf.clear();
        elem.decode_f64(c, &mut buf);
        for &x in &buf {
            if x.is_finite() {
                min = min.min(x);
                max = max.max(x);
                sum += x;
                count += 1;
            } else {
                bad += 1;
            }
        }
    }
    s.nonfinite = Some(bad);
    if count == 0 {
        return s;
    }
    // Where a sum or a square could leave float64 (values beyond about 1e150 or all below
    // about 1e-150), every value is scaled by the same power of two first, exactly, and the
    // mean and std scaled back; otherwise the values as they are, numpy's sums.
    let amax = min.abs().max(max.abs());
    let k = if amax > 1e150 || (amax > 0.0 && amax < 1e-150) {
        libm::ilogb(amax)
    } else {
        0
    };
    let scaled = |x: f64| if k == 0 { x } else { libm::scalbn(x, -k) };
    let sum = if k == 0 {
        sum
    } else {
        sum_finite(bytes, step, elem, &mut buf, scaled)
    };
    let mean = sum / count as f64;
    let sq = sum_finite(bytes, step, elem, &mut buf, |x| {
        (scaled(x) - mean) * (scaled(x) - mean)
    });
    s.min = Some(min);
    s.max = Some(max);
    s.mean = Some(libm::scalbn(mean, k));
    s.std = Some(libm::scalbn((sq / count as f64).sqrt(), k));
    s
}

/// `Σ f(x)` over the finite values of `bytes` (`elem`s), decoded `step` bytes at a time into
/// `buf`.
fn sum_finite(
    bytes: &[u8],
    step: usize,
    elem: Elem,
    buf: &mut Vec<f64>,
    f: impl Fn(f64) -> f64,
) -> f64 {
    let mut total = 0.0f64;
    for c in bytes.chunks(step) {
        buf.clear();
        elem.decode_f64(c, buf);
        total += buf
            .iter()
            .filter(|x| x.is_finite())
            .map(|&x| f(x))
            .sum::<f64>();
    }
    total
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), short)
}

/// `quantviz inspect FILE [--json]`.
pub fn inspect(o: args::Inspect) -> Out {
    let file = ModelFile::open(&o.file)?;
    let tensors: Vec<TensorStats> = file.list.tensors.iter().map(|t| stats(t, &file)).collect();
    let params = file.list.params();
    if o.json {
        let out = InspectJson {
            file: file.source.clone(),
            format: file.list.format.name(),
            params,
            tensors,
        };
        return Ok(json::to_json(&out) + "\n");
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}): {} tensors, {params} parameters\n",
        file.source,
        file.list.format.name(),
        tensors.len()
    );
    let w = name_width(tensors.iter().map(|t| t.name.as_str()));
    let _ = writeln!(
        out,
        "{:<w$} {:<6} {:>18} {:>12} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "tensor", "dtype", "shape", "params", "min", "max", "mean", "std", "nonfinite"
    );
    for t in &tensors {
        let shape = format!("{:?}", t.shape);
        let _ = write!(
            out,
            "{:<w$} {:<6} {:>18} {:>12} {:>10} {:>10} {:>10} {:>10} {:>9}",
            t.name,
            t.dtype,
            shape,
            t.params,
            opt(t.min),
            opt(t.max),
            opt(t.mean),
            opt(t.std),
            t.nonfinite.map_or_else(|| "-".into(), |n| n.to_string())
        );
        if let Some(r) = &t.refused {
            let _ = write!(out, "  not read: {r}");
        }
        out.push('\n');
    }
    Ok(out)
}

fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(6)
        .clamp(6, 48)
}

// ---- report ------------------------------------------------------------------------------------

/// The int widths `report` adds at a finer granularity, symmetric with min-max calibration:
/// the plain per-channel and per-group schemes of GPTQ-style int4 and LLM.int8-style int8.
const INT_BITS: [u32; 2] = [4, 8];

/// The granularity `report` was asked for: `tensor` (each format with its own blocks, the
/// default), or `channel` / `group:G`, which add the [`INT_BITS`] rows at that granularity.
fn parse_granularity(g: Option<&str>) -> Result<Granularity, CliError> {
    match g {
        None => Ok(Granularity::Tensor),
        Some(g) => g.parse::<Granularity>().map_err(|e| {
            usage_err(format!(
                "--granularity: {e}; with report, channel and group:G add int4 and int8 symmetric rows at that granularity"
            ))
        }),
    }
}

/// What one report row measures: a format with its own blocks, or the int scheme (symmetric,
/// min-max) at a granularity finer than the tensor.
#[derive(Debug, Clone, Copy)]
enum Column {
    Format(Format),
    Int { bits: u32, granularity: Granularity },
}

impl Column {
    /// The row's label: the format's name, or `int4 channel`, `int8 group:32`.
    fn label(&self) -> String {
        match self {
            Column::Format(f) => f.to_string(),
            Column::Int { bits, granularity } => format!("int{bits} {granularity}"),
        }
    }

    fn quant(bits: u32) -> QuantSettings {
        QuantSettings {
            bits,
            scheme: Scheme::Symmetric,
            calibration: Calibration::MinMax,
            zero_point: ZeroPoint::Raw,
        }
    }
}

/// One tensor's results: one per column, or the reason it was skipped.
struct TensorReport {
    signal: Option<Signal>,
    rows: Vec<Result<Measure, String>>,
}

#[derive(Serialize)]
struct RowJson {
    format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    bits_per_weight: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mse: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sqnr_db: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_abs_error: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<String>,
}

#[derive(Serialize)]
struct TensorJson {
    name: String,
    dtype: String,
    shape: Vec<usize>,
    params: u64,
    rows: Vec<RowJson>,
}

#[derive(Serialize)]
struct TotalJson {
    format: String,
    /// Parameters measured (the tensors the format could take).
    params: u64,
    /// Parameters of the tensors skipped.
    skipped_params: u64,
    bits_per_weight: Option<f64>,
    mse: Option<f64>,
    sqnr_db: Option<f64>,
    max_abs_error: Option<f64>,
}

#[derive(Serialize)]
struct ReportJson {
    file: String,
    format: &'static str,
    granularity: String,
    /// What the int rows are, where there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    int_rows: Option<String>,
    params: u64,
    tensors: Vec<TensorJson>,
    totals: Vec<TotalJson>,
}

/// One column's totals over the tensors, weighted by parameters: the MSE and bits per weight
/// as parameter-weighted means, the SQNR of the summed signal over the summed error, the
/// largest error.
fn totals(column: Column, k: usize, picked: &[&TensorInfo], reports: &[TensorReport]) -> TotalJson {
    let (mut n, mut skipped, mut err, mut sig, mut bits, mut max) =
        (0u64, 0u64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (t, r) in picked.iter().zip(reports) {
        match (&r.rows[k], &r.signal) {
            (Ok(m), Some(s)) => {
                let w = t.params as f64;
                n += t.params;
                err += m.mse * w;
                sig += s.power.value() * w;
                bits += m.bits_per_weight * w;
                max = max.max(m.max_abs_error);
            }
            _ => skipped += t.params,
        }
    }
    let some = |x: f64| (n > 0).then_some(x);
    TotalJson {
        format: column.label(),
        params: n,
        skipped_params: skipped,
        bits_per_weight: some(bits / n as f64),
        mse: some(err / n as f64),
        sqnr_db: some(if err == 0.0 {
            f64::INFINITY
        } else {
            10.0 * (sig / err).log10()
        }),
        max_abs_error: some(max),
    }
}

/// The int rows of one tensor: its values read whole in float64 (in rows as
/// [`model::rows_cols`] lays them out, as `quantize --input FILE --tensor T` and the page do) and quantized at each width by
/// [`Analysis::granular`], so each row is what `quantize` gives, bit for bit. One tensor is
/// held at a time per worker; the values are dropped before the next.
fn measure_int(
    file: &ModelFile,
    info: &TensorInfo,
    columns: &[Column],
) -> Vec<Option<Result<Measure, String>>> {
    let ints = || columns.iter().filter(|c| matches!(c, Column::Int { .. }));
    if ints().next().is_none() {
        return columns.iter().map(|_| None).collect();
    }
    let rows_cols = model::rows_cols(&info.shape);
    let analysis = || -> Result<Analysis, String> {
        let values = file.values(info).map_err(|e| e.to_string())?;
        let data = Dataset::from_tensor(values, info.name.clone())
            .and_then(|d| d.with_shape(rows_cols))
            .map_err(|e| e.to_string())?;
        Analysis::new(data).map_err(|e| e.to_string())
    };
    // Read only where some int row can take the tensor.
    let needed = ints().any(|c| {
        !matches!(
            c,
            Column::Int {
                granularity: Granularity::Channel,
                ..
            }
        ) || rows_cols.is_some()
    });
    let a = if needed { Some(analysis()) } else { None };
    columns
        .iter()
        .map(|c| match *c {
            Column::Format(_) => None,
            Column::Int { bits, granularity } => Some(match (&a, granularity) {
                (_, Granularity::Channel) if rows_cols.is_none() => {
                    Err("1-D tensor: channel needs rows".to_string())
                }
                (Some(Ok(a)), _) => {
                    let s = GranularSettings {
                        quant: Column::quant(bits),
                        format: None,
                        granularity,
                        rotate: Rotation::None,
                    };
                    a.granular_measured(&s, false)
                        .map(|r| Measure {
                            mse: r.metrics.mse,
                            sqnr_db: r.metrics.sqnr_db,
                            max_abs_error: r.metrics.max_abs_error,
                            bits_per_weight: r.bits_per_weight,
                        })
                        .map_err(|e| e.to_string())
                }
                (Some(Err(e)), _) => Err(e.clone()),
                (None, _) => Err("not read".to_string()),
            }),
        })
        .collect()
}

/// Measures one tensor in every column: the formats a chunk at a time, the int rows whole.
fn measure_tensor(
    file: &ModelFile,
    info: &TensorInfo,
    columns: &[Column],
    done: &dyn Fn(u64),
) -> TensorReport {
    let skip_all = |why: String| {
        done(info.params * columns.len() as u64);
        TensorReport {
            signal: None,
            rows: columns.iter().map(|_| Err(why.clone())).collect(),
        }
    };
    let Some(elem) = info.elem else {
        return skip_all(format!(
            "{} is not read: {}",
            info.dtype,
            info.refused.as_deref().unwrap_or("")
        ));
    };
    let t = TensorBytes {
        elem,
        bytes: file.bytes(info),
    };
    let signal = match report::signal(t) {
        Ok(s) => s,
        Err(e) => return skip_all(e.to_string()),
    };
    let mut ints = measure_int(file, info, columns);
    let rows = columns
        .iter()
        .zip(ints.iter_mut())
        .map(|(&c, int)| {
            let r = match c {
                Column::Format(f) => report::measure(t, &signal, f).map_err(|e| e.to_string()),
                Column::Int { .. } => int
                    .take()
                    .unwrap_or_else(|| Err("not measured".to_string())),
            };
            done(info.params);
            r
        })
        .collect();
    TensorReport {
        signal: Some(signal),
        rows,
    }
}

/// `quantviz report FILE ...`: tensors measured in parallel, largest first, on scoped threads.
pub fn report(o: args::Report) -> Out {
    let granularity = parse_granularity(o.granularity.as_deref())?;
    let pattern = match &o.tensors {
        Some(p) => Some(regex::Regex::new(p).map_err(|e| {
            usage_err(format!(
                "--tensors '{p}' is not a regular expression: {}",
                regex_problem(&e)
            ))
        })?),
        None => None,
    };
    let (formats, int) = o.formats.as_ref().map_or_else(
        || (Format::ALL.to_vec(), false),
        |f| (f.formats.clone(), f.int),
    );
    if formats.is_empty() && !int {
        return Err(usage_err(
            "--formats lists no format: give one or more, such as q8_0,q4_K,int, or all",
        ));
    }
    let mut columns: Vec<Column> = formats.iter().map(|&f| Column::Format(f)).collect();
    // The int rows: at a finer granularity always (what it is asked for), and where the list
    // names int.
    if int || granularity != Granularity::Tensor {
        columns.extend(
            INT_BITS
                .iter()
                .map(|&bits| Column::Int { bits, granularity }),
        );
    }
    let file = ModelFile::open(&o.file)?;
    // The rows are [`model::rows_cols`]'s, whatever the file.
    let row =
        "row (every axis but the last flattened into rows; a 2-D weight's are its output channels)";
    let int_rows = (int || granularity != Granularity::Tensor).then(|| {
        format!(
            "int4 and int8 symmetric, min-max calibration, one float32 scale per {}",
            match granularity {
                Granularity::Group(g) => format!("group of {g} values within a row"),
                Granularity::Channel => row.to_string(),
                Granularity::Tensor => "tensor".to_string(),
            }
        )
    });
    let picked: Vec<&TensorInfo> = file
        .list
        .tensors
        .iter()
        .filter(|t| pattern.as_ref().is_none_or(|p| p.is_match(&t.name)))
        .collect();
    if picked.is_empty() {
        let message = match &o.tensors {
            Some(p) => format!(
                "no tensor name matches --tensors '{p}' (the file holds {}: 'quantviz inspect' lists them)",
                file.list.tensors.len()
            ),
            None => "the file holds no tensor: nothing to report".to_string(),
        };
        return Err(CliError::from(quantviz::Error::Load {
            source: file.source.clone(),
            message,
        }));
    }

    let total: u64 = picked.iter().map(|t| t.params).sum::<u64>() * columns.len() as u64;
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {percent}% of the values in every format, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let done = |n: u64| {
        if let Some(b) = &bar {
            b.inc(n);
        }
    };
    // Largest first, so that the last tensor to start is a small one.
    let mut order: Vec<usize> = (0..picked.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(picked[i].params));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<TensorReport>>> =
        Mutex::new((0..picked.len()).map(|_| None).collect());
    let workers = quantviz::par::threads().clamp(1, picked.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                let r = measure_tensor(&file, picked[i], &columns, &done);
                file.release(picked[i]);
                if let Ok(mut all) = results.lock() {
                    all[i] = Some(r);
                }
            });
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let reports: Vec<TensorReport> = results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| TensorReport {
                signal: None,
                rows: columns
                    .iter()
                    .map(|_| Err("not measured".to_string()))
                    .collect(),
            })
        })
        .collect();
    let totals: Vec<TotalJson> = columns
        .iter()
        .enumerate()
        .map(|(k, &c)| totals(c, k, &picked, &reports))
        .collect();

    if o.json {
        let tensors = picked
            .iter()
            .zip(&reports)
            .map(|(t, r)| TensorJson {
                name: t.name.clone(),
                dtype: t.dtype.clone(),
                shape: t.shape.clone(),
                params: t.params,
                rows: columns
                    .iter()
                    .zip(&r.rows)
                    .map(|(c, row)| row_json(*c, row))
                    .collect(),
            })
            .collect();
        let out = ReportJson {
            file: file.source.clone(),
            format: file.list.format.name(),
            granularity: granularity.to_string(),
            int_rows,
            params: picked.iter().map(|t| t.params).sum(),
            tensors,
            totals,
        };
        return Ok(json::to_json(&out) + "\n");
    }
    if o.csv {
        return Ok(csv(&picked, &columns, &reports, &totals));
    }
    Ok(table(
        &file,
        &picked,
        &columns,
        &reports,
        &totals,
        granularity,
        int_rows.as_deref(),
    ))
}

fn row_json(c: Column, row: &Result<Measure, String>) -> RowJson {
    match row {
        Ok(m) => RowJson {
            format: c.label(),
            bits_per_weight: Some(m.bits_per_weight),
            mse: Some(m.mse),
            sqnr_db: Some(m.sqnr_db),
            max_abs_error: Some(m.max_abs_error),
            skipped: None,
        },
        Err(e) => RowJson {
            format: c.label(),
            bits_per_weight: None,
            mse: None,
            sqnr_db: None,
            max_abs_error: None,
            skipped: Some(e.clone()),
        },
    }
}

/// A CSV field: quoted where it holds a comma, a quote or a line break.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(x: Option<f64>) -> String {
    x.map_or_else(String::new, full)
}

fn csv(
    picked: &[&TensorInfo],
    columns: &[Column],
    reports: &[TensorReport],
    totals: &[TotalJson],
) -> String {
    let mut out =
        String::from("tensor,format,params,bits_per_weight,mse,sqnr_db,max_abs_error,skipped\n");
    for (t, r) in picked.iter().zip(reports) {
        for (c, row) in columns.iter().zip(&r.rows) {
            let j = row_json(*c, row);
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{}",
                field(&t.name),
                field(&j.format),
                t.params,
                num(j.bits_per_weight),
                num(j.mse),
                num(j.sqnr_db),
                num(j.max_abs_error),
                field(j.skipped.as_deref().unwrap_or(""))
            );
        }
    }
    for t in totals {
        let _ = writeln!(
            out,
            "(total),{},{},{},{},{},{},{}",
            field(&t.format),
            t.params,
            num(t.bits_per_weight),
            num(t.mse),
            num(t.sqnr_db),
            num(t.max_abs_error),
            if t.skipped_params > 0 {
                format!("{} params skipped", t.skipped_params)
            } else {
                String::new()
            }
        );
    }
    out
}

fn table(
    file: &ModelFile,
    picked: &[&TensorInfo],
    columns: &[Column],
    reports: &[TensorReport],
    totals: &[TotalJson],
    granularity: Granularity,
    int_rows: Option<&str>,
) -> String {
    let mut out = String::new();
    let params: u64 = picked.iter().map(|t| t.params).sum();
    let _ = writeln!(
        out,
        "{} ({}): {} of {} tensors, {params} parameters; granularity {granularity}",
        file.source,
        file.list.format.name(),
        picked.len(),
        file.list.tensors.len()
    );
    if let Some(what) = int_rows {
        let _ = writeln!(
            out,
            "the formats keep their own blocks; the int rows are {what}"
        );
    }
    out.push('\n');
    let w = name_width(picked.iter().map(|t| t.name.as_str()));
    let fw = columns
        .iter()
        .map(|c| c.label().chars().count())
        .max()
        .unwrap_or(9)
        .max(9);
    let _ = writeln!(
        out,
        "{:<w$} {:<fw$} {:>12} {:>7} {:>11} {:>8} {:>11}",
        "tensor", "format", "params", "bits/w", "MSE", "SQNR dB", "max |err|"
    );
    for (t, r) in picked.iter().zip(reports) {
        for (c, row) in columns.iter().zip(&r.rows) {
            let _ = match row {
                Ok(m) => writeln!(
                    out,
                    "{:<w$} {:<fw$} {:>12} {:>7} {:>11} {:>8} {:>11}",
                    t.name,
                    c.label(),
                    t.params,
                    short(m.bits_per_weight),
                    short(m.mse),
                    short(m.sqnr_db),
                    short(m.max_abs_error)
                ),
                Err(e) => writeln!(
                    out,
                    "{:<w$} {:<fw$} {:>12}  skipped: {e}",
                    t.name,
                    c.label(),
                    t.params
                ),
            };
        }
    }
    let _ = writeln!(out, "\ntotals, weighted by parameters:");
    let _ = writeln!(
        out,
        "{:<fw$} {:>12} {:>7} {:>11} {:>8} {:>11} {:>14}",
        "format", "params", "bits/w", "MSE", "SQNR dB", "max |err|", "skipped params"
    );
    for t in totals {
        let _ = writeln!(
            out,
            "{:<fw$} {:>12} {:>7} {:>11} {:>8} {:>11} {:>14}",
            t.format,
            t.params,
            opt(t.bits_per_weight),
            opt(t.mse),
            opt(t.sqnr_db),
            opt(t.max_abs_error),
            t.skipped_params
        );
    }
    out
}

/// What is wrong with a pattern, in one line: the regex crate's reason and where (its message
/// shows the pattern with a caret under the place, on lines of their own).
fn regex_problem(e: &regex::Error) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let reason = lines
        .iter()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or_else(|| lines.last().copied().unwrap_or("").trim());
    // The caret line and the pattern line above it share their indentation.
    let at = lines.windows(2).find_map(|w| {
        let indent = w[0].len() - w[0].trim_start().len();
        let caret = w[1].find('^')?;
        (w[1].trim().chars().all(|c| c == '^' || c == '~') && caret >= indent)
            .then(|| caret - indent + 1)
    });
    match at {
        Some(col) => format!("{reason} at character {col}"),
        None => reason.to_string(),
    }
}
