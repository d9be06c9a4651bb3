#![cfg(not(target_arch = "wasm32"))]
//! The file readers (`quantviz::data::load`) on hostile input: valid files mutated byte by byte,
//! random bytes, and one named case for each way they went wrong before.
//!
//! Every outcome must be an error with a message or a correct result, and the memory a read
//! takes must stay a small multiple of its input. This test binary counts the bytes each
//! thread has allocated (see [`Counting`]), so that the multiple is measured, not assumed.

use proptest::collection::vec;
use proptest::prelude::*;
use quantviz::data::load::model::{
    check_page_size, decode_tensor, header_needed, parse_header, TensorInfo, PAGE_MAX_VALUES,
    PREFIX_BYTES,
};
use quantviz::data::load::{
    load_file, parse_bytes, parse_npy, parse_text, read_bytes, read_file, read_model_bytes,
    read_page_bytes, read_tensor_file, Loaded, MAX_TEXT_BYTES,
};
use quantviz::error::{Error, MAX_VALUES};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

// ---- Counting what a read allocates ------------------------------------------------------------

/// The system allocator, counting the bytes each thread holds and the most it has held.
/// Per thread, so that tests running beside each other do not count each other's memory.
struct Counting;

thread_local! {
    // Const-initialized cells of integers: no lazy setup and no destructor, so the allocator
    // may use them at any time, also while a thread is being torn down.
    static HELD: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// Notes the size of one allocation (or reallocation) as the largest yet, where it is.
fn note_size(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

fn count(delta: isize) {
    let _ = HELD.try_with(|held| {
        let now = held.get() + delta;
        held.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call goes to `System` unchanged; the counting only reads and writes
// thread-local integers.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
            note_size(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
            note_size(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
            note_size(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `f`'s result and the most bytes this thread held at once while it ran, beyond what it
/// held before.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = HELD.with(Cell::get);
    PEAK.with(|p| p.set(before));
    let out = f();
    let peak = PEAK.with(Cell::get);
    (out, (peak - before).max(0) as usize)
}

/// `f`'s result and the largest single allocation this thread made while it ran.
fn largest_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let out = f();
    (out, LARGEST.with(Cell::get))
}

// ---- Helpers -----------------------------------------------------------------------------------

/// A `.npy` file as numpy writes it, from its header dict's text (padded to 64 bytes).
fn npy_with_header(version: u8, dict: &str, body: &[u8]) -> Vec<u8> {
    let prefix = if version == 1 { 10 } else { 12 };
    let mut h = dict.to_string();
    while !(prefix + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut v = b"\x93NUMPY".to_vec();
    v.extend_from_slice(&[version, 0]);
    if version == 1 {
        v.extend_from_slice(&(h.len() as u16).to_le_bytes());
    } else {
        v.extend_from_slice(&(h.len() as u32).to_le_bytes());
    }
    v.extend_from_slice(h.as_bytes());
    v.extend_from_slice(body);
    v
}

/// A version 1 `.npy` file from a dict text and float64 values.
fn npy_f8(dict: &str, xs: &[f64]) -> Vec<u8> {
    let body: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
    npy_with_header(1, dict, &body)
}

/// A reader's shape holds its values: the sizes multiply to the count (a size of 0 holds
/// none), and the rows and columns, where 2-D, do too.
fn shape_holds(l: &Loaded) -> bool {
    let product = l.shape.iter().try_fold(1usize, |p, &s| p.checked_mul(s));
    let sizes = l.shape.contains(&0) && l.values.is_empty() || product == Some(l.values.len());
    let rows_cols = l.rows_cols().is_none_or(|(r, c)| r * c == l.values.len());
    sizes && rows_cols
}

/// The message of an error from reading `bytes`, which must be one.
fn err(bytes: &[u8]) -> String {
    match read_bytes(bytes, "f") {
        Ok(l) => panic!(
            "read {} values from {:?}",
            l.values.len(),
            String::from_utf8_lossy(bytes)
        ),
        Err(e) => e.to_string(),
    }
}

/// `m` without its quoted parts: a quote (' or ") opens after the start, a space, `(` or `:`
/// and closes before the end, a space or punctuation, so that an apostrophe inside a word
/// ("the file's") neither opens nor closes one.
fn unquoted(m: &str) -> String {
    let chars: Vec<char> = m.chars().collect();
    let mut out = String::new();
    let mut open: Option<char> = None;
    for (i, &c) in chars.iter().enumerate() {
        let before = if i == 0 { None } else { Some(chars[i - 1]) };
        let after = chars.get(i + 1).copied();
        match open {
            None if (c == '\'' || c == '"')
                && before.is_none_or(|b| b.is_whitespace() || b == '(' || b == ':') =>
            {
                open = Some(c);
                out.push(' ');
            }
            None => out.push(c),
            Some(q)
                if c == q && after.is_none_or(|a| a.is_whitespace() || ",.;:)]".contains(a)) =>
            {
                open = None;
            }
            Some(_) => {}
        }
    }
    out
}

/// What every error message must be: non-empty, naming no range of non-finite numbers, and
/// with no number longer than a quoted word (40 characters) in it. Words and lines of the
/// input are quoted (in single or double quotes) and may hold anything, so the check for
/// ranges skips them.
fn check_message(e: &Error) -> Result<(), TestCaseError> {
    let m = e.to_string();
    prop_assert!(!m.is_empty());
    let unquoted = unquoted(&m);
    for bad in ["[inf", "[-inf", "[NaN", "inf]", "NaN]"] {
        prop_assert!(!unquoted.contains(bad), "{}", m);
    }
    let longest = m
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    prop_assert!(longest <= 40, "{}", m);
    Ok(())
}

/// A file of its own in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("quantviz-readers-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// ---- Text: named cases -------------------------------------------------------------------------

#[test]
fn text_utf8_bom_is_stripped() {
    let l = read_bytes(b"\xef\xbb\xbf1,2,3", "bom.csv").unwrap();
    assert_eq!(l.values, vec![1.0, 2.0, 3.0]);
    assert_eq!(l.note, None);
    assert_eq!(parse_text("\u{feff}1,2,3", "bom.csv").unwrap().len(), 3);
    // Before a header too: the header is the first line, not the mark.
    let l = read_bytes("\u{feff}value\r\n4\r\n5\r\n".as_bytes(), "bom.csv").unwrap();
    assert_eq!(l.values, vec![4.0, 5.0]);
    assert_eq!(l.note.as_deref(), Some("skipped the header line \"value\""));
}

#[test]
fn text_hex_first_line_is_an_error_not_a_header() {
    let e = err(b"0x10\n1\n2\n");
    assert!(
        e.contains(
            "line 1, item 1: '0x10' is not a number: hexadecimal is not read, write it in decimal"
        ),
        "{e}"
    );
    let e = err(b"1\n-0xff\n");
    assert!(
        e.contains("line 2, item 1: '-0xff' is not a number: hexadecimal"),
        "{e}"
    );
}

#[test]
fn text_digit_separator_first_line_is_an_error_not_a_header() {
    let e = err(b"1_000, 2\n3\n");
    assert!(
        e.contains(
            "line 1, item 1: '1_000' is not a number: '_' between digits is not read, write 1000"
        ),
        "{e}"
    );
}

#[test]
fn text_full_width_digits_first_line_is_an_error_not_a_header() {
    let e = err("１２\n3\n".as_bytes());
    assert!(
        e.contains("line 1, item 1: '１２' is not a number: only ASCII digits and signs are read, write 12"),
        "{e}"
    );
    // The minus sign U+2212, as copied from typeset text.
    let e = err("1\n\u{2212}2.5\n".as_bytes());
    assert!(e.contains("write -2.5"), "{e}");
    // Digits of another script, which have no ASCII spelling here.
    let e = err("١٢\n".as_bytes());
    assert!(e.contains("only the ASCII digits 0-9 are read"), "{e}");
}

#[test]
fn text_skipped_header_is_noted() {
    let l = read_bytes(b"value\n1\n2.5\n", "h.csv").unwrap();
    assert_eq!(l.values, vec![1.0, 2.5]);
    assert_eq!(l.note.as_deref(), Some("skipped the header line \"value\""));
    let l = read_bytes(b"x,y\n1,2\n", "h.csv").unwrap();
    assert_eq!(l.note.as_deref(), Some("skipped the header line \"x,y\""));
    // No header, no note.
    assert_eq!(read_bytes(b"1,2\n", "h.csv").unwrap().note, None);
    // A header alone is said to be one, not "empty".
    let e = err(b"value\n\n");
    assert!(e.contains("only the header line \"value\""), "{e}");
    // A long header is cut in the note, and control characters are not passed on.
    let long = format!("{}\x1b[31m\n1\n", "h".repeat(100));
    let note = read_bytes(long.as_bytes(), "h.csv").unwrap().note.unwrap();
    assert!(note.len() < 100 && note.ends_with("...\"") && !note.contains('\x1b'));
    // The wrappers give the values alone, as before.
    assert_eq!(parse_text("value\n1\n", "h").unwrap(), vec![1.0]);
    assert_eq!(parse_bytes(b"value\n1\n", "h").unwrap(), vec![1.0]);
}

#[test]
fn text_over_the_value_limit_stops_early_in_bounded_memory() {
    // MAX_VALUES + 1 numbers, then a word that is no number: reading must stop at the first
    // value past the limit, so the error is the count, not the word at the end.
    let mut text = "1 ".repeat(MAX_VALUES + 1);
    text.push('x');
    let (result, peak) = peak_during(|| read_bytes(text.as_bytes(), "big.txt"));
    let e = result.unwrap_err().to_string();
    assert!(
        e.contains(&format!("it holds more than {MAX_VALUES} values")),
        "{e}"
    );
    // The values themselves (at most MAX_VALUES of them) and little else: no list of words.
    assert!(
        peak <= MAX_VALUES * 8 + (1 << 20),
        "{peak} bytes for {} of text",
        text.len()
    );
    // Exactly MAX_VALUES is fine.
    let text = "1\n".repeat(MAX_VALUES);
    assert_eq!(
        read_bytes(text.as_bytes(), "max.txt").unwrap().values.len(),
        MAX_VALUES
    );
}

#[test]
fn text_binary_and_utf16_are_refused_with_a_reason() {
    let e = err(b"1,2\x003");
    assert!(e.contains("byte 3 is a NUL"), "{e}");
    let e = err(b"\xff\xfe1\x00,\x002\x00");
    assert!(e.contains("UTF-16"), "{e}");
    let e = err(b"1,2,\xe9");
    assert!(e.contains("byte 4 is not UTF-8"), "{e}");
}

// ---- .npy: named cases -------------------------------------------------------------------------

#[test]
fn npy_descr_inside_another_keys_value_is_not_the_dtype() {
    let xs = [1.5, -2.25];
    // Searching the text for 'descr' found the one inside the first value: float64 data was
    // read as float32.
    let e = err(&npy_f8(
        "{'x': \"'descr': '<f4', \", 'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
        &xs,
    ));
    assert!(e.contains("has a key 'x'"), "{e}");
    let e = err(&npy_f8(
        "{'fortran_order': \"'descr': '<f4'\", 'descr': '<f8', 'shape': (2,), }",
        &xs,
    ));
    assert!(e.contains("'fortran_order' is not True or False"), "{e}");
    // Keys in any order, either quote, no trailing comma: read as written.
    let l = read_bytes(
        &npy_f8(
            "{\"shape\": (2,), 'fortran_order': False, 'descr': '<f8'}",
            &xs,
        ),
        "f",
    )
    .unwrap();
    assert_eq!(l.values, xs);
}

#[test]
fn npy_extra_keys_are_refused() {
    let e = err(&npy_f8(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'extra': 1, }",
        &[1.0],
    ));
    assert!(
        e.contains("has a key 'extra': numpy writes exactly 'descr', 'fortran_order' and 'shape'"),
        "{e}"
    );
    let e = err(&npy_f8(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'shape': (1,)}",
        &[1.0],
    ));
    assert!(e.contains("gives 'shape' twice"), "{e}");
}

#[test]
fn npy_missing_keys_are_refused() {
    for (dict, key) in [
        ("{'fortran_order': False, 'shape': (1,)}", "descr"),
        ("{'descr': '<f8', 'shape': (1,)}", "fortran_order"),
        ("{'descr': '<f8', 'fortran_order': False}", "shape"),
        ("{}", "descr"),
    ] {
        let e = err(&npy_f8(dict, &[1.0]));
        assert!(e.contains(&format!("has no '{key}'")), "{dict}: {e}");
    }
}

#[test]
fn npy_shape_must_be_a_tuple_of_sizes() {
    for shape in ["3", "(3)", "[3]", "(3.0,)", "('3',)", "((3,),)", "(True,)"] {
        let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}}}");
        let e = err(&npy_f8(&dict, &[1.0, 2.0, 3.0]));
        assert!(
            e.contains("shape is not a tuple of whole numbers")
                || e.contains("not a dict as numpy writes it"),
            "{shape}: {e}"
        );
    }
    let e = err(&npy_f8(
        "{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}",
        &[1.0],
    ));
    assert!(e.contains("'fortran_order' is not True or False"), "{e}");
}

#[test]
fn npy_negative_size_is_refused() {
    let e = err(&npy_f8(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, -1), }",
        &[1.0, 2.0],
    ));
    assert!(
        e.contains("the .npy shape (2, -1) has a negative size"),
        "{e}"
    );
    // -0 is 0, as in Python: an empty array.
    let l = read_bytes(
        &npy_f8(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-0,), }",
            &[],
        ),
        "f",
    )
    .unwrap();
    assert!(l.values.is_empty());
}

#[test]
fn npy_overflowing_shape_is_an_error_in_short_numbers() {
    let big = "9".repeat(300);
    for (shape, says) in [
        (
            "(1099511627776, 1099511627776)".to_string(),
            "holds more than 1.84e19 values".to_string(),
        ),
        (
            format!("({big},)"),
            "(9.99e299,) holds more than 1.84e19".into(),
        ),
        (
            // Any count is taken whose data the file holds; this one's is not there.
            "(100000, 100000)".into(),
            "needs 80000000000 bytes of data but the file has 8".into(),
        ),
        (
            "(4294967296, 4294967296, 2)".into(),
            "holds more than 1.84e19 values".into(),
        ),
    ] {
        let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
        let (e, peak) = peak_during(|| err(&npy_f8(&dict, &[1.0])));
        assert!(e.contains(&says), "{shape}: {e}");
        assert!(!e.contains(&big[..20]), "{e}");
        assert!(peak < 64 << 10, "{peak}");
    }
    // A size of 0 makes the product 0 however large the others.
    let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': (0, {big}), }}");
    assert!(parse_npy(&npy_f8(&dict, &[]), "f").unwrap().is_empty());
}

/// `.npy` arrays are model tensors: more than the 10,000,000 values of text and generated
/// data are read wherever the file holds them; the page refuses more than its own limit before
/// it looks for the data, and text keeps the 10,000,000.
#[test]
fn npy_takes_any_count_its_file_holds_and_the_page_keeps_its_limit() {
    let n = MAX_VALUES + 1;
    let dict = format!("{{'descr': '<f2', 'fortran_order': False, 'shape': ({n},), }}");
    let bytes = npy_with_header(1, &dict, &vec![0x3c; 2 * n]);
    let (l, peak) = peak_during(|| read_bytes(&bytes, "big.npy").unwrap());
    assert_eq!(l.values.len(), n);
    let one = half::f16::from_bits(0x3c3c).to_f64();
    assert!(l.values.iter().all(|&x| x == one));
    // The values and little more: nothing beyond what the file's bytes hold.
    assert!(peak <= 8 * n + (1 << 20), "{peak}");
    drop(l);

    let past = PAGE_MAX_VALUES + 1;
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({past},), }}");
    let short = npy_with_header(1, &dict, &[0; 16]);
    let (e, peak) = peak_during(|| read_page_bytes(&short, "huge.npy").unwrap_err().to_string());
    assert!(
        e.contains(&format!(
            "holds {past} values, more than the page loads ({PAGE_MAX_VALUES})"
        )) && e.contains("quantviz quantize --input FILE"),
        "{e}"
    );
    assert!(peak < 64 << 10, "{peak}");
    let e = err(&short);
    assert!(
        e.contains(&format!(
            "needs {} bytes of data but the file has 16",
            4 * past
        )),
        "{e}"
    );
    let mut s = quantviz::session::Session::new();
    let e = s.load(&short, "huge.npy", "").unwrap_err().to_string();
    assert!(e.contains("more than the page loads"), "{e}");
    // Within the page's limit, the page reads past the 10,000,000 too.
    let l = read_page_bytes(&bytes, "big.npy").unwrap();
    assert_eq!(l.values.len(), n);
}

#[test]
fn npy_magic_only_file_is_cut_short() {
    let e = err(b"\x93NUMPY\x01\x00");
    assert!(e.contains("cut short"), "{e}");
    assert!(!e.contains("does not start"), "{e}");
    for n in 1..10 {
        let e = err(&b"\x93NUMPY\x01\x00\x40\x00"[..n]);
        assert!(e.contains("cut short"), "{n}: {e}");
    }
    let e = err(b"\x93NUMPY\x02\x00\x40\x00\x00");
    assert!(e.contains("cut short"), "{e}");
    let e = parse_npy(b"hello world", "w.npy").unwrap_err().to_string();
    assert!(e.contains("does not start with \\x93NUMPY"), "{e}");
}

#[test]
fn npy_oversized_header_is_refused() {
    let mut v = b"\x93NUMPY\x02\x00".to_vec();
    v.extend_from_slice(&u32::MAX.to_le_bytes());
    v.extend_from_slice(b"{}");
    let e = err(&v);
    assert!(
        e.contains("header is 4294967295 bytes long, more than numpy itself reads (10000)"),
        "{e}"
    );
}

#[test]
fn npy_dtypes_and_order_are_refused_with_their_reasons() {
    let dict = |descr: &str, fortran: &str| {
        format!("{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': (1,), }}")
    };
    for (d, f, says) in [
        ("'<i4'", "False", "'<i4' is not supported"),
        ("'<f16'", "False", "'<f16' is not supported"),
        ("[('a', '<f8')]", "False", "structured"),
        ("'<f8'", "True", "Fortran order"),
    ] {
        let e = err(&npy_f8(&dict(d, f), &[1.0]));
        assert!(e.contains(says), "{d} {f}: {e}");
    }
}

// ---- Files -------------------------------------------------------------------------------------

#[test]
fn dev_zero_is_read_boundedly_and_refused_quickly() {
    let start = Instant::now();
    let (result, peak) = peak_during(|| read_file("/dev/zero".as_ref()));
    let e = result.unwrap_err().to_string();
    assert!(e.contains("/dev/zero") && e.contains("NUL"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(peak < 8 << 20, "{peak}");
    assert!(load_file("/dev/zero".as_ref()).is_err());
}

#[test]
fn text_file_longer_than_any_accepted_is_refused_before_it_is_read() {
    // A sparse file: its length is set, not written.
    let f = TempFile::new("long.txt", b"1 2 3");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&f.0)
        .unwrap()
        .set_len(MAX_TEXT_BYTES + 1)
        .unwrap();
    let start = Instant::now();
    let (result, peak) = peak_during(|| read_file(&f.0));
    let e = result.unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "is larger than any file quantviz accepts: at most {MAX_TEXT_BYTES} bytes of text"
        )) || e.contains(&format!(
            "it is larger than any file quantviz accepts: at most {MAX_TEXT_BYTES} bytes of text"
        )),
        "{e}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(peak < 1 << 20, "{peak}");
}

#[test]
fn npy_file_shorter_than_its_shape_is_refused_before_its_data_is_read() {
    let mut v = npy_f8(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (9000000,), }",
        &[1.0, 2.0],
    );
    let f = TempFile::new("short.npy", &v);
    let (result, peak) = peak_during(|| read_file(&f.0));
    let e = result.unwrap_err().to_string();
    assert!(
        e.contains("the .npy shape (9000000,) needs 72000000 bytes of data but the file has 16"),
        "{e}"
    );
    assert!(peak < 64 << 10, "{peak}");
    // In memory the same, without room made for the data either.
    let (e, peak) = peak_during(|| err(&v));
    assert!(e.contains("needs 72000000 bytes"), "{e}");
    assert!(peak < 64 << 10, "{peak}");
    // Trailing bytes past the data are not values.
    v.truncate(v.len() - 16);
    v.extend_from_slice(&[0; 72_000_000 + 5]);
    let f = TempFile::new("long.npy", &v);
    assert_eq!(read_file(&f.0).unwrap().values.len(), 9_000_000);
}

// ---- Properties --------------------------------------------------------------------------------

/// One change to a file's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index),
    Truncate(prop::sample::Index),
    /// Replaces up to `len` bytes at the index with a fragment from [`FRAGMENTS`].
    Splice(prop::sample::Index, usize, prop::sample::Index),
}

/// Pieces of text and `.npy` headers that readers have trouble with.
const FRAGMENTS: &[&str] = &[
    "0x10",
    "1_000",
    "１２",
    "\u{feff}",
    "\u{2212}",
    "nan",
    "-inf",
    "value",
    "\0",
    "\r",
    "\n",
    ",",
    ";",
    " ",
    "e",
    ".",
    "-",
    "1e400",
    "'descr'",
    "'<f4'",
    "'>f8'",
    "'<i4'",
    "True",
    "False",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    "'",
    "\"",
    "\\",
    "-1",
    "0",
    "99999999999999999999999",
    "'x': 1, ",
    "'shape': (3,), ",
    "'fortran_order': False, ",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<prop::sample::Index>().prop_map(Mutation::Delete),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (
            any::<prop::sample::Index>(),
            0usize..4,
            any::<prop::sample::Index>()
        )
            .prop_map(|(i, n, f)| Mutation::Splice(i, n, f)),
    ]
}

/// `m` applied to `v`; only inside `range` of it where given (for a header or data part).
fn mutate(v: &mut Vec<u8>, m: &Mutation, range: std::ops::Range<usize>) {
    let at = |i: &prop::sample::Index, extra: usize| {
        (range.start + i.index(range.len() + extra)).min(v.len() + extra - 1)
    };
    if v.is_empty() || range.is_empty() {
        if let Mutation::Insert(_, b) = m {
            v.push(*b);
        }
        return;
    }
    match m {
        Mutation::Flip(i, b) => {
            let k = at(i, 0);
            v[k] ^= b;
        }
        Mutation::Insert(i, b) => {
            let k = at(i, 1);
            v.insert(k, *b);
        }
        Mutation::Delete(i) => {
            let k = at(i, 0);
            v.remove(k);
        }
        Mutation::Truncate(i) => {
            let k = at(i, 0);
            v.truncate(k);
        }
        Mutation::Splice(i, n, f) => {
            let k = at(i, 0);
            let end = (k + n).min(v.len());
            let frag = FRAGMENTS[f.index(FRAGMENTS.len())].as_bytes();
            v.splice(k..end, frag.iter().copied());
        }
    }
}

/// Whether a read of `input` kept to the memory promised: the values at most 8 bytes each
/// for every `per_byte` input bytes, and all it allocated at most `times` the input.
fn check_memory(
    result: &quantviz::error::Result<Loaded>,
    input: usize,
    peak: usize,
    times: usize,
) -> Result<(), TestCaseError> {
    if let Ok(l) = result {
        prop_assert!(
            l.values.len() * 8 <= 4 * (input + 1),
            "{} values from {} bytes",
            l.values.len(),
            input
        );
    }
    prop_assert!(
        peak <= times * input + 4096,
        "{} bytes allocated for {} of input",
        peak,
        input
    );
    Ok(())
}

/// The words of text as the reader splits them, line by line (after a byte order mark).
fn words(text: &str) -> Vec<Vec<&str>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .map(|l| {
            l.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .filter(|w| !w.is_empty())
                .collect()
        })
        .collect()
}

/// Checks a text read against an independent reading with `str::parse`: values read are the
/// file's words (less a header the note names, whose words are no numbers), and a file whose
/// words are all numbers is read.
fn check_text(bytes: &[u8], result: &quantviz::error::Result<Loaded>) -> Result<(), TestCaseError> {
    let text = std::str::from_utf8(bytes).ok();
    let lines = text.map(words);
    match result {
        Ok(l) => {
            let lines = lines.ok_or_else(|| TestCaseError::fail("read text that is not UTF-8"))?;
            prop_assert!(!text.unwrap_or("").contains('\0'));
            let skip = usize::from(l.note.is_some());
            if skip == 1 {
                prop_assert!(!lines[0].is_empty());
                prop_assert!(
                    lines[0].iter().all(|w| w.parse::<f64>().is_err()),
                    "{:?}",
                    lines[0]
                );
            }
            let want: Vec<f64> = lines[skip.min(lines.len())..]
                .iter()
                .flatten()
                .map(|w| w.parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| TestCaseError::fail("read a word that is no number"))?;
            prop_assert_eq!(l.values.len(), want.len());
            for (g, w) in l.values.iter().zip(&want) {
                prop_assert!(
                    g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                    "{} {}",
                    g,
                    w
                );
            }
        }
        Err(e) => {
            check_message(e)?;
            if let (Some(text), Some(lines)) = (text, lines) {
                let all_numbers = lines.iter().flatten().all(|w| w.parse::<f64>().is_ok());
                let any = lines.iter().any(|l| !l.is_empty());
                prop_assert!(
                    !(all_numbers && any && !text.contains('\0')),
                    "valid text refused: {}",
                    e
                );
            }
        }
    }
    Ok(())
}

/// A finite or non-finite value that text spells exactly (`{}` and `{:e}` are shortest
/// round-trip forms).
fn text_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => any::<f64>().prop_filter("finite", |x| x.is_finite()),
        4 => (-1000i32..1000).prop_map(f64::from),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

/// A valid text file: its bytes, the values written, and whether it has a header line.
fn text_file() -> impl Strategy<Value = (Vec<u8>, Vec<f64>, bool)> {
    (
        vec((text_value(), any::<bool>()), 1..40),
        vec(
            prop_oneof![
                Just(","),
                Just(", "),
                Just(" "),
                Just("\n"),
                Just("\t"),
                Just(";"),
                Just("\r\n")
            ],
            1..8,
        ),
        prop_oneof![
            Just(None),
            Just(Some("value")),
            Just(Some("x,y")),
            Just(Some("Weight; bias"))
        ],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(xs, seps, header, bom, trailing_newline)| {
            let mut text = String::new();
            if bom {
                text.push('\u{feff}');
            }
            if let Some(h) = header {
                text.push_str(h);
                text.push('\n');
            }
            for (i, (x, exp)) in xs.iter().enumerate() {
                if i > 0 {
                    text.push_str(seps[i % seps.len()]);
                }
                text.push_str(&if *exp {
                    format!("{x:e}")
                } else {
                    format!("{x}")
                });
            }
            if trailing_newline {
                text.push('\n');
            }
            let values = xs.iter().map(|&(x, _)| x).collect();
            (text.into_bytes(), values, header.is_some())
        })
}

/// A valid `.npy` file: its bytes, the values it holds, where its header and data are.
fn npy_file() -> impl Strategy<Value = (Vec<u8>, Vec<f64>, std::ops::Range<usize>, usize)> {
    (
        vec(any::<u64>(), 0..30),
        any::<bool>(),
        prop_oneof![Just(1u8), Just(2), Just(3)],
        0usize..6,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(bits, f32_data, version, order, double_quotes, trailing_comma)| {
                let n = bits.len();
                let (descr, body, values): (&str, Vec<u8>, Vec<f64>) = if f32_data {
                    let xs: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b as u32)).collect();
                    (
                        "<f4",
                        xs.iter().flat_map(|x| x.to_le_bytes()).collect(),
                        xs.iter().map(|&x| x as f64).collect(),
                    )
                } else {
                    let xs: Vec<f64> = bits.iter().map(|&b| f64::from_bits(b)).collect();
                    ("<f8", xs.iter().flat_map(|x| x.to_le_bytes()).collect(), xs)
                };
                // A shape of n values: 1-d, or 2-d and 3-d where n allows, or () for one value.
                let shape = match (n, order % 3) {
                    (1, 0) => "()".to_string(),
                    (_, 1) if n % 2 == 0 && n > 0 => format!("({}, 2)", n / 2),
                    (_, 2) => format!("(1, {n}, 1)"),
                    _ => format!("({n},)"),
                };
                let q = if double_quotes { "\"" } else { "'" };
                let mut entries = [
                    format!("{q}descr{q}: {q}{descr}{q}"),
                    format!("{q}fortran_order{q}: False"),
                    format!("{q}shape{q}: {shape}"),
                ];
                entries.rotate_left(order % 3);
                if order >= 3 {
                    entries.swap(0, 1);
                }
                let comma = if trailing_comma { ", " } else { "" };
                let dict = format!("{{{}{comma}}}", entries.join(", "));
                let v = npy_with_header(version, &dict, &body);
                let header_start = if version == 1 { 10 } else { 12 };
                let data_start = v.len() - body.len();
                (v, values, header_start..data_start, data_start)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn text_reader_on_valid_mutated_and_random_bytes(
        (file, xs, has_header) in text_file(),
        mutations in vec(mutation(), 0..4),
        random in vec(any::<u8>(), 0..200),
    ) {
        // As written: the values exactly, and a note where there is a header.
        let (result, peak) = peak_during(|| read_bytes(&file, "t.csv"));
        check_memory(&result, file.len(), peak, 8)?;
        let l = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(l.values.len(), xs.len());
        for (g, w) in l.values.iter().zip(&xs) {
            prop_assert_eq!(g.to_bits(), w.to_bits());
        }
        prop_assert_eq!(l.note.is_some(), has_header);

        // Mutated: an error with a message, or what an independent reading gives.
        let mut bad = file.clone();
        for m in &mutations {
            let len = bad.len();
            mutate(&mut bad, m, 0..len);
        }
        let (result, peak) = peak_during(|| read_bytes(&bad, "t.csv"));
        check_memory(&result, bad.len(), peak, 8)?;
        check_text(&bad, &result)?;

        // Random bytes, and the same as text where they are UTF-8.
        let (result, peak) = peak_during(|| read_bytes(&random, "r.txt"));
        check_memory(&result, random.len(), peak, 8)?;
        if !random.starts_with(b"\x93") {
            check_text(&random, &result)?;
        }
        if let Ok(s) = std::str::from_utf8(&random) {
            let _ = parse_text(s, "r.txt");
        }
    }

    #[test]
    fn npy_reader_on_valid_mutated_and_random_bytes(
        (file, xs, header, data_start) in npy_file(),
        data_mutation in mutation(),
        header_mutations in vec(mutation(), 1..4),
        any_mutations in vec(mutation(), 1..4),
        random in vec(any::<u8>(), 0..200),
    ) {
        // As written: the values bit for bit.
        let (result, peak) = peak_during(|| read_bytes(&file, "a.npy"));
        check_memory(&result, file.len(), peak, 64)?;
        let l = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(l.values.len(), xs.len());
        for (g, w) in l.values.iter().zip(&xs) {
            prop_assert_eq!(g.to_bits(), w.to_bits());
        }
        prop_assert!(shape_holds(&l), "{:?}", l.shape);
        prop_assert_eq!(l.note, None);

        // The data changed: the values of the changed bytes, or "cut short" where too few.
        let width = if xs.is_empty() { 8 } else { (file.len() - data_start) / xs.len() };
        let mut v = file.clone();
        let len = v.len();
        mutate(&mut v, &data_mutation, data_start..len);
        let result = read_bytes(&v, "a.npy");
        let data = &v[data_start.min(v.len())..];
        if data.len() >= xs.len() * width {
            let got = result.map_err(|e| TestCaseError::fail(e.to_string()))?.values;
            let want: Vec<f64> = data.chunks_exact(width).take(xs.len()).map(|c| {
                if width == 8 {
                    f64::from_le_bytes(c.try_into().unwrap())
                } else {
                    f32::from_le_bytes(c.try_into().unwrap()) as f64
                }
            }).collect();
            prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                prop_assert_eq!(g.to_bits(), w.to_bits());
            }
        } else {
            let e = result.err().ok_or_else(|| TestCaseError::fail("short data read"))?;
            prop_assert!(e.to_string().contains("bytes of data but the file has"), "{}", e);
        }

        // The header changed, or any bytes: an error with a message, or values that the
        // file's bytes hold.
        for (mutations, range) in [(&header_mutations, header.clone()), (&any_mutations, 0..file.len())] {
            let mut v = file.clone();
            for m in mutations {
                let r = range.start.min(v.len())..range.end.min(v.len());
                mutate(&mut v, m, r);
            }
            let (result, peak) = peak_during(|| read_bytes(&v, "a.npy"));
            check_memory(&result, v.len(), peak, 64)?;
            let magic = b"\x93NUMPY";
            if !(v.starts_with(magic) || (v.first() == Some(&magic[0]) && magic.starts_with(&v))) {
                // No longer an .npy file: read as text, as any other file is.
                check_text(&v, &result)?;
                continue;
            }
            match &result {
                Ok(l) => {
                    prop_assert!(l.values.len() * 4 <= v.len());
                    prop_assert!(shape_holds(l), "{:?}", l.shape);
                }
                Err(e) => check_message(e)?,
            }
        }

        // Random bytes after the magic and a version.
        let mut v = b"\x93NUMPY".to_vec();
        v.extend_from_slice(&random);
        let (result, peak) = peak_during(|| read_bytes(&v, "r.npy"));
        check_memory(&result, v.len(), peak, 64)?;
        if let Err(e) = &result {
            check_message(e)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A file read from its path (`read_tensor_file`, as the CLI reads `--input`: a model file
    /// memory-mapped, others through `read_file` a chunk at a time, checked against its length)
    /// gives what its bytes give in memory, value for value and message for message.
    #[test]
    fn read_file_gives_what_read_bytes_gives(
        (text, _, _) in text_file(),
        (npy, _, _, _) in npy_file(),
        mutations in vec(mutation(), 0..3),
        which in any::<bool>(),
    ) {
        let mut v = if which { text } else { npy };
        for m in &mutations {
            let len = v.len();
            mutate(&mut v, m, 0..len);
        }
        let f = TempFile::new(if which { "p.txt" } else { "p.npy" }, &v);
        let source = f.0.display().to_string();
        let from_file = read_tensor_file(&f.0, None);
        let from_bytes = read_bytes(&v, &source);
        match (from_file, from_bytes) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(a.note, b.note);
                prop_assert_eq!(a.values.len(), b.values.len());
                for (x, y) in a.values.iter().zip(&b.values) {
                    prop_assert_eq!(x.to_bits(), y.to_bits());
                }
            }
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "file: {:?}, bytes: {:?}", a.map(|l| l.values.len()), b.map(|l| l.values.len())),
        }
    }
}

// ---- Model files: safetensors and GGUF ---------------------------------------------------------

/// A safetensors file from its header's JSON text (padded to 8 bytes) and data.
fn st_raw(json: &str, data: &[u8]) -> Vec<u8> {
    let mut h = json.as_bytes().to_vec();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut v = (h.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(&h);
    v.extend_from_slice(data);
    v
}

/// One safetensors entry's JSON.
fn st_entry(name: &str, dtype: &str, shape: &[u64], offsets: (u64, u64)) -> String {
    format!(
        "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape:?},\"data_offsets\":[{},{}]}}",
        offsets.0, offsets.1
    )
}

/// Values as the bytes of a dtype (rounded to it), and the values read back exactly.
fn encode(dtype: &str, xs: &[f32]) -> (Vec<u8>, Vec<f64>) {
    let mut b = Vec::new();
    let mut back = Vec::new();
    for &x in xs {
        match dtype {
            "F64" => {
                b.extend_from_slice(&f64::from(x).to_le_bytes());
                back.push(f64::from(x));
            }
            "F32" => {
                b.extend_from_slice(&x.to_le_bytes());
                back.push(f64::from(x));
            }
            "F16" => {
                let h = half::f16::from_f32(x);
                b.extend_from_slice(&h.to_le_bytes());
                back.push(h.to_f64());
            }
            _ => {
                let h = half::bf16::from_f32(x);
                b.extend_from_slice(&h.to_le_bytes());
                back.push(h.to_f64());
            }
        }
    }
    (b, back)
}

/// A safetensors file of tensors `(name, dtype, shape, values)`, packed in order.
fn st_file(tensors: &[(&str, &str, Vec<u64>, Vec<f32>)]) -> (Vec<u8>, Vec<Vec<f64>>) {
    let (mut entries, mut data, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for (name, dtype, shape, xs) in tensors {
        let (b, back) = encode(dtype, xs);
        let at = data.len() as u64;
        entries.push(st_entry(name, dtype, shape, (at, at + b.len() as u64)));
        data.extend_from_slice(&b);
        values.push(back);
    }
    let json = format!(
        "{{\"__metadata__\":{{\"format\":\"pt\"}},{}}}",
        entries.join(",")
    );
    (st_raw(&json, &data), values)
}

/// A GGUF tensor to write: name, `ne` (innermost first), ggml type, offset in the data section,
/// and where the data is `None`, the offset is taken as given and no bytes are written.
struct GgufTensor<'a> {
    name: &'a str,
    ne: Vec<u64>,
    ggml: u32,
    data: Vec<u8>,
    offset: Option<u64>,
}

/// A GGUF file: version, key-values (`general.alignment` when given, and a string), tensors
/// packed at the alignment unless they give their own offset.
fn gguf_file(version: u32, alignment: Option<u32>, tensors: &[GgufTensor]) -> Vec<u8> {
    let string = |v: &mut Vec<u8>, s: &str| {
        v.extend_from_slice(&(s.len() as u64).to_le_bytes());
        v.extend_from_slice(s.as_bytes());
    };
    let mut v = b"GGUF".to_vec();
    v.extend_from_slice(&version.to_le_bytes());
    v.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    v.extend_from_slice(&(1 + u64::from(alignment.is_some())).to_le_bytes());
    string(&mut v, "general.name");
    v.extend_from_slice(&8u32.to_le_bytes());
    string(&mut v, "tiny");
    if let Some(a) = alignment {
        string(&mut v, "general.alignment");
        v.extend_from_slice(&4u32.to_le_bytes());
        v.extend_from_slice(&a.to_le_bytes());
    }
    let align = u64::from(alignment.unwrap_or(32));
    let mut at = 0u64;
    let mut offsets = Vec::new();
    for t in tensors {
        string(&mut v, t.name);
        v.extend_from_slice(&(t.ne.len() as u32).to_le_bytes());
        for d in &t.ne {
            v.extend_from_slice(&d.to_le_bytes());
        }
        v.extend_from_slice(&t.ggml.to_le_bytes());
        let off = t.offset.unwrap_or(at);
        v.extend_from_slice(&off.to_le_bytes());
        offsets.push(off);
        at = (off + t.data.len() as u64).div_ceil(align) * align;
    }
    while !(v.len() as u64).is_multiple_of(align) {
        v.push(0);
    }
    let start = v.len();
    for (t, off) in tensors.iter().zip(offsets) {
        let end = start + off as usize + t.data.len();
        if v.len() < end {
            v.resize(end, 0);
        }
        v[start + off as usize..end].copy_from_slice(&t.data);
    }
    v
}

fn gt<'a>(name: &'a str, ne: &[u64], ggml: u32, data: Vec<u8>) -> GgufTensor<'a> {
    GgufTensor {
        name,
        ne: ne.to_vec(),
        ggml,
        data,
        offset: None,
    }
}

/// The message of reading a model file's bytes (which must fail), checked to be one line
/// naming the file.
fn model_err(bytes: &[u8], tensor: Option<&str>) -> String {
    match read_model_bytes(bytes, tensor, "m.bin") {
        Ok(l) => panic!("read {} values", l.values.len()),
        Err(e) => {
            let m = e.to_string();
            assert!(m.starts_with("cannot read m.bin: "), "{m}");
            assert!(!m.contains('\n'), "{m}");
            m
        }
    }
}

/// The page's way: the first bytes, more until the header is whole, the header, then one
/// tensor from exactly its bytes.
fn read_as_the_page(bytes: &[u8], name: &str) -> quantviz::error::Result<(TensorInfo, Vec<f64>)> {
    let len = bytes.len() as u64;
    let mut have = PREFIX_BYTES.min(bytes.len());
    loop {
        let need = header_needed(&bytes[..have], len, "p")?;
        if need <= have {
            break;
        }
        assert!(need as u64 <= len);
        have = need;
    }
    let list = parse_header(&bytes[..have], len, "p")?;
    let info = list.find(name, "p")?.clone();
    let values = decode_tensor(&info, &bytes[info.range()], "p")?;
    Ok((info, values))
}

#[test]
fn safetensors_reads_every_float_dtype_with_its_shape() {
    let xs: Vec<f32> = (0..24).map(|i| i as f32 * 0.37 - 4.0).collect();
    let (file, want) = st_file(&[
        ("a", "F32", vec![4, 6], xs.clone()),
        ("b", "F16", vec![2, 3, 4], xs.clone()),
        ("c", "BF16", vec![24], xs.clone()),
        ("d", "F64", vec![6, 4], xs.clone()),
    ]);
    for (name, (shape, want)) in ["a", "b", "c", "d"].iter().zip([
        (vec![4, 6], &want[0]),
        (vec![2, 3, 4], &want[1]),
        (vec![24], &want[2]),
        (vec![6, 4], &want[3]),
    ]) {
        let l = read_model_bytes(&file, Some(name), "m").unwrap();
        assert_eq!(&l.values, want, "{name}");
        assert_eq!(l.shape, shape);
        let (info, v) = read_as_the_page(&file, name).unwrap();
        assert_eq!(&v, want);
        assert_eq!(info.params, 24);
    }
    let e = model_err(&file, None);
    assert!(
        e.contains("holds 4 tensors: pick one with --tensor NAME ('a', 'b', 'c', 'd')"),
        "{e}"
    );
    let e = model_err(&file, Some("bb"));
    assert!(
        e.contains("no tensor 'bb': the nearest names are 'b', 'a', 'c'"),
        "{e}"
    );
}

#[test]
fn safetensors_other_dtypes_are_listed_with_why_they_are_not_read() {
    let json = format!(
        "{{{},{}}}",
        st_entry("ids", "I64", &[2], (0, 16)),
        st_entry("q", "F8_E4M3", &[4], (16, 20))
    );
    let file = st_raw(&json, &[0; 20]);
    let list = parse_header(&file, file.len() as u64, "m").unwrap();
    assert_eq!(list.tensors.len(), 2);
    assert!(list.tensors[0]
        .refused
        .as_deref()
        .unwrap()
        .contains("integers"));
    assert!(list.tensors[1]
        .refused
        .as_deref()
        .unwrap()
        .contains("already quantized"));
    let e = model_err(&file, Some("q"));
    assert!(e.contains("tensor 'q' is F8_E4M3"), "{e}");
}

#[test]
fn safetensors_bad_files_name_the_file_the_tensor_and_what_is_wrong() {
    let ok = |name: &str| st_entry(name, "F32", &[2], (0, 8));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "the file is empty"),
        // The header length promises 64 bytes; 20 follow.
        ({
            let mut v = 64u64.to_le_bytes().to_vec();
            v.extend_from_slice(b"{\"a\":{\"dtype\":\"F32\"");
            v
        }, "the header needs 72 bytes but the file has 27"),
        ({
            let mut v = u64::MAX.to_le_bytes().to_vec();
            v.extend_from_slice(b"{}");
            v
        }, "more than the 100000000 the format allows"),
        (st_raw("{\"a\":{\"dtype\":\"F32\",", &[]), "not the JSON the format describes"),
        (st_raw("{not json}", &[]), "not the JSON the format describes"),
        (st_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":\"x\",\"data_offsets\":[0,4]}}", &[0; 4]), "tensor 'a': the safetensors header is not the JSON"),
        (st_raw(&format!("{{{}}}", st_entry("a", "F32", &[2], (0, 8))), &[0; 4]), "tensor 'a': its data_offsets [0, 8] reach past the file's end"),
        (st_raw(&format!("{{{},{}}}", ok("a"), ok("b")), &[0; 16]), "overlaps the tensor before it"),
        (st_raw(&format!("{{{},{}}}", ok("a"), st_entry("b", "F32", &[2], (12, 20))), &[0; 20]), "leaves a gap before it"),
        (st_raw(&format!("{{{}}}", st_entry("a", "F32", &[2], (8, 0))), &[0; 8]), "tensor 'a': its data_offsets [8, 0] end before they begin"),
        (st_raw(&format!("{{{}}}", st_entry("a", "F32", &[3], (0, 8))), &[0; 8]), "tensor 'a': F32 of shape [3] is 12 bytes, but its data_offsets [0, 8] hold 8"),
        (st_raw(&format!("{{{}}}", st_entry("a", "F32", &[1 << 40, 1 << 40], (0, 8))), &[0; 8]), "tensor 'a': its shape [1099511627776, 1099511627776] holds more values than any file can"),
        (st_raw(&format!("{{{},{}}}", ok("a"), st_entry("a", "F32", &[2], (8, 16))), &[0; 16]), "tensor 'a' appears twice"),
        (st_raw(&format!("{{{}}}", st_entry("a", "F12", &[2], (0, 8))), &[0; 8]), "tensor 'a': dtype 'F12' is not a safetensors dtype"),
        (st_raw(&format!("{{{}}}", ok("a")), &[0; 12]), "bytes follow that no tensor covers"),
        (st_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", &[0; 4]), "more than 16 dimensions"),
    ];
    for (bytes, says) in cases {
        let e = model_err(&bytes, Some("a"));
        assert!(e.contains(says), "want {says:?}, got {e}");
    }
}

#[test]
fn gguf_reads_f32_f16_bf16_row_major_and_refuses_quantized_by_name() {
    let xs: Vec<f32> = (0..64).map(|i| (i as f32 - 30.0) * 0.125).collect();
    let (f32b, w32) = encode("F32", &xs);
    let (f16b, w16) = encode("F16", &xs);
    let (bf16b, wbf) = encode("BF16", &xs);
    let file = gguf_file(
        3,
        Some(64),
        &[
            gt("w32", &[16, 4], 0, f32b),
            gt("w16", &[32, 2], 1, f16b),
            gt("wbf", &[64], 30, bf16b),
            gt("q4k", &[256, 2], 12, vec![0; 288]),
        ],
    );
    for (name, want, shape) in [
        ("w32", &w32, vec![4, 16]),
        ("w16", &w16, vec![2, 32]),
        ("wbf", &wbf, vec![64]),
    ] {
        let l = read_model_bytes(&file, Some(name), "m").unwrap();
        assert_eq!(&l.values, want, "{name}");
        assert_eq!(l.shape, shape, "{name}");
        let (info, v) = read_as_the_page(&file, name).unwrap();
        assert_eq!(&v, want);
        assert_eq!(info.start % 64, 0, "general.alignment is honoured");
    }
    let list = parse_header(&file, file.len() as u64, "m").unwrap();
    let q = &list.tensors[3];
    assert_eq!(
        (q.dtype.as_str(), q.shape.clone(), q.params),
        ("Q4_K", vec![2, 256], 512)
    );
    let e = model_err(&file, Some("q4k"));
    assert!(
        e.contains("tensor 'q4k' is Q4_K: already quantized (Q4_K)"),
        "{e}"
    );
}

#[test]
fn gguf_bad_files_name_the_file_the_tensor_and_what_is_wrong() {
    let t = |name| gt(name, &[4], 0, vec![0; 16]);
    let good = gguf_file(3, None, &[t("a")]);
    let mut bad_version = good.clone();
    bad_version[4] = 1;
    let mut long_string = good.clone();
    // The first key's length.
    long_string[24..32].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let mut many_tensors = good.clone();
    many_tensors[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"GGUX\x03\x00\x00\x00".to_vec(), "not a model file"),
        (bad_version, "GGUF version 1 is not read"),
        (
            long_string,
            "a key at byte 24 claims 1099511627776 bytes, more than the",
        ),
        (many_tensors, "claims 18446744073709551615 tensors"),
        (
            good[..80].to_vec(),
            "the GGUF header is cut short: the file ends after 80 bytes",
        ),
        (
            good[..40].to_vec(),
            "the header claims 1 tensors, more than the file's 16 remaining bytes hold",
        ),
        (
            gguf_file(3, None, &[gt("a", &[4], 99, vec![0; 16])]),
            "tensor 'a' has ggml type 99, which no ggml version defines",
        ),
        (
            gguf_file(3, None, &[gt("a", &[1 << 40, 1 << 40], 0, vec![])]),
            "tensor 'a': its shape",
        ),
        (
            gguf_file(3, None, &[gt("a", &[1, 1, 1, 1, 1], 0, vec![0; 4])]),
            "tensor 'a' has 5 dimensions",
        ),
        (
            gguf_file(3, None, &[gt("a", &[40], 8, vec![0; 34])]),
            "rows of 40 values are no whole number of blocks",
        ),
        (
            gguf_file(3, None, &[t("a"), t("a")]),
            "tensor 'a' appears twice",
        ),
        (
            gguf_file(
                3,
                None,
                &[
                    t("a"),
                    GgufTensor {
                        offset: Some(0),
                        ..t("b")
                    },
                ],
            ),
            "tensors 'a' (bytes",
        ),
        (
            gguf_file(
                3,
                None,
                &[GgufTensor {
                    offset: Some(4096),
                    data: vec![],
                    ..t("a")
                }],
            ),
            "tensor 'a': its data at bytes",
        ),
        (
            gguf_file(
                3,
                None,
                &[GgufTensor {
                    offset: Some(8),
                    ..t("a")
                }],
            ),
            "its offset 8 is not a multiple of the alignment 32",
        ),
        (
            gguf_file(3, Some(48), &[t("a")]),
            "general.alignment is 48, not a power of two: GGUF expects a uint32 power of two (32 by default)",
        ),
    ];
    for (bytes, says) in cases {
        let e = model_err(&bytes, Some("a"));
        assert!(e.contains(says), "want {says:?}, got {e}");
    }
}

/// A `general.alignment` that is not a uint32 says what it is and what GGUF expects;
/// refused dtypes list every dtype that is read, F64 too.
#[test]
fn gguf_alignment_of_another_type_and_refused_dtypes_say_what_is_read() {
    let with_alignment = |t: u32, payload: &[u8]| {
        let mut v = b"GGUF".to_vec();
        v.extend_from_slice(&3u32.to_le_bytes());
        v.extend_from_slice(&0u64.to_le_bytes());
        v.extend_from_slice(&1u64.to_le_bytes());
        v.extend_from_slice(&17u64.to_le_bytes());
        v.extend_from_slice(b"general.alignment");
        v.extend_from_slice(&t.to_le_bytes());
        v.extend_from_slice(payload);
        v
    };
    let expected = "GGUF expects a uint32 power of two (32 by default)";
    let mut string = 2u64.to_le_bytes().to_vec();
    string.extend_from_slice(b"32");
    for (t, payload, says) in [
        (8, string, "general.alignment is a string: "),
        (
            6,
            32f32.to_le_bytes().to_vec(),
            "general.alignment is a float32: ",
        ),
        (
            5,
            (-32i32).to_le_bytes().to_vec(),
            "general.alignment is an int32: ",
        ),
        // A power of two, but not the uint32 llama.cpp reads.
        (
            5,
            32i32.to_le_bytes().to_vec(),
            "general.alignment is an int32: ",
        ),
        (
            10,
            32u64.to_le_bytes().to_vec(),
            "general.alignment is a uint64: ",
        ),
        (0, vec![32u8], "general.alignment is a uint8: "),
        (
            4,
            0u32.to_le_bytes().to_vec(),
            "general.alignment is 0, not a power of two: ",
        ),
    ] {
        let e = model_err(&with_alignment(t, &payload), None);
        assert!(e.contains(&format!("{says}{expected}")), "{t}: {e}");
    }
    let t = |name: &'static str, ggml: u32| GgufTensor {
        name,
        ne: vec![4],
        ggml,
        data: vec![0; 4 * 8],
        offset: None,
    };
    let e = model_err(&gguf_file(3, None, &[t("i", 26)]), Some("i"));
    assert!(
        e.contains("integers are no weights to quantize (F32, F16, BF16 and F64 are read)"),
        "{e}"
    );
    let q8 = GgufTensor {
        ne: vec![32],
        data: vec![0; 34],
        ..t("q", 8)
    };
    let e = model_err(&gguf_file(3, None, &[q8]), Some("q"));
    assert!(
        e.contains("unquantized weights (F32, F16, BF16 and F64)"),
        "{e}"
    );
    // F64 is read indeed.
    let mut f64s = t("d", 28);
    f64s.data = [1.5f64, -2.0, 0.25, 8.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let l = read_model_bytes(&gguf_file(3, None, &[f64s]), Some("d"), "m.bin").unwrap();
    assert_eq!(l.values, vec![1.5, -2.0, 0.25, 8.0]);
}

#[test]
fn npy_reads_float16_little_and_big_endian_with_its_shape() {
    let xs = [1.5f32, -2.0, 0.099975586, 65504.0, 6e-8, 3.0];
    for (descr, big) in [("<f2", false), (">f2", true), ("<f4", false), (">f8", true)] {
        let body: Vec<u8> = xs
            .iter()
            .flat_map(|&x| match (descr, big) {
                ("<f2" | ">f2", false) => half::f16::from_f32(x).to_le_bytes().to_vec(),
                ("<f2" | ">f2", true) => half::f16::from_f32(x).to_be_bytes().to_vec(),
                ("<f4", _) => x.to_le_bytes().to_vec(),
                _ => f64::from(x).to_be_bytes().to_vec(),
            })
            .collect();
        let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (2, 3), }}");
        let l = read_bytes(&npy_with_header(1, &dict, &body), "h.npy").unwrap();
        assert_eq!(l.shape, vec![2, 3]);
        let want: Vec<f64> = xs
            .iter()
            .map(|&x| {
                if descr.ends_with("f2") {
                    half::f16::from_f32(x).to_f64()
                } else {
                    f64::from(x)
                }
            })
            .collect();
        assert_eq!(l.values, want, "{descr}");
    }
}

#[test]
fn the_page_refuses_a_tensor_above_its_limit_naming_its_size_and_the_command() {
    let file = st_raw(
        &format!("{{{}}}", st_entry("big", "F16", &[0, 1 << 40], (0, 0))),
        &[],
    );
    let mut info = parse_header(&file, file.len() as u64, "m.safetensors")
        .unwrap()
        .tensors[0]
        .clone();
    assert!(check_page_size(&info, "m.safetensors").is_ok());
    info.params = PAGE_MAX_VALUES + 1;
    let e = check_page_size(&info, "m.safetensors")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tensor 'big' holds 50000001 values, more than the page loads (50000000)"),
        "{e}"
    );
    assert!(e.contains("quantviz report FILE"), "{e}");
}

#[test]
fn a_tensor_is_read_from_a_file_through_its_memory_map() {
    let xs: Vec<f32> = (0..48).map(|i| i as f32).collect();
    let (file, want) = st_file(&[
        ("x", "F16", vec![6, 8], xs.clone()),
        ("y", "F32", vec![48], xs),
    ]);
    let f = TempFile::new("m.safetensors", &file);
    let l = read_tensor_file(&f.0, Some("x")).unwrap();
    assert_eq!(l.values, want[0]);
    assert_eq!(l.shape, vec![6, 8]);
    let e = read_tensor_file(&f.0, None).unwrap_err().to_string();
    assert!(e.contains("holds 2 tensors"), "{e}");
}

fn bits(xs: &[f64]) -> Vec<u64> {
    xs.iter().map(|x| x.to_bits()).collect()
}

fn st_dtype() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["F32", "F16", "BF16", "F64"])
}

/// A valid safetensors file of 1 to 3 tensors, its values, and the tensors' names.
fn safetensors_file() -> impl Strategy<Value = (Vec<u8>, Vec<Vec<f64>>)> {
    vec((st_dtype(), 1u64..5, 1u64..9, vec(-1e4f32..1e4, 40)), 1..4).prop_map(|ts| {
        let names = ["t0", "t1", "t2"];
        let tensors: Vec<(&str, &str, Vec<u64>, Vec<f32>)> = ts
            .into_iter()
            .enumerate()
            .map(|(i, (d, a, b, xs))| (names[i], d, vec![a, b], xs[..(a * b) as usize].to_vec()))
            .collect();
        st_file(&tensors)
    })
}

/// A valid GGUF file of 1 to 3 tensors (F32, F16, BF16), and their values.
fn gguf_valid() -> impl Strategy<Value = (Vec<u8>, Vec<Vec<f64>>)> {
    (
        vec((0usize..3, 1u64..5, 1u64..9, vec(-1e4f32..1e4, 40)), 1..4),
        prop::sample::select(vec![None, Some(8u32), Some(64)]),
    )
        .prop_map(|(ts, align)| {
            let names = ["t0", "t1", "t2"];
            let mut values = Vec::new();
            let tensors: Vec<GgufTensor> = ts
                .into_iter()
                .enumerate()
                .map(|(i, (k, a, b, xs))| {
                    let (dtype, ggml) = [("F32", 0), ("F16", 1), ("BF16", 30)][k];
                    let (bytes, back) = encode(dtype, &xs[..(a * b) as usize]);
                    values.push(back);
                    gt(names[i], &[b, a], ggml, bytes)
                })
                .collect();
            (gguf_file(3, align, &tensors), values)
        })
}

/// Checks a model read: values only where the file holds them, a one-line message naming the
/// file otherwise, and memory within a small multiple of the input.
fn check_model(bytes: &[u8]) -> Result<(), TestCaseError> {
    // The header alone: no allocation larger than the file (and 1 KiB for an error message), all
    // of them together a small multiple of it.
    let ((_, peak), largest) =
        largest_during(|| peak_during(|| parse_header(bytes, bytes.len() as u64, "m.bin")));
    prop_assert!(
        largest <= bytes.len() + 1024,
        "an allocation of {} bytes for a header in {}",
        largest,
        bytes.len()
    );
    prop_assert!(
        peak <= 8 * bytes.len() + 4096,
        "{} bytes allocated for a header in {}",
        peak,
        bytes.len()
    );
    for name in [None, Some("t0"), Some("t2")] {
        let (result, peak) = peak_during(|| read_model_bytes(bytes, name, "m.bin"));
        check_memory(&result, bytes.len(), peak, 64)?;
        match &result {
            Ok(l) => prop_assert!(l.values.len() * 2 <= bytes.len()),
            Err(e) => {
                check_message(e)?;
                let m = e.to_string();
                prop_assert!(
                    m.starts_with("cannot read m.bin: ") && !m.contains('\n'),
                    "{}",
                    m
                );
            }
        }
        // The page's way agrees with the whole file's, value for value or error for error.
        if let Some(n) = name {
            let page = read_as_the_page(bytes, n);
            let (whole, _) = peak_during(|| read_model_bytes(bytes, name, "p"));
            match (page, whole) {
                (Ok((_, a)), Ok(b)) => prop_assert_eq!(bits(&a), bits(&b.values)),
                (Err(_), Err(_)) => {}
                (a, b) => prop_assert!(
                    false,
                    "page: {:?}, whole: {:?}",
                    a.map(|x| x.1.len()),
                    b.map(|x| x.values.len())
                ),
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn safetensors_reader_on_valid_and_mutated_files(
        (file, values) in safetensors_file(),
        mutations in vec(mutation(), 1..4),
        header_mutations in vec(mutation(), 1..3),
    ) {
        for (i, want) in values.iter().enumerate() {
            let l = read_model_bytes(&file, Some(&format!("t{i}")), "m").map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(bits(&l.values), bits(want));
        }
        let mut v = file.clone();
        for m in &mutations {
            let len = v.len();
            mutate(&mut v, m, 0..len);
        }
        check_model(&v)?;
        let header_end = 8 + u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
        let mut v = file.clone();
        for m in &header_mutations {
            let end = header_end.min(v.len());
            mutate(&mut v, m, 8.min(end)..end);
        }
        check_model(&v)?;
    }

    #[test]
    fn gguf_reader_on_valid_and_mutated_files(
        (file, values) in gguf_valid(),
        mutations in vec(mutation(), 1..4),
    ) {
        for (i, want) in values.iter().enumerate() {
            let l = read_model_bytes(&file, Some(&format!("t{i}")), "m").map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(bits(&l.values), bits(want));
        }
        let mut v = file.clone();
        for m in &mutations {
            let len = v.len();
            mutate(&mut v, m, 0..len);
        }
        check_model(&v)?;
    }
}

// ---- The page's worker parts --------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The bytes a worker's part crosses to the page in, mutated, cut or random: an error with
    /// a message or a result, never a panic, and the head they are appended to unchanged on
    /// an error.
    #[test]
    fn worker_part_bytes_on_valid_mutated_and_random_input(
        seed in 0u64..1000,
        format in prop::sample::select(vec!["q4_K", "q6_K", "nf4", "q8_0", "mxfp4", "nvfp4"]),
        mutations in vec(mutation(), 1..4),
        junk in vec(any::<u8>(), 0..200),
    ) {
        use quantviz::quant::formats::{parts, quantize, Format};
        let f: Format = format.parse().unwrap();
        let block = f.block(None).unwrap();
        let xs: Vec<f32> = (0..512u64)
            .map(|i| (((i * 2_654_435_761 + seed * 40_503) % 1000) as f32 - 500.0) / 37.0)
            .collect();
        let head = quantize(f, block, &xs[..256]).unwrap();
        let tail = quantize(f, block, &xs[256..]).unwrap();
        let bytes = parts::encode(&tail);
        let mut whole = head.clone();
        parts::append(&mut whole, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&whole, &quantize(f, block, &xs).unwrap());
        let mut v = bytes.clone();
        for m in &mutations {
            let len = v.len();
            mutate(&mut v, m, 0..len);
        }
        for input in [&v[..], &junk[..]] {
            let mut h = head.clone();
            match parts::append(&mut h, input) {
                Ok(()) => prop_assert_eq!(h.codes.len(), h.dequantized.len()),
                Err(e) => {
                    prop_assert!(!e.to_string().is_empty());
                    prop_assert_eq!(&h, &head);
                }
            }
            let _ = parts::decode(input);
        }
    }
}

/// The messages' list of the dtypes read is the readers' own list, in its order.
#[test]
fn the_dtype_names_list_the_dtypes_read() {
    use quantviz::data::load::model::{READ_DTYPES, READ_DTYPE_NAMES};
    let names: Vec<&str> = READ_DTYPES.iter().map(|d| d.0).collect();
    let (last, rest) = names.split_last().unwrap();
    assert_eq!(READ_DTYPE_NAMES, format!("{} and {last}", rest.join(", ")));
}
