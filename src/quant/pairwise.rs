//! numpy's pairwise summation, reproduced exactly so that means match numpy bit for bit.
//!
//! numpy sums a contiguous float64 array by splitting it in halves (rounded down to a multiple
//! of 8) until a block has at most 128 values, sums each block with 8 interleaved accumulators
//! combined as `((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))`, and adds the rest one by one.
//! Blocks of fewer than 8 values are summed left to right. The same tree over the same terms
//! gives the same bits.

/// numpy's block size for pairwise summation.
pub(crate) const BLOCK: usize = 128;

/// Sums `f(x)` over `xs` in numpy's pairwise order: `np.sum(f(xs))` to the last bit.
///
/// `f` is called once per value, in order. On x86-64 CPUs with AVX2 the leaf blocks run in a
/// copy of the loop compiled for AVX2 (picked at run time; the same operations in the same
/// order, so the same bits).
#[inline]
pub fn pairwise_sum_map(xs: &[f64], f: &mut impl FnMut(f64) -> f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if crate::quant::kernels::has_avx2() {
        // SAFETY: the CPU has AVX2 (checked just above).
        return pairwise_tree(xs, &mut |b| unsafe {
            crate::quant::kernels::x86::leaf_sum_avx2(b, f)
        });
    }
    pairwise_tree(xs, &mut |b| leaf_sum(b, f))
}

/// numpy's pairwise tree over `xs`: halves (the first rounded down to a multiple of 8) until a
/// block has at most [`BLOCK`] values; `leaf` sums one block (in numpy's order, see
/// [`leaf_sum`]), and the halves' sums are added `left + right` on the way up. The tree
/// depends only on the length, so it cuts float32 values (widened as read) where it cuts
/// their float64 copies.
#[inline]
pub(crate) fn pairwise_tree<E>(xs: &[E], leaf: &mut impl FnMut(&[E]) -> f64) -> f64 {
    pairwise_tree_with(xs, leaf, &|a, b| a + b)
}

/// The first half's length where numpy's pairwise sum splits `n > 128` values: `n / 2` rounded
/// down to a multiple of 8.
#[inline]
pub fn pairwise_split(n: usize) -> usize {
    let n2 = n / 2;
    n2 - n2 % 8
}

/// [`pairwise_tree`] for leaf results of any type (several sums at once, say): `add(left,
/// right)` on the way up, in the same tree.
#[inline]
pub(crate) fn pairwise_tree_with<E, T>(
    xs: &[E],
    leaf: &mut impl FnMut(&[E]) -> T,
    add: &impl Fn(T, T) -> T,
) -> T {
    let n = xs.len();
    if n <= BLOCK {
        leaf(xs)
    } else {
        let (a, b) = xs.split_at(pairwise_split(n));
        let left = pairwise_tree_with(a, leaf, add);
        add(left, pairwise_tree_with(b, leaf, add))
    }
}

/// numpy's sum of `f` over one leaf block (at most [`BLOCK`] values): fewer than 8 left to
/// right; otherwise 8 interleaved accumulators over the whole groups of 8, combined as
/// `((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))`, then the rest one by one.
#[inline(always)]
pub(crate) fn leaf_sum(xs: &[f64], f: &mut impl FnMut(f64) -> f64) -> f64 {
    leaf_sum_by(xs.len(), &mut |i| f(xs[i]))
}

/// [`leaf_sum`] of the terms `term(0)`, ..., `term(n - 1)`.
#[inline(always)]
pub(crate) fn leaf_sum_by(n: usize, term: &mut impl FnMut(usize) -> f64) -> f64 {
    if n < 8 {
        let mut res = 0.0;
        for i in 0..n {
            res += term(i);
        }
        return res;
    }
    let mut r = [0.0f64; 8];
    for (j, slot) in r.iter_mut().enumerate() {
        *slot = term(j);
    }
    let whole = n - n % 8;
    for c in (8..whole).step_by(8) {
        for (j, slot) in r.iter_mut().enumerate() {
            *slot += term(c + j);
        }
    }
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for i in whole..n {
        res += term(i);
    }
    res
}

/// `np.sum` of the array `[term(0), ..., term(n - 1)]`, bit for bit, without making the array:
/// the same tree over the same terms. `term` is called once per index, in order.
pub fn pairwise_sum_indexed(n: usize, term: &mut impl FnMut(usize) -> f64) -> f64 {
    pairwise_tree_indexed(
        n,
        &mut |start, len| leaf_sum_by(len, &mut |i| term(start + i)),
        &|a, b| a + b,
    )
}

/// numpy's pairwise tree over the indices `0..n`: `leaf(start, len)` for each leaf block (at
/// most [`BLOCK`] indices, in order), added `add(left, right)` on the way up.
pub fn pairwise_tree_indexed<T>(
    n: usize,
    leaf: &mut impl FnMut(usize, usize) -> T,
    add: &impl Fn(T, T) -> T,
) -> T {
    indexed_tree(0, n, BLOCK, leaf, add)
}

/// The top of numpy's pairwise tree over the indices `0..n`, cut where a subtree holds at most
/// `max` indices (at least [`BLOCK`]): `piece(start, len)` for each such subtree, in order,
/// added `add(left, right)` on the way up. Each piece summed as numpy sums it (a pairwise sum
/// of its own length), and the pieces' sums added up this tree, give numpy's sum of all `n`.
pub fn pairwise_pieces<T>(
    n: usize,
    max: usize,
    piece: &mut impl FnMut(usize, usize) -> T,
    add: &impl Fn(T, T) -> T,
) -> T {
    indexed_tree(0, n, max.max(BLOCK), piece, add)
}

fn indexed_tree<T>(
    start: usize,
    n: usize,
    max: usize,
    leaf: &mut impl FnMut(usize, usize) -> T,
    add: &impl Fn(T, T) -> T,
) -> T {
    if n <= max {
        leaf(start, n)
    } else {
        let h = pairwise_split(n);
        let left = indexed_tree(start, h, max, leaf, add);
        add(left, indexed_tree(start + h, n - h, max, leaf, add))
    }
}

/// `np.sum(xs)`: pairwise, bit for bit.
pub fn pairwise_sum(xs: &[f64]) -> f64 {
    pairwise_sum_map(xs, &mut |x| x)
}

/// Sums `n` terms produced in order by `next`, in numpy's pairwise order. Slower than
/// [`pairwise_sum_map`] but works where the terms are not one slice (a masked selection).
pub fn pairwise_sum_seq(n: usize, next: &mut impl FnMut() -> f64) -> f64 {
    if n < 8 {
        let mut res = 0.0;
        for _ in 0..n {
            res += next();
        }
        res
    } else if n <= BLOCK {
        let mut r = [0.0f64; 8];
        for slot in r.iter_mut() {
            *slot = next();
        }
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for slot in r.iter_mut() {
                *slot += next();
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for _ in whole..n {
            res += next();
        }
        res
    } else {
        let n2 = pairwise_split(n);
        let a = pairwise_sum_seq(n2, next);
        a + pairwise_sum_seq(n - n2, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_differs_from_naive_and_seq_agrees() {
        // Values whose naive sum loses bits: pairwise order matters.
        let xs: Vec<f64> = (0..10_001).map(|i| 0.1 + (i as f64) * 1e-7).collect();
        let pw = pairwise_sum(&xs);
        let mut it = xs.iter().copied();
        let seq = pairwise_sum_seq(xs.len(), &mut || it.next().unwrap_or(0.0));
        assert_eq!(pw.to_bits(), seq.to_bits());
        let exact: f64 = 10_001.0 * 0.1 + 1e-7 * (10_000.0 * 10_001.0 / 2.0);
        assert!((pw - exact).abs() < 1e-9);
    }

    #[test]
    fn blocked_map_is_the_sequential_definition() {
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let xs: Vec<f64> = (0..70_001)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.3) * 1e3
            })
            .collect();
        for n in [
            0, 1, 7, 8, 9, 16, 127, 128, 129, 255, 256, 1000, 1031, 70_001,
        ] {
            let xs = &xs[..n];
            let f = |x: f64| x * x - 0.1 * x;
            let mut calls = 0usize;
            let got = pairwise_sum_map(xs, &mut |x| {
                calls += 1;
                f(x)
            });
            let mut it = xs.iter().map(|&x| f(x));
            let want = pairwise_sum_seq(n, &mut || it.next().unwrap_or(0.0));
            assert_eq!(got.to_bits(), want.to_bits(), "n={n}");
            assert_eq!(calls, n);
            let mut next = 0usize;
            let indexed = pairwise_sum_indexed(n, &mut |i| {
                assert_eq!(i, next, "terms in order");
                next += 1;
                f(xs[i])
            });
            assert_eq!(indexed.to_bits(), want.to_bits(), "indexed, n={n}");
            assert_eq!(next, n);
        }
    }

    #[test]
    fn small_sums() {
        assert_eq!(pairwise_sum(&[]), 0.0);
        assert_eq!(pairwise_sum(&[1.5]), 1.5);
        assert_eq!(pairwise_sum(&[1.0; 9]), 9.0);
    }
}
