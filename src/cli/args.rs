//! The command line's words: subcommands and their flags, as clap parses them. Values are
//! checked by the core's own parsers (`quantviz::settings`), so a bad value gets the same
//! message on the command line as in a URL.

use clap::{Args, Parser, Subcommand};
use quantviz::settings::{
    parse_bits, parse_block, parse_n, parse_outlier_channels, parse_row_spread, parse_seed,
    parse_shape, Calibration, Distribution, Format, Granularity, Preset, Rotation, Scheme,
    ZeroPoint,
};
use std::path::PathBuf;

/// quantviz: see what quantizing neural-network weights does.
#[derive(Debug, Parser)]
#[command(
    name = "quantviz",
    version,
    about,
    after_help = "Examples:
  quantviz quantize --generate normal:0,1 --n 100000 --bits 4 --scheme symmetric --calibration mse
  quantviz quantize --input weights.npy --bits 8 --json
  quantviz compare --generate uniform:-50,150 --n 10000 --outliers 1:1000
  quantviz plot histogram --preset notebook-minmax --bits 3 --out hist.svg
  quantviz model --format q4_K
  quantviz model --sweep

'quantviz help COMMAND' or 'quantviz COMMAND --help' tells more of each."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Quantize once; print the parameters, the formulas with their numbers, and the error.
    Quantize(Quantize),
    /// Every scheme and calibration on the same data, side by side.
    Compare(Compare),
    /// Both experiments of the numpy notebook, printed as the notebook prints them.
    Notebook(Notebook),
    /// A chart as a figure for slides and handouts (SVG or PNG).
    Plot(Plot),
    /// Time the notebook's workload in this process.
    Bench(Bench),
    /// Every tensor of a safetensors, GGUF or .npy file: dtype, shape, parameters, min, max,
    /// mean, std and count of NaN/Inf.
    Inspect(Inspect),
    /// Every tensor of a model file in each format: MSE, SQNR, max error, bits per weight, and
    /// each format's totals weighted by parameters.
    Report(Report),
    /// A small real network's test accuracy with its weights quantized (the UCI digits).
    Model(ModelCmd),
}

/// Where the values come from: one of a file, a distribution or a preset.
#[derive(Debug, Args)]
#[command(next_help_heading = "Data (one of --input, --generate, --preset)")]
pub struct DataArgs {
    /// A file of values: .npy (float16/32/64, any shape), .csv or .txt numbers, or one tensor
    /// of a .safetensors or .gguf file (see --tensor). A tensor of 2 or more axes is every axis
    /// but the last by the last (rows by columns).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["generate", "preset"])]
    pub input: Option<PathBuf>,
    /// The tensor of a safetensors or GGUF --input to read (needed where it holds several).
    #[arg(long, value_name = "NAME", requires = "input")]
    pub tensor: Option<String>,
    /// Generate values: uniform:LO,HI | normal:MEAN,STD | laplace:LOC,SCALE | student-t:DOF.
    #[arg(long, value_name = "DIST", value_parser = parse_dist, conflicts_with = "preset")]
    pub generate: Option<Distribution>,
    /// How many values to generate (at most 10000000) [default: 10240, 40 blocks of 256].
    #[arg(long, value_name = "N", value_parser = value(parse_n), conflicts_with = "input")]
    pub n: Option<usize>,
    /// The generator's seed [default: 42].
    #[arg(long, value_name = "S", value_parser = value(parse_seed), conflicts_with = "input", allow_hyphen_values = true)]
    pub seed: Option<u64>,
    /// Set K values at seeded positions to VALUE (K alone keeps 1000).
    #[arg(long, value_name = "K:VALUE", conflicts_with = "input")]
    pub outliers: Option<String>,
    /// notebook-minmax (the notebook's 20 values) or notebook-percentile.
    #[arg(long, value_name = "NAME", value_parser = parse_preset)]
    pub preset: Option<Preset>,
    /// 2-D data of R rows and C columns (at most 10000000 values): generated in place of
    /// --n, or the layout of a file's values (a file's tensor of 2 or more axes has its own).
    #[arg(long, value_name = "R,C", value_parser = value(parse_shape), conflicts_with = "preset")]
    pub shape: Option<(usize, usize)>,
    /// Scale row i by exp(S z_i), z_i standard normal from the seed (needs --shape) [default: 0].
    #[arg(long = "row-spread", value_name = "S", value_parser = value(parse_row_spread), conflicts_with = "input", allow_hyphen_values = true)]
    pub row_spread: Option<f64>,
    /// Multiply K seeded columns by F, LLM.int8's outlier features (needs --shape).
    #[arg(long = "outlier-channels", value_name = "K:F", value_parser = value(parse_outlier_channels), conflicts_with = "input", allow_hyphen_values = true)]
    pub outlier_channels: Option<(usize, f64)>,
}

/// How to quantize.
#[derive(Debug, Args)]
#[command(next_help_heading = "Quantization")]
pub struct QuantArgs {
    /// int (a scale and zero point, the flags below) | nf4 | fp8-e4m3 | fp8-e5m2 | mxfp4 |
    /// nvfp4 | q4_0 | q4_1 | q8_0 | q2_K | q3_K | q4_K | q5_K | q6_K [default: int].
    #[arg(long, value_name = "F", value_parser = parse_format)]
    pub format: Option<FormatArg>,
    /// Values per block, for nf4: a power of two from 32 to 4096 [default: 64]. The other
    /// formats fix their own.
    #[arg(long, value_name = "B", value_parser = value(parse_block))]
    pub block: Option<usize>,
    /// Bit width, 2 to 16, for int [default: 8].
    #[arg(long, value_name = "B", value_parser = value(parse_bits))]
    pub bits: Option<u32>,
    /// asymmetric | symmetric [default: asymmetric].
    #[arg(long, value_name = "S", value_parser = parse_scheme)]
    pub scheme: Option<Scheme>,
    /// minmax | percentile:P (50 < P <= 100) | mse | kl (NVIDIA's entropy calibration,
    /// symmetric only; alone it sets --scheme symmetric) [default: minmax].
    #[arg(long, value_name = "C", value_parser = parse_calibration)]
    pub calibration: Option<Calibration>,
    /// raw (the notebook) | include-zero (PyTorch) [default: raw].
    #[arg(long = "zero-point", value_name = "Z", value_parser = parse_zero_point)]
    pub zero_point: Option<ZeroPoint>,
    /// tensor | channel (one scale per row of 2-D data) | group:G (G values within a row),
    /// for int [default: tensor].
    #[arg(long, value_name = "G", value_parser = from_str::<Granularity>)]
    pub granularity: Option<Granularity>,
    /// none | hadamard | hadamard:K: a normalized Walsh-Hadamard rotation over blocks of K
    /// values within a row before quantizing (K a power of two dividing the row; hadamard
    /// alone: the largest up to 4096) [default: none].
    #[arg(long, value_name = "R", value_parser = from_str::<Rotation>)]
    pub rotate: Option<Rotation>,
}

#[derive(Debug, Args)]
pub struct Quantize {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub quant: QuantArgs,
    /// Print one JSON object instead of text.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// Also print every value's code and dequantized value.
    #[arg(long, help_heading = "Output")]
    pub codes: bool,
}

/// The quantization flags that compare refuses (it runs both schemes, one scale per tensor)
/// are not offered in its help.
#[derive(Debug, Args)]
#[command(
    mut_arg("scheme", |a| a.hide(true)),
    mut_arg("granularity", |a| a.hide(true)),
    mut_arg("rotate", |a| a.hide(true))
)]
pub struct Compare {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub quant: QuantArgs,
    /// Compare formats instead of calibrations: `all`, or a comma-separated list (q4_K,nf4,...);
    /// each beside the int schemes at 4 and 8 bits (which are always there).
    #[arg(long, value_name = "LIST", value_parser = parse_formats)]
    pub formats: Option<FormatList>,
    /// Print one JSON object instead of a table.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct Notebook {
    /// The seed of the second experiment's values (the notebook's own are unseeded).
    #[arg(long, value_name = "S", value_parser = value(parse_seed))]
    pub seed: Option<u64>,
}

/// plot draws any chart of the page.
#[derive(Debug, Args)]
pub struct Plot {
    /// histogram | error | compare | mapping | sweep | formats (every format on the data) |
    /// blocks (needs --format) | heatmap (rows by columns; see --heat) | scales (each row's or
    /// group's scale at --granularity) | kl (KL calibration's search) | rotation (one block
    /// before and after, needs --rotate). As on the page, a format shows in histogram, blocks,
    /// formats and heatmap; --granularity and --rotate in scales, heatmap, rotation and
    /// formats; the other charts are of the int scheme with one scale per tensor.
    #[arg(value_name = "CHART", value_parser = parse_chart)]
    pub chart: &'static str,
    /// What the heatmap shows: abs (|x|) or error (|x - x̂| of the run the flags choose)
    /// [default: abs].
    #[arg(long, value_name = "V", value_parser = ["abs", "error"])]
    pub heat: Option<String>,
    /// How the heatmap reduces the values a pixel covers: max or mean [default: max].
    #[arg(long = "per-pixel", value_name = "R", value_parser = ["max", "mean"])]
    pub per_pixel: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub quant: QuantArgs,
    /// Where to write the figure: a name ending in .svg or .png.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Width in pixels, 100 to 8000.
    #[arg(long, value_name = "W", default_value_t = 900, value_parser = pixels)]
    pub width: u32,
    /// Height in pixels, 100 to 8000.
    #[arg(long, value_name = "H", default_value_t = 520, value_parser = pixels)]
    pub height: u32,
}

#[derive(Debug, Args)]
pub struct Bench {
    /// With a format or int flags: time quantize + dequantize + error of seeded normal float32
    /// values in that format. Without: the notebook's workload.
    #[command(flatten)]
    pub quant: QuantArgs,
    /// How many values: up to 10000000 for the notebook's workload, 268435456 for a format
    /// [default: 1000000].
    #[arg(long, value_name = "N", value_parser = bench_n)]
    pub n: Option<usize>,
    /// Rows and columns of the values (with a format or int flags), in place of --n: at most
    /// 268435456 values.
    #[arg(long, value_name = "R,C", value_parser = bench_shape, conflicts_with = "n")]
    pub shape: Option<(usize, usize)>,
    /// How many timed runs, 1 to 1000.
    #[arg(long, value_name = "R", default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub runs: u16,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct Inspect {
    /// A .safetensors, .gguf or .npy file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct Report {
    /// A .safetensors, .gguf or .npy file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The formats: `all`, or a comma-separated list (q8_0,q4_K,nf4,...; `int` for int4 and
    /// int8 symmetric min-max rows at the granularity below) [default: all].
    #[arg(long, value_name = "LIST", value_parser = parse_formats)]
    pub formats: Option<FormatList>,
    /// tensor (each format with its own blocks) | channel (also int4 and int8 symmetric
    /// min-max rows, one scale per row) | group:G (the same, one scale per G values within a
    /// row) [default: tensor].
    #[arg(long, value_name = "G")]
    pub granularity: Option<String>,
    /// Only the tensors whose names this regular expression matches (anywhere in the name).
    #[arg(long, value_name = "REGEX")]
    pub tensors: Option<String>,
    /// Print one JSON object instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV: one row per tensor and format, then one per format's totals.
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Args)]
pub struct ModelCmd {
    #[command(flatten)]
    pub quant: QuantArgs,
    /// The accuracy at every int width from 2 to 8 and in each 4-bit format (fp8-e4m3 for
    /// reference), instead of one setting; --scheme, --calibration and --zero-point set the
    /// int rows'.
    #[arg(long)]
    pub sweep: bool,
    /// Print one JSON object instead of text.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
}

/// A clap value parser from one of the core's `&str -> Result<T>` parsers: its message is
/// the one a URL gets.
fn value<T: 'static>(
    parse: fn(&str) -> quantviz::Result<T>,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |s| parse(s).map_err(|e| e.to_string())
}

fn from_str<T: std::str::FromStr<Err = quantviz::Error>>(s: &str) -> Result<T, String> {
    s.parse().map_err(|e: quantviz::Error| e.to_string())
}

/// `--format`: `int` or one of the field's formats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FormatArg {
    Int,
    Format(Format),
}

fn parse_format(s: &str) -> Result<FormatArg, String> {
    if s.trim().eq_ignore_ascii_case("int") {
        Ok(FormatArg::Int)
    } else {
        from_str(s).map(FormatArg::Format)
    }
}

/// `--formats`: the formats to compare, each once in the order first given, and whether the
/// list names `int` (one value, so a struct rather than a `Vec`, which clap would read as
/// several).
#[derive(Debug, Clone, PartialEq)]
pub struct FormatList {
    pub formats: Vec<Format>,
    pub int: bool,
}

fn parse_formats(s: &str) -> Result<FormatList, String> {
    if s.trim().eq_ignore_ascii_case("all") {
        return Ok(FormatList {
            formats: Format::ALL.to_vec(),
            int: true,
        });
    }
    let mut list = FormatList {
        formats: Vec::new(),
        int: false,
    };
    for t in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if t.eq_ignore_ascii_case("int") {
            list.int = true;
        } else {
            let f: Format = from_str(t)?;
            if !list.formats.contains(&f) {
                list.formats.push(f);
            }
        }
    }
    Ok(list)
}

fn parse_dist(s: &str) -> Result<Distribution, String> {
    from_str(s)
}

fn parse_preset(s: &str) -> Result<Preset, String> {
    from_str(s)
}

fn parse_scheme(s: &str) -> Result<Scheme, String> {
    from_str(s)
}

fn parse_calibration(s: &str) -> Result<Calibration, String> {
    from_str(s)
}

fn parse_zero_point(s: &str) -> Result<ZeroPoint, String> {
    from_str(s)
}

/// The charts `plot` draws: the page's, but for the model's accuracy (`quantviz model`).
pub const PLOT_CHARTS: [&str; 11] = [
    "histogram",
    "error",
    "compare",
    "mapping",
    "sweep",
    "formats",
    "blocks",
    "heatmap",
    "scales",
    "kl",
    "rotation",
];

fn parse_chart(s: &str) -> Result<&'static str, String> {
    let name = s.trim().to_ascii_lowercase();
    PLOT_CHARTS
        .into_iter()
        .find(|&c| c == name)
        .ok_or_else(|| format!("unknown chart '{s}': expected {}", PLOT_CHARTS.join(", ")))
}

fn bench_n(s: &str) -> Result<usize, String> {
    let max = quantviz::bench::MAX_BENCH_VALUES;
    match s.trim().replace('_', "").parse::<f64>() {
        Ok(f) if f >= 1.0 && f <= max as f64 && f.fract() == 0.0 => Ok(f as usize),
        _ => Err(format!("expected a whole number of values from 1 to {max}")),
    }
}

fn bench_shape(s: &str) -> Result<(usize, usize), String> {
    let max = quantviz::bench::MAX_BENCH_VALUES;
    let err = || format!("expected rows and columns as R,C, at most {max} values in all");
    let (r, c) = s.split_once([',', 'x']).ok_or_else(err)?;
    match (r.trim().parse::<usize>(), c.trim().parse::<usize>()) {
        (Ok(r), Ok(c)) if r >= 1 && c >= 1 && r.checked_mul(c).is_some_and(|n| n <= max) => {
            Ok((r, c))
        }
        _ => Err(err()),
    }
}

fn pixels(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(x) if (100..=8000).contains(&x) => Ok(x),
        _ => Err("expected pixels from 100 to 8000".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// clap's own check of the definitions (types, conflicts, names), which would otherwise
    /// only fail when a user gives the flag.
    #[test]
    fn the_command_line_is_well_defined() {
        Cli::command().debug_assert();
    }
}
