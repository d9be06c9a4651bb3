#![cfg(not(target_arch = "wasm32"))]
//! The file readers (`quantviz::data::load`) on hostile input: valid files mutated byte by byte,
//! random bytes, and one named case for each way they went wrong before.
//!
//! Every outcome must be an error with a message or a correct result, and the memory a read
//! takes must stay a small multiple of its input. This test binary counts the bytes each
//! thread has allocated (see [`Counting`]), so that the multiple is measured, not assumed.

use proptest::collection::vec;
use proptest::prelude::*;
use quantviz::data::load::{
    load_file, parse_bytes, parse_npy, parse_text, read_bytes, read_file, Loaded, MAX_TEXT_BYTES,
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
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
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

// ---- Helpers -----------------------------------------------------------------------------------

/// A `.npy` file as numpy writes it, from its header dict's text (padded to 64 bytes).
fn npy_with_header(version: u8, dict: &str, body: &[u8]) -> Vec<u8> {
    let prefix = if version == 1 { 10 } else { 12 };
    let mut h = dict.to_string();
    while (prefix + h.len() + 1) % 64 != 0 {
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

/// What every error message must be: non-empty, naming no range of non-finite numbers, and
/// with no number longer than a quoted word (40 characters) in it.
fn check_message(e: &Error) -> Result<(), TestCaseError> {
    let m = e.to_string();
    prop_assert!(!m.is_empty());
    for bad in ["[inf", "[-inf", "[NaN", "inf]", "NaN]"] {
        prop_assert!(!m.contains(bad), "{}", m);
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
            "(100000, 100000)".into(),
            "holds 10000000000 values, more than quantviz handles".into(),
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
        ("'>f8'", "False", "big-endian"),
        ("'<i4'", "False", "'<i4' is not supported"),
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

    /// A file read through `read_file` (a chunk at a time, checked against its length) gives
    /// what its bytes give in memory, value for value and message for message.
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
        let from_file = read_file(&f.0);
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
