//! Model files (safetensors, GGUF, and `.npy` as a file of one tensor), read in three steps so
//! that a caller holding only part of a file can use them:
//!
//! 1. [`header_needed`]: from the first bytes, how many bytes from the start hold the header;
//! 2. [`parse_header`]: those bytes into a [`TensorList`], each tensor with its dtype, its
//!    row-major shape and its byte range in the file;
//! 3. [`decode_tensor`]: one tensor's values from exactly its bytes.
//!
//! Natively [`read_model_file`] does the three over a memory map; the page reads the header
//! and then only the bytes of the tensor picked. Every count and length in a header is checked
//! against the bytes that hold it (or the file's length) before it is used, so a reader never
//! allocates more than the file could fill.

use super::{load_err, shown};
use crate::error::{Error, Result};

pub use super::gguf::GGUF_MAGIC;

/// The most values the page loads from one tensor; the command line takes any tensor that fits
/// in memory.
pub const PAGE_MAX_VALUES: u64 = 50_000_000;

/// The rows and columns of a tensor of `shape` (row-major; a GGUF tensor's `ne` reversed), as
/// per-channel scales (one per row) and groups (within a row) take it: every axis but the last
/// flattened into rows (numpy's `reshape(-1, shape[-1])`), the same for every kind of file. A
/// 2-D `[out, in]` weight is its output channels; a stack of them, `[experts, out, in]`, each
/// expert's output channels; and the rows are those ggml quantizes (`ne[0]` values each).
/// `None` for 1-D and 0-D tensors, and where the last axis is empty.
pub fn rows_cols(shape: &[usize]) -> Option<(usize, usize)> {
    match shape {
        [] | [_] => None,
        [rest @ .., cols] => (*cols > 0)
            .then(|| rest.iter().try_fold(1usize, |p, &d| p.checked_mul(d)))
            .flatten()
            .map(|rows| (rows, *cols)),
    }
}

/// The first bytes [`header_needed`] looks at: enough to tell every format and, for all but
/// GGUF, to find the header's length.
pub const PREFIX_BYTES: usize = 24;

/// Which kind of file a [`TensorList`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Hugging Face safetensors: an 8-byte header length, a JSON header, the data.
    Safetensors,
    /// llama.cpp's GGUF: key-value metadata, tensor infos, aligned data.
    Gguf,
    /// numpy's `.npy`: one array.
    Npy,
}

impl FileFormat {
    /// The name `inspect --json` gives: `safetensors`, `gguf`, `npy`.
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Safetensors => "safetensors",
            FileFormat::Gguf => "gguf",
            FileFormat::Npy => "npy",
        }
    }
}

/// An element type quantviz decodes. Little-endian, except where `.npy` says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    /// IEEE binary64.
    F64,
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16: the top half of a binary32.
    BF16,
}

/// The element types quantviz reads, by the name safetensors and GGUF give each: every reader
/// decodes these and refuses the others, naming this list ([`READ_DTYPE_NAMES`]).
pub const READ_DTYPES: [(&str, Elem); 4] = [
    ("F32", Elem::F32),
    ("F16", Elem::F16),
    ("BF16", Elem::BF16),
    ("F64", Elem::F64),
];

/// The element type of a safetensors or GGUF dtype name, where quantviz reads it.
pub(crate) fn read_dtype(name: &str) -> Option<Elem> {
    READ_DTYPES.iter().find(|d| d.0 == name).map(|d| d.1)
}

/// [`READ_DTYPES`] as messages list them (a constant rather than a join at run time, which
/// would add to the wasm; a test checks that it lists them).
pub const READ_DTYPE_NAMES: &str = "F32, F16, BF16 and F64";

impl Elem {
    /// Bytes per element.
    pub fn width(self) -> usize {
        match self {
            Elem::F64 => 8,
            Elem::F32 => 4,
            Elem::F16 | Elem::BF16 => 2,
        }
    }

    /// Decodes little-endian elements into float32 (exact for F32, F16, BF16; F64 rounded to
    /// nearest, as every format takes its input): `out` holds `bytes.len() / width` values.
    pub fn decode_f32(self, bytes: &[u8], out: &mut [f32]) {
        let w = self.width();
        let chunks = bytes.chunks_exact(w).zip(out.iter_mut());
        match self {
            Elem::F64 => chunks.for_each(|(c, o)| *o = f64_le(c) as f32),
            Elem::F32 => {
                chunks.for_each(|(c, o)| *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            }
            Elem::F16 => {
                let mut at = 0;
                f16_blocks(bytes, |f| {
                    let n = f.len().min(out.len().saturating_sub(at));
                    out[at..at + n].copy_from_slice(&f[..n]);
                    at += n;
                })
            }
            Elem::BF16 => {
                chunks.for_each(|(c, o)| *o = half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            }
        }
    }

    /// Decodes little-endian elements into float64 (exact for every type).
    pub fn decode_f64(self, bytes: &[u8], out: &mut Vec<f64>) {
        let w = self.width();
        let chunks = bytes.chunks_exact(w);
        match self {
            Elem::F64 => out.extend(chunks.map(f64_le)),
            Elem::F32 => {
                out.extend(chunks.map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))))
            }
            Elem::F16 => {
                out.reserve(bytes.len() / 2);
                f16_blocks(bytes, |f| out.extend(f.iter().map(|&x| f64::from(x))))
            }
            Elem::BF16 => {
                out.extend(chunks.map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f64()))
            }
        }
    }
}

/// float16 bytes to float32, a stack block at a time through `half`'s slice conversion (the
/// CPU's F16C instructions where it has them): exact, and no allocation.
fn f16_blocks(bytes: &[u8], mut put: impl FnMut(&[f32])) {
    use half::slice::HalfFloatSliceExt;
    const B: usize = 256;
    let (mut h, mut f) = ([half::f16::ZERO; B], [0f32; B]);
    for c in bytes.chunks(2 * B) {
        let k = c.len() / 2;
        for (d, b) in h.iter_mut().zip(c.chunks_exact(2)) {
            *d = half::f16::from_le_bytes([b[0], b[1]]);
        }
        h[..k].convert_to_f32_slice(&mut f[..k]);
        put(&f[..k]);
    }
}

fn f64_le(c: &[u8]) -> f64 {
    f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
}

/// One tensor of a model file, as its header describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// Its name in the file.
    pub name: String,
    /// Its element type as the file names it (`F32`, `F16`, `BF16`, `Q4_K`, `<f4`, ...).
    pub dtype: String,
    /// Its shape in row-major order (C order; for GGUF, the reverse of its `ne`).
    pub shape: Vec<usize>,
    /// How many values it holds: the product of `shape`.
    pub params: u64,
    /// Its first byte in the file.
    pub start: u64,
    /// One past its last byte in the file.
    pub end: u64,
    /// The element type quantviz decodes, or `None` with [`TensorInfo::refused`] saying why.
    pub elem: Option<Elem>,
    /// Why quantviz cannot read this tensor's values (`None` where it can).
    pub refused: Option<String>,
}

impl TensorInfo {
    /// Its byte range in the file as `usize`s (checked against the file's length when parsed).
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// The tensors of a model file, in the file's order.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorList {
    /// The kind of file.
    pub format: FileFormat,
    /// Every tensor, in the order the header gives them.
    pub tensors: Vec<TensorInfo>,
}

impl TensorList {
    /// The sum of every tensor's parameters.
    pub fn params(&self) -> u64 {
        self.tensors
            .iter()
            .fold(0u64, |s, t| s.saturating_add(t.params))
    }

    /// The tensor named `name`; an error listing the nearest names where there is none.
    pub fn find(&self, name: &str, source: &str) -> Result<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name).ok_or_else(|| {
            let near = nearest_names(self.tensors.iter().map(|t| t.name.as_str()), name, 3);
            load_err(
                source,
                &format!(
                    "it has no tensor '{}': the nearest names are {}",
                    shown(name, 80),
                    near.iter()
                        .map(|n| format!("'{}'", shown(n, 80)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }

    /// The one tensor a command reads: the one named, or the file's only one; with several and
    /// no name, an error listing them.
    pub fn pick(&self, name: Option<&str>, source: &str) -> Result<&TensorInfo> {
        match (name, self.tensors.as_slice()) {
            (Some(n), _) => self.find(n, source),
            (None, [one]) => Ok(one),
            (None, []) => Err(load_err(source, "it holds no tensors")),
            (None, many) => {
                const SHOWN: usize = 12;
                let mut list: Vec<String> = many
                    .iter()
                    .take(SHOWN)
                    .map(|t| format!("'{}'", shown(&t.name, 80)))
                    .collect();
                if many.len() > SHOWN {
                    list.push(format!(
                        "and {} more ('quantviz inspect' lists them)",
                        many.len() - SHOWN
                    ));
                }
                Err(load_err(
                    source,
                    &format!(
                        "it holds {} tensors: pick one with --tensor NAME ({})",
                        many.len(),
                        list.join(", ")
                    ),
                ))
            }
        }
    }
}

/// Up to `k` of `names` nearest to `wanted`: those that contain it first (`attn_q` finds
/// `blk.0.attn_q.weight`), then by edit distance (ties in the file's order).
pub fn nearest_names<'a>(
    names: impl Iterator<Item = &'a str>,
    wanted: &str,
    k: usize,
) -> Vec<&'a str> {
    let mut scored: Vec<(bool, usize, usize, &str)> = names
        .enumerate()
        .map(|(i, n)| (!n.contains(wanted), strsim::levenshtein(n, wanted), i, n))
        .collect();
    scored.sort_unstable();
    scored.into_iter().take(k).map(|(_, _, _, n)| n).collect()
}

/// Which format bytes start with, where they tell it: GGUF by its magic, `.npy` by its, and
/// safetensors by a header length followed by `{`.
pub fn sniff(prefix: &[u8]) -> Option<FileFormat> {
    if prefix.starts_with(GGUF_MAGIC) {
        Some(FileFormat::Gguf)
    } else if prefix.starts_with(super::npy::MAGIC) {
        Some(FileFormat::Npy)
    } else if prefix.len() > 8 && prefix[8] == b'{' {
        Some(FileFormat::Safetensors)
    } else {
        None
    }
}

/// How many bytes from the file's start hold its header, given its first bytes `prefix` and
/// its length `file_len`. Where the answer is more than `prefix.len()`, call again with at
/// least that many bytes: for GGUF the answer grows as more of the header is seen. An error
/// where the bytes are no model file or the header cannot fit in the file.
pub fn header_needed(prefix: &[u8], file_len: u64, source: &str) -> Result<usize> {
    let need = match sniff(prefix) {
        Some(FileFormat::Safetensors) => super::safetensors::header_needed(prefix, source)?,
        Some(FileFormat::Gguf) => super::gguf::header_needed(prefix, file_len, source)?,
        Some(FileFormat::Npy) => {
            if prefix.len() < 12 && (prefix.len() as u64) < file_len {
                return Ok(12.min(file_len as usize));
            }
            let (start, len) = super::npy::npy_preamble(prefix, source)?;
            start + len
        }
        None if prefix.len() < PREFIX_BYTES && (prefix.len() as u64) < file_len => {
            return Ok(PREFIX_BYTES.min(file_len as usize))
        }
        None if prefix.is_empty() => return Err(load_err(source, "the file is empty")),
        None => {
            return Err(load_err(
                source,
                "not a model file: it starts neither with GGUF, nor with \\x93NUMPY, nor with a safetensors header length and '{'",
            ))
        }
    };
    if need as u64 > file_len {
        return Err(load_err(
            source,
            &format!("the header needs {need} bytes but the file has {file_len}"),
        ));
    }
    Ok(need)
}

/// The tensors a header describes: `header` is the file's first bytes (at least what
/// [`header_needed`] asked for), `file_len` the file's length, against which every tensor's
/// byte range is checked.
pub fn parse_header(header: &[u8], file_len: u64, source: &str) -> Result<TensorList> {
    match sniff(header) {
        Some(FileFormat::Safetensors) => super::safetensors::parse_header(header, file_len, source),
        Some(FileFormat::Gguf) => super::gguf::parse_header(header, file_len, source),
        Some(FileFormat::Npy) => super::npy::npy_tensor(header, file_len, source),
        None => header_needed(header, file_len, source)
            .and_then(|_| Err(load_err(source, "the header is cut short"))),
    }
}

/// One tensor's values in float64 from exactly its bytes (`bytes.len()` must be
/// `info.end - info.start`): an error for a tensor quantviz cannot read, naming why.
pub fn decode_tensor(info: &TensorInfo, bytes: &[u8], source: &str) -> Result<Vec<f64>> {
    let elem = usable(info, source)?;
    let want = info.end - info.start;
    if bytes.len() as u64 != want {
        return Err(load_err(
            source,
            &format!(
                "tensor '{}': its data is {want} bytes but {} were given",
                shown(&info.name, 80),
                bytes.len()
            ),
        ));
    }
    // No more values than the bytes hold, so no more memory than 4 times them.
    let mut out = crate::par::with_capacity(bytes.len() / elem.width());
    elem.decode_f64(bytes, &mut out);
    Ok(out)
}

/// The element type of a tensor quantviz can read; the reason as an error where it cannot.
pub fn usable(info: &TensorInfo, source: &str) -> Result<Elem> {
    info.elem.ok_or_else(|| {
        load_err(
            source,
            &format!(
                "tensor '{}' is {}: {}",
                shown(&info.name, 80),
                info.dtype,
                info.refused.as_deref().unwrap_or("quantviz cannot read it")
            ),
        )
    })
}

/// The page's limit: an error naming the tensor's size and the command line that takes it.
pub fn check_page_size(info: &TensorInfo, source: &str) -> Result<()> {
    if info.params <= PAGE_MAX_VALUES {
        return Ok(());
    }
    Err(Error::Load {
        source: source.to_string(),
        message: format!(
            "tensor '{}' holds {} values, more than the page loads ({PAGE_MAX_VALUES}): run 'quantviz report FILE --tensors \"^{}$\"' or 'quantviz quantize --input FILE --tensor {}' on the command line, which take any tensor that fits in memory",
            shown(&info.name, 80),
            info.params,
            shown(&info.name, 80),
            shown(&info.name, 80),
        ),
    })
}

/// The product of `dims` as a tensor's parameter count, and its byte length at `bits` per
/// element: an error naming the tensor where either passes u64.
pub(crate) fn sizes(name: &str, dims: &[u64], bits: u64, source: &str) -> Result<(u64, u64)> {
    let overflow = || {
        load_err(
            source,
            &format!(
                "tensor '{}': its shape {dims:?} holds more values than any file can (the product passes 2^64)",
                shown(name, 80)
            ),
        )
    };
    let params = dims
        .iter()
        .try_fold(1u64, |p, &d| p.checked_mul(d))
        .ok_or_else(overflow)?;
    let bytes = params.checked_mul(bits).ok_or_else(overflow)? / 8;
    Ok((params, bytes))
}

/// Checks tensors' byte ranges against each other and the file: each within `[data_start,
/// file_len]`, none overlapping another. `tensors` is in the file's order.
pub(crate) fn check_ranges(
    tensors: &[TensorInfo],
    data_start: u64,
    file_len: u64,
    source: &str,
) -> Result<()> {
    for t in tensors {
        if t.start < data_start || t.end > file_len || t.end < t.start {
            return Err(load_err(
                source,
                &format!(
                    "tensor '{}': its data at bytes {} to {} lies outside the data section (bytes {data_start} to {file_len})",
                    shown(&t.name, 80),
                    t.start,
                    t.end
                ),
            ));
        }
    }
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_unstable_by_key(|&i| (tensors[i].start, tensors[i].end));
    for w in order.windows(2) {
        let (a, b) = (&tensors[w[0]], &tensors[w[1]]);
        if b.start < a.end {
            return Err(load_err(
                source,
                &format!(
                    "tensors '{}' (bytes {} to {}) and '{}' (bytes {} to {}) overlap",
                    shown(&a.name, 80),
                    a.start,
                    a.end,
                    shown(&b.name, 80),
                    b.start,
                    b.end
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses a name given twice.
pub(crate) fn check_unique(tensors: &[TensorInfo], source: &str) -> Result<()> {
    let mut names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    match names.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(load_err(
            source,
            &format!("tensor '{}' appears twice in the header", shown(w[0], 80)),
        )),
        None => Ok(()),
    }
}

// ---- Files -------------------------------------------------------------------------------------

/// A model file mapped into memory, with its tensor list.
#[cfg(not(target_arch = "wasm32"))]
pub struct ModelFile {
    /// The file's name as messages give it.
    pub source: String,
    /// Its tensors.
    pub list: TensorList,
    map: Option<memmap2::Mmap>,
}

#[cfg(not(target_arch = "wasm32"))]
impl ModelFile {
    /// Opens and maps a file and parses its header.
    pub fn open(path: &std::path::Path) -> Result<ModelFile> {
        let source = path.display().to_string();
        let io = |e: std::io::Error| load_err(&source, &e.to_string());
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(load_err(
                &source,
                "not a regular file: a model file must be one",
            ));
        }
        let len = meta.len();
        if len == 0 {
            return Err(load_err(&source, "the file is empty"));
        }
        // SAFETY: the map is read only; a file changed by another process while mapped could
        // give other bytes, which the readers check as any bytes, but no memory unsafety here
        // beyond what every reader of a mapped file accepts.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        let bytes: &[u8] = &map;
        let mut need = header_needed(&bytes[..bytes.len().min(PREFIX_BYTES)], len, &source)?;
        loop {
            let more = header_needed(&bytes[..need.min(bytes.len())], len, &source)?;
            if more <= need {
                break;
            }
            need = more;
        }
        let list = parse_header(&bytes[..need.min(bytes.len())], len, &source)?;
        Ok(ModelFile {
            source,
            list,
            map: Some(map),
        })
    }

    /// A tensor's bytes.
    pub fn bytes(&self, info: &TensorInfo) -> &[u8] {
        let all: &[u8] = self.map.as_deref().unwrap_or(&[]);
        all.get(info.range()).unwrap_or(&[])
    }

    /// Lets the system drop a tensor's pages from memory once it has been read (they are read
    /// from the file again if needed), so that reading a whole file keeps only the tensors in
    /// use resident.
    pub fn release(&self, info: &TensorInfo) {
        if let Some(map) = &self.map {
            let r = info.range();
            if r.end <= map.len() && !r.is_empty() {
                // SAFETY: the map is a read-only mapping of a file, never written: dropped
                // pages are read back from the file unchanged on the next access.
                let _ = unsafe {
                    map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, r.start, r.len())
                };
            }
        }
    }

    /// A tensor's values in float64.
    pub fn values(&self, info: &TensorInfo) -> Result<Vec<f64>> {
        decode_tensor(info, self.bytes(info), &self.source)
    }
}

/// Whether the file at `path` is a safetensors or GGUF file (by its first bytes).
#[cfg(not(target_arch = "wasm32"))]
pub fn is_model_file(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut prefix = [0u8; PREFIX_BYTES];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut n = 0;
    while n < prefix.len() {
        match f.read(&mut prefix[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    matches!(
        sniff(&prefix[..n]),
        Some(FileFormat::Safetensors | FileFormat::Gguf)
    )
}
