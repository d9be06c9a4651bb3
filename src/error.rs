//! The one error type of the core: every variant says what was wrong and what would be right.

use std::fmt;

/// Largest number of values quantviz generates or loads (10 million).
pub const MAX_VALUES: usize = 10_000_000;

/// Everything that can go wrong in quantviz, each with a message a user can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The data holds no values at all.
    EmptyData,
    /// Some values are NaN or infinite: how many, and the first one's index and value.
    NonFinite {
        /// How many values are not finite.
        count: usize,
        /// Index of the first non-finite value.
        first_index: usize,
        /// The first non-finite value itself (NaN, inf or -inf).
        first_value: f64,
    },
    /// A bit width outside 2..=16.
    Bits(i64),
    /// A percentile outside (50, 100].
    Percentile(f64),
    /// More values than [`MAX_VALUES`].
    TooMany(u64),
    /// A setting that does not parse: its name, what was given, what is expected.
    Setting {
        /// The setting's name as the CLI and the URL spell it (`bits`, `dist`, ...).
        name: &'static str,
        /// The text that was given.
        given: String,
        /// What would be accepted.
        expected: String,
    },
    /// A file or byte buffer that cannot be read as numbers.
    Load {
        /// Where the data came from (a file name).
        source: String,
        /// What is wrong with it.
        message: String,
    },
    /// A chart could not be drawn or exported (or there is nothing to draw yet).
    Chart(String),
    /// The range of the data is too wide for f64 arithmetic (max - min overflows).
    RangeOverflow {
        /// Lower end of the range.
        lo: f64,
        /// Upper end of the range.
        hi: f64,
    },
}

/// Result type of the core.
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::EmptyData => write!(f, "the data is empty: give at least one number"),
            Error::NonFinite {
                count,
                first_index,
                first_value,
            } => {
                let what = if first_value.is_nan() {
                    "NaN".to_string()
                } else {
                    format!("{first_value}")
                };
                let noun = if *count == 1 { "value is" } else { "values are" };
                write!(
                    f,
                    "{count} {noun} not a finite number (NaN or infinite); the first is {what} at index {first_index}: remove or replace them"
                )
            }
            Error::Bits(b) => write!(f, "bits must be a whole number from 2 to 16, got {b}"),
            Error::Percentile(p) => write!(
                f,
                "the percentile must be above 50 and at most 100 (for example 99.99), got {p}"
            ),
            Error::TooMany(n) => write!(
                f,
                "{n} values is more than quantviz handles: use from 1 to {MAX_VALUES} values"
            ),
            Error::Setting {
                name,
                given,
                expected,
            } => write!(f, "invalid {name} '{given}': expected {expected}"),
            Error::Load { source, message } => write!(f, "cannot read {source}: {message}"),
            Error::Chart(message) => write!(f, "{message}"),
            Error::RangeOverflow { lo, hi } => write!(
                f,
                "the range [{lo:e}, {hi:e}] is too wide for f64 arithmetic (max - min overflows): rescale the data"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Checks that data is non-empty and every value finite; the error names the count and first index.
pub fn check_finite(values: &[f64]) -> Result<()> {
    if values.is_empty() {
        return Err(Error::EmptyData);
    }
    let mut count = 0usize;
    let mut first = None;
    for (i, &v) in values.iter().enumerate() {
        if !v.is_finite() {
            count += 1;
            if first.is_none() {
                first = Some((i, v));
            }
        }
    }
    match first {
        None => Ok(()),
        Some((first_index, first_value)) => Err(Error::NonFinite {
            count,
            first_index,
            first_value,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_message_names_count_and_first_index() {
        let e = check_finite(&[1.0, f64::NAN, 2.0, f64::INFINITY]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("2 values are not a finite number"), "{msg}");
        assert!(msg.contains("NaN at index 1"), "{msg}");
    }

    #[test]
    fn empty_is_an_error() {
        assert_eq!(check_finite(&[]), Err(Error::EmptyData));
    }
}
