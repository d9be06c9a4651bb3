//! Settings: plain data that says what to generate and how to quantize it.
//!
//! One spelling for each idea across the CLI, the URL's query string and the page's controls:
//! `dist`, `n`, `seed`, `outliers`, `outlier_value`, `bits`, `scheme`, `calibration`,
//! `zero_point`, `preset`, and for 2-D data and finer scales `shape` (`R,C`, one key rather than
//! `rows` and `cols`, as the CLI's `--shape`), `row_spread`, `outlier_channels` (`K:F`),
//! `granularity` and `rotate`.
//!
//! The parsers are `#[inline(never)]`: cold code, one copy each in the wasm.

use crate::error::{Error, Result, MAX_VALUES};
use crate::present::number::full;
pub use crate::quant::formats::Format;
pub use crate::quant::granularity::Granularity;
pub use crate::quant::rotate::Rotation;
use std::fmt;
use std::str::FromStr;

/// Default percentile of the notebook's percentile calibration.
pub const DEFAULT_PERCENTILE: f64 = 99.99;

/// How the real line is mapped onto integer codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Affine: `q = clamp(round(x / scale + zero_point), 0, 2^b - 1)`.
    Asymmetric,
    /// Absmax: `q = clamp(round(x / scale), -2^(b-1), 2^(b-1) - 1)`, zero point 0.
    Symmetric,
}

/// How the clip range `[clip_min, clip_max]` is chosen from the data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Calibration {
    /// The data's own min and max (absmax for symmetric).
    MinMax,
    /// numpy's linear percentile: `[pct(100 - P), pct(P)]`, or `pct(|x|, P)` for symmetric.
    Percentile(f64),
    /// The clip range with the least mean squared error (see [`crate::quant::calibrate`]).
    Mse,
    /// NVIDIA's entropy calibration: the clip value of the 2048-bin `|x|` histogram whose
    /// requantized distribution has the least KL divergence (symmetric only, see
    /// [`crate::quant::calibrate::kl`]).
    Kl,
}

/// Where the zero point may lie and whether 0 must be in the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZeroPoint {
    /// The notebook: `zero = -round(min / scale)`, unclamped; the range need not include 0.
    Raw,
    /// PyTorch's observers: range extended to include 0, zero point clamped to `[qmin, qmax]`.
    IncludeZero,
}

/// A distribution to draw values from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    /// Uniform on `[lo, hi)`.
    Uniform {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// Normal with mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Laplace (double exponential) with location and scale.
    Laplace {
        /// Location.
        loc: f64,
        /// Scale (mean absolute deviation).
        scale: f64,
    },
    /// Student's t with `dof` degrees of freedom: heavy tails for small `dof`.
    StudentT {
        /// Degrees of freedom.
        dof: f64,
    },
}

/// How to quantize: bit width, scheme, calibration and zero-point policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantSettings {
    /// Bit width, 2..=16.
    pub bits: u32,
    /// Asymmetric or symmetric.
    pub scheme: Scheme,
    /// How the clip range is chosen.
    pub calibration: Calibration,
    /// Zero-point policy (asymmetric only; symmetric always has zero point 0).
    pub zero_point: ZeroPoint,
}

/// What data to generate: distribution, count, seed and injected outliers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataSpec {
    /// The distribution.
    pub dist: Distribution,
    /// How many values, 1..=10,000,000.
    pub n: usize,
    /// Seed of the generator (xoshiro256++): the same seed gives the same values everywhere.
    pub seed: u64,
    /// How many values to replace by `outlier_value`, at seeded positions.
    pub outliers: usize,
    /// The value the outliers take.
    pub outlier_value: f64,
}

/// The 2-D layout of generated data: rows and columns, and the two patterns of real weights
/// and activations (a spread of scale between rows, a few outlier columns). All off by default.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Matrix {
    /// `(rows, cols)`, at most 10,000,000 values in all; `None`: 1-D data of `n` values.
    pub shape: Option<(usize, usize)>,
    /// Row `i` is multiplied by `exp(row_spread * z_i)`, `z_i` standard normal from the seed;
    /// 0 (the default) leaves the rows alone.
    pub row_spread: f64,
    /// `(K, F)`: `K` columns at seeded positions multiplied by `F` (LLM.int8's outlier
    /// features); `None` for none.
    pub outlier_channels: Option<(usize, f64)>,
}

/// Data sets that reproduce the notebook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// The notebook's own 20 values, asymmetric and symmetric min-max at 8 bits.
    NotebookMinmax,
    /// 10,000 uniform(-50, 150) values rounded to 2 decimals, the last set to 1000.
    NotebookPercentile,
}

/// Everything the page or the CLI needs to produce one view: data and quantization.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Settings {
    /// What data to generate (ignored where a preset supplies its own data).
    pub data: DataSpec,
    /// How to quantize it.
    pub quant: QuantSettings,
    /// A notebook preset, or none.
    pub preset: Option<Preset>,
    /// The format: `None` for the integer schemes of `quant`, or one of the field's formats
    /// (URL `format`, `int` for none).
    pub format: Option<Format>,
    /// The format's block where it takes one (NF4); `None` for the format's default.
    pub block: Option<usize>,
    /// The 2-D layout of generated data (URL `shape=R,C`, `row_spread`, `outlier_channels=K:F`).
    pub matrix: Matrix,
    /// How many values share one scale (URL `granularity`): int format only.
    pub granularity: Granularity,
    /// The rotation applied before quantizing (URL `rotate`).
    pub rotate: Rotation,
}

impl Default for QuantSettings {
    fn default() -> Self {
        QuantSettings {
            bits: 8,
            scheme: Scheme::Asymmetric,
            calibration: Calibration::MinMax,
            zero_point: ZeroPoint::Raw,
        }
    }
}

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec {
            dist: Distribution::Normal {
                mean: 0.0,
                std: 1.0,
            },
            // 40 blocks of 256: every format's block divides it, so each format and preset
            // takes the default data.
            n: 10_240,
            seed: 42,
            outliers: 0,
            outlier_value: 20.0,
        }
    }
}

/// Checks a bit width: 2..=16.
pub fn check_bits(bits: i64) -> Result<u32> {
    if (2..=16).contains(&bits) {
        Ok(bits as u32)
    } else {
        Err(Error::Bits(bits))
    }
}

/// Checks a percentile: in (50, 100].
pub fn check_percentile(p: f64) -> Result<f64> {
    if p > 50.0 && p <= 100.0 {
        Ok(p)
    } else {
        Err(Error::Percentile(p))
    }
}

#[inline(never)]
fn setting_err(name: &'static str, given: &str, expected: &str) -> Error {
    Error::Setting {
        name,
        given: given.to_string(),
        expected: expected.to_string(),
    }
}

#[inline(never)]
fn parse_f64(name: &'static str, s: &str, expected: &str) -> Result<f64> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(setting_err(name, s, expected)),
    }
}

impl QuantSettings {
    /// Checks bits and percentile; the other fields are valid by construction.
    pub fn validate(&self) -> Result<()> {
        check_bits(self.bits as i64)?;
        if let Calibration::Percentile(p) = self.calibration {
            check_percentile(p)?;
        }
        if self.calibration == Calibration::Kl && self.scheme == Scheme::Asymmetric {
            return Err(Error::KlAsymmetric);
        }
        Ok(())
    }

    /// The integer code range `(qmin, qmax)`: `[0, 2^b - 1]` or `[-2^(b-1), 2^(b-1) - 1]`.
    pub fn code_range(&self) -> (i32, i32) {
        code_range(self.scheme, self.bits)
    }
}

/// The integer code range of a scheme at `bits`: `[0, 2^b - 1]` or `[-2^(b-1), 2^(b-1) - 1]`.
pub fn code_range(scheme: Scheme, bits: u32) -> (i32, i32) {
    let bits = bits.clamp(1, 30);
    match scheme {
        Scheme::Asymmetric => (0, (1i32 << bits) - 1),
        Scheme::Symmetric => (-(1i32 << (bits - 1)), (1i32 << (bits - 1)) - 1),
    }
}

impl DataSpec {
    /// Checks n, outliers and the distribution's parameters.
    pub fn validate(&self) -> Result<()> {
        if self.n == 0 {
            return Err(setting_err(
                "n",
                "0",
                &format!("a whole number of values from 1 to {MAX_VALUES}"),
            ));
        }
        if self.n > MAX_VALUES {
            return Err(Error::TooMany(self.n as u64));
        }
        if self.outliers > self.n {
            return Err(setting_err(
                "outliers",
                &self.outliers.to_string(),
                &format!("at most as many outliers as values ({})", self.n),
            ));
        }
        if !self.outlier_value.is_finite() {
            return Err(setting_err(
                "outlier_value",
                &self.outlier_value.to_string(),
                "a finite number",
            ));
        }
        self.dist.validate()
    }
}

impl Distribution {
    /// Checks the parameters: lo < hi, std > 0, scale > 0, dof > 0, all finite.
    pub fn validate(&self) -> Result<()> {
        let ok = match *self {
            Distribution::Uniform { lo, hi } => lo.is_finite() && hi.is_finite() && lo < hi,
            Distribution::Normal { mean, std } => mean.is_finite() && std.is_finite() && std > 0.0,
            Distribution::Laplace { loc, scale } => {
                loc.is_finite() && scale.is_finite() && scale > 0.0
            }
            Distribution::StudentT { dof } => dof.is_finite() && dof > 0.0,
        };
        if ok {
            Ok(())
        } else {
            Err(setting_err("dist", &self.to_string(), DIST_EXPECTED))
        }
    }

    /// The name alone: `uniform`, `normal`, `laplace`, `student-t`.
    pub fn name(&self) -> &'static str {
        match self {
            Distribution::Uniform { .. } => "uniform",
            Distribution::Normal { .. } => "normal",
            Distribution::Laplace { .. } => "laplace",
            Distribution::StudentT { .. } => "student-t",
        }
    }
}

const DIST_EXPECTED: &str = "uniform:LO,HI (LO < HI), normal:MEAN,STD (STD > 0), laplace:LOC,SCALE (SCALE > 0) or student-t:DOF (DOF > 0)";

impl FromStr for Distribution {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let err = || setting_err("dist", s, DIST_EXPECTED);
        let (name, args) = match s.split_once(':') {
            Some((n, a)) => (n.trim(), a),
            None => (s.trim(), ""),
        };
        let nums: Vec<f64> = if args.trim().is_empty() {
            Vec::new()
        } else {
            args.split(',')
                .map(|a| parse_f64("dist", a, DIST_EXPECTED).map_err(|_| err()))
                .collect::<Result<_>>()?
        };
        let d = match (name.to_ascii_lowercase().as_str(), nums.as_slice()) {
            ("uniform", []) => Distribution::Uniform { lo: -1.0, hi: 1.0 },
            ("uniform", [lo, hi]) => Distribution::Uniform { lo: *lo, hi: *hi },
            ("normal", []) => Distribution::Normal {
                mean: 0.0,
                std: 1.0,
            },
            ("normal", [mean, std]) => Distribution::Normal {
                mean: *mean,
                std: *std,
            },
            ("laplace", []) => Distribution::Laplace {
                loc: 0.0,
                scale: 1.0,
            },
            ("laplace", [loc, scale]) => Distribution::Laplace {
                loc: *loc,
                scale: *scale,
            },
            ("student-t" | "student_t" | "t", []) => Distribution::StudentT { dof: 3.0 },
            ("student-t" | "student_t" | "t", [dof]) => Distribution::StudentT { dof: *dof },
            _ => return Err(err()),
        };
        d.validate()?;
        Ok(d)
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Distribution::Uniform { lo, hi } => write!(f, "uniform:{},{}", full(lo), full(hi)),
            Distribution::Normal { mean, std } => {
                write!(f, "normal:{},{}", full(mean), full(std))
            }
            Distribution::Laplace { loc, scale } => {
                write!(f, "laplace:{},{}", full(loc), full(scale))
            }
            Distribution::StudentT { dof } => write!(f, "student-t:{}", full(dof)),
        }
    }
}

impl FromStr for Scheme {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "asymmetric" | "asym" | "affine" => Ok(Scheme::Asymmetric),
            "symmetric" | "sym" | "absmax" => Ok(Scheme::Symmetric),
            _ => Err(setting_err("scheme", s, "asymmetric or symmetric")),
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Asymmetric => "asymmetric",
            Scheme::Symmetric => "symmetric",
        })
    }
}

impl FromStr for Calibration {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let expected = "minmax, percentile:P (50 < P <= 100), mse or kl";
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "minmax" | "min-max" | "max" => Ok(Calibration::MinMax),
            "mse" => Ok(Calibration::Mse),
            "kl" => Ok(Calibration::Kl),
            "percentile" => Ok(Calibration::Percentile(DEFAULT_PERCENTILE)),
            _ => match t.strip_prefix("percentile:") {
                Some(p) => {
                    let p = parse_f64("calibration", p, expected)?;
                    Ok(Calibration::Percentile(check_percentile(p)?))
                }
                None => Err(setting_err("calibration", s, expected)),
            },
        }
    }
}

impl fmt::Display for Calibration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Calibration::MinMax => f.write_str("minmax"),
            Calibration::Percentile(p) => write!(f, "percentile:{p}"),
            Calibration::Mse => f.write_str("mse"),
            Calibration::Kl => f.write_str("kl"),
        }
    }
}

impl Calibration {
    /// A short label for tables and legends: `min-max`, `p99.99`, `mse`, `kl`.
    pub fn label(&self) -> String {
        match self {
            Calibration::MinMax => "min-max".to_string(),
            Calibration::Percentile(p) => format!("p{p}"),
            Calibration::Mse => "mse".to_string(),
            Calibration::Kl => "kl".to_string(),
        }
    }
}

impl FromStr for ZeroPoint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "raw" => Ok(ZeroPoint::Raw),
            "include-zero" | "include_zero" => Ok(ZeroPoint::IncludeZero),
            _ => Err(setting_err("zero_point", s, "raw or include-zero")),
        }
    }
}

impl fmt::Display for ZeroPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ZeroPoint::Raw => "raw",
            ZeroPoint::IncludeZero => "include-zero",
        })
    }
}

impl Preset {
    /// How many values the preset brings.
    pub fn count(self) -> usize {
        match self {
            Preset::NotebookMinmax => 20,
            Preset::NotebookPercentile => 10_000,
        }
    }
}

impl FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "notebook-minmax" => Ok(Preset::NotebookMinmax),
            "notebook-percentile" => Ok(Preset::NotebookPercentile),
            _ => Err(setting_err(
                "preset",
                s,
                "notebook-minmax or notebook-percentile",
            )),
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Preset::NotebookMinmax => "notebook-minmax",
            Preset::NotebookPercentile => "notebook-percentile",
        })
    }
}

/// Parses a whole number of values, 1..=10,000,000, with a message for anything else.
#[inline(never)]
pub fn parse_n(s: &str) -> Result<usize> {
    let expected = format!("a whole number of values from 1 to {MAX_VALUES}");
    let t = s.trim().replace('_', "");
    match t.parse::<u64>() {
        Ok(0) => Err(setting_err("n", s, &expected)),
        Ok(n) if n > MAX_VALUES as u64 => Err(Error::TooMany(n)),
        Ok(n) => Ok(n as usize),
        // A count written as a float (`1e6`) is that count when it is a whole number.
        Err(_) => match t.parse::<f64>() {
            Ok(f) if f > MAX_VALUES as f64 && f.is_finite() => Err(Error::TooMany(f as u64)),
            Ok(f) if f >= 1.0 && f.fract() == 0.0 => Ok(f as usize),
            _ => Err(setting_err("n", s, &expected)),
        },
    }
}

/// Parses a 2-D shape `R,C` (or `RxC`): rows and columns from 1, at most 10,000,000 values.
#[inline(never)]
pub fn parse_shape(s: &str) -> Result<(usize, usize)> {
    let expected = format!(
        "rows and columns as R,C (like 4096,4096), whole numbers from 1, at most {MAX_VALUES} values in all"
    );
    let t = s.trim().replace('_', "");
    let (r, c) = t
        .split_once([',', 'x', 'X'])
        .ok_or_else(|| setting_err("shape", s, &expected))?;
    let (r, c) = match (r.trim().parse::<u64>(), c.trim().parse::<u64>()) {
        (Ok(r), Ok(c)) if r >= 1 && c >= 1 => (r, c),
        _ => return Err(setting_err("shape", s, &expected)),
    };
    match r.checked_mul(c) {
        Some(n) if n <= MAX_VALUES as u64 => Ok((r as usize, c as usize)),
        Some(n) => Err(Error::TooMany(n)),
        None => Err(Error::TooMany(u64::MAX)),
    }
}

/// Parses a row spread: a finite number, 0 or more.
#[inline(never)]
pub fn parse_row_spread(s: &str) -> Result<f64> {
    let expected = "a finite number from 0 (each row scaled by exp(S z), z standard normal)";
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(setting_err("row_spread", s, expected)),
    }
}

/// Parses outlier channels `K:F`: `K` columns multiplied by the finite factor `F`.
#[inline(never)]
pub fn parse_outlier_channels(s: &str) -> Result<(usize, f64)> {
    let expected = "K:F, K columns multiplied by the finite factor F (like 4:50)";
    let (k, f) = s
        .split_once(':')
        .ok_or_else(|| setting_err("outlier_channels", s, expected))?;
    match (k.trim().parse::<usize>(), f.trim().parse::<f64>()) {
        (Ok(k), Ok(f)) if f.is_finite() => Ok((k, f)),
        _ => Err(setting_err("outlier_channels", s, expected)),
    }
}

impl Matrix {
    /// Checks that the patterns fit the shape: both need 2-D data, the spread is finite and
    /// not negative, and there are no more outlier columns than columns.
    pub fn validate(&self) -> Result<()> {
        if !(self.row_spread.is_finite() && self.row_spread >= 0.0) {
            return Err(setting_err(
                "row_spread",
                &self.row_spread.to_string(),
                "a finite number from 0",
            ));
        }
        let cols = self.shape.map(|(_, c)| c);
        if self.row_spread > 0.0 && cols.is_none() {
            return Err(setting_err(
                "row_spread",
                &full(self.row_spread),
                "2-D data for a spread between rows: give --shape R,C (URL shape=R,C)",
            ));
        }
        if let Some((k, f)) = self.outlier_channels {
            let given = format!("{k}:{}", full(f));
            match cols {
                None if k > 0 => {
                    return Err(setting_err(
                        "outlier_channels",
                        &given,
                        "2-D data for outlier columns: give --shape R,C (URL shape=R,C)",
                    ))
                }
                Some(c) if k > c => {
                    return Err(setting_err(
                        "outlier_channels",
                        &given,
                        &format!("at most as many outlier columns as columns ({c})"),
                    ))
                }
                _ => {}
            }
            if !f.is_finite() {
                return Err(setting_err("outlier_channels", &given, "a finite factor F"));
            }
        }
        Ok(())
    }
}

/// Checks a granularity and rotation for `n` values of shape `shape` (`None`: 1-D) in
/// `format` (`None`: int): see [`Settings::check_granularity`].
pub fn check_granularity(
    n: usize,
    shape: Option<(usize, usize)>,
    format: Option<Format>,
    granularity: Granularity,
    rotate: Rotation,
) -> Result<()> {
    if let (Some(f), Granularity::Channel | Granularity::Group(_)) = (format, granularity) {
        return Err(setting_err(
            "granularity",
            &granularity.to_string(),
            &format!(
                "tensor with {f}, which fixes its own blocks: granularity goes with the int format"
            ),
        ));
    }
    crate::quant::granularity::Units::new(n, shape, granularity)?;
    rotate.block(shape.map_or(n, |(_, c)| c))?;
    Ok(())
}

/// Parses a block size: a whole number (which sizes a format takes, it checks itself).
pub fn parse_block(s: &str) -> Result<usize> {
    s.trim().parse::<usize>().map_err(|_| Error::Setting {
        name: "block",
        given: s.into(),
        expected: "a whole number of values, a power of two from 32 to 4096 (nf4)".into(),
    })
}

/// Parses a seed: a whole number from 0 to 2^64 - 1.
#[inline(never)]
pub fn parse_seed(s: &str) -> Result<u64> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| setting_err("seed", s, "a whole number from 0 to 18446744073709551615"))
}

/// Parses a bit width: a whole number 2..=16.
#[inline(never)]
pub fn parse_bits(s: &str) -> Result<u32> {
    match s.trim().parse::<i64>() {
        Ok(b) => check_bits(b),
        Err(_) => Err(setting_err("bits", s, "a whole number from 2 to 16")),
    }
}

/// Parses a count of outliers (at most n, checked later).
#[inline(never)]
pub fn parse_outliers(s: &str) -> Result<usize> {
    s.trim()
        .parse::<usize>()
        .map_err(|_| setting_err("outliers", s, "a whole number of outliers, 0 or more"))
}

#[inline(never)]
fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' | b',' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Settings {
    /// Reads settings from a URL query string (`dist=normal:0,1&n=10000&bits=4...`); a
    /// leading `?` is allowed, unknown keys are ignored, missing keys keep their defaults.
    pub fn from_query(query: &str) -> Result<Settings> {
        let mut s = Settings::default();
        let mut outlier_value_set = false;
        let mut calibration_set = false;
        let mut n_set = false;
        let mut scheme_set = false;
        let q = query.trim().trim_start_matches('?');
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (decode_component(k), decode_component(v));
            match k.as_str() {
                "dist" => s.data.dist = v.parse()?,
                "n" => {
                    s.data.n = parse_n(&v)?;
                    n_set = true;
                }
                "shape" if v.is_empty() => s.matrix.shape = None,
                "shape" => s.matrix.shape = Some(parse_shape(&v)?),
                "row_spread" => s.matrix.row_spread = parse_row_spread(&v)?,
                "outlier_channels" if v.is_empty() => s.matrix.outlier_channels = None,
                "outlier_channels" => s.matrix.outlier_channels = Some(parse_outlier_channels(&v)?),
                "granularity" => s.granularity = v.parse()?,
                "rotate" => s.rotate = v.parse()?,
                "seed" => s.data.seed = parse_seed(&v)?,
                "outliers" => s.data.outliers = parse_outliers(&v)?,
                "outlier_value" => {
                    s.data.outlier_value =
                        parse_f64("outlier_value", &v, "a finite number, like 20 or -1e3")?;
                    outlier_value_set = true;
                }
                "bits" => s.quant.bits = parse_bits(&v)?,
                "scheme" => {
                    s.quant.scheme = v.parse()?;
                    scheme_set = true;
                }
                "calibration" => {
                    s.quant.calibration = v.parse()?;
                    calibration_set = true;
                }
                "zero_point" => s.quant.zero_point = v.parse()?,
                "format" if v.is_empty() || v.eq_ignore_ascii_case("int") => s.format = None,
                "format" => s.format = Some(v.parse()?),
                "block" if v.is_empty() => s.block = None,
                "block" => s.block = Some(parse_block(&v)?),
                "preset" if v.is_empty() => s.preset = None,
                "preset" => s.preset = Some(v.parse()?),
                _ => {}
            }
        }
        if s.preset == Some(Preset::NotebookPercentile) {
            if !calibration_set {
                s.quant.calibration = Calibration::Percentile(DEFAULT_PERCENTILE);
            }
            if !outlier_value_set {
                s.data.outlier_value = 1000.0;
            }
        }
        // A preset brings its own values: the query's count, 2-D layout (and for the notebook's
        // 20 values, outliers) give way to them, so that the canonical query and the controls
        // say what is shown.
        if let Some(p) = s.preset {
            s.data.n = p.count();
            s.matrix = Matrix::default();
            if p == Preset::NotebookMinmax {
                s.data.outliers = 0;
            }
        }
        if let Some((r, c)) = s.matrix.shape {
            if n_set && s.data.n != r * c {
                return Err(setting_err(
                    "shape",
                    &format!("{r},{c}"),
                    &format!(
                        "rows x columns equal to n ({}), or no n: the shape gives the count",
                        s.data.n
                    ),
                ));
            }
            s.data.n = r * c;
        }
        if s.quant.calibration == Calibration::Kl && !scheme_set {
            // kl has one scheme: asking for it alone asks for that scheme.
            s.quant.scheme = Scheme::Symmetric;
        }
        if s.preset.is_none() {
            s.data.validate()?;
            s.matrix.validate()?;
        }
        s.quant.validate()?;
        s.check_format()?;
        // The granularity's and rotation's fit to the data is checked where the data is known
        // (a loaded file brings its own shape): `check_granularity`, `Analysis::granular`.
        Ok(s)
    }

    /// Checks the granularity and rotation against the data's shape and the format: channel
    /// needs 2-D data, a group fits within a row, granularity goes with the int format, and
    /// the rotation's block is a power of two dividing the row.
    pub fn check_granularity(&self) -> Result<()> {
        let shape = match self.preset {
            None => self.matrix.shape,
            Some(_) => None,
        };
        let n = self.preset.map_or(self.data.n, Preset::count);
        check_granularity(n, shape, self.format, self.granularity, self.rotate)
    }

    /// Checks that the block fits the format: NF4 takes a power of two from 32 to 4096, the
    /// other formats a block of their own, and the integer schemes none.
    pub fn check_format(&self) -> Result<()> {
        match (self.format, self.block) {
            (Some(f), b) => f.block(b).map(|_| ()),
            (None, None) => Ok(()),
            (None, Some(b)) => Err(Error::Setting {
                name: "block",
                given: b.to_string(),
                expected: "no block with the int format: a block goes with nf4 (the other formats fix theirs)".into(),
            }),
        }
    }

    /// Writes the full state as a query string (without the leading `?`), the inverse of
    /// [`Settings::from_query`].
    pub fn to_query(&self) -> String {
        let mut parts = vec![
            ("dist", self.data.dist.to_string()),
            ("n", self.data.n.to_string()),
            ("seed", self.data.seed.to_string()),
            ("outliers", self.data.outliers.to_string()),
            ("outlier_value", full(self.data.outlier_value)),
            ("bits", self.quant.bits.to_string()),
            ("scheme", self.quant.scheme.to_string()),
            ("calibration", self.quant.calibration.to_string()),
            ("zero_point", self.quant.zero_point.to_string()),
        ];
        if let Some(p) = self.preset {
            parts.push(("preset", p.to_string()));
        }
        if let Some(f) = self.format {
            parts.push(("format", f.to_string()));
        }
        if let Some(b) = self.block {
            parts.push(("block", b.to_string()));
        }
        if let Some((r, c)) = self.matrix.shape {
            parts.push(("shape", format!("{r},{c}")));
        }
        if self.matrix.row_spread != 0.0 {
            parts.push(("row_spread", full(self.matrix.row_spread)));
        }
        if let Some((k, f)) = self.matrix.outlier_channels {
            parts.push(("outlier_channels", format!("{k}:{}", full(f))));
        }
        if self.granularity != Granularity::Tensor {
            parts.push(("granularity", self.granularity.to_string()));
        }
        if self.rotate != Rotation::None {
            parts.push(("rotate", self.rotate.to_string()));
        }
        parts
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_component(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_may_be_written_as_a_whole_float() {
        assert_eq!(parse_n("1e6").unwrap(), 1_000_000);
        assert_eq!(parse_n("1_000").unwrap(), 1000);
        assert_eq!(parse_n("2e7"), Err(Error::TooMany(20_000_000)));
        assert!(matches!(parse_n("1.5"), Err(Error::Setting { .. })));
        assert!(matches!(parse_n("0"), Err(Error::Setting { .. })));
        assert!(matches!(parse_n("-1e3"), Err(Error::Setting { .. })));
    }

    #[test]
    fn query_round_trips() {
        let s = Settings::from_query(
            "?dist=laplace:1,2&n=500&seed=7&outliers=3&outlier_value=-40&bits=5&scheme=symmetric&calibration=percentile:99.9&zero_point=include-zero",
        )
        .unwrap();
        assert_eq!(
            s.data.dist,
            Distribution::Laplace {
                loc: 1.0,
                scale: 2.0
            }
        );
        assert_eq!(s.quant.bits, 5);
        assert_eq!(s.quant.calibration, Calibration::Percentile(99.9));
        let again = Settings::from_query(&s.to_query()).unwrap();
        assert_eq!(s, again);
    }

    #[test]
    fn encoded_query_decodes() {
        let s = Settings::from_query("dist=normal%3A0%2C2&calibration=percentile%3A99").unwrap();
        assert_eq!(
            s.data.dist,
            Distribution::Normal {
                mean: 0.0,
                std: 2.0
            }
        );
        assert_eq!(s.quant.calibration, Calibration::Percentile(99.0));
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        let msg = |q: &str| Settings::from_query(q).unwrap_err().to_string();
        assert!(msg("bits=1").contains("from 2 to 16"));
        assert!(msg("bits=17").contains("got 17"));
        assert!(msg("n=0").contains("from 1 to 10000000"));
        assert!(msg("n=-5").contains("invalid n '-5'"));
        assert!(msg("n=20000000").contains("20000000 values is more"));
        assert!(msg("seed=abc").contains("invalid seed 'abc'"));
        assert!(msg("calibration=percentile:40").contains("above 50"));
        assert!(msg("calibration=percentile:100.5").contains("at most 100"));
        assert!(msg("dist=normal:0,-1").contains("STD > 0"));
        assert!(msg("dist=cauchy").contains("invalid dist"));
        assert!(msg("outliers=20&n=10").contains("at most as many outliers"));
    }

    #[test]
    fn two_d_settings_round_trip_and_bad_ones_say_why() {
        let s = Settings::from_query(
            "shape=64,128&row_spread=0.5&outlier_channels=3:40&granularity=group:32&rotate=hadamard:64&bits=4",
        )
        .unwrap();
        assert_eq!(s.data.n, 64 * 128);
        assert_eq!(s.matrix.shape, Some((64, 128)));
        assert_eq!(s.granularity, Granularity::Group(32));
        assert_eq!(s.rotate, Rotation::Hadamard(Some(64)));
        assert_eq!(Settings::from_query(&s.to_query()).unwrap(), s);
        let msg = |q: &str| {
            Settings::from_query(q)
                .and_then(|s| s.check_granularity())
                .unwrap_err()
                .to_string()
        };
        assert!(msg("granularity=channel").contains("2-D data"));
        assert!(msg("granularity=group:1").contains("group:G"));
        assert!(msg("shape=4,8&granularity=group:9").contains("from 2 to the row length (8"));
        assert!(msg("shape=4,8&n=33").contains("equal to n"));
        assert!(msg("shape=5000,5000").contains("25000000 values is more"));
        assert!(msg("shape=4,8&row_spread=-1").contains("from 0"));
        assert!(msg("shape=4,8&row_spread=inf").contains("from 0"));
        assert!(msg("shape=4,8&row_spread=nan").contains("from 0"));
        assert!(msg("row_spread=1").contains("2-D data"));
        assert!(msg("shape=4,8&outlier_channels=9:10")
            .contains("at most as many outlier columns as columns (8)"));
        assert!(msg("shape=4,12&rotate=hadamard:8").contains("divides the row length 12: 2 to 4"));
        assert!(msg("shape=4,9&rotate=hadamard").contains("odd"));
        assert!(msg("rotate=hadamard:6").contains("power of two"));
        assert!(msg("format=nf4&granularity=group:64").contains("int format"));
    }

    #[test]
    fn notebook_percentile_preset_defaults() {
        let s = Settings::from_query("preset=notebook-percentile").unwrap();
        assert_eq!(s.quant.calibration, Calibration::Percentile(99.99));
        assert_eq!(s.data.outlier_value, 1000.0);
    }

    /// A preset's own values: the query's count, layout and (for the notebook's 20 values)
    /// outliers give way, in the settings and in the canonical query.
    #[test]
    fn a_preset_brings_its_own_count() {
        let s = Settings::from_query("preset=notebook-minmax&n=5&shape=4,5&outliers=3").unwrap();
        assert_eq!((s.data.n, s.data.outliers), (20, 0));
        assert_eq!(s.matrix, Matrix::default());
        assert!(s.to_query().contains("n=20&") && !s.to_query().contains("shape"));
        let s = Settings::from_query("preset=notebook-percentile&n=7&seed=3").unwrap();
        assert_eq!((s.data.n, s.data.seed), (10_000, 3));
    }

    #[test]
    fn code_ranges() {
        assert_eq!(code_range(Scheme::Asymmetric, 8), (0, 255));
        assert_eq!(code_range(Scheme::Symmetric, 8), (-128, 127));
        assert_eq!(code_range(Scheme::Symmetric, 16), (-32768, 32767));
        assert_eq!(code_range(Scheme::Asymmetric, 2), (0, 3));
    }
}
