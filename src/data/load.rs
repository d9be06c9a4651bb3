//! Loading numbers: `.npy` (float32 or float64, little-endian, C order, any shape, flattened)
//! and text (numbers separated by commas, whitespace or newlines, an optional header line).
//! Its functions are `#[inline(never)]`: called once per file, one copy each in the wasm.
//!
//! Input may be hostile: every length and count in it is checked before it is used, nothing
//! is allocated beyond what the input holds, and a file is read only as far as the largest
//! input quantviz accepts could need.

use crate::error::{Error, Result, MAX_VALUES};

/// What a reader gives: the values, and a note for the user on how they were read.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The values in file order (a `.npy` array flattened in C order).
    pub values: Vec<f64>,
    /// What the user should be told about the reading, such as a skipped header line.
    pub note: Option<String>,
}

/// Bytes of text allowed for each value: a number with 17 significant digits, sign and
/// exponent is 25 characters, so this leaves room for padding and wide separators.
const TEXT_BYTES_PER_VALUE: u64 = 64;

/// The longest text accepted: [`TEXT_BYTES_PER_VALUE`] for each of [`MAX_VALUES`] values and
/// 1 MiB more (a header line, trailing blank lines). Files are read no further than this.
pub const MAX_TEXT_BYTES: u64 = MAX_VALUES as u64 * TEXT_BYTES_PER_VALUE + (1 << 20);

/// The first bytes of every `.npy` file.
const MAGIC: &[u8] = b"\x93NUMPY";

/// The longest `.npy` header read: numpy's own default `max_header_size`. Headers of float
/// arrays are under 200 bytes, and numpy refuses longer ones unless told they are trusted.
const MAX_HEADER_BYTES: usize = 10_000;

#[inline(never)]
fn load_err(source: &str, message: &str) -> Error {
    Error::Load {
        source: source.to_string(),
        message: message.to_string(),
    }
}

/// Characters as a message quotes them: at most `max`, control characters (which could move
/// a terminal's cursor) as U+FFFD, and "..." where cut. `dyn`: one copy for every caller.
#[inline(never)]
fn shown_chars(chars: &mut dyn Iterator<Item = char>, max: usize) -> String {
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
fn shown(s: &str, max: usize) -> String {
    shown_chars(&mut s.chars(), max)
}

/// Bytes of a `.npy` header as a message quotes them: read as Latin-1, as numpy reads the
/// headers of format versions 1 and 2 (every byte is a character, so nothing can fail).
fn shown_bytes(b: &[u8], max: usize) -> String {
    shown_chars(&mut b.iter().map(|&c| char::from(c)), max)
}

/// A whole number given by its decimal digits as a message shows it: as written up to 15
/// digits, else in exponent form with three significant digits (`1.84e19`, cut, not rounded).
#[inline(never)]
fn shown_digits(digits: &[u8]) -> String {
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
fn shown_count(n: u64) -> String {
    shown_digits(n.to_string().as_bytes())
}

// ---- .npy --------------------------------------------------------------------------------------

/// A value of the Python literal that a `.npy` header is, as far as the checks need it.
#[derive(Clone, Copy)]
enum Lit<'a> {
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
enum BadHeader<'a> {
    At(usize),
    Key(&'a [u8]),
    Twice(&'a [u8]),
}

/// The keys of a `.npy` header, in the order [`HeaderParser::dict`] gives their values.
const KEYS: [&str; 3] = ["descr", "fortran_order", "shape"];

/// Reads a `.npy` header as a Python dict literal.
struct HeaderParser<'a> {
    b: &'a [u8],
    at: usize,
}

/// How deeply tuples and lists may nest in a header (a structured dtype nests 3 deep).
const MAX_NESTING: u8 = 16;

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
    fn dict(mut self) -> std::result::Result<[Option<Lit<'a>>; 3], BadHeader<'a>> {
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
struct Layout {
    /// Offset of the first data byte.
    data_start: usize,
    /// Number of values (the shape's product), at most [`MAX_VALUES`].
    count: usize,
    /// Bytes per value: 4 or 8.
    width: usize,
    /// The shape as Python prints it (sizes past 15 digits shortened, at most 8), for messages.
    shape: String,
}

impl Layout {
    /// The message for data shorter than the shape needs.
    fn short(&self, source: &str, have: u64) -> Error {
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
fn is_npy(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC) || (bytes.first() == Some(&MAGIC[0]) && MAGIC.starts_with(bytes))
}

/// The offset and length of a `.npy` file's header, from its first 10 (version 1) or 12
/// (versions 2 and 3) bytes.
#[inline(never)]
fn npy_preamble(bytes: &[u8], source: &str) -> Result<(usize, usize)> {
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
/// what quantviz supports of it (little-endian float32 or float64, C order, at most
/// [`MAX_VALUES`] values).
#[inline(never)]
fn npy_layout(bytes: &[u8], source: &str) -> Result<Layout> {
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
    let width = match descr {
        Lit::Str(b"<f8" | b"f8") => 8,
        Lit::Str(b"<f4" | b"f4") => 4,
        Lit::Str(d) => {
            let why = if d.starts_with(b">") { "is big-endian: save it as little-endian" } else { "is not supported: save the array as" };
            return fail(&format!(
                "dtype '{}' {why} float32 or float64 ('<f4', '<f8')",
                shown_bytes(d, 20)
            ));
        }
        _ => return fail("the dtype is structured, not a plain number: save the array as float32 or float64 ('<f4', '<f8')"),
    };
    if fortran {
        return fail("the array is in Fortran order: save it in C order (np.ascontiguousarray)");
    }
    let count = match product {
        _ if zero => 0,
        Some(n) if n <= MAX_VALUES as u64 => n as usize,
        n => {
            let n = n.map_or_else(|| "more than 1.84e19".into(), shown_count);
            return fail(&format!(
                "the .npy shape {text} holds {n} values, more than quantviz handles: use from 1 to {MAX_VALUES} values"
            ));
        }
    };
    Ok(Layout {
        data_start,
        count,
        width,
        shape: text,
    })
}

/// The values of a `.npy` file's bytes (float32 is widened exactly).
#[inline(never)]
fn npy_values(bytes: &[u8], source: &str) -> Result<Vec<f64>> {
    let layout = npy_layout(bytes, source)?;
    // `npy_layout` found the whole header in `bytes`, so `data_start <= bytes.len()`.
    let body = bytes.get(layout.data_start..).unwrap_or(&[]);
    let Some(body) = body.get(..layout.count * layout.width) else {
        return Err(layout.short(source, body.len() as u64));
    };
    // Room for every value at once (in huge pages where large, as numpy's arrays); no more
    // than the file's own bytes hold, as the data was found there in full.
    let mut out = crate::par::with_capacity(layout.count);
    if layout.width == 8 {
        out.extend(
            body.chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])),
        );
    } else {
        out.extend(
            body.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64),
        );
    }
    Ok(out)
}

/// Parses a `.npy` file's bytes into f64 values (float32 is widened exactly).
pub fn parse_npy(bytes: &[u8], source: &str) -> Result<Vec<f64>> {
    npy_values(bytes, source)
}

// ---- Text --------------------------------------------------------------------------------------

/// Whether a word can only have been meant as a number: after signs (also U+2212 and the
/// full-width ones) and a point, a digit of any script. `0x10`, `1_000`, `１２` and `5%` are;
/// `value`, `x1` and `-` are not.
fn numeric_ish(w: &str) -> bool {
    let w = w.trim_start_matches(['+', '-', '\u{2212}', '\u{ff0b}', '\u{ff0d}']);
    let w = w.strip_prefix(['.', '\u{ff0e}']).unwrap_or(w);
    w.chars().next().is_some_and(char::is_numeric)
}

/// Why a word is not a number, and what would be right where that can be told.
#[inline(never)]
fn not_a_number(w: &str) -> String {
    // Full-width forms (U+FF01..U+FF5E) as the ASCII they stand for, U+2212 as '-', no '_'.
    let plain: String = w
        .chars()
        .filter(|&c| c != '_')
        .map(|c| match c {
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            '\u{2212}' => '-',
            c => c,
        })
        .collect();
    let unsigned = w.trim_start_matches(['+', '-']);
    let mut fix = String::new();
    let why = if unsigned.starts_with("0x") || unsigned.starts_with("0X") {
        ": hexadecimal is not read, write it in decimal"
    } else if plain != w && plain.parse::<f64>().is_ok() {
        fix = shown(&plain, 40);
        if w.contains('_') {
            ": '_' between digits is not read, write "
        } else {
            ": only ASCII digits and signs are read, write "
        }
    } else if w.chars().any(|c| !c.is_ascii() && c.is_numeric()) {
        ": only the ASCII digits 0-9 are read"
    } else {
        " (expected numbers separated by commas, spaces or newlines)"
    };
    format!("'{}' is not a number{why}{fix}", shown(w, 40))
}

/// The text reader: numbers separated by commas, semicolons, whitespace or newlines, after a
/// UTF-8 byte order mark if there is one. A first line that holds no number and nothing meant
/// as one (see [`numeric_ish`]) is a header: it is skipped, and the note says so.
#[inline(never)]
fn read_text(text: &str, source: &str) -> Result<Loaded> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let is_sep = |c: char| c == ',' || c == ';' || c.is_whitespace();
    let mut values: Vec<f64> = Vec::new();
    let mut note = None;
    // Words are taken one at a time, never collected: the values are all that grows.
    for (li, line) in text.lines().enumerate() {
        let words = line.split(is_sep).filter(|w| !w.is_empty());
        if li == 0
            && words.clone().next().is_some()
            && words
                .clone()
                .all(|w| w.parse::<f64>().is_err() && !numeric_ish(w))
        {
            note = Some(shown(line.trim(), 60));
            continue;
        }
        for (wi, w) in words.enumerate() {
            let Ok(v) = w.parse::<f64>() else {
                return Err(load_err(
                    source,
                    &format!("line {}, item {}: {}", li + 1, wi + 1, not_a_number(w)),
                ));
            };
            if values.len() == MAX_VALUES {
                return Err(load_err(
                    source,
                    &format!("it holds more than {MAX_VALUES} values, the most quantviz handles: use from 1 to {MAX_VALUES} values"),
                ));
            }
            if values.len() == values.capacity() {
                // Doubling, but not past the limit (`len < MAX_VALUES` here, so it grows).
                values.reserve_exact(values.len().max(64).min(MAX_VALUES - values.len()));
            }
            values.push(v);
        }
    }
    if values.is_empty() {
        return Err(match note {
            Some(header) => load_err(
                source,
                &format!("it holds no numbers, only the header line \"{header}\""),
            ),
            None => Error::EmptyData,
        });
    }
    let note = note.map(|header| format!("skipped the header line \"{header}\""));
    Ok(Loaded { values, note })
}

/// Parses text: numbers separated by commas, semicolons, whitespace or newlines. A first line
/// with no number in it (a CSV header) is skipped; any other word is an error naming its place.
pub fn parse_text(text: &str, source: &str) -> Result<Vec<f64>> {
    read_text(text, source).map(|l| l.values)
}

/// The error for text longer than `limit` bytes.
fn too_large(source: &str, limit: u64) -> Error {
    load_err(
        source,
        &format!("it is larger than any file quantviz accepts: at most {limit} bytes of text ({TEXT_BYTES_PER_VALUE} for each of {MAX_VALUES} values, and 1 MiB more)"),
    )
}

/// Refuses text that is not UTF-8 as early as its first bytes show it: UTF-16 (with its
/// byte order mark), whose every other byte is a NUL.
fn check_text_start(bytes: &[u8], source: &str) -> Result<()> {
    if bytes.starts_with(b"\xff\xfe") || bytes.starts_with(b"\xfe\xff") {
        return Err(load_err(
            source,
            "it is UTF-16 text: save it as UTF-8 (\"CSV UTF-8\" in a spreadsheet)",
        ));
    }
    Ok(())
}

/// Refuses bytes with a NUL (text of numbers has none; binary files do), naming where the
/// first is: `offset` is where `bytes` start in the file.
fn check_no_nul(bytes: &[u8], offset: usize, source: &str) -> Result<()> {
    match bytes.iter().position(|&b| b == 0) {
        Some(i) => Err(load_err(
            source,
            &format!(
                "byte {} is a NUL: it is binary data, neither a .npy file nor text of numbers",
                offset + i
            ),
        )),
        None => Ok(()),
    }
}

/// Reads bytes that are not a `.npy` file as text.
#[inline(never)]
fn text_bytes(bytes: &[u8], source: &str) -> Result<Loaded> {
    if bytes.len() as u64 > MAX_TEXT_BYTES {
        return Err(too_large(source, MAX_TEXT_BYTES));
    }
    check_text_start(bytes, source)?;
    check_no_nul(bytes, 0, source)?;
    let text = std::str::from_utf8(bytes).map_err(|e| {
        load_err(
            source,
            &format!(
                "neither a .npy file nor UTF-8 text of numbers (byte {} is not UTF-8)",
                e.valid_up_to()
            ),
        )
    })?;
    read_text(text, source)
}

/// Reads a file's bytes: `.npy` when they start with its magic, text otherwise.
#[inline(never)]
pub fn read_bytes(bytes: &[u8], source: &str) -> Result<Loaded> {
    if is_npy(bytes) {
        let values = npy_values(bytes, source)?;
        return Ok(Loaded { values, note: None });
    }
    text_bytes(bytes, source)
}

/// Parses a file's bytes: `.npy` when they start with its magic, text otherwise.
pub fn parse_bytes(bytes: &[u8], source: &str) -> Result<Vec<f64>> {
    read_bytes(bytes, source).map(|l| l.values)
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
        // At most 12 + MAX_HEADER_BYTES + 8 * MAX_VALUES: no overflow.
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
