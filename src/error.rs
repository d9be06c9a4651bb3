//! The one error type of the core: every variant says what was wrong and what would be right.

use crate::present::number::full;
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
    /// Finite float64 values beyond float32's range (they round to infinity), given to a
    /// format that computes in float32: how many, and the first one's index and value.
    BeyondFloat32 {
        /// How many values are beyond float32's range.
        count: usize,
        /// Index of the first of them.
        first_index: usize,
        /// The first of them itself.
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
    /// A value count that a format's block does not divide.
    BlockCount {
        /// The format's name.
        format: &'static str,
        /// How many values were given.
        n: usize,
        /// The format's block.
        block: usize,
    },
    /// A block whose scale does not fit the type the format stores it in.
    ScaleOverflow {
        /// The format's name.
        format: &'static str,
        /// The block's index (from 0).
        block: usize,
        /// The scale the block needs.
        scale: f64,
        /// The largest the stored type holds.
        limit: f64,
    },
    /// A chart could not be drawn or exported (or there is nothing to draw yet).
    Chart(String),
    /// A clip range that float64 cannot quantize: its width `hi - lo` overflows, or its
    /// outermost levels `(q - zero_point) * scale` do at this bit width.
    RangeOverflow {
        /// Lower end of the range.
        lo: f64,
        /// Upper end of the range.
        hi: f64,
    },
    /// The mean squared error of a quantization is beyond float64 (the errors are finite but
    /// their mean square is not): no number can report it.
    MseOverflow {
        /// `max |x|` of the data.
        absmax: f64,
        /// `max |x - x̂|` (infinite where `x - x̂` itself overflows).
        max_abs_error: f64,
    },
    /// The `kl` calibration asked of the asymmetric scheme: it is symmetric only.
    KlAsymmetric,
    /// `max |x|` too small for 2048 histogram bins with distinct float64 edges.
    KlRange {
        /// `max |x|` of the values.
        absmax: f64,
    },
    /// Quantizing one layer of the model failed: which layer, and why.
    Layer {
        /// The tensor's name (`fc2.weight`).
        layer: String,
        /// What went wrong with it.
        error: Box<Error>,
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
                let noun = if *count == 1 {
                    "value is"
                } else {
                    "values are"
                };
                write!(
                    f,
                    "{count} {noun} not a finite number (NaN or infinite); the first is {what} at index {first_index}: remove or replace them"
                )
            }
            Error::BeyondFloat32 {
                count,
                first_index,
                first_value,
            } => {
                let noun = if *count == 1 {
                    "value is"
                } else {
                    "values are"
                };
                write!(
                    f,
                    "{count} {noun} beyond float32's range (the first is {first_value:e} at index {first_index}): every format but int computes in float32, as its reference does; int computes in float64"
                )
            }
            Error::Bits(b) => write!(f, "bits must be a whole number from 2 to 16, got {b}"),
            Error::Percentile(p) => write!(
                f,
                "the percentile must be above 50 and at most 100 (for example 99.99), got {}",
                full(*p)
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
            Error::BlockCount { format, n, block } => {
                let below = n / block * block;
                let above = below + block;
                let nearest = if below == 0 {
                    format!("{above}")
                } else {
                    format!("{below} or {above}")
                };
                let values = if *n == 1 { "value" } else { "values" };
                write!(
                    f,
                    "{format} quantizes blocks of {block} values, and {n} {values} is not a whole number of blocks: give a multiple of {block}, such as {nearest}"
                )
            }
            Error::ScaleOverflow {
                format,
                block,
                scale,
                limit,
            } => write!(
                f,
                "block {block} needs a scale of {}, more than the {} that {format} stores its scales in: rescale the data",
                full(*scale),
                full(*limit)
            ),
            Error::Chart(message) => write!(f, "{message}"),
            Error::KlRange { absmax } => write!(
                f,
                "calibration kl needs 2048 histogram bins over [0, max|x|], and max|x| = {} is too small for 2049 distinct float64 edges: rescale the data (max|x| above about 1e-320), or use minmax, percentile:P or mse",
                full(*absmax)
            ),
            Error::KlAsymmetric => write!(
                f,
                "calibration kl is symmetric-only (it picks a clip value from the histogram of |x|): use scheme symmetric with kl (--scheme symmetric, URL scheme=symmetric), or minmax, percentile:P or mse with the asymmetric scheme"
            ),
            Error::RangeOverflow { lo, hi } => {
                if !lo.is_finite() || !hi.is_finite() {
                    // Not a range at all: say what it came from instead of printing NaN or inf.
                    write!(
                        f,
                        "the data's range is too wide for float64 arithmetic: the clip range computed from it is not a finite number: rescale the data (keep max - min below about 1.8e308)"
                    )
                } else if !(hi - lo).is_finite() {
                    write!(
                        f,
                        "the range [{}, {}] is too wide for float64 arithmetic (its width exceeds float64's largest number, about 1.8e308): rescale the data",
                        full(*lo),
                        full(*hi)
                    )
                } else {
                    write!(
                        f,
                        "the quantization levels of the range [{}, {}] at this bit width reach beyond float64's largest number (about 1.8e308): rescale the data",
                        full(*lo),
                        full(*hi)
                    )
                }
            }
            Error::MseOverflow {
                absmax,
                max_abs_error,
            } => {
                let errors = if max_abs_error.is_finite() {
                    format!("errors up to {}", full(*max_abs_error))
                } else {
                    "errors that themselves exceed float64".to_string()
                };
                write!(
                    f,
                    "the squared error of quantizing this data overflows float64 (values up to {}, {errors}), so the MSE has no float64 value: rescale the data (keep |x| below about 1e150)",
                    full(*absmax)
                )
            }
            Error::Layer { layer, error } => write!(f, "quantizing {layer}: {error}"),
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
    fn a_count_a_block_does_not_divide_names_the_nearest_counts() {
        let e = |n| {
            Error::BlockCount {
                format: "q8_0",
                n,
                block: 32,
            }
            .to_string()
        };
        assert!(
            e(1).contains("and 1 value is not a whole number"),
            "{}",
            e(1)
        );
        assert!(e(1).ends_with("such as 32"), "{}", e(1));
        assert!(e(100).contains("and 100 values is not"), "{}", e(100));
        assert!(e(100).ends_with("such as 96 or 128"), "{}", e(100));
    }

    #[test]
    fn numbers_in_messages_are_short() {
        assert_eq!(full(1e300), "1e300");
        assert_eq!(full(-1.7976931348623157e308), "-1.7976931348623157e308");
        assert_eq!(full(99.5), "99.5");
        assert_eq!(full(1e-300), "1e-300");
        assert_eq!(full(0.0), "0");
        assert!(!Error::Percentile(1e300).to_string().contains("000000"));
    }

    #[test]
    fn range_messages_say_what_is_wrong() {
        let wide = Error::RangeOverflow {
            lo: -1e308,
            hi: 1e308,
        }
        .to_string();
        assert!(
            wide.contains("[-1e308, 1e308]") && wide.contains("width"),
            "{wide}"
        );
        let levels = Error::RangeOverflow {
            lo: 1e306,
            hi: 1.5e308,
        }
        .to_string();
        assert!(
            levels.contains("levels") && !levels.contains("too wide"),
            "{levels}"
        );
        for (lo, hi) in [(f64::NAN, f64::NAN), (f64::INFINITY, f64::NEG_INFINITY)] {
            let m = Error::RangeOverflow { lo, hi }.to_string();
            assert!(!m.contains("NaN") && !m.contains("inf"), "{m}");
        }
        let m = Error::MseOverflow {
            absmax: 1.7e308,
            max_abs_error: 1.37e305,
        }
        .to_string();
        assert!(m.contains("1.7e308") && m.contains("rescale"), "{m}");
    }

    #[test]
    fn empty_is_an_error() {
        assert_eq!(check_finite(&[]), Err(Error::EmptyData));
    }
}
