//! Argument parsing and the subcommands of `quantviz`. Each returns the text to print.

use quantviz::analysis::{Analysis, Run};
use quantviz::data::generate::{dataset_for, generate, Dataset};
use quantviz::data::presets as notebook;
use quantviz::present::explain;
use quantviz::present::nprint::{format_floats, format_ints};
use quantviz::present::report::{self, num, py_float, round2, short, Json};
use quantviz::settings::{
    parse_bits, parse_n, parse_outliers, parse_seed, Calibration, DataSpec, Preset, QuantSettings,
    Scheme, Settings,
};
use quantviz::Error;
use std::fmt::Write;
use std::path::PathBuf;

/// An error for the user: a message, an optional hint line, and the exit status.
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
    pub code: i32,
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError {
            message: e.to_string(),
            hint: None,
            code: 1,
        }
    }
}

fn usage_err(message: impl Into<String>) -> CliError {
    CliError {
        message: message.into(),
        hint: Some("see 'quantviz help' for the commands and their options".into()),
        code: 2,
    }
}

type Out = Result<String, CliError>;

const HELP: &str = "quantviz: see what quantizing neural-network weights does

USAGE
  quantviz quantize DATA [QUANT] [--json] [--codes]   quantize once, print parameters and error
  quantviz compare  DATA [--bits B] [--zero-point Z] [--calibration percentile:P] [--json]
                                                   every scheme and calibration on the same data
  quantviz notebook [--seed S]                     both experiments of the numpy notebook
  quantviz plot CHART DATA [QUANT] --out FILE.svg|FILE.png [--width W] [--height H]
                                                   a chart as a figure (histogram, error,
                                                   compare, mapping, sweep)
  quantviz bench [--n N] [--runs R] [--json]       timings of the notebook's workload
  quantviz help

DATA (one of)
  --input FILE             .npy (float32/float64, any shape, flattened), .csv or .txt numbers
  --generate DIST          uniform:LO,HI | normal:MEAN,STD | laplace:LOC,SCALE | student-t:DOF
     --n N                 how many values (default 10000, at most 10000000)
     --seed S              generator seed (default 42)
     --outliers K:VALUE    set K values at seeded positions to VALUE
  --preset NAME            notebook-minmax (the notebook's 20 values) or notebook-percentile

QUANT
  --bits B                 2..16 (default 8)
  --scheme S               asymmetric | symmetric (default asymmetric)
  --calibration C          minmax | percentile:P (50 < P <= 100) | mse (default minmax)
  --zero-point Z           raw (the notebook, default) | include-zero (PyTorch)

EXAMPLES
  quantviz quantize --generate normal:0,1 --n 100000 --bits 4 --scheme symmetric --calibration mse
  quantviz quantize --input weights.npy --bits 8 --json
  quantviz compare --generate uniform:-50,150 --n 10000 --outliers 1:1000
  quantviz plot histogram --preset notebook-minmax --bits 3 --out hist.svg
";

/// Options after the subcommand, as `--name value` pairs and bare flags.
struct Opts {
    pairs: Vec<(String, String)>,
    flags: Vec<String>,
    positional: Vec<String>,
}

const FLAGS: [&str; 3] = ["--json", "--codes", "--help"];

impl Opts {
    fn parse(args: &[String], allowed: &[&str]) -> Result<Opts, CliError> {
        let mut o = Opts {
            pairs: Vec::new(),
            flags: Vec::new(),
            positional: Vec::new(),
        };
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if let Some(stripped) = a.strip_prefix("--") {
                let (name, inline) = match stripped.split_once('=') {
                    Some((n, v)) => (format!("--{n}"), Some(v.to_string())),
                    None => (a.clone(), None),
                };
                if FLAGS.contains(&name.as_str()) && allowed.contains(&name.as_str()) {
                    o.flags.push(name);
                } else if allowed.contains(&name.as_str()) {
                    let value = match inline {
                        Some(v) => v,
                        None => {
                            i += 1;
                            args.get(i)
                                .cloned()
                                .ok_or_else(|| usage_err(format!("option {name} needs a value")))?
                        }
                    };
                    if o.pairs.iter().any(|(k, _)| *k == name) {
                        return Err(usage_err(format!("option {name} is given twice")));
                    }
                    o.pairs.push((name, value));
                } else {
                    return Err(usage_err(format!(
                        "unknown option '{a}' here; this command takes {}",
                        allowed.join(", ")
                    )));
                }
            } else {
                o.positional.push(a.clone());
            }
            i += 1;
        }
        Ok(o)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
}

const DATA_OPTS: [&str; 6] = [
    "--input",
    "--generate",
    "--n",
    "--seed",
    "--outliers",
    "--preset",
];
const QUANT_OPTS: [&str; 4] = ["--bits", "--scheme", "--calibration", "--zero-point"];

/// Runs the command line; returns what to print on success.
pub fn run(args: &[String]) -> Out {
    let Some(cmd) = args.first() else {
        return Ok(HELP.to_string());
    };
    let rest = &args[1..];
    match cmd.as_str() {
        "quantize" => quantize(rest),
        "compare" => compare(rest),
        "notebook" => notebook_cmd(rest),
        "plot" => plot(rest),
        "bench" => bench(rest),
        "help" | "--help" | "-h" => Ok(HELP.to_string()),
        "--version" | "-V" | "version" => Ok(format!("quantviz {}\n", env!("CARGO_PKG_VERSION"))),
        other => Err(usage_err(format!(
            "unknown command '{other}': expected quantize, compare, notebook, plot, bench or help"
        ))),
    }
}

fn allowed(extra: &[&'static str]) -> Vec<&'static str> {
    let mut v: Vec<&str> = DATA_OPTS.to_vec();
    v.extend_from_slice(&QUANT_OPTS);
    v.extend_from_slice(extra);
    v.push("--help");
    v
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

/// The data the options ask for, and whether it was generated / a preset / a file.
fn data_from(o: &Opts) -> Result<Dataset, CliError> {
    let sources = ["--input", "--generate", "--preset"]
        .iter()
        .filter(|k| o.get(k).is_some())
        .count();
    if sources > 1 {
        return Err(usage_err(
            "give only one of --input FILE, --generate DIST and --preset NAME",
        ));
    }
    if let Some(path) = o.get("--input") {
        for k in ["--n", "--seed", "--outliers"] {
            if o.get(k).is_some() {
                return Err(usage_err(format!("{k} goes with --generate, not --input")));
            }
        }
        let values = quantviz::data::load::load_file(&PathBuf::from(path))?;
        return Ok(Dataset::from_values(values, path)?);
    }
    let mut spec = DataSpec::default();
    if let Some(n) = o.get("--n") {
        spec.n = parse_n(n)?;
    }
    if let Some(s) = o.get("--seed") {
        spec.seed = parse_seed(s)?;
    }
    if let Some(p) = o.get("--preset") {
        let preset: Preset = p.parse()?;
        let mut settings = Settings {
            preset: Some(preset),
            ..Settings::default()
        };
        settings.data.seed = spec.seed;
        settings.data.outlier_value = 1000.0;
        if let Some(s) = o.get("--outliers") {
            parse_outlier_opt(s, &mut settings.data)?;
        }
        return Ok(dataset_for(&settings)?);
    }
    match o.get("--generate") {
        Some(d) => spec.dist = d.parse()?,
        None => {
            return Err(usage_err(
                "no data: give --input FILE, --generate DIST (like normal:0,1) or --preset notebook-minmax",
            ))
        }
    }
    if let Some(s) = o.get("--outliers") {
        parse_outlier_opt(s, &mut spec)?;
    }
    Ok(generate(&spec)?)
}

fn quant_from(o: &Opts) -> Result<QuantSettings, CliError> {
    let mut q = QuantSettings::default();
    if let Some(b) = o.get("--bits") {
        q.bits = parse_bits(b)?;
    }
    if let Some(s) = o.get("--scheme") {
        q.scheme = s.parse()?;
    }
    if let Some(c) = o.get("--calibration") {
        q.calibration = c.parse()?;
    }
    if let Some(z) = o.get("--zero-point") {
        q.zero_point = z.parse()?;
    }
    q.validate()?;
    Ok(q)
}

fn no_positional(o: &Opts) -> Result<(), CliError> {
    match o.positional.first() {
        Some(p) => Err(usage_err(format!("unexpected argument '{p}'"))),
        None => Ok(()),
    }
}

fn metrics_lines(out: &mut String, m: &quantviz::analysis::metrics::Metrics, indent: &str) {
    let _ = writeln!(out, "{indent}MSE          {}", m.mse);
    let _ = writeln!(out, "{indent}SQNR         {} dB", short(m.sqnr_db));
    let _ = writeln!(out, "{indent}max |error|  {}", m.max_abs_error);
    let _ = writeln!(out, "{indent}clipped      {} of {}", m.clipped, m.n);
}

fn quantize(args: &[String]) -> Out {
    let o = Opts::parse(args, &allowed(&["--json", "--codes"]))?;
    if o.flag("--help") {
        return Ok(HELP.to_string());
    }
    no_positional(&o)?;
    let q = quant_from(&o)?;
    let data = data_from(&o)?;
    let a = Analysis::new(data)?;
    let run = a.run(&q)?;
    if o.flag("--json") {
        let mut pairs = vec![("data", Json::str(a.data.label.clone()))];
        pairs.extend(report::run_json(&run));
        if o.flag("--codes") {
            let (codes, deq) = a.quantize_all(&run.params);
            pairs.push((
                "codes",
                Json::Arr(codes.iter().map(|&c| Json::Int(c as i64)).collect()),
            ));
            pairs.push((
                "dequantized",
                Json::Arr(deq.iter().map(|&d| num(d)).collect()),
            ));
        }
        return Ok(Json::obj(pairs).to_json() + "\n");
    }
    let mut out = String::new();
    let s = &a.stats;
    let _ = writeln!(
        out,
        "data: {} (n={}, min {}, max {})",
        a.data.label, s.n, s.min, s.max
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
    let _ = writeln!(out, "scale        {}", p.scale);
    let _ = writeln!(out, "zero point   {}", p.zero_point);
    let _ = writeln!(out, "codes        [{}, {}]", p.qmin, p.qmax);
    let _ = writeln!(out, "clip range   [{}, {}]", p.range_min, p.range_max);
    metrics_lines(&mut out, &run.metrics, "");
    if let Some(m) = &run.inliers {
        let _ = writeln!(out, "without the {} outliers:", a.data.outliers.len());
        metrics_lines(&mut out, m, "  ");
    }
    if o.flag("--codes") {
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

fn compare(args: &[String]) -> Out {
    let o = Opts::parse(args, &allowed(&["--json"]))?;
    if o.flag("--help") {
        return Ok(HELP.to_string());
    }
    no_positional(&o)?;
    if o.get("--scheme").is_some() {
        return Err(usage_err(
            "compare runs both schemes: drop --scheme (use quantize for one)",
        ));
    }
    let q = quant_from(&o)?;
    let data = data_from(&o)?;
    let a = Analysis::new(data)?;
    let runs = a.compare(&q)?;
    if o.flag("--json") {
        return Ok(Json::obj(vec![
            ("data", Json::str(a.data.label.clone())),
            ("n", Json::Int(a.stats.n as i64)),
            ("bits", Json::Int(q.bits as i64)),
            ("zero_point_policy", Json::str(q.zero_point.to_string())),
            ("runs", report::compare_json(&runs, None)),
        ])
        .to_json()
            + "\n");
    }
    Ok(compare_table(&a, &q, &runs))
}

fn compare_table(a: &Analysis, q: &QuantSettings, runs: &[Run]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "data: {} (n={}, min {}, max {}); {} bits, zero point {}\n",
        a.data.label, a.stats.n, a.stats.min, a.stats.max, q.bits, q.zero_point
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
    if let Some(cur) = runs.first() {
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

fn notebook_cmd(args: &[String]) -> Out {
    let o = Opts::parse(args, &["--seed", "--help"])?;
    if o.flag("--help") {
        return Ok(HELP.to_string());
    }
    no_positional(&o)?;
    let seed = match o.get("--seed") {
        Some(s) => parse_seed(s)?,
        None => DataSpec::default().seed,
    };
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

fn plot(args: &[String]) -> Out {
    let o = Opts::parse(args, &allowed(&["--out", "--width", "--height"]))?;
    if o.flag("--help") {
        return Ok(HELP.to_string());
    }
    let Some(kind) = o.positional.first() else {
        return Err(usage_err(
            "plot needs a chart: histogram, error, compare, mapping or sweep",
        ));
    };
    if let Some(extra) = o.positional.get(1) {
        return Err(usage_err(format!("unexpected argument '{extra}'")));
    }
    let kind: quantviz::charts::ChartKind = kind.parse().map_err(usage_err)?;
    let Some(out_path) = o.get("--out") else {
        return Err(usage_err("plot needs --out FILE.svg or --out FILE.png"));
    };
    let dim = |name: &str, default: u32| -> Result<u32, CliError> {
        match o.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<u32>() {
                Ok(x) if (100..=8000).contains(&x) => Ok(x),
                _ => Err(usage_err(format!(
                    "invalid {name} '{v}': expected pixels from 100 to 8000"
                ))),
            },
        }
    };
    let (w, h) = (dim("--width", 900)?, dim("--height", 520)?);
    let q = quant_from(&o)?;
    let data = data_from(&o)?;
    let a = Analysis::new(data)?;
    let path = PathBuf::from(out_path);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let plot_err = |e: String| CliError {
        message: e,
        hint: None,
        code: 1,
    };
    match ext.as_deref() {
        Some("svg") => {
            let svg = quantviz::charts::render_svg(kind, &a, &q, w, h).map_err(plot_err)?;
            std::fs::write(&path, svg).map_err(|e| CliError {
                message: format!("cannot write {}: {e}", path.display()),
                hint: None,
                code: 1,
            })?;
        }
        Some("png") => quantviz::charts::render_png(kind, &a, &q, w, h, &path).map_err(plot_err)?,
        _ => {
            return Err(usage_err(format!(
                "cannot tell the format of '{out_path}': use a name ending in .svg or .png"
            )))
        }
    }
    Ok(format!("wrote {} ({w}x{h})\n", path.display()))
}

fn bench(args: &[String]) -> Out {
    let o = Opts::parse(args, &["--n", "--runs", "--json", "--help"])?;
    if o.flag("--help") {
        return Ok(HELP.to_string());
    }
    no_positional(&o)?;
    let n = match o.get("--n") {
        Some(v) => parse_n(v)?,
        None => 1_000_000,
    };
    let runs = match o.get("--runs") {
        None => 5,
        Some(v) => match v.parse::<usize>() {
            Ok(r) if (1..=1000).contains(&r) => r,
            _ => {
                return Err(usage_err(format!(
                    "invalid --runs '{v}': expected a whole number from 1 to 1000"
                )))
            }
        },
    };
    let r = quantviz::bench::run(n, runs)?;
    Ok(if o.flag("--json") {
        r.to_json() + "\n"
    } else {
        r.to_string()
    })
}
