//! `.npy` files: the preamble, the header read as the Python dict literal it is (and checked
//! as numpy checks it), then exactly the data its shape needs, float32 widened to float64.

use super::model::{Elem, FileFormat, TensorInfo, TensorList, PAGE_MAX_VALUES};
use super::*;
use crate::error::{Error, Result};

/// The first bytes of every `.npy` file.
pub(crate) const MAGIC: &[u8] = b"\x93NUMPY";

/// The longest `.npy` header read: numpy's own default `max_header_size`. Headers of float
/// arrays are under 200 bytes, and numpy refuses longer ones unless told they are trusted.
pub(crate) const MAX_HEADER_BYTES: usize = 10_000;

/// A value of the Python literal that a `.npy` header is, as far as the checks need it.
#[derive(Clone, Copy)]
pub(crate) enum Lit<'a> {
    /// A string without escapes: its bytes between the quotes.
    Str(&'a [u8]),
    Bool(bool),
    /// A whole number (`-` and digits).
    Int,
    /// A tuple or a list: the text between its brackets, whether it is a tuple, and whether
    /// every item in it is a whole number.
    Seq {
        inner: &'a [u8],
        tuple: bool,
        ints: bool,
    },
}

/// Why a header is not the dict numpy writes: where it stops being a Python dict literal of
/// the values numpy writes, or a key other than the three, or one of them twice.
pub(crate) enum BadHeader<'a> {
    At(usize),
    Key(&'a [u8]),
    Twice(&'a [u8]),
}

/// The keys of a `.npy` header, in the order [`HeaderParser::dict`] gives their values.
pub(crate) const KEYS: [&str; 3] = ["descr", "fortran_order", "shape"];

/// Reads a `.npy` header as a Python dict literal.
pub(crate) struct HeaderParser<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) at: usize,
}

/// How deeply tuples and lists may nest in a header (a structured dtype nests 3 deep).
pub(crate) const MAX_NESTING: u8 = 16;

impl<'a> HeaderParser<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')) {
            self.at += 1;
        }
    }

    /// Skips whitespace, then `c` if it is next.
    fn eat(&mut self, c: u8) -> bool {
        self.space();
        let found = self.peek() == Some(c);
        self.at += usize::from(found);
        found
    }

    /// The bytes from `at` that `f` accepts, which it then steps over.
    fn take(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let rest = self.b.get(self.at..).unwrap_or(&[]);
        let len = rest.iter().take_while(|&&c| f(c)).count();
        self.at += len;
        &rest[..len]
    }

    /// One value: a string, `True`, `False`, a whole number, or a tuple or list nesting at
    /// most `depth` more levels. `(x)` is `x` itself, as in Python; `(x,)` is a tuple.
    fn value(&mut self, depth: u8) -> Option<Lit<'a>> {
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
        self.space();
        match self.peek()? {
            q @ (b'\'' | b'"') => {
                self.at += 1;
                // No escapes and no line breaks: numpy writes neither.
                let s = self.take(|c| c != q && c != b'\\' && c != b'\n' && c != b'\r');
                let closed = self.peek() == Some(q);
                self.at += 1;
                closed.then_some(Lit::Str(s))
            }
            open @ (b'(' | b'[') => {
                let close = if open == b'(' { b')' } else { b']' };
                self.at += 1;
                let start = self.at;
                let (mut n, mut comma, mut ints, mut only) = (0, false, true, None);
                while !self.eat(close) {
                    let item = self.value(depth.checked_sub(1)?)?;
                    ints &= matches!(item, Lit::Int);
                    only = Some(item);
                    n += 1;
                    if self.eat(b',') {
                        comma = true;
                    } else if self.eat(close) {
                        break;
                    } else {
                        return None;
                    }
                }
                if open == b'(' && n == 1 && !comma {
                    return only;
                }
                Some(Lit::Seq {
                    inner: self.b.get(start..self.at - 1)?,
                    tuple: open == b'(',
                    ints,
                })
            }
            _ => {
                let minus = self.eat(b'-');
                let w = self.take(word);
                match w {
                    b"True" if !minus => Some(Lit::Bool(true)),
                    b"False" if !minus => Some(Lit::Bool(false)),
                    // Python reads no `007` (but `0` and `00`), and no `3L`, `3.5`, `3e5`.
                    [_, ..] if w.iter().all(u8::is_ascii_digit) => {
                        let leading_zero = w[0] == b'0' && w.iter().any(|&c| c != b'0');
                        (!leading_zero).then_some(Lit::Int)
                    }
                    _ => None,
                }
            }
        }
    }

    /// The whole header: `{` string `:` value pairs separated by commas (one more allowed at
    /// the end) `}`, with whitespace anywhere between and after. Gives the values of
    /// [`KEYS`], each where present.
    pub(crate) fn dict(mut self) -> std::result::Result<[Option<Lit<'a>>; 3], BadHeader<'a>> {
        let mut values = [None; 3];
        if !self.eat(b'{') {
            return Err(BadHeader::At(self.at));
        }
        while !self.eat(b'}') {
            let Some(Lit::Str(key)) = self.value(0) else {
                return Err(BadHeader::At(self.at));
            };
            let Some(slot) = KEYS.iter().position(|k| k.as_bytes() == key) else {
                return Err(BadHeader::Key(key));
            };
            if !self.eat(b':') {
                return Err(BadHeader::At(self.at));
            }
            let value = self.value(MAX_NESTING).ok_or(BadHeader::At(self.at))?;
            if values[slot].replace(value).is_some() {
                return Err(BadHeader::Twice(key));
            }
            if !self.eat(b',') {
                if self.eat(b'}') {
                    break;
                }
                return Err(BadHeader::At(self.at));
            }
        }
        self.space();
        if self.at != self.b.len() {
            return Err(BadHeader::At(self.at));
        }
        Ok(values)
    }
}

/// Where a `.npy` file's data is and what it holds.
pub(crate) struct Layout {
    /// Offset of the first data byte.
    pub(crate) data_start: usize,
    /// Number of values (the shape's product). `data_start + count * width` fits in `usize`;
    /// whether the file holds that many bytes is for the reader to check before it allocates.
    pub(crate) count: usize,
    /// Bytes per value: 4 or 8.
    pub(crate) width: usize,
    /// The shape as Python prints it (sizes past 15 digits shortened, at most 8), for messages.
    pub(crate) shape: String,
    /// The sizes of the axes (each at most the count, as the count passed the checks).
    pub(crate) dims: Vec<usize>,
    /// Whether the values are big-endian (`'>f2'`, `'>f4'`, `'>f8'`).
    pub(crate) big: bool,
    /// The dtype as the header gives it (`<f4`).
    pub(crate) descr: String,
}

impl Layout {
    /// The message for data shorter than the shape needs.
    pub(crate) fn short(&self, source: &str, have: u64) -> Error {
        load_err(
            source,
            &format!(
                "the .npy shape {} needs {} bytes of data but the file has {have}",
                self.shape,
                self.count * self.width
            ),
        )
    }
}

/// Whether bytes are (the start of) a `.npy` file: they begin with its magic, or are cut
/// short inside it.
pub(crate) fn is_npy(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC) || (bytes.first() == Some(&MAGIC[0]) && MAGIC.starts_with(bytes))
}

/// The offset and length of a `.npy` file's header, from its first 10 (version 1) or 12
/// (versions 2 and 3) bytes.
#[inline(never)]
pub(crate) fn npy_preamble(bytes: &[u8], source: &str) -> Result<(usize, usize)> {
    if !is_npy(bytes) {
        return Err(load_err(
            source,
            "not a .npy file (it does not start with \\x93NUMPY)",
        ));
    }
    let cut = || {
        load_err(
            source,
            &format!(
                "the .npy file is cut short: it ends after {} bytes, inside the magic, version and header length that start it",
                bytes.len()
            ),
        )
    };
    let (start, len) = match *bytes.get(6).ok_or_else(cut)? {
        1 => {
            let b = bytes.get(8..10).ok_or_else(cut)?;
            (10, usize::from(u16::from_le_bytes([b[0], b[1]])))
        }
        2 | 3 => {
            let b = bytes.get(8..12).ok_or_else(cut)?;
            // A u32 fits in usize on every target quantviz builds for (32 and 64 bits).
            (12, u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        }
        v => {
            return Err(load_err(
                source,
                &format!(".npy format version {v} is not supported (1, 2 or 3 are)"),
            ))
        }
    };
    if len > MAX_HEADER_BYTES {
        return Err(load_err(
            source,
            &format!(
                "the .npy header is {len} bytes long, more than numpy itself reads ({MAX_HEADER_BYTES})"
            ),
        ));
    }
    Ok((start, len))
}

/// Reads and checks a `.npy` header as numpy's `read_array_header` does: a dict of exactly
/// `descr`, `fortran_order` and `shape`, the shape a tuple of sizes, the order a bool; then
/// what quantviz supports of it (float16, float32 or float64, C order). A `.npy` file is a
/// model tensor: any count is taken whose bytes fit in memory (the reader then checks that the
/// file holds them before it allocates anything for them).
#[inline(never)]
pub(crate) fn npy_layout(bytes: &[u8], source: &str) -> Result<Layout> {
    let fail = |message: &str| Err(load_err(source, message));
    let (start, len) = npy_preamble(bytes, source)?;
    let data_start = start + len;
    let Some(header) = bytes.get(start..data_start) else {
        return fail("the .npy header is cut short");
    };
    let [descr, fortran, shape] = match (HeaderParser { b: header, at: 0 }).dict() {
        Ok(values) => values,
        Err(BadHeader::At(at)) => return fail(&format!(
            "the .npy header is not a dict as numpy writes it ({{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }}): it stops making sense at byte {at}, \"{}\"",
            shown_bytes(header.get(at..).unwrap_or(&[]), 20)
        )),
        Err(BadHeader::Key(key)) => return fail(&format!(
            "the .npy header has a key '{}': numpy writes exactly 'descr', 'fortran_order' and 'shape'",
            shown_bytes(key, 40)
        )),
        Err(BadHeader::Twice(key)) => {
            return fail(&format!("the .npy header gives '{}' twice", shown_bytes(key, 40)))
        }
    };
    let (Some(descr), Some(fortran), Some(shape)) = (descr, fortran, shape) else {
        let missing = [descr.is_none(), fortran.is_none(), shape.is_none()];
        let key = KEYS.iter().zip(missing).find(|k| k.1).map_or("", |k| k.0);
        return fail(&format!("the .npy header has no '{key}'"));
    };

    let Lit::Seq {
        inner,
        tuple: true,
        ints: true,
    } = shape
    else {
        return fail("the .npy shape is not a tuple of whole numbers, such as (3,) or (2, 5)");
    };
    // The sizes again from the tuple's text, now known to be whole numbers between commas.
    let mut text = String::from("(");
    let mut dims = 0;
    let (mut negative, mut zero) = (false, false);
    // The product of the sizes; `None` once it passes u64.
    let mut product = Some(1u64);
    let mut sizes: Vec<u64> = Vec::new();
    for dim in inner.split(|&c| c == b',') {
        let dim = dim.trim_ascii();
        let Some(&first) = dim.first() else { continue };
        let digits = dim.strip_prefix(b"-").unwrap_or(dim);
        let is_zero = digits.iter().all(|&c| c == b'0');
        negative |= first == b'-' && !is_zero;
        zero |= is_zero;
        let size = digits.iter().try_fold(0u64, |n, &c| {
            n.checked_mul(10)?.checked_add(u64::from(c - b'0'))
        });
        product = product.zip(size).and_then(|(p, s)| p.checked_mul(s));
        sizes.push(size.unwrap_or(u64::MAX));
        if dims < 8 {
            if dims > 0 {
                text.push_str(", ");
            }
            if first == b'-' && !is_zero {
                text.push('-');
            }
            text.push_str(&shown_digits(digits));
        } else if dims == 8 {
            text.push_str(", ...");
        }
        dims += 1;
    }
    text.push_str(if dims == 1 { ",)" } else { ")" });
    if negative {
        return fail(&format!("the .npy shape {text} has a negative size"));
    }
    let Lit::Bool(fortran) = fortran else {
        return fail("the .npy header's 'fortran_order' is not True or False");
    };
    let (width, big, descr) = match descr {
        Lit::Str(d @ (b"<f8" | b"f8" | b">f8")) => (8, d[0] == b'>', d),
        Lit::Str(d @ (b"<f4" | b"f4" | b">f4")) => (4, d[0] == b'>', d),
        Lit::Str(d @ (b"<f2" | b"f2" | b">f2")) => (2, d[0] == b'>', d),
        Lit::Str(d) => {
            return fail(&format!(
                "dtype '{}' is not supported: save the array as float16, float32 or float64 ('<f2', '<f4', '<f8')",
                shown_bytes(d, 20)
            ));
        }
        _ => return fail("the dtype is structured, not a plain number: save the array as float16, float32 or float64 ('<f2', '<f4', '<f8')"),
    };
    if fortran {
        return fail("the array is in Fortran order: save it in C order (np.ascontiguousarray)");
    }
    let count = match product {
        _ if zero => 0,
        Some(n) => n,
        None => {
            return fail(&format!(
                "the .npy shape {text} holds more than 1.84e19 values, more than any file holds"
            ))
        }
    };
    // The data's end, which every reader indexes and allocates by: it must fit in `usize`.
    let end = count
        .checked_mul(width as u64)
        .and_then(|b| b.checked_add(data_start as u64));
    if end.is_none_or(|e| usize::try_from(e).is_err()) {
        let beyond = match end {
            None => "more than any file holds".to_string(),
            Some(_) => format!("more bytes than this machine addresses ({})", usize::MAX),
        };
        return fail(&format!(
            "the .npy shape {text} holds {} values of {width} bytes, {beyond}",
            shown_count(count)
        ));
    }
    // `count * width` fits in `usize`, so `count` does.
    let count = count as usize;
    // With no zero size, each size is at most the count; with one, the sizes are kept as
    // given where they fit (the data is empty either way).
    let dims = sizes
        .iter()
        .map(|&s| usize::try_from(s).unwrap_or(usize::MAX))
        .collect();
    Ok(Layout {
        data_start,
        count,
        width,
        shape: text,
        dims,
        big,
        descr: String::from_utf8_lossy(descr).into_owned(),
    })
}

/// The values of a `.npy` file's bytes (float16 and float32 are widened exactly), and its
/// shape. For the `page`, an array of more than [`PAGE_MAX_VALUES`] values is refused before
/// its data is decoded.
#[inline(never)]
pub(crate) fn npy_values(bytes: &[u8], source: &str, page: bool) -> Result<(Vec<f64>, Vec<usize>)> {
    let layout = npy_layout(bytes, source)?;
    if page && layout.count as u64 > PAGE_MAX_VALUES {
        return Err(load_err(
            source,
            &format!(
                "the .npy shape {} holds {} values, more than the page loads ({PAGE_MAX_VALUES}): run 'quantviz quantize --input FILE' or 'quantviz report FILE' on the command line, which take any array that fits in memory",
                layout.shape, layout.count
            ),
        ));
    }
    // `npy_layout` found the whole header in `bytes`, so `data_start <= bytes.len()`.
    let body = bytes.get(layout.data_start..).unwrap_or(&[]);
    let Some(body) = body.get(..layout.count * layout.width) else {
        return Err(layout.short(source, body.len() as u64));
    };
    // Room for every value at once (in huge pages where large, as numpy's arrays); no more
    // than the file's own bytes hold, as the data was found there in full.
    let mut out = crate::par::with_capacity(layout.count);
    decode(body, layout.width, layout.big, &mut out);
    Ok((out, layout.dims))
}

/// Decodes `.npy` data of `width`-byte floats, little- or big-endian.
fn decode(body: &[u8], width: usize, big: bool, out: &mut Vec<f64>) {
    let c = body.chunks_exact(width);
    match (width, big) {
        (8, false) => out.extend(c.map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))),
        (8, true) => out.extend(c.map(|c| f64::from_be_bytes(c.try_into().unwrap_or([0; 8])))),
        (4, false) => {
            out.extend(c.map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))))
        }
        (4, true) => out.extend(c.map(|c| f64::from(f32::from_be_bytes([c[0], c[1], c[2], c[3]])))),
        (_, false) => out.extend(c.map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64())),
        (_, true) => out.extend(c.map(|c| half::f16::from_be_bytes([c[0], c[1]]).to_f64())),
    }
}

/// A `.npy` file as a model file of one tensor named `array`, from its header.
pub(crate) fn npy_tensor(header: &[u8], file_len: u64, source: &str) -> Result<TensorList> {
    let layout = npy_layout(header, source)?;
    let bytes = (layout.count * layout.width) as u64;
    let start = layout.data_start as u64;
    if start + bytes > file_len {
        return Err(layout.short(source, file_len.saturating_sub(start)));
    }
    // Big-endian data is read by `read_bytes`, not by the little-endian decoder of tensors.
    let (elem, refused) = match (layout.width, layout.big) {
        (_, true) => (
            None,
            Some("big-endian: read it with --input as a .npy file".to_string()),
        ),
        (8, _) => (Some(Elem::F64), None),
        (4, _) => (Some(Elem::F32), None),
        _ => (Some(Elem::F16), None),
    };
    Ok(TensorList {
        format: FileFormat::Npy,
        tensors: vec![TensorInfo {
            name: "array".into(),
            dtype: layout.descr.clone(),
            shape: layout.dims.clone(),
            params: layout.count as u64,
            start,
            end: start + bytes,
            elem,
            refused,
        }],
    })
}

/// Parses a `.npy` file's bytes into f64 values (float16 and float32 are widened exactly).
pub fn parse_npy(bytes: &[u8], source: &str) -> Result<Vec<f64>> {
    npy_values(bytes, source, false).map(|v| v.0)
}
