//! One tensor of a model file measured in a format without holding it whole: its bytes are
//! decoded, quantized and measured a chunk at a time, so a tensor of any size takes a few
//! chunks' memory.
//!
//! The figures are the ones [`crate::analysis::Analysis::format_run`] gives for the same values,
//! bit for bit: the MSE and the signal power are numpy's pairwise sums, taken over the chunks
//! as one sequence in the same tree ([`pairwise_sum_seq`]), and every format's blocks are
//! local to a chunk (a chunk is a whole number of every block). A format with one scale for the
//! whole tensor (FP8) has its scale from the tensor's largest magnitude: each chunk is quantized
//! with that magnitude added as one more value, which gives the chunk the tensor's scale, and
//! that value is left out of the measure.

use crate::data::load::model::Elem;
use crate::error::{Error, Result};
use crate::quant::formats::{self, Format};
use crate::quant::pairwise::{pairwise_split, pairwise_sum_map};

/// numpy's leaf block of the pairwise sum.
const PAIRWISE_BLOCK: usize = 128;
use crate::quant::params::MeanSquare;

/// Values per chunk: a multiple of every block (the largest, NF4's, is 4096).
pub const CHUNK: usize = 1 << 20;

/// Appends values `start..start + len` (the arguments) of a sequence to the vector, or fails.
type Fill<'a> = dyn FnMut(usize, usize, &mut Vec<f64>) -> Result<()> + 'a;

/// A tensor's values as stored: its element type and exactly its bytes.
#[derive(Debug, Clone, Copy)]
pub struct TensorBytes<'a> {
    /// The element type.
    pub elem: Elem,
    /// The tensor's bytes, `len() / elem.width()` values.
    pub bytes: &'a [u8],
}

impl TensorBytes<'_> {
    /// How many values.
    pub fn len(&self) -> usize {
        self.bytes.len() / self.elem.width()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values `start..start + len` in float64, appended to `out`.
    fn chunk(&self, start: usize, len: usize, out: &mut Vec<f64>) {
        let w = self.elem.width();
        self.elem
            .decode_f64(&self.bytes[start * w..(start + len) * w], out);
    }
}

/// What the values are as a signal: their mean square and largest magnitude.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    /// How many values.
    pub n: usize,
    /// `mean(x²)` in the scaled form every SQNR is taken from.
    pub power: MeanSquare,
    /// `max |x|`.
    pub absmax: f64,
}

/// One format's error on one tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    /// `mean((x - x̂)²)`, numpy's pairwise mean.
    pub mse: f64,
    /// `10 log10(mean(x²) / mse)` in dB; +inf when exact.
    pub sqnr_db: f64,
    /// `max |x - x̂|`.
    pub max_abs_error: f64,
    /// Bits per weight, the scales included.
    pub bits_per_weight: f64,
}

/// `Σ term(v)` over `n` values in numpy's pairwise order, the values produced a chunk at a time
/// by `fill(start, len, out)`, which appends values `start..start + len` to `out`.
///
/// The tree is numpy's over the indices `0..n`; its leaves (at most 128 values) are summed from
/// a window over the chunks, which keeps the few values of a leaf that straddles two chunks.
fn chunked_sum(n: usize, fill: &mut Fill, term: impl Fn(f64) -> f64 + Copy) -> Result<f64> {
    struct Window<'f> {
        fill: &'f mut Fill<'f>,
        buf: Vec<f64>,
        spare: Vec<f64>,
        /// The index of `buf[0]`.
        base: usize,
        n: usize,
        failed: Option<Error>,
    }
    impl Window<'_> {
        /// Values `lo..hi`, requested in increasing order, at most one chunk long.
        fn get(&mut self, lo: usize, hi: usize) -> &[f64] {
            if hi > self.base + self.buf.len() {
                let end = self.base + self.buf.len();
                let keep = lo.max(self.base) - self.base;
                self.spare.clear();
                self.spare
                    .extend_from_slice(&self.buf[keep.min(self.buf.len())..]);
                let len = CHUNK.min(self.n - end);
                if self.failed.is_none() {
                    if let Err(e) = (self.fill)(end, len, &mut self.spare) {
                        self.failed = Some(e);
                    }
                }
                // After a failure the values do not matter: the sum is thrown away.
                let want = self.spare.len().max(hi - lo);
                self.spare
                    .resize(want.max(end + len - (self.base + keep)), 0.0);
                std::mem::swap(&mut self.buf, &mut self.spare);
                self.base += keep;
            }
            &self.buf[lo - self.base..hi - self.base]
        }
    }
    fn tree(w: &mut Window, lo: usize, hi: usize, term: impl Fn(f64) -> f64 + Copy) -> f64 {
        let n = hi - lo;
        if n <= PAIRWISE_BLOCK {
            pairwise_sum_map(w.get(lo, hi), &mut |x| term(x))
        } else {
            let n2 = pairwise_split(n);
            let a = tree(w, lo, lo + n2, term);
            a + tree(w, lo + n2, hi, term)
        }
    }
    let mut w = Window {
        fill,
        buf: Vec::new(),
        spare: Vec::new(),
        base: 0,
        n,
        failed: None,
    };
    let sum = tree(&mut w, 0, n, term);
    match w.failed {
        Some(e) => Err(e),
        None => Ok(sum),
    }
}

/// The mean square of `n` terms whose numpy mean is `plain` and largest magnitude `max_abs`:
/// a second, scaled pass only where `plain` is not a normal number (as
/// [`MeanSquare::of_values`]).
fn mean_square(n: usize, plain: f64, max_abs: f64, fill: &mut Fill) -> Result<MeanSquare> {
    if plain.is_normal() || (plain == 0.0 && max_abs == 0.0) || n == 0 {
        return Ok(MeanSquare::plain(plain));
    }
    if !max_abs.is_finite() {
        return Ok(MeanSquare {
            plain,
            scaled: f64::INFINITY,
            k: 0,
        });
    }
    let k = libm::ilogb(max_abs);
    let scaled = chunked_sum(n, fill, |v| {
        let s = libm::scalbn(v, -k);
        s * s
    })? / n as f64;
    Ok(MeanSquare { plain, scaled, k })
}

/// The tensor's signal: one pass for `mean(x²)` and `max |x|`; an error where a value is not
/// finite (naming how many and the first).
pub fn signal(t: TensorBytes) -> Result<Signal> {
    let n = t.len();
    if n == 0 {
        return Err(Error::EmptyData);
    }
    let (mut absmax, mut nonfinite, mut first) = (0.0f64, 0usize, None);
    let mut fill = |start: usize, len: usize, out: &mut Vec<f64>| -> Result<()> {
        let from = out.len();
        t.chunk(start, len, out);
        let new = &out[from..];
        // Branch-free over the chunk; where a value is not finite, a second look finds it.
        let (mut top, mut bad) = (0.0f64, 0usize);
        for &x in new {
            let a = x.abs();
            top = if a > top { a } else { top };
            bad += usize::from(!x.is_finite());
        }
        if bad > 0 {
            nonfinite += bad;
            if first.is_none() {
                first = new
                    .iter()
                    .position(|x| !x.is_finite())
                    .map(|i| (start + i, new[i]));
            }
        } else {
            absmax = absmax.max(top);
        }
        Ok(())
    };
    let sum = chunked_sum(n, &mut fill, |x| x * x)?;
    if let Some((first_index, first_value)) = first {
        return Err(Error::NonFinite {
            count: nonfinite,
            first_index,
            first_value,
        });
    }
    let mut fill = |start: usize, len: usize, out: &mut Vec<f64>| -> Result<()> {
        t.chunk(start, len, out);
        Ok(())
    };
    let power = mean_square(n, sum / n as f64, absmax, &mut fill)?;
    Ok(Signal { n, power, absmax })
}

/// An error where a value is beyond float32's range, counted over the whole tensor as
/// [`formats::check_f32_range`] counts it over all the values: looked for only where the
/// largest magnitude is beyond it.
fn check_f32_range(t: TensorBytes, s: &Signal) -> Result<()> {
    if !(s.absmax as f32).is_infinite() {
        return Ok(());
    }
    let n = t.len();
    let (mut count, mut first) = (0usize, None);
    let mut buf = Vec::new();
    for start in (0..n).step_by(CHUNK) {
        buf.clear();
        t.chunk(start, CHUNK.min(n - start), &mut buf);
        if let Err(Error::BeyondFloat32 {
            count: c,
            first_index,
            first_value,
        }) = formats::check_f32_range(&buf)
        {
            count += c;
            first.get_or_insert((start + first_index, first_value));
        }
    }
    match first {
        Some((first_index, first_value)) => Err(Error::BeyondFloat32 {
            count,
            first_index,
            first_value,
        }),
        None => Ok(()),
    }
}

/// The tensor quantized in `format` (its default block) and measured against its values, a
/// chunk at a time: the figures [`crate::analysis::Analysis::format_run`] gives for the same
/// values. An error where the format cannot take the tensor (a count its block does not
/// divide, a scale beyond what it stores).
pub fn measure(t: TensorBytes, s: &Signal, format: Format) -> Result<Measure> {
    let n = t.len();
    let block = format.block(None)?;
    check_f32_range(t, s)?;
    format.check_count(n, block)?;
    // A per-tensor scale comes from the largest magnitude, given to every chunk.
    let extra = (block == 0).then_some(s.absmax as f32);
    let mut xs32: Vec<f32> = Vec::new();
    // Values `start .. start + len` appended to `out` as their errors `x - x̂`; returns where
    // they start in `out`.
    let mut errors = |start: usize, len: usize, out: &mut Vec<f64>| -> Result<usize> {
        let from = out.len();
        t.chunk(start, len, out);
        let new = &mut out[from..];
        xs32.clear();
        xs32.extend(new.iter().map(|&x| x as f32));
        xs32.extend(extra);
        let chunk_block = if block == 0 { xs32.len() } else { block };
        let q = formats::quantize(format, chunk_block, &xs32)?;
        for (x, &d) in new.iter_mut().zip(&q.dequantized) {
            *x -= f64::from(d);
        }
        Ok(from)
    };
    let mut max_abs = 0.0f64;
    let mut fill = |start: usize, len: usize, out: &mut Vec<f64>| -> Result<()> {
        let from = errors(start, len, out)?;
        let top = out[from..]
            .iter()
            .fold(0.0f64, |m, x| if x.abs() > m { x.abs() } else { m });
        max_abs = max_abs.max(top);
        Ok(())
    };
    let sum = chunked_sum(n, &mut fill, |e| e * e)?;
    let plain = sum / n as f64;
    let ms = if plain.is_normal() || plain == 0.0 && max_abs == 0.0 {
        MeanSquare::plain(plain)
    } else {
        let mut fill = |start: usize, len: usize, out: &mut Vec<f64>| -> Result<()> {
            errors(start, len, out).map(|_| ())
        };
        mean_square(n, plain, max_abs, &mut fill)?
    };
    let mse = ms.value();
    if !mse.is_finite() {
        return Err(Error::MseOverflow {
            absmax: s.absmax,
            max_abs_error: max_abs,
        });
    }
    Ok(Measure {
        mse,
        sqnr_db: s.power.ratio_db(&ms),
        max_abs_error: max_abs,
        bits_per_weight: format.bits_per_weight(n, if block == 0 { n } else { block }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Analysis;
    use crate::data::generate::Dataset;

    /// float64 values beyond float32's range are counted alike by the chunked measure and by
    /// the analysis, over the whole tensor (two chunks here), for every format: they are no
    /// infinities, and nothing else is counted with them (FP8's scale is no value).
    #[test]
    fn values_beyond_float32_are_named_alike_in_every_format() {
        let n = CHUNK + 64;
        let mut xs: Vec<f64> = (0..n).map(|i| (i as f64 * 0.618).sin()).collect();
        xs[5] = -1e300;
        xs[CHUNK + 3] = 1e300;
        xs[7] = 3.5e38;
        // Rounds to float32's largest: within range.
        xs[9] = 3.4028235e38;
        let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
        let t = TensorBytes {
            elem: Elem::F64,
            bytes: &bytes,
        };
        let s = signal(t).unwrap();
        let a = Analysis::new(Dataset::from_tensor(xs, "t").unwrap()).unwrap();
        let want = Error::BeyondFloat32 {
            count: 3,
            first_index: 5,
            first_value: -1e300,
        };
        for f in Format::ALL {
            assert_eq!(measure(t, &s, f).unwrap_err(), want, "{f}");
            assert_eq!(a.format_run(f, None).unwrap_err(), want, "{f}");
            assert_eq!(a.format_metrics(f, None).unwrap_err(), want, "{f}");
        }
        assert_eq!(
            want.to_string(),
            "3 values are beyond float32's range (the first is -1e300 at index 5): every format but int computes in float32, as its reference does; int computes in float64"
        );
    }

    /// Chunked figures are `format_run`'s, bit for bit, over more than one chunk.
    #[test]
    fn chunked_measure_is_format_runs() {
        let n = CHUNK + 3 * 4096;
        let xs: Vec<f32> = (0..n)
            .map(|i| (i as f32 * 0.618).sin() * 3.0 + if i % 1000 == 7 { 40.0 } else { 0.0 })
            .collect();
        let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
        let t = TensorBytes {
            elem: Elem::F32,
            bytes: &bytes,
        };
        let s = signal(t).unwrap();
        let values: Vec<f64> = xs.iter().map(|&x| f64::from(x)).collect();
        let a = Analysis::new(Dataset::from_values(values, "t").unwrap()).unwrap();
        for f in [
            Format::Q8_0,
            Format::Q4_K,
            Format::Nf4,
            Format::Fp8E4m3,
            Format::Nvfp4,
        ] {
            let m = measure(t, &s, f).unwrap();
            let r = a.format_run(f, None).unwrap();
            assert_eq!(m.mse.to_bits(), r.metrics.mse.to_bits(), "{f}");
            assert_eq!(m.sqnr_db.to_bits(), r.metrics.sqnr_db.to_bits(), "{f}");
            assert_eq!(m.max_abs_error, r.metrics.max_abs_error, "{f}");
            assert_eq!(m.bits_per_weight, r.bits_per_weight, "{f}");
        }
    }

    #[test]
    fn counts_a_block_does_not_divide_and_nonfinite_values_are_errors() {
        let bytes: Vec<u8> = [1.0f32, 2.0, 3.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let t = TensorBytes {
            elem: Elem::F32,
            bytes: &bytes,
        };
        let s = signal(t).unwrap();
        let e = measure(t, &s, Format::Q8_0).unwrap_err().to_string();
        assert!(e.contains("blocks of 32"), "{e}");
        let bytes: Vec<u8> = [1.0f32, f32::NAN]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let t = TensorBytes {
            elem: Elem::F32,
            bytes: &bytes,
        };
        assert!(matches!(
            signal(t),
            Err(Error::NonFinite {
                count: 1,
                first_index: 1,
                ..
            })
        ));
    }
}
