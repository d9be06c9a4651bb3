//! The data's statistics in one pass: count, min, max and mean square (the signal power).

use crate::error::{check_finite, Result};

use crate::quant::pairwise::{leaf_sum, pairwise_tree};

/// Facts about the data that every calibration needs, computed once per data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataStats {
    /// Number of values.
    pub n: usize,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// `max |x|`.
    pub absmax: f64,
    /// Signal power `mean(x²)` (numpy's pairwise order), the numerator of the SQNR.
    pub mean_sq: f64,
}

impl DataStats {
    /// Computes the stats, after checking that the data is non-empty and finite.
    ///
    /// One read of the data: each pairwise leaf block of 128 values updates the running min
    /// and max and adds its squares in numpy's order; large data runs on several threads, cut
    /// where the pairwise tree cuts ([`crate::par`]), so the bits are the same.
    pub fn of(xs: &[f64]) -> Result<DataStats> {
        let (sum_sq, lanes) =
            crate::par::pairwise_map(xs, &stats_part, &|(sa, mut la), (sb, lb)| {
                la.merge(&lb);
                (sa + sb, la)
            });
        DataStats::from_pass(xs, sum_sq, &lanes)
    }

    /// The stats from a pass's sum of squares and lanes (an error if any value was not finite).
    pub(crate) fn from_pass(xs: &[f64], sum_sq: f64, lanes: &MinMaxLanes) -> Result<DataStats> {
        let (min, max, finite) = lanes.finish();
        if !finite || xs.is_empty() {
            // Only now walk the data again, for the message's count and first index.
            check_finite(xs)?;
        }
        Ok(DataStats {
            n: xs.len(),
            min,
            max,
            absmax: min.abs().max(max.abs()),
            mean_sq: sum_sq / xs.len() as f64,
        })
    }

    /// Whether every value is the same.
    pub fn is_constant(&self) -> bool {
        self.min == self.max
    }
}

/// The data's min and max alone, in one read (an error if the data is empty or not finite):
/// what min-max calibration needs, as numpy's `np.min(x)` and `np.max(x)`, without the sum of
/// squares [`DataStats::of`] adds. The same lanes as `DataStats::of` (so the same bits, the
/// sign of a zero included), each thread's part read straight through with a prefetch ahead.
pub fn min_max(xs: &[f64]) -> Result<(f64, f64)> {
    let lanes = crate::par::pairwise_map(xs, &min_max_part, &|mut a, b| {
        a.merge(&b);
        a
    });
    let (min, max, finite) = lanes.finish();
    if !finite || xs.is_empty() {
        check_finite(xs)?;
    }
    Ok((min, max))
}

/// One part of [`min_max`]'s pass (parts start at multiples of 8, as the pairwise tree cuts).
pub(crate) fn min_max_part(xs: &[f64]) -> MinMaxLanes {
    let mut lanes = MinMaxLanes::new();
    #[cfg(target_arch = "x86_64")]
    if crate::quant::kernels::has_avx2() {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { crate::quant::kernels::x86::min_max_avx2(xs, &mut lanes) };
        return lanes;
    }
    lanes.update(xs);
    lanes
}

/// Running min, max and finiteness in eight lanes: lane `j` sees the values whose index is `j`
/// modulo 8 (every pairwise block starts at a multiple of 8), in order, so the result does not
/// depend on how the data was cut.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MinMaxLanes {
    pub(crate) lo: [f64; 8],
    pub(crate) hi: [f64; 8],
    /// `Σ (x - x)`: 0 while every value is finite, NaN from the first NaN or ±inf on.
    pub(crate) poison: [f64; 8],
}

impl MinMaxLanes {
    pub(crate) fn new() -> MinMaxLanes {
        MinMaxLanes {
            lo: [f64::INFINITY; 8],
            hi: [f64::NEG_INFINITY; 8],
            poison: [0.0; 8],
        }
    }

    /// Takes in one block that starts at a multiple of 8: compare-and-select in eight
    /// independent lanes, which the compiler turns into vector min/max.
    // `x - x` is deliberate: 0 for a finite x, NaN for NaN and ±inf.
    #[allow(clippy::eq_op)]
    #[inline(always)]
    pub(crate) fn update(&mut self, xs: &[f64]) {
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        return crate::quant::kernels::wasm::min_max_update_simd(self, xs);
        #[allow(unreachable_code)]
        let chunks = xs.chunks_exact(8);
        let rest = chunks.remainder();
        let (mut lo, mut hi, mut poison) = (self.lo, self.hi, self.poison);
        for c in chunks {
            for j in 0..8 {
                let x = c[j];
                lo[j] = if x < lo[j] { x } else { lo[j] };
                hi[j] = if x > hi[j] { x } else { hi[j] };
                poison[j] += x - x;
            }
        }
        for (j, &x) in rest.iter().enumerate() {
            lo[j] = if x < lo[j] { x } else { lo[j] };
            hi[j] = if x > hi[j] { x } else { hi[j] };
            poison[j] += x - x;
        }
        (self.lo, self.hi, self.poison) = (lo, hi, poison);
    }

    /// Takes in the lanes of the data that follows (as `update` would have, value by value).
    pub(crate) fn merge(&mut self, later: &MinMaxLanes) {
        for j in 0..8 {
            let (l, h) = (later.lo[j], later.hi[j]);
            self.lo[j] = if l < self.lo[j] { l } else { self.lo[j] };
            self.hi[j] = if h > self.hi[j] { h } else { self.hi[j] };
            self.poison[j] += later.poison[j];
        }
    }

    /// Min, max and whether every value was finite.
    pub(crate) fn finish(&self) -> (f64, f64, bool) {
        // Selects rather than `f64::min`/`max`, which are library calls on wasm32 (and this
        // runs once per group at a fine granularity). No lane is NaN (a NaN never wins a
        // comparison); between +0.0 and -0.0 the earlier lane stays.
        let min = self
            .lo
            .iter()
            .fold(f64::INFINITY, |m, &l| if l < m { l } else { m });
        let max = self
            .hi
            .iter()
            .fold(f64::NEG_INFINITY, |m, &h| if h > m { h } else { m });
        let finite = self.poison.iter().all(|p| *p == 0.0);
        (min, max, finite)
    }
}

/// One part of [`DataStats::of`]'s pass: the pairwise sum of squares and the min/max lanes.
pub(crate) fn stats_part(xs: &[f64]) -> (f64, MinMaxLanes) {
    let mut lanes = MinMaxLanes::new();
    #[cfg(target_arch = "x86_64")]
    if crate::quant::kernels::has_avx2() {
        // SAFETY: the CPU has AVX2 (checked just above).
        let sum = pairwise_tree(xs, &mut |b| unsafe {
            crate::quant::kernels::x86::stats_leaf_avx2(b, &mut lanes)
        });
        return (sum, lanes);
    }
    let sum = pairwise_tree(xs, &mut |b| stats_leaf(b, &mut lanes));
    (sum, lanes)
}

/// One leaf block: min/max lanes, and the sum of squares in numpy's leaf order.
#[inline(always)]
pub(crate) fn stats_leaf(b: &[f64], lanes: &mut MinMaxLanes) -> f64 {
    lanes.update(b);
    leaf_sum(b, &mut |x| x * x)
}
