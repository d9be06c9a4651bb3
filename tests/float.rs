#![cfg(not(target_arch = "wasm32"))]
//! `quantviz::float` against Rust's own float parsing: the same accepted syntax and the same bits
//! for every input (checked exhaustively over short strings, and with proptest over printed f64s
//! and number-shaped strings).

use proptest::prelude::*;
use quantviz::float::parse_f64;

/// Both parsers, as bit patterns (so that -0.0 and NaN's sign count).
fn same(s: &str) -> Result<(), String> {
    let ours = parse_f64(s).map(f64::to_bits);
    let core = s.parse::<f64>().ok().map(f64::to_bits);
    if ours == core {
        Ok(())
    } else {
        Err(format!("{s:?}: ours {ours:x?}, core {core:x?}"))
    }
}

#[test]
fn parses_every_short_string_like_core() {
    // Every string of up to 5 characters over the characters that matter.
    let alphabet: Vec<char> = "019.eE+-naif ".chars().collect();
    let mut s = String::new();
    fn walk(s: &mut String, alphabet: &[char], left: usize) {
        if let Err(e) = same(s) {
            panic!("{e}");
        }
        if left == 0 {
            return;
        }
        for &c in alphabet {
            s.push(c);
            walk(s, alphabet, left - 1);
            s.pop();
        }
    }
    walk(&mut s, &alphabet, 5);
}

#[test]
fn parses_words_and_edge_cases_like_core() {
    for s in [
        "inf",
        "-Infinity",
        "+INF",
        "NaN",
        "-nan",
        "infinit",
        "1e400",
        "-1e-400",
        "4.9e-324",
        "2.4703282292062327e-324",
        "2.2250738585072011e-308",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "1.7976931348623159e308",
        "9007199254740993",
        "9007199254740992.5",
        "18446744073709551615",
        "18446744073709551616",
        "123456789012345678901234567890",
        "0.30000000000000004",
        "0.1000000000000000055511151231257827",
        "0.7617254901960785",
        "146.93",
        "-47.31",
        "1e-05",
        "1.5e+16",
        "00000000000000000000000001.5",
        "0.000000000000000000000000015",
        "1.e5",
        ".5e-3",
        "5.",
        ".",
        "e5",
        "1e",
        "1e+",
        "1_0",
        " 1",
        "1 ",
        "0x10",
        "٣",
        "",
    ] {
        same(s).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn parses_printed_floats_like_core(bits in any::<u64>(), prec in 0usize..25) {
        let x = f64::from_bits(bits);
        for s in [
            format!("{x}"),
            format!("{x:e}"),
            format!("{x:E}"),
            format!("{x:?}"),
            format!("{x:.prec$}"),
            format!("{x:.prec$e}"),
        ] {
            same(&s).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn parses_number_shaped_strings_like_core(
        s in "[+-]?[0-9]{0,22}(\\.[0-9]{0,22})?([eE][+-]?[0-9]{1,4})?",
    ) {
        same(&s).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn parses_short_decimals_like_core(w in any::<u64>(), e in -60i32..60, neg: bool) {
        let s = format!("{}{w}e{e}", if neg { "-" } else { "" });
        same(&s).map_err(TestCaseError::fail)?;
        let d = w.to_string();
        let k = (e.unsigned_abs() as usize).min(d.len());
        let s = format!("{}.{}", &d[..d.len() - k], &d[d.len() - k..]);
        same(&s).map_err(TestCaseError::fail)?;
    }
}
