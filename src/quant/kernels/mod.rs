//! The per-value arithmetic of a quantization laid out for loops that vectorize, the passes
//! that run it over the data, and the one place that picks an instruction set.
//!
//! Every pass gives bit for bit what the plain definition gives ([`QuantParams::error_stats`]
//! value by value, summed in numpy's pairwise order): the same operations in the same order,
//! only several values per instruction. The AVX2 builds live in [`x86`] and are picked at run
//! time by [`has_avx2`]; on wasm32 with simd128 the fused pass and the per-unit leaves ([`wasm`])
//! run two values per instruction.

pub mod fused;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) mod wasm;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

use crate::quant::pairwise::pairwise_tree;
use crate::quant::params::{ErrorStats, QuantParams};

/// Whether the CPU has AVX2 (std caches the answer): the one run-time dispatch of every
/// AVX2 loop in the crate.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// `1.5 * 2^52`: for `|v| <= 2^51`, `(v + ROUND_MAGIC) - ROUND_MAGIC` is `v` rounded to the
/// nearest integer, halves to even (the sum lands where the float spacing is exactly 1, so the
/// addition itself rounds, in the default round-to-nearest-even mode). Unlike `roundsd`, it
/// needs no SSE4.1, so the baseline x86-64 build vectorizes it too. (It gives +0.0 where
/// `round_ties_even` gives -0.0; no code, dequantized value or squared error can tell.)
pub(crate) const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;

/// The per-value arithmetic of [`QuantParams`], laid out for loops that vectorize.
///
/// `round(v)` then `clamp(lo, hi)` equals `clamp(round(clamp(v, lo - 1, hi + 1)), lo, hi)` for
/// integer `lo`, `hi` (rounding is monotone and keeps integers), and the inner clamp bounds `v`
/// so that [`ROUND_MAGIC`] rounds it exactly; `r < lo || r > hi` still tells the clipped values,
/// and NaN stays NaN through every step, as in the scalar definition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kernel {
    pub(crate) scale: f64,
    pub(crate) zero_point: f64,
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) lo1: f64,
    pub(crate) hi1: f64,
}

/// Running `max |e|` and clipped counts in 8 lanes (combined once at the end).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ErrorLanes {
    pub(crate) max: [f64; 8],
    pub(crate) clipped: [u64; 8],
}

/// Parameter sets that [`QuantParams::sum_sq_many`] runs over one block at a time.
pub(crate) const MANY: usize = 8;

impl ErrorLanes {
    /// Adds another part's lanes (the parts' max and clipped counts; sums are kept apart).
    pub(crate) fn merge(&mut self, other: &ErrorLanes) {
        for j in 0..8 {
            self.max[j] = if other.max[j] > self.max[j] {
                other.max[j]
            } else {
                self.max[j]
            };
            self.clipped[j] += other.clipped[j];
        }
    }

    /// The stats of `n` values whose squared errors summed to `sum_sq`.
    pub(crate) fn stats(&self, n: usize, sum_sq: f64) -> ErrorStats {
        ErrorStats {
            n,
            sum_sq,
            // A select rather than `f64::max` (a library call on wasm32); |e| is never NaN
            // here (a NaN never wins the lanes' comparisons) nor -0.0.
            max_abs: self
                .max
                .iter()
                .fold(0.0f64, |m, &a| if a > m { a } else { m }),
            clipped: self.clipped.iter().sum::<u64>() as usize,
        }
    }
}

/// One leaf block's error (and codes, with `STORE`), in AVX2 where the CPU has it.
#[inline(always)]
pub(crate) fn error_leaf<const STORE: bool>(
    k: &Kernel,
    block: &[f64],
    codes: &mut [i32],
    acc: &mut ErrorLanes,
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 (checked at run time just above).
        return unsafe { x86::error_leaf_avx2::<STORE>(k, block, codes, acc) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return wasm::error_leaf_simd::<STORE>(k, block, codes, acc);
    #[allow(unreachable_code)]
    k.error_leaf::<STORE>(block, codes, acc)
}

/// One leaf block's sum of squared errors alone, in AVX2 where the CPU has it.
#[inline(always)]
pub(crate) fn sum_sq_leaf(k: &Kernel, block: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 (checked at run time just above).
        return unsafe { x86::sum_sq_leaf_avx2(k, block) };
    }
    crate::quant::pairwise::leaf_sum(block, &mut |x| k.error(x).1)
}

/// [`error_pass`] on this thread alone, for the small inputs of a finer granularity (a group
/// or a row): the same pairwise tree of the same leaves, so the same bits, without the
/// dispatch to threads that costs more than a unit of 128 values takes.
pub(crate) fn error_pass_here<const STORE: bool>(
    k: &Kernel,
    xs: &[f64],
    codes: &mut [i32],
) -> ErrorStats {
    let mut acc = ErrorLanes::default();
    let codes: &mut [i32] = if STORE { codes } else { &mut [] };
    let sum = pairwise_tree_coded(xs, codes, &mut |b, cs| {
        error_leaf::<STORE>(k, b, cs, &mut acc)
    });
    acc.stats(xs.len(), sum)
}

/// [`pairwise_tree`] over `xs` with each leaf's codes: `leaf(block, codes)` gets the part of
/// `codes` that lies where the block does, or an empty slice where `codes` is empty (else it is
/// as long as `xs`).
#[inline(always)]
pub(crate) fn pairwise_tree_coded<E>(
    xs: &[E],
    codes: &mut [i32],
    leaf: &mut impl FnMut(&[E], &mut [i32]) -> f64,
) -> f64 {
    let base = xs.as_ptr() as usize;
    let store = !codes.is_empty();
    pairwise_tree(xs, &mut |b| {
        let cs: &mut [i32] = if store {
            let at = (b.as_ptr() as usize - base) / std::mem::size_of::<E>().max(1);
            &mut codes[at..at + b.len()]
        } else {
            &mut []
        };
        leaf(b, cs)
    })
}

/// The whole error pass: numpy's pairwise tree of leaf sums, the top of the tree on threads.
/// With `STORE`, `codes` is as long as `xs` and receives every code.
pub(crate) fn error_pass<const STORE: bool>(
    k: &Kernel,
    xs: &[f64],
    codes: &mut [i32],
) -> ErrorStats {
    let part = |part: &[f64], codes: &mut [i32]| -> (f64, ErrorLanes) {
        let mut acc = ErrorLanes::default();
        let codes: &mut [i32] = if STORE { codes } else { &mut [] };
        let sum = pairwise_tree_coded(part, codes, &mut |b, cs| {
            error_leaf::<STORE>(k, b, cs, &mut acc)
        });
        (sum, acc)
    };
    let combine = |(sa, mut la): (f64, ErrorLanes), (sb, lb): (f64, ErrorLanes)| {
        la.merge(&lb);
        (sa + sb, la)
    };
    let (sum_sq, acc) = if STORE {
        crate::par::pairwise_map_mut(xs, codes, &part, &combine)
    } else {
        crate::par::pairwise_map(xs, &|x| part(x, &mut []), &combine)
    };
    acc.stats(xs.len(), sum_sq)
}

/// Codes and dequantized values of `xs` into `codes` and `deq`, in AVX2 where the CPU has it.
pub(crate) fn fill(k: &Kernel, xs: &[f64], codes: &mut [i32], deq: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 (checked at run time just above).
        unsafe { x86::fill_avx2(k, xs, codes, deq) };
        return;
    }
    k.fill(xs, codes, deq);
}

impl Kernel {
    /// The kernel of a parameter set.
    pub(crate) fn new(p: &QuantParams) -> Kernel {
        let (lo, hi) = (p.qmin as f64, p.qmax as f64);
        Kernel {
            scale: p.scale,
            zero_point: p.zero_point,
            lo,
            hi,
            lo1: lo - 1.0,
            hi1: hi + 1.0,
        }
    }

    /// `round(x / scale + zero_point)`, limited to `[lo - 1, hi + 1]` (see the type's doc).
    #[inline(always)]
    pub(crate) fn rounded(&self, x: f64) -> f64 {
        let v = x / self.scale + self.zero_point;
        // Two plain selects (not `else if`): straight-line code the compiler vectorizes.
        let v = if v < self.lo1 { self.lo1 } else { v };
        let v = if v > self.hi1 { self.hi1 } else { v };
        (v + ROUND_MAGIC) - ROUND_MAGIC
    }

    /// The clamped code as a float, and whether it was clipped.
    #[inline(always)]
    pub(crate) fn code(&self, x: f64) -> (f64, bool) {
        let r = self.rounded(x);
        let clipped = (r < self.lo) | (r > self.hi);
        let q = if r < self.lo { self.lo } else { r };
        let q = if q > self.hi { self.hi } else { q };
        (q, clipped)
    }

    /// One value's code (as a float), squared error, `|error|` and clipped flag: `e = x - (q - zero_point) * scale`.
    #[inline(always)]
    pub(crate) fn error(&self, x: f64) -> (f64, f64, f64, u64) {
        let (q, clipped) = self.code(x);
        let e = x - (q - self.zero_point) * self.scale;
        (q, e * e, e.abs(), clipped as u64)
    }

    /// Codes and dequantized values of `xs` into `codes` and `deq` (all the same length).
    #[inline(always)]
    pub(crate) fn fill(&self, xs: &[f64], codes: &mut [i32], deq: &mut [f64]) {
        const W: usize = 8;
        let mut xc = xs.chunks_exact(W);
        let mut cc = codes.chunks_exact_mut(W);
        let mut dc = deq.chunks_exact_mut(W);
        for ((x, c), d) in (&mut xc).zip(&mut cc).zip(&mut dc) {
            for j in 0..W {
                let q = self.code(x[j]).0 as i32;
                c[j] = q;
                d[j] = (q as f64 - self.zero_point) * self.scale;
            }
        }
        let tail = xc
            .remainder()
            .iter()
            .zip(cc.into_remainder())
            .zip(dc.into_remainder());
        for ((&x, c), d) in tail {
            let q = self.code(x).0 as i32;
            *c = q;
            *d = (q as f64 - self.zero_point) * self.scale;
        }
    }

    /// The sum of one pairwise leaf block's squared errors in numpy's order
    /// ([`crate::quant::pairwise::pairwise_tree`]'s leaf), with `max |e|` and the clipped count into `acc`;
    /// with `STORE`, each value's code also goes into `codes` (as long as `block`).
    #[inline(always)]
    pub(crate) fn error_leaf<const STORE: bool>(
        &self,
        block: &[f64],
        codes: &mut [i32],
        acc: &mut ErrorLanes,
    ) -> f64 {
        let n = block.len();
        let codes = if STORE { &mut codes[..n] } else { codes };
        if n < 8 {
            return self.error_rest::<STORE, f64>(block, 0, codes, acc, 0.0);
        }
        let whole = n - n % 8;
        let mut r = [0.0f64; 8];
        let mut max = acc.max;
        let mut clipped = acc.clipped;
        for i in (0..whole).step_by(8) {
            for j in 0..8 {
                let (q, e2, a, cl) = self.error(block[i + j]);
                if STORE {
                    codes[i + j] = q as i32;
                }
                // r starts at +0.0 and e2 is never -0.0: the first sum is e2 itself.
                r[j] += e2;
                max[j] = if a > max[j] { a } else { max[j] };
                clipped[j] += cl;
            }
        }
        acc.max = max;
        acc.clipped = clipped;
        let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        self.error_rest::<STORE, f64>(block, whole, codes, acc, res)
    }

    /// The values of a leaf from `from` on, one by one, added to `res` (the leaf's values after
    /// its groups of 8, or all of a leaf shorter than 8), their `|e|` and clipped flags into
    /// lane 0 of `acc`; with `STORE`, their codes into `codes`. Float32 values are widened
    /// first.
    #[inline(always)]
    pub(crate) fn error_rest<const STORE: bool, E: Copy + Into<f64>>(
        &self,
        block: &[E],
        from: usize,
        codes: &mut [i32],
        acc: &mut ErrorLanes,
        mut res: f64,
    ) -> f64 {
        for (i, &x) in block.iter().enumerate().skip(from) {
            let (q, e2, a, c) = self.error(x.into());
            if STORE {
                codes[i] = q as i32;
            }
            if a > acc.max[0] {
                acc.max[0] = a;
            }
            acc.clipped[0] += c;
            res += e2;
        }
        res
    }
}
