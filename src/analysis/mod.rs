//! Analysis: one data set quantized every way the views need, each thing computed once.
//!
//! [`Analysis`] holds the data, its stats and caches of the clip ranges that do not depend on
//! the bit width (percentiles) or are costly (the `mse` search), so that a change of bits or
//! scheme on the page recomputes only what changed.

use crate::analysis::histogram::Histogram;
use crate::analysis::metrics::Metrics;
use crate::data::generate::Dataset;
use crate::error::Result;
use crate::quant::calibrate::{self, DataStats};
use crate::quant::kernels::fused::Known;
use crate::quant::pairwise::pairwise_sum_map;
use crate::quant::params::{MeanSquare, QuantParams};
use crate::settings::{Calibration, QuantSettings, Scheme, ZeroPoint, DEFAULT_PERCENTILE};
use std::cell::{OnceCell, RefCell};
use std::sync::Arc;

pub mod blocks;
pub mod formats;
pub mod front;
pub mod granular;
pub mod histogram;
pub mod kl_view;
pub mod metrics;
pub mod pieces;
pub mod report;
pub mod rotation_view;
pub mod view;

/// One quantization of the data: its settings, parameters and error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    /// What was asked for.
    pub settings: QuantSettings,
    /// The scale, zero point and clip range the calibration chose.
    pub params: QuantParams,
    /// Error over all values.
    pub metrics: Metrics,
    /// Error over the values that are not injected outliers, where there are outliers.
    pub inliers: Option<Metrics>,
}

/// One row of the notebook-style table: a value, its code, its dequantized value, the error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// Position in the data.
    pub index: usize,
    /// The original value x.
    pub original: f64,
    /// Its code q.
    pub code: i32,
    /// Its dequantized value x̂.
    pub dequantized: f64,
    /// `x - x̂`.
    pub error: f64,
}

/// Error against bit width for each scheme and calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// The bit widths, 2..=16.
    pub bits: Vec<u32>,
    /// One series per scheme and calibration.
    pub series: Vec<SweepSeries>,
    /// When the data was strided down for speed: how many values were used.
    pub sample: Option<usize>,
}

/// One line of the sweep: MSE and SQNR at each bit width.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSeries {
    /// Scheme.
    pub scheme: Scheme,
    /// Calibration.
    pub calibration: Calibration,
    /// MSE at each bit width.
    pub mse: Vec<f64>,
    /// SQNR in dB at each bit width.
    pub sqnr_db: Vec<f64>,
}

/// What the charts draw for the current settings, all computed here and not in the views.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The current run.
    pub run: Run,
    /// Histogram of the original values.
    pub values: Histogram,
    /// Histogram of the dequantized values, on the same bins.
    pub dequantized: Histogram,
    /// How many values got each code (index `q - qmin`).
    pub code_counts: Vec<u64>,
    /// Histogram of the error `x - x̂`; `None` in a view from [`Analysis::view_without_errors`]
    /// until [`Analysis::add_errors`].
    pub errors: Option<Histogram>,
    /// The quantize-dequantize function `x -> x̂` over the view's range, as points of a polyline.
    pub mapping: Vec<(f64, f64)>,
}

/// Bins of the value and error histograms.
pub const HISTOGRAM_BINS: usize = 120;

/// The sweep runs on at most this many values (strided), so that it stays fast at 10M.
pub const SWEEP_SAMPLE: usize = 1 << 17;

/// A cached percentile clip range: the percentile's bits, the scheme, the range.
type PercentileEntry = (u64, Scheme, (f64, f64));
/// A cached `mse` clip range: scheme, bits, zero-point policy, the range.
type MseEntry = (Scheme, u32, ZeroPoint, (f64, f64));

/// A data set prepared for quantizing: values, stats, outlier mask and caches.
#[derive(Debug)]
pub struct Analysis {
    /// The data, shared with whoever else holds it (the page's session keeps a loaded file's
    /// data to analyse it again: one copy of a large tensor, not two).
    pub data: std::sync::Arc<Dataset>,
    /// Its min, max, absmax and signal power.
    pub stats: DataStats,
    /// The values that are not injected outliers, in order (where there are outliers): their
    /// error summed over this slice is the masked sum, the same pairwise tree over the same terms.
    inliers: Option<Vec<f64>>,
    /// The positions of the values left out of `inliers` (the outliers), ascending.
    excluded: Vec<usize>,
    /// The signal power `mean(x²)` of all values, scaled where numpy's overflows or underflows.
    power: MeanSquare,
    /// The same of the inliers.
    inlier_power: MeanSquare,
    percentiles: RefCell<Vec<PercentileEntry>>,
    /// The `mse` calibration's ranges: the search's pick or min-max's, whichever has less error.
    mse_ranges: RefCell<Vec<MseEntry>>,
    /// The search's own picks (the sweep measures them on its sample).
    mse_searched: RefCell<Vec<MseEntry>>,
    search: OnceCell<calibrate::SearchData>,
    /// The histogram of `|x|` the `kl` calibration searches (the same at every bit width).
    kl_histogram: OnceCell<calibrate::AbsHistogram>,
    /// The `kl` calibrations made so far, by bit width.
    kl: RefCell<Vec<(u32, Arc<calibrate::KlCalibration>)>>,
    /// The values sorted ascending, made on the first view or comparison that uses them.
    sorted: OnceCell<Vec<f64>>,
    /// The values rounded to float32, what every format quantizes: made on the first format run
    /// and kept for the others (the comparison of every format runs thirteen); and whether
    /// they are the values exactly.
    values_f32: OnceCell<(Vec<f32>, bool, bool)>,
}

/// From this many values to [`SORTED_VIEW_MAX`], the view counts over the sorted values
/// (sorted once) when the levels are few enough for long runs.
pub const SORTED_VIEW_MIN: usize = 4096;
/// Above this many values the view counts in one plain pass (no sorted copy is kept).
pub const SORTED_VIEW_MAX: usize = 4_000_000;

impl Analysis {
    /// Prepares a data set; fails on empty or non-finite data.
    pub fn new(data: Dataset) -> Result<Analysis> {
        Analysis::new_shared(std::sync::Arc::new(data))
    }

    /// [`Analysis::new`] of data held elsewhere too.
    pub fn new_shared(data: std::sync::Arc<Dataset>) -> Result<Analysis> {
        let stats = DataStats::of(&data.values)?;
        let keep = data.inlier_mask();
        let excluded: Vec<usize> = keep.as_ref().map_or_else(Vec::new, |keep| {
            keep.iter()
                .enumerate()
                .filter(|(_, &k)| !k)
                .map(|(i, _)| i)
                .collect()
        });
        let inliers: Option<Vec<f64>> = keep.as_ref().map(|keep| {
            data.values
                .iter()
                .zip(keep)
                .filter(|(_, &k)| k)
                .map(|(&x, _)| x)
                .collect()
        });
        // `np.mean(inliers ** 2)`: the kept values are one contiguous array, summed pairwise.
        let power = MeanSquare::of_values(&data.values, stats.mean_sq);
        let inlier_power = match &inliers {
            Some(v) if v.is_empty() => MeanSquare::plain(0.0),
            Some(v) => {
                MeanSquare::of_values(v, pairwise_sum_map(v, &mut |x| x * x) / v.len() as f64)
            }
            None => power,
        };
        Ok(Analysis {
            data,
            stats,
            inliers,
            excluded,
            power,
            inlier_power,
            percentiles: RefCell::new(Vec::new()),
            mse_ranges: RefCell::new(Vec::new()),
            mse_searched: RefCell::new(Vec::new()),
            search: OnceCell::new(),
            kl_histogram: OnceCell::new(),
            kl: RefCell::new(Vec::new()),
            sorted: OnceCell::new(),
            values_f32: OnceCell::new(),
        })
    }

    /// The signal power `mean(x²)` of all values, in the scaled form every SQNR is taken from.
    pub fn power(&self) -> MeanSquare {
        self.power
    }

    /// The values.
    pub fn values(&self) -> &[f64] {
        &self.data.values
    }

    /// The values rounded to float32 ([`crate::quant::formats::to_f32`]), made on first use,
    /// as every format takes them; an error where a value is beyond float32's range
    /// ([`crate::quant::formats::check_f32_range`]).
    pub fn values_f32(&self) -> Result<&[f32]> {
        let (xs, _, beyond) = self.f32_cell();
        if *beyond {
            crate::quant::formats::check_f32_range(self.values())?;
        }
        Ok(xs)
    }

    /// Whether every value is a float32 ([`Analysis::values_f32`] then holds them exactly, and
    /// an error measured against those is the error against the values as given).
    pub fn values_are_f32(&self) -> bool {
        self.f32_cell().1
    }

    /// The float32 values, whether they are exact, and whether one rounded to infinity (the
    /// values are finite, so an infinite one was beyond float32's range).
    fn f32_cell(&self) -> &(Vec<f32>, bool, bool) {
        self.values_f32.get_or_init(|| {
            let (xs, exact) = crate::quant::formats::to_f32_exact(self.values());
            let beyond = !exact && xs.iter().any(|x| x.is_infinite());
            (xs, exact, beyond)
        })
    }

    /// The float32 values where they are made and are the values exactly.
    pub fn values_f32_if_made_exact(&self) -> Option<&[f32]> {
        self.values_f32
            .get()
            .filter(|(_, exact, _)| *exact)
            .map(|(xs, _, _)| &xs[..])
    }

    /// Whether the float32 values are made ([`Analysis::values_f32`] makes them on first use).
    pub fn has_values_f32(&self) -> bool {
        self.values_f32.get().is_some()
    }

    /// Drops the float32 values (made again on the next use): the page's session does so
    /// before it makes an analysis of new data, so that the two copies are not held at once.
    pub fn forget_values_f32(&mut self) {
        self.values_f32.take();
    }

    /// The values sorted ascending, sorted on first use, where there are from
    /// [`SORTED_VIEW_MIN`] to [`SORTED_VIEW_MAX`] of them (`None` otherwise).
    fn sorted_values(&self) -> Option<&[f64]> {
        let n = self.values().len();
        (SORTED_VIEW_MIN..=SORTED_VIEW_MAX).contains(&n).then(|| {
            self.sorted
                .get_or_init(|| {
                    let mut v = self.values().to_vec();
                    v.sort_unstable_by(f64::total_cmp);
                    v
                })
                .as_slice()
        })
    }

    /// The clip range `[beta, alpha]` for these settings, from the caches where possible.
    pub fn clip_range(&self, q: &QuantSettings) -> Result<(f64, f64)> {
        q.validate()?;
        match q.calibration {
            Calibration::Percentile(p) => {
                let key = p.to_bits();
                if let Some(&(_, _, r)) = self
                    .percentiles
                    .borrow()
                    .iter()
                    .find(|(k, s, _)| *k == key && *s == q.scheme)
                {
                    return Ok(r);
                }
                let r = calibrate::clip_range(self.values(), &self.stats, q)?;
                let mut cache = self.percentiles.borrow_mut();
                if cache.len() > 16 {
                    cache.remove(0);
                }
                cache.push((key, q.scheme, r));
                Ok(r)
            }
            Calibration::Mse => {
                let zp = mse_policy(q);
                if let Some(r) = self.mse_range_cached(q) {
                    return Ok(r);
                }
                // The search's pick on the sample, then min-max instead wherever that has no
                // more error over all the values (what the run reports).
                let searched = self.mse_searched(q.scheme, q.bits, zp)?;
                let r = calibrate::least_error(
                    self.values(),
                    &self.stats,
                    q.scheme,
                    q.bits,
                    zp,
                    searched,
                )?;
                self.mse_ranges.borrow_mut().push((q.scheme, q.bits, zp, r));
                Ok(r)
            }
            Calibration::MinMax => calibrate::clip_range(self.values(), &self.stats, q),
            Calibration::Kl => {
                if q.scheme == Scheme::Asymmetric {
                    return Err(crate::error::Error::KlAsymmetric);
                }
                let a = self.kl(q.bits)?.threshold;
                Ok((-a, a))
            }
        }
    }

    /// The `kl` calibration of all the values at `bits` (signed levels, as the symmetric
    /// scheme's): the threshold, the histogram of `|x|` and every candidate's divergence, for
    /// the page's histogram and divergence charts. The same threshold as
    /// [`calibrate::clip_range`] gives; the histogram is made once for every width.
    pub fn kl(&self, bits: u32) -> Result<Arc<calibrate::KlCalibration>> {
        if let Some((_, k)) = self.kl.borrow().iter().find(|(b, _)| *b == bits) {
            return Ok(Arc::clone(k));
        }
        let histogram = match self.kl_histogram.get() {
            Some(h) => h.clone(),
            None => {
                let h = calibrate::kl::abs_histogram(self.values(), self.stats.absmax)?;
                self.kl_histogram.get_or_init(|| h).clone()
            }
        };
        let k = Arc::new(calibrate::KlCalibration::of_histogram(
            histogram, bits, false,
        )?);
        self.kl.borrow_mut().push((bits, Arc::clone(&k)));
        Ok(k)
    }

    /// The `mse` calibration's range for `q`, where it has been found already.
    fn mse_range_cached(&self, q: &QuantSettings) -> Option<(f64, f64)> {
        let zp = mse_policy(q);
        self.mse_ranges
            .borrow()
            .iter()
            .find(|(s, b, z, _)| *s == q.scheme && *b == q.bits && *z == zp)
            .map(|&(_, _, _, r)| r)
    }

    /// The `mse` search's own pick for a scheme, width and policy (symmetric: `Raw`), before
    /// it is measured against min-max ([`calibrate::mse_search`]), from the cache where it is.
    fn mse_searched(&self, scheme: Scheme, bits: u32, zp: ZeroPoint) -> Result<(f64, f64)> {
        if let Some(&(_, _, _, r)) = self
            .mse_searched
            .borrow()
            .iter()
            .find(|(s, b, z, _)| *s == scheme && *b == bits && *z == zp)
        {
            return Ok(r);
        }
        let search = self
            .search
            .get_or_init(|| calibrate::SearchData::new(self.values()));
        let r = calibrate::mse_search(search, &self.stats, scheme, bits, zp)?;
        self.mse_searched.borrow_mut().push((scheme, bits, zp, r));
        Ok(r)
    }

    /// The parameters of the `mse` search's own pick for `q` (min-max's where the pick has
    /// none), before it is measured against min-max.
    fn searched_params(&self, q: &QuantSettings) -> Result<QuantParams> {
        let (lo, hi) = self.mse_searched(q.scheme, q.bits, mse_policy(q))?;
        calibrate::params_for_range(lo, hi, &self.stats, q).or_else(|_| {
            let (lo, hi) = calibrate::min_max_range(&self.stats, q.scheme);
            calibrate::params_for_range(lo, hi, &self.stats, q)
        })
    }

    /// The quantization parameters for these settings.
    pub fn params(&self, q: &QuantSettings) -> Result<QuantParams> {
        let (lo, hi) = self.clip_range(q)?;
        calibrate::params_for_range(lo, hi, &self.stats, q)
    }

    /// Calibrates and measures the error, in one pass over the data (two with outliers).
    ///
    /// `Err(MseOverflow)` where the mean squared error is beyond f64 (see [`Metrics::measure`]).
    pub fn run(&self, q: &QuantSettings) -> Result<Run> {
        let params = self.params(q)?;
        let xs = self.values();
        let metrics = Metrics::measure(xs, &params, &params.error_stats(xs), &self.power)?;
        // The kept values' own array: the same terms in the same order as a mask over the data.
        let inliers = match &self.inliers {
            Some(kept) => Some(Metrics::measure(
                kept,
                &params,
                &params.error_stats(kept),
                &self.inlier_power,
            )?),
            None => None,
        };
        Ok(Run {
            settings: *q,
            params,
            metrics,
            inliers,
        })
    }

    /// Every scheme and calibration at the current bits and zero-point policy: min-max, the
    /// percentile (the current P, or 99.99) and mse, asymmetric then symmetric.
    ///
    /// Bit for bit six [`Analysis::run`]s, measured together in one pass over the data (and one
    /// over the inliers) by [`crate::quant::kernels::fused::error_stats_many_known`], with what the sorted
    /// values tell ([`crate::quant::sorted::known_sorted`]) left out of the pass.
    pub fn compare(&self, q: &QuantSettings) -> Result<Vec<Run>> {
        let settings = compare_settings(q);
        // An `mse` range not found yet starts from the search's own pick, which the pass below
        // measures beside min-max: the choice `calibrate::least_error` makes, on the same sums,
        // without a pass of its own.
        let unchecked: Vec<bool> = settings
            .iter()
            .map(|s| s.calibration == Calibration::Mse && self.mse_range_cached(s).is_none())
            .collect();
        let mut params = settings
            .iter()
            .zip(&unchecked)
            .map(|(s, &u)| {
                if u {
                    self.searched_params(s)
                } else {
                    self.params(s)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        // Where the values are sorted, each clipped count is two binary searches there, each
        // `max |e|` (with few codes) two evaluations a code, and the inliers' count is the
        // total less the outliers' own: the passes leave those out. Natively `error_stats`
        // finds them in its own pass anyway (unit tests check them).
        let sorted = if cfg!(any(target_arch = "wasm32", test)) {
            self.sorted_values()
        } else {
            None
        };
        let known: Option<Vec<Known>> = sorted.map(|sorted| {
            params
                .iter()
                .map(|p| crate::quant::sorted::known_sorted(sorted, p))
                .collect()
        });
        let mut all = crate::quant::kernels::fused::error_stats_many_known(
            self.values(),
            &params,
            known.as_deref(),
        );
        let mut kept = self.inliers.as_ref().map(|xs| {
            let kept_known: Option<Vec<Known>> = known.as_ref().map(|kn| {
                kn.iter()
                    .zip(&params)
                    .map(|(k, p)| {
                        let out = self
                            .excluded
                            .iter()
                            .filter_map(|&i| self.values().get(i))
                            .filter(|&&x| crate::quant::sorted::clips(p, x))
                            .count();
                        // Codes that agree on every value agree on the inliers, clamped
                        // (unclamped agreement where nothing is clipped implies it too). Only
                        // with `max_abs: None`: the pass that finds the max always clamps, where
                        // the one that only sums would not clamp with `clipped` 0.
                        Known {
                            clipped: k.clipped.saturating_sub(out),
                            max_abs: None,
                            by_reciprocal: k.by_reciprocal,
                        }
                    })
                    .collect()
            });
            crate::quant::kernels::fused::error_stats_many_known(xs, &params, kept_known.as_deref())
        });
        for i in (0..settings.len()).filter(|&i| unchecked[i]) {
            let s = &settings[i];
            let Some(j) = settings.iter().position(|m| {
                m.calibration == Calibration::MinMax && m.scheme == s.scheme && m.bits == s.bits
            }) else {
                continue;
            };
            let searched = self.mse_searched(s.scheme, s.bits, mse_policy(s))?;
            let wins = calibrate::search::searched_wins(
                self.values(),
                (&params[i], all[i].sum_sq),
                (&params[j], all[j].sum_sq),
            );
            let range = if wins {
                searched
            } else {
                params[i] = params[j];
                all[i] = all[j];
                if let Some(k) = kept.as_mut() {
                    k[i] = k[j];
                }
                calibrate::min_max_range(&self.stats, s.scheme)
            };
            self.mse_ranges
                .borrow_mut()
                .push((s.scheme, s.bits, mse_policy(s), range));
        }
        settings
            .iter()
            .zip(params)
            .enumerate()
            .map(|(i, (s, params))| {
                let metrics = Metrics::measure(self.values(), &params, &all[i], &self.power)?;
                let inliers = match (&kept, &self.inliers) {
                    (Some(k), Some(xs)) => {
                        Some(Metrics::measure(xs, &params, &k[i], &self.inlier_power)?)
                    }
                    _ => None,
                };
                Ok(Run {
                    settings: *s,
                    params,
                    metrics,
                    inliers,
                })
            })
            .collect()
    }

    /// MSE and SQNR against bit width (2..=16) for every scheme and calibration. Data larger
    /// than [`SWEEP_SAMPLE`] is strided down to it for the error (the ranges use all of it).
    pub fn sweep(&self, q: &QuantSettings) -> Result<Sweep> {
        let bits: Vec<u32> = (2..=16).collect();
        let n = self.data.values.len();
        let sample: Option<Vec<f64>> = (n > SWEEP_SAMPLE).then(|| {
            let m = SWEEP_SAMPLE as u64;
            (0..m)
                .map(|i| self.data.values[((i * n as u64) / m) as usize])
                .collect()
        });
        let xs: &[f64] = sample.as_deref().unwrap_or(self.values());
        let power = match &sample {
            Some(s) => MeanSquare::of_values(
                s,
                crate::quant::pairwise::pairwise_sum_map(s, &mut |x| x * x) / s.len() as f64,
            ),
            None => self.power,
        };
        let bases = compare_settings(q);
        let mut series: Vec<SweepSeries> = bases
            .iter()
            .map(|base| SweepSeries {
                scheme: base.scheme,
                calibration: base.calibration,
                mse: Vec::with_capacity(bits.len()),
                sqnr_db: Vec::with_capacity(bits.len()),
            })
            .collect();
        // Each width's six quantizations together (bit for bit each one's `error_stats`): on
        // wasm32 in one pass over the values, natively one by one (see `error_stats_many`).
        // Where that pass is over all the values (no sample) and they are sorted (from 4,096
        // values, `sorted_values`), it leaves out what the sorted values tell, as the
        // comparison's does (`compare`): at the widths with few codes it then only sums,
        // multiplying by `1 / scale`; the same results, bit for bit (tests/node.rs, in wasm;
        // natively the pass finds everything itself and debug builds check what was given). On
        // the page this also runs, at load, the forms of the pass that a Bits change to few
        // codes runs, so that V8 has optimized them before the first one.
        let sorted = if sample.is_none() && cfg!(any(target_arch = "wasm32", test)) {
            self.sorted_values()
        } else {
            None
        };
        for &b in &bits {
            // The `mse` series start from the search's own pick: it is measured against
            // min-max below, on the values the sweep measures (the sample, where there is one).
            let mut params = Vec::with_capacity(bases.len());
            for base in &bases {
                let q = QuantSettings { bits: b, ..*base };
                params.push(match q.calibration {
                    Calibration::Mse => self.searched_params(&q)?,
                    _ => self.params(&q)?,
                });
            }
            let stats = match sorted {
                Some(sorted) => {
                    let known: Vec<Known> = params
                        .iter()
                        .map(|p| crate::quant::sorted::known_sorted(sorted, p))
                        .collect();
                    crate::quant::kernels::fused::error_stats_many_known(xs, &params, Some(&known))
                }
                None => crate::quant::kernels::fused::error_stats_many(xs, &params),
            };
            // An MSE beyond f64 stays +inf here: the curve leaves that width out.
            for (i, s) in series.iter_mut().enumerate() {
                let (mut p, mut e) = (&params[i], &stats[i]);
                if bases[i].calibration == Calibration::Mse {
                    // The least-error calibration is never worse than min-max, one of its
                    // candidates: the same choice as `calibrate::least_error`, on these values
                    // (all of them, or the sample the sweep reports).
                    let mm = bases.iter().position(|m| {
                        m.calibration == Calibration::MinMax && m.scheme == bases[i].scheme
                    });
                    if let Some(j) = mm {
                        if !calibrate::search::searched_wins(
                            xs,
                            (p, e.sum_sq),
                            (&params[j], stats[j].sum_sq),
                        ) {
                            (p, e) = (&params[j], &stats[j]);
                        }
                    }
                }
                let m = Metrics::measure_unchecked(xs, p, e, &power);
                s.mse.push(m.mse);
                s.sqnr_db.push(m.sqnr_db);
            }
        }
        Ok(Sweep {
            bits,
            series,
            sample: sample.map(|s| s.len()),
        })
    }

    /// The first `k` values as the notebook prints them: value, code, dequantized, error.
    pub fn table(&self, params: &QuantParams, k: usize) -> Vec<Row> {
        self.values()
            .iter()
            .take(k)
            .enumerate()
            .map(|(index, &x)| {
                let code = params.quantize_value(x);
                let dq = params.dequantize_value(code);
                Row {
                    index,
                    original: x,
                    code,
                    dequantized: dq,
                    error: x - dq,
                }
            })
            .collect()
    }

    /// Everything the charts of the current settings draw.
    pub fn view(&self, q: &QuantSettings) -> Result<View> {
        let run = self.run(q)?;
        Ok(self.view_of(run))
    }

    /// The charts' data for a run already measured.
    pub fn view_of(&self, run: Run) -> View {
        let mut view = self.view_without_errors(run);
        self.add_errors(&mut view);
        view
    }

    /// The charts' data for a run already measured, but for the error histogram (`errors` is
    /// `None`): what the histogram and the staircase draw. A page that draws the error chart
    /// later (off screen) bins the errors then, with [`Analysis::add_errors`].
    pub fn view_without_errors(&self, run: Run) -> View {
        let p = run.params;
        // Every dequantized value lies within half a step of a value or of the clip range, so
        // the data and clip range widened by one step hold them all (with room for rounding),
        // and a constant's lone bar stays narrow instead of spanning 256 empty levels.
        // Near f64::MAX the step reaches past f64 (a constant c has scale |c|): the bounds
        // stop at ±f64::MAX, and where the window is then wider than f64 can measure (a
        // symmetric range [-c, c] around data on one side), it narrows to the data's own
        // range, widened by a step, half a step (the dequantized values lie within it) or not
        // at all, whichever first has a finite width.
        let within = |lo: f64, hi: f64| (lo.max(-f64::MAX), hi.min(f64::MAX));
        let (min, max, s) = (self.stats.min, self.stats.max, p.scale);
        let windows = [
            (min.min(p.range_min) - s, max.max(p.range_max) + s),
            (min - s, max + s),
            (min - s / 2.0, max + s / 2.0),
            (min, max),
        ];
        let (lo, hi) = windows
            .into_iter()
            .map(|(lo, hi)| within(lo, hi))
            .find(|(lo, hi)| (hi - lo).is_finite())
            .unwrap_or((min, max));
        let mut values = Histogram::new(lo, hi, HISTOGRAM_BINS);
        let mut dequantized = Histogram::new(lo, hi, HISTOGRAM_BINS);
        let levels = (p.qmax - p.qmin + 1) as usize;
        let mut code_counts = vec![0u64; levels];
        // The values and codes counted in one pass, or run by run over the sorted values where
        // the runs are long; the dequantized values from the codes. The same counts either way.
        match self.sorted_for_runs(&p) {
            Some(sorted) => {
                crate::analysis::view::view_counts_sorted(sorted, &p, &mut values, &mut code_counts)
            }
            None => {
                crate::analysis::view::view_counts(self.values(), &p, &mut values, &mut code_counts)
            }
        }
        crate::analysis::view::dequantized_from_codes(&p, &code_counts, &mut dequantized);
        View {
            run,
            mapping: mapping(&p, values.lo, values.hi),
            values,
            dequantized,
            code_counts,
            errors: None,
        }
    }

    /// Bins the errors `x - x̂` of `view`'s run into its error histogram, over
    /// `±max |error|` (or `±scale/2` where every error is 0), if it has none yet.
    pub fn add_errors(&self, view: &mut View) {
        if view.errors.is_some() {
            return;
        }
        debug_assert_eq!(
            view.values.total(),
            self.values().len() as u64,
            "a view of this data"
        );
        let p = view.run.params;
        let e = view.run.metrics.max_abs_error;
        let e = if e > 0.0 { e } else { p.scale / 2.0 };
        let mut errors = Histogram::new(-e, e, HISTOGRAM_BINS);
        match self.sorted_for_runs(&p) {
            Some(sorted) => crate::analysis::view::error_counts_sorted(sorted, &p, &mut errors),
            None => crate::analysis::view::error_counts(self.values(), &p, &mut errors),
        }
        view.errors = Some(errors);
    }

    /// The sorted values where counting run by run pays: on average 16 values a level or more
    /// between the codes of the smallest and the largest value.
    fn sorted_for_runs(&self, p: &QuantParams) -> Option<&[f64]> {
        let n = self.values().len();
        let spanned = (p.quantize_value(self.stats.max) as i64
            - p.quantize_value(self.stats.min) as i64)
            .unsigned_abs()
            + 1;
        if n as u64 / spanned >= 16 {
            self.sorted_values()
        } else {
            None
        }
    }

    /// Codes and dequantized values of all data (for export).
    pub fn quantize_all(&self, params: &QuantParams) -> (Vec<i32>, Vec<f64>) {
        params.quantize_dequantize(self.values())
    }
}

/// The zero-point policy an `mse` range depends on: symmetric ranges have none (`Raw`), so
/// that both policies share one search.
fn mse_policy(q: &QuantSettings) -> ZeroPoint {
    match q.scheme {
        Scheme::Symmetric => ZeroPoint::Raw,
        Scheme::Asymmetric => q.zero_point,
    }
}

/// The six settings the comparison runs: {min-max, percentile, mse} x {asymmetric, symmetric}.
pub fn compare_settings(q: &QuantSettings) -> Vec<QuantSettings> {
    let p = match q.calibration {
        Calibration::Percentile(p) => p,
        _ => DEFAULT_PERCENTILE,
    };
    let mut out = Vec::with_capacity(6);
    for scheme in [Scheme::Asymmetric, Scheme::Symmetric] {
        for calibration in [
            Calibration::MinMax,
            Calibration::Percentile(p),
            Calibration::Mse,
        ] {
            out.push(QuantSettings {
                scheme,
                calibration,
                ..*q
            });
        }
    }
    out
}

/// Points of the staircase `x -> x̂` over `[lo, hi]`: exact corners when at most 1024 levels
/// fall in the range, otherwise 2048 evenly spaced samples.
pub fn mapping(p: &QuantParams, lo: f64, hi: f64) -> Vec<(f64, f64)> {
    let (hi, lo) = if hi > lo {
        (hi, lo)
    } else {
        (lo + 1.0, lo - 1.0)
    };
    let q_lo = p.quantize_value(lo);
    let q_hi = p.quantize_value(hi);
    let mut pts = Vec::new();
    if (q_hi - q_lo) <= 1024 {
        let mut x = lo;
        for q in q_lo..=q_hi {
            // x rounds up to code q + 1 at (q + 0.5 - zero_point) * scale
            let end = if q == q_hi {
                hi
            } else {
                ((q as f64 + 0.5 - p.zero_point) * p.scale).clamp(x, hi)
            };
            let y = p.dequantize_value(q);
            pts.push((x, y));
            pts.push((end, y));
            x = end;
        }
    } else {
        let k = 2048;
        for i in 0..=k {
            let x = lo + (hi - lo) * i as f64 / k as f64;
            pts.push((x, p.fake_quantize(x)));
        }
    }
    pts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate::Dataset;
    use crate::settings::DataSpec;

    #[test]
    fn view_counts_every_value() {
        let data = crate::data::generate::generate(&DataSpec::default()).unwrap();
        let a = Analysis::new(data).unwrap();
        let v = a.view(&QuantSettings::default()).unwrap();
        let n = DataSpec::default().n as u64;
        assert_eq!(v.values.total(), n);
        assert_eq!(v.dequantized.total(), n);
        assert_eq!(v.code_counts.iter().sum::<u64>(), n);
        assert_eq!(v.errors.as_ref().map(Histogram::total), Some(n));
        assert!(v.mapping.len() >= 2);
    }

    #[test]
    fn errors_binned_later_are_the_plain_loops() {
        // 100,000 values: the sorted path at few codes, the value-by-value one at many.
        let a = generated(100_000, 3);
        for bits in [2, 4, 8, 12, 16] {
            let q = QuantSettings {
                bits,
                ..QuantSettings::default()
            };
            let run = a.run(&q).unwrap();
            let mut later = a.view_without_errors(run);
            assert_eq!(later.errors, None);
            a.add_errors(&mut later);
            // The plain loop over the values in their order.
            let p = run.params;
            let e = run.metrics.max_abs_error;
            let mut errors = Histogram::new(-e, e, HISTOGRAM_BINS);
            let mut codes = vec![0u64; later.code_counts.len()];
            for &x in a.values() {
                let q = p.quantize_value(x);
                errors.add(x - p.dequantize_value(q));
                codes[(q - p.qmin) as usize] += 1;
            }
            // 12 bits counts over the sorted values, 16 value by value.
            assert_eq!(a.sorted_for_runs(&p).is_some(), bits <= 12, "{bits} bits");
            assert_eq!(later.errors, Some(errors), "{bits} bits");
            assert_eq!(later.code_counts, codes);
            assert_eq!(later, a.view_of(run));
        }
    }

    #[test]
    fn a_range_8_bits_can_scale_and_2_bits_cannot() {
        // What the page's update checks before it leaves the sweep for later (web.rs): symmetric
        // min-max at 2 bits clips at -2·absmax, beyond f64 for 1.8e308; 8 bits is fine. The
        // values sit on every 8-bit grid's levels (c = 255 · 127 · 2^1009: c / 255 and c / 127
        // are exact), so that their errors, and the MSE, are finite (0).
        let c = 32385.0 * 2f64.powi(1009);
        let values: Vec<f64> = (0..100).map(|i| if i % 2 == 0 { 0.0 } else { c }).collect();
        let a = Analysis::new(Dataset::from_values(values, "far").unwrap()).unwrap();
        let q = QuantSettings::default();
        assert!(a.compare(&q).is_ok());
        // Values off the levels have errors of about 1e305 there, whose mean square no f64
        // holds: the comparison says so rather than leave the MSE out.
        let off = Analysis::new(Dataset::from_values(vec![1e308, 1.0, -3.0], "far").unwrap());
        let e = off.unwrap().compare(&q).unwrap_err();
        assert!(matches!(e, crate::error::Error::MseOverflow { .. }), "{e}");
        let two = |scheme| QuantSettings {
            bits: 2,
            scheme,
            calibration: Calibration::MinMax,
            ..q
        };
        assert!(a.params(&two(Scheme::Asymmetric)).is_ok());
        assert!(a.params(&two(Scheme::Symmetric)).is_err());
        assert!(a.sweep(&q).is_err(), "the sweep fails as the check says");
    }

    #[test]
    fn every_value_is_counted_for_any_data() {
        let sets: Vec<Vec<f64>> = vec![
            vec![3.0; 50],
            vec![0.0; 7],
            vec![-1e-9, 2e-9],
            crate::data::presets::NOTEBOOK_VALUES.to_vec(),
            vec![1.0, 2.0, 1000.0],
        ];
        for values in sets {
            let n = values.len() as u64;
            let a = Analysis::new(Dataset::from_values(values, "t").unwrap()).unwrap();
            for scheme in [Scheme::Asymmetric, Scheme::Symmetric] {
                for calibration in [Calibration::MinMax, Calibration::Percentile(90.0)] {
                    let q = QuantSettings {
                        scheme,
                        calibration,
                        bits: 3,
                        ..QuantSettings::default()
                    };
                    let v = a.view(&q).unwrap();
                    assert_eq!(v.values.total(), n);
                    assert_eq!(v.dequantized.total(), n, "{scheme} {calibration}");
                    assert_eq!(v.errors.as_ref().map(Histogram::total), Some(n));
                }
            }
        }
        // A constant's bar is narrow: the range is a few steps wide, not 2^b steps.
        let a = Analysis::new(Dataset::from_values(vec![3.0; 50], "c").unwrap()).unwrap();
        let v = a.view(&QuantSettings::default()).unwrap();
        assert!(
            v.values.hi - v.values.lo <= 4.0 * 3.0,
            "{:?}",
            (v.values.lo, v.values.hi)
        );
    }

    /// The analysis of `n` generated values (the default distribution) with `outliers`.
    fn generated(n: usize, outliers: usize) -> Analysis {
        let spec = DataSpec {
            n,
            outliers,
            ..DataSpec::default()
        };
        Analysis::new(crate::data::generate::generate(&spec).unwrap()).unwrap()
    }

    #[test]
    fn compare_with_clipped_counts_from_the_sorted_values_is_six_runs() {
        // Enough values for the sorted copy: the clipped counts come from binary searches there
        // (the inliers' as the total less the outliers'); debug builds check them in the pass.
        let a = generated(5003, 3);
        for bits in [2, 4, 8, 16] {
            let q = QuantSettings {
                bits,
                calibration: Calibration::Percentile(99.0),
                ..QuantSettings::default()
            };
            for (s, r) in compare_settings(&q).iter().zip(a.compare(&q).unwrap()) {
                assert_eq!(a.run(s).unwrap(), r, "{bits} bits {s:?}");
                let kept = r.inliers.unwrap();
                let keep = a.data.inlier_mask().unwrap();
                let e = r.params.error_stats_masked(a.values(), &keep);
                assert_eq!(kept.clipped, e.clipped);
            }
        }
    }

    #[test]
    fn sweep_with_the_sorted_values_is_each_run_alone() {
        // From 4,096 values the sweep hands the pass what the sorted values tell (known_sorted:
        // with few codes, here 2 to 5 bits, the max and the multiply test too). Natively the
        // pass finds everything itself and a debug build checks what it was given against it.
        let a = generated(20_000, 2);
        let q = QuantSettings::default();
        let sweep = a.sweep(&q).unwrap();
        for (base, series) in compare_settings(&q).iter().zip(&sweep.series) {
            for (i, &bits) in sweep.bits.iter().enumerate() {
                let p = a.params(&QuantSettings { bits, ..*base }).unwrap();
                let m = Metrics::new(&p.error_stats(a.values()), a.stats.mean_sq);
                assert_eq!(
                    series.mse[i].to_bits(),
                    m.mse.to_bits(),
                    "{bits} bits {base:?}"
                );
                assert_eq!(series.sqnr_db[i].to_bits(), m.sqnr_db.to_bits());
            }
        }
    }

    #[test]
    fn compare_has_six_runs_and_sweep_fifteen_bits() {
        let a = generated(2000, 2);
        let q = QuantSettings::default();
        let c = a.compare(&q).unwrap();
        assert_eq!(c.len(), 6);
        assert!(c.iter().all(|r| r.inliers.is_some()));
        let s = a.sweep(&q).unwrap();
        assert_eq!(s.series.len(), 6);
        assert!(s.series.iter().all(|l| l.mse.len() == 15));
        // More bits, less error, for min-max.
        let mm = &s.series[0];
        assert!(mm.mse[14] < mm.mse[0]);
    }
}
