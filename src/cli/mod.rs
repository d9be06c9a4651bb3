//! The command line: each subcommand returns the text to print. Arguments are parsed by clap
//! ([`args`]); values by the core's own parsers.

mod args;
mod tensors;

use args::{Cli, Command, DataArgs, QuantArgs};
use clap::Parser;
use quantviz::analysis::formats::{FormatRun, Similarity};
use quantviz::analysis::granular::{GranularRun, GranularSettings};
use quantviz::analysis::{Analysis, Run};
use quantviz::data::generate::{dataset_for, generate_matrix, Dataset};
use quantviz::data::presets as notebook;
use quantviz::present::explain;
use quantviz::present::json::{
    self, CompareJson, FormatFacts, FormatQuantizeJson, QuantizeJson, RunJson,
};
use quantviz::present::nprint::{format_floats, format_ints};
use quantviz::present::number::{full, py_float, round2, short};
use quantviz::settings::Format;
use quantviz::settings::{
    parse_outliers, Calibration, DataSpec, Granularity, Matrix, QuantSettings, Rotation, Scheme,
    Settings,
};
use quantviz::Error;
use std::ffi::OsString;
use std::fmt::Write;

/// An error for the user: a message, an optional hint line, and the exit status.
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
    pub code: i32,
}

impl From<Error> for CliError {
    /// Exit status 2 where a flag's value or a combination of flags is what is wrong (the
    /// same as clap's own argument errors), 1 where the data or a file is.
    fn from(e: Error) -> Self {
        let code = match e {
            Error::Bits(_) | Error::Percentile(_) | Error::Setting { .. } | Error::KlAsymmetric => {
                2
            }
            _ => 1,
        };
        CliError {
            message: e.to_string(),
            hint: None,
            code,
        }
    }
}

pub(crate) fn usage_err(message: impl Into<String>) -> CliError {
    CliError {
        message: message.into(),
        hint: Some("see 'quantviz --help' for the commands and their options".into()),
        code: 2,
    }
}

pub(crate) type Out = Result<String, CliError>;

/// Runs the command line (`args` without the program's name); returns what to print on success.
/// Arguments are OS strings: a path that is not UTF-8 is still a path.
pub fn run(args: impl IntoIterator<Item = OsString>) -> Out {
    let argv = std::iter::once(OsString::from("quantviz")).chain(args);
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let text = e.render().to_string();
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                return Ok(text);
            }
            // One line for what was wrong and one for what would be right (clap's tip where it
            // has one, such as the flag a misspelt one was meant to be), as every error here.
            // A message that ends in a colon goes on in the lines below it (the arguments a
            // flag cannot be used with): they join it.
            let mut lines = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .peekable();
            let mut message = lines.next().unwrap_or("bad arguments").to_string();
            if message.ends_with(':') {
                let mut more = Vec::new();
                while let Some(l) =
                    lines.next_if(|l| !l.starts_with("Usage:") && !l.starts_with("tip:"))
                {
                    more.push(l);
                }
                message = format!("{} {}", message, more.join(", "));
            }
            let tip = lines.find(|l| l.starts_with("tip:"));
            return Err(CliError {
                message: message.trim_start_matches("error: ").to_string(),
                hint: Some(match tip {
                    Some(t) => format!("{t}; see 'quantviz --help'"),
                    None => "see 'quantviz --help' for the commands and their options".into(),
                }),
                code: e.exit_code(),
            });
        }
    };
    match cli.command {
        Command::Quantize(c) => quantize(c),
        Command::Compare(c) => compare(c),
        Command::Notebook(c) => notebook_cmd(c),
        Command::Plot(c) => plot(c),
        Command::Bench(c) => bench(c),
        Command::Inspect(c) => tensors::inspect(c),
        Command::Report(c) => tensors::report(c),
        Command::Model(c) => model(c),
    }
}

/// Parses `K:VALUE` (or `K`, keeping the default value).
fn parse_outlier_opt(s: &str, spec: &mut DataSpec) -> Result<(), CliError> {
    let (k, v) = match s.split_once(':') {
        Some((k, v)) => (k, Some(v)),
        None => (s, None),
    };
    spec.outliers = parse_outliers(k)?;
    if let Some(v) = v {
        spec.outlier_value = match v.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => x,
            _ => {
                return Err(usage_err(format!(
                    "invalid --outliers '{s}': expected K:VALUE, like 5:1000"
                )))
            }
        };
    }
    Ok(())
}

/// The data the options ask for: a file, a preset or generated values.
fn data_from(d: &DataArgs) -> Result<Dataset, CliError> {
    if let Some(path) = &d.input {
        if quantviz::data::load::model::is_model_file(path) {
            use quantviz::data::load::model;
            let file = model::ModelFile::open(path)?;
            let info = file.list.pick(d.tensor.as_deref(), &file.source)?;
            // A tensor of 2 or more axes is its every axis but the last flattened into rows,
            // as the page and `report` lay it out.
            let shape = d.shape.or_else(|| model::rows_cols(&info.shape));
            let label = format!("{} tensor {}", path.display(), info.name);
            return Ok(Dataset::from_tensor(file.values(info)?, label)?.with_shape(shape)?);
        }
        let loaded = quantviz::data::load::read_tensor_file(path, d.tensor.as_deref())?;
        if let Some(note) = &loaded.note {
            eprintln!("note: {}: {note}", path.display());
        }
        let shape = match d.shape {
            Some(shape) => Some(shape),
            None => loaded.rows_cols(),
        };
        // A `.npy` array is a model tensor: any size that fits in memory, as a safetensors
        // tensor. Text holds at most MAX_VALUES values, which its reader checks.
        return Ok(
            Dataset::from_tensor(loaded.values, path.display().to_string())?.with_shape(shape)?,
        );
    }
    let mut spec = DataSpec::default();
    if let Some(n) = d.n {
        spec.n = n;
    }
    if let Some(seed) = d.seed {
        spec.seed = seed;
    }
    if d.tensor.is_some() {
        return Err(usage_err(
            "--tensor picks a tensor of a model file given as --input: give --input FILE with it, or drop it",
        ));
    }
    if let Some(preset) = d.preset {
        if d.n.is_some() {
            return Err(usage_err(format!(
                "--preset {preset} fixes its own values: drop --n (or use --generate DIST --n N)"
            )));
        }
        if preset == quantviz::settings::Preset::NotebookMinmax
            && (d.seed.is_some() || d.outliers.is_some())
        {
            return Err(usage_err(
                "--preset notebook-minmax is the notebook's 20 fixed values: --seed and --outliers go with notebook-percentile or --generate",
            ));
        }
        if d.row_spread.is_some() || d.outlier_channels.is_some() {
            return Err(usage_err(format!(
                "--row-spread and --outlier-channels go with --generate and --shape, not --preset {preset}"
            )));
        }
        let mut settings = Settings {
            preset: Some(preset),
            ..Settings::default()
        };
        settings.data.seed = spec.seed;
        settings.data.outlier_value = 1000.0;
        if let Some(s) = &d.outliers {
            parse_outlier_opt(s, &mut settings.data)?;
        }
        return Ok(dataset_for(&settings)?);
    }
    match d.generate {
        Some(dist) => spec.dist = dist,
        None => {
            return Err(usage_err(
                "no data: give --input FILE, --generate DIST (like normal:0,1) or --preset notebook-minmax",
            ))
        }
    }
    if let Some(s) = &d.outliers {
        parse_outlier_opt(s, &mut spec)?;
    }
    let matrix = Matrix {
        shape: d.shape,
        row_spread: d.row_spread.unwrap_or(0.0),
        outlier_channels: d.outlier_channels,
    };
    if let (Some((r, c)), Some(n)) = (d.shape, d.n) {
        if n != r * c {
            return Err(usage_err(format!(
                "--shape {r},{c} holds {} values but --n is {n}: give one of them (the shape gives the count)",
                r * c
            )));
        }
    }
    Ok(generate_matrix(&spec, &matrix)?)
}

/// The granularity and rotation flags, where either is given (`--granularity tensor` too: its
/// output is the per-unit one, with `granularity` and `units` in the JSON).
fn finer_from(q: &QuantArgs) -> Option<(Granularity, Rotation)> {
    (q.granularity.is_some() || q.rotate.is_some()).then(|| {
        (
            q.granularity.unwrap_or_default(),
            q.rotate.unwrap_or_default(),
        )
    })
}

/// `--granularity` and `--rotate` go with `quantize`, `bench`, `model` and some of `plot`'s
/// charts: elsewhere an error that says so.
fn no_finer(q: &QuantArgs, command: &str) -> Result<(), CliError> {
    match finer_from(q) {
        Some((g, r)) if g != Granularity::Tensor || r != Rotation::None => Err(usage_err(format!(
            "--granularity and --rotate go with 'quantize', 'bench' and 'model', and with plot's scales, heatmap, rotation and formats charts, not '{command}' (drop them here)"
        ))),
        _ => Ok(()),
    }
}

/// The format `--format` names (`None` for int), with its block. The integer scheme's flags
/// belong to `--format int`: given with another format they are an error that says so.
fn format_from(q: &QuantArgs) -> Result<Option<(Format, Option<usize>)>, CliError> {
    match q.format {
        Some(args::FormatArg::Format(f)) => {
            let int_flags = [
                ("--bits", q.bits.is_some()),
                ("--scheme", q.scheme.is_some()),
                ("--calibration", q.calibration.is_some()),
                ("--zero-point", q.zero_point.is_some()),
            ];
            if let Some((flag, _)) = int_flags.iter().find(|(_, given)| *given) {
                return Err(usage_err(format!(
                    "{flag} belongs to --format int: {f} fixes its own codes and scales (drop {flag}, or use --format int)"
                )));
            }
            f.block(q.block)?;
            Ok(Some((f, q.block)))
        }
        Some(args::FormatArg::Int) | None => match q.block {
            Some(b) => Err(usage_err(format!(
                "--block {b} goes with --format nf4 (the other formats fix their block; int has one scale per tensor)"
            ))),
            None => Ok(None),
        },
    }
}

/// The text of a run with a granularity or rotation: the units, bits per weight, and the
/// error in both bases.
fn granular_text(a: &Analysis, run: &GranularRun, similarity: &Similarity) -> String {
    let mut out = String::new();
    let s = &run.settings;
    let _ = writeln!(out, "data: {} (n={})", a.data.label, a.stats.n);
    match (s.format, &run.units) {
        (Some((f, _)), _) => {
            let _ = writeln!(out, "{f}, block {}", run.format_block.unwrap_or_default());
        }
        (None, Some(u)) => {
            let q = &s.quant;
            // A row's last group is shorter where the group does not divide the row.
            let short_last = match u.units.cols % u.units.size {
                0 => String::new(),
                r => format!(" (each row's last has {r})"),
            };
            let _ = writeln!(
                out,
                "int {} {}, {} bits, zero point {}, granularity {}: {} units of {} values{short_last}",
                q.scheme,
                q.calibration.label(),
                q.bits,
                q.zero_point,
                s.granularity,
                u.units.count(),
                u.units.size
            );
            let scales = u.scales();
            let lo = scales.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = scales.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let _ = writeln!(out, "scales from {} to {}", full(lo), full(hi));
        }
        (None, None) => {}
    }
    let _ = writeln!(out, "bits per weight {}", short(run.bits_per_weight));
    match run.rotate_block {
        Some(k) => {
            let _ = writeln!(out, "rotation {} (blocks of {k})\n", s.rotate);
        }
        None => {
            let _ = writeln!(out, "rotation none\n");
        }
    }
    let _ = writeln!(out, "error (original basis)");
    let format = s.format.map(|f| f.0);
    metrics_lines(&mut out, &run.metrics, "  ", format);
    similarity_lines(&mut out, similarity, run.bits_per_weight, "  ");
    if let Some(m) = &run.rotated_metrics {
        let _ = writeln!(out, "error (rotated basis)");
        metrics_lines(&mut out, m, "  ", format);
    }
    out
}

/// The cosine similarity, relative error and compression lines every run's text ends with.
fn similarity_lines(out: &mut String, similarity: &Similarity, bits_per_weight: f64, indent: &str) {
    let _ = writeln!(out, "{indent}cosine       {}", full(similarity.cosine));
    let _ = writeln!(
        out,
        "{indent}rel. error   {}",
        full(similarity.relative_error)
    );
    let _ = writeln!(
        out,
        "{indent}compression  {}x against float32, {}x against float16",
        short(32.0 / bits_per_weight),
        short(16.0 / bits_per_weight)
    );
}

fn quant_from(q: &QuantArgs) -> Result<QuantSettings, CliError> {
    let mut s = QuantSettings::default();
    if let Some(b) = q.bits {
        s.bits = b;
    }
    if let Some(scheme) = q.scheme {
        s.scheme = scheme;
    }
    if let Some(c) = q.calibration {
        s.calibration = c;
        // kl has one scheme: asking for it alone asks for that scheme.
        if c == Calibration::Kl && q.scheme.is_none() {
            s.scheme = Scheme::Symmetric;
        }
    }
    if let Some(z) = q.zero_point {
        s.zero_point = z;
    }
    s.validate()?;
    Ok(s)
}

/// The error's lines. For int, the count is of the values clipped to the range; for a
/// format (`format`), of the values given its largest magnitude (the FP8 and 4-bit float
/// formats count them; the others have no such count and show none).
fn metrics_lines(
    out: &mut String,
    m: &quantviz::analysis::metrics::Metrics,
    indent: &str,
    format: Option<Format>,
) {
    let _ = writeln!(out, "{indent}MSE          {}", full(m.mse));
    let _ = writeln!(out, "{indent}SQNR         {} dB", short(m.sqnr_db));
    let _ = writeln!(out, "{indent}max |error|  {}", full(m.max_abs_error));
    match format {
        None => {
            let _ = writeln!(out, "{indent}clipped      {} of {}", m.clipped, m.n);
        }
        Some(f) if f.counts_saturated() => {
            let _ = writeln!(
                out,
                "{indent}saturated    {} of {} (given the format's largest magnitude)",
                m.clipped, m.n
            );
        }
        Some(_) => {}
    }
}

fn quantize(o: args::Quantize) -> Out {
    let format = format_from(&o.quant)?;
    let q = quant_from(&o.quant)?;
    let data = data_from(&o.data)?;
    let a = Analysis::new(data)?;
    if let Some((granularity, rotate)) = finer_from(&o.quant) {
        let s = GranularSettings {
            quant: q,
            format,
            granularity,
            rotate,
        };
        // The dequantized values are kept for the cosine similarity.
        let run = a.granular_measured(&s, true)?;
        let similarity =
            a.similarity_to(run.dequantized.as_deref().unwrap_or_default(), &run.metrics);
        return Ok(if o.json {
            let out = json::GranularJson::new(&a.data.label, &run, &similarity, o.codes);
            json::to_json(&out) + "\n"
        } else {
            granular_text(&a, &run, &similarity)
        });
    }
    if let Some((f, block)) = format {
        let run = a.format_run(f, block)?;
        return Ok(if o.json {
            json::to_json(&FormatQuantizeJson::new(&a.data.label, &run, o.codes)) + "\n"
        } else {
            format_text(&a, &run, o.codes)
        });
    }
    let run = a.run(&q)?;
    if o.json {
        let similarity = a.similarity(&run.params, &run.metrics);
        let (codes, dequantized) = match o.codes {
            true => {
                let (c, d) = a.quantize_all(&run.params);
                (Some(c), Some(d))
            }
            false => (None, None),
        };
        let out = QuantizeJson {
            data: a.data.label.clone(),
            run: RunJson::from(&run),
            facts: FormatFacts::int(&run, &similarity),
            codes,
            dequantized,
        };
        return Ok(json::to_json(&out) + "\n");
    }
    let mut out = String::new();
    let s = &a.stats;
    let _ = writeln!(
        out,
        "data: {} (n={}, min {}, max {})",
        a.data.label,
        s.n,
        full(s.min),
        full(s.max)
    );
    let _ = writeln!(
        out,
        "{} {}, {} bits, zero point {}\n",
        q.scheme,
        q.calibration.label(),
        q.bits,
        q.zero_point
    );
    let table = a.table(&run.params, 1);
    for f in explain::formulas(&run, s, table.first()) {
        let _ = writeln!(out, "  {f}");
    }
    let p = &run.params;
    let _ = writeln!(out);
    let _ = writeln!(out, "scale        {}", full(p.scale));
    let _ = writeln!(out, "zero point   {}", full(p.zero_point));
    let _ = writeln!(out, "codes        [{}, {}]", p.qmin, p.qmax);
    let _ = writeln!(
        out,
        "clip range   [{}, {}]",
        full(p.range_min),
        full(p.range_max)
    );
    metrics_lines(&mut out, &run.metrics, "", None);
    let similarity = a.similarity(&run.params, &run.metrics);
    let bits_per_weight = FormatFacts::int(&run, &similarity).bits_per_weight;
    let _ = writeln!(out, "bits/weight  {}", full(bits_per_weight));
    similarity_lines(&mut out, &similarity, bits_per_weight, "");
    if let Some(m) = &run.inliers {
        let _ = writeln!(out, "without the {} outliers:", a.data.outliers.len());
        metrics_lines(&mut out, m, "  ", None);
    }
    if o.codes {
        let (codes, deq) = a.quantize_all(&run.params);
        let rounded: Vec<f64> = deq.iter().map(|&d| round2(d)).collect();
        let _ = writeln!(out, "\ncodes\n{}", format_ints(&codes));
        let _ = writeln!(
            out,
            "dequantized (rounded to 2 decimals)\n{}",
            format_floats(&rounded)
        );
    }
    Ok(out)
}

/// A format's run as text: what it stores, its error, and with `codes` every value.
fn format_text(a: &Analysis, run: &FormatRun, codes: bool) -> String {
    let mut out = String::new();
    let s = &a.stats;
    let _ = writeln!(
        out,
        "data: {} (n={}, min {}, max {})",
        a.data.label,
        s.n,
        full(s.min),
        full(s.max)
    );
    let facts = FormatFacts::of(run);
    let blocks = match facts.block {
        Some(b) if run.blocks == 1 => format!("blocks of {b} values (1 block)"),
        Some(b) => format!("blocks of {b} values ({} blocks)", run.blocks),
        None => "one scale for the tensor".to_string(),
    };
    let _ = writeln!(
        out,
        "{}, {blocks}, {} bits per weight\n",
        run.format,
        full(run.bits_per_weight)
    );
    metrics_lines(&mut out, &run.metrics, "", Some(run.format));
    similarity_lines(&mut out, &run.similarity, run.bits_per_weight, "");
    if codes {
        let q = &run.quantized;
        let deq: Vec<f64> = q
            .dequantized
            .iter()
            .map(|&d| round2(f64::from(d)))
            .collect();
        let _ = writeln!(out, "\ncodes\n{}", format_ints(&q.codes));
        let _ = writeln!(
            out,
            "dequantized (rounded to 2 decimals)\n{}",
            format_floats(&deq)
        );
    }
    out
}

fn compare(o: args::Compare) -> Out {
    no_finer(&o.quant, "compare")?;
    if let Some(formats) = &o.formats {
        return compare_formats(&o, &formats.formats);
    }
    if o.quant.format.is_some() || o.quant.block.is_some() {
        return Err(usage_err(
            "compare takes formats as --formats LIST (or all); --format and --block go with quantize",
        ));
    }
    if o.quant.scheme.is_some() {
        return Err(usage_err(
            "compare runs both schemes: drop --scheme (use quantize for one)",
        ));
    }
    let q = quant_from(&o.quant)?;
    let data = data_from(&o.data)?;
    let a = Analysis::new(data)?;
    let mut runs = a.compare(&q)?;
    // The choice the flags make is one of the rows; a calibration the comparison does not
    // run (kl) gets a row of its own after them.
    let current = match runs.iter().position(|r| r.settings == q) {
        Some(i) => i,
        None => {
            runs.push(a.run(&q)?);
            runs.len() - 1
        }
    };
    if o.json {
        let out = CompareJson {
            data: a.data.label.clone(),
            n: a.stats.n,
            bits: q.bits,
            zero_point_policy: q.zero_point.to_string(),
            runs: json::compare_rows(&runs, Some(&runs[current])),
        };
        return Ok(json::to_json(&out) + "\n");
    }
    Ok(compare_table(&a, &q, &runs, current))
}

/// `compare --formats`: each format beside the int schemes at 4 and 8 bits.
fn compare_formats(o: &args::Compare, formats: &[Format]) -> Out {
    if o.quant.format.is_some() || o.quant.bits.is_some() || o.quant.scheme.is_some() {
        return Err(usage_err(
            "compare --formats runs every listed format and int at 4 and 8 bits in both schemes: drop --format, --bits and --scheme",
        ));
    }
    if let Some(b) = o.quant.block {
        Format::Nf4.block(Some(b))?;
    }
    let q = quant_from(&o.quant)?;
    let a = Analysis::new(data_from(&o.data)?)?;
    let rows = a.every_format(formats, o.quant.block, &q, &[4, 8]);
    if o.json {
        let out = json::FormatsJson {
            data: a.data.label.clone(),
            n: a.stats.n,
            rows: rows.iter().map(json::FormatRowJson::from).collect(),
        };
        return Ok(json::to_json(&out) + "\n");
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "data: {} (n={}, min {}, max {}); int: {}, zero point {}\n",
        a.data.label,
        a.stats.n,
        full(a.stats.min),
        full(a.stats.max),
        q.calibration.label(),
        q.zero_point
    );
    let _ = writeln!(
        out,
        "{:<18} {:>9} {:>11} {:>9} {:>11}",
        "format", "bits/w", "MSE", "SQNR dB", "max |err|"
    );
    for r in &rows {
        let _ = match &r.outcome {
            Ok(m) => writeln!(
                out,
                "{:<18} {:>9} {:>11} {:>9} {:>11}",
                r.label,
                short(r.bits_per_weight),
                short(m.mse),
                short(m.sqnr_db),
                short(m.max_abs_error)
            ),
            Err(e) => writeln!(
                out,
                "{:<18} {:>9}  not on this data: {e}",
                r.label,
                short(r.bits_per_weight)
            ),
        };
    }
    Ok(out)
}

/// The comparison's table, `runs[current]` being the choice the flags make.
fn compare_table(a: &Analysis, q: &QuantSettings, runs: &[Run], current: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "data: {} (n={}, min {}, max {}); {} bits, zero point {}\n",
        a.data.label,
        a.stats.n,
        full(a.stats.min),
        full(a.stats.max),
        q.bits,
        q.zero_point
    );
    let with_inliers = runs.iter().any(|r| r.inliers.is_some());
    let _ = write!(
        out,
        "{:<11} {:<12} {:>12} {:>8} {:>24} {:>11} {:>9} {:>12} {:>8}",
        "scheme",
        "calibration",
        "scale",
        "zero",
        "clip range",
        "MSE",
        "SQNR dB",
        "max |err|",
        "clipped"
    );
    if with_inliers {
        let _ = write!(out, " {:>14} {:>9}", "MSE w/o outl.", "SQNR w/o");
    }
    out.push('\n');
    for r in runs {
        let p = &r.params;
        let m = &r.metrics;
        let range = format!("[{}, {}]", short(p.range_min), short(p.range_max));
        let _ = write!(
            out,
            "{:<11} {:<12} {:>12} {:>8} {:>24} {:>11} {:>9} {:>12} {:>8}",
            r.settings.scheme.to_string(),
            r.settings.calibration.label(),
            short(p.scale),
            p.zero_point,
            range,
            short(m.mse),
            short(m.sqnr_db),
            short(m.max_abs_error),
            m.clipped
        );
        if let Some(i) = &r.inliers {
            let _ = write!(out, " {:>14} {:>9}", short(i.mse), short(i.sqnr_db));
        }
        out.push('\n');
    }
    if let Some(cur) = runs.get(current) {
        let _ = writeln!(
            out,
            "\n{}",
            explain::conclusion(runs, cur, &a.stats, a.data.outliers.len())
        );
    }
    out
}

/// `print(f'{label:>width}{np.round(x, 2)}')`
fn py_line(label: &str, width: usize, x: f64) -> String {
    format!("{label:>width$}{}\n", py_float(round2(x)))
}

fn notebook_cmd(o: args::Notebook) -> Out {
    let seed = o.seed.unwrap_or(DataSpec::default().seed);
    let mut out = String::new();
    let rounded = |v: &[f64]| -> Vec<f64> { v.iter().map(|&x| round2(x)).collect() };

    // Experiment 1: min-max on the notebook's own 20 values.
    let a = Analysis::new(notebook::minmax_dataset())?;
    let x = a.values();
    let asym = a.params(&QuantSettings::default())?;
    let sym = a.params(&QuantSettings {
        scheme: Scheme::Symmetric,
        ..QuantSettings::default()
    })?;
    let (aq, adq) = asym.quantize_dequantize(x);
    let (sq, sdq) = sym.quantize_dequantize(x);
    let _ = writeln!(out, "Quantization using MinMax\n");
    let _ = writeln!(out, "Original\n{}\n", format_floats(&rounded(x)));
    let _ = writeln!(
        out,
        "Asymmetric Scale : {}, Zero : {}\n{}\n",
        py_float(asym.scale),
        py_float(asym.zero_point),
        format_ints(&aq)
    );
    let _ = writeln!(
        out,
        "Symmetric Scale : {}\n{}\n",
        py_float(sym.scale),
        format_ints(&sq)
    );
    let _ = writeln!(out, "Original\n{}\n", format_floats(&rounded(x)));
    let _ = writeln!(
        out,
        "Dequantize Asymmetric :\n{}\n",
        format_floats(&rounded(&adq))
    );
    let _ = writeln!(
        out,
        "Dequantize Symmetric :\n{}\n",
        format_floats(&rounded(&sdq))
    );
    out.push_str(&py_line(
        "Asymmetric Error : ",
        20,
        asym.error_stats(x).mse(),
    ));
    out.push_str(&py_line("Symmetric Error : ", 20, sym.error_stats(x).mse()));

    // Experiment 2: min-max against percentile with an outlier at 1000.
    let b = Analysis::new(notebook::percentile_dataset(seed, 1000.0))?;
    let x = b.values();
    let mm = b.params(&QuantSettings::default())?;
    let pct = b.params(&QuantSettings {
        calibration: Calibration::Percentile(99.99),
        ..QuantSettings::default()
    })?;
    let (mq, mdq) = mm.quantize_dequantize(x);
    let (pq, pdq) = pct.quantize_dequantize(x);
    let _ = writeln!(
        out,
        "\n\nQuantization using Percentile\n(10000 uniform(-50, 150) values from seed {seed}, the last set to 1000)\n"
    );
    let _ = writeln!(out, "Original:\n{}\n", format_floats(&rounded(x)));
    let _ = writeln!(
        out,
        "Asymmetric (min-max) scale: {}, zero: {}\n{}\n",
        py_float(mm.scale),
        py_float(mm.zero_point),
        format_ints(&mq)
    );
    let _ = writeln!(
        out,
        "Asymmetric (percentile) scale: {}, zero: {}\n{}\n",
        py_float(pct.scale),
        py_float(pct.zero_point),
        format_ints(&pq)
    );
    let _ = writeln!(out, "Original:\n{}\n", format_floats(&rounded(x)));
    let _ = writeln!(
        out,
        "Dequantized (min-max):\n{}\n",
        format_floats(&rounded(&mdq))
    );
    let _ = writeln!(
        out,
        "Dequantized (percentile):\n{}\n",
        format_floats(&rounded(&pdq))
    );
    let n = x.len() - 1;
    out.push_str(&py_line(
        "Error (min-max) excluding outlier: ",
        40,
        mm.error_stats(&x[..n]).mse(),
    ));
    out.push_str(&py_line(
        "Error (percentile) excluding outlier: ",
        40,
        pct.error_stats(&x[..n]).mse(),
    ));
    Ok(out)
}

fn plot(o: args::Plot) -> Out {
    let format = format_from(&o.quant)?;
    let quant = quant_from(&o.quant)?;
    let (granularity, rotate) = finer_from(&o.quant).unwrap_or_default();
    let chart = o.chart;
    // Each chart shows what the page's does: the int scheme's charts are of one scale per
    // tensor without rotation, and a flag none of its runs takes is refused, not ignored.
    const INT_ONLY: [&str; 6] = ["error", "mapping", "compare", "sweep", "kl", "scales"];
    const PER_TENSOR: [&str; 7] = [
        "histogram",
        "error",
        "mapping",
        "compare",
        "sweep",
        "kl",
        "blocks",
    ];
    if format.is_some() && INT_ONLY.contains(&chart) {
        return Err(usage_err(format!(
            "the {chart} chart is the int scheme's (the page hides it with a format): drop \
             --format, or plot histogram, blocks, formats or heatmap"
        )));
    }
    if (granularity != Granularity::Tensor || rotate != Rotation::None)
        && PER_TENSOR.contains(&chart)
    {
        return Err(usage_err(format!(
            "the {chart} chart is of one scale per tensor without rotation, as on the page: drop \
             --granularity and --rotate, or plot scales, heatmap, rotation or formats"
        )));
    }
    if chart != "heatmap" && (o.heat.is_some() || o.per_pixel.is_some()) {
        return Err(usage_err(
            "--heat and --per-pixel go with the heatmap chart",
        ));
    }
    match chart {
        "blocks" if format.is_none() => {
            return Err(usage_err(
                "the blocks chart shows a format's blocks: add --format F (nf4, q4_0, q4_K, mxfp4, ...)",
            ))
        }
        "rotation" if rotate == Rotation::None => {
            return Err(usage_err(
                "the rotation chart shows a block before and after rotation: add --rotate hadamard",
            ))
        }
        _ => {}
    }
    let path = o.out;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    if !matches!(ext.as_deref(), Some("svg" | "png")) {
        return Err(usage_err(format!(
            "cannot tell the format of '{}': use a name ending in .svg or .png",
            path.display()
        )));
    }
    let data = data_from(&o.data)?;
    // The page's own session draws it, from these flags' settings: the same chart as the page.
    let settings = quantviz::settings::Settings {
        quant,
        format: format.map(|(f, _)| f),
        block: format.and_then(|(_, b)| b),
        granularity,
        rotate,
        ..Default::default()
    };
    let mut session = quantviz::session::Session::new();
    session.use_data(data, &settings.to_query())?;
    session.set_heatmap(
        o.heat.as_deref().unwrap_or("abs"),
        o.per_pixel.as_deref().unwrap_or("max"),
    )?;
    let theme = quantviz::charts::Theme::default();
    let (w, h) = (o.width, o.height);
    let plot_err = |e: String| CliError {
        message: e,
        hint: None,
        code: 1,
    };
    let draw = |e: quantviz::Error| match e {
        quantviz::Error::Chart(m) => m,
        other => format!("cannot draw the {chart} chart: {other}"),
    };
    if ext.as_deref() == Some("svg") {
        let svg = quantviz::charts::svg_with(w, h, |root| {
            session.draw(chart, root, &theme).map_err(draw)
        })
        .map_err(plot_err)?;
        std::fs::write(&path, svg).map_err(|e| CliError {
            message: format!("cannot write {}: {e}", path.display()),
            hint: None,
            code: 1,
        })?;
    } else {
        quantviz::charts::png_with(w, h, &path, |root| {
            session.draw(chart, root, &theme).map_err(draw)
        })
        .map_err(plot_err)?;
    }
    Ok(format!("wrote {} ({w}x{h})\n", path.display()))
}

fn bench(o: args::Bench) -> Out {
    let n = match o.shape {
        Some((r, c)) => r * c,
        None => o.n.unwrap_or(1_000_000),
    };
    let q = &o.quant;
    if o.shape.is_some() || finer_from(q).is_some() {
        let format = format_from(q)?;
        let int = quant_from(q)?;
        let shape = o.shape.unwrap_or((1, n));
        let r = quantviz::bench::run_granular(
            shape,
            usize::from(o.runs),
            format,
            &int,
            q.granularity.unwrap_or_default(),
            q.rotate.unwrap_or_default(),
        )?;
        return Ok(if o.json {
            r.to_json() + "\n"
        } else {
            r.to_string()
        });
    }
    let any_quant = q.format.is_some()
        || q.block.is_some()
        || q.bits.is_some()
        || q.scheme.is_some()
        || q.calibration.is_some()
        || q.zero_point.is_some();
    if any_quant {
        let format = format_from(q)?;
        let int = quant_from(q)?;
        let (f, block) = match format {
            Some((f, b)) => (Some(f), b),
            None => (None, None),
        };
        let r = quantviz::bench::run_format(n, usize::from(o.runs), f, block, &int)?;
        return Ok(if o.json {
            r.to_json() + "\n"
        } else {
            r.to_string()
        });
    }
    let r = quantviz::bench::run(n, usize::from(o.runs))?;
    Ok(if o.json {
        r.to_json() + "\n"
    } else {
        r.to_string()
    })
}

/// `model`: the built-in network's test accuracy with its weights quantized as the flags say,
/// or (`--sweep`) at every int width and in each 4-bit format.
fn model(o: args::ModelCmd) -> Out {
    let m = quantviz::model::Model::embedded()?;
    if o.sweep {
        if o.quant.format.is_some()
            || o.quant.block.is_some()
            || o.quant.bits.is_some()
            || finer_from(&o.quant).is_some()
        {
            return Err(usage_err(
                "model --sweep runs every int width per tensor, per channel and in groups of 32, and each 4-bit format: drop --format, --block, --bits, --granularity and --rotate (--scheme, --calibration and --zero-point set the int rows')",
            ));
        }
        let base = Settings {
            quant: quant_from(&o.quant)?,
            ..Settings::default()
        };
        let rows = m.sweep(&base);
        let n = m.test_set().n;
        if o.json {
            let out = quantviz::present::accuracy::SweepJson::new(n, m.float_correct(), &rows);
            return Ok(json::to_json(&out) + "\n");
        }
        let mut out = model_heading(&m);
        let _ = writeln!(
            out,
            "int rows: {} {}, zero point {}\n",
            base.quant.scheme,
            base.quant.calibration.label(),
            base.quant.zero_point
        );
        let _ = writeln!(
            out,
            "{:<16} {:>4} {:>7} {:>9} {:>9} {:>8}",
            "weights", "bits", "bits/w", "accuracy", "correct", "flipped"
        );
        for r in &rows {
            let bits = r.point.bits.map_or(String::new(), |b| b.to_string());
            let _ = match &r.outcome {
                Ok(e) => writeln!(
                    out,
                    "{:<16} {:>4} {:>7} {:>8}% {:>9} {:>8}",
                    r.point.family,
                    bits,
                    format!("{:.2}", e.bits_per_weight()),
                    format!("{:.2}", 100.0 * e.accuracy()),
                    format!("{}/{}", e.correct, e.n_test),
                    e.flipped.len()
                ),
                Err(msg) => writeln!(out, "{:<16} {:>4}  cannot: {msg}", r.point.family, bits),
            };
        }
        return Ok(out);
    }
    let format = format_from(&o.quant)?;
    let (granularity, rotate) = finer_from(&o.quant).unwrap_or_default();
    let s = Settings {
        quant: quant_from(&o.quant)?,
        format: format.map(|(f, _)| f),
        block: format.and_then(|(_, b)| b),
        granularity,
        rotate,
        ..Settings::default()
    };
    let e = m.evaluate(&s)?;
    if o.json {
        let out = quantviz::present::accuracy::ModelJson::new(&s, &e);
        return Ok(json::to_json(&out) + "\n");
    }
    let mut out = model_heading(&m);
    let _ = writeln!(
        out,
        "weights: {} ({:.2} bits per weight)\n",
        quantviz::model::weights_label(&s),
        e.bits_per_weight()
    );
    let _ = writeln!(
        out,
        "float accuracy      {:.2}% ({} of {})",
        100.0 * e.float_accuracy(),
        e.float_correct,
        e.n_test
    );
    let _ = writeln!(
        out,
        "quantized accuracy  {:.2}% ({} of {})",
        100.0 * e.accuracy(),
        e.correct,
        e.n_test
    );
    let shown: Vec<String> = e.flipped.iter().take(40).map(usize::to_string).collect();
    let more = if e.flipped.len() > 40 { ", ..." } else { "" };
    let _ = writeln!(
        out,
        "flipped             {} image{}{}{}{}\n",
        e.flipped.len(),
        if e.flipped.len() == 1 { "" } else { "s" },
        if shown.is_empty() { "" } else { ": " },
        shown.join(", "),
        more
    );
    let _ = writeln!(
        out,
        "{:<6} {:>8} {:>7} {:>11} {:>8}",
        "layer", "weights", "bits/w", "MSE", "SQNR dB"
    );
    for l in &e.layers {
        let _ = writeln!(
            out,
            "{:<6} {:>8} {:>7} {:>11} {:>8}",
            l.name,
            l.n,
            format!("{:.2}", l.bits_per_weight),
            short(l.mse),
            short(l.sqnr_db)
        );
    }
    Ok(out)
}

/// What the model is: its layers' shapes and the test set.
fn model_heading(m: &quantviz::model::Model) -> String {
    let mut widths = vec![m.test_set().width.to_string()];
    widths.extend(m.layers().iter().map(|l| l.weight.rows.to_string()));
    format!(
        "model: MLP {} (ReLU), UCI optical digits, {} test images\n",
        widths.join("-"),
        m.test_set().n
    )
}
