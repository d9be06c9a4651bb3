//! In-process benchmark of the notebook's workload (`quantviz bench`).
//!
//! The workload is the notebook's percentile example at scale: `n` float64 values
//! uniform(-50, 150) from a fixed seed, the last set to 1000, quantized to 8 bits. Four figures,
//! each the minimum (and the median) of `runs` runs in milliseconds; generating the data is not
//! timed:
//!
//! - `asym`: asymmetric min-max: the data's min and max ([`calibrate::min_max`]), the
//!   parameters, then every value's code into a buffer with its dequantized value streamed into
//!   the error ([`QuantParams::quantize_into`]).
//! - `sym`: symmetric min-max (absmax), the same.
//! - `pct`: asymmetric percentile 99.99: the two percentiles, the parameters, then the same.
//! - `all3+mse`: the stats and percentiles in one read, then the three calibrations' MSEs over
//!   every value in another ([`QuantParams::sum_sq_many`]).
//!
//! `scripts/numpy_baseline.py` does the same with the notebook's numpy code.
//!
//! Timing needs a clock: [`run`] uses `std::time::Instant` natively; [`run_with_clock`] takes
//! any millisecond clock (on wasm32, where `Instant` is not available, `performance.now()`).

use crate::data::generate;
use crate::error::{Error, Result, MAX_VALUES};
use crate::quant::calibrate;
use crate::quant::params::QuantParams;
use crate::settings::{Calibration, Distribution, QuantSettings, Scheme, DEFAULT_PERCENTILE};
use std::fmt;
use std::hint::black_box;

/// Runs per figure when none is given.
pub const DEFAULT_RUNS: usize = 5;
/// Values when none is given.
pub const DEFAULT_N: usize = 1_000_000;
/// Seed of the benchmark data (xoshiro256++; the same values natively and in wasm).
pub const SEED: u64 = 42;
/// The bit width of the workload.
pub const BITS: u32 = 8;
/// The outlier the notebook puts in the last place.
pub const OUTLIER: f64 = 1000.0;
/// The figures' names, in the order they are reported.
pub const FIGURES: [&str; 4] = ["asym", "sym", "pct", "all3+mse"];

/// One time per figure, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figures {
    /// Asymmetric min-max: calibrate, codes and dequantized values.
    pub asym: f64,
    /// Symmetric min-max: calibrate, codes and dequantized values.
    pub sym: f64,
    /// Asymmetric percentile 99.99: the percentiles, codes and dequantized values.
    pub pct: f64,
    /// All three calibrations with each one's MSE.
    pub all3_mse: f64,
}

impl Figures {
    /// The figures as `(name, ms)` pairs in [`FIGURES`] order.
    pub fn entries(&self) -> [(&'static str, f64); 4] {
        [
            (FIGURES[0], self.asym),
            (FIGURES[1], self.sym),
            (FIGURES[2], self.pct),
            (FIGURES[3], self.all3_mse),
        ]
    }

    fn json(&self) -> String {
        let parts: Vec<String> = self
            .entries()
            .iter()
            .map(|(name, ms)| format!("\"{name}\": {}", json_number(*ms)))
            .collect();
        format!("{{{}}}", parts.join(", "))
    }
}

/// What a benchmark measured: the size, the number of runs, the minimum and median times.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    /// Number of values.
    pub n: usize,
    /// Runs per figure.
    pub runs: usize,
    /// Each figure's fastest run, in milliseconds.
    pub ms_min: Figures,
    /// Each figure's median run, in milliseconds.
    pub ms_median: Figures,
    /// The MSE of each calibration as `all3+mse` computed it (asym, sym, pct): a check that the
    /// work was done, and comparable with numpy's on the same data.
    pub mse: [f64; 3],
}

impl BenchResult {
    /// `{"n": N, "ms_min": {"asym": .., "sym": .., "pct": .., "all3+mse": ..}, "ms_median": {..}}`.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"n\": {}, \"ms_min\": {}, \"ms_median\": {}}}",
            self.n,
            self.ms_min.json(),
            self.ms_median.json()
        )
    }
}

impl fmt::Display for BenchResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "quantviz bench: {} values uniform(-50, 150), last = {OUTLIER}, {BITS} bits, {} runs",
            group_thousands(self.n),
            self.runs
        )?;
        writeln!(f, "{:<10} {:>12} {:>12}", "figure", "min ms", "median ms")?;
        for ((name, min), (_, median)) in self.ms_min.entries().iter().zip(self.ms_median.entries())
        {
            writeln!(f, "{name:<10} {min:>12.3} {median:>12.3}")?;
        }
        writeln!(
            f,
            "MSE: asym {:.6}, sym {:.6}, pct {:.6}",
            self.mse[0], self.mse[1], self.mse[2]
        )
    }
}

/// A finite number as JSON (times are finite; anything else becomes `null`).
fn json_number(x: f64) -> String {
    if x.is_finite() {
        format!("{:.4}", x)
    } else {
        "null".to_string()
    }
}

fn group_thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The benchmark data: `n` values uniform(-50, 150) from [`SEED`], the last set to [`OUTLIER`].
pub fn workload(n: usize) -> Vec<f64> {
    let mut xs = generate::sample(
        Distribution::Uniform {
            lo: -50.0,
            hi: 150.0,
        },
        n,
        SEED,
    );
    if let Some(last) = xs.last_mut() {
        *last = OUTLIER;
    }
    xs
}

fn settings(scheme: Scheme, calibration: Calibration) -> QuantSettings {
    QuantSettings {
        bits: BITS,
        scheme,
        calibration,
        ..QuantSettings::default()
    }
}

/// `asym` / `sym`: min and max ([`calibrate::min_max`], the two reductions numpy's code does,
/// without the signal power the page's stats add), min-max parameters as
/// [`calibrate::calibrate`] makes them, then every value's code (into `codes`) with the
/// dequantized value streamed into the error.
fn minmax_codes(xs: &[f64], codes: &mut [i32], scheme: Scheme) -> Result<f64> {
    let p = minmax_params(xs, scheme)?;
    Ok(p.quantize_into(xs, codes).mse())
}

/// Min-max parameters from [`calibrate::min_max`]: the same as [`calibrate::calibrate`]'s with
/// `Calibration::MinMax` (a test checks it).
fn minmax_params(xs: &[f64], scheme: Scheme) -> Result<QuantParams> {
    let (min, max) = calibrate::min_max(xs)?;
    match scheme {
        Scheme::Asymmetric => {
            QuantParams::asymmetric(min, max, BITS, QuantSettings::default().zero_point)
        }
        Scheme::Symmetric => QuantParams::symmetric(min.abs().max(max.abs()), BITS, min == max),
    }
}

/// `pct`: the percentile pair, parameters, then codes and the error as in [`minmax_codes`].
fn percentile_codes(xs: &[f64], codes: &mut [i32]) -> Result<f64> {
    let (lo, hi) = calibrate::percentile_pair(xs, DEFAULT_PERCENTILE);
    let s = settings(
        Scheme::Asymmetric,
        Calibration::Percentile(DEFAULT_PERCENTILE),
    );
    let p = QuantParams::asymmetric(lo, hi, s.bits, s.zero_point)?;
    Ok(p.quantize_into(xs, codes).mse())
}

/// `all3+mse`: the stats and the percentiles in one read of the data
/// ([`calibrate::stats_and_percentile_pair`]), then the three calibrations' errors in another
/// ([`QuantParams::sum_sq_many`]: the MSE alone, as the figure asks).
fn all3_mse(xs: &[f64]) -> Result<[f64; 3]> {
    let (stats, (lo, hi)) = calibrate::stats_and_percentile_pair(xs, DEFAULT_PERCENTILE)?;
    let params = [
        calibrate::calibrate(
            xs,
            &stats,
            &settings(Scheme::Asymmetric, Calibration::MinMax),
        )?,
        calibrate::calibrate(
            xs,
            &stats,
            &settings(Scheme::Symmetric, Calibration::MinMax),
        )?,
        QuantParams::asymmetric(lo, hi, BITS, QuantSettings::default().zero_point)?,
    ];
    let sums = QuantParams::sum_sq_many(&params, xs);
    let mut mse = [0.0; 3];
    for (slot, s) in mse.iter_mut().zip(&sums) {
        *slot = s / xs.len() as f64;
    }
    Ok(mse)
}

fn min_median(times: &mut [f64]) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let k = times.len();
    let median = if k % 2 == 1 {
        times[k / 2]
    } else {
        (times[k / 2 - 1] + times[k / 2]) / 2.0
    };
    (times[0], median)
}

/// Times `f` `runs` times with `clock` (milliseconds); its result is kept from the optimizer
/// and dropped outside the timed region.
fn time<T>(
    runs: usize,
    clock: &mut dyn FnMut() -> f64,
    mut f: impl FnMut() -> Result<T>,
) -> Result<(f64, f64, T)> {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t0 = clock();
        let out = black_box(f()?);
        times.push(clock() - t0);
        // Freeing the previous run's buffers happens here, untimed (numpy's `del` does the same).
        last = Some(out);
    }
    let (min, median) = min_median(&mut times);
    let last = last.ok_or_else(|| crate::Error::Setting {
        name: "runs",
        given: "0".into(),
        expected: "a whole number of runs from 1 to 1000".into(),
    })?;
    Ok((min, median, last))
}

/// Runs the benchmark with a millisecond clock of the caller's (`performance.now()` in a browser).
pub fn run_with_clock(
    n: usize,
    runs: usize,
    clock: &mut dyn FnMut() -> f64,
) -> Result<BenchResult> {
    if !(2..=MAX_VALUES).contains(&n) {
        return Err(Error::Setting {
            name: "n",
            given: n.to_string(),
            expected: format!(
                "a number of values from 2 to {MAX_VALUES} for the notebook's workload (with a format or int flags, from 1)"
            ),
        });
    }
    if runs == 0 {
        return Err(Error::Setting {
            name: "runs",
            given: runs.to_string(),
            expected: "at least 1 run".to_string(),
        });
    }
    let xs = workload(n);
    let xs = xs.as_slice();
    // The codes go into one buffer, allocated here, untimed, and kept across runs, as the page
    // keeps its buffers across updates (fresh memory would add the OS's page faults).
    let mut codes = crate::par::zeroed_vec::<i32>(n);
    let (asym_min, asym_med, _) = time(runs, clock, || {
        minmax_codes(xs, &mut codes, Scheme::Asymmetric)
    })?;
    let (sym_min, sym_med, _) = time(runs, clock, || {
        minmax_codes(xs, &mut codes, Scheme::Symmetric)
    })?;
    let (pct_min, pct_med, _) = time(runs, clock, || percentile_codes(xs, &mut codes))?;
    let (all_min, all_med, mse) = time(runs, clock, || all3_mse(xs))?;
    Ok(BenchResult {
        n,
        runs,
        ms_min: Figures {
            asym: asym_min,
            sym: sym_min,
            pct: pct_min,
            all3_mse: all_min,
        },
        ms_median: Figures {
            asym: asym_med,
            sym: sym_med,
            pct: pct_med,
            all3_mse: all_med,
        },
        mse,
    })
}

/// Runs the benchmark natively, timed with `std::time::Instant`.
#[cfg(not(target_arch = "wasm32"))]
pub fn run(n: usize, runs: usize) -> Result<BenchResult> {
    let start = std::time::Instant::now();
    run_with_clock(n, runs, &mut || start.elapsed().as_secs_f64() * 1e3)
}

/// On wasm32 there is no `Instant`: use [`run_with_clock`] with `performance.now()`.
#[cfg(target_arch = "wasm32")]
pub fn run(n: usize, runs: usize) -> Result<BenchResult> {
    let _ = (n, runs);
    Err(Error::Setting {
        name: "bench",
        given: "wasm32".to_string(),
        expected: "a native build (or bench::run_with_clock with performance.now())".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::calibrate::DataStats;

    fn fake_clock() -> impl FnMut() -> f64 {
        let mut t = 0.0;
        move || {
            t += 1.5;
            t
        }
    }

    #[test]
    fn runs_and_reports_every_figure() {
        let r = run_with_clock(5000, 3, &mut fake_clock()).unwrap();
        assert_eq!(r.n, 5000);
        for (_, ms) in r
            .ms_min
            .entries()
            .iter()
            .chain(r.ms_median.entries().iter())
        {
            assert_eq!(*ms, 1.5);
        }
        assert!(
            r.mse.iter().all(|m| m.is_finite() && *m > 0.0),
            "{:?}",
            r.mse
        );
        let json = r.to_json();
        assert!(json.starts_with("{\"n\": 5000, \"ms_min\": {\"asym\": 1.5000"));
        assert!(json.contains("\"all3+mse\": 1.5000}, \"ms_median\": {"));
        assert!(json.ends_with('}'));
        let table = r.to_string();
        assert!(table.contains("5,000 values") && table.contains("all3+mse"));
    }

    #[test]
    fn mse_matches_the_simple_definition() {
        let xs = workload(3001);
        let r = run_with_clock(3001, 1, &mut fake_clock()).unwrap();
        let stats = DataStats::of(&xs).unwrap();
        let p = QuantParams::asymmetric(stats.min, stats.max, 8, crate::settings::ZeroPoint::Raw)
            .unwrap();
        let (_, deq) = p.quantize_dequantize(&xs);
        let sq: Vec<f64> = xs
            .iter()
            .zip(&deq)
            .map(|(x, d)| (x - d) * (x - d))
            .collect();
        let want = crate::quant::pairwise::pairwise_sum(&sq) / xs.len() as f64;
        assert_eq!(r.mse[0].to_bits(), want.to_bits());
    }

    #[test]
    fn minmax_params_are_calibrates() {
        let data = [
            workload(3001),
            workload(4 * crate::par::MIN_PART + 3),
            vec![-2.5; 9],
            vec![0.0; 5],
            vec![1e-300, 3e300, -7.0],
            // Ties of -0.0 and +0.0 (the sign of the min decides the zero point's).
            [vec![-0.0; 8], vec![0.0; 7], vec![1.0]].concat(),
            [vec![0.0; 8], vec![-0.0; 7], vec![-1.0]].concat(),
        ];
        for xs in &data {
            let stats = DataStats::of(xs).unwrap();
            for scheme in [Scheme::Asymmetric, Scheme::Symmetric] {
                let want = calibrate::calibrate(xs, &stats, &settings(scheme, Calibration::MinMax));
                let got = minmax_params(xs, scheme);
                assert_eq!(
                    format!("{got:?}"),
                    format!("{want:?}"),
                    "{scheme:?} n={}",
                    xs.len()
                );
            }
        }
    }

    #[test]
    fn rejects_bad_sizes() {
        assert!(run_with_clock(1, 5, &mut fake_clock()).is_err());
        assert!(run_with_clock(10, 0, &mut fake_clock()).is_err());
        assert_eq!(group_thousands(10_000_000), "10,000,000");
        assert_eq!(min_median(&mut [3.0, 1.0, 2.0, 4.0]), (1.0, 2.5));
    }
}

/// What `quantviz bench` with a format or int flags times: quantize, dequantize and measure the
/// error of `n` seeded normal float32 values (N(0, 1), seed [`SEED`]), in one format.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatBench {
    /// How many values.
    pub n: usize,
    /// `int` or the format's name.
    pub format: String,
    /// The fastest of the runs, in milliseconds.
    pub ms_min: f64,
    /// The MSE of the last run (the same every run).
    pub mse: f64,
}

impl FormatBench {
    /// `{"n": N, "format": F, "ms_min": ...}`.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"n\": {}, \"format\": \"{}\", \"ms_min\": {}, \"mse\": {}}}",
            self.n,
            self.format,
            json_number(self.ms_min),
            self.mse
        )
    }
}

impl fmt::Display for FormatBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "quantviz bench: {} seeded normal float32 values, {}: {:.3} ms (min), MSE {:e}",
            group_thousands(self.n),
            self.format,
            self.ms_min,
            self.mse
        )
    }
}

/// The most values a format benchmark takes (2^28): more than the 10,000,000 the page and files
/// take, so that a format can be timed on the 16,777,216 values a 4096 x 4096 weight holds.
pub const MAX_BENCH_VALUES: usize = 1 << 28;

/// `n` normal float32 values N(0, 1) from [`SEED`], widened to float64 (exactly).
pub fn normal_f32(n: usize) -> Result<Vec<f64>> {
    let dist = crate::settings::Distribution::Normal {
        mean: 0.0,
        std: 1.0,
    };
    Ok(crate::data::generate::sample(dist, n, SEED)
        .into_iter()
        .map(|x| f64::from(x as f32))
        .collect())
}

/// Times quantize + dequantize + error of `n` seeded normal float32 values in `format` (with
/// `block`), or, with `format` `None`, in the integer scheme `int`; the fastest of `runs`.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_format(
    n: usize,
    runs: usize,
    format: Option<crate::quant::formats::Format>,
    block: Option<usize>,
    int: &QuantSettings,
) -> Result<FormatBench> {
    use crate::quant::{calibrate, formats};
    if !(1..=MAX_BENCH_VALUES).contains(&n) {
        return Err(Error::Setting {
            name: "n",
            given: n.to_string(),
            expected: format!("a number of values from 1 to {MAX_BENCH_VALUES}"),
        });
    }
    let values = normal_f32(n)?;
    let start = std::time::Instant::now();
    let mut clock = || start.elapsed().as_secs_f64() * 1e3;
    let (ms_min, _, mse) = match format {
        Some(f) => {
            let block = f.block(block)?;
            // The values are float32 widened, so the error against the float32 ones is the
            // error against the values as given.
            let xs = formats::to_f32(&values);
            // Each value's code is written into a buffer kept across runs (as the int figures
            // keep theirs); its dequantized value goes straight into the error.
            let mut codes = crate::par::zeroed_vec::<u8>(n);
            time(runs, &mut clock, || {
                let ((sum, _, _), _) = crate::analysis::formats::streamed_error_sums(
                    f,
                    block,
                    &xs,
                    None,
                    Some(&mut codes),
                )?;
                Ok(sum / n as f64)
            })?
        }
        None => time(runs, &mut clock, || {
            let stats = calibrate::DataStats::of(&values)?;
            let p = calibrate::calibrate(&values, &stats, int)?;
            Ok(p.error_stats(&values).mse())
        })?,
    };
    Ok(FormatBench {
        n,
        format: format.map_or("int".into(), |f| f.to_string()),
        ms_min,
        mse,
    })
}

/// What [`run_granular`] measured: the shape, the settings, the fastest run and the MSE.
#[derive(Debug, Clone, PartialEq)]
pub struct GranularBench {
    /// Rows and columns.
    pub shape: (usize, usize),
    /// `int`, or the format's name.
    pub format: String,
    /// `int <scheme> <calibration> <bits> bits, granularity G, rotate R`, or the format's name.
    pub what: String,
    /// How many units were quantized (1 for a format).
    pub units: usize,
    /// The fastest run in milliseconds.
    pub ms_min: f64,
    /// The MSE against the original values.
    pub mse: f64,
}

impl GranularBench {
    /// `{"n": N, "format": F, "rows": R, "cols": C, "what": .., "units": .., "ms_min": ..,
    /// "mse": ..}`: the plain format figure's keys first.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"n\": {}, \"format\": \"{}\", \"rows\": {}, \"cols\": {}, \"what\": \"{}\", \"units\": {}, \"ms_min\": {}, \"mse\": {}}}",
            self.shape.0 * self.shape.1,
            self.format,
            self.shape.0,
            self.shape.1,
            self.what,
            self.units,
            json_number(self.ms_min),
            self.mse
        )
    }
}

impl fmt::Display for GranularBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "quantviz bench: {}x{} seeded normal float32 values, {}, {} units: {:.3} ms (min), MSE {:e}",
            self.shape.0,
            self.shape.1,
            self.what,
            group_thousands(self.units),
            self.ms_min,
            self.mse
        )
    }
}

/// Times quantizing `rows x cols` seeded normal float32 values (widened to float64 as a
/// loaded `.npy` is) with a granularity and rotation: for int, every unit's calibration, its
/// codes into a buffer and the error in the same pass ([`crate::quant::granularity`]); for a
/// format, as [`run_format`]. With a rotation, the rotation, the dequantized values rotated
/// back and the error in the original basis are timed too ([`crate::analysis::Analysis::granular`]).
/// Generating the data is not timed.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_granular(
    shape: (usize, usize),
    runs: usize,
    format: Option<(crate::quant::formats::Format, Option<usize>)>,
    int: &QuantSettings,
    granularity: crate::quant::granularity::Granularity,
    rotate: crate::quant::rotate::Rotation,
) -> Result<GranularBench> {
    use crate::analysis::granular::GranularSettings;
    use crate::quant::granularity::{quantize_units, Units};
    use crate::quant::rotate::Rotation;
    let (rows, cols) = shape;
    let n = rows * cols;
    if n == 0 || n > MAX_BENCH_VALUES {
        return Err(Error::Setting {
            name: "shape",
            given: format!("{rows},{cols}"),
            expected: format!("rows x columns from 1 to {MAX_BENCH_VALUES} values"),
        });
    }
    let values = normal_f32(n)?;
    let start = std::time::Instant::now();
    let mut clock = || start.elapsed().as_secs_f64() * 1e3;
    let what = match format {
        Some((f, _)) => format!("{f}, rotate {rotate}"),
        None => format!(
            "int {} {} {} bits, granularity {granularity}, rotate {rotate}",
            int.scheme,
            int.calibration.label(),
            int.bits
        ),
    };
    let shape2 = (rows > 1).then_some(shape);
    let name = format.map_or("int".to_string(), |(f, _)| f.to_string());
    if format.is_none() && rotate == Rotation::None {
        // The plain per-unit pass on the float32 values, as an analysis of float32 data
        // reads them: codes stored, error summed.
        let values: Vec<f32> = values.iter().map(|&x| x as f32).collect();
        let units = Units::new(n, shape2, granularity)?;
        let mut codes = crate::par::zeroed_vec::<i32>(n);
        let (ms_min, _, mse) = time(runs, &mut clock, || {
            Ok(quantize_units(&values, &units, int, &mut codes)?
                .total
                .mse())
        })?;
        return Ok(GranularBench {
            shape,
            format: name,
            what,
            units: units.count(),
            ms_min,
            mse,
        });
    }
    let data = crate::data::generate::Dataset::from_values(values, "bench")?.with_shape(shape2)?;
    let a = crate::analysis::Analysis::new(data)?;
    let s = GranularSettings {
        quant: *int,
        format,
        granularity,
        rotate,
    };
    let units = a.units(granularity).map_or(1, |u| u.count());
    let (ms_min, _, mse) = time(runs, &mut clock, || Ok(a.granular(&s, false)?.metrics.mse))?;
    Ok(GranularBench {
        shape,
        format: name,
        what,
        units: if format.is_some() { 1 } else { units },
        ms_min,
        mse,
    })
}
