//! A format's quantization in parts, for a page that has a second core only through a Web
//! Worker (wasm32 has no threads here): the page quantizes some pieces of the data while a
//! worker quantizes others, and the results are joined in order ([`join`], [`append`]).
//!
//! Every format but FP8 quantizes each block from that block's values alone, so cutting the
//! data at block boundaries and joining the parts gives the whole tensor's result bit for bit
//! (the tests check it for every format). FP8 is not cut: its one scale comes from the whole
//! tensor.
//!
//! The worker's result crosses to the page as bytes ([`encode`]; [`append`] joins them to what
//! is made): a short header, the codes (a byte each where they fit), the dequantized values,
//! then the block scales, all little-endian.

use super::{BlockScale, Quantized};
use crate::error::{Error, Result};

/// Marks the start of [`encode`]'s bytes.
const MAGIC: &[u8; 4] = b"QVP1";

/// `q` as bytes for [`decode`].
pub fn encode(q: &Quantized) -> Vec<u8> {
    let n = q.codes.len();
    // Codes that fit a byte (every format's but Q8_0's negative ones) travel as bytes.
    let narrow = q.codes.iter().all(|&c| (0..=255).contains(&c));
    let width = if narrow { 1 } else { 4 };
    let mut out = Vec::with_capacity(37 + (width + 4) * n + 8 * q.scales.len());
    out.extend_from_slice(MAGIC);
    for v in [n, q.block, q.saturated, q.scales.len()] {
        out.extend_from_slice(&(v as u64).to_le_bytes());
    }
    out.push(width as u8);
    let at = out.len();
    out.resize(at + (width + 4) * n, 0);
    let (codes, deq) = out[at..].split_at_mut(width * n);
    if narrow {
        for (b, &c) in codes.iter_mut().zip(&q.codes) {
            *b = c as u8;
        }
    } else {
        for (b, c) in codes.chunks_exact_mut(4).zip(&q.codes) {
            b.copy_from_slice(&c.to_le_bytes());
        }
    }
    for (b, d) in deq.chunks_exact_mut(4).zip(&q.dequantized) {
        b.copy_from_slice(&d.to_le_bytes());
    }
    for s in &q.scales {
        match s {
            BlockScale::Fp16 { d } => {
                out.push(0);
                out.extend_from_slice(&d.to_le_bytes());
            }
            BlockScale::Fp16Min { d, m } => {
                out.push(1);
                out.extend_from_slice(&d.to_le_bytes());
                out.extend_from_slice(&m.to_le_bytes());
            }
            BlockScale::E8m0 { e } => out.extend_from_slice(&[2, *e]),
            BlockScale::Ue4m3 { s } => {
                out.push(3);
                out.extend_from_slice(s);
            }
            BlockScale::AbsMax { absmax } => {
                out.push(4);
                out.extend_from_slice(&absmax.to_le_bytes());
            }
            BlockScale::Tensor { scale } => {
                out.push(5);
                out.extend_from_slice(&scale.to_le_bytes());
            }
            BlockScale::KQuant {
                d,
                dmin,
                scales,
                mins,
            } => {
                out.push(6);
                out.extend_from_slice(&d.to_le_bytes());
                out.extend_from_slice(&dmin.to_le_bytes());
                // A K-quant has 8 or 16 sub-blocks: the lengths fit a byte.
                for v in [scales, mins] {
                    out.push(v.len().min(255) as u8);
                    out.extend_from_slice(&v[..v.len().min(255)]);
                }
            }
        }
    }
    out
}

/// The result [`encode`] wrote. Errors, never panics, on bytes it did not write.
pub fn decode(bytes: &[u8]) -> Result<Quantized> {
    let mut q = Quantized {
        codes: Vec::new(),
        dequantized: Vec::new(),
        scales: Vec::new(),
        block: 0,
        saturated: 0,
    };
    append(&mut q, bytes)?;
    Ok(q)
}

/// Appends the result [`encode`] wrote to `head`, the result of the data before it (cut at a
/// block boundary): the whole data's result, bit for bit. Errors, never panics, on bytes it
/// did not write or made with another block; `head` is then as it was.
pub fn append(head: &mut Quantized, bytes: &[u8]) -> Result<()> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(4)? != MAGIC {
        return Err(bad("bytes that do not start with QVP1".into()));
    }
    let mut header = [0usize; 4];
    for h in &mut header {
        *h = usize::try_from(u64::from_le_bytes(r.array()?))
            .map_err(|_| bad("a count past this machine's address space".into()))?;
    }
    let [n, block, saturated, blocks] = header;
    if block == 0 || blocks != n.div_ceil(block) {
        return Err(bad(format!(
            "{blocks} block scales for {n} values in blocks of {block}"
        )));
    }
    if saturated > n {
        return Err(bad(format!("{saturated} saturated of {n} values")));
    }
    let saturated_after = head.saturated.checked_add(saturated).ok_or_else(|| {
        bad(format!(
            "{saturated} saturated values after {}",
            head.saturated
        ))
    })?;
    let had = head.codes.len();
    if had > 0 && (head.block != block || !had.is_multiple_of(block)) {
        return Err(bad(format!(
            "a part in blocks of {block} after {had} values in blocks of {}",
            head.block
        )));
    }
    let width = usize::from(r.byte()?);
    if width != 1 && width != 4 {
        return Err(bad(format!("codes of {width} bytes, not 1 or 4")));
    }
    // Both arrays must be there before anything is allocated for them.
    let body = n
        .checked_mul(width + 4)
        .filter(|&b| b <= r.rest())
        .ok_or_else(|| bad(format!("{n} values announced, {} bytes left", r.rest())))?;
    if blocks > r.rest() - body {
        return Err(bad(format!("{blocks} block scales announced")));
    }
    let codes = r.take(width * n)?;
    let dequantized = r.take(4 * n)?;
    let mut scales = Vec::with_capacity(blocks);
    for _ in 0..blocks {
        scales.push(match r.byte()? {
            0 => BlockScale::Fp16 {
                d: u16::from_le_bytes(r.array()?),
            },
            1 => BlockScale::Fp16Min {
                d: u16::from_le_bytes(r.array()?),
                m: u16::from_le_bytes(r.array()?),
            },
            2 => BlockScale::E8m0 { e: r.byte()? },
            3 => BlockScale::Ue4m3 { s: r.array()? },
            4 => BlockScale::AbsMax {
                absmax: f32::from_le_bytes(r.array()?),
            },
            5 => BlockScale::Tensor {
                scale: f32::from_le_bytes(r.array()?),
            },
            6 => {
                let d = u16::from_le_bytes(r.array()?);
                let dmin = u16::from_le_bytes(r.array()?);
                let len = usize::from(r.byte()?);
                let scales = r.take(len)?.to_vec();
                let len = usize::from(r.byte()?);
                let mins = r.take(len)?.to_vec();
                BlockScale::KQuant {
                    d,
                    dmin,
                    scales,
                    mins,
                }
            }
            tag => return Err(bad(format!("an unknown scale tag {tag}"))),
        });
    }
    if r.rest() != 0 {
        return Err(bad(format!("{} bytes after the last scale", r.rest())));
    }
    // Everything read: only now is `head` changed.
    head.codes.reserve(n);
    head.dequantized.reserve(n);
    if width == 1 {
        head.codes.extend(codes.iter().map(|&b| i32::from(b)));
    } else {
        head.codes.extend(
            codes
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
    }
    head.dequantized.extend(
        dequantized
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
    );
    head.scales.extend(scales);
    head.saturated = saturated_after;
    head.block = block;
    Ok(())
}

/// Appends `part`, the result of the data after `head`'s (cut at a block boundary), to `head`:
/// what [`append`] does with bytes. Errors where the two have different blocks; `head` is then
/// as it was.
pub fn join(head: &mut Quantized, mut part: Quantized) -> Result<()> {
    let had = head.codes.len();
    if had > 0 && (head.block != part.block || !had.is_multiple_of(part.block.max(1))) {
        return Err(bad(format!(
            "a part in blocks of {} after {had} values in blocks of {}",
            part.block, head.block
        )));
    }
    head.saturated = head.saturated.checked_add(part.saturated).ok_or_else(|| {
        bad(format!(
            "{} saturated values after {}",
            part.saturated, head.saturated
        ))
    })?;
    head.codes.append(&mut part.codes);
    head.dequantized.append(&mut part.dequantized);
    head.scales.append(&mut part.scales);
    head.block = part.block;
    Ok(())
}

fn bad(message: String) -> Error {
    Error::Load {
        source: "a worker's quantized part".into(),
        message,
    }
}

/// A cursor over bytes that errors at their end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn rest(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, k: usize) -> Result<&'a [u8]> {
        if k > self.rest() {
            return Err(bad(format!(
                "{} bytes, cut short at byte {} of {} needed",
                self.bytes.len(),
                self.bytes.len(),
                self.at + k
            )));
        }
        let s = &self.bytes[self.at..self.at + k];
        self.at += k;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn array<const K: usize>(&mut self) -> Result<[u8; K]> {
        let mut a = [0u8; K];
        a.copy_from_slice(self.take(K)?);
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::formats::{float::test_values, quantize, Format};

    #[test]
    fn parts_joined_are_the_whole_bit_for_bit() {
        for format in Format::ALL {
            if matches!(format, Format::Fp8E4m3 | Format::Fp8E5m2) {
                continue; // one scale for the whole tensor: not cut
            }
            let block = format.block(None).unwrap();
            for n in [2 * 256, 7 * 256, 64 * 256] {
                // Every magnitude the test values have, short of scales fp16 cannot hold.
                let xs: Vec<f32> = test_values(n).iter().map(|x| x.clamp(-1e3, 1e3)).collect();
                let whole = quantize(format, block, &xs).unwrap();
                // Parts cut at block boundaries, the page's joined as they are and the last
                // from its bytes, as the worker's are.
                let a = n / 2 / block * block;
                let b = ((a + 256).div_ceil(block) * block).min(n - block);
                let mut joined = quantize(format, block, &xs[..a]).unwrap();
                if b > a {
                    join(&mut joined, quantize(format, block, &xs[a..b]).unwrap()).unwrap();
                }
                let last = quantize(format, block, &xs[b.max(a)..]).unwrap();
                append(&mut joined, &encode(&last)).unwrap();
                assert_eq!(joined.codes, whole.codes, "{format} {n}");
                let bits = |v: &[f32]| v.iter().map(|d| d.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&joined.dequantized),
                    bits(&whole.dequantized),
                    "{format}"
                );
                assert_eq!(joined.scales, whole.scales, "{format} {n}");
                assert_eq!(joined.saturated, whole.saturated);
            }
        }
    }

    #[test]
    fn nf4_with_a_partial_last_block_joins_after_whole_blocks() {
        let xs = test_values(1000);
        let whole = quantize(Format::Nf4, 64, &xs).unwrap();
        let head = quantize(Format::Nf4, 64, &xs[..512]).unwrap();
        let tail = quantize(Format::Nf4, 64, &xs[512..]).unwrap();
        let mut joined = head.clone();
        append(&mut joined, &encode(&tail)).unwrap();
        assert_eq!(joined, whole);
        let mut joined = head;
        join(&mut joined, tail).unwrap();
        assert_eq!(joined, whole);
        assert_eq!(decode(&encode(&whole)).unwrap(), whole);
    }

    #[test]
    fn parts_of_different_blocks_do_not_join() {
        let xs = test_values(512);
        let mut a = quantize(Format::Nf4, 64, &xs).unwrap();
        let b = quantize(Format::Nf4, 128, &xs).unwrap();
        let before = a.clone();
        assert!(append(&mut a, &encode(&b)).is_err());
        assert!(join(&mut a, b).is_err());
        assert_eq!(a, before);
        // A saturated count past the values (at bytes 28..36 of the header) is an error too,
        // not an overflow.
        let mut bytes = encode(&quantize(Format::Nf4, 64, &xs).unwrap());
        bytes[28..36].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(append(&mut a, &bytes).is_err());
        assert_eq!(a, before);
    }
}
