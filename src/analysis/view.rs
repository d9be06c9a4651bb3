//! The current view's counts: the value histogram and the count of each code in one pass, and
//! the error histogram in another, which the page runs only when it draws the error chart.
//! Over sorted values they are counted run by run (a code's values, or a bin's) instead of value
//! by value. Every count is the plain loop's, bit for bit.

use crate::analysis::histogram::Histogram;
use crate::quant::kernels::Kernel;
use crate::quant::params::QuantParams;
use crate::quant::sorted::{code_end, runs, RUN_FACTOR, SHORT_RUN};

/// The current view's counts, in one pass: the original values binned, and how many values got
/// each code. `values` is an empty histogram over its range; `code_counts` has
/// `qmax - qmin + 1` zeros. Bit for bit the plain loop of `quantize_value`, `Histogram::add`.
/// (The errors' histogram is [`error_counts`]: the page bins them only when it draws them.)
pub fn view_counts(xs: &[f64], p: &QuantParams, values: &mut Histogram, code_counts: &mut [u64]) {
    let k = Kernel::new(p);
    let qmin = p.qmin;
    for &x in xs {
        let (q, _) = k.code(x);
        values.add(x);
        if let Some(c) = code_counts.get_mut((q as i32 - qmin) as usize) {
            *c += 1;
        }
    }
}

/// The errors `x - x̂` of `xs` binned into `errors` (an empty histogram over its range). Bit for
/// bit the plain loop of `quantize_value`, `dequantize_value`, `Histogram::add`.
pub fn error_counts(xs: &[f64], p: &QuantParams, errors: &mut Histogram) {
    let k = Kernel::new(p);
    for &x in xs {
        let (q, _) = k.code(x);
        errors.add(x - p.dequantize_value(q as i32));
    }
}

/// [`view_counts`] over the values sorted ascending (any order of the same values gives the
/// same counts): the code and the value's bin are non-decreasing functions of the value, so
/// each is counted run by run instead of value by value ([`runs`]). Bit for bit the same
/// counts; about two evaluations a run, which at the page's 120 bins and few levels is a small
/// fraction of a pass. Many levels make runs short: then `view_counts` is the faster.
pub fn view_counts_sorted(
    sorted: &[f64],
    p: &QuantParams,
    values: &mut Histogram,
    code_counts: &mut [u64],
) {
    let (vkey, vnext) = bin_key(values);
    runs(sorted, &vkey, &vnext, &mut |b, run| {
        if let Some(c) = usize::try_from(b)
            .ok()
            .and_then(|b| values.counts.get_mut(b))
        {
            *c += run.len() as u64;
        }
    });
    let qmin = p.qmin;
    code_runs(sorted, p, &mut |q, run| {
        if let Some(c) = code_counts.get_mut((q - qmin) as usize) {
            *c += run.len() as u64;
        }
    });
}

/// Calls `add` with each code of `sorted` (ascending) and its run of values ([`runs`]; one copy
/// for the view's counts and the errors').
pub(crate) fn code_runs(sorted: &[f64], p: &QuantParams, add: &mut dyn FnMut(i32, &[f64])) {
    let k = Kernel::new(p);
    runs(
        sorted,
        &|x| k.code(x).0 as i64,
        &code_end(p),
        &mut |q, run| add(q as i32, run),
    );
}

/// [`error_counts`] over the values sorted ascending: code by code, and within a code's run
/// (where the error `x - x̂` rises with `x`) bin by bin where the bins hold many values each.
/// Bit for bit the same counts.
pub fn error_counts_sorted(sorted: &[f64], p: &QuantParams, errors: &mut Histogram) {
    let (ekey, enext) = bin_key(errors);
    code_runs(sorted, p, &mut |q, run| {
        let dq = p.dequantize_value(q);
        // Runs pay where the error's bins hold many values each; where the run's values spread
        // over many bins (many levels: a run spans all of them) one by one is cheaper.
        let spread = match (run.first(), run.last()) {
            (Some(&a), Some(&b)) => (ekey(b - dq) - ekey(a - dq)).unsigned_abs() as usize + 1,
            _ => 1,
        };
        if run.len() <= SHORT_RUN || run.len() < RUN_FACTOR * spread {
            bin_errors(run, dq, errors);
        } else {
            runs(run, &|x| ekey(x - dq), &|b| dq + enext(b), &mut |b, r| {
                if let Some(c) = usize::try_from(b)
                    .ok()
                    .and_then(|b| errors.counts.get_mut(b))
                {
                    *c += r.len() as u64;
                }
            });
        }
    });
}

/// Bins the errors `x - dq` of `xs` one by one, as [`Histogram::add`] does. (Two at a time in
/// wasm simd128 measured slower: the counting, not the arithmetic, takes the time.)
#[inline(never)]
pub(crate) fn bin_errors(xs: &[f64], dq: f64, errors: &mut Histogram) {
    for &x in xs {
        errors.add(x - dq);
    }
}

/// A histogram's bin as a non-decreasing key (-1 below the range, the bin count above it),
/// and where each key's values end, about: the next bin's left edge (a hint for [`runs`]).
pub(crate) fn bin_key(h: &Histogram) -> (impl Fn(f64) -> i64, impl Fn(i64) -> f64) {
    let h = Histogram {
        lo: h.lo,
        hi: h.hi,
        counts: vec![0; h.counts.len()],
    };
    let (lo, hi, bins) = (h.lo, h.hi, h.counts.len() as i64);
    let key = move |x| match h.bin_of(x) {
        Some(b) => b as i64,
        None if x < h.lo => -1,
        None => h.counts.len() as i64,
    };
    let next = move |b: i64| {
        if b >= bins - 1 {
            if b >= bins {
                f64::INFINITY
            } else {
                hi
            }
        } else {
            lo + (hi - lo) * ((b + 1) as f64 / bins as f64)
        }
    };
    (key, next)
}

/// The dequantized values' histogram from the code counts: every value with code `q` has the
/// value `dequantize_value(q)`, so its bin is found once per code instead of once per value.
pub fn dequantized_from_codes(p: &QuantParams, code_counts: &[u64], h: &mut Histogram) {
    for (i, &c) in code_counts.iter().enumerate() {
        if c > 0 {
            if let Some(b) = h.bin_of(p.dequantize_value(p.qmin + i as i32)) {
                h.counts[b] += c;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::kernels::fused::*;
    use crate::quant::sorted::*;
    use crate::settings::{Scheme, ZeroPoint};

    /// Data that exercises every path: ties exactly halfway between codes, clipping on both
    /// sides, a constant, lengths around the block edges.
    fn data_sets() -> Vec<Vec<f64>> {
        let mut sets = Vec::new();
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        for n in [
            1usize, 7, 8, 9, 127, 128, 129, 255, 256, 1000, 4097, 100_003,
        ] {
            sets.push((0..n).map(|_| next() * 6.0 - 3.0).collect());
        }
        // Halfway values for scale 0.5 and zero point 0: k * 0.25.
        sets.push((0..3000).map(|i| (i as f64 - 1500.0) * 0.25).collect());
        sets.push(vec![2.5; 300]);
        // Signed zeros among ties, an odd length.
        sets.push(
            (0..1001)
                .map(|i| match i % 4 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => (i as f64 - 500.0) * 0.125,
                    _ => next() - 0.5,
                })
                .collect(),
        );
        let mut outl: Vec<f64> = (0..5000).map(|_| next() * 2.0 - 1.0).collect();
        outl[17] = 1000.0;
        outl[4000] = -250.0;
        sets.push(outl);
        sets
    }

    fn params_for(xs: &[f64]) -> Vec<QuantParams> {
        let (mn, mx) = xs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        let mut ps = Vec::new();
        for bits in [2, 3, 4, 8, 16] {
            ps.push(QuantParams::asymmetric(mn, mx, bits, ZeroPoint::Raw).unwrap());
            ps.push(
                QuantParams::asymmetric(mn * 0.5, mx * 0.3, bits, ZeroPoint::IncludeZero).unwrap(),
            );
            ps.push(QuantParams::symmetric(mx.abs().max(mn.abs()) * 0.4, bits, false).unwrap());
            ps.push(QuantParams::symmetric(1.0, bits, false).unwrap());
        }
        let raw = |scale: f64, zero_point: f64, qmin: i32, qmax: i32| QuantParams {
            scheme: Scheme::Symmetric,
            bits: 3,
            scale,
            zero_point,
            qmin,
            qmax,
            range_min: -1.5,
            range_max: 1.5,
        };
        ps.push(raw(0.5, 0.0, -4, 3));
        // Ties at odd and even codes (zero point 0.5), tiny and huge scales.
        ps.push(raw(0.25, 0.5, -8, 7));
        ps.push(raw(1e-300, 3.0, 0, 255));
        ps.push(raw(1e300, 0.0, -128, 127));
        ps.push(raw(f64::MIN_POSITIVE, 0.0, -128, 127));
        ps
    }

    #[test]
    fn many_at_once_equals_one_by_one() {
        for xs in data_sets() {
            let ps = params_for(&xs);
            let many = error_stats_fused(&xs, &ps);
            let mut sorted = xs.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            let counts: Vec<usize> = ps.iter().map(|p| clipped_sorted(&sorted, p)).collect();
            let known: Vec<Known> = ps.iter().map(|p| known_sorted(&sorted, p)).collect();
            let given = error_stats_many_known(&xs, &ps, Some(&known));
            // Every max found by runs, whatever the number of codes.
            let all_max: Vec<Known> = ps
                .iter()
                .zip(&counts)
                .map(|(p, &clipped)| Known {
                    clipped,
                    max_abs: Some(max_abs_sorted(&sorted, p)),
                    by_reciprocal: by_reciprocal(&sorted, p),
                })
                .collect();
            let given_max = error_stats_many_known(&xs, &ps, Some(&all_max));
            for (k, (p, m)) in ps.iter().zip(&many).enumerate() {
                let one = p.error_stats(&xs);
                let simple = p.error_stats_simple(&xs);
                assert_eq!(one.sum_sq.to_bits(), simple.sum_sq.to_bits());
                assert_eq!(one.max_abs.to_bits(), simple.max_abs.to_bits());
                assert_eq!(one.clipped, simple.clipped);
                assert_eq!(counts[k], one.clipped, "n={} {p:?}", xs.len());
                assert_eq!(xs.iter().filter(|&&x| clips(p, x)).count(), one.clipped);
                assert_eq!(given[k], one);
                assert_eq!(given_max[k], one);
                assert_eq!(known[k].clipped, one.clipped);
                let by_runs = all_max[k].max_abs.map(f64::to_bits);
                assert_eq!(by_runs, Some(one.max_abs.to_bits()), "n={} {p:?}", xs.len());
                assert_eq!(
                    one.sum_sq.to_bits(),
                    m.sum_sq.to_bits(),
                    "n={} {p:?}",
                    xs.len()
                );
                assert_eq!(one.max_abs.to_bits(), m.max_abs.to_bits());
                assert_eq!(one.clipped, m.clipped);
                assert_eq!(one.n, m.n);
            }
        }
    }

    /// The pass that only sums multiplies by `1 / s` where [`by_reciprocal`] says every code
    /// comes out the same: then its sums are the division's, bit for bit, on every data set
    /// and parameter set here (ties included, where it must say no). Where it says no, the
    /// product would indeed have changed a sum.
    #[test]
    fn sums_by_reciprocal_are_the_division_s() {
        let (mut agreed, mut refused) = (0, 0);
        for base in data_sets() {
            for (p, ties) in params_for(&base)
                .into_iter()
                .flat_map(|p| [(p, false), (p, true)])
            {
                // The data set, then (`ties`) values on the ties `(k + 1/2 - z) * s` and 1 or 2
                // ulps off.
                let mut xs = base.clone();
                for k in if ties { -300..300 } else { 0..0 } {
                    let t = (k as f64 + 0.5 - p.zero_point) * p.scale;
                    for d in [-2i64, -1, 0, 1, 2] {
                        let y = f64::from_bits((t.to_bits() as i64 + d) as u64);
                        if y.is_finite() {
                            xs.push(y);
                        }
                    }
                }
                let mut sorted = xs.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                let one = p.error_stats(&xs);
                let clipped = clipped_sorted(&sorted, &p);
                let agree = by_reciprocal(&sorted, &p);
                let known = known_sorted(&sorted, &p);
                assert_eq!(known.by_reciprocal, agree && known.max_abs.is_some());
                let known = Known {
                    clipped,
                    max_abs: Some(max_abs_sorted(&sorted, &p)),
                    by_reciprocal: agree,
                };
                let got = fused(&xs, &[p], Some(&[known]))[0];
                assert_eq!(got.sum_sq.to_bits(), one.sum_sq.to_bits(), "{p:?}");
                // A part of the values (as the inliers' pass): the pass that also finds the max,
                // multiplying where the whole agreed.
                let part: Vec<f64> = xs.iter().copied().step_by(3).collect();
                let part_one = p.error_stats(&part);
                let part_known = Known {
                    clipped: part_one.clipped,
                    max_abs: None,
                    by_reciprocal: agree,
                };
                let got = fused(&part, &[p], Some(&[part_known]))[0];
                assert_eq!(got.sum_sq.to_bits(), part_one.sum_sq.to_bits(), "{p:?}");
                assert_eq!(got.max_abs.to_bits(), part_one.max_abs.to_bits(), "{p:?}");
                // What it claims, value by value: each code by the product is the division's.
                let (k, inv) = (Kernel::new(&p), 1.0 / p.scale);
                let same = xs
                    .iter()
                    .all(|&x| code_by_reciprocal(&k, inv, x, clipped > 0) == k.code(x).0);
                assert!(same || !agree, "{p:?}");
                if agree {
                    agreed += 1;
                } else {
                    refused += 1;
                }
            }
        }
        assert!(
            agreed > 50 && refused > 5,
            "{agreed} agreed, {refused} refused"
        );
        // 0.35 / 0.1 is 3.4999999999999996 (code 3), 0.35 * (1 / 0.1) is 3.5 (code 4): refused,
        // the division's sum, and the product's would indeed differ. With the top code 3 and
        // nothing clipped, the clamp (which would hide the 4) must not be part of the check.
        // A subnormal scale makes `1 / scale` infinite and `0 · inf` NaN: refused too.
        let raw = |scale: f64, zero_point: f64, qmin: i32, qmax: i32| QuantParams {
            scheme: Scheme::Symmetric,
            bits: 4,
            scale,
            zero_point,
            qmin,
            qmax,
            range_min: -0.8,
            range_max: 0.7,
        };
        let mut point_35 = vec![0.35; 4000];
        point_35[3] = -0.2;
        let mut zeros = vec![0.0; 2047];
        zeros.push(1e-310);
        for (p, xs) in [
            (raw(0.1, 0.0, -8, 7), point_35.clone()),
            (raw(0.1, 0.0, -4, 3), point_35),
            (raw(1e-314, -0.0, 0, 3), zeros),
        ] {
            let one = p.error_stats(&xs);
            let mut sorted = xs.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            let known = known_sorted(&sorted, &p);
            assert!(known.max_abs.is_some() && !known.by_reciprocal, "{p:?}");
            assert!(!by_reciprocal(&sorted, &p));
            let got = fused(&xs, &[p], Some(&[known]))[0];
            assert_eq!(got.sum_sq.to_bits(), one.sum_sq.to_bits(), "{p:?}");
            let forced = Known {
                by_reciprocal: true,
                ..known
            };
            let wrong = fused(&xs, &[p], Some(&[forced]))[0];
            assert_ne!(wrong.sum_sq.to_bits(), one.sum_sq.to_bits(), "{p:?}");
        }
        assert!(by_reciprocal(&[0.34, 0.36], &raw(0.1, 0.0, -8, 7)));
    }

    /// `runs` finds exactly the runs of equal keys, whatever its estimates: right, off by a
    /// little or a lot, NaN or infinite; runs of one value, of all of them, and every length
    /// between, next to each other.
    #[test]
    fn runs_are_exact_whatever_the_estimate() {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |m: u64| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s % m
        };
        for case in 0..200 {
            // Sorted values with repeats; the key is floor(x / w) for a width w.
            let n = 1 + next(3000) as usize;
            let spread = 1 << next(20);
            let mut xs: Vec<f64> = (0..n).map(|_| next(spread) as f64 * 0.37).collect();
            xs.sort_unstable_by(f64::total_cmp);
            let w = [0.5, 1.0, 7.3, 1000.0, 1e9][case % 5];
            let key = |x: f64| (x / w).floor() as i64;
            let mut want: Vec<(i64, usize)> = Vec::new();
            for &x in &xs {
                match want.last_mut() {
                    Some((k, c)) if *k == key(x) => *c += 1,
                    _ => want.push((key(x), 1)),
                }
            }
            let estimates: [&dyn Fn(i64) -> f64; 6] = [
                &|k| (k + 1) as f64 * w,
                &|k| (k + 1) as f64 * w * 1.01,
                &|k| (k + 1) as f64 * w * 0.9 - 3.0,
                &|_| f64::NAN,
                &|_| f64::INFINITY,
                &|_| f64::NEG_INFINITY,
            ];
            for est in estimates {
                let mut got: Vec<(i64, usize)> = Vec::new();
                let mut seen = 0;
                runs(&xs, &key, &|k| est(k), &mut |k, run| {
                    assert!(std::ptr::eq(run.as_ptr(), xs[seen..].as_ptr()));
                    seen += run.len();
                    got.push((k, run.len()));
                });
                assert_eq!(got, want, "case {case}");
            }
        }
    }

    /// A scale that is not positive (never made by the calibrations, but the functions are
    /// public): the sorted shortcuts measure value by value and still agree with the pass.
    #[test]
    fn sorted_shortcuts_with_a_scale_that_is_not_positive() {
        let xs = [-3.0, 0.0, 3.0];
        for scale in [-1.0, 0.0, f64::NAN] {
            let p = QuantParams {
                scheme: Scheme::Asymmetric,
                bits: 4,
                scale,
                zero_point: 0.0,
                qmin: 0,
                qmax: 15,
                range_min: -3.0,
                range_max: 3.0,
            };
            let one = p.error_stats(&xs);
            let m = max_abs_sorted(&xs, &p);
            assert!(m.to_bits() == one.max_abs.to_bits() || (m.is_nan() && one.max_abs.is_nan()));
            let k = known_sorted(&xs, &p);
            assert_eq!((k.clipped, k.max_abs), (one.clipped, None), "{scale}");
        }
    }

    #[test]
    fn view_and_error_counts_equal_the_plain_loop() {
        for xs in data_sets() {
            for p in params_for(&xs) {
                let levels = (p.qmax - p.qmin + 1) as usize;
                let (lo, hi) = (-4.0, 4.0);
                let e = p.scale;
                let mut values = Histogram::new(lo, hi, 120);
                let mut errors = Histogram::new(-e, e, 120);
                let mut codes = vec![0u64; levels];
                view_counts(&xs, &p, &mut values, &mut codes);
                error_counts(&xs, &p, &mut errors);
                let mut dq = Histogram::new(lo, hi, 120);
                dequantized_from_codes(&p, &codes, &mut dq);
                let mut v2 = Histogram::new(lo, hi, 120);
                let mut e2 = Histogram::new(-e, e, 120);
                let mut d2 = Histogram::new(lo, hi, 120);
                let mut c2 = vec![0u64; levels];
                for &x in &xs {
                    let q = p.quantize_value(x);
                    let d = p.dequantize_value(q);
                    v2.add(x);
                    d2.add(d);
                    c2[(q - p.qmin) as usize] += 1;
                    e2.add(x - d);
                }
                assert_eq!(values, v2);
                assert_eq!(errors, e2);
                assert_eq!(dq, d2);
                assert_eq!(codes, c2);
                let mut sorted = xs.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                let mut v3 = Histogram::new(lo, hi, 120);
                let mut e3 = Histogram::new(-e, e, 120);
                let mut c3 = vec![0u64; levels];
                view_counts_sorted(&sorted, &p, &mut v3, &mut c3);
                error_counts_sorted(&sorted, &p, &mut e3);
                assert_eq!(v3, v2);
                assert_eq!(e3, e2);
                assert_eq!(c3, c2);
            }
        }
    }
}
