//! KL (entropy) calibration, exactly as NVIDIA's pytorch-quantization computes it
//! (`HistogramCalibrator` with `compute_amax("entropy")`, its `calibrate_weights` histogram).
//!
//! 1. **Histogram**: `np.histogram(|x|, bins=2048, range=(0, max|x|))` in float64. The edges are
//!    numpy's `linspace(0, max, 2049)`: `k * (max / 2048)`, the last exactly `max` (a range of
//!    zero width becomes `[-0.5, 0.5]`, as numpy widens it). A value's bin is numpy's: the
//!    estimate `trunc(((v - first) / (last - first)) * 2048)` (2048 becomes 2047), one step down
//!    where `v` is below its bin's left edge, one up where it reaches the next edge (not from the
//!    last bin, which holds its right edge).
//! 2. **Search**: `bins[0] = bins[1]`; `nq = 2^(b - 1 + unsigned)` levels. For each candidate
//!    `i = 128 ..= 2048`: the reference `p = bins[..i]` with the tail `sum(bins[i..])` added to
//!    its last bin; the candidate `q` gives source bin `j < i` to target `t = floor(j * nq / i)`
//!    (numpy's `digitize(j, linspace(0, i, nq + 1)) - 1`, exact: every edge `t * i / nq` is a
//!    float64 without rounding), and spreads each target's count equally over its non-empty
//!    sources (`count / nonempty`, float64); empty source bins stay 0. The divergence is
//!    `scipy.stats.entropy(p, q)`: both divided by their sums, then `sum(rel_entr(p, q))` with
//!    `rel_entr(x, y) = x ln(x / y)` for `x, y > 0` (taken as scipy takes it, see
//!    [`rel_entr`]), 0 for `x = 0`, infinite for `x > 0 = y`, summed in numpy's pairwise order.
//! 3. **Pick**: the last candidate with the least divergence (a NaN, which a candidate with no
//!    counts below it gives, counts as least, as `np.argmin` takes the first NaN of the reversed
//!    list); `amax = edges[i]`, returned as the float32 the reference's `torch.tensor` makes.
//!
//! What is shared between candidates without changing a bit: the targets' totals and their
//! counts of non-empty sources come from integer prefix sums (the reference adds whole counts
//! in float64, exactly, since they stay below 2^53), and `p`'s terms `count / total` are divided
//! once. Each candidate's two float sums (the total of `q`, then the divergence) are numpy's
//! pairwise sums over all `i` terms, visiting only the terms that can be non-zero (those of
//! non-empty bins, and the last): a zero term adds nothing to any partial sum, so the tree and
//! its lanes give the same bits without it. A candidate costs its non-empty bins, not `i`, so
//! small units (a group of 128 values fills at most 128 bins) calibrate quickly.

use crate::error::{Error, Result};
use crate::quant::pairwise::pairwise_split;

/// numpy's pairwise summation block.
const PAIRWISE_BLOCK: usize = 128;

/// Bins of the |x| histogram (the reference's `num_bins`).
pub const KL_BINS: usize = 2048;
/// The first candidate threshold bin (the reference's `start_bin`); the stride is 1.
pub const KL_START_BIN: usize = 128;

/// The histogram of `|x|` the search runs on, as numpy's `np.histogram` makes it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AbsHistogram {
    /// The [`KL_BINS`] counts, as collected (before the search copies bin 1 into bin 0).
    pub counts: Vec<u64>,
    /// The `KL_BINS + 1` bin edges: `edges[k] = k * width` from 0, the last `max |x|`.
    pub edges: Vec<f64>,
    /// The bin width `max |x| / 2048` (numpy's linspace step; 1/2048 for all-zero data).
    pub width: f64,
}

/// The KL calibration of one set of values: the histogram, every candidate's divergence and
/// the pick. As JSON (serde), a divergence that is not finite is `null`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KlCalibration {
    /// The histogram of `|x|`.
    pub histogram: AbsHistogram,
    /// `divergences[k]` is the divergence of candidate bin `KL_START_BIN + k` (inclusive up to
    /// `KL_BINS`): `inf` where `q` is 0 under a count of `p`, NaN where no bin below the
    /// candidate has a count.
    pub divergences: Vec<f64>,
    /// The chosen candidate bin `i` (from [`KL_START_BIN`] to [`KL_BINS`]).
    pub best: usize,
    /// The threshold: `edges[best]` rounded to float32, the reference's returned `amax`.
    pub threshold: f64,
}

/// KL calibration of `xs` at `bits` (`unsigned` doubles the levels, as the reference's flag):
/// the symmetric clip value `amax` and what the page draws. `absmax` is `max |x|` of `xs`
/// (values above it are left out, as numpy's histogram leaves out values beyond its range).
pub fn kl_calibrate(xs: &[f64], absmax: f64, bits: u32, unsigned: bool) -> Result<KlCalibration> {
    if xs.is_empty() {
        return Err(Error::EmptyData);
    }
    KlCalibration::of_histogram(abs_histogram(xs, absmax)?, bits, unsigned)
}

impl KlCalibration {
    /// The search over a histogram made by [`abs_histogram`] (which does not depend on the bit
    /// width, so one histogram serves every width).
    pub fn of_histogram(histogram: AbsHistogram, bits: u32, unsigned: bool) -> Result<Self> {
        let (divergences, best) = entropy_search(&histogram.counts, bits, unsigned)?;
        let threshold = f64::from(histogram.edges[best] as f32);
        Ok(KlCalibration {
            histogram,
            divergences,
            best,
            threshold,
        })
    }
}

/// numpy's `np.histogram(|xs|, bins=2048, range=(0, absmax))`, counted in parallel natively.
pub fn abs_histogram(xs: &[f64], absmax: f64) -> Result<AbsHistogram> {
    if !(absmax.is_finite() && absmax >= 0.0) {
        return Err(Error::RangeOverflow {
            lo: -absmax,
            hi: absmax,
        });
    }
    // numpy's `_get_outer_edges`: a range of zero width is widened by 0.5 each side.
    let (first, last) = if absmax == 0.0 {
        (-0.5, 0.5)
    } else {
        (0.0, absmax)
    };
    let edges = linspace_edges(first, last);
    if edges.windows(2).any(|w| w[0] >= w[1]) {
        // numpy refuses these too ("Too many bins for data range").
        return Err(Error::KlRange { absmax });
    }
    let width = (last - first) / KL_BINS as f64;
    let counts = crate::par::pairwise_map(
        xs,
        &|part| {
            let mut counts = vec![0u64; KL_BINS];
            count_into(part, first, last, &edges, &mut counts);
            counts
        },
        &|mut a, b| {
            for (x, y) in a.iter_mut().zip(&b) {
                *x += y;
            }
            a
        },
    );
    Ok(AbsHistogram {
        counts,
        edges,
        width,
    })
}

/// numpy's `linspace(first, last, KL_BINS + 1)` in float64: `k * step + first` with
/// `step = (last - first) / 2048`, or `(k / 2048) * delta + first` where the step underflows
/// to 0, and the last edge exactly `last`.
fn linspace_edges(first: f64, last: f64) -> Vec<f64> {
    let div = KL_BINS as f64;
    let delta = last - first;
    let step = delta / div;
    let mut edges: Vec<f64> = (0..=KL_BINS)
        .map(|k| {
            let k = k as f64;
            let y = if step == 0.0 {
                (k / div) * delta
            } else {
                k * step
            };
            y + first
        })
        .collect();
    edges[KL_BINS] = last;
    edges
}

/// Adds the bins of `|x|` for `xs` to `counts`, numpy's fast uniform-bin path value by value.
///
/// numpy estimates the bin as `trunc(((v - first) / (last - first)) * 2048)` and then corrects
/// it by the edges: one down where `v < edges[k]`, one up where `v >= edges[k + 1]` (not from
/// the last bin). Where the range starts at 0 and its step `max / 2048` is a normal float, the
/// edges `fl(k * step)` increase strictly and hold every value's bin; any estimate within one
/// bin of it is then corrected to that bin. numpy's estimate is within `2^-40` of the exact
/// `v / step`, and so is `v * (1 / step)`: the multiplication gives the same bins, and the
/// division stays only for the other ranges (all-zero data, steps in the subnormals).
fn count_into(xs: &[f64], first: f64, last: f64, edges: &[f64], counts: &mut [u64]) {
    let last_bin = KL_BINS - 1;
    let Some(edges) = edges.get(..=KL_BINS) else {
        return;
    };
    let denom = last - first;
    let step = denom / KL_BINS as f64;
    let by_reciprocal = first == 0.0 && step >= f64::MIN_POSITIVE;
    let inv = 1.0 / step;
    let n = KL_BINS as f64;
    // Four sets of u32 counters (a value's bin does not wait on the previous value's count),
    // emptied into `counts` every 2^20 values.
    let mut local = vec![[0u32; KL_BINS]; 4];
    for chunk in xs.chunks(1 << 20) {
        for (i, &x) in chunk.iter().enumerate() {
            let v = x.abs();
            // numpy keeps only `first <= v <= last` (NaN fails both).
            if !(v >= first && v <= last) {
                continue;
            }
            let f = if by_reciprocal {
                v * inv
            } else {
                ((v - first) / denom) * n
            };
            let mut k = (f as usize).min(last_bin);
            k -= usize::from(v < edges[k] && k > 0);
            k += usize::from(k != last_bin && v >= edges[k + 1]);
            local[i & 3][k] += 1;
        }
        for set in local.iter_mut() {
            for (c, l) in counts.iter_mut().zip(set.iter_mut()) {
                *c += u64::from(*l);
                *l = 0;
            }
        }
    }
}

/// scipy's `rel_entr(x, y)`: `x ln(x / y)` for `x, y > 0`, 0 for `x = 0 <= y`, infinite
/// otherwise, NaN for NaN. For `x, y > 0` scipy takes the logarithm three ways, and so does
/// this: `x log1p((x - y) / y)` where `0.5 < x / y < 2` (more accurate there),
/// `x (ln x - ln y)` where `x / y` is subnormal, zero or infinite, else `x ln(x / y)`.
#[inline]
pub fn rel_entr(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x > 0.0 && y > 0.0 {
        let ratio = x / y;
        if 0.5 < ratio && ratio < 2.0 {
            x * libm::log1p((x - y) / y)
        } else if f64::MIN_POSITIVE < ratio && ratio < f64::INFINITY {
            x * libm::log(ratio)
        } else {
            x * (libm::log(x) - libm::log(y))
        }
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// The divergence of every candidate `i = 128 ..= counts.len()` and the chosen `i`, from the
/// histogram `counts` (at least [`KL_START_BIN`] + 1 bins... the reference's 2048 here).
pub fn entropy_search(counts: &[u64], bits: u32, unsigned: bool) -> Result<(Vec<f64>, usize)> {
    crate::settings::check_bits(i64::from(bits))?;
    let nbins = counts.len();
    if nbins < KL_START_BIN {
        return Err(Error::Setting {
            name: "bins",
            given: nbins.to_string(),
            expected: format!("at least {KL_START_BIN} histogram bins"),
        });
    }
    let nq = 1usize << (bits - 1 + u32::from(unsigned));
    let mut bins = counts.to_vec();
    if nbins > 1 {
        bins[0] = bins[1];
    }
    // Integer prefix sums: counts and non-empty bins up to each index.
    let mut total = vec![0u64; nbins + 1];
    let mut nonempty = vec![0u64; nbins + 1];
    for (j, &c) in bins.iter().enumerate() {
        total[j + 1] = total[j] + c;
        nonempty[j + 1] = nonempty[j] + u64::from(c != 0);
    }
    let all = total[nbins] as f64;
    let p: Vec<f64> = bins.iter().map(|&c| c as f64 / all).collect();
    let filled: Vec<usize> = (0..nbins).filter(|&j| bins[j] != 0).collect();
    let tables = Tables {
        bins: &bins,
        total: &total,
        nonempty: &nonempty,
        filled: &filled,
        p: &p,
        all,
        nq,
    };
    let candidates: Vec<usize> = (KL_START_BIN..=nbins).collect();
    let divergences = divergences_of(&tables, &candidates);
    // The last minimum: `np.argmin` over the reversed list, where a NaN is the least.
    let mut best = candidates.len() - 1;
    for k in (0..candidates.len()).rev() {
        let d = divergences[k];
        if d.is_nan() {
            best = k;
            break;
        }
        if d < divergences[best] {
            best = k;
        }
    }
    Ok((divergences, candidates[best]))
}

/// What every candidate reads.
struct Tables<'a> {
    bins: &'a [u64],
    total: &'a [u64],
    nonempty: &'a [u64],
    /// The indices of the non-empty bins, ascending.
    filled: &'a [usize],
    p: &'a [f64],
    all: f64,
    nq: usize,
}

/// One thread's buffers for the candidates' non-zero terms.
#[derive(Default)]
struct Scratch {
    at: Vec<usize>,
    q: Vec<f64>,
    terms: Vec<f64>,
}

impl Tables<'_> {
    /// The divergence of candidate `i`.
    ///
    /// Only the terms that can be non-zero are visited: `q` is 0 on empty source bins, and a
    /// term with `p = 0` is 0 (while the total of `q` is positive). Sums that skip zero terms
    /// but keep every other term in its place of numpy's pairwise tree ([`sparse_pairwise`])
    /// are the same bits, as adding +0.0 changes no partial sum here (no term is -0.0: a
    /// non-zero `p` is at least `1 / total` and `ln(p / q)` is 0 only where `p = q`).
    fn divergence(&self, i: usize, s: &mut Scratch) -> f64 {
        let nq = self.nq;
        let filled = &self.filled[..self.filled.partition_point(|&j| j < i)];
        if filled.is_empty() {
            // `q` is all zeros: divided by its sum of 0 every term is NaN, as in scipy.
            return f64::NAN;
        }
        s.q.clear();
        // Target t holds sources ceil(t*i/nq) .. ceil((t+1)*i/nq); its share is its total over
        // its count of non-empty sources.
        let mut level = usize::MAX;
        let mut share = 0.0;
        for &j in filled {
            let t = j * nq / i;
            if t != level {
                level = t;
                let (a, b) = ((t * i).div_ceil(nq), ((t + 1) * i).div_ceil(nq).min(i));
                let count = self.total[b] - self.total[a];
                let k = self.nonempty[b] - self.nonempty[a];
                share = count as f64 / k as f64;
            }
            s.q.push(share);
        }
        let q_sum = sparse_pairwise(0, i, filled, &s.q);
        let tail = self.total[self.bins.len()] - self.total[i];
        let last = (self.bins[i - 1] + tail) as f64 / self.all;
        s.at.clear();
        s.terms.clear();
        for (&j, &q) in filled.iter().zip(&s.q) {
            let pj = if j == i - 1 { last } else { self.p[j] };
            s.at.push(j);
            s.terms.push(rel_entr(pj, q / q_sum));
        }
        // The last bin empty before the tail was added: `p > 0 = q` there.
        if self.bins[i - 1] == 0 && tail > 0 {
            s.at.push(i - 1);
            s.terms.push(rel_entr(last, 0.0));
        }
        sparse_pairwise(0, i, &s.at, &s.terms)
    }
}

/// numpy's pairwise sum of `n` terms from position `lo`, of which only `vals` (at the ascending
/// positions `at`) may be non-zero: the same tree, the same lanes in each leaf, the zero terms
/// left out.
fn sparse_pairwise(lo: usize, n: usize, at: &[usize], vals: &[f64]) -> f64 {
    if at.is_empty() {
        return 0.0;
    }
    if n <= PAIRWISE_BLOCK {
        if n < 8 {
            let mut res = 0.0;
            for &v in vals {
                res += v;
            }
            return res;
        }
        let whole = n - n % 8;
        let mut r = [0.0f64; 8];
        let mut rest = at.len();
        for (k, (&j, &v)) in at.iter().zip(vals).enumerate() {
            let o = j - lo;
            if o >= whole {
                rest = k;
                break;
            }
            r[o % 8] += v;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &vals[rest..] {
            res += v;
        }
        return res;
    }
    let n2 = pairwise_split(n);
    let cut = at.partition_point(|&j| j < lo + n2);
    let left = sparse_pairwise(lo, n2, &at[..cut], &vals[..cut]);
    left + sparse_pairwise(lo + n2, n - n2, &at[cut..], &vals[cut..])
}

/// The divergences of `candidates`, on every core natively (each candidate is independent).
fn divergences_of(tables: &Tables, candidates: &[usize]) -> Vec<f64> {
    let run = |ks: &mut dyn Iterator<Item = usize>| -> Vec<(usize, f64)> {
        let mut scratch = Scratch::default();
        ks.map(|k| (k, tables.divergence(candidates[k], &mut scratch)))
            .collect()
    };
    let threads = crate::par::threads().min(candidates.len()).max(1);
    let mut out = vec![0.0; candidates.len()];
    #[cfg(not(target_arch = "wasm32"))]
    if threads > 1 {
        // Candidate k costs about `candidates[k]`: dealt round robin, the threads share evenly.
        let parts: Vec<Vec<(usize, f64)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (1..threads)
                .map(|w| {
                    std::thread::Builder::new()
                        .spawn_scoped(s, move || run(&mut (w..candidates.len()).step_by(threads)))
                })
                .collect();
            let mut parts = vec![run(&mut (0..candidates.len()).step_by(threads))];
            for (w, h) in handles.into_iter().enumerate() {
                let part = match h.map(|h| h.join()) {
                    Ok(Ok(part)) => part,
                    Ok(Err(panic)) => std::panic::resume_unwind(panic),
                    // No thread to be had: this share runs here.
                    Err(_) => run(&mut (w + 1..candidates.len()).step_by(threads)),
                };
                parts.push(part);
            }
            parts
        });
        for (k, d) in parts.into_iter().flatten() {
            out[k] = d;
        }
        return out;
    }
    let _ = threads;
    for (k, d) in run(&mut (0..candidates.len())) {
        out[k] = d;
    }
    out
}
