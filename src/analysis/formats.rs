//! A data set quantized in one of the field's formats (NF4, FP8, MXFP4, NVFP4, the ggml block
//! formats and K-quants), measured against the values as given.
//!
//! The format computes in float32 ([`crate::quant::formats`]); its error is measured here in
//! float64 against the original values: `e = x - f64(x̂)`, the MSE as numpy's
//! `np.mean(e ** 2)` (pairwise), the SQNR against the data's signal power, scaled where either
//! would overflow or underflow, as the integer schemes' are.

use super::histogram::Histogram;
use super::metrics::Metrics;
use super::Analysis;
use crate::error::{Error, Result};
use crate::quant::formats::stream::Streamer;
use crate::quant::formats::{self, Format, Quantized};
use crate::quant::pairwise::{leaf_sum, pairwise_sum_indexed, pairwise_tree_indexed, BLOCK};
use crate::quant::params::{MeanSquare, QuantParams};
use crate::settings::{Calibration, Granularity, QuantSettings, Rotation, Scheme};

/// How alike the dequantized values are to the originals, beyond the MSE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    /// `Σ x·x̂ / sqrt(Σ x² · Σ x̂²)`: 1 when x̂ is x scaled by a positive number; 0 where either
    /// is all zeros (and the other is not).
    pub cosine: f64,
    /// RMS error / RMS value, `sqrt(mse / mean(x²))`: 0 when exact.
    pub relative_error: f64,
}

/// One format's quantization of the data, measured.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatRun {
    /// The format.
    pub format: Format,
    /// Values per block (the value count for a per-tensor scale).
    pub block: usize,
    /// How many blocks (one for a per-tensor scale).
    pub blocks: usize,
    /// Bits per weight, the scales included.
    pub bits_per_weight: f64,
    /// MSE, SQNR and max error against the original values; `clipped` is the count the format
    /// saturated.
    pub metrics: Metrics,
    /// Cosine similarity and relative error.
    pub similarity: Similarity,
    /// The codes, dequantized values and stored scales.
    pub quantized: Quantized,
}

impl FormatRun {
    /// Bits per weight of float32 over this format's.
    pub fn compression_vs_f32(&self) -> f64 {
        32.0 / self.bits_per_weight
    }

    /// Bits per weight of float16 over this format's.
    pub fn compression_vs_f16(&self) -> f64 {
        16.0 / self.bits_per_weight
    }
}

/// Bits per weight of an integer scheme with one scale per `unit` values: `b + (32 + z) / u`,
/// the float32 scale and, for asymmetric, a `b`-bit zero point.
pub fn int_bits_per_weight(p: &QuantParams, unit: usize) -> f64 {
    int_bits_of(p.bits, p.scheme, unit)
}

/// [`int_bits_per_weight`] from the width and scheme.
pub fn int_bits_of(bits: u32, scheme: Scheme, unit: usize) -> f64 {
    let zero_point_bits = match scheme {
        Scheme::Asymmetric => f64::from(bits),
        Scheme::Symmetric => 0.0,
    };
    f64::from(bits) + (32.0 + zero_point_bits) / unit.max(1) as f64
}

impl Analysis {
    /// The data quantized in `format` with the block `block` asks for (`None`: the format's
    /// default), measured against the values as given.
    pub fn format_run(&self, format: Format, block: Option<usize>) -> Result<FormatRun> {
        let block = format.block(block)?;
        let quantized = formats::quantize(format, block, self.values_f32()?)?;
        self.format_run_of(format, block, quantized)
    }

    /// The run of `quantized`, the data quantized in `format` with blocks of `block` (as
    /// [`Format::block`] resolves it) by other means than [`Analysis::format_run`] (in parts,
    /// see [`formats::parts`]). Errors where it does not hold one code per value.
    pub fn format_run_of(
        &self,
        format: Format,
        block: usize,
        quantized: Quantized,
    ) -> Result<FormatRun> {
        let xs = self.values();
        let n = xs.len();
        if quantized.codes.len() != n || quantized.dequantized.len() != n {
            return Err(Error::Setting {
                name: "format",
                given: format!("{} codes for {format}", quantized.codes.len()),
                expected: format!("one code per value, {n}"),
            });
        }
        let sums = error_sums(xs, &quantized.dequantized);
        let deq = &quantized.dequantized;
        let (metrics, deq_max) = self.measure_with(quantized.saturated, sums, &mut |k| {
            pairwise_sum_indexed(n, &mut |i| {
                let e = libm::scalbn(xs[i] - f64::from(deq[i]), -k);
                e * e
            })
        })?;
        // The largest magnitude among the values and the dequantized ones, as `similarity_of`
        // would find it in a pass of its own.
        let top = self.stats.absmax.max(deq_max);
        let similarity = self.similarity_at(|i| f64::from(quantized.dequantized[i]), &metrics, top);
        let block = if block == 0 { n } else { block };
        Ok(FormatRun {
            format,
            block,
            blocks: n.div_ceil(block.max(1)),
            bits_per_weight: format.bits_per_weight(n, block),
            metrics,
            similarity,
            quantized,
        })
    }

    /// The metrics of `format`'s run (block as [`Analysis::format_run`] takes it) and its bits
    /// per weight, the same as [`Analysis::format_run`]'s but without keeping the codes and
    /// dequantized values ([`streamed_error_sums`]): what a comparison of formats needs.
    pub fn format_metrics(&self, format: Format, block: Option<usize>) -> Result<(Metrics, f64)> {
        let block = format.block(block)?;
        let xs = self.values_f32()?;
        let given = (!self.values_are_f32()).then(|| self.values());
        match streamed_error_sums(format, block, xs, given, None) {
            Ok((sums, saturated)) => self.format_metrics_of(format, block, sums, saturated),
            // The whole run says what is wrong, with the block where there is one.
            Err(_) => {
                let q = formats::quantize(format, block, xs)?;
                let r = self.format_run_of(format, block, q)?;
                Ok((r.metrics, r.bits_per_weight))
            }
        }
    }

    /// [`Analysis::format_metrics`] from the run's [`streamed_error_sums`] (`block` as
    /// [`Format::block`] gives it).
    pub(crate) fn format_metrics_of(
        &self,
        format: Format,
        block: usize,
        sums: (f64, f64, f64),
        saturated: usize,
    ) -> Result<(Metrics, f64)> {
        let xs = self.values_f32()?;
        let (metrics, _) = self.measure_with(saturated, sums, &mut |k| {
            // Only where the plain sum over- or underflows: the run made again, kept this time.
            let values = self.values();
            match formats::quantize(format, block, xs) {
                Ok(q) => pairwise_sum_indexed(values.len(), &mut |i| {
                    let e = libm::scalbn(values[i] - f64::from(q.dequantized[i]), -k);
                    e * e
                }),
                Err(_) => f64::NAN,
            }
        })?;
        let unit = if block == 0 { xs.len() } else { block };
        Ok((metrics, format.bits_per_weight(xs.len(), unit)))
    }

    /// Cosine similarity and relative error of the integer quantization `p` (whose metrics are
    /// `m`) of the data.
    pub fn similarity(&self, p: &QuantParams, m: &Metrics) -> Similarity {
        let xs = self.values();
        self.similarity_of(|i| p.fake_quantize(xs[i]), m)
    }

    /// Cosine similarity and relative error of dequantized values given whole (`deq`, as many
    /// as the values; a missing one counts as 0), whose metrics are `m`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn similarity_to(&self, deq: &[f64], m: &Metrics) -> Similarity {
        self.similarity_of(|i| deq.get(i).copied().unwrap_or(0.0), m)
    }

    /// The metrics of a format's run from its [`error_sums`] and saturated count, and the
    /// largest magnitude among its dequantized values; `scaled_sum(k)` is the sum of the
    /// squared errors scaled by `2^-k`, asked for only where the plain sum over- or underflows.
    fn measure_with(
        &self,
        saturated: usize,
        (sum, max_abs, deq_max): (f64, f64, f64),
        scaled_sum: &mut dyn FnMut(i32) -> f64,
    ) -> Result<(Metrics, f64)> {
        let n = self.values().len();
        let plain = sum / n.max(1) as f64;
        let ms = MeanSquare::of_terms(n, plain, max_abs, scaled_sum);
        let mse = ms.value();
        if !mse.is_finite() {
            return Err(Error::MseOverflow {
                absmax: self.stats.absmax,
                max_abs_error: max_abs,
            });
        }
        let metrics = Metrics {
            n,
            mse,
            sqnr_db: self.power().ratio_db(&ms),
            max_abs_error: max_abs,
            clipped: saturated,
        };
        Ok((metrics, deq_max))
    }

    /// Cosine similarity of the data and `deq(i)`, summed with both scaled by the same power of
    /// two (exact) so that no product overflows; the relative error from the SQNR.
    fn similarity_of(&self, deq: impl Fn(usize) -> f64, m: &Metrics) -> Similarity {
        let xs = self.values();
        let top = xs
            .iter()
            .enumerate()
            .fold(0.0f64, |a, (i, &x)| a.max(x.abs()).max(deq(i).abs()));
        self.similarity_at(deq, m, top)
    }

    /// [`Analysis::similarity_of`] given `top`, the largest magnitude among the values and
    /// `deq`'s.
    fn similarity_at(&self, deq: impl Fn(usize) -> f64, m: &Metrics, top: f64) -> Similarity {
        let xs = self.values();
        let k = if top > 0.0 && top.is_finite() {
            libm::ilogb(top)
        } else {
            0
        };
        // `scalbn(v, n)` for `n` from -1022 to 1023 is `v · 2^n`, one multiplication (libm's
        // own, bit for bit): the power is made once; beyond, where `2^n` is not a normal f64,
        // scalbn's steps.
        let (xy, xx, yy) = match -k {
            n @ -1022..=1023 => {
                let p = f64::from_bits(((1023 + n) as u64) << 52);
                products(xs, &deq, |v| v * p)
            }
            n => products(xs, &deq, |v| libm::scalbn(v, n)),
        };
        let cosine = if xx == 0.0 && yy == 0.0 {
            1.0
        } else if xx == 0.0 || yy == 0.0 {
            0.0
        } else {
            (xy / (xx.sqrt() * yy.sqrt())).clamp(-1.0, 1.0)
        };
        let relative_error = if m.sqnr_db.is_infinite() && m.sqnr_db > 0.0 {
            0.0
        } else {
            10f64.powf(-m.sqnr_db / 20.0)
        };
        Similarity {
            cosine,
            relative_error,
        }
    }
}

/// `(Σ a·b, Σ a², Σ b²)` over `a = scale(xs[i])`, `b = scale(deq(i))`, summed in order.
fn products(
    xs: &[f64],
    deq: &impl Fn(usize) -> f64,
    scale: impl Fn(f64) -> f64,
) -> (f64, f64, f64) {
    let (mut xy, mut xx, mut yy) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &x) in xs.iter().enumerate() {
        let (a, b) = (scale(x), scale(deq(i)));
        xy += a * b;
        xx += a * a;
        yy += b * b;
    }
    (xy, xx, yy)
}

/// One row of the comparison of every format on the same data: a format, or an integer scheme at
/// one width.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatRow {
    /// `q4_K`, `int4 asymmetric`, ...
    pub label: String,
    /// The format; `None` for an integer scheme.
    pub format: Option<Format>,
    /// The integer scheme's settings; `None` for a format.
    pub int: Option<QuantSettings>,
    /// Bits per weight, the scales included.
    pub bits_per_weight: f64,
    /// The error, or why this format cannot quantize this data (a count its block does not
    /// divide, a scale its type cannot hold).
    pub outcome: std::result::Result<Metrics, String>,
    /// For an int row with finer scales or a rotation (2-D data): its granularity and
    /// rotation; `None` for one scale per tensor without rotation, and for a format.
    pub fine: Option<(Granularity, Rotation)>,
}

/// The bit widths of the int rows with finer scales that [`Analysis::every_format`] adds on
/// 2-D data.
pub const FINE_BITS: [u32; 2] = [4, 8];

/// Their granularities, from the coarsest.
pub const FINE_GRANULARITIES: [Granularity; 4] = [
    Granularity::Channel,
    Granularity::Group(128),
    Granularity::Group(64),
    Granularity::Group(32),
];

/// A row of the comparison of every format before it is measured
/// ([`Analysis::every_format_specs`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowSpec {
    /// An int scheme with one scale per tensor.
    Int(QuantSettings),
    /// An int scheme with finer scales or a rotation; `named` where its calibration is not
    /// the one chosen (KL's rows take min-max, [`fine_calibration`]) and its label says so.
    Fine {
        quant: QuantSettings,
        granularity: Granularity,
        rotate: Rotation,
        named: bool,
    },
    /// A format, NF4 with its block.
    Format(Format, Option<usize>),
}

impl Analysis {
    /// Every one of `formats` (NF4 in blocks of `nf4_block`, or its default) and the integer
    /// scheme `int` in both schemes at each of `int_bits`, on this data. A format that cannot
    /// take the data says why in its row; the others are measured as alone.
    pub fn every_format(
        &self,
        formats: &[Format],
        nf4_block: Option<usize>,
        int: &QuantSettings,
        int_bits: &[u32],
    ) -> Vec<FormatRow> {
        self.every_format_specs(formats, nf4_block, int, int_bits)
            .iter()
            .map(|spec| self.format_row(spec))
            .collect()
    }

    /// The rows [`Self::every_format`] measures, in its order, so that a caller can measure
    /// them one at a time ([`Self::format_row`]).
    pub fn every_format_specs(
        &self,
        formats: &[Format],
        nf4_block: Option<usize>,
        int: &QuantSettings,
        int_bits: &[u32],
    ) -> Vec<RowSpec> {
        let mut specs = Vec::new();
        for &bits in int_bits {
            for scheme in [Scheme::Asymmetric, Scheme::Symmetric] {
                specs.push(RowSpec::Int(QuantSettings {
                    bits,
                    scheme,
                    ..*int
                }));
            }
        }
        if self.data.shape.is_some() {
            specs.extend(self.fine_specs(int));
        }
        for &f in formats {
            specs.push(RowSpec::Format(f, nf4_block.filter(|_| f == Format::Nf4)));
        }
        specs
    }

    /// One row of the comparison measured.
    pub fn format_row(&self, spec: &RowSpec) -> FormatRow {
        let n = self.values().len();
        match *spec {
            RowSpec::Int(q) => FormatRow {
                label: format!("int{} {}", q.bits, q.scheme),
                format: None,
                int: Some(q),
                bits_per_weight: int_bits_of(q.bits, q.scheme, n),
                outcome: self.run(&q).map(|r| r.metrics).map_err(|e| e.to_string()),
                fine: None,
            },
            RowSpec::Fine {
                quant,
                granularity,
                rotate,
                named,
            } => {
                let s = crate::analysis::granular::GranularSettings {
                    quant,
                    format: None,
                    granularity,
                    rotate,
                };
                let run = self
                    .granular(&s, false)
                    .map(|r| (r.metrics, r.bits_per_weight));
                fine_row(quant, (granularity, rotate), named, run)
            }
            RowSpec::Format(f, block) => {
                self.format_row_of(f, block, self.format_metrics(f, block))
            }
        }
    }

    /// The row of format `f` (`block` as the spec gives it) with its metrics and bits per
    /// weight, or why it could not be measured.
    pub(crate) fn format_row_of(
        &self,
        f: Format,
        block: Option<usize>,
        outcome: Result<(Metrics, f64)>,
    ) -> FormatRow {
        let n = self.values().len();
        let bits_per_weight = match &outcome {
            Ok((_, bits)) => *bits,
            Err(_) => f.bits_per_weight(n, f.block(block).unwrap_or(0).max(1)),
        };
        FormatRow {
            label: f.to_string(),
            format: Some(f),
            int: None,
            bits_per_weight,
            outcome: outcome.map(|(m, _)| m).map_err(|e| e.to_string()),
            fine: None,
        }
    }

    /// The symmetric int scheme with `int`'s calibration ([`fine_calibration`]) at each of
    /// [`FINE_BITS`] with each of [`FINE_GRANULARITIES`] that fits the rows, and the same after
    /// a Hadamard rotation (its largest block; none where the row length is odd), with the
    /// rotation at one scale per tensor too: what a finer scale or a rotation buys per extra bit.
    pub fn fine_rows(&self, int: &QuantSettings) -> Vec<FormatRow> {
        self.fine_specs(int)
            .iter()
            .map(|spec| self.format_row(spec))
            .collect()
    }

    /// The rows [`Self::fine_rows`] measures.
    fn fine_specs(&self, int: &QuantSettings) -> Vec<RowSpec> {
        let cols = self.data.row_len();
        let rotations = [Rotation::None, Rotation::Hadamard(None)];
        let mut specs = Vec::new();
        for &bits in &FINE_BITS {
            // Symmetric (absmax, no zero point to store): what per-channel and per-group
            // weight quantization mostly use; the comparison's key holds no scheme.
            let quant = QuantSettings {
                bits,
                scheme: Scheme::Symmetric,
                calibration: fine_calibration(int.calibration),
                ..*int
            };
            for rotate in rotations {
                if rotate != Rotation::None && rotate.block(cols).is_err() {
                    continue;
                }
                let grans = std::iter::once(Granularity::Tensor)
                    .filter(|_| rotate != Rotation::None)
                    .chain(FINE_GRANULARITIES);
                for granularity in grans {
                    if matches!(granularity, Granularity::Group(k) if k >= cols) {
                        continue;
                    }
                    specs.push(RowSpec::Fine {
                        quant,
                        granularity,
                        rotate,
                        named: quant.calibration != int.calibration,
                    });
                }
            }
        }
        specs
    }
}

/// The row of a [`RowSpec::Fine`] (its fields) with its metrics and bits per weight, or why it
/// could not be measured.
pub(crate) fn fine_row(
    quant: QuantSettings,
    (granularity, rotate): (Granularity, Rotation),
    named: bool,
    run: Result<(Metrics, f64)>,
) -> FormatRow {
    let rot = if rotate == Rotation::None {
        ""
    } else {
        " + hadamard"
    };
    let named = if named {
        format!(" {}", quant.calibration.label())
    } else {
        String::new()
    };
    let bits_per_weight = run.as_ref().map_or(f64::NAN, |r| r.1);
    FormatRow {
        label: format!(
            "int{} {} {granularity}{rot}{named}",
            quant.bits, quant.scheme
        ),
        format: None,
        int: Some(quant),
        bits_per_weight,
        outcome: run.map(|r| r.0).map_err(|e| e.to_string()),
        fine: Some((granularity, rotate)),
    }
}

/// The calibration of the comparison's finer-scale rows: the chosen one, except KL, whose
/// search over 1,921 thresholds of a 2,048-bin histogram per row or group (exact, and a few ms
/// each) would take minutes for the groups of a large matrix; those rows take min-max (absmax)
/// and say so.
pub fn fine_calibration(c: Calibration) -> Calibration {
    match c {
        Calibration::Kl => Calibration::MinMax,
        other => other,
    }
}

/// Over `e = x - f64(x̂)`: numpy's pairwise `np.sum(e ** 2)`, the largest `|e|` and the largest
/// `|x̂|`, in one pass that makes no array of errors. Natively the top of the pairwise tree runs
/// on threads ([`crate::par`]), so the sum is the same bits.
pub fn error_sums(xs: &[f64], deq: &[f32]) -> (f64, f64, f64) {
    let n = xs.len().min(deq.len());
    let xs = &xs[..n];
    let base = xs.as_ptr() as usize;
    crate::par::pairwise_map(
        xs,
        &|part| {
            // `part` is a piece of `xs`: its values' indices start at its offset in `xs`.
            let off = (part.as_ptr() as usize - base) / std::mem::size_of::<f64>();
            let d = &deq[off..off + part.len()];
            pairwise_tree_indexed(
                part.len(),
                &mut |start, len| leaf_sums(&part[start..start + len], &d[start..start + len]),
                &combine,
            )
        },
        &combine,
    )
}

/// [`error_sums`] of one leaf (at most [`BLOCK`] values): the squares in a buffer, then numpy's
/// leaf sum over it, plain loops that vectorize.
#[inline(always)]
fn leaf_sums<X: Copy>(x: &[X], y: &[f32]) -> (f64, f64, f64)
where
    f64: From<X>,
{
    let mut sq = [0.0f64; BLOCK];
    let (mut max_abs, mut deq_max) = (0.0f64, 0.0f64);
    for ((s, &x), &y) in sq.iter_mut().zip(x).zip(y) {
        let y = <f64 as From<f32>>::from(y);
        let e = f64::from(x) - y;
        *s = e * e;
        max_abs = larger(max_abs, e.abs());
        deq_max = larger(deq_max, y.abs());
    }
    let len = x.len().min(y.len()).min(BLOCK);
    (leaf_sum(&sq[..len], &mut |v| v), max_abs, deq_max)
}

/// [`error_sums`] of `format`'s quantization (blocks of `block`) of `xs`, float32, against
/// `given`, the values as given (`None` where they are `xs` exactly), and the count
/// [`Quantized::saturated`] gives; bit for bit as [`formats::quantize`] then [`error_sums`], but
/// without keeping the dequantized values: each thread quantizes its part a few blocks at a
/// time ([`Window`](formats::stream::Window)) and sums its leaves from them, so the pass reads
/// the values once and writes nothing the size of the data. With `codes` (as long as `xs`),
/// each value's code is written
/// there as the byte the format stores (Q8_0's in two's complement). Errors as
/// [`formats::quantize`] would, and where `given` or `codes` is not as long as `xs`.
pub fn streamed_error_sums(
    format: Format,
    block: usize,
    xs: &[f32],
    given: Option<&[f64]>,
    codes: Option<&mut [u8]>,
) -> Result<((f64, f64, f64), usize)> {
    let lengths = [given.map(<[f64]>::len), codes.as_ref().map(|c| c.len())];
    if let Some(len) = lengths.into_iter().flatten().find(|&len| len != xs.len()) {
        return Err(Error::Setting {
            name: "values",
            given: format!("{len} values as given or codes for {} values", xs.len()),
            expected: "the values as given and the codes as many as the values".into(),
        });
    }
    format.check_count(xs.len(), block)?;
    match codes {
        Some(out) => streamed(format, block, xs, given, out),
        None => streamed(format, block, xs, given, &mut vec![(); xs.len()]),
    }
}

/// Where [`streamed_error_sums`] puts codes: a byte each, or nowhere.
trait CodeSink: Send + Sized {
    /// The sink as bytes, where it keeps them.
    fn bytes(out: &mut [Self]) -> Option<&mut [u8]>;
}

impl CodeSink for u8 {
    fn bytes(out: &mut [u8]) -> Option<&mut [u8]> {
        Some(out)
    }
}

impl CodeSink for () {
    fn bytes(_: &mut [()]) -> Option<&mut [u8]> {
        None
    }
}

/// [`streamed_error_sums`] with its code sink.
fn streamed<O: CodeSink>(
    format: Format,
    block: usize,
    xs: &[f32],
    given: Option<&[f64]>,
    out: &mut [O],
) -> Result<((f64, f64, f64), usize)> {
    type Sums = ((f64, f64, f64), usize);
    let add = |a: Sums, b: Sums| (combine(a.0, b.0), a.1 + b.1);
    let base = xs.as_ptr() as usize;
    #[cfg(target_arch = "x86_64")]
    if let Some(fused) = formats::fast::Fused::of(format, xs) {
        let sums = crate::par::pairwise_map_mut(
            xs,
            out,
            &|part, out| {
                let a = (part.as_ptr() as usize - base) / std::mem::size_of::<f32>();
                fused.part(xs, given, a, a + part.len(), O::bytes(out))
            },
            &|a, b| Some(add(a?, b?)),
        );
        // Where a block cannot be quantized, the general path below finds it and names it.
        if let Some(sums) = sums {
            return Ok(sums);
        }
    }
    let streamer = Streamer::new(format, block, xs)?;
    crate::par::pairwise_map_mut(
        xs,
        out,
        &|part, out| {
            let off = (part.as_ptr() as usize - base) / std::mem::size_of::<f32>();
            streamed_part(&streamer, given, off..off + part.len(), O::bytes(out))
        },
        &|a, b| Ok(add(a?, b?)),
    )
}

/// [`streamed_error_sums`] of the values `range` of the streamer's tensor (with their codes
/// into `out`, where given, as long as the range): the sums numpy's pairwise tree makes over
/// that stretch alone.
pub(crate) fn streamed_part(
    streamer: &Streamer,
    given: Option<&[f64]>,
    range: std::ops::Range<usize>,
    mut out: Option<&mut [u8]>,
) -> Result<((f64, f64, f64), usize)> {
    let (format, xs) = (streamer.format(), streamer.values());
    let off = range.start;
    let mut window = streamer.window();
    let mut failed = None;
    let sums = pairwise_tree_indexed(
        range.len(),
        &mut |start, len| {
            let (a, b) = (off + start, off + start + len);
            let (c, y) = match window.get(a, b) {
                Ok(got) => got,
                Err(e) => {
                    failed.get_or_insert(e);
                    return ((0.0, 0.0, 0.0), 0);
                }
            };
            if let Some(out) = out.as_deref_mut() {
                for (o, &c) in out[start..start + len].iter_mut().zip(c) {
                    *o = c as u8;
                }
            }
            let sums = match given {
                Some(g) => leaf_sums(&g[a..b], y),
                None => leaf_sums(&xs[a..b], y),
            };
            (sums, formats::saturated_codes(format, c))
        },
        &|a: ((f64, f64, f64), usize), b: ((f64, f64, f64), usize)| (combine(a.0, b.0), a.1 + b.1),
    );
    failed.map_or(Ok(sums), Err)
}

/// `b` where it is larger, else `a`: `f64::max` for the magnitudes here (never NaN, never
/// -0.0) as a select, where `f64::max` is a library call on wasm32.
#[inline(always)]
fn larger(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Two parts' [`error_sums`] in order.
pub(crate) fn combine(a: (f64, f64, f64), b: (f64, f64, f64)) -> (f64, f64, f64) {
    (a.0 + b.0, larger(a.1, b.1), larger(a.2, b.2))
}

/// What the page's block strip and histogram show of a format's run.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatExtras {
    /// Each block's MSE ([`block_mse`](super::blocks::block_mse)).
    pub block_mse: Vec<f64>,
    /// The dequantized values counted in the given bins.
    pub dequantized: Histogram,
}

/// [`block_mse`](super::blocks::block_mse) of `q` (the values `xs` quantized in blocks of `block`) and its dequantized
/// values counted in `bins`, in one pass over them.
pub fn format_extras(xs: &[f64], q: &Quantized, block: usize, mut bins: Histogram) -> FormatExtras {
    let block = block.max(1);
    let block_mse = xs
        .chunks(block)
        .zip(q.dequantized.chunks(block))
        .map(|(x, d)| {
            let mut s = 0.0f64;
            for (&x, &d) in x.iter().zip(d) {
                let d = f64::from(d);
                let e = x - d;
                s += e * e;
                bins.add(d);
            }
            s / x.len().max(1) as f64
        })
        .collect();
    FormatExtras {
        block_mse,
        dequantized: bins,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate::Dataset;

    #[test]
    fn finer_rows_take_min_max_where_kl_is_chosen_and_say_so() {
        let xs: Vec<f64> = (0..64 * 128).map(|i| ((i as f64) * 0.37).sin()).collect();
        let data = Dataset::from_values(xs, "t")
            .unwrap()
            .with_shape(Some((64, 128)))
            .unwrap();
        let a = Analysis::new(data).unwrap();
        let kl = QuantSettings {
            bits: 8,
            scheme: Scheme::Symmetric,
            calibration: Calibration::Kl,
            ..QuantSettings::default()
        };
        let rows = a.fine_rows(&kl);
        let plain = a.fine_rows(&QuantSettings {
            calibration: Calibration::MinMax,
            ..kl
        });
        assert!(!rows.is_empty());
        assert_eq!(rows.len(), plain.len());
        for (r, p) in rows.iter().zip(&plain) {
            assert_eq!(r.int.unwrap().calibration, Calibration::MinMax);
            assert_eq!(r.outcome, p.outcome);
            assert_eq!(r.label, format!("{} min-max", p.label), "{}", r.label);
        }
    }

    #[test]
    fn the_extras_pass_gives_what_the_separate_passes_give() {
        use crate::analysis::blocks::block_mse;
        for n in [1, 7, 100, 1000, 4097] {
            let xs: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.37).sin() * 5.0).collect();
            let deq: Vec<f32> = xs.iter().map(|&x| (x * 2.0).round() as f32 / 2.0).collect();
            let q = Quantized {
                codes: vec![0; n],
                dequantized: deq.clone(),
                scales: Vec::new(),
                block: 32,
                saturated: 0,
            };
            for block in [32, 64, 256, n] {
                let bins = Histogram::new(-5.2, 5.2, 120);
                let got = format_extras(&xs, &q, block, bins.clone());
                let want = block_mse(&xs, &q, block);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got.block_mse), bits(&want), "n={n} block={block}");
                let mut h = bins;
                for &d in &deq {
                    h.add(f64::from(d));
                }
                assert_eq!(got.dequantized, h);
            }
        }
    }

    /// Values with every kind of block in them: normal ones, an outlier per 5000, zeros, ties of
    /// halves, and blocks far below and far above 1 (the formats' hard cases).
    fn mixed_values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                let u = (formats::lcg(&mut s) >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                match (i / 256) % 7 {
                    0 => 0.0,
                    1 => (u * 32.0).round() * 0.5,
                    2 => u * 1e-30,
                    3 => u * 1e4,
                    _ if i % 5000 == 17 => 300.0 * u,
                    _ => u * 3.7,
                }
            })
            .collect()
    }

    #[test]
    fn streamed_sums_are_the_whole_run_s_for_every_format() {
        // Sizes with leaves and thread parts that cut blocks, and one that runs on threads.
        for (n, seed) in [(4096, 1), (4096 * 3 + 256, 2), (600_064, 3)] {
            let given = mixed_values(n, seed);
            // The values as given are float64; the same widened from float32 are exact.
            let (xs, exact) = formats::to_f32_exact(&given);
            assert!(!exact);
            let widened: Vec<f64> = xs.iter().map(|&x| f64::from(x)).collect();
            for format in Format::ALL {
                let block = format.block(None).unwrap();
                let q = formats::quantize(format, block, &xs).unwrap();
                for (values, as_given) in [(&given, Some(&given[..])), (&widened, None)] {
                    let mut codes = vec![0u8; n];
                    let (sums, saturated) =
                        streamed_error_sums(format, block, &xs, as_given, Some(&mut codes))
                            .unwrap();
                    let want = error_sums(values, &q.dequantized);
                    let bits = |t: (f64, f64, f64)| (t.0.to_bits(), t.1.to_bits(), t.2.to_bits());
                    assert_eq!(bits(sums), bits(want), "{format} n={n}");
                    assert_eq!(saturated, q.saturated, "{format} n={n}");
                    let bytes: Vec<u8> = q.codes.iter().map(|&c| c as u8).collect();
                    assert!(codes == bytes, "{format} n={n}");
                }
            }
        }
    }

    #[test]
    fn streamed_sums_refuse_values_or_codes_of_another_length() {
        let xs = vec![0.5f32; 256];
        let given = vec![0.5f64; 255];
        let mut codes = [0u8; 100];
        for (g, c) in [(Some(&given[..]), None), (None, Some(&mut codes[..]))] {
            assert!(streamed_error_sums(Format::Q4_0, 32, &xs, g, c).is_err());
        }
    }

    #[test]
    fn the_comparison_s_metrics_are_the_run_s() {
        for (given, shape) in [
            (mixed_values(8192, 4), None),
            // float32 values, read without their float64 copy, as a matrix
            (
                formats::to_f32(&mixed_values(4096, 5))
                    .iter()
                    .map(|&x| f64::from(x))
                    .collect(),
                Some((16, 256)),
            ),
            // errors whose squares underflow: the scaled sum, from the run made again
            (
                mixed_values(4096, 6).iter().map(|x| x * 1e-300).collect(),
                None,
            ),
        ] {
            let data = Dataset::from_values(given, "t").unwrap();
            let a = Analysis::new(data.with_shape(shape).unwrap()).unwrap();
            for format in Format::ALL {
                let run = a.format_run(format, None).unwrap();
                let (m, bits) = a.format_metrics(format, None).unwrap();
                assert_eq!(m, run.metrics, "{format}");
                assert_eq!(bits, run.bits_per_weight, "{format}");
            }
        }
        // A count the block does not divide: the run's own error.
        let a = Analysis::new(Dataset::from_values(vec![1.0; 100], "t").unwrap()).unwrap();
        assert_eq!(
            a.format_metrics(Format::Q4_0, None)
                .unwrap_err()
                .to_string(),
            a.format_run(Format::Q4_0, None).unwrap_err().to_string()
        );
    }

    #[test]
    fn error_sums_are_numpy_s_sum_of_the_squares_array() {
        // Sizes around numpy's leaf and split points, and one large enough to run on threads.
        for n in [0, 1, 7, 8, 127, 128, 129, 1000, 4097, 600_001] {
            let xs: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.37).sin() * 5.0).collect();
            let deq: Vec<f32> = xs.iter().map(|&x| (x * 2.0).round() as f32 / 2.0).collect();
            let squares: Vec<f64> = xs
                .iter()
                .zip(&deq)
                .map(|(&x, &d)| (x - f64::from(d)) * (x - f64::from(d)))
                .collect();
            let (sum, max_abs, deq_max) = error_sums(&xs, &deq);
            assert_eq!(
                sum.to_bits(),
                crate::quant::pairwise::pairwise_sum(&squares).to_bits(),
                "n={n}"
            );
            let want = xs
                .iter()
                .zip(&deq)
                .fold(0.0f64, |m, (&x, &d)| m.max((x - f64::from(d)).abs()));
            assert_eq!(max_abs, want, "n={n}");
            assert_eq!(
                deq_max,
                deq.iter().fold(0.0f64, |m, &d| m.max(f64::from(d).abs()))
            );
        }
    }

    /// The cosine by the plain definition: the largest magnitude found in its own pass, both
    /// sides scaled by `scalbn`.
    fn cosine_by_definition(xs: &[f64], deq: &[f32]) -> f64 {
        let top = xs
            .iter()
            .zip(deq)
            .fold(0.0f64, |a, (&x, &d)| a.max(x.abs()).max(f64::from(d).abs()));
        let k = if top > 0.0 && top.is_finite() {
            libm::ilogb(top)
        } else {
            0
        };
        let (mut xy, mut xx, mut yy) = (0.0f64, 0.0f64, 0.0f64);
        for (&x, &d) in xs.iter().zip(deq) {
            let (a, b) = (libm::scalbn(x, -k), libm::scalbn(f64::from(d), -k));
            xy += a * b;
            xx += a * a;
            yy += b * b;
        }
        if xx == 0.0 && yy == 0.0 {
            1.0
        } else if xx == 0.0 || yy == 0.0 {
            0.0
        } else {
            (xy / (xx.sqrt() * yy.sqrt())).clamp(-1.0, 1.0)
        }
    }

    /// The run's cosine (its largest magnitude taken from the error pass, the scaling a
    /// multiplication where the power of two is a normal float) is the definition's, bit for
    /// bit, on values of every magnitude a format takes.
    #[test]
    fn the_cosine_is_the_definition_s() {
        for mag in [1.0, 1e-30, 1e-38, 1e-44, 3e38, 6e4] {
            let xs: Vec<f64> = (0..1024)
                .map(|i| (((i * 7919) % 1024) as f64 - 512.0) / 512.0 * mag)
                .collect();
            let a = Analysis::new(Dataset::from_values(xs.clone(), "t").unwrap()).unwrap();
            for f in [Format::Q8_0, Format::Nf4, Format::Fp8E4m3, Format::Q4_K] {
                let Ok(run) = a.format_run(f, None) else {
                    continue;
                };
                let want = cosine_by_definition(&xs, &run.quantized.dequantized);
                assert_eq!(
                    run.similarity.cosine.to_bits(),
                    want.to_bits(),
                    "{f} at {mag}"
                );
            }
        }
    }
}
