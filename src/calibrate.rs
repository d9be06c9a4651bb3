//! Range calibration: which clip range `[beta, alpha]` the quantization grid covers.
//!
//! - `minmax`: the data's min and max (`max |x|` for symmetric), as the notebook.
//! - `percentile:P`: numpy's `np.percentile(x, P)` with its default linear method, exactly:
//!   rank `h = (n - 1) * (P / 100)`, then numpy's `_lerp` between the two neighbouring order
//!   statistics. The order statistics come from selection, not a full sort.
//! - `mse`: the clip range with the least mean squared error, by search (see [`mse_range`]).

use crate::error::{check_finite, Result};
use crate::quantize::QuantParams;
use crate::settings::{Calibration, QuantSettings, Scheme, ZeroPoint};
use crate::sum::{leaf_sum, pairwise_tree};

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
    fn from_pass(xs: &[f64], sum_sq: f64, lanes: &MinMaxLanes) -> Result<DataStats> {
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
fn min_max_part(xs: &[f64]) -> MinMaxLanes {
    let mut lanes = MinMaxLanes::new();
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { min_max_avx2(xs, &mut lanes) };
        return lanes;
    }
    lanes.update(xs);
    lanes
}

/// [`MinMaxLanes::update`] over a whole part in AVX2: the eight lanes are two vectors of four,
/// each lane taking its values in order, as `update` does (on a tie, `_mm256_min_pd(x, lo)`
/// keeps `lo`, the earlier value, as `if x < lo { x } else { lo }`: -0.0 and +0.0 stay apart).
/// A software prefetch 8 KiB ahead: the pass is bound by memory, and reads 10M values in about
/// 3.6 ms on two threads with it, 4.3 ms without.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn min_max_avx2(xs: &[f64], lanes: &mut MinMaxLanes) {
    use std::arch::x86_64::*;
    const AHEAD: usize = 1024;
    let n = xs.len();
    let whole = n - n % 8;
    let p = xs.as_ptr();
    let mut v = MinMaxVectors::load(lanes);
    let mut i = 0;
    while i < whole {
        // A prefetch is only a hint (it never faults), and wrapping_add keeps the address
        // arithmetic defined past the end.
        _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(i + AHEAD) as *const i8);
        // SAFETY: i + 8 <= whole <= n.
        v.take(_mm256_loadu_pd(p.add(i)), _mm256_loadu_pd(p.add(i + 4)));
        i += 8;
    }
    v.store(lanes);
    lanes.update(&xs[whole..]);
}

/// [`MinMaxLanes`] in two AVX vectors of four lanes each (lanes 0-3 and 4-7): the AVX2 passes'
/// min, max and poison. `_mm256_min_pd(x, lo)` is `if x < lo { x } else { lo }` and
/// `_mm256_max_pd(x, hi)` is `if x > hi { x } else { hi }`, NaN and ties included, so every
/// lane is [`MinMaxLanes::update`]'s.
#[cfg(target_arch = "x86_64")]
struct MinMaxVectors {
    lo: [std::arch::x86_64::__m256d; 2],
    hi: [std::arch::x86_64::__m256d; 2],
    poison: [std::arch::x86_64::__m256d; 2],
}

#[cfg(target_arch = "x86_64")]
impl MinMaxVectors {
    /// The lanes as vectors.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn load(l: &MinMaxLanes) -> MinMaxVectors {
        use std::arch::x86_64::*;
        // SAFETY: each array has 8 values; the loads read 4 from index 0 and 4 from index 4.
        let two = |a: &[f64; 8]| unsafe {
            [
                _mm256_loadu_pd(a.as_ptr()),
                _mm256_loadu_pd(a.as_ptr().add(4)),
            ]
        };
        MinMaxVectors {
            lo: two(&l.lo),
            hi: two(&l.hi),
            poison: two(&l.poison),
        }
    }

    /// Takes in the next 8 values, lanes 0-3 then 4-7.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn take(&mut self, x0: std::arch::x86_64::__m256d, x1: std::arch::x86_64::__m256d) {
        use std::arch::x86_64::*;
        for (j, x) in [x0, x1].into_iter().enumerate() {
            self.lo[j] = _mm256_min_pd(x, self.lo[j]);
            self.hi[j] = _mm256_max_pd(x, self.hi[j]);
            self.poison[j] = _mm256_add_pd(self.poison[j], _mm256_sub_pd(x, x));
        }
    }

    /// Writes the vectors back to the lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn store(&self, l: &mut MinMaxLanes) {
        use std::arch::x86_64::*;
        // SAFETY: as in `load`, 4 values at index 0 and 4 at index 4 of arrays of 8.
        let two = |a: &mut [f64; 8], v: &[__m256d; 2]| unsafe {
            _mm256_storeu_pd(a.as_mut_ptr(), v[0]);
            _mm256_storeu_pd(a.as_mut_ptr().add(4), v[1]);
        };
        two(&mut l.lo, &self.lo);
        two(&mut l.hi, &self.hi);
        two(&mut l.poison, &self.poison);
    }
}

/// Running min, max and finiteness in eight lanes: lane `j` sees the values whose index is `j`
/// modulo 8 (every pairwise block starts at a multiple of 8), in order, so the result does not
/// depend on how the data was cut.
#[derive(Debug, Clone, Copy)]
struct MinMaxLanes {
    lo: [f64; 8],
    hi: [f64; 8],
    /// `Σ (x - x)`: 0 while every value is finite, NaN from the first NaN or ±inf on.
    poison: [f64; 8],
}

impl MinMaxLanes {
    fn new() -> MinMaxLanes {
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
    fn update(&mut self, xs: &[f64]) {
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
    fn merge(&mut self, later: &MinMaxLanes) {
        for j in 0..8 {
            let (l, h) = (later.lo[j], later.hi[j]);
            self.lo[j] = if l < self.lo[j] { l } else { self.lo[j] };
            self.hi[j] = if h > self.hi[j] { h } else { self.hi[j] };
            self.poison[j] += later.poison[j];
        }
    }

    /// Min, max and whether every value was finite.
    fn finish(&self) -> (f64, f64, bool) {
        let min = self.lo.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.hi.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let finite = self.poison.iter().all(|p| *p == 0.0);
        (min, max, finite)
    }
}

/// One part of [`DataStats::of`]'s pass: the pairwise sum of squares and the min/max lanes.
fn stats_part(xs: &[f64]) -> (f64, MinMaxLanes) {
    let mut lanes = MinMaxLanes::new();
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        let sum = pairwise_tree(xs, &mut |b| unsafe { stats_leaf_avx2(b, &mut lanes) });
        return (sum, lanes);
    }
    let sum = pairwise_tree(xs, &mut |b| stats_leaf(b, &mut lanes));
    (sum, lanes)
}

/// One leaf block: min/max lanes, and the sum of squares in numpy's leaf order.
#[inline(always)]
fn stats_leaf(b: &[f64], lanes: &mut MinMaxLanes) -> f64 {
    lanes.update(b);
    leaf_sum(b, &mut |x| x * x)
}

/// [`stats_leaf`] in AVX2 intrinsics: the eight lanes are two vectors of four, for the min,
/// the max and the poison ([`MinMaxVectors`]) and numpy's eight accumulators alike.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn stats_leaf_avx2(b: &[f64], lanes: &mut MinMaxLanes) -> f64 {
    use std::arch::x86_64::*;
    let n = b.len();
    if n < 8 {
        return stats_leaf(b, lanes);
    }
    let whole = n - n % 8;
    let p = b.as_ptr();
    let mut v = MinMaxVectors::load(lanes);
    let mut r0 = _mm256_setzero_pd();
    let mut r1 = _mm256_setzero_pd();
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 8 <= whole <= n.
        let x0 = _mm256_loadu_pd(p.add(i));
        let x1 = _mm256_loadu_pd(p.add(i + 4));
        v.take(x0, x1);
        // +0.0 + x² is x² (never -0.0): the first add is numpy's first assignment.
        r0 = _mm256_add_pd(r0, _mm256_mul_pd(x0, x0));
        r1 = _mm256_add_pd(r1, _mm256_mul_pd(x1, x1));
        i += 8;
    }
    v.store(lanes);
    let mut r = [0.0f64; 8];
    _mm256_storeu_pd(r.as_mut_ptr(), r0);
    _mm256_storeu_pd(r.as_mut_ptr().add(4), r1);
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    let rest = &b[whole..];
    lanes.update(rest);
    for &x in rest {
        res += x * x;
    }
    res
}

/// numpy's `_lerp(a, b, t)`: `a + (b - a) * t`, or `b - (b - a) * (1 - t)` when `t >= 0.5`.
#[inline]
pub fn numpy_lerp(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// numpy's linear-method rank for percentile `p` of `n` values: the index of the lower order
/// statistic, of the upper one, and the interpolation weight.
fn rank(n: usize, p: f64) -> (usize, usize, f64) {
    let q = p / 100.0;
    let vi = (n - 1) as f64 * q;
    if vi >= (n - 1) as f64 {
        return (n - 1, n - 1, 0.0);
    }
    if vi < 0.0 {
        return (0, 0, 0.0);
    }
    let lo = vi.floor();
    (lo as usize, lo as usize + 1, vi - lo)
}

/// `np.percentile(sorted, p)` on data that is already sorted ascending.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let (i, j, t) = rank(sorted.len(), p);
    numpy_lerp(sorted[i], sorted[j], t)
}

/// The smallest of `xs` in `f64::total_cmp` order (so -0.0 before +0.0, whatever the order of
/// `xs`): the (k+1)-th order statistic is the same value however it was found.
fn min_of(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(
        f64::INFINITY,
        |m, x| {
            if x.total_cmp(&m).is_lt() {
                x
            } else {
                m
            }
        },
    )
}

/// The k-th and (k+1)-th smallest of `v` (reordering `v`); the second is the first at the end.
fn order_pair(v: &mut [f64], k: usize) -> (f64, f64) {
    let (_, &mut a, rest) = v.select_nth_unstable_by(k, f64::total_cmp);
    let b = if rest.is_empty() { a } else { min_of(rest) };
    (a, b)
}

/// `np.percentile(x, p)`, linear method, bit for bit, in O(n) without copying the data (see
/// [`order_pairs`]).
pub fn percentile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let (i, _, t) = rank(xs.len(), p);
    let [(a, b), _] = order_pairs(xs, [i, i]);
    numpy_lerp(a, b, t)
}

/// `(np.percentile(x, 100 - p), np.percentile(x, p))` for p > 50, in one pass over the data.
pub fn percentile_pair(xs: &[f64], p: f64) -> (f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let (hi_i, _, hi_t) = rank(n, p);
    // numpy computes the lower percentile as 100 - p in float64, then divides by 100.
    let (lo_i, _, lo_t) = rank(n, 100.0 - p);
    let [(la, lb), (ha, hb)] = order_pairs(xs, [lo_i, hi_i]);
    (numpy_lerp(la, lb, lo_t), numpy_lerp(ha, hb, hi_t))
}

/// `np.percentile` by selection on a copy: the plain definition, and the fallback of the fast
/// path. Returns the k-th and (k+1)-th smallest (in `f64::total_cmp` order) for each k; the
/// second is the first when k is the last index.
fn order_pairs_by_copy(xs: &[f64], ks: [usize; 2]) -> [(f64, f64); 2] {
    let n = xs.len();
    let mut v = xs.to_vec();
    let (k0, k1) = (ks[0].min(ks[1]), ks[0].max(ks[1]));
    let (ha, hb) = order_pair(&mut v, k1);
    let hb = if k1 + 1 >= n { ha } else { hb };
    // After selecting k1, v[..k1] holds the k1 smallest values in some order.
    let (la, lb) = if k0 < k1 {
        let (la, lb) = order_pair(&mut v[..k1], k0);
        (la, if k0 + 1 == k1 { ha } else { lb })
    } else {
        (ha, hb)
    };
    if ks[0] <= ks[1] {
        [(la, lb), (ha, hb)]
    } else {
        [(ha, hb), (la, lb)]
    }
}

/// Below this many values the copy is cheap and [`order_pairs`] just selects on it.
const FAST_SELECT_MIN: usize = 1 << 16;
/// Values in the sample that brackets the wanted order statistics.
const SELECT_SAMPLE: usize = 1 << 14;

/// The k-th and (k+1)-th smallest values of `xs` (in `f64::total_cmp` order) for two ranks k,
/// exactly, in one read of the data and without copying it.
///
/// Method (Floyd and Rivest's sampling, as a filter): a sample of [`SELECT_SAMPLE`] values
/// spread over the data is sorted, and for each k two sample values `a <= b` are taken on
/// either side of where the k-th would fall, with a margin of four standard deviations of the
/// sample rank. One pass counts the values below `a` and gathers the few in `[a, b]`; when the
/// count shows that ranks k and k + 1 fall among the gathered values, they are selected there.
/// Otherwise (a sample that misled, NaN in the data) it falls back to selection on a copy, so
/// the result never depends on the sample, only the time does.
fn order_pairs(xs: &[f64], ks: [usize; 2]) -> [(f64, f64); 2] {
    let n = xs.len();
    if n < FAST_SELECT_MIN {
        return order_pairs_by_copy(xs, ks);
    }
    let sample = sorted_sample(xs);
    let windows = ks.map(|k| sample_window(&sample, n, k));
    match filter_select(xs, ks, windows) {
        Some(r) => r,
        None => order_pairs_by_copy(xs, ks),
    }
}

/// [`SELECT_SAMPLE`] values of `xs`, one from each of as many equal strides at a pseudo-random
/// offset inside it (so that periodic data cannot line up with the stride), sorted.
fn sorted_sample(xs: &[f64]) -> Vec<f64> {
    let n = xs.len();
    let m = SELECT_SAMPLE;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut sample: Vec<f64> = (0..m)
        .map(|j| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // In u64: j * n overflows a 32-bit usize (wasm32) from 262,144 values on.
            let start = (j as u64 * n as u64 / m as u64) as usize;
            let end = ((j as u64 + 1) * n as u64 / m as u64) as usize;
            xs[start + (state % (end - start) as u64) as usize]
        })
        .collect();
    sample.sort_unstable_by(f64::total_cmp);
    sample
}

/// Two values of the sorted `sample` (of data of `n` values) that bracket the k-th smallest
/// with high probability; infinite where the margin runs past the sample's ends. Never +0.0 or
/// -0.0, so that the filter's float comparisons agree with `total_cmp` (which orders -0.0
/// before +0.0).
fn sample_window(sample: &[f64], n: usize, k: usize) -> (f64, f64) {
    let m = sample.len();
    let q = k as f64 / n as f64;
    let centre = q * m as f64;
    let margin = 4.0 * (m as f64 * q * (1.0 - q)).sqrt() + 4.0;
    let lo = (centre - margin).floor();
    let hi = (centre + 1.0 + margin).ceil();
    let a = if lo < 0.0 {
        f64::NEG_INFINITY
    } else {
        sample[lo as usize]
    };
    let b = if hi >= m as f64 {
        f64::INFINITY
    } else {
        sample[hi as usize]
    };
    // Widen a zero end past both zeros.
    let a = if a == 0.0 { -f64::from_bits(1) } else { a };
    let b = if b == 0.0 { f64::from_bits(1) } else { b };
    (a, b)
}

/// What the filter's pass found: for each window `[a, b]`, the count of values below `a` and
/// the values inside; and the count of NaNs.
#[derive(Debug, Default)]
struct Filtered {
    below: [usize; 2],
    nan: usize,
    inside: [Vec<f64>; 2],
}

impl Filtered {
    /// Takes in another part's findings (counts add up; the values gathered are selected from
    /// later, so their order does not matter).
    fn merge(mut self, other: Filtered) -> Filtered {
        for w in 0..2 {
            self.below[w] += other.below[w];
            self.inside[w].extend(other.inside[w].iter().copied());
        }
        self.nan += other.nan;
        self
    }

    /// Counts and gathers one block of values (any length; chunks of 64 at a time).
    #[inline(always)]
    fn take(&mut self, xs: &[f64], windows: [(f64, f64); 2]) {
        let [(a0, b0), (a1, b1)] = windows;
        const CHUNK: usize = 64;
        for chunk in xs.chunks(CHUNK) {
            // A loop of compares and adds that vectorizes; the rare chunk with a value inside a
            // window is gathered by a second, scalar look.
            let (mut lt0, mut lt1, mut nn, mut hit) = (0u32, 0u32, 0u32, false);
            for &x in chunk {
                lt0 += (x < a0) as u32;
                lt1 += (x < a1) as u32;
                nn += x.is_nan() as u32;
                hit |= ((x >= a0) & (x <= b0)) | ((x >= a1) & (x <= b1));
            }
            self.below[0] += lt0 as usize;
            self.below[1] += lt1 as usize;
            self.nan += nn as usize;
            if hit {
                for &x in chunk {
                    if x >= a0 && x <= b0 {
                        self.inside[0].push(x);
                    }
                    if x >= a1 && x <= b1 {
                        self.inside[1].push(x);
                    }
                }
            }
        }
    }

    /// The order statistics when every wanted rank is inside its window, else `None`.
    fn select(mut self, n: usize, ks: [usize; 2]) -> Option<[(f64, f64); 2]> {
        if self.nan > 0 {
            return None;
        }
        let mut out = [(0.0, 0.0); 2];
        for w in 0..2 {
            let k = ks[w];
            let below = self.below[w];
            let v = &mut self.inside[w];
            // Ranks k and k + 1 (k alone at the end) must lie among the gathered values.
            let last = if k + 1 < n { k + 1 } else { k };
            if k < below || last >= below + v.len() {
                return None;
            }
            let (a, b) = order_pair(v, k - below);
            out[w] = (a, if k + 1 < n { b } else { a });
        }
        Some(out)
    }
}

/// The filter over one part of the data, in AVX2 where the CPU has it.
fn filter_part(xs: &[f64], windows: [(f64, f64); 2]) -> Filtered {
    let mut f = Filtered::default();
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { filter_take_avx2(&mut f, xs, windows) };
        return f;
    }
    f.take(xs, windows);
    f
}

/// [`Filtered::take`] compiled for AVX2 (the same operations, four values per instruction).
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn filter_take_avx2(f: &mut Filtered, xs: &[f64], windows: [(f64, f64); 2]) {
    f.take(xs, windows)
}

/// One pass: for each window `[a, b]`, the count of values below `a` and the values inside.
/// Returns the order statistics when every wanted rank is inside its window, else `None`.
/// Large data runs on several threads.
fn filter_select(xs: &[f64], ks: [usize; 2], windows: [(f64, f64); 2]) -> Option<[(f64, f64); 2]> {
    let part = |xs: &[f64]| filter_part(xs, windows);
    crate::par::pairwise_map(xs, &part, &Filtered::merge).select(xs.len(), ks)
}

/// [`DataStats::of`] and [`percentile_pair`] together, in one read of the data where it is
/// large: each pairwise leaf block updates the stats and the percentile filter while it is in
/// cache. The same results, bit for bit, as the two calls.
pub fn stats_and_percentile_pair(xs: &[f64], p: f64) -> Result<(DataStats, (f64, f64))> {
    let n = xs.len();
    if n < FAST_SELECT_MIN {
        let stats = DataStats::of(xs)?;
        return Ok((stats, percentile_pair(xs, p)));
    }
    let (hi_i, _, hi_t) = rank(n, p);
    let (lo_i, _, lo_t) = rank(n, 100.0 - p);
    let ks = [lo_i, hi_i];
    let sample = sorted_sample(xs);
    let windows = ks.map(|k| sample_window(&sample, n, k));
    let part = |part: &[f64]| stats_filter_part(part, windows);
    let (sum_sq, lanes, filtered) = crate::par::pairwise_map(xs, &part, &|a, b| {
        let (sa, mut la, fa) = a;
        let (sb, lb, fb) = b;
        la.merge(&lb);
        (sa + sb, la, fa.merge(fb))
    });
    let stats = DataStats::from_pass(xs, sum_sq, &lanes)?;
    let [(la, lb), (ha, hb)] = match filtered.select(n, ks) {
        Some(r) => r,
        None => order_pairs_by_copy(xs, ks),
    };
    Ok((stats, (numpy_lerp(la, lb, lo_t), numpy_lerp(ha, hb, hi_t))))
}

/// One part of [`stats_and_percentile_pair`]'s pass.
fn stats_filter_part(xs: &[f64], windows: [(f64, f64); 2]) -> (f64, MinMaxLanes, Filtered) {
    let mut lanes = MinMaxLanes::new();
    let mut f = Filtered::default();
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        let sum = pairwise_tree(xs, &mut |b| {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe {
                filter_take_avx2(&mut f, b, windows);
                stats_leaf_avx2(b, &mut lanes)
            }
        });
        return (sum, lanes, f);
    }
    let sum = pairwise_tree(xs, &mut |b| {
        f.take(b, windows);
        stats_leaf(b, &mut lanes)
    });
    (sum, lanes, f)
}

/// At most this many values take part in the `mse` search; larger data is strided down to it.
pub const MSE_SAMPLE: usize = 1 << 17;

/// Grid points of the coarse search, geometric from the full range down to 2^-12 of it.
const GRID: usize = 33;
/// Golden-section steps after the grid (the bracket shrinks to 0.618^24 ≈ 1e-5 of a grid step).
const GOLDEN: usize = 24;

/// The `mse` search's data: the values (strided down to at most [`MSE_SAMPLE`]) sorted, with
/// prefix sums of `x - c` and `(x - c)²` around their midpoint `c`, so that the squared error of
/// a grid is summed level by level in O(levels · log n) instead of value by value.
#[derive(Debug, Clone)]
pub struct SearchData {
    sorted: Vec<f64>,
    centre: f64,
    s1: Vec<f64>,
    s2: Vec<f64>,
}

impl SearchData {
    /// Samples (every `n / MSE_SAMPLE`-th value), sorts and sums.
    pub fn new(xs: &[f64]) -> SearchData {
        let n = xs.len();
        let mut sorted: Vec<f64> = if n <= MSE_SAMPLE {
            xs.to_vec()
        } else {
            let m = MSE_SAMPLE as u64;
            (0..m).map(|i| xs[((i * n as u64) / m) as usize]).collect()
        };
        sorted.sort_unstable_by(f64::total_cmp);
        let centre = match (sorted.first(), sorted.last()) {
            (Some(&a), Some(&b)) => a / 2.0 + b / 2.0,
            _ => 0.0,
        };
        let mut s1 = Vec::with_capacity(sorted.len() + 1);
        let mut s2 = Vec::with_capacity(sorted.len() + 1);
        let (mut a, mut b) = (0.0, 0.0);
        s1.push(0.0);
        s2.push(0.0);
        for &x in &sorted {
            let d = x - centre;
            a += d;
            b += d * d;
            s1.push(a);
            s2.push(b);
        }
        SearchData {
            sorted,
            centre,
            s1,
            s2,
        }
    }

    /// How many values the search uses.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// `Σ (x - x̂)²` over the sample for these parameters: per level from the prefix sums when
    /// the levels in use are few, otherwise value by value.
    pub fn sum_sq_error(&self, p: &QuantParams) -> f64 {
        let n = self.sorted.len();
        let (Some(&first), Some(&last)) = (self.sorted.first(), self.sorted.last()) else {
            return 0.0;
        };
        let q_first = p.quantize_value(first);
        let q_last = p.quantize_value(last);
        let levels = (q_last as i64 - q_first as i64 + 1) as usize;
        let log_n = usize::BITS - n.leading_zeros();
        if levels * 2 * log_n as usize >= n {
            // More levels than a level-by-level sum can afford: the values at the two end codes
            // (which hold every clipped value) are summed exactly, and each value in between is
            // taken to round off by a uniform amount, scale²/12 on average.
            let lo_end = self
                .sorted
                .partition_point(|&x| p.quantize_value(x) <= p.qmin);
            let hi_start = self
                .sorted
                .partition_point(|&x| p.quantize_value(x) < p.qmax);
            let run = |i0: usize, i1: usize, q: i32| {
                if i1 <= i0 {
                    return 0.0;
                }
                let level = p.dequantize_value(q) - self.centre;
                let a = self.s1[i1] - self.s1[i0];
                let b = self.s2[i1] - self.s2[i0];
                (b - 2.0 * level * a + (i1 - i0) as f64 * level * level).max(0.0)
            };
            let middle = hi_start.saturating_sub(lo_end) as f64;
            return run(0, lo_end, p.qmin)
                + run(hi_start.max(lo_end), n, p.qmax)
                + middle * p.scale * p.scale / 12.0;
        }
        let mut err = 0.0;
        let mut i0 = 0;
        let mut guess = 1;
        for q in q_first..=q_last {
            // quantize_value is monotone in x, so the values with code q are one run.
            let i1 = if q == q_last {
                n
            } else {
                self.run_end(p, q, i0, i0 + guess)
            };
            guess = i1 - i0;
            if i1 > i0 {
                let level = p.dequantize_value(q) - self.centre;
                let count = (i1 - i0) as f64;
                let a = self.s1[i1] - self.s1[i0];
                let b = self.s2[i1] - self.s2[i0];
                err += (b - 2.0 * level * a + count * level * level).max(0.0);
            }
            i0 = i1;
        }
        err
    }

    /// The end of code `q`'s run of the sorted values that starts at `i0`: the first index from
    /// `i0` on whose code exceeds `q`, what a bisection on the codes finds. Found by comparing
    /// values with where the code should end ([`crate::pagecore::code_end`], no division; from
    /// `hint`, about where the last run's length puts it), then settled by the codes themselves,
    /// in doubling steps out from there: two evaluations when the edge is right, as it is but
    /// for values within rounding of it, and a logarithmic number where many equal values sit
    /// on the edge (ties, say). With a scale that is not positive the codes do not rise with
    /// the values: the bisection itself, as before.
    fn run_end(&self, p: &QuantParams, q: i32, i0: usize, hint: usize) -> usize {
        let xs = &self.sorted;
        let within = |x: f64| p.quantize_value(x) <= q;
        if !p.codes_rise() {
            return i0 + xs[i0..].partition_point(|&x| within(x));
        }
        let edge = crate::pagecore::code_end(p)(i64::from(q));
        let near = crate::pagecore::first_at_least(xs, i0, hint, edge);
        crate::pagecore::first_false(xs, i0, near, &within)
    }
}

/// Minimises `f` over `t` in `(0, 1]` where the candidate is `t` of the full width: a geometric
/// grid of [`GRID`] points, then golden-section search between the best point's neighbours.
/// Returns the best `t` seen and its value. (`dyn`: one copy for the three searches; a call
/// costs nothing beside the error sum it makes.)
fn search_fraction(f: &mut dyn FnMut(f64) -> f64) -> (f64, f64) {
    let ratio = libm::pow(2.0, -12.0 / (GRID - 1) as f64);
    let ts: Vec<f64> = (0..GRID).map(|i| ratio.powi(i as i32)).collect();
    let mut best = (1.0, f64::INFINITY);
    let mut best_i = 0;
    for (i, &t) in ts.iter().enumerate() {
        let v = f(t);
        if v < best.1 {
            best = (t, v);
            best_i = i;
        }
    }
    // ts decreases with i: the bracket is [ts[i + 1], ts[i - 1]].
    let mut a = ts.get(best_i + 1).copied().unwrap_or(ts[GRID - 1] * ratio);
    let mut b = if best_i == 0 { 1.0 } else { ts[best_i - 1] };
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..GOLDEN {
        if fc < best.1 {
            best = (c, fc);
        }
        if fd < best.1 {
            best = (d, fd);
        }
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    for (t, v) in [(c, fc), (d, fd)] {
        if v < best.1 {
            best = (t, v);
        }
    }
    best
}

/// The clip range with the least MSE (`mse` calibration).
///
/// Method: on the data (strided down to at most [`MSE_SAMPLE`] values), each candidate range is
/// quantized exactly and its squared error summed. Symmetric: a one-dimensional search over
/// `alpha` in `(0, max |x|]` for the range `[-alpha, alpha]` (codes `|q| <= 2^(b-1) - 1`), a
/// geometric grid of 33 points down to `max |x| / 4096` and 24 golden-section steps around the
/// best. Asymmetric: coordinate descent, the same search for the
/// upper end with the lower fixed, then the lower with the upper fixed, twice over.
pub fn mse_range(
    xs: &[f64],
    stats: &DataStats,
    scheme: Scheme,
    bits: u32,
    policy: ZeroPoint,
) -> Result<(f64, f64)> {
    if stats.is_constant() {
        return Ok((stats.min, stats.max));
    }
    mse_range_with(&SearchData::new(xs), stats, scheme, bits, policy)
}

/// [`mse_range`] on search data prepared once (the sweep runs 30 searches on the same data).
pub fn mse_range_with(
    data: &SearchData,
    stats: &DataStats,
    scheme: Scheme,
    bits: u32,
    policy: ZeroPoint,
) -> Result<(f64, f64)> {
    if stats.is_constant() || data.is_empty() {
        return Ok((stats.min, stats.max));
    }
    match scheme {
        Scheme::Symmetric => {
            // The objective is the symmetric range [-alpha, alpha] (codes |q| <= 2^(b-1) - 1,
            // TensorRT's and REFERENCE.md's definition): the notebook's spare code -2^(b-1)
            // would pull the optimum about 4% lower at 4 bits, and it only lowers the error
            // of the final quantization further.
            let mut err = |t: f64| match QuantParams::symmetric(stats.absmax * t, bits, false) {
                Ok(mut p) => {
                    p.qmin = -p.qmax;
                    data.sum_sq_error(&p)
                }
                Err(_) => f64::INFINITY,
            };
            let (t, _) = search_fraction(&mut err);
            let alpha = stats.absmax * t;
            Ok((-alpha, alpha))
        }
        Scheme::Asymmetric => {
            let mut lo = stats.min;
            let mut hi = stats.max;
            let eval = |lo: f64, hi: f64| match QuantParams::asymmetric(lo, hi, bits, policy) {
                Ok(p) => data.sum_sq_error(&p),
                Err(_) => f64::INFINITY,
            };
            for _ in 0..2 {
                let (t, _) = search_fraction(&mut |t| eval(lo, lo + (stats.max - lo) * t));
                hi = lo + (stats.max - lo) * t;
                let (t, _) = search_fraction(&mut |t| eval(hi - (hi - stats.min) * t, hi));
                lo = hi - (hi - stats.min) * t;
            }
            Ok((lo, hi))
        }
    }
}

/// The clip range `[beta, alpha]` that `settings.calibration` picks for this data.
pub fn clip_range(xs: &[f64], stats: &DataStats, settings: &QuantSettings) -> Result<(f64, f64)> {
    settings.validate()?;
    Ok(match (settings.calibration, settings.scheme) {
        (Calibration::MinMax, Scheme::Asymmetric) => (stats.min, stats.max),
        (Calibration::MinMax, Scheme::Symmetric) => (-stats.absmax, stats.absmax),
        (Calibration::Percentile(p), Scheme::Asymmetric) => percentile_pair(xs, p),
        (Calibration::Percentile(p), Scheme::Symmetric) => {
            let abs: Vec<f64> = xs.iter().map(|x| x.abs()).collect();
            let a = percentile(&abs, p);
            (-a, a)
        }
        (Calibration::Mse, scheme) => {
            mse_range(xs, stats, scheme, settings.bits, settings.zero_point)?
        }
    })
}

/// Quantization parameters for the range the calibration picks.
pub fn calibrate(xs: &[f64], stats: &DataStats, settings: &QuantSettings) -> Result<QuantParams> {
    let (lo, hi) = clip_range(xs, stats, settings)?;
    params_for_range(lo, hi, stats, settings)
}

/// Quantization parameters for a given clip range `[lo, hi]` under `settings`' scheme.
pub fn params_for_range(
    lo: f64,
    hi: f64,
    stats: &DataStats,
    settings: &QuantSettings,
) -> Result<QuantParams> {
    match settings.scheme {
        Scheme::Asymmetric => QuantParams::asymmetric(lo, hi, settings.bits, settings.zero_point),
        Scheme::Symmetric => QuantParams::symmetric(hi, settings.bits, stats.is_constant()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `run_end` is the bisection on the codes, whatever the hint: on random sorted samples
    /// (with repeated values, values on the rounding edges and a constant stretch), for every
    /// code of several parameter sets, from run starts and from arbitrary starts.
    #[test]
    fn run_ends_are_the_bisection() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 0..200 {
            let n = 1 + (next() % 400) as usize;
            let mut xs: Vec<f64> = (0..n)
                .map(|_| match next() % 4 {
                    0 => (next() % 9) as f64 * 0.5 - 2.0,
                    _ => (next() % 2_000_001) as f64 / 1e5 - 10.0,
                })
                .collect();
            if case % 3 == 0 {
                let k = n / 2;
                for x in xs.iter_mut().take(k) {
                    *x = 1.25;
                }
            }
            let data = SearchData::new(&xs);
            let (lo, hi) = (data.sorted[0], data.sorted[data.len() - 1]);
            for bits in [2, 3, 4, 8] {
                for p in [
                    QuantParams::asymmetric(lo, hi, bits, ZeroPoint::Raw),
                    QuantParams::asymmetric(lo * 0.7, hi * 0.4, bits, ZeroPoint::Raw),
                    QuantParams::symmetric(lo.abs().max(hi.abs()) * 0.5, bits, false),
                ]
                .into_iter()
                .flatten()
                {
                    let xs = &data.sorted;
                    for q in p.qmin..=p.qmax {
                        let truth = |i0: usize| {
                            i0 + xs[i0..].partition_point(|&x| p.quantize_value(x) <= q)
                        };
                        let start = xs.partition_point(|&x| p.quantize_value(x) < q);
                        for i0 in [start, (next() as usize) % (start + 1)] {
                            if i0 > 0 && p.quantize_value(xs[i0 - 1]) > q {
                                continue;
                            }
                            for hint in [i0, i0 + 1, truth(i0), (next() as usize) % (n + 3)] {
                                assert_eq!(
                                    data.run_end(&p, q, i0, hint),
                                    truth(i0),
                                    "case {case}, {bits} bits, q {q}, from {i0}, hint {hint}"
                                );
                            }
                        }
                    }
                }
            }
        }
        // Values a few ulps either side of every code's estimated end, where the estimate and
        // the codes disagree (the steps go both ways), for scales that are not round numbers.
        let up = |x: f64, k: i64| f64::from_bits((x.to_bits() as i64 + k) as u64);
        for (lo, hi, bits) in [
            (-1.0, 3.0, 3),
            (-0.37, 0.91, 4),
            (0.1, 7.3, 2),
            (-5.5, 2.25, 5),
        ] {
            let p = QuantParams::asymmetric(lo, hi, bits, ZeroPoint::Raw).unwrap();
            let mut xs = vec![lo, hi];
            let end = crate::pagecore::code_end(&p);
            for q in p.qmin..p.qmax {
                let edge = end(i64::from(q));
                for k in -3..=3 {
                    for _ in 0..3 {
                        xs.push(up(edge, k * edge.signum() as i64));
                    }
                }
            }
            let data = SearchData::new(&xs);
            let xs = &data.sorted;
            let mut i0 = 0;
            let mut stepped_back = false;
            for q in p.qmin..=p.qmax {
                let truth = i0 + xs[i0..].partition_point(|&x| p.quantize_value(x) <= q);
                stepped_back |=
                    crate::pagecore::first_at_least(xs, i0, i0, end(i64::from(q))) > truth;
                assert_eq!(data.run_end(&p, q, i0, i0), truth, "{bits} bits, q {q}");
                i0 = truth;
            }
            assert!(stepped_back || bits != 3, "the estimate overshot somewhere");
            // A scale that is not positive (never made here): the bisection's answer, as before.
            let flipped = QuantParams {
                scale: -p.scale,
                ..p
            };
            for q in p.qmin..=p.qmax {
                let truth = xs.partition_point(|&x| flipped.quantize_value(x) <= q);
                assert_eq!(
                    data.run_end(&flipped, q, 0, 3),
                    truth,
                    "negative scale, q {q}"
                );
            }
        }
    }

    #[test]
    fn percentile_matches_sorted_definition() {
        let xs: Vec<f64> = (0..1001)
            .map(|i| ((i * 7919) % 1001) as f64 * 0.37)
            .collect();
        let mut sorted = xs.clone();
        sorted.sort_by(f64::total_cmp);
        for p in [50.5, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0] {
            let want_hi = percentile_sorted(&sorted, p);
            let want_lo = percentile_sorted(&sorted, 100.0 - p);
            assert_eq!(percentile(&xs, p).to_bits(), want_hi.to_bits(), "p={p}");
            let (lo, hi) = percentile_pair(&xs, p);
            assert_eq!(hi.to_bits(), want_hi.to_bits(), "p={p}");
            assert_eq!(lo.to_bits(), want_lo.to_bits(), "p={p}");
        }
    }

    #[test]
    fn min_max_is_the_stats_min_and_max() {
        let big = crate::bench::workload(4 * crate::par::MIN_PART + 21);
        let same = |xs: &[f64], what: &str| {
            let stats = DataStats::of(xs).unwrap();
            let (min, max) = min_max(xs).unwrap();
            assert_eq!(
                (min.to_bits(), max.to_bits()),
                (stats.min.to_bits(), stats.max.to_bits()),
                "{what}"
            );
        };
        for n in [
            1,
            2,
            7,
            8,
            9,
            15,
            16,
            17,
            255,
            256,
            257,
            1000,
            70_001,
            big.len(),
        ] {
            let xs = &big[..n];
            same(xs, &format!("n={n}"));
            // The extremes anywhere: the start, the end, the unrolled rest, the second
            // thread's part, one at a time.
            for at in [
                0,
                n - 1,
                (n - 1).saturating_sub(n % 8),
                n / 2,
                n / 2 + 3 * n / 8,
            ] {
                for v in [-1e9, 2e9] {
                    let mut ys = xs.to_vec();
                    ys[at.min(n - 1)] = v;
                    same(&ys, &format!("n={n} at={at} v={v}"));
                }
            }
            // A value that is not finite anywhere is the same error as the stats'.
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                for at in [0, n / 3, n - 1] {
                    let mut ys = xs.to_vec();
                    ys[at] = bad;
                    let want = DataStats::of(&ys).unwrap_err().to_string();
                    assert_eq!(min_max(&ys).unwrap_err().to_string(), want, "n={n} at={at}");
                }
            }
        }
        // Ties of -0.0 and +0.0: each lane keeps the first it saw, as the stats do.
        let mut zeros = vec![-0.0; 8];
        zeros.extend([0.0; 7]);
        zeros.push(1.0);
        let mut flipped: Vec<f64> = zeros
            .iter()
            .map(|z| if *z == 0.0 { -*z } else { *z })
            .collect();
        flipped.extend([-0.0, 0.0, -0.0]);
        for xs in [
            zeros.clone(),
            flipped,
            [zeros.clone(), zeros].concat(),
            vec![-0.0, 0.0],
        ] {
            same(&xs, &format!("{xs:?}"));
        }
        assert!(min_max(&[]).is_err());
    }

    #[test]
    fn stats_of_large_data_match_the_definition() {
        let n = 4 * crate::par::MIN_PART + 5;
        let mut xs = uniforms(n, 3);
        xs[n - 1] = 1000.0;
        xs[17] = -7.5;
        let s = DataStats::of(&xs).unwrap();
        assert_eq!((s.min, s.max, s.absmax), (-7.5, 1000.0, 1000.0));
        let sq: Vec<f64> = xs.iter().map(|x| x * x).collect();
        let want = crate::sum::pairwise_sum(&sq) / n as f64;
        assert_eq!(s.mean_sq.to_bits(), want.to_bits());
        xs[n / 2 + 1] = f64::NAN;
        assert!(DataStats::of(&xs).is_err());
        check_against_sort(&xs[..n / 2], "large, threaded");
    }

    #[test]
    fn stats_in_one_pass_match_the_definition() {
        let mut xs = crate::generate::sample(
            crate::settings::Distribution::StudentT { dof: 2.0 },
            1001,
            5,
        );
        xs[17] = -1e300;
        xs[1000] = 1e300;
        let s = DataStats::of(&xs).unwrap();
        assert_eq!(s.min, -1e300);
        assert_eq!(s.max, 1e300);
        assert_eq!(s.absmax, 1e300);
        for n in 1..20 {
            let s = DataStats::of(&xs[..n]).unwrap();
            assert_eq!(s.min, xs[..n].iter().copied().fold(f64::INFINITY, f64::min));
            assert_eq!(
                s.max,
                xs[..n].iter().copied().fold(f64::NEG_INFINITY, f64::max)
            );
        }
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut ys = xs.clone();
            ys[999] = bad;
            let e = DataStats::of(&ys).unwrap_err().to_string();
            assert!(e.contains("index 999"), "{e}");
        }
        assert!(DataStats::of(&[]).is_err());
    }

    /// The AVX2 leaf (where the CPU has it) and the portable one agree lane by lane, bit for
    /// bit, signed zeros and NaN included.
    #[test]
    fn fast_stats_leaf_is_the_portable_one() {
        let mut xs = uniforms(5000, 11);
        for (i, x) in xs.iter_mut().enumerate() {
            *x = match i % 13 {
                0 => -0.0,
                1 => 0.0,
                2 => -*x * 1e200,
                _ => *x - 0.5,
            };
        }
        let bits = |l: &MinMaxLanes| [l.lo, l.hi, l.poison].map(|a| a.map(f64::to_bits));
        for n in [0, 1, 7, 8, 9, 127, 128, 129, 1000, 4999] {
            for data in [xs[..n].to_vec(), {
                let mut v = xs[..n].to_vec();
                if n > 3 {
                    v[n / 2] = f64::NAN;
                }
                v
            }] {
                let (sum, lanes) = stats_part(&data);
                let mut portable = MinMaxLanes::new();
                let want = pairwise_tree(&data, &mut |b| stats_leaf(b, &mut portable));
                assert_eq!(sum.to_bits(), want.to_bits(), "n={n}");
                assert_eq!(bits(&lanes), bits(&portable), "n={n}");
            }
        }
    }

    #[test]
    fn stats_and_percentiles_in_one_pass_are_the_two_calls() {
        for (n, seed) in [(10, 1), (70_000, 2), (4 * crate::par::MIN_PART + 9, 3)] {
            let mut xs = uniforms(n, seed);
            xs[n - 1] = 1000.0;
            for p in [99.99, 99.0, 75.0, 100.0] {
                let (stats, pair) = stats_and_percentile_pair(&xs, p).unwrap();
                assert_eq!(stats, DataStats::of(&xs).unwrap(), "n={n}");
                assert_eq!(pair, percentile_pair(&xs, p), "n={n} p={p}");
            }
            xs[n / 3] = f64::NAN;
            let e = stats_and_percentile_pair(&xs, 99.0)
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("index {}", n / 3)), "{e}");
        }
    }

    #[test]
    fn level_sums_match_value_by_value() {
        let xs = crate::generate::sample(
            crate::settings::Distribution::Laplace {
                loc: 3.0,
                scale: 2.0,
            },
            50_000,
            3,
        );
        let data = SearchData::new(&xs);
        for bits in [2, 3, 4, 6, 8] {
            for (lo, hi) in [(-4.0, 9.0), (0.5, 4.0), (-30.0, 30.0)] {
                let p = QuantParams::asymmetric(lo, hi, bits, ZeroPoint::Raw).unwrap();
                let want = p.error_stats(&xs).sum_sq;
                let got = data.sum_sq_error(&p);
                assert!(
                    (got - want).abs() <= 1e-9 * want,
                    "{bits} {lo} {hi}: {got} vs {want}"
                );
            }
        }
    }

    /// Deterministic test data: xorshift64 uniforms in [0, 1).
    fn uniforms(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    fn check_against_sort(xs: &[f64], what: &str) {
        let mut sorted = xs.to_vec();
        sorted.sort_by(f64::total_cmp);
        for p in [50.5, 75.0, 90.0, 99.0, 99.9, 99.99, 99.9999, 100.0] {
            let want_hi = percentile_sorted(&sorted, p);
            let want_lo = percentile_sorted(&sorted, 100.0 - p);
            let (lo, hi) = percentile_pair(xs, p);
            assert_eq!(hi.to_bits(), want_hi.to_bits(), "{what} hi p={p}");
            assert_eq!(lo.to_bits(), want_lo.to_bits(), "{what} lo p={p}");
            let one = percentile(xs, p);
            assert_eq!(one.to_bits(), want_hi.to_bits(), "{what} one p={p}");
        }
    }

    #[test]
    fn fast_percentile_matches_sort_on_large_data() {
        // Sizes where the sampling filter is used, with ties, duplicates, both zeros, outliers.
        let n = 3 * FAST_SELECT_MIN + 5;
        let u = uniforms(n, 1);
        let uniform: Vec<f64> = u.iter().map(|x| -50.0 + 200.0 * x).collect();
        check_against_sort(&uniform, "uniform");
        let mut outlier = uniform.clone();
        *outlier.last_mut().unwrap() = 1000.0;
        check_against_sort(&outlier, "outlier");
        let rounded: Vec<f64> = uniform
            .iter()
            .map(|x| (x * 100.0).round() / 100.0)
            .collect();
        check_against_sort(&rounded, "rounded to 2 decimals");
        let few: Vec<f64> = u.iter().map(|x| (x * 5.0).floor() - 2.0).collect();
        check_against_sort(&few, "five values");
        let zeros: Vec<f64> = u
            .iter()
            .map(|&x| match (x * 4.0) as u32 {
                0 => -0.0,
                1 => 0.0,
                2 => x * 1e-300,
                _ => -x,
            })
            .collect();
        check_against_sort(&zeros, "signed zeros");
        check_against_sort(&vec![7.5; n], "constant");
        let mut sorted = uniform.clone();
        sorted.sort_by(f64::total_cmp);
        check_against_sort(&sorted, "sorted");
        sorted.reverse();
        check_against_sort(&sorted, "reversed");
        let heavy: Vec<f64> = u.iter().map(|&x| (x - 0.5).powi(7) * 1e9).collect();
        check_against_sort(&heavy, "heavy tails");
        let mut inf = uniform.clone();
        inf[10] = f64::INFINITY;
        inf[20] = f64::NEG_INFINITY;
        check_against_sort(&inf, "infinities");
        // A period equal to the sample stride would fool a plain strided sample.
        let stride = n / SELECT_SAMPLE;
        let periodic: Vec<f64> = (0..n)
            .map(|i| {
                if i % stride == 0 {
                    1e6
                } else {
                    (i % 97) as f64
                }
            })
            .collect();
        check_against_sort(&periodic, "periodic");
    }

    #[test]
    fn fast_percentile_falls_back_on_nan() {
        let n = FAST_SELECT_MIN + 1;
        let mut xs: Vec<f64> = uniforms(n, 2);
        xs[5] = f64::NAN;
        let by_copy = order_pairs_by_copy(&xs, [10, n - 10]);
        assert_eq!(order_pairs(&xs, [10, n - 10]), by_copy);
        assert!(filter_select(&xs, [10, n - 10], [(0.0, 0.1), (0.9, 1.0)]).is_none());
    }

    #[test]
    fn filter_select_is_exact_for_any_window_that_holds_the_ranks() {
        let n = 5000;
        let xs: Vec<f64> = uniforms(n, 3).iter().map(|x| (x * 50.0).floor()).collect();
        let mut sorted = xs.clone();
        sorted.sort_by(f64::total_cmp);
        for (k0, k1) in [
            (0, n - 1),
            (1, n - 2),
            (100, 4000),
            (2500, 2500),
            (n - 2, 3),
        ] {
            let want = [
                (sorted[k0], sorted[(k0 + 1).min(n - 1)]),
                (sorted[k1], sorted[(k1 + 1).min(n - 1)]),
            ];
            assert_eq!(order_pairs_by_copy(&xs, [k0, k1]), want);
            // Windows from exact order statistics, and wider ones.
            for pad in [0, 1, 50] {
                let w = |k: usize| {
                    (
                        sorted[k.saturating_sub(pad)],
                        sorted[(k + 1 + pad).min(n - 1)],
                    )
                };
                let got = filter_select(&xs, [k0, k1], [w(k0), w(k1)]);
                assert_eq!(got, Some(want), "k={k0},{k1} pad={pad}");
            }
            // A window that misses the rank says so.
            let miss = (sorted[n - 1] + 1.0, sorted[n - 1] + 2.0);
            assert_eq!(filter_select(&xs, [k0, k1], [miss, miss]), None);
        }
    }

    #[test]
    fn percentile_pair_adjacent_ranks() {
        // n = 2: ranks 0 and 1 interpolate between the only two values.
        let (lo, hi) = percentile_pair(&[5.0, 1.0], 60.0);
        assert_eq!(hi, 1.0 + 4.0 * 0.6);
        assert!((lo - (1.0 + 4.0 * 0.4)).abs() < 1e-15);
        assert_eq!(percentile_pair(&[3.0], 99.0), (3.0, 3.0));
    }
}
