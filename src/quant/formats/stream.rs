//! A format's quantization made a few blocks at a time, for a pass that needs each value's code
//! and dequantized value once and keeps none of them: the error of a format on a large tensor
//! then reads the values once and writes nothing the size of the tensor.
//!
//! Every format but FP8 quantizes each block from that block's values alone, so a piece cut at
//! block boundaries gives the whole tensor's result for its values ([`super::parts`] relies on
//! the same); FP8's pieces are cast with the whole tensor's scale ([`fp8::tensor_scale`]).

use super::fp8::{self, Fp8};
use super::{quantize, Format, Quantized};
use crate::error::{Error, Result};

/// Values quantized at a time: a multiple of every block (NF4's largest is 4096), small enough
/// that a piece's outputs stay in the core's cache.
const PIECE: usize = 4096;

/// What a [`Window`] quantizes: a format, its block and the whole tensor (float32).
#[derive(Debug, Clone, Copy)]
pub struct Streamer<'a> {
    format: Format,
    block: usize,
    xs: &'a [f32],
    /// Pieces start at multiples of this: the block, or 1 for FP8.
    align: usize,
    /// FP8's kind and the whole tensor's scale.
    fp8: Option<(Fp8, f32)>,
}

impl<'a> Streamer<'a> {
    /// `format` with blocks of `block` (from [`Format::block`]) over `xs`. Errors where the
    /// block does not divide the count; FP8's scale is found here, in one pass.
    pub fn new(format: Format, block: usize, xs: &'a [f32]) -> Result<Streamer<'a>> {
        Self::with_scale(format, block, xs, None)
    }

    /// [`Streamer::new`] with FP8's scale given where it was found before
    /// ([`Streamer::fp8_scale`] of a streamer over the same values), so that a pass resumed
    /// later need not read the whole tensor again.
    pub fn with_scale(
        format: Format,
        block: usize,
        xs: &'a [f32],
        scale: Option<f32>,
    ) -> Result<Streamer<'a>> {
        format.check_count(xs.len(), block)?;
        let kind = match format {
            Format::Fp8E4m3 => Some(Fp8::E4m3),
            Format::Fp8E5m2 => Some(Fp8::E5m2),
            _ => None,
        };
        let fp8 = kind.map(|k| (k, scale.unwrap_or_else(|| fp8::tensor_scale(xs, k))));
        let align = if fp8.is_some() { 1 } else { block.max(1) };
        Ok(Streamer {
            format,
            block,
            xs,
            align,
            fp8,
        })
    }

    /// FP8's scale for the whole tensor; `None` for the other formats.
    pub fn fp8_scale(&self) -> Option<f32> {
        self.fp8.map(|(_, scale)| scale)
    }

    /// The format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The whole tensor.
    pub fn values(&self) -> &'a [f32] {
        self.xs
    }

    /// A window with nothing quantized yet.
    pub fn window(&self) -> Window<'a> {
        Window {
            from: *self,
            start: 0,
            codes: Vec::new(),
            deq: Vec::new(),
        }
    }

    /// Values `a..b` (`a` a multiple of `align`, `b` too or the end) quantized.
    fn piece(&self, a: usize, b: usize) -> Result<Quantized> {
        let xs = &self.xs[a..b];
        let q = match self.fp8 {
            // `quantize` refuses values that are not finite; a piece does too.
            Some((kind, scale)) => {
                super::check_finite(xs).map(|()| fp8::quantize_with_scale(xs, kind, scale))
            }
            None => quantize(self.format, self.block, xs),
        };
        // A value that is not finite is named as the whole tensor's check names it.
        q.map_err(|e| match e {
            Error::NonFinite { .. } => super::check_finite(self.xs).err().unwrap_or(e),
            e => e,
        })
    }
}

/// The codes and dequantized values of a stretch of the tensor, quantized piece by piece as
/// later stretches are asked for.
#[derive(Debug)]
pub struct Window<'a> {
    from: Streamer<'a>,
    /// The index of `codes[0]`, a multiple of the streamer's `align`.
    start: usize,
    codes: Vec<i32>,
    deq: Vec<f32>,
}

impl Window<'_> {
    /// The codes and dequantized values of values `a..b`. Cheapest when each call's `a` is at
    /// or after the previous call's (as a pass over the tensor asks): what is before the block
    /// of `a` is then let go, and only what is new quantized.
    pub fn get(&mut self, a: usize, b: usize) -> Result<(&[i32], &[f32])> {
        let n = self.from.xs.len();
        let b = b.min(n);
        let a = a.min(b);
        let align = self.from.align;
        let end = self.start + self.deq.len();
        if b > end || a < self.start {
            let keep = a / align * align;
            if keep < self.start || keep > end {
                self.codes.clear();
                self.deq.clear();
            } else {
                let drop = keep - self.start;
                self.codes.drain(..drop);
                self.deq.drain(..drop);
            }
            self.start = keep;
            while self.start + self.deq.len() < b {
                let next = self.start + self.deq.len();
                let q = self.from.piece(next, (next + PIECE.max(align)).min(n))?;
                self.codes.extend_from_slice(&q.codes);
                self.deq.extend_from_slice(&q.dequantized);
            }
        }
        let (i, j) = (a - self.start, b - self.start);
        Ok((&self.codes[i..j], &self.deq[i..j]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values of several magnitudes, with zeros, in blocks that every format takes.
    fn values(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| match i / 64 % 5 {
                0 => 0.0,
                k => (i as f32 * 0.37).sin() * 10f32.powi(k as i32 * 3 - 9),
            })
            .collect()
    }

    #[test]
    fn windows_give_the_whole_tensor_s_codes_and_values() {
        let xs = values(3 * 4096 + 512);
        for format in Format::ALL {
            let block = format.block(None).unwrap();
            let whole = quantize(format, block, &xs).unwrap();
            let s = Streamer::new(format, block, &xs).unwrap();
            let mut w = s.window();
            // Stretches of uneven lengths in order, one going back, and one past the end.
            let mut a = 0;
            for (k, len) in [8usize, 120, 128, 40, 4096, 1000, 7]
                .iter()
                .cycle()
                .enumerate()
            {
                if a >= xs.len() {
                    break;
                }
                let a0 = if k == 5 { a.saturating_sub(300) } else { a };
                let b = a0 + len;
                let (c, y) = w.get(a0, b).unwrap();
                let b = b.min(xs.len());
                assert_eq!(c, &whole.codes[a0..b], "{format} {a0}..{b}");
                let bits = |v: &[f32]| v.iter().map(|y| y.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(y),
                    bits(&whole.dequantized[a0..b]),
                    "{format} {a0}..{b}"
                );
                a = b;
            }
        }
    }

    #[test]
    fn a_piece_that_cannot_be_quantized_is_an_error() {
        let mut xs = values(3 * 4096);
        xs[10_000] = f32::INFINITY;
        let whole = quantize(Format::Q4_0, 32, &xs).unwrap_err().to_string();
        for format in [Format::Q4_0, Format::Fp8E4m3] {
            let s = Streamer::new(format, format.block(None).unwrap(), &xs).unwrap();
            // Asked for from the piece after the first: the index is still the tensor's.
            let mut w = s.window();
            assert!(w.get(0, 8).is_ok(), "{format}");
            assert_eq!(
                w.get(9000, 10_100).unwrap_err().to_string(),
                whole,
                "{format}"
            );
        }
        assert!(Streamer::new(Format::Q4_K, 256, &xs[..1000]).is_err());
    }
}
