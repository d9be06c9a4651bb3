//! Finer scales and rotation: the data quantized with one scale per unit (row or group), or in
//! one of the field's formats, optionally in a Hadamard-rotated basis.
//!
//! With a rotation the values are rotated per block of `k` within each row
//! ([`crate::quant::rotate`]), quantized there, and the dequantized values rotated back; the
//! error is reported in both bases: against the rotated values (what the quantizer saw) and
//! against the original values (what the model sees).

use crate::analysis::metrics::Metrics;
use crate::analysis::Analysis;
use crate::error::{Error, Result};
use crate::quant::formats::{self, Format};
use crate::quant::granularity::{f32_pass_pays, quantize_units, Granularity, UnitRun, Units};
use crate::quant::pairwise::pairwise_sum;
use crate::quant::params::ErrorStats;
use crate::quant::rotate::{rotate_blocks, Rotation};
use crate::settings::QuantSettings;

/// What to quantize with: the int scheme at a granularity, or a format; and a rotation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GranularSettings {
    /// The int scheme's settings (used where `format` is `None`).
    pub quant: QuantSettings,
    /// `None` for int; else a format and its block (`None`: the format's default).
    pub format: Option<(Format, Option<usize>)>,
    /// How many values share a scale (int only; formats fix their own blocks).
    pub granularity: Granularity,
    /// The rotation before quantizing.
    pub rotate: Rotation,
}

/// The result of a [`GranularSettings`] run.
#[derive(Debug, Clone, PartialEq)]
pub struct GranularRun {
    /// What was asked for.
    pub settings: GranularSettings,
    /// The rotation's block (`None` without rotation).
    pub rotate_block: Option<usize>,
    /// The int format's units with their scales, zero points and errors (in the basis that
    /// was quantized, the rotated one where there is a rotation); `None` for a format.
    pub units: Option<UnitRun>,
    /// The format's block, for a format.
    pub format_block: Option<usize>,
    /// Bits per weight, the scales counted.
    pub bits_per_weight: f64,
    /// The error against the original values.
    pub metrics: Metrics,
    /// The error in the rotated basis (against the rotated values), where there is a rotation.
    pub rotated_metrics: Option<Metrics>,
    /// Every value's code (int format, where asked for).
    pub codes: Option<Vec<i32>>,
    /// The values after rotation, where there is a rotation and they were asked for.
    pub rotated: Option<Vec<f64>>,
    /// The dequantized values in the original basis, where asked for.
    pub dequantized: Option<Vec<f64>>,
}

/// `Σ (x - y)²` in numpy's pairwise order, `max |x - y|`, over two equally long arrays.
pub(crate) fn error_between(xs: &[f64], ys: &[f64], clipped: usize) -> ErrorStats {
    let squares: Vec<f64> = xs.iter().zip(ys).map(|(x, y)| (x - y) * (x - y)).collect();
    ErrorStats {
        n: xs.len(),
        sum_sq: pairwise_sum(&squares),
        max_abs: xs
            .iter()
            .zip(ys)
            .fold(0.0, |m, (x, y)| f64::max(m, (x - y).abs())),
        clipped,
    }
}

/// Each unit's values replaced by their dequantized values under its parameters (the codes
/// `quantize_units` gave them: `quantize_value` is its kernels' definition).
pub(crate) fn dequantize_in_place(ys: &mut [f64], units: &Units, run: &UnitRun) {
    for (i, p) in run.params.iter().enumerate() {
        for y in &mut ys[units.range(i)] {
            *y = p.fake_quantize(*y);
        }
    }
}

/// `mean(x²)` in numpy's pairwise order.
fn power(xs: &[f64]) -> f64 {
    let squares: Vec<f64> = xs.iter().map(|x| x * x).collect();
    pairwise_sum(&squares) / xs.len().max(1) as f64
}

impl Analysis {
    /// The units of the data at granularity `g`, or an error saying what would fit.
    pub fn units(&self, g: Granularity) -> Result<Units> {
        Units::new(self.values().len(), self.data.shape, g)
    }

    /// [`Analysis::granular`], and an error where the squared error overflows float64, as
    /// the per-tensor run gives, rather than an MSE of infinity (the command line's; the page
    /// says so in its own words).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn granular_measured(&self, s: &GranularSettings, keep: bool) -> Result<GranularRun> {
        let run = self.granular(s, keep)?;
        if run.metrics.mse.is_finite() {
            Ok(run)
        } else {
            Err(Error::MseOverflow {
                absmax: self.stats.absmax,
                max_abs_error: run.metrics.max_abs_error,
            })
        }
    }

    /// Quantizes with a granularity, a format and a rotation (see [`GranularSettings`]).
    /// `keep` asks for the codes, the rotated values and the dequantized values.
    ///
    /// Without rotation and at `tensor` granularity the int result is [`Analysis::run`]'s
    /// parameters and error.
    pub fn granular(&self, s: &GranularSettings, keep: bool) -> Result<GranularRun> {
        let xs = self.values();
        let n = xs.len();
        crate::settings::check_granularity(
            n,
            self.data.shape,
            s.format.map(|f| f.0),
            s.granularity,
            s.rotate,
        )?;
        let k = s.rotate.block(self.data.row_len())?;
        let mut rotated: Option<Vec<f64>> = k.map(|k| {
            // In huge pages where large: a copy of a large tensor otherwise faults page by page.
            let mut ys = crate::par::with_capacity(n);
            ys.extend_from_slice(xs);
            rotate_blocks(&mut ys, k);
            ys
        });
        let ys: &[f64] = rotated.as_deref().unwrap_or(xs);
        // The dequantized values are needed to rotate back, or where asked for.
        let need_deq = keep || k.is_some();
        // The rotated values' power, before a run that does not keep them dequantizes them in
        // place.
        let ys_power = k.map(|_| power(ys));
        let (units, format_block, bits_per_weight, codes, deq, quantized_err) = match s.format {
            None => {
                let units = self.units(s.granularity)?;
                let mut codes = if keep {
                    crate::par::zeroed_vec::<i32>(n)
                } else {
                    Vec::new()
                };
                // Unrotated float32 data: its float32 copy where made (and a pass over it
                // faster), half the bytes to read, the same bits.
                let f32s = if k.is_none() && f32_pass_pays(&s.quant, &units) {
                    self.values_f32_if_made_exact()
                } else {
                    None
                };
                let run = match f32s {
                    Some(x32) => quantize_units(x32, &units, &s.quant, &mut codes)?,
                    None => quantize_units(ys, &units, &s.quant, &mut codes)?,
                };
                let deq = if k.is_some() && !keep {
                    // Rotated and not kept: the rotated values become their dequantized values,
                    // so that a large tensor is not copied twice more (codes, dequantized).
                    rotated.take().map(|mut d| {
                        dequantize_in_place(&mut d, &units, &run);
                        d
                    })
                } else {
                    need_deq.then(|| {
                        let mut d = crate::par::zeroed_vec::<f64>(n);
                        for (i, p) in run.params.iter().enumerate() {
                            let r = units.range(i);
                            for (o, &c) in d[r.clone()].iter_mut().zip(&codes[r]) {
                                *o = p.dequantize_value(c);
                            }
                        }
                        d
                    })
                };
                let bpw = units.bits_per_weight(&s.quant);
                let total = run.total;
                (Some(run), None, bpw, keep.then_some(codes), deq, total)
            }
            Some((f, block)) => {
                if s.granularity != Granularity::Tensor {
                    return Err(Error::Setting {
                        name: "granularity",
                        given: s.granularity.to_string(),
                        expected: format!("tensor with {f}, which fixes its own blocks"),
                    });
                }
                let block = f.block(block)?;
                f.check_count(n, block)?;
                formats::check_f32_range(ys)?;
                let q = formats::quantize(f, block, &formats::to_f32(ys))?;
                let deq: Vec<f64> = q.dequantized.iter().map(|&d| f64::from(d)).collect();
                let e = error_between(ys, &deq, q.saturated);
                (
                    None,
                    Some(block),
                    f.bits_per_weight(n, block),
                    None,
                    Some(deq),
                    e,
                )
            }
        };
        let (metrics, rotated_metrics, deq) = match (k, deq) {
            (Some(k), Some(mut back)) => {
                let in_rotated = Metrics::new(&quantized_err, ys_power.unwrap_or(0.0));
                rotate_blocks(&mut back, k);
                let e = error_between(xs, &back, quantized_err.clipped);
                (
                    Metrics::new(&e, self.stats.mean_sq),
                    Some(in_rotated),
                    Some(back),
                )
            }
            (_, deq) => (Metrics::new(&quantized_err, self.stats.mean_sq), None, deq),
        };
        Ok(GranularRun {
            settings: *s,
            rotate_block: k,
            units,
            format_block,
            bits_per_weight,
            metrics,
            rotated_metrics,
            codes: if keep { codes } else { None },
            rotated: if keep { rotated } else { None },
            dequantized: if keep { deq } else { None },
        })
    }
}
