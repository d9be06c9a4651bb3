//! numpy's `np.percentile(x, P)` with its default linear method, exactly: rank
//! `h = (n - 1) * (P / 100)`, then numpy's `_lerp` between the two neighbouring order
//! statistics. The order statistics come from selection, not a full sort: on large data, a
//! sorted sample gives a window that holds each rank, one pass keeps the values inside it, and
//! only those are selected among.

use super::stats::{stats_leaf, DataStats, MinMaxLanes};
use crate::error::Result;
use crate::quant::pairwise::pairwise_tree;

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
pub(crate) fn rank(n: usize, p: f64) -> (usize, usize, f64) {
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
pub(crate) fn min_of(xs: &[f64]) -> f64 {
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
pub(crate) fn order_pair(v: &mut [f64], k: usize) -> (f64, f64) {
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

/// `np.percentile(np.abs(x), p)`, bit for bit, without an array of the magnitudes: the same
/// sample and filter as [`order_pairs`], each block of values taken as magnitudes in a buffer on
/// the stack (a symmetric percentile of a 45M-value tensor would otherwise copy 360 MB).
pub fn percentile_abs(xs: &[f64], p: f64) -> f64 {
    let n = xs.len();
    let by_copy = || {
        let abs: Vec<f64> = xs.iter().map(|x| x.abs()).collect();
        percentile(&abs, p)
    };
    if n < FAST_SELECT_MIN {
        return by_copy();
    }
    let (k, _, t) = rank(n, p);
    // The sample `sorted_sample` would take of the magnitudes: it picks by position only.
    let mut sample: Vec<f64> = sorted_sample(xs).iter().map(|x| x.abs()).collect();
    sample.sort_unstable_by(f64::total_cmp);
    let window = sample_window(&sample, n, k);
    let windows = [window, window];
    let part = |xs: &[f64]| {
        const B: usize = 1024;
        let mut buf = [0.0f64; B];
        let mut f = Filtered::default();
        for c in xs.chunks(B) {
            for (b, x) in buf.iter_mut().zip(c) {
                *b = x.abs();
            }
            filter_into(&mut f, &buf[..c.len()], windows);
        }
        f
    };
    match crate::par::pairwise_map(xs, &part, &Filtered::merge).select(n, [k, k]) {
        Some([(a, b), _]) => numpy_lerp(a, b, t),
        None => by_copy(),
    }
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
pub(crate) fn order_pairs_by_copy(xs: &[f64], ks: [usize; 2]) -> [(f64, f64); 2] {
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
pub(crate) const FAST_SELECT_MIN: usize = 1 << 16;
/// Values in the sample that brackets the wanted order statistics.
pub(crate) const SELECT_SAMPLE: usize = 1 << 14;

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
pub(crate) fn order_pairs(xs: &[f64], ks: [usize; 2]) -> [(f64, f64); 2] {
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
pub(crate) fn sorted_sample(xs: &[f64]) -> Vec<f64> {
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
pub(crate) fn sample_window(sample: &[f64], n: usize, k: usize) -> (f64, f64) {
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
pub(crate) struct Filtered {
    pub(crate) below: [usize; 2],
    pub(crate) nan: usize,
    pub(crate) inside: [Vec<f64>; 2],
}

impl Filtered {
    /// Takes in another part's findings (counts add up; the values gathered are selected from
    /// later, so their order does not matter).
    pub(crate) fn merge(mut self, other: Filtered) -> Filtered {
        for w in 0..2 {
            self.below[w] += other.below[w];
            self.inside[w].extend(other.inside[w].iter().copied());
        }
        self.nan += other.nan;
        self
    }

    /// Counts and gathers one block of values (any length; chunks of 64 at a time).
    #[inline(always)]
    pub(crate) fn take(&mut self, xs: &[f64], windows: [(f64, f64); 2]) {
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
    pub(crate) fn select(mut self, n: usize, ks: [usize; 2]) -> Option<[(f64, f64); 2]> {
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
pub(crate) fn filter_part(xs: &[f64], windows: [(f64, f64); 2]) -> Filtered {
    let mut f = Filtered::default();
    filter_into(&mut f, xs, windows);
    f
}

/// [`Filtered::take`] of `xs` into `f`, in AVX2 where the CPU has it.
fn filter_into(f: &mut Filtered, xs: &[f64], windows: [(f64, f64); 2]) {
    #[cfg(target_arch = "x86_64")]
    if crate::quant::kernels::has_avx2() {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { crate::quant::kernels::x86::filter_take_avx2(f, xs, windows) };
        return;
    }
    f.take(xs, windows);
}

/// One pass: for each window `[a, b]`, the count of values below `a` and the values inside.
/// Returns the order statistics when every wanted rank is inside its window, else `None`.
/// Large data runs on several threads.
pub(crate) fn filter_select(
    xs: &[f64],
    ks: [usize; 2],
    windows: [(f64, f64); 2],
) -> Option<[(f64, f64); 2]> {
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
pub(crate) fn stats_filter_part(
    xs: &[f64],
    windows: [(f64, f64); 2],
) -> (f64, MinMaxLanes, Filtered) {
    let mut lanes = MinMaxLanes::new();
    let mut f = Filtered::default();
    #[cfg(target_arch = "x86_64")]
    if crate::quant::kernels::has_avx2() {
        let sum = pairwise_tree(xs, &mut |b| {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe {
                crate::quant::kernels::x86::filter_take_avx2(&mut f, b, windows);
                crate::quant::kernels::x86::stats_leaf_avx2(b, &mut lanes)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_abs_is_the_percentile_of_the_magnitudes() {
        // Both sides of the copy threshold; signed zeros, ties and an outlier; data of one
        // magnitude (the window then holds every value); and a NaN, which sends the filter to
        // the copy.
        for n in [1, 5, 1000, FAST_SELECT_MIN - 1, FAST_SELECT_MIN, 300_001] {
            let xs: Vec<f64> = (0..n)
                .map(|i| match i % 17 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => -((i % 5) as f64),
                    3 => 1e6,
                    _ => ((i as f64) * 0.7).sin() * 3.0,
                })
                .collect();
            let ties = vec![-2.0; n];
            let mut nan = xs.clone();
            nan[n / 2] = f64::NAN;
            for data in [&xs, &ties, &nan] {
                let abs: Vec<f64> = data.iter().map(|x| x.abs()).collect();
                for p in [0.0, 50.0, 90.0, 99.9, 99.99, 100.0] {
                    assert_eq!(
                        percentile_abs(data, p).to_bits(),
                        percentile(&abs, p).to_bits(),
                        "n={n} p={p}"
                    );
                }
            }
        }
    }
}
