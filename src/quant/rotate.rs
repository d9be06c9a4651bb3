//! Rotation before quantizing: the normalized Walsh-Hadamard transform over blocks of `k`
//! consecutive values within a row (QuaRot, QuIP#).
//!
//! `x -> H x` per block, with `H` the `k x k` Walsh-Hadamard matrix (Sylvester's order) scaled
//! by `1 / sqrt(k)`, so that `H = H^T = H^-1`: quantize in the rotated basis, rotate back with
//! the same `H`, and measure the error against the original values. An orthogonal rotation
//! keeps the squared error (the MSE is the same in both bases up to rounding) and spreads one
//! outlier over its `k` values. `k` is a power of two that divides the row length
//! (`hadamard:K`); plain `hadamard` takes the largest such `k` up to [`MAX_BLOCK`].
//!
//! The transform is the fast one: `log2(k)` passes of butterflies in place, `O(k log k)`.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// The largest block plain `hadamard` picks.
pub const MAX_BLOCK: usize = 4096;

/// A rotation applied before quantizing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Rotation {
    /// No rotation.
    #[default]
    None,
    /// Normalized Walsh-Hadamard over blocks of `k` values within a row; `None`: the largest
    /// power of two dividing the row length, up to [`MAX_BLOCK`].
    Hadamard(Option<usize>),
}

const ROTATE_EXPECTED: &str =
    "none, hadamard or hadamard:K (K a power of two from 2 that divides the row length)";

impl FromStr for Rotation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let err = || Error::Setting {
            name: "rotate",
            given: s.to_string(),
            expected: ROTATE_EXPECTED.to_string(),
        };
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "none" | "" => Ok(Rotation::None),
            "hadamard" => Ok(Rotation::Hadamard(None)),
            _ => match t
                .strip_prefix("hadamard:")
                .map(|k| k.trim().parse::<usize>())
            {
                Some(Ok(k)) if k >= 2 && k.is_power_of_two() => Ok(Rotation::Hadamard(Some(k))),
                _ => Err(err()),
            },
        }
    }
}

impl fmt::Display for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rotation::None => f.write_str("none"),
            Rotation::Hadamard(None) => f.write_str("hadamard"),
            Rotation::Hadamard(Some(k)) => write!(f, "hadamard:{k}"),
        }
    }
}

impl Rotation {
    /// The block size for rows of `cols` values (`None` for no rotation), or an error saying
    /// which sizes would fit.
    pub fn block(&self, cols: usize) -> Result<Option<usize>> {
        let largest = if cols == 0 {
            0
        } else {
            (1usize << cols.trailing_zeros()).min(MAX_BLOCK)
        };
        match *self {
            Rotation::None => Ok(None),
            Rotation::Hadamard(None) if largest >= 2 => Ok(Some(largest)),
            Rotation::Hadamard(None) => Err(Error::Setting {
                name: "rotate",
                given: self.to_string(),
                expected: format!(
                    "rows whose length is divisible by 2 for hadamard: the row length {cols} is odd (give --shape R,C with an even C, or --rotate none)"
                ),
            }),
            Rotation::Hadamard(Some(k)) if k >= 2 && k.is_power_of_two() && cols.is_multiple_of(k) => {
                Ok(Some(k))
            }
            Rotation::Hadamard(Some(_)) => Err(Error::Setting {
                name: "rotate",
                given: self.to_string(),
                expected: if largest >= 2 {
                    format!(
                        "hadamard:K with K a power of two that divides the row length {cols}: 2 to {largest}"
                    )
                } else {
                    format!("rows of even length for hadamard: the row length {cols} is odd")
                },
            }),
        }
    }
}

/// The normalized Walsh-Hadamard transform of one block in place (`x.len()` a power of two):
/// `x <- H x` with `H` Sylvester's matrix over `sqrt(len)`. Its own inverse.
pub fn fwht(x: &mut [f64]) {
    let n = x.len();
    debug_assert!(n.is_power_of_two());
    let norm = 1.0 / (n as f64).sqrt();
    let mut h = 1;
    if n >= 8 {
        // The first two stages together, four values at a time: the same sums of the same
        // pairs (stages of one and two values loop over too few to vectorize).
        for q in x.chunks_exact_mut(4) {
            let (s0, d0) = (q[0] + q[1], q[0] - q[1]);
            let (s1, d1) = (q[2] + q[3], q[2] - q[3]);
            q[0] = s0 + s1;
            q[1] = d0 + d1;
            q[2] = s0 - s1;
            q[3] = d0 - d1;
        }
        h = 4;
    }
    while h < n {
        let last = 2 * h == n;
        for block in x.chunks_exact_mut(2 * h) {
            let (a, b) = block.split_at_mut(h);
            if last {
                // The last stage scales as it goes: each value's sum, then its product, the
                // same two roundings as a pass of its own after it.
                for (u, v) in a.iter_mut().zip(b.iter_mut()) {
                    let (s, d) = (*u + *v, *u - *v);
                    *u = s * norm;
                    *v = d * norm;
                }
            } else {
                for (u, v) in a.iter_mut().zip(b.iter_mut()) {
                    let (s, d) = (*u + *v, *u - *v);
                    *u = s;
                    *v = d;
                }
            }
        }
        h *= 2;
    }
}

/// [`fwht`] over every block of `k` values of `xs` (its length a multiple of `k`, which the
/// caller checked with [`Rotation::block`]); natively the blocks are split over threads.
pub fn rotate_blocks(xs: &mut [f64], k: usize) {
    if k < 2 || !xs.len().is_multiple_of(k) {
        return;
    }
    let threads = crate::par::threads().min(xs.len() / (1 << 16) + 1);
    if threads <= 1 || cfg!(target_arch = "wasm32") {
        xs.chunks_exact_mut(k).for_each(fwht);
        return;
    }
    let blocks = xs.len() / k;
    let per = blocks.div_ceil(threads) * k;
    // Each part waits in its own slot: a thread takes it, or, where no thread could start,
    // this thread does afterwards (the spawn drops a closure it could not run).
    let slots: Vec<std::sync::Mutex<Option<&mut [f64]>>> = xs
        .chunks_mut(per)
        .map(|p| std::sync::Mutex::new(Some(p)))
        .collect();
    let take = |slot: &std::sync::Mutex<Option<&mut [f64]>>| {
        let part = match slot.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some(part) = part {
            part.chunks_exact_mut(k).for_each(fwht);
        }
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = slots[1..]
            .iter()
            .filter_map(|slot| {
                std::thread::Builder::new()
                    .spawn_scoped(s, move || take(slot))
                    .ok()
            })
            .collect();
        slots.iter().for_each(take);
        for h in handles {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// The `k x k` normalized Walsh-Hadamard matrix as a plain table (row-major): entry
/// `(i, j)` is `(-1)^popcount(i & j) / sqrt(k)`. The definition the fast transform is tested
/// against.
pub fn hadamard_matrix(k: usize) -> Vec<f64> {
    let norm = 1.0 / (k as f64).sqrt();
    let mut h = Vec::with_capacity(k * k);
    for i in 0..k {
        for j in 0..k {
            let sign = if (i & j).count_ones() % 2 == 0 {
                1.0
            } else {
                -1.0
            };
            h.push(sign * norm);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes_fit_the_row_or_say_why_not() {
        assert_eq!(Rotation::Hadamard(None).block(4096).unwrap(), Some(4096));
        assert_eq!(Rotation::Hadamard(None).block(8192).unwrap(), Some(4096));
        assert_eq!(Rotation::Hadamard(None).block(96).unwrap(), Some(32));
        assert_eq!(Rotation::Hadamard(Some(64)).block(4096).unwrap(), Some(64));
        assert_eq!(Rotation::None.block(7).unwrap(), None);
        let e = Rotation::Hadamard(None).block(99).unwrap_err().to_string();
        assert!(e.contains("odd"), "{e}");
        let e = Rotation::Hadamard(Some(64))
            .block(96)
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 to 32"), "{e}");
        for bad in [
            "hadamard:3",
            "hadamard:1",
            "hadamard:0",
            "hadamard:x",
            "walsh",
        ] {
            let e = bad.parse::<Rotation>().unwrap_err().to_string();
            assert!(e.contains("power of two"), "{bad}: {e}");
        }
        for s in ["none", "hadamard", "hadamard:128"] {
            assert_eq!(s.parse::<Rotation>().unwrap().to_string(), s);
        }
    }

    /// `H H = I` to 1e-12 at every size: the fast transform applied twice to every unit vector
    /// gives it back, and the fast transform of a unit vector is the matrix's column.
    #[test]
    fn hadamard_is_its_own_inverse() {
        let mut k = 2;
        while k <= MAX_BLOCK {
            let h = hadamard_matrix(k);
            // Spot columns at large k (every column below 512).
            let step = if k <= 512 { 1 } else { k / 61 };
            for j in (0..k).step_by(step) {
                let mut e = vec![0.0; k];
                e[j] = 1.0;
                fwht(&mut e);
                for i in 0..k {
                    assert!((e[i] - h[i * k + j]).abs() < 1e-12, "k={k} ({i},{j})");
                }
                fwht(&mut e);
                for (i, v) in e.iter().enumerate() {
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((v - want).abs() < 1e-12, "k={k} HH ({i},{j}) = {v}");
                }
            }
            k *= 2;
        }
    }

    /// The transform stage by stage, one pass each, then the scaling pass: what [`fwht`]
    /// computes with its first two stages and its scaling merged, bit for bit.
    fn fwht_by_stages(x: &mut [f64]) {
        let n = x.len();
        let mut h = 1;
        while h < n {
            for block in x.chunks_exact_mut(2 * h) {
                let (a, b) = block.split_at_mut(h);
                for (u, v) in a.iter_mut().zip(b.iter_mut()) {
                    let (s, d) = (*u + *v, *u - *v);
                    *u = s;
                    *v = d;
                }
            }
            h *= 2;
        }
        let norm = 1.0 / (n as f64).sqrt();
        x.iter_mut().for_each(|v| *v *= norm);
    }

    #[test]
    fn merged_stages_are_the_stages_bit_for_bit() {
        let mut s = 5u64;
        let mut k = 2;
        while k <= MAX_BLOCK {
            let xs: Vec<f64> = (0..k)
                .map(|i| {
                    let u = (crate::quant::formats::lcg(&mut s) >> 11) as f64 / (1u64 << 53) as f64;
                    match i % 7 {
                        0 => 0.0,
                        1 => -0.0,
                        2 => (u - 0.5) * 1e300,
                        3 => (u - 0.5) * 1e-300,
                        _ => u - 0.5,
                    }
                })
                .collect();
            let (mut fast, mut plain) = (xs.clone(), xs);
            fwht(&mut fast);
            fwht_by_stages(&mut plain);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&plain), "k={k}");
            k *= 2;
        }
    }

    #[test]
    fn blocks_rotate_alone_and_threads_change_nothing() {
        let xs: Vec<f64> = (0..(1 << 18))
            .map(|i| ((i * 7919) % 1013) as f64 - 500.0)
            .collect();
        for k in [2, 64, 4096] {
            let mut fast = xs.clone();
            rotate_blocks(&mut fast, k);
            let mut plain = xs.clone();
            plain.chunks_exact_mut(k).for_each(fwht);
            assert_eq!(fast, plain, "k={k}");
        }
    }
}
