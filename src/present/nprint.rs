//! numpy's way of printing 1-D arrays (`print(arr)` with `suppress=True`), so that
//! `quantviz notebook` prints what the notebook printed, character for character.
//!
//! Rules reproduced: each float in its shortest round-trip form (at most 8 decimals), integer
//! parts right-aligned and fractions left-aligned with trailing spaces (`0.  `, `64.6 `), words
//! joined by one space, lines wrapped before 75 characters with a one-space hanging indent, and
//! arrays over 1000 values summarised as the first and last 3 around `...`.

const LINE_WIDTH: usize = 75;
const THRESHOLD: usize = 1000;
const EDGE: usize = 3;

fn float_parts(x: f64) -> (String, String) {
    let mut s = format!("{x}");
    if let Some(dot) = s.find('.') {
        if s.len() - dot - 1 > 8 {
            s = format!("{x:.8}");
            s = s.trim_end_matches('0').to_string();
        }
    }
    match s.split_once('.') {
        Some((i, f)) => (i.to_string(), f.to_string()),
        None => (s, String::new()),
    }
}

/// Lays out words the way numpy's `_formatArray` does for one dimension.
fn layout(words: &[String], summarised: bool) -> String {
    let hanging = " ";
    let elem_width = LINE_WIDTH - 1; // minus max(len(separator.rstrip()), len(']'))
    let mut s = String::new();
    let mut line = hanging.to_string();
    let extend = |s: &mut String, line: &mut String, word: &str| {
        if line.len() + word.len() > elem_width && line.len() > hanging.len() {
            s.push_str(line.trim_end());
            s.push('\n');
            *line = hanging.to_string();
        }
        line.push_str(word);
    };
    let n = words.len();
    for (i, w) in words.iter().enumerate() {
        extend(&mut s, &mut line, w);
        if summarised && i + 1 == EDGE {
            line.push(' ');
            extend(&mut s, &mut line, "...");
        }
        if i + 1 < n {
            line.push(' ');
        }
    }
    s.push_str(&line);
    format!("[{}]", &s[hanging.len()..])
}

fn shown<T: Copy>(xs: &[T]) -> (Vec<T>, bool) {
    if xs.len() > THRESHOLD {
        let mut v = xs[..EDGE].to_vec();
        v.extend_from_slice(&xs[xs.len() - EDGE..]);
        (v, true)
    } else {
        (xs.to_vec(), false)
    }
}

/// `print(np.array(xs))` for floats, with `np.set_printoptions(suppress=True)`.
pub fn format_floats(xs: &[f64]) -> String {
    let (xs, summarised) = shown(xs);
    let parts: Vec<(String, String)> = xs.iter().map(|&x| float_parts(x)).collect();
    let int_w = parts.iter().map(|(i, _)| i.len()).max().unwrap_or(0);
    let frac_w = parts.iter().map(|(_, f)| f.len()).max().unwrap_or(0);
    let words: Vec<String> = parts
        .iter()
        .map(|(i, f)| format!("{i:>int_w$}.{f:<frac_w$}"))
        .collect();
    layout(&words, summarised)
}

/// `print(np.array(xs))` for integers.
pub fn format_ints(xs: &[i32]) -> String {
    let (xs, summarised) = shown(xs);
    let strs: Vec<String> = xs.iter().map(|x| x.to_string()).collect();
    let w = strs.iter().map(|s| s.len()).max().unwrap_or(0);
    let words: Vec<String> = strs.iter().map(|s| format!("{s:>w$}")).collect();
    layout(&words, summarised)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::presets::NOTEBOOK_VALUES;

    #[test]
    fn prints_the_notebook_values_as_numpy() {
        assert_eq!(
            format_floats(&NOTEBOOK_VALUES),
            "[146.93 -47.31   0.   -36.45 144.12 116.43 145.93  86.63 -15.27  26.39\n  53.16  24.85 -26.28  97.77 -46.31  64.6  123.86  60.37  58.95  10.8 ]"
        );
    }

    #[test]
    fn prints_codes_as_numpy() {
        let codes = [
            255, 0, 62, 14, 251, 215, 254, 176, 42, 97, 132, 95, 27, 190, 1, 147, 225, 141, 139, 76,
        ];
        assert_eq!(
            format_ints(&codes),
            "[255   0  62  14 251 215 254 176  42  97 132  95  27 190   1 147 225 141\n 139  76]"
        );
    }

    #[test]
    fn summarises_long_arrays() {
        let mut v = vec![0.0; 10_000];
        v[0] = 112.1;
        v[1] = 3.92;
        v[2] = 126.0;
        v[9997] = 114.76;
        v[9998] = -46.97;
        v[9999] = 1000.0;
        assert_eq!(
            format_floats(&v),
            "[ 112.1     3.92  126.   ...  114.76  -46.97 1000.  ]"
        );
        let mut c = vec![0; 10_000];
        c[..3].copy_from_slice(&[39, 13, 43]);
        c[9997..].copy_from_slice(&[40, 1, 255]);
        assert_eq!(format_ints(&c), "[ 39  13  43 ...  40   1 255]");
    }
}
