//! Granularity: how many values share one scale and zero point.
//!
//! - `tensor`: one unit, all the values (what [`crate::analysis::Analysis::run`] does).
//! - `channel`: one unit per row of a 2-D `[rows, cols]` tensor (PyTorch's per-channel
//!   observers with `ch_axis=0`).
//! - `group:G`: `G` consecutive values within a row (AWQ's `w.reshape(-1, G)`); a row's last
//!   group is shorter where `G` does not divide the row. 1-D data is one row.
//!
//! Each unit is calibrated and quantized by the per-tensor code run on that unit alone
//! ([`calibrate::calibrate`], [`QuantParams::quantize_into`]), so every calibration the
//! per-tensor path knows works per unit with nothing added here. Units lie in memory in order
//! (row by row, group by group), so a run of units is one contiguous slice: natively the units
//! are split over threads in contiguous runs, each thread writing its own parts of the outputs,
//! with no allocation per unit for min-max (percentile and mse allocate inside the per-tensor
//! calibration, as they do per tensor).

use crate::error::{Error, Result};
use crate::quant::calibrate::stats::min_max_part;
use crate::quant::calibrate::{self, DataStats};
use crate::quant::kernels::{error_pass_here, Kernel};
use crate::quant::pairwise::pairwise_sum_map;
use crate::quant::params::{ErrorStats, QuantParams};
use crate::settings::{Calibration, QuantSettings, Scheme};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::sync::Mutex;

/// How many values share one scale and zero point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Granularity {
    /// One scale for the whole tensor.
    #[default]
    Tensor,
    /// One scale per row (output channel) of 2-D data.
    Channel,
    /// One scale per `G` consecutive values within a row (`G >= 2`).
    Group(usize),
}

const GRANULARITY_EXPECTED: &str =
    "tensor, channel or group:G (G a whole number of values from 2 to the row length)";

impl FromStr for Granularity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let err = || Error::Setting {
            name: "granularity",
            given: s.to_string(),
            expected: GRANULARITY_EXPECTED.to_string(),
        };
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "tensor" | "per-tensor" => Ok(Granularity::Tensor),
            "channel" | "per-channel" | "row" => Ok(Granularity::Channel),
            _ => match t.strip_prefix("group:") {
                Some(g) => match g.trim().parse::<usize>() {
                    Ok(g) if g >= 2 => Ok(Granularity::Group(g)),
                    _ => Err(err()),
                },
                None => Err(err()),
            },
        }
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Granularity::Tensor => f.write_str("tensor"),
            Granularity::Channel => f.write_str("channel"),
            Granularity::Group(g) => write!(f, "group:{g}"),
        }
    }
}

/// Where the units lie: `rows` rows of `cols` values, `per_row` units per row of `size` values
/// each (the last of a row `cols - (per_row - 1) * size`). `tensor` is one row of all values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Units {
    /// Rows of the layout (1 for `tensor` and for 1-D data).
    pub rows: usize,
    /// Values per row.
    pub cols: usize,
    /// Values per unit (the last unit of a row may have fewer).
    pub size: usize,
    /// Units per row: `ceil(cols / size)`.
    pub per_row: usize,
}

impl Units {
    /// The units of `n` values of shape `shape` (`None`: 1-D) at granularity `g`, or an error
    /// saying what would fit: `channel` needs 2-D data, `group:G` needs `2 <= G <= cols`.
    pub fn new(n: usize, shape: Option<(usize, usize)>, g: Granularity) -> Result<Units> {
        if n == 0 {
            return Err(Error::Setting {
                name: "granularity",
                given: g.to_string(),
                expected: "data with at least one value".into(),
            });
        }
        let (rows, cols) = match shape {
            Some((r, c)) if r.checked_mul(c) == Some(n) => (r, c),
            Some((r, c)) => {
                return Err(Error::Setting {
                    name: "shape",
                    given: format!("{r},{c}"),
                    expected: format!("rows x columns equal to the data's {n} values"),
                })
            }
            None => (1, n),
        };
        match g {
            Granularity::Tensor => Ok(Units {
                rows: 1,
                cols: n,
                size: n,
                per_row: 1,
            }),
            Granularity::Channel if shape.is_none() => Err(Error::Setting {
                name: "granularity",
                given: "channel".into(),
                expected: "2-D data for channel (one scale per row; `row` and `per-channel` name it too): give --shape R,C (URL shape=R,C) or a 2-D .npy; for 1-D data use tensor or group:G".into(),
            }),
            Granularity::Channel => Ok(Units {
                rows,
                cols,
                size: cols,
                per_row: 1,
            }),
            Granularity::Group(size) if size < 2 || size > cols => Err(Error::Setting {
                name: "granularity",
                given: g.to_string(),
                expected: format!(
                    "group:G with G from 2 to the row length ({cols} values): groups lie within a row"
                ),
            }),
            Granularity::Group(size) => Ok(Units {
                rows,
                cols,
                size,
                per_row: cols.div_ceil(size),
            }),
        }
    }

    /// How many units.
    pub fn count(&self) -> usize {
        self.rows * self.per_row
    }

    /// The total number of values.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Whether there are no values (never, for units made by [`Units::new`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The positions of unit `i` in the flattened data (row-major).
    pub fn range(&self, i: usize) -> Range<usize> {
        let (r, g) = (i / self.per_row, i % self.per_row);
        let row = r * self.cols;
        let start = row + g * self.size;
        start..(start + self.size).min(row + self.cols)
    }

    /// The unit holding flattened position `at`.
    pub fn unit_of(&self, at: usize) -> usize {
        let (r, c) = (at / self.cols, at % self.cols);
        r * self.per_row + c / self.size
    }

    /// Bits per weight with one float32 scale (and a `bits`-wide zero point for asymmetric)
    /// per unit: `b + (32 + z) * units / n`, which is `b + (32 + z) / G` where `G` divides the
    /// rows.
    pub fn bits_per_weight(&self, q: &QuantSettings) -> f64 {
        let z = match q.scheme {
            Scheme::Asymmetric => q.bits as f64,
            Scheme::Symmetric => 0.0,
        };
        q.bits as f64 + (32.0 + z) * self.count() as f64 / self.len() as f64
    }
}

/// Every unit quantized on its own: its parameters and its error, and the error of the whole.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitRun {
    /// The layout of the units.
    pub units: Units,
    /// Each unit's scale, zero point and clip range, in unit order.
    pub params: Vec<QuantParams>,
    /// Each unit's error ([`QuantParams::error_stats`] of the unit alone), in unit order.
    pub errors: Vec<ErrorStats>,
    /// The whole tensor's error: counts and maximum over all values, and `sum_sq` the units'
    /// sums added in numpy's pairwise order over the units (so the result does not depend on
    /// how many threads ran).
    pub total: ErrorStats,
}

impl UnitRun {
    /// The scales, in unit order.
    pub fn scales(&self) -> Vec<f64> {
        self.params.iter().map(|p| p.scale).collect()
    }

    /// The zero points, in unit order.
    pub fn zero_points(&self) -> Vec<f64> {
        self.params.iter().map(|p| p.zero_point).collect()
    }
}

/// One unit: statistics, calibration, then codes (where asked) and the error in one pass.
///
/// Min-max reads only the min and max ([`calibrate::min_max`], one lean pass): the signal
/// power, which it does not use, is left 0 in its stats. The other calibrations get the full
/// [`DataStats`].
fn one_unit(xs: &[f64], q: &QuantSettings, codes: &mut [i32]) -> Result<(QuantParams, ErrorStats)> {
    // Below this, one part: what `calibrate::min_max` and `QuantParams::quantize_into` compute
    // without their dispatch to threads (the same lanes and the same tree, so the same bits).
    let small = xs.len() < crate::par::MIN_PART;
    let stats = match q.calibration {
        Calibration::MinMax => {
            let (min, max) = if small {
                let (min, max, finite) = min_max_part(xs).finish();
                if !finite || xs.is_empty() {
                    crate::error::check_finite(xs)?;
                }
                (min, max)
            } else {
                calibrate::min_max(xs)?
            };
            min_max_stats(xs.len(), min, max)
        }
        _ => DataStats::of(xs)?,
    };
    let p = calibrate::calibrate(xs, &stats, q)?;
    let e = match (small, codes.len() >= xs.len()) {
        (true, true) => error_pass_here::<true>(&Kernel::new(&p), xs, &mut codes[..xs.len()]),
        (true, false) => error_pass_here::<false>(&Kernel::new(&p), xs, &mut []),
        (false, _) => p.quantize_into(xs, codes),
    };
    Ok((p, e))
}

/// The statistics min-max calibration reads: the count, min, max and largest magnitude (the
/// signal power, which it does not use, left 0).
fn min_max_stats(n: usize, min: f64, max: f64) -> DataStats {
    DataStats {
        n,
        min,
        max,
        absmax: min.abs().max(max.abs()),
        mean_sq: 0.0,
    }
}

/// Whether a pass over float32 values, given the choice, is faster than over their float64
/// copies: for min-max units shorter than a thread's part on an x86-64 CPU with AVX2, which
/// have their own pass ([`min_max_part_f32`]). Other float32 units are widened one by one
/// into room of their own first, which costs more than reading float64 saves.
pub fn f32_pass_pays(q: &QuantSettings, units: &Units) -> bool {
    #[cfg(target_arch = "x86_64")]
    return q.calibration == Calibration::MinMax
        && units.size < crate::par::MIN_PART
        && crate::quant::kernels::has_avx2();
    #[allow(unreachable_code)]
    {
        let _ = (q, units);
        false
    }
}

/// The values a unit pass reads: float64 as given, or float32, each widened exactly to
/// float64 as it is read. A unit of float32 values gives what its float64 copy gives, bit for
/// bit; reading half the bytes, a pass over a large tensor is bound by memory less.
pub trait UnitValue: Copy + Send + Sync {
    /// Units `first..first + params.len()`, whose values start at `xs[0]` (and whose codes,
    /// where `codes` is not empty, go to `codes[0..]`): each unit's parameters and error.
    fn run_part(
        xs: &[Self],
        units: &Units,
        first: usize,
        q: &QuantSettings,
        codes: &mut [i32],
        params: &mut [QuantParams],
        errors: &mut [ErrorStats],
    ) -> Result<()>;
}

/// Each unit of `first..first + params.len()` in turn, by `one(values, codes)` (`codes`
/// empty where `codes` is).
fn each_unit<V>(
    xs: &[V],
    units: &Units,
    first: usize,
    codes: &mut [i32],
    params: &mut [QuantParams],
    errors: &mut [ErrorStats],
    mut one: impl FnMut(&[V], &mut [i32]) -> Result<(QuantParams, ErrorStats)>,
) -> Result<()> {
    let base = units.range(first).start;
    let want_codes = !codes.is_empty();
    for (k, (p, e)) in params.iter_mut().zip(errors.iter_mut()).enumerate() {
        let r = units.range(first + k);
        let (a, b) = (r.start - base, r.end - base);
        let c: &mut [i32] = if want_codes {
            &mut codes[a..b]
        } else {
            &mut []
        };
        (*p, *e) = one(&xs[a..b], c)?;
    }
    Ok(())
}

impl UnitValue for f64 {
    fn run_part(
        xs: &[f64],
        units: &Units,
        first: usize,
        q: &QuantSettings,
        codes: &mut [i32],
        params: &mut [QuantParams],
        errors: &mut [ErrorStats],
    ) -> Result<()> {
        each_unit(xs, units, first, codes, params, errors, |x, c| {
            one_unit(x, q, c)
        })
    }
}

impl UnitValue for f32 {
    fn run_part(
        xs: &[f32],
        units: &Units,
        first: usize,
        q: &QuantSettings,
        codes: &mut [i32],
        params: &mut [QuantParams],
        errors: &mut [ErrorStats],
    ) -> Result<()> {
        #[cfg(target_arch = "x86_64")]
        if f32_pass_pays(q, units) {
            return min_max_part_f32(xs, units, first, q, codes, params, errors);
        }
        // Everything else: each unit widened into `scratch` (in the core's cache for a group
        // or a row), then the float64 pass.
        let mut scratch = Vec::new();
        each_unit(xs, units, first, codes, params, errors, |x, c| {
            widened_unit(x, q, c, &mut scratch)
        })
    }
}

/// [`one_unit`] of float32 values, widened into `scratch` first.
fn widened_unit(
    xs: &[f32],
    q: &QuantSettings,
    codes: &mut [i32],
    scratch: &mut Vec<f64>,
) -> Result<(QuantParams, ErrorStats)> {
    scratch.clear();
    scratch.extend(xs.iter().map(|&x| f64::from(x)));
    one_unit(scratch, q, codes)
}

/// [`UnitValue::run_part`] of min-max units of float32 values in AVX-512 or AVX2, each unit's
/// division `x / scale` replaced by a product with its reciprocal where that provably gives the
/// same codes ([`crate::quant::kernels::x86::error_leaf_f32_avx2`]). The units go in batches:
/// the batch's mins and maxes, then its parameters, then its codes and errors, so that the
/// processor overlaps the units' chains of dependent steps (one unit's min, max, scale and
/// zero point take longer one after the other than its codes take). A unit goes to the
/// float64 pass ([`widened_unit`]) where a value is not finite or its parameters cannot be
/// made (errors that pass reports, in the order of the units), where its scale or the scale's
/// reciprocal is not a normal positive float, where `|x / scale|` is too large for the bound
/// (about 2^46 and up), or where a product lands too near a half-integer to tell.
#[cfg(target_arch = "x86_64")]
fn min_max_part_f32(
    xs: &[f32],
    units: &Units,
    first: usize,
    q: &QuantSettings,
    codes: &mut [i32],
    params: &mut [QuantParams],
    errors: &mut [ErrorStats],
) -> Result<()> {
    // SAFETY: the caller checked AVX2, and AVX-512F is checked here.
    unsafe {
        if std::arch::is_x86_feature_detected!("avx512f") {
            min_max_part_f32_avx512(xs, units, first, q, codes, params, errors)
        } else {
            min_max_part_f32_avx2(xs, units, first, q, codes, params, errors)
        }
    }
}

/// [`min_max_part_f32`] compiled for AVX-512F, its leaves eight values a vector.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn min_max_part_f32_avx512(
    xs: &[f32],
    units: &Units,
    first: usize,
    q: &QuantSettings,
    codes: &mut [i32],
    params: &mut [QuantParams],
    errors: &mut [ErrorStats],
) -> Result<()> {
    min_max_part_f32_body::<true>(xs, units, first, q, codes, params, errors)
}

/// [`min_max_part_f32`] compiled for AVX2.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn min_max_part_f32_avx2(
    xs: &[f32],
    units: &Units,
    first: usize,
    q: &QuantSettings,
    codes: &mut [i32],
    params: &mut [QuantParams],
    errors: &mut [ErrorStats],
) -> Result<()> {
    min_max_part_f32_body::<false>(xs, units, first, q, codes, params, errors)
}

/// Units per batch of the float32 pass.
#[cfg(target_arch = "x86_64")]
const BATCH: usize = 8;
/// 32u (u = 2^-53): the float32 pass's slack per unit of `|x / scale| + |zero_point| + 1`,
/// five times the 6u the product can be off by.
#[cfg(target_arch = "x86_64")]
const SLACK: f64 = 1.0 / (1u64 << 48) as f64;

/// The body of [`min_max_part_f32`], inlined into each instruction set's copy (`WIDE`:
/// AVX-512F, whose caller checked it; else AVX2).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn min_max_part_f32_body<const WIDE: bool>(
    xs: &[f32],
    units: &Units,
    first: usize,
    q: &QuantSettings,
    codes: &mut [i32],
    params: &mut [QuantParams],
    errors: &mut [ErrorStats],
) -> Result<()> {
    use crate::quant::kernels::{pairwise_tree_coded, x86, ErrorLanes};
    let base = units.range(first).start;
    let store = !codes.is_empty();
    let mut scratch = Vec::new();
    let count = params.len();
    let mut k0 = 0;
    while k0 < count {
        let k1 = (k0 + BATCH).min(count);
        let mut spans: [Range<usize>; BATCH] = std::array::from_fn(|_| 0..0);
        let mut found = [(0.0, 0.0, false); BATCH];
        for (k, (span, f)) in (k0..k1).zip(spans.iter_mut().zip(&mut found)) {
            let r = units.range(first + k);
            *span = r.start - base..r.end - base;
            // SAFETY: the caller checked that the CPU has AVX2.
            *f = unsafe { x86::min_max_f32_avx2(&xs[span.clone()]) };
        }
        // Each unit's parameters and what its leaves take, or `None` where its codes go the
        // float64 way. A whole batch of asymmetric units under the notebook's zero point has
        // them found eight at a time (the lanes found go no further here).
        let mut preps: [Option<Prep>; BATCH] = [None; BATCH];
        let mut done = 0u8;
        if WIDE && k1 - k0 == BATCH && (q.scheme, q.zero_point) == RAW {
            // SAFETY: the CPU has AVX-512F where `WIDE` (checked by the caller).
            let b = unsafe { x86::asymmetric_raw_batch_avx512(&found, q.code_range(), SLACK) };
            let (qmin, qmax) = q.code_range();
            for (j, (&(min, max, _), prep)) in found.iter().zip(&mut preps).enumerate() {
                if b.found >> j & 1 == 1 {
                    params[k0 + j] = QuantParams {
                        scheme: Scheme::Asymmetric,
                        bits: q.bits,
                        scale: b.scale[j],
                        zero_point: b.zero_point[j],
                        qmin,
                        qmax,
                        range_min: min,
                        range_max: max,
                    };
                    *prep = Some((b.rcp[j], b.limit[j], b.clamp >> j & 1 == 1));
                }
            }
            done = b.found;
        }
        for (j, (span, &(min, max, finite))) in spans.iter().zip(&found).enumerate() {
            if j >= k1 - k0 || done >> j & 1 == 1 {
                continue;
            }
            match calibrate::calibrate_min_max(&min_max_stats(span.len(), min, max), q) {
                Ok(p) if finite => {
                    params[k0 + j] = p;
                    preps[j] = prep(&p, min, max, SLACK);
                }
                // The float64 pass reports the error, after the batch's earlier units.
                _ => preps[j] = None,
            }
        }
        for (k, (span, prep)) in (k0..k1).zip(spans.iter().zip(&preps)) {
            let x = &xs[span.clone()];
            let c: &mut [i32] = if store {
                &mut codes[span.clone()]
            } else {
                &mut []
            };
            let fast = prep.is_some_and(|(rcp, limit, clamp)| {
                let kern = Kernel::new(&params[k]);
                let mut acc = ErrorLanes::default();
                let mut near = false;
                let sum = pairwise_tree_coded(x, c, &mut |b: &[f32], cs| {
                    let args = (&kern, rcp, limit, b, cs, &mut acc, &mut near);
                    // SAFETY: the CPU has AVX-512F where `WIDE` (checked by the caller),
                    // AVX2 otherwise; with `store`, `cs` is as long as `b`.
                    unsafe {
                        match (store, clamp) {
                            (true, true) => leaf_f32::<WIDE, true, true>(args),
                            (true, false) => leaf_f32::<WIDE, true, false>(args),
                            (false, true) => leaf_f32::<WIDE, false, true>(args),
                            (false, false) => leaf_f32::<WIDE, false, false>(args),
                        }
                    }
                });
                errors[k] = acc.stats(x.len(), sum);
                !near
            });
            if !fast {
                (params[k], errors[k]) = widened_unit(x, q, c, &mut scratch)?;
            }
        }
        k0 = k1;
    }
    Ok(())
}

/// The asymmetric scheme under the notebook's zero point, which [`min_max_part_f32`] finds
/// eight units' parameters of at once.
#[cfg(target_arch = "x86_64")]
const RAW: (Scheme, crate::settings::ZeroPoint) =
    (Scheme::Asymmetric, crate::settings::ZeroPoint::Raw);

/// What a unit's float32 leaves take besides its parameters: `1 / scale`, the limit
/// `0.5 - bound` of `|v - round(v)|` (beyond it the product's code may not be the quotient's),
/// and whether a code can be clipped.
#[cfg(target_arch = "x86_64")]
type Prep = (f64, f64, bool);

/// A unit's [`Prep`] under `p` from its min and max, or `None` where its codes go the float64
/// way: a scale or reciprocal that is not normal, or a bound of 0.25 or more. The bound is
/// `slack` per unit of `|x / scale| + |zero_point| + 1`.
#[cfg(target_arch = "x86_64")]
fn prep(p: &QuantParams, min: f64, max: f64, slack: f64) -> Option<Prep> {
    let kern = Kernel::new(p);
    let rcp = 1.0 / kern.scale;
    let absmax = min.abs().max(max.abs());
    let bound = slack * (absmax * rcp + kern.zero_point.abs() + 1.0);
    // `bound < 0.25` is false for NaN too.
    if !(kern.scale > 0.0 && kern.scale.is_normal() && rcp.is_normal() && bound < 0.25) {
        return None;
    }
    // The codes rise with the values: where the min's and the max's are in range, every
    // code is.
    let clamp = kern.code(min).1 || kern.code(max).1;
    Some((rcp, 0.5 - bound, clamp))
}

/// The arguments of a float32 leaf: the kernel, `1 / scale`, the limit, the values, their
/// codes, the lanes and the near-tie flag.
#[cfg(target_arch = "x86_64")]
type LeafArgs<'a> = (
    &'a Kernel,
    f64,
    f64,
    &'a [f32],
    &'a mut [i32],
    &'a mut crate::quant::kernels::ErrorLanes,
    &'a mut bool,
);

/// One float32 leaf in AVX-512 (`WIDE`) or AVX2.
///
/// # Safety
/// The CPU must have AVX-512F where `WIDE`, AVX2 otherwise.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn leaf_f32<const WIDE: bool, const STORE: bool, const CLAMP: bool>(
    (k, rcp, limit, b, cs, acc, near): LeafArgs,
) -> f64 {
    use crate::quant::kernels::x86;
    if WIDE {
        x86::error_leaf_f32_avx512::<STORE, CLAMP>(k, rcp, limit, b, cs, acc, near)
    } else {
        x86::error_leaf_f32_avx2::<STORE, CLAMP>(k, rcp, limit, b, cs, acc, near)
    }
}

/// Quantizes every unit of `xs` on its own under `q`: the parameters a per-tensor run on that
/// unit alone would choose, its codes into `codes` (where `codes` is as long as `xs`; pass an
/// empty slice for the error only) and its error.
pub fn quantize_units<V: UnitValue>(
    xs: &[V],
    units: &Units,
    q: &QuantSettings,
    codes: &mut [i32],
) -> Result<UnitRun> {
    q.validate()?;
    if units.len() != xs.len() {
        return Err(Error::Setting {
            name: "shape",
            given: format!("{},{}", units.rows, units.cols),
            expected: format!("rows x columns equal to the data's {} values", xs.len()),
        });
    }
    let codes: &mut [i32] = if codes.len() >= xs.len() {
        &mut codes[..xs.len()]
    } else {
        &mut []
    };
    let count = units.count();
    let blank = ErrorStats {
        n: 0,
        sum_sq: 0.0,
        max_abs: 0.0,
        clipped: 0,
    };
    // The outputs in huge pages where large (a 4096 x 4096 tensor in groups of 128 has
    // 131,072 units: 11 MB of parameters and errors, 2,800 page faults in 4 KiB pages).
    let mut params = crate::par::with_capacity(count);
    params.resize(
        count,
        QuantParams {
            scheme: q.scheme,
            bits: q.bits,
            scale: 1.0,
            zero_point: 0.0,
            qmin: 0,
            qmax: 0,
            range_min: 0.0,
            range_max: 0.0,
        },
    );
    let mut errors = crate::par::with_capacity(count);
    errors.resize(count, blank);
    // A thread for every 64K values at least: below that a thread costs more than it saves.
    let threads = crate::par::threads().min(xs.len() / (1 << 16) + 1);
    run_parts(
        xs,
        units,
        q,
        codes,
        &mut params,
        &mut errors,
        threads.min(count),
    )?;
    let sum_sq = pairwise_sum_map_errors(&errors);
    let total = ErrorStats {
        n: xs.len(),
        sum_sq,
        max_abs: errors.iter().fold(0.0, |m, e| f64::max(m, e.max_abs)),
        clipped: errors.iter().map(|e| e.clipped).sum(),
    };
    Ok(UnitRun {
        units: *units,
        params,
        errors,
        total,
    })
}

/// The units' squared-error sums added in numpy's pairwise order over the units.
fn pairwise_sum_map_errors(errors: &[ErrorStats]) -> f64 {
    let sums: Vec<f64> = errors.iter().map(|e| e.sum_sq).collect();
    pairwise_sum_map(&sums, &mut |s| s)
}

/// The units cut into `threads` contiguous runs, each run on its own thread (natively).
fn run_parts<V: UnitValue>(
    xs: &[V],
    units: &Units,
    q: &QuantSettings,
    codes: &mut [i32],
    params: &mut [QuantParams],
    errors: &mut [ErrorStats],
    threads: usize,
) -> Result<()> {
    let count = params.len();
    if threads <= 1 || cfg!(target_arch = "wasm32") {
        return V::run_part(xs, units, 0, q, codes, params, errors);
    }
    // Cut the units into runs and the values, codes and outputs along them.
    let mut jobs = Vec::with_capacity(threads);
    let (mut xs_rest, mut codes_rest) = (xs, codes);
    let (mut p_rest, mut e_rest) = (params, errors);
    let mut first = 0;
    for t in 0..threads {
        let last = count * (t + 1) / threads;
        let take = last - first;
        let end = if last == count {
            xs.len()
        } else {
            units.range(last).start
        };
        let len = end - units.range(first).start;
        let (x, xr) = xs_rest.split_at(len);
        let (c, cr) = if codes_rest.is_empty() {
            (&mut [][..], &mut [][..])
        } else {
            std::mem::take(&mut codes_rest).split_at_mut(len)
        };
        let (p, pr) = std::mem::take(&mut p_rest).split_at_mut(take);
        let (e, er) = std::mem::take(&mut e_rest).split_at_mut(take);
        jobs.push((first, x, c, p, e));
        (xs_rest, codes_rest, p_rest, e_rest) = (xr, cr, pr, er);
        first = last;
    }
    // Each run waits in its own slot: a thread takes it, or, where no thread could start,
    // this thread does (the spawn drops a closure it could not run).
    type Job<'a, V> = (
        usize,
        &'a [V],
        &'a mut [i32],
        &'a mut [QuantParams],
        &'a mut [ErrorStats],
    );
    type Slot<'a, V> = Mutex<(Option<Job<'a, V>>, Result<()>)>;
    let slots: Vec<Slot<V>> = jobs
        .into_iter()
        .map(|j| Mutex::new((Some(j), Ok(()))))
        .collect();
    let work = |slot: &Slot<V>| {
        let mut g = match slot.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some((first, x, c, p, e)) = g.0.take() {
            g.1 = V::run_part(x, units, first, q, c, p, e);
        }
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = slots[1..]
            .iter()
            .filter_map(|slot| {
                std::thread::Builder::new()
                    .spawn_scoped(s, move || work(slot))
                    .ok()
            })
            .collect();
        slots.iter().for_each(work);
        for h in handles {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    slots.into_iter().try_for_each(|m| match m.into_inner() {
        Ok(g) => g.1,
        Err(p) => p.into_inner().1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_lie_row_by_row() {
        let u = Units::new(2 * 10, Some((2, 10)), Granularity::Group(4)).unwrap();
        assert_eq!(u.count(), 6);
        let ranges: Vec<_> = (0..6).map(|i| u.range(i)).collect();
        assert_eq!(ranges, vec![0..4, 4..8, 8..10, 10..14, 14..18, 18..20]);
        assert_eq!(u.unit_of(9), 2);
        assert_eq!(u.unit_of(10), 3);
        let c = Units::new(12, Some((3, 4)), Granularity::Channel).unwrap();
        assert_eq!((c.count(), c.range(2)), (3, 8..12));
        let t = Units::new(12, Some((3, 4)), Granularity::Tensor).unwrap();
        assert_eq!((t.count(), t.range(0)), (1, 0..12));
    }

    #[test]
    fn granularity_parses_and_prints() {
        for s in ["tensor", "channel", "group:128"] {
            assert_eq!(s.parse::<Granularity>().unwrap().to_string(), s);
        }
        for bad in [
            "group:1", "group:0", "group:", "group:x", "block", "group:-3",
        ] {
            let e = bad.parse::<Granularity>().unwrap_err().to_string();
            assert!(e.contains("group:G"), "{bad}: {e}");
        }
    }

    /// The one-part min-max and error pass are the dispatched ones, signed zeros included.
    #[test]
    fn small_units_take_the_same_path_bits() {
        let mut xs: Vec<f64> = (0..300).map(|i| ((i * 37) % 23) as f64 - 11.0).collect();
        for (i, x) in xs.iter_mut().enumerate().take(40) {
            *x = if i % 3 == 0 { -0.0 } else { 0.0 };
        }
        for scheme in [Scheme::Asymmetric, Scheme::Symmetric] {
            let q = QuantSettings {
                bits: 3,
                scheme,
                ..QuantSettings::default()
            };
            for size in [2, 7, 8, 9, 40, 128, 150] {
                let units = Units::new(xs.len(), Some((2, 150)), Granularity::Group(size)).unwrap();
                let mut codes = vec![0; xs.len()];
                let run = quantize_units(&xs, &units, &q, &mut codes).unwrap();
                for i in 0..units.count() {
                    let u = &xs[units.range(i)];
                    let stats = DataStats::of(u).unwrap();
                    let p = calibrate::calibrate(u, &stats, &q).unwrap();
                    let mut c = vec![0; u.len()];
                    let e = p.quantize_into(u, &mut c);
                    assert_eq!(
                        format!("{:?}", run.params[i]),
                        format!("{p:?}"),
                        "{size} {i}"
                    );
                    assert_eq!(format!("{:?}", run.errors[i]), format!("{e:?}"));
                    assert_eq!(&codes[units.range(i)], &c[..]);
                }
            }
        }
    }

    #[test]
    fn bits_per_weight_count_the_scales() {
        let q = QuantSettings {
            bits: 4,
            ..QuantSettings::default()
        };
        let u = Units::new(4096 * 4096, Some((4096, 4096)), Granularity::Group(128)).unwrap();
        assert_eq!(u.bits_per_weight(&q), 4.0 + 36.0 / 128.0);
        let s = QuantSettings {
            scheme: Scheme::Symmetric,
            ..q
        };
        assert_eq!(u.bits_per_weight(&s), 4.25);
    }
}

/// Float32 units against their float64 copies, on each x86 pass.
#[cfg(test)]
#[cfg(target_arch = "x86_64")]
mod f32_tests {
    use super::*;
    use crate::settings::ZeroPoint;
    use proptest::prelude::*;

    /// Everything a run gives, as text that tells every bit (`{:?}` of a float prints the
    /// shortest decimal that reads back as it, with its sign), or the error's message.
    fn outcome(r: Result<UnitRun>, codes: &[i32]) -> String {
        match r {
            Ok(run) => format!(
                "{:?} {:?} {:?} {codes:?}",
                run.params, run.errors, run.total
            ),
            Err(e) => format!("error: {e}"),
        }
    }

    /// The float32 pass (AVX-512 where the CPU has it), and the AVX2 pass called directly,
    /// each give what the float64 pass gives on the widened values.
    fn check(xs: &[f32], shape: (usize, usize), g: Granularity, q: &QuantSettings) {
        let wide: Vec<f64> = xs.iter().map(|&x| f64::from(x)).collect();
        let Ok(units) = Units::new(xs.len(), Some(shape), g) else {
            return;
        };
        let mut want_codes = vec![0; xs.len()];
        let want = outcome(
            quantize_units(&wide, &units, q, &mut want_codes),
            &want_codes,
        );
        let mut codes = vec![0; xs.len()];
        let got = outcome(quantize_units(xs, &units, q, &mut codes), &codes);
        assert_eq!(got, want, "the float32 pass");
        let mut none = vec![];
        let got = outcome(quantize_units(xs, &units, q, &mut none), &want_codes);
        assert_eq!(got, want, "the float32 pass without codes");
        if f32_pass_pays(q, &units) {
            let blank = ErrorStats {
                n: 0,
                sum_sq: 0.0,
                max_abs: 0.0,
                clipped: 0,
            };
            let mut params = vec![QuantParams::symmetric(1.0, 8, false).unwrap(); units.count()];
            let mut errors = vec![blank; units.count()];
            let mut codes = vec![0; xs.len()];
            // SAFETY: the CPU has AVX2 (`f32_pass_pays` checked it).
            let r = unsafe {
                min_max_part_f32_avx2(xs, &units, 0, q, &mut codes, &mut params, &mut errors)
            };
            let want_run = quantize_units(&wide, &units, q, &mut []);
            let got = match r {
                Ok(()) => {
                    let sums: Vec<f64> = errors.iter().map(|e| e.sum_sq).collect();
                    if let Ok(w) = &want_run {
                        assert_eq!(
                            pairwise_sum_map(&sums, &mut |s| s).to_bits(),
                            w.total.sum_sq.to_bits()
                        );
                    }
                    format!("{params:?} {errors:?} {codes:?}")
                }
                Err(e) => format!("error: {e}"),
            };
            let want = match want_run {
                Ok(run) => format!("{:?} {:?} {want_codes:?}", run.params, run.errors),
                Err(e) => format!("error: {e}"),
            };
            assert_eq!(got, want, "the AVX2 pass");
        }
    }

    /// Values of every kind a unit can meet: ordinary ones, exact halves (ties under a scale
    /// of a power of two), zeros of both signs, subnormal, tiny and huge magnitudes.
    fn value() -> impl Strategy<Value = f32> {
        prop_oneof![
            6 => -100.0f32..100.0,
            3 => (-32i32..32).prop_map(|k| k as f32 * 0.5),
            1 => Just(0.0f32),
            1 => Just(-0.0f32),
            1 => prop_oneof![Just(1e-40f32), Just(-3e-39), Just(1e-30), Just(-1e30), Just(3e38)],
            1 => prop::num::f32::NORMAL,
            // Far from zero and close together: large zero points.
            1 => (0.0f32..1.0).prop_map(|d| 1e6 + d),
        ]
    }

    fn settings() -> impl Strategy<Value = QuantSettings> {
        (
            prop_oneof![2u32..=9, Just(12u32), Just(16u32)],
            prop_oneof![Just(Scheme::Asymmetric), Just(Scheme::Symmetric)],
            prop_oneof![Just(ZeroPoint::Raw), Just(ZeroPoint::IncludeZero)],
            prop_oneof![
                8 => Just(Calibration::MinMax),
                1 => Just(Calibration::Percentile(99.0)),
            ],
        )
            .prop_map(|(bits, scheme, zero_point, calibration)| QuantSettings {
                bits,
                scheme,
                calibration,
                zero_point,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn float32_units_are_their_float64_copies(
            rows in 1usize..4,
            xs in prop::collection::vec(value(), 1..400),
            group in prop_oneof![Just(2usize), Just(7), Just(8), Just(16), Just(128), Just(200)],
            channel in any::<bool>(),
            q in settings(),
        ) {
            let cols = (xs.len() / rows).max(1);
            let xs = &xs[..rows.min(xs.len()) * cols];
            let rows = xs.len() / cols;
            let g = if channel { Granularity::Channel } else { Granularity::Group(group.min(cols)) };
            check(xs, (rows, cols), g, &q);
        }

        /// Units whose min's quotient is a half-integer, eight and more a row: each zero point
        /// is a tie (rounded to even), and then the min's own code is one too, which sends
        /// the unit to the division. Parameters, codes and errors are the float64 pass's.
        #[test]
        fn zero_points_at_ties(
            units in prop::collection::vec((0i32..40, any::<bool>(), any::<u64>()), 8..40),
            m in prop_oneof![Just(1i32), Just(3), Just(49), Just(75), Just(77), Just(91), Just(103), Just(107)],
            power in -3i32..4,
            bits in 2u32..=8,
        ) {
            let s = m as f32 * 2f32.powi(power);
            let top = ((1u32 << bits) - 1) as f32;
            let mut xs = Vec::new();
            for &(k, negative, mut seed) in &units {
                let min = if negative { -(k as f32 + 0.5) } else { k as f32 + 0.5 } * s;
                let max = min + top * s;
                xs.extend([min, max]);
                for _ in 0..14 {
                    let u = (crate::quant::formats::lcg(&mut seed) >> 40) as f32 / (1u32 << 24) as f32;
                    xs.push(min + u * (max - min));
                }
            }
            let q = QuantSettings { bits, ..QuantSettings::default() };
            let n = xs.len();
            check(&xs, (1, n), Granularity::Group(16), &q);
        }

        /// Units whose quotients land on half-integers, where the product with the
        /// reciprocal may round either way: values `k / 2` times a scale `m * 2^p`,
        /// each group's range `0 ..= (2^b - 1) * m * 2^p` so that the scale is that; some
        /// values not finite. At an exact tie both codes have the same error, so only the
        /// codes tell.
        #[test]
        fn ties_and_bad_values_take_the_division(
            ks in prop::collection::vec(0i32..64, 16..300),
            // 49, 75, ...: scales whose reciprocal's product rounds some ties the other way.
            m in prop_oneof![Just(1i32), Just(3), Just(49), Just(75), Just(77), Just(91), Just(103), Just(107)],
            power in -3i32..4,
            bits in 2u32..=5,
            symmetric in any::<bool>(),
            zero_point in prop_oneof![Just(ZeroPoint::Raw), Just(ZeroPoint::IncludeZero)],
            bad in prop::option::of((0usize..300, prop_oneof![Just(f32::NAN), Just(f32::INFINITY)])),
        ) {
            // The scale is f: asymmetric over 0 ..= (2^b - 1) f, symmetric over
            // -(2^(b-1) - 1) f ..= (2^(b-1) - 1) f.
            let top = if symmetric { (1u32 << (bits - 1)) - 1 } else { (1u32 << bits) - 1 } as f32;
            let f = m as f32 * 2f32.powi(power);
            let low = if symmetric { -top } else { 0.0 };
            let mut xs: Vec<f32> =
                ks.iter().map(|&k| (low + k as f32 * 0.5).min(top) * f).collect();
            for start in (0..xs.len()).step_by(16) {
                xs[start] = low * f;
                if start + 1 < xs.len() {
                    xs[start + 1] = top * f;
                }
            }
            if let Some((at, v)) = bad {
                let n = xs.len();
                xs[at % n] = v;
            }
            let scheme = if symmetric { Scheme::Symmetric } else { Scheme::Asymmetric };
            let q = QuantSettings { bits, scheme, zero_point, ..QuantSettings::default() };
            let n = xs.len();
            check(&xs, (1, n), Granularity::Group(16), &q);
        }
    }

    /// The AVX-512 batch of eight units' parameters, lane by lane, against the scalar steps it
    /// stands for (`calibrate_min_max` then `prep`): every lane it finds has the same scale,
    /// zero point (its sign included), reciprocal, limit and clamp flag, bit for bit, and no
    /// lane the scalar steps refuse is found. The units mix extreme and subnormal values, equal
    /// mins and maxes, random bit patterns, and ranges whose zero point falls on a tie.
    #[test]
    fn the_batch_of_parameters_is_the_scalar_steps() {
        use crate::quant::kernels::x86;
        if !std::arch::is_x86_feature_detected!("avx512f") {
            return;
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let specials = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            0.5,
            -0.5,
            1.5,
            -2.5,
            7.5,
            -127.5,
            1e-45,
            -1e-45,
            1e-38,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            3e38,
            f32::MAX,
            -f32::MAX,
        ];
        let mut found = 0;
        for _ in 0..60_000 {
            let bits = 2 + (next() % 15) as u32;
            let q = QuantSettings {
                bits,
                ..QuantSettings::default()
            };
            let top = ((1u32 << bits) - 1) as f32;
            let mut units = [(0.0f64, 0.0f64, true); BATCH];
            for u in &mut units {
                let pick = |r: u64| match r % 4 {
                    0 => specials[(r >> 8) as usize % specials.len()],
                    1 => f32::from_bits((r >> 16) as u32),
                    2 => ((r >> 20) % 2000) as f32 * 0.5 - 500.0,
                    _ => ((r >> 20) % 64) as f32 * 2f32.powi(((r >> 40) % 60) as i32 - 30),
                };
                let (a, b) = match next() % 4 {
                    0 => {
                        let a = pick(next());
                        (a, a)
                    }
                    1 => {
                        // The zero point's quotient -min / scale on a half-integer.
                        let s = (next() % 200) as f32 * 2f32.powi((next() % 8) as i32 - 3);
                        let lo = ((next() % 80) as f32 - 39.5) * s;
                        (lo, lo + top * s)
                    }
                    _ => (pick(next()), pick(next())),
                };
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                *u = (
                    f64::from(lo),
                    f64::from(hi),
                    lo.is_finite() && hi.is_finite(),
                );
            }
            // SAFETY: the CPU has AVX-512F (checked above).
            let batch = unsafe { x86::asymmetric_raw_batch_avx512(&units, q.code_range(), SLACK) };
            for (j, &(min, max, finite)) in units.iter().enumerate() {
                if batch.found >> j & 1 == 0 {
                    continue;
                }
                found += 1;
                let stats = min_max_stats(16, min, max);
                let p = calibrate::calibrate_min_max(&stats, &q)
                    .ok()
                    .filter(|_| finite);
                let Some((p, (rcp, limit, clamp))) =
                    p.and_then(|p| Some((p, prep(&p, min, max, SLACK)?)))
                else {
                    panic!(
                        "{bits} bits, ({min:?}, {max:?}): found, but the scalar steps refuse it"
                    );
                };
                let got = (
                    batch.scale[j],
                    batch.zero_point[j],
                    batch.rcp[j],
                    batch.limit[j],
                );
                assert_eq!(
                    format!("{got:?} {}", batch.clamp >> j & 1 == 1),
                    format!("{:?} {clamp}", (p.scale, p.zero_point, rcp, limit)),
                    "{bits} bits, ({min:?}, {max:?})"
                );
            }
        }
        // Most lanes are found: the comparison is not vacuous.
        assert!(found > 200_000, "{found} lanes found");
    }

    /// Rows longer than a leaf, and tensors large enough to be split over threads (a part may
    /// start at a row's shorter last group).
    #[test]
    fn long_rows_and_parts_on_threads() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 7.0
        };
        let xs: Vec<f32> = (0..40 * 4001).map(|_| next()).collect();
        for g in [
            Granularity::Channel,
            Granularity::Group(128),
            Granularity::Group(1000),
            Granularity::Tensor,
        ] {
            for bits in [3, 8, 16] {
                let q = QuantSettings {
                    bits,
                    ..QuantSettings::default()
                };
                check(&xs, (40, 4001), g, &q);
            }
        }
    }
}
