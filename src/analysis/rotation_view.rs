//! What the rotation card shows: one rotation block's values before and after the Hadamard
//! rotation (by default the block holding the largest `|x|`, whose outlier the rotation spreads
//! over the block), and the error in both bases.

use crate::analysis::granular::GranularRun;
use crate::analysis::metrics::Metrics;
use crate::error::{Error, Result};

/// One rotation block of a rotated run, and the run's error in both bases.
#[derive(Debug, Clone, PartialEq)]
pub struct RotationView {
    /// The rotation's block length `k`.
    pub k: usize,
    /// Which block (blocks of `k` along each row, counted over the flat data).
    pub block: usize,
    /// How many blocks there are.
    pub blocks: usize,
    /// The block's row and its first column.
    pub row: usize,
    pub column: usize,
    /// The block's original values.
    pub before: Vec<f64>,
    /// The same block after the rotation (what the quantizer saw).
    pub after: Vec<f64>,
    /// The block's dequantized values rotated back (what the model sees).
    pub dequantized: Vec<f64>,
    /// The error against the original values.
    pub original: Metrics,
    /// The error against the rotated values.
    pub rotated: Metrics,
}

/// The block of `k` values holding the largest `|x|` of `xs` (the first, on ties; 0 for
/// empty or all-NaN data).
pub fn block_of_largest(xs: &[f64], k: usize) -> usize {
    let mut at = 0;
    let mut top = f64::NEG_INFINITY;
    for (i, x) in xs.iter().enumerate() {
        if x.abs() > top {
            top = x.abs();
            at = i;
        }
    }
    at / k.max(1)
}

impl RotationView {
    /// Block `block` (the one holding the largest `|x|` when `None`) of `run`, a run with a
    /// rotation whose rotated and dequantized values were kept; `xs` are the original values
    /// and `row_len` the length of a row. Errors where the run has no rotation, or past the
    /// last block.
    pub fn of(
        run: &GranularRun,
        xs: &[f64],
        row_len: usize,
        block: Option<usize>,
    ) -> Result<RotationView> {
        let no_rotation = || Error::Chart("no rotation to show: choose rotate=hadamard".into());
        let k = run
            .rotate_block
            .filter(|&k| k > 0)
            .ok_or_else(no_rotation)?;
        let (Some(rotated), Some(deq), Some(in_rotated)) = (
            run.rotated.as_deref(),
            run.dequantized.as_deref(),
            run.rotated_metrics,
        ) else {
            return Err(no_rotation());
        };
        let blocks = xs.len() / k;
        let block = block.unwrap_or_else(|| block_of_largest(xs, k));
        if block >= blocks || rotated.len() != xs.len() || deq.len() != xs.len() {
            return Err(Error::Setting {
                name: "rotation block",
                given: block.to_string(),
                expected: format!("a block from 0 to {}", blocks.saturating_sub(1)),
            });
        }
        let r = block * k..(block + 1) * k;
        let row_len = row_len.max(1);
        Ok(RotationView {
            k,
            block,
            blocks,
            row: r.start / row_len,
            column: r.start % row_len,
            before: xs[r.clone()].to_vec(),
            after: rotated[r.clone()].to_vec(),
            dequantized: deq[r].to_vec(),
            original: run.metrics,
            rotated: in_rotated,
        })
    }

    /// `max |x|` of the block before and after the rotation: how far the outlier was spread.
    pub fn peaks(&self) -> (f64, f64) {
        let peak = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        (peak(&self.before), peak(&self.after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_value_picks_its_block() {
        assert_eq!(block_of_largest(&[1.0, -9.0, 2.0, 3.0, 4.0, 5.0], 2), 0);
        assert_eq!(block_of_largest(&[1.0, 2.0, 3.0, -9.0, 4.0, 5.0], 2), 1);
        assert_eq!(block_of_largest(&[], 4), 0);
        assert_eq!(block_of_largest(&[f64::NAN, 1.0], 0), 1);
    }
}
