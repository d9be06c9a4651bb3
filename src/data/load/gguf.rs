//! GGUF, llama.cpp's model file: the magic `GGUF`, a version (2 or 3), the tensor and key-value
//! counts (u64), the key-value pairs, one info per tensor (name, dimension count, `ne`, ggml
//! type, offset from the data section), then the data section at the next multiple of
//! `general.alignment` (32 by default). Everything is little-endian.
//!
//! Each count and length is checked against the bytes left before it is used: a string or an
//! array cannot claim more than the header holds, and nothing is reserved from a count.

use super::model::{
    check_ranges, check_unique, read_dtype, sizes, Elem, FileFormat, TensorInfo, TensorList,
    READ_DTYPE_NAMES,
};
use super::{load_err, shown, shown_bytes};
use crate::error::{Error, Result};

/// The first four bytes of every GGUF file.
pub const GGUF_MAGIC: &[u8] = b"GGUF";

/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;

/// How deep arrays may nest in a value (GGUF writers nest at most once).
const MAX_NESTING: u32 = 8;

/// A ggml type by number: its name, values per block and bytes per block (`None` for numbers
/// ggml no longer uses).
fn ggml_type(t: u32) -> Option<(&'static str, u64, u64)> {
    Some(match t {
        0 => ("F32", 1, 4),
        1 => ("F16", 1, 2),
        2 => ("Q4_0", 32, 18),
        3 => ("Q4_1", 32, 20),
        6 => ("Q5_0", 32, 22),
        7 => ("Q5_1", 32, 24),
        8 => ("Q8_0", 32, 34),
        9 => ("Q8_1", 32, 40),
        10 => ("Q2_K", 256, 84),
        11 => ("Q3_K", 256, 110),
        12 => ("Q4_K", 256, 144),
        13 => ("Q5_K", 256, 176),
        14 => ("Q6_K", 256, 210),
        15 => ("Q8_K", 256, 292),
        16 => ("IQ2_XXS", 256, 66),
        17 => ("IQ2_XS", 256, 74),
        18 => ("IQ3_XXS", 256, 98),
        19 => ("IQ1_S", 256, 50),
        20 => ("IQ4_NL", 32, 18),
        21 => ("IQ3_S", 256, 110),
        22 => ("IQ2_S", 256, 82),
        23 => ("IQ4_XS", 256, 136),
        24 => ("I8", 1, 1),
        25 => ("I16", 1, 2),
        26 => ("I32", 1, 4),
        27 => ("I64", 1, 8),
        28 => ("F64", 1, 8),
        29 => ("IQ1_M", 256, 56),
        30 => ("BF16", 1, 2),
        34 => ("TQ1_0", 256, 54),
        35 => ("TQ2_0", 256, 66),
        39 => ("MXFP4", 32, 17),
        40 => ("NVFP4", 64, 36),
        41 => ("Q1_0", 128, 18),
        _ => return None,
    })
}

/// What quantviz does with a ggml type: decode it ([`super::model::READ_DTYPES`]), or why not.
fn elem_of(name: &str) -> std::result::Result<Elem, String> {
    if let Some(elem) = read_dtype(name) {
        return Ok(elem);
    }
    match name {
        "I8" | "I16" | "I32" | "I64" => Err(format!(
            "integers are no weights to quantize ({} are read)",
            READ_DTYPE_NAMES
        )),
        q => Err(format!(
            "already quantized ({q}): quantviz measures formats on unquantized weights ({})",
            READ_DTYPE_NAMES
        )),
    }
}

/// A GGUF value type as messages name it, with its article (`a string`, `an int8`).
fn value_type_name(t: u32) -> &'static str {
    match t {
        0 => "a uint8",
        1 => "an int8",
        2 => "a uint16",
        3 => "an int16",
        4 => "a uint32",
        5 => "an int32",
        6 => "a float32",
        7 => "a bool",
        8 => "a string",
        9 => "an array",
        10 => "a uint64",
        11 => "an int64",
        12 => "a float64",
        _ => "a value of a type GGUF does not define",
    }
}

/// A cursor over the header's bytes; running out is [`Short`], told apart from a bad header
/// so that [`header_needed`] can ask for more.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

/// The header's bytes ended before the header did.
enum Bad {
    Short,
    Err(Error),
}

type R<T> = std::result::Result<T, Bad>;

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64) -> R<&'a [u8]> {
        let left = (self.b.len() - self.at) as u64;
        if n > left {
            return Err(Bad::Short);
        }
        let s = &self.b[self.at..self.at + n as usize];
        self.at += n as usize;
        Ok(s)
    }
    fn u32(&mut self) -> R<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> R<u64> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }
    /// A string: a u64 length and that many bytes (checked against the bytes left first).
    fn string(&mut self) -> R<&'a [u8]> {
        let n = self.u64()?;
        self.take(n)
    }
}

/// The fixed size of a scalar value type; `None` for strings and arrays.
fn scalar_size(t: u32) -> Option<u64> {
    match t {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

/// The state of reading: the source for messages and the file's length for checks.
struct Reader<'s> {
    source: &'s str,
    file_len: u64,
}

impl Reader<'_> {
    fn err(&self, message: String) -> Bad {
        Bad::Err(load_err(self.source, &message))
    }

    /// A string whose claimed length is checked against the file first: a length beyond the
    /// file is an error, not a request for more bytes.
    fn string<'a>(&self, c: &mut Cursor<'a>, what: &str) -> R<&'a [u8]> {
        let at = c.at;
        let n = c.u64()?;
        if n > self.file_len.saturating_sub(c.at as u64) {
            return Err(self.err(format!(
                "{what} at byte {at} claims {n} bytes, more than the {} left in the file",
                self.file_len.saturating_sub(c.at as u64)
            )));
        }
        c.at = at;
        c.string()
    }

    /// Skips one value of type `t`; returns it as a whole number where it is one.
    fn value(&self, c: &mut Cursor, t: u32, key: &[u8], depth: u32) -> R<Option<u64>> {
        if let Some(size) = scalar_size(t) {
            let b = c.take(size)?;
            return Ok(match t {
                0 => Some(u64::from(b[0])),
                2 => Some(u64::from(u16::from_le_bytes([b[0], b[1]]))),
                4 => Some(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
                10 => Some(u64::from_le_bytes([
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                ])),
                5 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]).try_into().ok(),
                _ => None,
            });
        }
        match t {
            8 => {
                self.string(c, &format!("the value of '{}'", shown_bytes(key, 80)))?;
                Ok(None)
            }
            9 => {
                if depth >= MAX_NESTING {
                    return Err(self.err(format!(
                        "the value of '{}' nests arrays more than {MAX_NESTING} deep",
                        shown_bytes(key, 80)
                    )));
                }
                let item = c.u32()?;
                let n = c.u64()?;
                let left = self.file_len.saturating_sub(c.at as u64);
                match scalar_size(item) {
                    Some(size) => {
                        if n.checked_mul(size).is_none_or(|b| b > left) {
                            return Err(self.err(format!(
                                "the array '{}' claims {n} items of {size} bytes, more than the {left} bytes left in the file",
                                shown_bytes(key, 80)
                            )));
                        }
                        c.take(n * size)?;
                    }
                    None => {
                        // Each string or array takes at least 8 bytes.
                        if n.checked_mul(8).is_none_or(|b| b > left) {
                            return Err(self.err(format!(
                                "the array '{}' claims {n} items, more than the {left} bytes left in the file hold",
                                shown_bytes(key, 80)
                            )));
                        }
                        for _ in 0..n {
                            self.value(c, item, key, depth + 1)?;
                        }
                    }
                }
                Ok(None)
            }
            _ => Err(self.err(format!(
                "the value of '{}' has type {t}, which GGUF does not define (0 to 12)",
                shown_bytes(key, 80)
            ))),
        }
    }

    /// The header: its tensors, and the data section's start.
    fn header(&self, c: &mut Cursor) -> R<(Vec<TensorInfo>, u64)> {
        let magic = c.take(4)?;
        if magic != GGUF_MAGIC {
            return Err(self.err(format!(
                "not a GGUF file: it starts with '{}', not 'GGUF'",
                shown_bytes(magic, 4)
            )));
        }
        let version = c.u32()?;
        if !(2..=3).contains(&version) {
            return Err(self.err(format!(
                "GGUF version {version} is not read (versions 2 and 3 are; version 1 is from 2023's first llama.cpp releases)"
            )));
        }
        let n_tensors = c.u64()?;
        let n_kv = c.u64()?;
        // A key-value pair takes at least 8 + 4 + 1 bytes, a tensor info 8 + 4 + 4 + 8.
        let left = self.file_len.saturating_sub(c.at as u64);
        if n_kv.checked_mul(13).is_none_or(|b| b > left) {
            return Err(self.err(format!("the header claims {n_kv} key-value pairs, more than the file's {left} remaining bytes hold")));
        }
        if n_tensors.checked_mul(24).is_none_or(|b| b > left) {
            return Err(self.err(format!("the header claims {n_tensors} tensors, more than the file's {left} remaining bytes hold")));
        }
        let mut alignment = 32u64;
        for _ in 0..n_kv {
            let key = self.string(c, "a key")?;
            let t = c.u32()?;
            let v = self.value(c, t, key, 0)?;
            if key == b"general.alignment" {
                const EXPECTED: &str = "GGUF expects a uint32 power of two (32 by default)";
                // llama.cpp reads it as a uint32 only (type 4), and refuses a file with another.
                alignment = match v {
                    Some(a) if t == 4 && a > 0 && a.is_power_of_two() => a,
                    Some(a) if t == 4 => {
                        return Err(self.err(format!(
                            "general.alignment is {a}, not a power of two: {EXPECTED}"
                        )))
                    }
                    _ => {
                        return Err(self.err(format!(
                            "general.alignment is {}: {EXPECTED}",
                            value_type_name(t)
                        )))
                    }
                };
            }
        }
        let mut raw = Vec::new();
        for _ in 0..n_tensors {
            let name = self.string(c, "a tensor name")?;
            let name = String::from_utf8_lossy(name).into_owned();
            let n_dims = c.u32()?;
            if n_dims > MAX_DIMS {
                return Err(self.err(format!(
                    "tensor '{}' has {n_dims} dimensions, more than ggml's {MAX_DIMS}",
                    shown(&name, 80)
                )));
            }
            let mut ne = [0u64; MAX_DIMS as usize];
            for d in ne.iter_mut().take(n_dims as usize) {
                *d = c.u64()?;
            }
            let t = c.u32()?;
            let offset = c.u64()?;
            raw.push((name, n_dims as usize, ne, t, offset));
        }
        let data_start = (c.at as u64).div_ceil(alignment).saturating_mul(alignment);
        let mut tensors = Vec::with_capacity(raw.len());
        for (name, n_dims, ne, t, offset) in raw {
            let Some((tname, block, block_bytes)) = ggml_type(t) else {
                return Err(self.err(format!(
                    "tensor '{}' has ggml type {t}, which no ggml version defines",
                    shown(&name, 80)
                )));
            };
            let ne = &ne[..n_dims];
            let (params, _) = sizes(&name, ne, 8, self.source).map_err(Bad::Err)?;
            if ne.first().is_some_and(|&n0| n0 % block != 0) {
                return Err(self.err(format!(
                    "tensor '{}': {tname} stores blocks of {block} values, and its rows of {} values are no whole number of blocks",
                    shown(&name, 80),
                    ne[0]
                )));
            }
            let bytes = params / block * block_bytes;
            if offset % alignment != 0 {
                return Err(self.err(format!(
                    "tensor '{}': its offset {offset} is not a multiple of the alignment {alignment}",
                    shown(&name, 80)
                )));
            }
            let start = data_start.checked_add(offset);
            let end = start.and_then(|s| s.checked_add(bytes));
            let (Some(start), Some(end)) = (start, end) else {
                return Err(self.err(format!(
                    "tensor '{}': its offset {offset} lies beyond any file",
                    shown(&name, 80)
                )));
            };
            let shape: Option<Vec<usize>> =
                ne.iter().rev().map(|&d| usize::try_from(d).ok()).collect();
            let Some(shape) = shape else {
                return Err(self.err(format!(
                    "tensor '{}': a size of {ne:?} does not fit this machine's addresses",
                    shown(&name, 80)
                )));
            };
            let elem = elem_of(tname);
            tensors.push(TensorInfo {
                name,
                dtype: tname.to_string(),
                shape,
                params,
                start,
                end,
                elem: elem.as_ref().ok().copied(),
                refused: elem.err(),
            });
        }
        Ok((tensors, data_start))
    }
}

/// How many bytes hold the header: parsed as far as `prefix` goes; where it ends first, more
/// than `prefix.len()` (double, at least 64 KiB, at most the file).
pub(crate) fn header_needed(prefix: &[u8], file_len: u64, source: &str) -> Result<usize> {
    let r = Reader { source, file_len };
    let mut c = Cursor { b: prefix, at: 0 };
    match r.header(&mut c) {
        Ok((tensors, data_start)) => {
            // The data section starts after the padding, which need not be read.
            let _ = tensors;
            Ok((c.at as u64).min(data_start) as usize)
        }
        Err(Bad::Err(e)) => Err(e),
        Err(Bad::Short) if prefix.len() as u64 >= file_len => Err(cut(source, file_len)),
        Err(Bad::Short) => {
            Ok(((prefix.len() as u64).saturating_mul(2).max(1 << 16)).min(file_len) as usize)
        }
    }
}

fn cut(source: &str, file_len: u64) -> Error {
    load_err(
        source,
        &format!("the GGUF header is cut short: the file ends after {file_len} bytes, inside it"),
    )
}

/// The tensors of a GGUF header (`header` at least [`header_needed`] bytes).
pub(crate) fn parse_header(header: &[u8], file_len: u64, source: &str) -> Result<TensorList> {
    let r = Reader { source, file_len };
    let mut c = Cursor { b: header, at: 0 };
    let (tensors, data_start) = match r.header(&mut c) {
        Ok(v) => v,
        Err(Bad::Err(e)) => return Err(e),
        Err(Bad::Short) => return Err(cut(source, header.len() as u64)),
    };
    check_unique(&tensors, source)?;
    check_ranges(&tensors, data_start, file_len, source)?;
    Ok(TensorList {
        format: FileFormat::Gguf,
        tensors,
    })
}
