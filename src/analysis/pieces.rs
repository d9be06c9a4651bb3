//! A row of the comparison of every format measured a piece at a time, so that a page which
//! measures a large tensor's comparison between its events answers a click within one piece's
//! time rather than one row's (a K-quant row of a 45M-value layer takes a second in wasm).
//!
//! Every sum a row's metrics take is numpy's pairwise sum, over the values or over the units.
//! The pieces are the subtrees of the values' pairwise tree that hold at most `piece` values
//! ([`pairwise_pieces`]); each is measured alone, as the whole pass measures that stretch, and
//! their sums are added up the same tree, so a row made in pieces is [`Analysis::format_row`]'s
//! bit for bit. An int row with finer scales quantizes the whole rows a piece touches (its
//! units lie within rows, and so do its rotation's blocks) and keeps the units that start in
//! the piece; a rotated row with one min-max scale for the tensor first finds the rotated
//! range in a pass over the pieces. The rest (int rows without rotation, which take a few
//! passes over the data, one scale calibrated otherwise, rows longer than a quarter piece) are
//! measured whole, as is a row whose settings the data does not fit (the whole run says why).

use super::formats::{combine, fine_row, int_bits_of, streamed_part, FormatRow, RowSpec};
use super::granular::{dequantize_in_place, error_between};
use super::metrics::Metrics;
use super::Analysis;
use crate::error::{Error, Result};
use crate::quant::calibrate::{calibrate, min_max, DataStats};
use crate::quant::formats::stream::Streamer;
use crate::quant::formats::Format;
use crate::quant::granularity::{quantize_units, Granularity, Units};
use crate::quant::pairwise::{pairwise_pieces, pairwise_sum};
use crate::quant::params::{ErrorStats, QuantParams};
use crate::quant::rotate::rotate_blocks;
use crate::settings::{Calibration, QuantSettings};

/// The values a page measures at a time: a K-quant piece takes about 50 ms in wasm.
pub const PIECE: usize = 1 << 21;

/// A row being measured: its spec, its pieces' bounds and what the pieces measured so far.
#[derive(Debug, Clone)]
pub struct RowJob {
    spec: RowSpec,
    /// The largest piece; the pieces are [`pairwise_pieces`] of the values at this size.
    piece: usize,
    /// The pieces' bounds, in order.
    pieces: Vec<(usize, usize)>,
    /// What each piece measured, in order: the sums of the squared errors, the largest error
    /// and (for a format) of the dequantized values, and a count of saturated (for an int
    /// row, clipped) values.
    sums: Vec<Sums>,
    kind: Kind,
}

/// [`super::formats::streamed_error_sums`]'s sums and count.
type Sums = ((f64, f64, f64), usize);

#[derive(Debug, Clone)]
enum Kind {
    /// A format with its block, and FP8's scale once found.
    Format {
        format: Format,
        block: usize,
        fp8_scale: Option<f32>,
    },
    /// An int scheme with finer scales: its units, its rotation's block, and each unit's
    /// squared error sum (in the basis quantized). A piece's sums are its units' (without a
    /// rotation) or its values' in the original basis (with one).
    Fine {
        quant: QuantSettings,
        units: Units,
        rotate: Option<usize>,
        unit_sums: Vec<f64>,
    },
    /// An int scheme with min-max calibration and one scale for the whole rotated tensor:
    /// a first pass over the pieces finds the rotated values' range (`scanned` pieces so
    /// far), then the second quantizes with the parameters it gives.
    Tensor {
        quant: QuantSettings,
        rotate: usize,
        scanned: usize,
        range: (f64, f64),
        params: Option<QuantParams>,
    },
}

impl Analysis {
    /// A job measuring `spec`'s row in pieces of at most `piece` values, or `None` where the
    /// row is measured whole ([`Analysis::format_row`]): data of at most two pieces, an int row
    /// with one scale per tensor, rows longer than a quarter piece, settings that do not parse
    /// for this shape.
    pub fn row_job(&self, spec: &RowSpec, piece: usize) -> Option<RowJob> {
        let n = self.values().len();
        let piece = piece.max(1);
        if n <= piece.saturating_mul(2) {
            return None;
        }
        let kind = match *spec {
            RowSpec::Int(_) => return None,
            // Settings the data does not fit fail in the first piece, and the row is then
            // measured whole, which says why.
            RowSpec::Format(format, block) => {
                let block = format.block(block).ok()?;
                Kind::Format {
                    format,
                    block,
                    fp8_scale: None,
                }
            }
            RowSpec::Fine {
                quant,
                granularity,
                rotate,
                ..
            } => {
                let (_, cols) = self.data.shape?;
                // A piece quantizes the rows it touches: rows much shorter than a piece.
                if cols > piece / 4 {
                    return None;
                }
                if granularity == Granularity::Tensor {
                    // One scale: only min-max finds it from a range pieces can find.
                    if quant.calibration != Calibration::MinMax {
                        return None;
                    }
                    return Some(Kind::Tensor {
                        quant,
                        rotate: rotate.block(cols).ok()??,
                        scanned: 0,
                        range: (f64::INFINITY, f64::NEG_INFINITY),
                        params: None,
                    })
                    .map(|kind| self.job(spec, piece, kind));
                }
                Kind::Fine {
                    quant,
                    units: self.units(granularity).ok()?,
                    rotate: rotate.block(cols).ok()?,
                    unit_sums: Vec::new(),
                }
            }
        };
        Some(self.job(spec, piece, kind))
    }

    fn job(&self, spec: &RowSpec, piece: usize, kind: Kind) -> RowJob {
        let mut pieces = Vec::new();
        pairwise_pieces(
            self.values().len(),
            piece,
            &mut |start, len| pieces.push((start, start + len)),
            &|(), ()| (),
        );
        RowJob {
            spec: *spec,
            piece,
            pieces,
            sums: Vec::new(),
            kind,
        }
    }

    /// Measures the job's next piece; the row once the last is measured. A piece that fails
    /// (the data changed under the job, or a block no format can hold) gives the row measured
    /// whole, which says what is wrong.
    pub fn row_job_step(&self, job: &mut RowJob) -> Option<FormatRow> {
        let next = match job.kind {
            Kind::Tensor {
                scanned,
                params: None,
                ..
            } => scanned,
            _ => job.sums.len(),
        };
        if let Some(&(a, b)) = job.pieces.get(next) {
            match self.measure_piece(&mut job.kind, &job.pieces, a, b) {
                Ok(Some(sums)) => job.sums.push(sums),
                Ok(None) => {}
                Err(_) => return Some(self.format_row(&job.spec)),
            }
        }
        (job.sums.len() >= job.pieces.len()).then(|| self.finish(job))
    }

    /// Values `a..b` (one piece) measured with `kind`; `None` for a piece of a first pass.
    fn measure_piece(
        &self,
        kind: &mut Kind,
        pieces: &[(usize, usize)],
        a: usize,
        b: usize,
    ) -> Result<Option<Sums>> {
        // The whole rows piece `a..b` touches, and where it lies in them.
        let cols = self.data.row_len();
        let (from, to) = (a / cols * cols, b.div_ceil(cols) * cols);
        // The pieces are of these values; were they not, the row is measured whole.
        let xs = self.values().get(from..to).ok_or(Error::EmptyData)?;
        let (i, j) = (a - from, b - from);
        let sums = match kind {
            Kind::Format {
                format,
                block,
                fp8_scale,
            } => {
                let given = (!self.values_are_f32()).then(|| self.values());
                let xs = self.values_f32()?;
                let s = Streamer::with_scale(*format, *block, xs, *fp8_scale)?;
                *fp8_scale = s.fp8_scale();
                streamed_part(&s, given, a..b, None)?
            }
            Kind::Fine {
                quant,
                units,
                rotate,
                unit_sums,
            } => {
                // The same units, over the rows `from..to` hold.
                let sub = Units {
                    rows: (to - from) / cols,
                    ..*units
                };
                let mut ys = xs.to_vec();
                if let Some(k) = *rotate {
                    rotate_blocks(&mut ys, k);
                }
                let run = quantize_units(&ys, &sub, quant, &mut [])?;
                // The units that start in this piece: each unit is counted once, in order.
                let (mut max_abs, mut clipped) = (0.0, 0);
                for (i, e) in run.errors.iter().enumerate() {
                    if (a..b).contains(&(from + sub.range(i).start)) {
                        unit_sums.push(e.sum_sq);
                        clipped += e.clipped;
                        max_abs = f64::max(max_abs, e.max_abs);
                    }
                }
                let Some(k) = *rotate else {
                    return Ok(Some(((0.0, max_abs, 0.0), clipped)));
                };
                dequantize_in_place(&mut ys, &sub, &run);
                rotate_blocks(&mut ys, k);
                let e = error_between(&xs[i..j], &ys[i..j], 0);
                ((e.sum_sq, e.max_abs, 0.0), clipped)
            }
            Kind::Tensor {
                quant,
                rotate,
                scanned,
                range,
                params,
            } => {
                let mut ys = xs.to_vec();
                rotate_blocks(&mut ys, *rotate);
                let Some(p) = params else {
                    let (lo, hi) = min_max(&ys[i..j])?;
                    *range = (range.0.min(lo), range.1.max(hi));
                    *scanned += 1;
                    if *scanned == pieces.len() {
                        // What one unit's min-max calibration makes of the whole range.
                        let (min, max) = *range;
                        let stats = DataStats {
                            n: self.values().len(),
                            min,
                            max,
                            absmax: min.abs().max(max.abs()),
                            mean_sq: 0.0,
                        };
                        *params = Some(calibrate(&[], &stats, quant)?);
                    }
                    return Ok(None);
                };
                let clipped = p.error_stats(&ys[i..j]).clipped;
                for y in &mut ys {
                    *y = p.fake_quantize(*y);
                }
                rotate_blocks(&mut ys, *rotate);
                let e = error_between(&xs[i..j], &ys[i..j], 0);
                ((e.sum_sq, e.max_abs, 0.0), clipped)
            }
        };
        Ok(Some(sums))
    }

    /// The row from its pieces' sums, added up the values' pairwise tree.
    fn finish(&self, job: &RowJob) -> FormatRow {
        let n = self.values().len();
        let mut it = job.sums.iter();
        let (sums, count) = pairwise_pieces(
            n,
            job.piece,
            &mut |_, _| it.next().copied().unwrap_or(((0.0, 0.0, 0.0), 0)),
            &|(x, c), (y, d)| (combine(x, y), c + d),
        );
        match (&job.kind, job.spec) {
            (&Kind::Format { format, block, .. }, RowSpec::Format(_, spec_block)) => {
                let outcome = self.format_metrics_of(format, block, sums, count);
                self.format_row_of(format, spec_block, outcome)
            }
            (
                kind,
                RowSpec::Fine {
                    granularity,
                    rotate,
                    named,
                    ..
                },
            ) => {
                // Without a rotation the error is the units' (summed in the pairwise order over
                // the units); with one, the error in the original basis, over the values.
                let (quant, sum_sq, bits) = match kind {
                    Kind::Fine {
                        quant,
                        units,
                        rotate,
                        unit_sums,
                    } => {
                        let sum_sq = if rotate.is_none() {
                            pairwise_sum(unit_sums)
                        } else {
                            sums.0
                        };
                        (*quant, sum_sq, units.bits_per_weight(quant))
                    }
                    Kind::Tensor { quant, .. } => {
                        (*quant, sums.0, int_bits_of(quant.bits, quant.scheme, n))
                    }
                    Kind::Format { .. } => return self.format_row(&job.spec),
                };
                let e = ErrorStats {
                    n,
                    sum_sq,
                    max_abs: sums.1,
                    clipped: count,
                };
                let metrics = Metrics::new(&e, self.stats.mean_sq);
                fine_row(quant, (granularity, rotate), named, Ok((metrics, bits)))
            }
            _ => self.format_row(&job.spec),
        }
    }
}

// proptest is a native dev-dependency.
#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;
    use crate::data::generate::Dataset;
    use crate::settings::{Calibration, Scheme};
    use proptest::prelude::*;
    use rand::SeedableRng;

    /// `rows x cols` seeded values: normal, each row scaled, some outliers; rounded to float32
    /// or not.
    fn data(rows: usize, cols: usize, seed: u64, f32_exact: bool) -> Analysis {
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        let xs: Vec<f64> = (0..rows * cols)
            .map(|i| {
                let row_scale = 1.0 + (i / cols % 7) as f64;
                let mut x = (rng.random::<f64>() - 0.5) * row_scale;
                if rng.random::<f64>() < 0.002 {
                    x *= 300.0;
                }
                if f32_exact {
                    f64::from(x as f32)
                } else {
                    x
                }
            })
            .collect();
        let d = Dataset::from_values(xs, "t").unwrap();
        Analysis::new(d.with_shape(Some((rows, cols))).unwrap()).unwrap()
    }

    /// Every row of the comparison, in pieces where it can be cut, and how many were.
    fn in_pieces(a: &Analysis, specs: &[RowSpec], piece: usize) -> (Vec<FormatRow>, usize) {
        let mut cut = 0;
        let rows = specs
            .iter()
            .map(|spec| match a.row_job(spec, piece) {
                Some(mut job) => {
                    cut += 1;
                    let mut steps = 0;
                    loop {
                        steps += 1;
                        if let Some(row) = a.row_job_step(&mut job) {
                            // All pieces (twice for one rotated scale), or the first where
                            // the data does not fit the format.
                            let n = job.pieces.len();
                            assert!([1, n, 2 * n].contains(&steps), "{spec:?}");
                            break row;
                        }
                    }
                }
                None => a.format_row(spec),
            })
            .collect();
        (rows, cut)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// Rows measured in pieces are the rows measured whole, to the last bit (compared as
        /// their debug text, in which every float prints exactly).
        #[test]
        fn rows_in_pieces_are_the_whole_rows(
            shape in prop::sample::select(vec![(37usize, 256usize), (24, 96), (20, 512), (33, 100)]),
            piece in prop::sample::select(vec![128usize, 700, 2048]),
            seed in 0u64..1000,
            f32_exact in any::<bool>(),
            bits in prop::sample::select(vec![3u32, 4, 8]),
            kl in any::<bool>(),
        ) {
            let a = data(shape.0, shape.1, seed, f32_exact);
            let int = QuantSettings {
                bits,
                scheme: if kl { Scheme::Symmetric } else { Scheme::Asymmetric },
                calibration: if kl { Calibration::Kl } else { Calibration::MinMax },
                ..QuantSettings::default()
            };
            let specs = a.every_format_specs(&Format::ALL, None, &int, &[4, 8]);
            let whole: Vec<FormatRow> = specs.iter().map(|s| a.format_row(s)).collect();
            let (cut, count) = in_pieces(&a, &specs, piece);
            prop_assert!(count > 0 || shape.0 * shape.1 <= 2 * piece);
            prop_assert_eq!(format!("{cut:?}"), format!("{whole:?}"));
        }
    }

    #[test]
    fn small_data_int_rows_and_one_scale_rows_are_measured_whole() {
        let a = data(16, 64, 1, true);
        let q = QuantSettings::default();
        assert!(a.row_job(&RowSpec::Int(q), 100).is_none());
        assert!(a
            .row_job(&RowSpec::Format(Format::Q4_0, None), 512)
            .is_none());
        assert!(a
            .row_job(&RowSpec::Format(Format::Q4_0, None), 128)
            .is_some());
        let fine = |granularity| RowSpec::Fine {
            quant: q,
            granularity,
            rotate: crate::settings::Rotation::Hadamard(None),
            named: false,
        };
        assert!(a.row_job(&fine(Granularity::Tensor), 256).is_some());
        let mse = RowSpec::Fine {
            quant: QuantSettings {
                calibration: Calibration::Mse,
                ..q
            },
            granularity: Granularity::Tensor,
            rotate: crate::settings::Rotation::Hadamard(None),
            named: false,
        };
        assert!(a.row_job(&mse, 256).is_none());
        assert!(a.row_job(&fine(Granularity::Channel), 256).is_some());
        // Rows longer than a quarter piece are not cut.
        assert!(a.row_job(&fine(Granularity::Channel), 200).is_none());
        // A count the format's block does not divide: the first piece gives the whole row,
        // which says so.
        let b = data(10, 100, 1, true);
        let spec = RowSpec::Format(Format::Q4_K, None);
        let mut job = b.row_job(&spec, 128).unwrap();
        let row = b.row_job_step(&mut job).unwrap();
        assert_eq!(row, b.format_row(&spec));
        assert!(row.outcome.unwrap_err().contains("256"));
    }
}
