//! Text of numbers: separated by commas, whitespace or newlines; a first line that cannot be
//! a number is a header, skipped and said; read no further than the largest accepted input.

use super::*;
use crate::error::{Error, Result, MAX_VALUES};

/// Bytes of text allowed for each value: a number with 17 significant digits, sign and
/// exponent is 25 characters, so this leaves room for padding and wide separators.
pub(crate) const TEXT_BYTES_PER_VALUE: u64 = 64;

/// The longest text accepted: [`TEXT_BYTES_PER_VALUE`] for each of [`MAX_VALUES`] values and
/// 1 MiB more (a header line, trailing blank lines). Files are read no further than this.
pub const MAX_TEXT_BYTES: u64 = MAX_VALUES as u64 * TEXT_BYTES_PER_VALUE + (1 << 20);

/// Whether a word can only have been meant as a number: after signs (also U+2212 and the
/// full-width ones) and a point, a digit of any script. `0x10`, `1_000`, `１２` and `5%` are;
/// `value`, `x1` and `-` are not.
pub(crate) fn numeric_ish(w: &str) -> bool {
    let w = w.trim_start_matches(['+', '-', '\u{2212}', '\u{ff0b}', '\u{ff0d}']);
    let w = w.strip_prefix(['.', '\u{ff0e}']).unwrap_or(w);
    w.chars().next().is_some_and(char::is_numeric)
}

/// Why a word is not a number, and what would be right where that can be told.
#[inline(never)]
pub(crate) fn not_a_number(w: &str) -> String {
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
pub(crate) fn read_text(text: &str, source: &str) -> Result<Loaded> {
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
            note = Some(shown(line.trim(), 40));
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
    let shape = vec![values.len()];
    Ok(Loaded {
        values,
        note,
        shape,
        format: None,
    })
}

/// Parses text: numbers separated by commas, semicolons, whitespace or newlines. A first line
/// with no number in it (a CSV header) is skipped; any other word is an error naming its place.
pub fn parse_text(text: &str, source: &str) -> Result<Vec<f64>> {
    read_text(text, source).map(|l| l.values)
}

/// The error for text longer than `limit` bytes.
pub(crate) fn too_large(source: &str, limit: u64) -> Error {
    load_err(
        source,
        &format!("it is larger than any file quantviz accepts: at most {limit} bytes of text ({TEXT_BYTES_PER_VALUE} for each of {MAX_VALUES} values, and 1 MiB more)"),
    )
}

/// Refuses text that is not UTF-8 as early as its first bytes show it: UTF-16 (with its
/// byte order mark), whose every other byte is a NUL.
pub(crate) fn check_text_start(bytes: &[u8], source: &str) -> Result<()> {
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
pub(crate) fn check_no_nul(bytes: &[u8], offset: usize, source: &str) -> Result<()> {
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
pub(crate) fn text_bytes(bytes: &[u8], source: &str) -> Result<Loaded> {
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
