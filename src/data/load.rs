//! Loading numbers: `.npy` (float32 or float64, little-endian, C order, any shape, flattened)
//! and text (numbers separated by commas, whitespace or newlines, an optional header line).
//! Its functions are `#[inline(never)]`: called once per file, one copy each in the wasm.

use crate::error::{Error, Result, MAX_VALUES};
use crate::float::parse_f64;

#[inline(never)]
fn load_err(source: &str, message: impl Into<String>) -> Error {
    Error::Load {
        source: source.to_string(),
        message: message.into(),
    }
}

/// The value of `key` in a `.npy` header dict, as its raw text (`'<f8'`, `False`, `(3, 4)`).
#[inline(never)]
fn header_field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    // A byte search and `get` rather than `str::find` and indexing: the same text (the key is
    // ASCII, so both ends are char boundaries), without core's panicking slice paths, whose
    // message formatting (`str::slice_error_fail`, char's Debug) is ~3 KB of the wasm.
    let quoted = format!("'{key}'");
    let at = header
        .as_bytes()
        .windows(quoted.len())
        .position(|w| w == quoted.as_bytes())?;
    let rest = header.get(at + quoted.len()..)?;
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Some(rest.get(..end)?.trim())
}

/// Parses a `.npy` file's bytes into f64 values (float32 is widened exactly).
#[inline(never)]
pub fn parse_npy(bytes: &[u8], source: &str) -> Result<Vec<f64>> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(load_err(
            source,
            "not a .npy file (it does not start with \\x93NUMPY)",
        ));
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(load_err(source, "the .npy header is cut short"));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => {
            return Err(load_err(
                source,
                format!(".npy format version {v} is not supported (1, 2 or 3 are)"),
            ))
        }
    };
    let data_start = header_start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| load_err(source, "the .npy header is cut short"))?;
    let header = std::str::from_utf8(&bytes[header_start..data_start])
        .map_err(|_| load_err(source, "the .npy header is not text"))?;
    let descr = header_field(header, "descr")
        .ok_or_else(|| load_err(source, "the .npy header has no 'descr'"))?
        .trim_matches(|c| c == '\'' || c == '"');
    let width = match descr {
        "<f8" | "f8" => 8,
        "<f4" | "f4" => 4,
        ">f8" | ">f4" => {
            return Err(load_err(
                source,
                format!("dtype '{descr}' is big-endian: save it as little-endian float32 or float64 ('<f4', '<f8')"),
            ))
        }
        other => {
            return Err(load_err(
                source,
                format!("dtype '{other}' is not supported: save the array as float32 or float64 ('<f4', '<f8')"),
            ))
        }
    };
    if header_field(header, "fortran_order") == Some("True") {
        return Err(load_err(
            source,
            "the array is in Fortran order: save it in C order (np.ascontiguousarray)",
        ));
    }
    let shape = header_field(header, "shape")
        .ok_or_else(|| load_err(source, "the .npy header has no 'shape'"))?;
    let mut count: u64 = 1;
    for dim in shape.trim_matches(|c| c == '(' || c == ')').split(',') {
        let dim = dim.trim();
        if dim.is_empty() {
            continue;
        }
        let d: u64 = dim
            .parse()
            .map_err(|_| load_err(source, format!("the .npy shape {shape} is not readable")))?;
        count = count.saturating_mul(d);
    }
    if count > MAX_VALUES as u64 {
        return Err(Error::TooMany(count));
    }
    let body = &bytes[data_start..];
    let need = count as usize * width;
    if body.len() < need {
        return Err(load_err(
            source,
            format!(
                "the .npy shape {shape} needs {need} bytes of data but the file has {}",
                body.len()
            ),
        ));
    }
    let body = &body[..need];
    // Room for every value at once (in huge pages where large, as numpy's arrays).
    let mut out = crate::par::with_capacity(count as usize);
    if width == 8 {
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

/// Parses text: numbers separated by commas, semicolons, whitespace or newlines. A first line
/// with no number in it (a CSV header) is skipped; any other word is an error naming its place.
#[inline(never)]
pub fn parse_text(text: &str, source: &str) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    let is_sep = |c: char| c == ',' || c == ';' || c.is_whitespace();
    for (li, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split(is_sep).filter(|w| !w.is_empty()).collect();
        if li == 0 && !words.is_empty() && words.iter().all(|w| parse_f64(w).is_none()) {
            continue;
        }
        for (wi, w) in words.iter().enumerate() {
            match parse_f64(w) {
                Some(v) => out.push(v),
                None => {
                    return Err(load_err(
                        source,
                        format!(
                            "line {}, item {}: '{}' is not a number (expected numbers separated by commas, spaces or newlines)",
                            li + 1,
                            wi + 1,
                            w.chars().take(40).collect::<String>()
                        ),
                    ))
                }
            }
            if out.len() > MAX_VALUES {
                return Err(Error::TooMany(out.len() as u64));
            }
        }
    }
    if out.is_empty() {
        return Err(Error::EmptyData);
    }
    Ok(out)
}

/// Parses a file's bytes: `.npy` when they start with its magic, text otherwise.
pub fn parse_bytes(bytes: &[u8], source: &str) -> Result<Vec<f64>> {
    if bytes.starts_with(b"\x93NUMPY") {
        return parse_npy(bytes, source);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| load_err(source, "neither a .npy file nor UTF-8 text of numbers"))?;
    parse_text(text, source)
}

/// Reads a file (`.npy`, `.csv`, `.txt`) into values.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_file(path: &std::path::Path) -> Result<Vec<f64>> {
    let source = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| load_err(&source, e.to_string()))?;
    parse_bytes(&bytes, &source)
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

    /// The header parser as it was, with `str::find` and indexing.
    fn header_field_by_find<'a>(header: &'a str, key: &str) -> Option<&'a str> {
        let start = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[start..].trim_start().strip_prefix(':')?.trim_start();
        let end = if rest.starts_with('(') {
            rest.find(')')? + 1
        } else {
            rest.find([',', '}']).unwrap_or(rest.len())
        };
        Some(rest[..end].trim())
    }

    #[test]
    fn header_fields_read_as_with_str_find() {
        let headers = [
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }",
            "{'descr':'<f4','fortran_order':True,'shape':(7,)}",
            "{'shape': (), 'descr': '>f8'}",
            "{'descr' : 'é<f8' , 'shape' :(2,",
            "{'descr': '<f8', 'shape': 5",
            "'shape'",
            "'shape':",
            "'shape' (1,)",
            "{'descr': 'ü', 'x': 'ß', 'shape': (1, 2)}\n",
            "",
            "{}",
            "{'sha'",
            "'descr''descr': '<f8'",
        ];
        for h in headers {
            for key in ["descr", "fortran_order", "shape", "x", "", "é"] {
                assert_eq!(
                    header_field(h, key),
                    header_field_by_find(h, key),
                    "{h} {key}"
                );
            }
        }
    }

    #[test]
    fn reads_text_with_header_and_mixed_separators() {
        let v = parse_text("value\n1, 2.5\n-3e2\t4;5\n", "t").unwrap();
        assert_eq!(v, vec![1.0, 2.5, -300.0, 4.0, 5.0]);
        let e = parse_text("1\n2 x\n", "t.csv").unwrap_err().to_string();
        assert!(e.contains("line 2, item 2: 'x' is not a number"), "{e}");
        assert_eq!(parse_text(" \n", "t"), Err(Error::EmptyData));
    }
}
