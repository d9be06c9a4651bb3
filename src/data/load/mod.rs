//! Loading numbers: `.npy` (float32 or float64, little-endian, C order, any shape, flattened)
//! and text (numbers separated by commas, whitespace or newlines, an optional header line).
//! Its functions are `#[inline(never)]`: called once per file, one copy each in the wasm.
//!
//! Input may be hostile: every length and count in it is checked before it is used, nothing
//! is allocated beyond what the input holds, and a file is read only as far as the largest
//! input quantviz accepts could need.

mod gguf;
pub mod model;
mod npy;
mod safetensors;
mod text;

pub use npy::parse_npy;
use npy::*;
use text::*;
pub use text::{parse_text, MAX_TEXT_BYTES};

use crate::error::{Error, Result};

/// What a reader gives: the values, and a note for the user on how they were read.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The values in file order (a `.npy` array flattened in C order).
    pub values: Vec<f64>,
    /// What the user should be told about the reading, such as a skipped header line.
    pub note: Option<String>,
    /// The shape, row-major: a `.npy` array's or a tensor's own, `[n]` for text.
    pub shape: Vec<usize>,
    /// The kind of file the values came from, `None` for text.
    pub format: Option<model::FileFormat>,
}

impl Loaded {
    /// The shape as rows and columns ([`model::rows_cols`]): every axis but the last flattened
    /// into rows; `None` for 1-D (and 0-D) data.
    pub fn rows_cols(&self) -> Option<(usize, usize)> {
        model::rows_cols(&self.shape)
    }
}

#[inline(never)]
pub(crate) fn load_err(source: &str, message: &str) -> Error {
    Error::Load {
        source: source.to_string(),
        message: message.to_string(),
    }
}

/// Characters as a message quotes them: at most `max`, control characters (which could move
/// a terminal's cursor) as U+FFFD, and "..." where cut. `dyn`: one copy for every caller.
#[inline(never)]
pub(crate) fn shown_chars(chars: &mut dyn Iterator<Item = char>, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in chars.enumerate() {
        if i == max {
            out.push_str("...");
            break;
        }
        out.push(if c.is_control() { '\u{fffd}' } else { c });
    }
    out
}

/// Text as a message quotes it (see [`shown_chars`]).
pub(crate) fn shown(s: &str, max: usize) -> String {
    shown_chars(&mut s.chars(), max)
}

/// Bytes of a `.npy` header as a message quotes them: read as Latin-1, as numpy reads the
/// headers of format versions 1 and 2 (every byte is a character, so nothing can fail).
pub(crate) fn shown_bytes(b: &[u8], max: usize) -> String {
    shown_chars(&mut b.iter().map(|&c| char::from(c)), max)
}

/// A whole number given by its decimal digits as a message shows it: as written up to 15
/// digits, else in exponent form with three significant digits (`1.84e19`, cut, not rounded).
#[inline(never)]
pub(crate) fn shown_digits(digits: &[u8]) -> String {
    let start = digits
        .iter()
        .position(|&c| c != b'0')
        .unwrap_or(digits.len().saturating_sub(1));
    let d = shown_bytes(&digits[start..], 15);
    match d.as_bytes() {
        [a, b, c, ..] if digits.len() - start > 15 => {
            let e = digits.len() - start - 1;
            format!(
                "{}.{}{}e{e}",
                char::from(*a),
                char::from(*b),
                char::from(*c)
            )
        }
        _ => d,
    }
}

/// `n` as a message shows it (see [`shown_digits`]).
pub(crate) fn shown_count(n: u64) -> String {
    shown_digits(n.to_string().as_bytes())
}

// ---- .npy --------------------------------------------------------------------------------------

/// Reads a file's bytes: `.npy` when they start with its magic, a safetensors or GGUF file's
/// only tensor, text otherwise. A `.npy` array or a tensor may hold any number of values that
/// the bytes hold (text at most [`crate::error::MAX_VALUES`]).
pub fn read_bytes(bytes: &[u8], source: &str) -> Result<Loaded> {
    read_bytes_for(bytes, source, false)
}

/// [`read_bytes`] as the page reads a file: a `.npy` array or a tensor of more than
/// [`model::PAGE_MAX_VALUES`] values is refused before it is decoded.
pub fn read_page_bytes(bytes: &[u8], source: &str) -> Result<Loaded> {
    read_bytes_for(bytes, source, true)
}

/// [`read_bytes`], with the page's limit where `page`.
#[inline(never)]
fn read_bytes_for(bytes: &[u8], source: &str, page: bool) -> Result<Loaded> {
    if is_npy(bytes) {
        let (values, shape) = npy_values(bytes, source, page)?;
        return Ok(Loaded {
            values,
            note: None,
            shape,
            format: Some(model::FileFormat::Npy),
        });
    }
    if matches!(
        model::sniff(bytes),
        Some(model::FileFormat::Safetensors | model::FileFormat::Gguf)
    ) {
        return model_bytes(bytes, None, source, page);
    }
    text_bytes(bytes, source)
}

/// Parses a file's bytes: `.npy` when they start with its magic, text otherwise.
pub fn parse_bytes(bytes: &[u8], source: &str) -> Result<Vec<f64>> {
    read_bytes(bytes, source).map(|l| l.values)
}

/// One tensor of a safetensors, GGUF or `.npy` file's bytes: the one named, or the file's
/// only one (with several and no name, an error lists them).
pub fn read_model_bytes(bytes: &[u8], tensor: Option<&str>, source: &str) -> Result<Loaded> {
    model_bytes(bytes, tensor, source, false)
}

/// [`read_model_bytes`], with the page's limit (checked before decoding) where `page`.
fn model_bytes(bytes: &[u8], tensor: Option<&str>, source: &str, page: bool) -> Result<Loaded> {
    let len = bytes.len() as u64;
    let mut need = model::header_needed(
        bytes.get(..model::PREFIX_BYTES).unwrap_or(bytes),
        len,
        source,
    )?;
    loop {
        let more = model::header_needed(&bytes[..need.min(bytes.len())], len, source)?;
        if more <= need {
            break;
        }
        need = more;
    }
    let list = model::parse_header(&bytes[..need.min(bytes.len())], len, source)?;
    let info = list.pick(tensor, source)?;
    if list.format == model::FileFormat::Npy {
        // `.npy` keeps its own reader (big-endian data, its messages).
        return read_bytes_for(bytes, source, page);
    }
    if page {
        model::check_page_size(info, source)?;
    }
    let values = model::decode_tensor(info, &bytes[info.range()], source)?;
    Ok(Loaded {
        values,
        note: None,
        shape: info.shape.clone(),
        format: Some(list.format),
    })
}

/// One tensor of a safetensors or GGUF file (memory-mapped), or any file `read_file` reads,
/// where no tensor is named. A name with a file of another kind is an error.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_tensor_file(path: &std::path::Path, tensor: Option<&str>) -> Result<Loaded> {
    if !model::is_model_file(path) {
        return match tensor {
            None => read_file(path),
            Some(_) => Err(load_err(
                &path.display().to_string(),
                "--tensor picks a tensor of a safetensors or GGUF file, and this is neither",
            )),
        };
    }
    let file = model::ModelFile::open(path)?;
    let info = file.list.pick(tensor, &file.source)?;
    let values = file.values(info)?;
    Ok(Loaded {
        values,
        note: None,
        shape: info.shape.clone(),
        format: Some(file.list.format),
    })
}

// ---- Files -------------------------------------------------------------------------------------

/// Reads from `r` until `buf` holds `upto` bytes or the input ends; returns how many were added.
#[cfg(not(target_arch = "wasm32"))]
fn fill(r: &mut impl std::io::Read, buf: &mut Vec<u8>, upto: usize) -> std::io::Result<usize> {
    use std::io::Read;
    let want = upto.saturating_sub(buf.len()) as u64;
    r.by_ref().take(want).read_to_end(buf)
}

/// Reads a file (`.npy`, `.csv`, `.txt`) into values, and a note on how they were read. It
/// reads no more than the largest accepted input could need: for `.npy`, the header and
/// then the data its shape asks for (checked against the file's length first); for text, at
/// most [`MAX_TEXT_BYTES`], stopping at the first NUL byte.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_file(path: &std::path::Path) -> Result<Loaded> {
    let source = path.display().to_string();
    let io = |e: std::io::Error| load_err(&source, &e.to_string());
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    // The length of a regular file; devices and pipes have none to trust.
    let known = meta.is_file().then_some(meta.len());
    read_from(file, known, &source, MAX_TEXT_BYTES)
}

/// [`read_file`] from any reader: `known` is its length where known, `text_limit` the most
/// bytes of text read.
#[cfg(not(target_arch = "wasm32"))]
#[inline(never)]
fn read_from(
    mut r: impl std::io::Read,
    known: Option<u64>,
    source: &str,
    text_limit: u64,
) -> Result<Loaded> {
    let io = |e: std::io::Error| load_err(source, &e.to_string());
    let mut bytes = Vec::new();
    // Enough to tell a .npy file and find its header's length.
    fill(&mut r, &mut bytes, 12).map_err(io)?;
    if is_npy(&bytes) {
        let (start, len) = npy_preamble(&bytes, source)?;
        fill(&mut r, &mut bytes, start + len).map_err(io)?;
        let layout = npy_layout(&bytes, source)?;
        // `npy_layout` checked that this fits in `usize`.
        let total = layout.data_start + layout.count * layout.width;
        if let Some(k) = known {
            if k < total as u64 {
                let have = k.saturating_sub(layout.data_start as u64);
                return Err(layout.short(source, have));
            }
            // The file holds this much: room for it at once.
            bytes.reserve_exact(total.saturating_sub(bytes.len()));
        }
        fill(&mut r, &mut bytes, total).map_err(io)?;
        return read_bytes(&bytes, source);
    }
    if known.is_some_and(|k| k > text_limit) {
        return Err(too_large(source, text_limit));
    }
    check_text_start(&bytes, source)?;
    check_no_nul(&bytes, 0, source)?;
    if let Some(k) = known {
        // At most `text_limit`, checked above.
        bytes.reserve_exact((k as usize).saturating_sub(bytes.len()));
    }
    // A chunk at a time, so that binary data (such as /dev/zero) is refused at its first NUL.
    const CHUNK: usize = 1 << 20;
    let limit = usize::try_from(text_limit).unwrap_or(usize::MAX);
    loop {
        if bytes.len() > limit {
            return Err(too_large(source, text_limit));
        }
        let before = bytes.len();
        // At least 1, as `before <= limit`: one byte past the limit tells that there is more.
        let want = CHUNK.min(limit.saturating_add(1) - before);
        let n = fill(&mut r, &mut bytes, before + want).map_err(io)?;
        check_no_nul(&bytes[before..], before, source)?;
        if n < want {
            break;
        }
    }
    text_bytes(&bytes, source)
}

/// Reads a file (`.npy`, `.csv`, `.txt`) into values.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_file(path: &std::path::Path) -> Result<Vec<f64>> {
    read_file(path).map(|l| l.values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut v = b"\x93NUMPY\x01\x00".to_vec();
        v.extend_from_slice(&(h.len() as u16).to_le_bytes());
        v.extend_from_slice(h.as_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn reads_f8_and_f4_any_shape() {
        let body: Vec<u8> = [1.5f64, -2.0, 3.25, 4.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(
            parse_npy(&npy("<f8", "(2, 2)", &body), "a").unwrap(),
            vec![1.5, -2.0, 3.25, 4.0]
        );
        let body: Vec<u8> = [0.1f32, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(
            parse_npy(&npy("<f4", "(2,)", &body), "a").unwrap(),
            vec![0.1f32 as f64, 2.0]
        );
    }

    #[test]
    fn bad_npy_says_why() {
        let e = parse_npy(&npy("<i4", "(1,)", &[0; 4]), "w.npy")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'<i4' is not supported"), "{e}");
        let e = parse_npy(&npy("<f8", "(3,)", &[0; 8]), "w.npy")
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs 24 bytes"), "{e}");
        let e = parse_npy(b"hello world", "w.npy").unwrap_err().to_string();
        assert!(e.contains("not a .npy"), "{e}");
    }

    /// The header parser on what numpy writes and on what Python would read differently.
    #[test]
    fn header_literals_read_as_python_does() {
        fn dict(h: &str) -> Option<[Option<Lit<'_>>; 3]> {
            HeaderParser {
                b: h.as_bytes(),
                at: 0,
            }
            .dict()
            .ok()
        }
        let shape_of = |h: &str| match dict(h) {
            Some(
                [_, _, Some(Lit::Seq {
                    inner,
                    tuple: true,
                    ints: true,
                })],
            ) => Some(
                inner
                    .split(|&c| c == b',')
                    .filter(|d| !d.trim_ascii().is_empty())
                    .count(),
            ),
            _ => None,
        };
        assert_eq!(shape_of("{'shape': (3, 4), }"), Some(2));
        assert_eq!(shape_of("{'shape': (3,)}"), Some(1));
        assert_eq!(shape_of("{'shape': ()}"), Some(0));
        assert_eq!(shape_of("{\"shape\"\t:\n( 3 , ) ,\n}  \n"), Some(1));
        // `(3)` is the number 3, not a tuple; a list is no tuple.
        assert_eq!(shape_of("{'shape': (3)}"), None);
        assert_eq!(shape_of("{'shape': [3]}"), None);
        for bad in [
            "",
            "{",
            "{'shape': (3,),,}",
            "{'shape': (,)}",
            "{'shape': (3 4)}",
            "{'shape': (007,)}",
            "{'shape': (3L,)}",
            "{'shape': (3.0,)}",
            "{'shape': (1e3,)}",
            "{'shape': (1_0,)}",
            "{'shape': (3,)} x",
            "{'shape': (3,)}}",
            "{shape: (3,)}",
            "{'sh\\x61pe': (3,)}",
            "{'shape': Truex}",
            "{'shape': 'unterminated}",
            "{'shape': 'line break\n'}",
            "{'shape': 'line\rbreak'}",
            "{'shape' (3,)}",
        ] {
            assert!(dict(bad).is_none(), "{bad}");
        }
        assert!(shape_of("{'shape': (0, 00, -0, -3)}") == Some(4));
        // Nesting is bounded, however long the header.
        let deep = format!("{{'shape': {}{}}}", "(".repeat(5000), ")".repeat(5000));
        assert!(dict(&deep).is_none());
        let structured = "{'descr': [('a', '<f8'), ('b', '<i4', (2,))], 'fortran_order': True}";
        assert!(matches!(
            dict(structured),
            Some([
                Some(Lit::Seq {
                    tuple: false,
                    ints: false,
                    ..
                }),
                Some(Lit::Bool(true)),
                None
            ])
        ));
        // A key other than the three, or one of them twice, is refused as soon as it is read.
        assert!(dict("{'x': 1, 'shape': (").is_none());
        assert!(dict("{'shape': (1,), 'shape': (1,)}").is_none());
    }

    #[test]
    fn large_numbers_are_shown_in_exponent_form() {
        assert_eq!(shown_digits(b"0"), "0");
        assert_eq!(shown_digits(b"000"), "0");
        assert_eq!(shown_digits(b"0042"), "42");
        assert_eq!(shown_digits(b"999999999999999"), "999999999999999");
        assert_eq!(shown_digits(b"1000000000000000"), "1.00e15");
        assert_eq!(shown_count(u64::MAX), "1.84e19");
        assert_eq!(shown_digits(&[b'7'; 300]), "7.77e299");
    }

    #[test]
    fn reads_text_with_header_and_mixed_separators() {
        let v = parse_text("value\n1, 2.5\n-3e2\t4;5\n", "t").unwrap();
        assert_eq!(v, vec![1.0, 2.5, -300.0, 4.0, 5.0]);
        let e = parse_text("1\n2 x\n", "t.csv").unwrap_err().to_string();
        assert!(e.contains("line 2, item 2: 'x' is not a number"), "{e}");
        assert_eq!(parse_text(" \n", "t"), Err(Error::EmptyData));
    }

    /// An endless reader of text: `read_from` stops one byte past its limit.
    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn endless_text_is_read_only_up_to_the_limit() {
        struct Counting<R>(R, u64);
        impl<R: std::io::Read> std::io::Read for Counting<R> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.read(buf)?;
                self.1 += n as u64;
                Ok(n)
            }
        }
        let mut r = Counting(std::io::repeat(b'1'), 0);
        let e = read_from(&mut r, None, "endless", 5000)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("larger than any file quantviz accepts: at most 5000 bytes of text"),
            "{e}"
        );
        assert_eq!(r.1, 5001);
        // Within the limit, the same reader is read as text.
        let ok = read_from(&b"1 2 3"[..], None, "short", 5).unwrap();
        assert_eq!(ok.values, vec![1.0, 2.0, 3.0]);
        assert!(read_from(&b"1 2 3"[..], None, "short", 4).is_err());
        assert!(read_from(&b"1 2 3"[..], None, "short", 3).is_err());
        // A length known to be over the limit is refused before reading.
        let mut r = Counting(std::io::repeat(b'1'), 0);
        assert!(read_from(&mut r, Some(6000), "long", 5000).is_err());
        assert_eq!(r.1, 12);
    }

    /// `.npy` data through a reader: no more than the header and the shape's data are read,
    /// and a known length shorter than the shape needs is refused before the data is read.
    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn npy_is_read_only_as_far_as_its_shape() {
        let body: Vec<u8> = [1.5f64, 2.5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let file = npy("<f8", "(2,)", &body);
        let endless = std::io::Read::chain(&file[..], std::io::repeat(7));
        assert_eq!(
            read_from(endless, None, "a.npy", 100).unwrap().values,
            vec![1.5, 2.5]
        );
        let e = read_from(&file[..], Some(128 + 6), "a.npy", 100)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the .npy shape (2,) needs 16 bytes of data but the file has 6"),
            "{e}"
        );
        let cut = &file[..file.len() - 1];
        let e = read_from(cut, None, "a.npy", 100).unwrap_err().to_string();
        assert!(
            e.contains("needs 16 bytes of data but the file has 15"),
            "{e}"
        );
    }
}
